"""Behaviour of the estimators beyond sklearn's common checks."""

import json

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler

import layerwise.pipeline.fit as pipeline_fit
from layerwise import ConfigError, DataError, PretrainedClassifier, PretrainedRegressor, StackedAutoencoder, VariationalAutoencoder

FAST = dict(hidden_layer_sizes=(16,), pretrain_max_iter=2, max_iter=5, random_state=0, device="cpu")


@pytest.fixture
def spy(monkeypatch):
    """Record how many rows pretraining and fine-tuning each see."""
    seen = {}
    real_greedy_fit = pipeline_fit.GreedyLayerwise.fit
    real_finetune = pipeline_fit.finetune

    def greedy_fit(self, X, X_val=None, resume=False):
        seen["pretrain_rows"] = X.shape[0]
        return real_greedy_fit(self, X, X_val, resume)

    def finetune(stack, head, objective, train, *args, **kwargs):
        seen["finetune_rows"] = train[0].shape[0]
        seen["finetune_targets"] = train[1].clone()
        return real_finetune(stack, head, objective, train, *args, **kwargs)

    monkeypatch.setattr(pipeline_fit.GreedyLayerwise, "fit", greedy_fit)
    monkeypatch.setattr(pipeline_fit, "finetune", finetune)  # the pipeline's FineTune phase calls it
    return seen


def test_without_a_semi_supervised_method_minus_one_rows_only_pretrain(digits_small, spy):
    X, y = digits_small
    y = y.copy()
    y[100:] = -1
    clf = PretrainedClassifier(**FAST, semi_supervised=None).fit(X, y)
    assert spy == {"pretrain_rows": 300, "finetune_rows": 100, "finetune_targets": spy["finetune_targets"]}
    assert -1 not in clf.classes_ and list(clf.classes_) == list(range(10))


def test_nan_targets_are_used_for_pretraining_only(digits_small, spy):
    X, y = digits_small
    target = y.astype(float)
    target[::3] = np.nan
    reg = PretrainedRegressor(**FAST).fit(X, target)
    assert spy["pretrain_rows"] == 300 and spy["finetune_rows"] == 200
    assert np.isfinite(reg.predict(X)).all()


def test_unlabeled_none_keeps_minus_one_as_a_class(digits_small):
    X, y = digits_small
    y = np.where(y % 2 == 0, -1, 1)
    with pytest.raises(DataError, match=r"only one class \(1\).*pass unlabeled=None"):
        PretrainedClassifier(**FAST).fit(X, y)
    clf = PretrainedClassifier(**FAST, unlabeled=None).fit(X, y)
    assert list(clf.classes_) == [-1, 1]


def test_no_pretraining_is_the_same_network_from_random_init(digits_small, spy):
    X, y = digits_small
    clf = PretrainedClassifier(**{**FAST, "hidden_layer_sizes": (16, 8)}, pretrain=None).fit(X, y)
    assert "pretrain_rows" not in spy and clf.history_["pretrain"] == []
    pre = PretrainedClassifier(**{**FAST, "hidden_layer_sizes": (16, 8)}).fit(X, y)
    shapes = lambda m: [p.shape for p in m.stack_.layers.parameters()]  # noqa: E731
    assert shapes(clf) == shapes(pre)


def test_frozen_finetuning_keeps_pretrained_weights(digits_small):
    X, y = digits_small
    clf = PretrainedClassifier(**FAST, finetune="frozen").fit(X, y)
    full = PretrainedClassifier(**FAST, finetune="full").fit(X, y)
    w_frozen = clf.stack_.layers[0][0].weight
    w_full = full.stack_.layers[0][0].weight
    # same seed, same pretraining: frozen keeps it, full moves it
    assert not w_frozen.requires_grad
    assert not np.allclose(w_frozen.detach().numpy(), w_full.detach().numpy())


def test_classifier_learns_digits(digits):
    X, y = digits
    clf = PretrainedClassifier((64,), pretrain_max_iter=5, max_iter=30, random_state=0, device="cpu").fit(X[:1200], y[:1200])
    assert clf.score(X[1200:], y[1200:]) > 0.9
    proba = clf.predict_proba(X[1200:1210])
    assert proba.shape == (10, 10) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert clf.transform(X[:5]).shape == (5, 64)


def test_stacked_autoencoder_round_trip(digits):
    X, _ = digits
    sae = StackedAutoencoder((32, 8), max_iter=20, unroll_max_iter=5, random_state=0, device="cpu").fit(X)
    Z = sae.transform(X)
    assert Z.shape == (1797, 8) and Z.dtype == np.float32
    R = sae.inverse_transform(Z)
    assert R.shape == X.shape and ((R >= 0) & (R <= 1)).all()  # Bernoulli decoder on [0, 1] data
    mean_err = ((R - X) ** 2).sum(1).mean()
    assert mean_err < ((X - X.mean(0)) ** 2).sum(1).mean()  # better than predicting the mean image
    assert sae.score(X) == pytest.approx(-mean_err, rel=1e-4)
    with pytest.raises(DataError, match="inverse_transform expects codes with 8 columns"):
        sae.inverse_transform(X)


