"""Model selection with few labels: SemiSupervisedKFold, labeled_scorer, and GridSearchCV on a partly labeled y."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import Ridge
from sklearn.metrics import accuracy_score, balanced_accuracy_score, get_scorer
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, check_cv, cross_val_score, cross_validate
from sklearn.neighbors import KNeighborsClassifier
from sklearn.semi_supervised import SelfTrainingClassifier

import layerwise
from layerwise import DataError, PretrainedClassifier
from layerwise.exceptions import ConfigError
from layerwise.sklearn.model_selection import LabeledScorer, SemiSupervisedKFold, labeled_scorer, make_labeled_scorer

FAST = dict(hidden_layer_sizes=(16,), max_iter=2, random_state=0, check_reference=False)


def partly(y: np.ndarray, every: int = 3) -> np.ndarray:
    """``y`` with every ``every``-th row labeled, the others -1."""
    return np.where(np.arange(len(y)) % every == 0, y, -1)


def check_folds(folds, y, unlabeled_mask, n_splits):
    """The contract: test folds of labeled rows, each labeled row tested once, every other row (all unlabeled ones) trains."""
    n = len(y)
    labeled = np.flatnonzero(~unlabeled_mask)
    assert len(folds) == n_splits
    tested = np.concatenate([test for _, test in folds])
    assert np.array_equal(np.sort(tested), labeled)  # every labeled row tested exactly once
    for train, test in folds:
        assert len(test) > 0 and not unlabeled_mask[test].any()  # labeled rows only
        assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(n))  # a partition of the rows
        assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
        assert set(np.flatnonzero(unlabeled_mask)) <= set(train)  # every unlabeled row in every training fold


def test_folds_are_stratified_over_the_labeled_rows_only():
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], [9, 6, 12])
    y = np.concatenate([y, np.full(40, -1)])[rng.permutation(67)]
    folds = list(SemiSupervisedKFold(3).split(np.zeros((67, 2)), y))
    check_folds(folds, y, y == -1, 3)
    for _, test in folds:  # each class in the same proportion in every test fold: 3, 2 and 4 of its rows
        assert np.bincount(y[test], minlength=3).tolist() == [3, 2, 4]
    # the same folds as StratifiedKFold over the labeled rows alone
    labeled = np.flatnonzero(y != -1)
    expected = [labeled[test] for _, test in StratifiedKFold(3).split(labeled, y[labeled])]
    assert all(np.array_equal(t, e) for (_, t), e in zip(folds, expected))


def test_plain_cv_treats_the_marker_as_a_class():
    """What the splitter is for: cv=3 on a classifier is StratifiedKFold, which moves unlabeled rows into its test folds."""
    y = partly(np.tile(np.arange(3), 20))
    cv = check_cv(3, y, classifier=True)
    assert isinstance(cv, StratifiedKFold)
    assert all((y[test] == -1).sum() == 13 or (y[test] == -1).sum() == 14 for _, test in cv.split(np.zeros((60, 1)), y))
    assert check_cv(SemiSupervisedKFold(3), y, classifier=True).__class__ is SemiSupervisedKFold  # accepted as cv= as it is


@settings(max_examples=60, deadline=None)
@given(counts=st.lists(st.integers(4, 15), min_size=2, max_size=5), n_unlabeled=st.integers(0, 30), n_splits=st.integers(2, 4),
       shuffle=st.booleans(), seed=st.integers(0, 2**16))
def test_the_contract_holds_for_any_labels(counts, n_unlabeled, n_splits, shuffle, seed):
    rng = np.random.RandomState(seed)
    y = np.concatenate([np.repeat(np.arange(len(counts)), counts), np.full(n_unlabeled, -1)])[rng.permutation(sum(counts) + n_unlabeled)]
    cv = SemiSupervisedKFold(n_splits, shuffle=shuffle, random_state=seed if shuffle else None)
    folds = list(cv.split(np.zeros((len(y), 1)), y))
    check_folds(folds, y, y == -1, n_splits)
    for _, test in folds:  # stratified: each class's share of every fold within one row of the even split
        per_class = np.bincount(y[test], minlength=len(counts))
        assert np.all(np.abs(per_class - np.asarray(counts) / n_splits) < 1)
    assert cv.get_n_splits() == n_splits


def test_shuffle_is_seeded():
    y = partly(np.tile(np.arange(4), 30), every=2)
    X = np.zeros((len(y), 1))
    plain = [t.tolist() for _, t in SemiSupervisedKFold(3).split(X, y)]
    a = [t.tolist() for _, t in SemiSupervisedKFold(3, shuffle=True, random_state=1).split(X, y)]
    b = [t.tolist() for _, t in SemiSupervisedKFold(3, shuffle=True, random_state=1).split(X, y)]
    assert a == b and a != plain


@pytest.mark.parametrize("y, unlabeled, marked", [
    (np.array(["cat", "dog", "-1", "cat", "dog", " -1 ", "cat", "dog"], dtype=object), "auto", [2, 5]),  # a CSV's -1
    (np.array([0.0, 1.0, np.nan, 0.0, 1.0, -1.0, 0.0, 1.0]), "auto", [2, 5]),  # NaN always marks a row
    (np.array([0, 1, 9, 0, 1, 9, 0, 1]), 9, [2, 5]),  # another marker
    (np.array([0, 1, -1, 0, 1, -1, 0, 1]), None, []),  # unlabeled=None: -1 is a class (3 rows: 2 folds at most)
])
def test_markers(y, unlabeled, marked):
    folds = list(SemiSupervisedKFold(2, unlabeled=unlabeled).split(np.zeros((8, 1)), y))
    mask = np.isin(np.arange(8), marked)
    check_folds(folds, y, mask, 2)


def test_continuous_targets_are_folded_without_stratifying():
    """A regressor's targets: NaN marks a row, -1.0 stays a target, KFold over the labeled rows; stratify=False likewise."""
    y = np.linspace(-2, 2, 21)
    y[[3, 8, 13]] = np.nan
    assert -1.0 in y
    folds = list(SemiSupervisedKFold(3).split(np.zeros((21, 1)), y))
    check_folds(folds, y, np.isnan(y), 3)
    labeled = np.flatnonzero(~np.isnan(y))
    assert [t.tolist() for _, t in folds] == [labeled[t].tolist() for _, t in KFold(3).split(labeled)]
    # integer-valued targets look like classes; stratify=False folds them like KFold
    counts = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, -1, -1])
    folds = list(SemiSupervisedKFold(2, stratify=False).split(np.zeros((12, 1)), counts))
    check_folds(folds, counts, counts == -1, 2)
    # 2-D targets: a row is unlabeled when any of its targets is NaN
    y2 = np.column_stack([np.arange(10.5, 20.5), np.arange(10.5, 20.5)])
    y2[4, 1] = np.nan
    check_folds(list(SemiSupervisedKFold(3).split(np.zeros((10, 1)), y2)), y2, np.isin(np.arange(10), [4]), 3)


