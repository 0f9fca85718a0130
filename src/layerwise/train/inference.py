"""Inference in fixed-size blocks without autograd: below the training loop and the distributed helpers,
which both use it (the codes of frozen layers, predictions of the estimators).

A row's result must not depend on the other rows it is computed with (scikit-learn's
``check_methods_subset_invariance`` and ``check_methods_sample_order_invariance``, and a user who
predicts one row and then a file of them). Two things make float32 results depend on the batch:

- matrix products: oneDNN/MKL pick a kernel, and so a summation order, by the number of rows;
- element-wise functions (``sigmoid``, ``softplus``...): vectorised code runs over whole vectors and a
  scalar loop over the tail, and the two round differently in the last bit, so an element's value
  depends on its position in the tensor.

So rows go through the module in blocks of exactly :data:`BLOCK_ROWS` rows, the last block padded with
zero rows: every block has the same shape (the same kernels), and a block's element count is a multiple
of 64 (no scalar tail). One more case is handled: for a few small output widths (odd widths below 12,
e.g. a head with 3, 5 or 7 classes) MKL's matrix product gives a row a result that depends on its
position in the block modulo 4; inside :func:`predict_in_batches` every ``F.linear`` with such a width
runs with its weight padded with zero rows to a multiple of 16 outputs, and the extra columns are dropped
(``tests/train/test_inference.py`` checks a grid of shapes). A row's output is then bitwise the same
alone, in a subset or in another order.
The block size trades throughput against the latency of a single row. ``benchmarks/bench_inference.py``
(60,000 MNIST rows, 2 threads, against plain 8,192-row blocks): 64-row blocks ran at 0.73x (784-512-256-10)
and 0.87x (784-1000-500-250-30), and they slowed the codes of frozen layers in greedy pretraining and
frozen fine-tuning as much; 256-row blocks run at 0.92x and 1.06x. A single row computes a whole
block (about 3 ms for 784-512-256-10 on one thread).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.overrides import TorchFunctionMode

from ..data.npy import DEFAULT_CHUNK_ROWS, NpyWriter, _check_chunk_rows, _check_source, read_rows

__all__ = ["predict_in_batches", "encode_to_npy", "BLOCK_ROWS"]

#: Rows per forward pass of :func:`predict_in_batches`: large enough that matrix products run at full speed,
#: small enough that a single row costs little. A multiple of 64, see the module doc.
BLOCK_ROWS = 256
_OUT_MULTIPLE = 16  # output widths padded to a multiple of this in inference (see the module doc)


class _PaddedLinear(TorchFunctionMode):
    """Run ``F.linear`` with the weight's output rows padded with zeros to a multiple of 16, then drop them."""

    def __init__(self) -> None:
        super().__init__()
        self._padded: dict[tuple, tuple[torch.Tensor, torch.Tensor | None]] = {}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is not F.linear:
            return func(*args, **kwargs)
        x, weight, *rest = args
        bias = rest[0] if rest else kwargs.get("bias")
        n_out = weight.shape[0] if weight.dim() == 2 else 0
        if weight.dim() != 2 or n_out % _OUT_MULTIPLE == 0:
            return func(*args, **kwargs)
        key = (id(weight), weight._version, id(bias), None if bias is None else bias._version)
        if key not in self._padded:  # once per weight and call of predict_in_batches
            n = -(-n_out // _OUT_MULTIPLE) * _OUT_MULTIPLE
            w = weight.new_zeros((n, weight.shape[1]))
            w[:n_out] = weight
            b = None
            if bias is not None:
                b = bias.new_zeros(n)
                b[:n_out] = bias
            self._padded[key] = (w, b)
        w, b = self._padded[key]
        return F.linear(x, w, b)[..., :n_out].contiguous()  # (..., n_out), contiguous: no per-row vector tails


@torch.no_grad()
def predict_in_batches(module: nn.Module, X: torch.Tensor, batch_size: int = BLOCK_ROWS, method: str | None = None) -> torch.Tensor:
    """``module(X)`` (or ``module.method(X)``) in eval mode, in blocks of ``batch_size`` rows, without autograd.

    Every block has exactly ``batch_size`` rows (the last one is padded with
    zero rows, whose outputs are dropped), so a row's result does not depend
    on the other rows of ``X``: see the module doc.

    ``no_grad`` rather than ``inference_mode``: the result may feed the next
    layer's training, and inference tensors cannot be saved for backward.

    Parameters
    ----------
    module : nn.Module
    X : Tensor, shape (n_samples, ...)
    batch_size : int, default=64
        Rows per forward pass. Results are batch-invariant for one value of
        ``batch_size``; keep the default unless memory asks for less.
    method : str, optional
        A method of ``module`` to call instead of ``forward`` (e.g. ``"decode"``).

    Returns
    -------
    Tensor, shape (n_samples, ...)
    """
    was_training = module.training
    module.eval()
    try:
        fn = getattr(module, method) if method else module
        n = X.shape[0]
        if n == 0:
            return fn(X)
        parts = []
        with _PaddedLinear():
            for i in range(0, n, batch_size):
                block = X[i : i + batch_size]  # (<= batch_size, ...)
                m = block.shape[0]
                if m < batch_size:
                    block = torch.cat([block, block.new_zeros((batch_size - m, *block.shape[1:]))])
                parts.append(fn(block)[:m])
        return torch.cat(parts)
    finally:
        module.train(was_training)


@torch.no_grad()
def encode_to_npy(module: nn.Module, source: Any, path: str | os.PathLike, chunk_rows: int = DEFAULT_CHUNK_ROWS,
                  batch_size: int = 64, device: str | torch.device | None = None, method: str | None = None) -> Path:
    """Write ``module(rows)`` for every row of ``source`` to a ``.npy`` file, one chunk in memory at a time.

    The codes of a frozen layer for data larger than memory: the same values
    as :func:`~layerwise.train.loop.predict_in_batches` on the whole data
    (bitwise: a row's codes do not depend on the rows computed with it), with at most ``chunk_rows`` input rows and their
    codes in memory.

    Parameters
    ----------
    module : nn.Module
        Run in eval mode without autograd, e.g. a trained encoder.
    source : ndarray, Tensor, NpyFile or DatasetRows, shape (n_samples, ...)
    path : path
        The ``.npy`` file to write (float32, shape ``(n_samples, *code_shape)``).
    chunk_rows : int, default=65536
    batch_size : int, default=64
        Rows per forward pass (:data:`~layerwise.train.inference.BLOCK_ROWS`).
    device : str or torch.device, optional
        Where to compute; default the module's device.
    method : str, optional
        Call ``module.<method>`` instead of ``module`` (e.g. ``"encode"``).

    Returns
    -------
    Path
        ``path``; ``NpyFile(path)`` streams 2-D codes to the next stage.

    Raises
    ------
    DataError
        A source without rows, or ``chunk_rows`` that is not a positive integer.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> enc = nn.Linear(4, 2)
    >>> path = encode_to_npy(enc, torch.rand(10, 4), pathlib.Path(tempfile.mkdtemp()) / "codes.npy", chunk_rows=3)
    >>> from layerwise.data import NpyFile
    >>> NpyFile(path).shape
    (10, 2)
    """
    n, chunk_rows = _check_source(source), _check_chunk_rows(chunk_rows)
    if device is None:
        param = next(module.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
    writer = None
    try:
        for start in range(0, n, chunk_rows):
            codes = predict_in_batches(module, read_rows(source, start, start + chunk_rows).to(device), batch_size, method)
            if writer is None:  # the codes' width is known after the first chunk
                writer = NpyWriter(path, (n, *codes.shape[1:]))
            writer.write(codes.float())
        return writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
