"""Hostile files: everything the data package reads, replaced by a file built to hurt it.

The catalogue below makes, for each reader (IDX, CIFAR-10 batches, the MNIST-1D cache, tar
archives, ``read_regular_file``), the files an attacker or an accident would leave under its
name: gzip bombs, headers whose sizes overflow int64, truncated files, wrong magic, links to
``/dev/zero``, FIFOs, folders, empty files, trailing junk, files far larger than promised.

Each case runs its reader in a forked child whose address space is limited (RLIMIT_AS) to
what it already has plus ``HEADROOM``: a reader that inflates a bomb or reads a device to the
end meets a real MemoryError there, and the test sees it; a reader that blocks on a FIFO is
killed after ``TIMEOUT`` seconds.  A case passes only if the child raised exactly the
expected error class with a one-line message naming the file and the numbers.
"""
import contextlib
import gzip
import io
import json
import multiprocessing
import os
import struct
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from convgrad.data import DataFormatError, DataNotFoundError, load_dataset, read_cifar_batch
from convgrad.data.download import safe_extract
from convgrad.data.files import read_regular_file
from convgrad.data.idx import read_idx
from convgrad.data.mnist1d import read_cache

resource = pytest.importorskip("resource")  # RLIMIT_AS: POSIX only
pytestmark = pytest.mark.skipif(not (hasattr(os, "mkfifo") and os.path.exists("/dev/zero")),
                                reason="needs FIFOs and /dev/zero")

HEADROOM = 512 << 20  # bytes of address space a reader may add to what the process has
TIMEOUT = 20          # seconds before a reader is taken to be blocked
GIB = 1 << 30
SMALL = 1 << 20       # the max_bytes given to read_regular_file and safe_extract here


# ---------------------------------------------------------------- running a reader, bounded
def address_space() -> int:
    """This process's mapped address space in bytes (VmSize), what RLIMIT_AS limits."""
    with open("/proc/self/status") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    return kib << 10


def run_in_child(reader: Callable, path: Path, connection) -> None:
    limit = address_space() + HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        outcome = {"returned": reader(path)}
    except BaseException as error:  # the test wants to see whatever it was
        kind = type(error)
        outcome = {"error": f"{kind.__module__}.{kind.__qualname__}", "message": str(error)}
    try:
        connection.send(outcome)
    except Exception:  # a result that does not pickle: its repr tells what it was
        connection.send({"returned": repr(outcome["returned"])[:300]})


def run_bounded(reader: Callable, path: Path) -> dict:
    """What ``reader(path)`` did in a child with bounded memory: ``{"returned": value}``,
    ``{"error": class, "message": str}``, ``{"timeout": seconds}`` or ``{"died": code}``."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=run_in_child, args=(reader, path, sender))
    child.start()
    sender.close()
    try:
        if not receiver.poll(TIMEOUT):
            return {"timeout": TIMEOUT} if child.is_alive() else {"died": child.exitcode}
        return receiver.recv()
    finally:
        child.kill()
        child.join()
        receiver.close()


def test_the_bound_is_real():
    """A reader that reads /dev/zero to the end runs out of address space in the child."""
    outcome = run_bounded(lambda path: len(path.read_bytes()), Path("/dev/zero"))
    assert outcome.get("error") == "builtins.MemoryError", outcome


# ---------------------------------------------------------------- file makers
def idx_header(shape, type_code=0x08) -> bytes:
    return bytes([0, 0, type_code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


def gzip_bomb(head: bytes, zero_mib: int) -> bytes:
    """``head`` then ``zero_mib`` MiB of zeros, gzipped in about a thousandth of that.

    After a full flush deflate starts afresh, so every MiB of zeros compresses to the same
    bytes: one compressed MiB, repeated.  No trailer: a reader that stops where the header's
    promise ends never gets there, and one that inflates everything runs out of memory first.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip wrapper
    start = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return start + block * zero_mib


def sparse(path: Path, size: int) -> Path:
    """``path`` (created empty if missing) grown to ``size`` bytes by a hole of zeros, which
    takes no disk space."""
    path.touch()
    os.truncate(path, size)
    return path


