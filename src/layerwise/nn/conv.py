"""Convolutional autoencoder layers: conv blocks and their mirrored decoders.

One layer of a convolutional stack is ``Conv2d -> activation -> MaxPool2d``
(Masci et al. 2011, "Stacked convolutional auto-encoders for hierarchical
feature extraction"); its decoder brings the codes back to the input's shape
with a transposed convolution or an upsampling followed by a convolution.
Flat image rows ``(n, c * h * w)`` are accepted with an ``image_shape``: the
encoder starts with ``nn.Unflatten`` and the decoder ends with ``nn.Flatten``,
so such a layer fits where a dense layer would.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch  # noqa: F401  (the doctests use it)
from torch import nn

from ..exceptions import ConfigError, DataError
from .autoencoder import AutoEncoder
from .blocks import _check_size, make_activation

__all__ = [
    "CONV_DECODERS",
    "conv_block",
    "conv_decoder",
    "conv_autoencoder",
    "check_conv_options",
    "check_image_shape",
    "pooled_shape",
]

CONV_DECODERS = ("transpose", "upsample")


def _check_kernel(kernel_size: object) -> int:
    k = _check_size("kernel_size", kernel_size)
    if k % 2 == 0:
        raise ConfigError(
            f"kernel_size must be odd so that 'same' padding keeps the image size; got {kernel_size!r}. Use 3 or 5."
        )
    return k


def check_image_shape(shape: object, name: str = "image_shape") -> tuple[int, int, int]:
    """Validate ``(channels, height, width)``: three positive integers."""
    try:
        dims = tuple(shape)  # type: ignore[arg-type]
    except TypeError:
        dims = ()
    ok = len(dims) == 3 and all(isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0 for d in dims)
    if not ok:
        raise ConfigError(
            f"{name} must be (channels, height, width), three positive integers, e.g. (1, 28, 28); got {shape!r}."
        )
    return tuple(int(d) for d in dims)  # type: ignore[return-value]


def check_conv_options(kernel_size: object, pool: object, decoder: object) -> tuple[int, int, str]:
    """Validate a conv layer's ``kernel_size`` (odd), ``pool`` (positive) and ``decoder`` mode."""
    k, p = _check_kernel(kernel_size), _check_size("pool", pool)
    if decoder not in CONV_DECODERS:
        raise ConfigError(f"decoder must be one of {list(CONV_DECODERS)}; got {decoder!r}.")
    return k, p, str(decoder)


def pooled_shape(height: int, width: int, pool: int) -> tuple[int, int]:
    """Spatial size after ``MaxPool2d(pool, ceil_mode=True)``: ``ceil(h / pool), ceil(w / pool)``."""
    return math.ceil(height / pool), math.ceil(width / pool)


