"""ResNet-20 training speed: convgrad against PyTorch on the CPU, in one table.

    python benchmarks/resnet.py [--threads 2] [--batch 64] [--steps 10] [--warmup 3]

Rows:
* one ResNet-20 training step (CIFAR shape 3×32×32, option-A shortcuts, batch norm):
  forward, cross-entropy, backward, SGD with momentum 0.9 and weight decay 1e-4;
* forward+backward of the 3×3 conv2d layers of the engine's benchmark (benchmarks/conv.py):
  16 channels at 32×32, 32 at 16×16, 64 at 8×8 (the three stages of the network), each
  library in the faster of its two layouts (channels-first, or channels-last: the layout
  convgrad's convolutions hand to the next layer, and torch's channels_last).

Each library runs in its own process with the same thread count (benchmarks/harness.py);
PyTorch runs in both its default and its channels_last layout, in separate processes, and
the faster one is compared.  Columns: milliseconds (median after warm-up), images per
second, the ratio to PyTorch, GFLOP/s with its fraction of this machine's float32 matrix-
multiply peak (NumPy's GEMM, measured in the same run), and each process's peak resident
memory.  A training step counts 3× the forward multiply-adds (∂L/∂x and ∂L/∂w each cost a
forward pass) less the first convolution's input gradient, which is never computed.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (blas_description, emit, engine_settings, matmul_peak_gflops,  # noqa: E402
                     median_ms, peak_memory_mb, run_child)

CONV_ROWS = [(16, 32), (32, 16), (64, 8)]


def resnet20_training_flops(batch: int) -> float:
    """Floating-point operations of one training step (2 per multiply-add)."""
    import convgrad
    from convgrad.models import get_model

    summary = convgrad.summary(get_model("resnet20"), (3, 32, 32))
    first_conv = next(row.macs for row in summary.rows if row.type == "Conv2d")
    return 2.0 * batch * (3 * summary.total_macs - first_conv)


# ---------------------------------------------------------------------- the children
def torch_resnet20(torch):
    """ResNet-20 in torch.nn, the same network as convgrad.models' resnet20."""
    nn, F = torch.nn, torch.nn.functional

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.extra = cout - cin

        def forward(self, x):
            out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
            shortcut = x
            if self.extra:  # option A: subsample, then zero channels on both sides
                half = self.extra // 2
                shortcut = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, half, self.extra - half))
            return F.relu(out + shortcut)

    class ResNet20(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(16)
            blocks, cin = [], 16
            for cout, stride in ((16, 1), (32, 2), (64, 2)):
                for i in range(3):
                    blocks.append(Block(cin, cout, stride if i == 0 else 1))
                    cin = cout
            self.blocks = nn.Sequential(*blocks)
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            x = self.blocks(F.relu(self.bn1(self.conv1(x))))
            return self.fc(x.mean((2, 3)))

    return ResNet20()


def step_worker(library: str, batch: int, warmup: int, steps: int, threads: int) -> dict:
    import numpy as np

    rng = np.random.default_rng(0)
    images = rng.standard_normal((batch, 3, 32, 32), dtype=np.float32)
    labels = rng.integers(0, 10, batch)
    if library == "convgrad":
        import convgrad
        import convgrad.functional as F
        from convgrad import optim
        from convgrad.models import get_model

        convgrad.manual_seed(0)
        model = get_model("resnet20")
        optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
        x, y = convgrad.tensor(images), convgrad.tensor(labels)
    else:
        import torch
        import torch.nn.functional as F

        torch.set_num_threads(threads)
        torch.manual_seed(0)
        model = torch_resnet20(torch)
        x, y = torch.from_numpy(images), torch.from_numpy(labels)
        if library == "torch-channels_last":
            model = model.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    idle_mb = peak_memory_mb()

    def step():
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    ms = median_ms(step, warmup, steps)
    return dict(ms=ms, peak_mb=peak_memory_mb(), idle_mb=idle_mb)


def conv_worker(library: str, batch: int, warmup: int, repeats: int, threads: int) -> list:
    import numpy as np

    results = []
    for channels, size in CONV_ROWS:
        rng = np.random.default_rng(0)
        arrays = [rng.standard_normal(shape, dtype=np.float32) for shape in (
            (batch, channels, size, size), (channels, channels, 3, 3), (channels,),
            (batch, channels, size, size))]
        if library.startswith("convgrad"):
            import convgrad as lib
            import convgrad.functional as F

            if library == "convgrad-channels_last":   # the layout its convolutions return
                arrays[0], arrays[3] = (np.ascontiguousarray(a.transpose(0, 2, 3, 1))
                                        .transpose(0, 3, 1, 2) for a in (arrays[0], arrays[3]))
            x, w, b = (lib.Tensor._wrap(a) for a in arrays[:3])
            for t in (x, w, b):
                t.requires_grad = True
            g = lib.Tensor._wrap(arrays[3])
        else:
            import torch as lib
            import torch.nn.functional as F

            lib.set_num_threads(threads)
            x, w, b, g = (lib.from_numpy(a) for a in arrays)
            if library == "torch-channels_last":
                x, g = (t.contiguous(memory_format=lib.channels_last) for t in (x, g))
                w = w.contiguous(memory_format=lib.channels_last)
            for t in (x, w, b):
                t.requires_grad_(True)

        def forward_backward():
            for t in (x, w, b):
                t.grad = None
            F.conv2d(x, w, b, padding=1).backward(g)

        results.append(median_ms(forward_backward, warmup, repeats))
    return results


# ---------------------------------------------------------------------- the table
def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10, help="timed steps (median)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)  # (kind, library)
    args = parser.parse_args(argv)
    if args.worker:
        kind, library = args.worker
        with engine_settings(library):
            if kind == "peak":
                emit(matmul_peak_gflops(library, args.threads))
            elif kind == "step":
                emit(step_worker(library, args.batch, args.warmup, args.steps, args.threads))
            else:
                emit(conv_worker(library, args.batch, args.warmup, max(args.steps, 10),
                                 args.threads))
        return

    def child(kind, library):
        return run_child(__file__, args.threads, [
            "--worker", kind, library, "--threads", str(args.threads), "--batch",
            str(args.batch), "--steps", str(args.steps), "--warmup", str(args.warmup)])

    torch_layouts = ("torch", "torch-channels_last")
    peak = child("peak", "numpy")
    steps = {lib: child("step", lib) for lib in ("convgrad", *torch_layouts)}
    mine_layouts = ("convgrad", "convgrad-channels_last")
    convs = {lib: child("conv", lib) for lib in (*mine_layouts, *torch_layouts)}
    step_flops = resnet20_training_flops(args.batch)

    print(blas_description(args.threads))
    print(f"ResNet-20 training, float32, batch {args.batch}, {args.threads} thread(s); "
          f"median of {args.steps} steps after {args.warmup} warm-up")
    print(f"float32 matrix-multiply peak of this machine (NumPy GEMM 2048²): {peak:.0f} GFLOP/s")
    header = (f"{'case':<26}{'convgrad ms':>12}{'torch ms':>10}{'ratio':>8}{'img/s':>8}"
              f"{'torch img/s':>12}{'GFLOP/s (peak)':>16}{'torch GFLOP/s':>15}{'MB':>7}"
              f"{'torch MB':>9}")
    print(header)
    print("-" * len(header))

    def row(label, mine_ms, theirs, flops, mine_mb="", theirs_mb="", layout=""):
        rate = lambda ms: args.batch / (ms / 1e3)  # noqa: E731
        gflops = lambda ms: flops / (ms * 1e6)  # noqa: E731
        print(f"{label:<26}{mine_ms:>12.1f}{theirs:>10.1f}{mine_ms / theirs:>7.2f}×"
              f"{rate(mine_ms):>8.0f}{rate(theirs):>12.0f}"
              f"{gflops(mine_ms):>8.0f} ({gflops(mine_ms) / peak:>4.0%})"
              f"{gflops(theirs):>9.0f} ({gflops(theirs) / peak:>3.0%})"
              f"{mine_mb:>7}{theirs_mb:>9}{layout}")

    best = min(torch_layouts, key=lambda lib: steps[lib]["ms"])
    row("ResNet-20 training step", steps["convgrad"]["ms"], steps[best]["ms"], step_flops,
        f"{steps['convgrad']['peak_mb']:.0f}", f"{steps[best]['peak_mb']:.0f}",
        f"   torch: {best.replace('torch-', '') if '-' in best else 'default'} layout")
    for i, (channels, size) in enumerate(CONV_ROWS):
        mine = min(convs[lib][i] for lib in mine_layouts)
        theirs = min(convs[lib][i] for lib in torch_layouts)
        flops = 3 * 2 * args.batch * channels * channels * 9 * size * size
        row(f"conv {channels}ch {size}×{size} fwd+bwd", mine, theirs, flops)
    print("-" * len(header))
    for lib in ("convgrad", *torch_layouts):
        s = steps[lib]
        print(f"{lib:<22} step {s['ms']:7.1f} ms   peak memory {s['peak_mb']:6.0f} MB "
              f"(after building the model: {s['idle_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
