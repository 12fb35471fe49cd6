"""``--backend torch --nproc N``: data-parallel processes started by torchrun, for real.

N processes with B/N samples each follow the single process with batch B (batch norm synced
over the whole batch, gradients averaged): in float64 to ~1e-12, in float32 over the first
steps; a run of 2 processes is evaluated by the NumPy engine as the run evaluated itself;
a Ctrl-C stops every process after the same step with a checkpoint, a SIGKILL of either
process ends the job in one line, and ``--resume`` continues to the same weights as the
uninterrupted run, byte for byte; README's several-machines torchrun command, run as two
"machines" on loopback, makes that same run.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from convgrad.train import TrainConfig
from ddp_worker import EXACT_STEPS, ROUNDED_STEPS, first_steps
from test_train_support import (checkpoint_bytes, cli_env, convgrad, data_home,
                                rows_without_timing, start)

WORKER = Path(__file__).with_name("ddp_worker.py")
# The issue's `make train ARGS="--backend torch --nproc 2 --steps 300"`, quiet.
MAKE_TRAIN = ["train", "--backend", "torch", "--nproc", "2", "--steps", "300", "--quiet"]


def env(**extra):
    return cli_env(OMP_NUM_THREADS=1, **extra)   # 2 processes on 2 shared cores


@pytest.fixture(autouse=True)
def mnist1d_home(monkeypatch):
    monkeypatch.setenv("CONVGRAD_HOME", str(data_home()))


def test_two_processes_follow_one_process_with_the_whole_batch(tmp_path):
    config = TrainConfig(backend="torch", model="resnet1d", optimizer="sgd", lr=0.1,
                         momentum=0.9, weight_decay=1e-4, steps=EXACT_STEPS)
    out = tmp_path / "ddp.json"
    process = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
         str(WORKER), config.to_json(), str(out)],
        env=env(), capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stderr
    team = json.loads(out.read_text())
    assert team["size"] == 2
    torch.set_num_threads(1)
    exact, weights = first_steps(config, EXACT_STEPS, dtype=torch.float64)
    rounded, _ = first_steps(config, ROUNDED_STEPS, dtype=torch.float32)
    np.testing.assert_allclose(np.array(team["float64"]), np.array(exact), rtol=1e-11)
    for name, value in weights.items():     # batch norm's running statistics included
        np.testing.assert_allclose(team["weights"][name], value, rtol=1e-9, atol=1e-12,
                                   err_msg=name)
    # float32: the first steps, before training amplifies rounding (test_torch_backend.py).
    np.testing.assert_allclose(np.array(team["float32"]), np.array(rounded), rtol=2e-6)


@pytest.fixture(scope="module")
def make_train(tmp_path_factory):
    """The issue's run on a fresh clone, as ``make train`` runs it."""
    cwd = tmp_path_factory.mktemp("make-train")
    process = convgrad(*MAKE_TRAIN, "--out", "run", cwd=cwd, env=env(), timeout=300)
    assert process.returncode == 0, process.stderr
    return cwd / "run"


def test_the_numpy_engine_evaluates_a_2_process_run_as_it_evaluated_itself(make_train):
    config = json.loads((make_train / "config.json").read_text())
    assert (config["backend"], config["nproc"]) == ("torch", 2)
    last = rows_without_timing(make_train)[-1]
    assert last["step"] == 300
    process = convgrad("eval", make_train, "--json", cwd=make_train.parent)
    assert process.returncode == 0, process.stderr
    evaluated = json.loads(process.stdout)
    assert evaluated["accuracy"] == last["test_acc"]
    assert evaluated["loss"] == pytest.approx(last["test_loss"], rel=1e-5)


def _wait_for_checkpoint(run_dir, after, process, timeout=120.0):
    """Wait until the run has a checkpoint past step ``after``; its step."""
    latest = run_dir / "checkpoints" / "latest.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            step = json.loads(latest.read_text())["step"]
        except (OSError, ValueError):
            step = 0
        if step > after:
            return step
        time.sleep(0.005)
    raise AssertionError(f"no checkpoint past step {after}: {process.communicate()}")


def _process_of_rank(launcher_pid, rank):
    """The pid of the process torchrun started with RANK=rank under the launcher."""
    for children in Path(f"/proc/{launcher_pid}/task").glob("*/children"):
        for pid in children.read_text().split():
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            if f"RANK={rank}".encode() in environ:
                return int(pid)
    raise AssertionError(f"no process of rank {rank} under {launcher_pid}")


