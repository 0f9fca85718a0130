"""The objective protocol: what one step of any model computes."""

from __future__ import annotations

from typing import NamedTuple, Protocol

import torch
from torch import nn

from ..registry import OBJECTIVES, SEMI_SUPERVISED  # defined below the objectives: the parameter table reads them

__all__ = ["OBJECTIVES", "SEMI_SUPERVISED", "Objective", "StepOutput"]


class StepOutput(NamedTuple):
    """What one step computes: the loss to back-propagate and detached logs."""

    loss: torch.Tensor
    logs: dict[str, torch.Tensor]


class Objective(Protocol):
    """``objective(model, batch) -> StepOutput``; ``batch`` is a tuple of tensors.

    A pretraining objective may also define ``build_model(in_shape, n_hidden,
    activation, output, tied, dropout) -> nn.Module`` (``in_shape``: the shape
    of one input row, a tuple) returning a module with ``encoder``, ``decoder``
    and ``output`` attributes; :class:`~layerwise.pipeline.greedy.GreedyLayerwise` then
    trains that model for each layer instead of a dense autoencoder (how RBMs,
    VAEs and convolutional layers plug into greedy stacking).
    """

    def __call__(self, model: nn.Module, batch: tuple[torch.Tensor, ...]) -> StepOutput: ...
