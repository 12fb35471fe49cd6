"""convgrad.train's parts on their own: config validation, metrics files, checkpoint files
(atomic layout, verification, corrupt inputs), evaluation, schedules, the compare table."""
import json
import math

import numpy as np
import pytest

import convgrad as cg
from convgrad.nn import Linear
from convgrad.optim import SGD
from convgrad.train.checkpoint import (CheckpointError, clean_checkpoints, find_checkpoint,
                                       latest_checkpoint, load_checkpoint, read_safetensors,
                                       save_checkpoint, step_folders)
from convgrad.train.compare import ComparisonRow, format_table, reading
from convgrad.train.config import ConfigError, TrainConfig
from convgrad.train.evaluate import evaluate, format_evaluation
from convgrad.train.metrics import FIELDS, MetricsLog, damage_report, read_metrics, read_rows
from convgrad.data.transforms import random_crop, random_horizontal_flip
from convgrad.train.setup import (augmentation_generator, build_augmentation, build_model,
                                  build_scheduler)


# ---------------------------------------------------------------------------- config
def test_default_config_is_the_papers_recipe():
    config = TrainConfig()
    assert (config.model, config.dataset, config.optimizer) == ("cnn", "mnist1d", "adam")
    assert (config.lr, config.batch_size, config.weight_decay) == (1e-2, 100, 0.0)
    assert config.total_steps(batches_per_epoch=40) == 6000
    assert config.eval_every == 250


def test_config_json_round_trip_and_aliases():
    config = TrainConfig(model="MLP", dataset="MNIST-1D", optimizer="SGD", momentum=0.9,
                         schedule="multistep", milestones=[300, 100], steps=400)
    assert (config.model, config.dataset, config.optimizer) == ("mlp", "mnist1d", "sgd")
    assert config.milestones == [100, 300]
    again = TrainConfig.from_json(config.to_json())
    assert again == config
    assert TrainConfig(epochs=3).total_steps(batches_per_epoch=40) == 120


@pytest.mark.parametrize("changes, fragment", [
    ({"lr": 0}, "--lr must be greater than 0, got 0"),
    ({"lr": -0.1}, "--lr must be greater than 0"),
    ({"lr": float("nan")}, "--lr must be a finite number"),
    ({"lr": "fast"}, "--lr must be a number, got 'fast'"),
    ({"batch_size": 0}, "--batch-size must be at least 1, got 0"),
    ({"steps": 0}, "--steps must be at least 1, got 0"),
    ({"epochs": 0}, "--epochs must be at least 1"),
    ({"steps": 10, "epochs": 2}, "give --steps or --epochs, not both"),
    ({"seed": -1}, "--seed must be at least 0"),
    ({"momentum": 1.5, "optimizer": "sgd"}, "--momentum must be in [0, 1)"),
    ({"momentum": 0.9}, "--momentum applies to --optimizer sgd only"),
    ({"weight_decay": -1}, "--weight-decay must be in [0, inf]"),
    ({"optimizer": "lbfgs"}, "--optimizer must be one of sgd, adam, adamw"),
    ({"schedule": "linear"}, "--schedule must be one of"),
    ({"model": "cnnn"}, "unknown model 'cnnn' (did you mean 'cnn'?)"),
    ({"dataset": "imagenet"}, "unknown dataset 'imagenet'"),
    ({"model": "lenet5", "dataset": "mnist1d"},
     "model lenet5 takes inputs of shape (1, 28, 28) but mnist1d"),
    ({"model": "cnn", "dataset": "cifar10"}, "models for cifar10: resnet20"),
    ({"augment": True}, "--augment (random crop and flip) is for image data sets"),
    ({"eval_every": -1}, "--eval-every must be at least 0"),
    ({"keep_checkpoints": 0}, "--keep-checkpoints must be at least 1"),
    ({"steps": 2.5}, "--steps must be an integer"),
    ({"gamma": 0}, "--gamma must be in (0, 1]"),
])
def test_config_rejects_bad_values_in_one_line(changes, fragment):
    with pytest.raises(ConfigError) as error:
        TrainConfig(**changes)
    assert fragment in str(error.value)
    assert "\n" not in str(error.value)


