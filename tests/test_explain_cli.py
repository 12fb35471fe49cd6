"""`convgrad explain`: printed explanations, JSON, and one-line errors (in-process and as the
installed console script)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from convgrad.cli import main

NOTES_INPUT = "0 0 0 0; 1 0 0 1; 0 1 1 0; 0 0 0 0"
SCRIPT = Path(sys.executable).parent / "convgrad"


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    """Rich wraps to the terminal's width (80 when not a terminal): lay tables out on one
    line each so that rows can be matched; the console-script test keeps the default."""
    monkeypatch.setenv("COLUMNS", "200")


def run(capsys, *argv):
    status = main(["explain", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def grid_after(text: str, title: str) -> list:
    """The numbers of the grid printed under the line that starts with ``title``.

    A grid is a header line of column indices, then one line per row: a row label (absent
    for 1D) and the values; padding values are in brackets.
    """
    lines = text.splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith(title))
    rows = []
    for line in lines[start + 2:]:
        if not line.strip():
            break
        cells = line.split()
        values = cells[1:] if len(lines[start + 1].split()) < len(cells) else cells
        rows.append([float(v.strip("[]").replace("-∞", "-inf")) for v in values])
    return rows


def table_rows(text: str) -> list:
    """The cells of every table row printed in ``text``, stripped."""
    return [[cell.strip() for cell in line.strip().strip("│").split("│")]
            for line in text.splitlines() if line.startswith("│")]


# ------------------------------------------------------------------ the notes' examples
def test_notes_example_prints_formula_grid_and_windows(capsys):
    status, out, err = run(capsys, "conv2d", "--input", NOTES_INPUT, "--weight", "1 1; 1 1")
    assert status == 0 and err == ""
    assert "⌊(4 + 2·0 − 1·(2−1) − 1)/1⌋ + 1 = 3" in out
    assert "y[i, j] = Σ_σ Σ_τ x[i + σ, j + τ] · w[σ, τ]" in out
    assert grid_after(out, "Output y") == [[1, 0, 1], [2, 2, 2], [1, 2, 1]]
    assert grid_after(out, "Input x") == [[0, 0, 0, 0], [1, 0, 0, 1], [0, 1, 1, 0], [0, 0, 0, 0]]
    # every window's products and sum, one row each
    rows = table_rows(out)
    assert ["y[1, 0]", "x[1..2, 0..1]", "1·1 + 0·1 + 0·1 + 1·1", "2"] in rows
    assert [row[0] for row in rows] == [f"y[{i}, {j}]" for i in range(3) for j in range(3)]
    assert [float(row[3]) for row in rows] == [1, 0, 1, 2, 2, 2, 1, 2, 1]


def test_at_shows_one_window_step_by_step(capsys):
    status, out, _ = run(capsys, "conv2d", "--input", "0 1 1 0; 0 1 1 0; 0 1 1 0; 0 1 2 0",
                         "--weight", "1 0 -1; 1 0 -1; 1 0 -1", "--at", "1,0")
    assert status == 0
    assert "y[1, 0] step by step" in out
    rows = table_rows(out)
    assert len(rows) == 9  # the 3×3 window, product by product
    assert rows[-1] == ["2,2", "x[3, 2]", "2", "w[2, 2]", "-1", "-2", ""]
    assert sum(float(row[5]) for row in rows) == -4
    assert "sum of products = -4;  y[1, 0] = -4" in out
    assert "y[0, 0] step by step" not in out


def test_backward_shows_each_weight_accumulating(capsys):
    status, out, _ = run(capsys, "conv2d", "--input", NOTES_INPUT, "--weight", "1 1; 1 1",
                         "--backward")
    assert status == 0
    assert "∂L/∂w[σ, τ] = Σ_{i,j} ∂L/∂y[i, j] · x[i + σ, j + τ]" in out
    # w[0, 0] meets x[0..2, 0..2]: 9 uses, each adding 1·x
    assert ["w[0, 0]", "9", "1·0 + 1·0 + 1·0 + 1·1 + 1·0 + 1·0 + 1·0 + 1·1 + 1·1", "3"] in (
        table_rows(out))
    assert grid_after(out, "∂L/∂w") == [[3, 3], [3, 3]]
    assert grid_after(out, "∂L/∂x") == [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]]


def test_custom_upstream_gradient(capsys):
    status, out, _ = run(capsys, "conv1d", "--input", "1 2 3 4", "--weight", "1 -1",
                         "--grad", "1 0 2")
    assert status == 0
    x, g = np.array([1.0, 2, 3, 4]), np.array([1.0, 0, 2])
    expected = [sum(g[t] * x[t + tau] for t in range(3)) for tau in range(2)]
    assert grid_after(out, "∂L/∂w") == [expected]
    assert grid_after(out, "Upstream gradient") == [[1, 0, 2]]


# ------------------------------------------------------------------ channels, padding, JSON
def test_channels_syntax_bias_and_padding_against_torch(capsys):
    status, out, _ = run(capsys, "conv2d", "--input", "1 2; 3 4 | 5 6; 7 8",
                         "--weight", "1 0; 0 1 | 1 1; 1 1 || 0 0; 0 1 | 1 0; 0 0",
                         "--bias", "0.5 -1", "--padding", "0,1", "--json")
    assert status == 0
    trace = json.loads(out)
    x = torch.tensor([[[[1.0, 2], [3, 4]], [[5, 6], [7, 8]]]])
    w = torch.tensor([[[[1.0, 0], [0, 1]], [[1, 1], [1, 1]]], [[[0.0, 0], [0, 1]], [[1, 0], [0, 0]]]])
    expected = TF.conv2d(x, w, torch.tensor([0.5, -1.0]), padding=(0, 1))[0]
    assert trace["output"] == expected.tolist()
    assert trace["input_shape"] == [2, 2, 2] and trace["weight_shape"] == [2, 2, 2, 2]
    status, text, _ = run(capsys, "conv2d", "--input", "1 2; 3 4 | 5 6; 7 8",
                          "--weight", "1 0; 0 1 | 1 1; 1 1 || 0 0; 0 1 | 1 0; 0 0",
                          "--bias", "0.5 -1", "--padding", "0,1")
    assert "x[0]" in text and "x[1]" in text and "w[1, 0]" in text
    assert "Bias b:  b[0] = 0.5  b[1] = -1" in text
    assert ["y[0, 0, 0]", "x[0..1, 0..1, -1..0]",
            "([0]·1 + 1·0 + [0]·0 + 3·1) + ([0]·1 + 5·1 + [0]·1 + 7·1)", "15", "0.5", "15.5"] in (
        table_rows(text))


def test_padding_modes_and_same(capsys):
    status, out, _ = run(capsys, "conv1d", "--input", "1 2 3 4 5", "--weight", "1 0 -1",
                         "--padding", "same", "--padding-mode", "reflect", "--json")
    assert status == 0
    trace = json.loads(out)
    module = torch.nn.Conv1d(1, 1, 3, padding="same", padding_mode="reflect", bias=False)
    with torch.no_grad():
        module.weight.copy_(torch.tensor([[[1.0, 0, -1]]]))
        expected = module(torch.tensor([[[1.0, 2, 3, 4, 5]]]))[0]
    assert trace["output"] == expected.tolist()
    status, text, _ = run(capsys, "conv1d", "--input", "1 2 3 4 5", "--weight", "1 0 -1",
                          "--padding", "same", "--padding-mode", "reflect", "--at", "0")
    assert "padding='same' pads d(k−1) = 1·(3−1) = 2 in all: 1 before and 1 after" in text
    assert "padding: reflect of x[1]" in text
    assert grid_after(text, "Input x, padded") == [[2, 1, 2, 3, 4, 5, 4]]


@pytest.mark.parametrize("argv, torch_call", [
    (["conv_transpose1d", "--input", "1 2 3", "--weight", "1 1", "--stride", "2"],
     lambda: TF.conv_transpose1d(torch.tensor([[[1.0, 2, 3]]]), torch.ones(1, 1, 2), stride=2)),
    (["conv_transpose2d", "--input", "1 2; 3 4", "--weight", "1 2; 3 4", "--stride", "2",
      "--padding", "1", "--output-padding", "1"],
     lambda: TF.conv_transpose2d(torch.tensor([[[[1.0, 2], [3, 4]]]]),
                                 torch.tensor([[[[1.0, 2], [3, 4]]]]), stride=2, padding=1,
                                 output_padding=1)),
    (["max_pool1d", "--input", "1 3 2 5 4", "--kernel-size", "2", "--ceil-mode"],
     lambda: TF.max_pool1d(torch.tensor([[[1.0, 3, 2, 5, 4]]]), 2, ceil_mode=True)),
    (["max_pool2d", "--input", "1 3 2; 4 0 1; 2 2 5", "--kernel-size", "2", "--stride", "1",
      "--padding", "1", "--dilation", "2"],
     lambda: TF.max_pool2d(torch.tensor([[[[1.0, 3, 2], [4, 0, 1], [2, 2, 5]]]]), 2, stride=1,
                           padding=1, dilation=2)),
    (["avg_pool1d", "--input", "1 2 3 4 5", "--kernel-size", "3", "--stride", "2",
      "--padding", "1", "--no-count-include-pad"],
     lambda: TF.avg_pool1d(torch.tensor([[[1.0, 2, 3, 4, 5]]]), 3, stride=2, padding=1,
                           count_include_pad=False)),
    (["avg_pool2d", "--input", "1 2 3; 4 5 6; 7 8 9", "--kernel-size", "2", "--padding", "1",
      "--ceil-mode", "--divisor-override", "3"],
     lambda: TF.avg_pool2d(torch.tensor([[[[1.0, 2, 3], [4, 5, 6], [7, 8, 9]]]]), 2,
                           padding=1, ceil_mode=True, divisor_override=3)),
    (["conv2d", "--input", "1 2 3; 4 5 6; 7 8 9 | 1 1 1; 1 1 1; 1 1 1", "--weight",
      "1 2; 3 4 || 1 0; 0 1", "--groups", "2", "--stride", "2,1", "--dilation", "1,2"],
     lambda: TF.conv2d(torch.tensor([[[[1.0, 2, 3], [4, 5, 6], [7, 8, 9]], [[1.0] * 3] * 3]]),
                       torch.tensor([[[[1.0, 2], [3, 4]]], [[[1.0, 0], [0, 1]]]]), groups=2,
                       stride=(2, 1), dilation=(1, 2))),
], ids=lambda v: v[0] if isinstance(v, list) else "")
def test_every_op_prints_and_matches_torch(capsys, argv, torch_call):
    status, out, err = run(capsys, *argv, "--json")
    assert status == 0, err
    expected = torch_call()[0]  # float32
    np.testing.assert_allclose(np.array(json.loads(out)["output"], dtype=float),
                               expected.numpy(), rtol=1e-6)
    status, text, err = run(capsys, *argv, "--backward")
    assert status == 0 and err == ""
    assert "Output size" in text and "Backward pass" in text and "∂L/∂x" in text
    if expected.shape[0] == 1:  # one grid (several channels print side by side)
        np.testing.assert_allclose(np.array(grid_after(text, "Output y"), dtype=float).reshape(
            expected.shape), expected.numpy(), rtol=1e-3)
    else:
        assert all(f"y[{c}]" in text for c in range(expected.shape[0]))


def test_pool_prints_winner_and_divisor(capsys):
    _, out, _ = run(capsys, "max_pool2d", "--input", "1 3 2; 4 0 1; 2 2 5", "--kernel-size",
                    "2", "--padding", "1")
    assert grid_after(out, "Input x, padded")[0] == [float("-inf")] * 5
    assert ["y[1, 1]", "x[1..2, 1..2]", "0, 1, 2, 5", "x[2, 2] = 5", "5"] in table_rows(out)
    assert ["y[0, 0]", "x[-1..0, -1..0]", "[-∞], [-∞], [-∞], 1", "x[0, 0] = 1", "1"] in (
        table_rows(out))
    _, out, _ = run(capsys, "avg_pool2d", "--input", "1 2 3; 4 5 6; 7 8 9", "--kernel-size",
                    "3", "--padding", "1", "--stride", "2", "--no-count-include-pad",
                    "--at", "0,0")
    assert ("sum = 12;  divisor 4: count_include_pad=False: only the 4 real input cells count;"
            "  y[0, 0] = 12 / 4 = 3" in out)


def test_help_documents_the_syntax_with_examples(capsys):
    with pytest.raises(SystemExit) as info:
        main(["explain", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for phrase in ("matrix syntax", "channels separated by '|'", "'||'", "--at POS",
                   "--padding-mode", "--count-include-pad", "--divisor-override", "examples:",
                   f'--input "{NOTES_INPUT}" --weight "1 1; 1 1"'):
        assert phrase in out


# ------------------------------------------------------------------ errors: one line, exit 2
ERRORS = [
    (["conv2d", "--input", "1 2; 3", "--weight", "1"],
     "--input: ragged array: row 2 has 1 value, but row 1 has 2"),
    (["conv2d", "--input", "1 2; 3 x", "--weight", "1"], "'x' (row 2, value 2) is not a number"),
    (["conv2d", "--input", "1 2; 3 4 | 5 6", "--weight", "1"], "ragged array: channel 2"),
    (["conv2d", "--input", "1 2; 3 4", "--weight", "1 1 1; 1 1 1; 1 1 1"],
     "⌊(2 + 2·0 − 1·(3−1) − 1)/1⌋ + 1 = 0, but it must be at least 1"),
    (["conv2d", "--input", "1 2; 3 4", "--weight", "1 1; 1 1", "--padding", "same",
      "--stride", "2"], "padding='same' needs stride 1"),
    (["conv2d", "--input", "1 2 | 3 4", "--weight", "1 || 1 || 1", "--groups", "2"],
     "groups=2 must divide the output channels at dimension 0 of the weight, but weight of "
     "size [3, 1, 1, 1] has 3 = 1·2 + 1"),
    (["conv2d", "--input", "1 2 | 3 4 | 5 6", "--weight", "1 || 1", "--groups", "2"],
     "groups=2 must divide the input channels, but input of size [3, 1, 2] has 3 channels"),
    (["max_pool2d", "--input", "1 2; 3 4", "--kernel-size", "2", "--padding", "2"],
     "padding along H must be at most half the kernel size (p ≤ ⌊k/2⌋ = ⌊2/2⌋ = 1)"),
    (["avg_pool1d", "--input", "1 2 3", "--kernel-size", "2", "--divisor-override", "2"],
     "--divisor-override does not apply to avg_pool1d"),
    (["conv2d", "--input", "1 2; 3 4", "--weight", "1", "--at", "5,5"],
     "--at: output index [0, 5, 5] is outside the output of shape [1, 2, 2]"),
    (["conv2d", "--input", "1 2; 3 4", "--weight", "1", "--grad", "1 2"],
     "--grad: the upstream gradient needs the output's shape 1×2×2, got 1×1×2"),
    (["conv2d", "--input", "1 2; 3 4"], "conv2d needs --weight"),
    (["max_pool2d", "--input", "1 2; 3 4"], "max_pool2d needs --kernel-size"),
    (["conv2d", "--weight", "1"], "conv2d needs --input"),
    (["conv1d", "--input", "1 2; 3 4", "--weight", "1"], "separate channels with '|', not ';'"),
    (["conv2d", "--input", "1 2; 3 4", "--weight", "1", "--padding", "foo"],
     "--padding: expected an integer or 2 comma-separated integers, 'same' or 'valid'"),
    (["conv_transpose1d", "--input", "1 2", "--weight", "1", "--output-padding", "1"],
     "output_padding along L must be smaller than either stride or dilation"),
    (["conv1d", "--input", "1 2 3", "--weight", "1", "--padding", "3", "--padding-mode",
      "reflect"], "reflect padding along L must be smaller than the input size (3)"),
    (["conv1d", "--input", "1 2 3", "--weight", "1", "--stride", "0"], "stride must be at least 1"),
    (["conv1d", "--input", "", "--weight", "1"], "--input: the value is empty"),
    (["conv2d", "--input", "[[1, 2], [3]]", "--weight", "1"], "rectangular"),
    (["conv2d", "--input", "1 2; 3 4", "--weight", "1/0"], "divides by zero"),
    (["conv2d", "--input", "; ".join([" ".join(["1"] * 70)] * 70), "--weight", "1 1; 1 1"],
     "this trace would list 19044 products, more than the bound of 10000"),
]


@pytest.mark.parametrize("argv, message", ERRORS, ids=[e[1][:40] for e in ERRORS])
def test_errors_are_one_line_with_status_2(capsys, argv, message):
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("convgrad explain: error: ")
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv, message", [
    (["conv1d", "--input", "1 2 3", "--weight", "-1,1"],
     "argument --weight/-w: expected one argument (a value that starts with '-' needs '='"),
    (["conv3d", "--input", "1"], "argument OP: invalid choice: 'conv3d'"),
])
def test_argparse_errors_are_one_line_too(capsys, argv, message):
    with pytest.raises(SystemExit) as info:
        main(["explain", *argv])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_values_starting_with_minus(capsys):
    status, out, _ = run(capsys, "conv1d", "--input", "-1 2 3", "--weight=-1,1", "--bias", "-1",
                         "--json")
    assert status == 0 and json.loads(out)["output"] == [[2.0, 0.0]]  # 1 + 2 − 1, −2 + 3 − 1


# ------------------------------------------------------------------ the installed script
def script(*argv):
    return subprocess.run([str(SCRIPT), "explain", *argv], capture_output=True, text=True,
                          timeout=60)


def test_console_script_notes_example_and_errors():
    assert SCRIPT.exists(), f"console script missing at {SCRIPT}"
    done = script("conv2d", "--input", NOTES_INPUT, "--weight", "1 1; 1 1", "--backward")
    assert done.returncode == 0, done.stderr
    assert grid_after(done.stdout, "Output y") == [[1, 0, 1], [2, 2, 2], [1, 2, 1]]
    assert grid_after(done.stdout, "∂L/∂w") == [[3, 3], [3, 3]]
    done = script("conv2d", "--input", NOTES_INPUT, "--weight", "1 1; 1 1", "--json")
    assert json.loads(done.stdout)["output"] == [[[1.0, 0.0, 1.0], [2.0, 2.0, 2.0],
                                                  [1.0, 2.0, 1.0]]]
    done = script("conv2d", "--input", "0 0 0 0; 1 0 0 1; 0 1 1", "--weight", "1 1; 1 1")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == ("convgrad explain: error: --input: ragged array: row 3 has "
                                   "3 values, but row 1 has 4 (every row must have the same "
                                   "length)")
    done = script("conv2d", "--input", "1 2; 3 4", "--weight", "1 1 1; 1 1 1; 1 1 1")
    assert done.returncode == 2 and "must be at least 1" in done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1


@pytest.mark.parametrize("extra", [["--json"], ["--backward"]])
def test_a_reader_that_stops_early_gets_no_traceback(extra):
    # `convgrad explain ... | head` closes the pipe mid-output: the command must stop quietly.
    grid = "; ".join(" ".join(str((i * j) % 7) for j in range(16)) for i in range(16))
    process = subprocess.Popen([str(SCRIPT), "explain", "conv2d", "--input", grid,
                                "--weight", "1 0 -1; 1 0 -1; 1 0 -1", *extra],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.read(64)
    process.stdout.close()
    stderr = process.stderr.read().decode()
    process.wait(timeout=60)
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
    assert process.returncode != 0


# ------------------------------------------------------------------ one rule for every input form
@pytest.mark.parametrize("text, message", [
    ("[" * 1000 + "1" + "]" * 1000, "--input: expected at most 3 levels of brackets, got 1000"),
    ("[" * 5 + "1" + "]" * 5, "--input: expected at most 3 levels of brackets, got 5"),
    ('[[1, "1"]]', "--input: [0][1] is '1' (text), not a number"),
    ("[[true, 2]]", "--input: [0][0] is true (a truth value), not a number"),
    ("[[1, null]]", "--input: [0][1] is None"),
])
def test_json_input_follows_the_text_forms_rule(capsys, text, message):
    status, out, err = run(capsys, "conv2d", "--input", text, "--weight", "1")
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


@pytest.mark.parametrize("text", ['1 "1"', "1 true", "true"])
def test_the_text_form_refuses_the_same_values(capsys, text):
    status, _, err = run(capsys, "conv1d", "--input", text, "--weight", "1")
    assert status == 2 and "is not a number" in err


@pytest.mark.parametrize("value", ["1", True, None, "inf"])
def test_the_python_api_refuses_them_too(value):
    from convgrad import explain
    from convgrad.explain import TraceError
    with pytest.raises(TraceError, match="not a number"):
        explain.conv2d([[[1.0, value]]], [[[[1.0]]]])


def test_deep_nesting_in_the_python_api_is_one_clear_error():
    from convgrad import explain
    from convgrad.explain import TraceError
    deep = 1.0
    for _ in range(1000):
        deep = [deep]
    with pytest.raises(TraceError, match="nested more than 3 levels deep"):
        explain.conv2d(deep, [[[[1.0]]]])


# ------------------------------------------------------------------ a terminal narrower than a grid
def section(text: str, title: str) -> str:
    """The lines from the one that starts with ``title`` to the next blank line."""
    lines = text.splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith(title))
    end = next((k for k in range(start + 1, len(lines)) if not lines[k].strip()), len(lines))
    return "\n".join(lines[start:end])


@pytest.mark.parametrize("columns", [40, 60, 80])
def test_a_wide_input_is_wrapped_in_blocks_of_columns_never_elided(capsys, monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    values = list(range(101, 161))                      # 60 three-digit values, one row
    status, out, _ = run(capsys, "conv1d", "--input", " ".join(map(str, values)),
                         "--weight", "1", "--backward")
    assert status == 0
    assert "…" not in out
    assert max(len(line) for line in out.splitlines()) <= columns
    shown = section(out, "Input x")
    words = " ".join(shown.split())
    assert "columns 0 to" in words and "more below" in words and "of 0 to 59" in words
    # every value once, in order: the blocks alternate a header of indices and a row of values
    rows = [line.split() for line in shown.splitlines()
            if line.split() and line.split()[0].isdigit() and int(line.split()[0]) > 100]
    assert [int(v) for row in rows for v in row] == values
    assert section(out, "Output y").count("columns") >= 2


def test_a_wide_padded_2d_input_keeps_its_row_labels_and_padding_marks(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    row = " ".join(str(k % 10) for k in range(30))
    status, out, _ = run(capsys, "conv2d", "--input", f"{row}; {row} | {row}; {row}",
                         "--weight", "1 0; 0 1 | 1 1; 1 1", "--padding", "1")
    assert status == 0 and "…" not in out
    padded = section(out, "Input x, padded")
    for channel in ("x[0]", "x[1]"):
        assert f"{channel}, columns -1 to" in padded and "of -1 to 30" in padded
    # each block has the rows -1..2 (padding above and below) labelled
    labels = [line.split()[0] for line in padded.splitlines() if line.split()
              and line.split()[0].lstrip("-").isdigit() and "[" in line]
    assert labels.count("-1") == labels.count("2") >= 4


def test_a_long_list_of_scattered_inputs_says_how_many_it_leaves_out(capsys):
    status, out, _ = run(capsys, "conv_transpose1d", "--input", "1 2 3 4 5 6 7 8",
                         "--weight", "1 1 1 1 1 1 1 1", "--stride", "1")
    assert status == 0 and "…" not in out
    assert "and 2 more" in out                     # y[7] gathers 8 inputs; 6 are listed
