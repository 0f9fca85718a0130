"""The data of a run: load a dataset, split it, mark the rows whose labels are hidden.

One preparation for every pipeline: the ``layerwise pretrain``/``finetune``
commands (from a config's ``[data]`` section, whose keys are this function's
arguments) and ``layerwise demo``. The same arguments and seed give the same
rows in every part.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ..exceptions import ConfigError, DataError
from ..params import PARAMS
from .datasets import load_dataset
from .files import FILE_SUFFIXES
from .splits import _cut, split

__all__ = ["prepare_data", "hide_labels"]


def prepare_data(dataset: str = "digits", *, data_dir=None, label_column: str | None = None, image_size=None,
                 label_fraction: float = 1.0, val_size: float = 0.1, test_size: float = 0.2, scale: str = "auto",
                 task: str = "classification", random_state: int = 0) -> Bunch:
    """Load ``dataset`` and split it: train / validation / test, and the rows that keep their label.

    The dataset's own test split is used when it has one; otherwise
    ``test_size`` of the rows is held out (stratified, seeded). Then
    ``val_size`` of the training rows are held out for validation. Only
    ``label_fraction`` of the training rows keep their label (stratified, as
    ``train_test_split(train_size=label_fraction)`` picks them); the others get
    ``-1`` (classification) or ``NaN`` (regression), as the estimators expect.

    The values are returned as stored: ``scale`` is not applied here but by the
    estimators (their ``scale`` parameter), which fit it on the training rows
    alone and save it with the model, so that predicting later scales new rows
    with the same numbers.

    Parameters
    ----------
    dataset : str, default="digits"
        A name (``digits``, ``mnist``, ``fashion-mnist``, ``kmnist``), a ``.npy``/``.npz``/``.csv`` path or a
        folder of images with one subfolder per class.
    data_dir, label_column, image_size, label_fraction, val_size, test_size, scale, task
        As the config keys of ``[data]`` (:data:`layerwise.params.table.DATA`).
    random_state : int, default=0
        Seed of every split.

    Returns
    -------
    Bunch
        ``X_train``, ``y_train``, ``y_partial`` (labels with the hidden ones
        marked), ``labeled`` (bool mask of the training rows that keep their
        label), ``X_val``, ``y_val``, ``X_test``, ``y_test`` (``None`` when
        absent), ``image_shape``, ``scaling``, ``name``.
    """
    args = dict(dataset=dataset, data_dir=data_dir, label_column=label_column, image_size=image_size, label_fraction=label_fraction,
                val_size=val_size, test_size=test_size, scale=scale, task=task)
    PARAMS.select(*args, "random_state").validate({**args, "random_state": random_state}, "prepare_data")
    is_file = Path(dataset).suffix.lower() in FILE_SUFFIXES
    if not is_file and label_column is not None:
        raise ConfigError(f"data.label_column={label_column!r} applies to data files; the named dataset {dataset!r} comes "
                          "with its own labels. Remove label_column, or set dataset to the path of a .csv/.npy file.")
    if image_size is not None and not Path(dataset).is_dir():
        raise ConfigError(f"data.image_size={image_size!r} resizes the images of a folder, but dataset={dataset!r} is not a "
                          "folder: it would not be used. Set dataset to a folder of images (one subfolder per class), or "
                          "remove image_size.")
    # values as stored: the scaling is fitted by the model on the training rows alone, and saved with it
    folder = {"image_size": image_size} if image_size is not None else {}
    data = load_dataset(dataset, data_dir=data_dir, **({"label_column": label_column, "scale": None} if is_file else folder))
    X, y, X_test, y_test = data.X, data.y, data.X_test, data.y_test
    if y is not None and task == "classification":
        _check_class_labels(y, data.name)
    if X_test is None and y is not None and test_size > 0:
        parts = split(X, y, val_size=0.0, test_size=test_size, random_state=random_state)
        X, y, X_test, y_test = parts.X_train, parts.y_train, parts.X_test, parts.y_test
    X_val = y_val = None
    if val_size > 0:
        parts = split(X, y, val_size=val_size, test_size=0.0, random_state=random_state)
        X, y, X_val, y_val = parts.X_train, parts.y_train, parts.X_val, parts.y_val
    y_partial, labeled = (hide_labels(y, label_fraction, task, random_state) if y is not None else (None, None))
    return Bunch(X_train=X, y_train=y, y_partial=y_partial, labeled=labeled, X_val=X_val, y_val=y_val, X_test=X_test,
                 y_test=y_test, image_shape=data.image_shape, scaling=data.scaling, name=data.name)


def _check_class_labels(y: np.ndarray, name: str) -> None:
    """Classification needs classes: numbers with a fractional part (or empty cells) mean a regression target."""
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y) | (y != np.round(y))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"{name}: the labels are not classes: label {i} is {float(y[i])!r}; data.task = 'classification' needs "
                            "integer or text labels. For a numeric target set data.task = 'regression'; for a row "
                            "without a label, fill its cell with -1 (unlabeled) or drop the row.")


def hide_labels(y: np.ndarray, fraction: float, task: str = "classification", random_state: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Keep the labels of ``floor(fraction * n)`` rows (stratified for classes); mark the others unlabeled.

    The rows kept are the ``train`` part of ``train_test_split(train_size=fraction, stratify=y)``
    with the same seed.

    Returns
    -------
    y_partial : ndarray
        ``y`` with hidden labels set to ``-1`` (classification) or ``NaN`` (regression).
    labeled : ndarray of bool, shape (n_samples,)
    """
    n = len(y)
    if fraction >= 1:
        return y, np.ones(n, dtype=bool)
    labels = y if task == "classification" else None
    keep, _, _ = _cut(np.arange(n), n - math.floor(fraction * n), labels, random_state, "labeled")
    if task == "classification":
        out = np.full(n, -1, dtype=np.int64) if y.dtype.kind in "iu" else np.full(n, -1, dtype=object)
    else:
        out = np.full(y.shape, np.nan)
    out[keep] = y[keep]
    labeled = np.zeros(n, dtype=bool)
    labeled[keep] = True
    return out, labeled