def test_a_model_brings_its_data_set_and_its_recipe():
    resnet = TrainConfig(model="resnet20")
    assert (resnet.dataset, resnet.optimizer, resnet.lr, resnet.momentum, resnet.weight_decay,
            resnet.schedule, resnet.gamma, resnet.batch_size, resnet.augment) == \
        ("cifar10", "sgd", 0.1, 0.9, 1e-4, "multistep", 0.1, 128, True)
    assert TrainConfig.from_json(resnet.to_json()) == resnet
    assert TrainConfig(dataset="cifar10") == resnet
    assert TrainConfig(model="plain56").dataset == "cifar10"
    # Another optimizer takes the paper's lr, momentum and weight decay with it ...
    adam = TrainConfig(model="resnet20", optimizer="Adam")
    assert (adam.lr, adam.momentum, adam.weight_decay, adam.schedule) == \
        (0.01, 0.0, 0.0, "multistep")
    # ... what is given stays given ...
    assert TrainConfig(model="resnet20", lr=0.05, augment=False).lr == 0.05
    assert TrainConfig(model="resnet20", augment=False).augment is False
    # ... and the other models keep the paper's recipe, on their own data set.
    lenet = TrainConfig(model="lenet5")
    assert (lenet.dataset, lenet.optimizer, lenet.lr, lenet.batch_size, lenet.augment) == \
        ("mnist", "adam", 0.01, 100, False)
    assert TrainConfig(model="resnet1d").optimizer == "adam"


def test_config_from_dict_rejects_unknown_keys_and_bad_json():
    with pytest.raises(ConfigError, match="unknown configuration key"):
        TrainConfig.from_dict({"model": "cnn", "learning_rate": 1})
    with pytest.raises(ConfigError, match="not valid JSON"):
        TrainConfig.from_json('{"model": "cnn"')


def test_schedule_must_fit_the_run():
    config = TrainConfig(warmup_steps=100, steps=100)
    with pytest.raises(ConfigError, match="leaves no steps"):
        config.check_schedule(100)
    config = TrainConfig(schedule="multistep", milestones=[50, 200], steps=100)
    with pytest.raises(ConfigError, match="goes past the run's last step"):
        config.check_schedule(100)


# ---------------------------------------------------------------------------- schedules
def _lrs(config, total):
    model = Linear(2, 2)
    optimizer = SGD(model.parameters(), lr=config.lr)
    scheduler = build_scheduler(config, optimizer, total)
    lrs = []
    for _ in range(total):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    return scheduler, lrs


def test_warmup_then_cosine_follows_the_formulas():
    config = TrainConfig(lr=0.1, schedule="cosine", warmup_steps=4, steps=20)
    scheduler, lrs = _lrs(config, 20)
    warm = [0.1 * (1 / 5 + (1 - 1 / 5) * t / 4) for t in range(5)]
    np.testing.assert_allclose(lrs[:5], warm, rtol=1e-12)
    cosine = [0.1 * (1 + math.cos(math.pi * t / 16)) / 2 for t in range(16)]
    np.testing.assert_allclose(lrs[4:], cosine, rtol=1e-9, atol=1e-15)
    json.dumps(scheduler.state_dict())            # checkpointable as JSON


def test_constant_step_and_multistep_schedules():
    assert _lrs(TrainConfig(lr=0.5), 5) == (None, [0.5] * 5)
    _, lrs = _lrs(TrainConfig(lr=1.0, schedule="step", step_size=3, gamma=0.5), 7)
    assert lrs == [1, 1, 1, 0.5, 0.5, 0.5, 0.25]
    _, lrs = _lrs(TrainConfig(lr=1.0, schedule="multistep", milestones=[2, 5],
                              gamma=0.1), 6)
    np.testing.assert_allclose(lrs, [1, 1, 0.1, 0.1, 0.1, 0.01])


def test_default_milestones_fall_after_the_warmup():
    # 4 warm-up steps, then 8: the defaults are halfway (4 + 4) and three quarters (4 + 6).
    config = TrainConfig(lr=1.0, schedule="multistep", warmup_steps=4, gamma=0.1,
                         steps=12)
    _, lrs = _lrs(config, 12)
    np.testing.assert_allclose(lrs[4:], [1, 1, 1, 1, 0.1, 0.1, 0.01, 0.01])


