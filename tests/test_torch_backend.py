"""``--backend torch`` in one process: the same start and the same numbers as the NumPy
engine, checkpoints that either engine resumes, the he2016 preset, and one-line errors.

Same numbers.  Both engines compute PyTorch's formulas; in float64 their losses agree to
~1e-15 over 20 steps, the evidence that they compute the same thing.  In float32 each
engine's rounding is amplified by training — a ResNet with batch norm at lr 0.1 drifts from
exact arithmetic by ~1e-3 after 10 steps, the NumPy engine as much as torch — so float32 is
compared over the same 20 steps in two parts: to float32's precision while the NumPy
engine's own float32 run stays within 1e-6 of exact arithmetic (all 20 steps for the CNN
and the MLP, the first 3 to 5 for the ResNet), and after that, torch no further from exact
arithmetic than convgrad's own float32 run.
"""
import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from convgrad.data import DataLoader
from convgrad.extras import install_command
from convgrad.models import MODELS
from convgrad.interop.torch import torch_model
from convgrad.optim import lr_scheduler
from convgrad.study.landscape import initial_weights
from convgrad.train import ConfigError, TrainConfig, Trainer, evaluate, load_run
from convgrad.train.backend import NumpyBackend
from convgrad.train.checkpoint import read_safetensors
from convgrad.train.setup import build_model, build_optimizer, build_scheduler, load_data
from convgrad.train.torch_backend import TorchBackend
from convgrad.web.app import create_app
from test_train_support import (assert_one_line_error, checkpoint_bytes, cli_env, convgrad,
                                data_home, random_cifar_folder, rows_without_timing,
                                strict_json)


@pytest.fixture(autouse=True)
def mnist1d_home(monkeypatch):
    monkeypatch.setenv("CONVGRAD_HOME", str(data_home()))


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Two cores shared with other test processes: torch's threads would only wait."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---------------------------------------------------------------------------- same start
@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_and_its_torch_twin_list_their_parameters_alike(name):
    """The optimizer's state is numbered by parameter order (torch_backend/states.py)."""
    mine = [(key, tuple(p.shape)) for key, p in build_model(name).named_parameters()]
    twin = [(key, tuple(p.shape)) for key, p in torch_model(name).named_parameters()]
    assert mine == twin


# ---------------------------------------------------------------------------- same numbers
RECIPES = {
    "cnn, adam": dict(model="cnn"),
    "resnet1d, sgd+momentum+wd, multistep": dict(
        model="resnet1d", optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=1e-4,
        schedule="multistep", milestones=[6, 12]),
    "mlp, adamw, warm-up then cosine": dict(model="mlp", optimizer="adamw", weight_decay=0.05,
                                            schedule="cosine", warmup_steps=5),
    "resnet1d, adam+wd, step": dict(model="resnet1d", weight_decay=1e-3, schedule="step",
                                    step_size=7, gamma=0.5),
}


def _steps(backend, config, steps=20, dtype=np.float32):
    """``(lr, loss, correct)`` of the first ``steps`` batches the loop would hand out."""
    data = load_data(config)
    loader = DataLoader(data.train_x.astype(dtype), data.train_y, config.batch_size,
                        shuffle=True, seed=config.seed, drop_last=True)
    return np.array([(backend.learning_rate, *backend.train_step(x, y))
                     for _, (x, y) in zip(range(steps), loader)])


@pytest.mark.parametrize("recipe", list(RECIPES))
def test_the_first_20_steps_agree_with_the_numpy_engine(recipe):
    config = TrainConfig(steps=20, **RECIPES[recipe])
    # float64: the same computation.
    numpy64, torch64 = NumpyBackend(config, 10, 20), TorchBackend(config, 10, 20,
                                                                  dtype=torch.float64)
    numpy64.model.double()
    exact, theirs = (_steps(backend, config, dtype=np.float64) for backend in (numpy64,
                                                                                torch64))
    assert np.array_equal(theirs[:, [0, 2]], exact[:, [0, 2]])  # the same lrs, predictions
    np.testing.assert_allclose(theirs[:, 1], exact[:, 1], rtol=1e-11)
    # The state a checkpoint keeps: the same layout, the same values.
    mine, theirs = numpy64.state(), torch64.state()
    assert (theirs.optimizer, theirs.scheduler) == (mine.optimizer, mine.scheduler)
    assert theirs.optimizer_arrays.keys() == mine.optimizer_arrays.keys()
    for name, value in mine.optimizer_arrays.items():
        np.testing.assert_allclose(theirs.optimizer_arrays[name], value, rtol=1e-9,
                                   atol=1e-12)
    for name, value in mine.model.items():
        np.testing.assert_allclose(theirs.model[name], value, rtol=1e-9, atol=1e-12)
    # float32, as runs train, over the same 20 steps.
    numpy32 = _steps(NumpyBackend(config, 10, 20), config)[:, 1]
    torch32 = _steps(TorchBackend(config, 10, 20), config)[:, 1]
    own_error = np.abs(numpy32 - exact[:, 1]) / exact[:, 1]   # convgrad's float32 rounding
    # Over the first 3 steps neither trajectory has amplified its rounding yet: convgrad's
    # float32 within 1e-6 of float64, and PyTorch's within 2e-6 of convgrad's.  Later each
    # float32 run drifts from the float64 one by its own rounding, amplified by the training
    # (on resnet1d at step 20: PyTorch's 2.4e-3, convgrad's 2.6e-4; which drifts more is
    # chance): both stay within 5e-3 of float64 and of each other over the 20 steps.
    assert own_error[:3].max() <= 1e-6, own_error
    np.testing.assert_allclose(torch32[:3], numpy32[:3], rtol=2e-6)
    torch_error = np.abs(torch32 - exact[:, 1]) / exact[:, 1]
    assert max(torch_error.max(), own_error.max()) <= 5e-3, (torch_error, own_error)
    np.testing.assert_allclose(torch32, numpy32, rtol=5e-3)


