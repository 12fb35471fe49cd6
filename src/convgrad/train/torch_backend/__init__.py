"""``--backend torch``: the same run computed by PyTorch — on a GPU, or on N processes.

The only part of ``convgrad.train`` that imports torch (with ``convgrad.interop``); the
loop imports it when ``config.backend == "torch"`` and never otherwise.  Everything but
the arithmetic stays convgrad's: the data sets, augmentation and shuffling order, the loop,
metrics, the run folder, the checkpoint files (the model's state dict under PyTorch's keys,
the optimizer's and the schedule's state in convgrad's layout), so ``convgrad eval`` and
``load_run`` read a torch-trained run with the NumPy engine, and a run moves between
backends on ``--resume``.

    engine.py          ``TorchBackend``: the registry model's torch twin, started from
                       convgrad's initial weights; torch.optim; one step; evaluation; state
    states.py          optimizer and schedule state, torch's layout ↔ convgrad's
    sync_batchnorm.py  batch norm over the whole batch of every process, on the CPU too
    team.py            the processes torchrun started (torch.distributed: gloo, nccl)
    launch.py          ``--nproc N``: torchrun's elastic launcher on this machine
"""
from .engine import TorchBackend

__all__ = ["TorchBackend"]
