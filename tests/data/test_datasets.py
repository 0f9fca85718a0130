import gzip
import shutil

import numpy as np
import pytest

from layerwise import DataError, load_dataset
from layerwise.data.datasets import read_idx


def test_digits_is_embedded_and_scaled():
    d = load_dataset("digits")
    assert d.X.shape == (1797, 64) and d.X.dtype == np.float32
    assert d.X.min() == 0 and d.X.max() == 1 and d.image_shape == (8, 8)


def test_real_mnist_loads_with_checksums(mnist_dir):
    d = load_dataset("mnist", data_dir=mnist_dir)
    assert d.X.shape == (60000, 784) and d.X_test.shape == (10000, 784)
    assert np.bincount(d.y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert 0 <= d.X.min() and d.X.max() <= 1


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


def test_missing_files_say_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.delenv("LAYERWISE_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(DataError, match=r"Could not find the mnist files .*Looked in: .*Put the four .gz files in one of these folders"):
        load_dataset("mnist", data_dir=tmp_path / "nowhere")


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match=r"Unknown dataset 'mnsit'.*Did you mean 'mnist'\?"):
        load_dataset("mnsit")


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
