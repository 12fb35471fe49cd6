"""Opt-in downloads of the official data files, checked against their published MD5 sums.

Nothing here runs unless asked (``load_dataset(..., download=True)``, ``convgrad train
--download``).  Each file is streamed to a temporary file beside its destination while its
MD5 is computed; it is moved into place only when the transfer is complete and the checksum
matches, so a cut connection or a wrong file never leaves something that looks like data.

The checksums are the ones the data sets' authors publish (CIFAR-10's page lists the MD5 of
``cifar-10-binary.tar.gz``; torchvision's ``datasets/mnist.py`` carries those of the MNIST and
Fashion-MNIST files).  Every base URL can be replaced (``base_urls=``), which is how the tests
serve small files of their own from a local HTTP server.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .cache import atomic_write, ensure_dir
from .errors import ChecksumError, DataError, DownloadError, format_error
from .files import open_regular_file


@dataclass(frozen=True)
class RemoteFile:
    filename: str
    md5: str


# Mirrors are tried in order; the first is the one torchvision tries that still serves MNIST.
MIRRORS = {
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/",
              "http://yann.lecun.com/exdb/mnist/"),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    "cifar10": ("https://www.cs.toronto.edu/~kriz/",),
}
REMOTE_FILES = {
    "mnist": (RemoteFile("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
              RemoteFile("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
              RemoteFile("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
              RemoteFile("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c")),
    "fashion-mnist": (
        RemoteFile("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        RemoteFile("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        RemoteFile("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        RemoteFile("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310")),
    "cifar10": (RemoteFile("cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530"),),
}
CHUNK_SIZE = 1 << 20
# Bounds on what a download or an archive may make us write: CIFAR-10's archive is 170 MB
# and unpacks to 9 files of 185 MB in all.
MAX_DOWNLOAD_BYTES = 1 << 30
MAX_ARCHIVE_MEMBERS = 100
MAX_EXTRACTED_BYTES = 1 << 30

# progress(url, bytes received so far, total bytes or None when the server did not say)
Progress = Callable[[str, int, "int | None"], None]


def md5sum(path: str | os.PathLike, chunk_size: int = CHUNK_SIZE) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_file(url: str, destination: str | os.PathLike, md5: str, *, timeout: float = 60.0,
                  progress: Progress | None = None,
                  max_bytes: int = MAX_DOWNLOAD_BYTES) -> Path:
    """Fetch ``url`` to ``destination`` if its MD5 is ``md5``; raise ``DownloadError`` if not.

    An existing ``destination`` with the right checksum is kept and nothing is fetched.
    Raises ``ChecksumError`` (naming expected and actual) on a mismatch and
    ``DownloadError`` on an HTTP error, a network error, a transfer shorter than the
    server's Content-Length, or one longer than ``max_bytes`` (refused as soon as the
    Content-Length or the bytes received pass it); in every case the temporary file is
    deleted.
    """
    destination = Path(destination)
    if destination.is_file() and md5sum(destination) == md5:
        return destination
    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as error:
        raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from error
    except urllib.error.URLError as error:
        raise DownloadError(f"{url}: cannot connect ({error.reason})") from error
    except (OSError, http.client.HTTPException) as error:
        raise DownloadError(f"{url}: {type(error).__name__}: {error}") from error
    with response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        if total is not None and total > max_bytes:
            raise DownloadError(f"{url}: the server announces {total} bytes, more than the "
                                f"{max_bytes} a download may be; nothing was saved")
        digest, received = hashlib.md5(usedforsecurity=False), 0
        with atomic_write(destination) as handle:
            try:
                for chunk in iter(lambda: response.read(CHUNK_SIZE), b""):
                    received += len(chunk)
                    if received > max_bytes:
                        raise DownloadError(f"{url}: more than {max_bytes} bytes received, the "
                                            f"most a download may be; stopped, nothing was "
                                            f"saved")
                    handle.write(chunk)
                    digest.update(chunk)
                    if progress is not None:
                        progress(url, received, total)
            except DownloadError:   # the bound above (an OSError too), already worded
                raise
            except http.client.IncompleteRead as error:
                received += len(error.partial)
                raise DownloadError(f"{url}: transfer cut short after {received} of "
                                    f"{total if total is not None else '?'} bytes") from error
            except (OSError, http.client.HTTPException) as error:
                raise DownloadError(f"{url}: transfer failed after {received} bytes "
                                    f"({type(error).__name__}: {error})") from error
            # http.client stops quietly when a connection closes before Content-Length.
            if total is not None and received != total:
                raise DownloadError(f"{url}: transfer cut short after {received} of {total} "
                                    f"bytes")
            if digest.hexdigest() != md5:
                raise ChecksumError(f"{url}: MD5 mismatch: expected {md5}, got "
                                    f"{digest.hexdigest()} ({received} bytes); the file was "
                                    f"not saved")
    return destination


def download_from_mirrors(remote: RemoteFile, folder: str | os.PathLike,
                          base_urls: Sequence[str], *, timeout: float = 60.0,
                          progress: Progress | None = None) -> Path:
    """Try each base URL in turn until ``remote`` downloads with the right checksum."""
    if isinstance(base_urls, str):
        base_urls = (base_urls,)
    if not base_urls:
        raise ValueError("download_from_mirrors: base_urls is empty")
    destination = Path(folder) / remote.filename
    failures = []
    for base in base_urls:
        url = base if base.endswith("/") else base + "/"
        try:
            return download_file(url + remote.filename, destination, remote.md5,
                                 timeout=timeout, progress=progress)
        except DownloadError as error:
            failures.append(error)
    if len(failures) == 1:
        raise failures[0]
    kind = ChecksumError if all(isinstance(f, ChecksumError) for f in failures) else DownloadError
    raise kind(f"{remote.filename}: every mirror failed: " + "; ".join(map(str, failures)))


def check_member(archive: Path, member: tarfile.TarInfo) -> None:
    """Refuse anything but plain files and folders inside the archive's own tree."""
    parts = Path(member.name.replace("\\", "/")).parts
    if member.name.startswith(("/", "\\")) or os.path.isabs(member.name) or ".." in parts:
        raise format_error(archive, f"member {member.name!r} would be written outside the "
                                    f"target folder; refusing to extract")
    if not (member.isfile() or member.isdir()):
        raise format_error(archive, f"member {member.name!r} is a link or special file; "
                                    f"refusing to extract")