# ---------------------------------------------------------------------------- checkpoints
class _StopAt:
    """A write hook that stops the run once checkpoint ``step`` is complete, as a kill
    there would (the Trainer's seam for the crash tests, ``faults.py``)."""

    def __init__(self, step):
        self.step = step

    def __call__(self, point, step, path):
        if (point, step) == ("checkpoint-pruned", self.step):
            raise KeyboardInterrupt(f"stopped after checkpoint {step}")


MOVING = dict(model="cnn", steps=40, eval_every=10, checkpoint_every=20)


@pytest.mark.parametrize("first, then", [("numpy", "torch"), ("torch", "numpy")])
def test_a_run_moves_between_backends_on_resume(tmp_path, first, then):
    whole = Trainer(TrainConfig(backend=then, **MOVING), tmp_path / "whole", quiet=True).run()
    config = TrainConfig(backend=first, **MOVING)
    with pytest.raises(KeyboardInterrupt):
        Trainer(config, tmp_path / "moved", quiet=True, write_hook=_StopAt(20)).run()
    moved = Trainer(dataclasses.replace(config, backend=then), tmp_path / "moved",
                    resume=True, quiet=True).run()
    assert (moved.start_step, moved.steps) == (20, 40)
    # config.json keeps the backend the run started with; each checkpoint, its writer's.
    started = json.loads((tmp_path / "moved" / "config.json").read_text())
    assert started["backend"] == first
    assert load_run(tmp_path / "moved").checkpoint.meta["config"]["backend"] == then
    # The same weights as a run on one backend throughout, within float32 rounding; the
    # rows of both halves in one metrics log.
    a, b = load_run(whole.run_dir).model, load_run(moved.run_dir).model
    for (name, mine), (_, theirs) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_allclose(theirs.numpy(), mine.numpy(), rtol=1e-4, atol=1e-5)
    rows, reference = rows_without_timing(moved.run_dir), rows_without_timing(whole.run_dir)
    assert [r["step"] for r in rows] == [r["step"] for r in reference] == [0, 10, 20, 30, 40]
    np.testing.assert_allclose([r["train_loss"] for r in rows[1:]],
                               [r["train_loss"] for r in reference[1:]], rtol=1e-4)


def test_a_torch_run_resumes_bit_for_bit(tmp_path):
    config = TrainConfig(backend="torch", model="resnet1d", optimizer="sgd", lr=0.05,
                         momentum=0.9, schedule="cosine", warmup_steps=3, steps=12,
                         eval_every=4, checkpoint_every=4, eval_samples=200)
    whole = Trainer(config, tmp_path / "whole", quiet=True).run()
    with pytest.raises(KeyboardInterrupt):
        Trainer(config, tmp_path / "run", quiet=True, write_hook=_StopAt(4)).run()
    Trainer(config, tmp_path / "run", resume=True, quiet=True).run()
    assert checkpoint_bytes(tmp_path / "run") == checkpoint_bytes(whole.run_dir)
    assert rows_without_timing(tmp_path / "run") == rows_without_timing(whole.run_dir)


