"""The Python API of ``convgrad.train``: a frozen config checked when it is made, extra
measurements at each evaluation, and ``load_run`` (a run folder back as model, config, data).
"""
import csv
import dataclasses
import json

import numpy as np
import pytest

import convgrad as cg
from convgrad.train import (CheckpointError, ConfigError, Measurement, TrainConfig, Trainer,
                            TrainingSet, evaluate, load_run)
from convgrad.train.faults import crash_hook_from_environment
from test_train_support import checkpoint_bytes, data_home, rows_without_timing


@pytest.fixture(autouse=True)
def mnist1d_home(monkeypatch):
    monkeypatch.setenv("CONVGRAD_HOME", str(data_home()))


# ---------------------------------------------------------------------------- config
def test_a_config_is_frozen_and_checked_when_made():
    config = TrainConfig(model="MLP", dataset="MNIST-1D")
    assert (config.model, config.dataset) == ("mlp", "mnist1d")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.lr = 0.5
    with pytest.raises(ConfigError, match="--lr must be greater than 0"):
        dataclasses.replace(config, lr=0)            # a changed copy is checked again
    assert dataclasses.replace(config, lr=0.5).lr == 0.5 and config.lr == 0.01
    with pytest.raises(TypeError, match="config must be a TrainConfig"):
        Trainer({"model": "cnn"}, "nowhere")


# ---------------------------------------------------------------------------- measurements
class WeightNorms(Measurement):
    """One column per parameter tensor: columns that depend on the model."""

    def columns(self, run):
        return [f"norm/{name}" for name, _ in run.backend.model.named_parameters()]

    def measure(self, run):
        return {f"norm/{name}": float(np.linalg.norm(p.data))
                for name, p in run.backend.model.named_parameters()}


SHORT = dict(model="resnet1d", steps=12, eval_every=6, checkpoint_every=6, eval_samples=100)


def test_measurements_add_columns_and_leave_the_training_alone(tmp_path):
    plain = Trainer(TrainConfig(**SHORT), tmp_path / "plain", quiet=True).run()
    measured = Trainer(TrainConfig(**SHORT), tmp_path / "measured", quiet=True,
                       measurements=[TrainingSet(), WeightNorms()]).run()
    # BatchNorm's running statistics, dropout's generator, the weights: untouched.
    assert checkpoint_bytes(measured.run_dir) == checkpoint_bytes(plain.run_dir)
    rows = [json.loads(line) for line in
            (measured.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 6, 12]
    names = [name for name, _ in load_run(measured.run_dir).model.named_parameters()]
    with open(measured.run_dir / "metrics.csv") as handle:
        header = next(csv.reader(handle))
    assert header == ["step", "epoch", "lr", "train_loss", "train_acc", "test_loss",
                      "test_acc", "time_s", "train_set_loss", "train_set_acc",
                      *[f"norm/{name}" for name in names]]
    # The last row's values are those of the final weights.
    trained = load_run(measured.run_dir)
    on_train = evaluate(trained.model, trained.data.train_x, trained.data.train_y,
                        trained.data.classes)
    assert rows[-1]["train_set_loss"] == on_train.loss
    assert rows[-1]["train_set_acc"] == on_train.accuracy
    conv = names[0]
    assert rows[-1][f"norm/{conv}"] == float(np.linalg.norm(
        dict(trained.model.named_parameters())[conv].data))
    assert rows[0][f"norm/{conv}"] != rows[-1][f"norm/{conv}"]


def test_a_resumed_run_with_measurements_writes_the_same_rows(tmp_path):
    options = dict(SHORT, model="mlp")
    reference = Trainer(TrainConfig(**options), tmp_path / "ref", quiet=True,
                        measurements=[TrainingSet()]).run()
    first = Trainer(TrainConfig(**options), tmp_path / "run", quiet=True,
                    measurements=[TrainingSet()])
    first.run()
    (tmp_path / "run" / "checkpoints" / "latest.json").write_text(
        json.dumps({"name": "step-0000006", "step": 6}))
    Trainer(TrainConfig(**options), tmp_path / "run", resume=True, quiet=True,
            measurements=[TrainingSet()]).run()
    assert rows_without_timing(tmp_path / "run") == rows_without_timing(reference.run_dir)


class Clashing(Measurement):
    def columns(self, run):
        return ["test_acc"]

    def measure(self, run):
        return {"test_acc": 1.0}


class Undeclared(Measurement):
    def columns(self, run):
        return ["mine"]

    def measure(self, run):
        return {"other": 1.0}


def test_measurement_columns_must_be_new_and_declared(tmp_path):
    config = TrainConfig(model="logistic", steps=2)
    with pytest.raises(ValueError, match="column 'test_acc' is empty or already taken"):
        Trainer(config, tmp_path / "a", quiet=True, measurements=[Clashing()]).run()
    with pytest.raises(ValueError, match="measured 'other', which is not one of its columns"):
        Trainer(config, tmp_path / "b", quiet=True, measurements=[Undeclared()]).run()


# ---------------------------------------------------------------------------- load_run
def test_load_run_gives_the_model_config_and_data(tmp_path):
    result = Trainer(TrainConfig(model="cnn", steps=20, eval_every=10, checkpoint_every=10,
                                 keep_checkpoints=5), tmp_path / "r", quiet=True).run()
    cg.manual_seed(123)
    before = cg.random.get_rng_state()
    run = cg.load_run(tmp_path / "r")
    assert cg.random.get_rng_state() == before          # the generator is left alone
    assert run.step == 20 and run.config == result.config and not run.model.training
    assert run.data.name == "mnist1d" and run.data.num_test == 1000
    accuracy = evaluate(run.model, run.data.test_x, run.data.test_y, run.data.classes).accuracy
    assert accuracy == result.test_accuracy
    earlier = cg.load_run(tmp_path / "r", checkpoint=10, data=False)
    assert earlier.step == 10 and earlier.data is None
    assert accuracy != evaluate(earlier.model, run.data.test_x, run.data.test_y,
                                run.data.classes).accuracy
    assert cg.load_run(tmp_path / "r", checkpoint="last").step == 20
    best = cg.load_run(tmp_path / "r", checkpoint="best", data=False)
    assert best.step == result.best_step and best.checkpoint.meta["best"] == {
        "step": result.best_step, "test_acc": result.best_test_accuracy}
    with pytest.raises(CheckpointError,
                       match=r"no checkpoint of step 15 \(kept: 10, 20; best: 20\)"):
        cg.load_run(tmp_path / "r", checkpoint=15)
    with pytest.raises(CheckpointError, match="a checkpoint is"):
        cg.load_run(tmp_path / "r", checkpoint="first")
    with pytest.raises(CheckpointError, match="no such run folder"):
        cg.load_run(tmp_path / "missing")


# ---------------------------------------------------------------------------- faults
def test_the_crash_hook_exists_only_when_asked_for():
    assert crash_hook_from_environment({}) is None
    assert crash_hook_from_environment({"CONVGRAD_CRASH_AT": "nonsense"}) is None
    assert crash_hook_from_environment({"CONVGRAD_CRASH_AT": "checkpoint-begin@x"}) is None
    assert callable(crash_hook_from_environment({"CONVGRAD_CRASH_AT": "checkpoint-begin@3"}))
