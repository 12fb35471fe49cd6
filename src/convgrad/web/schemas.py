"""The JSON API's request models: every field typed, every size and value bounded.

A request that breaks a bound is answered 422 with ``{"detail": "<field>: <what is wrong>"}``
(see ``api.validation_message``); nothing reaches the trace module or the engine unchecked.
The bounds keep a trace small enough to draw and to send (a trace lists every product, and
each product twice more in the backward pass), and keep an image quick to convolve.

Layouts are PyTorch's without the batch dimension: input ``(C, L)`` / ``(C, H, W)``, conv
weight ``(C_out, C_in/groups, *k)``, transposed-conv weight ``(C_in, C_out/groups, *k)``.
Whether a *setting* is possible (output size ≥ 1, 'same' with stride 1, groups dividing the
channels, …) is not checked here but by the trace module, which names the constraint.
"""
from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Optional

from pydantic import (BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema,
                      create_model, field_validator)
from pydantic_core import PydanticCustomError

from ..shapes import CONV_PADDING_MODES

# ------------------------------------------------------------------ bounds
MAX_ABS_VALUE = 1e6          # every number: finite, |v| ≤ this
MAX_CHANNELS = 4             # input and output channels (and so groups)
MAX_LENGTH_1D = 48           # L of a 1D input
MAX_SIDE_2D = 16             # H and W of a 2D input
MAX_KERNEL = 7               # every kernel side (conv weight, pooling window)
MAX_STRIDE = 6
MAX_PADDING = 6
MAX_DILATION = 4
MAX_OUTPUT_PADDING = 5
MAX_DIVISOR = 1000           # |divisor_override|
MAX_TRACE_PRODUCTS = 4096    # products (conv) or window cells (pooling) one trace may list
MAX_BODY_BYTES = 256 * 1024  # any request body
MAX_JSON_DEPTH = 8           # nesting of [ and { in a request body

IMAGE_MAX_SIDE = 128         # an image for image mode: at most 128×128 pixels
IMAGE_MAX_KERNEL = 7
IMAGE_MAX_STRIDE = 4
IMAGE_MAX_PADDING = 3

# the bounds GET /api/limits serves (lower-cased), for programs and the page
LIMIT_NAMES = ("MAX_ABS_VALUE", "MAX_CHANNELS", "MAX_LENGTH_1D", "MAX_SIDE_2D", "MAX_KERNEL",
               "MAX_STRIDE", "MAX_PADDING", "MAX_DILATION", "MAX_OUTPUT_PADDING",
               "MAX_TRACE_PRODUCTS", "MAX_BODY_BYTES", "MAX_JSON_DEPTH", "IMAGE_MAX_SIDE",
               "IMAGE_MAX_KERNEL", "IMAGE_MAX_STRIDE", "IMAGE_MAX_PADDING")


def _largest_output(side: int) -> int:
    """The longest output any allowed setting gives along one axis (a transposed conv)."""
    return ((side - 1) * MAX_STRIDE + MAX_DILATION * (MAX_KERNEL - 1) + MAX_OUTPUT_PADDING
            + 1)


# ------------------------------------------------------------------ value types
Number = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-MAX_ABS_VALUE,
                                le=MAX_ABS_VALUE)]


def nested(*sizes: int):
    """A nested list of numbers, ``len(sizes)`` deep, level ``k`` holding 1 to ``sizes[k]``."""
    kind: Any = Number
    for size in reversed(sizes):
        kind = Annotated[list[kind], Field(min_length=1, max_length=size)]
    return kind


def _first_ragged(value, path: str, depth: int) -> Optional[str]:
    """Where a nested list stops being rectangular, as a sentence; None if it is."""
    if depth == 1:
        return None
    lengths = [len(row) for row in value]
    for k, n in enumerate(lengths):
        if n != lengths[0]:
            return (f"rows must all have the same length: {path}[{k}] has {n} entries but "
                    f"{path}[0] has {lengths[0]}")
    for k, row in enumerate(value):
        found = _first_ragged(row, f"{path}[{k}]", depth - 1)
        if found:
            return found
    return None