def test_refusals_say_what_is_wrong_and_what_to_do():
    X = np.zeros((30, 1))
    y = np.array([0] * 10 + [1] * 2 + [2] * 1 + [-1] * 17)
    with pytest.raises(DataError, match=r"n_splits=3 folds: class 1 has 2, class 2 has 1 labeled row\(s\), fewer than 3.*"
                                        r"A class with one labeled row cannot be both trained on and tested: label more rows"):
        list(SemiSupervisedKFold(3).split(X, y))
    y[12] = 1
    with pytest.raises(DataError, match=r"class 1 has 3 labeled row\(s\), fewer than 4.*Pass n_splits=3 or fewer.*mark its rows "
                                        r"unlabeled \(-1\)"):
        list(SemiSupervisedKFold(4).split(X, y))
    with pytest.raises(DataError, match=r"Every row of y is unlabeled \(-1 or NaN marks them\).*Label some rows"):
        list(SemiSupervisedKFold(3).split(X, np.full(30, -1)))
    with pytest.raises(DataError, match=r"y has 2 labeled row\(s\), fewer than n_splits=3.*Pass n_splits=2 or fewer"):
        list(SemiSupervisedKFold(3).split(np.zeros((5, 1)), np.array([np.nan, 0.5, np.nan, 1.5, np.nan])))
    with pytest.raises(DataError, match="needs y"):
        list(SemiSupervisedKFold(3).split(X))
    with pytest.raises(DataError, match="y has 30 rows but X has 5"):
        list(SemiSupervisedKFold(3).split(X[:5], y))
    with pytest.raises(DataError, match=r"'multilabel-indicator'. Pass stratify=False"):
        list(SemiSupervisedKFold(2).split(np.zeros((4, 1)), np.array([[0, 1], [1, 0], [1, 1], [0, 1]])))
    with pytest.raises(ConfigError, match="n_splits must be an integer of at least 2"):
        SemiSupervisedKFold(1)
    with pytest.raises(ConfigError, match="random_state only seeds the shuffle"):
        SemiSupervisedKFold(3, random_state=0)


