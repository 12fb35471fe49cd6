"""convgrad against itself: the same timings from two source trees, alternated, to measure a change.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/ab.py BASE_SRC \
        [--new NEW_SRC] [--rounds 5] [--threads 2] [--repeats 10] [--warmup 3]

BASE_SRC and NEW_SRC are ``src`` folders of two checkouts (NEW_SRC defaults to this one's),
for example ``git worktree add /tmp/base main`` then ``/tmp/base/src``.  Each round runs one
child process per tree with ``PYTHONPATH`` set to it, in alternating order (base first in odd
rounds, new first in even ones), so that both see the same drift of a shared machine.  A
child times, with the public API only: training steps of ResNet-20 (batch 64), of the 1-D
ResNets at 14 and 50 layers and of the MNIST-1D CNN (batch 100; data and recipe as
benchmarks/networks.py), and the forward+backward of ResNet-20's convolutions (each route:
stride 1 at 16, 32 and 64 channels, stride 2 into 32 and 64, and the 3-channel first
layer); ``--cases`` picks some by the start of their names.  It reports medians of wall time
and of the process's CPU time (all threads); with ``--threads 1`` the CPU time hardly
depends on what else the machine runs.  The table gives, per case and tree, the median over
rounds, and the ratio new/base.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import emit, engine_settings, median_wall_and_cpu_ms, run_child  # noqa: E402
from networks import convgrad_training, training_step  # noqa: E402

# (C_in, C_out, H = W, stride) of ResNet-20's convolutions, one per route they take
CONV_LAYERS = [(3, 16, 32, 1), (16, 16, 32, 1), (32, 32, 16, 1), (64, 64, 8, 1),
               (16, 32, 32, 2), (32, 64, 16, 2)]


STEPS = {"ResNet-20 step": "resnet20", "resnet1d-14 step": "resnet1d-14",
         "resnet1d-50 step": "resnet1d-50", "MNIST-1D CNN step": "mnist1d-cnn"}


def worker(warmup: int, repeats: int, cases: list | None) -> dict:
    import numpy as np

    import convgrad
    import convgrad.functional as F

    rng = np.random.default_rng(0)
    results = {}

    def wanted(case):
        return cases is None or any(case.startswith(prefix) for prefix in cases)

    for case, network in STEPS.items():
        if wanted(case):
            step = training_step(*convgrad_training(network), F)
            results[case] = median_wall_and_cpu_ms(step, warmup,
                                                   repeats * (1 if network == "resnet20" else 3))
    for c_in, c_out, size, stride in CONV_LAYERS:
        if not wanted("conv"):
            break
        x, g = (convgrad.Tensor._wrap(np.ascontiguousarray(
            rng.standard_normal((64, s, s, c), dtype=np.float32)).transpose(0, 3, 1, 2))
            for s, c in ((size, c_in), (size // stride, c_out)))
        w = convgrad.tensor(rng.standard_normal((c_out, c_in, 3, 3), dtype=np.float32) * 0.1)
        b = convgrad.tensor(rng.standard_normal(c_out, dtype=np.float32))
        for t in (x, w, b):
            t.requires_grad = True

        def forward_backward(x=x, w=w, b=b, g=g, stride=stride):
            for t in (x, w, b):
                t.grad = None
            F.conv2d(x, w, b, stride=stride, padding=1).backward(g)

        results[f"conv {c_in}→{c_out} {size}×{size} s{stride}"] = median_wall_and_cpu_ms(
            forward_backward, warmup, repeats)
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", nargs="?", help="the base tree's src folder")
    parser.add_argument("--new", default=os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "src"), help="the new tree's src (default: this one's)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--cases", nargs="+", help="only the cases whose names start so "
                        "(e.g. resnet1d conv)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        with engine_settings("convgrad"):
            emit(worker(args.warmup, args.repeats, args.cases))
        return
    if args.base is None:
        parser.error("give the base tree's src folder")
    trees = {"base": os.path.abspath(args.base), "new": os.path.abspath(args.new)}
    runs = {name: [] for name in trees}
    saved = os.environ.get("PYTHONPATH")
    try:
        for round_number in range(args.rounds):
            order = list(trees) if round_number % 2 == 0 else list(reversed(trees))
            for name in order:
                os.environ["PYTHONPATH"] = trees[name]
                runs[name].append(run_child(__file__, args.threads, [
                    "--worker", "--warmup", str(args.warmup), "--repeats", str(args.repeats)]
                    + (["--cases", *args.cases] if args.cases else [])))
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
    print(f"convgrad A/B, float32, {args.threads} thread(s), {args.rounds} alternating rounds; "
          f"each cell: the median over rounds of a median of {args.repeats} runs after "
          f"{args.warmup} warm-up\nbase: {trees['base']}\nnew:  {trees['new']}")
    header = (f"{'case':<28}{'base ms':>9}{'new ms':>9}{'new/base':>10}"
              f"{'base CPU ms':>13}{'new CPU ms':>12}{'new/base':>10}")
    print(header)
    print("-" * len(header))
    for case in runs["base"][0]:
        wall, cpu = ({name: statistics.median(run[case][index] for run in runs[name])
                      for name in trees} for index in (0, 1))
        print(f"{case:<28}{wall['base']:>9.2f}{wall['new']:>9.2f}"
              f"{wall['new'] / wall['base']:>9.3f}×{cpu['base']:>13.2f}{cpu['new']:>12.2f}"
              f"{cpu['new'] / cpu['base']:>9.3f}×")


if __name__ == "__main__":
    main()
