"""The training loop and its callbacks."""

from .callbacks import Callback, CosineLR, EarlyStopping
from .loop import Trainer, make_optimizer, predict_in_batches, resolve_device

__all__ = ["Callback", "CosineLR", "EarlyStopping", "Trainer", "make_optimizer", "predict_in_batches", "resolve_device"]
