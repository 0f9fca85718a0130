"""layerwise: unsupervised layer-wise pretraining, then fine-tuning and transfer.

Importing layerwise turns on flushing of denormal floats to zero
(``torch.set_flush_denormal(True)``): on our CPUs denormals slowed ReLU
training up to 1.9x, and the setting only takes effect for the worker threads
when made before torch starts them. Set ``LAYERWISE_FLUSH_DENORMAL=0`` before
importing to keep IEEE denormals.

One exception: the ``layerwise`` command asked only for ``--help`` or
``--version`` (or given no argument) imports neither torch nor the rest of
the library, so that it answers at once; should a command run after all,
:func:`layerwise.app.cli.main` imports the library whole first.
"""

import os as _os
import sys as _sys

from ._version import __version__


def _help_or_version_only() -> bool:
    """True in the ``layerwise`` command (the console script, or ``python -m layerwise``, while ``sys.argv[0]``
    is still ``"-m"``) when its arguments only ask for help or the version: their answer needs no torch."""
    argv = _sys.argv if isinstance(getattr(_sys, "argv", None), list) else []
    if not argv:
        return False
    if argv[0] == "-m":
        orig = list(getattr(_sys, "orig_argv", []))
        if not any(a == "-mlayerwise" or (a == "-m" and orig[i + 1:i + 2] == ["layerwise"]) for i, a in enumerate(orig)):
            return False
    elif _os.path.splitext(_os.path.basename(argv[0]))[0] not in ("layerwise", "layerwise-script"):
        return False
    args = argv[1:]
    return not args or any(a in ("-h", "--help", "--version") for a in args)


# Set once: `importlib.reload(layerwise)` (what cli.main does if a command runs in such a process) imports everything.
_LIGHT = _help_or_version_only() if "_LIGHT" not in globals() else False

if not _LIGHT:
    import torch as _torch

    if _os.environ.get("LAYERWISE_FLUSH_DENORMAL", "1") != "0":
        _torch.set_flush_denormal(True)

    from .data import ImageFolder, NpyFile, load_dataset, load_image_folder
    from .data.npy import write_npy
    from .exceptions import (
        CheckpointError,
        ConfigError,
        DataError,
        DivergenceError,
        LayerwiseError,
        NotFittedError,
        ReferenceWarning,
        TrainingWarning,
    )
    from .metrics import classification_report, regression_report
    from .nn import (
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
    from .objectives import ELBO, OBJECTIVES, ContrastiveDivergence, KLWarmup, Reconstruction, iwae_log_likelihood
    from .persistence.folder import TransferReport
    from .persistence.io import load, save
    from .pipeline.finetune import finetune
    from .pipeline.greedy import GreedyLayerwise
    from .pipeline.transfer import load_pretrained
    from .sampling import dae_chain
    from .sklearn import (
        LabeledScorer,
        PretrainedClassifier,
        PretrainedRegressor,
        SemiSupervisedKFold,
        StackedAutoencoder,
        VariationalAutoencoder,
        labeled_scorer,
        make_labeled_scorer,
    )
    from .train import Callback, CSVLogger, EpochLogger, JSONLinesLogger, LRScheduler, TensorBoardLogger, Trainer
    from .train.inference import encode_to_npy

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
    "ReferenceWarning",
    "LabeledScorer",
    "PretrainedClassifier",
    "PretrainedRegressor",
    "Reconstruction",
    "RegressorHead",
    "SemiSupervisedKFold",
    "StackedAutoencoder",
    "TensorBoardLogger",
    "Trainer",
    "__version__",
    "classification_report",
    "dense_autoencoder",
    "dense_block",
    "encode_to_npy",
    "finetune",
    "labeled_scorer",
    "load_dataset",
    "load_image_folder",
    "make_labeled_scorer",
    "regression_report",
    "write_npy",
]
