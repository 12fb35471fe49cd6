"""In-place operations and version counters, against PyTorch.

The main table runs every operation of the engine, then changes one of its inputs (or its
output) in place with each kind of in-place operation, then backpropagates: convgrad must
raise exactly where PyTorch raises (a backward that saved the changed tensor), and otherwise
give PyTorch's gradients, values and version numbers.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convgrad as cg
import convgrad.functional as F

CG = SimpleNamespace(lib=cg, F=F, nn=cg.nn, name="convgrad")
TORCH = SimpleNamespace(lib=torch, F=TF, nn=torch.nn, name="torch")



def _batch_norm_relu(L, x, rm, rv, w, b, training, r):
    """relu(batch_norm(x) + r): convgrad's fused operation, or PyTorch's three."""
    if L is CG:
        return F.batch_norm_relu(x, rm, rv, w, b, training, residual=r)
    return TF.relu(TF.batch_norm(x, rm, rv, w, b, training) + r)


# name: (op on (namespace, *inputs), input specs (shape, requires_grad[, "classes"]))
M = ((2, 3), True)          # a matrix that needs a gradient
V = ((3,), True)            # a vector that needs one
C = ((2, 3), False)         # a constant matrix
OPS = {
    "add": (lambda L, a, b: a + b, [M, V]),
    "sub": (lambda L, a, b: a - b, [M, C]),
    "mul": (lambda L, a, b: a * b, [M, C]),
    "mul both": (lambda L, a, b: a * b, [M, M]),
    "div": (lambda L, a, b: a / b, [C, M]),
    "div by constant": (lambda L, a, b: a / b, [M, C]),
    "pow scalar": (lambda L, a: a ** 2.5, [M]),
    "pow tensor": (lambda L, a, b: a ** b, [M, M]),
    "rpow": (lambda L, a: 2.0 ** a, [M]),
    "maximum": (lambda L, a, b: L.lib.maximum(a, b), [M, C]),
    "matmul": (lambda L, a, b: a @ b, [M, ((3, 2), True)]),
    "matmul constant": (lambda L, a, b: a @ b, [M, ((3, 2), False)]),
    "dot": (lambda L, a, b: a @ b, [V, V]),
    "neg": (lambda L, a: -a, [M]),
    "exp": (lambda L, a: a.exp(), [M]),
    "log": (lambda L, a: a.log(), [M]),
    "sqrt": (lambda L, a: a.sqrt(), [M]),
    "abs": (lambda L, a: a.abs(), [M]),
    "clamp": (lambda L, a: a.clamp(0.7, 1.2), [M]),
    "relu": (lambda L, a: a.relu(), [M]),
    "sigmoid": (lambda L, a: a.sigmoid(), [M]),
    "tanh": (lambda L, a: a.tanh(), [M]),
    "sum": (lambda L, a: a.sum(1), [M]),
    "mean": (lambda L, a: a.mean(0), [M]),
    "var": (lambda L, a: a.var(1), [M]),
    "amax": (lambda L, a: a.amax(1), [M]),
    "max over all": (lambda L, a: a.max(), [M]),
    "max over a dim": (lambda L, a: a.max(1)[0], [M]),
    "reshape (a view)": (lambda L, a: a.reshape(3, 2), [M]),
    "permute (a view)": (lambda L, a: a.permute(1, 0), [M]),
    "transpose then reshape (a copy)": (lambda L, a: a.t().reshape(6), [M]),
    "unsqueeze (a view)": (lambda L, a: a.unsqueeze(0), [M]),
    "expand (a view)": (lambda L, a: a.expand(2, 3), [((1, 3), True)]),
    "slice (a view)": (lambda L, a: a[:, 1:], [M]),
    "select (a view)": (lambda L, a: a[1], [M]),
    "advanced index (a copy)": (lambda L, a: a[[0, 1, 1]], [M]),
    "cat": (lambda L, a, b: L.lib.cat([a, b]), [M, M]),
    "stack": (lambda L, a, b: L.lib.stack([a, b], 1), [M, C]),
    "clone": (lambda L, a: a.clone(), [M]),
    "leaky_relu": (lambda L, a: L.F.leaky_relu(a, 0.1), [M]),
    "gelu": (lambda L, a: L.F.gelu(a), [M]),
    "softmax": (lambda L, a: L.F.softmax(a, 1), [M]),
    "log_softmax": (lambda L, a: L.F.log_softmax(a, 1), [M]),
    "linear": (lambda L, x, w, b: L.F.linear(x, w, b), [M, ((4, 3), True), ((4,), True)]),
    "linear, constant weight": (lambda L, x, w: L.F.linear(x, w), [M, ((4, 3), False)]),
    "batch_norm training": (lambda L, x, rm, rv, w, b: L.F.batch_norm(x, rm, rv, w, b, True),
                            [((4, 3), True), ((3,), False), ((3,), False), V, V]),
    "batch_norm eval": (lambda L, x, rm, rv: L.F.batch_norm(x, rm, rv, None, None, False),
                        [((4, 3), True), ((3,), False), ((3,), False)]),
    # convgrad's fused relu(batch_norm(x) + r) against PyTorch's three operations
    "batch_norm_relu training": (lambda L, x, r, rm, rv, w, b: _batch_norm_relu(
        L, x, rm, rv, w, b, True, r), [((4, 3), True), ((4, 3), True), ((3,), False),
                                       ((3,), False), V, V]),
    "batch_norm_relu eval": (lambda L, x, r, rm, rv: _batch_norm_relu(
        L, x, rm, rv, None, None, False, r), [((4, 3), True), ((4, 3), True), ((3,), False),
                                              ((3,), False)]),
    "batch_norm_relu, constant input": (lambda L, x, r, rm, rv: _batch_norm_relu(
        L, x, rm, rv, None, None, True, r), [((4, 3), False), ((4, 3), True), ((3,), False),
                                             ((3,), False)]),
    "cross_entropy": (lambda L, x, t: L.F.cross_entropy(x, t), [M, ((2,), False, "classes")]),
    "cross_entropy with weight": (lambda L, x, t, w: L.F.cross_entropy(x, t, weight=w),
                                  [M, ((2,), False, "classes"), ((3,), False)]),
    "nll_loss": (lambda L, x, t: L.F.nll_loss(x, t), [M, ((2,), False, "classes")]),
    "mse_loss": (lambda L, x, t: L.F.mse_loss(x, t), [M, C]),
    "pad constant": (lambda L, a: L.F.pad(a, (1, 1)), [((1, 2, 3), True)]),
    "pad reflect": (lambda L, a: L.F.pad(a, (1, 1), mode="reflect"), [((1, 2, 3), True)]),
    "pad replicate": (lambda L, a: L.F.pad(a, (1, 1), mode="replicate"), [((1, 2, 3), True)]),
    "pad circular": (lambda L, a: L.F.pad(a, (1, 1), mode="circular"), [((1, 2, 3), True)]),
    "conv2d": (lambda L, x, w, b: L.F.conv2d(x, w, b, padding=1),
               [((1, 2, 4, 4), True), ((3, 2, 3, 3), True), V]),
    "conv2d, constant input": (lambda L, x, w: L.F.conv2d(x, w),
                               [((1, 2, 4, 4), False), ((3, 2, 3, 3), True)]),
    "max_pool2d": (lambda L, x: L.F.max_pool2d(x, 2), [((1, 2, 4, 4), True)]),
    "avg_pool2d": (lambda L, x: L.F.avg_pool2d(x, 2), [((1, 2, 4, 4), True)]),
    "adaptive_avg_pool2d": (lambda L, x: L.F.adaptive_avg_pool2d(x, 1), [((1, 2, 4, 4), True)]),
    # The in-place operations themselves, as the operation whose saved tensors are tested.
    "add_": (lambda L, a, b: a.add_(b, alpha=2.0), [M, M]),
    "sub_": (lambda L, a, b: a.sub_(b), [M, V]),
    "mul_": (lambda L, a, b: a.mul_(b), [M, M]),
    "mul_ by a constant": (lambda L, a, b: a.mul_(b), [M, C]),
    "mul_ into a constant": (lambda L, a, b: a.mul_(b), [C, M]),
    "div_": (lambda L, a, b: a.div_(b), [M, M]),
    "pow_": (lambda L, a: a.pow_(3.0), [M]),
    "clamp_": (lambda L, a: a.clamp_(0.7, 1.2), [M]),
    "relu_": (lambda L, a: a.relu_(), [M]),
    "sigmoid_": (lambda L, a: a.sigmoid_(), [M]),
    "tanh_": (lambda L, a: a.tanh_(), [M]),
    "neg_": (lambda L, a: a.neg_(), [M]),
    "zero_": (lambda L, a: a.zero_(), [M]),
    "fill_ with a tensor": (lambda L, a, b: a.fill_(b.sum()), [M, V]),
    "copy_": (lambda L, a, b: a.copy_(b), [M, V]),
    "copy_ into a constant": (lambda L, a, b: a.copy_(b), [C, V]),
    "+=": (lambda L, a, b: a.__iadd__(b), [M, M]),
    "*=": (lambda L, a, b: a.__imul__(b), [M, M]),
    "setitem": (lambda L, a, b: (a.__setitem__((0, slice(1, None)), b[:2]), a)[1], [M, V]),
    "setitem advanced": (lambda L, a, b: (a.__setitem__([1, 0], b), a)[1], [M, V]),
    "setitem into a constant": (lambda L, a, b: (a.__setitem__(1, b), a)[1], [C, V]),
    "mul_ through a view": (lambda L, a, b: (a[:, 1:].mul_(b[1:]), a)[1], [M, V]),
    "relu_ through a view of a view": (lambda L, a: (a.reshape(6)[2:].relu_(), a)[1], [M]),
    "F.relu inplace": (lambda L, a: L.F.relu(a - 1, inplace=True), [M]),
    "F.leaky_relu inplace": (lambda L, a: L.F.leaky_relu(a - 1, 0.2, inplace=True), [M]),
}

# How the tensor under test is changed in place, each one in-place operation of a different
# kind: arithmetic, a copy, a write through a view (CopySlices), an op that saves its output.
# (Every in-place operation also appears above as the operation under test.)
MODIFIERS = {
    "add_": lambda t: t.add_(1),
    "copy_": lambda t: t.copy_(t.detach() * 0.5 + 0.25),
    "setitem": lambda t: t.__setitem__(0, 1),
    "relu_": lambda t: t.relu_(),
}


def _run(L, op_name: str, victim, modifier: str):
    """Run one case in one library; returns ('raised', message) or ('ok', (output, how
    much the modifier moved the version, the leaves' gradients))."""
    fn, specs = OPS[op_name]
    rng = np.random.default_rng(7)
    leaves, inputs = [], []
    for spec in specs:
        shape, requires_grad = spec[:2]
        if spec[2:] == ("classes",):
            array = rng.integers(0, 3, shape)
        else:
            array = rng.uniform(0.5, 1.5, shape)
        leaf = L.lib.tensor(array, requires_grad=requires_grad)
        leaves.append(leaf)
        inputs.append(leaf * 1 if requires_grad else leaf)   # non-leaves may change in place
    out = fn(L, *inputs)
    target = out if victim == "output" else inputs[victim]
    try:
        before = target._version
        MODIFIERS[modifier](target)
        version = target._version - before
        upstream = rng.standard_normal(out.shape)
        (out * L.lib.tensor(upstream)).sum().backward()
    except (RuntimeError, IndexError) as error:
        return "raised", f"{type(error).__name__}: {error}"
    grads = [None if leaf.grad is None else leaf.grad.numpy()
             for leaf, spec in zip(leaves, specs) if spec[1]]
    return "ok", (out.detach().numpy(), version, grads)


def _victims(op_name):
    return ["output"] + list(range(len(OPS[op_name][1])))


@pytest.mark.parametrize("op_name", list(OPS))
@pytest.mark.parametrize("modifier", list(MODIFIERS))
def test_changing_a_tensor_after_an_op_raises_where_torch_raises(op_name, modifier):
    for victim in _victims(op_name):
        changed = "the output" if victim == "output" else f"input {victim}"
        where = f"{op_name}, then {modifier} on {changed}"
        theirs = _run(TORCH, op_name, victim, modifier)
        mine = _run(CG, op_name, victim, modifier)
        assert mine[0] == theirs[0], f"{where}: torch {theirs}, convgrad {mine}"
        if theirs[0] == "raised":
            if "modified by an inplace operation" in theirs[1]:
                assert "modified by an inplace operation" in mine[1], where
                assert "expected version" in mine[1], where
            continue
        (out, version, grads), (t_out, t_version, t_grads) = mine[1], theirs[1]
        np.testing.assert_allclose(out, t_out, rtol=1e-10, err_msg=where)
        assert version == t_version, f"{where}: version {version}, torch {t_version}"
        for i, (g, t) in enumerate(zip(grads, t_grads)):
            if t is None:
                assert g is None or not g.any(), f"{where}: input {i} has a gradient"
            else:
                assert g is not None, f"{where}: input {i} has no gradient"
                np.testing.assert_allclose(g, t, rtol=1e-10, atol=1e-12,
                                           err_msg=f"{where}: gradient of input {i}")


# ----------------------------------------------------------------------------- the message
def test_the_error_names_the_tensor_its_versions_and_the_operation_that_saved_it():
    w = cg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = cg.tensor([4.0, 5.0, 6.0])
    y = (w * x).sum()
    x.zero_()
    with pytest.raises(RuntimeError) as error:
        y.backward()
    assert str(error.value).startswith(
        "one of the variables needed for gradient computation has been modified by an "
        "inplace operation: [float32 tensor of shape [3]] is at version 1; expected version 0 "
        "instead. MulBackward0 saved it")
    h = w * 2
    z = (h * h).sum()
    h.add_(1)
    with pytest.raises(RuntimeError, match=r"\[float32 tensor of shape \[3\]\], which is output "
                                           r"0 of Add, is at version 1; expected version 0"):
        z.backward()
    e = w.exp()
    e.add_(1)
    with pytest.raises(RuntimeError, match="which is output 0 of Exp, .*ExpBackward0 saved it"):
        e.sum().backward()


# ----------------------------------------------------------------------------- what may be written
def _outcome(fn):
    try:
        fn()
    except (RuntimeError, IndexError, ValueError) as error:
        return type(error).__name__
    return "ok"


LEAF_WRITES = {
    "add_ on a leaf": lambda L, w: w.add_(1),
    "zero_ on a leaf": lambda L, w: w.zero_(),
    "setitem on a leaf": lambda L, w: w.__setitem__(0, 1.0),
    "+= on a leaf": lambda L, w: w.__iadd__(1),
    "F.relu inplace on a leaf": lambda L, w: L.F.relu(w, inplace=True),
    "F.dropout inplace on a leaf": lambda L, w: L.F.dropout(w, 0.5, True, inplace=True),
    "mul_ on a view of a leaf": lambda L, w: w[1:].mul_(2),
    "copy_ into a reshaped leaf": lambda L, w: w.reshape(2, 2).copy_(L.lib.ones(2, 2)),
    "add_ on a detached leaf": lambda L, w: w.detach().add_(1),
    "add_ on an expanded tensor": lambda L, w: w.detach()[:1].expand(3).add_(1),
    "add_ on an expand that repeats nothing": lambda L, w: w.detach().expand(4).add_(1),
    "a view made under no_grad, written with grad": lambda L, w: _view_made_without_grad(L, w),
}


def _view_made_without_grad(L, w):
    with L.lib.no_grad():
        view = (w * 1)[1:]
    view.add_(1)


@pytest.mark.parametrize("name", list(LEAF_WRITES))
def test_which_tensors_may_be_written_in_place_as_torch(name):
    outcomes = {}
    for L in (TORCH, CG):
        w = L.lib.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
        outcomes[L.name] = _outcome(lambda: LEAF_WRITES[name](L, w))
        with L.lib.no_grad():             # under no_grad every write is allowed
            before = w._version
            if outcomes[L.name] != "ok" and "expand" not in name:
                LEAF_WRITES[name](L, w)
                assert w._version > before
    assert outcomes["convgrad"] == outcomes["torch"]


def test_a_leaf_requires_grad_error_says_what_to_do():
    w = cg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"a leaf Variable that requires grad is being used "
                                           r"in an in-place operation \(add_ on a tensor of "
                                           r"shape \(1,\)\).*no_grad"):
        w.add_(1)


# ----------------------------------------------------------------------------- versions and views
MAKERS = {
    "reshape (a view)": lambda x: x.reshape(3, 2),
    "view": lambda x: x.view(6),
    "transpose then reshape (a copy)": lambda x: x.t().reshape(6),
    "permute": lambda x: x.permute(1, 0),
    "transpose": lambda x: x.transpose(0, 1),
    "T": lambda x: x.T,
    "flatten": lambda x: x.flatten(),
    "unsqueeze": lambda x: x.unsqueeze(1),
    "squeeze": lambda x: x.unsqueeze(0).squeeze(0),
    "slice": lambda x: x[:, 1:],
    "select": lambda x: x[1],
    "element": lambda x: x[1, 2],
    "advanced index (a copy)": lambda x: x[[0, 1]],
    "boolean mask (a copy)": lambda x: x[x > 1],
    "detach": lambda x: x.detach(),
    "clone (a copy)": lambda x: x.clone(),
    "contiguous": lambda x: x.contiguous(),
    "to the same dtype": lambda x: x.to(x.dtype),
    "to another dtype (a copy)": lambda x: x.double(),
}


@pytest.mark.parametrize("name", list(MAKERS))
def test_tensors_share_memory_and_version_counters_where_torch_does(name):
    seen = {}
    for L in (TORCH, CG):
        x = L.lib.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3))
        y = MAKERS[name](x)
        x.add_(1)
        after_x = (y._version, y.detach().numpy().copy())
        y.mul_(2)
        seen[L.name] = (after_x, x._version, x.numpy().copy())
    (mine_y, mine_x_version, mine_x), (theirs_y, theirs_x_version, theirs_x) = \
        seen["convgrad"], seen["torch"]
    assert mine_y[0] == theirs_y[0]
    np.testing.assert_array_equal(mine_y[1], theirs_y[1])
    assert mine_x_version == theirs_x_version
    np.testing.assert_array_equal(mine_x, theirs_x)


