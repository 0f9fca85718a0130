"""The evidence lower bound of a VAE (Kingma & Welling 2014), KL warm-up, IWAE bound.

The objective returns the *negative* ELBO in nats per sample, so the trainer
minimises it like any other loss. Registered as ``"vae"``: with
``GreedyLayerwise(objective="vae")`` each layer is a one-hidden-layer VAE and
the stacked code is its latent mean.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import nn
from torch.nn import functional as F

from ..exceptions import ConfigError, DataError
from ..losses import kl_normal, reconstruction_loss
from ..nn.blocks import _check_size
from ..nn.vae import VAE, dense_vae
from ..train.callbacks import Callback
from .base import OBJECTIVES, StepOutput

__all__ = ["ELBO", "KLWarmup", "log_likelihood", "elbo_per_sample", "iwae_log_likelihood"]

LIKELIHOODS = ("bce", "mse")
_OUTPUT_OF = {"bce": "logistic", "mse": "identity"}
_LOSS_OF = {v: k for k, v in _OUTPUT_OF.items()}
_LOG_2PI = math.log(2 * math.pi)
# Defaults of the registered "vae" objective (greedy stacking). Measured on `layerwise pretrain -c
# examples/digits_quick.toml --set model.pretrain=vae` (two VAE layers, 5 epochs each): without free bits the
# KL of layer 2 ends at 0.002 nats (collapsed: 64 identical samples); with 0.5 nats per unit, 22.5 and 13.2
# nats, and 64 prior samples read as 9 different digits (a logistic regression on digits, ancestral sampling).
# A KL warm-up of 2 epochs did not add to it (layer 2: 12.7 nats): it stays an option, off by default.
FREE_BITS = 0.5
KL_WARMUP = 0


def log_likelihood(raw: torch.Tensor, x: torch.Tensor, loss: str) -> torch.Tensor:
    """``log p(x|z)`` per sample from the decoder's pre-activation output.

    Parameters
    ----------
    raw : Tensor, shape (batch, ...)
        ``model.decoder(z)``: logits for ``loss="bce"``, the mean for ``"mse"``.
    x : Tensor, shape (batch, ...)
    loss : {"bce", "mse"}
        ``"bce"``: Bernoulli decoder, ``log p = -BCE-with-logits`` summed over
        features; ``"mse"``: Gaussian decoder with unit variance (Kingma &
        Welling 2014, appendix C.1 and C.2).

    Returns
    -------
    Tensor, shape (batch,)
    """
    if loss == "bce":
        # Bernoulli: log p(x|z) = sum_i x_i log y_i + (1 - x_i) log(1 - y_i) (K&W 2014, eq. 11)
        return -F.binary_cross_entropy_with_logits(raw, x, reduction="none").flatten(1).sum(dim=1)
    if loss == "mse":
        # Gaussian, unit variance: log N(x; mu, I) = -1/2 ||x - mu||^2 - D/2 log(2 pi) (K&W 2014, eq. 12)
        return -0.5 * (x - raw).pow(2).flatten(1).sum(dim=1) - 0.5 * x[0].numel() * _LOG_2PI
    raise ConfigError(f"loss must be one of {list(LIKELIHOODS)}; got {loss!r}.")


class ELBO:
    """Negative evidence lower bound: reconstruction + ``beta`` * KL, in nats per sample.

    ``-ELBO = -E_q[log p(x|z)] + KL(q(z|x) || p(z))`` (Kingma & Welling 2014,
    eq. 10), one reparameterized sample of ``z`` per row and the closed-form KL
    (:func:`~layerwise.losses.kl_normal`). ``beta != 1`` gives the beta-VAE
    objective (Higgins et al. 2017).

    Parameters
    ----------
    loss : {"bce", "mse"}, default="bce"
        ``"bce"``: Bernoulli decoder (data in [0, 1]; the model's decoder
        returns logits, ``output="logistic"``). ``"mse"``: Gaussian decoder with
        unit variance, ``1/2 ||x - x'||^2 + D/2 log(2 pi)`` (``output="identity"``);
        standardise the data first.
    beta : float, default=1.0
        Weight of the KL term; :class:`KLWarmup` changes it during training.
    hidden : int, optional
        Width of the hidden layer of the models :meth:`build_model` makes for
        greedy stacking; default: the geometric mean of the input and latent
        widths.
    free_bits : float, default=0.0
        Nats per latent unit that the KL term does not penalise: each unit's
        KL (averaged over the batch) counts as ``max(free_bits, KL_u)``
        (Kingma et al. 2016, "free bits"). A unit can then carry that much
        information at no cost, so the posterior does not collapse onto the
        prior; the ``loss`` is no longer the negative ELBO (``kl`` in the
        logs stays the true KL).
    kl_warmup : int, default=0
        Epochs of KL warm-up when a greedy stage trains with this objective
        (:meth:`stage_callbacks`, :class:`KLWarmup`); 0 turns it off.

    The model must offer ``encode(x) -> (mu, logvar)``, ``reparameterize`` and
    ``decoder`` (duck typing: :class:`~layerwise.nn.vae.VAE`). Logs ``recon``
    (the expected negative log-likelihood) and ``kl``.

    Examples
    --------
    >>> out = ELBO("bce")(dense_vae(8, (6,), 2), (torch.rand(4, 8),))
    >>> out.loss.shape, sorted(out.logs)
    (torch.Size([]), ['kl', 'recon'])
    """

    def __init__(self, loss: str = "bce", beta: float = 1.0, hidden: int | None = None, free_bits: float = 0.0,
                 kl_warmup: int = 0) -> None:
        if loss not in LIKELIHOODS:
            raise ConfigError(f"loss must be one of {list(LIKELIHOODS)}; got {loss!r}. Use 'bce' for data in [0, 1], else 'mse'.")
        if not _is_number(beta) or beta < 0:
            raise ConfigError(f"beta must be a finite number >= 0 (the weight of the KL term); got {beta!r}.")
        if not _is_number(free_bits) or free_bits < 0:
            raise ConfigError(f"free_bits must be a finite number >= 0 (nats per latent unit); got {free_bits!r}.")
        if isinstance(kl_warmup, bool) or not isinstance(kl_warmup, numbers.Integral) or kl_warmup < 0:
            raise ConfigError(f"kl_warmup must be an integer >= 0 (epochs); got {kl_warmup!r}.")
        if hidden is not None:
            _check_size("hidden", hidden)
        self.loss, self.beta, self.hidden = loss, float(beta), hidden
        self.free_bits, self.kl_warmup = float(free_bits), int(kl_warmup)

    def __call__(self, model: nn.Module, batch: tuple[torch.Tensor, ...]) -> StepOutput:
        x = batch[0]
        mu, logvar = self._encode(model, x)  # (batch, latent_dim) each
        z = model.reparameterize(mu, logvar)  # (batch, latent_dim)
        raw = model.decoder(z)  # (batch, *x.shape[1:]) pre-activation
        if self.loss == "bce":
            # Bernoulli decoder: the cross-entropy from logits is -log p(x|z) (K&W 2014, eq. 11)
            recon = reconstruction_loss(raw, x, "bce")
        else:
            # Unit-variance Gaussian: -log p(x|z) = 1/2 ||x - x'||^2 + D/2 log(2 pi) (K&W 2014, eq. 12)
            recon = 0.5 * reconstruction_loss(raw, x, "mse") + 0.5 * x[0].numel() * _LOG_2PI
        # KL(q(z|x) || N(0, I)) in closed form (K&W 2014, appendix B)
        kl = kl_normal(mu, logvar)
        penalty = kl
        if self.free_bits > 0:  # free bits (Kingma et al. 2016, eq. 15): no pressure below free_bits nats per unit
            penalty = kl_normal(mu, logvar, reduction="units").clamp(min=self.free_bits).sum()
        return StepOutput(recon + self.beta * penalty, {"recon": recon.detach(), "kl": kl.detach()})

    def stage_callbacks(self) -> list[Callback]:
        """What a greedy stage trained with this objective adds to its trainer: the KL warm-up."""
        return [KLWarmup(self, self.kl_warmup)] if self.kl_warmup > 0 else []

    def check_trained(self, model: nn.Module, X: torch.Tensor, where: str) -> None:
        """After training: warn when the posterior collapsed (:func:`~layerwise.diagnostics.check_latent`)."""
        from ..diagnostics import check_latent

        check_latent(model, X, where)

    def _encode(self, model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``model.encode(x)`` with clear errors for a model that is not a VAE."""
        output = getattr(model, "output", None)
        if output is not None and output != _OUTPUT_OF[self.loss]:
            raise ConfigError(
                f"ELBO(loss={self.loss!r}) needs a model with output={_OUTPUT_OF[self.loss]!r}; got output={output!r}. "
                f"Build the VAE with output={_OUTPUT_OF[self.loss]!r} or use the loss that matches its output."
            )
        encoded = model.encode(x)
        if not (isinstance(encoded, tuple) and len(encoded) == 2):
            raise ConfigError(
                f"ELBO needs a model whose encode(x) returns (mu, logvar), e.g. layerwise.nn.vae.VAE; "
                f"{type(model).__name__}.encode returned {type(encoded).__name__}."
            )
        return encoded

    def build_model(self, in_shape: tuple[int, ...], n_hidden: int, activation: str, output: str, tied: bool, dropout: float) -> VAE:
        """One greedy layer: a one-hidden-layer :func:`~layerwise.nn.vae.dense_vae` with latent width ``n_hidden``.

        Parameters
        ----------
        in_shape : tuple of int
            Shape of one input row; must be ``(n_features,)``.
        n_hidden : int
            Latent width: the width of the stacked code (the latent mean).
        activation, output, tied, dropout
            As in :func:`~layerwise.nn.vae.dense_vae`.

        Returns
        -------
        VAE
        """
        if len(in_shape) != 1:
            raise DataError(
                f"The 'vae' objective builds dense layers, which need 2-D input (n_samples, n_features); "
                f"got rows of shape {tuple(in_shape)}. Flatten the data first."
            )
        n_in = int(in_shape[0])
        hidden = self.hidden or max(n_hidden, round(math.sqrt(n_in * n_hidden)))
        return dense_vae(n_in, (hidden,), n_hidden, activation, output, dropout, tied)

    def __repr__(self) -> str:
        return (f"ELBO(loss={self.loss!r}, beta={self.beta}, hidden={self.hidden!r}, free_bits={self.free_bits}, "
                f"kl_warmup={self.kl_warmup})")



