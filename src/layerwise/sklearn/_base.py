"""Shared machinery of the scikit-learn estimators.

Every sklearn-specific touchpoint (``validate_data``, tags, ``check_is_fitted``)
lives in this sub-package, so a scikit-learn upgrade is mended in one place.

An estimator declares its parameters once, as ``_parameters`` (a
:class:`~layerwise.params.ParamSet` from :mod:`layerwise.params.table`);
:class:`LayerwiseBase` turns that into the ``__init__`` scikit-learn expects
(each parameter stored as given, keyword-only after the first), the
``Parameters`` section of the docstring (the ``{parameters}`` line), the checks
``fit`` runs, and the estimator's entry in the model-file format.
"""

from __future__ import annotations

import contextlib
import numbers
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin
from sklearn.exceptions import NotFittedError as _SklearnNotFitted
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted as _sk_check_is_fitted
from sklearn.utils.validation import validate_data
from torch import nn

from ..exceptions import CheckpointError, DataError, NotFittedError
from ..io import register_estimator
from ..params import TRAINER, ParamSet, configurable_init
from ..registry import LR_SCHEDULERS
from ..train.callbacks import AnnealLR, CosineLR
from ..train.execution import resolve_device
from ..train.inference import predict_in_batches
from ..train.loop import Trainer, auto_batch_size
from ._inputs import by_chunks, is_external, read_inputs

__all__ = ["LayerwiseBase", "check_is_fitted"]

_SCHEDULES = {"cosine": CosineLR, "anneal": AnnealLR}  # the rest of LR_SCHEDULES: "constant" (and "auto", resolved)


def check_is_fitted(estimator) -> None:
    """sklearn's check, raising :class:`layerwise.NotFittedError` (a subclass of sklearn's)."""
    try:
        _sk_check_is_fitted(estimator)
    except _SklearnNotFitted as e:
        raise NotFittedError(f"{e} Call fit(X, ...) first, or load a saved model with layerwise.load(path).") from None


