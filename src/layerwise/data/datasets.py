"""Datasets by name: scikit-learn's digits (embedded) and the MNIST family (IDX)."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ..exceptions import DataError
from ..registry import Registry

__all__ = ["DATASETS", "load_dataset", "read_idx", "IDX_FILES"]

DATASETS: Registry = Registry("dataset")

# Published MD5 checksums of the gzip files (as in torchvision's MNIST.resources).
IDX_FILES = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
}

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzip or plain) into an array (LeCun's format).

    Raises
    ------
    DataError
        Bad magic number, or fewer bytes than the header announces.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(
            f"{path} is not an IDX file: its magic number is {raw[:4].hex() or 'missing'}; expected "
            "00 00 <type> <ndim> (e.g. 00000803 for images, 00000801 for labels). Is it the right file?"
        )
    ndim = raw[3]
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    need = int(np.prod(dims)) * dtype.itemsize
    body = raw[4 + 4 * ndim :]
    if len(body) < need:
        raise DataError(f"{path} is truncated: the header announces shape {dims} ({need} bytes) but only {len(body)} bytes follow. Download the file again.")
    return np.frombuffer(body, dtype, count=int(np.prod(dims))).reshape(dims)


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _find_dir(name: str, data_dir: str | os.PathLike | None) -> Path:
    """First of ``data_dir``, ``$LAYERWISE_DATA[/name]``, ``~/.cache/layerwise/name`` holding the files."""
    files = IDX_FILES[name]
    candidates = []
    if data_dir is not None:
        candidates += [Path(data_dir), Path(data_dir) / name]
    if os.environ.get("LAYERWISE_DATA"):
        candidates += [Path(os.environ["LAYERWISE_DATA"]), Path(os.environ["LAYERWISE_DATA"]) / name]
    candidates.append(Path.home() / ".cache" / "layerwise" / name)
    for d in candidates:
        if all((d / f).is_file() for f in files):
            return d
    looked = ", ".join(str(c) for c in candidates)
    raise DataError(
        f"Could not find the {name} files {sorted(files)}. Looked in: {looked}. "
        f"Put the four .gz files in one of these folders, or pass data_dir=... (CLI: --data-dir)."
    )


def _load_idx_dataset(name: str, data_dir=None, check_md5: bool = True) -> Bunch:
    d = _find_dir(name, data_dir)
    if check_md5:
        for fname, expected in IDX_FILES[name].items():
            got = _md5(d / fname)
            if got != expected:
                raise DataError(f"{d / fname} has MD5 {got}; expected {expected}. The file is corrupted or a different version: download it again.")
    images = lambda f: (read_idx(d / f).reshape(-1, 784).astype(np.float32) / 255.0)  # noqa: E731
    labels = lambda f: read_idx(d / f).astype(np.int64)  # noqa: E731
    return Bunch(
        name=name,
        X=images("train-images-idx3-ubyte.gz"),
        y=labels("train-labels-idx1-ubyte.gz"),
        X_test=images("t10k-images-idx3-ubyte.gz"),
        y_test=labels("t10k-labels-idx1-ubyte.gz"),
        image_shape=(28, 28),
        scaling="pixel / 255, in [0, 1]",
    )


@DATASETS.register("digits")
def _digits(data_dir=None) -> Bunch:
    """scikit-learn's 8x8 digits (1,797 images, shipped with scikit-learn)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return Bunch(name="digits", X=(d.data / 16.0).astype(np.float32), y=d.target.astype(np.int64),
                 X_test=None, y_test=None, image_shape=(8, 8), scaling="pixel / 16, in [0, 1]")


@DATASETS.register("mnist")
def _mnist(data_dir=None) -> Bunch:
    """MNIST: 60,000 + 10,000 28x28 digits from the original IDX gzip files."""
    return _load_idx_dataset("mnist", data_dir)


def load_dataset(name: str, data_dir: str | os.PathLike | None = None) -> Bunch:
    """Load a dataset by name.

    Parameters
    ----------
    name : {"digits", "mnist"}
    data_dir : path, optional
        Folder with the dataset's files (MNIST: the four IDX ``.gz`` files).
        Also searched: ``$LAYERWISE_DATA`` and ``~/.cache/layerwise/<name>``.

    Returns
    -------
    Bunch
        ``X`` (n, n_features) float32 in [0, 1], ``y`` (n,) int64, ``X_test`` /
        ``y_test`` (``None`` without an official test split), ``image_shape``,
        ``scaling`` (how pixels were scaled, stated rather than silent).

    Examples
    --------
    >>> d = load_dataset("digits")
    >>> d.X.shape, d.image_shape
    ((1797, 64), (8, 8))
    """
    return DATASETS.get(name)(data_dir=data_dir)
