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

# command name -> module that registers it (imported only when needed)
COMMANDS = {
    "train": "convgrad.train.cli",
    "eval": "convgrad.train.cli",
    "compare": "convgrad.train.cli",
    "summary": "convgrad.train.cli",
    "depth": "convgrad.study.depth_cli",
    "explain": "convgrad.explain.cli",
    "explore": "convgrad.web.cli",
}


class UsageError(Exception):
    """A problem with what the user asked for, reported as one line with exit status 2."""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="convgrad",
        description="Convolutional neural networks from first principles.",
    )
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
            if not error.name or not error.name.startswith("convgrad"):
                # A missing optional dependency: the command exists but cannot run here.
                subparsers.add_parser(name, help=f"(needs {error.name}: pip install "
                                                 f"'convgrad[all]')")
                continue
            raise
        module.register(subparsers)
        registered.add(module_name)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(only=command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        if args.command in COMMANDS:
            module = COMMANDS[args.command]
            print(f"convgrad {args.command}: not available (could not import {module}); "
                  f"install the extras with: pip install 'convgrad[all]'", file=sys.stderr)
            return 2
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        return int(args.func(args) or 0)
    except UsageError as error:
        print(f"convgrad {args.command}: error: {error}", file=sys.stderr)
        return 2
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
