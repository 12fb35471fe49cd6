"""Each fast convolution route against the reference route (im2col) on ResNet-20's layers.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/conv_routes.py \
        [--threads 2] [--batch 64] [--repeats 20] [--warmup 3]

For each layer (3×3 kernel, padding 1, float32, the input channels-last as the previous
convolution hands it on) every route of ``kernels/conv_routes.ROUTES`` that applies runs
directly, forward and forward+backward (∂L/∂x, ∂L/∂w and ∂L/∂b for a fixed upstream
gradient), in one child process with the given thread count (benchmarks/harness.py).  The
table gives medians after a warm-up, of wall time and of the process's CPU time (which with
``--threads 1`` hardly depends on what else a shared machine runs), and each route's gain
over im2col, the reference route that applies to every convolution.  The gains quoted in the
routes' docstrings come from here.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import emit, median_wall_and_cpu_ms, run_child  # noqa: E402

# (C_in, C_out, H = W, stride): the stride-1 layers of the three stages and the two
# stride-2 layers that enter the second and third.
LAYERS = [(16, 16, 32, 1), (32, 32, 16, 1), (64, 64, 8, 1), (16, 32, 32, 2), (32, 64, 16, 2)]


def worker(batch: int, warmup: int, repeats: int) -> list:
    import numpy as np

    from convgrad.kernels import conv_routes

    rows = []
    for c_in, c_out, size, stride in LAYERS:
        rng = np.random.default_rng(0)
        x = np.ascontiguousarray(rng.standard_normal((batch, size, size, c_in), dtype=np.float32)
                                 ).transpose(0, 3, 1, 2)          # channels-last memory
        w = rng.standard_normal((c_out, c_in, 3, 3), dtype=np.float32) * 0.1
        b = rng.standard_normal(c_out, dtype=np.float32)
        args = ((stride, stride), ((1, 1), (1, 1)), (1, 1), 1)
        g = rng.standard_normal((batch, c_out, size // stride, size // stride),
                                dtype=np.float32)
        for route in conv_routes.ROUTES:
            if not route.applies(x, w, *args):
                continue

            def forward(route=route):
                return route.forward(x, w, b, *args, False)

            def forward_backward(route=route):
                _, cache = route.forward(x, w, b, *args, True)
                route.backward(g, cache, True, True, True)

            rows.append(dict(layer=[c_in, c_out, size, stride], route=route.name,
                             forward=median_wall_and_cpu_ms(forward, warmup, repeats),
                             forward_backward=median_wall_and_cpu_ms(forward_backward,
                                                                      warmup, repeats)))
    return rows


def print_table(rows: list, args) -> None:
    print(f"convolution routes, float32, batch {args.batch}, 3×3 kernel, padding 1, "
          f"channels-last input; {args.threads} thread(s); median of {args.repeats} runs "
          f"after {args.warmup} warm-up; wall time, and CPU time (all threads)")
    header = (f"{'C_in→C_out, H×W, stride':<26}{'route':<8}"
              + "".join(f"{name:>12}{'gain':>7}" for name in
                        ("forward", "CPU", "fwd+bwd", "CPU")))
    print(header)
    print("-" * len(header))
    reference = {tuple(row["layer"]): row for row in rows if row["route"] == "im2col"}
    for row in rows:
        c_in, c_out, size, stride = row["layer"]
        base = reference[tuple(row["layer"])]
        cells = "".join(f"{row[key][i]:>9.2f} ms{base[key][i] / row[key][i]:>6.2f}×"
                        for key in ("forward", "forward_backward") for i in (0, 1))
        print(f"{f'{c_in}→{c_out}, {size}×{size}, {stride}':<26}{row['route']:<8}{cells}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        emit(worker(args.batch, args.warmup, args.repeats))
        return
    print_table(run_child(__file__, args.threads, [
        "--worker", "--batch", str(args.batch), "--warmup", str(args.warmup),
        "--repeats", str(args.repeats)]), args)


if __name__ == "__main__":
    main()
