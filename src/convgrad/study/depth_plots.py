"""The depth study's two figures (PNG, matplotlib's object API, written atomically).

``training_error_png``: He et al. 2016's Fig. 1/6 — error (%) against the step on the whole
training set (left) and the test set (right); plain networks dashed, residual ones solid,
one colour per depth.

``gradient_norms_png``: ‖∂L/∂W‖ of every weighted layer (1 = the first convolution, D = the
classifier) on a log scale, at initialisation (left) and halfway through training (right);
the same line styles and colours.
"""
from __future__ import annotations

import io
import math

from ..train.atomic import replace_file
from .gradnorms import layer_norms

PLAIN, RESIDUAL = "--", "-"


def _figure(panels: int):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6 * panels, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    return figure, figure.subplots(1, panels)


def _colours(outcomes) -> dict:
    from matplotlib import colormaps

    depths = sorted({o.network.depth for o in outcomes})
    palette = colormaps["viridis"]
    return {depth: palette(0.85 * i / max(1, len(depths) - 1)) for i, depth in
            enumerate(depths)}


def _save(figure, path, title: str) -> None:
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    replace_file(path, buffer.getvalue())


def _style(outcome, colours) -> dict:
    return dict(color=colours[outcome.network.depth], label=outcome.network.label,
                linestyle=RESIDUAL if outcome.network.residual else PLAIN, linewidth=1.6)


def _errors(rows, key: str) -> tuple[list, list]:
    points = [(r["step"], 100 * (1 - r[key])) for r in rows
              if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
    return [p[0] for p in points], [p[1] for p in points]


def training_error_png(outcomes, path, title: str = "") -> None:
    figure, (train_axes, test_axes) = _figure(2)
    colours = _colours(outcomes)
    tops = []
    for axes, key, name in ((train_axes, "train_set_acc", "training error (whole training "
                                                           "set)"),
                            (test_axes, "test_acc", "test error")):
        for outcome in outcomes:
            steps, errors = _errors(outcome.rows, key)
            axes.plot(steps, errors, **_style(outcome, colours))
            # The scale follows the curves after their first tenth, not the 90% of step 0.
            late = [e for s, e in zip(steps, errors) if s >= 0.1 * (steps[-1] if steps else 0)]
            tops.append(max(late, default=0))
        axes.set_xlabel("step")
        axes.set_ylabel(f"{name} (%)")
        axes.grid(True, alpha=0.3)
    top = min(100.0, max(5.0, 1.15 * max(tops, default=0)))
    for axes in (train_axes, test_axes):
        axes.set_ylim(0, top)
    train_axes.legend(loc="upper right", fontsize=8, ncol=2)
    _save(figure, path, title)


def halfway_row(rows: list[dict]) -> dict | None:
    """The metrics row nearest half the run's steps."""
    if not rows:
        return None
    half = rows[-1]["step"] / 2
    return min(rows, key=lambda r: abs(r["step"] - half))


def gradient_norms_png(outcomes, path, title: str = "") -> None:
    figure, panels = _figure(2)
    colours = _colours(outcomes)
    for axes, pick, name in ((panels[0], lambda rows: rows[0] if rows else None,
                              "at initialisation"),
                             (panels[1], halfway_row, "halfway")):
        steps = set()
        for outcome in outcomes:
            row = pick(outcome.rows)
            norms = layer_norms(row) if row else []
            if not norms:
                continue
            steps.add(row["step"])
            axes.plot(range(1, len(norms) + 1), norms, **_style(outcome, colours))
        at = f" (step {', '.join(map(str, sorted(steps)))})" if steps else ""
        axes.set_title(f"{name}{at}", fontsize=10)
        axes.set_yscale("log")
        axes.set_xlabel("weighted layer (1 = first convolution)")
        axes.set_ylabel("‖∂L/∂W‖ on a fixed training batch")
        axes.grid(True, alpha=0.3, which="both")
    panels[0].legend(loc="best", fontsize=8, ncol=2)
    _save(figure, path, title)
