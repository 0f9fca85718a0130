"""Evaluation of classifiers and regressors through ``sklearn.metrics``."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

__all__ = ["classification_report", "regression_report"]


def classification_report(y_true, y_pred) -> dict:
    """Accuracy, macro precision / recall / F1 and the confusion matrix.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)

    Returns
    -------
    dict
        ``accuracy``, ``precision``, ``recall``, ``f1`` (macro averages, zero
        for a class never predicted) and ``confusion_matrix`` (list of lists,
        rows = true class, in the order of ``labels``).

    Examples
    --------
    >>> r = classification_report([0, 1, 1, 0], [0, 1, 0, 0])
    >>> r["accuracy"], r["confusion_matrix"]
    (0.75, [[2, 0], [1, 1]])
    """
    labels = np.unique(np.concatenate([np.asarray(y_true), np.asarray(y_pred)]))
    p, r, f, _ = skm.precision_recall_fscore_support(y_true, y_pred, average="macro", zero_division=0)
    return {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "precision": float(p),
        "recall": float(r),
        "f1": float(f),
        "labels": labels.tolist(),
        "confusion_matrix": skm.confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def regression_report(y_true, y_pred) -> dict:
    """R², mean squared error and mean absolute error."""
    return {
        "r2": float(skm.r2_score(y_true, y_pred)),
        "mse": float(skm.mean_squared_error(y_true, y_pred)),
        "mae": float(skm.mean_absolute_error(y_true, y_pred)),
    }
