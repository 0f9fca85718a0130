"""Pure ``nn.Module``s: no training, no I/O, no printing."""

from .autoencoder import AutoEncoder, dense_autoencoder
from .blocks import ACTIVATIONS, TiedLinear, dense_block, make_activation
from .conv import conv_autoencoder, conv_block, conv_decoder
from .heads import ClassifierHead, RegressorHead
from .rbm import RBM
from .stack import EncoderStack, freeze, unfreeze
from .tabular import VIMEAutoEncoder, VIMENet, vime_autoencoder
from .vae import VAE, VAEOutput, dense_vae

__all__ = [
    "ACTIVATIONS",
    "RBM",
    "VAE",
    "VAEOutput",
    "VIMEAutoEncoder",
    "VIMENet",
    "AutoEncoder",
    "conv_autoencoder",
    "conv_block",
    "conv_decoder",
    "dense_vae",
    "ClassifierHead",
    "EncoderStack",
    "RegressorHead",
    "TiedLinear",
    "dense_autoencoder",
    "dense_block",
    "freeze",
    "make_activation",
    "unfreeze",
    "vime_autoencoder",
]
