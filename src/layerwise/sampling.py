"""Sampling: from a trained denoising autoencoder (the DAE as a generative model), and from saved estimators.

Bengio, Yao, Alain & Vincent (2013), "Generalized denoising auto-encoders as
generative models": a DAE trained with corruption ``C(x_tilde | x)`` learns the
reconstruction distribution ``P(x | x_tilde)``. Alternating the two,

    x_tilde_t ~ C(x_tilde | x_{t-1}),    x_t ~ P(x | x_tilde_t),

is a Markov chain whose stationary distribution estimates the data
distribution (their Theorem 1), whatever the chain started from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from .corruption import MaskingNoise
from .exceptions import ConfigError

__all__ = ["DAEChain", "dae_chain", "draw_samples", "estimator_samples"]


class DAEChain(NamedTuple):
    """The states of a DAE Markov chain.

    Attributes
    ----------
    samples : Tensor, shape (n_steps, n_samples, *shape)
        ``x_t`` for ``t = 1 .. n_steps``: the chain itself.
    means : Tensor, shape (n_steps, n_samples, *shape)
        The mean of ``P(x | x_tilde_t)`` that ``x_t`` was drawn from (smoother
        to look at, e.g. pixel intensities rather than binary pixels).
    start : Tensor, shape (n_samples, *shape)
        ``x_0``.
    """

    samples: torch.Tensor
    means: torch.Tensor
    start: torch.Tensor


@torch.no_grad()
def dae_chain(
    model: nn.Module,
    corruption: Callable[[torch.Tensor], torch.Tensor],
    n_samples: int | None = None,
    n_steps: int = 100,
    start: torch.Tensor | None = None,
    shape: Sequence[int] | None = None,
    sample: bool = True,
) -> DAEChain:
    """Run the corrupt-then-denoise Markov chain of a trained denoising autoencoder.

    Each step corrupts the current state with ``corruption`` (use the one the
    DAE was trained with) and draws the next state from the reconstruction
    distribution ``P(x | x_tilde)`` the DAE defines (Bengio et al. 2013,
    Algorithm 1):

    - ``model.output == "logistic"`` (trained with ``loss="bce"``): a Bernoulli
      per input with mean ``decode(encode(x_tilde))``, drawn when
      ``sample=True``;
    - ``"identity"`` (``loss="mse"``): a Gaussian whose variance the squared
      error does not learn, so the chain moves to its mean (deterministic
      denoising; the corruption alone keeps it stochastic).

    Draws come from torch's global generator (like the corruptions): call
    ``torch.manual_seed`` first for a repeatable chain. The model is run in
    eval mode and restored afterwards.

    Parameters
    ----------
    model : nn.Module
        A trained autoencoder with ``encode``, ``decode`` and ``output``
        (:class:`~layerwise.nn.AutoEncoder`).
    corruption : callable
        ``x -> x_tilde``, e.g. ``make_corruption("salt_and_pepper", 0.3)``.
    n_samples : int, optional
        Number of parallel chains; defaults to ``len(start)``.
    n_steps : int, default=100
        Number of corrupt-and-denoise steps.
    start : Tensor, shape (n_samples, *shape), optional
        ``x_0``, e.g. training rows. By default the chains start from noise:
        uniform in [0, 1] for a logistic output, standard normal otherwise.
    shape : sequence of int, optional
        Shape of one sample when starting from noise; default: the
        ``in_features`` of the encoder's first ``nn.Linear``.
    sample : bool, default=True
        Draw Bernoulli states for a logistic output; ``False`` follows the
        means (a deterministic map after each corruption).

    Returns
    -------
    DAEChain
        ``samples`` and ``means`` of shape ``(n_steps, n_samples, *shape)``
        and the ``start`` ``(n_samples, *shape)``.

    Raises
    ------
    ConfigError
        ``n_steps`` or ``n_samples`` not a positive integer, ``n_samples`` not
        matching ``start``, a ``corruption`` that is not callable, or no way to
        tell the sample shape.

    Examples
    --------
    >>> from layerwise.corruption import make_corruption
    >>> from layerwise.nn import dense_autoencoder
    >>> dae = dense_autoencoder(6, 3, output="logistic")
    >>> chain = dae_chain(dae, make_corruption("masking", 0.3), n_samples=4, n_steps=5)
    >>> chain.samples.shape, chain.means.shape
    (torch.Size([5, 4, 6]), torch.Size([5, 4, 6]))
    """
    if not callable(corruption):
        raise ConfigError(
            f"corruption must be a callable x -> x_tilde; got {type(corruption).__name__}. "
            "Pass e.g. layerwise.corruption.make_corruption('masking', 0.25)."
        )
    _check_count("n_steps", n_steps)
    x0 = x = _starting_state(model, n_samples, start, shape)
    logistic = getattr(model, "output", "identity") == "logistic"
    was_training = model.training
    model.eval()
    samples, means = [], []
    try:
        for _ in range(n_steps):
            mean = model.decode(model.encode(corruption(x)))  # (n_samples, *shape), mean of P(x | x_tilde)
            x = torch.bernoulli(mean) if (logistic and sample) else mean
            samples.append(x)
            means.append(mean)
    finally:
        model.train(was_training)
    return DAEChain(torch.stack(samples), torch.stack(means), x0)


def _check_count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a positive integer; got {value!r}.")
    return value


def _starting_state(model: nn.Module, n_samples: int | None, start: torch.Tensor | None, shape) -> torch.Tensor:
    """``x_0``: the given ``start`` or noise in the data range, on the model's device."""
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    if start is not None:
        if n_samples is not None and _check_count("n_samples", n_samples) != start.shape[0]:
            raise ConfigError(
                f"n_samples={n_samples} but start has {start.shape[0]} rows (shape {tuple(start.shape)}); "
                "pass n_samples=None to run one chain per row of start."
            )
        return start.to(device=device, dtype=torch.float32)
    if n_samples is None:
        raise ConfigError("dae_chain needs n_samples or start; got neither. Pass n_samples=16, or start=X[:16].")
    _check_count("n_samples", n_samples)
    shape = _sample_shape(model, shape)
    if getattr(model, "output", "identity") == "logistic":
        return torch.rand(n_samples, *shape, device=device)  # (n_samples, *shape) in [0, 1)
    return torch.randn(n_samples, *shape, device=device)  # (n_samples, *shape)


