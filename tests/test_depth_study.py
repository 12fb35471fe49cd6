"""``convgrad depth``: the gradient-norm measurement (against PyTorch, and harmless to the
run it measures), the study's JSON against its run folders, a real SIGKILL and resume that
does not retrain finished runs, the other families, one line for bad input, and the smoke
run on a fresh checkout."""
import json
import signal
import time

import numpy as np
import pytest
import torch

import convgrad as cg
from convgrad.interop.torch import to_torch_model
from convgrad.models import get_model
from convgrad.study.gradnorms import PREFIX, GradientNorms, gradient_norms, weight_layers
from convgrad.train import TrainConfig, Trainer, TrainingSet, load_run
from convgrad.train.setup import build_model
from test_train_support import (assert_one_line_error, checkpoint_bytes, cli_env, convgrad,
                                data_home, rows_without_timing, start, strict_json)


def torch_gradient_norms(model, name, x, y):
    """‖∂L/∂W‖ per weight layer computed by PyTorch on a twin of ``model`` (train mode)."""
    twin = to_torch_model(model, name).double().train()
    loss = torch.nn.functional.cross_entropy(twin(torch.tensor(x, dtype=torch.float64)),
                                             torch.tensor(y))
    loss.backward()
    return {key: float(p.grad.norm()) for key, p in twin.named_parameters() if p.ndim >= 2}


def test_gradient_norms_equal_pytorchs_and_leave_the_model_alone():
    cg.manual_seed(4)
    model = get_model("plain1d-8").train()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 1, 40)).astype(np.float32)
    y = rng.integers(0, 10, 16)
    model(cg.from_numpy(x)).sum().backward()        # gradients already there must survive
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    grads = {k: p.grad.data.copy() for k, p in model.named_parameters()}
    generator = cg.random.get_rng_state()

    norms = gradient_norms(model, x, y)

    assert list(norms) == [name for name, _ in weight_layers(model)]
    assert len(norms) == 8                                  # 6n + 2 weighted layers
    expected = torch_gradient_norms(model, "plain1d-8", x, y)
    assert list(expected) == list(norms)
    np.testing.assert_allclose(list(norms.values()), list(expected.values()), rtol=2e-5)
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k].numpy()) for k in before)   # BN stats too
    assert all(np.array_equal(grads[k], p.grad.data) for k, p in model.named_parameters())
    assert cg.random.get_rng_state() == generator


def _train(run_dir, measurements):
    config = TrainConfig(model="plain1d-8", optimizer="sgd", lr=0.1, momentum=0.9,
                         weight_decay=1e-4, schedule="multistep", steps=30, eval_every=10,
                         checkpoint_every=30, seed=2)
    return Trainer(config, run_dir, quiet=True, measurements=measurements).run()


def test_the_measurement_leaves_training_bit_identical_and_matches_a_direct_computation(
        tmp_path, monkeypatch):
    monkeypatch.setenv("CONVGRAD_HOME", str(data_home()))
    _train(tmp_path / "bare", [])
    measured = _train(tmp_path / "measured", [TrainingSet(), GradientNorms()])
    # Weights, BatchNorm running statistics, optimizer state: byte for byte the same.
    assert checkpoint_bytes(tmp_path / "measured") == checkpoint_bytes(tmp_path / "bare")
    rows = rows_without_timing(tmp_path / "measured")
    bare = rows_without_timing(tmp_path / "bare")
    assert [{k: v for k, v in row.items() if k in bare[0]} for row in rows] == bare
    assert [row["step"] for row in rows] == [0, 10, 20, 30]

    # The columns equal ‖∂L/∂W‖ computed directly (by PyTorch) on the first batch-size
    # training samples: at step 0 with the seed's initial weights, at the end with the
    # run's final weights.
    run = load_run(tmp_path / "measured")
    x, y = run.data.train_x[:100], run.data.train_y[:100]
    cg.manual_seed(2)
    initial = build_model("plain1d-8")
    for row, model in ((rows[0], initial), (rows[-1], run.model)):
        direct = torch_gradient_norms(model, "plain1d-8", x, y)
        assert [k[len(PREFIX):] for k in row if k.startswith(PREFIX)] == list(direct)
        np.testing.assert_allclose([row[PREFIX + k] for k in direct], list(direct.values()),
                                   rtol=1e-4)
    assert measured.parameters == 25754


