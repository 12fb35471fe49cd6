"""The fast convolution routes agree with PyTorch, and are really the ones taken.

Stride-1 convolutions run one GEMM per kernel tap on a channels-last grid
(``kernels/conv_grid.py``); stride-2 ones the same over the input's four phases
(``kernels/conv_phases.py``); everything else through im2col.  Each case below checks the
output and all three gradients against torch and counts that the intended route ran.
"""
import numpy as np
import pytest
import torch

import convgrad as cg
import convgrad.functional as F
from convgrad.kernels import conv_grid, conv_phases
from parity import channels_last, check_op


@pytest.fixture
def route_calls(monkeypatch):
    calls = {"grid": 0, "phases": 0}

    def counting(module, name, key):
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            calls[key] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)

    counting(conv_grid, "conv_forward", "grid")
    counting(conv_phases, "conv_forward", "phases")
    return calls


GRID_CASES = [
    ("3x3 pad 1", (2, 5, 7, 9), (6, 5, 3, 3), dict(padding=1)),
    ("same, dilated, even kernel", (3, 8, 6, 5), (4, 8, 2, 3), dict(padding="same", dilation=(2, 1))),
    ("asymmetric padding", (2, 4, 5, 5), (3, 4, 3, 3), dict(padding=(0, 2))),
    ("valid", (2, 6, 6, 7), (3, 6, 3, 2), {}),
    ("1x1", (1, 4, 4, 4), (2, 4, 1, 1), {}),
    ("1-D same dilated", (2, 6, 11), (3, 6, 4), dict(padding="same", dilation=3)),
    ("1-D pad 2", (2, 6, 11), (3, 6, 3), dict(padding=2)),
]
PHASE_CASES = [
    ("3x3 pad 1 even size", (2, 5, 8, 8), (6, 5, 3, 3), dict(stride=2, padding=1)),
    ("3x3 pad 1 odd size", (3, 8, 7, 9), (4, 8, 3, 3), dict(stride=2, padding=1)),
    ("4x3 uneven padding", (2, 6, 11, 10), (3, 6, 4, 3), dict(stride=2, padding=(2, 0))),
    ("5x5 pad 2", (1, 4, 9, 9), (2, 4, 5, 5), dict(stride=2, padding=2)),
]


def _conv(lib, x, w, b, kwargs):
    fn = lib.conv1d if x.ndim == 3 else lib.conv2d
    return fn(x, w, b, **kwargs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", [None, "channels_last"])
@pytest.mark.parametrize("route,name,x_shape,w_shape,kwargs",
                         [("grid", *case) for case in GRID_CASES]
                         + [("phases", *case) for case in PHASE_CASES],
                         ids=[f"grid-{c[0]}" for c in GRID_CASES]
                         + [f"phases-{c[0]}" for c in PHASE_CASES])
def test_route_matches_torch(route, name, x_shape, w_shape, kwargs, dtype, layout, rng,
                             route_calls):
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape),
              rng.standard_normal(w_shape[0])]
    check_op(lambda x, w, b: _conv(F, x, w, b, kwargs),
             lambda x, w, b: _conv(torch.nn.functional, x, w, b, kwargs), *arrays,
             dtype=dtype, layout=layout, atol=2e-5 if dtype == np.float32 else None)
    assert route_calls[route] == 1
    assert route_calls["grid" if route == "phases" else "phases"] == (route == "phases")


def test_first_layer_skips_the_input_gradient(rng):
    x = cg.tensor(rng.standard_normal((2, 4, 6, 6)))            # data: no gradient wanted
    w = cg.tensor(rng.standard_normal((3, 4, 3, 3)), requires_grad=True)
    for stride in (1, 2):
        F.conv2d(x, w, padding=1, stride=stride).sum().backward()
        assert x.grad is None and w.grad is not None


def test_outputs_are_channels_last_and_feed_the_next_layer(rng):
    x = rng.standard_normal((2, 6, 8, 8))
    w1, w2 = rng.standard_normal((8, 6, 3, 3)), rng.standard_normal((5, 8, 3, 3))
    h = F.conv2d(cg.tensor(x), cg.tensor(w1), padding=1)
    assert h.data.transpose(0, 2, 3, 1).flags.c_contiguous   # (N, H, W, C) memory
    check_op(lambda x, a, b: F.conv2d(F.conv2d(x, a, padding=1), b, stride=2, padding=1),
             lambda x, a, b: torch.nn.functional.conv2d(
                 torch.nn.functional.conv2d(x, a, padding=1), b, stride=2, padding=1),
             x, w1, w2)


def test_grid_route_on_a_resnet_sized_float32_layer(rng):
    x = rng.standard_normal((8, 16, 16, 16)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    fast = F.conv2d(cg.tensor(channels_last(x)), cg.tensor(w), padding=1).numpy()
    reference = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding=1).numpy()
    np.testing.assert_allclose(fast, reference, rtol=1e-4, atol=1e-4)