def test_parameters_and_state_dicts_share_version_counters_as_torch():
    for L in (TORCH, CG):
        t = L.lib.zeros(3)
        p = L.nn.Parameter(t)
        t.add_(1)
        assert p._version == 1
        layer = L.nn.Linear(2, 2)
        before = layer.weight._version
        layer.state_dict()["weight"].mul_(2)
        assert layer.weight._version == before + 1


VIEW_GRAPHS = {
    "base changed after the view was made": lambda L, a: (lambda b, v: (b.mul_(2), v)[1])(
        *(lambda b: (b, b[1:]))(a * 1)),
    "a sibling view changed": lambda L, a: (lambda b: (b[:2].mul_(3), b[1:])[1])(a * 1),
    "the base of a leaf changed under no_grad": lambda L, a: _leaf_view_after_no_grad(L, a),
    "a view of a constant filled from a tensor that needs grad": lambda L, a: (
        lambda b: (b[1:3].copy_(a[:2] * 2), b)[1])(L.lib.zeros(4, dtype=L.lib.float64)),
    "a view of a view, written": lambda L, a: (lambda b: (b.reshape(2, 2)[1].relu_(), b)[1])(
        a * 1 - 2),
    "setitem, then the whole": lambda L, a: (lambda b: (b.__setitem__(slice(0, 2), a[2:] ** 2),
                                                        b * b)[1])(a * 1),
}


