"""What the estimators take besides arrays: a PyTorch ``Dataset`` or ``DataLoader``, a ``.npy`` file, a folder of images.

Each becomes 2-D float32 rows (scikit-learn's ``(n_samples, n_features)``;
images are flattened, their ``(channels, height, width)`` kept as
``image_shape`` so that a convolutional layer unflattens them), and labels
when the source has them: a dataset's second item, an image folder's class
names. Rows are read into memory, or left on disk to be streamed a chunk at a
time (:class:`~layerwise.data.stream.NpyFile`,
:class:`~layerwise.data.adapters.DatasetRows`) where the estimator can train
or predict chunk by chunk. Arrays, tensors and DataFrames never come here:
the estimators check them as before.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.adapters import DatasetRows, as_training_data, is_torch_data, materialize
from ..data.images import ImageFolder
from ..data.npy import DEFAULT_CHUNK_ROWS, read_rows
from ..data.stream import NpyFile
from ..exceptions import DataError

__all__ = ["Inputs", "is_external", "read_inputs", "by_chunks"]


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


def read_inputs(X, stream: bool, ordered: bool) -> Inputs:
    """The rows (and labels) of a source that :func:`is_external` accepts.

    Parameters
    ----------
    X : str, path, NpyFile, DatasetRows, Dataset or DataLoader
        A path is a folder of images (one subfolder per class, as
        torchvision's ``ImageFolder`` lays it out) or a ``.npy`` file.
    stream : bool
        Leave a ``.npy`` file, an image folder and a dataset larger than
        1 GiB on disk as rows to stream; else read every row into memory.
    ordered : bool
        The rows must come in a fixed order (``predict``, ``transform``): a
        shuffling ``DataLoader`` is refused.

    Raises
    ------
    DataError
        A path that is neither a folder nor a ``.npy`` file, or that does not
        exist; an unreadable file or image; a shuffling ``DataLoader`` when
        ``ordered``.
    """
    if isinstance(X, (str, os.PathLike)):
        return _read_path(Path(X), stream)
    if isinstance(X, ImageFolder):  # its labels are its class folders' names, as for a path; its size= etc. are kept
        return _read_folder(X, stream)
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


def _read_path(path: Path, stream: bool) -> Inputs:
    if path.is_dir():
        return _read_folder(ImageFolder(path), stream)
    if path.suffix.lower() == ".npy":
        return read_inputs(NpyFile(path), stream, ordered=True)
    what = "does not exist" if not path.exists() else f"is a {path.suffix or 'suffix-less'} file"
    raise DataError(f"X is the path {str(path)!r}, which {what}; expected a folder of images (one subfolder per class) "
                    "or a .npy file of rows. Read .npz and .csv files with layerwise.load_dataset(path) and pass its X.")


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


def by_chunks(fn: Callable[[np.ndarray], np.ndarray], X, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> np.ndarray:
    """``fn`` of every row of ``X``: in one call for rows in memory, else a chunk of streamed rows at a time.

    What ``transform`` and ``predict`` do with a ``.npy`` file or an image
    folder: the input is never in memory whole, only the (smaller) outputs.
    """
    inputs = read_inputs(X, stream=True, ordered=True)
    if not inputs.streamed:
        return fn(inputs.X)
    n = len(inputs.X)
    return np.concatenate([fn(read_rows(inputs.X, start, start + chunk_rows).numpy()) for start in range(0, n, chunk_rows)])
