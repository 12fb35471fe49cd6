"""MNIST-1D generation and cache, scikit-learn digits, the cache directory and the registry."""
import json
import os
import random
from pathlib import Path

import numpy as np
import pytest

from convgrad.data import (DataError, Dataset, UnknownDatasetError, available_datasets,
                           cache_dir, load_dataset)
from convgrad.data import mnist1d as mnist1d_module
from convgrad.data.cache import atomic_write, save_npz_atomic


@pytest.fixture(scope="session")
def mnist1d_home(tmp_path_factory):
    """A CONVGRAD_HOME holding MNIST-1D, generated once for the whole test session."""
    home = tmp_path_factory.mktemp("convgrad_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONVGRAD_HOME", str(home))
        load_dataset("mnist1d")
    return home


@pytest.fixture
def home(mnist1d_home, monkeypatch):
    """Every test here sees the session's generated cache, never the real user cache."""
    monkeypatch.setenv("CONVGRAD_HOME", str(mnist1d_home))
    return mnist1d_home


@pytest.fixture
def data(home):
    return load_dataset("mnist1d")


def file_identity(path):
    stat = os.stat(path)
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


# ---------------------------------------------------------------- MNIST-1D
def test_mnist1d_shapes_dtypes_and_metadata(data, home):
    assert isinstance(data, Dataset) and data.name == "mnist1d"
    assert data.train_x.shape == (4000, 1, 40) and data.test_x.shape == (1000, 1, 40)
    assert data.train_y.shape == (4000,) and data.test_y.shape == (1000,)
    assert data.train_x.dtype == np.float32 and data.test_x.dtype == np.float32
    assert data.train_y.dtype == np.int64 and data.test_y.dtype == np.int64
    assert data.input_shape == (1, 40) and data.num_classes == 10
    assert data.classes == tuple("0123456789")
    assert Path(data.source) == home / "mnist1d.npz"
    # the generator standardises the whole set: mean 0, standard deviation 1
    everything = np.concatenate([data.train_x, data.test_x])
    assert abs(everything.mean()) < 1e-3 and abs(everything.std() - 1) < 1e-3


def test_mnist1d_label_balance(data):
    # 500 signals per digit in all, shuffled before the 4000/1000 split
    both = np.bincount(data.train_y, minlength=10) + np.bincount(data.test_y, minlength=10)
    assert both.tolist() == [500] * 10
    train = np.bincount(data.train_y, minlength=10)
    assert train.min() >= 370 and train.max() <= 430


def test_mnist1d_is_the_packages_dataset_and_deterministic(data):
    from mnist1d.data import get_dataset_args, make_dataset

    arrays, meta = mnist1d_module.generate()  # a second generation, in memory
    for key in ("train_x", "train_y", "test_x", "test_y"):
        np.testing.assert_array_equal(arrays[key], getattr(data, key))
    raw = make_dataset(get_dataset_args())
    np.testing.assert_array_equal(data.train_x[:, 0, :], raw["x"].astype(np.float32))
    np.testing.assert_array_equal(data.test_x[:, 0, :], raw["x_test"].astype(np.float32))
    np.testing.assert_array_equal(data.train_y, raw["y"])
    np.testing.assert_array_equal(data.test_y, raw["y_test"])
    assert meta["generator_version"] == mnist1d_module.generator_version()
    assert meta["args"]["num_samples"] == 5000 and meta["args"]["seed"] == 42
    assert "url" not in meta["args"]


def test_generation_leaves_the_callers_random_streams_alone(tmp_path, home):
    def draws():
        return random.random(), random.randrange(10**9), np.random.rand(3).tolist()

    random.seed(7)
    np.random.seed(7)
    expected = draws()
    random.seed(7)
    np.random.seed(7)
    load_dataset("mnist1d", root=tmp_path)  # an empty folder: generates (and reseeds to 42)
    assert (tmp_path / "mnist1d.npz").is_file()
    assert draws() == expected


def test_cache_is_reused_not_regenerated(home):
    path = home / "mnist1d.npz"
    before = file_identity(path)
    again = load_dataset("mnist1d")
    assert file_identity(path) == before  # os.replace of a new file would change the inode
    assert again.train_x.shape == (4000, 1, 40)


