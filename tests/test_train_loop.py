"""The training loop in-process: reproducibility, resuming from any checkpoint to the same
bytes, the run folder's files, and the rules for run folders."""
import json
import shutil

import numpy as np
import pytest

from convgrad.train import TrainConfig, Trainer, load_run
from convgrad.train.checkpoint import CheckpointError, step_folders
from convgrad.train.evaluate import evaluate
from convgrad.train.runfolder import RunError, check_new_run_dir, default_run_dir, saved_config
from test_train_support import checkpoint_bytes, data_home, rows_without_timing


@pytest.fixture(autouse=True)
def mnist1d_home(monkeypatch):
    monkeypatch.setenv("CONVGRAD_HOME", str(data_home()))


def run(run_dir, resume=False, **options):
    config = TrainConfig(**options)
    return Trainer(config, run_dir, resume=resume, quiet=True).run()


SHORT = dict(model="cnn", steps=60, eval_every=15, checkpoint_every=10, keep_checkpoints=10)


def test_same_seed_same_bytes_other_seed_other_weights(tmp_path):
    first = run(tmp_path / "a", **SHORT)
    second = run(tmp_path / "b", **SHORT)
    other = run(tmp_path / "c", **dict(SHORT, seed=1))
    assert checkpoint_bytes(first.run_dir) == checkpoint_bytes(second.run_dir)
    assert rows_without_timing(first.run_dir) == rows_without_timing(second.run_dir)
    assert checkpoint_bytes(first.run_dir) != checkpoint_bytes(other.run_dir)
    assert first.steps == 60 and first.test_accuracy == first.rows[-1]["test_acc"]
    # rows at step 0, every 15 steps, and the last step
    assert [r["step"] for r in first.rows] == [0, 15, 30, 45, 60]
    assert first.rows[0]["train_loss"] is None and first.rows[1]["train_acc"] > 0


