"""The fit that checks itself (check_reference): the network against a supervised model of the labeled rows."""

import warnings

import numpy as np
import pytest

import layerwise
from layerwise import PretrainedClassifier, PretrainedRegressor, ReferenceWarning


def _threshold_table(n=240, d=8, n_labeled=80, seed=0):
    """A table whose label is the sign of one column, with a margin: any reference gets it right."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    X[:, 0] = np.where(rng.rand(n) < 0.5, -1.0, 1.0) * (0.5 + rng.rand(n))  # |x0| >= 0.5
    y = (X[:, 0] > 0).astype(int)
    y_partial = y.copy()
    y_partial[n_labeled:] = -1
    return X, y, y_partial


# a network that cannot learn: one epoch at a negligible rate, from random weights
_HOPELESS = dict(hidden_layer_sizes=(8,), pretrain=None, semi_supervised=None, max_iter=1, learning_rate_init=1e-7,
                 batch_size=32, random_state=0)


def test_a_network_that_cannot_win_warns_with_both_figures():
    X, _, y_partial = _threshold_table()
    clf = PretrainedClassifier(check_reference=True, **_HOPELESS)
    with pytest.warns(ReferenceWarning, match=r"worse than a supervised reference on 20 held-out labeled rows: its "
                                              r"accuracy was 0\.\d+, while (LogisticRegression|HistGradientBoostingClassifier) "
                                              r"trained on the same 60 labeled rows alone scored 1\.000"):
        clf.fit(X, y_partial)
    assert clf.reference_score_ == 1.0
    assert clf.holdout_score_ < 0.9
    assert clf.reference_name_ in ("LogisticRegression", "HistGradientBoostingClassifier")
    assert 0.0 <= clf.baseline_score_ <= 1.0


def test_a_network_as_good_as_its_reference_does_not_warn():
    X, _, y_partial = _threshold_table()
    clf = PretrainedClassifier((16,), pretrain=None, semi_supervised=None, max_iter=100, batch_size=16,
                               learning_rate_init=0.01, check_reference=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReferenceWarning)
        clf.fit(X, y_partial)
    assert clf.holdout_score_ >= clf.reference_score_ - 1 / 20


def test_check_off_sets_none_and_does_not_train_twice(monkeypatch):
    X, _, y_partial = _threshold_table()
    calls = []
    original = PretrainedClassifier._fit_network
    monkeypatch.setattr(PretrainedClassifier, "_fit_network", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    clf = PretrainedClassifier(check_reference=False, **_HOPELESS).fit(X, y_partial)
    assert calls == [1]
    assert clf.reference_score_ is None and clf.holdout_score_ is None and clf.reference_name_ is None


def test_too_few_labels_for_a_verdict_skip_the_check():
    X, _, y_partial = _threshold_table(n_labeled=12)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReferenceWarning)
        clf = PretrainedClassifier(check_reference=True, **_HOPELESS).fit(X, y_partial)
    assert clf.reference_score_ is None


def test_the_regressor_checks_itself_with_r2():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 6)).astype(np.float32)
    y = 3 * X[:, 0] + 0.1 * rng.normal(size=200)
    y[80:] = np.nan
    reg = PretrainedRegressor(check_reference=True, **{k: v for k, v in _HOPELESS.items() if k != "semi_supervised"})
    with pytest.warns(ReferenceWarning, match=r"its R\^2 was -?\d\.\d+, while Ridge trained on the same 60 labeled rows"):
        reg.fit(X, y)
    assert reg.reference_score_ > 0.95


def test_the_check_s_figures_are_saved_with_the_model(tmp_path):
    X, _, y_partial = _threshold_table()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReferenceWarning)
        clf = PretrainedClassifier(check_reference=True, **_HOPELESS).fit(X, y_partial)
    layerwise.save(clf, tmp_path / "m")
    loaded = layerwise.load(tmp_path / "m")
    assert loaded.reference_score_ == clf.reference_score_
    assert loaded.holdout_score_ == clf.holdout_score_
    assert loaded.reference_name_ == clf.reference_name_


def test_auto_checks_tables_and_not_images():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)[:300]
    y = y[:300].copy()
    y[100:] = -1
    clf = PretrainedClassifier((16,), pretrain=None, semi_supervised=None, max_iter=2, random_state=0).fit(X, y)
    assert clf.reference_score_ is None  # image-like rows: no second fit
    Xt, _, yt = _threshold_table()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReferenceWarning)
        clf = PretrainedClassifier(**_HOPELESS).fit(Xt, yt)  # check_reference="auto" on a table
    assert clf.reference_score_ is not None


def test_the_blend_makes_a_hopeless_network_as_good_as_its_reference(tmp_path):
    from layerwise.nn.blend import ReferenceBlend

    X, y, y_partial = _threshold_table(n=400)
    clf = PretrainedClassifier(check_reference=True, **_HOPELESS)
    with pytest.warns(ReferenceWarning, match=r"The returned model blends .*(LogisticRegression|HistGradientBoostingClassifier) "
                                              r"\(\d+%\).*, each refitted on every labeled row"):
        clf.fit(X[:300], y_partial[:300])
    assert isinstance(clf.module_, ReferenceBlend) and clf.blend_weight_ < 0.5
    assert set(clf.blend_shares_) == {"network", "LogisticRegression", "HistGradientBoostingClassifier"}
    assert abs(sum(clf.blend_shares_.values()) - 1) < 1e-9
    assert clf.score(X[300:], y[300:]) >= 0.95  # the reference's accuracy, not the network's
    proba = clf.predict_proba(X[300:])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    layerwise.save(clf, tmp_path / "m")
    loaded = layerwise.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict_proba(X[300:]), proba)
    assert loaded.blend_weight_ == clf.blend_weight_
    assert loaded.transform(X[300:]).shape == (100, 8)  # the network's codes, blend or not


def test_without_the_blend_the_network_is_returned_as_it_is():
    from layerwise.nn.blend import ReferenceBlend

    X, _, y_partial = _threshold_table()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReferenceWarning)
        clf = PretrainedClassifier(check_reference=True, reference_blend=False, **_HOPELESS).fit(X, y_partial)
    assert not isinstance(clf.module_, ReferenceBlend)
    assert clf.blend_weight_ is None and clf.reference_score_ == 1.0


def test_the_regressor_blends_too(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 6)).astype(np.float32)
    y_true = 3 * X[:, 0] + 0.1 * rng.normal(size=300)
    y = y_true.copy()
    y[80:200] = np.nan
    reg = PretrainedRegressor(check_reference=True, **{k: v for k, v in _HOPELESS.items() if k != "semi_supervised"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReferenceWarning)
        reg.fit(X[:200], y[:200])
    assert reg.score(X[200:], y_true[200:]) > 0.9
    layerwise.save(reg, tmp_path / "r")
    np.testing.assert_array_equal(layerwise.load(tmp_path / "r").predict(X[200:]), reg.predict(X[200:]))


def test_the_blend_s_shares_cover_the_simplex_and_prefer_the_network_on_ties():
    from layerwise.sklearn._reference import _blend_weights, _simplex

    grid = _simplex(3)
    assert len(grid) == 66 and grid[0] == (1.0, 0.0, 0.0)
    y = np.array([0, 1, 0, 1])
    same = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.1, 0.9]])
    shares, score = _blend_weights([same, same.copy(), same.copy()], y, True)
    assert shares == (1.0, 0.0, 0.0) and score == 1.0  # equal models: the network alone
    wrong = same[:, ::-1]
    shares, _ = _blend_weights([wrong, same, wrong], y, True)
    assert shares == (0.0, 1.0, 0.0)
