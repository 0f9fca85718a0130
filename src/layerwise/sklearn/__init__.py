"""scikit-learn estimators built on the PyTorch modules."""

from .estimators import PretrainedClassifier, PretrainedRegressor
from .transformers import StackedAutoencoder
from .vae import VariationalAutoencoder

__all__ = ["PretrainedClassifier", "PretrainedRegressor", "StackedAutoencoder", "VariationalAutoencoder"]
