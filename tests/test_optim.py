"""Optimizers and schedulers beside torch.optim: the same initial parameters and the same loss
in both libraries, 20 steps, parameters compared after every step; schedulers' learning
rates compared step by step; state dicts survive a JSON + arrays round trip."""
import json

import numpy as np
import pytest
import torch

import convgrad as cg
import convgrad.nn as nn
import convgrad.optim as optim
from convgrad.optim import lr_scheduler
from parity import check_raises_like

STEPS = 20
_rng = np.random.default_rng(0)
INITIAL = [_rng.standard_normal((3, 4)), _rng.standard_normal(3), _rng.standard_normal((2, 3)),
           _rng.standard_normal(2)]
X, Y = _rng.standard_normal((8, 4)), _rng.standard_normal((8, 2))


def _loss(lib, params, x, y):
    w1, b1, w2, frozen = params
    hidden = (x @ w1.T + b1).tanh()
    return ((hidden @ w2.T + frozen - y) ** 2).mean()


def _make_params(lib, dtype):
    if lib is torch:
        params = [torch.nn.Parameter(torch.tensor(p.astype(dtype))) for p in INITIAL]
    else:
        params = [nn.Parameter(cg.tensor(p.astype(dtype))) for p in INITIAL]
    params[3].requires_grad_(False)   # a parameter without a gradient is skipped
    return params


def _groups(params, split):
    if not split:
        return params
    return [{"params": params[:2]}, {"params": params[2:], "lr": 0.03}]


def _run(lib, make_optimizer, dtype=np.float64, make_scheduler=None, split=False,
         steps=STEPS):
    params = _make_params(lib, dtype)
    opt_module = torch.optim if lib is torch else optim
    optimizer = make_optimizer(opt_module, _groups(params, split))
    scheduler = None
    if make_scheduler is not None:
        sched_module = torch.optim.lr_scheduler if lib is torch else lr_scheduler
        scheduler = make_scheduler(sched_module, optimizer)
    x, y = (torch.tensor(X.astype(dtype)), torch.tensor(Y.astype(dtype))) if lib is torch \
        else (cg.tensor(X.astype(dtype)), cg.tensor(Y.astype(dtype)))
    history, lrs = [], []
    for _ in range(steps):
        optimizer.zero_grad()
        _loss(lib, params, x, y).backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        lrs.append([g["lr"] for g in optimizer.param_groups])
        history.append([p.detach().numpy().copy() for p in params])
    return history, lrs, optimizer


def _compare(make_optimizer, dtype=np.float64, **kwargs):
    mine, mine_lrs, _ = _run(cg, make_optimizer, dtype, **kwargs)
    theirs, their_lrs, _ = _run(torch, make_optimizer, dtype, **kwargs)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-6)
    for step, (m, t) in enumerate(zip(mine, theirs)):
        for i, (pm, pt) in enumerate(zip(m, t)):
            assert pm.dtype == pt.dtype
            np.testing.assert_allclose(pm, pt, err_msg=f"step {step + 1}, parameter {i}", **tol)
    np.testing.assert_allclose(mine_lrs, their_lrs, rtol=1e-15)
    assert not np.array_equal(mine[-1][0], INITIAL[0])   # it moved


SGD_OPTIONS = [
    dict(lr=0.1),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.05, momentum=0.8, dampening=0.3),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.1, weight_decay=0.01),
    dict(lr=0.05, momentum=0.9, weight_decay=0.05, nesterov=True),
    dict(lr=0.05, momentum=0.5, maximize=True),
]
ADAM_OPTIONS = [
    dict(lr=0.01),
    dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6),
    dict(lr=0.01, weight_decay=0.1),
    dict(lr=0.01, amsgrad=True),
    dict(lr=0.01, weight_decay=0.05, amsgrad=True, maximize=True),
]


@pytest.mark.parametrize("options", SGD_OPTIONS)
def test_sgd_matches_torch(options):
    _compare(lambda m, p: m.SGD(p, **options))