class KLWarmup(Callback):
    """Raise ``objective.beta`` linearly from 0 to its target over the first ``epochs`` epochs.

    KL cost annealing (Bowman et al. 2016), called warm-up by Sonderby et al.
    (2016): early on the decoder learns to use ``z`` before the KL
    term pulls the posterior to the prior. At the start of epoch ``e``
    (0-based), ``beta = target * min(1, e / epochs)``; the target is restored
    when training ends. The ``loss`` of warm-up epochs is therefore not a bound.

    Parameters
    ----------
    objective : ELBO
        Any objective with a ``beta`` attribute; its current value is the target.
    epochs : int
        Length of the ramp; 0 keeps ``beta`` at its target.

    Examples
    --------
    >>> elbo = ELBO(beta=1.0)
    >>> warmup = KLWarmup(elbo, epochs=4)
    >>> warmup.on_epoch_start(None, None, 1); elbo.beta
    0.25
    """

    def __init__(self, objective, epochs: int) -> None:
        if not _is_number(getattr(objective, "beta", None)):
            raise ConfigError(f"KLWarmup needs an objective with a numeric 'beta' attribute (e.g. ELBO); got {objective!r}.")
        if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
            raise ConfigError(f"epochs must be an integer >= 0 (length of the KL warm-up); got {epochs!r}.")
        self.objective, self.epochs, self.target = objective, int(epochs), float(objective.beta)

    def on_epoch_start(self, trainer, model, epoch: int) -> None:
        ramp = min(1.0, epoch / self.epochs) if self.epochs > 0 else 1.0
        self.objective.beta = self.target * ramp

    def on_fit_end(self, trainer, model) -> None:
        self.objective.beta = self.target