def test_cache_records_generator_and_loads_without_pickle(home):
    with np.load(home / "mnist1d.npz", allow_pickle=False) as archive:
        assert sorted(archive.files) == ["meta", "test_x", "test_y", "train_x", "train_y"]
        meta = json.loads(str(archive["meta"][()]))
    assert meta["format"] == mnist1d_module.CACHE_FORMAT
    assert meta["generator"] == "mnist1d.data.make_dataset"
    assert meta["generator_version"] == mnist1d_module.generator_version()
    assert meta["args"]["final_seq_length"] == 40


def corrupt_copies(source: Path, folder: Path) -> dict:
    """Several broken variants of a valid cache file, by what is wrong with them."""
    valid = source.read_bytes()
    with np.load(source, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    meta = json.loads(str(arrays["meta"][()]))
    variants = {}

    def write(name, content=None, **changes):
        path = folder / name / "mnist1d.npz"
        path.parent.mkdir()
        if content is not None:
            path.write_bytes(content)
        else:
            save_npz_atomic(path, {**arrays, **changes})
        variants[name] = path

    write("truncated", valid[: len(valid) // 2])
    write("garbage", b"this is not a zip file at all" * 10)
    write("empty", b"")
    write("wrong_shape", train_x=arrays["train_x"][:, :, :39])
    write("wrong_dtype", train_y=arrays["train_y"].astype(np.int32))
    write("bad_labels", test_y=np.full_like(arrays["test_y"], 11))
    write("nan", train_x=np.full_like(arrays["train_x"], np.nan))
    write("old_version", meta=np.array(json.dumps({**meta, "generator_version": "0.0.0"})))
    write("old_format", meta=np.array(json.dumps({**meta, "format": 0})))
    return variants


def test_every_kind_of_bad_cache_is_rejected_with_a_reason(home, tmp_path):
    arrays, reason = mnist1d_module.read_cache(home / "mnist1d.npz")
    assert reason == "valid" and arrays is not None
    assert mnist1d_module.read_cache(tmp_path / "absent.npz") == (None, "missing")
    expected = {"truncated": "unreadable", "garbage": "unreadable", "empty": "unreadable",
                "wrong_shape": "train_x is float32 (4000, 1, 39), expected float32 (4000, 1, 40)",
                "wrong_dtype": "train_y is int32", "bad_labels": "test_y has labels outside",
                "nan": "non-finite", "old_version": "made by mnist1d 0.0.0",
                "old_format": "cache format 0"}
    for name, path in corrupt_copies(home / "mnist1d.npz", tmp_path).items():
        arrays, reason = mnist1d_module.read_cache(path)
        assert arrays is None, name
        assert expected[name] in reason, (name, reason)


@pytest.mark.parametrize("kind", ["truncated", "old_version"])
def test_bad_cache_is_regenerated(kind, home, tmp_path):
    good = load_dataset("mnist1d")
    path = corrupt_copies(home / "mnist1d.npz", tmp_path)[kind]
    before = file_identity(path)
    fresh = load_dataset("mnist1d", root=path.parent)
    assert file_identity(path) != before
    np.testing.assert_array_equal(fresh.train_x, good.train_x)
    np.testing.assert_array_equal(fresh.test_y, good.test_y)
    assert mnist1d_module.read_cache(path)[1] == "valid"
    assert [p.name for p in path.parent.iterdir()] == ["mnist1d.npz"]  # no temp files left


# ---------------------------------------------------------------- digits
def test_digits_shapes_range_and_split():
    from sklearn.datasets import load_digits as sklearn_digits

    data = load_dataset("digits")
    assert data.train_x.shape == (1437, 1, 8, 8) and data.test_x.shape == (360, 1, 8, 8)
    assert data.train_x.dtype == np.float32 and data.train_y.dtype == np.int64
    assert data.input_shape == (1, 8, 8) and data.num_classes == 10
    assert data.train_x.min() == 0.0 and data.train_x.max() == 1.0
    # train ∪ test is exactly scikit-learn's 1797 samples, each once
    ours = np.concatenate([np.concatenate([data.train_x, data.test_x]).reshape(-1, 64) * 16,
                           np.concatenate([data.train_y, data.test_y])[:, None]], axis=1)
    bunch = sklearn_digits()
    theirs = np.concatenate([bunch.data, bunch.target[:, None]], axis=1)
    np.testing.assert_array_equal(ours[np.lexsort(ours.T)], theirs[np.lexsort(theirs.T)])
    # every class is in the test set, and the split never changes
    assert set(data.test_y.tolist()) == set(range(10))
    again = load_dataset("digits")
    np.testing.assert_array_equal(again.test_x, data.test_x)
    np.testing.assert_array_equal(again.train_y, data.train_y)


# ---------------------------------------------------------------- registry and record
def test_registry_names_and_default(data):
    assert available_datasets() == ("mnist1d", "digits", "mnist", "fashion-mnist", "cifar10")
    default = load_dataset()
    assert default.name == "mnist1d"
    np.testing.assert_array_equal(default.test_x, data.test_x)
    assert load_dataset("MNIST-1D").name == "mnist1d"


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(UnknownDatasetError) as caught:
        load_dataset("mnst")
    message = str(caught.value)
    assert "'mnst'" in message and "did you mean 'mnist'" in message
    for name in available_datasets():
        assert name in message
    assert isinstance(caught.value, DataError) and isinstance(caught.value, ValueError)
    with pytest.raises(UnknownDatasetError, match="known datasets: mnist1d, digits"):
        load_dataset("imagenet")


def test_file_datasets_default_to_a_folder_in_the_cache(home):
    with pytest.raises(DataError, match=f"{home / 'cifar10'}: CIFAR-10 binary files not found"):
        load_dataset("cifar10")
    with pytest.raises(DataError, match="download=True"):
        load_dataset("fashion-mnist")


def test_dataset_record_validates_its_arrays():
    x, y = np.zeros((3, 1, 4), np.float32), np.array([0, 1, 2])
    good = Dataset("toy", x, y, x, y, classes="abc", input_shape=(1, 4))
    assert good.num_train == 3 and good.classes == ("a", "b", "c")
    assert repr(good) == "Dataset(name='toy', train=3, test=3, input_shape=(1, 4), classes=3)"
    with pytest.raises(TypeError, match="train_x must be a float32"):
        Dataset("toy", x.astype(np.float64), y, x, y, "abc", (1, 4))
    with pytest.raises(TypeError, match="test_y must be a 1-D int64"):
        Dataset("toy", x, y, x, y.astype(np.int32), "abc", (1, 4))
    with pytest.raises(ValueError, match="has 3 samples but train_y has 2 labels"):
        Dataset("toy", x, y[:2], x, y, "abc", (1, 4))
    with pytest.raises(ValueError, match=r"samples of shape \(1, 4\), but input_shape is"):
        Dataset("toy", x, y, x, y, "abc", (4,))
    with pytest.raises(ValueError, match=r"labels in \[0, 2\], outside \[0, 2\)"):
        Dataset("toy", x, y, x, y, "ab", (1, 4))


# ---------------------------------------------------------------- cache directory
def test_cache_dir_follows_each_platforms_rule():
    home = Path("~").expanduser()
    assert cache_dir({"CONVGRAD_HOME": "/data/cg", "XDG_CACHE_HOME": "/x"}, "linux") == \
        Path("/data/cg")
    assert cache_dir({"CONVGRAD_HOME": "/data/cg"}, "win32") == Path("/data/cg")
    assert cache_dir({"XDG_CACHE_HOME": "/var/cache/me"}, "linux") == Path("/var/cache/me/convgrad")
    assert cache_dir({"XDG_CACHE_HOME": "relative/ignored"}, "linux") == home / ".cache/convgrad"
    assert cache_dir({}, "linux") == home / ".cache" / "convgrad"
    assert cache_dir({}, "darwin") == home / "Library" / "Caches" / "convgrad"
    assert cache_dir({"LOCALAPPDATA": "C:/Users/me/AppData/Local"}, "win32") == \
        Path("C:/Users/me/AppData/Local") / "convgrad" / "Cache"
    assert cache_dir({"CONVGRAD_HOME": ""}, "linux") == home / ".cache" / "convgrad"


def test_cache_dir_reads_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CONVGRAD_HOME", str(tmp_path))
    assert cache_dir() == tmp_path


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "sub" / "file.bin"
    with atomic_write(target) as handle:
        handle.write(b"first")
    assert target.read_bytes() == b"first"
    with pytest.raises(RuntimeError):
        with atomic_write(target) as handle:
            handle.write(b"half of the sec")
            raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"first"
    assert os.listdir(target.parent) == ["file.bin"]


def test_save_npz_atomic_refuses_object_arrays(tmp_path):
    with pytest.raises(TypeError, match="dtype object"):
        save_npz_atomic(tmp_path / "x.npz", {"bad": np.array([{"a": 1}], dtype=object)})
    assert not (tmp_path / "x.npz").exists()
