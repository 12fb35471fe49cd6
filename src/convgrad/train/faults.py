"""The one seam for the crash tests: a hook the file writers call after each stage.

``save_checkpoint`` and ``MetricsLog.append`` take an optional ``hook`` and call
``hook(point, step, path)`` after each stage of their protocol (``path``: what the stage
just wrote).  Nothing else in convgrad knows about crashes; without a hook, a writer pays
one ``None`` test per stage.  The points::

    checkpoint-begin, checkpoint-model-file, checkpoint-optimizer-file,
    checkpoint-meta-file, checkpoint-renamed, checkpoint-latest, checkpoint-pruned
                                   (the stages of checkpoint.py's protocol; the best
                                   checkpoint's are the same names with a best- prefix)
    metrics-row                    a row written to metrics.jsonl, not yet to the CSV

``convgrad train`` installs ``crash_hook_from_environment()``:
``CONVGRAD_CRASH_AT=<point>@<step>`` (e.g. ``checkpoint-model-file@20``) kills the process
by SIGKILL — no clean-up at all — when it reaches ``<point>`` while writing the state of
step ``<step>``.  One more point, ``metrics-half-row``, tears the row just written (cuts
its line in half, as a write cut short by a kill leaves it) before the kill.  The tests use
it to stop a run between any two writes and check that ``--resume`` still reaches the
uninterrupted run's weights.
"""
from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Callable

ENVIRONMENT_VARIABLE = "CONVGRAD_CRASH_AT"
WriteHook = Callable[[str, int, Path], None]


def crash_hook_from_environment(environ=os.environ) -> WriteHook | None:
    """The hook ``CONVGRAD_CRASH_AT`` asks for, or None (unset or not ``point@step``)."""
    value = environ.get(ENVIRONMENT_VARIABLE)
    if not value or "@" not in value:
        return None
    point, _, step = value.rpartition("@")
    try:
        target = (point, int(step))
    except ValueError:
        return None

    def crash_at_target(reached: str, at_step: int, path: Path) -> None:
        if target == ("metrics-half-row", at_step) and reached == "metrics-row":
            _tear_last_line(path)
        elif target != (reached, at_step):
            return
        os.kill(os.getpid(), signal.SIGKILL)

    return crash_at_target


def _tear_last_line(path: Path) -> None:
    """Cut the file's last line in half (its newline included)."""
    data = Path(path).read_bytes()
    start = data.rstrip(b"\n").rfind(b"\n") + 1
    with open(path, "r+b") as handle:
        handle.truncate(start + (len(data) - start) // 2)
