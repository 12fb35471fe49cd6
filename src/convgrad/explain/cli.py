"""``convgrad explain``: a convolution or pooling worked out step by step in the terminal.

Parses the arrays (``convgrad.explain.parse``), builds the trace (``convgrad.explain``) and
prints it (``convgrad.explain.render``) or, with ``--json``, prints ``Trace.to_dict()``.
Every problem the user can fix is one line and exit status 2 (``UsageError``).
"""
from __future__ import annotations

import argparse
import json
import sys

from ..errors import UsageError
from ..shapes import CONV_PADDING_MODES
from . import OPS
from .model import TraceError
from .parse import ParseError, parse_array, parse_ints, parse_position, parse_vector

# Which options each operation takes (beyond --input and the output options).
_CONV = {"weight", "bias", "stride", "padding", "padding_mode", "dilation", "groups"}
_TRANSPOSE = {"weight", "bias", "stride", "padding", "output_padding", "dilation", "groups"}
APPLIES = {
    "conv1d": _CONV, "conv2d": _CONV,
    "conv_transpose1d": _TRANSPOSE, "conv_transpose2d": _TRANSPOSE,
    "max_pool1d": {"kernel_size", "stride", "padding", "dilation", "ceil_mode"},
    "max_pool2d": {"kernel_size", "stride", "padding", "dilation", "ceil_mode"},
    "avg_pool1d": {"kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"},
    "avg_pool2d": {"kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                   "divisor_override"},
}

DESCRIPTION = """\
Work out a convolution or pooling step by step: the output-size formula with its values,
the output, and every window's products and sum (or one window with --at); with --backward,
how each weight's gradient accumulates from every place the weight was used, and the input
gradient. Arguments are PyTorch's; the input is one sample, without a batch dimension."""

EPILOG = """\
matrix syntax (--input, --weight, --grad):
  values separated by spaces or commas     "1 0 -1"        "1/9, 1/9, 1/9"
  rows separated by ';'                    "0 0 0 0; 1 0 0 1; 0 1 1 0; 0 0 0 0"
  channels separated by '|'                "1 2; 3 4 | 5 6; 7 8"   (2 channels of 2x2)
  a weight's first dimension by '||'       conv: output channels, then '|' input channels
                                           conv_transpose: input channels, then '|' output
  numbers: 1, -0.5, 2e-3, 1/9, inf, nan.  A JSON nested list works too: "[[1, 2], [3, 4]]".
  1D operations take one row per channel:  --input "1 2 3 4 | 5 6 7 8"
  --bias is a flat list, one per output channel: --bias "0.5 -1"
  A value that starts with '-' needs '=':   --bias=-1,2   --input="-1 0; 0 1"

per-axis settings: --stride 2 or --stride 2,1 (rows, cols); --padding also 'same' or 'valid'
(convolutions; 'same' needs stride 1).

examples:
  convgrad explain conv2d --input "0 0 0 0; 1 0 0 1; 0 1 1 0; 0 0 0 0" --weight "1 1; 1 1"
  convgrad explain conv2d --input "0 1 1 0; 0 1 1 0; 0 1 1 0; 0 1 2 0" \\
      --weight "1 0 -1; 1 0 -1; 1 0 -1" --at 0,1
  convgrad explain conv1d --input "1 2 3 4 5" --weight "1 0 -1" --padding same \\
      --padding-mode reflect --backward
  convgrad explain conv2d --input "1 2; 3 4 | 5 6; 7 8" \\
      --weight "1 0; 0 1 | 1 1; 1 1 || 0 0; 0 1 | 1 0; 0 0" --bias "0.5 -1" --backward
  convgrad explain conv_transpose1d --input "1 2 3" --weight "1 1" --stride 2 --backward
  convgrad explain max_pool2d --input "1 3 2; 4 0 1; 2 2 5" --kernel-size 2 --ceil-mode
  convgrad explain avg_pool2d --input "1 2 3; 4 5 6; 7 8 9" --kernel-size 3 --stride 1 \\
      --padding 1 --no-count-include-pad --backward --grad "1 0 0; 0 1 0; 0 0 1"
  convgrad explain conv2d --input "1 2; 3 4" --weight "1" --json"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "explain", help="work out a convolution or pooling step by step",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("op", choices=list(OPS), metavar="OP",
                        help=f"the operation: {', '.join(OPS)}")
    arrays = parser.add_argument_group("arrays")
    arrays.add_argument("--input", "-x", metavar="MATRIX",
                        help="the input, channels separated by '|' (see matrix syntax)")
    arrays.add_argument("--weight", "-w", metavar="MATRIX",
                        help="the kernel(s), for convolutions; '||' separates the first "
                             "dimension")
    arrays.add_argument("--bias", "-b", metavar="LIST",
                        help="one value per output channel, for convolutions")
    settings = parser.add_argument_group("settings (as in PyTorch)")
    settings.add_argument("--kernel-size", "-k", metavar="K",
                          help="pooling window size: K or KH,KW")
    settings.add_argument("--stride", "-s", metavar="S",
                          help="S or SH,SW (default 1; pooling: the kernel size)")
    settings.add_argument("--padding", "-p", metavar="P",
                          help="P, PH,PW, 'same' or 'valid' (default 0)")
    settings.add_argument("--padding-mode", choices=CONV_PADDING_MODES,
                          help="what conv padding holds (default zeros)")
    settings.add_argument("--dilation", "-d", metavar="D", help="D or DH,DW (default 1)")
    settings.add_argument("--groups", "-g", metavar="G", help="channel groups (default 1)")
    settings.add_argument("--output-padding", metavar="OP",
                          help="conv_transpose: extra output at the end, OP or OPH,OPW")
    settings.add_argument("--ceil-mode", action="store_true", default=None,
                          help="pooling: round the output size up")
    settings.add_argument("--count-include-pad", action=argparse.BooleanOptionalAction,
                          default=None,
                          help="avg pooling: count padding cells in the divisor (default: yes)")
    settings.add_argument("--divisor-override", metavar="N",
                          help="avg_pool2d: divide every window by N")
    show = parser.add_argument_group("what to show")
    show.add_argument("--at", metavar="POS",
                      help="show one output position step by step: T (1D) or ROW,COL (2D), "
                           "optionally CHANNEL first")
    show.add_argument("--backward", action="store_true",
                      help="show the gradients: each weight's, the bias's and the input's")
    show.add_argument("--grad", metavar="MATRIX",
                      help="the upstream gradient ∂L/∂y (output's shape; default all ones); "
                           "implies --backward")
    show.add_argument("--json", action="store_true",
                      help="print the whole trace as JSON (Trace.to_dict()) instead")
    parser.set_defaults(func=run)

    def one_line_error(message: str):
        # argparse's own errors (a missing value, an unknown OP) as one line, like ours
        if "expected one argument" in message:
            message += " (a value that starts with '-' needs '=', e.g. --weight=-1,1)"
        parser.exit(2, f"convgrad explain: error: {message}\n")

    parser.error = one_line_error


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def build_call(args) -> tuple:
    """The trace function's keyword arguments from the command line."""
    op = args.op
    dims = 1 if op.endswith("1d") else 2
    applies = APPLIES[op]
    for name in ("weight", "bias", "kernel_size", "stride", "padding", "padding_mode",
                 "dilation", "groups", "output_padding", "ceil_mode", "count_include_pad",
                 "divisor_override"):
        if getattr(args, name) is not None and name not in applies:
            hint = (" (PyTorch's avg_pool1d has none; use avg_pool2d with one row)"
                    if name == "divisor_override" and op == "avg_pool1d" else "")
            raise UsageError(f"{_option(name)} does not apply to {op}{hint}; it takes "
                             f"{', '.join(sorted(_option(a) for a in applies))}")
    if args.input is None:
        raise UsageError(f"{op} needs --input, e.g. --input "
                         f"\"{'1 2 3 4' if dims == 1 else '1 2 3; 4 5 6; 7 8 9'}\"")
    kwargs = {"input": parse_array(args.input, "--input", dims + 1, dims)}
    if "weight" in applies:
        if args.weight is None:
            raise UsageError(f"{op} needs --weight (the kernel), e.g. --weight "
                             f"\"{'1 0 -1' if dims == 1 else '1 1; 1 1'}\"")
        kwargs["weight"] = parse_array(args.weight, "--weight", dims + 2, dims)
        if args.bias is not None:
            kwargs["bias"] = parse_vector(args.bias, "--bias")
    if "kernel_size" in applies:
        if args.kernel_size is None:
            raise UsageError(f"{op} needs --kernel-size, e.g. --kernel-size 2")
        kwargs["kernel_size"] = parse_ints(args.kernel_size, "--kernel-size", dims)
    words = ("same", "valid") if op.startswith("conv") and "transpose" not in op else ()
    for name in ("stride", "dilation", "output_padding"):
        if getattr(args, name) is not None:
            kwargs[name] = parse_ints(getattr(args, name), _option(name), dims)
    if args.padding is not None:
        kwargs["padding"] = parse_ints(args.padding, "--padding", dims, words)
    if args.groups is not None:
        kwargs["groups"] = parse_ints(args.groups, "--groups", 1)
    if args.padding_mode is not None:
        kwargs["padding_mode"] = args.padding_mode
    for name in ("ceil_mode", "count_include_pad"):
        if getattr(args, name) is not None:
            kwargs[name] = getattr(args, name)
    if args.divisor_override is not None:
        kwargs["divisor_override"] = parse_ints(args.divisor_override, "--divisor-override", 1)
    return kwargs


def _check_grad_shape(op: str, kwargs: dict) -> None:
    """After a failed trace with --grad: if --grad's shape was the problem, say so in the
    option's terms.  Only this error path traces the forward pass a second time, for the
    output's shape; otherwise it returns and the trace's own error stands."""
    grad = kwargs["grad_output"]
    forward = OPS[op](**{**kwargs, "grad_output": None}, backward=False)
    if grad.shape != tuple(forward.output_shape):
        raise UsageError(f"--grad: the upstream gradient needs the output's shape "
                         f"{'×'.join(map(str, forward.output_shape))}, got "
                         f"{'×'.join(map(str, grad.shape))}")


def run(args) -> int:
    try:
        kwargs = build_call(args)
        at = None if args.at is None else parse_position(args.at, "--at", 1 if args.op.endswith(
            "1d") else 2)
        backward = args.backward or args.grad is not None
        if args.grad is not None:
            dims = 1 if args.op.endswith("1d") else 2
            kwargs["grad_output"] = parse_array(args.grad, "--grad", dims + 1, dims)
        try:
            trace = OPS[args.op](**kwargs, backward=backward or args.json)
        except TraceError:
            if args.grad is not None:
                _check_grad_shape(args.op, kwargs)
            raise
        if at is not None:
            try:
                trace.windows_at(at)
            except TraceError as error:
                raise UsageError(f"--at: {error}") from None
    except (ParseError, TraceError) as error:
        raise UsageError(str(error)) from None
    if args.json:
        json.dump(trace.to_dict(), sys.stdout, allow_nan=False, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    # rich (the train extra) is needed only here, not for --json
    from .render import render
    render(trace, at=at, show_backward=backward)
    return 0
