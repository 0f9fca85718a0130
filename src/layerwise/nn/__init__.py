"""Pure ``nn.Module``s: no training, no I/O, no printing."""

from .autoencoder import AutoEncoder, dense_autoencoder
from .blocks import ACTIVATIONS, TiedLinear, dense_block, make_activation
from .heads import ClassifierHead, RegressorHead
from .stack import EncoderStack, freeze, unfreeze

__all__ = [
    "ACTIVATIONS",
    "AutoEncoder",
    "ClassifierHead",
    "EncoderStack",
    "RegressorHead",
    "TiedLinear",
    "dense_autoencoder",
    "dense_block",
    "freeze",
    "make_activation",
    "unfreeze",
]
