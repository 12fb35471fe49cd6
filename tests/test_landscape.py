"""``convgrad.study``: filter-normalised directions, the landscape's centre, the initial
weights, the Hessian's extremes against explicit Hessians, the saved landscape.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest

import convgrad as cg
from convgrad import nn
from convgrad.study.directions import filter_norms, filter_normalise, random_direction
from convgrad.study.evaluation import SubsetLoss
from convgrad.study.hessian import extreme_eigenvalues, lanczos, power_iteration
from convgrad.study.landscape import (HessianSettings, Landscape, LandscapeSettings,
                                      initial_weights)
from convgrad.study.landscape_store import LandscapeError, read_landscape
from convgrad.study.weights import WeightSpace
from convgrad.train import TrainConfig, Trainer, evaluate, load_run
from convgrad.train.checkpoint import read_safetensors
from test_train_support import data_home


@pytest.fixture(autouse=True)
def mnist1d_home(monkeypatch):
    monkeypatch.setenv("CONVGRAD_HOME", str(data_home()))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A resnet1d (BatchNorm, residual) trained for 60 steps, and the bytes of its step-0
    weights as the training saved them (its first best checkpoint, replaced later)."""
    import os
    os.environ["CONVGRAD_HOME"] = str(data_home())
    step0 = {}

    def keep_step0(point, step, path):
        if point == "best-checkpoint-renamed" and step == 0:
            step0["model"] = (path / "model.safetensors").read_bytes()

    run_dir = tmp_path_factory.mktemp("landscape") / "resnet"
    Trainer(TrainConfig(model="resnet1d", steps=60, eval_every=30, eval_samples=200,
                        seed=3), run_dir, quiet=True, write_hook=keep_step0).run()
    return run_dir, step0["model"]


def tiny_network(seed=0):
    """Conv1d → BatchNorm → ReLU → Linear: every kind of parameter, few enough of them
    for an explicit Hessian."""
    cg.manual_seed(seed)
    model = nn.Sequential(nn.Conv1d(1, 3, 3, padding=1), nn.BatchNorm1d(3), nn.ReLU(),
                          nn.Flatten(), nn.Linear(3 * 8, 4))
    model.eval()
    rng = np.random.default_rng(seed)
    model[1].running_mean.data[:] = rng.normal(0, 0.1, 3)
    model[1].running_var.data[:] = rng.uniform(0.5, 1.5, 3)
    model[1].weight.data[:] = rng.uniform(0.5, 1.5, 3)
    x = rng.standard_normal((24, 1, 8)).astype(np.float32)
    y = rng.integers(0, 4, 24)
    return model, x, y


# ---------------------------------------------------------------------------- directions
def test_a_filter_normalised_direction_has_each_filters_norm():
    model, _, _ = tiny_network()
    space = WeightSpace(model)
    theta = space.get()
    direction = random_direction(space, theta, seed=7, index=0)
    wanted, got = filter_norms(theta, space), filter_norms(direction, space)
    assert set(got) == {"0.weight", "4.weight"}        # the conv and the Linear layer
    assert got["4.weight"].shape == (4,)                # a Linear filter is a row
    assert got["0.weight"].shape == (3,)                # a conv filter, an output channel
    for name in wanted:
        np.testing.assert_allclose(got[name], wanted[name], rtol=1e-12)
    # the direction is not the weights themselves: it points elsewhere in each filter
    conv = space.view(direction, space.blocks[0]).reshape(3, -1)
    weights = space.view(theta, space.blocks[0]).reshape(3, -1)
    cosines = (conv * weights).sum(1) / (np.linalg.norm(conv, axis=1) *
                                         np.linalg.norm(weights, axis=1))
    assert np.all(np.abs(cosines) < 0.99)


def test_bias_and_batchnorm_directions_are_zero_by_default_and_the_weights_otherwise():
    model, _, _ = tiny_network()
    space = WeightSpace(model)
    theta = space.get()
    one_dimensional = [b for b in space.blocks if not b.is_filter]
    assert [b.name for b in one_dimensional] == ["0.bias", "1.weight", "1.bias", "4.bias"]
    zero = random_direction(space, theta, seed=1, index=1)
    kept = random_direction(space, theta, seed=1, index=1, biasbn="weights")
    for block in one_dimensional:
        assert not space.view(zero, block).any()
        np.testing.assert_array_equal(space.view(kept, block), space.view(theta, block))
    for block in space.blocks:
        if block.is_filter:          # the filters do not depend on the choice
            np.testing.assert_array_equal(space.view(zero, block), space.view(kept, block))


