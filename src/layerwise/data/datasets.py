"""Datasets by name or path: digits (embedded), the MNIST family (IDX gzip files), .npy/.npz/.csv files."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ..exceptions import ConfigError, DataError
from ..registry import Registry
from .download import MIRRORS, download_files, md5sum
from .files import FILE_SUFFIXES, load_file

__all__ = ["DATASETS", "IDX_FILES", "load_dataset", "read_idx"]

DATASETS: Registry = Registry("dataset")

# Published MD5 checksums of the gzip files: the ``resources`` of MNIST, FashionMNIST and KMNIST
# in torchvision/datasets/mnist.py (pytorch/vision commit 01977a18). The official URLs are in
# ``download.MIRRORS``. All three use the same four file names.
IDX_FILES: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
    "kmnist": {
        "train-images-idx3-ubyte.gz": "bdb82020997e1d708af4cf47b453dcf7",
        "train-labels-idx1-ubyte.gz": "e144d726b3acfaa3e44228e80efcd344",
        "t10k-images-idx3-ubyte.gz": "5c965bf0a639b31b8f53240b1b52f4d7",
        "t10k-labels-idx1-ubyte.gz": "7320c461ea6c1c855c0b718fb2a4b134",
    },
}

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzip or plain) into an array (LeCun's format).

    Parameters
    ----------
    path : path
        ``.gz`` files are decompressed.

    Returns
    -------
    ndarray, shape given by the header (e.g. (n, 28, 28) images or (n,) labels)

    Raises
    ------
    DataError
        A missing file, not gzip (or a cut-off gzip stream), a bad magic
        number, or fewer bytes than the header announces.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"No such IDX file: {path} (absolute: {path.absolute()}). Check the path, "
                        "or load a named dataset with load_dataset('mnist', data_dir=...).")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise DataError(f"{path} is not a complete gzip file ({e}); expected a gzip-compressed IDX file. Download it again.") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(
            f"{path} is not an IDX file: its magic number is {raw[:4].hex() or 'missing'}; expected "
            "00 00 <type> <ndim> (e.g. 00000803 for images, 00000801 for labels). Is it the right file?"
        )
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise DataError(
            f"{path} is truncated: the header announces {ndim} dimensions ({4 * ndim} bytes of sizes) but only "
            f"{len(raw) - 4} bytes follow the magic number. "
            "Download the file again."
        )
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    need = int(np.prod(dims)) * dtype.itemsize
    body = raw[4 + 4 * ndim :]
    if len(body) < need:
        raise DataError(
            f"{path} is truncated: the header announces shape {dims} ({need} bytes) but only {len(body)} bytes follow. "
            "Download the file again."
        )
    return np.frombuffer(body, dtype, count=int(np.prod(dims))).reshape(dims)


def _cache_dir(name: str) -> Path:
    """``~/.cache/layerwise/<name>``, where downloads go when no ``data_dir`` is given."""
    return Path.home() / ".cache" / "layerwise" / name


def _candidates(name: str, data_dir: str | os.PathLike | None) -> list[Path]:
    """Folders searched in order: ``data_dir[/name]``, ``$LAYERWISE_DATA[/name]``, the cache folder."""
    candidates = []
    if data_dir is not None:
        candidates += [Path(data_dir), Path(data_dir) / name]
    if os.environ.get("LAYERWISE_DATA"):
        candidates += [Path(os.environ["LAYERWISE_DATA"]), Path(os.environ["LAYERWISE_DATA"]) / name]
    candidates.append(_cache_dir(name))
    return candidates


def _find_dir(name: str, data_dir: str | os.PathLike | None, download: bool, progress: bool) -> Path:
    """The first folder holding all the files, downloading them first if none does and ``download``."""
    files = IDX_FILES[name]
    candidates = _candidates(name, data_dir)
    for d in candidates:
        if all((d / f).is_file() for f in files):
            return d
    if download:
        target = Path(data_dir) if data_dir is not None else _cache_dir(name)
        download_files(name, files, target, progress=progress)
        return target
    looked = ", ".join(str(c) for c in candidates)
    raise DataError(
        f"Could not find the {name} files {sorted(files)}. Looked in: {looked}. "
        f"Put the four .gz files in one of these folders, or pass data_dir=... (CLI: --data-dir). "
        f"Get them from {', '.join(MIRRORS[name])}, or pass download=True to fetch them."
    )


def _load_idx_dataset(name: str, data_dir=None, download: bool = True, progress: bool = True) -> Bunch:
    """Find (or download), MD5-check and read the four IDX files of ``name``."""
    d = _find_dir(name, data_dir, download, progress)
    for fname, expected in IDX_FILES[name].items():
        got = md5sum(d / fname)
        if got != expected:
            raise DataError(
                f"{d / fname} has MD5 {got}; expected {expected}. "
                "The file is corrupted or a different version: download it again."
            )
    X, X_test = (read_idx(d / f"{p}-images-idx3-ubyte.gz") for p in ("train", "t10k"))
    y, y_test = (read_idx(d / f"{p}-labels-idx1-ubyte.gz").astype(np.int64) for p in ("train", "t10k"))
    for images, labels, part in ((X, y, "train"), (X_test, y_test, "t10k")):
        if len(images) != len(labels):
            raise DataError(
                f"{d}: {part}-images has {len(images)} images but {part}-labels has {len(labels)} labels; "
                "expected one label per image. Download the files again."
            )
    return Bunch(
        name=name,
        X=X.reshape(len(X), -1).astype(np.float32) / 255.0,  # (n, h * w)
        y=y,
        X_test=X_test.reshape(len(X_test), -1).astype(np.float32) / 255.0,
        y_test=y_test,
        image_shape=tuple(X.shape[1:]),
        scaling="pixel / 255, in [0, 1]",
        feature_names=None,
    )


@DATASETS.register("digits")
def _digits(data_dir=None, download: bool = True, progress: bool = True) -> Bunch:
    """scikit-learn's 8x8 digits (1,797 images, shipped with scikit-learn)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return Bunch(name="digits", X=(d.data / 16.0).astype(np.float32), y=d.target.astype(np.int64),
                 X_test=None, y_test=None, image_shape=(8, 8), scaling="pixel / 16, in [0, 1]", feature_names=None)


