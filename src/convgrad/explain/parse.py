"""The matrix syntax of ``convgrad explain``: arrays a student can type on one line.

    values   separated by spaces or commas         "1 0 -1"   "1, 0, -1"   "1/9 1/9 1/9"
    rows     separated by ';' (or new lines)       "0 0 0 0; 1 0 0 1; 0 1 1 0; 0 0 0 0"
    channels separated by '|'                      "1 2; 3 4 | 5 6; 7 8"     (2 channels, 2×2)
    weight's first dimension separated by '||'     "1 1; 1 1 | 0 0; 0 0 || 1 0; 0 1 | 2 2; 2 2"

A number is anything Python's ``float`` reads (``-1.5``, ``2e-3``, ``inf``, ``nan``) or a
fraction ``a/b``; ``true`` or a quoted ``"1"`` is not.  A weight is ``(C_out, C_in/groups, *k)`` for a convolution and
``(C_in, C_out/groups, *k)`` for a transposed one: '||' always separates its first dimension,
'|' its second.  A nested list in brackets (``[[1, 2], [3, 4]]``) is read as JSON instead,
with missing leading dimensions taken as 1; it holds numbers only, by the same rule
(``first_non_number``, which the trace functions also apply to arrays given in Python).

Every problem raises ``ParseError`` with one line naming the option, where the problem is
and what was expected.
"""
from __future__ import annotations

import json
import numbers
import re

import numpy as np

_SEPARATOR_NAMES = {"||": "'||' (the weight's first dimension)", "|": "'|' (channels)",
                    ";": "';' (rows)"}


class ParseError(ValueError):
    """Malformed text for an array option; the message is one line."""


def parse_number(text: str, option: str, where: str = "") -> float:
    token = text.strip().replace("−", "-")
    try:
        if "/" in token:
            numerator, denominator = token.split("/", 1)
            value = float(numerator) / float(denominator)
        else:
            value = float(token)
    except ZeroDivisionError:
        raise ParseError(f"{option}: {text!r}{where} divides by zero") from None
    except ValueError:
        raise ParseError(f"{option}: {text!r}{where} is not a number (write numbers like 1, "
                         f"-0.5, 2e-3 or 1/9)") from None
    return value


def _values(text: str, option: str, where: str) -> list:
    tokens = [t for t in re.split(r"[\s,]+", text.strip()) if t]
    if not tokens:
        raise ParseError(f"{option}: {where.strip(' ,') or 'the value'} is empty")
    return [parse_number(t, option, f" ({where.strip(' ,')}, value {k + 1})" if where
                         else f" (value {k + 1})") for k, t in enumerate(tokens)]


def _split(text: str, separators: list, option: str, where: str):
    """Nested lists for ``text`` split by ``separators`` (outermost first), then values."""
    if not separators:
        return _values(text, option, where)
    separator, rest = separators[0], separators[1:]
    if separator == ";":
        parts = re.split(r"[;\n]", text.strip())
    elif separator == "|":
        parts = text.split("|")
    else:
        parts = text.split("||")
    label = {"||": "block", "|": "channel", ";": "row"}[separator]
    nested = []
    for k, part in enumerate(parts):
        if not part.strip():
            if len(parts) == 1:
                raise ParseError(f"{option}: the value is empty")
            raise ParseError(f"{option}: {label} {k + 1}{where} is empty (two "
                             f"{_SEPARATOR_NAMES[separator]} separators with nothing between)")
        nested.append(_split(part, rest, option, f"{where}, {label} {k + 1}"
                             if len(parts) > 1 else where))
    return nested


def _shape(nested) -> tuple:
    return (len(nested),) + (_shape(nested[0]) if isinstance(nested[0], list) else ())


