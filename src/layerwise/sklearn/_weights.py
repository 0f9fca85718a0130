"""Row weights of the estimators' supervised cost: ``sample_weight`` and ``class_weight``, as scikit-learn combines them.

Split from the estimators: checking the weights, the weight of each class, and the weights of the labeled rows
that training receives.
"""

from __future__ import annotations

import numbers
import os

import numpy as np

from ..exceptions import ConfigError, DataError

__all__ = ["check_sample_weight", "class_weights", "labeled_row_weights"]


def check_sample_weight(sample_weight, n_rows: int) -> np.ndarray | None:
    """``sample_weight`` as ``n_rows`` finite float64 weights >= 0 (a number: the same for every row), else
    :class:`DataError`; None stays None.

    A path is refused with what it was in earlier releases: ``fit(X, y, "ckpt")`` passed the checkpoint folder by
    position, where ``fit``'s third parameter is now ``sample_weight`` (scikit-learn's place for it)."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, (str, bytes, os.PathLike)):
        raise DataError(f"sample_weight is the path {os.fsdecode(sample_weight)!r}; it takes one weight per row of X. fit's "
                        "third parameter is sample_weight (scikit-learn's order): pass the checkpoint folder by name, "
                        "fit(X, y, checkpoint_dir=..., resume=...).")
    try:
        w = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise DataError(f"sample_weight must hold numbers, one weight per row of X; could not convert it: {e}.") from e
    if w.ndim == 0:
        w = np.full(n_rows, float(w))
    if w.shape != (n_rows,):
        raise DataError(f"sample_weight has shape {w.shape} but X has {n_rows} rows; expected one weight per row of X, "
                        f"shape ({n_rows},), or a single number.")
    bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
    if len(bad):
        raise DataError(f"sample_weight holds {_shown(w[bad])} at row(s) {_shown(bad)}; expected finite numbers >= 0 "
                        "(a weight scales the row's share of the supervised cost; 0 leaves its label out).")
    return w


def labeled_row_weights(weights: np.ndarray, labeled: np.ndarray) -> np.ndarray | None:
    """The training weights of the ``labeled`` rows as float32 (0 on the others, which have no label to weigh), or
    None when every labeled row weighs the same: the cost is a weighted mean, which equal weights leave the plain
    mean, and without weights the fit is bitwise the one without the arguments.

    Raises
    ------
    DataError
        Every labeled row weighs 0: no label would train the network.
    """
    w = weights[labeled]
    if not (w > 0).any():
        raise DataError(f"The weight (sample_weight times class_weight) is zero on every one of the {len(w)} labeled rows: no "
                        "label would train the network. Give some labeled rows a positive weight.")
    if (w == w[0]).all():
        return None
    # relative to the largest (a weighted mean does not change), so that float32 holds any finite weights
    return np.where(labeled, weights / w.max(), 0.0).astype(np.float32)


def _shown(values: np.ndarray, k: int = 5) -> str:
    """The first ``k`` of ``values``, as a list (``...`` when there are more)."""
    return "[" + ", ".join(str(v) for v in values[:k].tolist()) + (", ..." if len(values) > k else "") + "]"


def class_weights(class_weight, classes: np.ndarray, codes: np.ndarray, sample_weight: np.ndarray | None) -> np.ndarray:
    """The weight of each class, in ``classes`` order, that ``class_weight`` gives (``"balanced"``: from the labeled
    rows' class indices ``codes``, counted with their ``sample_weight`` as scikit-learn >= 1.7 counts them).

    ``"balanced"`` is ``sklearn.utils.class_weight.compute_class_weight``'s ``n / (n_classes * count(c))``, written
    out so that the weighted counts do not depend on the installed scikit-learn; a class whose rows all weigh 0
    gets 0 (those rows add nothing either way) rather than an infinite weight.
    """
    n = len(classes)
    if class_weight is None:
        return np.ones(n)
    if isinstance(class_weight, str):  # "balanced" (validated by the caller)
        counts = np.bincount(codes, weights=sample_weight, minlength=n).astype(np.float64)
        return np.divide(counts.sum(), n * counts, out=np.zeros(n), where=counts > 0)
    known = classes.tolist()
    unknown = [k for k in class_weight if k not in known]
    if unknown:
        raise ConfigError(f"class_weight has key(s) {unknown} that are not classes of the labeled rows; the classes are "
                          f"{known} (rows marked unlabeled are no class). Weigh only those labels, or check the labels' type "
                          "(1 and '1' differ).")
    bad = {k: v for k, v in class_weight.items()
           if isinstance(v, bool) or not isinstance(v, numbers.Real) or not (0 <= float(v) < float("inf"))}
    if bad:
        raise ConfigError(f"class_weight must map labels to finite numbers >= 0; got {bad}.")
    return np.array([float(class_weight.get(c, 1.0)) for c in known])
