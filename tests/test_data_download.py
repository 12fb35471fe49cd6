"""Downloads against a local HTTP server on 127.0.0.1 (never the internet): a good file, a
checksum mismatch, an HTTP 404, a transfer cut short, mirrors, and safe tar extraction."""
import gzip
import hashlib
import http.server
import io
import os
import struct
import tarfile
import threading

import numpy as np
import pytest

from convgrad.data import (ChecksumError, DataFormatError, DataNotFoundError, DownloadError,
                           download_file, fetch, load_dataset, safe_extract)
from convgrad.data.download import MIRRORS, REMOTE_FILES, RemoteFile, download_from_mirrors


class FileServer(http.server.ThreadingHTTPServer):
    """Serves ``files`` (path -> bytes); paths under /truncated/ announce the full length
    but send only half the bytes, then hang up; paths under /unannounced/ send no
    Content-Length (the body ends when the connection closes)."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.files, self.requests = {}, []

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_port}"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.requests.append(self.path)
        path = self.path.removeprefix("/truncated").removeprefix("/unannounced")
        body = self.server.files.get(path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        if not self.path.startswith("/unannounced/"):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if self.path.startswith("/truncated/") else body)
        self.close_connection = True

    def log_message(self, *args):  # keep pytest's output clean
        pass


@pytest.fixture(scope="module")
def server():
    server = FileServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(autouse=True)
def local_only(monkeypatch, server, tmp_path):
    """No proxy in the way of 127.0.0.1, and no real user cache."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
                 "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CONVGRAD_HOME", str(tmp_path / "home"))
    server.files.clear()
    server.requests.clear()


def md5(content: bytes) -> str:
    return hashlib.md5(content).hexdigest()


PAYLOAD = bytes(range(256)) * 4096 + b"tail"  # 1 MiB and a bit: more than one read chunk


def test_good_download(server, tmp_path):
    server.files["/files/blob.bin"] = PAYLOAD
    seen = []
    path = download_file(f"{server.url}/files/blob.bin", tmp_path / "out" / "blob.bin",
                         md5(PAYLOAD), progress=lambda url, got, total: seen.append((got, total)))
    assert path == tmp_path / "out" / "blob.bin" and path.read_bytes() == PAYLOAD
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD)) and len(seen) >= 2
    assert os.listdir(tmp_path / "out") == ["blob.bin"]
    # already there with the right checksum: not fetched again
    download_file(f"{server.url}/files/blob.bin", path, md5(PAYLOAD))
    assert server.requests == ["/files/blob.bin"]


def test_checksum_mismatch_deletes_the_file_and_names_both_sums(server, tmp_path):
    server.files["/files/blob.bin"] = PAYLOAD
    wanted = "0" * 32
    with pytest.raises(ChecksumError) as caught:
        download_file(f"{server.url}/files/blob.bin", tmp_path / "blob.bin", wanted)
    message = str(caught.value)
    assert f"expected {wanted}, got {md5(PAYLOAD)}" in message
    assert message.startswith(f"{server.url}/files/blob.bin: MD5 mismatch")
    assert os.listdir(tmp_path) == []


def test_a_wrong_file_already_in_place_is_replaced(server, tmp_path):
    server.files["/files/blob.bin"] = PAYLOAD
    (tmp_path / "blob.bin").write_bytes(b"stale")
    download_file(f"{server.url}/files/blob.bin", tmp_path / "blob.bin", md5(PAYLOAD))
    assert (tmp_path / "blob.bin").read_bytes() == PAYLOAD


def test_http_404(server, tmp_path):
    with pytest.raises(DownloadError, match=r"/files/missing\.bin: HTTP 404 Not Found"):
        download_file(f"{server.url}/files/missing.bin", tmp_path / "missing.bin", "0" * 32)
    assert os.listdir(tmp_path) == []


