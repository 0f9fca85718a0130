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


def _split(batch: Any, where: str, row: int = 0) -> tuple[torch.Tensor, torch.Tensor | np.ndarray | None]:
    """A collated batch -> (features, labels or None); ``row``: the batch's first row, for messages.

    Labels that are text (``default_collate`` leaves a list of strings as it is) come back as a NumPy array of
    strings: a classifier's class names, as an image folder's are."""
    if isinstance(batch, (tuple, list)):
        if len(batch) == 1:
            return torch.as_tensor(batch[0]), None
        if len(batch) == 2:
            return torch.as_tensor(batch[0]), _label_batch(batch[1], where, row)
        raise DataError(f"{where} yields {len(batch)} values per item; expected x, (x,) or (x, y). Wrap the dataset so "
                        "that each item is (features, label).")
    if isinstance(batch, dict):
        raise DataError(f"{where} yields dicts (keys {sorted(batch)[:5]}); expected x, (x,) or (x, y). Wrap the dataset "
                        "so that each item is (features, label).")
    return torch.as_tensor(batch), None


def _label_batch(labels: Any, where: str, row: int) -> torch.Tensor | np.ndarray:
    """A batch's labels: a tensor of numbers, or an array of strings (a list of them, from ``default_collate``)."""
    if isinstance(labels, (list, tuple)) and any(isinstance(v, str) for v in labels):
        other = next((i for i, v in enumerate(labels) if not isinstance(v, str)), None)
        if other is not None:
            first = next(i for i, v in enumerate(labels) if isinstance(v, str))
            raise _mixed_labels(where, (row + first, labels[first]), (row + other, labels[other]))
        return np.asarray([str(v) for v in labels])
    if isinstance(labels, (list, tuple)) and any(v is None for v in labels):
        raise _none_label(where, row + next(i for i, v in enumerate(labels) if v is None))
    return torch.as_tensor(labels)


def _mixed_labels(where: str, a: tuple[int, Any], b: tuple[int, Any]) -> DataError:
    return DataError(f"The {where}'s labels mix text and numbers: item {a[0]} has the label {_shown(a[1])} and item {b[0]} "
                     f"{_shown(b[1])}; expected labels of one type. Make every label a string (str(label)) or every label "
                     "a number.")


def _none_label(where: str, index: int) -> DataError:
    return DataError(f"The {where}'s item {index} has the label None; expected a label for every item: a class or a target "
                     "(-1 marks an unlabeled row for a classifier, NaN for a regressor). Give an item without a label -1 "
                     "(or NaN), or yield x alone when no item has a label.")


def _shown(value: Any) -> str:
    """A label in a message: its value and type, e.g. ``'cat' (str)``, ``tensor(3) (Tensor)``."""
    return f"{value!r} ({type(value).__name__})"


def _batches(loader: DataLoader, where: str, data: Any, first_row: int = 0):
    """``(features, labels)`` of every batch of ``loader``, float32 features; a batch torch cannot collate (items of
    different shapes, labels None or of mixed types) becomes a :class:`DataError` that names the item and what was
    wrong, found by reading the items of ``data`` one by one (:func:`_explain`), with torch's error as its cause."""
    row, it = first_row, iter(loader)
    while True:
        try:
            batch = next(it)
        except StopIteration:
            return
        except (RuntimeError, TypeError, ValueError) as e:
            if isinstance(e, DataError):
                raise
            explained = _explain(data, where, row, e)
            if explained is None:
                raise
            raise explained from e
        xb, yb = _split(batch, where, row)
        yield _float32(xb, where, row), yb
        row += len(xb)


def _float32(xb: torch.Tensor, where: str, row: int) -> torch.Tensor:
    """``xb`` as float32; float64 values beyond the float32 range are refused by their size (as infinities they would
    be reported as "NaN or infinity", which the data never held)."""
    x32 = xb.to(torch.float32)
    if xb.dtype == torch.float64 and x32.numel() and bool(torch.isinf(x32).any()) and not bool(torch.isinf(xb).any()):
        big = float(xb[torch.isfinite(xb)].abs().max())
        raise DataError(f"The {where} holds values up to {big:.4g} (in the batch from row {row}), beyond the float32 range "
                        "(about 3.4e38) in which layerwise computes; expected smaller magnitudes. Rescale the data first "
                        "(e.g. divide by a power of ten, or standardise it).")
    return x32


def _item_parts(item: Any) -> tuple[str, Any, Any]:
    """``(form, x, y)`` of one item: form ``"x"``, ``"(x,)"`` or ``"(x, y)"`` (else a description of it)."""
    if isinstance(item, dict):
        return f"a dict (keys {sorted(item)[:5]})", None, None
    if isinstance(item, (tuple, list)):
        if len(item) == 1:
            return "(x,)", item[0], None
        if len(item) == 2:
            return "(x, y)", item[0], item[1]
        return f"a tuple of {len(item)} values", None, None
    return "x", item, None


def _label_kind(y: Any) -> str:
    if y is None:
        return "None"
    if isinstance(y, (str, bytes)):
        return "text"
    return "number" if np.ndim(y) == 0 else "array"


