"""One training loop for every model: autoencoders, heads, fine-tuning.

The loop knows nothing about autoencoders: an objective computes the loss of
one batch, the loop runs epochs over in-memory tensors. Where the steps run
(one process or several) is an execution (:mod:`layerwise.train.execution`),
what a resumed fit needs is a checkpointer (:mod:`layerwise.train.resume`):
the loop below calls both the same way whatever they do. Defaults are the fast
ones measured on our machines (``shared/PERFORMANCE.md``): fused Adam, and
batches sliced from tensors rather than a per-sample ``DataLoader``.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ..data.adapters import DatasetRows, as_training_data, is_torch_data, materialize
from ..data.arrays import TensorBatches
from ..data.semi import LabeledUnlabeled
from ..data.stream import ChunkedBatches, NpyFile
from ..exceptions import ConfigError, DataError, DivergenceError
from ..params import TRAINER, auto, configurable_init
from ..params.table import PRECISIONS, SOLVERS  # noqa: F401  (PRECISIONS: kept importable from here)
from .callbacks import EarlyStopping
from .checkpoint import check_resume, checkpoint_dir_problems, has_checkpoint
from .execution import resolve_device, resolve_execution
from .fingerprint import fingerprint
from .inference import BLOCK_ROWS, predict_in_batches
from .precision import resolve_precision
from .resume import TrainState, make_checkpointer
from .threads import ThreadPolicy

__all__ = ["Trainer", "resolve_device", "make_optimizer", "predict_in_batches", "auto_batch_size", "check_tensors"]

OPTIMIZERS = SOLVERS  # the old names of the choices, kept for imports from here
_HUGE_INPUT = 1e15  # squared and summed over a row, larger inputs overflow float32 (as the estimators' check)
_EXPLODED = 1e4  # a batch loss this many times the first batch's (or 1) is a divergence, even while finite


def make_optimizer(params, solver: str = "adam", learning_rate_init: float = 1e-3, momentum: float = 0.9, alpha: float = 0.0,
                   device: torch.device | None = None) -> torch.optim.Optimizer:
    """Build an optimizer, fused where PyTorch supports it for ``device``.

    The arguments are the estimators' and the ``Trainer``'s: ``solver`` (``"adam"``, ``"adamw"``, ``"sgd"``, or
    torch's class names), ``learning_rate_init`` (torch's ``lr``), ``momentum`` (SGD's, with Nesterov when
    positive) and ``alpha`` (the L2 penalty: torch's ``weight_decay``). ``params`` may be an iterable of tensors or
    of param-group dicts. Fused Adam took 1.9 ms instead of 5.8 ms of a 20 ms step on our 2-core CPU.
    """
    fused = {"fused": True} if device is not None and device.type in ("cpu", "cuda") else {}
    name = solver.lower() if isinstance(solver, str) and solver in ("Adam", "AdamW", "SGD") else solver  # torch's class names
    lr, weight_decay = learning_rate_init, alpha
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, **fused)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, **fused)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=momentum > 0, weight_decay=weight_decay, **fused)
    raise ConfigError(f"Unknown solver {solver!r}; expected one of {list(SOLVERS)}.")


def auto_batch_size(batch_size: int | str, n: int) -> int:
    """The rows per step for ``n`` rows: ``"auto"`` is ``n // 32`` clipped to [32, 256], so small data sets
    still get enough optimizer steps per epoch and large ones efficient batches; never more than ``n``."""
    if batch_size == "auto":
        batch_size = auto.batch_size(auto.Situation(n))  # the declaration's resolver (params.table: batch_size)
    return min(int(batch_size), n)


class Trainer:
    __doc__ = TRAINER.document("""Runs epochs of ``objective(model, batch)`` over in-memory tensors.

    Every argument is keyword-only and named as in scikit-learn's estimators
    (an old name, such as ``lr``, is refused with its name now:
    ``learning_rate_init``). Bad values raise one :class:`~layerwise.ConfigError`
    listing every problem.

    Parameters
    ----------
    {parameters}

    Examples
    --------
    >>> from layerwise.nn import dense_autoencoder
    >>> from layerwise.objectives import Reconstruction
    >>> history = Trainer(max_iter=2, batch_size=16, random_state=0).fit(
    ...     dense_autoencoder(8, 3), Reconstruction("mse"), (torch.rand(64, 8),))
    >>> [h["epoch"] for h in history]
    [1, 2]
    """)

    __init__ = configurable_init(TRAINER, n_positional=0)

    def __post_init__(self) -> None:
        TRAINER.validate(self.get_params(), "Trainer", context=checkpoint_dir_problems(self.checkpoint_dir))
        self.device = resolve_device(self.device)
        self.callbacks = list(self.callbacks)
        self.history: list[dict[str, Any]] = []
        self.should_stop = False
        self._first_batch, self._active = True, []
        # not an argument: a Continuation (train/resume.py) the estimators' warm_start sets, which this fit starts
        # from and keeps its state in; None: nothing kept (clone() gives a copy without it)
        self.continuation = None

    def get_params(self) -> dict[str, Any]:
        """The arguments of this trainer (``device`` resolved), e.g. to build a variant with :meth:`clone`."""
        return {name: getattr(self, name) for name in TRAINER}

    def clone(self, **changes: Any) -> Trainer:
        """A new trainer with the same arguments but ``changes`` (a greedy stage's seed, label and folder)."""
        return type(self)(**{**self.get_params(), **changes})

    # -- the loop ---------------------------------------------------------------------
    def _epoch_lines(self) -> list:
        """With ``verbose`` and no terminal (a notebook's log, a pipe, a scheduler's file), one line per epoch on
        stderr, as scikit-learn's MLP prints (the progress bar shows the same on a terminal)."""
        from .loggers import EpochLogger

        if not self.verbose or any(isinstance(c, EpochLogger) for c in self.callbacks):
            return []
        return [EpochLogger(when="auto")]

    def fit(self, model: nn.Module, objective, train: Sequence[torch.Tensor], val: Sequence[torch.Tensor] | None = None,
            params=None, resume: bool = False) -> list[dict[str, Any]]:
        """Train ``model`` in place and return the history (one dict per epoch).

        Parameters
        ----------
        model : nn.Module
        objective : callable
            ``objective(model, batch) -> StepOutput``.
        train, val : tuple of Tensor, or Dataset or DataLoader
            ``(X,)`` or ``(X, y)``; moved to the trainer's device once (NumPy
            arrays are turned into tensors: float32 features, int64 labels). ``train``
            may also be a :class:`~layerwise.data.semi.LabeledUnlabeled` (ladder
            networks, the semi-supervised VAE): each step then gets
            ``(x_labeled, y, x_unlabeled)`` and an epoch is one pass over the
            unlabeled rows (``batch_size`` of them per step). ``(X,)`` may hold a
            :class:`~layerwise.data.stream.NpyFile` or a
            :class:`~layerwise.data.adapters.DatasetRows`, streamed in chunks.
            A ``torch.utils.data.Dataset`` or ``DataLoader`` (items ``x`` or
            ``(x, y)``) is read into tensors once when it fits in 1 GiB, else
            streamed without its labels (:func:`~layerwise.data.adapters.as_training_data`);
            ``val`` is always read into memory.
        params : iterable, optional
            Parameters or param groups to optimise; default: every parameter
            of ``model`` with ``requires_grad``.
        resume : bool, default=False
            Continue from the checkpoint in ``checkpoint_dir`` if there is one.
        """
        check_resume(resume, self.checkpoint_dir, "Trainer")
        if is_torch_data(train):
            train = _dataset_tuple(train)
        if val is not None and is_torch_data(val):
            val = tuple(t for t in materialize(val) if t is not None)
        if not isinstance(train, LabeledUnlabeled):
            train = check_tensors(train, "train")
        val = check_tensors(val, "val", like=(train.X_unlabeled,) if isinstance(train, LabeledUnlabeled) else train) if val is not None else None
        if self.random_state is not None:
            torch.manual_seed(self._seed())
        return self._fit(model, objective, train, val, params, resume, resolve_execution(self.distributed, self.device))

    def _fit(self, model, objective, train, val, params, resume: bool, execution) -> list[dict[str, Any]]:
        model.to(self.device)
        val = tuple(t.to(self.device) for t in val) if val is not None else None
        self._first_batch, self._objective, self._first_loss = True, objective, None
        if params is None:
            params = [p for p in model.parameters() if p.requires_grad]
        opt = make_optimizer(params, self.solver, self.learning_rate_init, self.momentum, self.alpha, self.device)
        self.precision_ = resolve_precision(self.precision, self.device, model)
        self.optimizer_ = opt  # callbacks (learning-rate schedules) reach the optimizer here
        gen = torch.Generator().manual_seed(execution.batch_seed())
        batches = execution.shard(self._batches(train, gen))
        self._active = [*self.callbacks, *([EarlyStopping("val_loss", n_iter_no_change=self.n_iter_no_change, tol=self.tol)]
                                            if self.early_stopping else []), *self._epoch_lines()]
        self.steps_per_epoch = _length(batches)
        checkpoints = make_checkpointer(self.checkpoint_dir, execution, self._active, self.device, self.checkpoint_every,
                                        self._check_finite, lambda: fingerprint(self, model, objective, opt, train, val, self._active),
                                        self.continuation)
        self.history, self.should_stop = [], False
        checkpoints.fingerprint()  # now, before callbacks change learning rates or objective weights
        self._call("on_fit_start", model)
        state = checkpoints.start(model, opt, gen, resume)
        self.history, self.should_stop = state.history, state.should_stop
        bar = execution.progress(range(state.epoch, self.max_iter), self.desc, bool(self.verbose))
        with execution.wrapped(model, objective) as step, ThreadPolicy(model):
            for epoch in bar:
                if self.should_stop:
                    break
                logs = self._run_epoch(model, step, batches, opt, epoch, state, execution, checkpoints)
                if val is not None:
                    logs["val_loss"] = execution.validate(lambda part: self.evaluate(model, objective, part)["loss"], val)
                self.history.append(logs)
                bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items() if k in ("loss", "val_loss")}, refresh=False)
                self._call("on_epoch_end", model, logs)
                self.should_stop = execution.any(self.should_stop)
                state = TrainState(epoch + 1, 0, self.history, self.should_stop, None, gen.get_state())
                checkpoints.save(model, opt, state)
        self._call("on_fit_end", model)
        return self.history

    def predict(self, module: nn.Module, X: torch.Tensor, batch_size: int = BLOCK_ROWS, method: str | None = None) -> torch.Tensor:
        """:func:`predict_in_batches`; under distributed training each process computes its share of the rows.

        Every process gets the whole result (the codes of a frozen layer that
        the next stage, or a frozen fine-tuning, trains on). On one process
        this is exactly :func:`predict_in_batches`.
        """
        return resolve_execution(self.distributed, self.device).predict(module, X, batch_size, method)

    def _seed(self) -> int:
        rs = self.random_state
        return int(rs.randint(0, 2**31 - 1)) if isinstance(rs, np.random.RandomState) else int(rs)

    def _batches(self, train: Sequence, gen: torch.Generator):
        """In-memory tensors sliced by a permuted index, or chunks streamed from a file."""
        if isinstance(train, LabeledUnlabeled):
            return train.to(self.device).batches(auto_batch_size(self.batch_size, len(train)), gen)
        bs = auto_batch_size(self.batch_size, len(train[0]))
        if isinstance(train[0], (NpyFile, DatasetRows)) or self.chunk_rows is not None:
            if len(train) != 1:
                raise ConfigError("Streaming in chunks supports unlabeled data (X,) only; load labeled data into memory.")
            return ChunkedBatches(train[0], bs, self.chunk_rows or 65536, gen, self.device)
        return TensorBatches(tuple(t.to(self.device) for t in train), bs, self.shuffle, gen)

    def _run_epoch(self, model, objective, batches, opt, epoch: int, state: TrainState, execution, checkpoints) -> dict[str, Any]:
        """One epoch from batch ``state.batch`` on (0 unless resuming a cut epoch); its logs."""
        model.train()
        self._call("on_epoch_start", model, epoch)
        lr = float(opt.param_groups[0]["lr"])  # the rate this epoch trains with, once schedules (callbacks) have set it
        epoch_gen = batches.generator.get_state() if batches.generator is not None else None
        start = time.perf_counter()
        first, (total, n, sums) = state.batch, state.partial_sums()  # batch 0 and zeros unless resuming a cut epoch
        # each item: a batch (one process: the batch; several: this rank's share), its real rows, its loss weight
        for i, (batch, m, scale) in enumerate(execution.iter_batches(batches, first), start=first):
            out = self._step(model, objective, batch)
            loss = out.loss
            value = loss.detach().item()  # the finiteness check reads the loss anyway: this costs no extra synchronisation
            if not math.isfinite(value):
                raise DivergenceError(self._diverged("loss", value, epoch, i, opt, data=batch))
            if self._first_loss is None:
                self._first_loss = abs(value)
            elif abs(value) > _EXPLODED * max(self._first_loss, 1.0):
                raise DivergenceError(self._diverged("loss", value, epoch, i, opt, exploded=self._first_loss, data=batch))
            opt.zero_grad(set_to_none=True)
            # DDP averages gradients over ranks; weighting each rank's mean loss by its share of the
            # global batch makes that average the gradient of the global batch's mean, even for uneven splits
            (loss if scale is None or scale == 1.0 else loss * scale).backward()
            if self.grad_clip is not None:
                norm = torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], self.grad_clip)
                if not torch.isfinite(norm):  # free here: the clip computed the norm anyway
                    raise DivergenceError(self._diverged("gradient norm", norm.item(), epoch, i, opt))
            opt.step()
            total = total + loss.detach().float() * m
            for k, v in out.logs.items():
                sums[k] = sums.get(k, 0.0) + v.float() * m
            n += m
            self._call("on_batch_end", model, i, loss)
            checkpoints.after_batch(model, opt, i + 1, len(batches),
                                    lambda: TrainState(epoch, i + 1, self.history, self.should_stop, (total, n, sums), epoch_gen))
        total, n, sums = execution.reduce_metrics(total, n, sums)
        logs: dict[str, Any] = {"epoch": epoch + 1, "loss": float(total) / n}
        logs.update({k: float(v) / n for k, v in sums.items()})
        logs["seconds"] = time.perf_counter() - start
        logs["lr"] = lr  # the first param group's: what callbacks, the epoch lines and the history see
        return logs

    def _step(self, model, objective, batch):
        """``objective(model, batch)``; the first batch of a fit is a sanity run whose torch errors are explained."""
        if not self._first_batch:
            with self._autocast():
                return objective(model, batch)
        try:
            with self._autocast():
                out = objective(model, batch)
        except (RuntimeError, IndexError) as e:  # IndexError: a class label out of the head's range
            if isinstance(e, torch.OutOfMemoryError):
                raise
            shapes = ", ".join(f"{tuple(t.shape)} {str(t.dtype).replace('torch.', '')}" for t in batch)
            expected = ("class labels from 0 to the number of the model's outputs - 1: encode the labels as 0..n_classes-1 "
                        "(sklearn's LabelEncoder) and give the head one output per class" if isinstance(e, IndexError) else
                        "what the model takes, e.g. as many features as its first layer's inputs and float32 values. Check "
                        "the data's shape and the model's input size")
            raise DataError(
                f"The first training batch could not go through {type(model).__name__} with {type(self._objective).__name__}: "
                f"{str(e).rstrip('.')}. The batch holds tensors of shape(s) {shapes}; expected {expected}."
            ) from e
        self._first_batch = False
        return out

    def _check_finite(self, model: nn.Module, state: TrainState) -> None:
        """Before a checkpoint: a NaN gradient with a finite loss leaves NaN weights that only the next batch's
        loss would show, so a checkpoint is never written over the last good one with non-finite values."""
        bad = [name for name, p in model.named_parameters() if not torch.isfinite(p).all()]
        if bad:
            raise DivergenceError(self._diverged(f"weights of {bad[:3]}", float("nan"), max(state.epoch - (state.batch == 0), 0),
                                                 max(state.batch - 1, 0)))

    def _diverged(self, what: str, value: float, epoch: int, batch: int, opt=None, exploded: float | None = None,
                  data=None) -> str:
        """The message of a :class:`DivergenceError`: where, likely causes, the last good checkpoint.

        A cause the data or the objective shows comes first: inputs too large to square in float32, or a setting
        of the objective (its ``divergence_cause()``, e.g. a ladder's huge ``noise_std``)."""
        rates = sorted({g["lr"] for g in opt.param_groups}) if opt is not None else [self.learning_rate_init]
        rate = f"now {rates[0]}" if len(rates) == 1 else f"now {rates[0]} to {rates[-1]} by parameter group (encoder_lr_scale?)"
        happened = (f"The {what} exploded to {value:.3g} at epoch {epoch + 1}, batch {batch + 1}: over {_EXPLODED:g} times the first "
                    f"batch's ({exploded:.3g}), so training diverged." if exploded is not None else
                    f"The {what} became {value} at epoch {epoch + 1}, batch {batch + 1}.")
        first = [c for c in (_huge_inputs(data), _objective_cause(getattr(self, "_objective", None))) if c]
        if first:
            causes = "; ".join(first) + (f". Other causes: a learning rate too high ({rate}; try 10x smaller); grad_clip=1.0 "
                                         "can also help.")
        else:
            causes = (f"Likely causes: a learning rate too high ({rate}; try 10x smaller), inputs not scaled (the 'bce' loss "
                      "needs data in [0, 1]; standardise real-valued data), or NaN in the data; grad_clip=1.0 can also help.")
        return (f"{happened} {causes}"
                + (f" The last good checkpoint is in {self.checkpoint_dir}." if has_checkpoint(self.checkpoint_dir) else ""))

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
        if getattr(self, "precision_", self.precision) == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _call(self, hook: str, model: nn.Module, *args) -> None:
        for cb in self._active:
            getattr(cb, hook)(self, model, *args)