@DATASETS.register("mnist")
def _mnist(data_dir=None, download: bool = True, progress: bool = True) -> Bunch:
    """MNIST: 60,000 + 10,000 28x28 handwritten digits (LeCun et al.)."""
    return _load_idx_dataset("mnist", data_dir, download, progress)


@DATASETS.register("fashion-mnist")
def _fashion_mnist(data_dir=None, download: bool = True, progress: bool = True) -> Bunch:
    """Fashion-MNIST: 60,000 + 10,000 28x28 clothing images in 10 classes (Xiao et al., 2017)."""
    return _load_idx_dataset("fashion-mnist", data_dir, download, progress)


@DATASETS.register("kmnist")
def _kmnist(data_dir=None, download: bool = True, progress: bool = True) -> Bunch:
    """Kuzushiji-MNIST: 60,000 + 10,000 28x28 cursive Japanese characters in 10 classes (Clanuwat et al., 2018)."""
    return _load_idx_dataset("kmnist", data_dir, download, progress)


def _is_file_request(name) -> bool:
    """True for a path object, or a string that is not a dataset name and looks like a file path."""
    if isinstance(name, os.PathLike):
        return True
    if not isinstance(name, str) or name in DATASETS:
        return False
    return Path(name).suffix.lower() in FILE_SUFFIXES or os.sep in name or Path(name).is_file() or Path(name).is_dir()


def _image_folder(root: Path, label_column, scale, image_size=None) -> Bunch:
    """An image folder as a dataset: flattened pixels in [0, 1], labelled with their class folders' names (as
    the estimators label the images of a folder they are given)."""
    from .images import load_image_folder

    if label_column is not None:
        raise ConfigError(f"label_column={label_column!r} applies to .csv and .npy files; {root} is a folder of images, "
                          "whose labels are its subfolders' names. Leave label_column unset.")
    size = (image_size, image_size) if isinstance(image_size, int) else image_size
    X, y, classes = load_image_folder(root, size=size)
    return Bunch(name=root.name, X=X.reshape(len(X), -1), y=np.asarray(classes)[y], X_test=None, y_test=None,
                 image_shape=X.shape[1:], scaling="pixel / 255 (image files)", feature_names=None)


