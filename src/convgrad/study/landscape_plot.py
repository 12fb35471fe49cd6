"""The landscape's pictures: contours, 3-D surfaces and 1-D profiles, one panel per run.

Several runs are drawn side by side on the same log-spaced contour levels and the same
height range, so that plain-N beside ResNet-N compares like with like:

    levels = geomspace(min L, max L, LEVELS)   over every run's grid (finite, > 0)

The surface's height is log10 L (matplotlib's 3-D axes have no log scale).  Drawn with
matplotlib's object API (``Figure`` + Agg), no ``pyplot``, no display; the PNG bytes are
written atomically by the caller.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

LEVELS = 30


@dataclass(frozen=True)
class Panel:
    """One run's numbers, as ``landscape.npz`` holds them."""
    title: str
    arrays: dict


def log_levels(panels: list[Panel], count: int = LEVELS) -> np.ndarray:
    """Log-spaced levels spanning every panel's finite, positive grid losses."""
    values = np.concatenate([p.arrays["loss"][p.arrays["done"]].ravel() for p in panels])
    values = values[np.isfinite(values) & (values > 0)]
    if values.size == 0:
        return np.geomspace(1e-3, 1.0, count)
    low, high = float(values.min()), float(values.max())
    if high <= low * (1 + 1e-9):
        high = low * 1.01
    return np.geomspace(low, high, count)


def _log_ticks(levels: np.ndarray) -> list[float]:
    """1, 2 and 5 times the powers of ten inside the levels' range (the powers alone over
    more than three decades; the two ends where fewer than two fall inside)."""
    low, high = float(levels[0]), float(levels[-1])
    steps = (1,) if high / low > 1e3 else (1, 2, 5)
    ticks = [m * 10.0 ** e for e in range(int(np.floor(np.log10(low))),
                                          int(np.ceil(np.log10(high))) + 1)
             for m in steps if low <= m * 10.0 ** e <= high]
    return ticks if len(ticks) >= 2 else [low, high]


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _masked_loss(arrays: dict, levels: np.ndarray) -> np.ma.MaskedArray:
    """The grid's loss, cells not computed (or not finite) masked, clipped to the levels."""
    loss = np.clip(arrays["loss"], levels[0], levels[-1])
    return np.ma.masked_where(~arrays["done"] | ~np.isfinite(arrays["loss"]), loss)


def render_contours(panels: list[Panel], levels: np.ndarray | None = None) -> bytes:
    """Filled log-spaced contours of L over (α, β), one panel per run, one colour bar."""
    from matplotlib.colors import LogNorm

    levels = log_levels(panels) if levels is None else levels
    figure = _figure(4.6 * len(panels) + 1.0, 4.4)
    axes_list = figure.subplots(1, len(panels), squeeze=False)[0]
    norm = LogNorm(levels[0], levels[-1])
    filled = None
    for axes, panel in zip(axes_list, panels):
        a = panel.arrays
        loss = _masked_loss(a, levels)
        filled = axes.contourf(a["x"], a["y"], loss, levels=levels, norm=norm,
                               cmap="viridis", extend="neither")
        axes.contour(a["x"], a["y"], loss, levels=levels[::3], norm=norm, colors="white",
                     linewidths=0.4, alpha=0.6)
        axes.plot([0], [0], marker="+", color="red", markersize=10)
        axes.set_title(panel.title, fontsize=10)
        axes.set_xlabel("α (direction δ)")
        axes.set_ylabel("β (direction η)")
        axes.set_aspect("equal")
    colorbar = figure.colorbar(filled, ax=list(axes_list), shrink=0.9)
    colorbar.set_ticks(_log_ticks(levels))
    colorbar.set_ticklabels([f"{tick:.3g}" for tick in _log_ticks(levels)])
    colorbar.set_label("training loss (log-spaced levels)")
    return _png(figure)


def render_surfaces(panels: list[Panel], levels: np.ndarray | None = None) -> bytes:
    """log10 L over (α, β) as 3-D surfaces, one panel per run, the same height range."""
    levels = log_levels(panels) if levels is None else levels
    low, high = np.log10(levels[0]), np.log10(levels[-1])
    figure = _figure(4.8 * len(panels), 4.6)
    for index, panel in enumerate(panels):
        a = panel.arrays
        axes = figure.add_subplot(1, len(panels), index + 1, projection="3d")
        alpha, beta = np.meshgrid(a["x"], a["y"])
        height = np.log10(_masked_loss(a, levels).filled(np.nan))
        axes.plot_surface(alpha, beta, height, cmap="viridis", vmin=low, vmax=high,
                          rstride=1, cstride=1, linewidth=0, antialiased=True)
        axes.set_zlim(low, high)
        axes.set_title(panel.title, fontsize=10)
        axes.set_xlabel("α")
        axes.set_ylabel("β")
        axes.set_zlabel("log10 loss")
        axes.view_init(elev=35, azim=-60)
    figure.subplots_adjust(left=0.02, right=0.95, bottom=0.05, top=0.92, wspace=0.1)
    return _png(figure)


def render_profiles(panels: list[Panel]) -> bytes:
    """The 1-D profiles, every run on the same axes: along δ (left) and on the line from
    the initial weights (t = 0) to the trained ones (t = 1) (right); loss above (log
    scale), accuracy below."""
    figure = _figure(11, 6.5)
    grid = figure.subplots(2, 2, sharex="col")
    for column, (key, label) in enumerate((("direction_alpha", "α along δ (θ* at 0)"),
                                           ("line_t", "t on θ₀ + t(θ* − θ₀)"))):
        prefix = key.split("_")[0]
        for panel in panels:
            a = panel.arrays
            done = a[f"{prefix}_done"]
            for row, kind in enumerate(("loss", "accuracy")):
                values = a[f"{prefix}_{kind}"] * (100 if kind == "accuracy" else 1)
                grid[row, column].plot(a[key][done], values[done], "-o", markersize=2,
                                       label=panel.title)
        grid[0, column].set_yscale("log")
        grid[0, column].set_ylabel("training loss")
        grid[1, column].set_ylabel("training accuracy (%)")
        grid[1, column].set_xlabel(label)
        for row in (0, 1):
            grid[row, column].grid(True, alpha=0.3)
        if column == 1:
            for row in (0, 1):
                for t in (0, 1):
                    grid[row, column].axvline(t, color="grey", linewidth=0.6, alpha=0.6)
    grid[0, 0].legend(loc="best", fontsize=8)
    figure.tight_layout()
    return _png(figure)