def _sample_shape(model: nn.Module, shape) -> tuple[int, ...]:
    """``shape`` if given, else the input width of the encoder's first ``nn.Linear``."""
    if shape is not None:
        shape = tuple(shape)
        if not shape or not all(isinstance(d, int) and d > 0 for d in shape):
            raise ConfigError(f"shape must be a sequence of positive integers, e.g. (784,); got {shape!r}.")
        return shape
    for m in getattr(model, "encoder", model).modules():
        if isinstance(m, nn.Linear):
            return (m.in_features,)
    raise ConfigError(
        f"Cannot tell the shape of one sample of this {type(model).__name__} (no nn.Linear in its encoder); "
        "pass shape=(channels, height, width) or start=... ."
    )


def draw_samples(model, n: int, random_state: int = 0) -> np.ndarray:
    """``n`` samples from a saved generative model, ``(n, n_features)``.

    A :class:`~layerwise.VariationalAutoencoder` samples its prior; a
    :class:`~layerwise.StackedAutoencoder` pretrained with ``"vae"`` decodes
    prior draws of its top codes, one pretrained with ``"denoising"`` runs
    DAE Markov chains (Bengio et al. 2013).
    """
    if hasattr(model, "sample"):
        return np.asarray(model.sample(n, random_state=random_state))
    objective = getattr(model, "pretrain", None)
    width = model._n_inputs() if hasattr(model, "_n_inputs") else model.n_features_in_  # the network's input width
    out = estimator_samples(model, objective, width, random_state, n) if hasattr(model, "autoencoder_") else None
    if out is None:
        raise ConfigError(f"A {type(model).__name__} pretrained with {objective!r} cannot sample. Sampling needs a "
                          "VariationalAutoencoder, or a StackedAutoencoder pretrained with 'vae' or 'denoising'.")
    return out


def estimator_samples(sae, objective: str, n_features: int, seed: int, n: int = 50) -> np.ndarray | None:
    """Prior samples through a stacked autoencoder's decoders (``"vae"``), the end of DAE chains
    (``"denoising"``), or ``None`` for objectives that cannot sample; in the units of the training data
    (the model's ``scale`` undone)."""
    gen = torch.Generator().manual_seed(seed)
    if objective == "vae":
        width = sae.transform(np.zeros((1, n_features), np.float32)).shape[1]
        z = torch.randn(n, width, generator=gen)  # (n, top width): the prior of the top layer
        decoders = getattr(sae.stack_, "decoders", None)
        if decoders is None or getattr(sae, "unroll_max_iter", 0):  # no per-layer decoders: decode the means
            return sae.inverse_transform(z.numpy())
        return sae._unscale(_ancestral_vae_samples(sae.stack_, z, gen))
    if objective == "denoising":
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            chain = dae_chain(sae.autoencoder_, MaskingNoise(0.25), n_samples=n, n_steps=30, shape=(n_features,))
        means = chain.means[-1].detach().cpu().numpy()  # in the model's input space
        return sae._unscale(means) if hasattr(sae, "_unscale") else means
    return None


@torch.no_grad()
def _ancestral_vae_samples(stack, z: torch.Tensor, gen: torch.Generator) -> np.ndarray:
    """Samples of a stack of VAEs, drawn top-down as its generative model defines them.

    Layer ``k > 1`` is a VAE of the codes of layer ``k - 1`` with a unit-variance Gaussian likelihood (its
    ``"mse"`` ELBO), so a code of layer ``k - 1`` is ``decoder_k(z) + N(0, I)``, not ``decoder_k(z)`` alone:
    decoding the means through every layer loses that variation, and the samples all look like the mean row.
    The first layer's decoder gives the mean (or Bernoulli probabilities) of the data, which is returned.
    """
    decoders = stack.decoders
    was_training = stack.training
    stack.eval()
    try:
        param = next(stack.parameters())
        z = z.to(param.device)
        for decoder in list(decoders)[:0:-1]:  # layers L .. 2
            mean = decoder(z)  # (n, width of the layer below)
            z = mean + torch.randn(mean.shape, generator=gen).to(mean.device)
        out = decoders[0](z)  # (n, n_features): logits for a Bernoulli first layer
    finally:
        stack.train(was_training)
    return (torch.sigmoid(out) if stack.output == "logistic" else out).float().cpu().numpy()