def load_dataset(name: str | os.PathLike, data_dir: str | os.PathLike | None = None, download: bool = True, *,
                 label_column: str | int | None = None, scale: str | None = "auto", progress: bool = True,
                 image_size: int | tuple[int, int] | None = None) -> Bunch:
    """Load a dataset by name, from a ``.npy`` / ``.npz`` / ``.csv`` file, or from a folder of images.

    Parameters
    ----------
    name : {"digits", "mnist", "fashion-mnist", "kmnist"} or path
        A registered name (see ``DATASETS.names()``), a file path, read by
        :func:`~layerwise.data.files.load_file`, or a folder with one
        subfolder of PNG/JPEG images per class
        (:func:`~layerwise.data.images.load_image_folder`: ``X`` holds the
        flattened images, ``y`` their class folders' names, ``image_shape``
        ``(channels, height, width)``).
    data_dir : path, optional
        Named datasets only: folder with the dataset's files (the MNIST family:
        the four IDX ``.gz`` files), searched first. Then ``$LAYERWISE_DATA``
        (and its ``<name>`` subfolder), then ``~/.cache/layerwise/<name>``.
    download : bool, default=True
        Named datasets only: if the files are in none of these folders, download
        them from the official mirrors (or ``$LAYERWISE_MIRROR``) into
        ``data_dir``, or the cache folder if ``data_dir`` is None, and check
        their MD5.
    label_column : str or int, optional
        Files only: the label column (a name in a CSV header, or an index).
    image_size : int or (int, int), optional
        Folders of images only: resize every image to ``(height, width)``
        (an int: a square); without it every image must have the same size.
    scale : {"auto", "minmax"} or None, default="auto"
        Files only: min-max scaling to [0, 1] from the training rows
        (``"auto"``: only if some value is outside [0, 1]). Named datasets are
        always pixel / 255 (digits: / 16).
    progress : bool, default=True
        Show a progress bar while downloading.

    Returns
    -------
    Bunch
        ``X`` (n, n_features) float32 in [0, 1] (files with ``scale=None``: as
        stored), ``y`` (n,) int64 (files: see ``load_file``; ``None`` without labels), ``X_test`` / ``y_test`` (``None`` without a test
        split), ``image_shape`` (``None`` if unknown), ``scaling`` (what was
        done to the values, stated rather than silent), ``name``,
        ``feature_names`` (CSV header, else ``None``).

    Raises
    ------
    ConfigError
        Unknown name (the valid ones are listed), or a file-only option given
        with a named dataset.
    DataError
        Files missing (the message says where to put them and where to get
        them), a wrong MD5, a damaged IDX file, or an unreadable data file.

    Examples
    --------
    >>> d = load_dataset("digits")
    >>> d.X.shape, d.image_shape
    ((1797, 64), (8, 8))
    """
    if _is_file_request(name):
        if data_dir is not None:
            raise ConfigError(
                f"data_dir={str(data_dir)!r} applies to named datasets; "
                f"got the file {str(name)!r}. Pass the file's full path instead."
            )
        if Path(name).is_dir():
            return _image_folder(Path(name), label_column, scale, image_size)
        if image_size is not None:
            raise ConfigError(f"image_size={image_size!r} applies to folders of images; {str(name)!r} is a file. Remove image_size.")
        return load_file(name, label_column=label_column, scale=scale)
    try:
        factory = DATASETS.get(name)
    except ConfigError as e:
        raise ConfigError(f"{e} Or pass the path of a {'/'.join(FILE_SUFFIXES)} file.") from e
    wrong = {k: v for k, v in (("label_column", label_column), ("image_size", image_size)) if v is not None}
    if scale != "auto":
        wrong["scale"] = scale
    if wrong:
        raise ConfigError(
            f"{sorted(wrong)} apply to data files; got {wrong} with the named dataset {name!r}, which comes "
            "scaled to [0, 1] with its own labels. Leave them at their defaults."
        )
    return factory(data_dir=data_dir, download=download, progress=progress)