def test_data_dir_may_be_a_path(tmp_path):
    config = TrainConfig(data_dir=tmp_path)
    assert config.data_dir == str(tmp_path)
    assert TrainConfig.from_json(config.to_json()) == config


def test_a_missing_extra_is_named_before_anything_runs():
    from convgrad.errors import UsageError
    from convgrad.extras import install_command
    from convgrad.extras import RUN_PACKAGES, require_installed
    require_installed(RUN_PACKAGES)                           # installed here
    with pytest.raises(UsageError) as caught:
        require_installed(("tqdm", "no_such_package_x"))
    assert str(caught.value).startswith("needs no_such_package_x, not installed")
    assert str(caught.value).endswith(install_command("train"))


# ---------------------------------------------------------------------------- metrics
def _row(step, acc=0.5):
    return {"step": step, "epoch": step / 40, "lr": 0.01, "train_loss": 1 / 3,
            "train_acc": acc, "test_loss": 0.1 + step, "test_acc": acc, "time_s": 0.25}


def test_metrics_jsonl_and_csv_hold_the_same_rows(tmp_path):
    log = MetricsLog(tmp_path)
    log.start(None)
    first = dict(_row(0), train_loss=None, train_acc=None)
    log.append(first)
    log.append(_row(10))
    log.close()
    rows = read_rows(tmp_path / "metrics.jsonl")
    assert rows == [first, _row(10)]
    lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert lines[0] == ",".join(FIELDS)
    assert lines[1] == "0,0.0,0.01,,,0.1,0.5,0.25"
    assert lines[2].split(",")[3] == repr(1 / 3)       # exact floats, not rounded


def test_metrics_start_truncates_to_the_checkpoint_and_drops_a_torn_line(tmp_path):
    log = MetricsLog(tmp_path)
    log.start(None)
    for step in (0, 10, 20, 30):
        log.append(_row(step))
    log.close()
    with open(tmp_path / "metrics.jsonl", "a") as handle:
        handle.write('{"step": 40, "epoch": 1.0, "lr"')       # a write cut by a kill
    assert [r["step"] for r in read_rows(tmp_path / "metrics.jsonl")] == [0, 10, 20, 30]
    log = MetricsLog(tmp_path)
    kept = log.start(20)
    assert [r["step"] for r in kept] == [0, 10, 20]
    log.append(_row(30, acc=0.75))
    log.close()
    assert [r["test_acc"] for r in read_rows(tmp_path / "metrics.jsonl")] == [0.5] * 3 + [0.75]
    csv_steps = [line.split(",")[0] for line in
                 (tmp_path / "metrics.csv").read_text().splitlines()[1:]]
    assert csv_steps == ["0", "10", "20", "30"]