def test_run_folder_contents(tmp_path):
    result = run(tmp_path / "r", model="logistic", steps=30, eval_every=10,
                 checkpoint_every=10)
    names = sorted(p.name for p in result.run_dir.iterdir() if not p.name.startswith("."))
    assert names == ["checkpoints", "config.json", "curves.png", "metrics.csv",
                     "metrics.jsonl", "summary.json"]
    assert (result.run_dir / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert summary["test_accuracy"] == result.test_accuracy
    assert summary["parameters"] == 410 and summary["steps"] == 30
    assert [s for s, _ in step_folders(result.run_dir / "checkpoints")] == [20, 30]
    meta = json.loads((result.checkpoint / "meta.json").read_text())
    assert set(meta["rng"]) == {"convgrad", "loader", "augment"}
    assert meta["config"]["model"] == "logistic" and meta["versions"]["numpy"]
    assert saved_config(result.run_dir).steps == 30
    csv = (result.run_dir / "metrics.csv").read_text().splitlines()
    assert len(csv) == 1 + len(result.rows) == 5


RESUMABLE = {
    # stops mid-epoch (40 batches of 100 per epoch), at an epoch's end (40) and past it
    "cnn-adam": (SHORT, (10, 20, 40, 50)),
    # SGD momentum buffers, warm-up then cosine (a SequentialLR), weight decay
    "mlp-sgd-cosine": (dict(SHORT, model="mlp", optimizer="sgd", momentum=0.9, lr=0.05,
                            weight_decay=1e-4, schedule="cosine", warmup_steps=12),
                       (10, 30, 50)),
    # BatchNorm running statistics and num_batches_tracked (0-d int64) buffers
    "resnet1d-adamw-multistep": (dict(SHORT, model="resnet1d", optimizer="adamw", steps=24,
                                      schedule="multistep", milestones=[8, 16],
                                      eval_samples=200, checkpoint_every=4),
                                 (4, 12, 20)),
    # the augmentation's own generator (random crops of 8x8 digits), an epoch of 14 batches
    "lenet-digits-augment": (dict(SHORT, model="lenet5-small", dataset="digits", augment=True,
                                  steps=30, checkpoint_every=5), (5, 15, 25)),
}


@pytest.mark.parametrize("name", RESUMABLE)
def test_resuming_from_any_checkpoint_reaches_the_same_bytes(tmp_path, name):
    options, resume_points = RESUMABLE[name]
    reference = run(tmp_path / "reference", **options)
    for step in resume_points:
        copy = tmp_path / f"from-{step}"
        shutil.copytree(reference.run_dir, copy)
        # Rewind the copy to checkpoint `step`: as if the run had been killed just after
        # it (the later checkpoints and metrics rows are what a killed run would have
        # left behind, and must be replaced, not trusted).
        (copy / "checkpoints" / "latest.json").write_text(
            json.dumps({"name": f"step-{step:07d}", "step": step}))
        resumed = run(copy, resume=True, **options)
        assert resumed.start_step == step
        assert checkpoint_bytes(copy) == checkpoint_bytes(reference.run_dir), step
        assert rows_without_timing(copy) == rows_without_timing(reference.run_dir), step


def test_resuming_a_finished_run_does_nothing(tmp_path):
    first = run(tmp_path / "r", model="logistic", steps=20, eval_every=10)
    again = run(tmp_path / "r", resume=True, model="logistic", steps=20, eval_every=10)
    assert again.already_finished and again.steps == 20
    assert again.test_accuracy == first.test_accuracy
    assert rows_without_timing(first.run_dir) == [
        {k: v for k, v in r.items() if k != "time_s"} for r in again.rows]


def test_a_run_killed_before_its_first_checkpoint_restarts_from_its_config(tmp_path):
    reference = run(tmp_path / "reference", model="logistic", steps=20, eval_every=10)
    folder = tmp_path / "killed"
    folder.mkdir()
    shutil.copy(reference.run_dir / "config.json", folder / "config.json")
    (folder / "metrics.jsonl").write_text('{"step": 0, "epo')          # torn first row
    resumed = run(folder, resume=True, model="logistic", steps=20, eval_every=10)
    assert resumed.start_step == 0
    assert checkpoint_bytes(folder) == checkpoint_bytes(reference.run_dir)
    assert rows_without_timing(folder) == rows_without_timing(reference.run_dir)


def test_a_run_restarted_before_its_first_checkpoint_keeps_its_recipe(tmp_path):
    folder = tmp_path / "killed"
    folder.mkdir()
    (folder / "config.json").write_text(TrainConfig(model="logistic", steps=20).to_json())
    with pytest.raises(RunError, match=r"config.json: the run was started with another recipe "
                                       r"\(model 'logistic', not 'mlp', steps 20, not 30\)"):
        run(folder, resume=True, model="mlp", steps=30)
    assert json.loads((folder / "config.json").read_text())["model"] == "logistic"


def test_a_checkpoint_of_another_model_is_refused(tmp_path):
    run(tmp_path / "r", model="logistic", steps=10)
    with pytest.raises(CheckpointError, match="a checkpoint of model 'logistic', this run "
                                              "trains 'mlp'"):
        run(tmp_path / "r", resume=True, model="mlp", steps=10)


def test_a_checkpoint_of_another_recipe_is_refused(tmp_path):
    run(tmp_path / "r", model="logistic", steps=10)
    with pytest.raises(CheckpointError, match=r"saved with a different recipe \(lr 0.01, not "
                                              r"0.1, seed 0, not 3\)"):
        run(tmp_path / "r", resume=True, model="logistic", steps=10, lr=0.1, seed=3)


def test_run_folder_rules(tmp_path, monkeypatch):
    config = TrainConfig()
    first = default_run_dir(config, tmp_path)
    assert first.parent == tmp_path and first.name.startswith("cnn-mnist1d-")
    first.mkdir()
    assert default_run_dir(config, tmp_path).name.startswith(first.name + "-")
    check_new_run_dir(first)                    # an empty folder is fine
    (first / "config.json").write_text("{}")
    with pytest.raises(RunError, match="already holds a run; continue it with --resume"):
        check_new_run_dir(first)
    with pytest.raises(RunError, match="already holds a run"):   # the API refuses it too
        run(first, model="logistic", steps=5)
    assert (first / "config.json").read_text() == "{}"
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunError, match="exists and is not a folder"):
        check_new_run_dir(tmp_path / "file")
    with pytest.raises(RunError, match="no such folder"):
        saved_config(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunError, match="no checkpoint to resume from"):
        saved_config(tmp_path / "empty")


def test_eval_samples_limits_periodic_evaluation_not_the_final_one(tmp_path):
    result = run(tmp_path / "r", model="logistic", steps=20, eval_every=10, eval_samples=50)
    accuracies = [r["test_acc"] for r in result.rows]
    assert all(a * 50 == pytest.approx(round(a * 50)) for a in accuracies)  # out of 50 samples
    trained = load_run(result.run_dir)
    data = trained.data
    assert len(data.test_y) == 1000
    full = evaluate(trained.model, data.test_x, data.test_y, data.classes)
    assert result.test_accuracy == full.accuracy                  # all 1000 samples
    assert np.isfinite(result.test_loss)
