"""Tensor and autograd: every operation against PyTorch, forward and backward."""
import numpy as np
import pytest
import torch

import convgrad as cg
from parity import check_op, check_raises_like, numerical_gradient, relative_error


@pytest.fixture
def arrays(rng):
    return lambda *shape: rng.standard_normal(shape)


# ---------------------------------------------------------------- creation and dtypes
def test_dtype_inference_matches_torch():
    cases = [1.5, [1.0, 2.0], [1, 2], np.arange(3.0), np.arange(3.0, dtype=np.float32),
             np.arange(3), [True, False], 3]
    for value in cases:
        assert str(cg.tensor(value).dtype) == str(torch.tensor(value).dtype).split(".")[1]


def test_float64_is_kept_and_float32_default():
    assert cg.tensor(np.ones(3)).dtype == np.float64
    assert cg.tensor([1.0]).dtype == np.float32
    assert (cg.tensor([1.0]) * 2.5).dtype == np.float32
    assert (cg.tensor(np.ones(2)) * cg.tensor([1.0, 2.0])).dtype == np.float64
    assert (cg.tensor([1, 2]) * 1.5).dtype == np.float32
    assert (cg.tensor([1, 2]) / cg.tensor([2, 2])).dtype == np.float32


def test_scalars_with_bool_and_unsigned_tensors_follow_torch():
    for make, op in [(lambda lib: lib.tensor([True, False]), lambda t: t + 2),
                     (lambda lib: lib.tensor([True, False]), lambda t: t * 2.5),
                     (lambda lib: lib.tensor(np.array([1, 200], np.uint8)), lambda t: t.sum())]:
        mine, theirs = op(make(cg)), op(make(torch))
        assert str(mine.dtype) == str(theirs.dtype).split(".")[1]
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def test_integer_tensors_cannot_require_grad():
    check_raises_like(lambda: cg.tensor([1, 2], requires_grad=True),
                      lambda: torch.tensor([1, 2], requires_grad=True), "floating point")


def test_attributes_and_conversions():
    x = cg.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    assert x.shape == (1, 3) and x.ndim == 2 and x.numel() == 3 and x.size(1) == 3
    assert x.is_leaf and x.grad_fn is None
    y = x * 2
    assert not y.is_leaf and "MulBackward0" in repr(y.grad_fn)
    assert y.sum().item() == 12.0
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    assert isinstance(x.detach().numpy(), np.ndarray)
    assert not x.detach().requires_grad
    assert repr(cg.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert "requires_grad=True" in repr(x)


# ---------------------------------------------------------------- element-wise
BINARY = [
    ("add", lambda a, b: a + b),
    ("sub", lambda a, b: a - b),
    ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b),
    ("rsub_scalar", lambda a, b: 2.0 - a * b),
    ("rdiv_scalar", lambda a, b: 3.0 / (a * a + 1) + b),
    ("maximum", lambda a, b: (cg if isinstance(a, cg.Tensor) else torch).maximum(a, b)),
    ("minimum", lambda a, b: (cg if isinstance(a, cg.Tensor) else torch).minimum(a, b)),
]


@pytest.mark.parametrize("name,fn", BINARY, ids=[b[0] for b in BINARY])
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((3, 1), (1, 5)),
                                    ((2, 1, 4), (3, 1)), ((), (2, 3))])