def test_metrics_unterminated_last_line_counts_as_torn(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(json.dumps(_row(0)) + "\n" + json.dumps(_row(10)))
    assert [r["step"] for r in read_rows(path)] == [0]


def test_damaged_lines_are_dropped_alone_and_reported(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text("\n".join([json.dumps(_row(0)), "garbage", json.dumps(_row(10)),
                               json.dumps(_row(5)), json.dumps([1, 2]), json.dumps(_row(20)),
                               json.dumps(_row(30)), '{"step": 40, "ep']))
    rows, damaged = read_metrics(path)
    assert [r["step"] for r in rows] == [0, 10, 20, 30]
    assert [(d.line, d.after_step) for d in damaged] == [(2, 0), (4, 10), (5, 10)]
    log = MetricsLog(tmp_path)
    log.start(20)                     # the damaged lines before the checkpoint lost rows
    log.close()
    assert [(d.line, d.after_step) for d in log.damaged] == [(2, 0), (4, 10), (5, 10)]
    assert damage_report(path, log.damaged) == (
        f"{path}: 3 damaged lines dropped (lines 2, 4, 5, the first after the row of step 0): "
        f"3 metrics rows lost, the rows around kept")
    assert [r["step"] for r in read_rows(path)] == [0, 10, 20]
    log = MetricsLog(tmp_path)
    log.start(20)
    log.close()
    assert log.damaged == []          # the file was rewritten without them


# ---------------------------------------------------------------------------- checkpoints
def _save(run_dir, step, keep=2, value=None):
    weights = {"linear.weight": np.full((2, 3), step if value is None else value, np.float32),
               "linear.bias": np.arange(2, dtype=np.float32)}
    optimizer = {"state.0.exp_avg": np.ones((2, 3), np.float32)}
    return save_checkpoint(run_dir, step, weights, optimizer, _meta(), keep=keep)


def _meta(**changes):
    """A complete meta.json of a 100-step logistic run (what the loop writes)."""
    meta = {"model": "logistic", "dataset": "mnist1d", "num_classes": 10,
            "classes": [str(i) for i in range(10)], "input_shape": [1, 40], "parameters": 410,
            "config": TrainConfig(model="logistic", steps=100).to_dict(), "total_steps": 100,
            "epoch": 0.0, "optimizer": {"state": {}, "param_groups": []}, "scheduler": None,
            "rng": {"convgrad": {}, "loader": {}, "augment": {}}, "train_time_s": 0.0,
            "window": {"loss_sum": 0.0, "correct": 0, "seen": 0, "batches": 0}}
    meta.update(changes)
    return meta


def test_checkpoint_round_trip_and_layout(tmp_path):
    folder = _save(tmp_path, 7)
    assert folder == tmp_path / "checkpoints" / "step-0000007"
    assert sorted(p.name for p in folder.iterdir()) == ["meta.json", "model.safetensors",
                                                        "optimizer.safetensors"]
    assert json.loads((tmp_path / "checkpoints" / "latest.json").read_text()) == \
        {"name": "step-0000007", "step": 7}
    checkpoint = load_checkpoint(tmp_path)
    assert checkpoint.step == 7 and checkpoint.model == "logistic"
    np.testing.assert_array_equal(checkpoint.model_state["linear.weight"], np.full((2, 3), 7))
    np.testing.assert_array_equal(checkpoint.optimizer_arrays["state.0.exp_avg"], 1)
    # a file of the folder loads the folder (verified against meta.json) ...
    assert load_checkpoint(folder / "model.safetensors").path == folder
    # ... and the model file copied anywhere describes itself (`convgrad eval FILE`)
    (tmp_path / "copy.safetensors").write_bytes((folder / "model.safetensors").read_bytes())
    alone = load_checkpoint(tmp_path / "copy.safetensors")
    assert alone.path == tmp_path / "copy.safetensors" and alone.optimizer_arrays is None
    assert (alone.model, alone.step, alone.meta["num_classes"]) == ("logistic", 7, 10)
    assert alone.meta["classes"][3] == "3"
    np.testing.assert_array_equal(alone.model_state["linear.weight"], np.full((2, 3), 7))


def test_checkpoints_keep_the_newest_and_drop_stale_ones(tmp_path):
    for step in (10, 20, 30, 40):
        _save(tmp_path, step, keep=2)
    assert [s for s, _ in step_folders(tmp_path / "checkpoints")] == [30, 40]
    # A resumed run that went back to 30 (say 40 was written but never made latest)
    # replaces 40 when it gets there and never keeps a folder past the current step.
    (tmp_path / "checkpoints" / "latest.json").write_text('{"name": "step-0000030", '
                                                          '"step": 30}')
    _save(tmp_path, 35, keep=3)
    assert [s for s, _ in step_folders(tmp_path / "checkpoints")] == [30, 35]
    _save(tmp_path, 40, keep=3, value=-1.0)
    assert load_checkpoint(tmp_path).model_state["linear.weight"][0, 0] == -1.0


def test_stray_temporaries_are_cleaned_and_never_taken_for_checkpoints(tmp_path):
    _save(tmp_path, 10)
    half = tmp_path / "checkpoints" / ".tmp-step-0000020.999"
    half.mkdir()
    (half / "model.safetensors").write_bytes(b"\x00" * 10)
    trash = tmp_path / "checkpoints" / ".trash-step-0000000.999"
    trash.mkdir()
    (tmp_path / "checkpoints" / ".tmp-latest.json.999").write_text("{")
    assert latest_checkpoint(tmp_path).name == "step-0000010"
    removed = clean_checkpoints(tmp_path)
    assert len(removed) == 3
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == \
        ["latest.json", "step-0000010"]


def test_without_latest_json_the_newest_complete_folder_counts(tmp_path):
    _save(tmp_path, 10)
    _save(tmp_path, 20)
    (tmp_path / "checkpoints" / "latest.json").unlink()
    assert latest_checkpoint(tmp_path).name == "step-0000020"


@pytest.mark.parametrize("damage, fragment", [
    (lambda f: f.write_bytes(f.read_bytes()[:-7]), "bytes, but meta.json recorded"),
    (lambda f: f.write_bytes(f.read_bytes()[:-3] + b"xyz"), "SHA-256 differs"),
    (lambda f: f.unlink(), "missing from the checkpoint"),
])
def test_damaged_weights_are_reported_with_the_file(tmp_path, damage, fragment):
    folder = _save(tmp_path, 5)
    damage(folder / "model.safetensors")
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(tmp_path)
    assert "model.safetensors" in str(error.value) and fragment in str(error.value)


@pytest.mark.parametrize("content, fragment", [
    (b"", "not a safetensors file (0 bytes"),
    (b"hello world, not a checkpoint", "not a safetensors file, or truncated"),
    ((20).to_bytes(8, "little") + b"{not json at all!!!}", "header is not JSON"),
    ((2).to_bytes(8, "little") + b"{}", None),            # valid, empty
    ((60).to_bytes(8, "little") + b'{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}'
     .ljust(60) + b"\x00" * 8, "corrupt safetensors file"),
])
def test_read_safetensors_rejects_garbage(tmp_path, content, fragment):
    path = tmp_path / "x.safetensors"
    path.write_bytes(content)
    if fragment is None:
        assert read_safetensors(path) == ({}, {})
        return
    with pytest.raises(CheckpointError) as error:
        read_safetensors(path)
    assert str(path) in str(error.value) and fragment in str(error.value)


def test_find_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no such file or folder"):
        find_checkpoint(tmp_path / "missing")
    with pytest.raises(CheckpointError, match="not a checkpoint or a run folder"):
        find_checkpoint(tmp_path)
    (tmp_path / "checkpoints").mkdir()
    with pytest.raises(CheckpointError, match="has no checkpoint yet"):
        find_checkpoint(tmp_path)
    folder = _save(tmp_path, 3)
    (folder / "meta.json").write_text('{"format": "convgrad-checkpoint", "form')
    with pytest.raises(CheckpointError, match="meta.json: not valid JSON"):
        load_checkpoint(tmp_path)
    (folder / "meta.json").write_text('{"format": "something-else"}')
    with pytest.raises(CheckpointError, match="not a convgrad checkpoint"):
        load_checkpoint(folder)


# ---------------------------------------------------------------------------- evaluation
class _Fixed(cg.nn.Module):
    """Predicts class (x[:, 0] as an integer): the confusion matrix is known by hand."""

    def __init__(self, classes):
        super().__init__()
        self.classes = classes
        self.scale = cg.nn.Parameter(cg.ones(1))

    def forward(self, x):
        picked = x.numpy()[:, 0].astype(np.int64)
        logits = np.full((len(picked), self.classes), -5.0, np.float32)
        logits[np.arange(len(picked)), picked] = 5.0
        return cg.from_numpy(logits) * self.scale


def test_evaluate_confusion_matrix_per_class_accuracy_and_table():
    y = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2], np.int64)
    predicted = np.array([0, 0, 1, 1, 1, 2, 2, 0, 2, 1], np.float32)
    model = _Fixed(3)
    model.train()
    result = evaluate(model, predicted.reshape(-1, 1), y, ("a", "b", "c"), batch_size=4)
    assert model.training                       # mode restored
    np.testing.assert_array_equal(result.confusion, [[2, 1, 0], [0, 2, 0], [1, 1, 3]])
    assert result.accuracy == 0.7 and (result.correct, result.total) == (7, 10)
    np.testing.assert_allclose(result.per_class_accuracy, [2 / 3, 1.0, 0.6])
    wrong = -np.log(np.exp(-5) / (np.exp(5) + 2 * np.exp(-5)))
    right = -np.log(np.exp(5) / (np.exp(5) + 2 * np.exp(-5)))
    assert result.loss == pytest.approx((7 * right + 3 * wrong) / 10, rel=1e-5)
    text = format_evaluation(result, "title")
    assert "accuracy: 70.00% (7 of 10)" in text
    matrix = text.splitlines()[-4:]
    assert matrix[0].split() == ["a", "b", "c"]
    assert matrix[3].split() == ["c", "1", "1", "3"]
    assert len({len(line) for line in matrix[1:]}) == 1       # aligned
    record = result.to_dict()
    assert record["per_class"][2] == {"class": "c", "samples": 5, "accuracy": 0.6}
    assert record["confusion"][0] == [2, 1, 0]


