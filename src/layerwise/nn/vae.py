"""The variational autoencoder (Kingma & Welling 2014) as a pure module.

Vocabulary of pytorch/examples ``vae/main.py``: ``encode(x) -> (mu, logvar)``,
``reparameterize``, ``decode``. The loss lives in
:mod:`layerwise.objectives.elbo`; this module only computes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from ..exceptions import ConfigError, DataError
from .autoencoder import OUTPUTS
from .blocks import TiedLinear, _check_size, dense_block, first_linear, make_activation

__all__ = ["VAE", "VAEOutput", "dense_vae"]


class VAEOutput(NamedTuple):
    """What :meth:`VAE.forward` returns; every field has a batch dimension first."""

    recon: torch.Tensor  # (batch, *in_shape): mean of p(x|z), after the output activation
    mu: torch.Tensor  # (batch, latent_dim)
    logvar: torch.Tensor  # (batch, latent_dim)
    z: torch.Tensor  # (batch, latent_dim): the reparameterized sample


class VAE(nn.Module):
    """Gaussian encoder ``q(z|x) = N(mu(x), diag(sigma^2(x)))``, prior ``N(0, I)``, any decoder.

    Parameters
    ----------
    body : nn.Module
        ``(batch, *in_shape) -> (batch, hidden_dim)`` features shared by the
        two heads: dense blocks, or a pretrained :class:`EncoderStack` so the
        VAE sits on top of a greedily pretrained stack.
    hidden_dim : int
        Width of the body's output.
    latent_dim : int
        Width of ``z``.
    decoder : nn.Module
        ``(batch, latent_dim) -> (batch, *in_shape)`` *pre-activation* values
        (logits for a Bernoulli decoder), as in :class:`AutoEncoder`.
    output : {"logistic", "identity"}, default="logistic"
        ``"logistic"``: Bernoulli decoder for data in [0, 1];
        ``"identity"``: Gaussian decoder with unit variance.

    Attributes
    ----------
    encoder : nn.Sequential
        The *mean path* ``x -> mu``: ``Sequential(body, Linear, Identity)``. This is what
        greedy stacking keeps and fine-tuning trains.
    logvar_head : nn.Linear
        ``(batch, hidden_dim) -> (batch, latent_dim)``, applied to the body's
        output; not part of ``encoder``.

    Examples
    --------
    >>> vae = dense_vae(8, (6,), 2)
    >>> out = vae(torch.rand(5, 8))
    >>> out.recon.shape, out.mu.shape, vae.sample(3).shape
    (torch.Size([5, 8]), torch.Size([5, 2]), torch.Size([3, 8]))
    """

    def __init__(self, body: nn.Module, hidden_dim: int, latent_dim: int, decoder: nn.Module, output: str = "logistic") -> None:
        super().__init__()
        for name, module in (("body", body), ("decoder", decoder)):
            if not isinstance(module, nn.Module):
                raise ConfigError(f"VAE {name} must be an nn.Module; got {type(module).__name__}. Wrap a function in a module.")
        _check_size("hidden_dim", hidden_dim)
        _check_size("latent_dim", latent_dim)
        if output not in OUTPUTS:
            raise ConfigError(f"output must be one of {list(OUTPUTS)}; got {output!r}. Use 'logistic' for data in [0, 1].")
        # Laid out like a dense_block, (layer, Linear, activation): the explicit
        # Identity tells greedy stacking and ``EncoderStack.unroll`` that the
        # code (the latent mean) is linear. The body is registered once, here.
        self.encoder = nn.Sequential(body, nn.Linear(hidden_dim, latent_dim), nn.Identity())
        self.logvar_head = nn.Linear(hidden_dim, latent_dim)
        self.decoder = decoder
        self.latent_dim = latent_dim
        self.output = output
        self.output_activation = make_activation(output)

    @property
    def body(self) -> nn.Module:
        """The shared feature extractor, ``encoder[0]``."""
        return self.encoder[0]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Parameters of ``q(z|x)``: ``(mu, logvar)``, each ``(batch, latent_dim)``."""
        h = self.encoder[0](x)  # (batch, hidden_dim)
        mu = self.encoder[2](self.encoder[1](h))  # (batch, latent_dim)
        return mu, self.logvar_head(h)

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``z = mu + sigma * eps`` with ``eps ~ N(0, I)`` (Kingma & Welling 2014, sec. 2.4).

        Always samples (also in eval mode): use ``mu`` for a deterministic code.
        """
        eps = _randn(mu.shape, generator, mu)  # (batch, latent_dim)
        return mu + torch.exp(0.5 * logvar) * eps

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Mean of ``p(x|z)`` (after the output activation), ``(batch, *in_shape)``."""
        return self.output_activation(self.decoder(z))

    def forward(self, x: torch.Tensor) -> VAEOutput:
        """Encode, sample ``z`` and decode: a :class:`VAEOutput`."""
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar)  # (batch, latent_dim)
        return VAEOutput(self.decode(z), mu, logvar, z)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decoded means of ``n`` draws from the prior, ``(n, *in_shape)``."""
        _check_size("n", n)
        z = _randn((n, self.latent_dim), generator, self._reference())  # (n, latent_dim)
        return self.decode(z)

    @torch.no_grad()
    def interpolate(self, x_a: torch.Tensor, x_b: torch.Tensor, steps: int = 10) -> torch.Tensor:
        """Decode ``steps`` points on the straight line between the latent means of two samples.

        Parameters
        ----------
        x_a, x_b : Tensor, shape (*in_shape)
            One sample each, without a batch dimension (e.g. ``X[0]``).
        steps : int, default=10
            At least 2; the first and last rows decode ``mu(x_a)`` and ``mu(x_b)``.

        Returns
        -------
        Tensor, shape (steps, *in_shape)
        """
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
            raise ConfigError(f"steps must be an integer >= 2 (both end points included); got {steps!r}.")
        if x_a.shape != x_b.shape:
            raise DataError(f"x_a and x_b must have the same shape (one sample each); got {tuple(x_a.shape)} and {tuple(x_b.shape)}.")
        mu, _ = self.encode(torch.stack([x_a, x_b]))  # (2, latent_dim)
        t = torch.linspace(0, 1, steps, device=mu.device, dtype=mu.dtype).unsqueeze(1)  # (steps, 1)
        return self.decode((1 - t) * mu[0] + t * mu[1])

    @torch.no_grad()
    def traverse(self, x: torch.Tensor, dim: int, values: Sequence[float] | torch.Tensor) -> torch.Tensor:
        """Decode the latent mean of ``x`` with dimension ``dim`` set to each of ``values``.

        Parameters
        ----------
        x : Tensor, shape (*in_shape)
            One sample, without a batch dimension.
        dim : int
            Latent dimension to vary, in ``[0, latent_dim)``; the others stay fixed.
        values : sequence of float or Tensor, shape (m,)

        Returns
        -------
        Tensor, shape (m, *in_shape)
        """
        if isinstance(dim, bool) or not isinstance(dim, int) or not 0 <= dim < self.latent_dim:
            raise ConfigError(f"dim must be an integer in [0, {self.latent_dim}) (the latent width); got {dim!r}.")
        mu, _ = self.encode(x.unsqueeze(0))  # (1, latent_dim)
        values = torch.as_tensor(values, dtype=mu.dtype, device=mu.device).flatten()  # (m,)
        z = mu.repeat(values.shape[0], 1)  # (m, latent_dim)
        z[:, dim] = values
        return self.decode(z)

    def _reference(self) -> torch.Tensor:
        """A tensor on this module's device and dtype (for fresh random draws)."""
        p = next(self.parameters(), None)
        return p if p is not None else torch.empty(0)

    def extra_repr(self) -> str:
        return f"latent_dim={self.latent_dim}, output={self.output!r}"