def test_a_zero_filter_gets_a_zero_direction_and_the_seed_decides_the_draw():
    model, _, _ = tiny_network()
    space = WeightSpace(model)
    theta = space.get()
    space.view(theta, space.blocks[0])[1] = 0.0
    direction = filter_normalise(np.ones(space.size), theta, space)
    assert not space.view(direction, space.blocks[0])[1].any()
    assert np.isfinite(direction).all()
    a, b = (random_direction(space, theta, 5, i) for i in (0, 1))
    np.testing.assert_array_equal(a, random_direction(space, theta, 5, 0))
    assert not np.array_equal(a, b)


def test_weights_are_set_in_place():
    model, _, _ = tiny_network()
    space = WeightSpace(model)
    arrays = [p.data for p in model.parameters()]
    vector = np.arange(space.size, dtype=np.float64)
    space.set(vector)
    assert all(p.data is a for p, a in zip(model.parameters(), arrays))
    np.testing.assert_array_equal(space.get(), vector.astype(np.float32))
    with pytest.raises(ValueError, match=f"has {space.size} entries"):
        space.set(vector[:-1])


# ---------------------------------------------------------------------------- centre
def small_settings(**changes):
    values = dict(resolution=3, profile_points=3, samples=300, batch_size=100)
    values.update(changes)
    return LandscapeSettings(**values)


def test_the_centre_is_the_trained_networks_own_loss_and_accuracy(trained, tmp_path):
    run_dir, _ = trained
    run = load_run(run_dir)
    before = {name: t.data.copy() for name, t in run.model.state_dict().items()}
    landscape = Landscape(run, small_settings(), tmp_path / "l",
                          HessianSettings(max_iterations=0))
    with landscape.store.locked():
        landscape.open()
        landscape.compute()
    own = evaluate(run.model, run.data.train_x[:300], run.data.train_y[:300],
                   run.data.classes, batch_size=100)
    a = landscape.arrays
    assert a["x"][1] == 0.0 and a["y"][1] == 0.0 and a["direction_alpha"][1] == 0.0
    for loss, accuracy in ((a["loss"][1, 1], a["accuracy"][1, 1]),
                           (a["direction_loss"][1], a["direction_accuracy"][1]),
                           (landscape.meta["centre"]["loss"],
                            landscape.meta["centre"]["accuracy"])):
        assert loss == pytest.approx(own.loss, rel=1e-6)
        assert accuracy == own.accuracy
    assert list(a["line_t"]) == [-0.5, 0.5, 1.5]
    # away from the centre the loss rises, and the model is left as it was found
    assert a["loss"][0, 0] > a["loss"][1, 1] and a["loss"][2, 2] > a["loss"][1, 1]
    for name, tensor in run.model.state_dict().items():
        np.testing.assert_array_equal(tensor.data, before[name])
    assert not run.model.training


def test_train_mode_centre_normalises_each_batch_and_keeps_the_running_statistics(
        trained, tmp_path):
    run_dir, _ = trained
    run = load_run(run_dir)
    before = {name: t.data.copy() for name, t in run.model.state_dict().items()}
    landscape = Landscape(run, small_settings(mode="train", samples=200, batch_size=100),
                          tmp_path / "l", HessianSettings(max_iterations=0))
    loss, accuracy, _ = landscape.centre()
    for name, tensor in run.model.state_dict().items():     # running statistics kept
        np.testing.assert_array_equal(tensor.data, before[name])
    assert not run.model.training
    # by hand, on a copy: BatchNorm in training mode, one forward pass per batch of 100
    model = copy.deepcopy(run.model).train()
    total, correct = 0.0, 0
    with cg.no_grad():
        for start in (0, 100):
            x = cg.from_numpy(run.data.train_x[start:start + 100])
            y = run.data.train_y[start:start + 100]
            out = model(x)
            total += cg.nn.functional.cross_entropy(out, cg.from_numpy(y),
                                                    reduction="sum").item()
            correct += int((out.numpy().argmax(1) == y).sum())
    assert loss == pytest.approx(total / 200, rel=1e-6) and accuracy == correct / 200
    eval_loss, _, _ = Landscape(run, small_settings(samples=200), tmp_path / "m").centre()
    assert loss != pytest.approx(eval_loss, rel=1e-3)       # the two modes differ


