"""Two classes of inputs, every operation (convolution and pooling have their own tests):

* empty tensors — where PyTorch returns an empty (or a reduced) result, convgrad returns the
  same, forward and backward; where PyTorch raises, convgrad raises the same class;
* shapes that do not fit — convgrad raises PyTorch's exception class, with a message that
  names the shapes (or the numbers) involved.
"""
from __future__ import annotations

import re
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convgrad as cg
import convgrad.functional as F

CG = SimpleNamespace(lib=cg, F=F, nn=cg.nn)
TORCH = SimpleNamespace(lib=torch, F=TF, nn=torch.nn)


def T(L, shape, requires_grad=True, classes=False):
    """The same tensor in either library: uniform values in [0.5, 1.5), or class indices 0
    (recorded in ``L.leaves`` when the namespace keeps a list, to compare gradients)."""
    if classes:
        t = L.lib.tensor(np.zeros(shape, dtype=np.int64))
    else:
        values = np.random.default_rng(0).uniform(0.5, 1.5, shape)
        t = L.lib.tensor(values, requires_grad=requires_grad)
    getattr(L, "leaves", []).append(t)
    return t


EMPTY = {
    "neg": lambda L: -T(L, (0, 3)),
    "exp": lambda L: T(L, (0, 3)).exp(),
    "log": lambda L: T(L, (0,)).log(),
    "sqrt": lambda L: T(L, (2, 0)).sqrt(),
    "clamp": lambda L: T(L, (0,)).clamp(0, 1),
    "sigmoid": lambda L: T(L, (0,)).sigmoid(),
    "add, broadcast": lambda L: T(L, (0, 3)) + T(L, (3,)),
    "add, broadcast from 1": lambda L: T(L, (0, 1)) + T(L, (3,)),
    "mul": lambda L: T(L, (0, 3)) * T(L, (0, 3)),
    "pow": lambda L: T(L, (0,)) ** 2,
    "maximum": lambda L: L.lib.maximum(T(L, (0,)), T(L, (0,))),
    "matmul, inner size 0": lambda L: T(L, (2, 0)) @ T(L, (0, 3)),
    "matmul, no rows": lambda L: T(L, (0, 3)) @ T(L, (3, 2)),
    "dot of empty vectors": lambda L: T(L, (0,)) @ T(L, (0,)),
    "sum": lambda L: T(L, (0, 3)).sum(),
    "sum over the empty dim": lambda L: T(L, (0, 3)).sum(0),
    "mean": lambda L: T(L, (0, 3)).mean(),
    "mean over a full dim": lambda L: T(L, (0, 3)).mean(1),
    "var": lambda L: T(L, (0, 3)).var(0),
    "amax": lambda L: T(L, (0, 3)).amax(),
    "amax over a full dim": lambda L: T(L, (0, 3)).amax(1),
    "amax over the empty dim": lambda L: T(L, (0, 3)).amax(0),
    "max": lambda L: T(L, (0, 3)).max(),
    "max over a full dim": lambda L: T(L, (0, 3)).max(1)[0],
    "max over the empty dim": lambda L: T(L, (0, 3)).max(0)[0],
    "argmax": lambda L: T(L, (0, 3), False).argmax(),
    "argmax over a full dim": lambda L: T(L, (0, 3), False).argmax(1),
    "reshape": lambda L: T(L, (0, 3)).reshape(3, 0),
    "reshape to -1": lambda L: T(L, (0, 3)).reshape(-1),
    "reshape, -1 ambiguous": lambda L: T(L, (0, 3)).reshape(-1, 0),
    "permute": lambda L: T(L, (0, 3)).permute(1, 0),
    "squeeze": lambda L: T(L, (0, 1)).squeeze(),
    "expand": lambda L: T(L, (0, 1)).expand(0, 3),
    "index": lambda L: T(L, (0, 3))[:, 1],
    "empty slice": lambda L: T(L, (4, 3))[2:2],
    "empty index list": lambda L: T(L, (4, 3))[[]],
    "cat": lambda L: L.lib.cat([T(L, (0, 3)), T(L, (2, 3))]),
    "cat with a (0,) tensor": lambda L: L.lib.cat([T(L, (0,)), T(L, (2, 3))]),
    "stack": lambda L: L.lib.stack([T(L, (0, 3)), T(L, (0, 3))]),
    "relu": lambda L: L.F.relu(T(L, (0, 3))),
    "leaky_relu": lambda L: L.F.leaky_relu(T(L, (0, 3))),
    "gelu": lambda L: L.F.gelu(T(L, (0, 3))),
    "softmax over a size-0 dim": lambda L: L.F.softmax(T(L, (3, 0)), 1),
    "softmax over a full dim": lambda L: L.F.softmax(T(L, (0, 3)), 1),
    "softmax over the empty dim": lambda L: L.F.softmax(T(L, (0, 3)), 0),
    "log_softmax over a size-0 dim": lambda L: L.F.log_softmax(T(L, (3, 0)), 1),
    "log_softmax of (0,)": lambda L: L.F.log_softmax(T(L, (0,)), 0),
    "dropout": lambda L: L.F.dropout(T(L, (0, 3)), 0.5),
    "linear, no rows": lambda L: L.F.linear(T(L, (0, 3)), T(L, (4, 3)), T(L, (4,))),
    "linear, no input features": lambda L: L.F.linear(T(L, (2, 0)), T(L, (4, 0)), T(L, (4,))),
    "linear, no output features": lambda L: L.F.linear(T(L, (2, 3)), T(L, (0, 3))),
    "batch_norm (0,) training": lambda L: L.F.batch_norm(T(L, (0,)), None, None,
                                                         training=True),
    "batch_norm (0,) evaluation": lambda L: L.F.batch_norm(T(L, (0,)), T(L, (0,), False),
                                                           T(L, (0,), False)),
    "batch_norm (0, 3) training": lambda L: L.F.batch_norm(
        T(L, (0, 3)), T(L, (3,), False), T(L, (3,), False), T(L, (3,)), T(L, (3,)), True),
    "batch_norm (2, 0) training": lambda L: L.F.batch_norm(T(L, (2, 0)), None, None,
                                                           training=True),
    "batch_norm (0, 3, 4) evaluation": lambda L: L.F.batch_norm(
        T(L, (0, 3, 4)), T(L, (3,), False), T(L, (3,), False)),
    "cross_entropy, no rows": lambda L: L.F.cross_entropy(T(L, (0, 3)),
                                                          T(L, (0,), classes=True)),
    "cross_entropy, no rows, sum": lambda L: L.F.cross_entropy(
        T(L, (0, 3)), T(L, (0,), classes=True), reduction="sum"),
    "cross_entropy, no rows, none": lambda L: L.F.cross_entropy(
        T(L, (0, 3)), T(L, (0,), classes=True), reduction="none"),
    "cross_entropy, probabilities, no rows": lambda L: L.F.cross_entropy(
        T(L, (0, 3)), T(L, (0, 3), False)),
    "cross_entropy, no positions": lambda L: L.F.cross_entropy(T(L, (2, 3, 0)),
                                                               T(L, (2, 0), classes=True)),
    "nll_loss, no rows": lambda L: L.F.nll_loss(T(L, (0, 3)), T(L, (0,), classes=True)),
    "mse_loss": lambda L: L.F.mse_loss(T(L, (0, 3)), T(L, (0, 3))),
    "mse_loss, sum": lambda L: L.F.mse_loss(T(L, (0, 3)), T(L, (0, 3)), reduction="sum"),
    "pad constant": lambda L: L.F.pad(T(L, (0, 2, 3)), (1, 1)),
    "pad reflect": lambda L: L.F.pad(T(L, (0, 2, 3)), (1, 1), mode="reflect"),
    "pad replicate, no channels": lambda L: L.F.pad(T(L, (1, 0, 3)), (1, 1), mode="replicate"),
    "pad circular": lambda L: L.F.pad(T(L, (0, 2, 3)), (1, 1), mode="circular"),
    "pad a size-0 dim": lambda L: L.F.pad(T(L, (1, 2, 0)), (1, 1)),
}


