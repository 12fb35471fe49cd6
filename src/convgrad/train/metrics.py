"""The metrics of a run: one row per evaluation, as JSON lines and as CSV, same fields.

    metrics.jsonl   {"step": 250, "epoch": 6.25, "lr": 0.01, "train_loss": 0.93, ...}
    metrics.csv     step,epoch,lr,train_loss,train_acc,test_loss,test_acc,time_s

A run with measurements (``measurements.py``) has their columns after these.
``train_loss`` and ``train_acc`` average the training batches since the previous row (empty
on the row of step 0, before any training); ``test_*`` are measured on the test set;
``time_s`` is the training time so far (the only field that differs between a resumed run
and an uninterrupted one).  Floats are written with ``repr`` (shortest round trip), so the
files hold exactly the numbers the run computed.

Rows are appended and flushed as they come (one per evaluation, so the cost is nothing).
On resume, ``MetricsLog.start(step)`` keeps the rows up to the checkpoint's step, drops the
rest (including a half-written last line from a killed process) and rewrites both files
atomically before appending again.  A complete line that is not a row (damaged on disk, or
edited) is dropped alone, not with every row after it; ``MetricsLog.damaged`` lists those
whose rows the resumed run will not compute again, so that the run can say so.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from .atomic import replace_file
from .faults import WriteHook

FIELDS = ("step", "epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc",
          "time_s")
JSONL_FILE = "metrics.jsonl"
CSV_FILE = "metrics.csv"
# Fields that measure the machine, not the computation: they may differ between two runs
# whose other fields agree bit for bit.
TIMING_FIELDS = ("time_s",)


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return str(value)


def csv_line(row: dict, fields=FIELDS) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([_csv_cell(row.get(f)) for f in fields])
    return buffer.getvalue()


def json_line(row: dict, fields=FIELDS) -> str:
    # NaN/inf (a diverged run) are not JSON: write null, as the CSV writes them as text.
    clean = {f: (row.get(f) if not (isinstance(row.get(f), float)
                                    and not math.isfinite(row.get(f))) else None)
             for f in fields}
    return json.dumps(clean, allow_nan=False) + "\n"


@dataclass(frozen=True)
class DamagedLine:
    line: int                  # its number in the file, from 1
    after_step: int | None     # the step of the last good row before it


def read_metrics(path: str | os.PathLike) -> tuple[list[dict], list[DamagedLine]]:
    """The rows of a ``metrics.jsonl`` file and its damaged lines: complete lines that are
    not a JSON object with an integer step greater than the row before."""
    rows, damaged = [], []
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return rows, damaged
    # The text after the last newline is a line whose write was interrupted (or nothing).
    for number, line in enumerate(text.split("\n")[:-1], start=1):
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        last = rows[-1]["step"] if rows else None
        if isinstance(row, dict) and type(row.get("step")) is int and \
                (last is None or row["step"] > last):
            rows.append(row)
        else:
            damaged.append(DamagedLine(number, last))
    return rows, damaged


def read_rows(path: str | os.PathLike) -> list[dict]:
    """The rows of a ``metrics.jsonl`` file (without its damaged lines)."""
    return read_metrics(path)[0]


def damage_report(path: Path, damaged: list[DamagedLine]) -> str:
    """One line: which lines of ``path`` were damaged, and what that cost."""
    count = len(damaged)
    numbers = ", ".join(str(d.line) for d in damaged[:5]) + (", ..." if count > 5 else "")
    first = damaged[0].after_step
    where = "before the first row" if first is None else f"after the row of step {first}"
    plural = "s" if count > 1 else ""
    return (f"{path}: {count} damaged line{plural} dropped (line{plural} {numbers}, the first "
            f"{where}): {count} metrics row{plural} lost, the rows around kept")


class MetricsLog:
    """Appends rows to ``metrics.jsonl`` and ``metrics.csv`` in ``run_dir``; ``columns``
    follow the standard ``FIELDS``; ``hook`` is the crash tests' seam (``faults.py``)."""

    def __init__(self, run_dir: str | os.PathLike, columns=(), hook: WriteHook | None = None):
        self.run_dir = Path(run_dir)
        self.fields = FIELDS + tuple(columns)
        self.hook = hook
        self.damaged: list[DamagedLine] = []     # by start(): lines whose rows are lost
        self.jsonl_path = self.run_dir / JSONL_FILE
        self.csv_path = self.run_dir / CSV_FILE
        self.rows: list[dict] = []
        self._jsonl = self._csv = None

    def start(self, up_to_step: int | None) -> list[dict]:
        """Keep the existing rows with ``step <= up_to_step`` (none if None), rewrite both
        files with them, and open the files for appending; returns the kept rows."""
        kept = []
        if up_to_step is not None:
            rows, damaged = read_metrics(self.jsonl_path)
            kept = [row for row in rows if row["step"] <= up_to_step]
            # A damaged line past the checkpoint held a row the run computes again.
            self.damaged = [d for d in damaged
                            if d.after_step is None or d.after_step < up_to_step]
        header = csv_line(dict(zip(self.fields, self.fields)), self.fields)
        replace_file(self.jsonl_path,
                     "".join(json_line(row, self.fields) for row in kept).encode())
        replace_file(self.csv_path,
                     (header + "".join(csv_line(row, self.fields) for row in kept)).encode())
        self.rows = kept
        self._jsonl = open(self.jsonl_path, "a", encoding="utf-8")
        self._csv = open(self.csv_path, "a", encoding="utf-8")
        return kept

    def append(self, row: dict) -> None:
        row = {field: row.get(field) for field in self.fields}
        self._jsonl.write(json_line(row, self.fields))
        self._jsonl.flush()
        if self.hook is not None:
            self.hook("metrics-row", row["step"], self.jsonl_path)
        self._csv.write(csv_line(row, self.fields))
        self._csv.flush()
        self.rows.append(row)

    def close(self) -> None:
        for handle in (self._jsonl, self._csv):
            if handle is not None:
                handle.close()
        self._jsonl = self._csv = None
