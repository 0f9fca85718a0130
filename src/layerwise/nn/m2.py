"""The semi-supervised VAE M2 of Kingma et al. (2014), and M1+M2: M2 on the codes of a VAE.

M2 is a generative model ``p(x, y, z) = p(y) p(z) p(x | y, z)`` in which the
label ``y`` is a latent variable, observed for labeled rows only. Three
networks: a classifier ``q(y|x)``, an encoder ``q(z|x, y)`` and a decoder
``p(x|y, z)``. In M1+M2 the "data" ``x`` of M2 is the latent code ``z1`` of a
VAE (M1) trained first on every row without labels (Kingma et al. 2014,
section 3.2). Inference is the classifier alone: ``forward(x)`` gives the
logits of ``q(y|x)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ..exceptions import ConfigError
from .blocks import _check_size, make_activation

__all__ = ["M2", "M1M2"]

_LOG_2PI = math.log(2 * math.pi)


def _mlp(widths: Sequence[int], activation: str) -> nn.Sequential:
    """Linear layers ``widths[0] -> ... -> widths[-1]`` with ``activation`` between them (none after the last)."""
    layers: list[nn.Module] = []
    for k, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(a, b))
        if k < len(widths) - 2:
            layers.append(make_activation(activation))
    return nn.Sequential(*layers)


class M2(nn.Module):
    """Classifier ``q(y|x)``, encoder ``q(z|x,y)`` and decoder ``p(x|y,z)`` (Kingma et al. 2014, section 3.1.2).

    Parameters
    ----------
    n_features : int
        Width of ``x`` (the M1 latent width in M1+M2).
    n_classes : int
    hidden_layer_sizes : sequence of int, default=(500,)
        Hidden widths of each of the three networks (the paper: one layer of 500).
    latent_dim : int, default=50
        Width of ``z``.
    activation : str, default="relu"
    likelihood : {"gaussian", "bernoulli"}, default="gaussian"
        ``p(x|y,z)``: a diagonal Gaussian with a learned variance (for
        continuous ``x``, such as M1 codes) or Bernoulli (for ``x`` in [0, 1]).

    Examples
    --------
    >>> m2 = M2(6, 3, (8,), 2)
    >>> m2(torch.zeros(4, 6)).shape
    torch.Size([4, 3])
    """

    def __init__(self, n_features: int, n_classes: int, hidden_layer_sizes: Sequence[int] = (500,), latent_dim: int = 50,
                 activation: str = "relu", likelihood: str = "gaussian") -> None:
        super().__init__()
        for name, v in (("n_features", n_features), ("latent_dim", latent_dim)):
            _check_size(name, v)
        if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
            raise ConfigError(f"n_classes must be an integer >= 2; got {n_classes!r}.")
        hidden = tuple(hidden_layer_sizes)
        for h in hidden:
            _check_size("hidden_layer_sizes", h)
        if likelihood not in ("gaussian", "bernoulli"):
            raise ConfigError(f"likelihood must be 'gaussian' or 'bernoulli'; got {likelihood!r}.")
        self.n_features, self.n_classes, self.latent_dim, self.likelihood = n_features, n_classes, latent_dim, likelihood
        self.classifier = _mlp((n_features, *hidden, n_classes), activation)  # q(y|x): logits
        self.encoder = _mlp((n_features + n_classes, *hidden, 2 * latent_dim), activation)  # q(z|x,y): mu, logvar
        out = 2 * n_features if likelihood == "gaussian" else n_features
        self.decoder = _mlp((latent_dim + n_classes, *hidden[::-1], out), activation)  # p(x|y,z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of ``q(y|x)``, ``(batch, n_features) -> (batch, n_classes)``."""
        return self.classifier(x)

    def _log_px(self, raw: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``log p(x|y,z)`` per row from the decoder's output ``raw``."""
        if self.likelihood == "gaussian":
            m, lv = raw.chunk(2, dim=1)
            lv = lv.clamp(-10, 10)  # a variance that collapses on one value would make the bound unbounded
            return -0.5 * (((x - m) ** 2) * torch.exp(-lv) + lv + _LOG_2PI).sum(1)
        return -F.binary_cross_entropy_with_logits(raw, x, reduction="none").sum(1)

    def _posterior(self, x: torch.Tensor, onehot: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder(torch.cat([x, onehot], 1)).float().chunk(2, dim=1)  # (batch, latent_dim) each

    def neg_elbo(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``L(x, y)``: the negative lower bound of ``log p(x, y)``, per row (Kingma et al. 2014, eq. 6).

        ``-L = E_q(z|x,y)[log p(x|y,z) + log p(y) + log p(z) - log q(z|x,y)]``,
        one reparameterised sample, closed-form KL, uniform ``p(y)``.

        Parameters
        ----------
        x : Tensor, shape (batch, n_features)
        y : Tensor, shape (batch,)
            Class indices.

        Returns
        -------
        Tensor, shape (batch,)
        """
        onehot = F.one_hot(y, self.n_classes).to(x.dtype)  # (batch, n_classes)
        mu, logvar = self._posterior(x, onehot)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        log_px = self._log_px(self.decoder(torch.cat([z.to(x.dtype), onehot], 1)).float(), x.float())
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)  # KL(q(z|x,y) || N(0, I)), K&W 2014 appendix B
        return -log_px + kl + math.log(self.n_classes)  # -log p(y) = log K for a uniform prior

    @torch.no_grad()
    def log_weights(self, x: torch.Tensor, y: torch.Tensor, k: int) -> torch.Tensor:
        """Importance weights ``log p(x, y, z) - log q(z|x, y)`` of ``k`` draws per row, ``(k, batch)``.

        ``logsumexp(w, 0) - log k`` is the IWAE bound of ``log p(x, y)`` (Burda et
        al. 2016), which tightens as ``k`` grows: what checks that :meth:`neg_elbo`
        is a valid bound.
        """
        onehot = F.one_hot(y, self.n_classes).to(x.dtype)
        mu, logvar = self._posterior(x, onehot)
        std = torch.exp(0.5 * logvar)
        eps = torch.randn(k, *mu.shape, device=mu.device)  # (k, batch, latent_dim)
        z = mu + std * eps
        log_q = (-0.5 * (eps ** 2 + _LOG_2PI) - 0.5 * logvar).sum(-1)  # (k, batch)
        log_pz = (-0.5 * (z ** 2 + _LOG_2PI)).sum(-1)
        rows = x.shape[0]
        raw = self.decoder(torch.cat([z.reshape(k * rows, -1), onehot.repeat(k, 1)], 1)).float()
        log_px = self._log_px(raw, x.float().repeat(k, 1)).view(k, rows)
        return log_px + log_pz - log_q - math.log(self.n_classes)

    def extra_repr(self) -> str:
        return f"latent_dim={self.latent_dim}, likelihood={self.likelihood!r}"


class M1M2(nn.Module):
    """M2 on the latent codes of a VAE (M1): ``forward(x)`` classifies ``mu_M1(x)``.

    Parameters
    ----------
    m1 : nn.Module
        A trained VAE with ``encode(x) -> (mu, logvar)`` (:class:`~layerwise.nn.VAE`);
        kept frozen here.
    m2 : M2
        With ``n_features`` equal to M1's latent width.
    """

    def __init__(self, m1: nn.Module, m2: M2) -> None:
        super().__init__()
        self.m1, self.m2 = m1, m2
        for p in self.m1.parameters():
            p.requires_grad_(False)

    def codes(self, x: torch.Tensor, sample: bool) -> torch.Tensor:
        """M1's latent code of ``x``: a draw from ``q(z1|x)`` (training, as in the paper) or its mean."""
        with torch.no_grad():
            mu, logvar = self.m1.encode(x)
            return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu) if sample else mu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of ``q(y|z1)`` at M1's latent mean, ``(batch, d) -> (batch, n_classes)``."""
        return self.m2(self.codes(x, sample=False))

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """M1's latent mean, ``(batch, d) -> (batch, m1_latent)``."""
        return self.codes(x, sample=False)

    def train(self, mode: bool = True) -> M1M2:
        super().train(mode)
        self.m1.eval()  # frozen: no dropout, no running statistics
        return self