def test_exported_and_printable():
    assert layerwise.SemiSupervisedKFold is SemiSupervisedKFold and layerwise.sklearn.labeled_scorer is labeled_scorer
    assert " ".join(repr(SemiSupervisedKFold(3, shuffle=True, random_state=0)).split()) == (
        "SemiSupervisedKFold(n_splits=3, random_state=0, shuffle=True, stratify=True, unlabeled='auto')")
    assert repr(labeled_scorer("accuracy")) == "labeled_scorer('accuracy')"
    assert repr(labeled_scorer("accuracy", unlabeled=9)) == "labeled_scorer('accuracy', unlabeled=9)"


# ---------------------------------------------------------------- scorers


def test_labeled_scorer_drops_unlabeled_rows():
    X, y = np.zeros((6, 1)), np.array([0, 0, 0, 1, -1, -1])
    model = DummyClassifier(strategy="most_frequent").fit(X[:4], y[:4])
    assert labeled_scorer("accuracy")(model, X, y) == 0.75
    assert get_scorer("accuracy")(model, X, y) == 0.5  # what it fixes: the two -1 rows counted as wrong
    assert make_labeled_scorer(balanced_accuracy_score)(model, X, y) == 0.5
    w = np.array([1.0, 1.0, 1.0, 3.0, 5.0, 5.0])
    assert labeled_scorer("accuracy")(model, X, y, sample_weight=w) == pytest.approx(0.5)  # 3 of 6, the -1 rows' weights dropped
    scorer = labeled_scorer("accuracy")
    assert isinstance(scorer, LabeledScorer) and labeled_scorer(scorer, unlabeled=0)(model, X, y) == 0.0  # rewrapped: 0 marks
    with pytest.raises(DataError, match=r"Every row of this y is unlabeled \(-1 or NaN marks them\): no row to score"):
        scorer(model, X[4:], y[4:])


def test_labeled_scorer_for_regression_targets():
    rng = np.random.RandomState(0)
    X = rng.rand(40, 3)
    y = X @ np.array([1.0, -2.0, 0.5]) - 1.0
    y_partial = y.copy()
    y_partial[::4] = np.nan
    model = Ridge(alpha=1.0).fit(X[1::4], y[1::4])
    keep = ~np.isnan(y_partial)
    assert labeled_scorer("r2")(model, X, y_partial) == pytest.approx(model.score(X[keep], y[keep]))