def _run_empty(library: SimpleNamespace, name: str):
    """('raised', class name) or ('ok', output, the leaves it was made from, the warnings)."""
    L = SimpleNamespace(**vars(library), leaves=[])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = EMPTY[name](L)
            if out.requires_grad:
                upstream = np.random.default_rng(1).standard_normal(out.shape)
                (out * L.lib.tensor(upstream)).sum().backward()
        except Exception as error:      # noqa: BLE001  (the class is what is compared)
            return "raised", type(error).__name__
    return "ok", out, L.leaves, [str(w.message) for w in caught]


@pytest.mark.parametrize("name", list(EMPTY))
def test_empty_inputs_give_what_torch_gives(name):
    theirs, mine = _run_empty(TORCH, name), _run_empty(CG, name)
    assert mine[0] == theirs[0], f"torch: {theirs}, convgrad: {mine}"
    if theirs[0] == "raised":
        assert mine[1] == theirs[1]
        return
    (_, out, leaves, warned), (_, t_out, t_leaves, t_warned) = mine, theirs
    assert out.shape == tuple(t_out.shape)
    assert str(out.dtype).split(".")[-1] == str(t_out.dtype).split(".")[-1]
    np.testing.assert_allclose(out.detach().numpy(), t_out.detach().numpy(), rtol=1e-10)
    for leaf, t_leaf in zip(leaves, t_leaves):
        if t_leaf.grad is None:
            assert leaf.grad is None or not leaf.grad.numpy().any()
        else:
            assert leaf.grad is not None
            np.testing.assert_allclose(leaf.grad.numpy(), t_leaf.grad.numpy(), rtol=1e-10)
    assert warned == [] or t_warned, f"convgrad warns where torch does not: {warned}"


