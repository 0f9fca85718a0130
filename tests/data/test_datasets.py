"""Datasets by name: digits, real MNIST, and the lookup / checksum / IDX logic of the MNIST family."""

import gzip
import hashlib
import shutil

import numpy as np
import pytest

from layerwise import ConfigError, DataError, load_dataset
from layerwise.data import DATASETS
from layerwise.data.datasets import IDX_FILES, read_idx

from .helpers import IDX_NAMES, idx_bytes, write_small_idx

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_registry_lists_the_mnist_family():
    assert DATASETS.names() == ["digits", "fashion-mnist", "kmnist", "mnist"]


def test_digits_is_embedded_and_scaled():
    d = load_dataset("digits")
    assert d.X.shape == (1797, 64) and d.X.dtype == np.float32
    assert d.X.min() == 0 and d.X.max() == 1 and d.image_shape == (8, 8)
    assert d.scaling == "pixel / 16, in [0, 1]" and d.X_test is None


def test_real_mnist_loads_with_checksums(mnist_dir):
    d = load_dataset("mnist", data_dir=mnist_dir, download=False)
    assert d.X.shape == (60000, 784) and d.X_test.shape == (10000, 784) and d.X.dtype == np.float32
    assert np.bincount(d.y).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(d.y_test).tolist() == MNIST_TEST_COUNTS
    assert d.X.min() == 0 and d.X.max() == 1 and d.image_shape == (28, 28)
    # pixel / 255, stated: the first training image's raw bytes divided by 255
    raw = read_idx(mnist_dir / "train-images-idx3-ubyte.gz")[0]
    np.testing.assert_array_equal(d.X[0], raw.reshape(-1).astype(np.float32) / 255.0)
    assert d.scaling == "pixel / 255, in [0, 1]" and d.name == "mnist"


def test_real_mnist_found_through_layerwise_data_subfolder(mnist_dir, tmp_path, monkeypatch):
    root = tmp_path / "datasets"
    root.mkdir()
    (root / "mnist").symlink_to(mnist_dir, target_is_directory=True)
    monkeypatch.setenv("LAYERWISE_DATA", str(root))
    d = load_dataset("mnist", download=False)
    assert np.bincount(d.y_test).tolist() == MNIST_TEST_COUNTS


def test_real_mnist_found_in_the_cache_folder(mnist_dir, tmp_path):
    cache = tmp_path / "home" / ".cache" / "layerwise"
    cache.mkdir(parents=True)
    (cache / "mnist").symlink_to(mnist_dir, target_is_directory=True)
    d = load_dataset("mnist", download=False)
    assert np.bincount(d.y).tolist() == MNIST_TRAIN_COUNTS


def _copy_mnist(src, dst):
    dst.mkdir()
    for f in src.iterdir():
        if f.suffix == ".gz":
            shutil.copy(f, dst / f.name)
    return dst


def test_wrong_md5_is_refused(mnist_dir, tmp_path):
    d = _copy_mnist(mnist_dir, tmp_path / "m")
    with open(d / "t10k-labels-idx1-ubyte.gz", "ab") as f:
        f.write(b"x")
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz has MD5 [0-9a-f]{32}; expected ec29112dd5afa0611ce80d1b7f02629c.*download it again"):
        load_dataset("mnist", data_dir=d)


def test_missing_files_say_where_to_put_and_get_them(tmp_path):
    with pytest.raises(DataError, match=r"Could not find the mnist files .*Looked in: .*nowhere.*\.cache/layerwise/mnist\. "
                       r"Put the four .gz files in one of these folders.*Get them from http://yann.lecun.com/exdb/mnist/, "
                       r"https://ossci-datasets.s3.amazonaws.com/mnist/, or pass download=True"):
        load_dataset("mnist", data_dir=tmp_path / "nowhere", download=False)


def test_one_missing_file_counts_as_missing(mnist_dir, tmp_path):
    d = _copy_mnist(mnist_dir, tmp_path / "m")
    (d / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"Could not find the mnist files"):
        load_dataset("mnist", data_dir=d, download=False)


@pytest.mark.parametrize("name", ["fashion-mnist", "kmnist"])
def test_small_generated_idx_files_load_from_data_dir(name, tmp_path, monkeypatch):
    made = write_small_idx(tmp_path / "files")
    monkeypatch.setitem(IDX_FILES, name, made["md5"])
    d = load_dataset(name, data_dir=tmp_path / "files", download=False)
    assert d.X.shape == (12, 784) and d.X_test.shape == (5, 784) and d.image_shape == (28, 28)
    np.testing.assert_array_equal(d.X, made["arrays"]["train-images-idx3-ubyte.gz"].reshape(12, -1).astype(np.float32) / 255)
    assert d.y.tolist() == made["arrays"]["train-labels-idx1-ubyte.gz"].tolist() and d.y.dtype == np.int64
    assert d.name == name and d.scaling == "pixel / 255, in [0, 1]"