def _randn(shape, generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    """Standard normal draws shaped ``shape`` on ``like``'s device, from ``generator`` if given."""
    if generator is None:
        return torch.randn(shape, device=like.device, dtype=like.dtype)
    return torch.randn(shape, generator=generator, device=generator.device).to(like.device, like.dtype)


def dense_vae(
    n_in: int,
    hidden_layer_sizes: Sequence[int],
    latent_dim: int,
    activation: str = "relu",
    output: str = "logistic",
    dropout: float = 0.0,
    tied: bool = False,
) -> VAE:
    """A dense VAE ``n_in -> hidden_layer_sizes -> latent_dim`` with a mirrored decoder.

    Parameters
    ----------
    n_in : int
        Input width.
    hidden_layer_sizes : sequence of int
        Widths of the body's layers, e.g. ``(400,)`` as in pytorch/examples;
        the decoder uses them in reverse.
    latent_dim : int
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        Activation of every hidden layer (encoder and decoder).
    output : {"logistic", "identity"}, default="logistic"
        See :class:`VAE`.
    dropout : float, default=0.0
        Dropout after each hidden layer of the body.
    tied : bool, default=False
        Each decoder weight is the transpose of its mirror in the encoder
        (the mean's linear layer for the first decoder layer).

    Returns
    -------
    VAE

    Examples
    --------
    >>> vae = dense_vae(784, (400,), 20)
    >>> [tuple(t.shape) for t in vae.encode(torch.rand(2, 784))]
    [(2, 20), (2, 20)]
    """
    _check_size("n_in", n_in)
    _check_size("latent_dim", latent_dim)
    sizes = _check_sizes(hidden_layer_sizes)
    widths = (n_in, *sizes)
    body = nn.Sequential(*[dense_block(a, b, activation, dropout) for a, b in zip(widths[:-1], widths[1:])])
    dims = (*widths, latent_dim)
    if not tied:
        decoder = _mirrored_decoder([nn.Linear(b, a) for a, b in zip(dims[:-1], dims[1:])], activation)
        return VAE(body, sizes[-1], latent_dim, decoder, output)
    vae = VAE(body, sizes[-1], latent_dim, nn.Identity(), output)
    sources = [first_linear(block) for block in body] + [vae.encoder[1]]
    vae.decoder = _mirrored_decoder([TiedLinear(s) for s in sources], activation)
    return vae


def _check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    """``hidden_layer_sizes`` as a non-empty tuple of positive ints, or a ConfigError."""
    original = sizes
    if isinstance(sizes, int) and not isinstance(sizes, bool):
        sizes = (sizes,)
    try:
        sizes = tuple(sizes)
    except TypeError:
        sizes = ()
    if not sizes:
        raise ConfigError(f"hidden_layer_sizes must be a non-empty sequence of positive integers, e.g. (400,); got {original!r}.")
    return tuple(_check_size("hidden_layer_sizes[i]", s) for s in sizes)


def _mirrored_decoder(linears: list[nn.Module], activation: str) -> nn.Sequential:
    """``linears`` (ordered input side first) reversed, with ``activation`` between them."""
    layers: list[nn.Module] = []
    for k, lin in enumerate(reversed(linears)):
        layers.append(lin)
        if k < len(linears) - 1:
            layers.append(make_activation(activation))
    return nn.Sequential(*layers)

