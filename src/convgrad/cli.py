"""The ``convgrad`` command: one sub-command per module, loaded when it is used.

Each command module defines ``register(subparsers)``, which adds its parser and sets
``func`` (called with the parsed arguments; its return value is the exit status).  Errors
the user can fix (a bad argument, a missing file) are raised as ``UsageError`` and printed
as one line, never as a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from . import __version__
from .errors import UsageError
from .extras import missing_extra, missing_message

# command name -> module that registers it (imported only when needed)
COMMANDS = {
    "train": "convgrad.train.cli",
    "eval": "convgrad.train.cli",
    "compare": "convgrad.train.cli",
    "summary": "convgrad.train.cli",
    "depth": "convgrad.study.depth_cli",
    "landscape": "convgrad.study.landscape_cli",
    "explain": "convgrad.explain.cli",
    "explore": "convgrad.web.cli",
}


EPILOG = """\
examples:
  convgrad train                 # the MNIST-1D paper's CNN and recipe (about 93% on the test set)
  convgrad summary cnn           # its layers, output shapes, parameters and mult-adds
  convgrad depth --quick         # plain vs residual networks of several depths (a smoke run)
  convgrad explain conv2d --input "0 0 0 0; 1 0 0 1; 0 1 1 0; 0 0 0 0" --weight "1 1; 1 1"
  convgrad explore               # the web explorer, on http://127.0.0.1:8000
  convgrad explain --help        # each command's options (and examples)"""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="convgrad",
        description="Convolutional neural networks from first principles.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"convgrad {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    registered = set()
    for name, module_name in COMMANDS.items():
        # With a command named, import just its module: parsing needs nothing else.
        if only is not None and module_name != COMMANDS[only]:
            continue
        if module_name in registered:
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if missing_extra(error) is None:
                raise
            # A missing optional dependency: the command exists but cannot run here.
            for command in (c for c, m in COMMANDS.items() if m == module_name):
                subparsers.add_parser(command, help=f"(needs {error.name})").set_defaults(
                    missing=error)
            registered.add(module_name)
            continue
        module.register(subparsers)
        registered.add(module_name)
    return parser


def _missing(command: str, error: ModuleNotFoundError) -> int:
    """A command that needs an optional dependency this installation lacks: say which, and how
    to install it, in one line."""
    print(f"convgrad {command}: {missing_message(error, missing_extra(error))}",
          file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(only=command if command in COMMANDS else None)
    # (known args first: a command whose module could not be imported has no options yet)
    args, unknown = parser.parse_known_args(argv)
    if getattr(args, "missing", None) is not None:
        return _missing(args.command, args.missing)
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        return int(args.func(args) or 0)
    except UsageError as error:
        print(f"convgrad {args.command}: error: {error}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as error:
        if missing_extra(error) is None:
            raise
        return _missing(args.command, error)
    except KeyboardInterrupt:
        print(f"convgrad {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`convgrad explain ... | head`): stop quietly, as Unix tools do.
        # Point stdout at /dev/null so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