class LayerwiseBase(ClassNamePrefixFeaturesOutMixin, BaseEstimator):
    """Parameters and helpers common to every layerwise estimator (not public).

    Every layerwise estimator transforms rows into codes, so each has
    scikit-learn's ``get_feature_names_out`` (``stackedautoencoder0``, ...,
    as ``BernoulliRBM`` names its columns) and, through ``TransformerMixin``,
    ``set_output(transform="pandas")``.
    """

    _parameters: ParamSet

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_parameters" in cls.__dict__:
            cls.__init__ = configurable_init(cls._parameters, n_positional=1)
        cls.__doc__ = cls._parameters.document(cls.__doc__) if hasattr(cls, "_parameters") else cls.__doc__
        if not cls.__name__.startswith("_"):
            register_estimator(cls)

    # -- validation ------------------------------------------------------------------
    def _check_params(self, n_samples: int) -> None:
        """Collect every bad parameter, then raise one :class:`ConfigError`."""
        params = {name: getattr(self, name) for name in self._parameters}  # signature order: the message's order
        context = []
        bs = params.get("batch_size")
        if isinstance(bs, numbers.Integral) and not isinstance(bs, bool) and bs > n_samples:
            context.append(f"batch_size={bs} is larger than the {n_samples} training rows; use batch_size <= {n_samples} or 'auto'.")
        if params.get("lr_schedule_params") and params.get("lr_schedule") not in LR_SCHEDULERS:
            context.append(f"lr_schedule_params={params['lr_schedule_params']!r} is set but lr_schedule="
                           f"{params.get('lr_schedule')!r} takes no arguments; name a torch.optim.lr_scheduler class in "
                           "lr_schedule (e.g. 'StepLR'), or remove lr_schedule_params.")
        self._parameters.validate(params, type(self).__name__, context=context)

    def _fit_input(self, X, y=None, stream: bool = False):
        """``(X, y)`` to fit on: arrays as given; a ``Dataset``, ``DataLoader``, ``.npy`` file or image folder read
        by :func:`~layerwise.sklearn._inputs.read_inputs` (labels from the source when ``y`` is None). With
        ``stream``, a file or an image folder stays on disk as 2-D rows to stream. Remembers the rows' image
        shape, which a convolutional ``pretrain`` needs (``_input_image_shape``)."""
        self._input_image_shape = None
        if not is_external(X):
            return X, y
        inputs = read_inputs(X, stream=stream, ordered=False)
        self._input_image_shape = inputs.image_shape
        return inputs.X, (inputs.y if y is None else y)

    def _streamed_input(self, X) -> None:
        """``fit``'s checks of rows streamed from disk (what ``_validate_X`` does for arrays, without reading them)."""
        if len(X) < 2:
            raise DataError(f"{type(self).__name__} needs at least 2 rows to fit; {X!r} has {len(X)}.")
        self.n_features_in_ = int(X.shape[1])
        if hasattr(self, "feature_names_in_"):  # from an earlier fit on a DataFrame
            del self.feature_names_in_

    def _validate_X(self, X, reset: bool) -> np.ndarray:
        """sklearn's ``validate_data`` (its messages, which the common checks pin),
        re-raised as :class:`DataError` with a hint on how to fix it."""
        name = type(self).__name__
        try:
            X = validate_data(self, X, reset=reset, dtype=np.float32, ensure_min_samples=2 if reset else 1, ensure_all_finite=False)
        except ValueError as e:
            raise DataError(f"{e} {name} expects X of shape (n_samples, n_features) with finite numbers.") from e
        if not X.flags.writeable:  # a view of a read-only DataFrame (pandas' copy-on-write): torch wants writable memory
            X = X.copy()
        if not np.isfinite(X).all():
            n_nan, n_inf = int(np.isnan(X).sum()), int(np.isinf(X).sum())
            raise DataError(
                f"Input X contains NaN or infinity ({n_nan} NaN, {n_inf} inf values in an array of shape {X.shape}); "
                f"{name} expects finite numbers. Impute or drop them first, e.g. with sklearn.impute.SimpleImputer "
                "in a Pipeline."
            )
        return X

    # -- training -----------------------------------------------------------------------
    def _trainer(self, n: int, max_iter: int, desc: str, seed: int, checkpoint_dir: str | None = None,
                 early_stopping: bool = False, callbacks: list | None = None, method=None) -> Trainer:
        """The :class:`Trainer` of one phase, from this estimator's parameters (the same names).

        ``method``: the semi-supervised method this phase trains, whose recommended learning
        rate, batch size and schedule ``"auto"`` stands for.
        """
        # the schedule first (the loggers after it see the rate it set), then the phase's own, then the user's
        callbacks = [*(callbacks or []), *getattr(self, "callbacks", ())]
        schedule = getattr(self, "lr_schedule", "constant")
        if schedule == "auto":
            schedule = "anneal" if method is not None else "constant"
        if schedule in _SCHEDULES:
            callbacks.insert(0, _SCHEDULES[schedule]())
        elif schedule in LR_SCHEDULERS:
            callbacks.insert(0, LR_SCHEDULERS.build(schedule, self.lr_schedule_params))
        lr = self.learning_rate_init
        if lr == "auto":
            lr = getattr(method, "learning_rate", 1e-3) if method is not None else 1e-3
        batch_size = self.batch_size
        if batch_size == "auto" and getattr(method, "batch_size", None) is not None:
            batch_size = method.batch_size
        return Trainer(
            solver=self.solver, learning_rate_init=lr, alpha=self.alpha, max_iter=max_iter,
            batch_size=auto_batch_size(batch_size, n), early_stopping=early_stopping,
            n_iter_no_change=getattr(self, "n_iter_no_change", TRAINER["n_iter_no_change"].default),
            tol=getattr(self, "tol", TRAINER["tol"].default),
            random_state=seed, device=self.device, precision=self.precision, verbose=bool(self.verbose), desc=desc,
            callbacks=callbacks, checkpoint_dir=checkpoint_dir,
        )

    def _seed_context(self):
        """Seed torch inside a forked RNG so ``fit`` leaves the global state alone."""
        seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        dev = resolve_device(self.device)
        stack = contextlib.ExitStack()
        stack.enter_context(torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []))
        torch.manual_seed(seed)
        return stack, seed

    # -- model files (layerwise.save / layerwise.load) ---------------------------------
    def _layerwise_state(self) -> tuple[dict[str, Any], dict[str, Any], nn.Module, dict[str, Any]]:
        """What :func:`layerwise.save` writes: the parameters, the fitted state, the
        module whose weights are saved, and entries for ``meta.json``."""
        try:
            check_is_fitted(self)
        except _SklearnNotFitted as e:
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit before layerwise.save.") from e
        params = self.get_params(deep=False)
        if params.get("callbacks"):  # objects, and a run-time concern like verbose: the saved estimator has none
            params["callbacks"] = ()
        if params.get("random_state") is not None and not isinstance(params["random_state"], numbers.Integral):
            warnings.warn(f"random_state={params['random_state']!r} is not an int; it is saved as None (it only seeds future fits).", stacklevel=4)
            params["random_state"] = None
        attributes = {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_") and not isinstance(v, nn.Module)}
        state, module = self._saved_state()
        return params, {"attributes": attributes, **state}, module, {"input_shape": [int(self.n_features_in_)], **self._saved_meta()}

    def _saved_meta(self) -> dict[str, Any]:
        return {}

    @classmethod
    def _layerwise_restore(cls, params: dict[str, Any], state: dict[str, Any], load_weights: Callable[[nn.Module], None]):
        """Inverse of :meth:`_layerwise_state`: the estimator with its fitted attributes, its
        modules rebuilt from the parameters and the state, and ``load_weights`` loaded into them (strict).

        Parameters saved under an old name are read under the new one; removed ones are dropped.
        """
        params, _ = cls._parameters.translate(params, cls.__name__, warn=False)
        est = cls(**params)
        for name, value in state["attributes"].items():
            if not (name.endswith("_") and not name.startswith("_")):
                raise CheckpointError(f"config.json sets {name!r}, which is not a fitted attribute of {cls.__name__}.")
            setattr(est, name, value)
        est._restore_modules(state, load_weights)
        return est

    def _encode(self, X) -> np.ndarray:
        if is_external(X):  # a Dataset, a .npy file, an image folder: a chunk of rows at a time
            return by_chunks(self._encode, X)
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        dev = next(self.stack_.parameters()).device
        # conv stacks give (n, c, h, w) feature maps; estimators return 2-D codes
        return predict_in_batches(self.stack_, torch.from_numpy(X).to(dev)).flatten(1).float().cpu().numpy()

    @property
    def _n_features_out(self) -> int:
        """Columns of ``transform``: the width of the flattened top codes (``get_feature_names_out``)."""
        stack = self.stack_  # before fit: AttributeError, which scikit-learn's check reads as "not fitted"
        if stack is None:  # a semi-supervised method's network: its transform
            return int(self.transform(np.zeros((1, self.n_features_in_), dtype=np.float32)).shape[1])
        with torch.no_grad():
            return int(stack(torch.zeros(1, self.n_features_in_, device=next(stack.parameters()).device)).flatten(1).shape[1])

    def _set_curves(self, history: list[dict]) -> None:
        """``loss_curve_`` and ``n_iter_`` of the last phase; scikit-learn's ``validation_scores_`` and
        ``best_validation_score_`` (the negated validation loss: higher is better) when early stopping ran, else None."""
        self.loss_curve_ = [h["loss"] for h in history]
        self.n_iter_ = len(history)
        scores = [-h["val_loss"] for h in history if "val_loss" in h]
        self.validation_scores_ = scores or None
        self.best_validation_score_ = max(scores) if scores else None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