def test_binary_broadcasting(name, fn, shapes, arrays):
    check_op(fn, fn, arrays(*shapes[0]), arrays(*shapes[1]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_float32_and_float64(dtype, arrays):
    check_op(lambda a, b: a * b + a / (b * b + 1), lambda a, b: a * b + a / (b * b + 1),
             arrays(4, 5), arrays(5), dtype=dtype)


def test_pow_variants(rng):
    x = rng.uniform(0.5, 2.0, (3, 4))
    y = rng.uniform(-1.0, 2.0, (3, 4))
    for p in [2, 3.5, -1.5, 0, 0.5]:
        check_op(lambda a: a ** p, lambda a: a ** p, x)
    check_op(lambda a, b: a ** b, lambda a, b: a ** b, x, y)
    check_op(lambda b: 2.0 ** b, lambda b: 2.0 ** b, y)
    # At 0 with exponent 0 and 2, PyTorch's conventions: gradient 0 and 0.
    check_op(lambda a: a ** 0 + a ** 2, lambda a: a ** 0 + a ** 2, np.zeros(3))


UNARY = [
    ("neg", lambda t: -t, None),
    ("exp", lambda t: t.exp(), None),
    ("log", lambda t: t.log(), "positive"),
    ("sqrt", lambda t: t.sqrt(), "positive"),
    ("abs", lambda t: t.abs(), None),
    ("relu", lambda t: t.relu(), None),
    ("sigmoid", lambda t: t.sigmoid(), None),
    ("tanh", lambda t: t.tanh(), None),
    ("clamp", lambda t: t.clamp(-0.5, 0.7), None),
    ("clamp_min", lambda t: t.clamp(min=0.1), None),
    ("clamp_max", lambda t: t.clamp(max=0.1), None),
]


@pytest.mark.parametrize("name,fn,domain", UNARY, ids=[u[0] for u in UNARY])
def test_unary(name, fn, domain, rng):
    x = rng.standard_normal((4, 5))
    if domain == "positive":
        x = np.abs(x) + 0.1
    check_op(fn, fn, x)
    check_op(fn, fn, x, dtype=np.float32)


def test_kinks_follow_torch():
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.0])
    for fn in [lambda t: t.abs(), lambda t: t.relu(), lambda t: t.clamp(0.0, 1.0)]:
        check_op(fn, fn, x)


def test_comparisons_give_bool_without_grad(rng):
    a = cg.tensor(rng.standard_normal(5), requires_grad=True)
    for result in [a > 0, a >= 0, a < 0, a <= 0, a == a, a != 0]:
        assert result.dtype == np.bool_ and not result.requires_grad
    np.testing.assert_array_equal((a > 0).numpy(), a.data > 0)


# ---------------------------------------------------------------- matmul
@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 5)), ((4,), (4,)), ((4,), (4, 2)),
                                   ((3, 4), (4,)), ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)),
                                   ((1, 3, 4), (2, 4, 5)), ((5,), (2, 5, 3))])
def test_matmul(sa, sb, arrays):
    check_op(lambda a, b: a @ b, lambda a, b: a @ b, arrays(*sa), arrays(*sb))


def test_matmul_shape_error():
    a, b = np.ones((2, 3)), np.ones((4, 5))
    check_raises_like(lambda: cg.tensor(a) @ cg.tensor(b), lambda: torch.tensor(a) @ torch.tensor(b),
                      "2x3", "4x5")


