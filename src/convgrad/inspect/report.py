"""What ``convgrad inspect`` and ``convgrad predict`` print: aligned text, or one JSON record.

``inspect --json`` (exactly these keys; ``example`` is null for an ``--input`` file, whose
``label`` is null too)::

    {"example": 7, "label": 3, "probabilities": [...],
     "layers": [{"name", "output_shape", "mean", "std", "grad_norm"}]}

``predict --json``::

    {"class", "class_name", "probabilities", "classes", "input", "run", "checkpoint", "step"}

Probabilities are the model's own (float32 for a float32 model), written exactly.
"""
from __future__ import annotations

import numpy as np


def _number(value) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    return f"{value:.4g}" if 1e-3 <= abs(value) < 1e4 else f"{value:.3e}"


def _shape(shape) -> str:
    return " × ".join(map(str, shape)) or "scalar"


def _class(classes, index: int) -> str:
    name = str(classes[index])
    return name if name == str(index) else f"{index} ({name})"


def top_predictions(probabilities, classes, count: int = 3) -> str:
    order = np.argsort(-np.asarray(probabilities, dtype=np.float64), kind="stable")[:count]
    return " · ".join(f"{_class(classes, int(k))} {probabilities[k]:.1%}" for k in order)


def table(header: tuple, rows: list, right_from: int) -> list:
    """Rows of cells as aligned lines: columns from ``right_from`` on are right-aligned."""
    widths = [max(len(str(line[i])) for line in [header, *rows]) for i in range(len(header))]

    def line(cells):
        return "  ".join(str(c).rjust(w) if i >= right_from else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return [line(header), *(line(r) for r in rows)]


def inspect_text(run, seen, classes, where: str, layer: str | None = None,
                 channels=None) -> str:
    """The text of ``convgrad inspect``: the example, the prediction, the per-layer table
    (and, with ``layer``, that layer's channels: ``channels`` rows)."""
    lines = [f"{run.config.model} on {run.config.dataset}, checkpoint step {run.step} "
             f"({run.checkpoint.path})", where]
    against = (f"the label {_class(classes, seen.target)}" if seen.label is not None else
               f"the predicted class {_class(classes, seen.target)} (the input has no label)")
    verdict = "" if seen.label is None else (
        "  (correct)" if seen.predicted == seen.label else "  (wrong)")
    lines.append(f"prediction: {_class(classes, seen.predicted)} "
                 f"({seen.probabilities[seen.predicted]:.1%}){verdict}   top: "
                 f"{top_predictions(seen.probabilities, classes)}")
    lines.append(f"loss: cross-entropy against {against} = {_number(seen.loss)}; "
                 f"gradients are of this loss")
    lines.append("")
    rows = [(s.name, s.type, _shape(s.output_shape), _number(s.mean), _number(s.std),
             _number(s.grad_norm), _number(s.weight_grad_norm))
            for s in seen.layers if layer is None or s.name == layer]
    lines += table(("layer", "type", "output shape", "mean", "std", "‖∂L/∂output‖",
                    "‖∂L/∂weights‖"), rows, right_from=3)
    if channels is not None:
        lines.append("")
        lines.append(f"{layer}, channel by channel (values of this example's output, and "
                     f"the norm of their gradient):")
        lines += table(("channel", "mean", "std", "min", "max", "‖∂L/∂output‖"),
                       [tuple([str(c)] + [_number(v) for v in values])
                        for c, values in enumerate(channels)], right_from=0)
    lines.append("")
    lines.append("mean and std: over the layer's output values for this example; "
                 "‖∂L/∂output‖: the 2-norm of the loss gradient with respect to them; "
                 "‖∂L/∂weights‖: with respect to the layer's own parameters.")
    return "\n".join(lines)


def channel_rows(output: np.ndarray, grad: np.ndarray | None) -> list:
    """Per channel of one example's output (C, ...): mean, std, min, max, ‖gradient‖."""
    rows = []
    for c in range(output.shape[0]):
        values = output[c].astype(np.float64)
        norm = None if grad is None else float(np.sqrt(np.sum(np.square(grad[c],
                                                                        dtype=np.float64))))
        rows.append((float(values.mean()), float(values.std()), float(values.min()),
                     float(values.max()), norm))
    return rows


def predict_text(run, seen, classes, description: str) -> str:
    lines = [f"{run.config.model} on {run.config.dataset}, checkpoint step {run.step} "
             f"({run.checkpoint.path})", description,
             f"class: {_class(classes, seen.predicted)} "
             f"({seen.probabilities[seen.predicted]:.1%})", ""]
    named = any(str(name) != str(k) for k, name in enumerate(classes))
    width = max(len(str(c)) for c in classes)
    for k, p in enumerate(seen.probabilities):
        name = f"  {str(classes[k]):<{width}}" if named else ""
        mark = "  ◀" if k == seen.predicted else ""
        bar = "█" * int(round(float(p) * 30))
        lines.append(f"{k:>2}{name}  {float(p):8.2%}  {bar}{mark}")
    return "\n".join(lines)
