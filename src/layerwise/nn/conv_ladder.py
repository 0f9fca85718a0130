"""The convolutional ladder network: Rasmus et al. (2015)'s "Conv-Small", and its Gamma-model.

Conv-Small is the convolutional encoder that Rasmus et al. (2015), "Semi-
supervised learning with ladder networks", NeurIPS, trained on MNIST with 100
labels (Conv-Large, for CIFAR-10, is its larger sibling); its layers as the
authors' code (github.com/CuriousAI/ladder, README, "Conv-Small, Gamma") lists
them:

====  ==========================  ==================  ========================
 l    layer                       activation          batch normalisation
====  ==========================  ==================  ========================
 0    the input, Gaussian noise   --                  --
 1    5x5 conv, 32 channels       ReLU                per channel
 2    2x2 max-pool                linear              per channel
 3    3x3 conv, 64                ReLU                per channel
 4    3x3 conv, 64                ReLU                per channel
 5    2x2 max-pool                linear              per channel
 6    3x3 conv, 128               ReLU                per channel
 7    1x1 conv, 10                ReLU                per channel
 8    global mean pool            linear              per unit
 9    fully connected, classes    softmax             per unit
====  ==========================  ==================  ========================

Each of the nine layers is one rung of the ladder, as in the reference code:
its output ``z_l`` is normalised with the batch's statistics (per channel: over
the rows and the image positions), the corrupted encoder adds noise to it, and
the decoder may denoise it. Where the paper pads its convolutions "full" or
"valid" (on 28x28 digits), these use "same" padding and the max-pools keep a
last odd row or column (``ceil_mode``): any image size works, 8x8 digits as
28x28 MNIST or 32x32 colour images, and any number of channels.

The Gamma-model (the paper's reported Conv-Small) decodes the top layer only.
The full decoder mirrors each layer as the reference code does: a transposed
convolution with its own weights for a convolution, nearest-neighbour
"depooling" for a max-pool, a copy to every position for the global mean pool,
a dense map for the fully connected layer; the combinators work channel by
channel (Rasmus et al. 2015, eq. 2, with one set of ``a1..a10`` per channel,
shared over the image positions).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ..exceptions import ConfigError, DataError
from .conv import check_image_shape
from .ladder import COMBINATORS, LadderEncoder, LadderPass, run_encoder

__all__ = ["CONV_SMALL", "ConvLadderNetwork"]

_EPS = 1e-5

#: Conv-Small's layers 1..9: ``("conv", channels, kernel)``, ``("pool", size)``, ``("meanpool",)``, ``("fc",)``
#: (the fully connected top, as wide as the number of classes).
CONV_SMALL: tuple[tuple, ...] = (
    ("conv", 32, 5), ("pool", 2), ("conv", 64, 3), ("conv", 64, 3), ("pool", 2),
    ("conv", 128, 3), ("conv", 10, 1), ("meanpool",), ("fc",),
)


def _normalise(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batch normalisation without scale or shift, per channel: over the rows, and the positions of an image.

    ``(batch, C, H, W)`` or ``(batch, C)`` -> the normalised ``z`` and the mean and std, shaped ``(C, 1, 1)`` or
    ``(C,)`` so that they broadcast against one row.
    """
    dims = (0, 2, 3) if z.dim() == 4 else (0,)
    var, mean = torch.var_mean(z, dims, unbiased=False, keepdim=True)
    std = torch.sqrt(var + _EPS)
    return (z - mean) / std, mean[0], std[0]