def put(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def dev_zero(path: Path) -> Path:
    path.symlink_to("/dev/zero")
    return path


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def folder(path: Path) -> Path:
    path.mkdir()
    return path


def broken_link(path: Path) -> Path:
    path.symlink_to(path.with_name("nowhere"))
    return path


IMAGES = "train-images-idx3-ubyte"
ONE_IMAGE = idx_header((1, 28, 28)) + bytes(784)
BOMB_SHAPE = (60000, 28, 28)   # MNIST's own: 47040000 bytes promised
BOMB_MIB = 3456                # 3.6 GB of zeros in 3.6 MB of gzip
RECORD = bytes([3]) + bytes(3072)  # one CIFAR-10 record: label 3, black image


def npz(path: Path, entries: dict) -> Path:
    """A zip of ``.npy`` entries, each ``name -> (header dict, data bytes)``, written by hand
    so that a header may promise what its data does not hold."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, (header, data) in entries.items():
            buffer = io.BytesIO()
            np.lib.format.write_array_header_1_0(buffer, header)
            archive.writestr(f"{name}.npy", buffer.getvalue() + data)
    return path


def entry(array: np.ndarray) -> tuple:
    """The ``.npy`` header and data of ``array``, for ``npz``."""
    header = {"descr": np.lib.format.dtype_to_descr(array.dtype), "fortran_order": False,
              "shape": array.shape}
    return header, array.tobytes()


def cache_entries(**changes) -> dict:
    """The entries of a valid MNIST-1D cache (zeros), with ``changes`` applied."""
    meta = np.array(json.dumps({"format": 1}))
    entries = {"meta": entry(meta), "train_x": entry(np.zeros((4000, 1, 40), np.float32)),
               "train_y": entry(np.zeros(4000, np.int64)),
               "test_x": entry(np.zeros((1000, 1, 40), np.float32)),
               "test_y": entry(np.zeros(1000, np.int64))}
    return {**entries, **changes}


def promise(shape, descr) -> tuple:
    """An entry whose header promises ``shape`` of ``descr`` and whose data is 16 bytes."""
    return {"descr": descr, "fortran_order": False, "shape": shape}, bytes(16)


def tar_gz(path: Path, members: dict) -> Path:
    """A .tar.gz of regular files, ``name -> size`` (zeros)."""
    with tarfile.open(path, "w:gz") as archive:
        for name, size in members.items():
            info = tarfile.TarInfo(name)
            info.size = size
            archive.addfile(info, io.BytesIO(bytes(size)))
    return path


def mnist_folder(root: Path, **replace: Callable[[Path], Path]) -> Path:
    """A valid MNIST folder of one train and one test image, with some files replaced by
    what ``replace[role](path)`` makes under the file's name."""
    labels = idx_header((1,), 0x08) + bytes([7])
    files = {"train-images-idx3-ubyte": ONE_IMAGE, "train-labels-idx1-ubyte": labels,
             "t10k-images-idx3-ubyte": ONE_IMAGE, "t10k-labels-idx1-ubyte": labels}
    for name, content in files.items():
        maker = replace.get(name.split("-idx")[0].replace("-", "_"))
        (maker or (lambda path: put(path, content)))(root / name)
    return root


def cifar_folder(root: Path, **replace: Callable[[Path], Path]) -> Path:
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        maker = replace.get(name)
        (maker or (lambda path: put(path, RECORD)))(root / f"{name}.bin")
    return root


# ---------------------------------------------------------------- the catalogue
READERS = {
    "idx": read_idx,
    "cifar": read_cifar_batch,
    "cache": lambda path: read_cache(path)[1],   # returns why it cannot be used
    "file": lambda path: read_regular_file(path, SMALL),
    "extract": lambda path: safe_extract(path, path.parent / "out"),
    "extract (small bounds)": lambda path: safe_extract(path, path.parent / "out",
                                                        max_members=10, max_bytes=SMALL),
    "mnist": lambda root: load_dataset("mnist", root=root),
    "cifar10": lambda root: load_dataset("cifar10", root=root),
}


@dataclass
class Hostile:
    reader: str                      # a key of READERS
    make: Callable[[Path], Path]     # makes the file in a fresh folder; returns what to read
    error: type | None               # the exact error class; None: read_cache's reason
    words: tuple[str, ...]           # in the message ("{path}": the file's path)


LINK_TO_ZERO = "{path}: is a symbolic link to /dev/zero, which is a character device, not a " \
               "regular file; refusing to read it"
IS_FIFO = "{path}: is a FIFO (named pipe), not a regular file; refusing to read it"
IS_FOLDER = "{path}: is a folder, not a regular file; refusing to read it"

CATALOGUE = {
    # ---- IDX (MNIST, Fashion-MNIST), raw and gzip
    "idx gzip bomb": Hostile("idx", lambda d: put(d / f"{IMAGES}.gz", gzip_bomb(
        idx_header(BOMB_SHAPE), BOMB_MIB)), DataFormatError, (
        "{path}: more than 65536 unexpected bytes after the 47040000 bytes of data that the "
        "header's shape (60000, 28, 28) describes (stopped reading there)",)),
    "idx gzip bomb promising too much": Hostile("idx", lambda d: put(d / f"{IMAGES}.gz", gzip_bomb(
        idx_header((2**32 - 1, 28, 28)), BOMB_MIB)), DataFormatError, (
        "{path}: the header promises shape (4294967295, 28, 28) (3367254359280 bytes of "
        "uint8), more than the 1073741824 bytes read from one IDX file",)),
    "idx dims overflow int64": Hostile("idx", lambda d: put(d / IMAGES, idx_header(
        (65536,) * 4)), DataFormatError, (
        "{path}: the header promises shape (65536, 65536, 65536, 65536) "
        "(18446744073709551616 bytes of uint8), more than the 1073741824 bytes",)),
    "idx float64 dims overflow int64": Hostile("idx", lambda d: put(d / IMAGES, idx_header(
        (2**32 - 1,) * 3, 0x0E) + bytes(8)), DataFormatError, (
        f"the header promises shape (4294967295, 4294967295, 4294967295) "
        f"({(2**32 - 1) ** 3 * 8} bytes of float64), more than the 1073741824 bytes",)),
    "idx truncated": Hostile("idx", lambda d: put(d / IMAGES, idx_header(BOMB_SHAPE)
                                                  + bytes(1000)), DataFormatError, (
        "{path}: truncated: the header promises shape (60000, 28, 28) (47040000 bytes of "
        "uint8), the file holds 1000 bytes after the header",)),
    "idx truncated gzip": Hostile("idx", lambda d: put(d / f"{IMAGES}.gz", gzip.compress(
        idx_header((50, 28, 28)) + np.random.default_rng(0).bytes(50 * 784))[:20000]),
        DataFormatError, ("{path}: truncated gzip stream",)),
    "idx gzip shorter than promised": Hostile("idx", lambda d: put(d / f"{IMAGES}.gz",
        gzip.compress(ONE_IMAGE[:-84])), DataFormatError, (
        "{path}: truncated: the header promises shape (1, 28, 28) (784 bytes of uint8), the "
        "file holds 700 bytes after the header",)),
    "idx wrong magic": Hostile("idx", lambda d: put(d / IMAGES, b"PK\x03\x04" + bytes(100)),
                               DataFormatError, ("{path}: bad magic number 0x504b0304",)),
    "idx too many dims": Hostile("idx", lambda d: put(d / IMAGES, idx_header((1,) * 200)
                                                      + b"\x07"), DataFormatError, (
        "{path}: bad magic number 0x000008c8: 200 dimensions (an IDX array here has 1 to 32)",)),
    "idx zero dims": Hostile("idx", lambda d: put(d / IMAGES, b"\x00\x00\x08\x00\x07"),
                             DataFormatError, ("{path}: bad magic number 0x00000800: 0 "
                                               "dimensions",)),
    "idx link to /dev/zero": Hostile("idx", lambda d: dev_zero(d / IMAGES), DataFormatError,
                                     (LINK_TO_ZERO,)),
    "idx .gz link to /dev/zero": Hostile("idx", lambda d: dev_zero(d / f"{IMAGES}.gz"),
                                         DataFormatError, (LINK_TO_ZERO,)),
    "idx FIFO": Hostile("idx", lambda d: fifo(d / f"{IMAGES}.gz"), DataFormatError, (IS_FIFO,)),
    "idx folder": Hostile("idx", lambda d: folder(d / IMAGES), DataFormatError, (IS_FOLDER,)),
    "idx broken link": Hostile("idx", lambda d: broken_link(d / IMAGES), DataNotFoundError, (
        "{path}: no such file (a symbolic link to ", "nowhere, which does not exist)")),
    "idx empty": Hostile("idx", lambda d: put(d / IMAGES, b""), DataFormatError, (
        "{path}: truncated: 0 bytes, too short for the 4-byte IDX magic number",)),
    "idx empty .gz": Hostile("idx", lambda d: put(d / f"{IMAGES}.gz", b""), DataFormatError, (
        "{path}: is named .gz but is not gzip data",)),
    "idx trailing junk": Hostile("idx", lambda d: put(d / IMAGES, ONE_IMAGE + b"junk"),
                                 DataFormatError, (
        "{path}: 4 unexpected bytes after the 784 bytes of data that the header's shape "
        "(1, 28, 28) describes",)),
    "idx trailing junk in gzip": Hostile("idx", lambda d: put(d / f"{IMAGES}.gz", gzip.compress(
        ONE_IMAGE + b"junk")), DataFormatError, ("{path}: 4 unexpected bytes after the 784",)),
    "idx junk after the gzip stream": Hostile("idx", lambda d: put(d / f"{IMAGES}.gz",
        gzip.compress(ONE_IMAGE) + b"junk"), DataFormatError, ("{path}: corrupt gzip data",)),
    "idx file far larger than promised": Hostile("idx", lambda d: sparse(put(
        d / IMAGES, ONE_IMAGE), GIB), DataFormatError, (
        f"{{path}}: {GIB - len(ONE_IMAGE)} unexpected bytes after the 784 bytes",)),
    "idx gzip far larger than promised": Hostile("idx", lambda d: sparse(put(
        d / f"{IMAGES}.gz", gzip.compress(ONE_IMAGE)), 200 << 20), DataFormatError, (
        f"{{path}}: {200 << 20} bytes of gzip, but the header promises shape (1, 28, 28) (784 "
        f"bytes of uint8): no gzip of 800 bytes takes more than 66341",)),
    "idx gzip larger than any IDX file": Hostile("idx", lambda d: sparse(put(
        d / f"{IMAGES}.gz", gzip.compress(ONE_IMAGE)), 2 * GIB), DataFormatError, (
        f"{{path}}: {2 * GIB} bytes of gzip, more than any IDX file of at most 1073741824 "
        f"bytes of data compresses to",)),
    # ---- the MNIST folder: the issue's bomb, and a FIFO that must not be "not found"
    "mnist folder with a gzip bomb": Hostile("mnist", lambda d: mnist_folder(
        d, train_images=lambda p: put(p.with_name(p.name + ".gz"), gzip_bomb(
            idx_header(BOMB_SHAPE), BOMB_MIB))), DataFormatError, (
        "{path}/train-images-idx3-ubyte.gz: more than 65536 unexpected bytes after the "
        "47040000 bytes",)),
    "mnist folder with a FIFO": Hostile("mnist", lambda d: mnist_folder(d, t10k_labels=fifo),
                                        DataFormatError, (
        "{path}/t10k-labels-idx1-ubyte: is a FIFO (named pipe), not a regular file",)),
    # ---- CIFAR-10 binary batches
    "cifar link to /dev/zero": Hostile("cifar", lambda d: dev_zero(d / "data_batch_1.bin"),
                                       DataFormatError, (LINK_TO_ZERO,)),
    "cifar FIFO": Hostile("cifar", lambda d: fifo(d / "data_batch_1.bin"), DataFormatError,
                          (IS_FIFO,)),
    "cifar folder": Hostile("cifar", lambda d: folder(d / "data_batch_1.bin"), DataFormatError,
                            (IS_FOLDER,)),
    "cifar empty": Hostile("cifar", lambda d: put(d / "data_batch_1.bin", b""),
                           DataFormatError, ("{path}: is empty",)),
    "cifar truncated": Hostile("cifar", lambda d: put(d / "data_batch_1.bin",
                                                      (RECORD * 2)[:-100]), DataFormatError, (
        "{path}: size 6046 bytes is not a multiple of the 3073-byte record (1 label + 3072 "
        "pixels): 1 whole records and 2973 bytes left over",)),
    "cifar trailing junk": Hostile("cifar", lambda d: put(d / "data_batch_1.bin", RECORD + b"!"),
                                   DataFormatError, (
        "{path}: size 3074 bytes is not a multiple of the 3073-byte record (1 label + 3072 "
        "pixels): 1 whole records and 1 bytes left over",)),
    "cifar far larger than a batch": Hostile("cifar", lambda d: sparse(
        d / "data_batch_1.bin", 350000 * 3073), DataFormatError, (
        "{path}: size 1075550000 bytes is 350000 records, more than the 10000 of a CIFAR-10 "
        "batch file",)),
    "cifar bad label": Hostile("cifar", lambda d: put(d / "data_batch_1.bin",
                                                      RECORD + bytes([200]) + RECORD[1:]),
                               DataFormatError, (
        "{path}: record 1 has label 200, outside [0, 10) (1 bad records)",)),
    "cifar folder with a link to /dev/zero": Hostile("cifar10", lambda d: cifar_folder(
        d, data_batch_1=dev_zero), DataFormatError, (
        "{path}/data_batch_1.bin: is a symbolic link to /dev/zero, which is a character "
        "device",)),
    # ---- the MNIST-1D cache: refused with a reason (it is then generated afresh)
    "cache link to /dev/zero": Hostile("cache", lambda d: dev_zero(d / "mnist1d.npz"), None,
                                       (LINK_TO_ZERO,)),
    "cache FIFO": Hostile("cache", lambda d: fifo(d / "mnist1d.npz"), None, (IS_FIFO,)),
    "cache folder": Hostile("cache", lambda d: folder(d / "mnist1d.npz"), None, (IS_FOLDER,)),
    "cache empty": Hostile("cache", lambda d: put(d / "mnist1d.npz", b""), None,
                           ("unreadable (EOFError",)),
    "cache not a zip": Hostile("cache", lambda d: put(d / "mnist1d.npz", b"MZ" + bytes(100)),
                               None, ("unreadable (ValueError",)),
    "cache far larger than a cache": Hostile("cache", lambda d: sparse(d / "mnist1d.npz", GIB),
                                             None, ("1073741824 bytes, more than the 1167680 a "
                                                    "cache can hold",)),
    "cache entry promising gigabytes": Hostile("cache", lambda d: npz(
        d / "mnist1d.npz", cache_entries(train_x=promise((10**9, 1, 40), "<f4"))), None, (
        "train_x is float32 (1000000000, 1, 40), expected float32 (4000, 1, 40)",)),
    "cache entry overflowing int64": Hostile("cache", lambda d: npz(
        d / "mnist1d.npz", cache_entries(test_y=promise((2**62, 2**62), "<i8"))), None, (
        f"test_y is int64 ({2**62}, {2**62}), expected int64 (1000,)",)),
    "cache meta of gigabytes": Hostile("cache", lambda d: npz(
        d / "mnist1d.npz", cache_entries(meta=promise((), "<U500000000"))), None, (
        "meta is <U500000000 (), expected one string of at most 65536 characters",)),
    "cache meta nested deep": Hostile("cache", lambda d: npz(
        d / "mnist1d.npz", cache_entries(meta=entry(np.array("[" * 60000)))), None, (
        "unreadable (RecursionError: maximum recursion depth exceeded",)),
    # ---- tar archives (CIFAR-10's download)
    "archive link to /dev/zero": Hostile("extract", lambda d: dev_zero(
        d / "cifar-10-binary.tar.gz"), DataFormatError, (LINK_TO_ZERO,)),
    "archive FIFO": Hostile("extract", lambda d: fifo(d / "cifar-10-binary.tar.gz"),
                            DataFormatError, (IS_FIFO,)),
    "archive folder": Hostile("extract", lambda d: folder(d / "cifar-10-binary.tar.gz"),
                              DataFormatError, (IS_FOLDER,)),
    "archive bomb": Hostile("extract (small bounds)", lambda d: tar_gz(d / "cifar-10-binary.tar.gz", {
        "cifar-10-batches-bin/data_batch_1.bin": 64 << 20}), DataFormatError, (
        "{path}: its members hold more than 1048576 bytes (67108864 up to member "
        "'cifar-10-batches-bin/data_batch_1.bin'); refusing to extract",)),
    "archive of many members": Hostile("extract (small bounds)", lambda d: tar_gz(
        d / "cifar-10-binary.tar.gz", {f"f{i}": 0 for i in range(50)}), DataFormatError, (
        "{path}: holds more than 10 members",)),
    # ---- read_regular_file, what checkpoints use
    "file link to /dev/zero": Hostile("file", lambda d: dev_zero(d / "model.safetensors"),
                                      DataFormatError, (LINK_TO_ZERO,)),
    "file FIFO": Hostile("file", lambda d: fifo(d / "model.safetensors"), DataFormatError,
                         (IS_FIFO,)),
    "file folder": Hostile("file", lambda d: folder(d / "model.safetensors"), DataFormatError,
                           (IS_FOLDER,)),
    "file far larger than allowed": Hostile("file", lambda d: sparse(d / "model.safetensors",
                                                                     GIB), DataFormatError, (
        "{path}: 1073741824 bytes, more than the 1048576 bytes that may be read here",)),
    "file broken link": Hostile("file", lambda d: broken_link(d / "model.safetensors"),
                                DataNotFoundError, ("{path}: no such file (a symbolic link",)),
}


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_hostile_file_is_refused_in_one_line_with_bounded_memory(name, tmp_path):
    case = CATALOGUE[name]
    path = case.make(tmp_path)
    outcome = run_bounded(READERS[case.reader], path)
    if case.error is None:
        assert "returned" in outcome, outcome
        message = outcome["returned"]
    else:
        assert outcome.get("error") == f"{case.error.__module__}.{case.error.__qualname__}", \
            outcome
        message = outcome["message"]
    for words in case.words:
        assert words.format(path=path) in message, (words.format(path=path), message)
    assert "\n" not in message and "Traceback" not in message, message


def train_cli(root: Path) -> tuple[int, str]:
    """``convgrad train --dataset mnist --data-dir root``: its exit code and its stderr."""
    from convgrad.cli import main

    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = main(["train", "--dataset", "mnist", "--data-dir", str(root), "--steps", "1",
                     "--out", str(root.parent / "runs")])
    return code, stderr.getvalue()


def test_the_issues_gzip_bomb_is_one_line_from_the_command(tmp_path):
    """Issue 9's report: a 3.6 MB gzip bomb named train-images-idx3-ubyte.gz."""
    root = mnist_folder(folder(tmp_path / "mnist"), train_images=lambda path: put(
        path.with_name(path.name + ".gz"), gzip_bomb(idx_header(BOMB_SHAPE), BOMB_MIB)))
    outcome = run_bounded(train_cli, root)
    assert "returned" in outcome, outcome
    code, stderr = outcome["returned"]
    assert code == 2 and stderr.count("\n") == 1, stderr
    assert f"{root}/train-images-idx3-ubyte.gz: more than 65536 unexpected bytes after the " \
           f"47040000 bytes of data" in stderr
