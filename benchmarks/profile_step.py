"""Where a convgrad training step spends its time: one table per network, by kind of work.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/profile_step.py \
        [resnet1d-14 resnet1d-50 ...] [--threads 2] [--steps 30] [--warmup 5]

The networks, data and recipe are those of benchmarks/networks.py.  Each network runs in its
own process.  The step is cut into forward, backward and the optimizer's update (its
``zero_grad`` and ``step``), each timed as a whole (wall time in the calling thread); inside
them the kernels are timed by wrapping the module functions that the functional layer calls
— the convolution routes' forward and backward, batch norm's (with its fused residual add
and ReLU), pooling and padding (ResNet-20's shortcuts pad channels), the loss — and the
matrix products the grid and phases routes issue straight through cblas, whose time is
summed over the worker threads (so on several threads it can exceed the convolution's own
wall time; im2col's products — a first layer's, the 1-D stride-2 convolutions' — are not in
that line).  "everything else" is, step by step, the step less the timed kernels and the
update: the graph's bookkeeping, the elementwise operations, linear layers and the Python
between them.  Medians over the timed steps; the wrappers add well under a microsecond per
call.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import blas_description, emit, engine_settings, run_child  # noqa: E402
from networks import NETWORKS, convgrad_training  # noqa: E402

GEMM = "  of which grid GEMMs (all threads)"
KINDS = ("conv forward", "conv backward", GEMM, "batch norm forward", "batch norm backward",
         "pooling, padding", "loss")


class Timers:
    """Seconds per kind of work in the current step; GEMM time from any thread."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self.calls = defaultdict(int)
        self.lock = threading.Lock()

    def wrap(self, kind: str, fn):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                with self.lock:
                    self.seconds[kind] += elapsed
                    self.calls[kind] += 1
        return timed

    def take(self) -> tuple:
        with self.lock:
            seconds, calls = dict(self.seconds), dict(self.calls)
            self.seconds.clear()
            self.calls.clear()
        return seconds, calls


def instrument(timers: Timers) -> None:
    """Wrap the kernels the functional layer calls, in place (this process only)."""
    from convgrad.kernels import blas, conv_routes, loss, norm, pool

    conv_routes.conv_forward = timers.wrap("conv forward", conv_routes.conv_forward)
    conv_routes.conv_backward = timers.wrap("conv backward", conv_routes.conv_backward)
    for name in ("batch_norm_train_forward", "batch_norm_eval_forward"):
        setattr(norm, name, timers.wrap("batch norm forward", getattr(norm, name)))
    norm.batch_norm_backward = timers.wrap("batch norm backward", norm.batch_norm_backward)
    # *_forward and *_backward only: the loss's forward calls log_softmax through the module,
    # which would be counted twice.
    for module, kind in ((pool, "pooling, padding"), (loss, "loss")):
        for name in dir(module):
            fn = getattr(module, name)
            if callable(fn) and name.endswith(("_forward", "_backward")) \
                    and getattr(fn, "__module__", None) == module.__name__:
                setattr(module, name, timers.wrap(kind, fn))
    raw_gemm = blas.raw_gemm
    wrapped = {}

    def timed_raw_gemm(dtype):
        fn = raw_gemm(dtype)
        if fn is None:
            return None
        if id(fn) not in wrapped:      # ctypes functions cannot be hashed
            wrapped[id(fn)] = timers.wrap(GEMM, fn)
        return wrapped[id(fn)]

    blas.raw_gemm = timed_raw_gemm


def profile_worker(network: str, warmup: int, steps: int) -> dict:
    import convgrad.functional as F

    model, optimizer, data = convgrad_training(network)
    timers = Timers()
    instrument(timers)
    rows = []
    for number in range(warmup + steps):
        x, y = data[number % len(data)]
        start = time.perf_counter()
        optimizer.zero_grad()
        cleared = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        forward_done = time.perf_counter()
        loss.backward()
        backward_done = time.perf_counter()
        optimizer.step()
        done = time.perf_counter()
        seconds, calls = timers.take()
        update = (cleared - start) + (done - backward_done)
        timed = sum(spent for kind, spent in seconds.items() if kind != GEMM)
        if number >= warmup:
            rows.append(dict(step=done - start, forward=forward_done - cleared,
                             backward=backward_done - forward_done, update=update,
                             rest=done - start - update - timed, seconds=seconds,
                             calls=calls))
    median = lambda values: statistics.median(values) * 1e3  # noqa: E731
    kernels = {kind: median([row["seconds"].get(kind, 0.0) for row in rows]) for kind in KINDS}
    calls = {kind: rows[-1]["calls"].get(kind, 0) for kind in KINDS}
    return dict(kernels=kernels, calls=calls,
                **{part: median([row[part] for row in rows])
                   for part in ("step", "forward", "backward", "update", "rest")})


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("networks", nargs="*", metavar="NETWORK",
                        help=f"any of {', '.join(NETWORKS)}; default: resnet1d-14 resnet1d-50 "
                             "resnet20")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        network, warmup, steps = args.worker
        with engine_settings("convgrad"):
            emit(profile_worker(network, int(warmup), int(steps)))
        return
    networks = args.networks or ["resnet1d-14", "resnet1d-50", "resnet20"]
    unknown = [name for name in networks if name not in NETWORKS]
    if unknown:
        parser.error(f"unknown network {unknown[0]!r}; choose from {', '.join(NETWORKS)}")
    print(blas_description(args.threads))
    print(f"one training step, {args.threads} thread(s); medians of {args.steps} steps after "
          f"{args.warmup} warm-up, in ms (calls per step in brackets)")
    for network in networks:
        result = run_child(__file__, args.threads,
                           ["--worker", network, str(args.warmup), str(args.steps)])
        step = result["step"]
        print(f"\n{network} (batch {NETWORKS[network][3]}): step {step:.2f} ms = forward "
              f"{result['forward']:.2f} + backward {result['backward']:.2f} + update "
              f"{result['update']:.2f}")
        for kind in KINDS:
            ms = result["kernels"][kind]
            print(f"  {kind:<36} {ms:8.2f} ms  {100 * ms / step:5.1f} %  "
                  f"({result['calls'][kind]})")
        print(f"  {'optimizer update':<36} {result['update']:8.2f} ms  "
              f"{100 * result['update'] / step:5.1f} %")
        print(f"  {'everything else':<36} {result['rest']:8.2f} ms  "
              f"{100 * result['rest'] / step:5.1f} %")


if __name__ == "__main__":
    main()
