"""Learning-rate schedules by name: any ``torch.optim.lr_scheduler`` class as a callback.

``LRScheduler("StepLR", step_size=10)`` or ``LRScheduler("OneCycleLR",
{"max_lr": 0.01, "total_steps": 500}, interval="batch")`` builds the PyTorch
scheduler on the trainer's optimizer when the fit starts and steps it after
every epoch (or every batch). The name and the arguments are checked when the
callback is made, before any training: an unknown name or argument is a
:class:`~layerwise.exceptions.ConfigError` naming the valid ones. The
scheduler's state goes into the trainer's checkpoints, so a killed and resumed
fit follows the same rates and ends with bitwise the same weights.

:class:`CosineLR` and :class:`AnnealLR`, the estimators' ``lr_schedule="cosine"``
and ``"anneal"``, are two such callbacks: torch's ``LambdaLR`` with a factor of
the epoch and of the fit's number of epochs.
"""

from __future__ import annotations

import collections
import difflib
import functools
import inspect
import math
import warnings
from typing import TYPE_CHECKING, Any

import torch
from torch.optim import lr_scheduler

from ..exceptions import CheckpointError, ConfigError
from ..registry import LR_SCHEDULERS, suggest
from .callbacks import Callback

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from .loop import Trainer

__all__ = ["LRScheduler", "CosineLR", "AnnealLR", "SCHEDULERS", "scheduler_names"]

INTERVALS = ("epoch", "batch")
# schedulers made of other schedulers cannot be named with plain arguments; the base class schedules nothing
_EXCLUDED = {"LRScheduler", "_LRScheduler", "SequentialLR", "ChainedScheduler"}
# arguments the trainer can supply for an epoch-wise schedule: the number of epochs
_FROM_MAX_ITER = {"CosineAnnealingLR": "T_max", "OneCycleLR": "total_steps"}
_MANAGED = ("optimizer", "last_epoch")
_IGNORED = ("verbose",)  # deprecated in torch 2.2 and gone since: never offered


def _scheduler_classes() -> dict[str, type]:
    found = {}
    for name, obj in vars(lr_scheduler).items():
        if (inspect.isclass(obj) and not name.startswith("_") and name not in _EXCLUDED
                and (issubclass(obj, lr_scheduler.LRScheduler) or obj is lr_scheduler.ReduceLROnPlateau)):
            found[name] = obj
    return dict(sorted(found.items()))


SCHEDULERS: dict[str, type] = _scheduler_classes()


def scheduler_names() -> list[str]:
    """Names :class:`LRScheduler` accepts, e.g. ``["ConstantLR", "CosineAnnealingLR", ...]``."""
    return list(SCHEDULERS)


def _resolve(name: Any) -> tuple[str, type]:
    if inspect.isclass(name) and (issubclass(name, lr_scheduler.LRScheduler) or issubclass(name, lr_scheduler.ReduceLROnPlateau)):
        return name.__name__, name
    if not isinstance(name, str) or name not in SCHEDULERS:
        lower = {n.lower(): n for n in SCHEDULERS}  # "steplr" and "Step_LR" should still find StepLR
        close = difflib.get_close_matches(str(name).lower().replace("_", ""), list(lower), n=1, cutoff=0.5)
        hint = f" Did you mean {lower[close[0]]!r}?" if close else ""
        raise ConfigError(f"Unknown learning-rate scheduler {name!r}; expected a class name of "
                          f"torch.optim.lr_scheduler, one of {scheduler_names()}.{hint}")
    return name, SCHEDULERS[name]


