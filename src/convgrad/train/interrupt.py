"""Ctrl-C / SIGTERM during training: finish the current step, save a checkpoint, stop.

The loop polls ``stop.requested`` after each step.  A second Ctrl-C raises
``KeyboardInterrupt`` at once.  Outside the main thread (where Python cannot install signal
handlers) the request is never set and the loop runs to its end.
"""
from __future__ import annotations

import signal
import threading


class StopRequest:
    def __init__(self):
        self.requested = False
        self.previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
