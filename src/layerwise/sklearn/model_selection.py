"""Model selection with few labels: cross-validation folds and scorers that know which rows are unlabeled.

scikit-learn's cross-validation treats every value of ``y`` as an answer. On a
partly labeled ``y`` (``-1`` marks an unlabeled row, the ``sklearn.semi_supervised``
convention; ``NaN`` an unlabeled target) that goes wrong twice: ``cv=5`` builds a
``StratifiedKFold`` that stratifies on ``-1`` as if it were a class and moves a fifth of
the unlabeled rows into each test fold, where no score can use them and no fit sees them;
and a metric such as ``scoring="accuracy"`` counts every unlabeled row as a wrong answer
(the classifier never predicts ``-1``), so with 90% of the rows unlabeled no setting
scores above 0.1.

:class:`SemiSupervisedKFold` folds the labeled rows only (stratified by class) and
keeps every unlabeled row in every training fold; :func:`labeled_scorer` and
:func:`make_labeled_scorer` score on the labeled rows of a test fold only. The
estimators' own ``score`` (``scoring=None``) already leaves unlabeled rows out.

>>> import numpy as np
>>> y = np.array([0, 1, -1, 0, 1, -1, 0, 1, -1, -1])
>>> [test.tolist() for _, test in SemiSupervisedKFold(3).split(np.zeros((10, 1)), y)]
[[0, 1], [3, 4], [6, 7]]
>>> [train.tolist() for train, _ in SemiSupervisedKFold(3).split(np.zeros((10, 1)), y)][0]
[2, 3, 4, 5, 6, 7, 8, 9]
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.metrics import get_scorer, make_scorer
from sklearn.model_selection import BaseCrossValidator, KFold, StratifiedKFold
from sklearn.utils import _safe_indexing
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import _num_samples

from ..exceptions import ConfigError, DataError
from ._labels import is_unlabeled

__all__ = ["SemiSupervisedKFold", "LabeledScorer", "labeled_scorer", "make_labeled_scorer"]

_CLASS_TARGETS = ("binary", "multiclass")


def _unlabeled_rows(y, unlabeled="auto") -> np.ndarray:
    """Boolean mask of the rows of ``y`` that carry no label.

    ``NaN`` always marks an unlabeled row (the regressor's marker; never a class). ``unlabeled="auto"``
    also takes ``-1`` (``"-1"`` among text labels) as the marker, unless the other targets are continuous
    (regression targets, where ``-1.0`` is a value); ``None`` takes ``NaN`` only; another value is the marker,
    matched as the estimators match it (``layerwise.sklearn._labels.is_unlabeled``). A row of a 2-D ``y``
    is unlabeled when any of its targets is.
    """
    y = np.asarray(y)
    if y.ndim == 0 or y.ndim > 2:
        raise DataError(f"y must be 1-D (one label per row) or 2-D (one row of targets per row); got shape {y.shape}.")
    y2 = y.reshape(len(y), -1)
    if y2.dtype.kind == "f":
        nan = np.isnan(y2)
    elif y2.dtype == object:
        nan = np.vectorize(lambda v: isinstance(v, (float, np.floating)) and bool(np.isnan(v)), otypes=[bool])(y2)
    else:
        nan = np.zeros(y2.shape, dtype=bool)
    marker = unlabeled
    if isinstance(marker, str) and marker == "auto":
        known = ~nan.any(axis=1)
        continuous = known.any() and type_of_target(y[known]).startswith("continuous")
        marker = None if continuous else -1
    if marker is None or (isinstance(marker, (float, np.floating)) and np.isnan(marker)):
        return nan.any(axis=1)
    marked = is_unlabeled(y2.ravel(), marker).reshape(y2.shape)
    return (nan | marked).any(axis=1)


def _describe_marker(unlabeled) -> str:
    return "-1 or NaN" if isinstance(unlabeled, str) and unlabeled == "auto" else "NaN" if unlabeled is None else f"{unlabeled!r} or NaN"


class SemiSupervisedKFold(BaseCrossValidator):
    """K-fold cross-validation for a partly labeled ``y``: test folds of labeled rows, every unlabeled row in every training fold.

    The labeled rows are split into ``n_splits`` folds as :class:`~sklearn.model_selection.StratifiedKFold`
    splits them (each class in the same proportion in every fold; :class:`~sklearn.model_selection.KFold` for
    continuous targets, or with ``stratify=False``). Each test fold is one of these folds, labeled rows only;
    its training fold is every other row: the labeled rows of the other folds and **all** the unlabeled rows.
    Every labeled row is tested exactly once; no unlabeled row is ever tested.

    Why every unlabeled row trains every fold: an unlabeled row in a test fold carries no score (there is no
    label to compare the prediction with), so moving it there only takes it from the fit, as plain
    ``StratifiedKFold`` does (a ``1/n_splits`` share of the free data lost in each fit). Semi-supervised
    methods are meant to see all the unlabeled rows they will be used with, so the folds measure the setting
    of the final fit: the same unlabeled rows, a ``(n_splits - 1) / n_splits`` share of the labels. Nothing
    leaks: the labeled rows of a test fold are in no training fold, not even as unlabeled rows. Note the cost:
    each fit trains on every unlabeled row (an epoch of the ladder network is a pass over them), so a fold
    fits about as long as the final model.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2. Every class needs at least ``n_splits`` labeled rows.
    shuffle : bool, default=False
        Shuffle the labeled rows (within each class) before splitting them into folds.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffle; used only with ``shuffle=True`` (as in scikit-learn's ``KFold``).
    unlabeled : "auto", scalar or None, default="auto"
        What marks an unlabeled row in ``y``; ``NaN`` always does. ``"auto"``: ``-1`` (and ``"-1"`` among text
        labels), as ``PretrainedClassifier(unlabeled="auto")`` reads it, unless the labeled targets are
        continuous (a regressor's targets: ``NaN`` only, so that a target of ``-1.0`` stays a target). ``None``:
        ``NaN`` only (for ``unlabeled=None`` estimators, where ``-1`` is a class). Another value: that marker,
        e.g. the estimator's own ``unlabeled``.
    stratify : bool, default=True
        Stratify the labeled rows by class when ``y`` holds class labels (binary or multiclass). ``False``:
        plain ``KFold`` over the labeled rows, e.g. for integer-valued regression targets.

    Raises
    ------
    DataError
        From :meth:`split`: no ``y``; no labeled row; a class with fewer than ``n_splits`` labeled rows
        (``stratify``); fewer labeled rows than ``n_splits``; targets that cannot be stratified
        (multilabel, several outputs of classes).

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> from layerwise import PretrainedClassifier
    >>> search = GridSearchCV(PretrainedClassifier(semi_supervised="ladder"),
    ...                       {"semi_supervised_params": [{"noise_std": 0.2}, {"noise_std": 0.3}]},
    ...                       cv=SemiSupervisedKFold(3, shuffle=True, random_state=0))
    >>> import numpy as np
    >>> y = np.array([0, 0, 0, 1, 1, 1, -1, -1])
    >>> for train, test in SemiSupervisedKFold(3).split(np.zeros((8, 2)), y):
    ...     print(train, test)
    [1 2 4 5 6 7] [0 3]
    [0 2 3 5 6 7] [1 4]
    [0 1 3 4 6 7] [2 5]
    """

    def __init__(self, n_splits: int = 5, *, shuffle: bool = False, random_state=None, unlabeled="auto", stratify: bool = True) -> None:
        if not isinstance(n_splits, numbers.Integral) or isinstance(n_splits, bool) or n_splits < 2:
            raise ConfigError(f"n_splits must be an integer of at least 2 (a test fold and a training fold); got {n_splits!r}.")
        if not isinstance(shuffle, (bool, np.bool_)):
            raise ConfigError(f"shuffle must be True or False; got {shuffle!r}.")
        if not isinstance(stratify, (bool, np.bool_)):
            raise ConfigError(f"stratify must be True or False; got {stratify!r}.")
        if not shuffle and random_state is not None:
            raise ConfigError("random_state only seeds the shuffle: pass shuffle=True with it, or leave random_state=None.")
        self.n_splits = int(n_splits)
        self.shuffle = bool(shuffle)
        self.random_state = random_state
        self.unlabeled = unlabeled
        self.stratify = bool(stratify)

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        """Number of folds: ``n_splits`` (``X``, ``y`` and ``groups`` are ignored)."""
        return self.n_splits

    def split(self, X, y=None, groups=None):
        """The folds: ``(train, test)`` row indices, ``test`` labeled rows only, ``train`` every other row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Only its number of rows is used.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Labels, with unlabeled rows marked (``unlabeled``).
        groups : ignored
            Present for the scikit-learn API.

        Yields
        ------
        train : ndarray
            The labeled rows of the other folds and every unlabeled row, in increasing order.
        test : ndarray
            One fold of labeled rows, in increasing order.
        """
        folds = self._label_folds(X, y)
        rows = np.arange(_num_samples(X))
        for _, test in folds:
            yield np.setdiff1d(rows, test, assume_unique=True), test

    def _iter_test_indices(self, X=None, y=None, groups=None):
        for _, test in self._label_folds(X, y):
            yield test

    def _label_folds(self, X, y) -> list[tuple[np.ndarray, np.ndarray]]:
        if y is None:
            raise DataError("SemiSupervisedKFold.split needs y, to tell the labeled rows (the test folds) from the unlabeled "
                            "ones; pass y (cross_val_score and GridSearchCV pass theirs).")
        n = _num_samples(X)
        if _num_samples(y) != n:
            raise DataError(f"y has {_num_samples(y)} rows but X has {n}; expected one label per row of X.")
        y = np.asarray(y)
        labeled = np.flatnonzero(~_unlabeled_rows(y, self.unlabeled))
        if labeled.size == 0:
            raise DataError(f"Every row of y is unlabeled ({_describe_marker(self.unlabeled)} marks them): cross-validation scores "
                            "on labeled rows, and there is none. Label some rows, or pass unlabeled= the marker your labels use.")
        y_l = y[labeled]
        kind = type_of_target(y_l)
        if self.stratify and not kind.startswith("continuous"):
            if kind not in _CLASS_TARGETS:
                raise DataError(f"SemiSupervisedKFold stratifies class labels (binary or multiclass), but the labeled rows of y are "
                                f"{kind!r}. Pass stratify=False to fold them without stratifying.")
            classes, counts = np.unique(y_l, return_counts=True)
            few = [(_label(c), int(k)) for c, k in zip(classes, counts) if k < self.n_splits]
            if few:
                raise DataError(_too_few_message(few, self.n_splits))
            folds = StratifiedKFold(self.n_splits, shuffle=self.shuffle, random_state=self._random_state()).split(np.zeros(len(y_l)), y_l)
        else:
            if len(labeled) < self.n_splits:
                raise DataError(f"y has {len(labeled)} labeled row(s), fewer than n_splits={self.n_splits}: each test fold needs at "
                                f"least one. Pass n_splits={max(2, len(labeled))} or fewer, or label more rows.")
            folds = KFold(self.n_splits, shuffle=self.shuffle, random_state=self._random_state()).split(np.zeros(len(y_l)))
        return [(labeled[train], np.sort(labeled[test])) for train, test in folds]

    def _random_state(self):
        return self.random_state if self.shuffle else None


def _label(value):
    return value.item() if hasattr(value, "item") else value


def _too_few_message(few: list[tuple[object, int]], n_splits: int) -> str:
    """Why stratified folds are refused: the classes with fewer than ``n_splits`` labeled rows, and what to do."""
    listed = ", ".join(f"class {c!r} has {k}" for c, k in few[:5]) + (f" (and {len(few) - 5} more classes)" if len(few) > 5 else "")
    least = min(k for _, k in few)
    fewer = f"Pass n_splits={least} or fewer, label" if least >= 2 else "A class with one labeled row cannot be both trained on and tested: label"
    return (f"Too few labeled rows to stratify into n_splits={n_splits} folds: {listed} labeled row(s), fewer than {n_splits}, so "
            f"some test fold would hold none of its class. {fewer} more rows of that class, or mark its rows unlabeled (-1) "
            "to keep them as unlabeled rows.")


class LabeledScorer:
    """A scorer that scores on the labeled rows of ``y`` only: ``scorer(estimator, X, y)``.

    Made by :func:`labeled_scorer` or :func:`make_labeled_scorer`; usable wherever scikit-learn takes a
    scorer (``scoring=`` of ``GridSearchCV``, ``cross_val_score``, ``cross_validate``, in a dict of several).
    The rows of ``y`` that ``unlabeled`` marks (as in :class:`SemiSupervisedKFold`) are dropped from ``X``,
    ``y`` and ``sample_weight`` before ``scorer`` runs, so an unlabeled row is never counted as a wrong
    answer. A test fold with no labeled row raises :class:`~layerwise.exceptions.DataError` (in scikit-learn's
    cross-validation: a ``NaN`` score with a warning that holds the message, or the error with
    ``error_score="raise"``), never a silent score.

    Parameters
    ----------
    scorer : callable
        ``scorer(estimator, X, y, sample_weight=None, **kwargs) -> float``, e.g. ``get_scorer("accuracy")``.
    unlabeled : "auto", scalar or None, default="auto"
        As in :class:`SemiSupervisedKFold`.
    """

    def __init__(self, scorer, unlabeled="auto") -> None:
        if not callable(scorer):
            raise ConfigError(f"scorer must be callable as scorer(estimator, X, y); got {type(scorer).__name__}.")
        self.scorer, self.unlabeled = scorer, unlabeled
        self._name = None  # the scorer's name, when labeled_scorer was given one (for repr)

    def __call__(self, estimator, X, y_true, sample_weight=None, **kwargs) -> float:
        if y_true is None:
            raise DataError("A labeled scorer needs y, to score on its labeled rows.")
        unlabeled = _unlabeled_rows(y_true, self.unlabeled)
        if unlabeled.all():
            raise DataError(f"Every row of this y is unlabeled ({_describe_marker(self.unlabeled)} marks them): no row to score. "
                            "Test on labeled rows; SemiSupervisedKFold makes test folds of labeled rows only.")
        if unlabeled.any():
            keep = np.flatnonzero(~unlabeled)
            X, y_true = _safe_indexing(X, keep), _safe_indexing(y_true, keep)
            if sample_weight is not None:
                sample_weight = _safe_indexing(sample_weight, keep)
        if sample_weight is not None:
            kwargs["sample_weight"] = sample_weight
        return self.scorer(estimator, X, y_true, **kwargs)

    def __repr__(self) -> str:
        inner = repr(self._name) if self._name is not None else repr(self.scorer)
        return f"labeled_scorer({inner}" + ("" if isinstance(self.unlabeled, str) and self.unlabeled == "auto"
                                                     else f", unlabeled={self.unlabeled!r}") + ")"


def labeled_scorer(scoring, *, unlabeled="auto") -> LabeledScorer:
    """``scoring`` on the labeled rows only: ``labeled_scorer("accuracy")``, for ``scoring=`` in ``GridSearchCV``.

    Parameters
    ----------
    scoring : str or callable
        A scikit-learn scorer name (``"accuracy"``, ``"f1_macro"``, ``"neg_log_loss"``, ``"r2"``...) or a
        scorer ``scorer(estimator, X, y)`` (``make_scorer(...)``).
    unlabeled : "auto", scalar or None, default="auto"
        What marks an unlabeled row, as in :class:`SemiSupervisedKFold`: ``-1`` for class labels, ``NaN`` always.

    Returns
    -------
    LabeledScorer

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> X, y = np.zeros((6, 1)), np.array([0, 0, 0, 1, -1, -1])
    >>> model = DummyClassifier(strategy="most_frequent").fit(X[:4], y[:4])
    >>> labeled_scorer("accuracy")(model, X, y)     # the labeled rows: 3 right of 4
    0.75
    >>> float(model.score(X, y))                     # plain accuracy counts the two -1 rows as wrong
    0.5
    """
    if isinstance(scoring, LabeledScorer):
        scoring = scoring._name or scoring.scorer
    scorer = LabeledScorer(get_scorer(scoring) if isinstance(scoring, str) else scoring, unlabeled)
    scorer._name = scoring if isinstance(scoring, str) else None
    return scorer


def make_labeled_scorer(score_func, *, unlabeled="auto", **kwargs) -> LabeledScorer:
    """:func:`sklearn.metrics.make_scorer` of ``score_func``, scoring on the labeled rows only.

    Parameters
    ----------
    score_func : callable
        A metric ``score_func(y_true, y_pred, **kw)``, e.g. ``sklearn.metrics.balanced_accuracy_score``.
    unlabeled : "auto", scalar or None, default="auto"
        What marks an unlabeled row, as in :class:`SemiSupervisedKFold`.
    **kwargs
        Passed to ``make_scorer``: ``greater_is_better``, ``response_method``, and the metric's own options.

    Returns
    -------
    LabeledScorer

    Examples
    --------
    >>> from sklearn.metrics import balanced_accuracy_score
    >>> scorer = make_labeled_scorer(balanced_accuracy_score)
    """
    return LabeledScorer(make_scorer(score_func, **kwargs), unlabeled)

