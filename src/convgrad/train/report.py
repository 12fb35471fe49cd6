"""What a run prints while it trains: a header, one line per evaluation, a progress bar.

Lines go to ``out`` (stdout), the bar and warnings to stderr.  ``quiet`` silences the
header, the lines and the bar, never a warning.  The bar only shows on a terminal: in a log
file or CI its redraws would be noise, and the evaluation lines already show the progress.
"""
from __future__ import annotations

import math
import sys

BAR_EVERY = 10          # steps between progress-bar updates


def format_loss(value: float | None) -> str:
    """A loss as people read it: 4 decimals, or 3 significant digits and an exponent where
    decimals would print a wall of digits (a diverging run's 3.387e+28)."""
    if value is None:
        return "-"
    if not math.isfinite(value) or abs(value) < 1e4:
        return f"{value:.4f}"
    return f"{value:.3e}"


class Reporter:
    def __init__(self, quiet: bool = False, out=None, rows: bool = True):
        self.quiet = quiet
        self.out = out if out is not None else sys.stdout
        self.rows = rows and not quiet          # the header and the evaluation lines
        self.bar = None
        self.pending = 0                        # steps not yet shown on the bar

    def say(self, text: str) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.write(text, file=self.out)
        else:
            print(text, file=self.out, flush=True)

    def warn(self, text: str) -> None:
        print(f"convgrad train: warning: {text}", file=sys.stderr, flush=True)

    def header(self, text: str) -> None:
        if self.rows:
            self.say(text)

    def row(self, row: dict, total: int) -> None:
        if not self.rows:
            return
        width = len(str(total))
        train = ""
        if row["train_loss"] is not None:
            train = (f"train loss {format_loss(row['train_loss'])} "
                     f"acc {row['train_acc']:6.2%}   ")
        self.say(f"step {row['step']:>{width}}/{total}  {train}"
                 f"test loss {format_loss(row['test_loss'])} acc {row['test_acc']:6.2%}   "
                 f"lr {row['lr']:.3g}")

    # -- the bar ------------------------------------------------------------------
    def open_bar(self, total: int, done: int, label: str) -> None:
        if self.quiet:
            return
        from tqdm import tqdm
        # disable=None: no bar when stderr is not a terminal.
        bar = tqdm(total=total, initial=done, unit="step", dynamic_ncols=True,
                   mininterval=0.5, file=sys.stderr, leave=False, disable=None, desc=label)
        self.bar = None if bar.disable else bar

    def stepped(self, window, test_acc: float | None) -> None:
        """One step done; every ``BAR_EVERY`` steps the bar moves on and shows the window's
        loss and accuracy and the last test accuracy."""
        self.pending += 1
        if self.pending < BAR_EVERY or self.bar is None:
            return
        postfix = ""
        if window.batches:
            postfix = f"loss {format_loss(window.mean_loss)} acc {window.accuracy:.1%}"
        if test_acc is not None:
            postfix += f" test {test_acc:.1%}"
        self.bar.set_postfix_str(postfix, refresh=False)
        self.bar.update(self.pending)
        self.pending = 0

    def close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
