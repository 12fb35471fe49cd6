"""conv2d speed: convgrad against PyTorch on the CPU, forward and forward+backward.

    python benchmarks/conv.py [--threads 2] [--repeats 20] [--warmup 3] [--batch 64]

Each library runs in its own subprocess with the same thread count (benchmarks/harness.py
sets OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS and CONVGRAD_NUM_THREADS before
NumPy or torch is imported; torch.set_num_threads is called too), so neither one's thread
pool or memory allocator disturbs the other.  Each library runs in both memory layouts,
channels-first and channels-last (torch's channels_last; for convgrad, the layout its
convolutions hand to the next layer), in separate processes, and the faster is compared.  Each row is a 3×3
convolution with padding 1 and as many output channels as input channels, float32, batch
64 — the three stages of a CIFAR ResNet.  After a warm-up, the median of the repeated runs
is reported.

forward+backward computes the gradients of the input, the weight and the bias (a middle layer
of a network) for a fixed random upstream gradient.  GFLOP/s counts the multiply-adds of the
convolution: 2·N·C_out·(C_in/groups)·kH·kW·H_out·W_out for the forward pass, and three times
that for forward+backward (∂L/∂x and ∂L/∂w each cost one forward pass).
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import blas_description, emit, engine_settings, median_ms, run_child  # noqa: E402

# (channels, height = width): 16 ch at 32×32, 32 ch at 16×16, 64 ch at 8×8
ROWS = [(16, 32), (32, 16), (64, 8)]
KERNEL, PADDING = 3, 1
MINE = ("convgrad", "convgrad-channels_last")
THEIRS = ("torch", "torch-channels_last")
LIBRARIES = MINE + THEIRS


def forward_flops(batch: int, channels: int, size: int) -> int:
    out = size + 2 * PADDING - KERNEL + 1
    return 2 * batch * channels * channels * KERNEL * KERNEL * out * out


def worker(library: str, threads: int, batch: int, warmup: int, repeats: int) -> list:
    """Runs inside the child process: times every row with one library in one layout."""
    import numpy as np

    channels_last = library.endswith("channels_last")
    if library.startswith("torch"):
        import torch as lib
        import torch.nn.functional as F

        lib.set_num_threads(threads)
        no_grad = lib.no_grad
    else:
        import convgrad as lib
        import convgrad.functional as F

        no_grad = lib.no_grad
    results = []
    for channels, size in ROWS:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch, channels, size, size), dtype=np.float32)
        w = rng.standard_normal((channels, channels, KERNEL, KERNEL), dtype=np.float32) * 0.1
        b = rng.standard_normal(channels, dtype=np.float32)
        g = rng.standard_normal((batch, channels, size, size), dtype=np.float32)
        if channels_last:   # (N, H, W, C) memory seen as (N, C, H, W), for both libraries
            x, w, g = (np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
                       for a in (x, w, g))
        xt, wt, bt, gt = (lib.from_numpy(a) for a in (x, w, b, g))
        for t in (xt, wt, bt):
            t.requires_grad_(True)

        def forward():
            with no_grad():
                F.conv2d(xt, wt, bt, padding=PADDING)

        def forward_backward():
            for t in (xt, wt, bt):
                t.grad = None
            F.conv2d(xt, wt, bt, padding=PADDING).backward(gt)

        results.append(dict(channels=channels, size=size,
                            forward_ms=median_ms(forward, warmup, repeats),
                            forward_backward_ms=median_ms(forward_backward, warmup, repeats)))
    return results


def print_table(results: dict, args) -> None:
    print(blas_description(args.threads))
    print(f"conv2d, float32, batch {args.batch}, {KERNEL}×{KERNEL} kernel, padding {PADDING}, "
          f"C_in = C_out; {args.threads} thread(s); median of {args.repeats} runs after "
          f"{args.warmup} warm-up; each library in the faster of its channels-first and "
          f"channels-last layouts")
    header = (f"{'channels, H×W':<16}{'pass':<18}{'convgrad ms':>12}{'GFLOP/s':>9}"
              f"{'torch ms':>10}{'GFLOP/s':>9}{'ratio':>8}")
    print(header)
    print("-" * len(header))
    for row, first in enumerate(results["convgrad"]):
        flops = forward_flops(args.batch, first["channels"], first["size"])
        label = f"{first['channels']}, {first['size']}×{first['size']}"
        for key, name, multiple in (("forward_ms", "forward", 1),
                                    ("forward_backward_ms", "forward+backward", 3)):
            mine = min(results[lib][row][key] for lib in MINE)
            theirs = min(results[lib][row][key] for lib in THEIRS)
            gflops = lambda ms: multiple * flops / (ms * 1e6)  # noqa: E731
            print(f"{label:<16}{name:<18}{mine:>12.2f}{gflops(mine):>9.1f}"
                  f"{theirs:>10.2f}{gflops(theirs):>9.1f}{mine / theirs:>7.2f}×")
            label = ""


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="threads for both libraries")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--worker", choices=LIBRARIES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        with engine_settings(args.worker):
            emit(worker(args.worker, args.threads, args.batch, args.warmup, args.repeats))
        return
    print_table({library: run_child(__file__, args.threads, [
        "--worker", library, "--threads", str(args.threads), "--batch", str(args.batch),
        "--warmup", str(args.warmup), "--repeats", str(args.repeats)])
        for library in LIBRARIES}, args)


if __name__ == "__main__":
    main()
