"""Watching a run: one line per epoch to stderr, ``metrics.jsonl``, a CSV file, TensorBoard.

Each logger is a :class:`~layerwise.train.callbacks.Callback`: pass it in
``Trainer(callbacks=[...])`` (or ``GreedyLayerwise(trainer=Trainer(callbacks=[...]))``, or an
estimator's ``callbacks=[...]``). The file loggers write each finished
epoch at once and flush it to disk, so the file can be followed
(``tail -f metrics.jsonl``) while the run goes on.

One logger object is one file: when several fits share it (the stages of a
greedy pretraining), their epochs follow each other in the file, each line
naming its phase (the trainer's ``desc`` unless ``phase=`` is given).

Resuming never duplicates a line. The epochs a logger has written are part of
its checkpoint state; a resumed fit first rewrites the file to exactly those
epochs, dropping any epoch written after the last checkpoint (the resumed fit
trains it again and writes it again). Under distributed training only rank 0
writes.
"""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ..exceptions import ConfigError
from . import distributed as dist_
from .callbacks import Callback

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from .loop import Trainer

__all__ = ["EpochLogger", "JSONLinesLogger", "CSVLogger", "TensorBoardLogger"]

WHEN = ("auto", "always")


def _current_lr(trainer: Trainer) -> float | None:
    """The first param group's learning rate, or ``None`` before an optimizer exists."""
    opt = getattr(trainer, "optimizer_", None)
    return float(opt.param_groups[0]["lr"]) if opt is not None and opt.param_groups else None


def _scalars(logs: dict[str, Any]) -> dict[str, float]:
    """The real-valued entries of an epoch's logs (``epoch`` excluded)."""
    return {k: float(v) for k, v in logs.items() if k != "epoch" and isinstance(v, numbers.Real) and not isinstance(v, bool)}


class EpochLogger(Callback):
    """One line per finished epoch on stderr, for logs that are files rather than terminals.

    ``[pretrain layer 1/2] epoch 3/10  loss 0.1234  val_loss 0.1301  lr 0.001  (2.1 s)``

    Parameters
    ----------
    when : {"auto", "always"}, default="auto"
        ``"auto"``: only when the stream is not a terminal (on a terminal the
        trainer's progress bar shows the same); ``"always"``: every time.
    stream : file-like, optional
        Where to write; default ``sys.stderr`` at the time of writing.
    phase : str, optional
        Label in brackets; default the trainer's ``desc``.
    """

    def __init__(self, when: str = "auto", stream: TextIO | None = None, phase: str | None = None) -> None:
        if when not in WHEN:
            raise ConfigError(f"when must be one of {list(WHEN)}; got {when!r}. 'auto' writes only when the output is "
                              "not a terminal, 'always' writes every epoch.")
        self.when, self.stream, self.phase = when, stream, phase
        self._lr: float | None = None
        self._start: float | None = None
        self._first_epoch = 0

    def _out(self) -> TextIO:
        return self.stream if self.stream is not None else sys.stderr

    def _active(self) -> bool:
        if not dist_.is_main():
            return False
        if self.when == "always":
            return True
        isatty = getattr(self._out(), "isatty", None)
        return not (isatty is not None and isatty())

    def on_fit_start(self, trainer: Trainer, model: nn.Module) -> None:
        """Say how long the fit will be: epochs, steps per epoch, steps (issue #20: progress on long fits)."""
        self._start, self._first_epoch = time.perf_counter(), None
        if not self._active():
            return
        steps = getattr(trainer, "steps_per_epoch", None)
        per = f" x {steps:,} steps = {steps * trainer.max_iter:,} steps" if steps else ""
        out = self._out()
        out.write(f"[{self.phase or trainer.desc}] {trainer.max_iter} epochs{per}\n")
        out.flush()

    def on_epoch_start(self, trainer: Trainer, model: nn.Module, epoch: int) -> None:
        self._lr = _current_lr(trainer)  # the rate this epoch trains with, before any schedule steps it
        if self._first_epoch is None:  # a resumed fit starts later: the estimate counts the epochs run here
            self._first_epoch, self._start = epoch, time.perf_counter()

    def on_epoch_end(self, trainer: Trainer, model: nn.Module, logs: dict[str, Any]) -> None:
        if not self._active():
            return
        values = _scalars(logs)
        seconds, lr = values.pop("seconds", None), values.pop("lr", self._lr)
        parts = [f"[{self.phase or trainer.desc}] epoch {logs.get('epoch', '?')}/{trainer.max_iter}"]
        parts += [f"{k} {v:.4g}" for k, v in values.items()]
        if lr is not None:  # last, after the losses
            parts.append(f"lr {lr:.4g}")
        line = "  ".join(parts) + (f"  ({seconds:.1f} s)" if seconds is not None else "")
        done, left = logs.get("epoch"), None
        if isinstance(done, int) and self._start is not None and self._first_epoch is not None and done > self._first_epoch:
            left = (time.perf_counter() - self._start) / (done - self._first_epoch) * (trainer.max_iter - done)
        if left is not None and done < trainer.max_iter:
            line += f"  eta {_duration(left)}"
        out = self._out()
        out.write(line + "\n")
        out.flush()


