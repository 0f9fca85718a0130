"""A parameter the user set is used or refused, never dropped (issue #22, item 1): the ``paths`` of its declaration."""

import numpy as np
import pytest

from layerwise import ConfigError, DataError, PretrainedClassifier, PretrainedRegressor
from layerwise.params import PRETRAINED


@pytest.fixture
def partly_labeled(digits_small):
    X, y = digits_small
    return X, np.where(np.arange(len(y)) % 3 == 0, y, -1)


FAST = dict(hidden_layer_sizes=(16,), max_iter=1, random_state=0, check_reference=False)


def test_the_declarations_name_the_paths():
    stack = {n for n in PRETRAINED if PRETRAINED[n].paths == ("stack",)}
    assert {"pretrain", "pretrain_params", "finetune", "dropout", "input_dropout", "encoder_lr_scale", "loss", "tied",
            "pretrain_max_iter"} == stack
    assert PRETRAINED["semi_supervised_params"].paths == ("semi",)


@pytest.mark.parametrize("setting", [{"pretrain": "denoising"}, {"dropout": 0.3}, {"finetune": "frozen"},
                                     {"pretrain_params": {"level": 0.3}}])
def test_a_stack_setting_makes_auto_pretrain_and_fine_tune(partly_labeled, setting):
    X, y = partly_labeled
    clf = PretrainedClassifier(**FAST, pretrain_max_iter=1, **setting).fit(X, y)
    assert clf.semi_supervised_ is None  # not a ladder that would ignore the setting


@pytest.mark.parametrize("method", ["ladder", "m1m2", "vime"])
def test_a_stack_setting_beside_a_named_method_is_refused(partly_labeled, method):
    X, y = partly_labeled
    with pytest.raises(ConfigError, match=rf"semi_supervised='{method}' builds and trains its own network, so finetune='frozen', "
                                          r"dropout=0\.3 \(pretraining and fine-tuning of a stack\) would not be used"):
        PretrainedClassifier(**FAST, semi_supervised=method, dropout=0.3, finetune="frozen").fit(X, y)


def test_semi_supervised_params_without_a_method_are_refused(partly_labeled, digits_small):
    X, y = partly_labeled
    with pytest.raises(ConfigError, match=r"semi_supervised_params=\{'noise_std': 0\.3\} is set, but semi_supervised='auto' "
                                          r"trains no semi-supervised method here \(dropout=0\.3 chose the stack path\)"):
        PretrainedClassifier(**FAST, dropout=0.3, semi_supervised_params={"noise_std": 0.3}).fit(X, y)
    X_all, y_all = digits_small  # every row labeled: "auto" trains the ladder too, which uses them
    assert PretrainedClassifier(**FAST, semi_supervised_params={"noise_std": 0.3}).fit(X_all, y_all).semi_supervised_ == "ladder"


def test_the_regressor_refuses_semi_supervised_params():
    rng = np.random.RandomState(0)
    X, y = rng.rand(60, 4).astype(np.float32), rng.rand(60)
    y[30:] = np.nan
    with pytest.raises(ConfigError, match=r"\(a regressor has none\), so it would not be used"):
        PretrainedRegressor(**FAST, semi_supervised_params={"noise_std": 0.3}).fit(X, y)


def test_defaults_still_train_the_ladder_on_pixels(partly_labeled):
    X, y = partly_labeled
    assert PretrainedClassifier(**FAST).fit(X, y).semi_supervised_ == "ladder"


