"""The trace data model: everything a step-by-step explanation shows, as plain data.

A *trace* is one operation (conv1d, conv2d, conv_transpose1d/2d, max_pool1d/2d,
avg_pool1d/2d) applied to one unbatched input, worked out the long way: the output-size
derivation per axis, every window's products and their sum, and — for an upstream gradient
(all ones by default) — every contribution that adds into each weight's, the bias's and each
input cell's gradient.  The terminal command (``convgrad explain``) and the web explorer
(``convgrad explore``) both read this model; neither recomputes anything.

Every class is a dataclass with ``to_dict()``; ``Trace.to_dict()`` is what the JSON API
serves.  In ``to_dict()`` output, tuples become lists and non-finite floats (−∞ padding of
max pooling, a NaN the user typed) become the strings ``"-inf"``, ``"inf"``, ``"nan"``, so
the result is strict JSON (``json.dumps(..., allow_nan=False)`` accepts it).

Conventions
-----------
* Layouts are PyTorch's, without the batch dimension: input ``(C_in, L)`` or
  ``(C_in, H, W)``; conv weight ``(C_out, C_in/groups, *k)``; transposed-conv weight
  ``(C_in, C_out/groups, *k)``; output ``(C_out, *out)``.
* An *index* is a list of ints, channel first: ``[c, i]`` (1D) or ``[c, i, j]`` (2D) for the
  input and the output; the full weight index ``[o, c_local, *τ]`` for a weight (``[c, o_local,
  *τ]`` for a transposed conv); ``[c]`` for a bias.
* Input coordinates are those of the *unpadded* input: a padding cell has a coordinate below
  0 or at/after the axis length along some axis (e.g. ``[0, -1, 2]``).
* Arrays (``input``, ``weight``, ``output``, gradients) are nested lists, shapes beside them.
* Lists of windows and gradients are in row-major (C order) of their index.
* Numbers are float64 (Python floats); the trace is a plain reference computation, checked
  by the tests against ``convgrad.functional`` and PyTorch.

Classes (field: meaning)
------------------------
``AxisSize`` — the output size along one spatial axis, derived with the values substituted.
    axis: ``"L"`` (1D) or ``"H"`` / ``"W"`` (2D) · input_size · kernel_size · stride ·
    padding: ``[before, after]`` (after ≠ before only for 'same' with an even total) ·
    dilation · output_padding (transposed conv, else None) · ceil_mode (pooling, else None) ·
    formula: the symbolic formula, e.g. ``⌊(H + 2p − d(k−1) − 1)/s⌋ + 1`` · substituted: the
    same with the numbers and its value, e.g. ``⌊(4 + 2·0 − 1·(2−1) − 1)/1⌋ + 1 = 3`` ·
    output_size · notes: list of sentences (how 'same' split its padding, a ceil_mode window
    that was dropped, what transposed-conv padding crops).

``Cell`` — one input cell as a window sees it.
    index: input coordinates (may lie in the padding) · kind: ``"input"`` (a real cell),
    ``"padding"`` (in the padding band) or ``"outside"`` (past the padded edge: only the last
    window of ``ceil_mode`` pooling reaches there; it is ignored) · value: the cell's value —
    for padding 0 (zeros mode, average pooling), the copied cell's value (reflect, replicate,
    circular), or −∞ (max pooling); None for "outside" cells · source: for reflect /
    replicate / circular padding, the index of the real cell whose value the padding cell
    copies; else None.

``Term`` — one entry of a window.
    tap: the kernel offset τ (spatial, ``[τ]`` or ``[σ, τ]``) · input: the ``Cell`` ·
    weight_index / weight_value: the weight it is multiplied by (None for pooling) ·
    product: input·weight (None for pooling).

``Window`` — how one output value is computed.
    output_index · group: the conv group (None for pooling) · terms: list of ``Term``
    (convolution: every product of the window, across the group's input channels, channel
    by channel, then taps in row-major order; pooling: every cell of the window, in scan
    order) · sum: Σ products (conv), Σ of the counted cells (average pooling), the maximum
    (max pooling) · bias: the bias added, or None · divisor / divisor_reason: average pooling
    only — the number the sum is divided by and why (``count_include_pad``,
    ``divisor_override``) · winner: max pooling only — the position in ``terms`` of the cell
    whose value is taken (ties go to the first in scan order, a NaN wins) · value: the output,
    ``sum + bias``, ``sum / divisor`` or the maximum.

    Transposed convolution is traced in the same *gather* view: each output's window lists
    the input·weight products scattered onto it (output ``o = i·s − p + τ·d``), so hovering an
    output shows where its value came from exactly as for a convolution.  The *scatter* view
    (what one input cell writes, and where) is the same terms grouped by ``term.input.index``:
    ``Trace.scatter(index)`` returns them.

``Contribution`` — one addend of a gradient.
    output_index: the output ``t`` whose upstream gradient flows back · grad_output:
    ``∂L/∂y[t]`` · factor: what it is multiplied by — for a weight gradient the input value
    ``x[t+τ]``; for an input gradient the weight ``w[τ]`` (conv), 1 (the max winner) or
    ``1/divisor`` (average pooling); for a bias 1 · product: grad_output·factor · input: the
    ``Cell`` involved (weight gradients: the cell multiplied, possibly padding; input
    gradients: the window's cell through which the gradient arrives — a padding cell when a
    reflected/replicated/circular copy passed it on) or None for a bias · weight_index: the
    weight multiplied, for input gradients of a convolution; else None.

``Gradient`` — the gradient of one weight, bias or input cell, as the sum of its contributions.
    index · value: the parameter's (or input cell's) own value · contributions: list of
    ``Contribution`` (every use of it in the forward pass, in output row-major order) ·
    total: Σ products = the gradient.

``Backward`` — the backward pass for one upstream gradient.
    grad_output: nested list, shape of the output · weight: list of ``Gradient`` per weight
    (conv only, else None) · bias: list of ``Gradient`` per bias (None without a bias) ·
    input: list of ``Gradient`` per input cell · grad_weight / grad_bias / grad_input: the
    totals as arrays (nested lists; None where there is no such parameter) · formulas: the
    gradient formulas in the notes' notation, keyed ``"weight"``, ``"bias"``, ``"input"``.

``Trace`` — the whole explanation.
    op: operation name · dims: 1 or 2 · params: the normalised arguments, those that apply
    (per-axis lists: kernel_size, stride, padding as ``[[before, after], ...]``, dilation,
    output_padding; and groups, padding_mode, ceil_mode, count_include_pad,
    divisor_override; padding_arg: the padding as given, e.g. ``"same"``) · formula: the operation's formula in the notes' notation · input /
    input_shape · weight / weight_shape (None for pooling) · bias (list or None) ·
    padded_input: ``PaddedInput`` or None (None when nothing is padded) · axes: list of
    ``AxisSize`` · output / output_shape · windows: list of ``Window``, one per output element
    · backward: ``Backward`` or None (when not requested).
    Methods: ``window_at([c, *t])`` (one window), ``windows_at(position)`` (every output
    channel at a spatial position, or one with the channel first), ``scatter([c, *i])`` (the
    ``(output_index, Term)`` pairs that use an input cell: the scatter view), ``to_dict()``.

``PaddedInput`` — the input with its padding drawn in, to show as one grid.
    origin: the input coordinates of its first cell per spatial axis (``[-p_before, ...]``) ·
    shape: ``[C, *padded]`` · values: nested list (padding filled as the mode says) · kinds:
    nested list of ``"input"`` / ``"padding"`` · sources: nested list, for padding cells of
    reflect/replicate/circular the copied cell's index, else None.

Errors: every problem a user can fix (bad shapes, impossible settings, a trace beyond the size
bound) raises ``TraceError`` (a ``ValueError``) whose one-line message names the argument,
the numbers and the constraint that failed; ``TraceTooLarge`` is its subclass for the bound:
at most ``MAX_PRODUCTS`` (10,000) forward products — or window cells, for pooling — per trace
(each function takes ``max_products`` to lower it), and ``MAX_ELEMENTS`` (4,096) input plus
output elements.  A trace at the bound serialises to roughly 7 MB of JSON.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Optional

Index = tuple  # of ints, channel first

# A trace enumerates every product (and, for the backward pass, every contribution twice
# more), so its size is bounded: the count of forward products (conv) or window cells (pool).
MAX_PRODUCTS = 10_000
# Also bounded: elements of the input and of the output (each is listed with its gradient).
MAX_ELEMENTS = 4_096


class TraceError(ValueError):
    """A setting the user can fix; the message names the constraint that failed.

    ``argument``: the name of the argument at fault, where there is one (``"padding"``), so
    that the explorer can mark its field.
    """

    def __init__(self, message: str, argument: str | None = None):
        super().__init__(message)
        self.argument = argument


class TraceTooLarge(TraceError):
    """The trace would enumerate more products or elements than the bound allows.

    ``count`` of ``what`` (``"products"`` or ``"elements"``) against ``bound``: a limit of the
    explanation, not of the operation, which the explorer words as its own size bound.
    """

    def __init__(self, message: str, count: int, bound: int, what: str):
        super().__init__(message, argument="input")
        self.count, self.bound, self.what = count, bound, what


_FIELD_NAMES: dict = {}


def _plain(value: Any) -> Any:
    """``value`` as strict-JSON data: lists for tuples, strings for non-finite floats."""
    kind = type(value)
    if kind is float:
        if math.isfinite(value):
            return value
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if kind is int or kind is str or kind is bool or value is None:
        return value
    if kind is list or kind is tuple:
        return [_plain(v) for v in value]
    names = _FIELD_NAMES.get(kind)
    if names is None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELD_NAMES[kind] = tuple(f.name for f in dataclasses.fields(value))
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, int, float, str)):  # subclasses, e.g. numpy.float64
        for plain in (bool, int, float, str):
            if isinstance(value, plain):
                return _plain(plain(value))
    if hasattr(value, "item"):  # NumPy scalars
        return _plain(value.item())
    raise TypeError(f"cannot serialise {kind.__name__} in a trace")


class _Serialisable:
    def to_dict(self) -> dict:
        """Strict-JSON data: nested dicts, lists, numbers, strings, None."""
        return _plain(self)


@dataclass
class AxisSize(_Serialisable):
    axis: str
    input_size: int
    kernel_size: int
    stride: int
    padding: tuple
    dilation: int
    output_padding: Optional[int]
    ceil_mode: Optional[bool]
    formula: str
    substituted: str
    output_size: int
    notes: list = field(default_factory=list)


@dataclass
class Cell(_Serialisable):
    index: Index
    kind: str  # "input" | "padding" | "outside"
    value: Optional[float]
    source: Optional[Index] = None


@dataclass
class Term(_Serialisable):
    tap: Index
    input: Cell
    weight_index: Optional[Index] = None
    weight_value: Optional[float] = None
    product: Optional[float] = None


@dataclass
class Window(_Serialisable):
    output_index: Index
    group: Optional[int]
    terms: list
    sum: float
    bias: Optional[float]
    value: float
    divisor: Optional[float] = None
    divisor_reason: Optional[str] = None
    winner: Optional[int] = None


@dataclass
class Contribution(_Serialisable):
    output_index: Index
    grad_output: float
    factor: float
    product: float
    input: Optional[Cell] = None
    weight_index: Optional[Index] = None


@dataclass
class Gradient(_Serialisable):
    index: Index
    value: float
    contributions: list
    total: float


@dataclass
class Backward(_Serialisable):
    grad_output: list
    weight: Optional[list]
    bias: Optional[list]
    input: list
    grad_weight: Optional[list]
    grad_bias: Optional[list]
    grad_input: list
    formulas: dict


@dataclass
class PaddedInput(_Serialisable):
    origin: tuple
    shape: tuple
    values: list
    kinds: list
    sources: list


@dataclass
class Trace(_Serialisable):
    op: str
    dims: int
    params: dict
    formula: str
    input: list
    input_shape: tuple
    weight: Optional[list]
    weight_shape: Optional[tuple]
    bias: Optional[list]
    padded_input: Optional[PaddedInput]
    axes: list
    output: list
    output_shape: tuple
    windows: list
    backward: Optional[Backward] = None

    def window_at(self, index) -> Window:
        """The window of the output element at ``index`` (``[c, *t]``)."""
        index = tuple(int(i) for i in index)
        if len(index) != len(self.output_shape) or any(
                not 0 <= i < n for i, n in zip(index, self.output_shape)):
            raise TraceError(f"output index {list(index)} is outside the output of shape "
                             f"{list(self.output_shape)}")
        flat = 0
        for i, n in zip(index, self.output_shape):
            flat = flat * n + i
        return self.windows[flat]

    def windows_at(self, position) -> list:
        """The windows at spatial ``position`` (one per output channel), or, with a channel
        first (``[c, *position]``), that one window."""
        position = tuple(position)
        if len(position) == self.dims:
            return [self.window_at((c, *position)) for c in range(self.output_shape[0])]
        if len(position) == self.dims + 1:
            return [self.window_at(position)]
        raise TraceError(f"a position needs {self.dims} coordinates (or a channel and "
                         f"{self.dims}), got {list(position)}")

    def scatter(self, index) -> list:
        """The scatter view: ``(output_index, term)`` for every product that uses input cell
        ``index`` (its real coordinates; padding copies of it included)."""
        index = tuple(int(i) for i in index)
        found = []
        for window in self.windows:
            for term in window.terms:
                cell = term.input
                if cell.index == index or cell.source == index:
                    found.append((window.output_index, term))
        return found
