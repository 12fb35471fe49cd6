"""The ``convgrad`` command itself: ``--version``, and what every command does when an optional
dependency is missing (one line with the exact install command, never a traceback)."""
import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest

from convgrad.cli import main
from convgrad.extras import OPTIONAL_MODULES, install_command

ROOT = Path(__file__).resolve().parents[1]


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"convgrad {importlib.metadata.version('convgrad')}\n"


def run_without(modules, *argv, timeout=120):
    """``convgrad *argv`` in a fresh interpreter where ``modules`` cannot be imported (Python's
    own switch for that: ``sys.modules[name] = None``), as on an installation without them."""
    code = ("import sys\n"
            f"for name in {list(modules)!r}: sys.modules[name] = None\n"
            "from convgrad.cli import main\n"
            f"sys.exit(main({list(argv)!r}))\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=timeout)


WEB = [m for m, extra in OPTIONAL_MODULES.items() if extra == "web"]
TRAIN = [m for m, extra in OPTIONAL_MODULES.items() if extra == "train"]


@pytest.mark.parametrize("hidden, extra, argv", [
    (WEB, "web", ["explore", "--port", "1"]),
    (["uvicorn"], "web", ["explore"]),
    (TRAIN, "train", ["explain", "conv1d", "--input", "1 2 3", "--weight", "1 1"]),
    (TRAIN, "train", ["train", "--steps", "1"]),
    (["tqdm"], "train", ["train", "--steps", "1"]),
], ids=["explore without the web extra", "explore without uvicorn",
        "explain without rich", "train without the train extra", "train without tqdm"])
def test_a_missing_optional_dependency_names_the_exact_install_command(tmp_path, hidden, extra,
                                                                       argv):
    done = run_without(hidden, *argv)
    assert done.returncode == 2, done.stderr
    assert done.stdout == "" and done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr and "ModuleNotFoundError" not in done.stderr
    assert done.stderr.startswith(f"convgrad {argv[0]}: ")
    assert install_command(extra) in done.stderr
    assert re.search(r"needs (" + "|".join(hidden) + r")\b", done.stderr), done.stderr


def test_explain_json_needs_no_extra():
    done = run_without(TRAIN + WEB, "explain", "conv1d", "--input", "1 2 3", "--weight", "1 1",
                       "--json")
    assert done.returncode == 0, done.stderr
    assert '"output": [[3.0, 5.0]]' in done.stdout


def test_the_install_command_is_this_installations():
    # installed from this checkout (make's `pip install -e`): the command installs from it
    command = install_command("web")
    assert command.startswith(f"{sys.executable} -m pip install ")
    assert f"{ROOT}[web]" in command


def test_every_optional_dependency_is_known():
    # each distribution of the train and web extras: its modules are in OPTIONAL_MODULES
    modules = importlib.metadata.packages_distributions()
    requirements = importlib.metadata.requires("convgrad")
    for requirement in requirements:
        found = re.match(r"([A-Za-z0-9_.-]+).*extra == \"(train|web)\"", requirement)
        if not found:
            continue
        name = found.group(1).lower().replace("_", "-")
        provided = [m for m, dists in modules.items()
                    if name in (d.lower().replace("_", "-") for d in dists)]
        assert provided, f"{name} is not installed here"
        assert any(m in OPTIONAL_MODULES for m in provided), (name, provided)


def test_make_train_installs_what_every_command_needs():
    # `make train` installs the `all` extra: the training and the explorer
    dry_run = subprocess.run(["make", "-n", "-B", ".venv/.train-installed"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    installed = re.search(r"pip install .*-e '\.\[(\w+)\]'", dry_run)
    assert installed and installed.group(1) == "all", dry_run
    requirements = importlib.metadata.requires("convgrad")
    assert 'convgrad[train,web]; extra == "all"' in requirements