def test_transfer_cut_short(server, tmp_path):
    server.files["/files/blob.bin"] = PAYLOAD
    with pytest.raises(DownloadError) as caught:
        download_file(f"{server.url}/truncated/files/blob.bin", tmp_path / "blob.bin",
                      md5(PAYLOAD))
    assert not isinstance(caught.value, ChecksumError)
    assert f"cut short after {len(PAYLOAD) // 2} of {len(PAYLOAD)} bytes" in str(caught.value)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("prefix,problem", [
    ("", f"the server announces {len(PAYLOAD)} bytes, more than the 1000 a download may be; "
         f"nothing was saved"),
    ("/unannounced", "more than 1000 bytes received, the most a download may be; stopped, "
                     "nothing was saved"),
])
def test_a_download_larger_than_its_bound_is_stopped(server, tmp_path, prefix, problem):
    server.files["/files/blob.bin"] = PAYLOAD
    url = f"{server.url}{prefix}/files/blob.bin"
    with pytest.raises(DownloadError) as caught:
        download_file(url, tmp_path / "blob.bin", md5(PAYLOAD), max_bytes=1000)
    assert str(caught.value) == f"{url}: {problem}"
    assert os.listdir(tmp_path) == []
    # the same file without a Content-Length downloads whole when it is within the bound
    download_file(url, tmp_path / "blob.bin", md5(PAYLOAD), max_bytes=len(PAYLOAD))
    assert (tmp_path / "blob.bin").read_bytes() == PAYLOAD


def test_connection_refused(tmp_path):
    import socket
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DownloadError, match="cannot connect"):
        download_file(f"http://127.0.0.1:{port}/x", tmp_path / "x", "0" * 32, timeout=5)


def test_mirrors_are_tried_in_order(server, tmp_path):
    server.files["/second/blob.bin"] = PAYLOAD
    remote = RemoteFile("blob.bin", md5(PAYLOAD))
    path = download_from_mirrors(remote, tmp_path, [f"{server.url}/first",
                                                    f"{server.url}/second/"])
    assert path.read_bytes() == PAYLOAD
    assert server.requests == ["/first/blob.bin", "/second/blob.bin"]
    with pytest.raises(DownloadError, match="every mirror failed: .*404.*; .*404"):
        download_from_mirrors(RemoteFile("nope.bin", "0" * 32), tmp_path,
                              [f"{server.url}/a/", f"{server.url}/b/"])


