"""Shared machinery of the scikit-learn estimators.

Every sklearn-specific touchpoint (``validate_data``, tags, ``check_is_fitted``)
lives in this sub-package, so a scikit-learn upgrade is mended in one place.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
import numbers
import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError
from sklearn.utils import check_random_state
from sklearn.exceptions import NotFittedError as _SklearnNotFitted
from sklearn.utils.validation import check_is_fitted as _sk_check_is_fitted
from sklearn.utils.validation import validate_data
from torch import nn

from ..exceptions import CheckpointError, ConfigError, DataError, NotFittedError
from ..finetune import FINETUNE_MODES
from ..greedy import GreedyLayerwise, check_layer_sizes, random_stack
from ..nn.blocks import ACTIVATIONS
from ..nn.stack import EncoderStack
from ..objectives import OBJECTIVES
from ..registry import suggest
from ..train.callbacks import CosineLR
from ..train.loop import OPTIMIZERS, PRECISIONS, predict_in_batches, resolve_device

__all__ = ["LayerwiseBase", "check_is_fitted"]

LR_SCHEDULES = ("constant", "cosine")


def check_is_fitted(estimator) -> None:
    """sklearn's check, raising :class:`layerwise.NotFittedError` (a subclass of sklearn's)."""
    try:
        _sk_check_is_fitted(estimator)
    except _SklearnNotFitted as e:
        raise NotFittedError(f"{e} Call fit(X, ...) first, or load a saved model with layerwise.load(path).") from None


class LayerwiseBase(BaseEstimator):
    """Parameters and helpers common to every layerwise estimator (not public)."""

    # -- validation ------------------------------------------------------------------
    def _check_params(self, n_samples: int) -> None:
        """Collect every bad parameter, then raise one :class:`ConfigError`."""
        problems: list[str] = []

        def check(ok: bool, msg: str) -> None:
            if not ok:
                problems.append(msg)

        try:
            check_layer_sizes(self.hidden_layer_sizes)
        except ConfigError as e:
            problems.append(str(e))
        check(self.activation in ACTIVATIONS, f"activation must be one of {ACTIVATIONS.names()}; got {self.activation!r}.{suggest(str(self.activation), ACTIVATIONS.names())}")
        if hasattr(self, "pretrain"):
            names = OBJECTIVES.names()
            check(self.pretrain is None or self.pretrain in OBJECTIVES,
                  f"pretrain must be None or one of {names}; got {self.pretrain!r}.{suggest(str(self.pretrain), names)}")
        if hasattr(self, "pretrained"):
            check(self.pretrained is None or isinstance(self.pretrained, (str, os.PathLike)),
                  f"pretrained must be None or the path of a model folder written by layerwise.save; got {type(self.pretrained).__name__}.")
        if hasattr(self, "finetune"):
            check(self.finetune in FINETUNE_MODES, f"finetune must be one of {list(FINETUNE_MODES)}; got {self.finetune!r}.")
        if hasattr(self, "lr_schedule"):
            check(self.lr_schedule in LR_SCHEDULES, f"lr_schedule must be one of {list(LR_SCHEDULES)}; got {self.lr_schedule!r}.")
        check(self.solver in OPTIMIZERS, f"solver must be one of {list(OPTIMIZERS)}; got {self.solver!r}.")
        check(self.precision in PRECISIONS, f"precision must be one of {list(PRECISIONS)}; got {self.precision!r}.")
        check(self.loss in ("auto", "mse", "bce"), f"loss must be one of ['auto', 'mse', 'bce']; got {self.loss!r}.")
        check(_is_positive(self.learning_rate_init), f"learning_rate_init must be a positive number; got {self.learning_rate_init!r}.")
        check(_is_number(self.alpha) and self.alpha >= 0, f"alpha must be a number >= 0; got {self.alpha!r}.")
        for name in self._epoch_params:
            value = getattr(self, name)
            check(_is_int(value) and value >= 0, f"{name} must be an integer >= 0 (epochs); got {value!r}.")
        bs = self.batch_size
        check(bs == "auto" or (_is_int(bs) and bs >= 1), f"batch_size must be 'auto' or a positive integer; got {bs!r}.")
        if _is_int(bs) and bs > n_samples:
            problems.append(f"batch_size={bs} is larger than the {n_samples} training rows; use batch_size <= {n_samples} or 'auto'.")
        check(_is_number(self.validation_fraction) and 0 < self.validation_fraction < 1,
              f"validation_fraction must be in (0, 1); got {self.validation_fraction!r}.")
        check(_is_int(self.n_iter_no_change) and self.n_iter_no_change >= 1, f"n_iter_no_change must be a positive integer; got {self.n_iter_no_change!r}.")
        if problems:
            raise ConfigError(f"{type(self).__name__} has {len(problems)} invalid parameter(s):\n- " + "\n- ".join(problems))

    def _validate_X(self, X, reset: bool) -> np.ndarray:
        """sklearn's ``validate_data`` (its messages, which the common checks pin),
        re-raised as :class:`DataError` with a hint on how to fix it."""
        name = type(self).__name__
        try:
            X = validate_data(self, X, reset=reset, dtype=np.float32, ensure_min_samples=2 if reset else 1, ensure_all_finite=False)
        except ValueError as e:
            raise DataError(f"{e} {name} expects X of shape (n_samples, n_features) with finite numbers.") from e
        if not np.isfinite(X).all():
            n_nan, n_inf = int(np.isnan(X).sum()), int(np.isinf(X).sum())
            raise DataError(
                f"Input X contains NaN or infinity ({n_nan} NaN, {n_inf} inf values in an array of shape {X.shape}); "
                f"{name} expects finite numbers. Impute or drop them first, e.g. with sklearn.impute.SimpleImputer "
                "in a Pipeline."
            )
        return X

    # -- building blocks ---------------------------------------------------------------
    def _batch_size(self, n: int) -> int:
        """``"auto"``: n / 32 clipped to [32, 256], so small data sets still get
        enough optimizer steps per epoch and large ones get efficient batches."""
        if self.batch_size == "auto":
            return min(n, max(32, min(256, n // 32)))
        return min(int(self.batch_size), n)

    def _trainer_params(self, n: int, max_epochs: int, desc: str, early_stopping: bool) -> dict[str, Any]:
        params = dict(
            optimizer=self.solver, lr=self.learning_rate_init, weight_decay=self.alpha,
            max_epochs=max(1, max_epochs), batch_size=self._batch_size(n),
            patience=self.n_iter_no_change if early_stopping else None, tol=self.tol,
            device=self.device, precision=self.precision, progress=bool(self.verbose), desc=desc,
        )
        if getattr(self, "lr_schedule", "constant") == "cosine":
            params["callbacks"] = [CosineLR()]
        return params

    def _seed_context(self):
        """Seed torch inside a forked RNG so ``fit`` leaves the global state alone."""
        seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        dev = resolve_device(self.device)
        stack = contextlib.ExitStack()
        stack.enter_context(torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []))
        torch.manual_seed(seed)
        return stack, seed

    def _pretrain(self, X: torch.Tensor, seed: int):
        """Greedy pretraining on ``X``; a random stack when ``pretrain`` is None;
        the saved stack when ``pretrained`` is set."""
        sizes = check_layer_sizes(self.hidden_layer_sizes)
        self.pretrain_history_ = []
        if getattr(self, "pretrained", None) is not None:
            return self._transferred_stack(X.shape[1])
        if self.pretrain is None or self._pretrain_epochs() == 0:
            self._stack_recipe = {"kind": "random", "first_loss": None, "decoders": False}
            return random_stack(X.shape[1], sizes, self.activation)
        greedy = GreedyLayerwise(
            sizes, self.activation, self.pretrain, self.pretrain_params, self.loss, self.tied,
            trainer_params=dict(self._trainer_params(X.shape[0], self._pretrain_epochs(), "pretrain", False), seed=seed),
            checkpoint_dir=self._checkpoint_path("pretrain"),
        )
        stack = greedy.fit(X, resume=getattr(self, "_resume", False))
        self.pretrain_history_ = greedy.history_
        self._stack_recipe = {"kind": "greedy", "first_loss": greedy.first_loss_, "decoders": True}
        return stack

    def _set_checkpointing(self, checkpoint_dir, resume: bool) -> None:
        """Remember where this fit checkpoints (private: not a parameter, not saved)."""
        self._checkpoint_dir = None if checkpoint_dir is None else str(checkpoint_dir)
        self._resume = bool(resume)

    def _checkpoint_path(self, phase: str) -> str | None:
        root = getattr(self, "_checkpoint_dir", None)
        return None if root is None else str(Path(root) / phase)

    def _build_stack(self, n_in: int, recipe: dict) -> EncoderStack:
        """The untrained stack described by the parameters and ``_stack_recipe``, same keys as a fitted one."""
        sizes = check_layer_sizes(self.hidden_layer_sizes)
        if recipe["kind"] == "random":
            return random_stack(n_in, sizes, self.activation)
        greedy = GreedyLayerwise(sizes, self.activation, self.pretrain, self.pretrain_params, self.loss, self.tied, keep_decoders=recipe["decoders"])
        return greedy.build((n_in,), recipe["first_loss"])

    def _transferred_stack(self, n_in: int) -> EncoderStack:
        """The encoder layers of the saved model at ``pretrained``, in the stack these parameters build.

        The architecture comes from this estimator's parameters and must be the
        saved one's (same widths, activation and layer types), which is checked
        layer by layer; decoders are not transferred (fine-tuning never uses them).
        """
        from ..io import load
        from ..transfer import load_pretrained

        saved = load(self.pretrained)
        source = _stack_of(saved, self.pretrained)
        recipe = {"kind": "random" if self.pretrain is None else "greedy",
                  "first_loss": "bce" if source.output == "logistic" else "mse", "decoders": False}
        stack = self._build_stack(n_in, recipe)
        differences = _layer_differences(stack.layers, source.layers)
        if differences:
            was = ""
            if hasattr(saved, "get_params"):  # an estimator: say how it was built
                p = saved.get_params()
                built = ", ".join(f"{k}={p[k]!r}" for k in ("hidden_layer_sizes", "n_components", "activation", "pretrain") if k in p)
                was = f"The saved {type(saved).__name__} has {built} and {saved.n_features_in_} input features. "
            raise ConfigError(
                f"pretrained={str(self.pretrained)!r} holds a stack with other layers than {type(self).__name__} builds "
                f"for {n_in} features and these parameters:\n- " + "\n- ".join(differences) + f"\n{was}"
                "Set hidden_layer_sizes, activation and pretrain (its layer type) to the saved model's values."
            )
        load_pretrained(stack, source, layers="layers", strict=True)
        self._stack_recipe = recipe
        return stack

    # -- model files (layerwise.save / layerwise.load) ---------------------------------
    def _layerwise_state(self) -> tuple[dict[str, Any], dict[str, Any], nn.Module, dict[str, Any]]:
        """What :func:`layerwise.save` writes: the parameters, the fitted state, the
        module whose weights are saved, and entries for ``meta.json``."""
        try:
            check_is_fitted(self)
        except _SklearnNotFittedError as e:
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit before layerwise.save.") from e
        params = self.get_params(deep=False)
        if params.get("random_state") is not None and not _is_int(params["random_state"]):
            warnings.warn(f"random_state={params['random_state']!r} is not an int; it is saved as None (it only seeds future fits).", stacklevel=4)
            params["random_state"] = None
        attributes = {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_") and not isinstance(v, nn.Module)}
        state, module = self._saved_state()
        return params, {"attributes": attributes, **state}, module, {"input_shape": [int(self.n_features_in_)]}

    @classmethod
    def _layerwise_restore(cls, params: dict[str, Any], state: dict[str, Any], load_weights: Callable[[nn.Module], None]):
        """Inverse of :meth:`_layerwise_state`: the estimator with its fitted attributes, its
        modules rebuilt from the parameters and the state, and ``load_weights`` loaded into them (strict)."""
        est = cls(**params)
        for name, value in state["attributes"].items():
            if not (name.endswith("_") and not name.startswith("_")):
                raise CheckpointError(f"config.json sets {name!r}, which is not a fitted attribute of {cls.__name__}.")
            setattr(est, name, value)
        est._restore_modules(state, load_weights)
        return est

    def _encode(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        dev = next(self.stack_.parameters()).device
        # conv stacks give (n, c, h, w) feature maps; estimators return 2-D codes
        return predict_in_batches(self.stack_, torch.from_numpy(X).to(dev)).flatten(1).float().cpu().numpy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


def _stack_of(saved, path) -> EncoderStack:
    """The encoder stack of what ``load`` returned: an estimator's ``stack_``, an
    ``EncoderStack``, or the encoder of an unrolled ``AutoEncoder``."""
    for candidate in (getattr(saved, "stack_", None), saved, getattr(saved, "encoder", None)):
        if isinstance(candidate, EncoderStack):
            return candidate
    raise ConfigError(
        f"pretrained={str(path)!r} holds a {type(saved).__name__}, which has no encoder stack; pass the folder of a saved "
        "StackedAutoencoder, PretrainedClassifier, PretrainedRegressor or EncoderStack."
    )


def _layer_differences(expected: nn.Module, saved: nn.Module, limit: int = 8) -> list[str]:
    """Sub-modules whose type or arguments differ, as ``"layers.0.1: saved X, built Y"``."""
    def layers(root):
        return {f"layers.{n}".rstrip("."): f"{type(m).__name__}({m.extra_repr()})" for n, m in root.named_modules()}

    built, got = layers(expected), layers(saved)
    names = list(built) + [n for n in got if n not in built]
    lines = [f"{n}: saved {got.get(n, 'nothing')}, this estimator builds {built.get(n, 'nothing')}" for n in names if built.get(n) != got.get(n)]
    return lines[:limit] + ([f"... and {len(lines) - limit} more"] if len(lines) > limit else [])


def _is_number(v: object) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and np.isfinite(v)


def _is_positive(v: object) -> bool:
    return _is_number(v) and v > 0


def _is_int(v: object) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)