# ---------------------------------------------------------------- reductions
@pytest.mark.parametrize("dim", [None, 0, 1, -1, (0, 2), (1, -1)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_sum_mean_var(dim, keepdim, arrays):
    x = arrays(3, 4, 5)
    for name in ["sum", "mean", "var"]:
        if dim is None and keepdim:
            continue  # torch.sum(dim=None, keepdim=True) is not an overload
        kwargs = {} if dim is None else {"dim": dim, "keepdim": keepdim}
        check_op(lambda t: getattr(t, name)(**kwargs), lambda t: getattr(t, name)(**kwargs), x)


def test_var_corrections(arrays):
    x = arrays(4, 6)
    for kwargs in [dict(dim=1, unbiased=False), dict(dim=0, correction=0), dict(dim=1, correction=2)]:
        check_op(lambda t: t.var(**kwargs), lambda t: t.var(**kwargs), x)
    check_op(lambda t: t.std(dim=1), lambda t: t.std(dim=1), x)


def test_max_min_with_dim_route_gradient_to_index(arrays):
    x = arrays(3, 4, 5)
    for dim in [0, 1, -1]:
        for keepdim in [False, True]:
            check_op(lambda t: t.max(dim, keepdim), lambda t: t.max(dim, keepdim), x)
            check_op(lambda t: t.min(dim, keepdim), lambda t: t.min(dim, keepdim), x)


def test_max_ties_and_full_reduction():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    check_op(lambda t: t.max(), lambda t: t.max(), x)  # ties share the gradient evenly
    check_op(lambda t: t.max(1), lambda t: t.max(1), x)  # first maximum gets all of it
    check_op(lambda t: t.amax(dim=1), lambda t: t.amax(dim=1), x)
    check_op(lambda t: t.amin(dim=(0, 1)), lambda t: t.amin(dim=(0, 1)), x)
    nan = np.array([[1.0, np.nan, 2.0]])
    check_op(lambda t: t.max(1), lambda t: t.max(1), nan, grad=False)


def test_argmax_argmin(arrays):
    x = arrays(3, 5)
    for dim in [None, 0, 1]:
        np.testing.assert_array_equal(cg.tensor(x).argmax(dim).numpy(),
                                      torch.tensor(x).argmax(dim).numpy())
        np.testing.assert_array_equal(cg.tensor(x).argmin(dim).numpy(),
                                      torch.tensor(x).argmin(dim).numpy())


def test_reduction_dim_errors():
    x = np.ones((2, 3))
    check_raises_like(lambda: cg.tensor(x).sum(2), lambda: torch.tensor(x).sum(2), "range", "2")
    check_raises_like(lambda: cg.tensor(x).max(-3), lambda: torch.tensor(x).max(-3), "-3")


# ---------------------------------------------------------------- shapes and indexing
SHAPE_OPS = [
    ("reshape", lambda t: t.reshape(4, 6)),
    ("reshape_neg", lambda t: t.reshape(-1, 3)),
    ("view_tuple", lambda t: t.view((2, 12))),
    ("permute", lambda t: t.permute(2, 0, 1)),
    ("transpose", lambda t: t.transpose(0, 2)),
    ("flatten", lambda t: t.flatten()),
    ("flatten1", lambda t: t.flatten(1)),
    ("unsqueeze", lambda t: t.unsqueeze(1)),
    ("unsqueeze_neg", lambda t: t.unsqueeze(-1)),
    ("squeeze", lambda t: t.unsqueeze(0).squeeze()),
    ("squeeze_dim", lambda t: t.unsqueeze(2).squeeze(2)),
    ("squeeze_noop", lambda t: t.squeeze(0)),
    ("expand", lambda t: t[:, :1].expand(2, 3, 4)),
    ("T", lambda t: t.reshape(6, 4).T),
    ("slice", lambda t: t[:, 1:, ::2]),
    ("int_index", lambda t: t[1, 2]),
    ("neg_index", lambda t: t[-1]),
    ("ellipsis", lambda t: t[..., 1]),
    ("none_index", lambda t: t[None, 0]),
]


@pytest.mark.parametrize("name,fn", SHAPE_OPS, ids=[s[0] for s in SHAPE_OPS])
def test_shape_ops(name, fn, arrays):
    check_op(fn, fn, arrays(2, 3, 4))


def test_advanced_indexing_accumulates_repeats(arrays):
    x = arrays(5, 3)
    idx = np.array([0, 2, 2, 4, 0])
    check_op(lambda t: t[cg.tensor(idx)], lambda t: t[torch.tensor(idx)], x)
    check_op(lambda t: t[[1, 1, 3], [0, 2, 0]], lambda t: t[[1, 1, 3], [0, 2, 0]], x)
    mask = x > 0
    check_op(lambda t: t[cg.tensor(mask)], lambda t: t[torch.tensor(mask)], x)


def test_cat_and_stack(arrays):
    a, b, c = arrays(2, 3), arrays(4, 3), arrays(1, 3)
    check_op(lambda *t: cg.cat(t, 0), lambda *t: torch.cat(t, 0), a, b, c)
    p, q = arrays(2, 3), arrays(2, 3)
    for dim in [0, 1, 2, -1]:
        check_op(lambda *t: cg.stack(t, dim), lambda *t: torch.stack(t, dim), p, q)
        if dim < 2:
            check_op(lambda *t: cg.cat(t, dim), lambda *t: torch.cat(t, dim), p, q)


def test_shape_errors():
    x = np.ones((2, 3))
    check_raises_like(lambda: cg.tensor(x).reshape(4, 2), lambda: torch.tensor(x).reshape(4, 2),
                      r"\[4, 2\]", "6")
    check_raises_like(lambda: cg.cat([cg.tensor(x), cg.tensor(np.ones((2, 4)))]),
                      lambda: torch.cat([torch.tensor(x), torch.ones(2, 4, dtype=torch.float64)]),
                      "size 3", "size 4")
    check_raises_like(lambda: cg.stack([cg.tensor(x), cg.tensor(np.ones((3, 2)))]),
                      lambda: torch.stack([torch.tensor(x), torch.ones(3, 2, dtype=torch.float64)]),
                      r"\[2, 3\]", r"\[3, 2\]")
    check_raises_like(lambda: cg.tensor(x)[5], lambda: torch.tensor(x)[5], "5")


# ---------------------------------------------------------------- autograd engine
def test_gradients_accumulate_across_uses_and_calls():
    x = cg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    xt = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    for lib, t in [(cg, x), (torch, xt)]:
        (t * t + t).sum().backward()   # x used three times: 2x + 1
        (t * 3).sum().backward()       # a second backward adds 3
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy())
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.data + 4)


