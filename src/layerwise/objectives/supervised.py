"""Supervised objectives for fine-tuning heads, and the weighted mean that every supervised cost here uses.

A batch may carry per-row weights (``class_weight`` and ``sample_weight`` of the estimators): the cost is then
the weighted mean over the batch's rows, ``sum(w_i * l_i) / sum(w_i)`` (:func:`weighted_mean`), what
scikit-learn's losses compute with ``sample_weight`` (``np.average(loss, weights=sample_weight)`` in
``sklearn._loss``, and per batch in ``MLPClassifier``), so a weight means the same here as there: only its
ratio to the other rows' weights counts, and a row of weight 0 has no influence. Without weights the cost
is the plain mean, computed as before (bitwise the same).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..exceptions import DataError
from .base import StepOutput

__all__ = ["Classification", "Regression", "batch_weights", "cross_entropy", "weighted_mean"]


def weighted_mean(values: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """``sum(w_i * v_i) / sum(w_i)`` over the rows, or ``values.mean()`` without weights.

    Parameters
    ----------
    values : Tensor, shape (batch,)
        One loss per row.
    weights : Tensor, shape (batch,), optional
        Non-negative row weights. A batch whose weights are all 0 has nothing to learn from: its mean is 0
        (not 0/0), so the step changes nothing through this term.

    Examples
    --------
    >>> weighted_mean(torch.tensor([1.0, 3.0]), torch.tensor([3.0, 1.0]))
    tensor(1.5000)
    >>> weighted_mean(torch.tensor([1.0, 3.0, 100.0]), torch.tensor([3.0, 1.0, 0.0]))  # a row of weight 0 adds nothing
    tensor(1.5000)
    """
    if weights is None:
        return values.mean()
    weights = weights.to(values.dtype)
    return (weights * values).sum() / weights.sum().clamp_min(torch.finfo(values.dtype).tiny)


def cross_entropy(logits: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """``F.cross_entropy(logits, y)``, the :func:`weighted_mean` of the rows' cross-entropies when ``weights`` is given."""
    if weights is None:
        return F.cross_entropy(logits, y)
    return weighted_mean(F.cross_entropy(logits, y, reduction="none"), weights)


def batch_weights(batch: tuple[torch.Tensor, ...], index: int) -> torch.Tensor | None:
    """The row weights at ``batch[index]``, or None for a batch without them (shorter)."""
    return batch[index] if len(batch) > index else None


class Classification:
    """Softmax cross-entropy on ``model(x)`` logits, with accuracy in the logs.

    Batches are ``(x, y)``, or ``(x, y, w)`` with row weights ``w`` of shape ``(batch,)``: the cost is then
    their weighted mean (:func:`weighted_mean`); the logged accuracy stays unweighted.
    """

    @staticmethod
    def check_targets(y: torch.Tensor, n_outputs: int, name: str = "y") -> None:
        """Refuse labels that are not class indices ``0 .. n_outputs - 1`` (before training, once)."""
        if y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool:
            raise DataError(f"{name} holds {str(y.dtype).replace('torch.', '')} values; Classification expects class indices "
                            f"(integers 0 to {n_outputs - 1}). Encode the labels, e.g. with sklearn's LabelEncoder, and "
                            "pass them as an int64 tensor.")
        if y.ndim != 1:
            raise DataError(f"{name} must be 1-D (one class index per row); got shape {tuple(y.shape)}.")
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= n_outputs):
            raise DataError(f"{name} holds class indices from {int(y.min())} to {int(y.max())}, but the head has {n_outputs} "
                            f"outputs, so labels must be in [0, {n_outputs - 1}]. Build the head with one output per "
                            "class (e.g. ClassifierHead(n_in, n_classes)), and encode the labels as 0..n_classes-1 "
                            "(sklearn's LabelEncoder); -1 (unlabeled) rows must be left out of fine-tuning.")

    def __call__(self, model: nn.Module, batch: tuple[torch.Tensor, ...]) -> StepOutput:
        x, y = batch[0], batch[1]
        logits = model(x)  # (batch, n_classes)
        loss = cross_entropy(logits, y, batch_weights(batch, 2))
        acc = (logits.detach().argmax(dim=1) == y).float().mean()
        return StepOutput(loss, {"accuracy": acc})


    @staticmethod
    def check_fitted(model: nn.Module, data: tuple[torch.Tensor, torch.Tensor]) -> None:
        """After fine-tuning: warn when ``model`` predicts one class for every row of a sample of ``data``."""
        from ..diagnostics import check_predictions

        check_predictions(model, data[0], data[1])


class Regression:
    """Mean squared error of ``model(x)`` against ``y``, ``(batch, n_outputs)``.

    Batches are ``(x, y)``, or ``(x, y, w)`` with row weights ``w`` of shape ``(batch,)``: the cost is then
    the weighted mean over the rows of each row's mean squared error over the outputs (:func:`weighted_mean`).
    """

    @staticmethod
    def check_targets(y: torch.Tensor, n_outputs: int, name: str = "y") -> None:
        """Refuse targets whose shape would broadcast against the predictions (``(n,)`` against ``(n, 1)``
        gives an ``(n, n)`` error matrix) or that are not finite numbers."""
        if not y.dtype.is_floating_point:
            raise DataError(f"{name} holds {str(y.dtype).replace('torch.', '')} values; Regression expects float targets. "
                            "Pass y.float().")
        if y.ndim != 2 or y.shape[1] != n_outputs:
            raise DataError(f"{name} has shape {tuple(y.shape)}, but the head has {n_outputs} output(s); expected "
                            f"({len(y)}, {n_outputs}), one row of targets per row of X. Pass y.reshape(-1, {n_outputs}).")
        if not bool(torch.isfinite(y).all()):
            raise DataError(f"{name} holds NaN or infinite targets; expected finite numbers. Leave the unlabeled rows out.")

    def __call__(self, model: nn.Module, batch: tuple[torch.Tensor, ...]) -> StepOutput:
        x, y = batch[0], batch[1]
        weights = batch_weights(batch, 2)
        if weights is None:
            return StepOutput(F.mse_loss(model(x), y), {})
        per_row = F.mse_loss(model(x), y, reduction="none").flatten(1).mean(1)  # (batch,)
        return StepOutput(weighted_mean(per_row, weights), {})
