"""Every convolution route against the reference's loops and against PyTorch, route by route.

``kernels/conv_routes.py`` sends each convolution down the first route of its table that
applies.  For each route (and each path inside im2col: 1-D and 2-D, one group or several,
depthwise, an empty batch), hypothesis draws configurations that must take it — including
padding larger than the kernel, 1×1 inputs, channel counts at and around each route's
threshold, float32 and float64, dilation — asserts that the dispatcher took it, and compares
the output and all three gradients of that route, and of every other route of the table that
applies, with ``conv_loops`` (the notes' formula, one output at a time), which is itself
compared with PyTorch in float64.  The transposed convolution, which has one route, is held
to the adjoint of the same loops.
"""
from typing import NamedTuple

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import convgrad as cg
import convgrad.functional as F
from convgrad.kernels import conv as reference
from convgrad.kernels import blas, conv_routes, conv_transpose
from parity import channels_last, check_op

DTYPES = st.sampled_from([np.float64, np.float32])


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """PyTorch on one thread while these thousands of tiny convolutions run: its two-thread
    pool, on a machine busy with other work, took ~60 ms per call instead of ~0.2 ms."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


# ------------------------------------------------------------------ comparing
def assert_close(actual, expected, dtype, what):
    """Agreement to rounding: float64 to ~1e-10 of the largest value, float32 to ~1e-5."""
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == dtype, f"{what}: dtype {actual.dtype}, expected {np.dtype(dtype)}"
    tol = 1e-10 if dtype == np.float64 else 1e-5
    scale = max(1.0, float(np.abs(expected).max(initial=0)))
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * scale, err_msg=what)


def torch_conv(x, w, b, g, stride, padding, dilation, groups):
    """PyTorch's y and (∂L/∂x, ∂L/∂w, ∂L/∂b) for upstream g, in float64: the (before, after)
    padding as an explicit F.pad, then a convolution without padding."""
    xt, wt = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, w))
    bt = None if b is None else torch.tensor(b, dtype=torch.float64, requires_grad=True)
    flat = [amount for pair in reversed(padding) for amount in pair]
    conv = TF.conv1d if x.ndim == 3 else TF.conv2d
    y = conv(TF.pad(xt, flat), wt, bt, stride, 0, dilation, groups)
    y.backward(torch.tensor(g, dtype=torch.float64))
    grads = (xt.grad, wt.grad, None if bt is None else bt.grad)
    return y.detach().numpy(), tuple(None if t is None else t.numpy() for t in grads)


class Config(NamedTuple):
    """A drawn convolution, short enough to read in a failure report; ``arrays`` makes it."""

    input_shape: tuple
    weight_shape: tuple
    bias: bool
    stride: tuple
    padding: tuple          # (before, after) per axis
    dilation: tuple
    groups: int
    dtype: type
    seed: int

    def windows(self):
        return reference.conv_windows(self.input_shape[2:], self.weight_shape[2:], self.stride,
                                      self.padding, self.dilation)

    def arrays(self):
        """Input, weight, bias (or None) and an upstream gradient of the output's shape."""
        rng = np.random.default_rng(self.seed)
        x, w = (rng.standard_normal(shape).astype(self.dtype)
                for shape in (self.input_shape, self.weight_shape))
        b = rng.standard_normal(self.weight_shape[0]).astype(self.dtype) if self.bias else None
        g_shape = self.input_shape[:1] + self.weight_shape[:1] + self.windows().out_size
        return x, w, b, rng.standard_normal(g_shape).astype(self.dtype)


def expected_results(config: Config):
    """conv_loops' y and (∂L/∂x, ∂L/∂w, ∂L/∂b) in float64, checked against PyTorch's."""
    x, w, b, g = (None if a is None else a.astype(np.float64) for a in config.arrays())
    win, groups = config.windows(), config.groups
    expected = (reference.conv_loops(x, w, b, win, groups),
                *reference.conv_loops_backward(g, x, w, win, groups))
    torch_y, torch_grads = torch_conv(x, w, b, g, config.stride, config.padding,
                                      config.dilation, groups)
    for name, loops, theirs in zip(("y", "∂L/∂x", "∂L/∂w", "∂L/∂b"), expected,
                                   (torch_y, *torch_grads)):
        if theirs is not None:       # (no bias: no bias gradient)
            assert_close(loops, theirs, np.float64, f"the reference's {name} against torch")
    return expected if b is not None else expected[:3] + (None,)


