"""The error every ``convgrad`` command raises for a problem the user can fix, and the
helpers every command uses to report one: a fixable error, a bad option and a malformed
list each become one line, exit status 2, no traceback.

It lives here, low in the package, so that the command modules (``train.cli``,
``study``'s, ``inspect.cli``, ``explain.cli``, ``web.cli``) can raise it without importing
the top-level ``cli``, which imports them.
"""
from __future__ import annotations

import argparse
import functools


class UsageError(Exception):
    """A problem with what the user asked for, reported as one line with exit status 2."""


def one_line(text: str) -> str:
    return " ".join(text.split())


def user_errors(*fixable: type[Exception]):
    """A decorator for a command ``run(args)``: the ``fixable`` errors (the command's own:
    a bad config, a damaged run folder, a data file) and the system's (a read-only --out, a
    full disk) become ``UsageError``; anything else is a bug and keeps its traceback."""
    def decorate(command):
        @functools.wraps(command)
        def wrapper(args):
            try:
                return command(args)
            except fixable as error:
                raise UsageError(one_line(str(error))) from None
            except BrokenPipeError:    # the reader went away: cli.main stops quietly
                raise
            except OSError as error:
                where = f"{error.filename}: " if error.filename else ""
                raise UsageError(f"{where}{error.strerror or error}") from None
        return wrapper
    return decorate


def one_line_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """argparse's own errors (a non-number for --lr, a bad choice) as one line too."""
    def error(message):
        parser.exit(2, f"{parser.prog}: error: {message} (see {parser.prog} --help)\n")
    parser.error = error
    return parser


def comma_separated_ints(what: str, example: str = ""):
    """An argparse ``type`` for ``8,14,26``: the list of ints, or an error naming ``what``
    the numbers are (and an ``example``)."""
    shown = f" (e.g. {example})" if example else ""

    def parse(text: str) -> list[int]:
        try:
            return [int(part) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what} separated by commas{shown}, "
                                             f"got {text!r}") from None
    return parse
