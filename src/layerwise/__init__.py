"""layerwise: unsupervised layer-wise pretraining, then fine-tuning and transfer.

Importing layerwise turns on flushing of denormal floats to zero
(``torch.set_flush_denormal(True)``): on our CPUs denormals slowed ReLU
training up to 1.9x, and the setting only takes effect for the worker threads
when made before torch starts them. Set ``LAYERWISE_FLUSH_DENORMAL=0`` before
importing to keep IEEE denormals.
"""

import os as _os

import torch as _torch

if _os.environ.get("LAYERWISE_FLUSH_DENORMAL", "1") != "0":
    _torch.set_flush_denormal(True)

from ._version import __version__  # noqa: E402
from .data import ImageFolder, NpyFile, load_dataset, load_image_folder  # noqa: E402
from .data.npy import encode_to_npy, write_npy  # noqa: E402
from .exceptions import CheckpointError, ConfigError, DataError, DivergenceError, LayerwiseError, NotFittedError, TrainingWarning  # noqa: E402
from .finetune import finetune  # noqa: E402
from .greedy import GreedyLayerwise  # noqa: E402
from .io import load, save  # noqa: E402
from .transfer import TransferReport, load_pretrained  # noqa: E402
from .metrics import classification_report, regression_report  # noqa: E402
from .nn import (  # noqa: E402
    RBM,
    VAE,
    AutoEncoder,
    ClassifierHead,
    EncoderStack,
    RegressorHead,
    conv_autoencoder,
    dense_autoencoder,
    dense_block,
    dense_vae,
)
from .objectives import ELBO, OBJECTIVES, ContrastiveDivergence, KLWarmup, Reconstruction, iwae_log_likelihood  # noqa: E402
from .sampling import dae_chain  # noqa: E402
from .sklearn import PretrainedClassifier, PretrainedRegressor, StackedAutoencoder, VariationalAutoencoder  # noqa: E402
from .train import CSVLogger, Callback, EpochLogger, JSONLinesLogger, LRScheduler, TensorBoardLogger, Trainer  # noqa: E402

__all__ = [
    "OBJECTIVES",
    "ELBO",
    "TransferReport",
    "load",
    "load_pretrained",
    "save",
    "RBM",
    "VAE",
    "ContrastiveDivergence",
    "KLWarmup",
    "VariationalAutoencoder",
    "conv_autoencoder",
    "dae_chain",
    "dense_vae",
    "iwae_log_likelihood",
    "AutoEncoder",
    "CSVLogger",
    "Callback",
    "CheckpointError",
    "ClassifierHead",
    "ConfigError",
    "DataError",
    "DivergenceError",
    "EncoderStack",
    "EpochLogger",
    "GreedyLayerwise",
    "ImageFolder",
    "JSONLinesLogger",
    "LRScheduler",
    "LayerwiseError",
    "NotFittedError",
    "NpyFile",
    "TrainingWarning",
    "PretrainedClassifier",
    "PretrainedRegressor",
    "Reconstruction",
    "RegressorHead",
    "StackedAutoencoder",
    "TensorBoardLogger",
    "Trainer",
    "__version__",
    "classification_report",
    "dense_autoencoder",
    "dense_block",
    "encode_to_npy",
    "finetune",
    "load_dataset",
    "load_image_folder",
    "regression_report",
    "write_npy",
]
