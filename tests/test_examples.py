"""Every example in README.md and in every ``--help`` text, run for real.

The shell blocks of README.md and the ``examples:`` sections of ``convgrad --help`` and of each
command's ``--help`` are parsed (continuation lines joined, comments dropped) and each command
is run as written, in a temporary folder with a temporary ``CONVGRAD_HOME``; it must succeed
without a traceback.  What is adjusted, and why, is listed below (``NOT_RUN``, ``shortened``,
``run_explore``); nothing else is.  README's Python block runs and prints what its comments
say, and its ``>>>`` example raises the error it shows, word for word.
"""
import contextlib
import io
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from browser import raw_get
from convgrad.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
SCRIPT = Path(sys.executable).parent / "convgrad"

# Commands that are not run here, and why.
NOT_RUN = {
    ("make", "train"): "installs into .venv, then runs `convgrad train` with no options, "
                       "which test_train_default runs in full",
    ("make", "test"): "is this test suite",
    ("make", "bench"): "benchmarks time for minutes; speed lives in benchmarks/, never in tests",
}
BENCHMARKS = "benchmarks/"  # `python benchmarks/...`: a benchmark, as `make bench`
# `--download` fetches a data set from its publisher: this machine reaches no such host, so
# those commands are not run; the download code is tested against a local server
# (test_data_download.py) with the same checksums and archive handling.
NEEDS_NETWORK = "--download"
# Training runs thousands of steps (the README's `--steps 2000`, the default 6000; a depth
# study trains eight networks): the examples run QUICK_STEPS, which goes through the same
# code; the full default training run is test_train_default's.
QUICK_STEPS = "40"


def fenced_blocks(text: str) -> list:
    """``(language, body)`` of every fenced code block."""
    return re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.M | re.S)


def commands(block: str) -> list:
    """The commands of a shell snippet as argv lists: ``\\`` continuations joined, comments
    and blank lines dropped."""
    joined = re.sub(r"\\\n\s*", " ", block)
    return [argv for line in joined.splitlines() if (argv := shlex.split(line, comments=True))]