def _likelihood_of(model: nn.Module) -> str:
    """``"bce"`` for a Bernoulli decoder (``output="logistic"``), ``"mse"`` for a Gaussian one."""
    output = getattr(model, "output", None)
    if output not in _LOSS_OF:
        raise ConfigError(f"Expected a VAE with output 'logistic' or 'identity'; got output={output!r} on {type(model).__name__}.")
    return _LOSS_OF[output]


def _rows_of(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """``X`` on the model's device and dtype."""
    p = next(model.parameters())
    return X.to(p.device, p.dtype)


@torch.no_grad()
def elbo_per_sample(
    model: nn.Module, X: torch.Tensor, n_draws: int = 16, batch_size: int = 1024, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Monte-Carlo ELBO of every row (nats, higher is better), with common random numbers.

    The SGVB estimator with the closed-form KL (Kingma & Welling 2014, eq. 7),
    averaged over ``n_draws`` noise vectors ``eps`` that are *the same for
    every row*: each row's value depends on that row only, so the result does
    not change with the batch a row is in or the order of the rows.

    Parameters
    ----------
    model : VAE
    X : Tensor, shape (n, *in_shape)
    n_draws : int, default=16
    batch_size : int, default=1024
    generator : torch.Generator, optional
        Source of ``eps``; seed it for a deterministic score.

    Returns
    -------
    Tensor, shape (n,)
    """
    _check_size("n_draws", n_draws)
    _check_size("batch_size", batch_size)
    loss = _likelihood_of(model)
    was_training = model.training
    model.eval()
    try:
        eps = None
        out = []
        for xb in _rows_of(model, X).split(batch_size):
            mu, logvar = model.encode(xb)  # (b, d) each
            if eps is None:  # drawn once, shared by every batch and row
                source = generator.device if generator is not None else mu.device
                eps = torch.randn((n_draws, 1, mu.shape[1]), generator=generator, device=source).to(mu)  # (n_draws, 1, d)
            z = mu + torch.exp(0.5 * logvar) * eps  # (n_draws, b, d)
            log_px = _log_px(model, z, xb, loss).mean(dim=0)  # (b,)
            out.append(log_px - kl_normal(mu, logvar, reduction="none"))
        return torch.cat(out)
    finally:
        model.train(was_training)


def _log_px(model: nn.Module, z: torch.Tensor, xb: torch.Tensor, loss: str) -> torch.Tensor:
    """``log p(x|z)`` for ``z`` of shape ``(m, b, d)`` and ``xb`` of shape ``(b, ...)``: ``(m, b)``."""
    m, b = z.shape[:2]
    raw = model.decoder(z.reshape(m * b, -1))  # (m * b, *in_shape)
    target = xb.unsqueeze(0).expand(m, *xb.shape).reshape(m * b, *xb.shape[1:])  # (m * b, *in_shape)
    return log_likelihood(raw, target, loss).view(m, b)


@torch.no_grad()
def iwae_log_likelihood(
    model: nn.Module,
    X: torch.Tensor,
    k: int = 5000,
    batch_size: int = 100,
    chunk_size: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Importance-weighted estimate of ``log p(x)`` for every row (nats).

    ``L_k = log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x)``, ``z_i ~ q(z|x)``
    (Burda et al. 2016, eq. 8): a lower bound on ``log p(x)`` in expectation
    that tightens as ``k`` grows; ``k=1`` is the ELBO. Burda et al. report
    test log-likelihoods with ``k=5000``.

    Parameters
    ----------
    model : VAE
        Its ``output`` picks the decoder: Bernoulli (``"logistic"``) or
        unit-variance Gaussian (``"identity"``).
    X : Tensor, shape (n, *in_shape)
    k : int, default=5000
        Importance samples per row.
    batch_size : int, default=100
        Rows encoded together.
    chunk_size : int, optional
        Samples of ``z`` per row decoded at once; memory grows with
        ``batch_size * chunk_size``. Default: about 10,000 decoded rows per call.
    generator : torch.Generator, optional

    Returns
    -------
    Tensor, shape (n,)
        On the model's device.
    """
    for name, value in (("k", k), ("batch_size", batch_size)):
        _check_size(name, value)
    chunk = chunk_size if chunk_size is not None else max(1, 10_000 // batch_size)
    _check_size("chunk_size", chunk)
    loss = _likelihood_of(model)
    was_training = model.training
    model.eval()
    try:
        return torch.cat([_iwae_batch(model, xb, k, chunk, loss, generator) for xb in _rows_of(model, X).split(batch_size)])
    finally:
        model.train(was_training)


def _iwae_batch(model: nn.Module, xb: torch.Tensor, k: int, chunk: int, loss: str, generator) -> torch.Tensor:
    """:func:`iwae_log_likelihood` of one batch ``(b, ...)``, sampling ``z`` in chunks: ``(b,)``."""
    mu, logvar = model.encode(xb)  # (b, d) each
    log_w = []
    for start in range(0, k, chunk):
        m = min(chunk, k - start)
        z = model.reparameterize(mu.expand(m, *mu.shape), logvar.expand(m, *logvar.shape), generator)  # (m, b, d)
        log_pz = -0.5 * (z.pow(2) + _LOG_2PI).sum(dim=-1)  # (m, b): log N(z; 0, I)
        log_qz = -0.5 * ((z - mu).pow(2) / logvar.exp() + logvar + _LOG_2PI).sum(dim=-1)  # (m, b): log q(z|x)
        log_w.append(_log_px(model, z, xb, loss) + log_pz - log_qz)
    # log-mean-exp of the importance weights (Burda et al. 2016, eq. 8)
    return torch.logsumexp(torch.cat(log_w), dim=0) - math.log(k)  # (b,)


def _is_number(v: object) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


@OBJECTIVES.register("vae")
def _vae(loss: str = "bce", beta: float = 1.0, hidden: int | None = None, free_bits: float = FREE_BITS,
         kl_warmup: int = KL_WARMUP) -> ELBO:
    """Variational autoencoder (Kingma & Welling 2014): each greedy layer is a VAE, with free bits and KL warm-up."""
    return ELBO(loss=loss, beta=beta, hidden=hidden, free_bits=free_bits, kl_warmup=kl_warmup)
