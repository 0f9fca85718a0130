"""One training loop for every model: autoencoders, heads, fine-tuning.

The loop knows nothing about autoencoders: an objective computes the loss of
one batch, the loop runs epochs over in-memory tensors. Defaults are the fast
ones measured on our machines (``shared/PERFORMANCE.md``): fused Adam, and
batches sliced from tensors rather than a per-sample ``DataLoader``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import numbers
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from ..data.arrays import TensorBatches
from ..exceptions import ConfigError, DivergenceError
from .callbacks import Callback, EarlyStopping

log = logging.getLogger(__name__)

__all__ = ["Trainer", "resolve_device", "make_optimizer", "predict_in_batches"]

OPTIMIZERS = ("adam", "adamw", "sgd")
PRECISIONS = ("fp32", "bf16")


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else as given."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def make_optimizer(params, name: str = "adam", lr: float = 1e-3, momentum: float = 0.9, weight_decay: float = 0.0, device: torch.device | None = None) -> torch.optim.Optimizer:
    """Build an optimizer, fused where PyTorch supports it for ``device``.

    ``params`` may be an iterable of tensors or of param-group dicts.
    Fused Adam took 1.9 ms instead of 5.8 ms of a 20 ms step on our 2-core CPU.
    """
    fused = {"fused": True} if device is not None and device.type in ("cpu", "cuda") else {}
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, **fused)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, **fused)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=momentum > 0, weight_decay=weight_decay, **fused)
    raise ConfigError(f"Unknown optimizer {name!r}; expected one of {list(OPTIMIZERS)}.")


@torch.no_grad()
def predict_in_batches(module: nn.Module, X: torch.Tensor, batch_size: int = 4096, method: str | None = None) -> torch.Tensor:
    """``module(X)`` (or ``module.method(X)``) in eval mode, in large batches, without autograd.

    ``no_grad`` rather than ``inference_mode``: the result may feed the next
    layer's training, and inference tensors cannot be saved for backward.
    """
    was_training = module.training
    module.eval()
    try:
        fn = getattr(module, method) if method else module
        return torch.cat([fn(X[i : i + batch_size]) for i in range(0, X.shape[0], batch_size)])
    finally:
        module.train(was_training)


class Trainer:
    """Runs epochs of ``objective(model, batch)`` over in-memory tensors.

    Parameters
    ----------
    optimizer : {"adam", "adamw", "sgd"}, default="adam"
    lr : float, default=1e-3
    momentum : float, default=0.9
        SGD only (Nesterov when > 0).
    weight_decay : float, default=0.0
    max_epochs : int, default=10
    batch_size : int, default=256
    shuffle : bool, default=True
    patience : int or None, default=None
        Early stopping on ``val_loss`` (``loss`` without validation data) after
        this many epochs without improvement; the best weights are restored.
    tol : float, default=1e-4
    seed : int or None, default=None
        Seeds torch's global generator at the start of :meth:`fit` (init of
        new modules, corruption noise, batch order).
    device : str, default="auto"
    precision : {"fp32", "bf16"}, default="fp32"
        ``"bf16"`` runs forward passes under ``torch.autocast``.
    grad_clip : float or None, default=None
        Clip the gradient norm to this value.
    callbacks : sequence of Callback, default=()
    progress : bool, default=False
        Show a progress bar over epochs.
    desc : str, default="train"
        Label of the progress bar.
    """

    def __init__(
        self,
        optimizer: str = "adam",
        lr: float = 1e-3,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        max_epochs: int = 10,
        batch_size: int = 256,
        shuffle: bool = True,
        patience: int | None = None,
        tol: float = 1e-4,
        seed: int | None = None,
        device: str | torch.device = "auto",
        precision: str = "fp32",
        grad_clip: float | None = None,
        callbacks: Sequence[Callback] = (),
        progress: bool = False,
        desc: str = "train",
    ) -> None:
        _check_choice("optimizer", optimizer, OPTIMIZERS)
        _check_choice("precision", precision, PRECISIONS)
        _check_positive("lr", lr)
        _check_positive("max_epochs", max_epochs, integer=True)
        _check_positive("batch_size", batch_size, integer=True)
        self.optimizer, self.lr, self.momentum, self.weight_decay = optimizer, float(lr), float(momentum), float(weight_decay)
        self.max_epochs, self.batch_size, self.shuffle = int(max_epochs), int(batch_size), shuffle
        self.patience, self.tol, self.seed = patience, tol, seed
        self.device = resolve_device(device)
        self.precision, self.grad_clip = precision, grad_clip
        self.callbacks = list(callbacks)
        if patience is not None:
            self.callbacks.append(EarlyStopping("val_loss", patience=patience, tol=tol))
        self.progress, self.desc = progress, desc
        self.history: list[dict[str, Any]] = []
        self.should_stop = False

    # -- the loop ---------------------------------------------------------------------
    def fit(self, model: nn.Module, objective, train: Sequence[torch.Tensor], val: Sequence[torch.Tensor] | None = None, params=None) -> list[dict[str, Any]]:
        """Train ``model`` in place and return the history (one dict per epoch).

        Parameters
        ----------
        model : nn.Module
        objective : callable
            ``objective(model, batch) -> StepOutput``.
        train, val : tuple of Tensor
            ``(X,)`` or ``(X, y)``; moved to the trainer's device once.
        params : iterable, optional
            Parameters or param groups to optimise; default: every parameter
            of ``model`` with ``requires_grad``.
        """
        if self.seed is not None:
            torch.manual_seed(self.seed)
        model.to(self.device)
        train = tuple(t.to(self.device) for t in train)
        val = tuple(t.to(self.device) for t in val) if val is not None else None
        if params is None:
            params = [p for p in model.parameters() if p.requires_grad]
        opt = make_optimizer(params, self.optimizer, self.lr, self.momentum, self.weight_decay, self.device)
        gen = torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,)).item()))
        batches = TensorBatches(train, min(self.batch_size, train[0].shape[0]), self.shuffle, gen)
        self.history, self.should_stop = [], False
        self._call("on_fit_start", model)
        # disable=None: no bar when the output is not a terminal (CI logs, pipes)
        bar = tqdm(range(self.max_epochs), desc=self.desc, disable=None if self.progress else True, leave=False, dynamic_ncols=True)
        for epoch in bar:
            logs = self._run_epoch(model, objective, batches, opt, epoch)
            if val is not None:
                logs["val_loss"] = self.evaluate(model, objective, val)["loss"]
            self.history.append(logs)
            bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items() if k in ("loss", "val_loss")}, refresh=False)
            self._call("on_epoch_end", model, logs)
            if self.should_stop:
                break
        self._call("on_fit_end", model)
        return self.history

    def _run_epoch(self, model, objective, batches, opt, epoch: int) -> dict[str, Any]:
        model.train()
        self._call("on_epoch_start", model, epoch)
        start, total, n = time.perf_counter(), 0.0, 0
        sums: dict[str, torch.Tensor] = {}
        for i, batch in enumerate(batches):
            with self._autocast():
                out = objective(model, batch)
            loss = out.loss
            if not torch.isfinite(loss):
                raise DivergenceError(
                    f"The loss became {loss.item()} at epoch {epoch + 1}, batch {i + 1}. Likely causes: a "
                    f"learning rate too high (now {self.lr}; try 10x smaller), inputs not scaled (the 'bce' "
                    "loss needs data in [0, 1]; standardise real-valued data), or NaN in the data."
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if self.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], self.grad_clip)
            opt.step()
            m = batch[0].shape[0]
            total += loss.detach().float() * m
            for k, v in out.logs.items():
                sums[k] = sums.get(k, 0.0) + v.float() * m
            n += m
            self._call("on_batch_end", model, i, loss)
        logs: dict[str, Any] = {"epoch": epoch + 1, "loss": float(total) / n}
        logs.update({k: float(v) / n for k, v in sums.items()})
        logs["seconds"] = time.perf_counter() - start
        return logs

    @torch.no_grad()
    def evaluate(self, model: nn.Module, objective, data: Sequence[torch.Tensor], batch_size: int = 4096) -> dict[str, float]:
        """Mean loss and logs of ``objective`` over ``data`` in eval mode."""
        was_training = model.training
        model.eval()
        data = tuple(t.to(self.device) for t in data)
        total, n, sums = 0.0, 0, {}
        try:
            for batch in TensorBatches(data, batch_size, shuffle=False):
                with self._autocast():
                    out = objective(model, batch)
                m = batch[0].shape[0]
                total += float(out.loss) * m
                for k, v in out.logs.items():
                    sums[k] = sums.get(k, 0.0) + float(v) * m
                n += m
        finally:
            model.train(was_training)
        return {"loss": total / n, **{k: v / n for k, v in sums.items()}}

    def _autocast(self):
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _call(self, hook: str, model: nn.Module, *args) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, model, *args)


def _check_choice(name: str, value: object, choices: Sequence[object]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {list(choices)}; got {value!r}.")


def _check_positive(name: str, value: object, integer: bool = False) -> None:
    ok = isinstance(value, numbers.Integral if integer else numbers.Real) and not isinstance(value, bool)
    if not ok or not value > 0 or (not integer and not math.isfinite(value)):
        kind = "a positive integer" if integer else "a positive number"
        raise ConfigError(f"{name} must be {kind}; got {value!r}.")