def _leaf_view_after_no_grad(L, a):
    view = a[1:]
    with L.lib.no_grad():
        a.mul_(2)
    return view * view


@pytest.mark.parametrize("name", list(VIEW_GRAPHS))
def test_gradients_through_views_follow_in_place_changes_as_torch(name):
    grads = {}
    for L in (TORCH, CG):
        a = L.lib.tensor([1.0, -2.0, 3.0, 4.0], dtype=L.lib.float64, requires_grad=True)
        out = VIEW_GRAPHS[name](L, a)
        upstream = np.linspace(-1, 1, int(np.prod(out.shape))).reshape(out.shape)
        (out * L.lib.tensor(upstream)).sum().backward()
        grads[L.name] = (out.detach().numpy(), a.grad.numpy())
    np.testing.assert_allclose(grads["convgrad"][0], grads["torch"][0])
    np.testing.assert_allclose(grads["convgrad"][1], grads["torch"][1])


def _node_name(grad_fn) -> str:
    return (grad_fn.name() if callable(grad_fn.name) else grad_fn.name).split("::")[-1]


def test_grad_fn_names_after_writing_through_a_view_are_torchs():
    for L in (TORCH, CG):
        base = L.lib.tensor([1.0, 2.0], requires_grad=True) * 1
        view = base[:1]
        view.mul_(2)
        assert _node_name(base.grad_fn) == "CopySlices"
        assert _node_name(view.grad_fn) == "AsStridedBackward0"


