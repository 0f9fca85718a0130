"""The autoencoder module: any encoder, any decoder."""

from __future__ import annotations

import torch
from torch import nn

from ..exceptions import ConfigError
from .blocks import TiedLinear, dense_block, first_linear, make_activation

__all__ = ["AutoEncoder", "dense_autoencoder"]

OUTPUTS = ("identity", "logistic")


class AutoEncoder(nn.Module):
    """Encoder ``y = f(x)`` and decoder ``x' = g(y)``.

    The decoder returns *pre-activation* values; ``output`` names the function
    that turns them into a reconstruction. Keeping the last activation out of
    the decoder lets the Bernoulli loss use the numerically stable
    with-logits form.

    Parameters
    ----------
    encoder, decoder : nn.Module
        Any modules; ``decoder(encoder(x))`` must have the shape of ``x``.
    output : {"identity", "logistic"}, default="identity"
        ``"logistic"`` for data in [0, 1] (Bernoulli decoder), ``"identity"``
        for real-valued data (Gaussian decoder).

    Examples
    --------
    >>> ae = dense_autoencoder(8, 3, activation="tanh", output="logistic")
    >>> x = torch.rand(5, 8)
    >>> ae.encode(x).shape, ae(x).shape
    (torch.Size([5, 3]), torch.Size([5, 8]))
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, output: str = "identity") -> None:
        super().__init__()
        if output not in OUTPUTS:
            raise ConfigError(f"output must be one of {list(OUTPUTS)}; got {output!r}.")
        self.encoder = encoder
        self.decoder = decoder
        self.output = output
        self.output_activation = make_activation(output)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes, ``(batch, ...) -> (batch, n_code)``."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Reconstruction (after the output activation) from codes."""
        return self.output_activation(self.decoder(z))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction of ``x``, same shape as ``x``."""
        return self.decode(self.encode(x))


def dense_autoencoder(
    n_in: int,
    n_hidden: int,
    activation: str = "relu",
    output: str = "identity",
    tied: bool = False,
    dropout: float = 0.0,
) -> AutoEncoder:
    """A one-hidden-layer dense autoencoder ``n_in -> n_hidden -> n_in``.

    Parameters
    ----------
    n_in, n_hidden : int
        Input width and code width.
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        Activation of the code layer.
    output : {"identity", "logistic"}, default="identity"
        See :class:`AutoEncoder`.
    tied : bool, default=False
        Decoder weight = encoder weight transposed (:class:`TiedLinear`).
    dropout : float, default=0.0
        Dropout on the codes during training.

    Returns
    -------
    AutoEncoder
    """
    encoder = dense_block(n_in, n_hidden, activation, dropout)
    if tied:
        decoder: nn.Module = nn.Sequential(TiedLinear(first_linear(encoder)))
    else:
        decoder = nn.Sequential(nn.Linear(n_hidden, n_in))
    return AutoEncoder(encoder, decoder, output=output)
