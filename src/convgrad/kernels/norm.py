"""Batch normalisation as a fused forward/backward pair on NumPy arrays, optionally followed
by a residual addition and a ReLU in the same passes.

x has shape (N, C, *spatial); every channel c is normalised with statistics over the
m = N·∏spatial values that share it.

Training (statistics of this batch; they depend on x, so the gradient flows through them):
    μ_c = (1/m) Σ x,    σ²_c = (1/m) Σ (x − μ_c)²  (biased),    σ_c = √(σ²_c + ε)
    x̂ = (x − μ_c) / σ_c,    y = γ_c·x̂ + β_c
    ∂L/∂x = (γ_c/σ_c)/m · (m·g − Σg − x̂·Σ(g·x̂)),   ∂L/∂γ_c = Σ g·x̂,   ∂L/∂β_c = Σ g
Evaluation (running statistics μ_c, σ²_c are constants):
    y = γ_c·(x − μ_c)/σ_c + β_c,    ∂L/∂x = g·γ_c/σ_c,   ∂L/∂γ_c = Σ g·x̂,   ∂L/∂β_c = Σ g
(Σ runs over the batch and spatial positions of channel c.)

Fused with what follows it in a residual block, ``z = relu(y + r)`` (r optional):
    ∂L/∂y = ∂L/∂r = g_z · [z > 0]     (0 where z ≤ 0, as PyTorch's ReLU; NaN lets g through)
and the batch norm's gradients above take that ∂L/∂y as their g.  One graph node and one
pass over the output replace three operations (batch norm, addition, ReLU) and their
separate outputs.

How it is computed.  Batch norm does little arithmetic per element; its cost is the number of
passes over the big arrays (and, on small arrays, the number of NumPy calls), so each formula
is arranged to need few, and only x (and z, for the ReLU) is kept:

* forward: μ (one read), x − μ (the output's buffer), σ² from it (one read, plus its sum:
  the float32 rounding of μ leaves a residual mean, measured and removed — exact even for
  activations around 100 with σ ≈ 1), then z = (x − μ)·(γ/σ) + β in place, + r, max(·, 0);
* backward: g masked by the ReLU; Σg and Σg·x give Σg·x̂ = (Σg·x − μ·Σg)/σ, and
  ∂L/∂x = (γ/σ)·(g + (x − μ)·p + q)  with  p = −Σ(g·x̂)/(m·σ),  q = −Σg/m;
  x̂ itself is never stored nor rebuilt.  Far from zero (|μ| > 2σ) Σg·x − μ·Σg would cancel
  most of float32's digits, so there Σg·x̂ = (Σg·(x − μ_hi) − μ_lo·Σg)/σ, and the x − μ_hi
  matrix becomes ∂L/∂x's buffer.

Arrays may be channels-first (N, C, ...) or channels-last (what convgrad's convolutions
return: an (N, C, H, W) view of (N, H, W, C) memory); either way they are read in place, as
the channel matrices of ``kernels/channels.py``, and results keep x's layout.

On several worker threads (``parallel.py``) the passes over a big array are shared out: the
channel matrix is cut into row blocks (``ChannelView.row_blocks``), each block's passes run on
one worker and write only its own rows, and the reductions return per-block partial sums that
are added in float64, block by block in order (``summed_blocks``), so the results are the same
bits from run to run.  Forward: one phase for the sums, one for z (two plus one far from
zero); backward: one for the masked g and its sums, one for ∂L/∂x.  Below 100 000 numbers
(``parallel.pieces_for_pass``; the 1-D ResNets' 64 000) — or on one thread — there is one
block, computed exactly as before.  Measured on 2 threads: batch norm + ReLU forward and
backward on ResNet-20's first stage (1 048 576 numbers) 4.4 → 2.0 ms; a ResNet-20 step 187 →
171 ms (``benchmarks/networks.py --threads 2``).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .channels import ChannelView, channel_view, in_layout, is_channels_last, summed_blocks
from .parallel import run_blocks


class BatchNormCache(NamedTuple):
    training: bool
    view: ChannelView          # the input as a channel matrix — x̂ is never stored
    mean: np.ndarray           # μ_c used (batch or running), (C,), float64
    var: np.ndarray            # σ²_c used (batch: biased; or running), (C,), float64
    inv_std: np.ndarray        # 1/σ_c, (C,), float64
    weight: np.ndarray | None  # γ, (C,); None means γ = 1
    count: int                 # m = N·∏spatial
    out: np.ndarray | None = None   # z's channel matrix: its sign is the ReLU's mask


def _input_view(x: np.ndarray) -> ChannelView:
    """x as a channel matrix, in its own layout (copied only if it has neither)."""
    channels_last = is_channels_last(x)
    return channel_view(in_layout(x, channels_last), channels_last)


def _split_mean(view: ChannelView, mean64: np.ndarray):
    """``(μ_hi, μ_lo)``: μ rounded to x's dtype (shaped by ``view.vector``, to be subtracted
    from x) and the remainder μ − μ_hi.

    Subtracting μ_hi first is exact for x near μ; μ_lo then goes into a per-channel
    constant, so float32 loses nothing to cancellation when |μ| ≫ σ.
    """
    mean_hi = mean64.astype(view.matrix.dtype)
    return view.vector(mean_hi), mean64 - mean_hi


def _finish(matrix: np.ndarray, scale, shift, residual, relu: bool) -> None:
    """``z = matrix·scale + shift (+ r)``, then ``max(z, 0)`` if asked; in place (scale and
    shift already shaped by ``view.vector``; no scale: 1)."""
    if scale is not None:
        np.multiply(matrix, scale, out=matrix)
    np.add(matrix, shift, out=matrix)
    if residual is not None:
        np.add(matrix, residual, out=matrix)
    if relu:
        np.maximum(matrix, matrix.dtype.type(0), out=matrix)


def _matrix_like(a, view: ChannelView):
    """``a`` (x's shape) as a channel matrix of x's layout, copied only if it has another."""
    if a is None:
        return None
    channels_last = view.tiles > 0
    return channel_view(in_layout(a, channels_last), channels_last).matrix


def _rows(a, lo: int, hi: int):
    """Rows lo:hi of a channel matrix (None stays None)."""
    return None if a is None else a[lo:hi]


def batch_norm_train_forward(x: np.ndarray, weight, bias, eps: float, residual=None,
                             relu: bool = False):
    """Normalise with this batch's mean and biased variance; then ``+ residual`` and ReLU
    when asked.

    Returns ``(z, cache)``; ``cache.mean`` is μ and ``cache.var`` the biased σ², which the
    caller blends into the running statistics.
    """
    view = _input_view(x)
    matrix, dtype, blocks = view.matrix, view.matrix.dtype, view.row_blocks()
    count = x.size // x.shape[1]
    r = _matrix_like(residual, view)
    out = view.empty()

    def moments(lo, hi):
        part = matrix[lo:hi]
        return view.sum(part), view.dot(part, part)

    total, squares = summed_blocks(moments, blocks)
    mean = total / count
    var = squares / count - mean ** 2
    beta = 0.0 if bias is None else bias
    if _near_zero(mean, var):
        # σ² = E[x²] − μ² loses nothing when |μ| ≤ 2σ, and so does z = x·(γ/σ) + (β − μγ/σ)
        inv_std = 1.0 / np.sqrt(var + eps)
        scale = inv_std if weight is None else inv_std * weight
        scale_v = view.vector(scale.astype(dtype))
        shift_v = view.vector((beta - mean * scale).astype(dtype))

        def normalise(lo, hi):
            np.multiply(matrix[lo:hi], scale_v, out=out[lo:hi])
            _finish(out[lo:hi], None, shift_v, _rows(r, lo, hi), relu)

        run_blocks(normalise, blocks)
    else:
        mean_hi_v, mean_lo = _split_mean(view, mean)

        def centre(lo, hi):                         # out = x − μ_hi, for now
            part = out[lo:hi]
            np.subtract(matrix[lo:hi], mean_hi_v, out=part)
            return view.sum(part), view.dot(part, part)

        # Σ(x − μ_hi) = m·(μ − μ_hi) up to rounding: measure it rather than trust μ_lo.
        total, squares = summed_blocks(centre, blocks)
        residual_mean = total / count
        var = np.maximum(squares / count - residual_mean ** 2, 0.0)
        mean = mean - mean_lo + residual_mean
        inv_std = 1.0 / np.sqrt(var + eps)
        scale = inv_std if weight is None else inv_std * weight
        scale_v = view.vector(scale.astype(dtype))
        shift_v = view.vector((-residual_mean * scale + beta).astype(dtype))
        run_blocks(lambda lo, hi: _finish(out[lo:hi], scale_v, shift_v, _rows(r, lo, hi),
                                          relu), blocks)
    return view.array(out), BatchNormCache(True, view, mean, var, inv_std, weight, count,
                                           out if relu else None)


def _near_zero(mean, var) -> bool:
    """Whether every channel's |μ| ≤ 2σ: then E[x²] − μ² cancels at most a factor 5 of σ²
    (float32 keeps 5 significant digits), and x·γ/σ − μγ/σ rounds like (x − μ)·γ/σ; else
    the statistics and the output come from x − μ (one more pass each way)."""
    return bool(np.all(mean * mean <= 4.0 * var))


def batch_norm_eval_forward(x: np.ndarray, running_mean: np.ndarray, running_var: np.ndarray,
                            weight, bias, eps: float, residual=None, relu: bool = False):
    """Normalise with the running statistics: z = (x − μ)·(γ/σ) + β (+ residual, ReLU)."""
    view = _input_view(x)
    matrix, dtype = view.matrix, view.matrix.dtype
    mean = running_mean.astype(np.float64)
    inv_std = 1.0 / np.sqrt(running_var.astype(np.float64) + eps)
    scale = inv_std if weight is None else inv_std * weight
    mean_hi_v, mean_lo = _split_mean(view, mean)
    scale_v = view.vector(scale.astype(dtype))
    shift_v = view.vector((-mean_lo * scale + (0.0 if bias is None else bias)).astype(dtype))
    r = _matrix_like(residual, view)
    out = view.empty()

    def normalise(lo, hi):
        np.subtract(matrix[lo:hi], mean_hi_v, out=out[lo:hi])
        _finish(out[lo:hi], scale_v, shift_v, _rows(r, lo, hi), relu)

    run_blocks(normalise, view.row_blocks())
    cache = BatchNormCache(False, view, mean, running_var.astype(np.float64), inv_std, weight,
                           x.size // x.shape[1], out if relu else None)
    return view.array(out), cache


def _through_relu(masked: np.ndarray, g: np.ndarray, out: np.ndarray) -> None:
    """``masked`` = g where the ReLU's output z is positive (or NaN), 0 where z ≤ 0.
    (A product with the mask: NumPy's masked selections, ``np.where`` and
    ``copyto(where=)``, measured 10× slower here.)"""
    np.multiply(g, ~(out <= 0), out=masked)


def batch_norm_backward(dy: np.ndarray, cache: BatchNormCache, needs=(True, True, True)):
    """(∂L/∂x, ∂L/∂γ, ∂L/∂β, ∂L/∂y), each of the first three None where ``needs`` says it is
    not wanted (or γ/β absent).

    ∂L/∂y is the gradient that reached the batch norm's own output — ``dy`` itself without
    a ReLU, ``dy`` masked by it with one — and so the gradient of the residual too.
    Σg·x̂ = (Σg·x − μ·Σg)/σ comes from two reductions over g and x, or over g and x − μ
    far from zero (module docstring).
    """
    training, view, mean, _, inv_std, weight, count, out = cache
    need_x, need_weight, need_bias = needs
    matrix, dtype, blocks = view.matrix, view.matrix.dtype, view.row_blocks()
    g = _matrix_like(dy, view)
    if out is not None:
        incoming, g = g, np.empty_like(out)
    near_zero = _near_zero(mean, cache.var)
    need_sum_g_x = training or need_weight
    centred = mean_hi_v = mean_lo = None
    if need_sum_g_x and not near_zero:
        # Σg·x − μ·Σg would cancel (|μ| > 2σ): Σg·(x − μ_hi) − μ_lo·Σg instead
        centred = view.empty()
        mean_hi_v, mean_lo = _split_mean(view, mean)

    def sums(lo, hi):
        part = g[lo:hi]
        if out is not None:
            _through_relu(part, incoming[lo:hi], out[lo:hi])
        if not need_sum_g_x:
            return (view.sum(part),)
        if near_zero:
            return view.sum(part), view.dot(part, matrix[lo:hi])
        np.subtract(matrix[lo:hi], mean_hi_v, out=centred[lo:hi])
        return view.sum(part), view.dot(part, centred[lo:hi])

    sum_g, *sum_g_x = summed_blocks(sums, blocks)
    sum_g_xhat = None
    if need_sum_g_x:
        sum_g_xhat = (sum_g_x[0] - (mean if near_zero else mean_lo) * sum_g) * inv_std
    gain = inv_std if weight is None else inv_std * weight   # γ/σ
    gain_v = view.vector(gain.astype(dtype))
    dx = None
    if need_x:
        dx = centred if centred is not None and training else view.empty()
        if training:
            # ∂L/∂x = (γ/σ)·(g + (x − μ)·p + q), the x̂·Σ(g·x̂)/m term being (x − μ)·(−p):
            # near zero x·p + (q − μp); else (x − μ_hi)·p + (q − μ_lo·p) in x − μ_hi's buffer.
            p = -sum_g_xhat * inv_std / count
            q = -sum_g / count
            p_v = view.vector(p.astype(dtype))
            shift_v = view.vector((q - (mean if near_zero else mean_lo) * p).astype(dtype))

            def input_gradient(lo, hi):
                part = dx[lo:hi]
                if near_zero:
                    np.multiply(matrix[lo:hi], p_v, out=part)
                    _finish(part, None, shift_v, g[lo:hi], False)
                else:
                    _finish(part, p_v, shift_v, g[lo:hi], False)
                np.multiply(part, gain_v, out=part)
        else:
            def input_gradient(lo, hi):
                np.multiply(g[lo:hi], gain_v, out=dx[lo:hi])

        run_blocks(input_gradient, blocks)
        dx = view.array(dx)
    dweight = sum_g_xhat.astype(dtype) if need_weight and weight is not None else None
    dbias = sum_g.astype(dtype) if need_bias else None
    return dx, dweight, dbias, view.array(g)