def test_ctrl_c_and_killed_processes_then_resume_reach_the_same_weights(make_train, tmp_path):
    args = [*MAKE_TRAIN, "--checkpoint-every", "50"]
    # Ctrl-C (the launcher forwards it): every process stops after the same step, and
    # process 0 saves that step.
    launcher = start(*args, "--out", "run", cwd=tmp_path, env=env())
    _wait_for_checkpoint(tmp_path / "run", 50, launcher)
    launcher.send_signal(signal.SIGINT)
    out, err = launcher.communicate(timeout=120)
    assert launcher.returncode == 130, err
    assert "convgrad train: interrupted at step" in err
    stopped = json.loads((tmp_path / "run" / "checkpoints" / "latest.json").read_text())
    assert f"interrupted at step {stopped['step']}; checkpoint saved" in err
    assert stopped["step"] < 300
    # A SIGKILL of process 1, then of process 0 (the one that writes): each time the job
    # ends, in one line from the launcher and one from the process that lost its partner.
    for victim_rank in (1, 0):
        launcher = start("train", "--resume", "run", "--quiet", cwd=tmp_path, env=env())
        _wait_for_checkpoint(tmp_path / "run", stopped["step"], launcher)   # it goes on
        victim = _process_of_rank(launcher.pid, victim_rank)
        os.kill(victim, signal.SIGKILL)
        out, err = launcher.communicate(timeout=120)
        assert launcher.returncode == 128 + signal.SIGKILL, err
        assert "Traceback" not in err and "terminate called" not in err, err
        assert f"convgrad train: process {victim_rank} of 2 (pid {victim}) was killed by " \
               f"SIGKILL" in err
        partner = "" if victim_rank else "process 1 of 2: "
        assert f"convgrad train: error: {partner}lost contact with another process of the " \
               f"run" in err
        assert "continue the run from its latest checkpoint with: convgrad train --resume " \
               "run" in err
        stopped = json.loads((tmp_path / "run" / "checkpoints" / "latest.json").read_text())
        assert stopped["step"] < 300
    # --resume continues (2 processes again: the run's config says so).
    process = convgrad("train", "--resume", "run", "--quiet", cwd=tmp_path, env=env())
    assert process.returncode == 0, process.stderr
    assert checkpoint_bytes(tmp_path / "run") == checkpoint_bytes(make_train)
    assert rows_without_timing(tmp_path / "run") == rows_without_timing(make_train)


def test_two_machines_as_readme_starts_them(make_train, tmp_path):
    """README's several-machines command, each "machine" a torchrun of one process in its
    own folder on loopback: the run folder is on node 0's alone, and it is the run
    ``--nproc 2`` makes on one machine, byte for byte."""
    # torchrun counts the processes (--nnodes × --nproc-per-node), and would take
    # convgrad's --nproc for an abbreviation of its own --nproc-per-node.
    at = MAKE_TRAIN.index("--nproc")
    PER_MACHINE = MAKE_TRAIN[:at] + MAKE_TRAIN[at + 2:]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    nodes = []
    for rank in (0, 1):
        (tmp_path / f"machine{rank}").mkdir()
        nodes.append(subprocess.Popen(
            [str(Path(sys.executable).with_name("torchrun")), "--nnodes", "2",
             "--nproc-per-node", "1", "--node-rank", str(rank), "--master-addr", "127.0.0.1",
             "--master-port", str(port), "-m", "convgrad.cli", *PER_MACHINE, "--out", "run"],
            cwd=tmp_path / f"machine{rank}", env=env(), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True))
    for node in nodes:
        out, err = node.communicate(timeout=300)
        assert node.returncode == 0, err
    assert list((tmp_path / "machine1").iterdir()) == []
    run = tmp_path / "machine0" / "run"
    assert json.loads((run / "config.json").read_text())["nproc"] == 2
    assert checkpoint_bytes(run) == checkpoint_bytes(make_train)
    assert rows_without_timing(run) == rows_without_timing(make_train)


def test_make_train_installs_the_pinned_cpu_torch_for_the_torch_backend(tmp_path):
    """The issue's command on a fresh clone: make installs the torch extra with this
    machine's CPU wheel pinned (an unpinned torch pulls the newest CUDA build)."""
    root = Path(__file__).resolve().parents[1]

    def installs(*args):
        """What ``make train`` would install, and the command it would then run."""
        plan = subprocess.run(["make", "-n", "--no-print-directory", "train",
                               f"VENV={tmp_path}/venv", *args], cwd=root,
                              capture_output=True, text=True, check=True).stdout.splitlines()
        pip = [line.split(" pip install ", 1)[1] for line in plan if " pip install " in line]
        return pip, plan[-1]

    pip, command = installs("ARGS=--backend torch --nproc 2 --steps 300")
    assert pip == ["--quiet -e '.[all,torch]' torch==2.13.0"]
    assert command.endswith("bin/convgrad train --backend torch --nproc 2 --steps 300")
    assert installs("ARGS=--steps 300")[0] == ["--quiet -e '.[all]'"]
    assert installs("TORCH=1", "ARGS=--resume runs/x")[0] == \
        ["--quiet -e '.[all,torch]' torch==2.13.0"]
