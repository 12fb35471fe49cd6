"""``convgrad landscape RUN [RUN2 ...]``: the loss surface around trained networks.

    convgrad landscape runs/plain1d runs/resnet1d          side by side, same levels
    convgrad landscape runs/cnn --resolution 11 --samples 500 --json

For each run: a cost estimate (one evaluation and one gradient timed), then the two 1-D
profiles and the 2-D grid with a progress bar, every finished cell saved (the same
command continues an interrupted landscape), then the Hessian's extremes; the PNGs and a
table at the end.  Everything the user can fix is one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import sys
import textwrap
import time
from contextlib import ExitStack
from pathlib import Path

from ..data.errors import DataError
from ..errors import UsageError
from ..extras import install_command
from ..train.atomic import json_text, replace_file
from ..train.checkpoint import CheckpointError
from ..train.config import ConfigError
from ..train.load import load_run
from ..train.report import format_loss
from ..train.runfolder import RunError
from .directions import BIASBN
from .evaluation import MODES
from .hessian import METHODS
from .landscape import Landscape, HessianSettings, LandscapeSettings
from .landscape_plot import Panel, log_levels, render_contours, render_profiles, \
    render_surfaces
from .landscape_store import (CONTOUR_FILE, PROFILES_FILE, SURFACE_FILE, LandscapeError)

DEFAULT_OUT = Path("landscapes")
DESCRIPTION = "\n\n".join(textwrap.fill(paragraph, 88) for paragraph in (
    "Plot the training loss around each RUN's trained weights θ* along two random "
    "Gaussian directions δ, η, each normalised per filter to θ*'s filter norms (a filter: "
    "one output channel of a convolution, one output neuron — a row — of a Linear "
    "layer): a 2-D grid L(θ* + αδ + βη), a 1-D profile L(θ* + αδ), and the straight line "
    "L(θ₀ + t(θ* − θ₀)) from the initial weights θ₀ (t = 0, made again from the run's "
    "seed) to θ* (t = 1); and the Hessian's largest and smallest eigenvalues at θ*. Losses "
    "and accuracies are on the first --samples training samples. A cost estimate comes "
    "first; every finished cell is saved, and the same command continues an interrupted "
    "landscape.",
    "Files: OUT/<run folder name>/landscape.json, landscape.npz, contour.png, surface.png, "
    "profiles.png; with several runs, OUT/compare-<a>-vs-<b>-{contour,surface,profiles}.png "
    "on the same levels. convgrad explore --landscapes OUT shows them in the browser.",
    "--json prints {\"x\": [...], \"y\": [...], \"loss\": [[...]], \"accuracy\": [[...]]} "
    "(loss[i][j] at x[j], y[i]: rows follow y; null for a non-finite loss); for several "
    "runs, a list of such objects in the order of the RUNs."))
_PACKAGES = ("tqdm", "safetensors", "matplotlib")


def _user_errors(command):
    """The errors a user can fix as ``UsageError`` (one line, exit 2)."""
    @functools.wraps(command)
    def wrapper(args):
        try:
            return command(args)
        except (LandscapeError, ConfigError, RunError, CheckpointError, DataError) as error:
            raise UsageError(" ".join(str(error).split())) from None
        except BrokenPipeError:
            raise
        except OSError as error:      # a read-only --out, a full disk
            where = f"{error.filename}: " if error.filename else ""
            raise UsageError(f"{where}{error.strerror or error}") from None
    return wrapper


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def _say(args, text: str) -> None:
    if not args.quiet:
        print(text, file=sys.stderr, flush=True)


def _settings(args) -> tuple[LandscapeSettings, HessianSettings]:
    return (LandscapeSettings(
                resolution=args.resolution, span=args.span, profile_points=args.points,
                line_from=args.line[0], line_to=args.line[1], samples=args.samples,
                batch_size=args.batch_size, mode=args.mode, biasbn=args.biasbn,
                seed=args.seed),
            HessianSettings(max_iterations=args.hessian_iterations, tol=args.hessian_tol,
                            eps=args.hessian_eps, method=args.hessian_method))


def _landscapes(args, settings, hessian) -> list[Landscape]:
    """Every RUN loaded and checked before anything is computed."""
    # The name the user gave (a link keeps its own name), without "." or "..".
    names = [Path(os.path.normpath(Path(run).expanduser().absolute())).name
             for run in args.runs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UsageError(f"two runs named {repeated[0]!r}: each landscape goes to "
                         f"{args.out}/<run folder name>; copy or rename one run folder")
    landscapes = []
    for run_path, name in zip(args.runs, names):
        run = load_run(run_path, checkpoint=args.checkpoint, data_dir=args.data_dir)
        landscapes.append(Landscape(run, settings, Path(args.out) / name, hessian))
    return landscapes


def _estimate(args, landscape: Landscape) -> float:
    """Print what is left to compute and what it will cost; returns the seconds."""
    s, run = landscape.settings, landscape.run
    remaining = landscape.remaining()
    _, _, per_evaluation = landscape.centre()
    seconds = remaining * per_evaluation
    _say(args, f"{run.run_dir} ({run.config.model}, {landscape.space.size:,} parameters, "
               f"step {run.step}) -> {landscape.store.folder}/")
    _say(args, f"  {remaining} of {s.evaluations} evaluations to compute "
               f"({s.resolution}×{s.resolution} grid over [{-s.span:g}, {s.span:g}]², "
               f"2 × {s.profile_points} profile points), each a forward pass over "
               f"{s.samples} training samples in {s.mode} mode: {per_evaluation:.3f} s "
               f"measured, about {_minutes(seconds)}")
    if landscape.hessian_needed():
        h = landscape.hessian_settings
        products = (h.max_iterations * (2 if h.method == "power" else 1)) + 2
        gradient = landscape.gradient_seconds()
        hessian = products * 2 * gradient
        seconds += hessian
        _say(args, f"  Hessian ({h.method}, float64): at most {products} products of 2 "
                   f"gradients, {gradient:.2f} s each measured, at most {_minutes(hessian)}")
    return seconds


def _compute(args, landscape: Landscape) -> None:
    from tqdm import tqdm

    bar = tqdm(total=landscape.settings.evaluations, initial=landscape.settings.evaluations
               - landscape.remaining(), unit="cell", desc=landscape.name, file=sys.stderr,
               dynamic_ncols=True, mininterval=0.5, leave=False,
               disable=True if args.quiet else None)
    hessian_bar = None

    def on_hessian_step(product: int, value: float) -> None:
        nonlocal hessian_bar
        if hessian_bar is None:
            bar.close()
            hessian_bar = tqdm(desc=f"{landscape.name} Hessian", unit="product",
                               file=sys.stderr, leave=False, dynamic_ncols=True,
                               disable=True if args.quiet else None)
        hessian_bar.update(1)
        hessian_bar.set_postfix_str(f"λ {value:.4g}", refresh=False)

    try:
        landscape.compute(on_evaluation=lambda: bar.update(1), on_hessian_step=on_hessian_step)
    finally:
        bar.close()
        if hessian_bar is not None:
            hessian_bar.close()


def _panel(landscape: Landscape) -> Panel:
    run = landscape.run
    return Panel(f"{landscape.name} ({run.config.model}, step {run.step})", landscape.arrays)


def _draw(landscapes: list[Landscape], out: Path) -> list[Path]:
    """Each run's PNGs in its folder; with several runs, the side-by-side ones in ``out``
    (the same levels for all)."""
    written = []
    panels = [_panel(landscape) for landscape in landscapes]
    levels = log_levels(panels)
    for landscape, panel in zip(landscapes, panels):
        folder = landscape.store.folder
        for name, data in ((CONTOUR_FILE, render_contours([panel])),
                           (SURFACE_FILE, render_surfaces([panel])),
                           (PROFILES_FILE, render_profiles([panel]))):
            replace_file(folder / name, data)
            written.append(folder / name)
    if len(landscapes) > 1:
        stem = "compare-" + "-vs-".join(landscape.name for landscape in landscapes)
        for suffix, data in (("contour", render_contours(panels, levels)),
                             ("surface", render_surfaces(panels, levels)),
                             ("profiles", render_profiles(panels))):
            path = out / f"{stem}-{suffix}.png"
            replace_file(path, data)
            written.append(path)
    return written


def _number(value, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def format_table(landscapes: list[Landscape]) -> str:
    """One row per run: the centre, the Hessian's extremes, the time each part took."""
    header = ("run", "model", "params", "centre loss", "centre acc", "λ_max", "λ_min",
              "|λmin/λmax|", "grid time", "Hessian time")
    rows = []
    for landscape in landscapes:
        meta = landscape.meta
        hessian = meta.get("hessian") or {}
        seconds = meta.get("seconds", {})
        rows.append((landscape.name, landscape.run.config.model, f"{landscape.space.size:,}",
                     format_loss(meta["centre"]["loss"]),
                     f"{meta['centre']['accuracy']:.2%}",
                     _number(hessian.get("lambda_max")), _number(hessian.get("lambda_min")),
                     _number(hessian.get("ratio"), 3),
                     f"{seconds.get('grid', 0.0):.1f} s",
                     f"{hessian['seconds']:.1f} s" if hessian else "-"))
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip()
             for row in [header] + rows]
    return "\n".join(lines)