@pytest.mark.parametrize("options", ADAM_OPTIONS)
@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_adam_and_adamw_match_torch(name, options):
    _compare(lambda m, p: getattr(m, name)(p, **options))


def test_adamw_default_weight_decay_is_torchs():
    _compare(lambda m, p: m.AdamW(p, lr=0.05))
    assert optim.AdamW([nn.Parameter(cg.zeros(1))]).defaults["weight_decay"] == \
        torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))]).defaults["weight_decay"]


@pytest.mark.parametrize("make", [lambda m, p: m.SGD(p, lr=0.1, momentum=0.9),
                                  lambda m, p: m.Adam(p, lr=0.01, amsgrad=True),
                                  lambda m, p: m.AdamW(p, lr=0.01)])
def test_float32_stays_float32_and_agrees(make):
    _compare(make, dtype=np.float32)
    history, _, optimizer = _run(cg, make, np.float32)
    for state in optimizer.state.values():
        for value in state.values():
            if isinstance(value, np.ndarray):
                assert value.dtype == np.float32


def test_param_groups_with_their_own_lr():
    _compare(lambda m, p: m.SGD(p, lr=0.1, momentum=0.9), split=True)
    _compare(lambda m, p: m.Adam(p, lr=0.01), split=True)


SCHEDULERS = [
    lambda s, o: s.StepLR(o, step_size=3, gamma=0.5),
    lambda s, o: s.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3),
    lambda s, o: s.LinearLR(o, start_factor=0.25, total_iters=6),
    lambda s, o: s.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=8),
    lambda s, o: s.CosineAnnealingLR(o, T_max=20),
    lambda s, o: s.CosineAnnealingLR(o, T_max=7, eta_min=0.001),   # past T_max: periodic
    lambda s, o: s.SequentialLR(o, [s.LinearLR(o, start_factor=0.1, total_iters=5),
                                    s.CosineAnnealingLR(o, T_max=15)], milestones=[5]),
    lambda s, o: s.SequentialLR(o, [s.StepLR(o, 2, gamma=0.5), s.LinearLR(o, 0.5, total_iters=3),
                                    s.CosineAnnealingLR(o, T_max=6, eta_min=0.01)],
                                milestones=[4, 9]),
]


@pytest.mark.parametrize("make_scheduler", SCHEDULERS)
def test_schedulers_match_torch_learning_rates_and_parameters(make_scheduler):
    _compare(lambda m, p: m.SGD(p, lr=0.1, momentum=0.9), make_scheduler=make_scheduler,
             split=True, steps=25)


def test_scheduler_construction_sets_the_first_lr_and_get_last_lr():
    for make in SCHEDULERS:
        mine = make(lr_scheduler, optim.SGD([nn.Parameter(cg.zeros(1))], lr=0.2))
        theirs = make(torch.optim.lr_scheduler,
                      torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.2))
        assert mine.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-15)
        assert mine.optimizer.param_groups[0]["initial_lr"] == 0.2


@pytest.mark.parametrize("epoch", [0, 3, 7, 12])
def test_step_to_an_epoch_uses_the_closed_form_as_torch(epoch):
    import warnings
    for make in SCHEDULERS[:6]:
        mine = make(lr_scheduler, optim.SGD([nn.Parameter(cg.zeros(1))], lr=0.2))
        theirs = make(torch.optim.lr_scheduler,
                      torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.2))
        mine.step(epoch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs.step(epoch)
        assert mine.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-14)


def _through_json_and_arrays(state_dict):
    arrays, metadata = optim.split_state_dict(state_dict)
    assert all(isinstance(a, np.ndarray) for a in arrays.values())
    return optim.join_state_dict({k: a.copy() for k, a in arrays.items()},
                                 json.loads(json.dumps(metadata)))


