"""The cost of ``convgrad landscape``: the default 31 × 31 grid and its profiles, and the
Hessian's extremes, for each run given, with the numbers they produce.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/landscape.py \\
        runs/plain1d-50 runs/resnet1d-50 [--out /tmp/landscape-bench] [--json results.json]

Each run's landscape is computed from nothing into ``--out`` (the default settings of
``convgrad landscape``: 31 × 31 over [−1, 1]², 2 × 51 profile points, the first 1000
training samples in batches of 1000, eval mode; Lanczos, at most 40 products).  Columns:
parameters; the sweeps' wall time and the process's CPU time over them; the median and the
90th percentile of one evaluation (a forward pass over the subset plus the atomic save of
the cell), from the intervals between finished cells; the Hessian's wall time and products;
then what was measured (centre, λ_max, λ_min, |λ_min/λ_max|).  The machine is shared:
quote medians, and rerun before comparing.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from convgrad.study.landscape import HessianSettings, Landscape, LandscapeSettings
from convgrad.train import load_run


def measure(run_path: str, out: Path) -> dict:
    run = load_run(run_path)
    folder = out / Path(run_path).name
    shutil.rmtree(folder, ignore_errors=True)
    landscape = Landscape(run, LandscapeSettings(), folder, HessianSettings())
    finished: list[float] = []
    with landscape.store.locked():
        landscape.open()
        cpu, wall = time.process_time(), time.perf_counter()
        landscape.compute(on_evaluation=lambda: finished.append(time.perf_counter()))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    meta = landscape.meta
    hessian, seconds = meta["hessian"], meta["seconds"]
    sweeps = seconds["grid"] + seconds["direction"] + seconds["line"]
    intervals = np.diff(finished)
    return {
        "run": str(run_path), "model": run.config.model, "parameters": landscape.space.size,
        "evaluations": len(finished), "sweeps_s": sweeps, "grid_s": seconds["grid"],
        "evaluation_median_s": float(np.median(intervals)),
        "evaluation_p90_s": float(np.percentile(intervals, 90)),
        "hessian_s": hessian["seconds"], "hessian_products": hessian["products"],
        "total_wall_s": wall, "total_cpu_s": cpu,
        "centre_loss": meta["centre"]["loss"], "centre_accuracy": meta["centre"]["accuracy"],
        "lambda_max": hessian["lambda_max"], "lambda_min": hessian["lambda_min"],
        "ratio": hessian["ratio"], "residual_max": hessian["residual_max"],
        "residual_min": hessian["residual_min"], "converged": hessian["converged"],
        "load": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", metavar="RUN")
    parser.add_argument("--out", default="/tmp/convgrad-landscape-bench")
    parser.add_argument("--json", metavar="FILE", help="write the rows as JSON too")
    args = parser.parse_args()
    rows = [measure(run, Path(args.out)) for run in args.runs]
    print(f"{'run':<16} {'params':>8} {'cells':>5} {'grid+profiles':>13} {'per cell':>17} "
          f"{'Hessian':>14} {'centre loss':>11} {'acc':>7} {'λ_max':>8} {'λ_min':>9} "
          f"{'|λmin/λmax|':>11}")
    for r in rows:
        print(f"{Path(r['run']).name:<16} {r['parameters']:>8,} {r['evaluations']:>5} "
              f"{r['sweeps_s'] / 60:>9.2f} min "
              f"{r['evaluation_median_s']:>6.3f} s (p90 {r['evaluation_p90_s']:.2f}) "
              f"{r['hessian_s']:>6.1f} s/{r['hessian_products']:>3} "
              f"{r['centre_loss']:>11.4g} {r['centre_accuracy']:>7.2%} "
              f"{r['lambda_max']:>8.4g} {r['lambda_min']:>9.4g} {r['ratio']:>11.3g}")
    print(f"load average at the end: {rows[-1]['load'][0]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
