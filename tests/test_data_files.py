"""MNIST / Fashion-MNIST IDX files and CIFAR-10 binary batches: small files written here,
valid (raw and .gz) and broken in every way the readers check."""
import gzip
import io
import struct

import numpy as np
import pytest

from convgrad.data import (DataFormatError, DataNotFoundError, load_dataset, read_cifar_batch,
                           read_idx)
from convgrad.data.files import read_regular_file
from convgrad.data.idx import parse_idx

IDX_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D,
             np.float64: 0x0E}
NAMES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
         "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file: 0, 0, type code, ndim, big-endian uint32 sizes, big-endian data."""
    header = bytes([0, 0, IDX_CODES[array.dtype.type], array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path, content: bytes, compress=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        path = path.with_name(path.name + ".gz")
        content = gzip.compress(content)
    path.write_bytes(content)
    return path


@pytest.fixture(autouse=True)
def private_cache(monkeypatch, tmp_path):
    """Nothing here may touch the real user cache, even by a default root."""
    monkeypatch.setenv("CONVGRAD_HOME", str(tmp_path / "convgrad_home"))


@pytest.fixture
def mnist_arrays():
    rng = np.random.default_rng(3)
    return {"train_images": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
            "train_labels": np.array([0, 1, 2, 9, 5, 3], dtype=np.uint8),
            "test_images": rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
            "test_labels": np.array([7, 8, 0, 4], dtype=np.uint8)}


def make_mnist_folder(folder, arrays, compress=False):
    return {role: write(folder / NAMES[role], idx_bytes(array), compress)
            for role, array in arrays.items()}


# ---------------------------------------------------------------- IDX
@pytest.mark.parametrize("dtype", list(IDX_CODES))
def test_parse_idx_every_element_type_and_byte_order(dtype):
    values = (np.arange(24) * 7 - 50).astype(dtype).reshape(2, 3, 4)
    if dtype == np.uint8:
        values = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    parsed = parse_idx(idx_bytes(values))
    assert parsed.dtype == np.dtype(dtype) and parsed.dtype.isnative
    np.testing.assert_array_equal(parsed, values)


def test_idx_header_is_read_big_endian():
    # 2 × 3 uint8: magic 00 00 08 02, sizes 00 00 00 02 and 00 00 00 03, then six bytes
    raw = bytes.fromhex("00000802" "00000002" "00000003") + bytes(range(10, 16))
    np.testing.assert_array_equal(parse_idx(raw), [[10, 11, 12], [13, 14, 15]])


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
def test_mnist_folder_loads(tmp_path, mnist_arrays, compress):
    make_mnist_folder(tmp_path, mnist_arrays, compress)
    data = load_dataset("mnist", root=tmp_path)
    assert data.train_x.shape == (6, 1, 28, 28) and data.test_x.shape == (4, 1, 28, 28)
    assert data.train_x.dtype == np.float32 and data.train_y.dtype == np.int64
    np.testing.assert_array_equal(data.train_x[:, 0] * np.float32(255),
                                  mnist_arrays["train_images"].astype(np.float32))
    np.testing.assert_array_equal(data.test_x[:, 0],
                                  mnist_arrays["test_images"].astype(np.float32) / 255)
    np.testing.assert_array_equal(data.train_y, mnist_arrays["train_labels"])
    np.testing.assert_array_equal(data.test_y, mnist_arrays["test_labels"])
    assert data.classes[9] == "9" and data.input_shape == (1, 28, 28)


def test_fashion_mnist_in_torchvisions_layout(tmp_path, mnist_arrays):
    make_mnist_folder(tmp_path / "FashionMNIST" / "raw", mnist_arrays, compress=True)
    data = load_dataset("fashion-mnist", root=tmp_path)
    assert data.name == "fashion-mnist" and data.classes[0] == "T-shirt/top"
    assert data.classes[9] == "Ankle boot"
    np.testing.assert_array_equal(data.test_y, mnist_arrays["test_labels"])


def test_gz_is_recognised_by_content(tmp_path):
    values = np.arange(12, dtype=np.uint8).reshape(3, 4)
    path = tmp_path / "renamed"
    path.write_bytes(gzip.compress(idx_bytes(values)))
    np.testing.assert_array_equal(read_idx(path), values)


def broken_idx_cases(arrays):
    images, labels = idx_bytes(arrays["train_images"]), idx_bytes(arrays["train_labels"])
    return {
        "truncated data": ("train_images", images[:-100], "truncated: the header promises "
                           "shape (6, 28, 28) (4704 bytes of uint8), the file holds 4604"),
        "truncated header": ("train_images", images[:10], "truncated: the header needs 16 bytes"),
        "shorter than magic": ("train_labels", b"\x00\x00", "too short for the 4-byte IDX"),
        "empty": ("train_labels", b"", "truncated: 0 bytes"),
        "wrong magic": ("train_images", b"\x12\x34" + images[2:], "bad magic number 0x12340803"),
        "unknown type": ("train_images", b"\x00\x00\x07\x03" + images[4:],
                         "unknown element type 0x07"),
        "trailing bytes": ("train_labels", labels + b"\x00\x00\x00", "3 unexpected bytes"),
        "labels with 2 dims": ("train_labels", idx_bytes(arrays["train_labels"].reshape(2, 3)),
                               "expected uint8 labels of 1 dimension"),
        "float images": ("train_images", idx_bytes(arrays["train_images"].astype(np.float32)),
                         "expected uint8 images of 3 dimensions (N, H, W), found float32"),
        "count mismatch": ("train_labels", idx_bytes(arrays["train_labels"][:5]),
                           "holds 5 labels but"),
        "label out of range": ("train_labels",
                               idx_bytes(np.array([0, 1, 10, 3, 4, 12], np.uint8)),
                               "label 10 at index 2 is out of range [0, 10) (2 bad labels)"),
    }


@pytest.mark.parametrize("case", list(broken_idx_cases({
    "train_images": np.zeros((6, 28, 28), np.uint8),
    "train_labels": np.zeros(6, np.uint8)})))
@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
def test_broken_idx_file_is_named_with_its_problem(tmp_path, mnist_arrays, case, compress):
    role, content, problem = broken_idx_cases(mnist_arrays)[case]
    files = make_mnist_folder(tmp_path, mnist_arrays, compress)
    files[role].unlink()
    broken = write(tmp_path / NAMES[role], content, compress)
    with pytest.raises(DataFormatError) as caught:
        load_dataset("mnist", root=tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{broken}: "), message
    assert problem in message, message
    if case == "count mismatch":
        assert f"{files['train_images']} holds 6 images" in message


def test_truncated_and_fake_gzip(tmp_path, mnist_arrays):
    files = make_mnist_folder(tmp_path, mnist_arrays, compress=True)
    whole = files["test_images"].read_bytes()
    files["test_images"].write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataFormatError, match=f"^{files['test_images']}: truncated gzip"):
        load_dataset("mnist", root=tmp_path)
    files["test_images"].write_bytes(idx_bytes(mnist_arrays["test_images"]))  # not gzip
    with pytest.raises(DataFormatError, match="is named .gz but is not gzip data"):
        load_dataset("mnist", root=tmp_path)
    files["test_images"].write_bytes(whole[:10] + bytes(len(whole) - 10))  # bad deflate data
    with pytest.raises(DataFormatError, match=f"^{files['test_images']}: corrupt gzip data"):
        load_dataset("mnist", root=tmp_path)


def test_missing_idx_file_is_named(tmp_path, mnist_arrays):
    files = make_mnist_folder(tmp_path, mnist_arrays)
    files["test_labels"].unlink()
    with pytest.raises(DataNotFoundError) as caught:
        load_dataset("mnist", root=tmp_path)
    message = str(caught.value)
    assert "t10k-labels-idx1-ubyte[.gz]" in message and "train-images" not in message
    assert isinstance(caught.value, FileNotFoundError)
    with pytest.raises(DataNotFoundError, match="no such file"):
        read_idx(tmp_path / "nothing-here")


def test_root_that_is_a_file(tmp_path):
    (tmp_path / "a-file").write_bytes(b"x")
    with pytest.raises(DataNotFoundError, match="not a folder"):
        load_dataset("mnist", root=tmp_path / "a-file")


# What the bounded readers must still accept (their refusals are in test_data_hostile.py).
def test_files_reached_through_symbolic_links_are_read(tmp_path, mnist_arrays, cifar_arrays):
    real = make_mnist_folder(tmp_path / "real", mnist_arrays, compress=True)
    (tmp_path / "linked").mkdir()
    for path in real.values():
        (tmp_path / "linked" / path.name).symlink_to(path)
    data = load_dataset("mnist", root=tmp_path / "linked")
    np.testing.assert_array_equal(data.test_y, mnist_arrays["test_labels"])
    batches = make_cifar_folder(tmp_path / "cifar", cifar_arrays)
    (tmp_path / "batch.bin").symlink_to(batches / "test_batch.bin")
    assert read_cifar_batch(tmp_path / "batch.bin")[1].tolist() == [9, 0]


def test_every_legitimate_gzip_shape_is_read(tmp_path, mnist_arrays):
    """gzip allows several members one after the other, zero padding after the last, and a
    file name in the header: none of them is trailing junk."""
    content = idx_bytes(mnist_arrays["train_images"])
    named = io.BytesIO()
    with gzip.GzipFile("train-images-idx3-ubyte", "wb", fileobj=named) as stream:
        stream.write(content)
    variants = {"members": gzip.compress(content[:1000]) + gzip.compress(content[1000:]),
                "padding": gzip.compress(content) + bytes(4096),
                "file name": named.getvalue()}
    for name, compressed in variants.items():
        path = tmp_path / f"{name}.gz"
        path.write_bytes(compressed)
        np.testing.assert_array_equal(read_idx(path), mnist_arrays["train_images"], name)


def test_a_folder_beside_the_file_does_not_hide_it(tmp_path, mnist_arrays):
    """Some unpackers make a folder named like the raw file next to the .gz."""
    make_mnist_folder(tmp_path, mnist_arrays, compress=True)
    (tmp_path / "train-images-idx3-ubyte").mkdir()
    assert load_dataset("mnist", root=tmp_path).num_train == 6


def test_read_regular_file_reads_up_to_its_bound(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"0123456789")
    assert read_regular_file(path, 10) == b"0123456789"
    with pytest.raises(DataFormatError, match=f"^{path}: 10 bytes, more than the 9 bytes "
                                              f"meta.json recorded; refusing to read it$"):
        read_regular_file(path, 9, expected="meta.json recorded")
    with pytest.raises(DataNotFoundError, match=f"^{tmp_path / 'nothing'}: no such file$"):
        read_regular_file(tmp_path / "nothing", 10)


def test_an_empty_idx_array_is_read(tmp_path):
    empty = np.zeros((0, 28, 28), np.uint8)
    path = write(tmp_path / "empty-idx3-ubyte", idx_bytes(empty), compress=True)
    assert read_idx(path).shape == (0, 28, 28)


# ---------------------------------------------------------------- CIFAR-10
def cifar_records(images: np.ndarray, labels: np.ndarray) -> bytes:
    """3073-byte records: label byte, then the R, G and B planes row by row."""
    return np.concatenate([labels[:, None].astype(np.uint8),
                           images.reshape(len(images), -1)], axis=1).tobytes()


@pytest.fixture
def cifar_arrays():
    rng = np.random.default_rng(5)
    train = [(rng.integers(0, 256, (3, 3, 32, 32), dtype=np.uint8),
              rng.integers(0, 10, 3).astype(np.uint8)) for _ in range(5)]
    test = (rng.integers(0, 256, (2, 3, 32, 32), dtype=np.uint8), np.array([9, 0], np.uint8))
    return train, test


def make_cifar_folder(folder, arrays):
    train, test = arrays
    folder.mkdir(parents=True, exist_ok=True)
    for i, (images, labels) in enumerate(train, start=1):
        (folder / f"data_batch_{i}.bin").write_bytes(cifar_records(images, labels))
    (folder / "test_batch.bin").write_bytes(cifar_records(*test))
    return folder


def test_cifar_record_layout(tmp_path):
    # one record: label 7, red plane all 1, green 2, blue 3 except the blue pixel at (0, 5)
    record = bytearray([7] + [1] * 1024 + [2] * 1024 + [3] * 1024)
    record[1 + 2048 + 5] = 200
    (tmp_path / "one.bin").write_bytes(bytes(record))
    images, labels = read_cifar_batch(tmp_path / "one.bin")
    assert labels.tolist() == [7] and labels.dtype == np.int64
    assert images.shape == (1, 3, 32, 32) and images.dtype == np.uint8
    assert (images[0, 0] == 1).all() and (images[0, 1] == 2).all()
    assert images[0, 2, 0, 5] == 200 and images[0, 2].sum() == 3 * 1023 + 200


@pytest.mark.parametrize("inner", [True, False], ids=["parent-folder", "batches-folder"])
def test_cifar_folder_loads(tmp_path, cifar_arrays, inner):
    folder = make_cifar_folder(tmp_path / "cifar-10-batches-bin", cifar_arrays)
    data = load_dataset("cifar10", root=tmp_path if inner else folder)
    train, test = cifar_arrays
    assert data.train_x.shape == (15, 3, 32, 32) and data.test_x.shape == (2, 3, 32, 32)
    assert data.train_x.dtype == np.float32 and data.test_y.dtype == np.int64
    np.testing.assert_array_equal(data.train_x * np.float32(255),
                                  np.concatenate([im for im, _ in train]).astype(np.float32))
    np.testing.assert_array_equal(data.train_y, np.concatenate([lab for _, lab in train]))
    np.testing.assert_array_equal(data.test_x, test[0].astype(np.float32) / 255)
    assert data.test_y.tolist() == [9, 0]
    assert data.classes[0] == "airplane" and data.classes[9] == "truck"
    assert data.source == str(folder)


@pytest.mark.parametrize("case,problem", [
    ("truncated", "size 9119 bytes is not a multiple of the 3073-byte record (1 label + 3072 "
                  "pixels): 2 whole records and 2973 bytes left over"),
    ("one byte extra", "size 9220 bytes is not a multiple of the 3073-byte record"),
    ("empty", "is empty"),
    ("bad label", "record 1 has label 10, outside [0, 10) (1 bad records)"),
])
def test_broken_cifar_batch_is_named_with_its_problem(tmp_path, cifar_arrays, case, problem):
    folder = make_cifar_folder(tmp_path, cifar_arrays)
    path = folder / "data_batch_3.bin"
    content = path.read_bytes()
    if case == "truncated":
        content = content[:-100]
    elif case == "one byte extra":
        content += b"\x00"
    elif case == "empty":
        content = b""
    else:
        content = bytearray(content)
        content[3073] = 10
        content = bytes(content)
    path.write_bytes(content)
    with pytest.raises(DataFormatError) as caught:
        load_dataset("cifar10", root=folder)
    assert str(caught.value).startswith(f"{path}: ") and problem in str(caught.value)


def test_missing_cifar_files(tmp_path, cifar_arrays):
    folder = make_cifar_folder(tmp_path / "cifar-10-batches-bin", cifar_arrays)
    (folder / "test_batch.bin").unlink()
    with pytest.raises(DataNotFoundError, match=f"^{folder / 'test_batch.bin'}: no such file"):
        load_dataset("cifar10", root=tmp_path)
    with pytest.raises(DataNotFoundError, match="CIFAR-10 binary files not found"):
        load_dataset("cifar10", root=tmp_path / "elsewhere")
