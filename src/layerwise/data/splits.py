"""Seeded, stratified train / validation / test splits."""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch
from sklearn.utils.multiclass import type_of_target

from ..exceptions import ConfigError, DataError
from .arrays import check_y_length

__all__ = ["split"]


def split(X, y=None, val_size: float | int = 0.1, test_size: float | int = 0.0, stratify: bool = True,
          random_state: int | np.random.RandomState | None = 0) -> Bunch:
    """Split rows into seeded train / validation / test parts.

    The test part is cut first, then the validation part from the rest, each
    with :func:`sklearn.model_selection.train_test_split`.

    Parameters
    ----------
    X : array-like or Tensor, shape (n_samples, ...)
    y : array-like, shape (n_samples,), optional
        Labels (``-1`` for unlabeled rows counts as one more class).
    val_size, test_size : float or int, default=0.1 and 0.0
        A float in [0, 1) is a fraction of all rows (rounded up, as scikit-learn
        does); an int is a number of rows; 0 means no such part.
    stratify : bool, default=True
        Keep the class proportions of ``y`` in every part. Used only when ``y``
        holds class labels (binary or multiclass, not continuous targets). If a
        class has too few rows to be in every part, the split falls back to an
        unstratified one with a ``UserWarning``.
    random_state : int, RandomState or None, default=0
        Seed of the shuffles; the same seed gives the same parts.

    Returns
    -------
    Bunch
        ``X_train``, ``X_val``, ``X_test`` (rows of ``X``; ``None`` for an empty
        part), ``y_train``, ``y_val``, ``y_test`` (``None`` without ``y`` or for
        an empty part), ``train_index``, ``val_index``, ``test_index`` (int64
        row numbers into ``X``) and ``stratified`` (bool).

    Raises
    ------
    ConfigError
        A size that is negative, not below 1 as a fraction, or that leaves no
        training row; a ``random_state`` that is not a seed.
    DataError
        ``X`` or ``y`` is not an array, or ``y`` has a different number of
        rows than ``X``.

    Examples
    --------
    >>> X, y = np.arange(40.0).reshape(20, 2), np.repeat([0, 1], 10)
    >>> s = split(X, y, val_size=0.2, test_size=0.2)
    >>> s.X_train.shape, s.X_val.shape, s.X_test.shape, np.bincount(s.y_val).tolist()
    ((12, 2), (4, 2), (4, 2), [2, 2])
    """
    for name, value in (("X", X), ("y", y)):
        if value is not None and (not hasattr(value, "__len__") or np.ndim(value) == 0):
            raise DataError(f"{name} must be an array with one row per sample; got {type(value).__name__} {value!r}. "
                            f"Pass an array, e.g. {name}=np.asarray(...).")
    if not (random_state is None or isinstance(random_state, np.random.RandomState)
            or (isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool) and 0 <= random_state < 2**32)):
        raise ConfigError(f"random_state must be None, an integer in [0, 2**32) or a numpy RandomState; got {random_state!r}.")
    n = len(X)
    if y is not None:
        check_y_length(X, y)
        y = np.asarray(y)
    n_test, n_val = _count(test_size, n, "test_size"), _count(val_size, n, "val_size")
    if n - n_test - n_val < 1:
        raise ConfigError(
            f"val_size={val_size!r} and test_size={test_size!r} take {n_val} + {n_test} of the {n} rows and leave "
            "no training row; expected them to leave at least one. Use smaller sizes."
        )
    labels = y if stratify and y is not None and type_of_target(y) in ("binary", "multiclass") else None
    rest, test_index, fell_back_test = _cut(np.arange(n), n_test, labels, random_state, "test")
    # after a fallback in the test cut, the validation cut is unstratified too: one warning, not two
    labels = None if fell_back_test else labels
    train_index, val_index, fell_back_val = _cut(rest, n_val, labels, random_state, "validation")
    stratified = labels is not None and not fell_back_val
    out = Bunch(train_index=train_index, val_index=val_index, test_index=test_index, stratified=stratified)
    for part, index in (("train", train_index), ("val", val_index), ("test", test_index)):
        out[f"X_{part}"] = _take(X, index) if len(index) else None
        out[f"y_{part}"] = y[index] if y is not None and len(index) else None
    return out


def _count(size, n: int, name: str) -> int:
    """Rows in a part: ``ceil(size * n)`` for a fraction, ``size`` for an int."""
    if isinstance(size, numbers.Integral) and not isinstance(size, bool) and 0 <= size <= n:
        return int(size)
    if isinstance(size, numbers.Real) and not isinstance(size, (bool, numbers.Integral)) and 0 <= size < 1:
        return math.ceil(float(size) * n)
    raise ConfigError(
        f"{name} must be a fraction in [0, 1) or a number of rows in [0, {n}]; got {size!r}. "
        f"For example {name}=0.1 for 10% of the rows."
    )


def _cut(index: np.ndarray, n_out: int, labels: np.ndarray | None, random_state, part: str):
    """Split ``n_out`` rows off ``index``: (kept, cut off, fell back), unstratified with a warning if need be."""
    if n_out == 0:
        return index, index[:0], False
    if labels is not None:
        try:
            kept, out = train_test_split(index, test_size=n_out, stratify=labels[index], random_state=random_state)
            return kept, out, False
        except ValueError as e:  # a class too small to be in both parts
            warnings.warn(
                f"Could not stratify the {part} split ({e}); falling back to an unstratified split, so the class "
                "proportions may differ between parts. Pass stratify=False to silence this, or add rows of the rare classes.",
                UserWarning,
                stacklevel=3,
            )
    kept, out = train_test_split(index, test_size=n_out, random_state=random_state)
    return kept, out, labels is not None


def _take(X, index: np.ndarray):
    """Rows ``index`` of an array, tensor or DataFrame."""
    if isinstance(X, torch.Tensor):
        return X[torch.from_numpy(index).to(X.device)]
    if hasattr(X, "iloc"):
        return X.iloc[index]
    return np.asarray(X)[index]
