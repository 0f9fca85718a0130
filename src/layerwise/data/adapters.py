"""PyTorch datasets and data loaders as the trainer's inputs: tensors in memory, or rows streamed in chunks.

The trainer's fast path slices in-memory tensors (``shared/PERFORMANCE.md``:
a ``DataLoader`` over a ``TensorDataset`` is slower). So a
``torch.utils.data.Dataset`` or ``DataLoader`` is either read once into
tensors (:func:`materialize`, for data that fits in memory), or wrapped as a
row source with random access (:class:`DatasetRows`) that the trainer's
chunked path reads a chunk at a time (``Trainer(chunk_rows=...)``,
:class:`~layerwise.data.stream.ChunkedBatches`), exactly as it reads a
:class:`~layerwise.data.stream.NpyFile`. :func:`as_training_data` picks one of
the two by size. Neither changes the in-memory path: arrays and tensors never
go through this module.

Items may be a tensor ``x``, or a tuple ``(x, y)`` / ``(x,)`` (what
``TensorDataset``, torchvision datasets and
:class:`~layerwise.data.images.ImageFolder` return).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, RandomSampler, Subset

from ..exceptions import DataError

__all__ = ["is_torch_data", "materialize", "DatasetRows", "as_training_data"]

DEFAULT_MAX_BYTES = 1 << 30  # 1 GiB of float32 rows: read into memory below, streamed above


def is_torch_data(data: Any) -> bool:
    """True for a ``torch.utils.data.Dataset`` or ``DataLoader``."""
    return isinstance(data, (Dataset, DataLoader))


def _split(batch: Any, where: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A collated batch -> (features, labels or None)."""
    if isinstance(batch, (tuple, list)):
        if len(batch) == 1:
            return torch.as_tensor(batch[0]), None
        if len(batch) == 2:
            return torch.as_tensor(batch[0]), torch.as_tensor(batch[1])
        raise DataError(f"{where} yields {len(batch)} values per item; expected x, (x,) or (x, y). Wrap the dataset so "
                        "that each item is (features, label).")
    if isinstance(batch, dict):
        raise DataError(f"{where} yields dicts (keys {sorted(batch)[:5]}); expected x, (x,) or (x, y). Wrap the dataset "
                        "so that each item is (features, label).")
    return torch.as_tensor(batch), None


def _loader(data: Dataset | DataLoader, batch_size: int, ordered: bool) -> DataLoader:
    if isinstance(data, DataLoader):
        if ordered and isinstance(data.sampler, RandomSampler):
            raise DataError("The DataLoader shuffles (shuffle=True), so its rows come in a new order each pass and "
                            "predictions would not line up with the data; expected a fixed order. Pass its dataset, or a "
                            "DataLoader with shuffle=False.")
        return data
    if not isinstance(data, Dataset):
        raise DataError(f"Expected a torch.utils.data.Dataset or DataLoader; got {type(data).__name__}.")
    return DataLoader(data, batch_size=batch_size, shuffle=False, num_workers=0)


def _length(data: Dataset | DataLoader) -> int | None:
    dataset = data.dataset if isinstance(data, DataLoader) else data
    if isinstance(dataset, IterableDataset):
        return None
    try:
        return len(dataset)
    except TypeError:
        return None


