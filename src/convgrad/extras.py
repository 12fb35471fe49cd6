"""The optional dependencies: which extra brings each, and the command that installs it here.

The engine needs NumPy and SciPy only; the commands need more (``pyproject.toml``'s extras:
``train`` for training, plots and printed traces, ``web`` for the explorer, ``all`` for both,
which is what ``make train`` installs; ``torch`` for ``convgrad train --backend torch``).  When one is missing, a command says which, and prints
the exact command that installs it into the Python that is running.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import shlex
import sys
from urllib.parse import unquote, urlparse

from .errors import UsageError

# top-level module -> the extra that installs it
OPTIONAL_MODULES = {
    "tqdm": "train", "matplotlib": "train", "safetensors": "train", "mnist1d": "train",
    "sklearn": "train", "rich": "train", "PIL": "train",
    "fastapi": "web", "uvicorn": "web", "starlette": "web", "pydantic": "web",
    "pydantic_core": "web",
    "torch": "torch",
}


def missing_extra(error: ModuleNotFoundError) -> str | None:
    """The extra that provides the module ``error`` could not import; None if it is no
    optional dependency (then the error is a bug, not a missing install)."""
    return OPTIONAL_MODULES.get((error.name or "").split(".")[0])


def install_command(extra: str) -> str:
    """The command that installs ``extra`` into this Python: from the source folder convgrad
    was installed from (``-e`` when editable, as ``make`` does), else from the package index."""
    python = shlex.quote(sys.executable)
    try:
        origin = json.loads(importlib.metadata.distribution("convgrad")
                            .read_text("direct_url.json") or "{}")
    except importlib.metadata.PackageNotFoundError:
        origin = {}
    url = urlparse(origin.get("url", ""))
    if url.scheme == "file":
        editable = "-e " if origin.get("dir_info", {}).get("editable") else ""
        return f"{python} -m pip install {editable}{shlex.quote(f'{unquote(url.path)}[{extra}]')}"
    return f"{python} -m pip install {shlex.quote(f'convgrad[{extra}]')}"


def missing_message(error: ModuleNotFoundError, extra: str) -> str:
    return (f"needs {error.name.split('.')[0]}, which is not installed (it comes with convgrad's '{extra}' "
            f"extra); install it with: {install_command(extra)}")


# What a command that trains or draws imports as it goes (lazily, to keep --help fast).
RUN_PACKAGES = ("tqdm", "safetensors", "matplotlib")


def require_installed(packages: tuple[str, ...], extra: str = "train") -> None:
    """Checked before a command writes anything, so that a missing package cannot leave a
    half-made folder behind a traceback."""
    missing = [name for name in packages if importlib.util.find_spec(name) is None]
    if missing:
        raise UsageError(f"needs {', '.join(missing)}, not installed; install with: "
                         f"{install_command(extra)}")