def test_long_class_names_head_columns_by_index():
    y = np.array([0, 1], np.int64)
    result = evaluate(_Fixed(2), np.array([[0.0], [1.0]], np.float32), y,
                      ("T-shirt/top", "Trouser"))
    lines = format_evaluation(result).splitlines()
    assert lines[-3].split() == ["0", "1"]
    assert lines[-2].split() == ["0", "T-shirt/top", "1", "0"]


# ---------------------------------------------------------------------------- models
def test_build_model_adapts_the_class_count():
    cg.manual_seed(0)
    assert build_model("cnn", 3).linear.out_features == 3
    assert build_model("lenet5-small", 4)(cg.zeros(2, 1, 8, 8)).shape == (2, 4)
    assert build_model("resnet1d", 5)(cg.zeros(2, 1, 40)).shape == (2, 5)


# ---------------------------------------------------------------------------- compare
def _comparison(logistic, mlp, cnn):
    return [ComparisonRow("logistic", 410, logistic, 0.7, 6000, "runs/l"),
            ComparisonRow("mlp", 15210, mlp, 2.3, 6000, "runs/m"),
            ComparisonRow("cnn", 5210, cnn, 7.3, 6000, "runs/c")]


def test_compare_table_and_reading():
    rows = _comparison(0.308, 0.663, 0.925)
    table = format_table(rows).splitlines()
    assert table[0].split()[:2] == ["model", "parameters"]
    assert table[2].split() == ["logistic", "regression", "410", "30.8%", "32%", "0.7", "s"]
    assert table[4].split() == ["CNN", "5,210", "92.5%", "94%", "7.3", "s"]
    assert len({len(line) for line in table}) == 1
    text = reading(rows)
    assert "a third of the MLP's" in text and "92.5%" in text and "66.3%" in text
    assert "Fewer weights, far higher accuracy" in text
    assert "does not show the paper's ordering" in reading(_comparison(0.3, 0.6, 0.5))


