"""Loss functions as pure functions of tensors.

Every loss is summed over features and averaged over the batch, so it reads
"per sample" (the convention of Hinton & Salakhutdinov 2006 and of the
PyTorch VAE example) and penalty weights do not depend on the batch size.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from .exceptions import ConfigError

__all__ = [
    "RECONSTRUCTION_LOSSES",
    "reconstruction_loss",
    "l1_activity",
    "kl_sparsity",
    "contractive_penalty",
    "jacobian_frobenius",
    "kl_normal",
]

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


# f'(a) of each code activation written in terms of its output h = f(a), so the
# contractive penalty needs only the codes (Rifai et al. 2011, sec. 3).
_DERIVATIVE_FROM_CODES = {
    "identity": lambda h: torch.ones_like(h),
    "logistic": lambda h: h * (1 - h),
    "tanh": lambda h: 1 - h * h,
    "relu": lambda h: (h > 0).to(h.dtype),
}


def contractive_penalty(codes: torch.Tensor, weight: torch.Tensor, activation: str = "logistic") -> torch.Tensor:
    """Squared Frobenius norm of a dense layer's Jacobian ``dh/dx``, averaged over the batch.

    For ``h = f(W x + b)`` the Jacobian is ``diag(f'(a)) W``, so
    ``||J(x)||_F^2 = sum_j f'(a_j)^2 sum_i W_ji^2`` (Rifai et al. 2011,
    "Contractive auto-encoders", eq. 1-2; ``f' = h (1 - h)`` for the logistic).
    Closed form: one pass over the codes, no Jacobian is built.

    Parameters
    ----------
    codes : Tensor, shape (batch, n_hidden)
        ``h = f(W x + b)``.
    weight : Tensor, shape (n_hidden, n_in)
        ``W``, the ``nn.Linear`` weight of the layer.
    activation : {"identity", "logistic", "tanh", "relu"}, default="logistic"
        ``f``; ReLU's derivative is taken as 0 at 0.

    Returns
    -------
    Tensor, shape ()

    Examples
    --------
    >>> W = torch.ones(2, 3)
    >>> contractive_penalty(torch.full((4, 2), 0.5), W, "logistic")  # 2 units * 0.25**2 * 3
    tensor(0.3750)
    """
    if activation not in _DERIVATIVE_FROM_CODES:
        raise ConfigError(
            f"contractive_penalty has a closed form for activations {list(_DERIVATIVE_FROM_CODES)}; "
            f"got {activation!r}. Use jacobian_frobenius for other encoders."
        )
    if codes.dim() != 2 or weight.dim() != 2 or codes.shape[1] != weight.shape[0]:
        raise ConfigError(
            f"contractive_penalty needs codes (batch, n_hidden) and weight (n_hidden, n_in); "
            f"got codes {tuple(codes.shape)} and weight {tuple(weight.shape)}."
        )
    slope = _DERIVATIVE_FROM_CODES[activation](codes)  # (batch, n_hidden)
    return (slope.pow(2) @ weight.pow(2).sum(dim=1)).mean()


def jacobian_frobenius(fn, x: torch.Tensor) -> torch.Tensor:
    """Squared Frobenius norm of the Jacobian of ``fn`` at each sample, batch mean.

    The contractive penalty of Rifai et al. (2011, eq. 2) for any encoder,
    through ``torch.func`` (``vmap`` over ``jacrev``): the result is
    differentiable with respect to the parameters ``fn`` uses. It builds the
    whole ``(batch, *code_shape, *x.shape[1:])`` Jacobian, so prefer
    :func:`contractive_penalty` for a dense layer. Randomness (dropout) is drawn
    independently per sample; batch-norm in training mode is not supported.

    Parameters
    ----------
    fn : callable
        Maps ``(batch, ...)`` to ``(batch, ...)`` row by row (an encoder).
    x : Tensor, shape (batch, ...)

    Returns
    -------
    Tensor, shape ()

    Examples
    --------
    >>> jacobian_frobenius(lambda x: 3 * x, torch.zeros(5, 2))  # J = 3 I, 2 x 9
    tensor(18.)
    """

    def one_row(row: torch.Tensor) -> torch.Tensor:
        return fn(row.unsqueeze(0)).squeeze(0)

    jac = torch.func.vmap(torch.func.jacrev(one_row), randomness="different")(x)  # (batch, *code, *row)
    return jac.pow(2).flatten(1).sum(dim=1).mean()


def kl_normal(mu: torch.Tensor, logvar: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """KL divergence from a diagonal Gaussian posterior to the standard normal prior.

    Closed form of ``KL(N(mu, sigma^2) || N(0, I))`` (Kingma & Welling 2014,
    appendix B): ``-1/2 * sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2)``,
    summed over latent dimensions.

    Parameters
    ----------
    mu, logvar : Tensor, shape (batch, latent_dim)
        Mean and log-variance ``log sigma^2`` of ``q(z|x)``.
    reduction : {"mean", "none", "units"}, default="mean"
        ``"mean"``: averaged over the batch, shape ``()`` (the convention of
        this module); ``"none"``: one value per sample, shape ``(batch,)``;
        ``"units"``: one value per latent unit, averaged over the batch, shape
        ``(latent_dim,)`` (free bits, and the activity of each unit).

    Returns
    -------
    Tensor, shape (), (batch,) or (latent_dim,)

    Examples
    --------
    >>> kl_normal(torch.ones(2, 3), torch.zeros(2, 3)).item()  # 0.5 per dimension
    1.5
    """
    # Kingma & Welling 2014, appendix B: -KL = 1/2 sum(1 + log sigma^2 - mu^2 - sigma^2)
    per_unit = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())  # (batch, latent_dim)
    if reduction == "units":
        return per_unit.mean(dim=0)
    per_sample = per_unit.flatten(1).sum(dim=1)  # (batch,)
    if reduction == "mean":
        return per_sample.mean()
    if reduction == "none":
        return per_sample
    raise ConfigError(f"reduction must be 'mean', 'none' or 'units'; got {reduction!r}.")
