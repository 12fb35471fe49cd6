"""Convolutions and pools on empty inputs, and on inputs of the wrong rank, as PyTorch.

Where PyTorch returns a result (an empty batch; no channels where it allows them; an adaptive
pool to size 0), convgrad returns the same shape and dtype and the same gradients, checked
by ``check_op`` (forward, then backward with a random upstream gradient).  Where PyTorch
raises, convgrad raises the same exception class (``check_raises_like``).  Each operation is
swept over the same set of shapes: every empty axis, and every rank from 0 to 5 dimensions.
"""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convgrad as cg
import convgrad.functional as F
import convgrad.nn as nn
from parity import check_op, check_raises_like


def _outcome(call):
    """None when ``call()`` returns, else the exception it raises."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call()
    except Exception as error:  # noqa: BLE001 - whatever torch raises is the expectation
        return error
    return None


def _torch_backward(torch_fn, arrays):
    inputs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = torch_fn(*inputs)
    (out[0] if isinstance(out, tuple) else out).sum().backward()


def check_like_torch(cg_fn, torch_fn, *arrays, dtype=np.float64):
    """convgrad's fn on ``arrays`` does what torch's does: the same result and gradients, or
    the same exception class.

    One exception: PyTorch's adaptive pools compute an output with an empty channel or
    spatial axis but refuse to backpropagate through it; there convgrad's gradient is what
    an output of no elements sends back, zeros of the input's shape."""
    torch_error = _outcome(lambda: torch_fn(*(torch.tensor(a) for a in arrays)))
    if torch_error is not None:
        check_raises_like(lambda: cg_fn(*(cg.tensor(a.astype(dtype)) for a in arrays)),
                          lambda: torch_fn(*(torch.tensor(a) for a in arrays)))
    elif _outcome(lambda: _torch_backward(torch_fn, arrays)) is None:
        check_op(cg_fn, torch_fn, *arrays, dtype=dtype)
    else:
        out = check_op(cg_fn, torch_fn, *arrays, dtype=dtype, grad=False)
        assert out.numel() == 0, "torch refuses a backward pass only through empty outputs"
        inputs = [cg.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
        cg_fn(*inputs).sum().backward()
        for tensor in inputs:
            np.testing.assert_array_equal(tensor.grad.numpy(), np.zeros(tensor.shape))


def _ones(shape):
    return np.random.default_rng(0).standard_normal(shape)


# ------------------------------------------------------------------ convolutions
def conv_cases(spatial):
    """(input shape, weight shape, keyword arguments): every way an input can be empty."""
    L, k = (5,) * spatial, (3,) * spatial
    return [
        ((0, 3) + L, (4, 3) + k, dict(padding=1)),                  # empty batch
        ((0, 4) + L, (4, 2) + k, dict(groups=2, stride=2)),
        ((2, 0) + L, (4, 0) + k, dict(padding=1)),                  # no input channels
        ((2, 0) + L, (4, 0) + k, dict(stride=2, dilation=2)),
        ((2, 0) + L, (4, 0) + k, dict(groups=2)),
        ((2, 0) + L, (4, 0) + k, dict(padding="same")),
        ((0, 0) + L, (4, 0) + k, {}),                               # both
        ((0,) + L, (4, 0) + k, {}),                                 # unbatched, no channels
        ((2, 3) + L, (0, 3) + k, {}),                               # no output channels
        ((0, 3) + L, (0, 3) + k, {}),
        ((2, 3) + (0,) * spatial, (4, 3) + k, dict(padding=1)),     # no positions
        ((2, 3, 0) + L[1:], (4, 3) + k, dict(padding=2)),
        ((0, 3, 0) + L[1:], (4, 3) + k, dict(padding=2)),           # … in an empty batch
        ((2, 0, 0) + L[1:], (4, 0) + k, dict(padding=2)),
        ((2, 3) + L, (4, 3) + (0,) * spatial, {}),                  # an empty kernel
    ]


CONV_CASES = [(spatial, *case) for spatial in (1, 2) for case in conv_cases(spatial)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("spatial,x_shape,w_shape,kwargs", CONV_CASES,
                         ids=[f"conv{c[0]}d-{c[1]}-{c[2]}-{c[3]}" for c in CONV_CASES])
def test_empty_convolutions_match_torch(spatial, x_shape, w_shape, kwargs, dtype):
    mine, theirs = (F.conv1d, TF.conv1d) if spatial == 1 else (F.conv2d, TF.conv2d)
    arrays = [_ones(x_shape), _ones(w_shape), _ones(w_shape[:1])]
    check_like_torch(lambda x, w, b: mine(x, w, b, **kwargs),
                     lambda x, w, b: theirs(x, w, b, **kwargs), *arrays, dtype=dtype)


def transpose_cases(spatial):
    L, k = (4,) * spatial, (3,) * spatial
    return [
        ((0, 3) + L, (3, 2) + k, dict(stride=2)),
        ((0, 4) + L, (4, 1) + k, dict(groups=2, padding=1)),
        ((2, 0) + L, (0, 2) + k, {}),
        ((0, 0) + L, (0, 2) + k, {}),
        ((0,) + L, (0, 2) + k, {}),
        ((2, 3) + L, (3, 0) + k, {}),
        ((2, 3) + (0,) * spatial, (3, 2) + k, {}),
    ]


TRANSPOSE_CASES = [(spatial, *case) for spatial in (1, 2) for case in transpose_cases(spatial)]


@pytest.mark.parametrize("spatial,x_shape,w_shape,kwargs", TRANSPOSE_CASES,
                         ids=[f"conv_transpose{c[0]}d-{c[1]}-{c[2]}-{c[3]}"
                              for c in TRANSPOSE_CASES])
def test_empty_transposed_convolutions_match_torch(spatial, x_shape, w_shape, kwargs):
    mine, theirs = ((F.conv_transpose1d, TF.conv_transpose1d) if spatial == 1
                    else (F.conv_transpose2d, TF.conv_transpose2d))
    bias_size = w_shape[1] * kwargs.get("groups", 1)
    check_like_torch(lambda x, w, b: mine(x, w, b, **kwargs),
                     lambda x, w, b: theirs(x, w, b, **kwargs),
                     _ones(x_shape), _ones(w_shape), _ones((bias_size,)))


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")
@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("x_shape", [(0, 2, 5, 5), (2, 0, 5, 5), (0, 0, 5, 5)])
def test_empty_conv_modules_match_torch(padding_mode, x_shape):
    channels = x_shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # torch: "Initializing zero-element tensors"
        theirs = torch.nn.Conv2d(channels, 3, 3, padding=1, padding_mode=padding_mode,
                                 dtype=torch.float64)
    mine = nn.Conv2d(channels, 3, 3, padding=1, padding_mode=padding_mode, dtype=np.float64)
    mine.weight.data[...] = theirs.weight.detach().numpy()
    mine.bias.data[...] = theirs.bias.detach().numpy()
    check_like_torch(mine, theirs, _ones(x_shape))


# ------------------------------------------------------------------ pools
POOLS = {
    "max_pool1d": (1, dict(kernel_size=2)),
    "max_pool1d indices": (1, dict(kernel_size=2, return_indices=True)),
    "max_pool2d": (2, dict(kernel_size=2)),
    "max_pool2d indices": (2, dict(kernel_size=2, return_indices=True)),
    "avg_pool1d": (1, dict(kernel_size=2)),
    "avg_pool2d": (2, dict(kernel_size=2)),
    "adaptive_avg_pool1d": (1, dict(output_size=2)),
    "adaptive_avg_pool1d to 0": (1, dict(output_size=0)),
    "adaptive_avg_pool2d": (2, dict(output_size=2)),
    "adaptive_avg_pool2d pair": (2, dict(output_size=(2, 2))),
    "adaptive_avg_pool2d None": (2, dict(output_size=(None, 2))),
    "adaptive_avg_pool2d to 0": (2, dict(output_size=(0, 0))),
    "adaptive_avg_pool2d triple": (2, dict(output_size=(2, 2, 2))),
}


def pool_shapes(spatial):
    """Every empty axis of a batched and an unbatched input, then every rank from 0 to 5."""
    L = (4,) * spatial
    empty = [(0, 3) + L, (2, 0) + L, (0, 0) + L, (0,) + L, (3,) + (0,) * spatial,
             (2, 3) + (0,) * spatial, (2, 3, 0) + L[1:]]
    ranks = [(4,) * rank for rank in range(6)]
    return empty + ranks


POOL_CASES = [(name, shape) for name, (spatial, _) in POOLS.items()
              for shape in pool_shapes(spatial)]


@pytest.mark.parametrize("name,shape", POOL_CASES, ids=[f"{n}-{s}" for n, s in POOL_CASES])
def test_empty_and_wrong_rank_pools_match_torch(name, shape):
    op = name.split()[0]
    kwargs = POOLS[name][1]
    check_like_torch(lambda x: getattr(F, op)(x, **kwargs),
                     lambda x: getattr(TF, op)(x, **kwargs), _ones(shape))


def test_adaptive_avg_pool2d_on_a_2d_input_raises_value_error_as_torch():
    # PyTorch fills a tuple output_size from the input's trailing sizes first, and refuses
    # an input with too few dimensions for it: ValueError, not RuntimeError.
    message = check_raises_like(lambda: F.adaptive_avg_pool2d(cg.tensor(np.ones((4, 4))), (2, 2)),
                                lambda: TF.adaptive_avg_pool2d(torch.ones(4, 4), (2, 2)),
                                "adaptive_avg_pool2d", "at least 3")
    assert "[4, 4]" in message
