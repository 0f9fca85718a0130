"""Downloads from a local HTTP server on 127.0.0.1: real MNIST, corrupted and cut-off files, no network."""

import numpy as np
import pytest

from layerwise import DataError, load_dataset
from layerwise.data import download
from layerwise.data.datasets import IDX_FILES

from .helpers import IDX_NAMES, closed_port_url, serve, write_small_idx


def _files_in(folder):
    """Every file under ``folder``, hidden temporary files included."""
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_file_urls_official_and_overridden(monkeypatch):
    monkeypatch.delenv("LAYERWISE_MIRROR")
    assert download.file_urls("mnist", "t10k-labels-idx1-ubyte.gz") == [
        "http://yann.lecun.com/exdb/mnist/t10k-labels-idx1-ubyte.gz",
        "https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz",
    ]
    assert download.file_urls("fashion-mnist", "a.gz") == ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/a.gz"]
    assert download.file_urls("kmnist", "a.gz") == ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/a.gz"]
    monkeypatch.setenv("LAYERWISE_MIRROR", "http://127.0.0.1:1/data/, file:///srv/mirror")
    assert download.file_urls("kmnist", "a.gz") == ["http://127.0.0.1:1/data/kmnist/a.gz", "file:///srv/mirror/kmnist/a.gz"]


def test_real_mnist_downloads_into_data_dir_with_a_progress_bar(mnist_dir, local_mirror, tmp_path, capsys):
    (local_mirror / "mnist").mkdir()
    for name in IDX_NAMES:
        (local_mirror / "mnist" / name).symlink_to(mnist_dir / name)
    target = tmp_path / "downloaded"
    d = load_dataset("mnist", data_dir=target)
    assert _files_in(target) == sorted(IDX_NAMES)  # no temporary file left over
    assert all(download.md5sum(target / f) == md5 for f, md5 in IDX_FILES["mnist"].items())
    assert d.X.shape == (60000, 784) and d.X_test.shape == (10000, 784)
    assert np.bincount(d.y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert "train-images-idx3-ubyte.gz" in capsys.readouterr().err  # the tqdm bar names the file
    # a second call finds the files and downloads nothing: the server is gone
    for name in IDX_NAMES:
        (local_mirror / "mnist" / name).unlink()
    assert np.bincount(load_dataset("mnist", data_dir=target).y_test)[0] == 980


def test_download_goes_to_the_cache_folder_without_data_dir(local_mirror, tmp_path, monkeypatch):
    made = write_small_idx(local_mirror / "kmnist")
    monkeypatch.setitem(IDX_FILES, "kmnist", made["md5"])
    d = load_dataset("kmnist", progress=False)
    assert _files_in(tmp_path / "home" / ".cache" / "layerwise" / "kmnist") == sorted(IDX_NAMES)
    assert d.X.shape == (12, 784) and d.y.tolist() == (np.arange(12) % 10).tolist()


def test_only_missing_files_are_downloaded(local_mirror, tmp_path, monkeypatch):
    made = write_small_idx(local_mirror / "fashion-mnist")
    monkeypatch.setitem(IDX_FILES, "fashion-mnist", made["md5"])
    target = tmp_path / "target"
    write_small_idx(target)
    (target / "t10k-images-idx3-ubyte.gz").unlink()
    (local_mirror / "fashion-mnist" / "train-images-idx3-ubyte.gz").unlink()  # would fail if asked for
    d = load_dataset("fashion-mnist", data_dir=target, progress=False)
    assert d.X_test.shape == (5, 784) and _files_in(target) == sorted(IDX_NAMES)


def test_corrupted_download_gives_the_md5_error_and_leaves_no_file(local_mirror, tmp_path, monkeypatch):
    made = write_small_idx(local_mirror / "fashion-mnist")
    monkeypatch.setitem(IDX_FILES, "fashion-mnist", made["md5"])
    served = local_mirror / "fashion-mnist" / "train-labels-idx1-ubyte.gz"
    served.write_bytes(served.read_bytes()[:-3] + b"bad")
    target = tmp_path / "target"
    expected = made["md5"]["train-labels-idx1-ubyte.gz"]
    with pytest.raises(DataError, match=rf"Could not download the fashion-mnist file train-labels-idx1-ubyte.gz: http://127\.0\.0\.1:\d+/"
                       rf"fashion-mnist/train-labels-idx1-ubyte.gz: the bytes downloaded from .* have MD5 [0-9a-f]{{32}}; expected {expected} "
                       r"\(a corrupted download or a different version of the file\); nothing was saved as .*\. To install the files by hand"):
        load_dataset("fashion-mnist", data_dir=target, progress=False)
    assert _files_in(target) == ["train-images-idx3-ubyte.gz"]  # the good file before it, and nothing else


def test_cut_off_download_leaves_no_file(cut_off_mirror, tmp_path):
    target = tmp_path / "target"
    with pytest.raises(DataError, match=r"Could not download the kmnist file train-images-idx3-ubyte.gz: http://127\.0\.0\.1:\d+/kmnist/"
                       r"train-images-idx3-ubyte.gz: the server hung up after 10 of the 100000 bytes it announced\. "):
        load_dataset("kmnist", data_dir=target, progress=False)
    assert _files_in(target) == []


def test_next_mirror_is_tried_after_a_failure(local_mirror, tmp_path, monkeypatch):
    made = write_small_idx(local_mirror / "kmnist")
    monkeypatch.setitem(IDX_FILES, "kmnist", made["md5"])
    with serve(local_mirror) as good:
        monkeypatch.setenv("LAYERWISE_MIRROR", f"{closed_port_url()} {good}")
        d = load_dataset("kmnist", data_dir=tmp_path / "t", progress=False)
    assert len(d.X) == 12


def test_no_network_says_where_to_put_the_files_and_where_to_get_them(tmp_path):
    # $LAYERWISE_MIRROR points at a closed port on 127.0.0.1 (see conftest.py): connection refused
    target = tmp_path / "target"
    with pytest.raises(DataError, match=r"Could not download the mnist file train-images-idx3-ubyte.gz: http://127\.0\.0\.1:\d+/mnist/"
                       r"train-images-idx3-ubyte.gz: <urlopen error .*refused.*>\. Is the network reachable\? To install the files by hand, "
                       r"get \['t10k-images-idx3-ubyte.gz', .*\] from http://yann.lecun.com/exdb/mnist/, https://ossci-datasets.s3.amazonaws.com/mnist/ "
                       rf"and put them in {tmp_path}/target \(or in a folder passed as data_dir=..., or in \$LAYERWISE_DATA/mnist\)"):
        load_dataset("mnist", data_dir=target, progress=False)
    assert _files_in(target) == []


def test_download_false_never_fetches(local_mirror, tmp_path, monkeypatch):
    made = write_small_idx(local_mirror / "kmnist")
    monkeypatch.setitem(IDX_FILES, "kmnist", made["md5"])
    with pytest.raises(DataError, match=r"Could not find the kmnist files .*Get them from http://codh.rois.ac.jp/kmnist/dataset/kmnist/"):
        load_dataset("kmnist", download=False)
    assert _files_in(tmp_path / "home") == []
