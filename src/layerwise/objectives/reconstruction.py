"""Reconstruction: plain, sparse, denoising, contractive and conv autoencoders as one objective.

Every reconstruction variant is an option of one :class:`Reconstruction`
objective (pylearn2-style composition), registered under friendly names;
:class:`ConvReconstruction` only adds how greedy stacking builds a conv layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from ..corruption import make_corruption
from ..exceptions import ConfigError, DataError
from ..losses import (
    RECONSTRUCTION_LOSSES,
    contractive_penalty,
    jacobian_frobenius,
    kl_sparsity,
    l1_activity,
    reconstruction_loss,
)
from ..nn.blocks import activation_name
from ..nn.conv import check_conv_options, check_image_shape, conv_autoencoder
from .base import OBJECTIVES, StepOutput

__all__ = ["Reconstruction", "ConvReconstruction", "encode_contractive"]

SPARSITY = (None, "l1", "kl")


class Reconstruction:
    """Reconstruct the input: plain, sparse, denoising, noise2noise and contractive autoencoders.

    Parameters
    ----------
    loss : {"mse", "bce"}, default="mse"
        See :func:`layerwise.losses.reconstruction_loss`. ``"bce"`` expects the
        model's decoder to return logits (``AutoEncoder(output="logistic")``).
    sparsity : {None, "l1", "kl"}, default=None
        Penalty on the code *activations*: L1 (:func:`~layerwise.losses.l1_activity`)
        or KL to a target rate (:func:`~layerwise.losses.kl_sparsity`, needs
        ``logistic`` codes).
    sparsity_weight : float, default=1e-3
        Weight of the sparsity penalty.
    target_rate : float, default=0.05
        Target mean activation for ``sparsity="kl"``.
    corruption : callable, optional
        ``x -> x_tilde`` applied to the input in training mode; the target stays
        the clean ``x`` (denoising autoencoder, Vincent et al. 2008).
    contractive_weight : float, default=0.0
        Weight of the contractive penalty, the squared Frobenius norm of the
        encoder's Jacobian ``dh/dx`` at the (corrupted) input (Rifai et al.
        2011). Closed form for a ``dense_block`` encoder, ``torch.func``
        otherwise; see :func:`encode_contractive`.
    noise2noise : bool, default=False
        In training mode the target is a *second, independent* corruption of
        ``x`` instead of the clean ``x`` (Lehtinen et al. 2018,
        "Noise2Noise"): the network then learns ``E[target | input]``, which
        is the clean ``x`` only for zero-mean noise (``"gaussian"`` with
        ``loss="mse"``); masking noise gives ``(1 - p) x``. Needs
        ``corruption``. In eval mode the target is the clean ``x``.

    Raises
    ------
    ConfigError
        An unknown ``loss`` or ``sparsity``, a weight below 0, a
        ``target_rate`` outside (0, 1), or ``noise2noise`` without ``corruption``.

    Notes
    -----
    The model must offer ``encode(x)``, ``encoder``, ``decoder(z)``
    (pre-activation output) and ``output_activation`` (duck typing:
    :class:`~layerwise.nn.AutoEncoder`).

    Examples
    --------
    >>> from layerwise.nn import dense_autoencoder
    >>> obj = Reconstruction("bce", contractive_weight=0.1)
    >>> out = obj(dense_autoencoder(8, 3, "logistic", "logistic"), (torch.rand(4, 8),))
    >>> sorted(out.logs)
    ['contractive', 'recon']
    """

    def __init__(
        self,
        loss: str = "mse",
        sparsity: str | None = None,
        sparsity_weight: float = 1e-3,
        target_rate: float = 0.05,
        corruption: Callable[[torch.Tensor], torch.Tensor] | None = None,
        contractive_weight: float = 0.0,
        noise2noise: bool = False,
    ) -> None:
        if loss not in RECONSTRUCTION_LOSSES:
            raise ConfigError(f"loss must be one of {list(RECONSTRUCTION_LOSSES)}; got {loss!r}.")
        if sparsity not in SPARSITY:
            raise ConfigError(f"sparsity must be one of {list(SPARSITY)}; got {sparsity!r}.")
        if not float(sparsity_weight) >= 0:
            raise ConfigError(f"sparsity_weight must be >= 0; got {sparsity_weight!r}.")
        if not 0 < float(target_rate) < 1:
            raise ConfigError(f"target_rate must be in (0, 1); got {target_rate!r}.")
        if not float(contractive_weight) >= 0:
            raise ConfigError(f"contractive_weight must be >= 0; got {contractive_weight!r}. A typical value is 0.01 to 1.")
        if noise2noise and corruption is None:
            raise ConfigError(
                "noise2noise=True needs a corruption to draw the noisy input and target from; got corruption=None. "
                "Pass corruption=make_corruption('gaussian', 0.1), or the 'denoising' objective with noise2noise=True."
            )
        self.loss = loss
        self.sparsity = sparsity
        self.sparsity_weight = float(sparsity_weight)
        self.target_rate = float(target_rate)
        self.corruption = corruption
        self.contractive_weight = float(contractive_weight)
        self.noise2noise = bool(noise2noise)

    def pair(self, x: torch.Tensor, training: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``(input, target)`` of one batch ``x``, both shaped like ``x``.

        In training mode the input is corrupted (if a corruption is set) and,
        with ``noise2noise``, the target is an independent corruption of ``x``;
        otherwise the target is ``x``. In eval mode both are ``x``.
        """
        if self.corruption is None or not training:
            return x, x
        x_in = self.corruption(x)
        if not self.noise2noise:
            return x_in, x
        target = self.corruption(x)  # independent draw: a second noisy observation
        if self.loss == "bce" and not (target.min() >= 0 and target.max() <= 1):
            raise DataError(
                f"noise2noise with loss='bce' needs noisy targets in [0, 1]; the corruption gave values in "
                f"[{float(target.min()):.3g}, {float(target.max()):.3g}]. Use loss='mse' (zero-mean noise such as "
                "'gaussian', Lehtinen et al. 2018) or a corruption that stays in [0, 1] ('masking', 'salt_and_pepper')."
            )
        return x_in, target

    def __call__(self, model: nn.Module, batch: tuple[torch.Tensor, ...]) -> StepOutput:
        x_in, target = self.pair(batch[0], model.training)
        if self.contractive_weight > 0:
            z, jacobian = encode_contractive(model.encoder, x_in)
        else:
            z, jacobian = model.encode(x_in), None  # (batch, *code_shape)
        raw = model.decoder(z)  # (batch, *x.shape[1:]) pre-activation
        out = raw if self.loss == "bce" else model.output_activation(raw)
        recon = reconstruction_loss(out, target, self.loss)
        logs = {"recon": recon.detach()}
        loss = recon
        if self.sparsity is not None:
            penalty = l1_activity(z) if self.sparsity == "l1" else kl_sparsity(z, self.target_rate)
            loss = loss + self.sparsity_weight * penalty
            logs["sparsity"] = penalty.detach()
        if jacobian is not None:
            # Contractive AE objective (Rifai et al. 2011, eq. 2): J_AE = recon + lambda ||J_f(x)||_F^2.
            loss = loss + self.contractive_weight * jacobian
            logs["contractive"] = jacobian.detach()
        return StepOutput(loss, logs)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(loss={self.loss!r}, sparsity={self.sparsity!r}, "
            f"sparsity_weight={self.sparsity_weight}, corruption={self.corruption!r}, "
            f"contractive_weight={self.contractive_weight}, noise2noise={self.noise2noise})"
        )