def conv_block(
    in_channels: int, out_channels: int, kernel_size: int = 3, activation: str = "relu", pool: int = 2, dropout: float = 0.0
) -> nn.Sequential:
    """``Conv2d`` ('same' padding), activation, ``MaxPool2d(pool)`` and optional dropout.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int, default=3
        Odd, so the convolution keeps the spatial size.
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
    pool : int, default=2
        Max-pooling window and stride; 1 adds no pooling. Pooling uses
        ``ceil_mode=True``, so odd sizes keep their last row and column.
    dropout : float, default=0.0

    Returns
    -------
    nn.Sequential
        Maps ``(batch, in_channels, h, w)`` to
        ``(batch, out_channels, ceil(h / pool), ceil(w / pool))``.

    Examples
    --------
    >>> conv_block(1, 4)(torch.zeros(2, 1, 7, 7)).shape
    torch.Size([2, 4, 4, 4])
    """
    _check_size("in_channels", in_channels)
    _check_size("out_channels", out_channels)
    k = _check_kernel(kernel_size)
    p = _check_size("pool", pool)
    if not 0.0 <= float(dropout) < 1.0:
        raise ConfigError(f"dropout must be in [0, 1); got {dropout!r}.")
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, k, padding=k // 2), make_activation(activation)]
    if p > 1:
        # Max-pooling commutes with the monotone activations, so the decoder's
        # pre-activation target is well defined whichever comes first.
        layers.append(nn.MaxPool2d(p, ceil_mode=True))
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def conv_decoder(
    in_channels: int, out_shape: Sequence[int], kernel_size: int = 3, pool: int = 2, mode: str = "transpose"
) -> nn.Sequential:
    """The decoder of a :func:`conv_block`: codes back to *pre-activation* images.

    Parameters
    ----------
    in_channels : int
        Channels of the codes.
    out_shape : (channels, height, width)
        Shape of one input image of the block; the codes are
        ``(in_channels, ceil(height / pool), ceil(width / pool))``.
    kernel_size : int, default=3
    pool : int, default=2
    mode : {"transpose", "upsample"}, default="transpose"
        ``"transpose"``: one ``ConvTranspose2d`` with stride ``pool`` (its
        ``output_padding`` restores odd sizes exactly). ``"upsample"``:
        nearest-neighbour ``Upsample`` to ``(height, width)`` then a ``Conv2d``
        (no checkerboard artefacts; Odena et al. 2016, "Deconvolution and
        checkerboard artifacts").

    Returns
    -------
    nn.Sequential
        Maps ``(batch, in_channels, h', w')`` to ``(batch, *out_shape)``.

    Examples
    --------
    >>> conv_decoder(4, (1, 7, 7))(torch.zeros(2, 4, 4, 4)).shape
    torch.Size([2, 1, 7, 7])
    """
    _check_size("in_channels", in_channels)
    c, h, w = check_image_shape(out_shape, "out_shape")
    k, p, mode = check_conv_options(kernel_size, pool, mode)
    if mode == "upsample":
        layers: list[nn.Module] = [nn.Upsample(size=(h, w), mode="nearest")] if p > 1 else []
        return nn.Sequential(*layers, nn.Conv2d(in_channels, c, k, padding=k // 2))
    # Output size of the transposed conv: (n - 1) * p - 2 * (k // 2) + k + extra
    # = (n - 1) * p + 1 + extra for odd k; extra in [0, p) reaches h exactly.
    ph, pw = pooled_shape(h, w, p)
    extra = (h - (ph - 1) * p - 1, w - (pw - 1) * p - 1)
    return nn.Sequential(nn.ConvTranspose2d(in_channels, c, k, stride=p, padding=k // 2, output_padding=extra))


def conv_autoencoder(
    in_shape: Sequence[int],
    n_hidden: int,
    kernel_size: int = 3,
    pool: int = 2,
    activation: str = "relu",
    output: str = "identity",
    dropout: float = 0.0,
    decoder: str = "transpose",
    image_shape: Sequence[int] | None = None,
) -> AutoEncoder:
    """One convolutional autoencoder layer with ``n_hidden`` feature maps.

    Parameters
    ----------
    in_shape : (channels, height, width) or (n_features,)
        Shape of one input row. A flat row needs ``image_shape``.
    n_hidden : int
        Output channels of the convolution (the code's feature maps).
    kernel_size, pool, activation, dropout
        See :func:`conv_block`.
    output : {"identity", "logistic"}, default="identity"
        See :class:`~layerwise.nn.AutoEncoder`.
    decoder : {"transpose", "upsample"}, default="transpose"
        See :func:`conv_decoder`.
    image_shape : (channels, height, width), optional
        How to view flat rows as images; ignored for image input.

    Returns
    -------
    AutoEncoder
        ``encoder``: ``(batch, *in_shape)`` to
        ``(batch, n_hidden, ceil(h / pool), ceil(w / pool))``;
        ``decoder``: codes back to ``(batch, *in_shape)``, pre-activation.

    Raises
    ------
    ConfigError
        Flat rows without ``image_shape``.
    DataError
        ``image_shape`` does not hold ``n_features`` values, or ``in_shape`` is
        neither flat nor ``(c, h, w)``.

    Examples
    --------
    >>> ae = conv_autoencoder((64,), 8, image_shape=(1, 8, 8), output="logistic")
    >>> x = torch.rand(5, 64)
    >>> ae.encode(x).shape, ae(x).shape
    (torch.Size([5, 8, 4, 4]), torch.Size([5, 64]))
    """
    in_shape = tuple(in_shape)
    flat = len(in_shape) == 1
    shape = _image_shape_of(in_shape, image_shape)
    encoder = conv_block(shape[0], n_hidden, kernel_size, activation, pool, dropout)
    dec = conv_decoder(n_hidden, shape, kernel_size, pool, decoder)
    if flat:
        encoder = nn.Sequential(nn.Unflatten(1, shape), *encoder)
        dec.append(nn.Flatten(1))
    return AutoEncoder(encoder, dec, output=output)


def _image_shape_of(in_shape: tuple[int, ...], image_shape: Sequence[int] | None) -> tuple[int, int, int]:
    """The ``(c, h, w)`` a conv layer sees for rows of shape ``in_shape``."""
    if len(in_shape) == 3:
        return check_image_shape(in_shape, "in_shape")
    if len(in_shape) != 1:
        raise DataError(
            f"A conv layer needs rows of shape (channels, height, width) or flat rows (n_features,); "
            f"got rows of shape {in_shape}. Add a channel axis, e.g. X[:, None] for grey images."
        )
    if image_shape is None:
        raise ConfigError(
            f"A conv layer got flat rows of {in_shape[0]} features but no image_shape; "
            "pass image_shape=(channels, height, width), e.g. (1, 28, 28) for MNIST."
        )
    shape = check_image_shape(image_shape)
    if math.prod(shape) != in_shape[0]:
        raise DataError(
            f"image_shape={shape} holds {math.prod(shape)} values but the rows have {in_shape[0]} features; "
            "pass the shape of one image, with channels first."
        )
    return shape
