"""Dense building blocks: a linear layer with an activation, and tied decoders.

Activation names follow scikit-learn's MLP (``identity``, ``logistic``,
``tanh``, ``relu``) so the same words work in the estimators and in PyTorch.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..exceptions import ConfigError
from ..registry import Registry

__all__ = ["ACTIVATIONS", "make_activation", "activation_name", "dense_block", "TiedLinear", "first_linear"]

ACTIVATIONS: Registry[type[nn.Module]] = Registry("activation")
ACTIVATIONS.register("identity")(nn.Identity)
ACTIVATIONS.register("logistic")(nn.Sigmoid)
ACTIVATIONS.register("tanh")(nn.Tanh)
ACTIVATIONS.register("relu")(nn.ReLU)

_NAME_OF = {nn.Identity: "identity", nn.Sigmoid: "logistic", nn.Tanh: "tanh", nn.ReLU: "relu"}


def make_activation(name: str) -> nn.Module:
    """Build the activation module called ``name`` (sklearn MLP names)."""
    return ACTIVATIONS.get(name)()


def activation_name(module: nn.Module) -> str | None:
    """The sklearn-style name of an activation module, or ``None`` if unknown."""
    return _NAME_OF.get(type(module))


def _check_size(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"{name} must be a positive integer; got {value!r}. "
            f"Pass the number of units, e.g. {name}=64."
        )
    return value


def dense_block(n_in: int, n_out: int, activation: str = "relu", dropout: float = 0.0) -> nn.Sequential:
    """``Linear(n_in, n_out)`` followed by an activation and optional dropout.

    Parameters
    ----------
    n_in, n_out : int
        Input and output widths.
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
    dropout : float, default=0.0
        Dropout probability after the activation; 0 adds no layer.

    Returns
    -------
    nn.Sequential
        Maps ``(batch, n_in)`` to ``(batch, n_out)``.

    Examples
    --------
    >>> block = dense_block(4, 2, "tanh")
    >>> block(torch.zeros(3, 4)).shape
    torch.Size([3, 2])
    """
    _check_size("n_in", n_in)
    _check_size("n_out", n_out)
    if not 0.0 <= float(dropout) < 1.0:
        raise ConfigError(f"dropout must be in [0, 1); got {dropout!r}.")
    layers: list[nn.Module] = [nn.Linear(n_in, n_out), make_activation(activation)]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class TiedLinear(nn.Module):
    """A decoder layer whose weight is the transpose of an encoder's ``nn.Linear``.

    Only the bias is a parameter of this module; the weight is shared with
    ``source`` (tied weights, as in Vincent et al. 2010), so it is stored once
    in the state dict, under the encoder.

    Parameters
    ----------
    source : nn.Linear
        The encoder layer, mapping ``(batch, n_in)`` to ``(batch, n_out)``.
        This layer maps ``(batch, n_out)`` back to ``(batch, n_in)``.
    """

    def __init__(self, source: nn.Linear) -> None:
        super().__init__()
        if not isinstance(source, nn.Linear):
            raise ConfigError(f"TiedLinear needs an nn.Linear to tie to; got {type(source).__name__}.")
        # A plain attribute, not a submodule: the shared weight must not be
        # registered (and saved) twice.
        object.__setattr__(self, "_source", source)
        self.bias = nn.Parameter(torch.zeros(source.in_features))

    @property
    def source(self) -> nn.Linear:
        return self._source

    @property
    def weight(self) -> torch.Tensor:
        return self._source.weight.t()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return F.linear(z, self._source.weight.t(), self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self._source.out_features}, out_features={self._source.in_features}, tied"


def first_linear(module: nn.Module) -> nn.Linear:
    """The first ``nn.Linear`` inside ``module`` (itself if it is one)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            return m
    raise ConfigError(
        f"Expected a module containing an nn.Linear; got {type(module).__name__} without one."
    )