def materialize(data: Dataset | DataLoader, batch_size: int = 1024, ordered: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Read every item of a dataset or data loader into tensors.

    Parameters
    ----------
    data : Dataset or DataLoader
        Map-style or iterable. A ``DataLoader`` is iterated as it is (its
        batch size, workers, collate function and order); a ``Dataset`` is
        read in order, ``batch_size`` items at a time.
    batch_size : int, default=1024
        Items collated at once when ``data`` is a ``Dataset``.
    ordered : bool, default=False
        Refuse a shuffling ``DataLoader`` (for ``predict``/``transform``,
        whose outputs must follow the rows' order).

    Returns
    -------
    X : Tensor of shape (n_samples, ...), float32
    y : Tensor of shape (n_samples, ...) or None
        The second value of each item, when items are ``(x, y)``.

    Raises
    ------
    DataError
        No items, items that are not ``x`` / ``(x,)`` / ``(x, y)``, or
        items of different shapes.
    """
    where = type(data).__name__
    n = _length(data)
    X = y = None
    parts_X, parts_y, row = [], [], 0
    for batch in _loader(data, batch_size, ordered):
        xb, yb = _split(batch, where)
        xb = xb.to(torch.float32)
        if n is not None:  # one allocation of the final size: no second copy at the end
            if X is None:
                X = torch.empty((n, *xb.shape[1:]), dtype=torch.float32)
                y = torch.empty((n, *yb.shape[1:]), dtype=yb.dtype) if yb is not None else None
            _check_batch(X, xb, row, where)
            X[row : row + len(xb)] = xb
            if y is not None:
                y[row : row + len(xb)] = yb
        else:
            parts_X.append(xb)
            if yb is not None:
                parts_y.append(yb)
        row += len(xb)
    if row == 0:
        raise DataError(f"The {where} yielded no items; expected at least one row.")
    if n is None:
        X = torch.cat(parts_X)
        y = torch.cat(parts_y) if parts_y else None
    elif row < n:  # drop_last, or a sampler over part of the data
        X, y = X[:row], (y[:row] if y is not None else None)
    return X, y


def _check_batch(X: torch.Tensor, xb: torch.Tensor, row: int, where: str) -> None:
    if tuple(xb.shape[1:]) != tuple(X.shape[1:]):
        raise DataError(f"The {where}'s items differ in shape: {tuple(X.shape[1:])} first, then {tuple(xb.shape[1:])} "
                        f"at row {row}; expected one shape for all. Resize or pad the items.")
    if row + len(xb) > len(X):
        raise DataError(f"The {where} yielded more rows than its length {len(X)}; expected len() to count the items.")


class DatasetRows:
    """Random access to the features of a map-style dataset, a chunk of rows at a time.

    A row source for the trainer's chunked path (``Trainer(chunk_rows=...)``,
    :class:`~layerwise.data.stream.ChunkedBatches`), like
    :class:`~layerwise.data.stream.NpyFile`: ``len``, ``shape``,
    :meth:`read` and slicing. Labels are not read (the chunked path trains
    without them); ``targets`` gives them when the dataset has that
    attribute, as torchvision datasets and
    :class:`~layerwise.data.images.ImageFolder` do.

    Parameters
    ----------
    data : Dataset or DataLoader
        Map-style (``len`` and ``data[i]``); from a ``DataLoader`` its
        dataset, workers and collate function are used, not its order.
    batch_size : int, default=256
        Items collated at once while reading a chunk.
    num_workers : int, optional
        Worker processes that read a chunk (default: the ``DataLoader``'s,
        else 0); images decode in parallel with them.
    flatten : bool, default=False
        Rows of ``prod(item_shape)`` values (what the scikit-learn estimators
        take) instead of ``item_shape``.

    Attributes
    ----------
    shape : tuple of int
        ``(n_samples, *item_shape)``, or ``(n_samples, prod(item_shape))``
        with ``flatten``.
    item_shape : tuple of int
        The shape of one item's features, e.g. ``(channels, height, width)``.
    """

    def __init__(self, data: Dataset | DataLoader, batch_size: int = 256, num_workers: int | None = None,
                 flatten: bool = False) -> None:
        loader = data if isinstance(data, DataLoader) else None
        dataset = loader.dataset if loader is not None else data
        if not isinstance(dataset, Dataset) or isinstance(dataset, IterableDataset) or _length(dataset) is None:
            raise DataError(f"DatasetRows needs a map-style dataset (len() and dataset[i]); got {type(dataset).__name__}. "
                            "Read an iterable dataset into memory with materialize(), or write it to a .npy file.")
        if len(dataset) == 0:
            raise DataError("The dataset is empty; expected at least one row.")
        self.dataset, self.batch_size = dataset, int(batch_size)
        self.num_workers = num_workers if num_workers is not None else (loader.num_workers if loader is not None else 0)
        self.collate_fn = loader.collate_fn if loader is not None else None
        first = _split(self._collate([dataset[0]]), type(dataset).__name__)[0]
        self.item_shape, self.flatten = tuple(first.shape[1:]), bool(flatten)
        self.shape = (len(dataset), *((math.prod(self.item_shape),) if self.flatten else self.item_shape))
        self.dtype = np.dtype(np.float32)

    @property
    def targets(self) -> torch.Tensor | None:
        """The dataset's ``targets`` as a tensor, when it has them (no item is read)."""
        targets = getattr(self.dataset, "targets", None)
        return torch.as_tensor(np.asarray(targets)) if targets is not None else None

    def _collate(self, items: list) -> Any:
        from torch.utils.data import default_collate

        return (self.collate_fn or default_collate)(items)

    def __len__(self) -> int:
        return self.shape[0]

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``[start, stop)`` as a float32 array, ``(stop - start, *item_shape)``."""
        return self[start:stop].numpy()

    def __getitem__(self, index: slice) -> torch.Tensor:
        if not isinstance(index, slice):
            raise DataError(f"DatasetRows is read by row ranges (rows[start:stop]); got {type(index).__name__}.")
        rows = range(*index.indices(len(self)))
        out = torch.empty((len(rows), *self.item_shape), dtype=torch.float32)
        loader = DataLoader(Subset(self.dataset, rows), batch_size=self.batch_size, shuffle=False,
                            num_workers=self.num_workers, collate_fn=self.collate_fn)
        i = 0
        for batch in loader:
            xb = _split(batch, type(self.dataset).__name__)[0]
            _check_batch(out, xb, i, type(self.dataset).__name__)
            out[i : i + len(xb)] = xb
            i += len(xb)
        return out.flatten(1) if self.flatten else out

    def __repr__(self) -> str:
        return f"DatasetRows({type(self.dataset).__name__}, shape={self.shape})"


def as_training_data(data: Dataset | DataLoader, max_bytes: int = DEFAULT_MAX_BYTES, batch_size: int = 1024
                     ) -> tuple[torch.Tensor | DatasetRows, torch.Tensor | None]:
    """Tensors when the rows fit in ``max_bytes`` (as float32), else a :class:`DatasetRows` to stream.

    Parameters
    ----------
    data : Dataset or DataLoader
    max_bytes : int, default=1 GiB
        Largest ``n_samples * prod(item_shape) * 4`` read into memory.
    batch_size : int, default=1024

    Returns
    -------
    X : Tensor or DatasetRows
        Pass ``(X,)`` (or ``(X, y)`` for tensors) to ``Trainer.fit``; a
        ``DatasetRows`` trains with ``Trainer(chunk_rows=...)``.
    y : Tensor or None
        The labels: read with the rows in memory; for streamed rows the
        dataset's ``targets`` if it has them, else ``None``.
    """
    n = _length(data)
    if n is None:  # an iterable dataset: no random access, so into memory
        return materialize(data, batch_size)
    rows = DatasetRows(data, batch_size=min(batch_size, 256))
    if n * math.prod(rows.shape[1:]) * 4 <= max_bytes:
        return materialize(data, batch_size)
    return rows, rows.targets