def _huge_inputs(batch) -> str | None:
    """``"The inputs hold values up to 1e+30 ..."`` when a float tensor of the diverging batch holds finite values too
    large to square in float32 (what the estimators refuse before training), else None."""
    try:
        tensors = [t for t in batch if isinstance(t, torch.Tensor) and t.is_floating_point() and t.numel()]
    except TypeError:
        return None
    largest = max((float(t.detach().abs().nan_to_num(nan=0.0, posinf=0.0, neginf=0.0).max()) for t in tensors), default=0.0)
    if largest <= _HUGE_INPUT:
        return None
    return (f"The inputs hold values up to {largest:.3g}, finite but so large that their squares overflow float32 "
            "(about 3.4e38), so no loss can be computed: rescale the data (e.g. sklearn's StandardScaler or MinMaxScaler, "
            "or scale='minmax' in the estimators)")


def _objective_cause(objective) -> str | None:
    """What the objective's own settings say about a divergence (``divergence_cause()``), else None."""
    cause = getattr(objective, "divergence_cause", None)
    return cause() if callable(cause) else None


def _dataset_tuple(data) -> tuple:
    """A ``Dataset`` or ``DataLoader`` as the loop's input: ``(X,)`` / ``(X, y)`` tensors, or ``(DatasetRows,)``
    to stream (the chunked path trains on features alone, so streamed labels are not read)."""
    X, y = as_training_data(data)
    return (X,) if y is None or isinstance(X, DatasetRows) else (X, y)


