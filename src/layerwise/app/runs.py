"""Run folders: where a run writes its config, metrics, state and models.

A run folder ``out_dir/name/`` holds ``config.json`` (the resolved config),
``metrics.jsonl`` (one line per epoch of every phase, written and flushed as
each epoch ends), ``state.json`` (what ``layerwise resume`` continues),
``checkpoints/``, ``pretrained/`` and ``model/`` (saved models), and the
pictures :mod:`layerwise.app.pictures` draws; with the config's ``[logging]`` keys
also ``metrics_<command>.csv`` and ``tensorboard/<command>/``. Paths come only
from ``out_dir`` and ``name``, which the config checks, so nothing is written
outside the run folder. The demo writes its results to one too.

A command writes only into a run folder it creates, or into one it is told to
continue: ``finetune`` continues the folder of a finished ``pretrain``,
``resume`` an interrupted command, and ``--overwrite`` replaces a run
(:func:`run_folder_problem`). While a command runs, it holds an exclusive
lock on the folder's ``.lock`` file (:class:`RunLock`), so a second process on
the same folder is refused instead of mixing its records with the first's.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..train.callbacks import Callback
from ..train.execution import this_process
from ..train.loggers import CSVLogger, JSONLinesLogger, TensorBoardLogger

__all__ = ["RunFolder", "RunMetrics", "RunLock", "run_loggers", "run_folder_problem", "claim_run_folder", "LOCK"]

#: The lock file of a run folder: held (``flock``) by the process that writes the folder, for as long as it runs.
LOCK = ".lock"

# the estimators' labels of their phases -> the phase names of metrics.jsonl
_PHASES = {"fine-tune": "finetune", "deep autoencoder": "unroll"}
_STAGE = re.compile(r"(?P<phase>.+) layer (?P<layer>\d+)/\d+")


class RunMetrics(JSONLinesLogger):
    """``metrics.jsonl`` of a run folder: ``{"phase": "pretrain", "layer": 2, "epoch": ..., "loss": ...}``.

    A :class:`~layerwise.train.JSONLinesLogger` that appends to the file (each
    command of a run adds its lines) and names the phases as run folders
    always have: ``pretrain`` with the ``layer`` of a greedy stage (from the
    stage's label, ``"pretrain layer 2/3"``), ``finetune``, ``unroll``.
    """

    def __init__(self, path: str | Path, start: int | None = None) -> None:
        super().__init__(path, append=True)
        self._start = start  # where this command's lines begin, when known (a resume before any checkpoint)

    def _fields(self, trainer) -> dict[str, Any]:
        stage = _STAGE.fullmatch(trainer.desc)
        if stage:
            return {"phase": _PHASES.get(stage["phase"], stage["phase"]), "layer": int(stage["layer"])}
        return {"phase": _PHASES.get(trainer.desc, trainer.desc)}


def run_loggers(folder: str | Path, command: str, csv: bool = False, tensorboard: bool = False,
                metrics_start: int | None = None) -> list[Callback]:
    """The loggers of one command in a run folder; ``csv`` and ``tensorboard`` are the config's ``[logging]`` keys.

    Parameters
    ----------
    folder : path
        The run folder.
    command : str
        ``"pretrain"`` or ``"finetune"``: names the CSV file and the TensorBoard folder.
    csv : bool, default=False
        Also ``metrics_<command>.csv``.
    tensorboard : bool, default=False
        Also ``tensorboard/<command>/`` event files.
    metrics_start : int, optional
        Size of ``metrics.jsonl`` when the command first started: a resumed
        command rewrites its lines from there (a checkpoint, when there is
        one, says the same).

    Returns
    -------
    list of Callback
        :class:`RunMetrics` (``metrics.jsonl``, always) and the others asked for.

    Raises
    ------
    ConfigError
        ``tensorboard=True`` without the ``tensorboard`` package (before any training).
    """
    folder = Path(folder)
    loggers: list[Callback] = [RunMetrics(folder / "metrics.jsonl", metrics_start)]
    if csv:
        loggers.append(CSVLogger(folder / f"metrics_{command}.csv"))
    if tensorboard:
        loggers.append(TensorBoardLogger(folder / "tensorboard" / command))
    return loggers


class RunFolder:
    """Writes the files of one run under ``path``.

    Under ``torchrun`` only rank 0 writes: on the other ranks the methods
    return without touching the disk (they still train, and checkpoint
    through rank 0).

    Parameters
    ----------
    path : path
        The run folder, created if absent (a config's ``run_dir``).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.writes = this_process().writes
        if self.writes:
            self.path.mkdir(parents=True, exist_ok=True)

    def metrics_size(self) -> int:
        """Bytes in ``metrics.jsonl`` now (0 without it): where the next command's lines begin."""
        file = self.path / "metrics.jsonl"
        return file.stat().st_size if file.is_file() else 0

    def read_state(self) -> dict[str, Any]:
        """``state.json`` (``{}`` when absent)."""
        file = self.path / "state.json"
        return json.loads(file.read_text()) if file.is_file() else {}

    def write_state(self, command: str, done: bool, **extra: Any) -> None:
        """``state.json``: which command runs or ran here, for ``layerwise resume``."""
        self.write_json("state.json", {"command": command, "done": done, **extra})

    def write_json(self, name: str, data: dict) -> Path:
        """Write ``name`` atomically (a temporary file renamed over it): a crash never leaves half a record."""
        p = self.path / name
        if self.writes:
            tmp = p.with_name(f".{name}.tmp{os.getpid()}")
            try:
                tmp.write_text(json.dumps(data, indent=2, default=_plain))
                os.replace(tmp, p)
            finally:
                tmp.unlink(missing_ok=True)
        return p


def _plain(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o).__name__)


# -- which folder a command may write, and one process at a time ---------------------------------------------------
def _entries(path: Path) -> list[str]:
    """The names in ``path``, the lock file left out (a folder that holds only a lock holds nothing)."""
    return sorted(p.name for p in path.iterdir() if p.name != LOCK)


def _read_record(file: Path) -> dict | None:
    try:
        record = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def run_folder_problem(path: str | Path, command: str, overwrite: bool = False, how: str | None = None) -> str | None:
    """Why ``command`` must not write into the run folder ``path``, or ``None`` when it may.

    A command writes into a folder that does not exist yet (or is empty), and into no other, except:
    ``finetune`` continues the run folder of a finished ``pretrain`` (the next step of the same run), and
    ``overwrite=True`` replaces a run (a folder with ``state.json``, or the demo's ``results.json``), never a
    folder that layerwise did not write. ``how`` says how the user names another folder (default: the config's
    ``name``). Read only: nothing is created or changed.
    """
    path = Path(path)
    other = how or "another run name (--set name=NEW) or out_dir"
    if not path.exists():
        return None
    if not path.is_dir():
        return f"{path} is a file, not a run folder; choose {other}."
    entries = _entries(path)
    if not entries:
        return None
    state = _read_record(path / "state.json") if (path / "state.json").is_file() else None
    is_run = (path / "state.json").is_file() or (path / "results.json").is_file()
    if not is_run:
        shown = entries[:6] + (["..."] if len(entries) > 6 else [])
        return (f"{path} exists and is not a layerwise run folder (it holds {shown}); a run writes only into a "
                f"folder it creates, so nothing there is replaced (not even with --overwrite). Choose {other}.")
    if overwrite:
        return None
    if command == "finetune" and state == {"command": "pretrain", "done": True}:
        return None  # fine-tuning the run's own pretrained model: the run's next step
    if state is None:
        broken = (path / "state.json").is_file()
        what = "a run whose state.json cannot be read" if broken else "a run (its results.json and pictures)"
        return f"{path} already holds {what}; choose {other}, or pass --overwrite to replace it."
    done, last = state.get("done"), state.get("command", "?")
    if done is False:
        return (f"{path} holds an interrupted `layerwise {last}` run; continue it with `layerwise resume {path}`, or "
                f"choose {other}, or pass --overwrite to start it over.")
    models = [m for m in ("pretrained", "model") if (path / m).is_dir()]
    holds = f" (its {' and '.join(m + '/' for m in models)} and records)" if models else ""
    return (f"{path} already holds a finished `layerwise {last}` run{holds}; `layerwise {command}` would replace "
            f"them. Choose {other}, or pass --overwrite to replace that run.")


class RunLock:
    """An exclusive lock on a run folder: ``fcntl.flock`` on its ``.lock`` file.

    The holder writes its process id, host and command into the file, so that a refused process can say who
    holds it. The operating system drops the lock when the holder exits, even when it is killed, so a crash
    never leaves a folder locked. Without ``fcntl`` (Windows) there is no lock.

    Parameters
    ----------
    path : path
        The run folder (must exist).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file = None

    def acquire(self, command: str) -> RunLock:
        """Take the lock, or raise a :class:`~layerwise.ConfigError` naming the folder and the process that holds it."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self
        from ..exceptions import ConfigError

        file = open(self.path / LOCK, "a+", encoding="utf-8")
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            file.seek(0)
            holder = file.read().strip()
            file.close()
            who = f" ({holder})" if holder else ""
            raise ConfigError(f"{self.path} is in use by another layerwise process{who}, which holds its lock "
                              f"{self.path / LOCK}. Two processes writing one run folder would mix their records: wait "
                              f"for that one to end (or stop it), or choose another run folder.") from None
        file.seek(0)
        file.truncate()
        file.write(f"pid {os.getpid()} on {socket.gethostname()}, `layerwise {command}`\n")
        file.flush()
        self._file = file
        return self

    def release(self) -> None:
        """Give the lock up (and empty the file: nobody holds it)."""
        if self._file is not None:
            try:
                self._file.seek(0)
                self._file.truncate()
            except OSError:  # pragma: no cover - the folder went away
                pass
            self._file.close()  # closing drops the flock
            self._file = None


@contextlib.contextmanager
def claim_run_folder(path: str | Path, command: str, overwrite: bool = False, how: str | None = None) -> Iterator[Path]:
    """The run folder ``path``, checked (:func:`run_folder_problem`), created if absent and locked (:class:`RunLock`)
    while the block runs.

    The check runs before anything is created, and again once the lock is held (another process may have
    written the folder in between). A folder this created and left with nothing in it is removed at the end,
    so a command refused later (bad data, a bad parameter) leaves nothing behind. Under ``torchrun`` only
    rank 0 creates and locks; every rank checks.
    """
    from ..exceptions import ConfigError

    path = Path(path)
    problem = run_folder_problem(path, command, overwrite, how)
    if problem:
        raise ConfigError(problem)
    if not this_process().writes:
        yield path
        return
    created = not path.exists()
    path.mkdir(parents=True, exist_ok=True)
    lock = RunLock(path)
    try:
        lock.acquire(command)
        problem = run_folder_problem(path, command, overwrite, how)
        if problem:
            raise ConfigError(problem)
        yield path
    finally:
        lock.release()
        if created:
            with contextlib.suppress(OSError):
                if not _entries(path):
                    (path / LOCK).unlink(missing_ok=True)
                    path.rmdir()


@contextlib.contextmanager
def lock_run_folder(path: str | Path, command: str) -> Iterator[Path]:
    """Hold the lock of an existing run folder while the block runs (``layerwise resume``); rank 0 only."""
    if not this_process().writes:
        yield Path(path)
        return
    lock = RunLock(path).acquire(command)
    try:
        yield Path(path)
    finally:
        lock.release()