def _duration(seconds: float) -> str:
    """``42 s``, ``3 min 5 s``, ``1 h 2 min``."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


class _FileLogger(Callback):
    """A file holding one record per finished epoch, rewritten from the records after a resume.

    Subclasses say how records become text: :meth:`_render` (the whole file)
    and :meth:`_append` (one more record, or ``None`` when the whole file must
    be rendered again).
    """

    def __init__(self, path: str | os.PathLike, phase: str | None = None, append: bool = False) -> None:
        self.path, self.phase, self.append = Path(path), phase, bool(append)
        self.records: list[dict[str, Any]] = []
        self._start: int | None = None  # where this logger's part of the file begins (after older content if append)
        self._dirty = True  # the file does not hold exactly the records yet
        self._lr: float | None = None
        self._head: dict[str, Any] = {"phase": phase}

    def _fields(self, trainer: Trainer) -> dict[str, Any]:
        """What every record of a fit starts with: its ``phase`` (override to name fits otherwise)."""
        return {"phase": self.phase or trainer.desc}

    # -- callback hooks ---------------------------------------------------------------
    def on_fit_start(self, trainer: Trainer, model: nn.Module) -> None:
        self._head = self._fields(trainer)

    def on_epoch_start(self, trainer: Trainer, model: nn.Module, epoch: int) -> None:
        self._lr = _current_lr(trainer)
        self._sync()  # after a restore: the file now shows exactly the checkpointed epochs

    def on_epoch_end(self, trainer: Trainer, model: nn.Module, logs: dict[str, Any]) -> None:
        record = {**self._head, **logs}
        if "lr" not in record and self._lr is not None:  # the trainer's logs carry it; other loops' may not
            record["lr"] = self._lr
        self.records.append(record)
        if not dist_.is_main():
            return
        if self._dirty:
            self._sync()
            return
        text = self._append(record)
        if text is None:
            self._write_all()
        else:
            with open(self.path, "a", encoding="utf-8", newline="") as f:
                f.write(text)
                _flush(f)

    def on_fit_end(self, trainer: Trainer, model: nn.Module) -> None:
        self._sync()

    def state_dict(self) -> tuple[dict, dict]:
        return {}, {"records": self.records, "start": self._start}

    def load_state_dict(self, tensors: dict, state: dict) -> None:
        self.records = list(state["records"])
        self._start = state["start"]
        self._dirty = True

    # -- writing ------------------------------------------------------------------------
    def _sync(self) -> None:
        if self._dirty and dist_.is_main():
            self._write_all()

    def _write_all(self) -> None:
        """Keep the content before this logger's part, replace the rest by the records, flush to disk."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._start is None:
            self._start = self.path.stat().st_size if self.append and self.path.is_file() else 0
        text = self._render(self.records).encode("utf-8")
        # in place rather than a rename, so that `tail -f` keeps following the same file
        with open(self.path, "r+b" if self.path.is_file() else "wb") as f:
            f.seek(self._start)
            f.write(text)
            f.truncate()
            _flush(f)
        self._dirty = False

    def _render(self, records: list[dict[str, Any]]) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def _append(self, record: dict[str, Any]) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError


def _flush(f) -> None:
    """Flush Python's buffer and the OS's: a line is on disk when the epoch ends."""
    f.flush()
    try:
        os.fsync(f.fileno())
    except OSError:  # pipes, some network file systems: flushed is the best there is
        pass


def _json_value(v: Any) -> Any:
    """JSON for a log value: NaN and infinities as strings (JSON has no such numbers)."""
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


class JSONLinesLogger(_FileLogger):
    """Append one JSON object per finished epoch to a file (``metrics.jsonl``), flushed every epoch.

    Each line is ``{"phase": ..., "epoch": ..., "loss": ..., "val_loss": ...,
    "seconds": ..., "lr": ...}`` plus the objective's own logs: the format
    of the run folders' ``metrics.jsonl``. ``lr`` is the first param group's
    learning rate at the start of the epoch.

    Parameters
    ----------
    path : path
        The file; its folder is created.
    phase : str, optional
        Value of the ``"phase"`` key; default the trainer's ``desc``.
    append : bool, default=False
        Keep what the file already holds (e.g. the lines of an earlier
        command in the same run folder) and add after it; by default a new
        logger starts the file anew.

    Examples
    --------
    >>> import torch, tempfile, pathlib
    >>> from layerwise import Trainer, dense_autoencoder, Reconstruction
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "metrics.jsonl"
    >>> _ = Trainer(max_iter=2, callbacks=[JSONLinesLogger(path)]).fit(
    ...     dense_autoencoder(4, 2), Reconstruction("mse"), (torch.rand(8, 4),))
    >>> len(path.read_text().splitlines())
    2
    """

    def _render(self, records: list[dict[str, Any]]) -> str:
        return "".join(self._line(r) for r in records)

    def _append(self, record: dict[str, Any]) -> str:
        return self._line(record)

    @staticmethod
    def _line(record: dict[str, Any]) -> str:
        return json.dumps({k: _json_value(v) for k, v in record.items()}) + "\n"


