"""``convgrad.summary(model, input_shape)``: a table of every layer's output shape, parameter
count and multiply-adds, with totals — and, for each convolution, what a dense layer mapping
the same input to the same output would cost.  That last column is the lecture notes'
"weights = size(kernel) vs d1·d2" in numbers: the first convolution of the MNIST-1D CNN has
150 parameters, while a Linear layer from its 40 inputs to its 25×19 outputs would need
40·475 + 475 = 19,475.

How the numbers are counted (per example; the forward pass runs on one example of zeros,
in eval mode and without grad, and the model is left exactly as it was):

    Conv (weight C_out × C_in/g × ∏k):    mult-adds = output elements · (C_in/g · ∏k)
    ConvTranspose (C_in × C_out/g × ∏k):  mult-adds = input elements · (C_out/g · ∏k)
    Linear (out × in):                    mult-adds = output elements · in
    anything else (pooling, normalisation, activations, shortcuts): 0 mult-adds
    dense equivalent of a conv:           d_in · d_out (+ d_out with a bias), where d_in and
                                          d_out are the numbers of input and output elements

Rows are the layers that ran, in the order they finished: modules without children plus any
module with parameters of its own.  A layer that runs twice gets two rows; its parameters are
counted on the first.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .autograd import no_grad
from .creation import zeros
from .nn import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d, Linear, Module
from .tensor import Tensor, float32

_CONVS = (Conv1d, Conv2d)
_TRANSPOSED = (ConvTranspose1d, ConvTranspose2d)


@dataclass
class LayerRow:
    name: str                     # dotted path in the model, e.g. "layer1.0.conv1"
    type: str                     # class name, e.g. "Conv2d"
    input_shape: tuple            # one example's input (no batch dim)
    output_shape: tuple           # one example's output (no batch dim)
    params: int                   # parameters owned by this layer (0 on a repeated call)
    macs: int                     # multiply-adds for one example
    dense_params: int | None      # a dense layer with the same input/output (convs, linears)


@dataclass
class ModelSummary:
    model: str
    input_shape: tuple
    rows: list = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    total_macs: int = 0
    dense_equivalent_params: int = 0   # total_params with every conv replaced by a dense layer

    def to_dict(self) -> dict:
        """Plain data (for JSON output)."""
        return asdict(self)

    def __str__(self) -> str:
        return _render(self)

    __repr__ = __str__


def _shape_text(shape: tuple) -> str:
    return " × ".join(str(s) for s in shape) if shape else "scalar"


def _render(summary: ModelSummary) -> str:
    header = ("Layer", "Type", "Output shape", "Params", "Mult-adds", "Dense equivalent")
    body = [(row.name, row.type, _shape_text(row.output_shape), f"{row.params:,}",
             f"{row.macs:,}", "" if row.dense_params is None else f"{row.dense_params:,}")
            for row in summary.rows]
    dense_total = f"{summary.dense_equivalent_params:,}"
    totals = ("Total", "", "", f"{summary.total_params:,}", f"{summary.total_macs:,}",
              dense_total)
    widths = [max(len(line[i]) for line in [header, *body, totals]) for i in range(6)]

    def line(cells):
        left = [cells[i].ljust(widths[i]) for i in range(3)]
        right = [cells[i].rjust(widths[i]) for i in range(3, 6)]
        return "  ".join(left + right).rstrip()

    rule = "-" * len(line(header))
    lines = [f"{summary.model}: input {_shape_text(summary.input_shape)}", rule, line(header),
             rule, *(line(cells) for cells in body), rule, line(totals), rule,
             f"Trainable params: {summary.trainable_params:,}",
             "Mult-adds are per example.  Dense equivalent: the parameters of a Linear layer "
             "mapping",
             "the same input to the same output (the notes' d1·d2, against size(kernel))."]
    return "\n".join(lines)


def _first_tensor(value):
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (tuple, list)) and value:
        return _first_tensor(value[0])
    return None


def _layer_costs(module: Module, x: Tensor, y: Tensor) -> tuple[int, int | None]:
    """(mult-adds, dense-equivalent parameters) of one call, per example."""
    in_elements = int(np.prod(x.shape[1:])) if x is not None else 0
    out_elements = int(np.prod(y.shape[1:]))
    has_bias = getattr(module, "bias", None) is not None
    if isinstance(module, _CONVS):
        w = module.weight.shape
        macs = out_elements * int(np.prod(w[1:]))
    elif isinstance(module, _TRANSPOSED):
        w = module.weight.shape
        macs = in_elements * int(np.prod(w[1:]))
    elif isinstance(module, Linear):
        return out_elements * module.in_features, sum(p.numel() for p in module.parameters())
    else:
        return 0, None
    return macs, in_elements * out_elements + (out_elements if has_bias else 0)


def summary(model: Module, input_shape, batch_size: int = 1, dtype=None) -> ModelSummary:
    """Run ``model`` on zeros of shape ``(batch_size, *input_shape)`` and tabulate its layers.

    ``input_shape`` excludes the batch dim, e.g. ``(1, 40)`` or ``(3, 32, 32)``.
    Returns a :class:`ModelSummary` (``rows`` and totals; ``str()`` is the table).
    """
    input_shape = tuple(int(s) for s in input_shape)
    if dtype is None:
        first = next(model.parameters(), None)
        dtype = first.dtype if first is not None else float32
    names = {id(m): name for name, m in model.named_modules()}
    rows, counted, handles = [], set(), []

    def record(module, args, output):
        y = _first_tensor(output)
        if y is None:
            return
        x = _first_tensor(args)
        own = 0
        if id(module) not in counted:
            counted.add(id(module))
            own = sum(p.numel() for p in module.parameters(recurse=False))
        macs, dense = _layer_costs(module, x, y)
        rows.append(LayerRow(names.get(id(module), "?") or "(model)", type(module).__name__,
                             tuple(x.shape[1:]) if x is not None else (), tuple(y.shape[1:]),
                             own, macs, dense))

    for module in model.modules():
        has_children = any(True for _ in module.children())
        has_own = any(True for _ in module.parameters(recurse=False))
        if not has_children or has_own:
            handles.append(module.register_forward_hook(record))
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        with no_grad():
            model(zeros(batch_size, *input_shape, dtype=dtype))
    finally:
        for handle in handles:
            handle.remove()
        for module, mode in modes:
            object.__setattr__(module, "training", mode)
    params = list(model.parameters())
    total = sum(p.numel() for p in params)
    conv_params = sum(row.params for row in rows if row.dense_params is not None
                      and row.type != "Linear")
    conv_dense = sum(row.dense_params for row in rows if row.dense_params is not None
                     and row.type != "Linear" and row.params)
    return ModelSummary(
        model=type(model).__name__, input_shape=input_shape, rows=rows, total_params=total,
        trainable_params=sum(p.numel() for p in params if p.requires_grad),
        total_macs=sum(row.macs for row in rows),
        dense_equivalent_params=total - conv_params + conv_dense,
    )
