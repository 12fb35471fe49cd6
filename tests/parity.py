"""Test helpers: compare a convgrad operation with PyTorch, forward and backward.

``check_op`` runs the same function in both libraries on the same inputs, compares the
outputs, then backpropagates the same random upstream gradient (not ``.sum()``, whose
all-ones gradient hides transposition mistakes) and compares every input's gradient.
``check_raises_like`` asserts that convgrad raises where PyTorch raises, with the same class.
``torch_twin`` and ``check_model`` do the same for a whole registry model and its PyTorch twin.
"""
from __future__ import annotations

import re

import numpy as np
import torch

import convgrad as cg

TOLERANCES = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6)}


def channels_last(array: np.ndarray) -> np.ndarray:
    """The same values with the channel axis (1) innermost in memory, as a strided view.

    convgrad's convolutions hand such arrays to the next layer; every op must accept them.
    """
    order = (0,) + tuple(range(2, array.ndim)) + (1,)
    inverse = tuple(np.argsort(order))
    return np.ascontiguousarray(array.transpose(order)).transpose(inverse)


def _pair(value, dtype, requires_grad, layout=None):
    """The same value as a convgrad tensor and a torch tensor (arrays only; rest as is).

    ``layout="channels_last"`` gives convgrad the array with its channels innermost in memory
    (torch gets the ordinary layout): the values are equal, only the strides differ.
    """
    if isinstance(value, np.ndarray):
        array = value.astype(dtype) if value.dtype.kind == "f" else value
        grad = requires_grad and array.dtype.kind == "f"
        mine = cg.tensor(array, requires_grad=grad)
        if layout == "channels_last" and array.ndim >= 3:
            mine = cg.Tensor._wrap(channels_last(array))
            mine.requires_grad = grad
        return mine, torch.tensor(array, requires_grad=grad)
    return value, value


def _flatten(out):
    if isinstance(out, (tuple, list)):
        return [o for item in out for o in _flatten(item)]
    return [out]


def _to_numpy(t):
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    if isinstance(t, cg.Tensor):
        return t.detach().numpy()
    return np.asarray(t)


def check_op(cg_fn, torch_fn, *inputs, dtype=np.float64, grad=True, rtol=None, atol=None,
             seed=0, kwargs=None, torch_kwargs=None, layout=None):
    """Assert ``cg_fn(*inputs) ≈ torch_fn(*inputs)`` and equal input gradients.

    ``inputs`` are NumPy arrays (converted to tensors, floating ones requiring grad) or any
    other value (passed through unchanged).  ``layout="channels_last"`` hands convgrad its
    inputs of 3 or more dims with the channels innermost in memory.  Returns the convgrad
    outputs.
    """
    tol = dict(TOLERANCES[np.dtype(dtype).type])
    if rtol is not None:
        tol["rtol"] = rtol
    if atol is not None:
        tol["atol"] = atol
    pairs = [_pair(v, dtype, grad, layout) for v in inputs]
    cg_inputs = [p[0] for p in pairs]
    torch_inputs = [p[1] for p in pairs]
    cg_out = cg_fn(*cg_inputs, **(kwargs or {}))
    torch_out = torch_fn(*torch_inputs, **(torch_kwargs if torch_kwargs is not None else kwargs or {}))
    cg_flat, torch_flat = _flatten(cg_out), _flatten(torch_out)
    assert len(cg_flat) == len(torch_flat), "different number of outputs"
    for i, (c, t) in enumerate(zip(cg_flat, torch_flat)):
        c_np, t_np = _to_numpy(c), _to_numpy(t)
        assert c_np.shape == t_np.shape, f"output {i}: shape {c_np.shape} != torch {t_np.shape}"
        if isinstance(c, cg.Tensor):
            assert c_np.dtype == t_np.dtype, f"output {i}: dtype {c_np.dtype} != torch {t_np.dtype}"
        np.testing.assert_allclose(c_np, t_np, err_msg=f"forward output {i}", **tol)
    if not grad:
        return cg_out
    rng = np.random.default_rng(seed)
    cg_loss, torch_loss = None, None
    for c, t in zip(cg_flat, torch_flat):
        if isinstance(t, torch.Tensor) and t.requires_grad:
            upstream = rng.standard_normal(t.shape).astype(np.dtype(dtype))
            cg_term = (c * cg.tensor(upstream)).sum()
            torch_term = (t * torch.tensor(upstream)).sum()
            cg_loss = cg_term if cg_loss is None else cg_loss + cg_term
            torch_loss = torch_term if torch_loss is None else torch_loss + torch_term
    if torch_loss is None:
        return cg_out
    torch_loss.backward()
    cg_loss.backward()
    for i, (c, t) in enumerate(zip(cg_inputs, torch_inputs)):
        if isinstance(t, torch.Tensor) and t.requires_grad:
            if t.grad is None:
                assert c.grad is None or not np.any(c.grad.data), f"input {i}: torch has no grad"
                continue
            assert c.grad is not None, f"input {i}: convgrad computed no gradient"
            np.testing.assert_allclose(c.grad.data, t.grad.numpy(),
                                       err_msg=f"gradient of input {i}", **tol)
    return cg_out