def read_members(archive: Path, tar: tarfile.TarFile, max_members: int,
                 max_bytes: int) -> list[tarfile.TarInfo]:
    """The archive's members, each checked, read one header at a time: reading stops at the
    first member past ``max_members`` or past ``max_bytes`` of content in all, so that a
    tar bomb is refused before it is extracted (or its headers fill memory)."""
    members, total = [], 0
    for member in tar:
        check_member(archive, member)
        members.append(member)
        total += member.size if member.isfile() else 0
        if len(members) > max_members:
            raise format_error(archive, f"holds more than {max_members} members (a data "
                                        f"set's archive holds a few); refusing to extract")
        if total > max_bytes:
            raise format_error(archive, f"its members hold more than {max_bytes} bytes "
                                        f"({total} up to member {member.name!r}); refusing to "
                                        f"extract")
    return members


def safe_extract(archive: str | os.PathLike, target: str | os.PathLike, *,
                 max_members: int = MAX_ARCHIVE_MEMBERS,
                 max_bytes: int = MAX_EXTRACTED_BYTES) -> list[Path]:
    """Extract a (possibly compressed) tar archive into ``target``; return the files written.

    The archive must be a regular file.  Every member is checked first (no absolute paths,
    no ``..``, no links or devices; at most ``max_members`` of them holding at most
    ``max_bytes`` in all) and extraction uses ``tarfile``'s ``filter='data'`` as a second
    guard where Python has it.  The archive is unpacked into a temporary folder inside
    ``target`` and its files are then moved into place one by one, so an interrupted
    extraction leaves no partial file under a real name.
    """
    archive, target = Path(archive), ensure_dir(target)
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=target))
    try:
        try:
            with open_regular_file(archive) as handle, \
                    tarfile.open(fileobj=handle, mode="r:*") as tar:
                members = read_members(archive, tar, max_members, max_bytes)
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(staging, members=members, filter="data")
                else:  # Python without PEP 706; the checks above already ran
                    tar.extractall(staging, members=members)
        except DataError:
            raise
        except (tarfile.TarError, EOFError, OSError) as error:
            raise format_error(archive, f"cannot be extracted ({type(error).__name__}: "
                                        f"{error}); the archive is truncated or corrupt"
                               ) from error
        written = []
        for member in members:
            if member.isfile():
                relative = Path(member.name.replace("\\", "/"))
                ensure_dir((target / relative).parent)
                os.replace(staging / relative, target / relative)
                written.append(target / relative)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def fetch(name: str, root: str | os.PathLike, base_urls: Sequence[str] | None = None, *,
          remote_files: Sequence[RemoteFile] | None = None, timeout: float = 60.0,
          progress: Progress | None = None) -> Path:
    """Download data set ``name``'s official files into ``root`` and unpack them if needed.

    MNIST and Fashion-MNIST keep their ``.gz`` files (the IDX reader reads them directly);
    CIFAR-10's archive is verified, then safely extracted to ``root/cifar-10-batches-bin``
    (the archive itself is kept, so a later call verifies it instead of fetching it again).
    ``base_urls`` and ``remote_files`` (names and MD5s) replace the official ones.
    """
    if name not in REMOTE_FILES:
        raise ValueError(f"fetch: no downloads for {name!r}; known: {', '.join(REMOTE_FILES)}")
    root = ensure_dir(root)
    mirrors = MIRRORS[name] if base_urls is None else base_urls
    for remote in REMOTE_FILES[name] if remote_files is None else remote_files:
        path = download_from_mirrors(remote, root, mirrors, timeout=timeout, progress=progress)
        if name == "cifar10":
            safe_extract(path, root)
    return root