def test_the_initial_weights_are_step_0_of_the_training(trained):
    run_dir, step0 = trained
    run = load_run(run_dir)
    state_before = cg.random.get_rng_state()
    regenerated = initial_weights(run)
    assert cg.random.get_rng_state() == state_before          # the caller's generator
    arrays, _ = read_safetensors(run_dir / "step0.safetensors", step0)
    for block, parameter in zip(regenerated.blocks, regenerated.parameters):
        np.testing.assert_array_equal(parameter.data, arrays[block.name])
    # and they are not the trained weights
    assert not np.array_equal(regenerated.get(), WeightSpace(run.model).get())


def test_the_line_passes_through_the_initial_and_the_trained_network(trained, tmp_path):
    run_dir, _ = trained
    run = load_run(run_dir)
    settings = small_settings(profile_points=2, resolution=2, line_from=0.0, line_to=1.0)
    landscape = Landscape(run, settings, tmp_path / "l", HessianSettings(max_iterations=0))
    with landscape.store.locked():
        landscape.open()
        landscape.compute()
    initial = initial_weights(run).model
    initial.load_state_dict({name: t for name, t in run.model.state_dict().items()
                             if "running" in name or "num_batches" in name}, strict=False)
    initial.eval()
    x, y = run.data.train_x[:300], run.data.train_y[:300]
    at_start = evaluate(initial, x, y, run.data.classes, batch_size=100)
    at_end = evaluate(run.model, x, y, run.data.classes, batch_size=100)
    a = landscape.arrays
    assert a["line_loss"][0] == pytest.approx(at_start.loss, rel=1e-5)
    assert a["line_loss"][1] == pytest.approx(at_end.loss, rel=1e-6)
    assert a["line_loss"][0] > 2 * a["line_loss"][1]


# ---------------------------------------------------------------------------- Hessian
def symmetric(eigenvalues, seed=0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((len(eigenvalues),) * 2))
    return (q * eigenvalues) @ q.T


@pytest.mark.parametrize("method", ["lanczos", "power"])
@pytest.mark.parametrize("spectrum", [[5.0, 3.0, 1.0, 0.5, -0.2, -1.0],
                                      [1.0, 0.5, 0.0, -2.0, -4.0, -6.0]])
def test_the_extremes_of_a_quadratic(method, spectrum):
    """L = ½ θᵀAθ: ∇L = Aθ, the Hessian is A whatever θ; power iteration first finds the
    eigenvalue of largest magnitude, which is λ_min in the second spectrum."""
    a = symmetric(np.array(spectrum + list(np.linspace(-0.1, 0.1, 14))))
    result = extreme_eigenvalues(lambda theta: a @ theta, np.ones(20), seed=1, tol=1e-9,
                                 max_iterations=400, method=method, eps=1e-3)
    assert result.lambda_max == pytest.approx(max(spectrum), abs=1e-6)
    assert result.lambda_min == pytest.approx(min(spectrum), abs=1e-6)
    assert result.converged and result.residual_max < 1e-6
    assert result.ratio == pytest.approx(abs(min(spectrum) / max(spectrum)), rel=1e-6)


def test_lanczos_needs_fewer_products_than_power_iteration():
    a = symmetric(np.array([10.0, 9.5, 9.0] + list(np.linspace(-0.3, 0.3, 40))), seed=2)
    start = np.random.default_rng(0).standard_normal(43)
    top, bottom, lanczos_products = lanczos(lambda v: a @ v, start, 200,
                                            lambda top, bottom: top.residual <= 1e-6)
    power, power_products = power_iteration(lambda v: a @ v, start, 2000,
                                            lambda top: top.residual <= 1e-6)
    assert top.value == pytest.approx(10.0, abs=1e-9) and power.value == pytest.approx(10.0,
                                                                                        abs=1e-9)
    assert lanczos_products < power_products / 5


