"""``convgrad inspect`` and ``convgrad predict``: a trained run, one example at a time.

    convgrad inspect runs/cnn --example 7            per-layer shapes, statistics, gradient
                                                     norms and the top predictions
    convgrad inspect runs/cnn --input x.npy --layer conv2 --checkpoint best --json
    convgrad predict runs/cnn --input x.npy          the class and every probability

Both load the run with ``convgrad.load_run`` (the checkpoint verified first) and run the
example through ``inspect.examine``, so the same example gives the same probabilities in
both.  Anything the user can fix — a run folder that is incomplete or corrupt (the
checkpoint's own errors), a file of the wrong shape or no image, an example past the end of
the test set, an unknown layer — is one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import io
import os
from pathlib import Path

import numpy as np

from ..data.errors import DataError
from ..errors import UsageError, one_line_errors, user_errors
from ..extras import require_installed
from ..train import CheckpointError, ConfigError, RunError
from .inputs import InputError, read_input

JSON_LAYER_KEYS = ("name", "output_shape", "mean", "std", "grad_norm")


def _load(args, with_data: bool):
    from ..train.load import load_run
    return load_run(args.run, checkpoint=args.checkpoint, data=with_data)


def _input_shape(run) -> tuple:
    from ..models import MODELS
    return tuple(MODELS[run.config.model].input_shape)


def _classes(run) -> list:
    return list(run.checkpoint.meta.get("classes") or
                range(int(run.checkpoint.meta.get("num_classes", 10))))


def _example(run, index: int):
    """Test example ``index`` and its label, or a UsageError saying how many there are."""
    count = len(run.data.test_y)
    if not 0 <= index < count:
        raise UsageError(f"--example {index}: the {run.data.name} test set has {count} "
                         f"examples, numbered 0 to {count - 1}")
    return run.data.test_x[index], int(run.data.test_y[index])


def _read(args, run):
    first = next(run.model.parameters())
    return read_input(args.input, _input_shape(run), dtype=first.dtype, invert=args.invert,
                      dataset=run.config.dataset)


def _save_example(path: str, values: np.ndarray) -> None:
    """The example as a .npy file, refused over an existing file (nothing overwritten)."""
    from ..train.atomic import replace_file

    target = Path(path)
    if target.exists() or target.is_symlink():
        raise UsageError(f"--save-input {path}: already exists; not overwritten")
    buffer = io.BytesIO()
    np.save(buffer, values, allow_pickle=False)
    replace_file(target, buffer.getvalue())


def _print_json(record: dict) -> None:
    from ..train.atomic import json_text
    print(json_text(record, sort_keys=False))


# ---------------------------------------------------------------------------- inspect
@user_errors(CheckpointError, ConfigError, RunError, DataError, InputError)
def run_inspect(args) -> int:
    from .examine import examine
    from .report import channel_rows, inspect_text

    require_installed(("safetensors",))
    if args.example is None and args.input is None:
        args.example = 0
    run = _load(args, with_data=args.input is None)
    classes = _classes(run)
    if args.input is not None:
        read = _read(args, run)
        x, label, where = read.values, None, read.description
    else:
        x, label = _example(run, args.example)
        where = (f"example {args.example} of the {run.data.name} test set, label "
                 f"{label}" + (f" ({classes[label]})" if str(classes[label]) != str(label)
                               else ""))
    seen = examine(run.model, x, label)
    names = [s.name for s in seen.layers]
    if args.layer is not None and args.layer not in names:
        raise UsageError(f"--layer {args.layer}: {run.config.model} has no layer of that name; "
                         f"its layers are {', '.join(names)}")
    if args.save_input is not None:
        _save_example(args.save_input, np.asarray(x))
    layers = [s for s in seen.layers if args.layer is None or s.name == args.layer]
    if args.json:
        # exactly the keys the issue names; the text form says the rest
        _print_json({
            "example": args.example if args.input is None else None,
            "label": seen.label,
            "probabilities": [float(p) for p in seen.probabilities],
            "layers": [{key: s.to_dict()[key] for key in JSON_LAYER_KEYS} for s in layers],
        })
        return 0
    channels = None
    if args.layer is not None:
        output = seen.recording.activations[args.layer][0]
        grad = seen.recording.gradients.get(args.layer)
        if output.ndim >= 2:
            channels = channel_rows(output, None if grad is None else grad[0])
    print(inspect_text(run, seen, classes, where, args.layer, channels))
    return 0


# ---------------------------------------------------------------------------- predict
@user_errors(CheckpointError, ConfigError, RunError, DataError, InputError)
def run_predict(args) -> int:
    from .examine import examine
    from .report import predict_text

    require_installed(("safetensors",))
    run = _load(args, with_data=False)
    classes = _classes(run)
    read = _read(args, run)
    seen = examine(run.model, read.values)
    if args.json:
        _print_json({
            "class": seen.predicted, "class_name": str(classes[seen.predicted]),
            "probabilities": [float(p) for p in seen.probabilities],
            "classes": [str(c) for c in classes], "input": read.description,
            "run": os.fspath(run.run_dir), "checkpoint": os.fspath(run.checkpoint.path),
            "step": run.step,
        })
        return 0
    print(predict_text(run, seen, classes, read.description))
    return 0


# ---------------------------------------------------------------------------- parsers
def _example_index(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an example number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an example number from 0, got {value}")
    return value


def _common(parser) -> None:
    parser.add_argument("run", metavar="RUN", help="a run folder (convgrad train --out)")
    parser.add_argument("--checkpoint", metavar="best|last|STEP", default="last",
                        help="which of the run's checkpoints: the latest (default), the best "
                             "evaluation's, or a kept step")
    parser.add_argument("--invert", action="store_true",
                        help="an --input image or array as 1 − v (a dark digit on a light "
                             "background, for data sets of light digits on dark)")
    parser.add_argument("--json", action="store_true", help="print one JSON record")


def register(subparsers) -> None:
    inspect = one_line_errors(subparsers.add_parser(
        "inspect", help="one example through a trained run: every layer's output and gradient",
        description="Run one example through a trained run's model and back: each layer's "
                    "output shape, the mean and spread of its values, the norm of the loss "
                    "gradient with respect to them and to its weights, and the top "
                    "predictions. The loss is the cross-entropy against the example's label "
                    "(or, for --input, the predicted class)."))
    _common(inspect)
    source = inspect.add_mutually_exclusive_group()
    source.add_argument("--example", metavar="I", type=_example_index,
                        help="the I-th example of the run's test set (default: 0)")
    source.add_argument("--input", metavar="FILE",
                        help="a .npy array, a text of numbers, or an image (2-D models)")
    inspect.add_argument("--layer", metavar="NAME",
                         help="only this layer, channel by channel (names as in the table)")
    inspect.add_argument("--save-input", metavar="FILE",
                         help="also write the example to FILE as .npy (for predict --input)")
    inspect.set_defaults(func=run_inspect)

    predict = one_line_errors(subparsers.add_parser(
        "predict", help="a trained run's class and probabilities for an input file",
        description="Classify one input with a trained run: a .npy array, a text of numbers, "
                    "or an image for a 2-D model (made gray or RGB, resized to the model's "
                    "input and scaled to [0, 1] as its data set was; the output says how)."))
    _common(predict)
    predict.add_argument("--input", metavar="FILE", required=True,
                         help="a .npy array, a text of numbers, or an image (2-D models)")
    predict.set_defaults(func=run_predict)
