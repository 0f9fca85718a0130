"""One training loop for every model: autoencoders, heads, fine-tuning.

The loop knows nothing about autoencoders: an objective computes the loss of
one batch, the loop runs epochs over in-memory tensors. Defaults are the fast
ones measured on our machines (``shared/PERFORMANCE.md``): fused Adam, and
batches sliced from tensors rather than a per-sample ``DataLoader``.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from ..data.arrays import TensorBatches
from ..data.semi import LabeledUnlabeled
from ..data.stream import ChunkedBatches, NpyFile
from ..exceptions import ConfigError, DataError, DivergenceError
from . import distributed as dist_
from .callbacks import Callback, EarlyStopping
from .checkpoint import has_checkpoint
from .resume import CheckpointMixin

__all__ = ["Trainer", "resolve_device", "make_optimizer", "predict_in_batches"]

OPTIMIZERS = ("adam", "adamw", "sgd")
PRECISIONS = ("fp32", "bf16")


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else as given.

    Raises
    ------
    ConfigError
        A name torch does not know (``"gpu"``, ``"tpu"``), or ``"cuda"``/``"mps"``
        on a machine without that accelerator.
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as e:
        raise ConfigError(
            f"device must be 'auto', 'cpu', 'cuda', 'cuda:<index>' or another torch device; got {device!r}. "
            "Use device='auto' to take CUDA when available, else the CPU."
        ) from e
    if dev.type == "cuda" and dev.index is None and dist_.launched() and torch.cuda.is_available():
        # one GPU per process under torchrun: process LOCAL_RANK of this machine takes GPU LOCAL_RANK
        return torch.device("cuda", dist_.local_device_index())
    available = {"cuda": torch.cuda.is_available, "mps": lambda: torch.backends.mps.is_available()}
    if dev.type in available and not available[dev.type]():
        raise ConfigError(f"device={device!r} was asked for, but this machine (torch {torch.__version__}) has no {dev.type} "
                          "device. Use device='auto' or 'cpu'.")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ConfigError(f"device={device!r} was asked for, but this machine has {torch.cuda.device_count()} CUDA "
                          f"device(s), numbered from 0. Use device='cuda' or 'auto'.")
    return dev


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


class Trainer(CheckpointMixin):
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
    checkpoint_dir : path, optional
        Write a checkpoint there at the end of every epoch (and every
        ``checkpoint_every`` batches): weights, optimizer state, RNG states,
        epoch and batch position, history. ``fit(..., resume=True)`` continues
        from it; on CPU the result is bitwise the same as an uninterrupted run.
    checkpoint_every : int, optional
        Also checkpoint every this many batches inside an epoch.
    chunk_rows : int, optional
        Stream the training rows in chunks of this many rows, shuffled within
        chunks (:class:`~layerwise.data.stream.ChunkedBatches`). Always used,
        with 65,536 rows by default, when the data is a
        :class:`~layerwise.data.stream.NpyFile` (data larger than memory).
    distributed : {"auto", True, False}, default="auto"
        Data-parallel training over several processes with
        :class:`~torch.nn.parallel.DistributedDataParallel`
        (:mod:`layerwise.train.distributed`). ``"auto"``: when ``torchrun``
        started several processes (or a process group of several is
        initialised); ``True``: insist (an error otherwise); ``False``: never.
        ``batch_size`` is then the *global* batch, split across processes;
        every process sees the same history; only rank 0 writes checkpoints
        and shows progress. Without a launcher, ``"auto"`` changes nothing.
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
        checkpoint_dir: str | None = None,
        checkpoint_every: int | None = None,
        chunk_rows: int | None = None,
        distributed: bool | str = "auto",
    ) -> None:
        _check_choice("optimizer", optimizer, OPTIMIZERS)
        _check_choice("precision", precision, PRECISIONS)
        _check_positive("lr", lr)
        _check_positive("max_epochs", max_epochs, integer=True)
        _check_positive("batch_size", batch_size, integer=True)
        _check_non_negative("weight_decay", weight_decay)
        _check_non_negative("momentum", momentum)
        _check_non_negative("tol", tol)
        if grad_clip is not None:
            _check_positive("grad_clip", grad_clip)
        if patience is not None:
            _check_positive("patience", patience, integer=True)
        self.optimizer, self.lr, self.momentum, self.weight_decay = optimizer, float(lr), float(momentum), float(weight_decay)
        self.max_epochs, self.batch_size, self.shuffle = int(max_epochs), int(batch_size), shuffle
        self.patience, self.tol, self.seed = patience, tol, seed
        self.device = resolve_device(device)
        self.precision, self.grad_clip = precision, grad_clip
        self.callbacks = list(callbacks)
        if patience is not None:
            self.callbacks.append(EarlyStopping("val_loss", patience=patience, tol=tol))
        self.progress, self.desc = progress, desc
        if checkpoint_every is not None:
            _check_positive("checkpoint_every", checkpoint_every, integer=True)
        self.checkpoint_dir, self.checkpoint_every = checkpoint_dir, checkpoint_every
        if chunk_rows is not None:
            _check_positive("chunk_rows", chunk_rows, integer=True)
        self.chunk_rows = chunk_rows
        if not (distributed is True or distributed is False or (isinstance(distributed, str) and distributed == "auto")):
            raise ConfigError(f"distributed must be 'auto', True or False; got {distributed!r}.")
        self.distributed = distributed
        self._ctx: dist_.DistributedContext | None = None
        self.history: list[dict[str, Any]] = []
        self.should_stop = False
        self._first_batch = True

    # -- the loop ---------------------------------------------------------------------
    def fit(self, model: nn.Module, objective, train: Sequence[torch.Tensor], val: Sequence[torch.Tensor] | None = None,
            params=None, resume: bool = False) -> list[dict[str, Any]]:
        """Train ``model`` in place and return the history (one dict per epoch).

        Parameters
        ----------
        model : nn.Module
        objective : callable
            ``objective(model, batch) -> StepOutput``.
        train, val : tuple of Tensor
            ``(X,)`` or ``(X, y)``; moved to the trainer's device once. ``train``
            may also be a :class:`~layerwise.data.semi.LabeledUnlabeled` (ladder
            networks, the semi-supervised VAE): each step then gets
            ``(x_labeled, y, x_unlabeled)`` and an epoch is one pass over the
            unlabeled rows (``batch_size`` of them per step).
        params : iterable, optional
            Parameters or param groups to optimise; default: every parameter
            of ``model`` with ``requires_grad``.
        resume : bool, default=False
            Continue from the checkpoint in ``checkpoint_dir`` if there is one.
        """
        if not isinstance(train, LabeledUnlabeled):
            train = _check_tensors(train, "train")
        val = _check_tensors(val, "val", like=(train.X_unlabeled,) if isinstance(train, LabeledUnlabeled) else train) if val is not None else None
        if self.seed is not None:
            torch.manual_seed(self.seed)
        ctx = self._ctx = dist_.resolve(self.distributed, self.device)
        try:
            return self._fit(model, objective, train, val, params, resume, ctx)
        finally:
            self._ctx = None

    def _fit(self, model, objective, train, val, params, resume: bool, ctx) -> list[dict[str, Any]]:
        model.to(self.device)
        val = tuple(t.to(self.device) for t in val) if val is not None else None
        self._first_batch = True
        if params is None:
            params = [p for p in model.parameters() if p.requires_grad]
        opt = make_optimizer(params, self.optimizer, self.lr, self.momentum, self.weight_decay, self.device)
        self.optimizer_ = opt  # callbacks (learning-rate schedules) reach the optimizer here
        seed = int(torch.randint(0, 2**62, (1,)).item())
        if ctx is not None:
            # the batch order must be the same on every rank (rank 0's seed); the noise of corruptions,
            # dropout and sampling must not (each rank its own stream, still fixed by the trainer's seed)
            noise = int(torch.randint(0, 2**62, (1,)).item())
            seed, noise = (int(v) for v in ctx.broadcast(torch.tensor([seed, noise], dtype=torch.int64)))
            torch.manual_seed(noise + ctx.rank)
        gen = torch.Generator().manual_seed(seed)
        batches = self._batches(train, gen)
        if ctx is not None:
            batches = dist_.ShardedBatches(batches, ctx.rank, ctx.world_size)
        self.history, self.should_stop = [], False
        self._call("on_fit_start", model)
        epoch0, batch0, acc = 0, 0, None
        if resume and self._has_checkpoint(ctx):
            epoch0, batch0, acc = self._restore(model, opt, gen, ctx)
        step_objective, ddp = objective, None
        if ctx is not None:  # wrapped after the restore: DDP starts from the restored weights
            ddp = ctx.wrap(model, objective)
            step_objective = dist_.DistributedObjective(ddp, objective)
        # disable=None: no bar when the output is not a terminal (CI logs, pipes); other ranks stay quiet
        quiet = not self.progress or (ctx is not None and not ctx.is_main)
        bar = tqdm(range(epoch0, self.max_epochs), desc=self.desc, disable=True if quiet else None, leave=False, dynamic_ncols=True)
        try:
            for epoch in bar:
                if self.should_stop:
                    break
                logs = self._run_epoch(model, step_objective, batches, opt, epoch, batch0, acc)
                batch0, acc = 0, None
                if val is not None:
                    logs["val_loss"] = self._validate(model, objective, val, ctx)
                self.history.append(logs)
                bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items() if k in ("loss", "val_loss")}, refresh=False)
                self._call("on_epoch_end", model, logs)
                if ctx is not None:  # a callback that stops one rank stops them all: no rank waits for the others forever
                    self.should_stop = ctx.any(self.should_stop)
                if self.checkpoint_dir is not None:
                    self._checkpoint(model, opt, gen.get_state(), epoch + 1, 0, None)
        finally:
            if ddp is not None:
                ctx.unwrap(ddp)
        self._call("on_fit_end", model)
        return self.history

    def predict(self, module: nn.Module, X: torch.Tensor, batch_size: int = 4096, method: str | None = None) -> torch.Tensor:
        """:func:`predict_in_batches`; under distributed training each process computes its share of the rows.

        Every process gets the whole result (the codes of a frozen layer that
        the next stage, or a frozen fine-tuning, trains on). On one process
        this is exactly :func:`predict_in_batches`.
        """
        ctx = dist_.resolve(self.distributed, self.device)
        if ctx is None:
            return predict_in_batches(module, X, batch_size, method)
        return ctx.predict(module, X, batch_size, method)

    def _batches(self, train: Sequence, gen: torch.Generator):
        """In-memory tensors sliced by a permuted index, or chunks streamed from a file."""
        if isinstance(train, LabeledUnlabeled):
            return train.to(self.device).batches(self.batch_size, gen)
        bs = min(self.batch_size, len(train[0]))
        if isinstance(train[0], NpyFile) or self.chunk_rows is not None:
            if len(train) != 1:
                raise ConfigError("Streaming in chunks supports unlabeled data (X,) only; load labeled data into memory.")
            return ChunkedBatches(train[0], bs, self.chunk_rows or 65536, gen, self.device)
        return TensorBatches(tuple(t.to(self.device) for t in train), bs, self.shuffle, gen)

    def _run_epoch(self, model, objective, batches, opt, epoch: int, first_batch: int = 0, acc=None) -> dict[str, Any]:
        model.train()
        self._call("on_epoch_start", model, epoch)
        epoch_gen = batches.generator.get_state() if batches.generator is not None else None
        start = time.perf_counter()
        total, n, sums = acc if acc is not None else (0.0, 0, {})
        sharded = isinstance(batches, dist_.ShardedBatches)
        for i, item in enumerate(batches.iter_from(first_batch), start=first_batch):
            # one process: a batch; several: this rank's share, its real rows, and its loss weight
            batch, m, scale = item if sharded else (item, item[0].shape[0], None)
            out = self._step(model, objective, batch)
            loss = out.loss
            if not torch.isfinite(loss):
                raise DivergenceError(self._diverged("loss", loss.item(), epoch, i))
            opt.zero_grad(set_to_none=True)
            # DDP averages gradients over ranks; weighting each rank's mean loss by its share of the
            # global batch makes that average the gradient of the global batch's mean, even for uneven splits
            (loss if scale is None or scale == 1.0 else loss * scale).backward()
            if self.grad_clip is not None:
                norm = torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], self.grad_clip)
                if not torch.isfinite(norm):  # free here: the clip computed the norm anyway
                    raise DivergenceError(self._diverged("gradient norm", norm.item(), epoch, i))
            opt.step()
            total = total + loss.detach().float() * m
            for k, v in out.logs.items():
                sums[k] = sums.get(k, 0.0) + v.float() * m
            n += m
            self._call("on_batch_end", model, i, loss)
            if self.checkpoint_dir is not None and self.checkpoint_every and (i + 1) % self.checkpoint_every == 0 and (i + 1) < len(batches):
                self._checkpoint(model, opt, epoch_gen, epoch, i + 1, (total, n, sums))
        if self._ctx is not None:  # every rank gets the row-weighted mean over all ranks
            total, n, sums = self._ctx.reduce_metrics(total, n, sums)
        logs: dict[str, Any] = {"epoch": epoch + 1, "loss": float(total) / n}
        logs.update({k: float(v) / n for k, v in sums.items()})
        logs["seconds"] = time.perf_counter() - start
        return logs

    def _step(self, model, objective, batch):
        """``objective(model, batch)``; the first batch of a fit is a sanity run whose torch errors are explained."""
        if not self._first_batch:
            with self._autocast():
                return objective(model, batch)
        try:
            with self._autocast():
                out = objective(model, batch)
        except RuntimeError as e:
            if isinstance(e, torch.OutOfMemoryError):
                raise
            shapes = ", ".join(f"{tuple(t.shape)} {str(t.dtype).replace('torch.', '')}" for t in batch)
            named = objective.objective if isinstance(objective, dist_.DistributedObjective) else objective
            raise DataError(
                f"The first training batch could not go through {type(model).__name__} with {type(named).__name__}: {e}. "
                f"The batch holds tensors of shape(s) {shapes}; expected what the model takes, e.g. as many features "
                "as its first layer's inputs and float32 values. Check the data's shape and the model's input size."
            ) from e
        self._first_batch = False
        return out

    def _diverged(self, what: str, value: float, epoch: int, batch: int) -> str:
        """The message of a :class:`DivergenceError`: where, likely causes, the last good checkpoint."""
        return (f"The {what} became {value} at epoch {epoch + 1}, batch {batch + 1}. Likely causes: a "
                f"learning rate too high (now {self.lr}; try 10x smaller), inputs not scaled (the 'bce' "
                "loss needs data in [0, 1]; standardise real-valued data), or NaN in the data; grad_clip=1.0 "
                "can also help." + (f" The last good checkpoint is in {self.checkpoint_dir}." if has_checkpoint(self.checkpoint_dir) else ""))

    def _validate(self, model: nn.Module, objective, val: Sequence[torch.Tensor], ctx) -> float:
        """Validation loss; under distributed training each rank evaluates its share and the means are combined."""
        if ctx is None:
            return self.evaluate(model, objective, val)["loss"]
        start, stop = ctx.shard(val[0].shape[0])
        # a rank without rows (fewer rows than ranks) evaluates one and counts none
        part = tuple(t[start:stop] if stop > start else t[:1] for t in val)
        rows = stop - start
        total, n, _ = ctx.reduce_metrics(self.evaluate(model, objective, part)["loss"] * rows, rows, {})
        return total / n

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


def _check_tensors(data, name: str, like: tuple[torch.Tensor, ...] | None = None) -> tuple[torch.Tensor, ...]:
    """``data`` as a tuple of tensors with the same (non-zero) number of rows, else :class:`DataError`."""
    if isinstance(data, torch.Tensor) or not isinstance(data, (tuple, list)):
        raise DataError(
            f"{name} must be a tuple of tensors such as (X,) or (X, y); got {type(data).__name__}"
            + (f" of shape {tuple(data.shape)}" if isinstance(data, torch.Tensor) else "") + f". Pass {name}=(X,)."
        )
    # tensors, or anything with a shape that the trainer streams (NpyFile)
    bad = [type(t).__name__ for t in data if not hasattr(t, "shape")]
    if not data or bad:
        raise DataError(f"{name} must be a non-empty tuple of tensors; got {[type(t).__name__ for t in data]}. "
                        "Convert arrays with torch.from_numpy(X).")
    rows = [int(t.shape[0]) if len(t.shape) else 0 for t in data]
    if rows[0] < 1 or len(set(rows)) > 1:
        raise DataError(f"{name} must hold tensors with the same number of rows, at least one; got rows {rows} "
                        f"(shapes {[tuple(t.shape) for t in data]}).")
    if like is not None and tuple(data[0].shape[1:]) != tuple(like[0].shape[1:]):
        raise DataError(f"{name}[0] has rows of shape {tuple(data[0].shape[1:])} but train[0] has {tuple(like[0].shape[1:])}; "
                        "expected the same features in both.")
    return tuple(data)


def _check_non_negative(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{name} must be a number >= 0; got {value!r}.")


def _check_positive(name: str, value: object, integer: bool = False) -> None:
    ok = isinstance(value, numbers.Integral if integer else numbers.Real) and not isinstance(value, bool)
    if not ok or not value > 0 or (not integer and not math.isfinite(value)):
        kind = "a positive integer" if integer else "a positive number"
        raise ConfigError(f"{name} must be {kind}; got {value!r}.")
