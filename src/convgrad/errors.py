"""The error every ``convgrad`` command raises for a problem the user can fix.

It lives here, low in the package, so that the command modules (``train.cli``,
``explain.cli``, ``web.cli``) can raise it without importing the top-level ``cli``, which
imports them.
"""


class UsageError(Exception):
    """A problem with what the user asked for, reported as one line with exit status 2."""