def check_tensors(data, name: str, like: tuple[torch.Tensor, ...] | None = None) -> tuple[torch.Tensor, ...]:
    """``data`` as a tuple of tensors with the same (non-zero) number of rows, else :class:`DataError`."""
    if isinstance(data, torch.Tensor) or not isinstance(data, (tuple, list)):
        raise DataError(
            f"{name} must be a tuple of tensors such as (X,) or (X, y); got {type(data).__name__}"
            + (f" of shape {tuple(data.shape)}" if isinstance(data, torch.Tensor) else "") + f". Pass {name}=(X,)."
        )
    data = tuple(_as_tensor(t, f"{name}[{i}]") for i, t in enumerate(data))
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


def _as_tensor(t, name: str):
    """A NumPy array as a tensor of the dtype models take: float32 features, int64 class labels."""
    if not isinstance(t, np.ndarray):
        return t
    if t.dtype.kind == "f" or t.dtype.kind == "b":
        return torch.from_numpy(np.ascontiguousarray(t, dtype=np.float32))
    if t.dtype.kind in "iu":
        return torch.from_numpy(np.ascontiguousarray(t, dtype=np.int64))
    raise DataError(f"{name} is a NumPy array of dtype {t.dtype}; expected numbers (float features, integer class labels). "
                    "Encode it as numbers first.")


def _length(batches) -> int | None:
    """Steps per epoch of a batch source, or None when it cannot tell."""
    try:
        return int(len(batches))
    except TypeError:
        return None