# ---------------------------------------------------------------------------- augmentation
def test_augmentation_policies():
    x = np.random.default_rng(0).standard_normal((6, 3, 32, 32)).astype(np.float32)
    augment = build_augmentation(TrainConfig(model="resnet20", dataset="cifar10",
                                             augment=True))
    by_hand = np.random.default_rng([5, 1])
    expected = random_horizontal_flip(random_crop(x, by_hand, padding=4), by_hand)
    np.testing.assert_array_equal(augment(x, augmentation_generator(5)), expected)
    digits = build_augmentation(TrainConfig(model="lenet5-small", dataset="digits",
                                            augment=True))
    small = x[:, :1, :8, :8]
    np.testing.assert_array_equal(digits(small, augmentation_generator(5)),
                                  random_crop(small, np.random.default_rng([5, 1]), padding=1))
    assert build_augmentation(TrainConfig()) is None


def test_a_checkpoint_is_never_written_over(tmp_path):
    _save(tmp_path, 10)
    _save(tmp_path, 20)
    before = {p: p.read_bytes() for p in (tmp_path / "checkpoints").rglob("*") if p.is_file()}
    for step in (20, 10, 5):                   # at or behind the latest: refused
        with pytest.raises(CheckpointError, match="never written over or behind the latest"):
            _save(tmp_path, step, value=-1.0)
    assert before == {p: p.read_bytes() for p in (tmp_path / "checkpoints").rglob("*")
                      if p.is_file()}
    # A folder past latest.json was never published (its writer was killed first): saved
    # again with the same bytes, it is published as it is, not rewritten ...
    (tmp_path / "checkpoints" / "latest.json").write_text('{"name": "step-0000010", '
                                                          '"step": 10}')
    folder = tmp_path / "checkpoints" / "step-0000020"
    inode = folder.stat().st_ino
    assert _save(tmp_path, 20) == folder and folder.stat().st_ino == inode
    assert latest_checkpoint(tmp_path) == folder
    # ... and only one of other bytes is replaced.
    (tmp_path / "checkpoints" / "latest.json").write_text('{"name": "step-0000010", '
                                                          '"step": 10}')
    _save(tmp_path, 20, value=-1.0)
    assert load_checkpoint(tmp_path).model_state["linear.weight"][0, 0] == -1.0


