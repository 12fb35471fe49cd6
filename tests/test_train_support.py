"""Helpers shared by the ``test_train_*`` files (no tests of its own).

MNIST-1D is generated once into a temporary ``CONVGRAD_HOME`` shared by every test process
(generation takes a second or two; the cache is validated on each load, so sharing it is
safe), and the ``convgrad`` console script is run from the virtual environment in use.
"""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from convgrad.train.metrics import TIMING_FIELDS

CONVGRAD = Path(sys.executable).parent / "convgrad"
DATA_HOME = Path(tempfile.gettempdir()) / f"convgrad-train-tests-{os.getuid()}"


def data_home() -> Path:
    """A CONVGRAD_HOME holding MNIST-1D (generated on first use)."""
    from convgrad.data import load_dataset

    if not (DATA_HOME / "mnist1d.npz").is_file():
        previous = os.environ.get("CONVGRAD_HOME")
        os.environ["CONVGRAD_HOME"] = str(DATA_HOME)
        try:
            load_dataset("mnist1d")
        finally:
            if previous is None:
                del os.environ["CONVGRAD_HOME"]
            else:
                os.environ["CONVGRAD_HOME"] = previous
    return DATA_HOME


def cli_env(**extra) -> dict:
    env = dict(os.environ, CONVGRAD_HOME=str(data_home()), PYTHONUNBUFFERED="1")
    env.pop("CONVGRAD_CRASH_AT", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def convgrad(*args, cwd, env=None, timeout=120) -> subprocess.CompletedProcess:
    """Run the console script; returns the completed process (text output)."""
    return subprocess.run([str(CONVGRAD), *map(str, args)], cwd=cwd, env=env or cli_env(),
                          capture_output=True, text=True, timeout=timeout)


def start(*args, cwd, env=None) -> subprocess.Popen:
    return subprocess.Popen([str(CONVGRAD), *map(str, args)], cwd=cwd, env=env or cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def final_checkpoint(run_dir: Path, best: bool = False) -> Path:
    folder = run_dir / "checkpoints" / ("best" if best else "")
    latest = json.loads((folder / "latest.json").read_text())
    return folder / latest["name"]


def checkpoint_bytes(run_dir: Path, best: bool = False) -> dict:
    """The latest (or the best) checkpoint's safetensors files, byte for byte."""
    folder = final_checkpoint(run_dir, best)
    return {name: (folder / name).read_bytes()
            for name in ("model.safetensors", "optimizer.safetensors")}


def rows_without_timing(run_dir: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    for row in rows:
        for name in TIMING_FIELDS:
            row.pop(name)
    return rows


def assert_one_line_error(process: subprocess.CompletedProcess, *fragments: str) -> None:
    """A non-zero exit with exactly one line on stderr, no traceback, naming ``fragments``."""
    assert process.returncode != 0, process.stdout
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1, process.stderr
    assert "Traceback" not in process.stderr + process.stdout
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def random_cifar_folder(folder: Path, train_per_batch: int, test: int) -> None:
    """CIFAR-10's six binary batch files of random images: one label byte + 3072 pixels."""
    rng = np.random.default_rng(0)
    folder.mkdir()
    for name, count in [(f"data_batch_{i}.bin", train_per_batch) for i in range(1, 6)] + \
            [("test_batch.bin", test)]:
        records = rng.integers(0, 256, (count, 3073), np.uint8)
        records[:, 0] = rng.integers(0, 10, count)
        (folder / name).write_bytes(records.tobytes())


def random_mnist_folder(folder: Path, train: int, test: int) -> None:
    """MNIST's four IDX files with ``train`` and ``test`` random images."""
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (train, 28, 28), np.uint8),
              "train-labels-idx1-ubyte": rng.integers(0, 10, train, np.uint8),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (test, 28, 28), np.uint8),
              "t10k-labels-idx1-ubyte": rng.integers(0, 10, test, np.uint8)}
    folder.mkdir()
    for name, array in arrays.items():
        header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
        (folder / name).write_bytes(header + array.tobytes())


def strict_json(text: str):
    """``json.loads`` that fails on NaN and Infinity (not JSON, though Python writes them)."""
    def refuse(constant):
        raise AssertionError(f"{constant} in JSON: {text[:200]}")
    return json.loads(text, parse_constant=refuse)


__all__ = ["CONVGRAD", "assert_one_line_error", "checkpoint_bytes", "cli_env", "convgrad",
           "data_home", "final_checkpoint", "np", "random_cifar_folder", "rows_without_timing",
           "start", "strict_json"]
