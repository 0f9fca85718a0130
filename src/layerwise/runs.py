"""Run folders: where a run writes its config, metrics, state and models.

A run folder ``out_dir/name/`` holds ``config.json`` (the resolved config),
``metrics.jsonl`` (one line per epoch of every phase, written and flushed as
each epoch ends), ``state.json`` (what ``layerwise resume`` continues),
``checkpoints/``, ``pretrained/`` and ``model/`` (saved models), and the
pictures :mod:`layerwise.plots` draws; with the config's ``[logging]`` keys
also ``metrics_<command>.csv`` and ``tensorboard/<command>/``. Paths come only
from ``out_dir`` and ``name``, which the config checks, so nothing is written
outside the run folder. The demo writes its results to one too.
"""

from __future__ import annotations

import json
import re
import os
from pathlib import Path
from typing import Any

import numpy as np

from .train.callbacks import Callback
from .train.distributed import is_main
from .train.loggers import CSVLogger, JSONLinesLogger, TensorBoardLogger

__all__ = ["RunFolder", "RunMetrics", "run_loggers"]

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
        self.writes = is_main()
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
