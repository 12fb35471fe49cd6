"""Opening a file that is read without being trusted: never read more than was promised.

A file under a data set's or a checkpoint's name may be anything: a FIFO (``open`` blocks
until a writer comes), a device (``/dev/zero`` never ends), a folder, a symbolic link to one
of those, a sparse file of a terabyte, or a file that grows while it is read.  Every reader
in convgrad opens its files here, and so

* refuses anything but a regular file (following symbolic links to it) before reading a
  byte, with one line naming the file and what it is;
* learns the size from ``fstat`` on the opened descriptor, so the file whose size was checked
  is the file that is read, and checks it against what the format promises *before* reading;
* reads into a buffer of the promised size and never past it (``read_into``), so memory is
  bounded by the promise, never by the file.

The errors are the data package's: ``DataNotFoundError`` (nothing there) and
``DataFormatError`` (something there, but not what can be read).
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from .errors import DataNotFoundError, format_error

# What a file mode that is not a regular file is, in words (stat.S_IS* test -> description).
NOT_REGULAR = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
               (stat.S_ISSOCK, "a socket"))
# O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused right after).
# O_NOCTTY: a link to a terminal must not become this process's controlling terminal.
OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
              | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))


def kind_of(mode: int) -> str:
    """``"a folder"``, ``"a character device"``... for a mode that is not a regular file."""
    return next((name for is_kind, name in NOT_REGULAR if is_kind(mode)), "not a regular file")


def refuse_not_regular(path: Path, mode: int):
    """The one-line error for a path whose target (mode) is not a regular file."""
    what = kind_of(mode)
    if path.is_symlink():
        return format_error(path, f"is a symbolic link to {os.readlink(path)}, which is {what}, "
                                  f"not a regular file; refusing to read it")
    return format_error(path, f"is {what}, not a regular file; refusing to read it")


def open_regular_file(path: str | os.PathLike) -> BinaryIO:
    """Open ``path`` for binary reading if it is (or links to) a regular file.

    The mode is checked twice: with ``stat`` before opening (a device is never even opened)
    and with ``fstat`` after (the name may have been swapped in between).
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise refuse_not_regular(path, mode)
        descriptor = os.open(path, OPEN_FLAGS)
    except FileNotFoundError as error:
        dangling = f" (a symbolic link to {os.readlink(path)}, which does not exist)" \
            if path.is_symlink() else ""
        raise DataNotFoundError(f"{path}: no such file{dangling}") from error
    except OSError as error:
        raise format_error(path, f"cannot be read ({error.strerror or error})") from error
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        raise refuse_not_regular(path, mode)
    if hasattr(os, "O_NONBLOCK"):
        os.set_blocking(descriptor, True)   # back to ordinary reads
    return os.fdopen(descriptor, "rb")


def file_size(handle: BinaryIO) -> int:
    """The size of the open file, from its descriptor (not its name, which may have moved)."""
    return os.fstat(handle.fileno()).st_size


def read_into(stream: BinaryIO, buffer) -> int:
    """Fill ``buffer`` (a writable buffer, e.g. a NumPy array) from ``stream``; return how
    many bytes arrived (fewer than its size only if the stream ended first).

    Nothing past the buffer is read, so the promise that sized the buffer bounds memory,
    also for a decompressing stream (``gzip.GzipFile`` inflates only what is asked for).
    """
    view = memoryview(buffer)
    if not view.nbytes:   # cast() refuses shapes with a zero in them
        return 0
    view, filled = view.cast("B"), 0
    while filled < len(view):
        count = stream.readinto(view[filled:])
        if not count:
            break
        filled += count
    return filled


def read_regular_file(path: str | os.PathLike, max_bytes: int,
                      expected: str = "that may be read here") -> bytes:
    """The whole content of regular file ``path``, refused before reading if it holds more
    than ``max_bytes`` (``expected`` says where that number comes from, for the message:
    ``"meta.json recorded"``).  A file that grows while it is read is refused too."""
    with open_regular_file(path) as handle:
        size = file_size(handle)
        if size > max_bytes:
            raise format_error(path, f"{size} bytes, more than the {max_bytes} bytes {expected}; "
                                     f"refusing to read it")
        data = handle.read(size)
        if len(data) < size:
            raise format_error(path, f"shrank while being read: {len(data)} of {size} bytes")
        if handle.read(1):
            raise format_error(path, f"grew past its {size} bytes while being read")
    return data
