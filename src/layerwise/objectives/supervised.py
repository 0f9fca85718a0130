"""Supervised objectives for fine-tuning heads."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .base import StepOutput

__all__ = ["Classification", "Regression"]


class Classification:
    """Softmax cross-entropy on ``model(x)`` logits, with accuracy in the logs."""

    def __call__(self, model: nn.Module, batch: tuple[torch.Tensor, ...]) -> StepOutput:
        x, y = batch[0], batch[1]
        logits = model(x)  # (batch, n_classes)
        loss = F.cross_entropy(logits, y)
        acc = (logits.detach().argmax(dim=1) == y).float().mean()
        return StepOutput(loss, {"accuracy": acc})


class Regression:
    """Mean squared error of ``model(x)`` against ``y``, ``(batch, n_outputs)``."""

    def __call__(self, model: nn.Module, batch: tuple[torch.Tensor, ...]) -> StepOutput:
        x, y = batch[0], batch[1]
        return StepOutput(F.mse_loss(model(x), y), {})
