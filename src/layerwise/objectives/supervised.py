"""Supervised objectives for fine-tuning heads."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..exceptions import DataError
from .base import StepOutput

__all__ = ["Classification", "Regression"]


class Classification:
    """Softmax cross-entropy on ``model(x)`` logits, with accuracy in the logs."""

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
        loss = F.cross_entropy(logits, y)
        acc = (logits.detach().argmax(dim=1) == y).float().mean()
        return StepOutput(loss, {"accuracy": acc})


    @staticmethod
    def check_fitted(model: nn.Module, data: tuple[torch.Tensor, torch.Tensor]) -> None:
        """After fine-tuning: warn when ``model`` predicts one class for every row of a sample of ``data``."""
        from ..diagnostics import check_predictions

        check_predictions(model, data[0], data[1])


class Regression:
    """Mean squared error of ``model(x)`` against ``y``, ``(batch, n_outputs)``."""

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
        return StepOutput(F.mse_loss(model(x), y), {})