def check_raises_like(cg_call, torch_call, *must_mention):
    """Both calls raise the same exception class; convgrad's message names ``must_mention``.

    Each item of ``must_mention`` is a regular expression that convgrad's message must
    contain (an argument name, a number, a shape).  Returns convgrad's message.
    """
    try:
        torch_call()
    except Exception as error:  # noqa: BLE001 - we want whatever torch raises
        torch_error = error
    else:
        raise AssertionError("torch did not raise, so convgrad should not either")
    try:
        cg_call()
    except Exception as error:  # noqa: BLE001
        cg_error = error
    else:
        raise AssertionError(f"convgrad did not raise; torch raised "
                             f"{type(torch_error).__name__}: {torch_error}")
    assert type(cg_error) is type(torch_error), (
        f"convgrad raised {type(cg_error).__name__}: {cg_error}\n"
        f"torch raised {type(torch_error).__name__}: {torch_error}"
    )
    message = str(cg_error)
    for pattern in must_mention:
        assert re.search(pattern, message), f"message {message!r} does not mention {pattern!r}"
    return message


def numerical_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Centred differences ``(f(x + ε eᵢ) − f(x − ε eᵢ)) / 2ε`` for a scalar ``f`` of float64 x."""
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + eps
        plus = f(x)
        flat[i] = saved - eps
        minus = f(x)
        flat[i] = saved
        gflat[i] = (plus - minus) / (2 * eps)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a − b| / max(|a|, |b|, tiny), CS231n's gradient-check measure."""
    return float(np.max(np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-8)))


def torch_twin(name: str):
    """The registry model ``name`` (seeded, float64) and its PyTorch twin holding the same
    weights."""
    from convgrad.interop.torch import torch_model
    from convgrad.models import get_model

    cg.manual_seed(0)
    mine = get_model(name).double()
    theirs = torch_model(name).double()
    assert list(mine.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in mine.state_dict().items()})
    return mine, theirs


def check_model(mine, theirs, x: np.ndarray, rng, tol: dict):
    """The two models' outputs on ``x``, then every parameter's gradient for the same random
    upstream gradient, compared; returns the two outputs."""
    out_mine, out_theirs = mine(cg.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(out_mine.data, out_theirs.detach().numpy(), **tol)
    upstream = rng.standard_normal(out_mine.shape)
    (out_mine * cg.tensor(upstream)).sum().backward()
    (out_theirs * torch.tensor(upstream)).sum().backward()
    for (key, p_mine), (_, p_theirs) in zip(mine.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p_mine.grad.data, p_theirs.grad.numpy(), err_msg=key, **tol)
    return out_mine, out_theirs