def _per_channel(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A per-channel vector ``(C,)`` shaped to broadcast against ``like``: ``(C, 1, 1)`` for images."""
    return v.view(-1, 1, 1) if like.dim() == 4 else v


def _combine(combinator: nn.Module, z_tilde: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """A unit-by-unit combinator applied channel by channel: each position of an image is one row."""
    if z_tilde.dim() == 2:
        return combinator(z_tilde, u)
    b, c, h, w = z_tilde.shape

    def rows(t: torch.Tensor) -> torch.Tensor:  # (b, c, h, w) -> (b*h*w, c)
        return t.permute(0, 2, 3, 1).reshape(-1, c)

    return combinator(rows(z_tilde), rows(u)).reshape(b, h, w, c).permute(0, 3, 1, 2)


class ConvLadderNetwork(LadderEncoder):
    """Conv-Small with batch normalisation and noise injection, and its decoder: a convolutional ladder network.

    Parameters
    ----------
    image_shape : (channels, height, width)
        Shape of one image; rows come flat, ``(batch, channels * height * width)``.
    n_classes : int
        Width of the top (softmax) layer.
    combinator : {"vanilla", "amlp"}, default="vanilla"
        Rasmus et al.'s ``g`` (eq. 2) or Pezeshki et al. (2016)'s augmented MLP, one per channel.
    momentum : float, default=0.1
        Weight of each clean batch in the running statistics used at inference.
    gamma_only : bool, default=False
        Build the decoder of the top layer only (the Gamma-model: no transposed
        convolutions, one combinator); :meth:`decode` then refuses a cost below the top.

    Attributes
    ----------
    shapes : list of tuple
        ``shapes[l]``: the shape of layer ``l``'s output for one row, ``(C, H, W)`` or ``(C,)``.
    n_layers : int
        9, the layers above the input.

    Notes
    -----
    A convolution has no bias (``beta``, per channel, follows the normalisation,
    as in the dense ladder); the pooling layers are linear and have neither
    ``beta`` nor ``gamma`` (as in the reference code); the top layer is
    ``gamma * (z + beta)``, the logits. ``forward(x)`` is the clean encoder: in
    training mode it normalises with the batch's statistics, in eval mode with
    the running ones, which the clean pass of :meth:`encode` updates, so that a
    row's prediction does not depend on its batch.

    Examples
    --------
    >>> net = ConvLadderNetwork((1, 8, 8), 3)
    >>> net.eval()(torch.zeros(5, 64)).shape, net.transform(torch.zeros(5, 64)).shape
    (torch.Size([5, 3]), torch.Size([5, 10]))
    """

    def __init__(self, image_shape: Sequence[int], n_classes: int, combinator: str = "vanilla", momentum: float = 0.1,
                 gamma_only: bool = False) -> None:
        super().__init__()
        image_shape = check_image_shape(image_shape)
        if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral) or n_classes < 2:
            raise ConfigError(f"n_classes must be an integer >= 2; got {n_classes!r}.")
        if combinator not in COMBINATORS:
            raise ConfigError(f"combinator must be one of {sorted(COMBINATORS)}; got {combinator!r}.")
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0 < momentum <= 1:
            raise ConfigError(f"momentum must be a number in (0, 1]; got {momentum!r}.")
        if not isinstance(gamma_only, bool):
            raise ConfigError(f"gamma_only must be True or False; got {gamma_only!r}.")
        self.image_shape, self.n_classes = image_shape, int(n_classes)
        self.combinator, self.momentum, self.gamma_only = combinator, float(momentum), gamma_only
        self.kinds = ("input",) + tuple(spec[0] for spec in CONV_SMALL)
        self.shapes = _layer_shapes(image_shape, self.n_classes)
        self.n_layers = L = len(CONV_SMALL)
        # W(l), no bias; init N(0, 1/fan_in) as the dense ladder (the reference code: uniform of that variance)
        self.weights = nn.ModuleDict()
        for l, spec in enumerate(CONV_SMALL, start=1):
            c_in, c_out = self.shapes[l - 1][0], self.shapes[l][0]
            if spec[0] == "conv":
                self.weights[str(l)] = nn.Conv2d(c_in, c_out, spec[2], padding=spec[2] // 2, bias=False)
            elif spec[0] == "fc":
                self.weights[str(l)] = nn.Linear(c_in, c_out, bias=False)
        _init_fan_in(self.weights.values())
        # beta after each ReLU convolution and the top; gamma on the top only (redundant before a ReLU + BN)
        self.beta = nn.ParameterDict({str(l): nn.Parameter(torch.zeros(self.shapes[l][0]))
                                      for l in range(1, L + 1) if self.kinds[l] in ("conv", "fc")})
        self.gamma = nn.Parameter(torch.ones(self.n_classes))
        for l in range(1, L + 1):
            self.register_buffer(f"running_mean_{l}", torch.zeros(self.shapes[l][0]))
            self.register_buffer(f"running_var_{l}", torch.ones(self.shapes[l][0]))
        # V(l): the decoder's map from layer l down to layer l-1, for the layers with weights (pools have none)
        self.decoder = nn.ModuleDict()
        if not gamma_only:
            for l, spec in enumerate(CONV_SMALL, start=1):
                c_below, c_here = self.shapes[l - 1][0], self.shapes[l][0]
                if spec[0] == "conv":  # the transpose of a 'same' convolution keeps the size too
                    self.decoder[str(l)] = nn.ConvTranspose2d(c_here, c_below, spec[2], padding=spec[2] // 2, bias=False)
                elif spec[0] == "fc":
                    self.decoder[str(l)] = nn.Linear(c_here, c_below, bias=False)
            _init_fan_in(self.decoder.values())
        decoded = [L] if gamma_only else range(L + 1)
        self.combinators = nn.ModuleDict({str(l): COMBINATORS[combinator](self.shapes[l][0]) for l in decoded})

    # -- the encoder -----------------------------------------------------------------
    def _images(self, x: torch.Tensor) -> torch.Tensor:
        """Flat rows ``(batch, c*h*w)`` -> images ``(batch, c, h, w)``."""
        n = math.prod(self.image_shape)
        if x.dim() != 2 or x.shape[1] != n:
            raise DataError(f"ConvLadderNetwork expects rows of {n} values (image_shape={self.image_shape}, flattened); "
                            f"got a tensor of shape {tuple(x.shape)}. Flatten the images to (batch, {n}), or build the "
                            "network with the images' (channels, height, width).")
        return x.reshape(-1, *self.image_shape)

    def _pre(self, l: int, h: torch.Tensor) -> torch.Tensor:
        """Layer ``l``'s output before normalisation, from layer ``l - 1``'s; fp32 (statistics under bf16 autocast)."""
        kind = self.kinds[l]
        if kind == "pool":
            out = F.max_pool2d(h, CONV_SMALL[l - 1][1], ceil_mode=True)  # an odd last row or column is kept
        elif kind == "meanpool":
            out = h.mean((2, 3))
        else:
            out = self.weights[str(l)](h)
        return out.float()

    def _nonlinearity(self, l: int, z: torch.Tensor) -> torch.Tensor:
        """Layer ``l``'s activation from its normalised output; the top stays linear (logits), pools are linear."""
        if l == self.n_layers:
            return self.gamma * (z + self.beta[str(l)])
        if self.kinds[l] == "conv":
            return F.relu(z + _per_channel(self.beta[str(l)], z))
        return z

    def _inference(self, x: torch.Tensor, upto: int) -> torch.Tensor:
        """Layers ``1..upto`` normalised with the running statistics: each row independent of its batch."""
        h = self._images(x)
        for l in range(1, upto + 1):
            pre = self._pre(l, h)
            mean, var = (_per_channel(v, pre) for v in self._running(l))
            h = self._nonlinearity(l, (pre - mean) / torch.sqrt(var + _EPS))
        return h

    def encode(self, x: torch.Tensor, noise_std: float = 0.0, groups: Sequence[int] | None = None,
               update_running: bool = False, input_noise_std: float | None = None) -> LadderPass:
        """One pass of the encoder with batch statistics (Rasmus et al. 2015, Algorithm 1, both encoders).

        Parameters
        ----------
        x : Tensor, shape (batch, c*h*w)
        noise_std : float, default=0.0
            Standard deviation of the Gaussian noise added to the input and to
            every normalised layer output (0: the clean encoder).
        groups : sequence of int, optional
            Row counts of consecutive groups normalised separately (the labeled
            rows, then the unlabeled ones); one group by default.
        update_running : bool, default=False
            Fold this pass's batch statistics (the last group's) into the running
            statistics that inference uses.
        input_noise_std : float, optional
            The input's noise alone; None: ``noise_std``, as every layer's.

        Returns
        -------
        LadderPass
            ``z[l]`` of shape ``(batch, *shapes[l])``; statistics are the last
            group's, shaped to broadcast against one row.
        """
        groups = list(groups) if groups is not None else [x.shape[0]]
        h = self._images(x)
        at_input = noise_std if input_noise_std is None else input_noise_std
        h = h + at_input * torch.randn_like(h) if at_input > 0 else h
        return run_encoder(self, h, groups, noise_std, update_running, _normalise)

    @torch.no_grad()
    def _update_running(self, l: int, mean: torch.Tensor, std: torch.Tensor, count: int) -> None:
        """``count``: the values per channel the statistics came from (rows times positions)."""
        rm, rv = self._running(l)
        var = (std.detach().reshape(-1) ** 2 - _EPS) * (count / max(count - 1, 1))  # unbiased, as BatchNorm keeps it
        rm.lerp_(mean.detach().reshape(-1), self.momentum)
        rv.lerp_(var, self.momentum)

    # -- the decoder -----------------------------------------------------------------
    def _down(self, l: int, z_hat: torch.Tensor) -> torch.Tensor:
        """The decoder's map of layer ``l + 1``'s estimate to layer ``l``'s shape (before normalisation)."""
        kind, shape = self.kinds[l + 1], self.shapes[l]
        if kind == "pool":  # "depooling": each value to every position of its window, cut to the size below
            k = CONV_SMALL[l][1]
            out = z_hat.repeat_interleave(k, 2).repeat_interleave(k, 3)[:, :, : shape[1], : shape[2]]
        elif kind == "meanpool":
            out = z_hat[:, :, None, None].expand(-1, -1, shape[1], shape[2])
        else:
            out = self.decoder[str(l + 1)](z_hat)
        return out.float()

    def decode(self, corrupted: LadderPass, clean: LadderPass, costs: Sequence[float], rows: int | None = None) -> list[torch.Tensor | None]:
        """Top-down denoising (Algorithm 1, decoder) and each layer's cost.

        Parameters
        ----------
        corrupted : LadderPass
            The corrupted pass; its last ``rows`` rows are denoised.
        clean : LadderPass
            The clean pass of the same ``rows`` rows (the targets, and the batch
            statistics that normalise the estimates, eq. 3).
        costs : sequence of float
            ``lambda_l`` for ``l = 0..9``; a layer whose weight (and every weight
            below it) is zero is not decoded (the Gamma-model decodes the top only).
        rows : int, optional
            Default: all of the corrupted pass's rows.

        Returns
        -------
        list of Tensor or None
            ``C_l = ||z_l - BN(z_hat_l)||^2 / size_l`` (``size_l``: the values of
            one row's layer ``l``, all channels and positions), the mean over rows,
            unweighted; ``None`` for a layer not decoded.

        Raises
        ------
        ConfigError
            ``costs`` of the wrong length, or a cost below the top with ``gamma_only``.
        """
        L = self.n_layers
        if len(costs) != L + 1:
            raise ConfigError(f"costs has {len(costs)} values but ConvLadderNetwork has {L + 1} layers (the input and "
                              f"the {L} layers of Conv-Small); give one lambda per layer.")
        lowest = next((l for l in range(L + 1) if costs[l] > 0), L + 1)
        if self.gamma_only and lowest < L:
            raise ConfigError(f"This ConvLadderNetwork was built with gamma_only=True (a decoder for the top layer only), "
                              f"but costs asks for layer {lowest}; build it with gamma_only=False for the full decoder.")
        out: list[torch.Tensor | None] = [None] * (L + 1)
        z_hat = None
        for l in range(L, lowest - 1, -1):
            z_tilde = corrupted.z[l][-rows:] if rows else corrupted.z[l]
            if l == L:  # u(L): the normalised corrupted top output
                u = _normalise(F.softmax((corrupted.logits[-rows:] if rows else corrupted.logits).float(), dim=1))[0]
            else:
                u = _normalise(self._down(l, z_hat))[0]
            z_hat = _combine(self.combinators[str(l)], z_tilde, u)
            z_bn = z_hat if clean.mean[l] is None else (z_hat - clean.mean[l]) / clean.std[l]
            out[l] = ((z_bn - clean.z[l]) ** 2).flatten(1).sum(1).mean() / math.prod(self.shapes[l])
        return out


def _layer_shapes(image_shape: tuple[int, int, int], n_classes: int) -> list[tuple[int, ...]]:
    """One row's shape at each layer ``0..9``: 'same' convolutions keep the size, pools round up."""
    c, h, w = image_shape
    shapes: list[tuple[int, ...]] = [image_shape]
    for spec in CONV_SMALL:
        if spec[0] == "conv":
            c = spec[1]
        elif spec[0] == "pool":
            h, w = math.ceil(h / spec[1]), math.ceil(w / spec[1])
        shapes.append((c, h, w) if spec[0] in ("conv", "pool") else (c if spec[0] == "meanpool" else n_classes,))
    return shapes


def _init_fan_in(modules) -> None:
    """Weights ``N(0, 1 / fan_in)``: unit-variance inputs give unit-variance outputs, as in the dense ladder."""
    for m in modules:
        w = m.weight  # (out, in, k, k), (out, in); a transposed convolution's is (in, out, k, k)
        fan_in = w.shape[0] * w[0, 0].numel() if isinstance(m, nn.ConvTranspose2d) else w[0].numel()
        nn.init.normal_(w, std=1.0 / math.sqrt(fan_in))