class CSVLogger(_FileLogger):
    """A CSV file with one row per finished epoch, flushed every epoch.

    The header is the first epoch's keys. A key that appears later (a
    validation loss from the second phase on, say) becomes a new column: the
    file is rewritten with the wider header, earlier rows leaving that cell
    empty. A key missing from a row leaves its cell empty too.

    Parameters
    ----------
    path : path
        The file; its folder is created. A new logger starts it anew.
    phase : str, optional
        Value of the ``phase`` column; default the trainer's ``desc``.
    """

    def __init__(self, path: str | os.PathLike, phase: str | None = None) -> None:
        super().__init__(path, phase, append=False)
        self._columns: list[str] = []

    def load_state_dict(self, tensors: dict, state: dict) -> None:
        super().load_state_dict(tensors, state)
        self._columns = []

    def _render(self, records: list[dict[str, Any]]) -> str:
        self._columns = []
        for r in records:
            self._columns += [k for k in r if k not in self._columns]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, self._columns, lineterminator="\n")
        if self._columns:
            writer.writeheader()
        writer.writerows(records)
        return buf.getvalue()

    def _append(self, record: dict[str, Any]) -> str | None:
        if any(k not in self._columns for k in record):
            return None  # a new column: the header changes, the whole file is written again
        buf = io.StringIO()
        csv.DictWriter(buf, self._columns, lineterminator="\n").writerow(record)
        return buf.getvalue()


class TensorBoardLogger(Callback):
    """Each epoch's scalars as TensorBoard events (``tensorboard --logdir <log_dir>``).

    Needs the ``tensorboard`` package: ``pip install 'layerwise[tensorboard]'``.
    Tags are ``<phase>/<key>`` (``pretrain layer 1/2/loss``...); the step is
    the number of epochs this logger has seen, over all fits it serves, so
    the stages of a greedy pretraining follow each other on one time axis.
    A resumed fit hides the events written after its checkpoint
    (``SummaryWriter(purge_step=...)``), so no epoch is shown twice.

    Parameters
    ----------
    log_dir : path
    phase : str, optional
        Tag prefix; default the trainer's ``desc``.

    Raises
    ------
    ConfigError
        When the ``tensorboard`` package is not installed.
    """

    def __init__(self, log_dir: str | os.PathLike, phase: str | None = None) -> None:
        self._writer_class = _summary_writer_class()
        self.log_dir, self.phase = Path(log_dir), phase
        self.step = 0
        self._writer = None
        self._purge_step: int | None = None
        self._lr: float | None = None
        self._phase = phase

    def on_fit_start(self, trainer: Trainer, model: nn.Module) -> None:
        self._phase = self.phase or trainer.desc

    def on_epoch_start(self, trainer: Trainer, model: nn.Module, epoch: int) -> None:
        self._lr = _current_lr(trainer)
        if self._writer is None and dist_.is_main():
            self._writer = self._writer_class(str(self.log_dir), purge_step=self._purge_step)
            self._purge_step = None

    def on_epoch_end(self, trainer: Trainer, model: nn.Module, logs: dict[str, Any]) -> None:
        self.step += 1
        if self._writer is None:
            return
        values = _scalars(logs)
        if "lr" not in values and self._lr is not None:
            values["lr"] = self._lr
        for key, value in values.items():
            self._writer.add_scalar(f"{self._phase}/{key}", value, self.step)
        self._writer.flush()

    def on_fit_end(self, trainer: Trainer, model: nn.Module) -> None:
        self.close()

    def close(self) -> None:
        """Flush and close the event file; a later fit opens a new one in the same folder."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def state_dict(self) -> tuple[dict, dict]:
        return {}, {"step": self.step}

    def load_state_dict(self, tensors: dict, state: dict) -> None:
        self.step = int(state["step"])
        self.close()
        self._purge_step = self.step + 1  # events of later steps were written after the checkpoint


def _summary_writer_class():
    """``torch.utils.tensorboard.SummaryWriter``, or a :class:`ConfigError` saying how to install it."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as e:
        raise ConfigError(
            f"TensorBoardLogger needs the tensorboard package, which cannot be imported here ({e}). "
            "Install it with: pip install 'layerwise[tensorboard]' (or pip install tensorboard), or log to "
            "metrics.jsonl with JSONLinesLogger instead."
        ) from e
    return SummaryWriter
