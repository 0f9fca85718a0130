"""Exact torch copies of fitted scikit-learn models (layerwise.nn.reference)."""

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from layerwise.exceptions import ConfigError, DataError
from layerwise.nn.reference import (
    LinearReference,
    TreeEnsemble,
    build_reference,
    reference_module,
)

N, F = 300, 10


@pytest.fixture(autouse=True)
def _one_thread():
    with threadpool_limits(1):
        yield


def _data(seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(N, F) * rng.uniform(0.5, 5.0, F) + rng.uniform(-3, 3, F)
    score = X[:, 0] - 0.5 * X[:, 1] + 0.3 * X[:, 2] * X[:, 3] + rng.randn(N)
    return X, score


def _labels(score, k):
    return np.digitize(score, np.quantile(score, np.linspace(0, 1, k + 1)[1:-1]))


def _classifiers():
    X, score = _data()
    for k in (2, 5):
        y = _labels(score, k)
        for early in (False, True):
            yield f"hgb-{k}-es{early}", HistGradientBoostingClassifier(
                max_iter=50, early_stopping=early, random_state=0
            ).fit(X, y), X
        yield f"logistic-{k}", make_pipeline(StandardScaler(), LogisticRegression(C=0.5)).fit(X, y), X


def _regressors():
    X, score = _data(1)
    for early in (False, True):
        yield f"hgb-reg-es{early}", HistGradientBoostingRegressor(
            max_iter=50, early_stopping=early, random_state=0
        ).fit(X, score), X
    yield "ridge-1d", make_pipeline(StandardScaler(), Ridge(alpha=2.0)).fit(X, score), X
    Y = np.column_stack([score, X[:, 4] * 2 - X[:, 5]])
    yield "ridge-2d", make_pipeline(StandardScaler(), Ridge(alpha=2.0)).fit(X, Y), X


# One OpenMP thread: HGB's threaded fit/predict is many times slower on a busy
# machine, and these problems are tiny.
with threadpool_limits(1):
    CLASSIFIERS = list(_classifiers())
    REGRESSORS = list(_regressors())
ALL = CLASSIFIERS + REGRESSORS
MODELS = {name: model for name, model, _ in ALL}
DATA = {name: X for name, _, X in ALL}


@pytest.mark.parametrize("name, model, X", CLASSIFIERS, ids=[c[0] for c in CLASSIFIERS])
def test_classifier_matches_predict_proba(name, model, X):
    module = reference_module(model)
    logits = module(torch.from_numpy(X))
    assert logits.dtype == torch.float32
    assert logits.shape == (len(X), len(model.classes_))
    proba = torch.softmax(logits.double(), dim=1).numpy()
    np.testing.assert_allclose(proba, model.predict_proba(X), rtol=0, atol=1e-5)
    np.testing.assert_array_equal(model.classes_[logits.argmax(1).numpy()], model.predict(X))


@pytest.mark.parametrize("name, model, X", REGRESSORS, ids=[r[0] for r in REGRESSORS])
def test_regressor_matches_predict(name, model, X):
    module = reference_module(model)
    out = module(torch.from_numpy(X))
    expected = model.predict(X)
    assert out.dtype == torch.float32
    assert out.shape == (len(X), 1 if expected.ndim == 1 else expected.shape[1])
    np.testing.assert_allclose(out.numpy(), expected.reshape(out.shape), rtol=1e-5, atol=1e-6)


def test_kinds_and_shapes():
    hgb = MODELS["hgb-2-esFalse"]
    trees = reference_module(hgb)
    assert isinstance(trees, TreeEnsemble) and trees.kind == "trees"
    assert trees.config()["n_outputs"] == 2 and trees.config()["n_trees"] == hgb.n_iter_
    multi = reference_module(MODELS["hgb-5-esFalse"])
    assert multi.config()["n_trees"] == 5 * MODELS["hgb-5-esFalse"].n_iter_
    linear = reference_module(MODELS["logistic-2"])
    assert isinstance(linear, LinearReference) and linear.kind == "linear"
    assert linear.config() == {"n_features": F, "n_outputs": 2}
    assert torch.all(linear.weight[0] == 0) and linear.bias[0] == 0
    for m in (trees, linear):
        assert all(b.dtype != torch.float32 for b in m.buffers())


@pytest.mark.parametrize("name, model, X", ALL, ids=[a[0] for a in ALL])
def test_safetensors_round_trip(name, model, X, tmp_path):
    module = reference_module(model)
    path = tmp_path / "model.safetensors"
    save_file(module.state_dict(), str(path))
    config = {"kind": module.kind, **module.config()}
    rebuilt = build_reference(config["kind"], config)
    assert type(rebuilt) is type(module)
    rebuilt.load_state_dict(load_file(str(path)))
    x = torch.from_numpy(X)
    assert torch.equal(rebuilt(x), module(x))
    again = type(module)(**module.config())
    again.load_state_dict(load_file(str(path)))
    assert torch.equal(again(x), module(x))


@pytest.mark.parametrize("name", ["hgb-2-esFalse", "hgb-5-esTrue", "logistic-5", "hgb-reg-esFalse", "ridge-2d"])
def test_batch_invariance(name):
    module = reference_module(MODELS[name])
    X = DATA[name]
    x = torch.from_numpy(X)
    batch = module(x)
    for i in (0, 7, len(X) - 1):
        assert torch.equal(module(x[i : i + 1])[0], batch[i])
    assert torch.equal(module(x[10:50]), batch[10:50])


def test_float32_input_and_dtype_casts():
    model = MODELS["hgb-5-esFalse"]
    X = DATA["hgb-5-esFalse"]
    X32 = X.astype(np.float32)
    module = reference_module(model)
    expected = torch.softmax(module(torch.from_numpy(X32)).double(), 1).numpy()
    np.testing.assert_allclose(expected, model.predict_proba(X32.astype(np.float64)), atol=1e-5)
    module.float()  # must not round the float64 thresholds
    assert module.threshold.dtype == torch.float64 and module.value.dtype == torch.float64
    np.testing.assert_allclose(torch.softmax(module(torch.from_numpy(X32)).double(), 1).numpy(), expected)


def test_nan_follows_missing_go_to_left():
    X, score = _data(2)
    X = X.copy()
    X[::7, 0] = np.nan  # seen at fit time, so splits learn a missing direction
    y = _labels(score, 2)
    model = HistGradientBoostingClassifier(max_iter=20, early_stopping=False).fit(X, y)
    module = TreeEnsemble.from_sklearn(model)
    Xt = X.copy()
    Xt[1::5, 1] = np.nan
    proba = torch.softmax(module(torch.from_numpy(Xt)).double(), 1).numpy()
    np.testing.assert_allclose(proba, model.predict_proba(Xt), atol=1e-5)


def test_categorical_splits_refused():
    rng = np.random.RandomState(0)
    X = rng.randn(200, 4)
    X[:, 0] = rng.randint(0, 5, 200)
    y = np.isin(X[:, 0], [1, 3]).astype(int)
    model = HistGradientBoostingClassifier(max_iter=5, categorical_features=[0]).fit(X, y)
    with pytest.raises(ConfigError, match="categorical"):
        TreeEnsemble.from_sklearn(model)
    with pytest.raises(ConfigError, match="categorical"):
        reference_module(model)


def test_other_link_refused():
    X, score = _data(3)
    model = HistGradientBoostingRegressor(loss="poisson", max_iter=5).fit(X, np.exp(score / 5))
    with pytest.raises(ConfigError, match="link"):
        TreeEnsemble.from_sklearn(model)


def test_bad_inputs():
    with pytest.raises(ConfigError, match="not fitted"):
        TreeEnsemble.from_sklearn(HistGradientBoostingRegressor())
    with pytest.raises(ConfigError, match="LogisticRegression or Ridge"):
        LinearReference.from_sklearn(make_pipeline(StandardScaler(), StandardScaler()))
    with pytest.raises(ConfigError, match="kind"):
        build_reference("forest", {})
    with pytest.raises(ConfigError, match="n_nodes"):
        TreeEnsemble(n_features=3, n_outputs=1, n_trees=2, n_nodes=0)
    module = reference_module(MODELS["ridge-1d"])
    with pytest.raises(DataError, match=r"\(n, 10\)"):
        module(torch.zeros(4, 3))
