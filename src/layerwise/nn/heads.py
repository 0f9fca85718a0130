"""Supervised heads that sit on top of an encoder stack."""

from __future__ import annotations

from torch import nn

from .blocks import _check_size

__all__ = ["ClassifierHead", "RegressorHead"]


class ClassifierHead(nn.Sequential):
    """Softmax (multinomial logistic) classifier on codes: returns logits.

    Codes of any shape are flattened first, so the head also sits on
    convolutional feature maps ``(batch, c, h, w)``.

    Parameters
    ----------
    n_in : int
        Width of the (flattened) codes.
    n_classes : int
        Number of classes; the output is ``(batch, n_classes)`` logits.
    dropout : float, default=0.0
        Dropout on the codes before the linear layer.
    """

    def __init__(self, n_in: int, n_classes: int, dropout: float = 0.0) -> None:
        _check_size("n_in", n_in)
        _check_size("n_classes", n_classes)
        layers: list[nn.Module] = [nn.Flatten()] + ([nn.Dropout(dropout)] if dropout > 0 else [])
        super().__init__(*layers, nn.Linear(n_in, n_classes))


class RegressorHead(nn.Sequential):
    """Linear regression on (flattened) codes: ``(batch, n_in) -> (batch, n_outputs)``."""

    def __init__(self, n_in: int, n_outputs: int = 1, dropout: float = 0.0) -> None:
        _check_size("n_in", n_in)
        _check_size("n_outputs", n_outputs)
        layers: list[nn.Module] = [nn.Flatten()] + ([nn.Dropout(dropout)] if dropout > 0 else [])
        super().__init__(*layers, nn.Linear(n_in, n_outputs))
