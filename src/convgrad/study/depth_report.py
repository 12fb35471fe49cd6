"""What a finished depth study says: read back from its run folders, as a table, a JSON
record, two figures and a reading of the numbers.

    train error  1 − accuracy on the whole training set at the last step (``TrainingSet``)
    test error   1 − accuracy on the whole test set at the last step (``summary.json``)

Everything here reads the run folders (``summary.json``, ``metrics.jsonl``), so a study's
report is the same whether its runs trained now, before an interruption, or both.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..train.metrics import JSONL_FILE, read_rows
from ..train.runfolder import SUMMARY_FILE, RunError
from .depth import Network, StudyPlan
from .gradnorms import layer_norms

RESULTS_FILE = "results.json"
TRAINING_ERROR_FILE = "training_error.png"
GRADIENT_NORMS_FILE = "gradient_norms.png"
# A deeper plain network "degrades" when its final training error exceeds the shallowest
# one's by at least this much (an absolute difference of fractions: one percentage point).
DEGRADATION_MARGIN = 0.01


@dataclass(frozen=True)
class RunOutcome:
    network: Network
    run_dir: Path
    parameters: int
    train_error: float          # fractions, at the last step
    test_error: float
    train_time_s: float
    rows: list                  # the run's metrics rows

    def to_dict(self) -> dict:
        """The ``--json`` record of one run (exactly these keys)."""
        return {"depth": self.network.depth, "residual": self.network.residual,
                "parameters": self.parameters, "train_error": self.train_error,
                "test_error": self.test_error, "run": str(self.run_dir)}


def error(accuracy: float) -> float:
    """``1 − accuracy``, without the last bits of float noise (accuracies are counts / n)."""
    return round(1.0 - accuracy, 12)


def read_outcome(network: Network, run_dir: Path) -> RunOutcome:
    """The numbers of a finished run of the study (RunError if it is not finished)."""
    try:
        summary = json.loads((run_dir / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as failure:
        raise RunError(f"{run_dir}: not a finished run ({SUMMARY_FILE}: {failure})") from None
    rows = read_rows(run_dir / JSONL_FILE)
    last = rows[-1] if rows else {}
    if last.get("step") != summary.get("steps") or last.get("train_set_acc") is None:
        raise RunError(f"{run_dir / JSONL_FILE}: no training-set row at the last step "
                       f"({summary.get('steps')}); was this run trained by the study?")
    return RunOutcome(network, run_dir, summary["parameters"], error(last["train_set_acc"]),
                      error(summary["test_accuracy"]), summary["train_time_s"], rows)


def collect(plan: StudyPlan, study_dir: Path) -> list[RunOutcome]:
    return [read_outcome(network, study_dir / network.model) for network in plan.networks]


def json_record(outcomes: list[RunOutcome], plots: list[Path]) -> dict:
    """``{"runs": [{"depth", "residual", "parameters", "train_error", "test_error", "run"}],
    "plots": [...]}`` (errors as fractions)."""
    return {"runs": [outcome.to_dict() for outcome in outcomes],
            "plots": [str(path) for path in plots]}


def format_table(outcomes: list[RunOutcome]) -> str:
    header = ("depth", "network", "parameters", "train error", "test error", "time")
    body = [(str(o.network.depth), "ResNet" if o.network.residual else "plain",
             f"{o.parameters:,}", f"{o.train_error:.2%}", f"{o.test_error:.2%}",
             f"{o.train_time_s:.0f} s") for o in outcomes]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def line(cells):
        return "  ".join(c.ljust(w) if i == 1 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(header), "-" * len(line(header)), *(line(b) for b in body)])


def first_to_last_ratio(outcome: RunOutcome, row_index: int = 0) -> float | None:
    """``‖∂L/∂W_1‖ / ‖∂L/∂W_{D−1}‖`` in a metrics row (the first: initialisation), the first
    convolution's gradient over the last convolution's (the classifier, layer D, is left
    out: it is another kind of layer): above 1 the gradient grows towards the input, below
    1 it vanishes."""
    norms = layer_norms(outcome.rows[row_index]) if outcome.rows else []
    if len(norms) < 3 or not norms[-2]:
        return None
    return norms[0] / norms[-2]


def conclusion(outcomes: list[RunOutcome]) -> str:
    """A reading of the table that the numbers support, whichever way they fall."""
    plain = sorted((o for o in outcomes if not o.network.residual), key=lambda o: o.network.depth)
    residual = {o.network.depth: o for o in outcomes if o.network.residual}
    if len(plain) < 2:
        return ""
    shallow, deep = plain[0], plain[-1]
    deep_res = residual.get(deep.network.depth)
    text = (f"Plain networks: training error {shallow.train_error:.2%} at depth "
            f"{shallow.network.depth}, {deep.train_error:.2%} at depth {deep.network.depth}. ")
    if deep.train_error >= shallow.train_error + DEGRADATION_MARGIN:
        text += ("The deeper plain network fits its own training set worse: degradation, as "
                 "He et al. (2016) report — not overfitting, since it is the training error "
                 "that rises. ")
        if deep_res is not None:
            if deep_res.train_error + DEGRADATION_MARGIN <= deep.train_error:
                text += (f"With identity shortcuts and the same parameters, "
                         f"{deep_res.network.label} reaches {deep_res.train_error:.2%}: the "
                         f"shortcut removes the degradation. ")
            else:
                text += (f"{deep_res.network.label}, with shortcuts, reaches "
                         f"{deep_res.train_error:.2%}: here the shortcut does not remove it. ")
    else:
        text += (f"No degradation at these settings: the deepest plain network's training "
                 f"error is within {100 * DEGRADATION_MARGIN:g} percentage point of the "
                 f"shallowest's. ")
    ratio = first_to_last_ratio(deep)
    res_ratio = first_to_last_ratio(deep_res) if deep_res is not None else None
    if ratio is not None:
        direction = "grows" if ratio > 1 else "shrinks"
        text += (f"At initialisation the gradient {direction} towards the input of "
                 f"{deep.network.label}: ‖∂L/∂W‖ of its first convolution is {ratio:.3g}× "
                 f"its last convolution's")
        text += f" ({res_ratio:.3g}× in {deep_res.network.label})." if res_ratio else "."
    return text
