"""Input corruption for denoising autoencoders: callables ``x -> x_tilde``.

Corruption draws from torch's global generator, which the trainer seeds, so a
seeded run corrupts the same way every time. It is applied per batch inside the
objective: cached codes stay clean.
"""

from __future__ import annotations

import torch

from .exceptions import ConfigError
from .registry import Registry

__all__ = ["CORRUPTIONS", "GaussianNoise", "MaskingNoise", "SaltAndPepper", "make_corruption"]

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


def make_corruption(noise: str, level: float | None = None):
    """Build the corruption ``noise`` with its main parameter set to ``level``."""
    cls = CORRUPTIONS.get(noise)
    if level is None:
        return cls()
    return cls(level)
