"""scikit-learn estimators built on the PyTorch modules."""

from .estimators import PretrainedClassifier, PretrainedRegressor
from .model_selection import LabeledScorer, SemiSupervisedKFold, labeled_scorer, make_labeled_scorer
from .transformers import StackedAutoencoder
from .vae import VariationalAutoencoder

__all__ = [
    "LabeledScorer",
    "PretrainedClassifier",
    "PretrainedRegressor",
    "SemiSupervisedKFold",
    "StackedAutoencoder",
    "VariationalAutoencoder",
    "labeled_scorer",
    "make_labeled_scorer",
]
