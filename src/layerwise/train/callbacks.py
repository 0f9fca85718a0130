"""Callbacks: no-op hooks the trainer calls; override the ones you need."""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from .loop import Trainer

__all__ = ["Callback", "EarlyStopping"]  # the torch schedules CosineLR and AnnealLR: layerwise.train.schedules


class Callback:
    """Base class with a no-op method per event (skorch / minGPT style).

    Set ``trainer.should_stop = True`` from any hook to end training after the
    current epoch. The ``logs`` of :meth:`on_epoch_end` (one entry of the
    history) hold ``epoch``, ``loss``, the objective's own logs, ``seconds``,
    ``lr`` (the first param group's learning rate during the epoch, after any
    schedule set it) and ``val_loss`` when there are validation rows; a
    callback may add keys.
    """

    def on_fit_start(self, trainer: Trainer, model: nn.Module) -> None: ...

    def on_epoch_start(self, trainer: Trainer, model: nn.Module, epoch: int) -> None: ...

    def on_batch_end(self, trainer: Trainer, model: nn.Module, batch_idx: int, loss: float) -> None: ...

    def on_epoch_end(self, trainer: Trainer, model: nn.Module, logs: dict[str, Any]) -> None: ...

    def on_fit_end(self, trainer: Trainer, model: nn.Module) -> None: ...

    def state_dict(self) -> tuple[dict, dict]:
        """``(tensors, json_state)`` to store in a checkpoint; stateless callbacks return empty dicts."""
        return {}, {}

    def load_state_dict(self, tensors: dict, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""

    def fingerprint(self) -> dict[str, Any] | None:
        """The options of this callback that change what a fit computes, as flat JSON values, or ``None``.

        A checkpoint records them (:mod:`layerwise.train.fingerprint`), and resuming refuses a fit whose
        callbacks say otherwise (a learning-rate schedule with another decay factor). ``None`` (the default):
        the callback only watches (a logger, a progress line), so it may differ between the run and its
        resume. Override it in a callback that changes the weights, the rates or when training stops.
        """
        return None


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``tol`` for ``n_iter_no_change`` epochs.

    Parameters
    ----------
    monitor : str, default="val_loss"
        Key of the epoch logs; falls back to ``"loss"`` when absent.
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping (scikit-learn's name, as the ``Trainer``'s).
    tol : float, default=1e-4
        Minimum decrease that counts as an improvement.
    restore_best : bool, default=True
        Load the best epoch's weights back into the model at the end.
    """

    def __init__(self, monitor: str = "val_loss", n_iter_no_change: int = 10, tol: float = 1e-4, restore_best: bool = True) -> None:
        self.monitor, self.n_iter_no_change, self.tol, self.restore_best = monitor, int(n_iter_no_change), float(tol), restore_best

    def on_fit_start(self, trainer: Trainer, model: nn.Module) -> None:
        self.best = math.inf
        self.best_epoch = -1
        self.best_state: dict | None = None
        self.wait = 0

    def on_epoch_end(self, trainer: Trainer, model: nn.Module, logs: dict[str, Any]) -> None:
        value = logs.get(self.monitor, logs.get("loss"))
        if value < self.best - self.tol:
            self.best, self.best_epoch, self.wait = value, logs["epoch"], 0
            if self.restore_best:
                self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.wait += 1
            if self.wait >= self.n_iter_no_change:
                trainer.should_stop = True

    def on_fit_end(self, trainer: Trainer, model: nn.Module) -> None:
        if self.restore_best and self.best_state is not None:
            model.load_state_dict(self.best_state)

    def fingerprint(self) -> dict[str, Any]:
        return {"early_stopping": type(self).__name__, "early_stopping.monitor": self.monitor,
                "early_stopping.n_iter_no_change": self.n_iter_no_change, "early_stopping.tol": self.tol,
                "early_stopping.restore_best": bool(self.restore_best)}

    def state_dict(self) -> tuple[dict, dict]:
        tensors = {f"best/{k}": v for k, v in (self.best_state or {}).items()}
        return tensors, {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state_dict(self, tensors: dict, state: dict) -> None:
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
        best = {k[len("best/"):]: v for k, v in tensors.items() if k.startswith("best/")}
        self.best_state = best or None