def test_retained_gradient_follows_the_tensor_through_an_in_place_change():
    for L in (TORCH, CG):
        x = L.lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        y.retain_grad()
        y.add_(1)
        (y * 3).sum().backward()
        np.testing.assert_array_equal(y.grad.numpy(), [3.0, 3.0])


# ----------------------------------------------------------------------------- layers and optimizer
def test_an_optimizer_step_before_backward_is_caught_as_in_torch():
    outcomes = {}
    for L in (TORCH, CG):
        model = L.nn.Sequential(L.nn.Linear(3, 4), L.nn.Linear(4, 2))
        optimizer = L.lib.optim.SGD(model.parameters(), lr=0.1)
        loss = model(L.lib.ones(5, 3)).sum()    # the second layer saves its weight
        loss.backward(retain_graph=True)
        version = model[1].weight._version
        optimizer.step()
        assert model[1].weight._version == version + 1
        outcomes[L.name] = _outcome(lambda: loss.backward())
    assert outcomes == {"torch": "RuntimeError", "convgrad": "RuntimeError"}


def test_init_load_state_dict_and_batch_norm_write_parameters_outside_no_grad():
    layer = cg.nn.Linear(3, 2)
    before = layer.weight._version
    cg.nn.init.kaiming_uniform_(layer.weight)             # outside no_grad, as in PyTorch
    assert layer.weight._version == before + 1
    layer.load_state_dict({"weight": np.ones((2, 3), np.float32), "bias": np.zeros(2)})
    assert layer.weight._version == before + 2 and layer.weight.requires_grad
    norm = cg.nn.BatchNorm1d(3, momentum=None)
    x = cg.tensor(np.random.default_rng(0).standard_normal((8, 3)), dtype=cg.float32,
                  requires_grad=True)
    for _ in range(3):
        norm(x).sum().backward()
    assert int(norm.num_batches_tracked.item()) == 3