def test_shared_upstream_gradient_does_not_alias():
    # a + b hands the same gradient array to both leaves; later accumulation must not leak.
    a = cg.tensor([1.0, 2.0], requires_grad=True)
    b = cg.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    (a * 5).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [6.0, 6.0])
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0])


def test_long_chain_has_no_recursion_limit():
    x = cg.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001 ** 10_000], rtol=1e-3)


def test_deep_branching_graph():
    # Each step uses the previous result twice: naive recursion would also revisit nodes.
    x = cg.tensor([0.5], requires_grad=True)
    y = x
    for _ in range(2000):
        y = (y + y) * 0.5
    y.backward(cg.tensor([2.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0])


def test_tensor_feeding_paths_of_different_lengths():
    # h reaches the sum directly and through two more ops (a residual h + f(h)): its gradient
    # must be complete before it flows on to x, whatever order the traversal meets it in.
    def f(lib, t):
        h = t * 2
        return (h + (h * 3).tanh() * h).sum()

    check_op(lambda t: f(cg, t), lambda t: f(torch, t), np.array([0.3, -1.2, 0.7]))
    for depth in (1, 5, 50):
        def chain(lib, t, depth=depth):
            h = t.exp()
            branch = h
            for _ in range(depth):
                branch = branch * 0.9 + 0.1
            return (h * branch + h).sum()

        check_op(lambda t: chain(cg, t), lambda t: chain(torch, t), np.array([0.5, -0.5]))


def test_backward_twice_through_freed_graph_raises_like_torch():
    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = (x * x).sum()
        y.backward()
        y.backward()
    check_raises_like(lambda: run(cg), lambda: run(torch), "second time", "retain_graph")
    x = cg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])


def test_backward_needs_gradient_for_non_scalars():
    x = cg.tensor([1.0, 2.0], requires_grad=True)
    xt = torch.tensor([1.0, 2.0], requires_grad=True)
    check_raises_like(lambda: (x * 2).backward(), lambda: (xt * 2).backward(), "scalar")
    (x * 2).backward(cg.tensor([1.0, 10.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 20.0])


def test_no_grad_and_detach():
    x = cg.tensor([1.0], requires_grad=True)
    with cg.no_grad():
        y = x * 2
        with cg.enable_grad():
            z = x * 3
    assert not y.requires_grad and y.grad_fn is None and z.requires_grad

    @cg.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    assert cg.is_grad_enabled()
    w = x.detach() * 2
    assert not w.requires_grad


def test_retain_grad_on_intermediate():
    x = cg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_array_equal(h.grad.numpy(), 2 * h.data)


def test_centred_differences_agree_on_a_composite_function(rng):
    x0 = rng.standard_normal((3, 4))

    def f_cg(t):
        return ((t.tanh() @ t.T).exp().mean(1) * t.sum(1).abs()).var()

    def f_np(array):
        return f_cg(cg.tensor(array)).item()

    x = cg.tensor(x0.copy(), requires_grad=True)
    f_cg(x).backward()
    assert relative_error(x.grad.numpy(), numerical_gradient(f_np, x0.copy())) < 1e-6
