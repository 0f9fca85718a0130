"""The training loop and its callbacks."""

from .callbacks import AnnealLR, Callback, CosineLR, EarlyStopping
from .loop import Trainer, make_optimizer, predict_in_batches, resolve_device

__all__ = ["AnnealLR", "Callback", "CosineLR", "EarlyStopping", "Trainer", "make_optimizer", "predict_in_batches", "resolve_device"]