def test_a_model_with_in_place_relu_trains_as_in_torch():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, 6))
    y = rng.integers(0, 3, 16)
    weights = [rng.standard_normal((8, 6)) * 0.5, rng.standard_normal(8) * 0.1,
               rng.standard_normal((3, 8)) * 0.5, rng.standard_normal(3) * 0.1]
    results = {}
    for L in (TORCH, CG):
        model = L.nn.Sequential(L.nn.Linear(6, 8), L.nn.ReLU(inplace=True),
                                L.nn.Linear(8, 3)).double()
        with L.lib.no_grad():
            for param, value in zip(model.parameters(), weights):
                param.copy_(L.lib.tensor(value))
        optimizer = L.lib.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
        for _ in range(3):
            optimizer.zero_grad()
            L.F.cross_entropy(model(L.lib.tensor(x)), L.lib.tensor(y)).backward()
            optimizer.step()
        results[L.name] = [p.detach().numpy().copy() for p in model.parameters()]
    for mine, theirs in zip(results["convgrad"], results["torch"]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)


def test_a_view_made_under_no_grad_loses_its_history_when_its_base_changes_as_in_torch():
    for L in (TORCH, CG):
        w = L.lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        with L.lib.no_grad():
            view = w[:2]
            w.add_(1)
        assert view.requires_grad
        assert "grad_fn=<Invalid>" in repr(view)
        with pytest.raises(RuntimeError, match="A view was created in no_grad mode and its "
                                               "base .* has been modified inplace"):
            view.grad_fn
        with pytest.raises(RuntimeError, match="created in no_grad mode"):
            (view * 2).sum().backward()


@pytest.mark.parametrize("operation", ["mul_", "div_", "pow_", "add_", "copy_"])
def test_in_place_with_a_wider_operand_casts_into_the_tensor_as_torch(operation):
    results = {}
    for L in (TORCH, CG):
        x = L.lib.tensor([0.5, 1.5, 2.5], dtype=L.lib.float32, requires_grad=True)
        w = L.lib.tensor([1.25, 0.75, 2.0], dtype=L.lib.float64, requires_grad=True)
        a = x * 1
        getattr(a, operation)(w)
        (a * L.lib.tensor([1.0, -2.0, 3.0], dtype=L.lib.float32)).sum().backward()
        results[L.name] = (a.dtype, a.detach().numpy(), x.grad.numpy(), w.grad.numpy())
    mine, theirs = results["convgrad"], results["torch"]
    assert str(mine[0]).split(".")[-1] == str(theirs[0]).split(".")[-1] == "float32"
    for m, t in zip(mine[1:], theirs[1:]):
        assert m.dtype == t.dtype
        np.testing.assert_allclose(m, t, rtol=1e-6)
