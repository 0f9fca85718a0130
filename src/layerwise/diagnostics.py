"""Checks that say when training ran but failed: dead layers, one class for every row, a collapsed VAE.

Each check looks at what training computed anyway (the codes of a frozen layer, which the next stage
trains on) or at a small sample of rows, once per stage or fit, never per batch, and warns with
:class:`~layerwise.TrainingWarning`, saying what happened and what to change. They warn rather than raise:
full fine-tuning can still revive a dead layer (the layers below it change), a small or unbalanced data set
may give these results legitimately, and a loss that explodes already raises
:class:`~layerwise.DivergenceError` in the training loop.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from .exceptions import TrainingWarning

__all__ = ["SAMPLE_ROWS", "check_codes", "check_predictions", "check_latent"]

#: Rows of the sample a check looks at when nothing was computed for all rows anyway.
SAMPLE_ROWS = 1024
_MOSTLY_DEAD = 0.9  # warn when this fraction of a layer's units or more is dead
_ACTIVE_KL = 0.01  # nats: a latent unit with less KL than this carries (almost) no information


def _advice(solver: str | None) -> str:
    if str(solver).lower() == "sgd":  # "SGD", torch's class name, too
        return ("lower learning_rate_init (SGD's step is not scale-invariant), or use solver='adam'; activation='tanh' "
                "has no dead units")
    return "lower learning_rate_init, use fewer epochs or activation='tanh' (which has no dead units)"


def check_codes(codes: torch.Tensor, layer: int, n_layers: int, solver: str | None = None) -> None:
    """Warn when every unit of layer ``layer`` (1-based), or 90% of them, give the same value for every row.

    Parameters
    ----------
    codes : Tensor, shape (n_rows, ...)
        The layer's codes of its training rows (or of a sample of them).
    """
    flat = codes.detach().flatten(1).float()  # (n_rows, n_units)
    if flat.shape[0] < 2:
        return
    dead = int((flat.amax(0) == flat.amin(0)).sum())
    units = flat.shape[1]
    where = f"Layer {layer} of {n_layers}"
    if dead == units:
        warnings.warn(
            f"{where} is dead after pretraining: each of its {units} units gives one value for every row (for ReLU: 0, "
            "and a dead ReLU gets no gradient), so its codes are the same for every row and nothing reaches the layers "
            f"above. Pretraining failed: {_advice(solver)}.", TrainingWarning, stacklevel=3)
    elif dead >= _MOSTLY_DEAD * units:
        warnings.warn(f"{where}: {dead} of its {units} units give one value for every row after pretraining (dead units); "
                      f"its codes carry little to the layers above. To change it: {_advice(solver)}.", TrainingWarning, stacklevel=3)


@torch.no_grad()
def check_predictions(model: nn.Module, X: torch.Tensor, y: torch.Tensor, name: str = "The fine-tuned classifier") -> None:
    """Warn when ``model`` predicts one class for a sample of training rows that holds several classes."""
    X, y = X[:SAMPLE_ROWS], y[:SAMPLE_ROWS]
    if len(torch.unique(y)) < 2:
        return
    from .train.inference import predict_in_batches

    param = next(model.parameters(), None)
    predicted = predict_in_batches(model, X.to(param.device) if param is not None else X).argmax(1)
    if len(torch.unique(predicted)) == 1:
        share = float((y.to(predicted.device) == predicted[0]).float().mean())
        warnings.warn(
            f"{name} predicts class index {int(predicted[0])} for every one of {len(X)} training rows, whose labels hold "
            f"{len(torch.unique(y))} classes ({share:.0%} of them that class): training failed. Typical causes: a learning "
            "rate too high or too low, too few epochs, dead units in the layers below (a warning says so), or classes so "
            "unbalanced that one wins alone (weigh or resample them).", TrainingWarning, stacklevel=3)


@torch.no_grad()
def check_latent(model: nn.Module, X: torch.Tensor, where: str) -> None:
    """Warn when every latent unit of a VAE is inactive: KL(q(z_u|x) || p(z_u)) below 0.01 nats on a sample of rows.

    A collapsed posterior ignores the input: every sample from the prior decodes to the same mean row
    (Bowman et al. 2016). The KL per unit is the activity measure of Burda et al. (2016) in nats.
    """
    from .losses import kl_normal

    was_training = model.training
    model.eval()
    try:
        param = next(model.parameters())
        mu, logvar = model.encode(X[:SAMPLE_ROWS].to(param.device))  # (n, latent) each
    finally:
        model.train(was_training)
    per_unit = kl_normal(mu, logvar, reduction="units")  # (latent,)
    active = int((per_unit > _ACTIVE_KL).sum())
    if active == 0:
        warnings.warn(
            f"{where}: the posterior collapsed: none of its {mu.shape[1]} latent units carries information (KL per unit "
            f"{float(per_unit.max()):.2g} nats at most, below {_ACTIVE_KL}), so its samples all decode to the same row. "
            "Give the KL term less weight early: kl_warmup (epochs of KL warm-up), free_bits (nats per unit the KL term "
            "does not penalise), a smaller beta, or more epochs.", TrainingWarning, stacklevel=3)
