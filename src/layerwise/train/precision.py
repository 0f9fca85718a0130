"""``precision="auto"``: bf16 autocast where the hardware multiplies bf16 fast and the layers are big enough to gain.

Measured on the project's machines (2 Xeon cores with AMX-BF16, idle, 2 threads; one ladder step of 100
labeled + 100 unlabeled rows, fp32 against bf16 autocast alternated in one process, medians of 7 runs;
``python benchmarks/bench_levers.py``, 2026-12-07):

- 784-1000-500-250-250-250-10 (the ladder paper's network): bf16 1.15x faster (46.1 -> 40.2 ms);
- 784-512-256-10 (MNIST-sized rows, the estimators' default layers): 1.09x faster (17.2 -> 15.8 ms);
- 64-512-256-10 and 64-256-64-10 (digits): bf16 0.95x and 0.84x, i.e. **slower**: with matrices this small
  the casts around each matmul cost more than the matmul saves.

So ``"auto"`` is bf16 when the device has fast bf16 matmuls (a CUDA GPU that supports bf16; a CPU with
AMX-BF16 or AVX512-BF16) and the model has a weight matrix of at least :data:`MIN_BF16_WEIGHTS` entries
(digits' 512x256 layer has 131,072; MNIST's 784x512 401,408), else fp32. Batch statistics, losses and the
optimizer's state stay in fp32 either way (autocast only lowers the matmuls). The gain is small on these
CPUs because a ladder step's time is mostly elementwise work, not matmuls.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MIN_BF16_WEIGHTS", "fast_bf16", "largest_weight", "resolve_precision"]

#: Entries of the largest weight matrix from which ``precision="auto"`` takes bf16 (between the 131,072 of
#: digits' 512x256 layer, where bf16 was slower, and the 401,408 of MNIST's 784x512, where it was faster).
MIN_BF16_WEIGHTS = 262_144
#: A convolution's kernel counts this many times: it is applied at every position of its input (at least a
#: 4x4 map here), so its arithmetic per row is that many times a dense layer's of as many weights.
CONV_POSITIONS = 16


def fast_bf16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bf16 matrices in hardware: CUDA with bf16 support, or a CPU with AMX-BF16
    or AVX512-BF16 (elsewhere CPU bf16 is emulated and slower than fp32)."""
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        # private but stable since torch 2.1; a torch without them answers False, i.e. fp32
        checks = (getattr(torch.cpu, "_is_amx_tile_supported", None), getattr(torch.cpu, "_is_avx512_bf16_supported", None))
        return any(check is not None and bool(check()) for check in checks)
    return False


def largest_weight(model: nn.Module) -> int:
    """Entries of the model's largest weight matrix or kernel (``out x in``; ``out x in x kh x kw``).

    A convolution's kernel counts :data:`CONV_POSITIONS` times its entries: Conv-Small's 128x64x3x3 kernel
    (73,728 entries) counts 1,179,648, above :data:`MIN_BF16_WEIGHTS`, and the conv ladder ran 1.9x faster in
    bf16 (1.9 s -> 1.0 s per step of 100 + 100 rows of 28x28, one thread, machine busy)."""
    return max((p.numel() * (CONV_POSITIONS if p.dim() > 2 else 1) for p in model.parameters() if p.dim() >= 2), default=0)


def resolve_precision(precision: str, device: torch.device, model: nn.Module) -> str:
    """``"fp32"`` or ``"bf16"``: ``precision`` itself unless it is ``"auto"`` (see the module's doc).

    Examples
    --------
    >>> resolve_precision("auto", torch.device("cpu"), nn.Linear(64, 256))
    'fp32'
    >>> resolve_precision("bf16", torch.device("cpu"), nn.Linear(64, 256))
    'bf16'
    """
    if precision != "auto":
        return precision
    return "bf16" if fast_bf16(device) and largest_weight(model) >= MIN_BF16_WEIGHTS else "fp32"
