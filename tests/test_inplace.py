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

CG = SimpleNamespace(lib=cg, F=F, name="convgrad")
TORCH = SimpleNamespace(lib=torch, F=TF, name="torch")

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
        where = f"{op_name}, then {modifier} on {'the output' if victim == 'output' else f'input {victim}'}"
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
