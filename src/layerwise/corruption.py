"""Input corruption for denoising autoencoders: callables ``x -> x_tilde``.

Corruption draws from torch's global generator, which the trainer seeds, so a
seeded run corrupts the same way every time. It is applied per batch inside the
objective: cached codes stay clean.
"""

from __future__ import annotations

import torch

from .exceptions import ConfigError
from .registry import Registry

__all__ = ["CORRUPTIONS", "GaussianNoise", "MarginalNoise", "MaskingNoise", "SaltAndPepper", "make_corruption"]

CORRUPTIONS: Registry[type] = Registry("corruption")


def _check_rate(name: str, value: float, upper_open: bool = True) -> float:
    value = float(value)
    if not (0.0 <= value < 1.0 if upper_open else 0.0 <= value <= 1.0):
        raise ConfigError(f"{name} must be in [0, 1); got {value!r}. A typical value is 0.1 to 0.5.")
    return value


@CORRUPTIONS.register("gaussian")
class GaussianNoise:
    """Additive isotropic Gaussian noise, ``x + std * eps`` (Vincent et al. 2010, sec. 4.2)."""

    def __init__(self, std: float = 0.1) -> None:
        if not float(std) >= 0:
            raise ConfigError(f"std must be >= 0; got {std!r}.")
        self.std = float(std)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.std * torch.randn_like(x)

    def __repr__(self) -> str:
        return f"GaussianNoise(std={self.std})"


@CORRUPTIONS.register("masking")
class MaskingNoise:
    """Set a random fraction ``p`` of the inputs to zero (Vincent et al. 2008)."""

    def __init__(self, p: float = 0.25) -> None:
        self.p = _check_rate("p", p)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        keep = torch.rand_like(x) >= self.p
        return x * keep

    def __repr__(self) -> str:
        return f"MaskingNoise(p={self.p})"


@CORRUPTIONS.register("salt_and_pepper")
class SaltAndPepper:
    """Set a random fraction ``p`` of the inputs to ``low`` or ``high``, each with
    probability 1/2 (Vincent et al. 2010, sec. 4.2)."""

    def __init__(self, p: float = 0.1, low: float = 0.0, high: float = 1.0) -> None:
        self.p = _check_rate("p", p)
        self.low, self.high = float(low), float(high)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        u = torch.rand_like(x)
        hit = u < self.p
        # Among the hit entries, the lower half of u goes to `low`, the upper to `high`.
        value = torch.where(u < self.p / 2, self.low, self.high).to(x.dtype)
        return torch.where(hit, value, x)

    def __repr__(self) -> str:
        return f"SaltAndPepper(p={self.p}, low={self.low}, high={self.high})"


@CORRUPTIONS.register("marginal")
class MarginalNoise:
    """Replace a random fraction ``p`` of the entries by the same column's value in another row of the batch.

    Each entry is replaced, with probability ``p``, by a draw from its column's
    empirical marginal: the value of that column in another row of the batch,
    drawn uniformly. The corrupted row stays on the data's support column by
    column (a categorical code stays a valid category, a count stays a count),
    which suits tables better than Gaussian or zero-masking noise: SCARF's
    corruption (Bahri et al. 2022, sec. 3) and VIME's mask-and-pretext
    generator (Yoon et al. 2020, sec. 4.1, ``x_tilde = m * x_bar + (1 - m) * x``).

    Parameters
    ----------
    p : float, default=0.3
        Probability that an entry is replaced, in [0, 1) (VIME's ``p_m``: 0.3 in
        the authors' code; SCARF's corruption rate: 0.6).

    Notes
    -----
    The donor row is drawn for each entry separately, among the *other* rows
    of the batch, so a replaced entry changes unless another row holds the
    same value (a repeated category). A batch of one row has no other row and
    comes back unchanged. Works on any shape ``(batch, ...)``: each position
    after the first axis is a column.

    Examples
    --------
    >>> x = torch.arange(12.0).reshape(4, 3)
    >>> x_tilde, mask = MarginalNoise(0.5).draw(x)
    >>> all(set(x_tilde[:, j].tolist()) <= set(x[:, j].tolist()) for j in range(3))
    True
    """

    def __init__(self, p: float = 0.3) -> None:
        self.p = _check_rate("p", p)

    def draw(self, x: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The corrupted batch and which entries were replaced.

        Parameters
        ----------
        x : Tensor, shape (batch, ...)
        generator : torch.Generator, optional
            On ``x``'s device; default: torch's global generator (which the
            trainer seeds).

        Returns
        -------
        x_tilde : Tensor, shape like ``x``
            ``m * x_bar + (1 - m) * x`` (Yoon et al. 2020, sec. 4.1).
        mask : Tensor of bool, shape like ``x``
            ``m``: the entries given another row's value (it may be equal to
            the replaced one, e.g. a repeated category).
        """
        n = x.shape[0]
        if n < 2 or self.p == 0.0:
            return x, torch.zeros(x.shape, dtype=torch.bool, device=x.device)
        mask = torch.rand(x.shape, generator=generator, device=x.device) < self.p
        # one donor row per entry among the n - 1 others: draw in [0, n - 1) and skip the entry's own row
        donor = torch.randint(0, n - 1, x.shape, generator=generator, device=x.device)
        own = torch.arange(n, device=x.device).view(n, *([1] * (x.ndim - 1)))
        donor = donor + (donor >= own).long()
        x_bar = torch.gather(x, 0, donor)  # x_bar[i, j] = x[donor[i, j], j]: column j's marginal
        return torch.where(mask, x_bar, x), mask

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.draw(x)[0]

    def __repr__(self) -> str:
        return f"MarginalNoise(p={self.p})"


def make_corruption(noise: str, level: float | None = None):
    """Build the corruption ``noise`` with its main parameter set to ``level``."""
    cls = CORRUPTIONS.get(noise)
    if level is None:
        return cls()
    return cls(level)
