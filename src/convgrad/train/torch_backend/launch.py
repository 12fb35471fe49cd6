"""``convgrad train --backend torch --nproc N``: the same command in N processes on this
machine, started the way PyTorch users start them — by torchrun's elastic launcher
(``torch.distributed.run``), here as

    torchrun --standalone --nproc-per-node N -m convgrad.cli train ... --out RUN_DIR

run inside this process.  Each of the N processes is a ``convgrad train`` that finds
itself started by torchrun (``team.py``) and trains its share of every batch; process 0
prints and writes what a single process would.  On several machines, run torchrun there
yourself (README, "Scaling out").

When a process dies (killed, crashed), the launcher stops the others, and says here which
one and how, in one line; its run continues with ``convgrad train --resume RUN_DIR``.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import tempfile
from pathlib import Path

from torch.distributed.elastic.multiprocessing.api import SignalException
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.run import get_args_parser, run

# The launcher's own stops: not what went wrong.
_STOPPED_BY_THE_LAUNCHER = ("SIGTERM", "SIGINT")


def launch(argv: list[str], nproc: int, run_dir: Path) -> int:
    """Run ``convgrad <argv>`` in ``nproc`` processes; returns the exit status."""
    # torchrun would give each process 1 thread, with a banner saying so: share the cores.
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    # The agent logs every process it stops; what matters is said once, below.
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="convgrad-torchrun-") as logs:
        options = get_args_parser().parse_args(
            ["--standalone", f"--nproc-per-node={nproc}", f"--log-dir={logs}",
             "--module", "convgrad.cli"])
        options.training_script_args = argv    # not parsed as torchrun's own options
        try:
            run(options)
        except ChildFailedError as failed:
            return _failure_status(failed, nproc, run_dir)
        except SignalException as stopped:     # Ctrl-C: process 0 saved and said so
            return 128 + int(stopped.sigval)
    return 0


def _failure_status(failed: ChildFailedError, nproc: int, run_dir: Path) -> int:
    """A process killed by a signal is reported in one line (the others were stopped by
    the launcher); a process that exited with an error said why itself."""
    failures = sorted(failed.failures.items())
    killed = [(rank, failure) for rank, failure in failures if failure.exitcode < 0
              and failure.signal_name() not in _STOPPED_BY_THE_LAUNCHER]
    if killed:
        rank, failure = killed[0]
        print(f"convgrad train: process {rank} of {nproc} (pid {failure.pid}) was killed by "
              f"{failure.signal_name()}; the launcher stopped the others; continue the run "
              f"from its latest checkpoint with: convgrad train --resume {run_dir}",
              file=sys.stderr)
        return 128 + signal.Signals[failure.signal_name()].value
    exits = dict(failures)
    first = exits.get(0, failures[0][1])
    return first.exitcode if first.exitcode > 0 else 1