def encode_contractive(encoder: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Codes of ``encoder`` at ``x`` and the contractive penalty ``||dh/dx||_F^2`` (batch mean).

    For a ``dense_block`` (``Linear``, a known activation, optional dropout)
    the penalty has the closed form of
    :func:`~layerwise.losses.contractive_penalty`, taken before the dropout
    (the Jacobian of the deterministic map). Any other encoder goes through
    :func:`~layerwise.losses.jacobian_frobenius` (``torch.func``), which
    costs one extra forward pass and a ``(batch, n_code, n_in)`` Jacobian.

    Parameters
    ----------
    encoder : nn.Module
    x : Tensor, shape (batch, ...)

    Returns
    -------
    codes : Tensor, shape (batch, ...)
    penalty : Tensor, shape ()
    """
    parts = list(encoder) if isinstance(encoder, nn.Sequential) else []
    closed = (
        len(parts) >= 2
        and isinstance(parts[0], nn.Linear)
        and activation_name(parts[1]) is not None
        and all(isinstance(m, nn.Dropout) for m in parts[2:])
    )
    if not closed:
        return encoder(x), jacobian_frobenius(encoder, x)
    h = parts[1](parts[0](x))  # (batch, n_hidden)
    penalty = contractive_penalty(h, parts[0].weight, activation_name(parts[1]))
    for m in parts[2:]:
        h = m(h)
    return h, penalty


class ConvReconstruction(Reconstruction):
    """:class:`Reconstruction` whose greedy layers are convolutional autoencoders.

    Training is the same as :class:`Reconstruction`; :meth:`build_model` tells
    :class:`~layerwise.pipeline.greedy.GreedyLayerwise` to build each layer with
    :func:`~layerwise.nn.conv.conv_autoencoder` (``n_hidden`` feature maps).

    Parameters
    ----------
    image_shape : (channels, height, width), optional
        How to view flat input rows as images (the first layer); image input
        ``(n, c, h, w)`` needs none.
    kernel_size : int, default=3
        Odd convolution size.
    pool : int, default=2
        Max-pooling size; 1 for none.
    decoder : {"transpose", "upsample"}, default="transpose"
    **kwargs
        Options of :class:`Reconstruction`.

    Examples
    --------
    >>> obj = ConvReconstruction("bce", image_shape=(1, 8, 8))
    >>> model = obj.build_model((64,), 4, "relu", "logistic", False, 0.0)
    >>> model.encode(torch.rand(2, 64)).shape
    torch.Size([2, 4, 4, 4])
    """

    def __init__(
        self,
        loss: str = "mse",
        image_shape: Sequence[int] | None = None,
        kernel_size: int = 3,
        pool: int = 2,
        decoder: str = "transpose",
        **kwargs,
    ) -> None:
        super().__init__(loss, **kwargs)
        self.image_shape = None if image_shape is None else check_image_shape(image_shape)
        self.kernel_size, self.pool, self.decoder = check_conv_options(kernel_size, pool, decoder)

    def build_model(
        self, in_shape: tuple[int, ...], n_hidden: int, activation: str, output: str, tied: bool, dropout: float
    ) -> nn.Module:
        """One conv autoencoder layer for rows of shape ``in_shape``: ``(c, h, w)``, or flat with ``image_shape``."""
        if tied:
            raise ConfigError(
                "The 'conv' objective does not tie weights: its decoder is a strided transposed convolution, not "
                "the encoder's transpose; got tied=True. Use tied=False."
            )
        return conv_autoencoder(
            in_shape, n_hidden, self.kernel_size, self.pool, activation, output, dropout, self.decoder, self.image_shape
        )


@OBJECTIVES.register("autoencoder")
def _autoencoder(loss: str = "mse") -> Reconstruction:
    """Plain autoencoder: reconstruct the input."""
    return Reconstruction(loss=loss)


@OBJECTIVES.register("sparse")
def _sparse(loss: str = "mse", penalty: str = "l1", weight: float = 1e-3, target_rate: float = 0.05) -> Reconstruction:
    """Sparse autoencoder: L1 or KL penalty on the code activations."""
    return Reconstruction(loss=loss, sparsity=penalty, sparsity_weight=weight, target_rate=target_rate)


@OBJECTIVES.register("denoising")
def _denoising(loss: str = "mse", noise: str = "masking", level: float = 0.25, noise2noise: bool = False) -> Reconstruction:
    """Denoising autoencoder: reconstruct the clean input (or, with ``noise2noise``, a second noisy copy)."""
    return Reconstruction(loss=loss, corruption=make_corruption(noise, level), noise2noise=noise2noise)


@OBJECTIVES.register("contractive")
def _contractive(loss: str = "mse", weight: float = 0.1) -> Reconstruction:
    """Contractive autoencoder: penalise the encoder's Jacobian (Rifai et al. 2011)."""
    return Reconstruction(loss=loss, contractive_weight=weight)


@OBJECTIVES.register("conv")
def _conv(
    loss: str = "mse",
    image_shape: Sequence[int] | None = None,
    kernel_size: int = 3,
    pool: int = 2,
    decoder: str = "transpose",
    noise: str | None = None,
    level: float | None = None,
    noise2noise: bool = False,
) -> ConvReconstruction:
    """Convolutional autoencoder layers (Masci et al. 2011), optionally denoising."""
    if noise is None and level is not None:
        raise ConfigError(f"level={level!r} is set but noise=None; pass noise='masking' (or 'gaussian', ...) too.")
    corruption = make_corruption(noise, level) if noise is not None else None
    return ConvReconstruction(
        loss, image_shape, kernel_size, pool, decoder, corruption=corruption, noise2noise=noise2noise
    )