def test_the_hessian_of_a_network_matches_torchs_explicit_hessian():
    """The tiny network in float64, eval mode: λ_max and λ_min from central differences
    of convgrad's gradients against numpy.linalg.eigvalsh of the Hessian PyTorch's
    autograd builds entry by entry."""
    torch = pytest.importorskip("torch")
    from convgrad.interop.torch import to_torch

    model, x, y = tiny_network(seed=4)
    model = model.double()
    loss = SubsetLoss(model, x, y, batch_size=10)        # three batches of 10, 10, 4
    space = loss.space
    theta = space.get()

    torch_model = to_torch(model).double().eval()
    names = [block.name for block in space.blocks]
    shapes = [block.shape for block in space.blocks]
    buffers = dict(torch_model.named_buffers())
    tx, ty = torch.from_numpy(x.astype(np.float64)), torch.from_numpy(y)

    def torch_loss(flat):
        params, start = {}, 0
        for name, shape in zip(names, shapes):
            size = int(np.prod(shape))
            params[name] = flat[start:start + size].reshape(shape)
            start += size
        out = torch.func.functional_call(torch_model, {**params, **buffers}, (tx,))
        return torch.nn.functional.cross_entropy(out, ty)

    hessian = torch.autograd.functional.hessian(torch_loss, torch.from_numpy(theta))
    explicit = np.linalg.eigvalsh(hessian.numpy())
    assert explicit[0] < 0 < explicit[-1]            # not convex: both ends matter

    def gradient(vector):
        space.set(vector)
        return loss.gradient()[1]

    assert loss.gradient()[0] == pytest.approx(float(torch_loss(torch.from_numpy(theta))),
                                               rel=1e-12)
    result = extreme_eigenvalues(gradient, theta, seed=0, tol=1e-7,
                                 max_iterations=theta.size)
    assert result.lambda_max == pytest.approx(explicit[-1], rel=1e-5)
    assert result.lambda_min == pytest.approx(explicit[0], rel=1e-4, abs=1e-6)
    power = extreme_eigenvalues(gradient, theta, seed=0, tol=1e-7, max_iterations=3000,
                                method="power")
    assert power.lambda_max == pytest.approx(explicit[-1], rel=1e-5)


# ---------------------------------------------------------------------------- store
def test_a_saved_landscape_is_read_back_and_other_settings_are_refused(trained, tmp_path):
    run_dir, _ = trained
    run = load_run(run_dir)
    landscape = Landscape(run, small_settings(), tmp_path / "l",
                          HessianSettings(max_iterations=3))
    with landscape.store.locked():
        landscape.open()
        landscape.compute()
    meta, arrays = read_landscape(tmp_path / "l")
    assert arrays["done"].all() and arrays["line_done"].all()
    np.testing.assert_array_equal(arrays["loss"], landscape.arrays["loss"])
    assert meta["hessian"]["products"] >= 3 and "lambda_min" in meta["hessian"]
    other = Landscape(load_run(run_dir), small_settings(resolution=5), tmp_path / "l")
    with other.store.locked(), pytest.raises(LandscapeError,
                                             match=r"\(resolution 3, not 5\); remove the folder"):
        other.open()
    np.testing.assert_array_equal(read_landscape(tmp_path / "l")[1]["loss"],
                                  arrays["loss"])          # nothing overwritten
    with landscape.store.locked(), pytest.raises(LandscapeError, match="another convgrad"):
        with Landscape(load_run(run_dir), small_settings(), tmp_path / "l").store.locked():
            pass


@pytest.mark.parametrize("change", [dict(span=0), dict(resolution=1), dict(mode="test"),
                                    dict(biasbn="all"), dict(line_from=2.0),
                                    dict(samples=True)])
def test_bad_settings_say_which_option(change):
    option = "--" + next(iter(change)).replace("_", "-").replace("line-from", "line")
    with pytest.raises(LandscapeError, match=option):
        LandscapeSettings(**change)