def check_route(config: Config, expected, y, grads, route: str):
    for name, mine, loops in zip(("y", "∂L/∂x", "∂L/∂w", "∂L/∂b"), (y, *grads), expected):
        if loops is None:
            assert mine is None, f"{route}: a bias gradient without a bias"
        else:
            assert_close(mine, loops, config.dtype, f"{route}: {name}")


def check_every_route(config: Config, route: str):
    """The dispatcher takes ``route``; it, and every other route that applies, run directly
    from the table, equal the reference's loops (and those equal PyTorch)."""
    x, w, b, g = config.arrays()
    args = (config.stride, config.padding, config.dilation, config.groups)
    expected = expected_results(config)
    y, record = conv_routes.conv_forward(x, w, b, *args)
    assert record.route.name == route, f"the dispatcher took {record.route.name}, not {route}"
    grads = conv_routes.conv_backward(g, record, need_bias=b is not None)
    check_route(config, expected, y, grads, route)
    others = [other for other in conv_routes.ROUTES
              if other is not record.route and other.applies(x, w, *args)]
    for other in others:
        y, cache = other.forward(x, w, b, *args, True)
        grads = other.backward(g, cache, True, True, b is not None)
        check_route(config, expected, y, grads, other.name)


# ------------------------------------------------------------------ drawing configurations
def make_config(draw, batch, in_channels, out_channels, groups, kernel, stride, padding,
                dilation, lengths) -> Config:
    return Config((batch, in_channels) + tuple(lengths),
                  (out_channels, in_channels // groups) + tuple(kernel), draw(st.booleans()),
                  tuple(stride), tuple(tuple(pair) for pair in padding), tuple(dilation),
                  groups, draw(DTYPES), draw(st.integers(0, 2**32 - 1)))


def shortest(kernel, dilation, before, after):
    """The shortest input whose padded length holds one dilated window."""
    return max(1, dilation * (kernel - 1) + 1 - before - after)


@st.composite
def grid_configs(draw, spatial):
    """Stride 1, one group, at least 4 channels, a batch: the grid route.  Paddings up to two
    past the dilated kernel (both sides beyond d(k−1) once broke the grid); inputs down to
    1×1 where the padding allows; an input no shorter than its wider padding and than the
    output's excess over it, so that the grid is at most 4 times the image."""
    kernel, dilation, padding, lengths = [], [], [], []
    for _ in range(spatial):
        k, d = draw(st.integers(1, 3)), draw(st.integers(1, 2))
        before, after = (draw(st.integers(0, d * (k - 1) + 2)) for _ in range(2))
        low = max(shortest(k, d, before, after), before, after, before + after - d * (k - 1))
        kernel.append(k), dilation.append(d), padding.append((before, after))
        lengths.append(draw(st.integers(low, low + 4)))
    return make_config(draw, draw(st.integers(1, 3)), draw(st.integers(4, 7)),
                       draw(st.integers(1, 5)), 1, kernel, (1,) * spatial, padding, dilation,
                       lengths)


@st.composite
def phase_configs(draw):
    """Stride 2 in 2-D, no dilation, one group, at least 4 channels, a batch, a kernel of at
    least two rows: the phases route.  Paddings up to one past the kernel, either side."""
    kernel = (draw(st.integers(2, 5)), draw(st.integers(1, 5)))
    padding = tuple((draw(st.integers(0, k + 1)), draw(st.integers(0, k + 1))) for k in kernel)
    lengths = [draw(st.integers(low, low + 6))
               for low in (shortest(k, 1, *pair) for k, pair in zip(kernel, padding))]
    return make_config(draw, draw(st.integers(1, 3)), draw(st.integers(4, 6)),
                       draw(st.integers(1, 4)), 1, kernel, (2, 2), padding, (1, 1), lengths)


@st.composite
def im2col_configs(draw, spatial, grouped=False):
    """Convolutions no fast route takes.  With ``grouped``, 2 to 3 groups (depthwise among
    them); otherwise one group and one reason each: too few channels for the grid (1 to 3:
    the threshold is 4), a stride other than 1 (and, in 2-D, other than 2×2), an empty
    batch, padding that dwarfs a 1×1 input (a grid of 5×5 or more, 5 or more in 1-D, is
    over 4 times the input), or a stride-2 kernel too short or dilated for the phases."""
    reason = "groups" if grouped else draw(st.sampled_from(
        ["few channels", "stride", "empty batch", "padding dwarfs the input"]
        + (["one-row kernel at stride 2", "dilated at stride 2"] if spatial == 2 else [])))
    groups = draw(st.integers(2, 3)) if grouped else 1
    in_channels = groups * draw(st.integers(1, 2)) if grouped else draw(
        st.integers(1, 3) if reason == "few channels" else st.integers(4, 6))
    out_channels = groups * draw(st.integers(1, 2)) if grouped else draw(st.integers(1, 4))
    batch = 0 if reason == "empty batch" else draw(st.integers(1, 3))
    kernel = [draw(st.integers(1, 3)) for _ in range(spatial)]
    dilation = [draw(st.integers(1, 2)) for _ in range(spatial)]
    stride = [draw(st.integers(1, 3)) for _ in range(spatial)]
    if reason == "stride" and (all(s == 1 for s in stride) or stride == [2, 2]):
        stride[0] = 3
    if reason in ("one-row kernel at stride 2", "dilated at stride 2"):
        stride, kernel[0] = [2, 2], 1 if reason.startswith("one-row") else kernel[0]
        dilation = [2, 1] if reason.startswith("dilated") else dilation
    padding = [(draw(st.integers(0, d * (k - 1) + 2)), draw(st.integers(0, d * (k - 1) + 2)))
               for k, d in zip(kernel, dilation)]
    lengths = [draw(st.integers(low, low + 4))
               for low in (shortest(k, d, *pair) for k, d, pair in zip(kernel, dilation, padding))]
    if reason == "padding dwarfs the input":
        # a 1×1 input (1 in 1-D) with a 1-tap kernel: the grid would be ≥ 9 (≥ 5) cells
        stride, kernel, dilation, lengths = [1] * spatial, [1] * spatial, [1] * spatial, \
            [1] * spatial
        padding = [(draw(st.integers(1, 3)), draw(st.integers(3, 4))) for _ in range(spatial)]
    return make_config(draw, batch, in_channels, out_channels, groups, kernel, stride,
                       padding, dilation, lengths)


# Every route of the table, and the configurations that must take it.
ROUTE_CONFIGS = {
    "grid": [grid_configs(1), grid_configs(2)],
    "phases": [phase_configs()],
    "im2col": [im2col_configs(1), im2col_configs(2), im2col_configs(1, grouped=True),
               im2col_configs(2, grouped=True)],
}


def test_every_route_of_the_table_has_configurations_that_take_it():
    assert [route.name for route in conv_routes.ROUTES] == list(ROUTE_CONFIGS)
    assert conv_routes.ROUTES[-1].name == "im2col"     # the reference applies to everything


def _route_test(route, strategy):
    @given(strategy)
    def test(config):
        check_every_route(config, route)
    return test


test_grid_route_1d = _route_test("grid", grid_configs(1))
test_grid_route_2d = _route_test("grid", grid_configs(2))
test_phases_route = _route_test("phases", phase_configs())
test_im2col_route_1d = _route_test("im2col", im2col_configs(1))
test_im2col_route_2d = _route_test("im2col", im2col_configs(2))
test_im2col_route_grouped_1d = _route_test("im2col", im2col_configs(1, grouped=True))
test_im2col_route_grouped_2d = _route_test("im2col", im2col_configs(2, grouped=True))


# ------------------------------------------------------------------ thresholds, by name
@pytest.mark.parametrize("channels,stride,route", [
    (3, 1, "im2col"), (4, 1, "grid"), (5, 1, "grid"),
    (3, 2, "im2col"), (4, 2, "phases"), (5, 2, "phases"),
])
def test_the_channel_threshold_of_each_fast_route(channels, stride, route):
    check_every_route(Config((2, channels, 6, 6), (3, channels, 3, 3), False, (stride, stride),
                             ((1, 1), (1, 1)), (1, 1), 1, np.float64, seed=0), route)


# ------------------------------------------------------------------ transposed convolution
@st.composite
def transpose_configs(draw, spatial):
    """A valid conv_transpose: output_padding < max(stride, dilation), some output left."""
    groups = draw(st.integers(1, 3))
    in_channels, out_per_group = groups * draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kernel = [draw(st.integers(1, 4)) for _ in range(spatial)]
    stride = [draw(st.integers(1, 3)) for _ in range(spatial)]
    dilation = [draw(st.integers(1, 3)) for _ in range(spatial)]
    lengths = [draw(st.integers(1, 5)) for _ in range(spatial)]
    output_padding = [draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation)]
    padding = [draw(st.integers(0, min(3, ((n - 1) * s + d * (k - 1) + extra) // 2)))
               for n, s, d, k, extra in zip(lengths, stride, dilation, kernel, output_padding)]
    dtype = draw(DTYPES)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((draw(st.integers(0, 2)), in_channels, *lengths)).astype(dtype)
    w = rng.standard_normal((in_channels, out_per_group, *kernel)).astype(dtype)
    b = rng.standard_normal(out_per_group * groups).astype(dtype)
    return x, w, b, tuple(stride), tuple(padding), tuple(output_padding), tuple(dilation), \
        groups, dtype


@pytest.mark.parametrize("spatial", [1, 2])
def test_transposed_convolution_is_the_adjoint_of_the_reference(spatial):
    @given(transpose_configs(spatial))
    def check(config):
        x, w, b, stride, padding, output_padding, dilation, groups, dtype = config
        y, cache = conv_transpose.conv_transpose_forward(x, w, b, stride, padding, output_padding,
                                                    dilation, groups)
        g = np.random.default_rng(0).standard_normal(y.shape).astype(dtype)
        grads = conv_transpose.conv_transpose_backward(g, cache)
        # The convolution whose adjoint this is: its windows, and its loops read backwards.
        win = conv_transpose.conv_transpose_windows(x.shape[2:], w.shape[2:], stride, padding,
                                               output_padding, dilation)
        x64, w64, g64, b64 = (a.astype(np.float64) for a in (x, w, g, b))
        spread = reference.conv_loops_backward(x64, np.zeros(g.shape), w64, win, groups)[0]
        expected = (reference.conv_loops(g64, w64, None, win, groups),     # ∂L/∂x
                    reference.conv_loops_backward(x64, g64, w64, win, groups)[1],   # ∂L/∂w
                    g64.sum(axis=(0,) + tuple(range(2, g.ndim))))         # ∂L/∂b
        fn = TF.conv_transpose1d if spatial == 1 else TF.conv_transpose2d
        xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x64, w64, b64))
        yt = fn(xt, wt, bt, stride, padding, output_padding, groups, dilation)
        yt.backward(torch.tensor(g64))
        assert_close(y, spread + b64.reshape((-1,) + (1,) * spatial), dtype, "y")
        assert_close(spread + b64.reshape((-1,) + (1,) * spatial), yt.detach().numpy(),
                     np.float64, "the adjoint's y against torch")
        for name, mine, loops, theirs in zip(("∂L/∂x", "∂L/∂w", "∂L/∂b"), grads, expected,
                                             (xt.grad, wt.grad, bt.grad)):
            assert_close(loops, theirs.numpy(), np.float64, f"the adjoint's {name} vs torch")
            assert_close(mine, loops, dtype, name)

    check()


# ------------------------------------------------------------------ through the Tensor API
CASES = [
    ("grid 3x3 pad 1", (2, 5, 7, 9), (6, 5, 3, 3), dict(padding=1)),
    ("grid same, dilated, even kernel", (3, 8, 6, 5), (4, 8, 2, 3),
     dict(padding="same", dilation=(2, 1))),
    ("grid padding past the kernel", (2, 4, 5, 5), (8, 4, 3, 3), dict(padding=3)),
    ("grid 1x1 kernel padded", (2, 4, 3, 3), (3, 4, 1, 1), dict(padding=1)),
    ("grid 1-D same dilated", (2, 6, 11), (3, 6, 4), dict(padding="same", dilation=3)),
    ("grid 1-D padding past the kernel", (2, 4, 6), (3, 4, 2), dict(padding=3)),
    ("phases 3x3 pad 1 odd size", (3, 8, 7, 9), (4, 8, 3, 3), dict(stride=2, padding=1)),
    ("phases 4x3 uneven padding", (2, 6, 11, 10), (3, 6, 4, 3), dict(stride=2, padding=(2, 0))),
    ("im2col few channels", (2, 3, 6, 6), (4, 3, 3, 3), dict(padding=1)),
    ("im2col depthwise", (2, 4, 6, 6), (8, 1, 3, 3), dict(groups=4, padding=2)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", [None, "channels_last"])
@pytest.mark.parametrize("name,x_shape,w_shape,kwargs", CASES, ids=[c[0] for c in CASES])
def test_functional_conv_matches_torch_in_either_layout(name, x_shape, w_shape, kwargs, dtype,
                                                        layout, rng):
    mine, theirs = (F.conv1d, TF.conv1d) if len(x_shape) == 3 else (F.conv2d, TF.conv2d)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape),
              rng.standard_normal(w_shape[0])]
    check_op(lambda x, w, b: mine(x, w, b, **kwargs), lambda x, w, b: theirs(x, w, b, **kwargs),
             *arrays, dtype=dtype, layout=layout, atol=2e-5 if dtype == np.float32 else None)


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
             lambda x, a, b: TF.conv2d(TF.conv2d(x, a, padding=1), b, stride=2, padding=1),
             x, w1, w2)


