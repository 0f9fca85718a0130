"""What the estimators take besides arrays: a PyTorch ``Dataset`` or ``DataLoader``, a ``.npy``, ``.npz`` or ``.csv`` file,
a folder of images; and ``y`` as a file of labels or the name of a CSV column.

Each becomes 2-D float32 rows (scikit-learn's ``(n_samples, n_features)``;
images are flattened, their ``(channels, height, width)`` kept as
``image_shape`` so that a convolutional layer unflattens them), and labels
when the source has them: a dataset's second item, an image folder's class
names, an archive's ``y``, a CSV's column named by ``y``. Rows are read into
memory, or left on disk to be streamed a chunk at a time
(:class:`~layerwise.data.stream.NpyFile`,
:class:`~layerwise.data.adapters.DatasetRows`) where the estimator can train
or predict chunk by chunk. Arrays, tensors and DataFrames never come here:
the estimators check them as before (only a ``y`` path is read for them).
"""

from __future__ import annotations

import copy
import numbers
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.adapters import DatasetRows, as_training_data, is_torch_data, materialize
from ..data.files import FILE_SUFFIXES, read_features, read_labels
from ..data.images import ImageFolder
from ..data.npy import DEFAULT_CHUNK_ROWS, read_rows
from ..data.stream import NpyFile
from ..exceptions import ConfigError, DataError

__all__ = ["Inputs", "is_external", "is_image_folder", "read_inputs", "read_labeled", "in_memory", "by_chunks", "describe_source",
           "image_size_pair", "numbers_as_numbers"]


@dataclass
class Inputs:
    """Rows from a source that is not an array.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features), NpyFile or DatasetRows
        In memory (float32), or 2-D rows to stream.
    y : ndarray of shape (n_samples,) or None
    image_shape : (channels, height, width) or None
        The shape of one row before it was flattened (images).
    """

    X: np.ndarray | NpyFile | DatasetRows
    y: np.ndarray | None = None
    image_shape: tuple[int, ...] | None = None

    @property
    def streamed(self) -> bool:
        return isinstance(self.X, (NpyFile, DatasetRows))


def is_external(X) -> bool:
    """A path, a ``.npy`` file, streamed rows, or a PyTorch dataset: what :func:`read_inputs` reads."""
    return isinstance(X, (str, os.PathLike, NpyFile, DatasetRows)) or is_torch_data(X)


def is_image_folder(X) -> bool:
    """A folder (its path) or an :class:`~layerwise.data.images.ImageFolder`: what ``image_size`` resizes."""
    return isinstance(X, ImageFolder) or (isinstance(X, (str, os.PathLike)) and Path(X).is_dir())


def read_inputs(X, stream: bool, ordered: bool, image_size=None, label: str | None = None) -> Inputs:
    """The rows (and labels) of a source that :func:`is_external` accepts.

    Parameters
    ----------
    X : str, path, NpyFile, DatasetRows, Dataset or DataLoader
        A path is a folder of images (one subfolder per class, as
        torchvision's ``ImageFolder`` lays it out), a ``.npy`` file, an
        ``.npz`` archive (:func:`~layerwise.data.files.read_features`: one
        array, or ``X`` and ``y``) or a ``.csv`` file of numbers (a header
        line is detected).
    stream : bool
        Leave a ``.npy`` file, an image folder and a dataset larger than
        1 GiB on disk as rows to stream; else read every row into memory.
        ``.npz`` and ``.csv`` files are always read whole.
    ordered : bool
        The rows must come in a fixed order (``predict``, ``transform``): a
        shuffling ``DataLoader`` is refused.
    image_size : int or (int, int), optional
        Resize the images of a folder to this ``(height, width)``.
    label : str, optional
        The label column of a ``.csv`` file.

    Raises
    ------
    DataError
        A path that is not a folder nor a ``.npy``/``.npz``/``.csv`` file, or
        that does not exist; an unreadable file or image; a shuffling
        ``DataLoader`` when ``ordered``.
    ConfigError
        ``image_size`` different from the ``size`` of an ``ImageFolder``.
    """
    if isinstance(X, (str, os.PathLike)):
        return _read_path(Path(X), stream, image_size, label)
    if isinstance(X, ImageFolder):  # its labels are its class folders' names, as for a path; its size= etc. are kept
        return _read_folder(_resized(X, image_size), stream)
    if isinstance(X, NpyFile):
        return Inputs(X) if stream and len(X.shape) == 2 else _in_memory(X.read(0, len(X)))
    if isinstance(X, DatasetRows):
        rows = X if len(X.shape) == 2 else DatasetRows(X.dataset, X.batch_size, X.num_workers, flatten=True)
        return Inputs(rows, image_shape=_image_shape(X.item_shape)) if stream else _in_memory(X[0:len(X)].numpy())
    if stream and not ordered:
        Xt, yt = as_training_data(X)
    else:
        Xt, yt = materialize(X, ordered=ordered)
    if isinstance(Xt, DatasetRows):
        return Inputs(DatasetRows(X, flatten=True), _labels(yt), _image_shape(Xt.item_shape))
    return _in_memory(Xt.numpy(), _labels(yt))


