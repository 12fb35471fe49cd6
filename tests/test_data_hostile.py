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
        if receiver.poll(TIMEOUT):
            return receiver.recv()
        return {"timeout": TIMEOUT}
    except EOFError:  # the child died without a word
        child.join()
        return {"died": child.exitcode}
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


ONE_IMAGE = idx_header((1, 28, 28)) + bytes(784)   # 800 bytes
BOMB_SHAPE = (60000, 28, 28)   # MNIST's own: 47040000 bytes promised
BOMB_MIB = 3456                # 3.6 GB of zeros in 3.6 MB of gzip
RECORD = bytes([3]) + bytes(3072)  # one CIFAR-10 record: label 3, black image

# ---------------------------------------------------------------- makers: path -> a file there
Maker = Callable[[Path], object]


def data(content: bytes) -> Maker:
    return lambda path: path.write_bytes(content)


def bomb(shape) -> Maker:
    return lambda path: path.write_bytes(gzip_bomb(idx_header(shape), BOMB_MIB))


def grown(content: bytes, size: int) -> Maker:
    """``content``, then a hole of zeros up to ``size`` bytes (a sparse file: no disk used)."""
    def make(path):
        path.write_bytes(content)
        os.truncate(path, size)
    return make


def dev_zero(path: Path):
    path.symlink_to("/dev/zero")


def fifo(path: Path):
    os.mkfifo(path)


def folder(path: Path):
    path.mkdir()


def broken_link(path: Path):
    path.symlink_to(path.with_name("nowhere"))


def npy(array: np.ndarray) -> tuple:
    """The ``.npy`` header and data of ``array``."""
    header = {"descr": np.lib.format.dtype_to_descr(array.dtype), "fortran_order": False,
              "shape": array.shape}
    return header, array.tobytes()


def promise(shape, descr) -> tuple:
    """A ``.npy`` header promising ``shape`` of ``descr``, with 16 bytes of data."""
    return {"descr": descr, "fortran_order": False, "shape": shape}, bytes(16)


def cache(**changes) -> Maker:
    """An MNIST-1D cache of zeros, its ``.npy`` entries (header, data) replaced by
    ``changes``; written by hand, so that a header may promise what its data does not hold."""
    entries = {"meta": npy(np.array(json.dumps({"format": 1}))),
               "train_x": npy(np.zeros((4000, 1, 40), np.float32)),
               "train_y": npy(np.zeros(4000, np.int64)),
               "test_x": npy(np.zeros((1000, 1, 40), np.float32)),
               "test_y": npy(np.zeros(1000, np.int64)), **changes}

    def make(path):
        with zipfile.ZipFile(path, "w") as archive:
            for name, (header, content) in entries.items():
                buffer = io.BytesIO()
                np.lib.format.write_array_header_1_0(buffer, header)
                archive.writestr(f"{name}.npy", buffer.getvalue() + content)
    return make


def tar_gz(members: dict) -> Maker:
    """A .tar.gz of regular files of zeros, ``name -> size``."""
    def make(path):
        with tarfile.open(path, "w:gz") as archive:
            for name, size in members.items():
                info = tarfile.TarInfo(name)
                info.size = size
                archive.addfile(info, io.BytesIO(bytes(size)))
    return make


def mnist_folder(**replace: Maker) -> Maker:
    """A valid MNIST folder (one image in each split), its files named in ``replace``
    (``train-images-idx3-ubyte``...) made by those makers instead."""
    labels = idx_header((1,)) + bytes([7])
    files = {"train-images-idx3-ubyte": ONE_IMAGE, "train-labels-idx1-ubyte": labels,
             "t10k-images-idx3-ubyte": ONE_IMAGE, "t10k-labels-idx1-ubyte": labels}

    def make(root):
        root.mkdir()
        for name, content in files.items():
            replace.get(name, data(content))(root / name)
    return make


def cifar_folder(**replace: Maker) -> Maker:
    """A CIFAR-10 folder of one record per batch, files named in ``replace`` made by those."""
    def make(root):
        root.mkdir()
        for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
            replace.get(name, data(RECORD))(root / name)
    return make


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
    reader: str           # a key of READERS
    name: str             # the file's (or folder's) name
    make: Maker           # makes it
    error: type | None    # the exact error class; None for read_cache, which returns a reason
    words: str            # in the message; "{path}" is the file's path