def test_every_tool_reads_a_torch_run_with_the_numpy_engine(tmp_path):
    """``load_run``, ``convgrad eval``, ``convgrad landscape`` (its initial weights made
    again from the seed) and the explorer's landscape API, on a run torch trained, with
    normalised inputs: nothing of them knows which engine trained it."""
    step0 = {}

    def keep_step0(point, step, path):
        if point == "best-checkpoint-renamed" and step == 0:
            step0["model"] = (path / "model.safetensors").read_bytes()

    result = Trainer(TrainConfig(backend="torch", model="resnet1d", normalize=True, steps=30,
                                 eval_every=15), tmp_path / "run", quiet=True,
                     write_hook=keep_step0).run()
    last = rows_without_timing(result.run_dir)[-1]
    run = load_run(result.run_dir)
    again = evaluate(run.model, run.data.test_x, run.data.test_y, run.data.classes)
    assert again.accuracy == last["test_acc"] == result.test_accuracy
    assert again.loss == pytest.approx(last["test_loss"], rel=1e-5)
    evaluated = convgrad("eval", "run", "--json", cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["accuracy"] == last["test_acc"]
    # The landscape's line starts at the initial weights, made again by the NumPy engine:
    # those the torch run started from, bit for bit.
    arrays, _ = read_safetensors(tmp_path / "step0.safetensors", step0["model"])
    for name, parameter in initial_weights(run).model.named_parameters():
        np.testing.assert_array_equal(parameter.data, arrays[name])
    drawn = convgrad("landscape", "run", "--resolution", "3", "--points", "3", "--samples",
                     "200", "--batch-size", "100", "--hessian-iterations", "4", "--out",
                     "landscapes", "--json", "--quiet", cwd=tmp_path)
    assert drawn.returncode == 0, drawn.stderr
    centre = strict_json(drawn.stdout)["loss"][1][1]
    own = evaluate(run.model, run.data.train_x[:200], run.data.train_y[:200],
                   run.data.classes, batch_size=100)
    assert centre == pytest.approx(own.loss, rel=1e-6)
    shown = TestClient(create_app(landscapes=tmp_path / "landscapes")
                       ).get("/api/landscapes/run").json()
    assert shown["model"] == "resnet1d" and shown["loss"][1][1] == centre


# ---------------------------------------------------------------------------- he2016
def test_the_he2016_preset_is_the_published_recipe():
    config = TrainConfig(recipe="he2016")
    assert (config.model, config.dataset, config.optimizer, config.lr, config.momentum,
            config.weight_decay, config.batch_size, config.steps, config.augment,
            config.normalize) == ("resnet20", "cifar10", "sgd", 0.1, 0.9, 1e-4, 128, 64000,
                                  True, True)
    optimizer = build_optimizer(config, build_model("resnet20"))
    schedule = build_scheduler(config, optimizer, config.steps)
    assert isinstance(schedule, lr_scheduler.MultiStepLR)
    assert (sorted(schedule.milestones.elements()), schedule.gamma) == ([32000, 48000], 0.1)
    assert TrainConfig(recipe="he2016", model="resnet110", lr=0.01).lr == 0.01  # given wins
    with pytest.raises(ConfigError, match="--recipe he2016 is for the cifar10 models"):
        TrainConfig(recipe="he2016", model="cnn")


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_he2016_trains_on_cifar_files_with_either_backend(tmp_path, backend):
    random_cifar_folder(tmp_path / "cifar", train_per_batch=26, test=40)
    process = convgrad("train", "--recipe", "he2016", "--data-dir", "cifar", "--steps", "4",
                       "--eval-every", "2", "--backend", backend, "--out", "run",
                       cwd=tmp_path, env=cli_env(OMP_NUM_THREADS=1), timeout=300)
    assert process.returncode == 0, process.stderr
    assert "options not given follow He et al. 2016's published CIFAR recipe" in \
        process.stdout.splitlines()[0]
    rows = rows_without_timing(tmp_path / "run")
    # lr 0.1, divided by 10 at 50% and 75% of the steps (32k and 48k of 64k): the rows at
    # steps 0, 2 and 4 show the lr of the step after them.
    assert [r["lr"] for r in rows] == pytest.approx([0.1, 0.01, 0.001])
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (config["recipe"], config["normalize"], config["augment"], config["backend"]) == \
        ("he2016", True, True, backend)
    # Evaluation normalises as training did: the NumPy engine reports the run's last row.
    evaluated = convgrad("eval", "run", "--json", cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    record = json.loads(evaluated.stdout)
    assert record["accuracy"] == rows[-1]["test_acc"]
    assert record["loss"] == pytest.approx(rows[-1]["test_loss"], rel=1e-5)


# ---------------------------------------------------------------------------- errors
def test_what_cannot_run_is_refused_in_one_line_before_any_file(tmp_path):
    for args, fragment in [
            (["--backend", "torch", "--device", "cuda"], "--device cuda: PyTorch"),
            (["--device", "cpu"], "--device cpu applies to --backend torch"),
            (["--nproc", "2"], "--nproc 2 applies to --backend torch"),
            (["--backend", "torch", "--nproc", "3"], "--batch-size 100 does not split "
                                                     "evenly over --nproc 3 processes")]:
        assert_one_line_error(convgrad("train", *args, "--out", "run", cwd=tmp_path),
                              fragment)
        assert not (tmp_path / "run").exists()


def test_without_torch_the_torch_backend_is_one_line_with_the_install_command(tmp_path):
    # Python's own way of making a module unimportable: None in sys.modules.
    code = ("import sys; sys.modules['torch'] = None; from convgrad.cli import main; "
            "sys.exit(main(['train', '--backend', 'torch', '--out', 'run']))")
    process = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=cli_env(),
                             capture_output=True, text=True, timeout=120)
    assert_one_line_error(process, "--backend torch needs PyTorch",
                          f"install it with: {install_command('torch')} ")
    assert not (tmp_path / "run").exists()
