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
import json
import numbers
import os
import random
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin
from sklearn.exceptions import NotFittedError as _SklearnNotFitted
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_feature_names, _check_n_features, validate_data
from sklearn.utils.validation import check_is_fitted as _sk_check_is_fitted
from torch import nn

from ..data.arrays import in_unit_interval
from ..data.stream import NpyFile
from ..data.tables import TablePreprocessor, is_typed_table, looks_like_table
from ..exceptions import CheckpointError, ConfigError, DataError, NotFittedError
from ..params import TRAINER, ParamSet, configurable_init
from ..params.auto import Situation
from ..persistence.io import register_estimator
from ..pipeline import TrainSettings
from ..registry import LR_SCHEDULERS
from ..train.execution import resolve_device
from ..train.inference import predict_in_batches
from ._inputs import by_chunks, describe_source, image_rows, is_external, is_image_folder, read_labeled

__all__ = ["LayerwiseBase", "check_is_fitted"]

_CLASS_WEIGHT_PAIRS = "__pairs__"  # how a model file holds a class_weight dict: [[label, weight], ...]


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
        warmup, epochs = params.get("kl_warmup"), params.get("max_iter")
        if _is_int(warmup) and _is_int(epochs) and 0 < epochs <= warmup:
            context.append(f"kl_warmup={warmup} is not shorter than max_iter={epochs}: the KL weight would never reach beta, "
                           "so the model would not be the VAE asked for; use kl_warmup < max_iter.")
        context += _too_large(params.get("hidden_layer_sizes"), self._n_inputs() if hasattr(self, "n_features_in_") else None)
        self._parameters.validate(params, type(self).__name__, context=context)

    def _fit_input(self, X, y=None, stream: bool = False):
        """``(X, y)`` to fit on: arrays as given; a ``Dataset``, ``DataLoader``, ``.npy``/``.npz``/``.csv`` file or image
        folder read by :func:`~layerwise.sklearn._inputs.read_labeled` (labels from the source when ``y`` is None, from
        a file when ``y`` is its path, from a CSV's column when ``y`` names it). With ``stream``, a ``.npy`` file or an
        image folder stays on disk as 2-D rows to stream. Remembers the rows' image shape, which a convolutional
        ``pretrain`` needs (``_input_image_shape``); ``image_size`` resizes a folder's images, and is refused for other ``X``."""
        self._input_image_shape = None
        image_size = getattr(self, "image_size", None)
        if image_size is not None:
            self._parameters.select("image_size").validate({"image_size": image_size}, type(self).__name__)
            if not is_image_folder(X):
                raise ConfigError(f"{type(self).__name__}(image_size={image_size!r}) resizes the images of a folder, but X is "
                                  f"{describe_source(X)}: it would not be used. Pass X as a folder of images (one subfolder per "
                                  "class, or an ImageFolder), or leave image_size=None.")
        images = image_rows(X)
        if images is not None:  # (n, c, h, w), (n, h, w) or (n, h, w, c) arrays: flat rows that know their shape
            self._input_image_shape = images[1]
            return images[0], y
        inputs = read_labeled(X, y, stream=stream, ordered=False, image_size=image_size)
        self._input_image_shape = inputs.image_shape
        return inputs.X, inputs.y

    def _labeled_input(self, X, y):
        """``(X, y)`` to score: the labels of the source when ``y`` is None, read from a file or a CSV's column when
        ``y`` is a path or a column name (:func:`~layerwise.sklearn._inputs.read_labeled`); a ``.npy`` file or an image
        folder stays on disk, to stream. A ``Dataset`` or ``DataLoader`` is read once, its rows beside their labels (a
        shuffling one too: the pairs stay together). Nothing fitted changes."""
        if (y is None and not is_external(X)) or (y is not None and not isinstance(y, (str, os.PathLike))):
            return X, y
        stream = isinstance(X, (str, os.PathLike, NpyFile))
        inputs = read_labeled(X, y, stream=stream, ordered=False, image_size=getattr(self, "image_size", None))
        return inputs.X, inputs.y

    def _streamed_input(self, X) -> None:
        """``fit``'s checks of rows streamed from disk (what ``_validate_X`` does for arrays, without reading them)."""
        if len(X) < 2:
            raise DataError(f"{type(self).__name__} needs at least 2 rows to fit; {X!r} has {len(X)}.")
        self.n_features_in_ = int(X.shape[1])
        if hasattr(self, "feature_names_in_"):  # from an earlier fit on a DataFrame
            del self.feature_names_in_
        self.data_min_ = self.data_max_ = self.preprocessor_ = None
        scale = getattr(self, "scale", "none")
        if scale != "none" and _saved_scaling(getattr(self, "pretrained", None)) is None:
            # min-max needs a pass over every row before training and another per use; it belongs in the file
            raise DataError(f"{type(self).__name__}(scale={scale!r}) cannot scale rows streamed from disk ({X!r}); "
                            "write the file already scaled to [0, 1] (e.g. with sklearn's MinMaxScaler chunk by chunk) "
                            "and fit with scale='none'.")

    def _validate_X(self, X, reset: bool) -> np.ndarray:
        """sklearn's ``validate_data`` (its messages, which the common checks pin),
        re-raised as :class:`DataError` with a hint on how to fix it; then the model's preprocessing.

        Rows go through the table preprocessing (``preprocessor_``, a :class:`~layerwise.data.tables.TablePreprocessor`)
        when ``scale="table"``, when ``scale="auto"`` and :func:`~layerwise.data.tables.looks_like_table` says so, or
        when the ``pretrained`` model had one; a DataFrame with text or category columns is encoded before
        ``validate_data``, which only takes numbers. ``n_features_in_`` stays the number of input columns;
        the network's width is :meth:`_n_inputs`."""
        name = type(self).__name__
        _refuse_dates(X, name)
        _refuse_beyond_float32(X, name)
        if hasattr(X, "shape") and len(X.shape) == 1:  # scikit-learn's message would print every value
            raise DataError(f"Expected 2D array, got 1D array of shape {tuple(X.shape)} instead: {name} expects X of shape "
                            "(n_samples, n_features). Reshape your data either using array.reshape(-1, 1) if your data "
                            "has a single feature or array.reshape(1, -1) if it contains a single sample.")
        images = image_rows(X)
        if images is not None:  # an array of images: its rows flattened, as fit flattened them
            X = images[0]
        scale = getattr(self, "scale", "none")
        if reset:
            self.preprocessor_ = _saved_table(getattr(self, "pretrained", None))
            table = self.preprocessor_ is not None or scale == "table"
        else:
            table = getattr(self, "preprocessor_", None) is not None
        if is_typed_table(X) and (table or (reset and scale == "auto")):
            return self._table_rows(X, reset)
        try:
            X = validate_data(self, X, reset=reset, dtype=np.float32, ensure_min_samples=2 if reset else 1, ensure_all_finite=False)
        except ValueError as e:
            raise DataError(f"{e} {name} expects X of shape (n_samples, n_features) with finite numbers."
                            + _text_hint(X, scale if reset else None)) from e
        if not X.flags.writeable:  # a view of a read-only DataFrame (pandas' copy-on-write): torch wants writable memory
            X = X.copy()
        # min and max: NaN propagates and an infinity is one of them, so they tell "all finite" in two passes
        # without a temporary the size of X (a boolean mask, np.abs(X)); the magnitude check below needs them too
        low, high = (float(X.min()), float(X.max())) if X.size else (0.0, 0.0)
        if not (np.isfinite(low) and np.isfinite(high)):
            n_nan, n_inf = int(np.isnan(X).sum()), int(np.isinf(X).sum())
            if n_inf or not (table and self._fills_missing()):
                raise DataError(
                    f"Input X contains NaN or infinity ({n_nan} NaN, {n_inf} inf values in an array of shape {X.shape}); "
                    f"{name} expects finite numbers. Impute or drop them first, e.g. with sklearn.impute.SimpleImputer "
                    "in a Pipeline" + (", or pass scale='table', which fills a missing number with the training median."
                                       if n_nan and not n_inf and scale != "table" else ".")
                )
        if reset:
            # rows that came as images (a folder, a Dataset, an array of images) are never a table, whatever their width
            if (not table and scale == "auto" and _saved_scaling(getattr(self, "pretrained", None)) is None
                    and getattr(self, "_input_image_shape", None) is None):
                table = looks_like_table(X)
            if table:
                self.data_min_ = self.data_max_ = None
                if self.preprocessor_ is None:
                    self.preprocessor_ = TablePreprocessor().fit(X, feature_names=getattr(self, "feature_names_in_", None))
            else:
                self._fit_scaling(X)
        X = self.preprocessor_.transform(X) if table else self._scale(X)
        if reset and (table or getattr(self, "data_min_", None) is not None) and X.size:  # scaled: the range changed
            low, high = float(X.min()), float(X.max())
        if reset and max(high, -low) > _TOO_LARGE:
            raise DataError(f"X holds values up to {max(high, -low):.3g} (after scale={scale!r}): "
                            "their squares overflow float32, so no loss can be computed. Rescale the data, e.g. "
                            "scale='minmax' or sklearn's StandardScaler.")
        return X

    def _table_rows(self, X, reset: bool) -> np.ndarray:
        """Rows with text, category or bool columns (a DataFrame, an array of strings), encoded by
        ``preprocessor_`` (fitted here when ``reset``): what ``validate_data`` does for numbers, for them."""
        name = type(self).__name__
        try:
            _check_feature_names(self, X, reset=reset)
            _check_n_features(self, X, reset=reset)
        except ValueError as e:
            raise DataError(f"{e} {name} expects X of shape (n_samples, n_features).") from e
        n = X.shape[0]
        if n < (2 if reset else 1):
            raise DataError(f"Found array with {n} sample(s) (shape={tuple(X.shape)}) while a minimum of {2 if reset else 1} "
                            f"is required by {name}. {name} expects X of shape (n_samples, n_features).")
        if reset:
            self.data_min_ = self.data_max_ = None
            if self.preprocessor_ is None:
                self.preprocessor_ = TablePreprocessor().fit(X)
        return self.preprocessor_.transform(X)

    def _fills_missing(self) -> bool:
        """Whether a NaN in a numeric column is filled with the training median (the table preprocessing asked for
        with ``scale="table"``, or chosen for a table with categorical columns) rather than refused."""
        pre = getattr(self, "preprocessor_", None)
        return getattr(self, "scale", "none") == "table" or (pre is not None and pre.has_categorical)

    def _n_inputs(self) -> int:
        """Width of the network's input: the encoded columns of a table (``preprocessor_``), else ``n_features_in_``."""
        pre = getattr(self, "preprocessor_", None)
        return int(pre.n_features_out_) if pre is not None else int(self.n_features_in_)

    # -- input scaling: part of the model -------------------------------------------------
    def _fit_scaling(self, X: np.ndarray) -> None:
        """``data_min_`` and ``data_max_`` of the training rows when ``scale`` asks for min-max scaling, else None."""
        self.data_min_ = self.data_max_ = None
        saved = _saved_scaling(getattr(self, "pretrained", None))
        if saved is not None and len(saved[0]) != X.shape[1]:
            raise DataError(f"The pretrained model {str(self.pretrained)!r} scales {len(saved[0])} input columns (its data_min_ and "
                            f"data_max_, applied to every X), but X has {X.shape[1]} columns; expected rows of the width it was "
                            "trained on. Pass the columns the pretrained model was fitted on, in the same order.")
        if saved is not None:  # the saved layers expect inputs scaled as they were trained
            self.data_min_, self.data_max_ = saved
            return
        scale = getattr(self, "scale", "none")
        if scale == "minmax" or (scale == "auto" and not in_unit_interval(X)):
            self.data_min_, self.data_max_ = X.min(axis=0), X.max(axis=0)  # (n_features,) float32 each

    def _scale(self, X: np.ndarray) -> np.ndarray:
        """``X`` in the model's input space: ``(X - data_min_) / (data_max_ - data_min_)``; constant features give 0."""
        if getattr(self, "data_min_", None) is None:
            return X
        # in halves: a range of +-3e38 overflows float32 as a difference; halving by 2 is exact, so the result is the same
        half = np.float32(0.5)
        return ((X * half - self.data_min_ * half) / _half_ranges(self.data_min_, self.data_max_)).astype(np.float32)

    def _unscale(self, X: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`_scale`: rows of the model's input space back in the units of the training data.

        The table preprocessing (one-hot columns, quantile-normalised ones) is not undone: a :class:`DataError`."""
        if getattr(self, "preprocessor_", None) is not None:
            raise DataError(f"This {type(self).__name__} encodes its input columns as a table (scale={self.scale!r}: "
                            f"{self.preprocessor_.describe()}), which is not undone: outputs in the input space "
                            "(inverse_transform, reconstruct, sample) are not available for it. score_samples and "
                            "transform are; fit with scale='minmax' or 'none' on numeric columns to decode.")
        if getattr(self, "data_min_", None) is None:
            return X
        half = np.float32(0.5)  # in halves, as _scale
        return ((X * _half_ranges(self.data_min_, self.data_max_) + self.data_min_ * half) * np.float32(2)).astype(np.float32)

    def _scaling_description(self) -> str:
        """What the model does to ``X`` before its first layer, in words (``meta.json``, ``layerwise inspect``)."""
        if getattr(self, "preprocessor_", None) is not None:
            return f"table: {self.preprocessor_.describe()}, saved in config.json and applied to every X"
        if getattr(self, "data_min_", None) is None:
            return "none: X is used as given"
        return (f"min-max per feature to [0, 1] with the training rows' data_min_ (in [{float(self.data_min_.min()):g}, "
                f"{float(self.data_min_.max()):g}]) and data_max_ (in [{float(self.data_max_.min()):g}, "
                f"{float(self.data_max_.max()):g}]), saved in config.json and applied to every X")

    # -- training -----------------------------------------------------------------------
    def _settings(self, max_iter: int, method=None, callbacks: list | None = None) -> TrainSettings:
        """The :class:`~layerwise.pipeline.TrainSettings` of one phase, from this estimator's parameters (the same
        names), ``"auto"`` resolved.

        ``method``: the semi-supervised method the phase trains, whose recommended learning rate, batch size and
        schedule ``"auto"`` stands for (the declarations' resolvers, :mod:`layerwise.params.auto`).
        ``callbacks``: the phase's own, before the user's ``callbacks``.
        """
        # _run_callbacks: set by the command line to write a run's records once training starts (not a parameter)
        callbacks = [*(callbacks or []), *getattr(self, "callbacks", ()), *getattr(self, "_run_callbacks", ())]
        p, at = self._parameters, Situation(0, method)  # the phase's rows resolve batch_size="auto" later (the trainer)
        schedule = p["lr_schedule"].resolve(getattr(self, "lr_schedule", "constant"), at)
        lr = p["learning_rate_init"].resolve(self.learning_rate_init, at)
        # a method's recommended batch now; else "auto" stays, for the rows of the phase (auto_batch_size)
        batch_size = p["batch_size"].resolve(self.batch_size, at) if method is not None else self.batch_size
        return TrainSettings(
            max_iter=max_iter, batch_size=batch_size, learning_rate_init=lr, solver=self.solver, alpha=self.alpha,
            schedule=schedule, schedule_params=getattr(self, "lr_schedule_params", None),
            n_iter_no_change=getattr(self, "n_iter_no_change", TRAINER["n_iter_no_change"].default),
            tol=getattr(self, "tol", TRAINER["tol"].default), device=self.device, precision=self.precision,
            verbose=bool(self.verbose), callbacks=tuple(callbacks),
        )

    def _seed_context(self, seed: int | None = None):
        """Seed torch inside a forked RNG so ``fit`` leaves the global state alone.

        ``seed``: the seed of the fit a warm fit continues (its validation split), else one drawn from
        ``random_state``. A warm fit restores every RNG state its continuation kept, NumPy's and Python's
        global generators included (as a resumed checkpoint does), so those are put back afterwards too."""
        stack = contextlib.ExitStack()
        if seed is None:
            seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        else:
            stack.enter_context(_global_generators_kept())
        dev = resolve_device(self.device)
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
        if isinstance(params.get("class_weight"), dict):  # JSON keys are text: the labels (numbers too) kept as pairs
            params["class_weight"] = {_CLASS_WEIGHT_PAIRS: [[k, v] for k, v in params["class_weight"].items()]}
        if params.get("callbacks"):  # objects, and a run-time concern like verbose: the saved estimator has none
            params["callbacks"] = ()
        if params.get("random_state") is not None and not isinstance(params["random_state"], numbers.Integral):
            warnings.warn(f"random_state={params['random_state']!r} is not an int; it is saved as None (it only seeds future fits).", stacklevel=4)
            params["random_state"] = None
        attributes = {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_") and not isinstance(v, nn.Module)}
        if isinstance(attributes.get("preprocessor_"), TablePreprocessor):  # plain numbers and strings (to_dict)
            attributes["preprocessor_"] = attributes["preprocessor_"].to_dict()
        state, module = self._saved_state()
        return params, {"attributes": attributes, **state}, module, {"input_shape": [int(self.n_features_in_)], **self._saved_meta()}

    def _saved_meta(self) -> dict[str, Any]:
        return {}

    @classmethod
    def _layerwise_restore(cls, params: dict[str, Any], state: dict[str, Any], load_weights: Callable[[nn.Module], None]):
        """Inverse of :meth:`_layerwise_state`: the estimator with its fitted attributes, its
        modules rebuilt from the parameters and the state, and ``load_weights`` loaded into them (strict).
        """
        params = dict(params)
        if isinstance(params.get("class_weight"), dict) and _CLASS_WEIGHT_PAIRS in params["class_weight"]:
            params["class_weight"] = {k: v for k, v in params["class_weight"][_CLASS_WEIGHT_PAIRS]}
        est = cls(**params)
        for name, value in state["attributes"].items():
            if not (name.endswith("_") and not name.startswith("_")):
                raise CheckpointError(f"config.json sets {name!r}, which is not a fitted attribute of {cls.__name__}.")
            setattr(est, name, value)
        if isinstance(getattr(est, "preprocessor_", None), dict):
            est.preprocessor_ = TablePreprocessor.from_dict(est.preprocessor_)
        for name in ("data_min_", "data_max_"):
            value = getattr(est, name, None)
            if value is not None and np.shape(value) != (getattr(est, "n_features_in_", -1),):
                raise CheckpointError(f"config.json sets {name} of shape {np.shape(value)}, but the model takes "
                                      f"{getattr(est, 'n_features_in_', '?')} features; the file was edited or damaged.")
        est._restore_modules(state, load_weights)
        return est

    def _encode(self, X) -> np.ndarray:
        """Codes of the stack for raw rows ``X`` (validated and scaled here)."""
        if is_external(X):  # a Dataset, a .npy file, an image folder: a chunk of rows at a time
            return by_chunks(self._encode, X, image_size=getattr(self, "image_size", None))
        check_is_fitted(self)
        return self._codes(self._validate_X(X, reset=False))

    def _codes(self, X: np.ndarray) -> np.ndarray:
        """Codes of the stack for rows already in the model's input space."""
        dev = next(self.stack_.parameters()).device
        # conv stacks give (n, c, h, w) feature maps; estimators return 2-D codes
        return predict_in_batches(self.stack_, torch.from_numpy(X).to(dev)).flatten(1).float().cpu().numpy()

    @property
    def _n_features_out(self) -> int:
        """Columns of ``transform``: the width of the flattened top codes (``get_feature_names_out``)."""
        stack = self.stack_  # before fit: AttributeError, which scikit-learn's check reads as "not fitted"
        if stack is None:  # a semi-supervised method's network: its transform
            with torch.no_grad():
                return int(self.module_.transform(torch.zeros(1, self._n_inputs(), device=next(self.module_.parameters()).device)).flatten(1).shape[1])
        with torch.no_grad():
            return int(stack(torch.zeros(1, self._n_inputs(), device=next(stack.parameters()).device)).flatten(1).shape[1])

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


_TOO_LARGE = 1e15  # squared and summed over a row, larger training values overflow float32 (3.4e38)
_MAX_LAYER_WEIGHTS = 10**9  # 4 GB of float32 in one weight matrix: far beyond what a layer-wise network here needs


@contextlib.contextmanager
def _global_generators_kept():
    """NumPy's and Python's global generators as they were before the block."""
    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        yield
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _too_large(sizes, n_features: int | None) -> list[str]:
    """A problem when one weight matrix would not fit in memory (a typo such as (5120000, 64))."""
    widths = [sizes] if _is_int(sizes) else list(sizes) if isinstance(sizes, (tuple, list)) else []
    if not n_features or not widths or not all(_is_int(w) and w > 0 for w in widths):
        return []
    widths = [int(n_features), *widths]
    largest = max(a * b for a, b in zip(widths[:-1], widths[1:]))
    if largest <= _MAX_LAYER_WEIGHTS:
        return []
    return [f"hidden_layer_sizes={tuple(sizes) if not _is_int(sizes) else sizes} with {n_features} input features needs a "
            f"weight matrix of {largest:,} values ({largest * 4 / 2**30:.0f} GiB in float32); expected layers that fit in "
            "memory, e.g. (512, 256). Check the widths for a typo."]


def _half_ranges(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """``(high - low) / 2`` computed without overflow, 1/2 where a feature was constant (a range of 1, as
    scikit-learn's MinMaxScaler takes it)."""
    half = np.float32(0.5)
    span = np.asarray(high, np.float32) * half - np.asarray(low, np.float32) * half
    return np.where(span > 0, span, half)


def _saved_attributes(path) -> dict | None:
    """The fitted attributes of the model saved at ``path``, or None (no path, unreadable: the transfer itself
    reports a folder that cannot be read)."""
    if path is None:
        return None
    from ..persistence.folder import CONFIG, from_json

    try:
        return from_json(json.loads((Path(path) / CONFIG).read_text(encoding="utf-8"))["state"]["attributes"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _saved_scaling(path) -> tuple[np.ndarray, np.ndarray] | None:
    """``(data_min_, data_max_)`` of the model saved at ``path``, or None (no path, no scaling, unreadable)."""
    attributes = _saved_attributes(path)
    if attributes is None:
        return None
    low, high = attributes.get("data_min_"), attributes.get("data_max_")
    return None if low is None or high is None else (np.asarray(low, np.float32), np.asarray(high, np.float32))


def _saved_table(path) -> TablePreprocessor | None:
    """The table preprocessing of the model saved at ``path``, or None (no path, none saved, unreadable)."""
    state = (_saved_attributes(path) or {}).get("preprocessor_")
    return TablePreprocessor.from_dict(state) if isinstance(state, dict) else None


def _text_hint(X, scale: str | None) -> str:
    """What to do when ``validate_data`` refused ``X`` because some columns are text (``scale``: the one ``fit``
    was given; None at predict time, for a model fitted on numbers)."""
    if not is_typed_table(X):
        return ""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is not None:
        from ..data.tables import _is_categorical_dtype

        cols = [f"{c!r} ({d})" for c, d in dtypes.items() if _is_categorical_dtype(d)]
        what = f"X has {len(cols)} non-numeric column(s): {', '.join(cols[:5])}{', ...' if len(cols) > 5 else ''}"
    else:
        what = f"X holds text (dtype {X.dtype})"
    if scale is None:
        return (f" {what}, but this model was fitted on numeric rows without the table preprocessing; pass the "
                "columns it was fitted on, or fit it with scale='table' (or 'auto').")
    return (f" {what}, and scale={scale!r} takes numbers only. Pass scale='table' (or 'auto'), which one-hot encodes "
            "them and standardises the numbers, saved with the model; or encode them first, e.g. with sklearn's OneHotEncoder.")


def _refuse_beyond_float32(X, name: str) -> None:
    """Finite float64 values beyond the float32 range become infinity in the float32 copy; say so (not "NaN or
    infinity", which the user never passed)."""
    arr = X if isinstance(X, np.ndarray) else None
    if arr is None or arr.dtype.kind != "f" or arr.dtype.itemsize <= 4 or arr.size == 0:
        return
    with np.errstate(invalid="ignore"):
        finite = np.abs(arr[np.isfinite(arr)])
    if finite.size and float(finite.max()) > float(np.finfo(np.float32).max):
        raise DataError(f"X holds values up to {float(finite.max()):.4g}, beyond the float32 range (about 3.4e38) in which "
                        f"{name} computes; expected smaller magnitudes. Rescale the data first (e.g. sklearn's "
                        "StandardScaler or MinMaxScaler, or scale='minmax' after dividing by a power of ten).")


def _refuse_dates(X, name: str) -> None:
    """Dates, durations and complex numbers are not features that scikit-learn's checks refuse clearly:
    numpy silently turns dates into nanosecond counts, and a complex array is printed whole."""
    dtypes = list(getattr(X, "dtypes", [])) if hasattr(X, "dtypes") else [getattr(X, "dtype", None)]
    kinds = {np.dtype(d).kind for d in dtypes if d is not None and _is_numpy_dtype(d)}
    if kinds & {"M", "m"}:
        raise DataError(f"X holds dates or durations (datetime64/timedelta64); {name} expects numeric features. Turn them "
                        "into numbers with a meaning first, e.g. the day of the week or the days since a reference date.")
    if "c" in kinds:
        raise DataError(f"Complex data not supported: X holds complex numbers; {name} expects real features. Pass X.real "
                        "and X.imag as separate columns, or np.abs(X).")


def _is_numpy_dtype(d) -> bool:
    try:
        np.dtype(d)
    except TypeError:
        return False
    return True