# name: (call, what convgrad's message must mention)
MISMATCHED = {
    "add": (lambda L: T(L, (3,)) + T(L, (2,)), [r"\(3,\)", r"\(2,\)"]),
    "add, 2-D": (lambda L: T(L, (2, 3)) + T(L, (3, 2)), [r"\(2, 3\)", r"\(3, 2\)"]),
    "sub": (lambda L: T(L, (3,)) - T(L, (4,)), [r"\(3,\)", r"\(4,\)"]),
    "mul": (lambda L: T(L, (3,)) * T(L, (4,)), [r"\(3,\)", r"\(4,\)"]),
    "div": (lambda L: T(L, (3,)) / T(L, (4,)), [r"\(3,\)", r"\(4,\)"]),
    "pow": (lambda L: T(L, (3,)) ** T(L, (4,)), [r"\(3,\)", r"\(4,\)"]),
    "maximum": (lambda L: L.lib.maximum(T(L, (3,)), T(L, (4,))), [r"\(3,\)", r"\(4,\)"]),
    "comparison": (lambda L: T(L, (3,)) < T(L, (4,)), [r"\(3,\)", r"\(4,\)"]),
    "matmul": (lambda L: T(L, (2, 3)) @ T(L, (2, 3)), ["3", "2"]),
    "matmul, batch dims": (lambda L: T(L, (2, 2, 3)) @ T(L, (3, 3, 4)),
                           [r"\(2,\)", r"\(3,\)"]),
    "matmul of a 0-d tensor": (lambda L: T(L, ()) @ T(L, (3,)), ["0D"]),
    "cat": (lambda L: L.lib.cat([T(L, (2, 3)), T(L, (2, 4))]), ["3", "4"]),
    "cat, dims": (lambda L: L.lib.cat([T(L, (2, 3)), T(L, (2, 3, 1))]), ["2", "3"]),
    "stack": (lambda L: L.lib.stack([T(L, (2, 3)), T(L, (3, 2))]),
              [r"\[2, 3\]", r"\[3, 2\]"]),
    "reshape": (lambda L: T(L, (2, 3)).reshape(4, 2), [r"\[4, 2\]", "6"]),
    "expand": (lambda L: T(L, (2, 3)).expand(4, 3), [r"\[4, 3\]", r"\[2, 3\]"]),
    "expand, too few sizes": (lambda L: T(L, (2, 3)).expand(3), ["1", "2"]),
    "permute": (lambda L: T(L, (2, 3)).permute(0, 1, 2), ["2", "3"]),
    "transpose": (lambda L: T(L, (2, 3)).transpose(0, 2), ["2"]),
    "index": (lambda L: T(L, (2, 3))[5], ["5", r"\(2, 3\)"]),
    "too many indices": (lambda L: T(L, (2, 3))[0, 0, 0], [r"\(2, 3\)"]),
    "setitem": (lambda L: T(L, (3,), False).__setitem__(0, T(L, (2,))), [r"\[2\]"]),
    "copy_": (lambda L: T(L, (3,), False).copy_(T(L, (2,))), [r"\(3,\)", r"\(2,\)"]),
    "setitem, advanced": (lambda L: T(L, (4,), False).__setitem__([0, 1, 2], T(L, (2,))),
                          [r"\[2\]", r"\[3\]"]),
    "setitem, index out of range": (lambda L: T(L, (4,), False).__setitem__([0, 9], 1.0),
                                    ["9", "4"]),
    "add_": (lambda L: T(L, (3,), False).add_(T(L, (2, 3))), [r"\[3\]", r"\[2, 3\]"]),
    "add_ of a float into integers": (lambda L: T(L, (3,), classes=True).add_(1.5),
                                      ["float32", "int64"]),
    "squeeze": (lambda L: T(L, (2, 3)).squeeze(5), ["5"]),
    "unsqueeze": (lambda L: T(L, (2, 3)).unsqueeze(4), ["4"]),
    "sum over a missing dim": (lambda L: T(L, (2, 3)).sum(2), ["2"]),
    "linear": (lambda L: L.F.linear(T(L, (2, 3)), T(L, (4, 5))), [r"\(2, 3\)", r"\(4, 5\)"]),
    "linear, bias": (lambda L: L.F.linear(T(L, (2, 3)), T(L, (4, 3)), T(L, (5,))),
                     [r"\(5,\)", r"\(4,\)"]),
    "mse_loss": (lambda L: L.F.mse_loss(T(L, (2, 3)), T(L, (3, 2))), [r"\(2, 3\)", r"\(3, 2\)"]),
    "cross_entropy, batch": (lambda L: L.F.cross_entropy(T(L, (2, 3)), T(L, (3,), classes=True)),
                             ["2", "3"]),
    "cross_entropy, positions": (lambda L: L.F.cross_entropy(
        T(L, (2, 3, 4)), T(L, (2, 5), classes=True)), [r"\[2, 4\]", r"\[2, 5\]"]),
    "cross_entropy, probabilities": (lambda L: L.F.cross_entropy(T(L, (2, 3)), T(L, (2, 4))),
                                     [r"\(2, 3\)"]),
    "cross_entropy, weight": (lambda L: L.F.cross_entropy(
        T(L, (2, 3)), T(L, (2,), classes=True), weight=T(L, (4,))), ["3", r"\(4,\)"]),
    "nll_loss": (lambda L: L.F.nll_loss(T(L, (2, 3)), T(L, (3,), classes=True)), ["2", "3"]),
    "softmax": (lambda L: L.F.softmax(T(L, (2, 3)), 2), ["2", r"\(2, 3\)"]),
    "batch_norm, 1-D input in training": (lambda L: L.F.batch_norm(T(L, (3,)), None, None,
                                                                   training=True), [r"\(3,\)"]),
    "batch_norm, 1-D input with running statistics in training": (
        lambda L: L.F.batch_norm(T(L, (3,)), T(L, (3,), False), T(L, (3,), False),
                                 training=True), ["running_mean", "3"]),
    "batch_norm, 1-D input with a bias": (
        lambda L: L.F.batch_norm(T(L, (3,)), None, None, None, T(L, (3,)), training=True),
        ["bias", "3"]),
    "batch_norm, 1-D input in evaluation": (
        lambda L: L.F.batch_norm(T(L, (3,)), T(L, (3,), False), T(L, (3,), False)),
        ["running_mean", "3"]),
    "batch_norm, one value per channel": (
        lambda L: L.F.batch_norm(T(L, (1,)), None, None, training=True), [r"\(1,\)"]),
    "batch_norm, 0-d input in training": (
        lambda L: L.F.batch_norm(T(L, ()), None, None, training=True), ["0-d"]),
    "batch_norm, running statistics": (
        lambda L: L.F.batch_norm(T(L, (2, 3)), T(L, (4,), False), T(L, (4,), False)),
        ["3", "4"]),
    "batch_norm, weight": (
        lambda L: L.F.batch_norm(T(L, (2, 3)), None, None, T(L, (4,)), None, True), ["3", "4"]),
    "pad, odd length": (lambda L: L.F.pad(T(L, (2, 3)), (1,)), ["1"]),
    "pad reflect, too wide": (lambda L: L.F.pad(T(L, (1, 2, 3)), (3, 3), mode="reflect"),
                              ["3"]),
    "BatchNorm1d of a 1-D input": (lambda L: L.nn.BatchNorm1d(3)(T(L, (3,))), [r"\(3,\)"]),
}


@pytest.mark.parametrize("name", list(MISMATCHED))
def test_shapes_that_do_not_fit_raise_torchs_class_naming_the_shapes(name):
    call, mentions = MISMATCHED[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as theirs:
            call(TORCH)
        with pytest.raises(Exception) as mine:
            call(CG)
    assert type(mine.value) is type(theirs.value), \
        f"torch: {theirs.value!r}\nconvgrad: {mine.value!r}"
    for pattern in mentions:
        assert re.search(pattern, str(mine.value)), \
            f"convgrad's message does not mention {pattern}: {mine.value}"
