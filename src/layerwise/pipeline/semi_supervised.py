"""Semi-supervised training: a registered method on labeled and unlabeled rows together.

Pretraining then fine-tuning (:mod:`layerwise.pipeline.greedy`, :func:`layerwise.pipeline.finetune.finetune`)
uses the unlabeled rows once, before the labels. The methods registered in
:data:`~layerwise.objectives.SEMI_SUPERVISED` keep an unsupervised cost on
them at every step of supervised training, which is how the autoencoder
family reaches about 1% test error with 100 MNIST labels:

- ``"ladder"``: the ladder network (Rasmus et al. 2015), a denoising cost at
  every layer of an encoder with lateral connections to its decoder;
- ``"m1m2"``: the semi-supervised VAE M2 on the codes of a VAE M1
  (Kingma et al. 2014);
- ``"vime"``: for tables, an encoder pretrained to find which entries were
  replaced by draws from their column's marginal, then a predictor whose
  predictions must agree across corrupted copies of each unlabeled row
  (Yoon et al. 2020).

:func:`fit_semi_supervised` is to these methods what :func:`~layerwise.pipeline.finetune.finetune`
is to a pretrained stack: it builds the method's model, runs its preparation
(M1 for ``"m1m2"``, VIME-self for ``"vime"``), then trains it with a :class:`~layerwise.train.Trainer`.

Under ``torchrun`` both phases run data-parallel like any fit: each process
takes its share of every global batch of labeled and unlabeled rows (see
:mod:`layerwise.train.distributed`), and every process ends with the same
weights and running statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..data.semi import LabeledUnlabeled
from ..exceptions import DataError
from ..objectives.base import SEMI_SUPERVISED
from ..train.loop import Trainer

__all__ = ["fit_semi_supervised", "continue_semi_supervised"]


def fit_semi_supervised(
    method: str | Any,
    X_labeled: torch.Tensor,
    y: torch.Tensor,
    X_unlabeled: torch.Tensor,
    hidden_layer_sizes: Sequence[int],
    n_classes: int | None = None,
    activation: str = "relu",
    method_params: dict[str, Any] | None = None,
    trainer: Trainer | None = None,
    prepare_trainer: Trainer | None = None,
    val: tuple[torch.Tensor, torch.Tensor] | None = None,
    labeled_batch_size: int | None = None,
    resume: bool = False,
    sample_weight: torch.Tensor | None = None,
) -> tuple[nn.Module, dict[str, list[dict[str, Any]]]]:
    """Build and train a semi-supervised method on labeled and unlabeled rows.

    Parameters
    ----------
    method : str or method object
        A name in :data:`~layerwise.objectives.SEMI_SUPERVISED` (``"ladder"``,
        ``"m1m2"``, ``"vime"``), built with ``method_params``; or an object built already
        (e.g. ``Ladder(noise_std=0.2)``).
    X_labeled : Tensor, shape (n_labeled, n_features)
    y : Tensor, shape (n_labeled,)
        Class indices in ``[0, n_classes)``.
    X_unlabeled : Tensor, shape (n_unlabeled, n_features)
        Rows without labels (the labeled rows may be among them: the ladder
        paper uses every training row).
    hidden_layer_sizes : sequence of int
        Hidden widths of the method's network (the ladder's encoder; M1's layers).
    n_classes : int, optional
        Default: ``y.max() + 1``.
    activation : str, default="relu"
    method_params : dict, optional
        Options of the method, checked against its signature.
    trainer : Trainer, optional
        Trains the method; ``batch_size`` is the number of *unlabeled* rows per
        step, and an epoch is one pass over them.
    prepare_trainer : Trainer, optional
        Trains what the method needs first (M1 for ``"m1m2"``, the self-supervised encoder for ``"vime"``).
    val : tuple of Tensor, optional
        ``(X, y)`` labeled validation rows (validation loss of the clean model).
    labeled_batch_size : int, optional
        Labeled rows per step; default: as many as unlabeled rows (at most all).
    resume : bool, default=False
        Continue from the trainers' checkpoints.
    sample_weight : Tensor, shape (n_labeled,), optional
        Weights of the labeled rows (finite, >= 0): the method's supervised
        cost becomes their weighted mean over each batch,
        ``sum(w_i * l_i) / sum(w_i)`` (as scikit-learn's losses weigh
        ``sample_weight``); its unsupervised cost and the preparation (M1,
        VIME-self) are not weighted, nor is the validation loss. None: every
        labeled row weighs the same, and training is exactly as without it.

    Returns
    -------
    model : nn.Module
        ``model(x)`` gives class logits in eval mode; ``model.transform(x)`` codes.
    history : dict
        ``{"prepare": [...], "train": [...]}``, one dict per epoch.

    Examples
    --------
    >>> X = torch.rand(200, 8); y = (X[:, 0] > 0.5).long()
    >>> model, history = fit_semi_supervised("ladder", X[:20], y[:20], X, (16,), trainer=Trainer(max_iter=2, batch_size=50))
    >>> model.eval()(X[:3]).shape
    torch.Size([3, 2])
    """
    if isinstance(method, str):
        method = SEMI_SUPERVISED.build(method, method_params)
    elif method_params:
        raise DataError("method_params applies to a method given by name; pass the options to the method object instead.")
    if n_classes is None:
        if y.numel() == 0:
            raise DataError("y is empty: at least one labeled row is needed.")
        n_classes = int(y.max()) + 1
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= n_classes):
        raise DataError(f"y must hold class indices in [0, {n_classes}); got values in [{int(y.min())}, {int(y.max())}]. "
                        "Encode labels with sklearn.preprocessing.LabelEncoder.")
    if sample_weight is not None:
        sample_weight = torch.as_tensor(sample_weight, dtype=torch.float32)
    data = LabeledUnlabeled(X_labeled, y, X_unlabeled, labeled_batch_size, sample_weight)
    model = method.build_model(int(X_labeled.shape[1]), tuple(hidden_layer_sizes), n_classes, activation)
    history: dict[str, list[dict[str, Any]]] = {"prepare": [], "train": []}
    if hasattr(method, "prepare"):
        history["prepare"] = method.prepare(model, data, prepare_trainer or Trainer(), resume=resume)
    # (under torchrun the trainer ends with rank 0's running statistics on every rank, so every rank predicts alike)
    history["train"] = (trainer or Trainer()).fit(model, method, data, val, resume=resume)
    return model.eval(), history


def continue_semi_supervised(method, model: nn.Module, X_labeled: torch.Tensor, y: torch.Tensor, X_unlabeled: torch.Tensor,
                             trainer: Trainer, val=None, sample_weight: torch.Tensor | None = None) -> tuple[nn.Module, list[dict]]:
    """A warm fit: :func:`fit_semi_supervised`'s training of the fitted ``model`` (``trainer`` holds the
    continuation), without building a new one or preparing it again.

    The method's ``prepare`` still runs, with a trainer that trains nothing: what it sets from the data (M2's
    weights of eq. 9, from the numbers of labeled and unlabeled rows) follows these rows, and what it trains (M1,
    VIME's self-supervised encoder) stays as the first fit trained and froze it.

    Returns
    -------
    model : nn.Module
        ``model``, trained further, in eval mode.
    history : list of dict
        One dict per epoch of this fit.
    """
    if sample_weight is not None:
        sample_weight = torch.as_tensor(sample_weight, dtype=torch.float32)  # as fit_semi_supervised takes it
    data = LabeledUnlabeled(X_labeled, y, X_unlabeled, None, sample_weight)
    if hasattr(method, "prepare"):
        method.prepare(model, data, _TrainsNothing())
    history = trainer.fit(model, method, data, val)
    return model.eval(), history


class _TrainsNothing:
    """A stand-in for the trainer of a method's ``prepare`` in a warm fit: what it prepared is trained already."""

    max_iter = 0

    def fit(self, *args, **kwargs) -> list[dict]:
        return []