def check_rectangular(value, depth: int, name: str):
    if value is not None:
        problem = _first_ragged(value, name, depth)
        if problem:
            raise PydanticCustomError("ragged", problem)
    return value


def per_axis(dims: int, low: int, high: int, words: tuple = ()):
    """An int, or a list of one int (for every axis) or ``dims`` ints, each in [low, high];
    or one of ``words`` (padding's 'same', 'valid')."""
    axes = "one per axis (L)" if dims == 1 else "one per axis (H, W)"
    choices = f"an integer from {low} to {high}, or a list of {axes}"
    if words:
        choices += ", or " + " or ".join(repr(w) for w in words)

    def one(v, got):
        if isinstance(v, bool) or not isinstance(v, int):
            raise PydanticCustomError("per_axis", "must be {choices}; got {got}",
                                      {"choices": choices, "got": got})
        if not low <= v <= high:
            raise PydanticCustomError("per_axis_bound",
                                      "must be from {low} to {high}; got {got}",
                                      {"low": low, "high": high, "got": got})
        return v

    def check(value):
        got = _short_repr(value)
        if isinstance(value, str):
            if value in words:
                return value
            raise PydanticCustomError("per_axis", "must be {choices}; got {got}",
                                      {"choices": choices, "got": got})
        if isinstance(value, list):
            if len(value) not in (1, dims):
                raise PydanticCustomError(
                    "per_axis_length", "must be one integer or a list of {n} (one per axis); "
                    "got a list of {k}", {"n": dims, "k": len(value)})
            values = [one(v, got) for v in value]
            return values * dims if len(values) == 1 else values
        return [one(value, got)] * dims

    integer = {"type": "integer", "minimum": low, "maximum": high}
    schema = {"anyOf": [integer, {"type": "array", "items": integer, "minItems": 1,
                                  "maxItems": dims}]
              + ([{"type": "string", "enum": list(words)}] if words else []),
              "description": f"{choices} (one integer, or a list of one, is every axis)"}
    return Annotated[Any, PlainValidator(check), WithJsonSchema(schema)]


