"""conv2d speed: convgrad against PyTorch on the CPU, forward and forward+backward.

    python benchmarks/conv.py [--threads 2] [--repeats 20] [--warmup 3] [--batch 64]

Each library runs in its own subprocess with the same thread count (benchmarks/harness.py
sets OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS and CONVGRAD_NUM_THREADS before
NumPy or torch is imported; torch.set_num_threads is called too), so neither one's thread
pool or memory allocator disturbs the other.  PyTorch runs in its default and its
channels_last layout (separate processes) and the faster is compared.  Each row is a 3×3
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

from harness import emit, median_ms, run_child  # noqa: E402

# (channels, height = width): 16 ch at 32×32, 32 ch at 16×16, 64 ch at 8×8
ROWS = [(16, 32), (32, 16), (64, 8)]
KERNEL, PADDING = 3, 1
LIBRARIES = ("convgrad", "torch", "torch-channels_last")


def forward_flops(batch: int, channels: int, size: int) -> int:
    out = size + 2 * PADDING - KERNEL + 1
    return 2 * batch * channels * channels * KERNEL * KERNEL * out * out


def worker(library: str, threads: int, batch: int, warmup: int, repeats: int) -> list:
    """Runs inside the child process: times every row with one library."""
    import numpy as np

    results = []
    for channels, size in ROWS:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch, channels, size, size), dtype=np.float32)
        w = rng.standard_normal((channels, channels, KERNEL, KERNEL), dtype=np.float32) * 0.1
        b = rng.standard_normal(channels, dtype=np.float32)
        g = rng.standard_normal((batch, channels, size, size), dtype=np.float32)
        if library.startswith("torch"):
            import torch
            import torch.nn.functional as F

            torch.set_num_threads(threads)
            xt, wt, bt, gt = (torch.tensor(a) for a in (x, w, b, g))
            if library == "torch-channels_last":
                xt, wt, gt = (t.contiguous(memory_format=torch.channels_last)
                              for t in (xt, wt, gt))
            for t in (xt, wt, bt):
                t.requires_grad_(True)

            def forward():
                with torch.no_grad():
                    F.conv2d(xt, wt, bt, padding=PADDING)

            def forward_backward():
                for t in (xt, wt, bt):
                    t.grad = None
                F.conv2d(xt, wt, bt, padding=PADDING).backward(gt)
        else:
            import convgrad as cg
            import convgrad.functional as F

            xt, wt, bt = (cg.tensor(a, requires_grad=True) for a in (x, w, b))
            gt = cg.tensor(g)

            def forward():
                with cg.no_grad():
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
    print(f"conv2d, float32, batch {args.batch}, {KERNEL}×{KERNEL} kernel, padding {PADDING}, "
          f"C_in = C_out; {args.threads} thread(s); median of {args.repeats} runs after "
          f"{args.warmup} warm-up; torch in the faster of its default and channels_last "
          f"layouts")
    header = (f"{'channels, H×W':<16}{'pass':<18}{'convgrad ms':>12}{'GFLOP/s':>9}"
              f"{'torch ms':>10}{'GFLOP/s':>9}{'ratio':>8}")
    print(header)
    print("-" * len(header))
    for row, mine in enumerate(results["convgrad"]):
        flops = forward_flops(args.batch, mine["channels"], mine["size"])
        label = f"{mine['channels']}, {mine['size']}×{mine['size']}"
        for key, name, multiple in (("forward_ms", "forward", 1),
                                    ("forward_backward_ms", "forward+backward", 3)):
            theirs = min(results[lib][row][key] for lib in LIBRARIES[1:])
            gflops = lambda ms: multiple * flops / (ms * 1e6)  # noqa: E731
            print(f"{label:<16}{name:<18}{mine[key]:>12.2f}{gflops(mine[key]):>9.1f}"
                  f"{theirs:>10.2f}{gflops(theirs):>9.1f}"
                  f"{mine[key] / theirs:>7.2f}×")
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
        emit(worker(args.worker, args.threads, args.batch, args.warmup, args.repeats))
        return
    print_table({library: run_child(__file__, args.threads, [
        "--worker", library, "--threads", str(args.threads), "--batch", str(args.batch),
        "--warmup", str(args.warmup), "--repeats", str(args.repeats)])
        for library in LIBRARIES}, args)


if __name__ == "__main__":
    main()