class LRScheduler(Callback):
    """A ``torch.optim.lr_scheduler`` class, by name, stepped by the trainer.

    Parameters
    ----------
    name : str or scheduler class
        A class of :mod:`torch.optim.lr_scheduler` (see :func:`scheduler_names`):
        ``"StepLR"``, ``"MultiStepLR"``, ``"ExponentialLR"``,
        ``"CosineAnnealingLR"``, ``"CosineAnnealingWarmRestarts"``,
        ``"OneCycleLR"``, ``"CyclicLR"``, ``"LinearLR"``, ``"ReduceLROnPlateau"``...
    params : dict, optional
        The scheduler's keyword arguments (all but ``optimizer``); may also
        be given as keywords, e.g. ``LRScheduler("StepLR", step_size=10)``.
    interval : {"epoch", "batch"}, default="epoch"
        Step after every epoch, or after every optimizer step (what
        ``OneCycleLR`` and ``CyclicLR`` are usually counted in).
    monitor : str, default="val_loss"
        ``ReduceLROnPlateau`` only: the epoch log it watches; ``"loss"``
        when the fit has no validation data.
    **kwargs
        More scheduler arguments.

    Notes
    -----
    With ``interval="epoch"``, ``CosineAnnealingLR``'s ``T_max`` and
    ``OneCycleLR``'s ``total_steps`` default to the trainer's ``max_iter``.

    Raises
    ------
    ConfigError
        An unknown scheduler or argument (with the valid ones and the closest
        match), a missing required argument, a value the scheduler refuses,
        or ``ReduceLROnPlateau`` with ``interval="batch"``.

    Examples
    --------
    >>> from layerwise import Trainer, dense_autoencoder, Reconstruction
    >>> trainer = Trainer(max_iter=3, learning_rate_init=0.1, callbacks=[LRScheduler("StepLR", step_size=1, gamma=0.5)])
    >>> _ = trainer.fit(dense_autoencoder(4, 2), Reconstruction("mse"), (torch.rand(8, 4),))
    >>> trainer.optimizer_.param_groups[0]["lr"]
    0.0125
    """

    def __init__(self, name: str | type, params: dict[str, Any] | None = None, *, interval: str = "epoch",
                 monitor: str = "val_loss", **kwargs: Any) -> None:
        self.name, self.cls = _resolve(name)
        if params is not None and not isinstance(params, dict):
            raise ConfigError(f"params of LRScheduler({self.name!r}) must be a dict of the scheduler's arguments; got "
                              f"{type(params).__name__} {params!r}. Write LRScheduler({self.name!r}, {{'arg': value}}).")
        self.params = {**(params or {}), **kwargs}
        if interval not in INTERVALS:
            raise ConfigError(f"interval must be one of {list(INTERVALS)}; got {interval!r}.")
        self.plateau = issubclass(self.cls, lr_scheduler.ReduceLROnPlateau)
        if self.plateau and interval != "epoch":
            raise ConfigError("ReduceLROnPlateau watches an epoch metric, so it steps once per epoch; got "
                              f"interval={interval!r}. Use interval='epoch'.")
        self.interval, self.monitor = interval, monitor
        self._check_arguments()
        self.scheduler_: Any = None

    def _check_arguments(self) -> None:
        """Names against the class signature, then a dry construction on a throw-away optimizer."""
        sig = inspect.signature(self.cls)
        accepted = [p for p in sig.parameters if p not in _MANAGED and p not in _IGNORED
                    and sig.parameters[p].kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]
        unknown = [k for k in self.params if k not in accepted]
        if unknown:
            managed = [k for k in unknown if k in _MANAGED]
            why = f" ({', '.join(managed)} is set by the trainer: resuming restores where a schedule was)" if managed else ""
            hints = "".join(suggest(k, accepted) for k in unknown if k not in _MANAGED)
            raise ConfigError(f"{self.name} got unknown argument(s) {unknown}{why}; it accepts {accepted}.{hints}")
        missing = [p for p in accepted if sig.parameters[p].default is inspect.Parameter.empty
                   and p not in self.params and not self._fillable(p)]
        if missing:
            fill = _FROM_MAX_ITER.get(self.name)
            extra = f" ({fill} defaults to the trainer's max_iter only with interval='epoch')" if fill in missing else ""
            raise ConfigError(f"{self.name} needs the argument(s) {missing}{extra}; got {sorted(self.params)}. "
                              f"Pass them, e.g. LRScheduler({self.name!r}, {missing[0]}=...).")
        probe = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
        self._build(probe, max_iter=1)

    def _fillable(self, arg: str) -> bool:
        return self.interval == "epoch" and _FROM_MAX_ITER.get(self.name) == arg

    def _arguments(self, max_iter: int) -> dict[str, Any]:
        """The scheduler's keyword arguments for a fit of ``max_iter`` epochs."""
        params = dict(self.params)
        fill = _FROM_MAX_ITER.get(self.name)
        if fill and self._fillable(fill) and fill not in params and not (self.name == "OneCycleLR" and "epochs" in params):
            params[fill] = max_iter
        return params

    def _build(self, optimizer: torch.optim.Optimizer, max_iter: int):
        params = self._arguments(max_iter)
        if self.name == "OneCycleLR" and "total_steps" not in params and not {"epochs", "steps_per_epoch"} <= set(params):
            raise ConfigError("OneCycleLR with interval='batch' needs total_steps (max_iter times the batches per epoch, "
                              "ceil(n_samples / batch_size)), or epochs and steps_per_epoch; got "
                              f"{sorted(self.params)}. Pass LRScheduler('OneCycleLR', max_lr=..., total_steps=..., interval='batch').")
        try:
            return self.cls(optimizer, **params)
        except (TypeError, ValueError, KeyError) as e:
            given = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
            raise ConfigError(f"{self.name}({given}) was refused by PyTorch: {e}. Check the arguments against "
                              f"torch.optim.lr_scheduler.{self.name}.") from e

    # -- callback hooks ---------------------------------------------------------------
    def on_fit_start(self, trainer: Trainer, model: nn.Module) -> None:
        # a resumed fit restores the optimizer (rates included) and then this scheduler's state
        self.scheduler_ = self._build(trainer.optimizer_, trainer.max_iter)

    def on_batch_end(self, trainer: Trainer, model: nn.Module, batch_idx: int, loss: float) -> None:
        if self.interval == "batch":
            self.scheduler_.step()

    def on_epoch_end(self, trainer: Trainer, model: nn.Module, logs: dict[str, Any]) -> None:
        if self.plateau:
            self.scheduler_.step(float(logs.get(self.monitor, logs["loss"])))
        elif self.interval == "epoch":
            self.scheduler_.step()

    def fingerprint(self) -> dict[str, Any]:
        """The scheduler's name, every argument and when it steps: a checkpoint's scheduler state holds some
        arguments (StepLR's gamma), which a resumed fit would otherwise silently take over from it."""
        options = {"lr_schedule": self.name, "lr_schedule.interval": self.interval}
        if self.plateau:
            options["lr_schedule.monitor"] = self.monitor
        options.update({f"lr_schedule.{k}": v for k, v in sorted(self.params.items())})
        return options

    def state_dict(self) -> tuple[dict, dict]:
        if self.scheduler_ is None:
            return {}, {}
        tensors: dict[str, torch.Tensor] = {}
        return tensors, {"scheduler": _encode(self.scheduler_.state_dict(), tensors, "")}

    def load_state_dict(self, tensors: dict, state: dict) -> None:
        if "scheduler" in state and self.scheduler_ is not None:
            self.scheduler_.load_state_dict(_decode(state["scheduler"], tensors))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"LRScheduler({self.name!r}{', ' + args if args else ''}, interval={self.interval!r})"


