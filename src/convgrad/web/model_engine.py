"""The model view's computations: a listed run loaded once, an example through it, and the
numbers one layer, one feature-map cell or one weight shows — all by ``convgrad.inspect``
on the run's own model, the page only drawing them.

Loading is cached (a few models and test sets, least recently used first out), keyed by the
checkpoint folder and its ``meta.json``'s modification time, so a run that trains on while
the page is open is read again.  Computations on a model take one lock: its hooks are the
model's own state, and the server answers requests on several threads.

Errors are ``ModelViewError``s with the API's ``kind`` and the field at fault: ``invalid``
(a run that is not in the listing), ``unavailable`` (a listed run that cannot be loaded:
its checkpoint's or data set's own one-line error), ``impossible`` (an example, layer, cell
or weight the model does not have), ``too_large`` (more than the page is sent).
"""
from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .. import random as cg_random
from ..autograd import no_grad
from ..creation import from_numpy
from ..data.errors import DataError
from ..data.files import read_regular_file
from ..inspect import examine, model_layers
from ..inspect.layers import module_name
from ..inspect.windows import (LayerError, check_conv, output_window, padding_pairs,
                               weight_contributions)
from ..models import MODELS
from ..train.checkpoint import CheckpointError, load_checkpoint, load_model_weights
from ..train.config import ConfigError, TrainConfig
from ..train.runfolder import CONFIG_FILE, RunError, check_against_run_config
from ..train.setup import build_model, load_data
from .runs import RunFolders, RunUnavailable, checked, checkpoint_folder, kept_checkpoints

MAX_MAP_VALUES = 65_536        # values of one layer's output, or one conv weight, sent
MAX_SCAN = 2000                # test examples scanned for the misclassified ones
MAX_LISTED_EXAMPLES = 100      # example numbers one answer lists
MAX_METRICS_BYTES = 8 * 1024 * 1024
MAX_METRICS_ROWS = 1000
CURVES = ("train_loss", "test_loss", "train_acc", "test_acc")
CACHED_MODELS, CACHED_DATASETS, CACHED_EXAMPLES = 4, 2, 16


class ModelViewError(Exception):
    def __init__(self, detail: str, kind: str, field: str):
        super().__init__(detail)
        self.detail, self.kind, self.field = detail, kind, field


@dataclass
class Loaded:
    name: str
    config: TrainConfig
    model: object
    step: int
    checkpoint: str               # the step folder, relative to the run folder
    classes: list
    input_shape: tuple
    layers: list                  # inspect.Layer


def plain(array) -> list | float | str | None:
    """A NumPy array as nested lists of numbers, NaN and ±∞ as the strings the explorer's
    traces use ("nan", "inf", "-inf"): strict JSON has no such numbers."""
    if array is None:
        return None
    values = np.asarray(array, dtype=np.float64)
    if np.isfinite(values).all():
        return values.tolist()
    objects = values.astype(object)
    objects[np.isnan(values)] = "nan"
    objects[np.isposinf(values)] = "inf"
    objects[np.isneginf(values)] = "-inf"
    return objects.tolist()


def _bounded(array, what: str, field: str):
    if array is not None and array.size > MAX_MAP_VALUES:
        raise ModelViewError(f"{what} holds {array.size} values, more than the "
                             f"{MAX_MAP_VALUES} this page is sent", "too_large", field)
    return plain(array)


def _remember(cache: OrderedDict, key, value, size: int):
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)
    return value