def test_scorers_in_cross_validation_with_unlabeled_test_rows():
    """cv folds whose test rows include unlabeled ones (plain KFold): the labeled scorer scores their labeled rows only."""
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    y_partial = partly(y, every=2)
    model = SelfTrainingClassifier(KNeighborsClassifier(3), max_iter=2)
    cv = KFold(3, shuffle=True, random_state=0)
    out = cross_validate(model, X, y_partial, cv=cv, scoring={"labeled": labeled_scorer("accuracy"), "plain": "accuracy"})
    for (train, test), labeled, plain in zip(cv.split(X), out["test_labeled"], out["test_plain"]):
        fitted = clone(model).fit(X[train], y_partial[train])
        keep = test[y_partial[test] != -1]
        assert labeled == pytest.approx(accuracy_score(y[keep], fitted.predict(X[keep])))
        assert plain < 0.6 < labeled  # plain accuracy counts the unlabeled half as wrong answers
    assert np.all(np.isfinite(cross_val_score(model, X, y_partial, cv=cv, scoring=labeled_scorer("accuracy"))))


def test_a_test_fold_without_labels_is_an_error_not_a_silent_nan(digits_small):
    X, y = digits_small
    y = partly(y)
    unlabeled_only = np.flatnonzero(y == -1)[:20]
    folds = [(np.setdiff1d(np.arange(len(y)), unlabeled_only), unlabeled_only)]
    # the scorer wrapper, and the estimator's own score
    for scoring, message in [(labeled_scorer("accuracy"), r"Every row of this y is unlabeled"), (None, r"Every label of y is unlabeled")]:
        with pytest.raises(DataError, match=message):
            cross_val_score(PretrainedClassifier(**FAST), X, y, cv=folds, scoring=scoring, error_score="raise")
        with pytest.warns(UserWarning, match=message):  # scikit-learn's default error_score: NaN, with our message
            assert np.isnan(cross_val_score(PretrainedClassifier(**FAST), X, y, cv=folds, scoring=scoring)).all()


# ---------------------------------------------------------------- GridSearchCV on digits


@pytest.fixture(scope="module")
def digits_partly(digits):
    X, y = digits
    return X[:400], partly(y[:400], every=3), y[:400]


def test_grid_search_scores_held_out_labeled_rows(digits_partly):
    """A tiny search over the ladder's semi_supervised_params: cv_results_ are the accuracies of each fold's labeled test rows."""
    X, y, _ = digits_partly
    grid = {"semi_supervised_params": [{"noise_std": 0.2}, {"noise_std": 0.5}]}
    cv = SemiSupervisedKFold(2, shuffle=True, random_state=0)
    est = PretrainedClassifier(semi_supervised="ladder", **FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NaN score, no fit failure, no stratification warning
        search = GridSearchCV(est, grid, cv=cv, refit=False).fit(X, y)  # scoring=None: the estimator's own score
    r = search.cv_results_
    assert np.all(np.isfinite(r["mean_test_score"]))
    folds = list(cv.split(X, y))
    for i, params in enumerate(r["params"]):
        for k, (train, test) in enumerate(folds):
            assert (y[test] != -1).all()
            fitted = clone(est).set_params(**params).fit(X[train], y[train])
            assert fitted.semi_supervised_ == "ladder" and (y[train] == -1).sum() == (y == -1).sum()  # every unlabeled row trained
            manual = accuracy_score(y[test], fitted.predict(X[test]))
            assert r[f"split{k}_test_score"][i] == pytest.approx(manual)
            assert labeled_scorer("accuracy")(fitted, X[test], y[test]) == pytest.approx(manual)


def test_regressor_targets_with_nan():
    """PretrainedRegressor: NaN marks an unlabeled target; the folds and the labeled scorer give finite R^2 (test folds labeled)."""
    from layerwise import PretrainedRegressor

    rng = np.random.RandomState(0)
    X = rng.rand(90, 5).astype(np.float32)
    y = X @ np.arange(5.0)
    y[::3] = np.nan
    reg = PretrainedRegressor((8,), pretrain_max_iter=1, max_iter=2, random_state=0, check_reference=False)
    assert np.all(np.isfinite(cross_val_score(reg, X, y, cv=SemiSupervisedKFold(3), error_score="raise")))
    assert np.all(np.isfinite(cross_val_score(reg, X, y, cv=KFold(3), scoring=labeled_scorer("r2"), error_score="raise")))
