"""The objective protocol: what one step of any model computes."""

from __future__ import annotations

from typing import NamedTuple, Protocol

import torch
from torch import nn

from ..registry import Registry

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
    and ``output`` attributes; :class:`~layerwise.greedy.GreedyLayerwise` then
    trains that model for each layer instead of a dense autoencoder (how RBMs,
    VAEs and convolutional layers plug into greedy stacking).
    """

    def __call__(self, model: nn.Module, batch: tuple[torch.Tensor, ...]) -> StepOutput: ...


# Named pretraining objectives. Each factory's signature is the schema of its
# options (``pretrain_params`` in the estimators): unknown keywords are refused
# by ``Registry.build``.
OBJECTIVES: Registry = Registry("pretraining objective")

# Semi-supervised methods that train on labeled and unlabeled rows in every step (ladder networks,
# the M1+M2 VAE). Each factory's signature is the schema of its options; the object it returns builds
# its model (``build_model(n_features, hidden_layer_sizes, n_classes, activation)``) and is the
# objective of the :class:`~layerwise.train.Trainer` on :class:`~layerwise.data.semi.LabeledUnlabeled` data.
SEMI_SUPERVISED: Registry = Registry("semi-supervised method")
