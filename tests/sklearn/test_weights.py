"""class_weight and sample_weight in the estimators' fit: every path, the product of the two, bitwise nothing when
every weight is equal, and the errors."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.metrics import recall_score
from sklearn.utils.class_weight import compute_class_weight

import layerwise
from layerwise import PretrainedClassifier, PretrainedRegressor
from layerwise.exceptions import ConfigError, DataError
from layerwise.pipeline import fit as pipeline_fit
from layerwise.sklearn._reference import _references

TINY = dict(hidden_layer_sizes=(16,), pretrain_max_iter=1, max_iter=2, random_state=0, device="cpu")
PATHS = {"full": dict(TINY, semi_supervised=None), "frozen": dict(TINY, semi_supervised=None, finetune="frozen"),
         "ladder": dict(hidden_layer_sizes=(16,), max_iter=1, random_state=0, device="cpu", semi_supervised="ladder")}


@pytest.fixture(scope="module")
def balanced(digits):
    """20 labeled rows of each class (equal counts: "balanced" weighs them all 1), and 200 unlabeled rows."""
    X, y = digits
    rows = np.concatenate([np.flatnonzero(y == c)[:20] for c in range(10)] + [np.arange(1000, 1200)])
    y_partial = y[rows].copy()
    y_partial[200:] = -1
    return X[rows], y_partial


@pytest.fixture(scope="module")
def imbalanced(digits):
    """Training rows with class 9 at a tenth of the others (labeled), and test rows."""
    X, y = digits
    rng = np.random.RandomState(0)
    test = rng.rand(len(y)) < 0.3
    keep = ~test & ((y != 9) | (rng.rand(len(y)) < 0.1))
    return X[keep], y[keep], X[test], y[test]


def _same(a, b):
    sa, sb = a.module_.state_dict(), b.module_.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("path", PATHS)
def test_equal_weights_train_bitwise_as_no_weights(path, balanced):
    X, y = balanced
    labeled = X if path == "ladder" else X[:200]  # the stack paths: every row labeled
    y = y if path == "ladder" else y[:200]
    plain = PretrainedClassifier(**PATHS[path]).fit(labeled, y)
    for kw in ({"sample_weight": np.ones(len(y))}, {"sample_weight": 2.5}):
        assert _same(plain, PretrainedClassifier(**PATHS[path]).fit(labeled, y, **kw)), kw
    assert _same(plain, PretrainedClassifier(class_weight="balanced", **PATHS[path]).fit(labeled, y))  # equal counts
    assert not _same(plain, PretrainedClassifier(class_weight={3: 4.0}, **PATHS[path]).fit(labeled, y))  # the check can fail


def test_unlabeled_rows_weights_are_not_used(balanced):
    X, y = balanced
    w = np.r_[np.linspace(0.5, 2, 200), np.zeros(len(y) - 200)]
    a = PretrainedClassifier(**PATHS["ladder"]).fit(X, y, sample_weight=w)
    w[200:] = np.random.RandomState(0).rand(len(y) - 200) * 100
    assert _same(a, PretrainedClassifier(**PATHS["ladder"]).fit(X, y, sample_weight=w))


@pytest.mark.parametrize("path", ["full", "ladder"])
def test_balanced_class_weight_raises_the_minority_class_recall(path, imbalanced):
    X, y, X_test, y_test = imbalanced
    if path == "ladder":  # 30% of the other classes' rows labeled, every row of class 9: ~38 labels against 12
        y = np.where((y != 9) & (np.random.RandomState(1).rand(len(y)) < 0.7), -1, y)
        kw = dict(hidden_layer_sizes=(32,), max_iter=6, semi_supervised="ladder", device="cpu")
    else:
        kw = dict(hidden_layer_sizes=(16,), pretrain=None, semi_supervised=None, max_iter=10, device="cpu")
    recall = {}
    for cw in (None, "balanced"):
        predictions = [PretrainedClassifier(class_weight=cw, random_state=s, **kw).fit(X, y).predict(X_test) for s in (0, 1)]
        recall[cw] = np.mean([recall_score(y_test, p, labels=[9], average=None)[0] for p in predictions])
    assert recall["balanced"] > recall[None] + 0.2, recall


@pytest.mark.parametrize("path", ["full", "ladder"])
def test_a_class_of_weight_zero_is_not_learned(path, balanced):
    X, y = balanced
    X, y = (X, y) if path == "ladder" else (X[:200], y[:200])
    kw = dict(PATHS[path], max_iter=20 if path == "full" else 30, learning_rate_init=1e-2 if path == "full" else "auto")
    plain = PretrainedClassifier(**kw).fit(X, y)
    zero = PretrainedClassifier(class_weight={9: 0.0}, **kw).fit(X, y)
    rows = y == 9
    assert (plain.predict(X[rows]) == 9).mean() > 0.5
    assert (zero.predict(X) == 9).mean() == 0.0


def test_class_weight_and_sample_weight_combine_as_their_product(balanced):
    X, y = balanced
    keep = np.r_[0:60, 70:200]  # class 3 at half its 20 rows: "balanced" is not 1 everywhere
    X, y = X[keep], y[keep]
    s = np.linspace(0.2, 3.0, len(y))
    as_dict = {3: 0.5, 7: 2.0}
    a = PretrainedClassifier(class_weight=as_dict, **PATHS["full"]).fit(X, y, sample_weight=s)
    b = PretrainedClassifier(**PATHS["full"]).fit(X, y, sample_weight=s * np.array([as_dict.get(c, 1.0) for c in y]))
    assert _same(a, b)
    balanced_weights = compute_class_weight("balanced", classes=np.arange(10), y=y, sample_weight=s)
    a = PretrainedClassifier(class_weight="balanced", **PATHS["full"]).fit(X, y, sample_weight=s)
    b = PretrainedClassifier(**PATHS["full"]).fit(X, y, sample_weight=s * balanced_weights[y])
    assert _same(a, b)


def _spy(monkeypatch, module, name):
    """Record the keyword and positional arguments of every call of ``module.name``."""
    calls, original = [], getattr(module, name)
    monkeypatch.setattr(module, name, lambda *a, **k: calls.append((a, k)) or original(*a, **k))
    return calls


@pytest.mark.parametrize("method", ["ladder", "m1m2", "vime", "conv_ladder"])
def test_every_semi_supervised_method_gets_the_labeled_rows_weights(method, balanced, monkeypatch):
    X, y = balanced
    calls = _spy(monkeypatch, pipeline_fit, "fit_semi_supervised")
    params = {"m1m2": {"m1_epochs": 1, "latent_dim": 4, "m2_hidden": (16,), "m1_latent": 4},
              "vime": {"prepare_epochs": 1, "predictor_hidden": (16,)}, "conv_ladder": {"image_shape": (1, 8, 8)}}.get(method)
    sizes = () if method == "conv_ladder" else ((16,),)
    s = np.r_[np.linspace(1, 2, 200), np.ones(len(y) - 200)]
    clf = PretrainedClassifier(*sizes, semi_supervised=method, semi_supervised_params=params, max_iter=1, random_state=0,
                               device="cpu", class_weight={0: 3.0}).fit(X, y, sample_weight=s)
    assert clf.semi_supervised_ == method
    expected = s[:200] * np.where(y[:200] == 0, 3.0, 1.0)
    np.testing.assert_allclose(calls[0][1]["sample_weight"].numpy(), expected / expected.max(), rtol=1e-6)


@pytest.mark.parametrize("mode", ["full", "frozen"])
def test_fine_tuning_gets_the_rows_weights_and_validation_does_not(mode, balanced, monkeypatch):
    X, y = balanced
    calls = _spy(monkeypatch, pipeline_fit, "finetune")
    s = np.where(np.arange(200) % 2, 2.0, 1.0)  # odd rows weigh 2, even rows 1
    PretrainedClassifier(**PATHS[mode], early_stopping=True).fit(X[:200], y[:200], sample_weight=s)
    (_, _, _, train, val), _ = calls[0]
    assert len(train) == 3 and len(val) == 2 and len(train[0]) == 180
    rows = [int(np.flatnonzero((X[:200] == x.numpy()).all(1))[0]) for x in train[0]]
    np.testing.assert_array_equal(train[2].numpy(), s[rows] / 2.0)  # each row's own weight, relative to the largest


def test_the_regressor_weighs_its_rows():
    rng = np.random.RandomState(0)
    X = rng.rand(400, 6).astype(np.float32)
    y = X @ np.arange(1.0, 7.0)
    outlier = rng.rand(400) < 0.3
    y_noisy = np.where(outlier, y + 30.0, y)  # a third of the targets shifted far off
    kw = dict(hidden_layer_sizes=(16,), pretrain=None, max_iter=40, random_state=0, device="cpu", check_reference=False)
    plain = PretrainedRegressor(**kw).fit(X, y_noisy)
    weighted = PretrainedRegressor(**kw).fit(X, y_noisy, sample_weight=(~outlier).astype(float))
    clean = ~outlier
    assert weighted.score(X[clean], y[clean]) > plain.score(X[clean], y[clean]) + 0.3
    assert _same(plain, PretrainedRegressor(**kw).fit(X, y_noisy, sample_weight=np.ones(400)))


def test_the_reference_check_fits_its_references_with_the_weights(balanced, monkeypatch):
    X, y = balanced
    X, y = X[:200], y[:200]
    w = np.where(y == 9, 0.0, 1.0)
    _, plain = _references(X, y, True, 0)
    _, weighted = _references(X, y, True, 0, w)
    for name in plain:
        assert (plain[name].predict(X[y == 9]) == 9).mean() > 0.5
        assert (weighted[name].predict(X) == 9).mean() < 0.1, name
    calls = []
    original = PretrainedClassifier._fit_network
    monkeypatch.setattr(PretrainedClassifier, "_fit_network", lambda self, *a: calls.append(a[-1]) or original(self, *a))
    with warnings.catch_warnings():  # the tiny network loses to its references: not what this test is about
        warnings.simplefilter("ignore")
        clf = PretrainedClassifier(class_weight={9: 0.5}, check_reference=True, **PATHS["full"]).fit(X[20:], y[20:])
    assert clf.reference_score_ is not None and clf.holdout_score_ is not None
    assert len(calls) == 2 and calls[1] is calls[0] and set(calls[0]) == {0.5, 1.0}  # the second fit weighs its rows too


def test_a_dict_of_class_weights_round_trips_through_a_model_file(balanced, tmp_path):
    X, y = balanced
    clf = PretrainedClassifier(class_weight={np.int64(3): 2.0, 7: 0.5}, **PATHS["frozen"]).fit(X[:200], y[:200])
    layerwise.save(clf, tmp_path / "m")
    back = layerwise.load(tmp_path / "m")
    assert back.class_weight == {3: 2.0, 7: 0.5}
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize("args", [lambda p: (str(p),), lambda p: (p, True)])
def test_a_checkpoint_folder_given_by_position_is_refused_as_sample_weight(balanced, tmp_path, args):
    """``fit(X, y, "ckpt")`` passed the checkpoint folder in earlier releases; the third parameter is sample_weight."""
    X, y = balanced
    with pytest.raises(DataError, match=r"sample_weight is the path '.+'; it takes one weight per row of X\. fit's third "
                                        r"parameter is sample_weight .* pass the checkpoint folder by name, "
                                        r"fit\(X, y, checkpoint_dir=\.\.\., resume=\.\.\.\)"):
        PretrainedClassifier(**PATHS["full"]).fit(X[:200], y[:200], *args(tmp_path))
    assert not (tmp_path / "finetune").exists()


@pytest.mark.parametrize("kwargs, fit_kwargs, error, match", [
    ({}, {"sample_weight": np.ones(5)}, DataError,
     r"sample_weight has shape \(5,\) but X has 400 rows; expected one weight per row of X, shape \(400,\), or a single number\."),
    ({}, {"sample_weight": np.r_[1.0, -1.0, np.ones(398)]}, DataError,
     r"sample_weight holds \[-1\.0\] at row\(s\) \[1\]; expected finite numbers >= 0"),
    ({}, {"sample_weight": np.r_[np.ones(399), np.nan]}, DataError,
     r"sample_weight holds \[nan\] at row\(s\) \[399\]; expected finite numbers >= 0"),  # an unlabeled row: refused too
    ({}, {"sample_weight": np.r_[np.zeros(200), np.ones(200)]}, DataError,
     r"The weight \(sample_weight times class_weight\) is zero on every one of the 200 labeled rows: no label would train the network\."),
    ({}, {"sample_weight": ["a"] * 400}, DataError, r"sample_weight must hold numbers, one weight per row of X; could not convert it"),
    ({"class_weight": "balancd"}, {}, ConfigError,
     r"class_weight must be None or 'balanced' or a dict of class label -> weight; got 'balancd'\. Did you mean 'balanced'\?"),
    ({"class_weight": {11: 2.0}}, {}, ConfigError,
     r"class_weight has key\(s\) \[11\] that are not classes of the labeled rows; the classes are \[0, 1, 2, 3, 4, 5, 6, 7, 8, 9\] "
     r"\(rows marked unlabeled are no class\)"),
    ({"class_weight": {-1: 2.0}}, {}, ConfigError, r"class_weight has key\(s\) \[-1\] that are not classes of the labeled rows"),
    ({"class_weight": {"3": 2.0}}, {}, ConfigError, r"check the labels' type \(1 and '1' differ\)"),
    ({"class_weight": {3: -1.0, 4: float("nan")}}, {}, ConfigError,
     r"class_weight must map labels to finite numbers >= 0; got \{3: -1\.0, 4: nan\}\."),
])
def test_bad_weights_are_refused_saying_what_to_pass(kwargs, fit_kwargs, error, match, balanced):
    X, y = balanced
    with pytest.raises(error, match=match):
        PretrainedClassifier(**PATHS["ladder"], **kwargs).fit(X, y, **fit_kwargs)


def test_the_regressor_takes_no_class_weight_and_checks_its_sample_weight():
    with pytest.raises(TypeError, match=r"PretrainedRegressor\(\) got unexpected keyword argument\(s\) \['class_weight'\]"):
        PretrainedRegressor(class_weight="balanced")
    X, y = np.random.RandomState(0).rand(50, 3), np.r_[np.full(10, np.nan), np.arange(40.0)]
    with pytest.raises(DataError, match=r"sample_weight holds \[-2\.0\] at row\(s\) \[0\]"):  # an unlabeled (NaN) row
        PretrainedRegressor(**TINY).fit(X, y, sample_weight=np.r_[-2.0, np.ones(49)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        PretrainedRegressor(**TINY).fit(X, y, sample_weight=np.r_[np.zeros(10), np.ones(40)])  # unlabeled rows' 0s: fine
