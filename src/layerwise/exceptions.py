"""Exceptions raised by layerwise.

Every error a user can cause subclasses both :class:`LayerwiseError` and the
builtin exception people already catch (``ValueError``, ``TypeError``), so
``except ValueError`` keeps working in scikit-learn code.
"""

from __future__ import annotations

from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

__all__ = [
    "LayerwiseError",
    "ConfigError",
    "DataError",
    "CheckpointError",
    "NotFittedError",
    "DivergenceError",
    "TrainingWarning",
    "ReferenceWarning",
]


class LayerwiseError(Exception):
    """Base class of every error raised by layerwise."""


class ConfigError(LayerwiseError, ValueError):
    """A parameter, option or config key is wrong (unknown name, bad value)."""


class DataError(LayerwiseError, ValueError):
    """Input data has the wrong shape, type or values."""


class CheckpointError(LayerwiseError, ValueError):
    """A model file or checkpoint cannot be read or does not fit the model."""


class NotFittedError(LayerwiseError, _SklearnNotFittedError):
    """An estimator or stack was used before ``fit``."""


class DivergenceError(LayerwiseError, FloatingPointError):
    """Training failed beyond use: a NaN, infinite or exploding loss, or a layer whose units are all dead."""


class TrainingWarning(UserWarning):
    """Training ran, but its result is doubtful: dead units, one class predicted for every row, a collapsed VAE."""


class ReferenceWarning(TrainingWarning):
    """The trained network scored below its supervised reference, or below the constant answer, on held-out labels
    (``check_reference`` of the ``Pretrained*`` estimators)."""