@pytest.mark.parametrize("make", [lambda m, p: m.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
                                  lambda m, p: m.Adam(p, lr=0.01, amsgrad=True),
                                  lambda m, p: m.AdamW(p, lr=0.01, betas=(0.8, 0.9))])
def test_resuming_from_a_saved_state_gives_the_uninterrupted_result(make):
    make_scheduler = SCHEDULERS[6]
    full, _, _ = _run(cg, make, make_scheduler=make_scheduler, split=True, steps=STEPS)
    # First half, then save the model, optimizer and scheduler state through JSON.
    params = _make_params(cg, np.float64)
    optimizer = make(optim, _groups(params, True))
    scheduler = make_scheduler(lr_scheduler, optimizer)
    x, y = cg.tensor(X), cg.tensor(Y)
    for _ in range(STEPS // 2):
        optimizer.zero_grad()
        _loss(cg, params, x, y).backward()
        optimizer.step()
        scheduler.step()
    saved_params = [p.data.copy() for p in params]
    saved_optimizer = _through_json_and_arrays(optimizer.state_dict())
    saved_scheduler = json.loads(json.dumps(scheduler.state_dict()))
    # A fresh process: new parameters, optimizer and scheduler, then load and continue.
    params = _make_params(cg, np.float64)
    for p, saved in zip(params, saved_params):
        p.data[...] = saved
    optimizer = make(optim, _groups(params, True))
    scheduler = make_scheduler(lr_scheduler, optimizer)
    optimizer.load_state_dict(saved_optimizer)
    scheduler.load_state_dict(saved_scheduler)
    for _ in range(STEPS - STEPS // 2):
        optimizer.zero_grad()
        _loss(cg, params, x, y).backward()
        optimizer.step()
        scheduler.step()
    for p, expected in zip(params, full[-1]):
        np.testing.assert_array_equal(p.data, expected)


def test_state_dict_layout_matches_torch():
    mine = _run(cg, lambda m, p: m.Adam(p, lr=0.01), steps=2, split=True)[2].state_dict()
    theirs = _run(torch, lambda m, p: m.Adam(p, lr=0.01), steps=2, split=True)[2].state_dict()
    assert sorted(mine["state"]) == sorted(theirs["state"])
    for index, state in theirs["state"].items():
        assert sorted(mine["state"][index]) == sorted(state)
        assert mine["state"][index]["step"] == int(state["step"])
        np.testing.assert_allclose(mine["state"][index]["exp_avg"], state["exp_avg"].numpy(),
                                   rtol=1e-10)
    for g_mine, g_theirs in zip(mine["param_groups"], theirs["param_groups"]):
        assert g_mine["params"] == g_theirs["params"]
        for key in g_mine:
            assert g_mine[key] == g_theirs[key], key


def test_load_state_dict_mismatches_raise_like_torch():
    def build(lib, groups):
        params = _make_params(lib, np.float64)
        module = torch.optim if lib is torch else optim
        return module.SGD(_groups(params, groups), lr=0.1)

    mine_state = build(cg, True).state_dict()
    theirs_state = build(torch, True).state_dict()
    check_raises_like(lambda: build(cg, False).load_state_dict(mine_state),
                      lambda: build(torch, False).load_state_dict(theirs_state),
                      "different number of parameter groups")
    mine_state["param_groups"][0]["params"] = [0]
    theirs_state["param_groups"][0]["params"] = [0]
    check_raises_like(lambda: build(cg, True).load_state_dict(mine_state),
                      lambda: build(torch, True).load_state_dict(theirs_state),
                      "doesn't match the size")


CONSTRUCTOR_ERRORS = [
    (lambda m, p: m.SGD(p, lr=-1), "Invalid learning rate"),
    (lambda m, p: m.SGD(p, lr=0.1, momentum=-0.5), "Invalid momentum"),
    (lambda m, p: m.SGD(p, lr=0.1, weight_decay=-1), "Invalid weight_decay"),
    (lambda m, p: m.SGD(p, lr=0.1, nesterov=True), "Nesterov"),
    (lambda m, p: m.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
    (lambda m, p: m.Adam(p, lr=-0.1), "Invalid learning rate"),
    (lambda m, p: m.Adam(p, betas=(1.0, 0.9)), "beta parameter at index 0"),
    (lambda m, p: m.Adam(p, betas=(0.9, -0.1)), "beta parameter at index 1"),
    (lambda m, p: m.AdamW(p, eps=-1), "Invalid epsilon"),
    (lambda m, p: m.SGD([], lr=0.1), "empty parameter list"),
    (lambda m, p: m.SGD(p[0], lr=0.1), "iterable of Tensors or dicts"),
    (lambda m, p: m.SGD([{"params": p[:2]}, {"params": p[1:]}], lr=0.1), "more than one"),
    (lambda m, p: m.SGD([{"params": {p[0]}}], lr=0.1), "ordered collections"),
    (lambda m, p: m.SGD([p[0] * 2], lr=0.1), "non-leaf"),
]


@pytest.mark.parametrize("make, pattern", CONSTRUCTOR_ERRORS)
def test_constructor_errors_match_torch(make, pattern):
    check_raises_like(lambda: make(optim, _make_params(cg, np.float64)),
                      lambda: make(torch.optim, _make_params(torch, np.float64)), pattern)


SCHEDULER_ERRORS = [
    (lambda s, o: s.LinearLR(o, start_factor=0), "Starting multiplicative factor"),
    (lambda s, o: s.LinearLR(o, end_factor=1.5), "Ending multiplicative factor"),
    (lambda s, o: s.SequentialLR(o, [s.StepLR(o, 2)], milestones=[3]), "number of milestones"),
    (lambda s, o: s.StepLR(o, 2, last_epoch=4), "initial_lr"),
]


@pytest.mark.parametrize("make, pattern", SCHEDULER_ERRORS)
def test_scheduler_errors_match_torch(make, pattern):
    check_raises_like(
        lambda: make(lr_scheduler, optim.SGD(_make_params(cg, np.float64), lr=0.1)),
        lambda: make(torch.optim.lr_scheduler,
                     torch.optim.SGD(_make_params(torch, np.float64), lr=0.1)), pattern)


def test_zero_grad_and_closure():
    params = _make_params(cg, np.float64)
    optimizer = optim.SGD(params, lr=0.1)
    x, y = cg.tensor(X), cg.tensor(Y)

    def closure():
        optimizer.zero_grad()
        loss = _loss(cg, params, x, y)
        loss.backward()
        return loss

    first = optimizer.step(closure).item()
    second = optimizer.step(closure).item()
    assert second < first
    optimizer.zero_grad(set_to_none=False)
    assert np.all(params[0].grad.data == 0)
    optimizer.zero_grad()
    assert params[0].grad is None


def test_training_a_model_with_modules_reduces_the_loss():
    cg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    optimizer = optim.Adam(model.parameters(), lr=0.05)
    x, y = cg.tensor(X), cg.tensor(Y)
    losses = []
    for _ in range(50):
        optimizer.zero_grad()
        loss = nn.MSELoss()(model(x.float()), y.float())
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]


def test_state_dict_arrays_keep_zero_dimensional_state():
    # A 0-d parameter's momentum buffer must come back 0-d from the array/JSON split.
    p = cg.nn.Parameter(cg.tensor(1.5))
    optimizer = cg.optim.SGD([p], lr=0.1, momentum=0.9)
    (p * p).backward()
    optimizer.step()
    arrays, meta = cg.optim.split_state_dict(optimizer.state_dict())
    assert all(a.shape == () for a in arrays.values())
    restored = cg.optim.SGD([p], lr=0.1, momentum=0.9)
    restored.load_state_dict(cg.optim.join_state_dict(arrays, meta))
    assert restored.state_dict()["state"][0]["momentum_buffer"].shape == ()
