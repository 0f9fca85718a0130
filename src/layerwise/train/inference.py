"""Inference in large batches without autograd: below the training loop and the distributed helpers,
which both use it (the codes of frozen layers, predictions of the estimators)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["predict_in_batches"]


@torch.no_grad()
def predict_in_batches(module: nn.Module, X: torch.Tensor, batch_size: int = 4096, method: str | None = None) -> torch.Tensor:
    """``module(X)`` (or ``module.method(X)``) in eval mode, in large batches, without autograd.

    ``no_grad`` rather than ``inference_mode``: the result may feed the next
    layer's training, and inference tensors cannot be saved for backward.

    Parameters
    ----------
    module : nn.Module
    X : Tensor, shape (n_samples, ...)
    batch_size : int, default=4096
    method : str, optional
        A method of ``module`` to call instead of ``forward`` (e.g. ``"decode"``).

    Returns
    -------
    Tensor, shape (n_samples, ...)
    """
    was_training = module.training
    module.eval()
    try:
        fn = getattr(module, method) if method else module
        return torch.cat([fn(X[i : i + batch_size]) for i in range(0, X.shape[0], batch_size)])
    finally:
        module.train(was_training)
