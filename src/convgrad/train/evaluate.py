"""Evaluating a classifier: loss, accuracy, per-class accuracy and the confusion matrix.

The model runs in eval mode (BatchNorm uses its running statistics, Dropout is off) and
without building a graph, over the data in batches; its mode is restored afterwards.  The
weights of a diverged run give a NaN or infinite loss in the result, not NumPy warnings.

    confusion[i, j] = number of samples of true class i predicted as class j
    accuracy        = trace(confusion) / N
    per_class[i]    = confusion[i, i] / Σ_j confusion[i, j]   (recall of class i)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import functional as F
from ..autograd import no_grad
from ..creation import from_numpy
from .report import format_loss


@dataclass
class Evaluation:
    loss: float                 # mean cross-entropy
    accuracy: float             # fraction correct
    confusion: np.ndarray       # (C, C) int64, rows: true class, columns: predicted
    classes: tuple              # class names

    @property
    def total(self) -> int:
        return int(self.confusion.sum())

    @property
    def correct(self) -> int:
        return int(np.trace(self.confusion))

    @property
    def per_class_counts(self) -> np.ndarray:
        return self.confusion.sum(axis=1)

    @property
    def per_class_accuracy(self) -> np.ndarray:
        """Accuracy within each true class (NaN for a class with no samples)."""
        counts = self.per_class_counts
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, np.diag(self.confusion) / np.maximum(counts, 1),
                            np.nan)

    def to_dict(self) -> dict:
        return {
            "loss": self.loss, "accuracy": self.accuracy, "correct": self.correct,
            "total": self.total, "classes": list(self.classes),
            "per_class": [{"class": name, "samples": int(count),
                           "accuracy": None if np.isnan(acc) else float(acc)}
                          for name, count, acc in zip(self.classes, self.per_class_counts,
                                                      self.per_class_accuracy)],
            "confusion": self.confusion.tolist(),
        }


def evaluate(model, x: np.ndarray, y: np.ndarray, classes, batch_size: int = 1000
             ) -> Evaluation:
    """Loss, accuracy and confusion matrix of ``model`` on ``(x, y)`` (ValueError when
    there is nothing to evaluate: an accuracy of 0 samples is no number)."""
    check_samples(y)
    was_training = model.training
    model.eval()
    loss_sum, predictions = 0.0, []
    try:
        with no_grad(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for start in range(0, len(x), batch_size):
                out = model(from_numpy(x[start:start + batch_size]))
                target = from_numpy(y[start:start + batch_size])
                loss_sum += float(F.cross_entropy(out, target, reduction="sum").item())
                predictions.append(out.numpy().argmax(axis=1))
    finally:
        model.train(was_training)
    return tally(loss_sum, np.concatenate(predictions), out.shape[1], y, classes)


def check_samples(y: np.ndarray) -> None:
    if len(y) == 0:
        raise ValueError("evaluate: no samples (x and y are empty)")


def tally(loss_sum: float, predicted: np.ndarray, scores: int, y: np.ndarray, classes
          ) -> Evaluation:
    """The ``Evaluation`` of a model that gave ``scores`` class scores per sample, the
    summed cross-entropy ``loss_sum`` and the predictions ``predicted`` on labels ``y``
    (whichever engine computed them)."""
    classes = tuple(classes)
    num_classes = len(classes)
    if scores != num_classes:
        raise ValueError(f"the model gives {scores} class scores, the data set has "
                         f"{num_classes} classes")
    confusion = np.bincount(y * num_classes + predicted,
                            minlength=num_classes * num_classes).reshape(num_classes,
                                                                         num_classes)
    total = len(y)
    return Evaluation(loss=loss_sum / total, accuracy=float(np.trace(confusion) / total),
                      confusion=confusion.astype(np.int64), classes=classes)


def format_evaluation(evaluation: Evaluation, title: str = "") -> str:
    """Accuracy, a per-class table and the confusion matrix, as aligned text."""
    lines = []
    if title:
        lines.append(title)
    lines.append(f"accuracy: {evaluation.accuracy:.2%} ({evaluation.correct} of "
                 f"{evaluation.total})   loss: {format_loss(evaluation.loss)}")
    lines.append("")
    names = [str(c) for c in evaluation.classes]
    name_width = max([len("class")] + [len(n) for n in names])
    lines.append(f"{'class':<{name_width}}  {'samples':>7}  {'correct':>7}  {'accuracy':>8}")
    for name, count, correct, acc in zip(names, evaluation.per_class_counts,
                                         np.diag(evaluation.confusion),
                                         evaluation.per_class_accuracy):
        shown = "-" if np.isnan(acc) else f"{acc:.1%}"
        lines.append(f"{name:<{name_width}}  {count:>7}  {correct:>7}  {shown:>8}")
    lines.append("")
    lines.append("confusion matrix (rows: true class, columns: predicted class)")
    # Long class names (Fashion-MNIST's "T-shirt/top") would make every column wide: the
    # columns are then headed by class index, and the rows name both.
    short = all(len(n) <= 5 for n in names)
    columns = names if short else [str(i) for i in range(len(names))]
    rows = names if short else [f"{i} {n}" for i, n in enumerate(names)]
    row_width = max(len(r) for r in rows)
    width = max(len(str(int(evaluation.confusion.max(initial=0)))),
                max(len(c) for c in columns))
    lines.append(f"{'':<{row_width}}  " + " ".join(f"{c:>{width}}" for c in columns))
    for label, row in zip(rows, evaluation.confusion):
        lines.append(f"{label:<{row_width}}  " + " ".join(f"{int(v):>{width}}" for v in row))
    return "\n".join(lines)
