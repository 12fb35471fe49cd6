"""Train the MNIST-1D CNN from Python, read its checkpoint back, and run it in PyTorch.

    .venv/bin/python examples/train_and_export.py [--steps 1500] [--out RUN_DIR]

What ``convgrad train`` does, through the library: a ``TrainConfig`` (the paper's recipe,
fewer steps), ``train`` (which writes the run folder: metrics, curves, checkpoints), then
``load_run`` (the trained model, its config and data back from the folder) and
``evaluate`` on the test set.  The checkpoint's ``model.safetensors`` holds the state dict
under PyTorch's own keys, so ``safetensors.torch.load_file`` loads it straight into the
PyTorch twin of the model, which predicts the same classes (if torch is installed).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from convgrad.train import TrainConfig, evaluate, format_evaluation, load_run, train
from convgrad.train.runfolder import default_run_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--out", help="run folder (default: runs/cnn-mnist1d-<time>)")
    args = parser.parse_args()

    config = TrainConfig(model="cnn", steps=args.steps, eval_every=250)
    out = Path(args.out) if args.out else default_run_dir(config)
    result = train(config, out, quiet=True)
    print(f"trained {result.config.model} for {result.steps} steps in "
          f"{result.train_time_s:.1f} s: test accuracy {result.test_accuracy:.2%}")
    print(f"run folder: {out}/ (metrics.csv, curves.png, checkpoints/)")

    # Read the run back: a fresh model with the last checkpoint's weights, and its data.
    trained = load_run(out)
    model, data, checkpoint = trained.model, trained.data, trained.checkpoint
    evaluation = evaluate(model, data.test_x, data.test_y, data.classes)
    print()
    print(format_evaluation(evaluation, f"checkpoint {checkpoint.path}"))

    # The same weights in PyTorch.
    try:
        import torch
        from safetensors.torch import load_file

        from convgrad.interop.torch import torch_model
    except ImportError:
        print("\n(PyTorch is not installed: pip install 'convgrad[test]' to run the twin)")
        return
    twin = torch_model(checkpoint.model)
    twin.load_state_dict(load_file(str(checkpoint.path / "model.safetensors")))
    twin.eval()
    with torch.no_grad():
        predicted = twin(torch.from_numpy(data.test_x)).argmax(dim=1).numpy()
    agree = np.mean(predicted == _convgrad_predictions(model, data.test_x))
    print(f"\nPyTorch twin: test accuracy {np.mean(predicted == data.test_y):.2%}; "
          f"predicts the same class as convgrad on {agree:.1%} of the test set")


def _convgrad_predictions(model, x: np.ndarray) -> np.ndarray:
    import convgrad as cg

    model.eval()
    with cg.no_grad():
        return model(cg.from_numpy(x)).numpy().argmax(axis=1)


if __name__ == "__main__":
    main()
