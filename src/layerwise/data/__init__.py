"""Data checks, batching and datasets."""

from .arrays import TensorBatches, check_X, check_y_length, in_unit_interval
from .datasets import DATASETS, load_dataset

__all__ = ["DATASETS", "TensorBatches", "check_X", "check_y_length", "in_unit_interval", "load_dataset"]
