"""Semi-supervised fine-tuning: a supervised loss plus reconstruction of unlabeled rows.

Pretraining uses the unlabeled rows once, before fine-tuning; the published
few-label results on MNIST (Rasmus et al. 2015, ladder networks; Kingma et
al. 2014, M1+M2) keep an unsupervised cost on them *while* the classifier
trains, so the features cannot drift away from what describes the data.
:class:`SemiSupervised` does that with the pretrained decoders: each step adds
``weight`` times the (denoising) reconstruction error of a batch of unlabeled
rows to the supervised loss of a labeled batch (Ranzato & Szummer 2008 train
an autoencoder and a classifier on shared codes this way).
"""

from __future__ import annotations

import numbers

import torch
from torch import nn

from ..exceptions import ConfigError, DataError
from ..losses import reconstruction_loss
from .base import StepOutput

__all__ = ["SemiSupervised", "SemiSupervisedNet"]


class SemiSupervisedNet(nn.Module):
    """A stack with a head (``forward``) and a decoder (``reconstruct``) sharing its codes.

    Parameters
    ----------
    stack : nn.Module
        ``(batch, d) -> (batch, k)``.
    head : nn.Module
        ``(batch, k) -> (batch, n_out)``.
    decoder : nn.Module
        ``(batch, k) -> (batch, d)`` pre-activation reconstruction, e.g.
        ``stack.unroll().decoder``.
    loss : {"mse", "bce"}
        Reconstruction loss that fits the decoder's output (``"bce"``: logits).
    """

    def __init__(self, stack: nn.Module, head: nn.Module, decoder: nn.Module, loss: str) -> None:
        super().__init__()
        self.stack, self.head, self.decoder, self.loss = stack, head, decoder, loss

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Head outputs, ``(batch, d) -> (batch, n_out)``."""
        return self.head(self.stack(x))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Pre-activation reconstruction of ``x``, ``(batch, d) -> (batch, d)``."""
        return self.decoder(self.stack(x))


class SemiSupervised:
    """``supervised(model, labeled batch) + weight * reconstruction(unlabeled batch)``.

    Parameters
    ----------
    supervised : callable
        The supervised objective, e.g. :class:`~layerwise.objectives.Classification`.
    X_unlabeled : Tensor, shape (n_unlabeled, n_features)
        Rows without labels; a batch of them is drawn (with replacement, from
        torch's global generator, so checkpoints resume it) at every step.
    weight : float, default=1.0
        Weight of the reconstruction error against the supervised loss. The
        error is *per feature* (pretraining's per-row sum divided by the
        number of features), so the weight does not depend on the input size.
    corruption : callable, optional
        ``x -> x_tilde`` applied to the unlabeled rows (denoising; Vincent et
        al. 2010), e.g. ``layerwise.corruption.make_corruption("masking", 0.25)``.
    batch_size : int, default=256
        Unlabeled rows per step.

    Notes
    -----
    The model must offer ``reconstruct(x)`` and ``loss``
    (:class:`SemiSupervisedNet`; :func:`layerwise.pipeline.finetune.finetune` builds it when
    given this objective). In eval mode (validation) only the supervised loss
    is computed, so early stopping watches the supervised loss alone.
    """

    needs_decoder = True

    def __init__(self, supervised, X_unlabeled: torch.Tensor, weight: float = 1.0, corruption=None, batch_size: int = 256) -> None:
        if not isinstance(X_unlabeled, torch.Tensor) or X_unlabeled.ndim < 2 or X_unlabeled.shape[0] < 1:
            raise DataError(f"X_unlabeled must be a tensor of shape (n_unlabeled, n_features) with at least one row; got "
                            f"{type(X_unlabeled).__name__}{tuple(getattr(X_unlabeled, 'shape', ()))}. Pass torch.from_numpy(X_u).float().")
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not weight >= 0:
            raise ConfigError(f"weight must be a number >= 0; got {weight!r}.")
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive integer; got {batch_size!r}.")
        self.supervised, self.X_unlabeled = supervised, X_unlabeled.float()
        self.weight, self.corruption, self.batch_size = float(weight), corruption, int(batch_size)

    def __call__(self, model: nn.Module, batch: tuple[torch.Tensor, ...]) -> StepOutput:
        out = self.supervised(model, batch)
        if not model.training or self.weight == 0.0:
            return out
        if self.X_unlabeled.device != batch[0].device:  # moved once, on the first step
            self.X_unlabeled = self.X_unlabeled.to(batch[0].device)
        X = self.X_unlabeled
        x = X[torch.randint(0, X.shape[0], (self.batch_size,)).to(X.device)]
        x_in = self.corruption(x) if self.corruption is not None else x
        rec = reconstruction_loss(model.reconstruct(x_in), x, model.loss) / x[0].numel()
        return StepOutput(out.loss + self.weight * rec, {**out.logs, "reconstruction": rec.detach()})