def test_score_leaves_unlabeled_rows_out(partly_labeled):
    """Issue #22, item 3: a partly labeled y is scored on its labeled rows (GridSearchCV on the training labels)."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    X, y = partly_labeled
    clf = PretrainedClassifier(**FAST).fit(X, y)
    known = y != -1
    assert clf.score(X, y) == pytest.approx(float((clf.predict(X[known]) == y[known]).mean()))
    folds = list(StratifiedKFold(2).split(X, y))
    scores = cross_val_score(PretrainedClassifier(**FAST), X, y, cv=folds)
    for (train, test), score in zip(folds, scores):  # each fold: the accuracy on its labeled test rows alone
        fold = PretrainedClassifier(**FAST).fit(X[train], y[train])
        k = y[test] != -1
        assert score == pytest.approx(float((fold.predict(X[test][k]) == y[test][k]).mean()))
    with pytest.raises(ValueError, match=r"Every label of y is unlabeled \(-1 marks them\): no row to score"):
        clf.score(X[:5], np.full(5, -1))


@pytest.mark.parametrize("solver", ["Adam", "AdamW", "SGD"])
def test_torch_optimizer_class_names_are_accepted(digits_small, solver):
    """Issue #24, item 7: `solver="AdamW"` is torch's name for "adamw" (it used to be refused, suggesting "adam")."""
    import torch

    X, y = digits_small
    clf = PretrainedClassifier(**FAST, semi_supervised=None, pretrain=None, solver=solver).fit(X, y)
    from layerwise.train.loop import make_optimizer

    opt = make_optimizer(clf.module_.parameters(), solver)
    assert type(opt).__name__ == solver and isinstance(opt, torch.optim.Optimizer)


# Issue #22, item 2: one rule for the unlabeled marker (README, "Unlabeled rows"). Each form is either
# recognised as unlabeled or refused with the reason.
MARKED = {
    "int -1": lambda y: y,
    "float -1.0": lambda y: y.astype(float),
    "text '-1'": lambda y: y.astype(str),
    "text '-1.0'": lambda y: y.astype(float).astype(str),
    "object ints": lambda y: y.astype(object),
}


@pytest.mark.parametrize("form", list(MARKED))
def test_every_spelling_of_minus_one_marks_an_unlabeled_row(digits_small, form):
    X, y = digits_small
    y = y.copy()
    y[100:] = -1
    clf = PretrainedClassifier(**FAST, semi_supervised=None, pretrain=None).fit(X, MARKED[form](y))
    assert len(clf.classes_) == 10  # -1 in none of its spellings became a class


def test_nan_markers_are_refused_with_the_reason(digits_small):
    X, y = digits_small
    y = y.astype(float)
    y[100:] = -1
    with pytest.raises(ValueError, match=r"unlabeled=nan can never mark a row: NaN compares unequal to every value"):
        PretrainedClassifier(**FAST, unlabeled=float("nan")).fit(X, y)
    y[100:] = np.nan
    with pytest.raises(ValueError, match=r"Class labels must be finite; PretrainedClassifier marks unlabeled rows with -1, not NaN"):
        PretrainedClassifier(**FAST).fit(X, y)


def test_bool_labels_are_two_classes_and_never_unlabeled(digits_small):
    X, y = digits_small
    clf = PretrainedClassifier(**FAST, semi_supervised=None, pretrain=None).fit(X, (y > 4).astype(object))
    assert list(clf.classes_) == [False, True]


def test_score_reads_only_labels_that_can_be_scored(digits_small):
    """None is no label; string labels against numeric classes can never match; NaN targets are the regressor's
    unlabeled rows, left out of its R^2 as -1 is left out of the classifier's accuracy."""
    X, y = digits_small
    labels = y.astype(object)
    labels[3] = None
    with pytest.raises(DataError, match=r"y holds None at row\(s\) \[3\]; a class label must be a value\. Mark the rows"):
        PretrainedClassifier(**FAST).fit(X, labels)
    clf = PretrainedClassifier(**FAST).fit(X, y)
    with pytest.raises(DataError, match=r"The labels of y are strings, but the model.s classes are numbers \(\[0, 1, 2, 3, 4\]\.\.\.\): "
                                        r"no prediction could ever match"):
        clf.score(X, y.astype(str))
    rng = np.random.RandomState(0)
    Xr, t = rng.rand(80, 4).astype(np.float32), rng.rand(80)
    reg = PretrainedRegressor(**FAST).fit(Xr, t)
    partial = np.where(np.arange(80) % 2 == 0, t, np.nan)
    assert reg.score(Xr, partial) == reg.score(Xr[::2], t[::2])
    with pytest.raises(DataError, match=r"Every target of y is NaN \(unlabeled\): no row to score"):
        reg.score(Xr, np.full(80, np.nan))
