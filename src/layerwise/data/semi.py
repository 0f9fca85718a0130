"""Labeled and unlabeled rows drawn together: the batches of semi-supervised training.

Ladder networks and the semi-supervised VAE train on labeled and unlabeled
rows in the same step. :class:`LabeledUnlabeled` holds both sets;
the :class:`~layerwise.train.Trainer` asks it for batches
``(x_labeled, y, x_unlabeled)``, or ``(x_labeled, y, x_unlabeled, w_labeled)``
when the labeled rows carry weights. An epoch is one pass over the unlabeled
rows; the labeled rows are drawn alongside, reshuffled each time they run out
(with 100 labels they repeat, the unlabeled rows do not; Rasmus et al. 2015).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from ..exceptions import DataError

__all__ = ["LabeledUnlabeled", "SemiSupervisedBatches"]


class LabeledUnlabeled:
    """Labeled rows ``(X_labeled, y)`` and unlabeled rows ``X_unlabeled`` for one fit.

    Parameters
    ----------
    X_labeled : Tensor, shape (n_labeled, ...)
    y : Tensor, shape (n_labeled,) or (n_labeled, n_targets)
    X_unlabeled : Tensor, shape (n_unlabeled, ...)
        Rows without labels; the labeled rows may be among them (the ladder
        paper uses every training row as unlabeled data).
    labeled_batch_size : int, optional
        Labeled rows per step; default: as many as unlabeled rows (the
        trainer's ``batch_size``), at most ``n_labeled``.
    weights : Tensor, shape (n_labeled,), optional
        Non-negative finite weights of the labeled rows (``class_weight``
        times ``sample_weight``): each batch then carries its labeled rows'
        weights as a fourth tensor, and the methods weigh their supervised
        cost by them. None: batches of three tensors, as without weights.

    Examples
    --------
    >>> data = LabeledUnlabeled(torch.zeros(4, 3), torch.zeros(4, dtype=torch.long), torch.ones(10, 3))
    >>> [tuple(t.shape[0] for t in b) for b in data.batches(5, torch.Generator().manual_seed(0))]
    [(4, 4, 5), (4, 4, 5)]
    """

    def __init__(self, X_labeled: torch.Tensor, y: torch.Tensor, X_unlabeled: torch.Tensor, labeled_batch_size: int | None = None,
                 weights: torch.Tensor | None = None) -> None:
        for name, t in (("X_labeled", X_labeled), ("y", y), ("X_unlabeled", X_unlabeled)):
            if not isinstance(t, torch.Tensor) or t.ndim < 1 or t.shape[0] < 1:
                raise DataError(f"{name} must be a tensor with at least one row; got {type(t).__name__}"
                                f"{tuple(getattr(t, 'shape', ()))}. Pass torch.from_numpy(...).")
        if y.shape[0] != X_labeled.shape[0]:
            raise DataError(f"y has {y.shape[0]} rows but X_labeled has {X_labeled.shape[0]}; expected one label per labeled row.")
        if tuple(X_labeled.shape[1:]) != tuple(X_unlabeled.shape[1:]):
            raise DataError(f"X_labeled has rows of shape {tuple(X_labeled.shape[1:])} but X_unlabeled has "
                            f"{tuple(X_unlabeled.shape[1:])}; expected the same features in both.")
        if labeled_batch_size is not None and (isinstance(labeled_batch_size, bool) or not isinstance(labeled_batch_size, int)
                                               or labeled_batch_size < 1):
            raise DataError(f"labeled_batch_size must be a positive integer or None; got {labeled_batch_size!r}.")
        _check_weights(weights, X_labeled.shape[0])
        self.X_labeled, self.y, self.X_unlabeled, self.weights = X_labeled, y, X_unlabeled, weights
        self.labeled_batch_size = labeled_batch_size
        self.shape = tuple(X_unlabeled.shape)  # what the trainer reads of "the data": the unlabeled rows
        # what a checkpoint's fingerprint hashes: the weights only when there are some (unweighted fits resume as before)
        self.tensors = (X_labeled, y, X_unlabeled) + ((weights,) if weights is not None else ())

    def __len__(self) -> int:
        return self.X_unlabeled.shape[0]

    def to(self, device: torch.device) -> LabeledUnlabeled:
        """The same rows on ``device``."""
        return LabeledUnlabeled(self.X_labeled.to(device), self.y.to(device), self.X_unlabeled.to(device), self.labeled_batch_size,
                                None if self.weights is None else self.weights.to(device))

    def batches(self, batch_size: int, generator: torch.Generator | None = None) -> SemiSupervisedBatches:
        """One epoch's batches: ``batch_size`` unlabeled rows per step."""
        return SemiSupervisedBatches(self, batch_size, generator)


def _check_weights(weights, n_labeled: int) -> None:
    """Refuse row weights that are not ``n_labeled`` finite numbers >= 0."""
    if weights is None:
        return
    if not isinstance(weights, torch.Tensor) or weights.ndim != 1 or weights.shape[0] != n_labeled:
        raise DataError(f"weights must be a 1-D tensor with one weight per labeled row ({n_labeled}); got "
                        f"{type(weights).__name__}{tuple(getattr(weights, 'shape', ()))}. Pass torch.from_numpy(w).float().")
    if not weights.dtype.is_floating_point:
        raise DataError(f"weights holds {str(weights.dtype).replace('torch.', '')} values; expected floats. Pass weights.float().")
    if not bool(torch.isfinite(weights).all()) or bool((weights < 0).any()):
        raise DataError("weights holds negative, NaN or infinite values; expected finite numbers >= 0, one per labeled row.")


class SemiSupervisedBatches:
    """Batches ``(x_labeled, y, x_unlabeled)`` over one pass of the unlabeled rows
    (``(x_labeled, y, x_unlabeled, w_labeled)`` when the data has weights).

    Both orders are drawn whole from ``generator`` at the start of an epoch,
    so a run resumed at batch ``i`` sees exactly the rows an uninterrupted one
    would (what :meth:`iter_from` is for).
    """

    def __init__(self, data: LabeledUnlabeled, batch_size: int, generator: torch.Generator | None = None) -> None:
        self.data, self.generator = data, generator
        self.n = data.X_unlabeled.shape[0]
        self.batch_size = min(int(batch_size), self.n)
        n_l = data.X_labeled.shape[0]
        self.labeled_batch_size = min(data.labeled_batch_size or self.batch_size, n_l)

    def __len__(self) -> int:
        return (self.n + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        return self.iter_from(0)

    def iter_from(self, first_batch: int) -> Iterator[tuple[torch.Tensor, ...]]:
        d = self.data
        for il, iu in self.iter_indices(first_batch):
            batch = (d.X_labeled.index_select(0, il), d.y.index_select(0, il), d.X_unlabeled.index_select(0, iu))
            # the weights are gathered after the rows, from the same indices: the batches' rows are those of a fit without them
            yield batch if d.weights is None else (*batch, d.weights.index_select(0, il))

    def iter_indices(self, first_batch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The row indices ``(labeled, unlabeled)`` of each batch from ``first_batch`` on.

        What :meth:`iter_from` gathers; under several processes each takes its
        share of these indices (:class:`~layerwise.train.distributed.ShardedBatches`)
        and gathers only its own rows.
        """
        d = self.data
        device = d.X_unlabeled.device
        steps, n_l, bl = len(self), d.X_labeled.shape[0], self.labeled_batch_size
        order_u = torch.randperm(self.n, generator=self.generator).to(device)
        # enough labeled permutations, back to back, for every step of the epoch
        rounds = -(-steps * bl // n_l)
        order_l = torch.cat([torch.randperm(n_l, generator=self.generator) for _ in range(rounds)]).to(device)
        for i in range(first_batch, steps):
            yield order_l[i * bl : (i + 1) * bl], order_u[i * self.batch_size : (i + 1) * self.batch_size]