@pytest.mark.parametrize("change, fragment", [
    (dict(step=-5), "step must be an integer ≥ 0, got -5"),
    (dict(step=999), "step 999 is past the run's last step (total_steps 100)"),
    (dict(step=6), "says step 6, but its folder is the checkpoint of step 5"),
    (dict(step=True), "step must be an integer ≥ 0, got True"),
    (dict(files=None), "files must be the size and SHA-256"),
    (dict(files={"model.safetensors": {"bytes": 1, "sha256": "x"}}), "files must be"),
    (dict(config=None), "its config is not valid"),
    (dict(config={"model": "logistic", "lr": -1}), "its config is not valid (--lr must be"),
    (dict(config={"model": "mlp", "steps": 100}), "model 'logistic', but its config says "
                                                  "'mlp'"),
    (dict(total_steps=50, config={"model": "logistic", "steps": 50}), None),
    (dict(total_steps=300), "total_steps 300, but its config trains 100 steps"),
    (dict(model="resnet21"), "model must be a registry model, got 'resnet21'"),
    (dict(num_classes=3), "classes must be num_classes names"),
    (dict(input_shape=[1, 41]), "input_shape must be model logistic's input shape [1, 40]"),
    (dict(parameters="410"), "parameters must be an integer ≥ 1"),
    (dict(epoch=float("nan")), "epoch must be a number ≥ 0"),
    (dict(train_time_s=-1), "train_time_s must be a number ≥ 0"),
    (dict(optimizer=[]), "optimizer must be an optimizer's state"),
    (dict(scheduler=3), "scheduler must be a schedule's state or null"),
    (dict(rng={"convgrad": {}}), "rng must be the convgrad, loader and augment"),
    (dict(window={"loss_sum": 0.0, "correct": 5, "seen": 4, "batches": 0}),
     "window must be the counts"),
    (dict(window={"loss_sum": "nan", "correct": 0, "seen": 0, "batches": 9}),
     "window must be the counts"),
    (dict(best={"step": 50, "test_acc": 0.5}), "best must be null or"),
    (dict(format_version=2), "checkpoint format version 2, this convgrad reads 1"),
])
def test_every_key_of_meta_json_is_checked(tmp_path, change, fragment):
    folder = _save(tmp_path, 5)
    meta = json.loads((folder / "meta.json").read_text())
    meta.update(change)
    if fragment is None:                       # a consistent change is accepted
        (folder / "meta.json").write_text(json.dumps(meta))
        assert load_checkpoint(folder).step == 5
        return
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(folder)
    message = str(error.value)
    assert message.startswith(str(folder / "meta.json") + ": ") and "\n" not in message
    assert fragment in message, message


def test_a_deleted_key_is_named(tmp_path):
    folder = _save(tmp_path, 5)
    meta = json.loads((folder / "meta.json").read_text())
    del meta["files"], meta["config"]
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"incomplete: no 'config', 'files' \(the list of "
                                              r"its files and their checksums"):
        load_checkpoint(folder)


def test_latest_json_must_agree_with_the_folder_it_names(tmp_path):
    _save(tmp_path, 5)
    (tmp_path / "checkpoints" / "latest.json").write_text('{"name": "step-0000005", '
                                                          '"step": 999}')
    with pytest.raises(CheckpointError, match="says step 999 but names step-0000005"):
        load_checkpoint(tmp_path)


def test_evaluating_nothing_is_an_error():
    with pytest.raises(ValueError, match="no samples"):
        evaluate(_Fixed(2), np.zeros((0, 1), np.float32), np.zeros(0, np.int64), ("a", "b"))