def grid_record(landscape: Landscape) -> dict:
    """What ``--json`` prints for one run: the grid, rows following y."""
    a = landscape.arrays
    return {"x": a["x"], "y": a["y"], "loss": a["loss"], "accuracy": a["accuracy"]}


@_user_errors
def run_landscape(args) -> int:
    missing = [name for name in _PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise UsageError(f"needs {', '.join(missing)}, not installed; install with: "
                         f"{install_command('train')}")
    settings, hessian = _settings(args)
    landscapes = _landscapes(args, settings, hessian)
    started = time.perf_counter()
    with ExitStack() as stack:
        for landscape in landscapes:
            stack.enter_context(landscape.store.locked())
            landscape.open()
        total = sum(_estimate(args, landscape) for landscape in landscapes)
        if len(landscapes) > 1:
            _say(args, f"all {len(landscapes)} runs: about {_minutes(total)}")
        for landscape in landscapes:
            try:
                _compute(args, landscape)
            except KeyboardInterrupt:
                done = landscape.settings.evaluations - landscape.remaining()
                print(f"convgrad landscape: interrupted; {done} of "
                      f"{landscape.settings.evaluations} evaluations of {landscape.name} are "
                      f"saved in {landscape.store.folder}/; the same command continues",
                      file=sys.stderr)
                return 130
        files = _draw(landscapes, Path(args.out))
    if args.json:
        records = [grid_record(landscape) for landscape in landscapes]
        print(json_text(records[0] if len(records) == 1 else records, indent=None,
                        sort_keys=False))
    else:
        print(format_table(landscapes))
        print(f"wall time {time.perf_counter() - started:.1f} s; pictures: "
              + ", ".join(str(path) for path in files))
    return 0


def _pair(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def register(subparsers) -> None:
    d, h = LandscapeSettings(), HessianSettings()
    parser = subparsers.add_parser(
        "landscape", help="the loss surface around trained networks (Li et al. 2018) and "
                          "the Hessian's extreme eigenvalues",
        formatter_class=argparse.RawDescriptionHelpFormatter, description=DESCRIPTION)
    parser.error = lambda message: parser.exit(
        2, f"{parser.prog}: error: {message} (see {parser.prog} --help)\n")
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run folder(s)")
    parser.add_argument("--checkpoint", default="last", metavar="last|best|STEP",
                        help="which checkpoint of each run (default: last)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), metavar="DIR",
                        help=f"where the landscapes go (default: {DEFAULT_OUT}/)")
    parser.add_argument("--data-dir", metavar="DIR", help="the data set's folder, if moved")
    grid = parser.add_argument_group("surface")
    grid.add_argument("--resolution", type=int, default=d.resolution, metavar="N",
                      help=f"grid points per axis (default: {d.resolution}, so "
                           f"{d.resolution}×{d.resolution} = {d.resolution ** 2} evaluations)")
    grid.add_argument("--span", type=float, default=d.span, metavar="S",
                      help=f"the grid and the profile along δ cover [−S, S] (default: "
                           f"{d.span:g}: a step of 1 moves every filter by its own norm)")
    grid.add_argument("--points", type=int, default=d.profile_points, metavar="N",
                      help=f"points of each 1-D profile (default: {d.profile_points})")
    grid.add_argument("--line", type=_pair, nargs=2, default=(d.line_from, d.line_to),
                      metavar=("T0", "T1"),
                      help=f"the line θ₀ + t(θ* − θ₀) over [T0, T1] (default: "
                           f"{d.line_from:g} {d.line_to:g})")
    grid.add_argument("--samples", type=int, default=d.samples, metavar="N",
                      help=f"the first N training samples (default: {d.samples})")
    grid.add_argument("--batch-size", type=int, default=d.batch_size, metavar="N",
                      help=f"samples per forward pass (default: {d.batch_size})")
    grid.add_argument("--mode", choices=tuple(MODES), default=d.mode,
                      help="BatchNorm's mode. " + " ".join(f"{name}: {text}."
                                                          for name, text in MODES.items())
                           + f" (default: {d.mode})")
    grid.add_argument("--biasbn", choices=tuple(BIASBN), default=d.biasbn,
                      help="the directions in biases and BatchNorm's scale and shift. "
                           + " ".join(f"{name}: {text}." for name, text in BIASBN.items())
                           + f" (default: {d.biasbn})")
    grid.add_argument("--seed", type=int, default=d.seed,
                      help=f"the directions' random seed (default: {d.seed}; runs with the "
                           f"same parameter shapes draw the same Gaussian numbers)")
    hessian = parser.add_argument_group("Hessian")
    hessian.add_argument("--hessian-method", choices=METHODS, default=h.method,
                         help="lanczos: λ_max and λ_min together from one Krylov basis; "
                              "power: power iteration, then on H − λ_a·I (slow, and its "
                              "λ_min can stop inside the crowd of eigenvalues near 0) "
                              f"(default: {h.method})")
    hessian.add_argument("--hessian-iterations", type=int, default=h.max_iterations,
                         metavar="N", help=f"at most N Hessian-vector products (per run "
                                           f"of power iteration); 0: no Hessian (default: "
                                           f"{h.max_iterations})")
    hessian.add_argument("--hessian-tol", type=float, default=h.tol, metavar="X",
                         help=f"stop when each eigenvalue's residual ‖Hv − λv‖ is ≤ "
                              f"X·|λ|: λ is then within that fraction of an eigenvalue "
                              f"(default: {h.tol:g})")
    hessian.add_argument("--hessian-eps", type=float, default=h.eps, metavar="E",
                         help=f"central-difference step along a unit vector (default: "
                              f"{h.eps:g}; larger steps cross ReLU kinks and corrupt the "
                              f"products)")
    output = parser.add_argument_group("output")
    output.add_argument("--json", action="store_true",
                        help="print the grid as JSON (see above) instead of the table")
    output.add_argument("--quiet", action="store_true",
                        help="no estimate and no progress bar on stderr")
    parser.set_defaults(func=run_landscape)