class ModelView:
    def __init__(self, folders: RunFolders | None):
        self.folders = folders
        self.lock = threading.RLock()
        self.models, self.datasets, self.examinations, self.scans = (
            OrderedDict(), OrderedDict(), OrderedDict(), OrderedDict())

    # ------------------------------------------------------------------ runs
    def listing(self) -> dict:
        return {} if self.folders is None else self.folders.listing()

    def folder(self, name: str):
        found = self.listing().get(name)
        if found is None:
            listed = ", ".join(sorted(self.listing())[:10]) or "none: start convgrad explore " \
                                                                 "with --run RUN or --runs DIR"
            raise ModelViewError(f"run: no run named {name[:80]!r} is listed (listed: "
                                 f"{listed})", "invalid", "run")
        return found

    def load(self, name: str, which: str) -> Loaded:
        """Run ``name`` at checkpoint ``which`` (last, best, a step), from the cache when its
        files have not changed."""
        folder = self.folder(name)
        with self.lock:
            try:
                step_folder = checkpoint_folder(folder, which)
                key = (name, str(step_folder.resolve()),
                       (step_folder / "meta.json").stat().st_mtime_ns)
                if key in self.models:
                    self.models.move_to_end(key)
                    return self.models[key]
                checkpoint = load_checkpoint(step_folder, with_optimizer=False)
                checked(folder, CONFIG_FILE)
                check_against_run_config(folder.path, checkpoint)
                config = TrainConfig.from_dict(checkpoint.meta["config"])
                generator = cg_random.get_rng_state()
                try:
                    model = build_model(config.model, checkpoint.meta["num_classes"])
                finally:
                    cg_random.set_rng_state(generator)
                load_model_weights(model, checkpoint, config.model)
                model.eval()
                shape = tuple(MODELS[config.model].input_shape)
                loaded = Loaded(name, config, model, checkpoint.step,
                                step_folder.relative_to(folder.path).as_posix(),
                                [str(c) for c in checkpoint.meta["classes"]], shape,
                                model_layers(model, shape))
            except (CheckpointError, RunError, ConfigError, RunUnavailable, OSError) as error:
                raise ModelViewError(f"run {name}: {' '.join(str(error).split())}",
                                     "unavailable", "checkpoint" if "checkpoint" in
                                     str(error) else "run") from None
            return _remember(self.models, key, loaded, CACHED_MODELS)

    def test_set(self, loaded: Loaded):
        """``(test_x, test_y)`` of the run's data set (cached; the training split is not
        kept)."""
        key = (loaded.config.dataset, loaded.config.data_dir)
        with self.lock:
            if key in self.datasets:
                self.datasets.move_to_end(key)
                return self.datasets[key]
            try:
                data = load_data(loaded.config)
            except (DataError, ConfigError) as error:
                raise ModelViewError(f"run {loaded.name}: its test set cannot be loaded: "
                                     f"{' '.join(str(error).split())}", "unavailable",
                                     "example") from None
            return _remember(self.datasets, key, (data.test_x, data.test_y), CACHED_DATASETS)

    # ------------------------------------------------------------------ answers
    def run_info(self, name: str) -> dict:
        folder = self.folder(name)
        loaded = self.load(name, "last")
        spec = MODELS[loaded.config.model]
        return {
            "run": name, "model": loaded.config.model, "description": spec.description,
            "dataset": loaded.config.dataset, "input_shape": list(loaded.input_shape),
            "classes": loaded.classes, "drawable": drawable(loaded.input_shape),
            "checkpoints": kept_checkpoints(folder),
            "layers": [layer.to_dict() for layer in loaded.layers],
            "total_params": int(sum(p.numel() for p in loaded.model.parameters())),
            "total_macs": int(sum(layer.macs for layer in loaded.layers)),
            "metrics": self.metrics(folder),
        }

    def metrics(self, folder) -> dict:
        """The run's training curves from ``metrics.jsonl`` (bounded; rows that are not
        JSON objects skipped, as the run's own reader does)."""
        import json
        columns = ("step",) + CURVES
        rows = []
        try:
            path = checked(folder, "metrics.jsonl")
            text = read_regular_file(path, MAX_METRICS_BYTES).decode("utf-8", "replace")
        except (RunUnavailable, DataError, OSError):
            return {"columns": list(columns), "rows": []}
        for line in text.splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and isinstance(row.get("step"), int):
                rows.append([_finite_number(row.get(c)) for c in columns])
        if len(rows) > MAX_METRICS_ROWS:
            keep = np.linspace(0, len(rows) - 1, MAX_METRICS_ROWS).round().astype(int)
            rows = [rows[k] for k in keep]
        return {"columns": list(columns), "rows": rows}

    def example_input(self, loaded: Loaded, example, values, label):
        """``(x, label, source)`` from a test example number or a drawn input."""
        if example is not None:
            test_x, test_y = self.test_set(loaded)
            if example >= len(test_y):
                raise ModelViewError(f"example: {example} is past the end of the "
                                     f"{loaded.config.dataset} test set ({len(test_y)} "
                                     f"examples, numbered 0 to {len(test_y) - 1})",
                                     "impossible", "example")
            return test_x[example], int(test_y[example]), f"test example {example}"
        expected = math.prod(loaded.input_shape)
        if len(values) != expected:
            raise ModelViewError(f"input: {len(values)} values, but model "
                                 f"{loaded.config.model} takes {expected} (shape "
                                 f"{list(loaded.input_shape)})", "impossible", "input")
        if label is not None and label >= len(loaded.classes):
            raise ModelViewError(f"label: {label}, but the model has {len(loaded.classes)} "
                                 f"classes", "impossible", "label")
        x = np.asarray(values, dtype=np.float32).reshape(loaded.input_shape)
        return x, label, "a drawn input"

    def examination(self, loaded: Loaded, x: np.ndarray, label):
        """``inspect.examine`` of ``x`` (cached by the exact bytes of the input)."""
        key = (loaded.name, loaded.checkpoint, loaded.step,
               hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest(), label)
        with self.lock:
            if key in self.examinations:
                self.examinations.move_to_end(key)
                return self.examinations[key]
            return _remember(self.examinations, key, examine(loaded.model, x, label),
                             CACHED_EXAMPLES)

    def example(self, loaded: Loaded, example, values, label) -> dict:
        x, label, source = self.example_input(loaded, example, values, label)
        seen = self.examination(loaded, x, label)
        return {
            "run": loaded.name, "step": loaded.step, "checkpoint": loaded.checkpoint,
            "source": source, "example": example, "input": plain(x),
            "label": seen.label, "predicted": seen.predicted, "target": seen.target,
            "probabilities": plain(seen.probabilities), "loss": _finite_number(seen.loss),
            "layers": [_stats(s) for s in seen.layers],
        }

    def _layer(self, loaded: Loaded, name: str):
        modules = dict(loaded.model.named_modules())
        if name not in {layer.name for layer in loaded.layers}:
            names = ", ".join(layer.name for layer in loaded.layers[:12])
            raise ModelViewError(f"layer: {name[:80]!r} is not a layer of "
                                 f"{loaded.config.model} (its layers: {names}"
                                 f"{', …' if len(loaded.layers) > 12 else ''})",
                                 "impossible", "layer")
        return modules[module_name(name)]

    def layer(self, loaded: Loaded, example, values, label, name: str) -> dict:
        module = self._layer(loaded, name)
        x, label, _ = self.example_input(loaded, example, values, label)
        seen = self.examination(loaded, x, label)
        output = seen.recording.activations[name][0]
        grad = seen.recording.gradients.get(name)
        answer = {
            "name": name, "type": type(module).__name__, "step": loaded.step,
            "output_shape": list(output.shape),
            "output": _bounded(output, f"layer {name}'s output", "layer"),
            "grad_output": _bounded(None if grad is None else grad[0],
                                    f"layer {name}'s gradient", "layer"),
            "stats": next(_stats(s) for s in seen.layers if s.name == name),
            "conv": None,
        }
        if name in [layer.name for layer in loaded.layers if layer.is_conv]:
            weight_grad = seen.weight_grads.get(f"{module_name(name)}.weight")
            answer["conv"] = {
                "weight_shape": list(module.weight.shape),
                "weight": _bounded(module.weight.data, f"layer {name}'s weight", "layer"),
                "bias": plain(None if module.bias is None else module.bias.data),
                "grad_weight": _bounded(weight_grad, f"layer {name}'s weight gradient",
                                        "layer"),
                "input_shape": list(seen.recording.inputs[name].shape[1:]),
                "stride": list(module.stride), "dilation": list(module.dilation),
                "padding": [list(p) for p in padding_pairs(module)],
                "padding_mode": module.padding_mode, "groups": module.groups,
            }
        return answer

    def window(self, loaded: Loaded, example, values, label, name: str, index) -> dict:
        module = self._layer(loaded, name)
        x, label, _ = self.example_input(loaded, example, values, label)
        seen = self.examination(loaded, x, label)
        try:
            check_conv(module, name)
            window = output_window(module, seen.recording.inputs[name][0],
                                   seen.recording.activations[name][0], index)
        except LayerError as error:
            raise ModelViewError(f"index: {error}" if "outside" in str(error) else
                                 f"layer: {error}", "impossible",
                                 "index" if "outside" in str(error) else "layer") from None
        computed = window.sum + (window.bias or 0.0)
        difference = abs(computed - window.value)
        return {"layer": name, "step": loaded.step, "window": window.to_dict(),
                "computed": _finite_number(computed), "engine": _finite_number(window.value),
                "difference": _finite_number(difference),
                "agrees": bool(difference <= 1e-4 * max(1.0, abs(window.value)))}

    def contributions(self, loaded: Loaded, example, values, label, name: str,
                      weight) -> dict:
        module = self._layer(loaded, name)
        x, label, _ = self.example_input(loaded, example, values, label)
        seen = self.examination(loaded, x, label)
        grad = seen.recording.gradients.get(name)
        try:
            check_conv(module, name)
            if grad is None:
                raise LayerError(f"no gradient reaches layer {name}")
            parts = weight_contributions(module, seen.recording.inputs[name][0], grad[0], weight)
        except LayerError as error:
            field = "weight" if "outside" in str(error) else "layer"
            raise ModelViewError(f"{field}: {error}", "impossible", field) from None
        engine = float(seen.weight_grads[f"{module_name(name)}.weight"]
                       [tuple(parts["weight_index"])])
        difference = abs(parts["total"] - engine)
        return {"layer": name, "step": loaded.step, "weight_index": parts["weight_index"],
                "weight": parts["weight"], "input_channel": parts["input_channel"],
                "grad_output": plain(parts["grad_output"]), "inputs": plain(parts["inputs"]),
                "products": plain(parts["products"]), "total": _finite_number(parts["total"]),
                "engine": _finite_number(engine), "difference": _finite_number(difference),
                "agrees": bool(difference <= 1e-4 * max(1.0, abs(engine)))}

    def examples(self, loaded: Loaded, label, misclassified: bool) -> dict:
        """Test example numbers of one class and/or that the model gets wrong."""
        test_x, test_y = self.test_set(loaded)
        if label is not None and label >= len(loaded.classes):
            raise ModelViewError(f"label: {label}, but the model has {len(loaded.classes)} "
                                 f"classes", "impossible", "label")
        scanned = len(test_y) if not misclassified else min(len(test_y), MAX_SCAN)
        chosen = np.arange(scanned)
        predicted = None
        if misclassified:
            predicted = self._predictions(loaded, test_x[:scanned])
            chosen = chosen[predicted != test_y[:scanned]]
        if label is not None:
            chosen = chosen[test_y[chosen] == label]
        listed = chosen[:MAX_LISTED_EXAMPLES]
        return {"total": int(len(test_y)), "scanned": int(scanned), "matched": int(len(chosen)),
                "examples": [{"index": int(i), "label": int(test_y[i]),
                              "predicted": None if predicted is None else int(predicted[i])}
                             for i in listed]}

    def _predictions(self, loaded: Loaded, x: np.ndarray) -> np.ndarray:
        key = (loaded.name, loaded.checkpoint, loaded.step, len(x))
        with self.lock:
            if key not in self.scans:
                with no_grad():
                    scores = [loaded.model(from_numpy(x[k:k + 250])).numpy().argmax(axis=1)
                              for k in range(0, len(x), 250)]
                _remember(self.scans, key, np.concatenate(scores), CACHED_MODELS)
            return self.scans[key]


def drawable(input_shape: tuple) -> str | None:
    """What the page lets a user draw for this input: a 1-D signal, a gray image, or
    nothing (colour images)."""
    if len(input_shape) == 2 and input_shape[0] == 1:
        return "signal"
    if len(input_shape) == 3 and input_shape[0] == 1:
        return "image"
    return None


def _finite_number(value):
    if value is None or isinstance(value, str):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _stats(stats) -> dict:
    record = stats.to_dict()
    for key in ("mean", "std", "grad_norm", "weight_grad_norm"):
        record[key] = _finite_number(record[key])
    return record