@pytest.mark.filterwarnings("ignore::layerwise.TrainingWarning")  # 2 epochs on noise: a collapsed VAE, as expected
@pytest.mark.parametrize("make", [lambda: StackedAutoencoder((4,), max_iter=2, random_state=0, device="cpu"),
                                  lambda: VariationalAutoencoder(n_components=4, max_iter=2, random_state=0, device="cpu")],
                         ids=["StackedAutoencoder", "VariationalAutoencoder"])
def test_inverse_transform_of_a_dataframe_gives_torch_writable_memory_and_no_warning(monkeypatch, make):
    """A DataFrame's values are a read-only view (pandas' copy-on-write); torch warns on those (once per process, so
    the spy below checks every array torch is given, whatever an earlier test triggered)."""
    import warnings

    import pandas as pd
    import torch

    rng = np.random.RandomState(0)
    df = pd.DataFrame(rng.rand(60, 6).astype(np.float32), columns=list("abcdef"))
    sae = make().set_output(transform="pandas").fit(df)
    real = torch.from_numpy
    given = []

    def from_numpy(a):
        given.append(a.flags.writeable)
        return real(a)

    monkeypatch.setattr(torch, "from_numpy", from_numpy)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Z = sae.transform(df)
        assert isinstance(Z, pd.DataFrame)
        R = sae.inverse_transform(Z)
        R2 = sae.inverse_transform(pd.DataFrame(np.asarray(Z)))
    assert R.shape == (60, 6) and np.allclose(R, R2) and given and all(given)


def test_pipeline_codes_then_knn(digits):
    X, y = digits
    pipe = Pipeline([("scale", MinMaxScaler()), ("sae", StackedAutoencoder((64, 32), max_iter=10, random_state=0, device="cpu")), ("knn", KNeighborsClassifier(3))])
    pipe.fit(X[:1200], y[:1200])
    assert pipe.score(X[1200:], y[1200:]) > 0.85


def test_grid_search_over_pretraining(digits_small):
    X, y = digits_small
    grid = GridSearchCV(PretrainedClassifier(**FAST), {"pretrain": [None, "denoising"], "finetune": ["frozen", "full"]}, cv=2)
    grid.fit(X, y)
    assert set(grid.cv_results_["param_pretrain"]) == {None, "denoising"}
    assert grid.best_estimator_.predict(X).shape == (300,)


@pytest.mark.parametrize(
    "X_fn, y_fn, error, message",
    [
        (lambda X: np.where(X > 0.5, np.nan, X), None, DataError, r"Input X contains NaN or infinity \(\d+ NaN, 0 inf values in an array of shape \(300, 64\)\); PretrainedClassifier expects finite numbers\. Impute"),
        (lambda X: np.where(X > 0.5, np.inf, X), None, DataError, r"Input X contains NaN or infinity \(0 NaN, \d+ inf values"),
        (lambda X: X[:, 0], None, DataError, r"Expected a 2-dimensional container|Expected 2D array, got 1D array"),
        # (n, 8, 8) and (n, 1, 8, 8) are arrays of images (test_image_arrays.py); five axes are nothing we read
        (lambda X: X.reshape(len(X), 1, 1, 8, 8), None, DataError, r"Found array with dim 5(\. PretrainedClassifier expected <= 2|, while dim <= 2 is required by PretrainedClassifier)\. "  # scikit-learn 1.6 | >= 1.7
         r"PretrainedClassifier expects X of shape \(n_samples, n_features\)"),
        (None, lambda y: y[:-5], DataError, r"y has 295 rows but X has 300; expected one label per row of X"),
        (None, lambda y: y + 0.5, ValueError, r"Unknown label type"),
        (None, lambda y: np.full(len(y), -1), DataError, r"Every label is -1 \(unlabeled\)"),
    ],
)
def test_wrong_input_is_refused_clearly(digits_small, X_fn, y_fn, error, message):
    X, y = digits_small
    X = X_fn(X) if X_fn else X
    y = y_fn(y) if y_fn else y
    with pytest.raises(error, match=message):
        PretrainedClassifier(**FAST).fit(X, y)


def test_unknown_pretrain_name_lists_the_valid_ones(digits_small):
    X, y = digits_small
    with pytest.raises(ConfigError, match=r"pretrain must be None or 'auto' or one of \[.*'autoencoder'.*'denoising'.*'rbm'.*'vae'.*'vime'\]; got 'denosing'\. Did you mean 'denoising'\?"):
        PretrainedClassifier(pretrain="denosing").fit(X, y)


def test_all_bad_parameters_are_reported_together(digits_small):
    X, y = digits_small
    with pytest.raises(ConfigError, match=r"has 3 invalid parameter\(s\):\n- activation must be.*\n- solver must be.*\n- learning_rate_init must be 'auto' or a positive number; got -1"):
        PretrainedClassifier(activation="softplus", solver="lbfgs", learning_rate_init=-1).fit(X, y)


