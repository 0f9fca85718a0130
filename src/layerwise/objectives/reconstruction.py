"""Reconstruction: plain, sparse and denoising autoencoders as one objective.

Plain, sparse and denoising are options of one :class:`Reconstruction`
objective (pylearn2-style composition), registered under friendly names.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..corruption import make_corruption
from ..exceptions import ConfigError
from ..losses import RECONSTRUCTION_LOSSES, kl_sparsity, l1_activity, reconstruction_loss
from .base import OBJECTIVES, StepOutput

__all__ = ["Reconstruction"]

SPARSITY = (None, "l1", "kl")


class Reconstruction:
    """Reconstruct the (clean) input: plain, sparse and denoising autoencoders.

    Parameters
    ----------
    loss : {"mse", "bce"}, default="mse"
        See :func:`layerwise.losses.reconstruction_loss`. ``"bce"`` expects the
        model's decoder to return logits (``AutoEncoder(output="logistic")``).
    sparsity : {None, "l1", "kl"}, default=None
        Penalty on the code *activations*: L1 (:func:`~layerwise.losses.l1_activity`)
        or KL to a target rate (:func:`~layerwise.losses.kl_sparsity`, needs
        ``logistic`` codes).
    sparsity_weight : float, default=1e-3
        Weight of the sparsity penalty.
    target_rate : float, default=0.05
        Target mean activation for ``sparsity="kl"``.
    corruption : callable, optional
        ``x -> x_tilde`` applied to the input in training mode; the target stays
        the clean ``x`` (denoising autoencoder, Vincent et al. 2008).

    The model must offer ``encode(x)``, ``decoder(z)`` (pre-activation output)
    and ``output_activation`` (duck typing: :class:`~layerwise.nn.AutoEncoder`).
    """

    def __init__(
        self,
        loss: str = "mse",
        sparsity: str | None = None,
        sparsity_weight: float = 1e-3,
        target_rate: float = 0.05,
        corruption: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        if loss not in RECONSTRUCTION_LOSSES:
            raise ConfigError(f"loss must be one of {list(RECONSTRUCTION_LOSSES)}; got {loss!r}.")
        if sparsity not in SPARSITY:
            raise ConfigError(f"sparsity must be one of {list(SPARSITY)}; got {sparsity!r}.")
        if not float(sparsity_weight) >= 0:
            raise ConfigError(f"sparsity_weight must be >= 0; got {sparsity_weight!r}.")
        if not 0 < float(target_rate) < 1:
            raise ConfigError(f"target_rate must be in (0, 1); got {target_rate!r}.")
        self.loss = loss
        self.sparsity = sparsity
        self.sparsity_weight = float(sparsity_weight)
        self.target_rate = float(target_rate)
        self.corruption = corruption

    def __call__(self, model: nn.Module, batch: tuple[torch.Tensor, ...]) -> StepOutput:
        x = batch[0]
        x_in = self.corruption(x) if (self.corruption is not None and model.training) else x
        z = model.encode(x_in)  # (batch, n_code)
        raw = model.decoder(z)  # (batch, *x.shape[1:]) pre-activation
        out = raw if self.loss == "bce" else model.output_activation(raw)
        recon = reconstruction_loss(out, x, self.loss)
        logs = {"recon": recon.detach()}
        loss = recon
        if self.sparsity is not None:
            penalty = l1_activity(z) if self.sparsity == "l1" else kl_sparsity(z, self.target_rate)
            loss = loss + self.sparsity_weight * penalty
            logs["sparsity"] = penalty.detach()
        return StepOutput(loss, logs)

    def __repr__(self) -> str:
        return (
            f"Reconstruction(loss={self.loss!r}, sparsity={self.sparsity!r}, "
            f"sparsity_weight={self.sparsity_weight}, corruption={self.corruption!r})"
        )


@OBJECTIVES.register("autoencoder")
def _autoencoder(loss: str = "mse") -> Reconstruction:
    """Plain autoencoder: reconstruct the input."""
    return Reconstruction(loss=loss)


@OBJECTIVES.register("sparse")
def _sparse(loss: str = "mse", penalty: str = "l1", weight: float = 1e-3, target_rate: float = 0.05) -> Reconstruction:
    """Sparse autoencoder: L1 or KL penalty on the code activations."""
    return Reconstruction(loss=loss, sparsity=penalty, sparsity_weight=weight, target_rate=target_rate)


@OBJECTIVES.register("denoising")
def _denoising(loss: str = "mse", noise: str = "masking", level: float = 0.25) -> Reconstruction:
    """Denoising autoencoder: reconstruct the clean input from a corrupted copy."""
    return Reconstruction(loss=loss, corruption=make_corruption(noise, level))