def _cosine(epoch: int, floor: float, epochs: int) -> float:
    """:class:`CosineLR`'s factor of epoch ``epoch`` (from 0) of ``epochs``: from 1 down to ``floor``."""
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * (epoch / epochs)))


def _anneal(epoch: int, fraction: float, epochs: int) -> float:
    """:class:`AnnealLR`'s factor: 1, then down by ``1 / round(fraction * epochs)`` per epoch of the last ones."""
    return min(1.0, (epochs - epoch) / max(1, int(round(fraction * epochs))))


class _EpochFactorLR(LRScheduler):
    """``LambdaLR`` with a factor of the epoch and of the fit's number of epochs, ``max_iter``.

    The factor multiplies the rate each param group had when the fit built its optimizer (so
    ``encoder_lr_scale`` ratios are kept). Epoch ``e`` of a fit always runs at that rate times the factor of
    ``e``: a fit resumed with a larger ``max_iter`` (or continued by ``warm_start``, maybe with a new
    ``learning_rate_init``) follows the new length and rates from the epoch it starts at, and a checkpoint
    that kept no state for the schedule (written when it set the rates by hand) still resumes on schedule.
    """

    _factor: Any  # _cosine or _anneal
    _option: str  # the argument of the factor: "floor" or "fraction"

    def __init__(self) -> None:
        super().__init__("LambdaLR", lr_lambda=functools.partial(type(self)._factor, **{self._option: getattr(self, self._option)}))
        self._resumed = False

    def _arguments(self, max_iter: int) -> dict[str, Any]:
        return {"lr_lambda": functools.partial(self.params["lr_lambda"], epochs=max(int(max_iter), 1))}

    def on_fit_start(self, trainer: Trainer, model: nn.Module) -> None:
        super().on_fit_start(trainer, model)
        self._resumed = False

    def on_epoch_start(self, trainer: Trainer, model: nn.Module, epoch: int) -> None:
        # a fit that did not start at epoch 0 (resumed, continued): torch's step to this epoch's rate
        if self._resumed or self.scheduler_.last_epoch != epoch:
            self._resumed = False
            self.scheduler_.last_epoch = epoch - 1
            with warnings.catch_warnings():  # a fresh scheduler (no state restored) has not seen an optimizer step yet
                warnings.filterwarnings("ignore", r"Detected call of `lr_scheduler.step\(\)` before", UserWarning)
                self.scheduler_.step()

    def load_state_dict(self, tensors: dict, state: dict) -> None:
        if self.scheduler_ is None:
            return
        built = list(self.scheduler_.base_lrs)
        super().load_state_dict(tensors, state)
        self.scheduler_.base_lrs = built  # the optimizer's rates as this fit built it (a resumed fit: the same)
        self._resumed = True

    def fingerprint(self) -> dict[str, Any]:
        return {"lr_schedule": type(self).__name__, f"lr_schedule.{self._option}": getattr(self, self._option)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._option}={getattr(self, self._option)!r})"


