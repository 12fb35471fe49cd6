"""``convgrad landscape`` as a user runs it: the estimate, the JSON, several runs side by
side, one-line errors, and a landscape killed by SIGKILL that the same command finishes.
"""
from __future__ import annotations

import json
import signal
import time

import numpy as np
import pytest

from convgrad.study.landscape_store import LandscapeError, read_landscape
from test_train_support import (assert_one_line_error, cli_env, convgrad, start,
                                strict_json)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A residual network and its plain twin, 40 steps each."""
    root = tmp_path_factory.mktemp("landscape-cli")
    for model in ("resnet1d", "plain1d"):
        done = convgrad("train", "--model", model, "--steps", "40", "--eval-every", "20",
                        "--eval-samples", "100", "--out", root / model, "--quiet",
                        cwd=root, env=cli_env())
        assert done.returncode == 0, done.stderr
    return root


SMALL = ("--resolution", "3", "--points", "3", "--samples", "200", "--batch-size", "100",
         "--hessian-iterations", "12")


def test_json_is_the_grid_with_rows_following_y(runs, tmp_path):
    done = convgrad("landscape", runs / "resnet1d", *SMALL, "--resolution", "4",
                    "--span", "0.5", "--out", tmp_path / "out", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    record = strict_json(done.stdout)
    assert list(record) == ["x", "y", "loss", "accuracy"]
    assert record["x"] == pytest.approx([-0.5, -1 / 6, 1 / 6, 0.5])
    assert len(record["loss"]) == len(record["y"]) and len(record["loss"][0]) == 4
    _, arrays = read_landscape(tmp_path / "out" / "resnet1d")
    np.testing.assert_array_equal(np.array(record["loss"]), arrays["loss"])
    np.testing.assert_array_equal(np.array(record["accuracy"]), arrays["accuracy"])
    # the estimate comes first, on stderr: what is left and what one evaluation costs
    assert "22 of 22 evaluations to compute" in done.stderr      # 4 × 4 + 2 × 3
    assert "s measured" in done.stderr and "Hessian (lanczos, float64)" in done.stderr


def test_two_runs_side_by_side(runs, tmp_path):
    out = tmp_path / "out"
    done = convgrad("landscape", runs / "plain1d", runs / "resnet1d", *SMALL, "--out", out,
                    cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:4] == ["run", "model", "params", "centre"]
    rows = {line.split()[0]: line.split() for line in lines[1:3]}
    assert rows["plain1d"][1] == "plain1d" and rows["resnet1d"][1] == "resnet1d"
    for name in ("plain1d", "resnet1d"):
        meta, _ = read_landscape(out / name)
        hessian = meta["hessian"]
        assert hessian["lambda_max"] >= hessian["lambda_min"]
        assert rows[name][5] == f"{hessian['lambda_max']:.4g}"
        for picture in ("contour.png", "surface.png", "profiles.png"):
            assert (out / name / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for suffix in ("contour", "surface", "profiles"):
        assert (out / f"compare-plain1d-vs-resnet1d-{suffix}.png").stat().st_size > 10_000
    # --json for several runs: one grid object per run, in the order given
    again = convgrad("landscape", runs / "plain1d", runs / "resnet1d", *SMALL, "--out", out,
                     "--json", "--quiet", cwd=tmp_path)
    records = strict_json(again.stdout)
    assert [list(r) for r in records] == [["x", "y", "loss", "accuracy"]] * 2
    assert records[0]["loss"] != records[1]["loss"]
    assert again.stderr == ""                         # nothing left to compute, quiet


def test_sigkill_then_the_same_command_finishes_the_grid(runs, tmp_path):
    out = tmp_path / "out"
    arguments = ("landscape", runs / "resnet1d", "--resolution", "9", "--points", "3",
                 "--samples", "600", "--hessian-iterations", "0", "--out", out, "--json")
    process = start(*arguments, cwd=tmp_path)
    folder = out / "resnet1d"
    deadline = time.monotonic() + 120
    done_before = 0
    while done_before < 10:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
        try:
            done_before = int(read_landscape(folder)[1]["done"].sum())
        except LandscapeError:       # not written yet
            pass
    process.send_signal(signal.SIGKILL)
    process.wait()
    _, killed = read_landscape(folder)          # whole, never torn
    done_before = int(killed["done"].sum())
    assert 10 <= done_before < 81
    assert np.isnan(killed["loss"][~killed["done"]]).all()

    finished = convgrad(*arguments, cwd=tmp_path, timeout=300)
    assert finished.returncode == 0, finished.stderr
    total = 81 + 6
    left = total - done_before - int(killed["direction_done"].sum() + killed["line_done"].sum())
    assert f"{left} of {total} evaluations to compute" in finished.stderr
    _, arrays = read_landscape(folder)
    assert arrays["done"].all()
    np.testing.assert_array_equal(arrays["loss"][killed["done"]],
                                  killed["loss"][killed["done"]])
    # the cells computed before and after the kill are what one uninterrupted process gives
    fresh = convgrad(*arguments[:-2], tmp_path / "fresh", "--json", "--quiet", cwd=tmp_path,
                     timeout=300)
    assert json.loads(fresh.stdout) == json.loads(finished.stdout)


@pytest.mark.parametrize("arguments, fragments", [
    (("--resolution", "1"), ("--resolution must be an integer of at least 2",)),
    (("--mode", "test"), ("argument --mode: invalid choice",)),
    (("--samples", "9999"), ("--samples 9999", "trained on 4000 samples")),
    (("--checkpoint", "77"), ("no checkpoint of step 77",)),
    (("--hessian-eps", "0"), ("--hessian-eps must be a number greater than 0",)),
])
def test_bad_options_are_one_line(runs, tmp_path, arguments, fragments):
    done = convgrad("landscape", runs / "resnet1d", *arguments, "--out", tmp_path,
                    cwd=tmp_path)
    assert_one_line_error(done, *fragments)
    assert done.returncode == 2
    assert not (tmp_path / "resnet1d").exists()


def test_a_missing_run_and_two_runs_of_one_name_are_one_line(runs, tmp_path):
    assert_one_line_error(convgrad("landscape", tmp_path / "nothing", cwd=tmp_path),
                          "nothing: no such run folder")
    copy = tmp_path / "elsewhere" / "resnet1d"
    copy.parent.mkdir()
    copy.symlink_to(runs / "plain1d")
    assert_one_line_error(convgrad("landscape", runs / "resnet1d", copy, *SMALL, "--out",
                                   tmp_path / "out", cwd=tmp_path),
                          "two runs named 'resnet1d'")
    assert not (tmp_path / "out").exists()


def test_other_settings_in_the_same_folder_are_refused(runs, tmp_path):
    first = convgrad("landscape", runs / "resnet1d", *SMALL, "--hessian-iterations", "0",
                     "--out", tmp_path, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    before = (tmp_path / "resnet1d" / "landscape.npz").read_bytes()
    other = convgrad("landscape", runs / "resnet1d", *SMALL, "--hessian-iterations", "0",
                     "--seed", "1", "--out", tmp_path, cwd=tmp_path)
    assert_one_line_error(other, "holds a landscape of another run or other settings",
                          "seed 0, not 1")
    assert (tmp_path / "resnet1d" / "landscape.npz").read_bytes() == before