def read_labeled(X, y, stream: bool, ordered: bool, image_size=None) -> Inputs:
    """``X``'s rows and the labels to fit or score on (``Inputs.y``).

    ``y`` is used as given when it is labels (an explicit ``y`` wins over the
    source's own); ``None`` takes the source's labels (an image folder's class
    names, a dataset's second item, an ``.npz`` archive's ``y``); a path
    (``.npy``, ``.npz``, ``.csv``) is a file of labels
    (:func:`~layerwise.data.files.read_labels`); another string names the label
    column of a ``.csv`` ``X`` (its other columns are the features). ``X``
    that :func:`is_external` does not accept (arrays, DataFrames) is returned
    as given.

    Raises
    ------
    DataError
        A string ``y`` that is neither a file of labels nor, with a ``.csv``
        ``X``, one of its columns; see :func:`read_inputs` and
        :func:`~layerwise.data.files.read_labels`.
    """
    column = y if isinstance(y, str) and not _is_label_file(y) else None
    if column is not None and not _is_csv(X):
        raise DataError(f"y is the string {y!r}; a string y names the label column of X when X is the path of a .csv file, "
                        f"or is the path of a file of labels (.npy, .npz or .csv), but X is {describe_source(X)}. Pass the labels "
                        "themselves, or the path of a file that holds them.")
    inputs = read_inputs(X, stream, ordered, image_size, column) if is_external(X) else Inputs(X)
    if isinstance(y, (str, os.PathLike)) and column is None:
        inputs.y = read_labels(y, n_rows=_n_rows(inputs.X))
    elif column is None and y is not None:
        inputs.y = numbers_as_numbers(y)
    return inputs


def numbers_as_numbers(y):
    """A 1-D column of Python objects that are all real numbers (``[1, 2.0, np.int32(3)]``, a pandas ``object``
    column) as numbers: int64 when every value is whole, else float64. scikit-learn calls the type of such a column
    "unknown" and its message speaks of "continuous values", which whole numbers are not. Bools, text, ``None`` and
    anything else are left as they are (the estimators read them)."""
    if getattr(y, "dtype", None) is None or y.dtype.kind != "O" or getattr(y, "ndim", 1) != 1:
        return y
    values = np.asarray(y)
    if not len(values) or not all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in values):
        return y
    as_float = values.astype(np.float64)
    if np.isfinite(as_float).all() and (as_float == np.round(as_float)).all():
        return as_float.astype(np.int64)
    return as_float


def in_memory(X, image_size=None) -> np.ndarray:
    """The rows of ``X`` as an array: read whole from a source that :func:`is_external` accepts."""
    return read_inputs(X, stream=False, ordered=True, image_size=image_size).X if is_external(X) else X


def _is_label_file(y) -> bool:
    return isinstance(y, os.PathLike) or (isinstance(y, str) and Path(y).suffix.lower() in FILE_SUFFIXES)


def _is_csv(X) -> bool:
    return isinstance(X, (str, os.PathLike)) and Path(X).suffix.lower() == ".csv"


def describe_source(X) -> str:
    """How a message names ``X``: ``the path 'x.npy' (a file)``, ``of type ndarray``."""
    if isinstance(X, (str, os.PathLike)):
        kind = "a folder" if Path(X).is_dir() else "a file" if Path(X).exists() else "which does not exist"
        return f"the path {str(X)!r} ({kind})"
    return f"of type {type(X).__name__}"


def _n_rows(X) -> int | None:
    try:
        return len(X)
    except TypeError:
        return None


def _read_path(path: Path, stream: bool, image_size=None, label: str | None = None) -> Inputs:
    if path.is_dir():
        return _read_folder(ImageFolder(path, size=image_size_pair(image_size)), stream)
    suffix = path.suffix.lower()
    if path.is_file() and suffix == ".npy":
        return read_inputs(NpyFile(path), stream, ordered=True)
    if path.is_file() and suffix in (".npz", ".csv"):
        data = read_features(path, label)
        return _in_memory(data.X, data.y)
    what = "does not exist" if not path.exists() else f"is a {path.suffix or 'suffix-less'} file"
    raise DataError(f"X is the path {str(path)!r}, which {what}; expected a folder of images (one subfolder per class), "
                    "a .npy or .npz file of rows, or a .csv file of numbers. For other formats, load the data and pass "
                    "the arrays (or a DataFrame).")


