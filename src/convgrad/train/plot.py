"""The run's loss and accuracy curves as a PNG (matplotlib's Agg backend, no display).

Two panels against the step: cross-entropy (training batches since the previous
evaluation, and the test set) and accuracy (the same two).  The figure is drawn with the
object API (``Figure`` + ``FigureCanvasAgg``), never ``pyplot``, so it touches no global
state and needs no display; the PNG is written atomically (a crash mid-save leaves the
previous picture).
"""
from __future__ import annotations

import io
import math
import os

from .atomic import replace_file


def _series(rows: list[dict], field: str) -> tuple[list, list]:
    points = [(row["step"], row[field]) for row in rows
              if isinstance(row.get(field), (int, float)) and math.isfinite(row[field])]
    return [p[0] for p in points], [p[1] for p in points]


def render_curves(rows: list[dict], title: str = "") -> bytes:
    """The PNG bytes of the loss and accuracy curves of ``rows`` (metrics rows)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(figure)
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    for axes, kind, label in ((loss_axes, "loss", "cross-entropy"),
                              (accuracy_axes, "acc", "accuracy")):
        for split, style in (("train", "-"), ("test", "-o")):
            steps, values = _series(rows, f"{split}_{kind}")
            if kind == "acc":
                values = [100 * v for v in values]
            if steps:
                axes.plot(steps, values, style, markersize=3,
                          label="train (batches since the last point)" if split == "train"
                          else "test set")
        axes.set_xlabel("step")
        axes.set_ylabel(label + (" (%)" if kind == "acc" else ""))
        axes.grid(True, alpha=0.3)
        if axes.lines:
            axes.legend(loc="best")
    test_steps, test_acc = _series(rows, "test_acc")
    if test_acc:
        best = max(range(len(test_acc)), key=test_acc.__getitem__)
        accuracy_axes.annotate(f"{100 * test_acc[best]:.1f}%", (test_steps[best],
                                                                 100 * test_acc[best]),
                               textcoords="offset points", xytext=(0, 6), ha="center",
                               fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def save_curves(rows: list[dict], path: str | os.PathLike, title: str = "") -> None:
    """Write the curves of ``rows`` to ``path`` (a PNG), atomically."""
    replace_file(path, render_curves(rows, title))
