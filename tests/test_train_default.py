"""The promise of ``make train``: ``convgrad train`` with no options (the MNIST-1D paper's
CNN and recipe: Adam, lr 1e-2, batch 100, 6000 steps) reaches at least 92% test accuracy.

The one full-length run of the suite (about 10-25 s of training on two cores); deselect it
with ``-m "not slow"``.
"""
import json

import pytest

from test_train_support import convgrad


@pytest.mark.slow
def test_default_run_reaches_92_percent(tmp_path):
    process = convgrad("train", "--quiet", "--json", "--out", "run", cwd=tmp_path, timeout=600)
    assert process.returncode == 0, process.stderr
    record = json.loads(process.stdout)
    assert (record["model"], record["dataset"], record["steps"]) == ("cnn", "mnist1d", 6000)
    assert record["parameters"] == 5210
    assert record["test_accuracy"] >= 0.92, record
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (config["optimizer"], config["lr"], config["batch_size"]) == ("adam", 0.01, 100)
    rows = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == 25                            # step 0, then every 250 steps
