"""``convgrad.optim``: PyTorch's optimizers and learning-rate schedulers.

>>> import convgrad.nn as nn, convgrad.optim as optim
>>> model = nn.Linear(4, 2)
>>> opt = optim.Adam(model.parameters(), lr=1e-2)
>>> sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=100)
"""
from . import lr_scheduler
from .adam import Adam, AdamW
from .optimizer import Optimizer, join_state_dict, split_state_dict
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "lr_scheduler", "split_state_dict",
           "join_state_dict"]
