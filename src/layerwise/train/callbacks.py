"""Callbacks: no-op hooks the trainer calls; override the ones you need."""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any

from ..exceptions import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from .loop import Trainer

__all__ = ["Callback", "EarlyStopping", "CosineLR", "AnnealLR"]


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
    """Stop when ``monitor`` has not improved by ``tol`` for ``patience`` epochs.

    Parameters
    ----------
    monitor : str, default="val_loss"
        Key of the epoch logs; falls back to ``"loss"`` when absent.
    patience : int, default=10
        Epochs without improvement before stopping (sklearn's ``n_iter_no_change``).
    tol : float, default=1e-4
        Minimum decrease that counts as an improvement.
    restore_best : bool, default=True
        Load the best epoch's weights back into the model at the end.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 10, tol: float = 1e-4, restore_best: bool = True) -> None:
        self.monitor, self.patience, self.tol, self.restore_best = monitor, int(patience), float(tol), restore_best

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
            if self.wait >= self.patience:
                trainer.should_stop = True

    def on_fit_end(self, trainer: Trainer, model: nn.Module) -> None:
        if self.restore_best and self.best_state is not None:
            model.load_state_dict(self.best_state)

    def fingerprint(self) -> dict[str, Any]:
        return {"early_stopping": type(self).__name__, "early_stopping.monitor": self.monitor,
                "early_stopping.patience": self.patience, "early_stopping.tol": self.tol,
                "early_stopping.restore_best": bool(self.restore_best)}

    def state_dict(self) -> tuple[dict, dict]:
        tensors = {f"best/{k}": v for k, v in (self.best_state or {}).items()}
        return tensors, {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state_dict(self, tensors: dict, state: dict) -> None:
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
        best = {k[len("best/"):]: v for k, v in tensors.items() if k.startswith("best/")}
        self.best_state = best or None


class CosineLR(Callback):
    """Cosine decay of every param group's learning rate, once per epoch.

    Epoch ``e`` of ``T = trainer.max_iter`` runs at
    ``lr_0 * (floor + (1 - floor) * (1 + cos(pi * e / T)) / 2)``, from each
    group's initial rate ``lr_0`` (so ``encoder_lr_scale`` ratios are kept)
    down to ``floor * lr_0`` (Loshchilov & Hutter 2017, SGDR without restarts).
    A constant Adam rate makes the last epochs' test error jump by a few
    tenths of a point on MNIST; decaying it settles the weights.

    Parameters
    ----------
    floor : float, default=0.0
        Final rate as a fraction of the initial one, in [0, 1].
    """

    def __init__(self, floor: float = 0.0) -> None:
        if not 0.0 <= float(floor) <= 1.0:
            raise ConfigError(f"floor must be in [0, 1]; got {floor!r}.")
        self.floor = float(floor)

    def fingerprint(self) -> dict[str, Any]:
        return {"lr_schedule": "CosineLR", "lr_schedule.floor": self.floor}

    def on_fit_start(self, trainer: Trainer, model: nn.Module) -> None:
        # the rates the optimizer was built with; a resumed fit rebuilds it the same way
        self._base = [g["lr"] for g in trainer.optimizer_.param_groups]

    def on_epoch_start(self, trainer: Trainer, model: nn.Module, epoch: int) -> None:
        t = epoch / max(trainer.max_iter, 1)
        factor = self.floor + (1.0 - self.floor) * 0.5 * (1.0 + math.cos(math.pi * t))
        for group, base in zip(trainer.optimizer_.param_groups, self._base):
            group["lr"] = base * factor


class AnnealLR(Callback):
    """A constant rate, then a linear decay to 0 over the last ``fraction`` of the epochs.

    The ladder network's schedule (Rasmus et al. 2015, section 4.1: 100 epochs
    at the initial rate, then 50 with the rate "decreased linearly to zero").
    Epoch ``e`` of ``T`` runs at ``lr_0`` while ``e < T - round(fraction * T)``,
    then at ``lr_0 * (T - e) / round(fraction * T)``.

    Parameters
    ----------
    fraction : float, default=1/3
        Share of the epochs in the annealing phase, in (0, 1].

    Examples
    --------
    >>> AnnealLR().fraction
    0.3333333333333333
    """

    def __init__(self, fraction: float = 1 / 3) -> None:
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 < fraction <= 1.0:
            raise ConfigError(f"fraction must be a number in (0, 1]; got {fraction!r}.")
        self.fraction = float(fraction)

    def fingerprint(self) -> dict[str, Any]:
        return {"lr_schedule": "AnnealLR", "lr_schedule.fraction": self.fraction}

    def on_fit_start(self, trainer: Trainer, model: nn.Module) -> None:
        self._base = [g["lr"] for g in trainer.optimizer_.param_groups]

    def on_epoch_start(self, trainer: Trainer, model: nn.Module, epoch: int) -> None:
        total = max(trainer.max_iter, 1)
        annealing = max(1, int(round(self.fraction * total)))
        factor = min(1.0, (total - epoch) / annealing)
        for group, base in zip(trainer.optimizer_.param_groups, self._base):
            group["lr"] = base * factor