def _check_rectangular(nested, option: str, separators: list, where: str = "") -> None:
    """Every part at one level has the same shape; name the first that differs."""
    if not separators:
        return
    label = {"||": "block", "|": "channel", ";": "row"}[separators[0]]
    inner = {"||": "channels", "|": "rows", ";": "values"}
    for k, part in enumerate(nested):
        _check_rectangular(part, option, separators[1:],
                           f"{where}, {label} {k + 1}" if len(nested) > 1 else where)
    first = _shape(nested[0])
    inside = f"in {where.strip(', ')}, " if where else ""
    for k, part in enumerate(nested[1:], start=2):
        if _shape(part) != first:
            if separators[0] == ";":
                detail = (f"{inside}row {k} has {_count(len(part), 'value')}, but row 1 has "
                          f"{len(nested[0])} (every row must have the same length)")
            else:
                detail = (f"{inside}{label} {k} has shape {'×'.join(map(str, _shape(part)))}, "
                          f"but {label} 1 has {'×'.join(map(str, first))} (every "
                          f"{label} must have the same number of {inner[separators[0]]} "
                          f"and values per row)")
            raise ParseError(f"{option}: ragged array: {detail}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def parse_array(text: str, option: str, ndim: int, spatial_dims: int) -> np.ndarray:
    """An array of ``ndim`` dimensions whose last ``spatial_dims`` are spatial (1 or 2).

    The leading ``ndim − spatial_dims`` dimensions are written with '||' and '|' (the
    innermost of them with '|').
    """
    if text is None or not text.strip():
        raise ParseError(f"{option}: the value is empty")
    text = text.strip()
    if text.startswith("["):
        return _parse_brackets(text, option, ndim)
    leading = ["||", "|"][2 - (ndim - spatial_dims):] if ndim > spatial_dims else []
    separators = leading + ([";"] if spatial_dims == 2 else [])
    if "||" in text and "||" not in separators:
        raise ParseError(f"{option}: '||' separates a weight's first dimension; here use "
                         f"'|' between channels" + ("" if spatial_dims == 2 else
                                                     " (a 1D signal has no rows)"))
    if spatial_dims == 1 and re.search(r"[;\n]", text):
        raise ParseError(f"{option}: a 1D operation takes one row of values per channel; "
                         f"separate channels with '|', not ';'")
    nested = _split(text, separators, option, "")
    _check_rectangular(nested, option, separators)
    array = np.asarray(nested, dtype=np.float64)
    assert array.ndim == ndim, (array.shape, ndim)  # guaranteed by the separators
    return array


def bracket_depth(text: str) -> int:
    """The deepest nesting of ``[`` in ``text``, counted without parsing it (so that any depth
    is safe to ask about; brackets inside quotes count too, which only overestimates)."""
    depth = deepest = 0
    for char in text:
        if char == "[":
            depth += 1
            deepest = max(deepest, depth)
        elif char == "]":
            depth -= 1
    return deepest


def first_non_number(value, ndim: int) -> str | None:
    """Why ``value`` is not nested lists of numbers at most ``ndim`` deep: the place and the
    problem (``"[0][1] is '1' (text), not a number"``), or None when it is.

    A number is an int or a float (NumPy's too); a bool is not, nor is text, even text that
    reads as a number: the rule of the text form, where ``true`` and ``"1"`` are not numbers.
    The walk uses a stack, not recursion, so any depth gets this answer.
    """
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "iuf":
            return None if value.ndim <= ndim else (f" has {value.ndim} dimensions, more than "
                                                     f"the {ndim} it can have")
        value = value.tolist()
    stack = [(value, 0, "")]
    while stack:
        item, depth, where = stack.pop()
        if isinstance(item, (list, tuple)):
            if depth == ndim:
                return (f"{where} is nested more than {ndim} levels deep; it can have at most "
                        f"{ndim} dimensions")
            stack.extend((inner, depth + 1, f"{where}[{k}]")
                         for k, inner in reversed(list(enumerate(item))))
        elif isinstance(item, bool) or not isinstance(item, numbers.Real):
            shown = (f"{str(item).lower()} (a truth value)" if isinstance(item, (bool, np.bool_))
                     else f"{item!r} (text)" if isinstance(item, str)
                     else "None (no value)" if item is None
                     else f"{item!r} (a {type(item).__name__})")
            return f"{where} is {shown}, not a number"
    return None


def _parse_brackets(text: str, option: str, ndim: int) -> np.ndarray:
    depth = bracket_depth(text)
    if depth > ndim:
        raise ParseError(f"{option}: expected at most {ndim} levels of brackets, got {depth}")
    try:
        nested = json.loads(text.replace("−", "-"))
    except json.JSONDecodeError as error:
        raise ParseError(f"{option}: malformed nested list at character {error.pos + 1}: "
                         f"{error.msg}") from None
    problem = first_non_number(nested, ndim)
    if problem:
        raise ParseError(f"{option}: {problem.lstrip()}")
    try:
        array = np.asarray(nested, dtype=np.float64)
    except (ValueError, TypeError):
        raise ParseError(f"{option}: the nested list must be rectangular and hold only "
                         f"numbers") from None
    if array.size == 0:
        raise ParseError(f"{option}: the nested list is empty")
    return array.reshape((1,) * (ndim - array.ndim) + array.shape)


def parse_vector(text: str, option: str) -> np.ndarray:
    """A flat list of numbers (a bias: one per output channel)."""
    if text is None or not text.strip():
        raise ParseError(f"{option}: the value is empty")
    if re.search(r"[;|\n]", text):
        raise ParseError(f"{option}: expected a flat list of numbers (one per output channel), "
                         f"separated by spaces or commas")
    return np.asarray(_values(text, option, ""), dtype=np.float64)


def parse_ints(text: str, option: str, dims: int, allow_words=()) -> object:
    """``"2"`` → 2, ``"1,2"`` → (1, 2) (one per axis); or one of ``allow_words``."""
    text = text.strip()
    if text in allow_words:
        return text
    parts = [p for p in re.split(r"[\s,]+", text) if p]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        words = f", {' or '.join(repr(w) for w in allow_words)}" if allow_words else ""
        raise ParseError(f"{option}: expected an integer or {dims} comma-separated integers"
                         f"{words}, got {text!r}") from None
    if len(values) == 1:
        return values[0]
    if len(values) != dims:
        raise ParseError(f"{option}: expected 1 or {dims} integers (one per axis), got "
                         f"{len(values)}: {text!r}")
    return tuple(values)


def parse_position(text: str, option: str, dims: int) -> tuple:
    """``--at``: the spatial position (``T`` or ``ROW,COL``), optionally channel first."""
    parts = [p for p in re.split(r"[\s,]+", text.strip()) if p]
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise ParseError(f"{option}: expected integers like {'3' if dims == 1 else '1,2'}, "
                         f"got {text!r}") from None
    if len(values) not in (dims, dims + 1):
        spatial = "T" if dims == 1 else "ROW,COL"
        raise ParseError(f"{option}: expected {spatial} or CHANNEL,{spatial} "
                         f"({dims} or {dims + 1} integers), got {text!r}")
    return values