def _study(*args, cwd, timeout=600, **kwargs):
    """``convgrad depth`` in a subprocess (a generous timeout: the machine may be loaded)."""
    return convgrad("depth", *args, cwd=cwd, timeout=timeout, **kwargs)


def test_the_json_agrees_with_the_run_folders(tmp_path, monkeypatch):
    process = _study("--depths", "8,14", "--steps", "20", "--eval-every", "10", "--json",
                     "--out", "study", cwd=tmp_path)
    assert process.returncode == 0, process.stderr
    record = strict_json(process.stdout)
    assert list(record) == ["runs", "plots"]
    assert [(r["depth"], r["residual"]) for r in record["runs"]] == \
        [(8, False), (8, True), (14, False), (14, True)]
    monkeypatch.setenv("CONVGRAD_HOME", str(data_home()))
    for entry in record["runs"]:
        assert list(entry) == ["depth", "residual", "parameters", "train_error",
                               "test_error", "run"]
        run_dir = tmp_path / entry["run"]
        config = json.loads((run_dir / "config.json").read_text())
        family = "resnet1d" if entry["residual"] else "plain1d"
        assert config["model"] == f"{family}-{entry['depth']}"
        assert (config["steps"], config["optimizer"], config["lr"], config["seed"]) == \
            (20, "sgd", 0.1, 0)
        run = load_run(run_dir)
        assert entry["parameters"] == sum(p.numel() for p in run.model.parameters())
        # The errors, recomputed from the saved weights on the whole sets.
        with cg.no_grad():
            for split, key in (("train", "train_error"), ("test", "test_error")):
                x, y = getattr(run.data, f"{split}_x"), getattr(run.data, f"{split}_y")
                predicted = run.model(cg.from_numpy(x)).data.argmax(axis=1)
                assert entry[key] == pytest.approx(np.mean(predicted != y), abs=1e-12)
    assert record["runs"][0]["parameters"] == record["runs"][1]["parameters"] == 25754
    for plot in record["plots"]:
        assert (tmp_path / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "study" / "results.json").read_text()) == record


def _files(folder):
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".lock"}


ARGS = ["--depths", "8", "--steps", "120", "--eval-every", "10"]   # checkpoints every 40


