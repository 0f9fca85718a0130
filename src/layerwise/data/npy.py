"""``.npy`` files written chunk by chunk: rows larger than memory, and the codes of a frozen encoder.

Greedy pretraining computes each frozen layer's codes once and trains the
next layer on them. For data larger than memory those codes go to a file
(:func:`~layerwise.train.inference.encode_to_npy`, which runs the trainer's inference), one chunk of rows at a time, and the next stage
streams them back with :class:`~layerwise.data.stream.NpyFile`. Files are
written under a temporary name and renamed when complete, so a crash never
leaves a truncated file under the final name.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..exceptions import DataError
from .stream import NpyFile

__all__ = ["NpyWriter", "write_npy", "read_rows", "value_range"]

DEFAULT_CHUNK_ROWS = 65536


class NpyWriter:
    """Write a C-ordered ``.npy`` array of a known shape, rows appended in order.

    Parameters
    ----------
    path : path
        The final file; written as ``.<name>.tmp<pid>`` beside it and renamed
        by :meth:`close` once every row is there.
    shape : tuple of int
        ``(n_rows, ...)`` of the whole array.
    dtype : numpy dtype, default=float32

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.npy"
    >>> with NpyWriter(path, (3, 2)) as w:
    ...     w.write(np.ones((2, 2))); w.write(np.zeros((1, 2)))
    >>> np.load(path).tolist()
    [[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]]
    """

    def __init__(self, path: str | os.PathLike, shape: Sequence[int], dtype: Any = np.float32) -> None:
        self.path = Path(path)
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.rows = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.name}.tmp{os.getpid()}")
        self._file = open(self._tmp, "wb")
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": self.shape}
        try:
            np.lib.format.write_array_header_1_0(self._file, header)
        except ValueError:  # a header longer than format 1.0's 64 KiB (thousands of dimensions): numpy checks before writing
            np.lib.format.write_array_header_2_0(self._file, header)

    def write(self, rows: np.ndarray | torch.Tensor) -> None:
        """Append ``rows`` of shape ``(k, *shape[1:])``."""
        if isinstance(rows, torch.Tensor):
            rows = rows.detach().cpu().numpy()
        rows = np.ascontiguousarray(rows, dtype=self.dtype)
        if rows.shape[1:] != self.shape[1:] or self.rows + len(rows) > self.shape[0]:
            self.abort()
            raise DataError(f"Rows of shape {rows.shape} do not fit {self.path} of shape {self.shape} after {self.rows} "
                            f"rows; expected (k, {', '.join(map(str, self.shape[1:]))}) with at most "
                            f"{self.shape[0] - self.rows} more rows.")
        rows.tofile(self._file)
        self.rows += len(rows)

    def close(self) -> Path:
        """Check that every row was written, flush to disk and move the file into place."""
        if self._file.closed:
            return self.path
        if self.rows != self.shape[0]:
            self.abort()
            raise DataError(f"{self.rows} rows were written to {self.path} but its header announces {self.shape[0]}; "
                            "expected every row. The source yielded fewer rows than its length.")
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Close and delete the temporary file; the final path is left untouched."""
        if not self._file.closed:
            self._file.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> NpyWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def read_rows(source: Any, start: int, stop: int) -> torch.Tensor:
    """Rows ``[start, stop)`` of an array, tensor, :class:`NpyFile` or row source, as a float32 tensor."""
    if isinstance(source, NpyFile) or hasattr(source, "read"):
        return torch.from_numpy(np.ascontiguousarray(source.read(start, stop)))
    rows = source[start:stop]
    return rows.float() if isinstance(rows, torch.Tensor) else torch.from_numpy(np.asarray(rows, dtype=np.float32))


def value_range(source: Any, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> tuple[float, float]:
    """``(min, max)`` of every value of an array, tensor, :class:`NpyFile` or row source.

    In-memory data is reduced at once; streamed rows are read ``chunk_rows``
    at a time, so a file larger than memory is checked in one pass.

    Examples
    --------
    >>> value_range(np.array([[0.5, 2.0], [-1.0, 0.0]]))
    (-1.0, 2.0)
    """
    if isinstance(source, (np.ndarray, torch.Tensor)):
        return float(source.min()), float(source.max())
    n, chunk_rows = _check_source(source), _check_chunk_rows(chunk_rows)
    low, high = float("inf"), float("-inf")
    for start in range(0, n, chunk_rows):
        rows = read_rows(source, start, start + chunk_rows)
        low, high = min(low, float(rows.min())), max(high, float(rows.max()))
    return low, high


def _check_source(source: Any) -> int:
    if not hasattr(source, "shape") or not hasattr(source, "__len__"):
        raise DataError(f"Expected rows to read: an array, a tensor, an NpyFile or a DatasetRows; got {type(source).__name__}.")
    if len(source) < 1:
        raise DataError(f"The source has no rows (shape {tuple(source.shape)}); expected at least one.")
    return len(source)


def _check_chunk_rows(chunk_rows: int) -> int:
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise DataError(f"chunk_rows must be a positive integer, e.g. {DEFAULT_CHUNK_ROWS}; got {chunk_rows!r}.")
    return chunk_rows


def write_npy(source: Any, path: str | os.PathLike, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Path:
    """Copy the rows of ``source`` to a ``.npy`` file, ``chunk_rows`` at a time (float32).

    Parameters
    ----------
    source : ndarray, Tensor, NpyFile or DatasetRows, shape (n_samples, ...)
    path : path
    chunk_rows : int, default=65536
        Rows held in memory at once.

    Returns
    -------
    Path
        ``path``; wrap it in :class:`~layerwise.data.stream.NpyFile` to
        stream 2-D rows from it.
    """
    n, chunk_rows = _check_source(source), _check_chunk_rows(chunk_rows)
    with NpyWriter(path, (n, *source.shape[1:])) as writer:
        for start in range(0, n, chunk_rows):
            writer.write(read_rows(source, start, start + chunk_rows))
    return Path(path)
