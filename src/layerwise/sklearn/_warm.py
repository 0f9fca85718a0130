"""``warm_start``: a ``fit`` that continues the fitted network instead of starting over (scikit-learn's meaning).

A fit with ``warm_start=True`` gives the trainer of its last phase (fine-tuning, or the semi-supervised method's
training) a :class:`~layerwise.train.resume.Continuation`: the state a checkpoint holds (weights, optimizer
moments, every RNG state, the batch order, early stopping's counter, epochs and history), kept in memory at the
end of every epoch. The next warm fit hands the same state to its trainer, which starts from it as a fit resumed
from a checkpoint does, so that ``max_iter=a`` then ``max_iter=b`` trains as one fit of ``a + b`` epochs. Nothing
before that phase runs again: no pretraining, no preparation of a semi-supervised method.

What a warm fit keeps from the first is checked: the rows' features, the classes, the parameters that define the
network or that the kept state holds. A change is refused, with what changed and how to start over.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
from torch import nn

from ..exceptions import ConfigError, DataError
from ..train.resume import Continuation, TrainState
from ._reference import wants_check

__all__ = ["WarmStartMixin", "WarmFit"]

#: Parameters that define the network, its pretraining or its input: a warm fit keeps all of them as fitted.
FIXED = ("hidden_layer_sizes", "activation", "pretrain", "pretrain_params", "loss", "tied", "pretrain_max_iter", "pretrained",
         "finetune", "semi_supervised", "semi_supervised_params", "scale", "image_size")
#: Parameters whose effect the kept state holds (the optimizer's kind, the schedule's state, the random streams): a
#: warm fit that restores that state would not use new values.
KEPT = ("solver", "lr_schedule", "lr_schedule_params", "random_state")
#: The learning rates: a constant schedule takes new ones from the warm fit on; any other restores its base rates.
RATES = ("learning_rate_init", "encoder_lr_scale")


@dataclass
class WarmFit:
    """What a warm fit continues: the fitted network (without a reference blend), the trainer's continuation, and the
    seed of the fit it continues (its validation split; None when no state was kept: a new one is drawn)."""

    network: nn.Module
    continuation: Continuation
    seed: int | None


class WarmStartMixin:
    """``warm_start`` for :class:`~layerwise.PretrainedClassifier` and :class:`~layerwise.PretrainedRegressor`."""

    def _wants_warm_start(self) -> bool:
        """``warm_start`` is True (a value that is not a bool is refused by the parameter checks, later)."""
        warm = getattr(self, "warm_start", False)
        return isinstance(warm, (bool, np.bool_)) and bool(warm)

    def _continues(self) -> bool:
        """Whether this ``fit`` continues the fitted network: ``warm_start`` is True and there is one."""
        return self._wants_warm_start() and getattr(self, "module_", None) is not None

    def _warm_rows(self, X) -> np.ndarray:
        """``X`` in the fitted model's input space (its scaling or table encoding, fitted by the first fit), after
        checking that it has the features the network takes."""
        shape = getattr(X, "shape", None)
        if shape is None:
            try:
                shape = np.shape(X)
            except ValueError:  # ragged rows: validation says so
                shape = None
        if shape is not None and len(shape) == 2 and int(shape[1]) != int(self.n_features_in_):
            raise DataError(
                f"X has {int(shape[1])} features, but this {type(self).__name__} was fitted on {self.n_features_in_}, and "
                f"warm_start=True continues that network, whose input layer takes {self.n_features_in_}. Pass rows with "
                "the fitted features (in the same order), or set warm_start=False to start over on the new ones.")
        return self._validate_X(X, reset=False)

    def _warm_codes(self, labels: np.ndarray) -> np.ndarray:
        """The fitted classes' indices (``classes_``) of the labeled rows' ``labels``; refused when some are new."""
        index = {c: i for i, c in enumerate(self.classes_.tolist())}
        codes = [index.get(v) for v in labels.tolist()]
        unknown = sorted({v for v, c in zip(labels.tolist(), codes) if c is None}, key=repr)
        if unknown:
            shown = ", ".join(repr(v) for v in unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
            raise DataError(
                f"y holds class(es) {shown} that this {type(self).__name__} was not fitted on; its classes are "
                f"{self.classes_.tolist()}, and warm_start=True continues that network, whose head has one output per "
                "class. Pass labels among those classes (the unlabeled marker for rows without one), or set "
                "warm_start=False to start over with the new classes.")
        return np.asarray(codes, dtype=np.int64)

    def _warm_fit(self, resume: bool) -> WarmFit | None:
        """What this fit continues, or None when it starts over; refuses what a warm fit cannot do."""
        if not self._continues():
            return None
        name = type(self).__name__
        if resume:
            raise ConfigError(f"{name}.fit got resume=True with warm_start=True on a fitted estimator: resume continues an "
                              "interrupted fit from the checkpoints in checkpoint_dir, warm_start continues this fitted "
                              "network. Pass resume=False to continue the fitted network, or set warm_start=False (on a new "
                              "estimator) to resume the interrupted fit.")
        kept = getattr(self, "_warm_state", None)
        changed = self._warm_changes(kept is not None)
        if changed:
            raise ConfigError(
                f"{name}(warm_start=True) continues the fitted network, but parameters it keeps changed since that fit:\n- "
                + "\n- ".join(changed) + "\nSet them back to the fitted values to continue, or set warm_start=False to "
                "start over with the new ones.")
        if wants_check(self, getattr(self, "_rows_are_table", False)):
            raise ConfigError(
                f"{name}(warm_start=True) continues the fitted network, but check_reference={self.check_reference!r} "
                "checks it on these rows by training a second network from scratch, which a continued fit cannot "
                "repeat. Set check_reference=False to continue the network alone (without a reference blend), or "
                "warm_start=False to start over with the check.")
        from ..nn.blend import ReferenceBlend

        network = self.module_.network if isinstance(self.module_, ReferenceBlend) else self.module_
        if kept is not None:
            # the new optimizer's weight decay (alpha) always; its rates too where a constant schedule would not set them
            fresh = ("lr", "weight_decay") if self._constant_schedule() else ("weight_decay",)
            return WarmFit(network, Continuation(kept["checkpoint"], fresh=fresh), kept["seed"])
        # fitted without warm_start, or loaded from a model file: the weights, a new optimizer state and random streams
        history = list((getattr(self, "history_", None) or {}).get("finetune") or [])
        return WarmFit(network, Continuation(start=TrainState(len(history), 0, history)), None)

    def _warm_changes(self, state_kept: bool) -> list[str]:
        """``name=value (fitted with ...)`` of every parameter a warm fit needs unchanged (:data:`FIXED`, and with a
        kept state :data:`KEPT` and, under a schedule, :data:`RATES`)."""
        from ._semi import _same

        fitted = getattr(self, "_fitted_params", None)
        if fitted is None:  # an estimator from before warm_start: nothing recorded to compare
            return []
        names = list(FIXED)
        if state_kept:
            names += KEPT
            if not self._constant_schedule():
                names += RATES
        changed = []
        for name in names:
            if name not in fitted:
                continue
            now, then = getattr(self, name), fitted[name]
            if name == "semi_supervised" and _same(now, getattr(self, "semi_supervised_", None)):
                continue  # naming the method that "auto" chose (or None for the stack it chose) is no change
            if not _same(now, then):
                why = (" (the restored schedule keeps its base rates)" if name in RATES else
                       " (the optimizer state, schedule and random streams continue)" if name in KEPT else "")
                changed.append(f"{name}={now!r} (fitted with {then!r}){why}")
        return changed

    def _constant_schedule(self) -> bool:
        """Whether the continued phase runs at a constant rate (``"auto"``: constant unless a semi-supervised method
        trained), with no scheduler among the user's ``callbacks`` either (whose restored state sets the rates)."""
        from ..train.schedules import LRScheduler

        if any(isinstance(cb, LRScheduler) for cb in getattr(self, "callbacks", ()) or ()):
            return False
        schedule = getattr(self, "lr_schedule", "constant")
        if schedule == "auto":
            return getattr(self, "semi_supervised_", None) is None
        return schedule == "constant"

    def _continuation_for(self, warm: WarmFit | None) -> Continuation | None:
        """The continuation the trained phase's trainer gets: the warm fit's, a new one to keep the state of a fit
        with ``warm_start=True``, else None (the trainer as without ``warm_start``)."""
        if warm is not None:
            return warm.continuation
        return Continuation() if self._wants_warm_start() else None

    def _keep_for_warm_start(self, seed: int, continuation: Continuation | None) -> None:
        """After a fit: the state a later warm fit continues (with ``warm_start=True``; nothing otherwise: it would
        hold the optimizer's moments, twice the weights), and the parameters it must keep."""
        kept = continuation is not None and continuation.checkpoint is not None and self._wants_warm_start()
        self._warm_state = {"seed": seed, "checkpoint": continuation.checkpoint} if kept else None
        self._record_fitted_params()

    def _record_fitted_params(self) -> None:
        """The values of the parameters a warm fit compares (:meth:`_warm_changes`), as this fit used them."""
        # copies of what can be changed in place (a dict of options); a RandomState is compared as the object it is
        self._fitted_params = {name: _copy(getattr(self, name)) for name in (*FIXED, *KEPT, *RATES) if hasattr(self, name)}


def _copy(value):
    return copy.deepcopy(value) if isinstance(value, (dict, list)) else value
