"""Killing ``convgrad train`` for real, then ``--resume``: the final weights, optimizer state
and metrics rows must equal, byte for byte, those of an uninterrupted run with the same seed.

Each run is the console script in a subprocess.  Kills are SIGKILL (no clean-up of any
kind) at every point of the checkpoint protocol — forced with ``CONVGRAD_CRASH_AT`` (see
``convgrad/train/faults.py``) — and at random moments, plus one Ctrl-C (SIGINT), which
saves a checkpoint at the end of the current step and exits with status 130.
"""
import json
import random
import signal
import time

import pytest

from convgrad.train.checkpoint import load_checkpoint
from test_train_support import (checkpoint_bytes, cli_env, convgrad, rows_without_timing,
                                start)

# 200 CNN steps, a checkpoint every 10 and an evaluation every 20 steps: about a second.
ARGS = ["train", "--model", "cnn", "--steps", "200", "--eval-every", "20",
        "--checkpoint-every", "10", "--keep-checkpoints", "3", "--quiet"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("reference")
    process = convgrad(*ARGS, "--out", "run", cwd=cwd)
    assert process.returncode == 0, process.stderr
    return cwd / "run"


def assert_same_as_reference(run_dir, reference_dir):
    assert checkpoint_bytes(run_dir) == checkpoint_bytes(reference_dir)
    assert checkpoint_bytes(run_dir, best=True) == checkpoint_bytes(reference_dir, best=True)
    assert [p.name for p in (run_dir / "checkpoints" / "best").iterdir()] == \
        [p.name for p in (reference_dir / "checkpoints" / "best").iterdir()]
    assert rows_without_timing(run_dir) == rows_without_timing(reference_dir)
    checkpoints = run_dir / "checkpoints"
    assert not [p.name for p in checkpoints.iterdir() if p.name.startswith(".")]
    assert not [p.name for p in run_dir.iterdir() if p.name.startswith((".tmp", ".trash"))]


# (crash point, step, the checkpoint that must be the latest afterwards)
CRASHES = [
    ("checkpoint-begin", 20, 10),            # the temporary folder exists, nothing in it
    ("checkpoint-model-file", 40, 30),       # weights written, optimizer not yet
    ("checkpoint-optimizer-file", 60, 50),   # no meta.json yet
    ("checkpoint-meta-file", 80, 70),        # complete but still under its temporary name
    ("checkpoint-renamed", 100, 90),         # step-0000100/ exists, latest.json says 90
    ("checkpoint-latest", 120, 120),         # latest.json moved on; old ones not pruned
    ("checkpoint-pruned", 140, 140),
    ("metrics-half-row", 160, 150),          # half a JSON line in metrics.jsonl
]


def test_sigkill_at_every_point_of_the_checkpoint_protocol(reference, tmp_path):
    reference_dir = reference
    run_dir = tmp_path / "run"
    for attempt, (point, step, latest) in enumerate(CRASHES):
        where = ["--out", "run"] if attempt == 0 else ["--resume", "run"]
        process = convgrad(*ARGS, *where, cwd=tmp_path,
                           env=cli_env(CONVGRAD_CRASH_AT=f"{point}@{step}"))
        assert process.returncode == -signal.SIGKILL, (point, process.stderr)
        # What the kill left is consistent: latest.json names a complete checkpoint whose
        # files match their recorded checksums.
        checkpoint = load_checkpoint(run_dir)
        assert checkpoint.step == latest, point
    process = convgrad(*ARGS, "--resume", "run", cwd=tmp_path)
    assert process.returncode == 0, process.stderr
    assert_same_as_reference(run_dir, reference_dir)


def _wait_for(path, process, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def _latest_step(run_dir):
    try:
        return json.loads((run_dir / "checkpoints" / "latest.json").read_text())["step"]
    except FileNotFoundError:
        return -1


def test_ctrl_c_then_sigkill_at_random_moments(reference, tmp_path):
    reference_dir = reference
    run_dir = tmp_path / "run"
    # Ctrl-C once the first checkpoint exists: the step in progress finishes, a checkpoint
    # is saved at it, and the process says how to continue.
    process = start(*ARGS, "--out", "run", cwd=tmp_path)
    assert _wait_for(run_dir / "checkpoints" / "latest.json", process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
    stopped_at = int(stderr.split("interrupted at step ")[1].split(";")[0])
    assert load_checkpoint(run_dir).step == stopped_at < 200
    # Then SIGKILL at random moments of the training, resuming after each: each time once
    # the resumed process has saved a checkpoint of its own (so that every attempt makes
    # progress however slow the machine), plus a random 0-30 ms.
    chooser = random.Random(31)
    kills = []
    for _ in range(6):
        before = load_checkpoint(run_dir).step
        process = start(*ARGS, "--resume", "run", cwd=tmp_path)
        while process.poll() is None and _latest_step(run_dir) <= before:
            time.sleep(0.001)
        time.sleep(chooser.uniform(0.0, 0.03))
        process.kill()
        process.communicate(timeout=60)
        kills.append((process.returncode, load_checkpoint(run_dir).step))
        if process.returncode == 0:      # it finished before the kill
            break
        assert process.returncode == -signal.SIGKILL
    process = convgrad(*ARGS, "--resume", "run", cwd=tmp_path)
    assert process.returncode == 0, process.stderr
    assert_same_as_reference(run_dir, reference_dir)
    # Every attempt got further than the one before.
    steps = [stopped_at] + [step for _, step in kills]
    assert steps == sorted(set(steps)), kills


def test_same_seed_in_two_processes_gives_the_same_bytes(reference, tmp_path):
    reference_dir = reference
    process = convgrad(*ARGS, "--out", "again", cwd=tmp_path)
    assert process.returncode == 0, process.stderr
    assert_same_as_reference(tmp_path / "again", reference_dir)


def test_sigkill_while_saving_the_best_checkpoint(reference, tmp_path):
    # Step 0's evaluation is always the first best: kill its save after the rename (not
    # yet published), then after publishing; each resume starts over from the config.
    for attempt, point in enumerate(("best-checkpoint-renamed", "best-checkpoint-latest")):
        where = ["--out", "run"] if attempt == 0 else ["--resume", "run"]
        process = convgrad(*ARGS, *where, cwd=tmp_path,
                           env=cli_env(CONVGRAD_CRASH_AT=f"{point}@0"))
        assert process.returncode == -signal.SIGKILL, (point, process.stderr)
        assert (tmp_path / "run" / "checkpoints" / "best" / "step-0000000").is_dir()
    process = convgrad(*ARGS, "--resume", "run", cwd=tmp_path)
    assert process.returncode == 0, process.stderr
    assert_same_as_reference(tmp_path / "run", reference)
