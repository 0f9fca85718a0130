"""Each process's share of every global batch, with the weight that keeps DDP's average gradient exact.

Split out of :mod:`layerwise.train.distributed` (the process group and its collectives): this is
arithmetic on row indices, with no communication, and is tested on one process.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from ..data.arrays import TensorBatches
from ..data.semi import SemiSupervisedBatches

__all__ = ["ShardedBatches", "labeled_share", "shard_bounds"]


def shard_bounds(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """``(start, stop)`` of rank ``rank``'s contiguous share of ``n`` rows, as ``torch.tensor_split`` cuts them.

    Examples
    --------
    >>> [shard_bounds(5, r, 2) for r in range(2)]
    [(0, 3), (3, 5)]
    """
    q, extra = divmod(n, world_size)
    start = rank * q + min(rank, extra)
    return start, start + q + (rank < extra)


def labeled_share(n_labeled: int, n_unlabeled: int, rank: int, world_size: int) -> tuple[int, int]:
    """``(start, stop)`` of rank ``rank``'s labeled rows in a batch of ``n_labeled`` labeled and ``n_unlabeled`` unlabeled rows.

    A semi-supervised loss is a mean over the labeled rows plus a mean over
    the unlabeled ones, and each rank's loss gets one weight, its share of
    the unlabeled rows (``ShardedBatches``). The labeled rows are therefore
    split in the same proportions as the unlabeled ones, which makes that
    one weight right for both means. Where the proportions give no whole
    numbers of rows (the shorter last batch of an epoch; a labeled batch that
    does not split like the unlabeled one), every rank takes all of the
    labeled rows: each rank's labeled mean is then the global one, and the
    weights, which average to 1, leave it whole. Exact either way; the
    second computes the labeled rows on every rank. A rank without unlabeled
    rows (weight 0) gets one labeled row, which adds nothing.

    Examples
    --------
    >>> [labeled_share(100, 100, r, 2) for r in range(2)]  # even: halves
    [(0, 50), (50, 100)]
    >>> [labeled_share(100, 37, r, 2) for r in range(2)]  # 19/18 unlabeled rows: 51.4 labeled is no row count
    [(0, 100), (0, 100)]
    >>> [labeled_share(10, 1, r, 2) for r in range(2)]  # rank 1 has no unlabeled row
    [(0, 10), (0, 1)]
    """
    bounds = [shard_bounds(n_unlabeled, r, world_size) for r in range(world_size)]
    start_u, stop_u = bounds[rank]
    if stop_u == start_u:
        return 0, 1
    if any(n_labeled * start % n_unlabeled for start, _ in bounds):
        return 0, n_labeled
    return n_labeled * start_u // n_unlabeled, n_labeled * stop_u // n_unlabeled


class ShardedBatches:
    """This rank's share of every global batch of ``batches``, with its weight.

    Iterating yields ``(batch, rows, scale)``: the rank's rows of the global
    batch, how many real rows they are, and the factor to multiply the loss by
    so that DDP's gradient average is the global batch's gradient
    (``rows * world_size / global_rows``; 1 for even splits). A rank whose
    share is empty (a last batch smaller than the number of ranks) gets one
    row with ``rows=0`` and ``scale=0``: it still runs the step every rank
    must run, and adds nothing.

    In-memory tensors and semi-supervised batches are indexed directly (each
    rank gathers only its rows; labeled rows as :func:`labeled_share` says);
    other batch sources (file chunks) are read whole and sliced.

    Row weights travel with their rows. Semi-supervised batches with weights
    (``(x_labeled, y, x_unlabeled, w_labeled)``) give every rank with unlabeled
    rows *all* of the labeled rows and their weights: a weighted mean is
    normalised by its own rows' weights, so the weighted means of shares do
    not average to the global one, while the whole batch's does on every rank
    (the exact case of :func:`labeled_share`, at the price of computing the
    labeled rows on every rank). Plain batches with a weight column (a
    weighted fine-tuning, ``(x, y, w)``) are split like any other: each
    rank's cost is the weighted mean of its share, whose average is the global
    batch's weighted mean when the shares' weight sums are in proportion to
    their rows (equal weights), and close to it otherwise, not exact.

    Parameters
    ----------
    batches : TensorBatches, SemiSupervisedBatches or ChunkedBatches
        Global batches; its generator must be seeded the same on every rank.
    rank, world_size : int
    """

    def __init__(self, batches, rank: int, world_size: int) -> None:
        self.batches, self.rank, self.world_size = batches, int(rank), int(world_size)
        self.generator = batches.generator
        self._index = None
        if isinstance(batches, TensorBatches):
            # batches of row *indices*, drawn by the same TensorBatches code: the same order as on one process
            device = batches.tensors[0].device
            self._index = TensorBatches((torch.arange(batches.n, device=device),), batches.batch_size, batches.shuffle, batches.generator)

    def __len__(self) -> int:
        return len(self.batches)

    def iter_from(self, first_batch: int) -> Iterator[tuple[tuple[torch.Tensor, ...], int, float]]:
        if self._index is not None:
            for (idx,) in self._index.iter_from(first_batch):
                local, rows, scale = self._share(idx)
                yield tuple(t.index_select(0, local) for t in self.batches.tensors), rows, scale
        elif isinstance(self.batches, SemiSupervisedBatches):
            d = self.batches.data
            for il, iu in self.batches.iter_indices(first_batch):
                local_u, rows, scale = self._share(iu)
                local_l = il[slice(*self._labeled_bounds(il.shape[0], iu.shape[0], rows, d.weights is not None))]
                batch = (d.X_labeled.index_select(0, local_l), d.y.index_select(0, local_l), d.X_unlabeled.index_select(0, local_u))
                yield (batch if d.weights is None else (*batch, d.weights.index_select(0, local_l))), rows, scale
        else:
            for batch in self.batches.iter_from(first_batch):
                local, rows, scale = self._share(torch.arange(batch[0].shape[0], device=batch[0].device))
                yield tuple(t.index_select(0, local) for t in batch), rows, scale

    def _labeled_bounds(self, n_labeled: int, n_unlabeled: int, rows: int, weighted: bool) -> tuple[int, int]:
        """This rank's labeled rows of a batch: :func:`labeled_share`, or every one of them for weighted rows (a rank
        without unlabeled rows, ``rows == 0``, still gets one, which adds nothing)."""
        if weighted and rows:
            return 0, n_labeled
        return labeled_share(n_labeled, n_unlabeled, self.rank, self.world_size)

    def _share(self, idx: torch.Tensor) -> tuple[torch.Tensor, int, float]:
        m = int(idx.shape[0])
        start, stop = shard_bounds(m, self.rank, self.world_size)
        if stop == start:
            return idx[:1], 0, 0.0
        rows = stop - start
        return idx[start:stop], rows, rows * self.world_size / m

