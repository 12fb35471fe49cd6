"""Traces (convgrad.explain): every number against PyTorch and convgrad's engine, plus the
trace's own bookkeeping (products sum to outputs, contributions sum to gradients)."""
import itertools
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import convgrad as cg
from convgrad import explain
from convgrad.explain import TraceError, TraceTooLarge

TOL = dict(rtol=1e-10, atol=1e-12)
NOTES_X = [[[0, 0, 0, 0], [1, 0, 0, 1], [0, 1, 1, 0], [0, 0, 0, 0]]]


# ------------------------------------------------------------------ reference engines
BACKENDS = ["torch", "convgrad"]


def _grads_torch(fn, arrays, g):
    tensors = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    out.backward(torch.tensor(g.reshape(out.shape)) if g is not None else torch.ones_like(out))
    return [out.detach().numpy()] + [None if t is None else t.grad.numpy() for t in tensors]


def _grads_convgrad(fn, arrays, g):
    tensors = [None if a is None else cg.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    (out * cg.tensor(g.reshape(out.shape))).sum().backward()
    return [out.detach().numpy()] + [None if t is None else t.grad.data for t in tensors]


def reference(backend, op, x, w, b, g, kw):
    """(output, grad_x, grad_w, grad_b) from the backend, for an unbatched trace input."""
    xb = x[None]
    if backend == "torch":
        mod, run = TF, _grads_torch
    else:
        import convgrad.functional as mod
        run = _grads_convgrad
    if op.startswith("conv") and not op.startswith("conv_transpose"):
        mode = kw.get("padding_mode", "zeros")
        conv = getattr(mod, op)
        args = {k: v for k, v in kw.items() if k != "padding_mode"}
        if mode != "zeros":
            # nn.Conv's rule: pad with the mode first, then convolve with padding 0; the amounts
            # come from torch's own module so the reference does not reuse the trace's maths.
            dims = x.ndim - 1
            module = (torch.nn.Conv1d if dims == 1 else torch.nn.Conv2d)(
                x.shape[0], w.shape[0], w.shape[2:], stride=args.get("stride", 1),
                padding=args.get("padding", 0), dilation=args.get("dilation", 1),
                groups=args.get("groups", 1), padding_mode=mode)
            pads = tuple(module._reversed_padding_repeated_twice)
            args["padding"] = 0

            def fn(xt, wt, bt):
                return conv(mod.pad(xt, pads, mode=mode), wt, bt, **args)
        else:
            def fn(xt, wt, bt):
                return conv(xt, wt, bt, **args)
        out, gx, gw, gb = run(fn, [xb, w, b], g)
    elif op.startswith("conv_transpose"):
        conv = getattr(mod, op)
        out, gx, gw, gb = run(lambda xt, wt, bt: conv(xt, wt, bt, **kw), [xb, w, b], g)
    else:
        pool = getattr(mod, op)
        out, gx = run(lambda xt: pool(xt, **kw), [xb], g)
        gw = gb = None
    return out[0], gx[0], gw, gb


def assert_trace_matches(trace, backend, op, x, w, b, g, kw):
    out, gx, gw, gb = reference(backend, op, x, w, b, g, kw)
    np.testing.assert_allclose(np.array(trace.output), out, err_msg="output", **TOL)
    np.testing.assert_allclose(np.array(trace.backward.grad_input), gx, err_msg="∂L/∂x", **TOL)
    if w is not None:
        np.testing.assert_allclose(np.array(trace.backward.grad_weight), gw, err_msg="∂L/∂w",
                                   **TOL)
    if b is not None:
        np.testing.assert_allclose(np.array(trace.backward.grad_bias), gb, err_msg="∂L/∂b", **TOL)
    assert_bookkeeping(trace)


def assert_bookkeeping(trace):
    """Each window's products add up to its output; each gradient's contributions to it."""
    output = np.array(trace.output)
    for window in trace.windows:
        terms = window.terms
        if trace.weight is not None:
            for term in terms:
                assert term.product == term.input.value * term.weight_value
            products = math.fsum(t.product for t in terms)
            expected = products + (window.bias or 0.0)
        elif trace.op.startswith("max"):
            real = [t.input.value for t in terms if t.input.kind != "outside"]
            expected = max(real) if not any(math.isnan(v) for v in real) else math.nan
            assert window.winner is not None and terms[window.winner].input.value == window.value \
                or math.isnan(window.value)
        else:
            counted = math.fsum(t.input.value for t in terms if t.input.kind != "outside")
            expected = counted / window.divisor
        assert window.value == pytest.approx(expected, rel=1e-12, abs=1e-12, nan_ok=True)
        assert output[window.output_index] == pytest.approx(window.value, nan_ok=True)
    back = trace.backward
    groups = [(back.input, back.grad_input)]
    if back.weight is not None:
        groups.append((back.weight, back.grad_weight))
    if back.bias is not None:
        groups.append((back.bias, back.grad_bias))
    g = np.array(back.grad_output)
    for gradients, totals in groups:
        totals = np.array(totals)
        for gradient in gradients:
            for c in gradient.contributions:
                assert c.grad_output == g[c.output_index]
                assert c.product == c.grad_output * c.factor
            assert math.fsum(c.product for c in gradient.contributions) == pytest.approx(
                gradient.total, rel=1e-12, abs=1e-12)
            assert totals[gradient.index] == gradient.total


# ------------------------------------------------------------------ the notes' examples
def test_notes_first_example():
    t = explain.conv2d(NOTES_X, [[[[1, 1], [1, 1]]]])
    assert t.output == [[[1.0, 0.0, 1.0], [2.0, 2.0, 2.0], [1.0, 2.0, 1.0]]]
    assert [a.substituted for a in t.axes] == ["⌊(4 + 2·0 − 1·(2−1) − 1)/1⌋ + 1 = 3"] * 2
    assert t.formula == "y[i, j] = Σ_σ Σ_τ x[i + σ, j + τ] · w[σ, τ]"
    window = t.window_at([0, 1, 0])  # x[1..2, 0..1] = [[1, 0], [0, 1]]
    assert [term.input.index for term in window.terms] == [(0, 1, 0), (0, 1, 1), (0, 2, 0),
                                                            (0, 2, 1)]
    assert [term.product for term in window.terms] == [1.0, 0.0, 0.0, 1.0]
    # every weight is reused at all 9 output positions: 9 contributions each
    assert all(len(gr.contributions) == 9 for gr in t.backward.weight)
    assert t.backward.grad_weight == [[[[3.0, 3.0], [3.0, 3.0]]]]
    assert_trace_matches(t, "torch", "conv2d", np.array(NOTES_X, float),
                         np.ones((1, 1, 2, 2)), None, np.ones((1, 3, 3)), {})


def test_notes_second_example_vertical_edge():
    x = np.array([[[0, 1, 1, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 1, 2, 0]]], float)
    w = np.array([[[[1, 0, -1], [1, 0, -1], [1, 0, -1]]]], float)
    t = explain.conv2d(x, w)
    assert t.output == [[[-3.0, 3.0], [-4.0, 3.0]]]
    assert_trace_matches(t, "torch", "conv2d", x, w, None, np.ones((1, 2, 2)), {})


def test_weight_gradient_is_the_notes_sum_over_outputs():
    """∂L/∂w[τ] = Σ_t ∂L/∂y[t] · x[t+τ]: the contributions list exactly those terms."""
    x = np.array([[3.0, -1.0, 2.0, 5.0, 4.0]])
    g = np.array([[0.5, -2.0, 1.0]])
    t = explain.conv1d(x, [[[1.0, 2.0, 3.0]]], grad_output=g)
    for tau, gradient in enumerate(t.backward.weight):
        assert [(c.output_index, c.grad_output, c.factor) for c in gradient.contributions] == [
            ((0, s), g[0, s], x[0, s + tau]) for s in range(3)]
        assert gradient.total == pytest.approx(sum(g[0, s] * x[0, s + tau] for s in range(3)))


# ------------------------------------------------------------------ convolutions, a grid
CONV_CASES = [
    # (dims, C_in, C_out, spatial, kernel, settings)
    (1, 1, 1, (6,), (3,), {}),
    (1, 2, 3, (7,), (2,), dict(stride=2, padding=1)),
    (1, 4, 2, (8,), (3,), dict(groups=2, dilation=2, padding=2)),
    (1, 2, 2, (5,), (4,), dict(padding="same")),
    (1, 1, 1, (5,), (3,), dict(padding="valid", stride=3)),
    (2, 1, 1, (4, 4), (2, 2), {}),
    (2, 2, 3, (5, 6), (3, 2), dict(stride=(2, 1), padding=(1, 0))),
    (2, 4, 4, (5, 5), (3, 3), dict(groups=4, padding=1)),
    (2, 2, 2, (6, 5), (2, 3), dict(dilation=(2, 1), padding=(2, 1), stride=(1, 2))),
    (2, 3, 2, (4, 5), (2, 4), dict(padding="same")),
    (2, 2, 4, (5, 5), (3, 3), dict(padding="same", dilation=2, groups=2)),
]
MODES = ["zeros", "reflect", "replicate", "circular"]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"{c[0]}d-{c[1]}-{c[2]}-{c[5]}")
@pytest.mark.parametrize("with_bias", [False, True])
def test_conv_matches(backend, mode, case, with_bias):
    dims, c_in, c_out, spatial, kernel, settings = case
    op = f"conv{dims}d"
    rng = np.random.default_rng(hash((dims, c_in, c_out, spatial, mode)) % 2**32)
    groups = settings.get("groups", 1)
    x = rng.standard_normal((c_in, *spatial))
    w = rng.standard_normal((c_out, c_in // groups, *kernel))
    b = rng.standard_normal(c_out) if with_bias else None
    t = explain.trace(op, x, w, b, padding_mode=mode, backward=False, **settings)
    g = rng.standard_normal(t.output_shape)
    t = explain.trace(op, x, w, b, padding_mode=mode, grad_output=g, **settings)
    kw = dict(settings, padding_mode=mode)
    assert_trace_matches(t, backend, op, x, w, b, g, kw)


def test_padding_cells_copy_their_source():
    x = np.arange(12.0).reshape(1, 3, 4)
    for mode in ("reflect", "replicate", "circular"):
        t = explain.conv2d(x, np.ones((1, 1, 3, 3)), padding=2,
                           padding_mode=mode, backward=False)
        expected = TF.pad(torch.tensor(x[None]), (2, 2, 2, 2), mode=mode)[0].numpy()
        assert np.array(t.padded_input.values, dtype=float).tolist() == expected.tolist()
        kinds = np.array(t.padded_input.kinds)
        assert (kinds == "input").sum() == x.size and kinds[0, 0, 0] == "padding"
        for window in t.windows:
            for term in window.terms:
                cell = term.input
                if cell.kind == "padding":
                    assert cell.value == x[cell.source]
                else:
                    assert cell.source is None and cell.value == x[cell.index]
    zero = explain.conv2d(x, np.ones((1, 1, 3, 3)), padding=1, backward=False)
    assert zero.padded_input.values[0][0][0] == 0.0 and zero.padded_input.sources[0][0][0] is None


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@given(st.data())
def test_conv2d_random_settings(data):
    c_per_group = data.draw(st.integers(1, 2))
    groups = data.draw(st.integers(1, 2))
    out_per_group = data.draw(st.integers(1, 2))
    kernel = data.draw(st.tuples(st.integers(1, 3), st.integers(1, 3)))
    dilation = data.draw(st.tuples(st.integers(1, 2), st.integers(1, 2)))
    stride = data.draw(st.tuples(st.integers(1, 3), st.integers(1, 3)))
    padding = data.draw(st.one_of(st.tuples(st.integers(0, 2), st.integers(0, 2)),
                                  st.just("same") if stride == (1, 1) else st.just("valid")))
    mode = data.draw(st.sampled_from(MODES))
    spatial = tuple(d * (k - 1) + 1 + data.draw(st.integers(0, 3))
                    for k, d in zip(kernel, dilation))
    if mode in ("reflect", "circular") and padding not in ("same", "valid"):
        spatial = tuple(max(n, p + 1) for n, p in zip(spatial, padding))
    if mode == "reflect" and padding == "same":
        spatial = tuple(max(n, d * (k - 1) + 1) for n, k, d in zip(spatial, kernel, dilation))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    x = rng.integers(-3, 4, (c_per_group * groups, *spatial)).astype(float)
    w = rng.integers(-2, 3, (out_per_group * groups, c_per_group, *kernel)).astype(float)
    b = rng.standard_normal(out_per_group * groups) if data.draw(st.booleans()) else None
    settings = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    t = explain.conv2d(x, w, b, padding_mode=mode, backward=False, **settings)
    g = rng.standard_normal(t.output_shape)
    t = explain.conv2d(x, w, b, padding_mode=mode, grad_output=g, **settings)
    assert_trace_matches(t, "torch", "conv2d", x, w, b, g, dict(settings, padding_mode=mode))


# ------------------------------------------------------------------ transposed convolutions
TRANSPOSE_CASES = [
    (1, 1, 1, (4,), (3,), {}),
    (1, 2, 3, (5,), (2,), dict(stride=2, padding=1, output_padding=1)),
    (1, 4, 4, (4,), (3,), dict(groups=2, dilation=2, stride=3, output_padding=2)),
    (2, 1, 1, (3, 3), (2, 2), dict(stride=2)),
    (2, 2, 2, (3, 4), (3, 2), dict(stride=(2, 1), padding=(1, 0), output_padding=(1, 0))),
    (2, 4, 2, (3, 3), (2, 3), dict(groups=2, dilation=(1, 2), padding=1)),
    (2, 1, 2, (2, 3), (3, 3), dict(stride=3, padding=2, output_padding=(2, 1))),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=lambda c: f"{c[0]}d-{c[1]}-{c[2]}-{c[5]}")
@pytest.mark.parametrize("with_bias", [False, True])
def test_conv_transpose_matches(backend, case, with_bias):
    dims, c_in, c_out, spatial, kernel, settings = case
    op = f"conv_transpose{dims}d"
    rng = np.random.default_rng(len(spatial) * 100 + c_in * 10 + c_out)
    groups = settings.get("groups", 1)
    x = rng.standard_normal((c_in, *spatial))
    w = rng.standard_normal((c_in, c_out // groups, *kernel))
    b = rng.standard_normal(c_out) if with_bias else None
    shape = explain.trace(op, x, w, b, backward=False, **settings).output_shape
    g = rng.standard_normal(shape)
    t = explain.trace(op, x, w, b, grad_output=g, **settings)
    assert_trace_matches(t, backend, op, x, w, b, g, settings)


def test_conv_transpose_scatter_view():
    """Each input cell i writes x[i]·w[τ] onto output i·s − p + τ·d (those inside the output)."""
    x = np.array([[1.0, 2.0, 3.0]])
    t = explain.conv_transpose1d(x, [[[1.0, 10.0, 100.0]]], stride=2, padding=1)
    assert t.output_shape == (1, 5)
    scattered = t.scatter((0, 1))
    assert [(o, term.tap, term.product) for o, term in scattered] == [
        ((0, 1), (0,), 2.0), ((0, 2), (1,), 20.0), ((0, 3), (2,), 200.0)]
    # x[0]·w[0] would land on −1: cropped by the padding, so it is in no window
    assert [(o, term.tap) for o, term in t.scatter((0, 0))] == [((0, 0), (1,)), ((0, 1), (2,))]


# ------------------------------------------------------------------ pooling
POOL_CASES = [
    (1, (7,), dict(kernel_size=2)),
    (1, (7,), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    (1, (8,), dict(kernel_size=2, stride=3, padding=1, ceil_mode=True)),
    (2, (4, 5), dict(kernel_size=2)),
    (2, (5, 5), dict(kernel_size=3, stride=2, padding=1)),
    (2, (5, 6), dict(kernel_size=(2, 3), stride=(2, 2), padding=(1, 1), ceil_mode=True)),
    (2, (6, 6), dict(kernel_size=2, stride=3, padding=1, ceil_mode=True)),
    (2, (4, 4), dict(kernel_size=(1, 3), stride=1, padding=(0, 1))),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", POOL_CASES, ids=lambda c: f"{c[0]}d-{c[1]}-{c[2]}")
@pytest.mark.parametrize("dilation", [1, 2])
def test_max_pool_matches(backend, case, dilation):
    dims, spatial, settings = case
    op = f"max_pool{dims}d"
    rng = np.random.default_rng(sum(spatial) + dilation)
    # small integers: ties happen, and the first maximum must win as in PyTorch
    x = rng.integers(-3, 3, (2, *spatial)).astype(float)
    kw = dict(settings, dilation=dilation)
    try:
        TF.__dict__[op](torch.tensor(x[None]), **kw)
    except RuntimeError:
        with pytest.raises(TraceError):
            explain.trace(op, x, **kw)
        return
    shape = explain.trace(op, x, backward=False, **kw).output_shape
    g = rng.standard_normal(shape)
    t = explain.trace(op, x, grad_output=g, **kw)
    assert_trace_matches(t, backend, op, x, None, None, g, kw)
    # the winner is the cell PyTorch's return_indices names (flat index in the unpadded plane)
    _, indices = TF.__dict__[op](torch.tensor(x[None]), return_indices=True, **kw)
    for window in t.windows:
        cell = window.terms[window.winner].input
        flat = np.ravel_multi_index(cell.index[1:], spatial)
        assert flat == indices[0][window.output_index].item()


AVG_CASES = [(case, count_include_pad, divisor_override)
             for case in POOL_CASES for count_include_pad in (True, False)
             for divisor_override in ((None,) if case[0] == 1 else (None, 3))]  # none in 1D


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case, count_include_pad, divisor_override", AVG_CASES,
                         ids=lambda v: str(v))
def test_avg_pool_matches(backend, case, count_include_pad, divisor_override):
    dims, spatial, settings = case
    op = f"avg_pool{dims}d"
    rng = np.random.default_rng(sum(spatial))
    x = rng.standard_normal((2, *spatial))
    kw = dict(settings, count_include_pad=count_include_pad)
    if divisor_override is not None:
        kw["divisor_override"] = divisor_override
    shape = explain.trace(op, x, backward=False, **kw).output_shape
    g = rng.standard_normal(shape)
    t = explain.trace(op, x, grad_output=g, **kw)
    assert_trace_matches(t, backend, op, x, None, None, g, kw)
    for window in t.windows:
        reason = window.divisor_reason
        assert ("divisor_override" in reason if divisor_override else
                f"count_include_pad={count_include_pad}" in reason)


def test_max_pool_ties_nan_and_minus_infinity_padding():
    t = explain.max_pool1d([[2.0, 2.0, 1.0, 1.0]], 4)
    assert t.windows[0].winner == 0  # ties go to the first
    t = explain.max_pool1d([[1.0, math.nan, 3.0, math.nan]], 4)
    assert math.isnan(t.output[0][0]) and t.windows[0].winner == 3  # as PyTorch's index: 3
    _, index = TF.max_pool1d(torch.tensor([[[1.0, math.nan, 3.0, math.nan]]]), 4,
                             return_indices=True)
    assert index.item() == 3
    t = explain.max_pool1d([[-5.0, -6.0]], 2, padding=1)
    padding_cell = t.windows[0].terms[0].input
    assert padding_cell.kind == "padding" and padding_cell.value == -math.inf
    assert t.output == [[-5.0, -6.0]]
    text = json.dumps(t.to_dict(), allow_nan=False)  # strict JSON: −∞ becomes a string
    assert '"-inf"' in text


def test_ceil_mode_window_past_the_padding_is_marked_outside():
    # L=6, k=2, s=3, p=1, ceil: windows start at -1, 2, 5; the last reaches 6 = L+p: outside
    t = explain.avg_pool1d([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]], 2, stride=3, padding=1,
                           ceil_mode=True)
    last = t.windows[-1]
    assert [term.input.kind for term in last.terms] == ["input", "padding"]
    t = explain.avg_pool1d([[1.0, 2.0, 3.0, 4.0, 5.0]], 2, stride=2, ceil_mode=True)
    last = t.windows[-1]
    assert [term.input.kind for term in last.terms] == ["input", "outside"]
    assert last.divisor == 1.0 and last.value == 5.0
    assert "ceil_mode" in " ".join(t.axes[0].notes)
    dropped = explain.max_pool1d([[1.0, 2.0, 3.0]], 2, stride=2, padding=1, ceil_mode=True)
    assert dropped.axes[0].substituted.endswith("= 3, then 2")


# ------------------------------------------------------------------ errors and bounds
IMPOSSIBLE = [
    ("conv2d", lambda m: m.conv2d(np.ones((1, 2, 2)), np.ones((1, 1, 3, 3))),
     lambda: TF.conv2d(torch.ones(1, 1, 2, 2), torch.ones(1, 1, 3, 3)), "at least 1"),
    ("same-stride", lambda m: m.conv2d(np.ones((1, 4, 4)), np.ones((1, 1, 2, 2)), stride=2,
                                       padding="same"),
     lambda: TF.conv2d(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 2, 2), stride=2,
                       padding="same"), "stride 1"),
    ("groups", lambda m: m.conv2d(np.ones((3, 4, 4)), np.ones((3, 1, 2, 2)), groups=2),
     lambda: TF.conv2d(torch.ones(1, 3, 4, 4), torch.ones(3, 1, 2, 2), groups=2), "groups=2"),
    ("channels", lambda m: m.conv1d(np.ones((3, 4)), np.ones((2, 2, 2))),
     lambda: TF.conv1d(torch.ones(1, 3, 4), torch.ones(2, 2, 2)), "3 channels"),
    ("pool-pad", lambda m: m.max_pool2d(np.ones((1, 4, 4)), 3, padding=2),
     lambda: TF.max_pool2d(torch.ones(1, 1, 4, 4), 3, padding=2), "half the kernel"),
    ("avg-pad", lambda m: m.avg_pool1d(np.ones((1, 4)), 2, padding=2),
     lambda: TF.avg_pool1d(torch.ones(1, 1, 4), 2, padding=2), "half the kernel"),
    ("output-padding", lambda m: m.conv_transpose1d(np.ones((1, 3)), np.ones((1, 1, 2)),
                                                    output_padding=1),
     lambda: TF.conv_transpose1d(torch.ones(1, 1, 3), torch.ones(1, 1, 2), output_padding=1),
     "output_padding"),
    ("transpose-crop", lambda m: m.conv_transpose1d(np.ones((1, 2)), np.ones((1, 1, 2)),
                                                    padding=3),
     lambda: TF.conv_transpose1d(torch.ones(1, 1, 2), torch.ones(1, 1, 2), padding=3),
     "at least 1"),
    ("reflect", lambda m: m.conv1d(np.ones((1, 3)), np.ones((1, 1, 3)), padding=3,
                                   padding_mode="reflect"),
     lambda: torch.nn.Conv1d(1, 1, 3, padding=3, padding_mode="reflect")(torch.ones(1, 1, 3)),
     "smaller than the input"),
    ("circular", lambda m: m.conv1d(np.ones((1, 3)), np.ones((1, 1, 3)), padding=4,
                                    padding_mode="circular"),
     lambda: torch.nn.Conv1d(1, 1, 3, padding=4, padding_mode="circular")(torch.ones(1, 1, 3)),
     "wrap around"),
    ("stride", lambda m: m.conv1d(np.ones((1, 3)), np.ones((1, 1, 1)), stride=0),
     lambda: TF.conv1d(torch.ones(1, 1, 3), torch.ones(1, 1, 1), stride=0), "stride"),
    ("divisor", lambda m: m.avg_pool2d(np.ones((1, 2, 2)), 2, divisor_override=0),
     lambda: TF.avg_pool2d(torch.ones(1, 1, 2, 2), 2, divisor_override=0), "divisor"),
]


@pytest.mark.parametrize("name, call, torch_call, mentions", IMPOSSIBLE,
                         ids=[c[0] for c in IMPOSSIBLE])
def test_impossible_settings_raise_where_torch_does(name, call, torch_call, mentions):
    with pytest.raises(Exception):
        torch_call()
    with pytest.raises(TraceError, match=mentions) as info:
        call(explain)
    assert "\n" not in str(info.value)


def test_bad_arrays_and_unknown_ops():
    with pytest.raises(TraceError, match="rectangular"):
        explain.conv1d([[1.0, 2.0], [3.0]], [[[1.0]]])
    with pytest.raises(TraceError, match="3 dimensions"):
        explain.conv2d([[1.0, 2.0]], [[[[1.0]]]])
    with pytest.raises(TraceError, match="bias"):
        explain.conv1d([[1.0, 2.0]], [[[1.0]]], bias=[1.0, 2.0])
    with pytest.raises(TraceError, match="grad_output"):
        explain.conv1d([[1.0, 2.0]], [[[1.0]]], grad_output=[[1.0]])
    with pytest.raises(TraceError, match="unknown operation"):
        explain.trace("conv3d", [[1.0]], [[[1.0]]])


def test_size_bound():
    x = np.zeros((4, 30, 30))
    w = np.zeros((4, 4, 3, 3))
    with pytest.raises(TraceTooLarge, match="bound of 10000"):
        explain.conv2d(x, w, padding=1)
    with pytest.raises(TraceTooLarge, match="36 products, more than the bound of 30"):
        explain.conv2d(np.zeros((1, 4, 4)), np.zeros((1, 1, 3, 3)), max_products=30)
    with pytest.raises(TraceTooLarge, match="elements"):
        explain.max_pool1d(np.zeros((1, 5000)), 1, max_products=10**6)


# ------------------------------------------------------------------ the JSON form
def test_to_dict_is_strict_json_and_complete():
    t = explain.conv2d(NOTES_X, [[[[1, 1], [1, 1]]]], bias=[0.5], padding=1,
                       padding_mode="circular")
    d = json.loads(json.dumps(t.to_dict(), allow_nan=False))
    assert d["op"] == "conv2d" and d["output_shape"] == [1, 5, 5]
    assert d["axes"][0]["substituted"] == "⌊(4 + 2·1 − 1·(2−1) − 1)/1⌋ + 1 = 5"
    window = d["windows"][0]
    assert window["output_index"] == [0, 0, 0] and len(window["terms"]) == 4
    term = window["terms"][0]
    assert term["input"] == {"index": [0, -1, -1], "kind": "padding", "value": 0.0,
                             "source": [0, 3, 3]}
    assert set(d["backward"]) == {"grad_output", "weight", "bias", "input", "grad_weight",
                                  "grad_bias", "grad_input", "formulas"}
    assert d["backward"]["bias"][0]["total"] == 25.0
    assert d["windows"][0]["value"] == d["output"][0][0][0]


def test_windows_at():
    t = explain.conv1d([[1.0, 2.0, 3.0]], [[[1.0]], [[2.0]]])
    assert [w.value for w in t.windows_at([1])] == [2.0, 4.0]
    assert [w.value for w in t.windows_at([1, 2])] == [6.0]
    with pytest.raises(TraceError, match="outside"):
        t.windows_at([0, 3])


@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_every_setting_combination_of_a_small_conv1d_matches_torch():
    """A dense sweep of one small case: stride × padding × dilation × mode."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 6))
    w = rng.standard_normal((2, 2, 3))
    checked = 0
    for stride, padding, dilation, mode in itertools.product([1, 2, 3], [0, 1, 2, "same"],
                                                             [1, 2], MODES):
        if padding == "same" and stride != 1:
            continue
        t = explain.conv1d(x, w, stride=stride, padding=padding, dilation=dilation,
                           padding_mode=mode)
        out, gx, gw, _ = reference("torch", "conv1d", x, w, None, np.ones(t.output_shape),
                                   dict(stride=stride, padding=padding, dilation=dilation,
                                        padding_mode=mode))
        np.testing.assert_allclose(np.array(t.output), out, **TOL)
        np.testing.assert_allclose(np.array(t.backward.grad_weight), gw, **TOL)
        np.testing.assert_allclose(np.array(t.backward.grad_input), gx, **TOL)
        checked += 1
    assert checked == 3 * 2 * 4 * 3 + 2 * 4