def _short_repr(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


StrictBool = Annotated[bool, Field(strict=True)]
PaddingMode = Literal[CONV_PADDING_MODES]


class Request(BaseModel):
    """Unknown fields are refused, not ignored: a typo must not silently change the view."""
    # defaults go through the validators too, so every per-axis field is a list in the model
    model_config = ConfigDict(extra="forbid", strict=True, validate_default=True)

    # the nesting depth of each array field (set by each subclass)
    depths: ClassVar[dict] = {}

    @field_validator("*")
    @classmethod
    def _rectangular(cls, value, info):
        depth = cls.depths.get(info.field_name)
        return check_rectangular(value, depth, info.field_name) if depth else value


def _limits(dims: int):
    side = MAX_LENGTH_1D if dims == 1 else MAX_SIDE_2D
    out = _largest_output(side)
    spatial_in = (side,) * dims
    spatial_out = (out,) * dims
    kernel = (MAX_KERNEL,) * dims
    return spatial_in, spatial_out, kernel


def _array(what: str, *sizes: int):
    """A nested-list field: ``what`` it holds, and at most ``sizes`` entries per level."""
    bounds = "×".join(map(str, sizes))
    return Annotated[nested(*sizes), Field(description=f"{what}: nested lists of numbers, "
                                                       f"rectangular, at most {bounds}")]


def _request_model(name: str, doc: str, depths: dict, fields: dict):
    model = create_model(name, __base__=Request, __doc__=doc, **fields)
    model.depths = depths
    return model


def _conv_model(dims: int, transposed: bool):
    spatial_in, spatial_out, kernel = _limits(dims)
    layout = "(C, L)" if dims == 1 else "(C, H, W)"
    weight = ("(C_in, C_out/groups, *k)" if transposed else "(C_out, C_in/groups, *k)")
    fields = {
        "input": (_array(f"the input {layout}", MAX_CHANNELS, *spatial_in), ...),
        "weight": (_array(f"the weight {weight}", MAX_CHANNELS, MAX_CHANNELS, *kernel), ...),
        "bias": (Optional[_array("one value per output channel", MAX_CHANNELS)], None),
        "stride": (per_axis(dims, 1, MAX_STRIDE), 1),
        "padding": (per_axis(dims, 0, MAX_PADDING, () if transposed else ("same", "valid")),
                    0),
        "dilation": (per_axis(dims, 1, MAX_DILATION), 1),
        "groups": (Annotated[int, Field(ge=1, le=MAX_CHANNELS)], 1),
        "grad_output": (Optional[_array("the upstream gradient ∂L/∂y, the output's shape "
                                        "(default all ones)", MAX_CHANNELS, *spatial_out)],
                        None),
    }
    if transposed:
        fields["output_padding"] = (per_axis(dims, 0, MAX_OUTPUT_PADDING), 0)
        name, doc = f"ConvTranspose{dims}dRequest", f"F.conv_transpose{dims}d's arguments."
    else:
        fields["padding_mode"] = (PaddingMode, "zeros")
        name, doc = f"Conv{dims}dRequest", (f"F.conv{dims}d's arguments, and nn.Conv{dims}d's "
                                            f"padding_mode.")
    return _request_model(name, doc, {"input": dims + 1, "weight": dims + 2,
                                      "grad_output": dims + 1}, fields)


def _pool_model(dims: int, kind: str):
    spatial_in, spatial_out, _ = _limits(dims)
    layout = "(C, L)" if dims == 1 else "(C, H, W)"
    fields = {
        "input": (_array(f"the input {layout}", MAX_CHANNELS, *spatial_in), ...),
        "kernel_size": (per_axis(dims, 1, MAX_KERNEL), ...),
        # None: the kernel size, as in PyTorch
        "stride": (Optional[per_axis(dims, 1, MAX_STRIDE)], None),
        "padding": (per_axis(dims, 0, MAX_PADDING), 0),
        "ceil_mode": (StrictBool, False),
        "grad_output": (Optional[_array("the upstream gradient ∂L/∂y, the output's shape "
                                        "(default all ones)", MAX_CHANNELS, *spatial_out)],
                        None),
    }
    if kind == "max":
        fields["dilation"] = (per_axis(dims, 1, MAX_DILATION), 1)
    else:
        fields["count_include_pad"] = (StrictBool, True)
        if dims == 2:  # PyTorch's avg_pool1d has no divisor_override
            fields["divisor_override"] = (
                Optional[Annotated[int, Field(ge=-MAX_DIVISOR, le=MAX_DIVISOR)]], None)
    name = f"{'Max' if kind == 'max' else 'Avg'}Pool{dims}dRequest"
    return _request_model(name, f"F.{kind}_pool{dims}d's arguments (stride null: the kernel "
                                f"size).", {"input": dims + 1, "grad_output": dims + 1}, fields)


# operation name (PyTorch's) -> its request model
OP_MODELS = {
    "conv1d": _conv_model(1, transposed=False),
    "conv2d": _conv_model(2, transposed=False),
    "conv_transpose1d": _conv_model(1, transposed=True),
    "conv_transpose2d": _conv_model(2, transposed=True),
    "max_pool1d": _pool_model(1, "max"),
    "max_pool2d": _pool_model(2, "max"),
    "avg_pool1d": _pool_model(1, "avg"),
    "avg_pool2d": _pool_model(2, "avg"),
}


class ImageRequest(Request):
    """Image mode: one grayscale image (H×W, values 0 = black … 1 = white) and one kernel."""
    image: nested(IMAGE_MAX_SIDE, IMAGE_MAX_SIDE)
    kernel: nested(IMAGE_MAX_KERNEL, IMAGE_MAX_KERNEL)
    stride: per_axis(2, 1, IMAGE_MAX_STRIDE) = 1
    padding: per_axis(2, 0, IMAGE_MAX_PADDING, ("same", "valid")) = "same"
    padding_mode: PaddingMode = "zeros"
    # how output values become gray levels: see convgrad.web.image.display
    mapping: Literal["auto", "clip", "minmax", "signed"] = "auto"


ImageRequest.depths = {"image": 2, "kernel": 2}
