"""Each trace's formulas in the notes' notation, with its own stride, dilation and padding.

With stride 1, dilation 1, no padding and one channel a 2D convolution reads exactly as in
the notes, ``y[i, j] = Σ_σ Σ_τ x[i + σ, j + τ] · w[σ, τ]``; other settings show up as numbers
in the index (``x[2i + σ − 1, …]``), channels as a leading index and a sum over ``c``.
"""
from __future__ import annotations

OUT_VARS = {1: ("t",), 2: ("i", "j")}
TAP_VARS = {1: ("τ",), 2: ("σ", "τ")}
IN_VARS = {1: ("i",), 2: ("u", "v")}


def _scaled(coefficient: int, var: str) -> str:
    return var if coefficient == 1 else f"{coefficient}{var}"


def window_index(out_var, tap_var, stride, dilation, padding) -> str:
    """``t·s + τ·d − p`` with the numbers in: ``2t + τ − 1``."""
    text = f"{_scaled(stride, out_var)} + {_scaled(dilation, tap_var)}"
    return text + (f" − {padding}" if padding else "")


def _index(prefix, spatial) -> str:
    return ", ".join(list(prefix) + list(spatial))


def _sum(vars_) -> str:
    return "Σ_{" + ",".join(vars_) + "}" if len(vars_) > 1 else f"Σ_{vars_[0]}"


def conv(dims, stride, dilation, before, channels: bool, out_channels: bool, bias: bool):
    """Forward and gradient formulas of a convolution."""
    t, tau = OUT_VARS[dims], TAP_VARS[dims]
    where = [window_index(a, b, s, d, p) for a, b, s, d, p in zip(t, tau, stride, dilation, before)]
    c, o = (["c"] if channels else []), (["o"] if out_channels or channels else [])
    taps = " ".join(f"Σ_{v}" for v in tau)
    sum_c = "Σ_c " if channels else ""
    y_at = f"y[{_index(o, t)}]"
    x_at = f"x[{_index(c, where)}]"
    w_at = f"w[{_index(o + c, tau)}]"
    b_at = "b[o]" if o else "b"
    forward = f"{y_at} = {sum_c}{taps} {x_at} · {w_at}" + (f" + {b_at}" if bias else "")
    g_at = f"∂L/∂y[{_index(o, t)}]"
    gradients = {
        "weight": f"∂L/∂{w_at} = {_sum(t)} {g_at} · {x_at}",
        "input": (f"∂L/∂x[{_index(c, IN_VARS[dims])}] = Σ over "
                  f"{', '.join(o + list(t) + list(tau))} with "
                  f"{', '.join(f'{e} = {k}' for e, k in zip(where, IN_VARS[dims]))} of "
                  f"{g_at} · {w_at}"),
    }
    if bias:
        gradients["bias"] = f"∂L/∂{b_at} = {_sum(t)} {g_at}"
    return forward, gradients


def conv_transpose(dims, stride, dilation, padding, channels: bool, out_channels: bool,
                   bias: bool):
    """Forward and gradient formulas of a transposed convolution (scatter, then gather)."""
    i, tau, out = IN_VARS[dims], TAP_VARS[dims], OUT_VARS[dims]
    lands = [window_index(a, b, s, d, p) for a, b, s, d, p in zip(i, tau, stride, dilation,
                                                                  padding)]
    c, o = (["c"] if channels else []), (["o"] if out_channels or channels else [])
    x_at, w_at = f"x[{_index(c, i)}]", f"w[{_index(c + o, tau)}]"
    y_at = f"y[{_index(o, out)}]"
    b_at = "b[o]" if o else "b"
    condition = ", ".join(f"{e} = {v}" for e, v in zip(lands, out))
    forward = (f"{y_at} = Σ over {', '.join(c + list(i) + list(tau))} with {condition} of "
               f"{x_at} · {w_at}" + (f" + {b_at}" if bias else ""))
    g_at = f"∂L/∂y[{_index(o, lands)}]"
    gradients = {
        "weight": f"∂L/∂{w_at} = {_sum(i)} {x_at} · {g_at}  (outputs cropped away add nothing)",
        "input": f"∂L/∂{x_at} = Σ over {', '.join(o + list(tau))} of {g_at} · {w_at}",
    }
    if bias:
        gradients["bias"] = f"∂L/∂{b_at} = {_sum(out)} ∂L/∂y[{_index(o, out)}]"
    return forward, gradients


def pool(kind, dims, stride, dilation, padding, channels: bool):
    """Forward and gradient formulas of max or average pooling."""
    t, tau = OUT_VARS[dims], TAP_VARS[dims]
    where = [window_index(a, b, s, d, p) for a, b, s, d, p in zip(t, tau, stride, dilation,
                                                                  padding)]
    c = ["c"] if channels else []
    y_at, x_at = f"y[{_index(c, t)}]", f"x[{_index(c, where)}]"
    g_at = f"∂L/∂y[{_index(c, t)}]"
    x_in = f"∂L/∂x[{_index(c, IN_VARS[dims])}]"
    if kind == "max":
        forward = f"{y_at} = max over {','.join(tau)} of {x_at}   (padding is −∞; ties: first)"
        gradient = f"{x_in} = Σ of {g_at} over the windows where it is the maximum"
    else:
        forward = f"{y_at} = (1/N) {' '.join(f'Σ_{v}' for v in tau)} {x_at}   (padding is 0)"
        gradient = f"{x_in} = Σ of {g_at} / N over the windows that hold it"
    return forward, {"input": gradient}