def test_official_sources_are_the_published_ones():
    assert MIRRORS["mnist"][0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    assert MIRRORS["cifar10"] == ("https://www.cs.toronto.edu/~kriz/",)
    assert REMOTE_FILES["cifar10"] == (RemoteFile("cifar-10-binary.tar.gz",
                                                  "c32a1d4ab5d03f1284b67883e8d87530"),)
    for name in ("mnist", "fashion-mnist"):
        assert [r.filename for r in REMOTE_FILES[name]] == [
            "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
        assert all(len(r.md5) == 32 and int(r.md5, 16) >= 0 for r in REMOTE_FILES[name])


# ---------------------------------------------------------------- whole data sets
def idx_gz(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.tobytes())


def small_mnist_files():
    rng = np.random.default_rng(0)
    return {"train-images-idx3-ubyte.gz": idx_gz(rng.integers(0, 256, (5, 28, 28), np.uint8)),
            "train-labels-idx1-ubyte.gz": idx_gz(np.arange(5, dtype=np.uint8)),
            "t10k-images-idx3-ubyte.gz": idx_gz(rng.integers(0, 256, (3, 28, 28), np.uint8)),
            "t10k-labels-idx1-ubyte.gz": idx_gz(np.array([9, 8, 7], np.uint8))}


def test_fetch_mnist_then_load(server, tmp_path):
    files = small_mnist_files()
    for name, content in files.items():
        server.files[f"/mnist/{name}"] = content
    remote = [RemoteFile(name, md5(content)) for name, content in files.items()]
    fetch("mnist", tmp_path / "mnist", [f"{server.url}/mnist/"], remote_files=remote)
    data = load_dataset("mnist", root=tmp_path / "mnist")
    assert data.train_y.tolist() == [0, 1, 2, 3, 4] and data.test_y.tolist() == [9, 8, 7]


def test_load_dataset_download_checks_the_official_checksums(server, tmp_path):
    # The server holds files of the right names but not the official contents.
    for name, content in small_mnist_files().items():
        server.files[f"/mnist/{name}"] = content
    with pytest.raises(ChecksumError, match="expected f68b3c2dcbeaaa9fbdd348bbdeb94873"):
        load_dataset("mnist", download=True, base_urls=[f"{server.url}/mnist/"])
    assert os.listdir(tmp_path / "home" / "mnist") == []  # default root, and nothing kept


def test_load_dataset_without_download_does_not_fetch(server, tmp_path):
    with pytest.raises(DataNotFoundError, match="download=True"):
        load_dataset("fashion-mnist", root=tmp_path)
    assert server.requests == []


def tar_gz(members) -> bytes:
    """A .tar.gz of ``members``: (name, bytes) for files, (name, TarInfo-type, target)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for member in members:
            info = tarfile.TarInfo(member[0])
            if len(member) == 2:
                info.size = len(member[1])
                tar.addfile(info, io.BytesIO(member[1]))
            else:
                info.type, info.linkname = member[1], member[2]
                tar.addfile(info)
    return buffer.getvalue()


def test_fetch_cifar10_extracts_and_loads(server, tmp_path):
    rng = np.random.default_rng(1)
    def batch(n):
        labels = rng.integers(0, 10, (n, 1), dtype=np.uint8)
        return np.concatenate([labels, rng.integers(0, 256, (n, 3072), np.uint8)], 1).tobytes()
    members = [(f"cifar-10-batches-bin/data_batch_{i}.bin", batch(2)) for i in range(1, 6)]
    members += [("cifar-10-batches-bin/test_batch.bin", batch(3)),
                ("cifar-10-batches-bin/batches.meta.txt", b"airplane\n")]
    archive = tar_gz(members)
    server.files["/kriz/cifar-10-binary.tar.gz"] = archive
    root = tmp_path / "cifar"
    fetch("cifar10", root, [f"{server.url}/kriz/"],
          remote_files=[RemoteFile("cifar-10-binary.tar.gz", md5(archive))])
    data = load_dataset("cifar10", root=root)
    assert data.train_x.shape == (10, 3, 32, 32) and data.test_x.shape == (3, 3, 32, 32)
    assert sorted(os.listdir(root)) == ["cifar-10-batches-bin", "cifar-10-binary.tar.gz"]


@pytest.mark.parametrize("members,problem", [
    ([("../evil.txt", b"x")], "member '../evil.txt' would be written outside"),
    ([("ok/../../evil.txt", b"x")], "would be written outside"),
    ([("/tmp/evil.txt", b"x")], "member '/tmp/evil.txt' would be written outside"),
    ([("ok.txt", b"x"), ("link", tarfile.SYMTYPE, "/etc/passwd")], "'link' is a link"),
    ([("hard", tarfile.LNKTYPE, "ok.txt")], "'hard' is a link"),
    ([("fifo", tarfile.FIFOTYPE, "")], "'fifo' is a link or special file"),
])
def test_unsafe_archives_are_refused(tmp_path, members, problem):
    archive = tmp_path / "bad.tar.gz"
    archive.write_bytes(tar_gz(members))
    target = tmp_path / "target"
    with pytest.raises(DataFormatError, match=f"^{archive}: .*{problem}"):
        safe_extract(archive, target)
    assert os.listdir(target) == [] and sorted(os.listdir(tmp_path)) == ["bad.tar.gz", "target"]


def test_truncated_archive(tmp_path):
    content = tar_gz([("a.bin", os.urandom(50_000))])
    archive = tmp_path / "cut.tar.gz"
    archive.write_bytes(content[: len(content) // 2])
    with pytest.raises(DataFormatError, match="truncated or corrupt"):
        safe_extract(archive, tmp_path / "target")
    assert os.listdir(tmp_path / "target") == []
