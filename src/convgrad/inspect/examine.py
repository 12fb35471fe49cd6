"""One example through a model: its prediction, and every layer's output and gradient.

    from convgrad.inspect import examine
    seen = examine(run.model, run.data.test_x[7], label=run.data.test_y[7])
    seen.probabilities          # softmax of the logits, one per class
    seen.layers[0]              # LayerStats(name='conv1', output_shape=(25, 19), mean=...)
    seen.recording.activations["conv1"], seen.recording.gradients["conv1"]
    seen.weight_grads["conv1.weight"]

The model runs in eval mode (BatchNorm's running statistics, no dropout) on a batch of one,
with the hooks of ``record``; then the loss

    L = cross_entropy(logits, target)      target: the label, or the predicted class

is backpropagated once.  Per layer (``LayerStats``), over all of its output's values for this
example:

    mean, std       of the output (std with ddof 0: the spread of the values shown)
    grad_norm       ‖∂L/∂output‖₂ (None when no gradient reaches it)
    weight_grad_norm ‖∂L/∂θ‖₂ over the layer's own parameters θ (None without any)

The model is left as it was found: its mode, and its parameters' ``.grad``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import functional as F
from ..creation import from_numpy
from ..nn import Module
from .layers import layer_modules, module_name
from .record import Recording, record


@dataclass
class LayerStats:
    name: str
    type: str
    output_shape: tuple
    mean: float
    std: float
    grad_norm: float | None
    weight_grad_norm: float | None

    def to_dict(self) -> dict:
        return {"name": self.name, "output_shape": list(self.output_shape), "mean": self.mean,
                "std": self.std, "grad_norm": self.grad_norm, "type": self.type,
                "weight_grad_norm": self.weight_grad_norm}


@dataclass
class Examination:
    logits: np.ndarray          # (classes,)
    probabilities: np.ndarray   # softmax(logits), in the model's dtype
    predicted: int              # argmax
    label: int | None           # the true class, when known
    target: int                 # the class the loss is taken against
    loss: float
    layers: list                # LayerStats, in the order the layers finished
    recording: Recording        # activations, gradients and inputs (batch of one)
    weight_grads: dict          # parameter name -> ∂L/∂parameter


def _norm(array) -> float | None:
    return None if array is None else float(np.sqrt(np.sum(np.square(array, dtype=np.float64))))


def examine(model: Module, x: np.ndarray, label: int | None = None) -> Examination:
    """Run one example ``x`` (the model's input shape, no batch dim) through ``model`` and
    back (module docstring)."""
    parameters = dict(model.named_parameters())
    first = next(iter(parameters.values()), None)
    batch = np.asarray(x, dtype=first.dtype if first is not None else np.float32)[None]
    saved_grads = {name: p.grad for name, p in parameters.items()}
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        for p in parameters.values():
            p.grad = None
        with record(model) as seen:
            logits = model(from_numpy(batch))
            probabilities = F.softmax(logits.detach(), dim=1).numpy()[0]
            predicted = int(np.argmax(probabilities))
            target = predicted if label is None else int(label)
            loss = F.cross_entropy(logits, from_numpy(np.array([target], dtype=np.int64)))
            loss.backward()
        weight_grads = {name: None if p.grad is None else p.grad.numpy().copy()
                        for name, p in parameters.items()}
    finally:
        for name, p in parameters.items():
            p.grad = saved_grads[name]
        for module, mode in modes:
            object.__setattr__(module, "training", mode)
    modules = layer_modules(model)
    layers = []
    for name, output in seen.activations.items():     # in the order the layers finished
        if output is None:
            continue
        module = module_name(name)            # "pool" for its second call "pool#2"
        own = [weight_grads.get(f"{module}.{p}")
               for p, _ in modules[module].named_parameters(recurse=False)]
        own = [grad.ravel() for grad in own if grad is not None]
        layers.append(LayerStats(
            name, type(modules[module]).__name__, tuple(output.shape[1:]),
            float(output.mean(dtype=np.float64)), float(output.std(dtype=np.float64)),
            _norm(seen.gradients.get(name)), _norm(np.concatenate(own)) if own else None))
    return Examination(logits.detach().numpy()[0], probabilities, predicted,
                       None if label is None else int(label), target, float(loss.item()),
                       layers, seen, weight_grads)