def image_size_pair(image_size) -> tuple[int, int] | None:
    """``image_size`` as ``(height, width)``: an int is a square."""
    if isinstance(image_size, numbers.Integral) and not isinstance(image_size, bool):
        return int(image_size), int(image_size)
    return None if image_size is None else tuple(image_size)


def _resized(folder: ImageFolder, image_size) -> ImageFolder:
    """``folder`` read at ``image_size`` (a copy), or as it is; a ``size`` of its own that differs is refused."""
    size = image_size_pair(image_size)
    if size is None or folder.size == size:
        return folder
    if folder.size is not None:
        raise ConfigError(f"image_size={image_size!r} asks for {size[0]}x{size[1]} images, but X is an ImageFolder made with "
                          f"size={folder.size}; expected one size. Make it with ImageFolder(root, size={size}), or pass "
                          "its path, or set image_size=None.")
    out = copy.copy(folder)
    out.size, out.shape = size, (folder.shape[0], *size)
    return out


def _read_folder(folder: ImageFolder, stream: bool) -> Inputs:
    """An image folder's rows, labelled with its class folders' names (not the integer targets its items carry)."""
    names = np.asarray(folder.classes)[np.asarray(folder.targets)]
    if stream:
        return Inputs(DatasetRows(folder, flatten=True), names, folder.shape)
    images, _ = folder.load()
    return Inputs(images.reshape(len(images), -1), names, folder.shape)


def _in_memory(X: np.ndarray, y: np.ndarray | None = None) -> Inputs:
    """2-D float32 rows; rows of more dimensions are flattened and their shape kept as ``image_shape``."""
    X = np.asarray(X, dtype=np.float32)
    if X.ndim <= 2:
        return Inputs(X, y)
    return Inputs(X.reshape(len(X), -1), y, _image_shape(X.shape[1:]))


def image_rows(X) -> tuple[np.ndarray, tuple[int, int, int]] | None:
    """``(rows, (channels, height, width))`` of an array (NumPy or torch) of images, else None.

    ``(n, h, w)`` is one channel; ``(n, c, h, w)`` is PyTorch's layout, and ``(n, h, w, c)`` (Pillow's and
    matplotlib's) is taken for channels-last when its last axis has at most 4 entries and its second more. The
    rows are the images flattened channel by channel (``(n, c * h * w)``), as an image folder's are, so that a
    model fitted on one kind of source predicts on the others.
    """
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    if not isinstance(X, np.ndarray) or X.ndim not in (3, 4) or X.shape[0] == 0:
        return None
    if X.ndim == 3:
        X = X[:, None]
    elif X.shape[3] <= 4 < X.shape[1]:
        X = np.moveaxis(X, 3, 1)
    return np.ascontiguousarray(X).reshape(len(X), -1), tuple(int(d) for d in X.shape[1:])


def _image_shape(item_shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """``(channels, height, width)`` of an item: ``(h, w)`` is one channel; flat items have none."""
    if len(item_shape) == 2:
        return (1, *item_shape)
    return tuple(item_shape) if len(item_shape) == 3 else None


def _labels(y) -> np.ndarray | None:
    """A dataset's labels as an array; a column of labels becomes 1-D."""
    if y is None:
        return None
    y = np.asarray(y)
    return y.ravel() if y.ndim == 2 and y.shape[1] == 1 else y


def by_chunks(fn: Callable[[np.ndarray], np.ndarray], X, chunk_rows: int = DEFAULT_CHUNK_ROWS, image_size=None) -> np.ndarray:
    """``fn`` of every row of ``X``: in one call for rows in memory, else a chunk of streamed rows at a time.

    What ``transform`` and ``predict`` do with a ``.npy`` file or an image
    folder (its images resized to ``image_size``): the input is never in
    memory whole, only the (smaller) outputs.
    """
    inputs = read_inputs(X, stream=True, ordered=True, image_size=image_size)
    if not inputs.streamed:
        return fn(inputs.X)
    n = len(inputs.X)
    return np.concatenate([fn(read_rows(inputs.X, start, start + chunk_rows).numpy()) for start in range(0, n, chunk_rows)])