def test_grid_route_on_a_resnet_sized_float32_layer(rng):
    x = rng.standard_normal((8, 16, 16, 16)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    assert conv_routes.choose_route(x, w, (1, 1), ((1, 1), (1, 1)), (1, 1), 1).name == "grid"
    fast = F.conv2d(cg.tensor(channels_last(x)), cg.tensor(w), padding=1).numpy()
    expected = TF.conv2d(torch.tensor(x), torch.tensor(w), padding=1).numpy()
    np.testing.assert_allclose(fast, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("x_shape, w_shape", [
    ((8, 16, 32, 32), (16, 16, 3, 3)),      # ResNet-20's first stage: 4 images per worker
    ((16, 32, 16, 16), (32, 32, 3, 3)),     # its second stage
    ((400, 32, 40), (32, 32, 3)),           # a 1-D layer big enough to be shared out
    ((9, 16, 32, 32), (16, 16, 3, 3)),      # 4 and 5 images
    ((5, 32, 32, 32), (32, 32, 3, 3)),      # too few to share evenly: rows, copied after
    ((1, 16, 96, 96), (16, 16, 3, 3)),      # one big image: rows, copied after
])
def test_grid_route_cut_into_runs_and_shared_over_two_workers(x_shape, w_shape, rng,
                                                              monkeypatch):
    """float32 layers on two workers, the per-tap products cut into runs for OpenBLAS's
    small-matrix kernels (the core named as one that has them, so that the runs are taken on
    any machine: the products compute the same sums either way), shared out by images with
    each worker copying its own images off the grid, or by rows — the same numbers as
    PyTorch's."""
    monkeypatch.setattr(blas, "core_name", lambda: "SkylakeX")
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = (rng.standard_normal(w_shape) / 10).astype(np.float32)
    g = rng.standard_normal(x_shape[:1] + w_shape[:1] + x_shape[2:]).astype(np.float32)
    padding = ((1, 1),) * (len(x_shape) - 2)
    assert conv_routes.choose_route(x, w, (1,) * len(padding), padding,
                                    (1,) * len(padding), 1).name == "grid"
    previous = cg.get_num_threads()
    try:
        cg.set_num_threads(2)
        xt, wt = cg.tensor(x, requires_grad=True), cg.tensor(w, requires_grad=True)
        conv = F.conv2d if len(x_shape) == 4 else F.conv1d
        y = conv(xt, wt, padding=1)
        y.backward(cg.tensor(g))
    finally:
        cg.set_num_threads(previous)
    expected_y, (expected_dx, expected_dw, _) = torch_conv(
        x, w, None, g, (1,) * len(padding), padding, (1,) * len(padding), 1)
    for actual, expected, what in ((y, expected_y, "y"), (xt.grad, expected_dx, "dL/dx"),
                                   (wt.grad, expected_dw, "dL/dw")):
        assert_close(actual.detach().numpy(), expected, np.float32, what)


def test_small_product_runs_only_where_openblas_has_small_matrix_kernels(monkeypatch):
    """The runs' length keeps m·n·k within OpenBLAS's 100³ bound for its small-matrix
    kernels, on the cores that have them, float32 only, and never below 512 rows."""
    monkeypatch.setattr(blas, "core_name", lambda: "SkylakeX")
    assert blas.small_product_rows(np.float32, 16, 16) == 1_000_000 // 256 == 3906
    assert blas.small_product_rows(np.float32, 32, 32) == 976
    assert blas.small_product_rows(np.float32, 16, 32) == 1953
    assert blas.small_product_rows(np.float32, 64, 64) is None       # 244 rows: not worth it
    assert blas.small_product_rows(np.float64, 16, 16) is None
    monkeypatch.setattr(blas, "core_name", lambda: "Haswell")
    assert blas.small_product_rows(np.float32, 16, 16) is None
