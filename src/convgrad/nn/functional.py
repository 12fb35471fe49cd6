"""``convgrad.nn.functional`` is ``convgrad.functional`` (as ``torch.nn.functional``), so
``import convgrad.nn.functional as F`` works like its PyTorch counterpart."""
from ..functional import *  # noqa: F401,F403
