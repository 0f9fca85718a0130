"""The training loop, its callbacks, loggers and learning-rate schedules."""

from .callbacks import Callback, EarlyStopping
from .loggers import CSVLogger, EpochLogger, JSONLinesLogger, TensorBoardLogger
from .loop import Trainer, make_optimizer, predict_in_batches, resolve_device
from .schedules import AnnealLR, CosineLR, LRScheduler, scheduler_names

__all__ = ["AnnealLR", "CSVLogger", "Callback", "CosineLR", "EarlyStopping", "EpochLogger", "JSONLinesLogger", "LRScheduler",
           "TensorBoardLogger", "Trainer", "make_optimizer", "predict_in_batches", "resolve_device", "scheduler_names"]
