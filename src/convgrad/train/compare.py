"""``convgrad compare``: the MNIST-1D paper's three models, trained alike, in one table.

Logistic regression, the MLP and the CNN are trained with the same recipe and seed (the
paper's: Adam, lr 1e-2, batch 100, 6000 steps) and compared with the paper's figures
(Greydanus 2020: 32%, 68%, 94%).  The table is the lecture notes' argument measured: a
convolution's weights are local (each output sees a few neighbours), shared across
positions (shift invariance) and therefore few, yet the CNN beats a dense network that has
three times its parameters.

``shuffled`` (``convgrad compare --shuffle``) trains the three on signals whose positions are
reordered by one fixed permutation (``data/permutation.py``), the paper's test of locality:
there the paper reports 32%, 68%, 56% — the dense models unchanged, the CNN down 38 points.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from .config import TrainConfig
from .loop import Trainer

COMPARE_MODELS = ("logistic", "mlp", "cnn")
# Test accuracy reported in the MNIST-1D paper (Greydanus 2020, table 1).
PAPER_ACCURACY = {"logistic": 0.32, "mlp": 0.68, "cnn": 0.94}
# ... and with the positions shuffled by a fixed permutation (the same table's shuffled row).
PAPER_ACCURACY_SHUFFLED = {"logistic": 0.32, "mlp": 0.68, "cnn": 0.56}
LABELS = {"logistic": "logistic regression", "mlp": "MLP", "cnn": "CNN"}


@dataclass
class ComparisonRow:
    model: str
    parameters: int
    test_accuracy: float
    train_time_s: float
    steps: int
    run_dir: Path
    shuffled: bool = False          # trained and tested on shuffled positions

    @property
    def paper_accuracy(self) -> float | None:
        """The paper's figure for this model and setting (shuffled or not)."""
        return (PAPER_ACCURACY_SHUFFLED if self.shuffled else PAPER_ACCURACY).get(self.model)

    def to_dict(self) -> dict:
        return {"model": self.model, "parameters": self.parameters,
                "test_accuracy": self.test_accuracy, "train_time_s": self.train_time_s,
                "steps": self.steps, "paper_accuracy": self.paper_accuracy,
                "shuffled": self.shuffled, "run_dir": str(self.run_dir)}


def run_comparison(base: TrainConfig, out_dir: Path, models=COMPARE_MODELS,
                   quiet: bool = False, on_result=None) -> list[ComparisonRow]:
    """Train each model with ``base``'s recipe (model replaced) into ``out_dir/<model>``."""
    rows = []
    for name in models:
        config = dataclasses.replace(base, model=name)
        result = Trainer(config, out_dir / name, quiet=quiet, report_rows=False).run()
        if result.interrupted:
            # Ctrl-C stopped this model (its checkpoint is saved): stop the comparison too.
            raise KeyboardInterrupt
        row = ComparisonRow(name, result.parameters, result.test_accuracy,
                            result.train_time_s, result.steps, result.run_dir,
                            config.shuffle_positions)
        rows.append(row)
        if on_result is not None:
            on_result(row)
    return rows


def format_table(rows: list[ComparisonRow]) -> str:
    """One line per model; shuffled rows show the paper's shuffled figure ("paper") and its
    unshuffled one."""
    shuffled = any(r.shuffled for r in rows)
    header = ("model", "parameters", "test accuracy", "paper") + \
        (("paper unshuffled",) if shuffled else ()) + ("training time",)

    def percent(value):
        return "" if value is None else f"{value:.0%}"
    body = [(LABELS.get(r.model, r.model), f"{r.parameters:,}", f"{r.test_accuracy:.1%}",
             percent(r.paper_accuracy))
            + ((percent(PAPER_ACCURACY.get(r.model)),) if shuffled else ())
            + (f"{r.train_time_s:.1f} s",) for r in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def line(cells):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))

    rule = "-" * len(line(header))
    return "\n".join([line(header), rule, *(line(b) for b in body)])


def reading(rows: list[ComparisonRow]) -> str:
    """One paragraph reading the table in the lecture notes' terms (numbers from the run)."""
    by_model = {r.model: r for r in rows}
    logistic, mlp, cnn = (by_model.get(m) for m in COMPARE_MODELS)
    if not (logistic and mlp and cnn):
        return ""
    if cnn.shuffled:
        return shuffled_reading(logistic, mlp, cnn)
    ratio = cnn.parameters / mlp.parameters
    fraction = "a third" if 0.28 <= ratio <= 0.38 else f"{ratio:.0%}"
    text = (
        f"Logistic regression gives each of the 40 samples of a signal its own weight per "
        f"class, so it cannot tell where a pattern sits relative to its neighbours: "
        f"{logistic.test_accuracy:.1%}. The MLP ({mlp.parameters:,} parameters) combines "
        f"inputs, but every hidden unit owns a separate weight for every position, so a "
        f"digit shifted by a few samples is a new pattern it must learn again: "
        f"{mlp.test_accuracy:.1%}. The CNN's kernels are local (5 and 3 taps: each output "
        f"looks at a few neighbours) and the same weights slide over every position (shift "
        f"invariance), so each weight is reused 19, 10 and 5 times across its layer's "
        f"outputs; with {cnn.parameters:,} parameters, {fraction} of the MLP's, it reaches "
        f"{cnn.test_accuracy:.1%}.")
    if cnn.test_accuracy > mlp.test_accuracy > logistic.test_accuracy:
        text += (" Fewer weights, far higher accuracy: the structure of the layer (locality, "
                 "weight reuse), not its size, is what fits these signals — the paper's "
                 "32% / 68% / 94% ordering, measured here.")
    else:
        text += (" This run does not show the paper's ordering (32% / 68% / 94%); with so "
                 "few steps the models may not have converged.")
    return text


def shuffled_reading(logistic: ComparisonRow, mlp: ComparisonRow, cnn: ComparisonRow) -> str:
    """The shuffled table read in the notes' terms: locality is what the CNN exploits."""
    text = (
        f"Every signal's 40 positions were reordered by one fixed permutation, the same for "
        f"training and test. A dense layer gives every position its own weight, so a fixed "
        f"reordering only reorders its weight columns: logistic regression "
        f"{logistic.test_accuracy:.1%} and the MLP {mlp.test_accuracy:.1%} (the paper: 32% "
        f"and 68%, as without shuffling). The CNN's kernels read neighbours, x[t+τ] for "
        f"τ = 0..k−1, and after the shuffle neighbours are no longer related: "
        f"{cnn.test_accuracy:.1%} (the paper: 56%, down from 94%).")
    if mlp.test_accuracy > cnn.test_accuracy:
        text += (" The CNN now trails the MLP: locality, not the convolution's smaller "
                 "weight count, is what it exploits on these signals.")
    else:
        text += (" Here the CNN still matches or beats the MLP, unlike the paper's run "
                 "(CNN 56% against MLP 68%).")
    return text