@pytest.mark.parametrize("name", ["fashion-mnist", "kmnist"])
def test_lookup_order_data_dir_then_env_then_cache(name, tmp_path, monkeypatch):
    # three different sets of files; the first folder in the lookup order that has all four wins
    in_dir = write_small_idx(tmp_path / "given", n_train=11, seed=1)
    in_env = write_small_idx(tmp_path / "env" / name, n_train=13, seed=2)
    in_cache = write_small_idx(tmp_path / "home" / ".cache" / "layerwise" / name, n_train=14, seed=3)
    monkeypatch.setenv("LAYERWISE_DATA", str(tmp_path / "env"))
    for made, data_dir, n in ((in_dir, tmp_path / "given", 11), (in_env, None, 13)):
        monkeypatch.setitem(IDX_FILES, name, made["md5"])
        assert len(load_dataset(name, data_dir=data_dir, download=False).X) == n
    monkeypatch.delenv("LAYERWISE_DATA")
    monkeypatch.setitem(IDX_FILES, name, in_cache["md5"])
    assert len(load_dataset(name, download=False).X) == 14


@pytest.mark.parametrize(("name", "published"), [("fashion-mnist", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
                                                 ("kmnist", "bdb82020997e1d708af4cf47b453dcf7")])
def test_published_checksums_are_checked(name, published, tmp_path):
    write_small_idx(tmp_path / name)
    with pytest.raises(DataError, match=rf"train-images-idx3-ubyte.gz has MD5 [0-9a-f]{{32}}; expected {published}\. "
                       r"The file is corrupted or a different version"):
        load_dataset(name, data_dir=tmp_path, download=False)


def test_image_and_label_counts_must_match(tmp_path, monkeypatch):
    made = write_small_idx(tmp_path / "f")
    short_labels = idx_bytes(np.arange(7) % 10)
    (tmp_path / "f" / "train-labels-idx1-ubyte.gz").write_bytes(short_labels)
    monkeypatch.setitem(IDX_FILES, "kmnist", {**made["md5"], "train-labels-idx1-ubyte.gz": hashlib.md5(short_labels).hexdigest()})
    with pytest.raises(DataError, match=r"train-images has 12 images but train-labels has 7 labels; expected one label per image"):
        load_dataset("kmnist", data_dir=tmp_path / "f")


def test_unknown_dataset_name_lists_valid_names():
    with pytest.raises(ConfigError, match=r"Unknown dataset 'mnsit'\. Expected one of \['digits', 'fashion-mnist', 'kmnist', 'mnist'\]\. "
                       r"Did you mean 'mnist'\? Or pass the path of a \.npy/\.npz/\.csv file"):
        load_dataset("mnsit")


def test_file_options_are_refused_for_named_datasets():
    with pytest.raises(ConfigError, match=r"\['label_column', 'scale'\] apply to data files; got \{'label_column': 'y', 'scale': 'minmax'\} "
                       r"with the named dataset 'digits'"):
        load_dataset("digits", label_column="y", scale="minmax")


def test_idx_wrong_magic_and_truncation(tmp_path):
    bad = tmp_path / "bad.gz"
    with gzip.open(bad, "wb") as f:
        f.write(b"\x12\x34\x08\x01" + b"\x00" * 8)
    with pytest.raises(DataError, match=r"is not an IDX file: its magic number is 12340801"):
        read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(b"\x00\x00\x08\x01" + (10).to_bytes(4, "big") + b"\x00" * 5)
    with pytest.raises(DataError, match=r"is truncated: the header announces shape \(10,\) \(10 bytes\) but only 5 bytes follow"):
        read_idx(short)
    header_only = tmp_path / "header"
    header_only.write_bytes(b"\x00\x00\x08\x03" + (10).to_bytes(4, "big"))
    with pytest.raises(DataError, match=r"is truncated: the header announces 3 dimensions \(12 bytes of sizes\) but only 4 bytes follow the magic number"):
        read_idx(header_only)


def test_truncated_real_mnist_gzip(mnist_dir, tmp_path):
    cut = tmp_path / "t10k-labels-idx1-ubyte.gz"
    cut.write_bytes((mnist_dir / "t10k-labels-idx1-ubyte.gz").read_bytes()[:2000])
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz is not a complete gzip file .*Download it again"):
        read_idx(cut)


def test_wrong_magic_in_a_dataset_folder(tmp_path, monkeypatch):
    made = write_small_idx(tmp_path / "f")
    bad = gzip.compress(b"\x00\x00\x07\x01" + (3).to_bytes(4, "big") + b"abc", mtime=0)
    (tmp_path / "f" / "t10k-labels-idx1-ubyte.gz").write_bytes(bad)
    monkeypatch.setitem(IDX_FILES, "fashion-mnist", {**made["md5"], "t10k-labels-idx1-ubyte.gz": hashlib.md5(bad).hexdigest()})
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz is not an IDX file: its magic number is 00000701"):
        load_dataset("fashion-mnist", data_dir=tmp_path / "f")


def test_idx_names_match_the_registry():
    assert all(sorted(files) == sorted(IDX_NAMES) for files in IDX_FILES.values())
