"""Data checks, batching, datasets by name or file, splits, image folders and PyTorch datasets.

``.npy`` writers (:mod:`layerwise.data.npy`: ``write_npy``) are imported from their module or from ``layerwise``;
the codes of an encoder written chunk by chunk (``encode_to_npy``) are in :mod:`layerwise.train.inference`, above
this package: nothing here imports the training code.
"""

from .adapters import DatasetRows, as_training_data, materialize
from .arrays import TensorBatches, check_X, check_y_length, in_unit_interval
from .datasets import DATASETS, load_dataset, read_idx
from .files import load_file
from .images import ImageFolder, load_image_folder
from .prepare import hide_labels, prepare_data
from .splits import split
from .stream import ChunkedBatches, NpyFile

__all__ = [
    "DATASETS",
    "ChunkedBatches",
    "DatasetRows",
    "ImageFolder",
    "NpyFile",
    "TensorBatches",
    "as_training_data",
    "check_X",
    "check_y_length",
    "in_unit_interval",
    "load_dataset",
    "hide_labels",
    "load_file",
    "load_image_folder",
    "materialize",
    "prepare_data",
    "read_idx",
    "split",
]
