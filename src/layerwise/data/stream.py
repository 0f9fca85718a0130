"""Data larger than memory: a ``.npy`` file read in chunks, batches shuffled within chunks.

The rows are read with ordinary file reads, not a memory map, so the pages
stay in the OS cache and out of the process's resident memory: training on a
file of any size holds one chunk (plus the model) in memory.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from ..exceptions import DataError

__all__ = ["NpyFile", "ChunkedBatches"]


class NpyFile:
    """A ``.npy`` file read row range by row range.

    Parameters
    ----------
    path : path
        A ``.npy`` file holding a C-ordered ``(n_samples, n_features)`` array
        (or ``(n_samples, channels, height, width)``: the codes of
        convolutional layers) of a float or integer dtype.

    Attributes
    ----------
    shape : tuple of int
    dtype : numpy.dtype
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        try:
            with open(self.path, "rb") as f:
                version = np.lib.format.read_magic(f)
                reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, fortran, dtype = reader(f)
                self.offset = f.tell()
        except (OSError, ValueError) as e:
            raise DataError(f"Cannot read {self.path} as a .npy file: {e}. Save arrays with numpy.save.") from e
        if len(shape) < 2 or fortran or dtype.kind not in "fiu":
            raise DataError(f"{self.path} holds a {'Fortran-ordered ' if fortran else ''}{len(shape)}-D {dtype} array of shape "
                            f"{shape}; streaming needs a C-ordered numeric array of rows, (n_samples, n_features) or "
                            "(n_samples, channels, height, width). Save a single feature as X.reshape(-1, 1).")
        self.shape, self.dtype = shape, dtype

    def __len__(self) -> int:
        return self.shape[0]

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``[start, stop)`` as a float32 array, ``(stop - start, *shape[1:])``."""
        stop = min(stop, self.shape[0])
        width = math.prod(self.shape[1:])
        with open(self.path, "rb") as f:
            f.seek(self.offset + start * width * self.dtype.itemsize)
            out = np.fromfile(f, dtype=self.dtype, count=(stop - start) * width)
        if out.size != (stop - start) * width:
            raise DataError(f"{self.path} is truncated: rows {start}..{stop} are announced by its header but missing.")
        return out.reshape(stop - start, *self.shape[1:]).astype(np.float32, copy=False)

    def __repr__(self) -> str:
        return f"NpyFile({str(self.path)!r}, shape={self.shape})"


class ChunkedBatches:
    """Batches from a :class:`NpyFile` (or an in-memory array), shuffled within chunks.

    Each epoch visits the chunks in a random order and the rows of each chunk
    in a random order: a two-level shuffle that needs one chunk in memory.
    Given the same generator state, an in-memory array and a file holding
    the same rows give the same batches (the test of the streaming path).

    Parameters
    ----------
    data : NpyFile or ndarray or Tensor, shape (n_samples, n_features)
    batch_size : int
    chunk_rows : int, default=65536
        Rows read at once; memory is about ``chunk_rows * n_features * 4`` bytes.
    generator : torch.Generator, optional
    device : torch.device, optional
    """

    def __init__(self, data, batch_size: int, chunk_rows: int = 65536, generator: torch.Generator | None = None,
                 device: torch.device | None = None) -> None:
        self.data, self.batch_size, self.generator, self.device = data, int(batch_size), generator, device
        self.chunk_rows = max(self.batch_size, int(chunk_rows) // self.batch_size * self.batch_size)
        self.n = len(data)
        self.tensors = (self,)  # the trainer reads the row count and device through this

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    def __len__(self) -> int:
        return sum((min(s + self.chunk_rows, self.n) - s + self.batch_size - 1) // self.batch_size
                   for s in range(0, self.n, self.chunk_rows))

    def _chunk(self, start: int) -> torch.Tensor:
        stop = min(start + self.chunk_rows, self.n)
        if isinstance(self.data, NpyFile):
            rows = torch.from_numpy(self.data.read(start, stop))
        else:
            rows = torch.as_tensor(self.data[start:stop], dtype=torch.float32)
        return rows.to(self.device) if self.device is not None else rows

    def __iter__(self) -> Iterator[tuple[torch.Tensor]]:
        return self.iter_from(0)

    def iter_from(self, first_batch: int) -> Iterator[tuple[torch.Tensor]]:
        starts = list(range(0, self.n, self.chunk_rows))
        chunk_order = torch.randperm(len(starts), generator=self.generator).tolist()
        row_orders = [torch.randperm(min(s + self.chunk_rows, self.n) - s, generator=self.generator) for s in starts]
        b = 0
        for c in chunk_order:
            n_batches = (len(row_orders[c]) + self.batch_size - 1) // self.batch_size
            if b + n_batches <= first_batch:  # resuming: skip whole chunks without reading them
                b += n_batches
                continue
            rows = self._chunk(starts[c])
            order = row_orders[c].to(rows.device)
            for i in range(0, len(order), self.batch_size):
                if b >= first_batch:
                    yield (rows.index_select(0, order[i : i + self.batch_size]),)
                b += 1
