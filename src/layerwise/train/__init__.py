"""The training loop and its callbacks."""

from .callbacks import Callback, EarlyStopping
from .loop import Trainer, make_optimizer, predict_in_batches, resolve_device

__all__ = ["Callback", "EarlyStopping", "Trainer", "make_optimizer", "predict_in_batches", "resolve_device"]
