"""Run folders: where a run writes its config, metrics, state and models.

A run folder ``out_dir/name/`` holds ``config.json`` (the resolved config),
``metrics.jsonl`` (one line per epoch of every phase), ``state.json`` (what
``layerwise resume`` continues), ``checkpoints/``, ``pretrained/`` and
``model/`` (saved models), and the pictures :mod:`layerwise.plots` draws. Paths
come only from ``out_dir`` and ``name``, which the config checks, so nothing is
written outside the run folder. The demo writes its results to one too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .train.distributed import is_main

__all__ = ["RunFolder"]


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

    def log_history(self, phase: str, history: list[dict[str, Any]], **fields: Any) -> None:
        """Append one JSON line per epoch to ``metrics.jsonl``."""
        if not self.writes:
            return
        with open(self.path / "metrics.jsonl", "a") as f:
            for h in history:
                f.write(json.dumps({"phase": phase, **fields, **h}) + "\n")

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