def help_text(*command: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main([*command, "--help"])
    return out.getvalue()


def help_examples() -> list:
    """``(where, argv)`` for each example in the ``examples:`` section of every help text."""
    found = []
    for command in [(), *sorted({(name,) for name in COMMANDS})]:
        text = help_text(*command)
        if "\nexamples:\n" in text:
            section = text.split("\nexamples:\n", 1)[1].split("\n\n", 1)[0]
            found += [(f"convgrad {' '.join(command)} --help".replace("  ", " "), argv)
                      for argv in commands(section)]
    return found


def shortened(argv: list) -> list:
    """A training command (train, compare, a depth study) with QUICK_STEPS steps (a resumed
    run or study keeps its own)."""
    if argv[1:2] not in (["train"], ["compare"], ["depth"]) or "--resume" in argv:
        return argv
    if "--steps" in argv:
        at = argv.index("--steps")
        return argv[:at + 1] + [QUICK_STEPS] + argv[at + 2:]
    return argv + ["--steps", QUICK_STEPS]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_explore(argv: list, cwd: Path, env: dict) -> None:
    """``convgrad explore`` serves until stopped: started on a free port (``--port`` replaced,
    so that parallel runs cannot collide) with ``--open`` opening nothing (``BROWSER=true``),
    asked for the page and a trace, then stopped with Ctrl+C (SIGINT), as its banner says."""
    if "--port" in argv:
        at = argv.index("--port")
        argv = argv[:at] + argv[at + 2:]
    port = free_port()
    process = subprocess.Popen([str(SCRIPT), *argv[1:], "--port", str(port)], cwd=cwd,
                               env={**env, "BROWSER": "true"}, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()
            try:
                with urllib.request.urlopen(f"{base}/api/limits", timeout=5) as answer:
                    assert json.load(answer)["max_trace_products"] > 0
                break
            except OSError:
                assert time.monotonic() < deadline, "the explorer did not start in 60 s"
                time.sleep(0.2)
        with urllib.request.urlopen(f"{base}/", timeout=10) as page:
            assert page.status == 200 and b"convgrad" in page.read()
        request = urllib.request.Request(
            f"{base}/api/conv2d", method="POST", headers={"content-type": "application/json"},
            data=json.dumps({"input": [[[0, 0, 0, 0], [1, 0, 0, 1], [0, 1, 1, 0], [0, 0, 0, 0]]],
                             "weight": [[[[1, 1], [1, 1]]]]}).encode())
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert json.load(answer)["trace"]["output"] == [[[1, 0, 1], [2, 2, 2], [1, 2, 1]]]
        # on loopback it answers only requests addressed to it (DNS rebinding)
        assert raw_get(base, "/api/limits", host=f"rebound.example:{port}")[0] == 400
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode in (0, 130), stderr  # 130: stopped by Ctrl+C, as it says
    assert "Traceback" not in stderr and f"serving on {base}/" in stderr


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """One CONVGRAD_HOME for every example: the data sets are made once."""
    return tmp_path_factory.mktemp("convgrad-home")


def run_example(argv: list, cwd: Path, home: Path) -> None:
    """Run one example command as written (but for the adjustments above)."""
    if tuple(argv[:2]) in NOT_RUN or (argv[0] == "python" and argv[1].startswith(BENCHMARKS)):
        return
    if NEEDS_NETWORK in argv:
        return
    assert argv[0] == "convgrad", f"an example that is neither convgrad nor listed: {argv}"
    env = {**os.environ, "CONVGRAD_HOME": str(home)}
    if argv[1] == "explore":
        run_explore(argv, cwd, env)
        return
    done = subprocess.run([str(SCRIPT), *shortened(argv)[1:]], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (argv, done.stderr[-3000:])
    assert "Traceback" not in done.stderr, done.stderr


# ------------------------------------------------------------------ README.md
SHELL_BLOCKS = [body for language, body in fenced_blocks(README) if language == "bash"]


def test_readme_has_the_examples_this_file_runs():
    languages = {language for language, _ in fenced_blocks(README)}
    assert languages <= {"bash", "python", ""}, languages
    assert len(SHELL_BLOCKS) >= 4
    listed = {tuple(argv[:2]) for block in SHELL_BLOCKS for argv in commands(block)}
    assert set(NOT_RUN) <= listed, "a reason above for a command README no longer has"
    assert ("convgrad", "explore") in listed


@pytest.mark.slow
@pytest.mark.parametrize("block", SHELL_BLOCKS,
                         ids=[" ; ".join(" ".join(a[:2]) for a in commands(b)) for b in
                              SHELL_BLOCKS])
def test_readme_shell_block(tmp_path, home, block):
    # the commands of one block run in order in one folder: `train --resume runs/mlp` and
    # `eval runs/mlp` continue what `train --out runs/mlp` started
    for argv in commands(block):
        run_example(argv, tmp_path, home)


PYTHON_BLOCKS = [body for language, body in fenced_blocks(README) if language == "python"]


@pytest.mark.parametrize("code", PYTHON_BLOCKS, ids=[f"block{i}" for i in range(len(PYTHON_BLOCKS))])
def test_readme_python_block_runs_and_prints_what_its_comments_say(code, tmp_path, home,
                                                                    monkeypatch):
    monkeypatch.chdir(tmp_path)                  # a block may write runs/ where it runs
    monkeypatch.setenv("CONVGRAD_HOME", str(home))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    printed = out.getvalue()
    commented = re.findall(r"print\(.*?#\s*(.*)", code)
    if len(commented) < code.count("print("):
        return      # a print without a comment shows a result the block does not state
    # each print(...) line's comment starts with the numbers it prints
    expected = [re.findall(r"-?\d+(?:\.\d+)?", comment.split(":")[0]) for comment in commented]
    values = re.sub(r"\b\w+=(<[^>]*>|\([^)]*\)|\w+)", "", printed)  # grad_fn=<…>, dtype=…
    got = re.findall(r"-?\d+(?:\.\d+)?", values)
    assert [float(v) for v in got] == [float(v) for group in expected for v in group], printed


def test_readme_python_blocks_state_their_results():
    """At least the engine's block states its printed numbers, so the check above bites."""
    assert any(code.count("print(") == len(re.findall(r"print\(.*?#", code)) > 0
               for code in PYTHON_BLOCKS)


def test_readme_error_example_is_the_error_raised():
    (block,) = [body for language, body in fenced_blocks(README)
                if language == "" and body.startswith(">>> ")]
    call, shown = block.split("\n", 1)
    namespace = {}
    exec("import convgrad as cg\nimport convgrad.functional as F", namespace)
    with pytest.raises(Exception) as caught:
        eval(call.removeprefix(">>> "), namespace)
    assert f"{type(caught.value).__name__}: {caught.value}" == " ".join(shown.split())


# ------------------------------------------------------------------ --help texts
HELP_EXAMPLES = help_examples()


def test_help_texts_have_examples():
    where = {w for w, _ in HELP_EXAMPLES}
    assert {"convgrad --help", "convgrad explain --help", "convgrad explore --help"} <= where
    assert any(argv[2] == "avg_pool2d" for _, argv in HELP_EXAMPLES if argv[1] == "explain")


@pytest.mark.parametrize("where, argv", HELP_EXAMPLES,
                         ids=[f"{w}: {' '.join(a[1:4])}" for w, a in HELP_EXAMPLES])
def test_help_example(tmp_path, home, capsys, where, argv):
    if argv[1] == "explain":  # in-process (quick): the same main() the script calls
        try:
            status = main(argv[1:])
        except SystemExit as exit_:  # --help
            status = exit_.code
        out, err = capsys.readouterr()
        assert status == 0 and err == "", err
        assert out.strip()
        if "--json" in argv:
            assert np.asarray(json.loads(out)["output"]).size > 0
        return
    run_example(argv, tmp_path, home)
