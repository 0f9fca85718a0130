"""Data checks, batching, datasets by name or file, and splits."""

from .arrays import TensorBatches, check_X, check_y_length, in_unit_interval
from .datasets import DATASETS, load_dataset, read_idx
from .files import load_file
from .prepare import hide_labels, prepare_data
from .splits import split
from .stream import ChunkedBatches, NpyFile

__all__ = [
    "DATASETS",
    "ChunkedBatches",
    "NpyFile",
    "TensorBatches",
    "check_X",
    "check_y_length",
    "in_unit_interval",
    "load_dataset",
    "hide_labels",
    "load_file",
    "prepare_data",
    "read_idx",
    "split",
]