class CosineLR(_EpochFactorLR):
    """Cosine decay of every param group's learning rate, once per epoch.

    Epoch ``e`` of ``T = trainer.max_iter`` runs at
    ``lr_0 * (floor + (1 - floor) * (1 + cos(pi * e / T)) / 2)``, from each
    group's initial rate ``lr_0`` (so ``encoder_lr_scale`` ratios are kept)
    down to ``floor * lr_0`` (Loshchilov & Hutter 2017, SGDR without restarts).
    A constant Adam rate makes the last epochs' test error jump by a few
    tenths of a point on MNIST; decaying it settles the weights.

    This is torch's ``LambdaLR`` stepped after every epoch, not ``CosineAnnealingLR``:
    that one's ``eta_min`` is one rate for every group where ``floor`` is a share
    of each group's, and it updates the rate recursively, so its rates drift from
    the formula in the last digits.

    Parameters
    ----------
    floor : float, default=0.0
        Final rate as a fraction of the initial one, in [0, 1].
    """

    _factor = staticmethod(_cosine)
    _option = "floor"

    def __init__(self, floor: float = 0.0) -> None:
        if not 0.0 <= float(floor) <= 1.0:
            raise ConfigError(f"floor must be in [0, 1]; got {floor!r}.")
        self.floor = float(floor)
        super().__init__()


class AnnealLR(_EpochFactorLR):
    """A constant rate, then a linear decay to 0 over the last ``fraction`` of the epochs.

    The ladder network's schedule (Rasmus et al. 2015, section 4.1: 100 epochs
    at the initial rate, then 50 with the rate "decreased linearly to zero").
    Epoch ``e`` of ``T`` runs at ``lr_0`` while ``e < T - round(fraction * T)``,
    then at ``lr_0 * (T - e) / round(fraction * T)`` (torch's ``LambdaLR``,
    stepped after every epoch).

    Parameters
    ----------
    fraction : float, default=1/3
        Share of the epochs in the annealing phase, in (0, 1].

    Examples
    --------
    >>> AnnealLR().fraction
    0.3333333333333333
    """

    _factor = staticmethod(_anneal)
    _option = "fraction"

    def __init__(self, fraction: float = 1 / 3) -> None:
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 < fraction <= 1.0:
            raise ConfigError(f"fraction must be a number in (0, 1]; got {fraction!r}.")
        self.fraction = float(fraction)
        super().__init__()


for _name in SCHEDULERS:  # what the estimators' lr_schedule names: the factory checks the arguments, as the callback does
    LR_SCHEDULERS.register(_name)(functools.partial(LRScheduler, _name))


# -- scheduler state as JSON: checkpoints never pickle -----------------------------------------
def _encode(value: Any, tensors: dict[str, torch.Tensor], where: str) -> Any:
    """JSON-able form of a scheduler's state; tensors go to ``tensors``, tagged types keep their type."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, torch.Tensor):
        tensors[where] = value
        return {"__tensor__": where}
    if isinstance(value, (list, tuple)):
        items = [_encode(v, tensors, f"{where}/{i}") for i, v in enumerate(value)]
        return items if isinstance(value, list) else {"__tuple__": items}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and not isinstance(value, collections.Counter):
            return {k: _encode(v, tensors, f"{where}/{k}") for k, v in value.items()}
        # MultiStepLR's milestones: a Counter of int keys, which plain JSON would turn into strings
        return {"__items__": [[_encode(k, tensors, where), _encode(v, tensors, f"{where}/{i}")] for i, (k, v) in enumerate(value.items())],
                "__counter__": isinstance(value, collections.Counter)}
    raise CheckpointError(f"The learning-rate scheduler's state holds a {type(value).__name__} at {where or '/'}, which a "
                          "checkpoint cannot store (JSON and tensors only; nothing is pickled). Use a scheduler whose "
                          "state is numbers, or do without a checkpoint_dir.")


def _decode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tensor__" in value:
        return tensors[value["__tensor__"]]
    if "__tuple__" in value:
        return tuple(_decode(v, tensors) for v in value["__tuple__"])
    if "__items__" in value:
        pairs = [(_decode(k, tensors), _decode(v, tensors)) for k, v in value["__items__"]]
        return collections.Counter(dict(pairs)) if value["__counter__"] else dict(pairs)
    return {k: _decode(v, tensors) for k, v in value.items()}
