"""Networks of VIME (Yoon et al. 2020): an encoder with a mask estimator and a feature estimator, and a predictor.

VIME's self-supervised model (Yoon et al. 2020, sec. 4.1, Fig. 1) is an
encoder ``e`` with two heads on its codes: the *mask estimator* ``s_m``
predicts which entries of the input were replaced by draws from their
column's marginal, the *feature estimator* ``s_r`` reconstructs the clean row.
Only the encoder is kept: in a greedy stack (:class:`VIMEAutoEncoder`, whose
``decoder`` is the feature estimator so the unrolled autoencoder still maps
rows to rows) and under the predictor of the semi-supervised model
(:class:`VIMENet`, sec. 4.2).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..exceptions import ConfigError
from .autoencoder import AutoEncoder, dense_autoencoder
from .blocks import _check_size, dense_block
from .m2 import _mlp

__all__ = ["VIMEAutoEncoder", "VIMENet", "vime_autoencoder"]


class VIMEAutoEncoder(AutoEncoder):
    """An :class:`~layerwise.nn.AutoEncoder` with a second head on the codes: VIME's mask estimator.

    ``decoder`` is VIME's feature estimator ``s_r`` (pre-activation
    reconstruction of the clean row), ``mask_estimator`` its ``s_m``
    (logits of "this entry was replaced"; Yoon et al. 2020, sec. 4.1).

    Parameters
    ----------
    encoder : nn.Module
        ``(batch, d) -> (batch, k)``.
    decoder : nn.Module
        ``(batch, k) -> (batch, d)``, pre-activation.
    mask_estimator : nn.Module
        ``(batch, k) -> (batch, d)`` logits.
    output : {"identity", "logistic"}, default="identity"

    Examples
    --------
    >>> ae = vime_autoencoder(8, 3)
    >>> z = ae.encode(torch.rand(5, 8))
    >>> ae.decoder(z).shape, ae.mask_estimator(z).shape
    (torch.Size([5, 8]), torch.Size([5, 8]))
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, mask_estimator: nn.Module, output: str = "identity") -> None:
        super().__init__(encoder, decoder, output)
        self.mask_estimator = mask_estimator


def vime_autoencoder(n_in: int, n_hidden: int, activation: str = "relu", output: str = "identity", tied: bool = False,
                     dropout: float = 0.0) -> VIMEAutoEncoder:
    """One greedy VIME layer: a dense autoencoder ``n_in -> n_hidden -> n_in`` plus a linear mask estimator.

    The arguments are those of :func:`~layerwise.nn.dense_autoencoder`; the
    mask estimator is ``Linear(n_hidden, n_in)`` (one linear layer, as the
    authors' code's ``mask`` output on the encoder).

    Returns
    -------
    VIMEAutoEncoder
        ``encode``: ``(batch, n_in) -> (batch, n_hidden)``; ``decoder`` and
        ``mask_estimator``: ``(batch, n_hidden) -> (batch, n_in)``.
    """
    ae = dense_autoencoder(n_in, n_hidden, activation, output, tied, dropout)
    return VIMEAutoEncoder(ae.encoder, ae.decoder, nn.Linear(n_hidden, n_in), output)


class VIMENet(nn.Module):
    """VIME's encoder, its two self-supervised heads, and the predictor on its codes (Yoon et al. 2020, sec. 4).

    Parameters
    ----------
    n_features : int
        Input width ``d``.
    hidden_layer_sizes : sequence of int
        Widths of the encoder's dense layers; the codes are the last.
    n_classes : int
        At least 2.
    activation : str, default="relu"
        Activation of the encoder's and the predictor's hidden layers.
    predictor_hidden : sequence of int, default=(100, 100)
        Hidden widths of the predictor MLP (the authors' code: two layers of
        ``hidden_dim = 100``); ``()`` for a linear predictor.
    output : {"identity", "logistic"}, default="identity"
        What turns the feature estimator's output into a reconstruction
        (``"logistic"`` with the Bernoulli loss).

    Notes
    -----
    No batch normalisation or dropout: a row's prediction does not depend on
    the rest of its batch. ``forward`` and ``transform`` use the encoder and
    the predictor only; :meth:`pretext` gives the self-supervised model
    (sharing the encoder) that the preparation phase trains.

    Examples
    --------
    >>> net = VIMENet(8, (6, 4), 3, predictor_hidden=(5,))
    >>> net(torch.zeros(2, 8)).shape, net.transform(torch.zeros(2, 8)).shape
    (torch.Size([2, 3]), torch.Size([2, 4]))
    """

    def __init__(self, n_features: int, hidden_layer_sizes: Sequence[int], n_classes: int, activation: str = "relu",
                 predictor_hidden: Sequence[int] = (100, 100), output: str = "identity") -> None:
        super().__init__()
        _check_size("n_features", n_features)
        hidden = tuple(hidden_layer_sizes)
        if not hidden:
            raise ConfigError("hidden_layer_sizes must hold at least one width: VIME's codes are the last hidden layer.")
        for h in hidden:
            _check_size("hidden_layer_sizes", h)
        for h in predictor_hidden:
            _check_size("predictor_hidden", h)
        if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
            raise ConfigError(f"n_classes must be an integer >= 2; got {n_classes!r}.")
        widths = (n_features, *hidden)
        self.encoder = nn.Sequential(*(dense_block(a, b, activation) for a, b in zip(widths[:-1], widths[1:])))
        self.feature_estimator = nn.Linear(hidden[-1], n_features)  # s_r: the clean row, pre-activation
        self.mask_estimator = nn.Linear(hidden[-1], n_features)  # s_m: logits of "replaced"
        self.predictor = _mlp((hidden[-1], *predictor_hidden, n_classes), activation)  # f: class logits
        self.output = output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits, ``(batch, d) -> (batch, n_classes)``."""
        return self.predictor(self.encoder(x))

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's codes, ``(batch, d) -> (batch, hidden_layer_sizes[-1])``."""
        return self.encoder(x)

    def pretext(self) -> VIMEAutoEncoder:
        """The self-supervised model on this network's encoder and heads (the same parameters, not copies)."""
        return VIMEAutoEncoder(self.encoder, self.feature_estimator, self.mask_estimator, self.output)