def test_a_killed_study_resumes_without_retraining_finished_runs(tmp_path):
    reference = _study(*ARGS, "--quiet", "--out", "reference", cwd=tmp_path)
    assert reference.returncode == 0, reference.stderr

    process = start("depth", *ARGS, "--quiet", "--out", "study", cwd=tmp_path)
    second = tmp_path / "study" / "resnet1d-8" / "checkpoints" / "latest.json"
    deadline = time.monotonic() + 120
    while not second.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL
    assert (tmp_path / "study" / "plain1d-8" / "summary.json").exists()
    assert not (tmp_path / "study" / "resnet1d-8" / "summary.json").exists()
    finished = _files(tmp_path / "study" / "plain1d-8")

    resumed = _study("--resume", "study", cwd=tmp_path, env=cli_env(COLUMNS="200"))
    assert resumed.returncode == 0, resumed.stderr
    assert "estimated time" in resumed.stdout and "for 1 run(s)" in resumed.stdout
    assert "resnet1d-8: resuming from step 40" in resumed.stdout
    assert "plain1d-8: train error" not in resumed.stdout        # not trained again
    assert _files(tmp_path / "study" / "plain1d-8") == finished   # not even touched
    for model in ("plain1d-8", "resnet1d-8"):
        run, ref = tmp_path / "study" / model, tmp_path / "reference" / model
        assert checkpoint_bytes(run) == checkpoint_bytes(ref)
        assert rows_without_timing(run) == rows_without_timing(ref)

    again = _study("--resume", "study", "--json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert _files(tmp_path / "study" / "plain1d-8") == finished
    assert [r["train_error"] for r in json.loads(again.stdout)["runs"]] == \
        [r["train_error"] for r in json.loads(
            (tmp_path / "reference" / "results.json").read_text())["runs"]]


def test_the_lenet_family_trains_on_digits(tmp_path):
    process = _study("--family", "lenet", "--depths", "6", "--steps", "10",
                     "--eval-every", "10", "--out", "study", cwd=tmp_path)
    assert process.returncode == 0, process.stderr
    assert "lenet family on digits" in process.stdout
    table = process.stdout[process.stdout.index("depth  network"):].splitlines()
    assert [line.split()[:3] for line in table[2:4]] == \
        [["6", "plain", "20,090"], ["6", "ResNet", "20,090"]]
    assert json.loads((tmp_path / "study" / "reslenet-6" / "config.json").read_text())[
        "dataset"] == "digits"


@pytest.mark.parametrize("args, fragments", [
    (["--family", "vgg"], ["--family 'vgg': unknown family; families: resnet1d, cifar, lenet"]),
    (["--depths", "8,9"], ["--depths: the resnet1d family has depths 6n + 2", "not 9"]),
    (["--family", "lenet", "--depths", "8"], ["the lenet family has depths 4n + 2", "not 8"]),
    (["--depths", "8,x"], ["expected depths separated by commas", "'8,x'"]),
    (["--dataset", "digits"], ["model plain1d-8 takes inputs of shape (1, 40) but digits"]),
    (["--lr", "-1"], ["--lr must be greater than 0"]),
    (["--eval-every", "0"], ["--eval-every 0 (only at the end) would leave the study"]),
    (["--resume", "nowhere"], ["--resume nowhere: not a depth study's folder"]),
])
def test_bad_input_is_one_line(tmp_path, args, fragments):
    assert_one_line_error(_study(*args, cwd=tmp_path), *fragments)
    assert not (tmp_path / "runs").exists()


def test_a_study_folder_is_never_trained_over(tmp_path):
    assert _study("--depths", "8", "--steps", "10", "--eval-every", "10", "--quiet",
                  "--out", "study", cwd=tmp_path).returncode == 0
    assert_one_line_error(_study("--out", "study", cwd=tmp_path),
                          "--out study: already holds a depth study; continue it with "
                          "--resume study")
    assert_one_line_error(_study("--resume", "study", "--steps", "50", cwd=tmp_path),
                          "--resume continues the study in study with its own plan",
                          "--steps cannot change it")
    # A run folder of the study holding another recipe is refused, not trained over.
    config_path = tmp_path / "study" / "resnet1d-8" / "config.json"
    config = json.loads(config_path.read_text())
    config["lr"] = 0.5
    config_path.write_text(json.dumps(config))
    assert_one_line_error(_study("--resume", "study", cwd=tmp_path),
                          "holds another run than the study's", "lr 0.5 there")


@pytest.mark.slow
def test_quick_json_on_a_fresh_checkout(tmp_path):
    """What a fresh clone has after ``make train``: the console script, no data cached."""
    env = cli_env(CONVGRAD_HOME=str(tmp_path / "empty-home"))
    process = _study("--quick", "--json", cwd=tmp_path, env=env)
    assert process.returncode == 0, process.stderr
    assert "SMOKE RUN (--quick)" in process.stderr
    record = strict_json(process.stdout)
    assert [(r["depth"], r["residual"]) for r in record["runs"]] == \
        [(8, False), (8, True), (14, False), (14, True)]
    assert all(0 <= r["train_error"] <= 1 and 0 <= r["test_error"] <= 1
               for r in record["runs"])
    assert all((tmp_path / p).is_file() for p in record["plots"])
    assert all(p.startswith("runs/depth-resnet1d-") for p in record["plots"])
