"""Hyperparameters declared once (:mod:`layerwise.params.table`) and the machinery they drive.

One declaration per parameter gives the estimators' and the ``Trainer``'s
validation (collect-then-raise, one message template, "did you mean"), their
signatures and docstrings, the run config's schema, the messages that point an
old name to its name now, and the check of nested options against a registry
entry's signature.
"""

from .constraints import Constraint, RegistryOptions
from .core import REQUIRED, Param, ParamSet, Renamed, configurable_init
from .table import (
    DATA,
    GREEDY,
    LOGGING,
    PARAMS,
    PRETRAINED,
    PRETRAINED_CLASSIFIER,
    RUN,
    STACKED_AUTOENCODER,
    TRAINER,
    VARIATIONAL_AUTOENCODER,
)

__all__ = ["REQUIRED", "Constraint", "Param", "ParamSet", "Renamed", "RegistryOptions", "configurable_init", "PARAMS",
           "TRAINER", "GREEDY", "PRETRAINED", "PRETRAINED_CLASSIFIER", "STACKED_AUTOENCODER", "VARIATIONAL_AUTOENCODER", "DATA", "RUN", "LOGGING"]