def _explain(data: Any, where: str, start: int, error: Exception) -> DataError | None:
    """Why the items of ``data`` (a Dataset, or a DataLoader's) could not be collated: item 0 against the others (from
    row ``start`` on, where the failing batch began, then the ones before it). None when reading an item fails itself
    (the dataset's own error then stands) or when nothing is found."""
    dataset = data.dataset if isinstance(data, DataLoader) else data
    try:
        n = _length(dataset)
        if n is None:  # an iterable dataset: its items in order, from the start
            items = enumerate(iter(dataset))
        else:
            order = [0, *range(max(start, 1), n), *range(1, min(start, n))]
            items = ((i, dataset[i]) for i in order)
        first = None
        for i, item in items:
            form, x, y = _item_parts(item)
            shape = tuple(np.shape(x)) if x is not None else None
            if first is None:
                first = (form, shape, y, _label_kind(y), tuple(np.shape(y)) if y is not None else None)
                if y is None and form == "(x, y)":
                    return _none_label(where, i)
                continue
            if form != first[0]:
                return DataError(f"The {where}'s item {i} is {form} but item 0 was {first[0]}; expected every item in one "
                                 "form: x, (x,) or (x, y). Wrap the dataset so that each item is (features, label).")
            if shape != first[1]:
                return DataError(f"The {where}'s items differ in shape: {first[1]} first, then {shape} at row {i}; expected "
                                 "one shape for all. Resize or pad the items (images: e.g. torchvision.transforms.Resize; "
                                 "for a folder of images, image_size= resizes them).")
            if form == "(x, y)":
                kind = _label_kind(y)
                if kind == "None":
                    return _none_label(where, i)
                if {kind, first[3]} == {"text", "number"}:
                    return _mixed_labels(where, (0, first[2]), (i, y))
                if tuple(np.shape(y)) != first[4]:
                    return DataError(f"The {where}'s labels differ in shape: {first[4]} at item 0, then "
                                     f"{tuple(np.shape(y))} at item {i}; expected one label (or one row of targets of one "
                                     "length) per item.")
            if i >= start + 100_000:
                break
    except Exception:  # reading an item failed on its own: the dataset's error is the one to see
        return None
    return DataError(f"The {where}'s items could not be collated into batches ({str(error).strip()}); expected items x, "
                     "(x,) or (x, y), features of one shape, labels all numbers or all strings.")


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
    y : Tensor of shape (n_samples, ...), ndarray of str, or None
        The second value of each item, when items are ``(x, y)``: a tensor
        of numbers, or an array of strings when the labels are text.

    Raises
    ------
    DataError
        No items, items that are not ``x`` / ``(x,)`` / ``(x, y)``, items of
        different shapes, labels that are None or mix text and numbers,
        float64 values beyond the float32 range. Each says which item and
        what was expected, where torch's collate would fail.
    """
    where = type(data).__name__
    n = _length(data)
    X = None
    parts_X, parts_y, row = [], [], 0
    for xb, yb in _batches(_loader(data, batch_size, ordered), where, data):
        if parts_y and (yb is None) != (parts_y[0] is None):
            raise DataError(f"The {where}'s items change form at row {row}: "
                            f"{'(x,)' if yb is None else '(x, y)'} after {'(x,)' if parts_y[0] is None else '(x, y)'}; "
                            "expected every item in one form: x, (x,) or (x, y).")
        if parts_y and yb is not None and isinstance(yb, np.ndarray) != isinstance(parts_y[0], np.ndarray):
            text, number = (yb, parts_y[0]) if isinstance(yb, np.ndarray) else (parts_y[0], yb)
            at = (row, text[0]) if text is yb else (0, text[0])
            other = (0, number[0].tolist()) if text is yb else (row, number[0].tolist())
            raise _mixed_labels(where, at, other)
        if n is not None:  # one allocation of the final size: no second copy at the end
            if X is None:
                X = torch.empty((n, *xb.shape[1:]), dtype=torch.float32)
            _check_batch(X, xb, row, where)
            X[row : row + len(xb)] = xb
        else:
            parts_X.append(xb)
        parts_y.append(yb)
        row += len(xb)
    if row == 0:
        raise DataError(f"The {where} yielded no items; expected at least one row.")
    if n is None:
        X = torch.cat(parts_X)
    elif row < n:  # drop_last, or a sampler over part of the data
        X = X[:row]
    return X, _joined_labels(parts_y, where)


def _joined_labels(parts: list, where: str) -> torch.Tensor | np.ndarray | None:
    """The batches' labels as one tensor (numbers) or array (strings); None when the items have none."""
    if not parts or parts[0] is None:
        return None
    if isinstance(parts[0], np.ndarray):
        return np.concatenate(parts)
    shapes = {tuple(p.shape[1:]) for p in parts}
    if len(shapes) > 1:
        raise DataError(f"The {where}'s labels differ in shape between batches: {sorted(shapes)}; expected one label (or "
                        "one row of targets of one length) per item.")
    return torch.cat(parts)


def _check_batch(X: torch.Tensor, xb: torch.Tensor, row: int, where: str, offset: int = 0) -> None:
    if tuple(xb.shape[1:]) != tuple(X.shape[1:]):
        raise DataError(f"The {where}'s items differ in shape: {tuple(X.shape[1:])} first, then {tuple(xb.shape[1:])} "
                        f"at row {row + offset}; expected one shape for all. Resize or pad the items (images: e.g. "
                        "torchvision.transforms.Resize; for a folder of images, image_size= resizes them).")
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
        try:
            first = _split(self._collate([dataset[0]]), type(dataset).__name__)[0]
        except (RuntimeError, TypeError, ValueError) as e:  # e.g. a label None, which default_collate refuses
            if isinstance(e, DataError):
                raise
            explained = _explain(dataset, type(dataset).__name__, 0, e)
            if explained is None:
                raise
            raise explained from e
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
        i, where = 0, type(self.dataset).__name__
        for xb, _ in _batches(loader, where, self.dataset, rows.start):
            _check_batch(out, xb, i, where, rows.start)
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