def test_batch_size_larger_than_data(digits_small):
    X, y = digits_small
    with pytest.raises(ConfigError, match=r"batch_size=1000 is larger than the 300 training rows"):
        PretrainedClassifier(batch_size=1000).fit(X, y)


def test_fit_leaves_torch_global_rng_untouched(digits_small):
    import torch

    X, y = digits_small
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    PretrainedClassifier(**FAST).fit(X, y)
    assert torch.equal(torch.rand(3), expected)


def test_regressor_learns_a_smooth_target(digits):
    X, _ = digits
    rng = np.random.RandomState(0)
    w = rng.randn(64)
    y = X @ w
    reg = PretrainedRegressor((32,), pretrain_max_iter=3, max_iter=60, random_state=0, device="cpu").fit(X[:1200], y[:1200])
    assert reg.score(X[1200:], y[1200:]) > 0.9
    y2 = np.c_[y, -y]
    reg2 = PretrainedRegressor((32,), pretrain_max_iter=2, max_iter=5, random_state=0, device="cpu").fit(X, y2)
    assert reg2.predict(X).shape == (1797, 2)


def test_lr_schedule_is_validated_and_changes_training(digits_small, tmp_path):
    from layerwise import ConfigError, JSONLinesLogger, PretrainedClassifier

    X, y = digits_small
    with pytest.raises(ConfigError, match=r"lr_schedule must be one of \['auto', 'constant', 'cosine', 'anneal'\] or one of \['ConstantLR', .*'StepLR'\]; "
                                          r"got 'steplr'\. Did you mean 'StepLR'\?"):
        PretrainedClassifier((16,), lr_schedule="steplr").fit(X, y)
    with pytest.raises(ConfigError, match=r"lr_schedule_params is refused by the learning-rate scheduler 'StepLR': StepLR got unknown "
                                          r"argument\(s\) \['step_sise'\]; .* Did you mean 'step_size'\?"):
        PretrainedClassifier((16,), lr_schedule="StepLR", lr_schedule_params={"step_sise": 2}).fit(X, y)
    with pytest.raises(ConfigError, match=r"lr_schedule_params=\{'gamma': 0.5\} is set but lr_schedule='cosine' takes no arguments"):
        PretrainedClassifier((16,), lr_schedule="cosine", lr_schedule_params={"gamma": 0.5}).fit(X, y)
    schedules = {"constant": None, "cosine": None, "StepLR": {"step_size": 1, "gamma": 0.5}}
    fits = {s: PretrainedClassifier((16,), pretrain_max_iter=2, max_iter=5, lr_schedule=s, lr_schedule_params=p, random_state=0,
                                    device="cpu", callbacks=[JSONLinesLogger(tmp_path / f"{s}.jsonl")]).fit(X, y)
            for s, p in schedules.items()}
    assert len({f.loss_curve_[-1] for f in fits.values()}) == 3
    step = [json.loads(line) for line in (tmp_path / "StepLR.jsonl").read_text().splitlines()]
    assert [r["lr"] for r in step if r["phase"] == "fine-tune"] == [1e-3, 5e-4, 2.5e-4, 1.25e-4, 6.25e-5]
    assert [r["lr"] for r in step if r["phase"] == "pretrain layer 1/1"] == [1e-3, 5e-4]  # each phase starts its own schedule


# -- fine-tuning dropout: one parameter added through the table -------------------------------------

def test_dropout_applies_during_full_fine_tuning_only(digits_small):
    X, y = digits_small
    fit = lambda **kw: PretrainedClassifier(**{**FAST, "max_iter": 3, **kw}).fit(X, y)  # noqa: E731
    plain, dropped, inputs = fit(), fit(dropout=0.5), fit(input_dropout=0.5)
    weights = lambda c: c.module_.head[-1].weight  # noqa: E731
    assert not torch_equal(weights(plain), weights(dropped)) and not torch_equal(weights(plain), weights(inputs))
    assert plain.loss_curve_[-1] < dropped.loss_curve_[-1]  # dropout makes the training loss noisier, higher
    frozen = [fit(finetune="frozen", dropout=d) for d in (0.0, 0.5)]  # a frozen stack is in eval mode: no dropout
    assert torch_equal(weights(frozen[0]), weights(frozen[1]))
    assert np.array_equal(dropped.predict_proba(X[:20]), dropped.predict_proba(X[:20]))  # none at inference


def test_dropout_is_saved_and_loaded_with_the_model(digits_small, tmp_path):
    from layerwise import load, save

    X, y = digits_small
    clf = PretrainedClassifier(**{**FAST, "dropout": 0.3, "input_dropout": 0.1}).fit(X, y)
    again = load(save(clf, tmp_path / "clf"))
    assert again.get_params()["dropout"] == 0.3 and (again.stack_.dropout, again.stack_.input_dropout) == (0.3, 0.1)
    assert np.array_equal(again.predict_proba(X), clf.predict_proba(X))
    stack = load(save(clf.stack_, tmp_path / "stack"))  # a module keeps it in its architecture
    assert (stack.dropout, stack.input_dropout) == (0.3, 0.1)


def torch_equal(a, b) -> bool:
    import torch

    return torch.equal(a.detach(), b.detach())
