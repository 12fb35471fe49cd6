"""Training steps of the course's networks: convgrad against PyTorch, one table.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/networks.py \
        [--threads 2] [--steps 30] [--warmup 5] [--rounds 1] [--only resnet1d-50 ...] \
        [--before OTHER_CHECKOUT/src]

Rows, each one training step of the depth study's recipe (SGD, learning rate 0.1, momentum
0.9, weight decay 1e-4; cross-entropy; forward, backward, update):

* the 1-D ResNet and its plain twin at 14 and 50 layers (``ResNet1d(blocks=2 or 8)``) and
  the MNIST-1D paper's CNN, on MNIST-1D batches of 100;
* ResNet-20 on CIFAR-shaped random images, batch 64.

The MNIST-1D steps walk through the real training set in one fixed shuffled order, batch
after batch, as training does: a network fed the same batch over and over memorises it,
its gradients shrink into float32's subnormal range, and every product then slows down
(PyTorch's 1-D ResNet step measured 9× slower that way).  ResNet-20 cycles through 8 random
batches with random labels, which no network memorises in a few dozen steps.

Each library and network runs in its own process (benchmarks/harness.py), with the same
thread count; PyTorch runs the same networks (``convgrad.interop.torch_models``), ResNet-20
in both its default and its channels_last layout, and the faster one is compared (1-D
tensors have one layout).  Columns: the median step time after the warm-up, the ratio to
PyTorch, and memory: each process's peak resident size while it trains, and the step's own
share of it (that peak less the resident size once the model and data were built).
Compare ratios measured in one run: these machines are shared and their load changes.
``--rounds N`` runs every process N times, alternating the order, and quotes medians; the
CPU columns (all threads of the process) move less than wall time when other work shares the
cores.  ``--before SRC`` adds the convgrad under another checkout's ``src`` folder (e.g.
``git worktree add /tmp/base main``, then ``--before /tmp/base/src``) as a third library in
the same rounds: a before/after table measured back to back.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (blas_description, emit, engine_settings, median_wall_and_cpu_ms,  # noqa: E402
                     run_child, step_memory)

# name: (registry model, constructor arguments, input shape of one example, batch)
NETWORKS = {
    "resnet1d-14": ("resnet1d", dict(blocks=2), (1, 40), 100),
    "plain1d-14": ("plain1d", dict(blocks=2), (1, 40), 100),
    "resnet1d-50": ("resnet1d", dict(blocks=8), (1, 40), 100),
    "plain1d-50": ("plain1d", dict(blocks=8), (1, 40), 100),
    "mnist1d-cnn": ("cnn", {}, (1, 40), 100),
    "resnet20": ("resnet20", {}, (3, 32, 32), 64),
}
RANDOM_BATCHES = 8


def batches(model: str, input_shape: tuple, batch: int) -> list:
    """(inputs, labels) NumPy pairs: MNIST-1D's training set in a fixed shuffled order, or
    random images for the CIFAR networks."""
    import numpy as np

    rng = np.random.default_rng(0)
    if input_shape == (1, 40):
        from convgrad.data.mnist1d import load_mnist1d

        data = load_mnist1d()
        order = rng.permutation(len(data.train_y))
        return [(data.train_x[order[i:i + batch]], data.train_y[order[i:i + batch]])
                for i in range(0, len(order) - batch + 1, batch)]
    return [(rng.standard_normal((batch,) + input_shape, dtype=np.float32),
             rng.integers(0, 10, batch)) for _ in range(RANDOM_BATCHES)]


def convgrad_training(network: str) -> tuple:
    """``(model, optimizer, batches)`` of ``network`` in convgrad: seed 0, the study's SGD
    recipe, the batches as tensors (also what benchmarks/ab.py and profile_step.py time)."""
    import convgrad
    from convgrad import optim
    from convgrad.models import get_model

    model_name, kwargs, input_shape, batch = NETWORKS[network]
    convgrad.manual_seed(0)
    model = get_model(model_name, **kwargs)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    data = [(convgrad.tensor(x), convgrad.tensor(y))
            for x, y in batches(model_name, input_shape, batch)]
    return model, optimizer, data


def training_step(model, optimizer, data: list, functional):
    """A function that runs one training step on the next batch of ``data`` (cycling), in
    either library (``functional``: its ``nn.functional``)."""
    position = iter(range(10 ** 9))

    def step():
        x, y = data[next(position) % len(data)]
        optimizer.zero_grad()
        functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return step


def step_worker(library: str, network: str, warmup: int, steps: int, threads: int) -> dict:
    if library.startswith("convgrad"):
        import convgrad
        import convgrad.functional as F

        model, optimizer, data = convgrad_training(network)
        source = os.path.dirname(os.path.dirname(convgrad.__file__))
    else:
        import torch
        import torch.nn.functional as F

        from convgrad.interop.torch_models import build

        model_name, kwargs, input_shape, batch = NETWORKS[network]
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        model = build(model_name, **kwargs)
        data = [(torch.from_numpy(x), torch.from_numpy(y))
                for x, y in batches(model_name, input_shape, batch)]
        if library == "torch-channels_last":
            model = model.to(memory_format=torch.channels_last)
            data = [(x.contiguous(memory_format=torch.channels_last), y) for x, y in data]
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
        source = None
    with step_memory() as memory:
        ms, cpu_ms = median_wall_and_cpu_ms(training_step(model, optimizer, data, F), warmup,
                                            steps)
    return dict(ms=ms, cpu_ms=cpu_ms, source=source, **memory)


def libraries(network: str, before: bool) -> tuple:
    """convgrad (and the one before), then PyTorch in each layout it has for this network."""
    spatial = len(NETWORKS[network][2]) - 1
    return (("convgrad-before",) if before else ()) + ("convgrad", "torch") + (
        ("torch-channels_last",) if spatial == 2 else ())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=30, help="timed steps (median)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=1,
                        help="repeat every process, alternating the order; median over rounds")
    parser.add_argument("--only", nargs="+", choices=list(NETWORKS), help="these rows only")
    parser.add_argument("--before", metavar="SRC",
                        help="another checkout's src folder, timed as 'before' in the same run")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)  # (library, network)
    args = parser.parse_args(argv)
    if args.worker:
        library, network = args.worker
        with engine_settings(library):
            emit(step_worker(library, network, args.warmup, args.steps, args.threads))
        return

    def child(library, network):
        return run_child(__file__, args.threads, [
            "--worker", library, network, "--threads", str(args.threads),
            "--steps", str(args.steps), "--warmup", str(args.warmup)],
            source=args.before if library == "convgrad-before" else None)

    networks = args.only or list(NETWORKS)
    before = args.before is not None
    runs = {(net, lib): [] for net in networks for lib in libraries(net, before)}
    for round_number in range(args.rounds):
        for network in networks:
            order = libraries(network, before)
            for library in (order if round_number % 2 == 0 else reversed(order)):
                runs[network, library].append(child(library, network))

    def median(network, library, key):
        return statistics.median(run[key] for run in runs[network, library])

    print(blas_description(args.threads))
    labels = {"convgrad-before": "before", "convgrad": "after" if before else ""}
    for version in (("convgrad-before", "convgrad") if before else ("convgrad",)):
        print(f"convgrad {labels[version] or 'from'}: {runs[networks[0], version][0]['source']}")
    print(f"training steps, float32, {args.threads} thread(s); median of {args.steps} steps "
          f"after {args.warmup} warm-up (median over {args.rounds} alternating round(s)); "
          f"memory: process peak (the step's own share)")
    header = (f"{'network':<14}{'batch':>6}{'':>7}{'convgrad ms':>12}{'torch ms':>10}"
              f"{'ratio':>8}{'CPU ms':>9}{'torch CPU':>10}{'CPU ratio':>10}{'convgrad MB':>13}"
              f"{'torch MB':>13}  torch layout")
    print(header)
    print("-" * len(header))
    keys = ("ms", "cpu_ms", "peak_mb", "step_mb")
    for network in networks:
        torch_libs = [lib for lib in libraries(network, before) if lib.startswith("torch")]
        best = min(torch_libs, key=lambda lib: median(network, lib, "ms"))
        other = {key: median(network, best, key) for key in keys}
        for version in (("convgrad-before", "convgrad") if before else ("convgrad",)):
            mine = {key: median(network, version, key) for key in keys}
            print(f"{network:<14}{NETWORKS[network][3]:>6}{labels[version]:>7}"
                  f"{mine['ms']:>12.1f}"                  f"{other['ms']:>10.1f}{mine['ms'] / other['ms']:>7.2f}×"
                  f"{mine['cpu_ms']:>9.1f}{other['cpu_ms']:>10.1f}"
                  f"{mine['cpu_ms'] / other['cpu_ms']:>9.2f}×"
                  f"{mine['peak_mb']:>6.0f} ({mine['step_mb']:>4.0f}){other['peak_mb']:>6.0f} "
                  f"({other['step_mb']:>4.0f})  "
                  f"{best.replace('torch-', '') if '-' in best else 'default'}")
    print("-" * len(header))


if __name__ == "__main__":
    main()