IMAGES, IMAGES_GZ = "train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"
BATCH, CACHE, ARCHIVE, MODEL = ("data_batch_1.bin", "mnist1d.npz", "cifar-10-binary.tar.gz",
                                "model.safetensors")
LINK_TO_ZERO = ("{path}: is a symbolic link to /dev/zero, which is a character device, not a "
                "regular file; refusing to read it")
IS_FIFO = "{path}: is a FIFO (named pipe), not a regular file; refusing to read it"
IS_FOLDER = "{path}: is a folder, not a regular file; refusing to read it"
MORE_THAN_AN_IDX = "more than the 1073741824 bytes read from one IDX file; refusing to read it"
Format, NotFound = DataFormatError, DataNotFoundError

CATALOGUE = {
    # ---- IDX (MNIST, Fashion-MNIST), raw and gzip
    "idx gzip bomb": Hostile("idx", IMAGES_GZ, bomb(BOMB_SHAPE), Format,
        "{path}: more than 65536 unexpected bytes after the 47040000 bytes of data that the "
        "header's shape (60000, 28, 28) describes (stopped reading there)"),
    "idx gzip bomb promising too much": Hostile("idx", IMAGES_GZ, bomb((2**32 - 1, 28, 28)),
        Format, "{path}: the header promises shape (4294967295, 28, 28) (3367254359280 bytes "
                f"of uint8), {MORE_THAN_AN_IDX}"),
    "idx sizes overflowing int64": Hostile("idx", IMAGES, data(idx_header((65536,) * 4)),
        Format, "{path}: the header promises shape (65536, 65536, 65536, 65536) "
                f"(18446744073709551616 bytes of uint8), {MORE_THAN_AN_IDX}"),
    "idx float64 sizes overflowing int64": Hostile("idx", IMAGES, data(
        idx_header((2**32 - 1,) * 3, 0x0E) + bytes(8)), Format,
        "{path}: the header promises shape (4294967295, 4294967295, 4294967295) "
        f"({(2**32 - 1) ** 3 * 8} bytes of float64), {MORE_THAN_AN_IDX}"),
    "idx truncated": Hostile("idx", IMAGES, data(idx_header(BOMB_SHAPE) + bytes(1000)), Format,
        "{path}: truncated: the header promises shape (60000, 28, 28) (47040000 bytes of "
        "uint8), the file holds 1000 bytes after the header"),
    "idx truncated gzip": Hostile("idx", IMAGES_GZ, data(gzip.compress(
        idx_header((50, 28, 28)) + np.random.default_rng(0).bytes(50 * 784))[:20000]), Format,
        "{path}: truncated gzip stream"),
    "idx gzip shorter than promised": Hostile("idx", IMAGES_GZ, data(gzip.compress(
        ONE_IMAGE[:-84])), Format, "{path}: truncated: the header promises shape (1, 28, 28) "
                                   "(784 bytes of uint8), the file holds 700 bytes after"),
    "idx wrong magic": Hostile("idx", IMAGES, data(b"PK\x03\x04" + bytes(100)), Format,
        "{path}: bad magic number 0x504b0304: an IDX file starts with two zero bytes"),
    "idx too many dimensions": Hostile("idx", IMAGES, data(idx_header((1,) * 200) + b"\x07"),
        Format, "{path}: bad magic number 0x000008c8: 200 dimensions (an IDX array here has 1 "
                "to 32)"),
    "idx zero dimensions": Hostile("idx", IMAGES, data(b"\x00\x00\x08\x00\x07"), Format,
        "{path}: bad magic number 0x00000800: 0 dimensions"),
    "idx link to /dev/zero": Hostile("idx", IMAGES, dev_zero, Format, LINK_TO_ZERO),
    "idx .gz link to /dev/zero": Hostile("idx", IMAGES_GZ, dev_zero, Format, LINK_TO_ZERO),
    "idx FIFO": Hostile("idx", IMAGES_GZ, fifo, Format, IS_FIFO),
    "idx folder": Hostile("idx", IMAGES, folder, Format, IS_FOLDER),
    "idx broken link": Hostile("idx", IMAGES, broken_link, NotFound,
        "{path}: no such file (a symbolic link to {path.parent}/nowhere, which does not exist)"),
    "idx empty": Hostile("idx", IMAGES, data(b""), Format,
        "{path}: truncated: 0 bytes, too short for the 4-byte IDX magic number"),
    "idx empty .gz": Hostile("idx", IMAGES_GZ, data(b""), Format,
        "{path}: is named .gz but is not gzip data"),
    "idx trailing junk": Hostile("idx", IMAGES, data(ONE_IMAGE + b"junk"), Format,
        "{path}: 4 unexpected bytes after the 784 bytes of data that the header's shape "
        "(1, 28, 28) describes"),
    "idx trailing junk in gzip": Hostile("idx", IMAGES_GZ, data(gzip.compress(
        ONE_IMAGE + b"junk")), Format, "{path}: 4 unexpected bytes after the 784 bytes"),
    "idx junk after the gzip stream": Hostile("idx", IMAGES_GZ, data(
        gzip.compress(ONE_IMAGE) + b"junk"), Format, "{path}: corrupt gzip data"),
    "idx far larger than promised": Hostile("idx", IMAGES, grown(ONE_IMAGE, GIB), Format,
        f"{{path}}: {GIB - 800} unexpected bytes after the 784 bytes"),
    "idx gzip far larger than promised": Hostile("idx", IMAGES_GZ, grown(
        gzip.compress(ONE_IMAGE), 200 << 20), Format,
        f"{{path}}: {200 << 20} bytes of gzip, but the header promises shape (1, 28, 28) (784 "
        f"bytes of uint8): no gzip of 800 bytes takes more than 66341"),
    "idx gzip larger than any IDX file": Hostile("idx", IMAGES_GZ, grown(
        gzip.compress(ONE_IMAGE), 2 * GIB), Format,
        f"{{path}}: {2 * GIB} bytes of gzip, more than any IDX file of at most 1073741824 "
        f"bytes of data compresses to"),
    # ---- an MNIST folder: the issue's bomb; a FIFO is refused, not "not found"
    "mnist folder with a gzip bomb": Hostile("mnist", "mnist", mnist_folder(**{
        IMAGES: lambda path: bomb(BOMB_SHAPE)(path.with_name(IMAGES_GZ))}), Format,
        "{path}/train-images-idx3-ubyte.gz: more than 65536 unexpected bytes after the "
        "47040000 bytes"),
    "mnist folder with a FIFO": Hostile("mnist", "mnist", mnist_folder(**{
        "t10k-labels-idx1-ubyte": fifo}), Format,
        "{path}/t10k-labels-idx1-ubyte: is a FIFO (named pipe), not a regular file"),
    # ---- CIFAR-10 binary batches
    "cifar link to /dev/zero": Hostile("cifar", BATCH, dev_zero, Format, LINK_TO_ZERO),
    "cifar FIFO": Hostile("cifar", BATCH, fifo, Format, IS_FIFO),
    "cifar folder": Hostile("cifar", BATCH, folder, Format, IS_FOLDER),
    "cifar empty": Hostile("cifar", BATCH, data(b""), Format, "{path}: is empty"),
    "cifar truncated": Hostile("cifar", BATCH, data((RECORD * 2)[:-100]), Format,
        "{path}: size 6046 bytes is not a multiple of the 3073-byte record (1 label + 3072 "
        "pixels): 1 whole records and 2973 bytes left over"),
    "cifar trailing junk": Hostile("cifar", BATCH, data(RECORD + b"!"), Format,
        "{path}: size 3074 bytes is not a multiple of the 3073-byte record (1 label + 3072 "
        "pixels): 1 whole records and 1 bytes left over"),
    "cifar far larger than a batch": Hostile("cifar", BATCH, grown(b"", 350000 * 3073), Format,
        "{path}: size 1075550000 bytes is 350000 records, more than the 10000 of a CIFAR-10 "
        "batch file"),
    "cifar bad label": Hostile("cifar", BATCH, data(RECORD + bytes([200]) + RECORD[1:]), Format,
        "{path}: record 1 has label 200, outside [0, 10) (1 bad records)"),
    "cifar folder with a link to /dev/zero": Hostile("cifar10", "cifar", cifar_folder(**{
        BATCH: dev_zero}), Format, "{path}/data_batch_1.bin: is a symbolic link to /dev/zero, "
                                   "which is a character device"),
    # ---- the MNIST-1D cache: refused with a reason (and then generated afresh)
    "cache link to /dev/zero": Hostile("cache", CACHE, dev_zero, None, LINK_TO_ZERO),
    "cache FIFO": Hostile("cache", CACHE, fifo, None, IS_FIFO),
    "cache folder": Hostile("cache", CACHE, folder, None, IS_FOLDER),
    "cache empty": Hostile("cache", CACHE, data(b""), None, "unreadable (EOFError"),
    "cache not a zip": Hostile("cache", CACHE, data(b"MZ" + bytes(100)), None,
        "unreadable (ValueError"),
    "cache far larger than a cache": Hostile("cache", CACHE, grown(b"", GIB), None,
        "1073741824 bytes, more than the 1167680 a cache can hold"),
    "cache entry promising gigabytes": Hostile("cache", CACHE, cache(
        train_x=promise((10**9, 1, 40), "<f4")), None,
        "train_x is float32 (1000000000, 1, 40), expected float32 (4000, 1, 40)"),
    "cache entry overflowing int64": Hostile("cache", CACHE, cache(
        test_y=promise((2**62, 2**62), "<i8")), None,
        f"test_y is int64 ({2**62}, {2**62}), expected int64 (1000,)"),
    "cache meta of gigabytes": Hostile("cache", CACHE, cache(
        meta=promise((), "<U500000000")), None,
        "meta is <U500000000 (), expected one string of at most 65536 characters"),
    "cache meta nested deep": Hostile("cache", CACHE, cache(meta=npy(np.array("[" * 60000))),
        None, "unreadable (RecursionError: maximum recursion depth exceeded"),
    # ---- tar archives (CIFAR-10's download)
    "archive link to /dev/zero": Hostile("extract", ARCHIVE, dev_zero, Format, LINK_TO_ZERO),
    "archive FIFO": Hostile("extract", ARCHIVE, fifo, Format, IS_FIFO),
    "archive folder": Hostile("extract", ARCHIVE, folder, Format, IS_FOLDER),
    "archive bomb": Hostile("extract (small bounds)", ARCHIVE, tar_gz(
        {"cifar-10-batches-bin/data_batch_1.bin": 64 << 20}), Format,
        "{path}: its members hold more than 1048576 bytes (67108864 up to member "
        "'cifar-10-batches-bin/data_batch_1.bin'); refusing to extract"),
    "archive of many members": Hostile("extract (small bounds)", ARCHIVE, tar_gz(
        {f"f{i}": 0 for i in range(50)}), Format, "{path}: holds more than 10 members"),
    # ---- read_regular_file, for checkpoints
    "file link to /dev/zero": Hostile("file", MODEL, dev_zero, Format, LINK_TO_ZERO),
    "file FIFO": Hostile("file", MODEL, fifo, Format, IS_FIFO),
    "file folder": Hostile("file", MODEL, folder, Format, IS_FOLDER),
    "file far larger than allowed": Hostile("file", MODEL, grown(b"", GIB), Format,
        "{path}: 1073741824 bytes, more than the 1048576 bytes that may be read here"),
    "file broken link": Hostile("file", MODEL, broken_link, NotFound,
        "{path}: no such file (a symbolic link to {path.parent}/nowhere, which does not "
        "exist)"),
}


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_hostile_file_is_refused_in_one_line_with_bounded_memory(name, tmp_path):
    case = CATALOGUE[name]
    path = tmp_path / case.name
    case.make(path)
    outcome = run_bounded(READERS[case.reader], path)
    if case.error is None:
        assert "returned" in outcome, outcome
        message = outcome["returned"]
    else:
        assert outcome.get("error") == f"{case.error.__module__}.{case.error.__qualname__}", \
            outcome
        message = outcome["message"]
    assert case.words.format(path=path) in message, message
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
    root = tmp_path / "mnist"
    mnist_folder(**{IMAGES: lambda path: bomb(BOMB_SHAPE)(path.with_name(IMAGES_GZ))})(root)
    outcome = run_bounded(train_cli, root)
    assert "returned" in outcome, outcome
    code, stderr = outcome["returned"]
    assert code == 2 and stderr.count("\n") == 1, stderr
    assert f"{root}/train-images-idx3-ubyte.gz: more than 65536 unexpected bytes after the " \
           f"47040000 bytes of data" in stderr
