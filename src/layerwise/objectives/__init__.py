"""Objectives: how one model learns from one batch.

An objective is a callable ``objective(model, batch) -> StepOutput``. The
trainer knows nothing else about the model, so autoencoders, classifiers,
VAEs and RBMs share one loop. Pretraining objectives are registered by name in
:data:`OBJECTIVES`.
"""

from __future__ import annotations

from .base import OBJECTIVES, SEMI_SUPERVISED, Objective, StepOutput
from .contrastive import ContrastiveDivergence  # registers "rbm"
from .conv_ladder import ConvLadder  # registers the semi-supervised "conv_ladder"
from .elbo import ELBO, KLWarmup, iwae_log_likelihood  # registers "vae"
from .ladder import Ladder  # registers the semi-supervised "ladder"
from .m2 import M2Objective  # registers the semi-supervised "m1m2"
from .reconstruction import ConvReconstruction, Reconstruction  # registers autoencoder .. conv
from .semi import SemiSupervised, SemiSupervisedNet
from .supervised import Classification, Regression
from .tabular import VIMESelf, VIMESemi  # registers "scarf", "vime" and the semi-supervised "vime"

__all__ = [
    "OBJECTIVES",
    "SEMI_SUPERVISED",
    "Ladder",
    "M2Objective",
    "Classification",
    "ContrastiveDivergence",
    "ConvLadder",
    "ConvReconstruction",
    "ELBO",
    "KLWarmup",
    "Objective",
    "Reconstruction",
    "Regression",
    "SemiSupervised",
    "SemiSupervisedNet",
    "StepOutput",
    "VIMESelf",
    "VIMESemi",
    "iwae_log_likelihood",
    "make_objective",
    "with_image_shape",
]


def make_objective(name: str, params: dict | None = None, loss: str | None = None):
    """Build the registered objective ``name`` with ``params``.

    ``loss``, when given, fills the ``loss`` option unless ``params`` sets it
    (and only if the objective takes a ``loss`` option).
    """
    from ..registry import _keyword_names

    params = dict(params or {})
    if loss is not None:
        accepted = _keyword_names(OBJECTIVES.get(name))
        if accepted is None or "loss" in accepted:
            params.setdefault("loss", loss)
    return OBJECTIVES.build(name, params)


def with_image_shape(name: str | None, params: dict | None, image_shape) -> dict | None:
    """``params`` of the objective ``name`` with ``image_shape`` added, when it takes that option and ``params``
    does not set it (a convolutional layer given flat image rows); otherwise ``params`` unchanged.

    ``image_shape`` is ``(channels, height, width)`` or ``(height, width)`` (one channel), or ``None``.

    Examples
    --------
    >>> with_image_shape("conv", {"pool": 2}, (8, 8))
    {'pool': 2, 'image_shape': (1, 8, 8)}
    >>> with_image_shape("denoising", None, (8, 8)) is None
    True
    """
    import inspect

    if image_shape is None or name not in OBJECTIVES or "image_shape" in (params or {}):
        return params
    if "image_shape" not in inspect.signature(OBJECTIVES.get(name)).parameters:
        return params
    shape = tuple(int(v) for v in image_shape)
    return {**(params or {}), "image_shape": (1, *shape) if len(shape) == 2 else shape}
