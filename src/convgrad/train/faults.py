"""Fault injection for the crash tests: die by SIGKILL at a named point of a write.

Setting ``CONVGRAD_CRASH_AT=<point>@<step>`` (e.g. ``checkpoint-model-file@20``) makes the
process kill itself, with no clean-up at all, when it reaches ``<point>`` while saving the
state of step ``<step>``.  The tests use it to stop a run between any two writes of the
checkpoint protocol (see ``checkpoint.py`` for the points) and check that ``--resume`` still
reaches the uninterrupted run's weights.  Unset (always, outside the tests), it costs one
comparison per checkpoint.
"""
from __future__ import annotations

import os
import signal

ENVIRONMENT_VARIABLE = "CONVGRAD_CRASH_AT"


def _parse(value: str | None):
    if not value or "@" not in value:
        return None
    point, _, step = value.rpartition("@")
    try:
        return point, int(step)
    except ValueError:
        return None


_TARGET = _parse(os.environ.get(ENVIRONMENT_VARIABLE))


def armed(point: str, step: int) -> bool:
    """Whether the environment asked to crash at ``point`` of step ``step``."""
    return _TARGET is not None and _TARGET == (point, step)


def crash() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def crash_point(point: str, step: int) -> None:
    """SIGKILL this process if the environment asked to crash here."""
    if armed(point, step):
        crash()
