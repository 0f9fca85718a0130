"""Loss functions as pure functions of tensors.

Every loss is summed over features and averaged over the batch, so it reads
"per sample" (the convention of Hinton & Salakhutdinov 2006 and of the
PyTorch VAE example) and penalty weights do not depend on the batch size.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from .exceptions import ConfigError

__all__ = ["RECONSTRUCTION_LOSSES", "reconstruction_loss", "l1_activity", "kl_sparsity"]

RECONSTRUCTION_LOSSES = ("mse", "bce")


def reconstruction_loss(output: torch.Tensor, target: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """Reconstruction error per sample, averaged over the batch.

    Parameters
    ----------
    output : Tensor, shape (batch, ...)
        For ``kind="mse"`` the reconstruction; for ``kind="bce"`` the decoder's
        *logits* (pre-sigmoid values).
    target : Tensor, shape (batch, ...)
        The clean input; in [0, 1] for ``kind="bce"``.
    kind : {"mse", "bce"}, default="mse"
        ``"mse"``: squared L2 error, the negative log-likelihood of a Gaussian
        decoder up to constants. ``"bce"``: Bernoulli cross-entropy
        ``-sum x log x' + (1 - x) log(1 - x')`` (Bengio et al. 2007; Vincent et
        al. 2010, eq. 2), computed from logits with the log-sum-exp trick so
        saturated units give no ``log(0)``.

    Returns
    -------
    Tensor, shape ()
    """
    n = output.shape[0]
    if kind == "mse":
        return F.mse_loss(output, target, reduction="sum") / n
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(output, target, reduction="sum") / n
    raise ConfigError(f"Unknown reconstruction loss {kind!r}; expected one of {list(RECONSTRUCTION_LOSSES)}.")


def l1_activity(codes: torch.Tensor) -> torch.Tensor:
    """L1 norm of the *activations* (not the weights), averaged over the batch.

    The sparse-autoencoder penalty ``lambda * sum_j |h_j|`` of Goodfellow,
    Bengio & Courville (2016), section 14.2.1.

    Parameters
    ----------
    codes : Tensor, shape (batch, n_hidden)

    Returns
    -------
    Tensor, shape ()
    """
    return codes.abs().flatten(1).sum(dim=1).mean()


def kl_sparsity(codes: torch.Tensor, target_rate: float = 0.05, eps: float = 1e-6) -> torch.Tensor:
    """KL divergence between a target firing rate and each unit's mean activation.

    ``sum_j KL(rho || rho_hat_j)`` with ``rho_hat_j`` the mean activation of
    unit ``j`` over the batch (Ng 2011, "Sparse autoencoder", CS294A notes,
    section 3). Needs activations in (0, 1), i.e. the ``logistic`` activation.

    Parameters
    ----------
    codes : Tensor, shape (batch, n_hidden)
    target_rate : float, default=0.05
        ``rho``, the desired mean activation of each unit.

    Returns
    -------
    Tensor, shape ()
    """
    rho = float(target_rate)
    rho_hat = codes.flatten(1).mean(dim=0).clamp(eps, 1 - eps)
    return (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()
