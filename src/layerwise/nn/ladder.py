"""The ladder network (Rasmus et al. 2015; Valpola 2015): a denoising autoencoder at every layer.

An encoder with batch normalisation is run twice per training step: *clean*,
and *corrupted* with Gaussian noise added to the input and to every layer's
normalised pre-activations. A decoder runs top-down; at each layer a
*combinator* ``g(z_tilde, u)`` merges the corrupted code that reaches it
sideways (the lateral connection) with the signal ``u`` from the layer above,
and the result is compared with the clean code. Inference is the clean
encoder alone, with the running batch statistics: the prediction of a row does
not depend on the other rows of its batch.

Equation numbers refer to Rasmus et al. (2015), "Semi-supervised learning
with ladder networks", NeurIPS, Algorithm 1 and section 3.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from ..exceptions import ConfigError
from .blocks import ACTIVATIONS, make_activation

__all__ = ["COMBINATORS", "LadderEncoder", "LadderNetwork", "LadderPass", "VanillaCombinator", "AMLPCombinator"]

_EPS = 1e-5


class VanillaCombinator(nn.Module):
    """The paper's combinator ``g(z_tilde, u)``, unit by unit (Rasmus et al. 2015, eq. 2).

    ``z_hat = (z_tilde - mu(u)) * v(u) + mu(u)`` with
    ``mu(u) = a1 * sigmoid(a2 * u + a3) + a4 * u + a5`` and
    ``v(u) = a6 * sigmoid(a7 * u + a8) + a9 * u + a10``: the denoised value is
    a per-unit interpolation between the corrupted code and a prediction from
    above. ``a2`` and ``a7`` start at one, the others at zero (so ``z_hat``
    starts at zero, the mean of a normalised code).

    Parameters
    ----------
    width : int
        Number of units of the layer.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        a = torch.zeros(10, width)
        a[1] = a[6] = 1.0
        self.a = nn.Parameter(a)  # (10, width): a1..a10 of eq. 2, one column per unit

    def forward(self, z_tilde: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """``(batch, width), (batch, width) -> (batch, width)``."""
        a = self.a
        # addcmul(c, x, y) = c + x * y in one kernel: the combinators are most of a step's elementwise work
        mu = torch.addcmul(torch.addcmul(a[4], a[3], u), a[0], torch.sigmoid(torch.addcmul(a[2], a[1], u)))
        v = torch.addcmul(torch.addcmul(a[9], a[8], u), a[5], torch.sigmoid(torch.addcmul(a[7], a[6], u)))
        return torch.addcmul(mu, z_tilde - mu, v)


class AMLPCombinator(nn.Module):
    """Pezeshki et al. (2016)'s "augmented MLP" combinator, unit by unit.

    Each unit has its own small MLP on ``[z_tilde, u, z_tilde * u]`` with
    ``hidden`` leaky-ReLU units and a linear output, plus a skip from
    ``z_tilde`` (their best variant, section 4.2).

    Parameters
    ----------
    width : int
    hidden : int, default=4
    """

    def __init__(self, width: int, hidden: int = 4) -> None:
        super().__init__()
        self.w1 = nn.Parameter(torch.randn(width, 3, hidden) * 0.5)  # (width, 3 inputs, hidden)
        self.b1 = nn.Parameter(torch.zeros(width, hidden))
        self.w2 = nn.Parameter(torch.zeros(width, hidden))  # output starts at the skip alone
        self.b2 = nn.Parameter(torch.zeros(width))
        self.skip = nn.Parameter(torch.ones(width))

    def forward(self, z_tilde: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """``(batch, width), (batch, width) -> (batch, width)``."""
        x = torch.stack([z_tilde, u, z_tilde * u], dim=-1)  # (batch, width, 3)
        h = F.leaky_relu(torch.einsum("bwi,wih->bwh", x, self.w1) + self.b1, 0.1)  # (batch, width, hidden)
        return (h * self.w2).sum(-1) + self.b2 + self.skip * z_tilde


COMBINATORS = {"vanilla": VanillaCombinator, "amlp": AMLPCombinator}


class LadderPass(NamedTuple):
    """What one encoder pass keeps for the decoder and the costs.

    ``z[l]`` is layer ``l``'s normalised pre-activation (``z[0]`` the input,
    noise included for a corrupted pass), ``mean[l]``/``std[l]`` the batch
    statistics it was normalised with (``None`` for the input), ``logits`` the
    top layer's output before the softmax.
    """

    z: list[torch.Tensor]
    mean: list[torch.Tensor | None]
    std: list[torch.Tensor | None]
    logits: torch.Tensor


def _normalise(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batch normalisation without scale or shift: ``(z - mean) / std`` over the rows."""
    mean = z.mean(0)
    centred = z - mean
    # the same two-pass variance as torch.var, but 1.5x faster forward and backward on (200, 1000) (torch.var's
    # column reduction is slow on CPU); it is called about 20 times per ladder step
    std = torch.sqrt(centred.square().mean(0) + _EPS)
    return centred / std, mean, std


class LadderEncoder(nn.Module):
    """What the dense and convolutional ladders share: the clean encoder as ``forward`` and ``transform``.

    A subclass defines ``n_layers``, ``encode`` (a pass with batch statistics), ``_inference(x, upto)``
    (layers ``1..upto`` with the running statistics ``running_mean_<l>``/``running_var_<l>``).
    """

    n_layers: int

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Clean encoder, ``(batch, d) -> (batch, n_classes)`` logits: batch statistics in training mode, the
        running ones in eval mode (a row's prediction then does not depend on its batch)."""
        if self.training:
            return self.encode(x).logits
        return self._inference(x, self.n_layers)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """The layer below the top of the clean encoder (running statistics), ``(batch, d) -> (batch, codes)``."""
        return self._inference(x, self.n_layers - 1)

    def _running(self, l: int) -> tuple[torch.Tensor, torch.Tensor]:
        return getattr(self, f"running_mean_{l}"), getattr(self, f"running_var_{l}")


class LadderNetwork(LadderEncoder):
    """Encoder with batch normalisation and noise injection, decoder with lateral combinators.

    Parameters
    ----------
    n_features : int
        Input width ``d``.
    hidden_layer_sizes : sequence of int
        Widths of the hidden layers, e.g. ``(1000, 500, 250, 250, 250)`` (the
        paper's MNIST network).
    n_classes : int
        Width of the top (softmax) layer.
    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
        Activation of the hidden layers.
    combinator : {"vanilla", "amlp"}, default="vanilla"
    momentum : float, default=0.1
        Weight of each clean batch in the running statistics used at inference.

    Notes
    -----
    Each layer is ``h = act(gamma * (BN(W h_prev) + beta))`` (Rasmus et al. 2015,
    Algorithm 1): the linear map has no bias (``beta`` plays that part after the
    normalisation), ``gamma`` scales the top layer and any non-ReLU layer.
    ``forward(x)`` is the clean encoder: logits ``(batch, n_classes)``; in
    training mode it normalises with the batch's statistics, in eval mode with
    the running ones, which the clean pass of :meth:`encode` updates.

    Examples
    --------
    >>> net = LadderNetwork(8, (6, 4), 3)
    >>> net.eval()(torch.zeros(5, 8)).shape
    torch.Size([5, 3])
    """

    def __init__(self, n_features: int, hidden_layer_sizes: Sequence[int], n_classes: int, activation: str = "relu",
                 combinator: str = "vanilla", momentum: float = 0.1) -> None:
        super().__init__()
        sizes = _check_sizes(n_features, hidden_layer_sizes, n_classes)
        ACTIVATIONS.get(activation)
        if combinator not in COMBINATORS:
            raise ConfigError(f"combinator must be one of {sorted(COMBINATORS)}; got {combinator!r}.")
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) or not 0 < momentum <= 1:
            raise ConfigError(f"momentum must be a number in (0, 1]; got {momentum!r}.")
        self.sizes, self.activation, self.combinator, self.momentum = sizes, activation, combinator, float(momentum)
        L = len(sizes) - 1
        # W(l): (sizes[l] -> sizes[l+1]), no bias; init N(0, 1/fan_in) as in the reference implementations
        self.weights = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in zip(sizes[:-1], sizes[1:]))
        for w in self.weights:
            nn.init.normal_(w.weight, std=1.0 / math.sqrt(w.in_features))
        self.beta = nn.ParameterList(nn.Parameter(torch.zeros(w)) for w in sizes[1:])
        self.gamma = nn.ParameterList(nn.Parameter(torch.ones(w)) for w in sizes[1:])
        self.act = make_activation(activation)
        for l, w in enumerate(sizes[1:]):
            self.register_buffer(f"running_mean_{l + 1}", torch.zeros(w))
            self.register_buffer(f"running_var_{l + 1}", torch.ones(w))
        # V(l): the decoder's top-down map from layer l+1 to layer l; one combinator per layer, the input included
        self.decoder = nn.ModuleList(nn.Linear(b, a, bias=False) for a, b in zip(sizes[:-1], sizes[1:]))
        for v in self.decoder:
            nn.init.normal_(v.weight, std=1.0 / math.sqrt(v.in_features))
        self.combinators = nn.ModuleList(COMBINATORS[combinator](w) for w in sizes)
        self.n_layers = L

    # -- the encoder -----------------------------------------------------------------
    def _nonlinearity(self, l: int, z: torch.Tensor) -> torch.Tensor:
        """Layer ``l`` (1-based) from its normalised pre-activation; the top layer stays linear (logits)."""
        if l == self.n_layers:
            return self.gamma[l - 1] * (z + self.beta[l - 1])
        if self.activation == "relu":  # gamma is redundant before a ReLU followed by batch normalisation
            return self.act(z + self.beta[l - 1])
        return self.act(self.gamma[l - 1] * (z + self.beta[l - 1]))

    def _inference(self, x: torch.Tensor, upto: int) -> torch.Tensor:
        """Layers ``1..upto`` normalised with the running statistics: each row independent of its batch."""
        h = x
        for l in range(1, upto + 1):
            mean, var = self._running(l)
            z = (self.weights[l - 1](h).float() - mean) / torch.sqrt(var + _EPS)
            h = self._nonlinearity(l, z)
        return h

    def encode(self, x: torch.Tensor, noise_std: float = 0.0, groups: Sequence[int] | None = None,
               update_running: bool = False, input_noise_std: float | None = None) -> LadderPass:
        """One pass of the encoder with batch statistics (Algorithm 1, both encoders).

        Parameters
        ----------
        x : Tensor, shape (batch, d)
        noise_std : float, default=0.0
            Standard deviation of the Gaussian noise added to the input and to
            every normalised pre-activation (0: the clean encoder).
        groups : sequence of int, optional
            Row counts of consecutive groups normalised separately (e.g. the
            labeled rows, then the unlabeled ones, as in the reference
            implementation); one group by default. The linear maps run once over
            all rows.
        update_running : bool, default=False
            Fold this pass's batch statistics (the last group's) into the running
            statistics that inference uses.
        input_noise_std : float, optional
            The input's noise alone; None: ``noise_std``, as every layer's.

        Returns
        -------
        LadderPass
            Statistics are the last group's (the rows the decoder reconstructs).
        """
        groups = list(groups) if groups is not None else [x.shape[0]]
        at_input = noise_std if input_noise_std is None else input_noise_std
        h = x + at_input * torch.randn_like(x) if at_input > 0 else x
        return run_encoder(self, h, groups, noise_std, update_running, _normalise)

    def _pre(self, l: int, h: torch.Tensor) -> torch.Tensor:
        """Layer ``l``'s pre-activation ``(batch, sizes[l])``, in fp32 (batch statistics under bf16 autocast)."""
        return self.weights[l - 1](h).float()

    @torch.no_grad()
    def _update_running(self, l: int, mean: torch.Tensor, std: torch.Tensor, count: int) -> None:
        """``count``: the rows the statistics came from."""
        rm, rv = self._running(l)
        var = (std.detach() ** 2 - _EPS) * (count / max(count - 1, 1))  # unbiased, as BatchNorm keeps it
        rm.lerp_(mean.detach(), self.momentum)
        rv.lerp_(var, self.momentum)

    # -- the decoder -----------------------------------------------------------------
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
            ``lambda_l`` for ``l = 0..L``; a layer whose weight (and every weight
            below it) is zero is not decoded (the Gamma-model decodes the top only).
        rows : int, optional
            Default: all of the corrupted pass's rows.

        Returns
        -------
        list of Tensor or None
            ``C_l = ||z_l - BN(z_hat_l)||^2 / width_l``, the mean over rows of each
            layer's denoising cost, unweighted (``None`` for a layer not decoded).
        """
        L = self.n_layers
        lowest = next((l for l in range(L + 1) if costs[l] > 0), L + 1)
        out: list[torch.Tensor | None] = [None] * (L + 1)
        if lowest > L:
            return out
        z_hat = None
        for l in range(L, lowest - 1, -1):
            z_tilde = corrupted.z[l][-rows:] if rows else corrupted.z[l]
            if l == L:  # u(L): the normalised corrupted top output
                u = _normalise(F.softmax((corrupted.logits[-rows:] if rows else corrupted.logits).float(), dim=1))[0]
            else:
                u = _normalise(self.decoder[l](z_hat).float())[0]
            z_hat = self.combinators[l](z_tilde, u)
            target = clean.z[l]
            z_bn = z_hat if clean.mean[l] is None else (z_hat - clean.mean[l]) / clean.std[l]
            out[l] = ((z_bn - target) ** 2).sum(1).mean() / self.sizes[l]
        return out


def run_encoder(net: nn.Module, h: torch.Tensor, groups: list[int], noise_std: float, update_running: bool,
                normalise) -> LadderPass:
    """The layers of one encoder pass (Rasmus et al. 2015, Algorithm 1), shared by the dense and convolutional ladders.

    ``h`` is the (noisy) input; ``net`` gives each layer's pre-activation (``net._pre(l, h)``), its
    nonlinearity (``net._nonlinearity(l, z)``) and folds batch statistics into its running ones
    (``net._update_running(l, mean, std, count)``); ``normalise(pre)`` returns ``(z, mean, std)`` over the
    rows (and positions, for images). Each group of rows is normalised separately; the statistics kept are
    the last group's. Noise is added after the normalisation, before the nonlinearity.
    """
    zs, means, stds = [h], [None], [None]
    for l in range(1, net.n_layers + 1):
        pre = net._pre(l, h)
        parts = [normalise(p) for p in pre.split(groups)]
        z = torch.cat([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
        mean, std = parts[-1][1], parts[-1][2]
        if update_running:
            last = pre[-groups[-1]:]
            net._update_running(l, mean, std, last.numel() // last.shape[1])  # rows (times positions, for images)
        if noise_std > 0:
            z = z + noise_std * torch.randn_like(z)
        zs.append(z)
        means.append(mean)
        stds.append(std)
        h = net._nonlinearity(l, z)
    return LadderPass(zs, means, stds, h)


def _check_sizes(n_features, hidden, n_classes) -> tuple[int, ...]:
    def ok(v):
        return isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1

    hidden = (hidden,) if isinstance(hidden, numbers.Integral) else tuple(hidden)
    bad = [name for name, v in (("n_features", n_features), ("n_classes", n_classes)) if not ok(v)]
    if bad or not all(ok(h) for h in hidden):
        raise ConfigError(f"LadderNetwork needs positive integer sizes; got n_features={n_features!r}, "
                          f"hidden_layer_sizes={hidden!r}, n_classes={n_classes!r}.")
    if n_classes < 2:
        raise ConfigError(f"n_classes must be at least 2; got {n_classes}.")
    return (int(n_features), *(int(h) for h in hidden), int(n_classes))
