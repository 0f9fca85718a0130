"""``warm_start=True``: ``fit`` continues the fitted network (scikit-learn's meaning), with its optimizer and RNG state.

The property pinned first: ``max_iter=a`` then a warm fit with ``max_iter=b`` trains as one fit of ``a + b``
epochs, bitwise on CPU with the constant schedule, on every path (the stack's full and frozen fine-tuning, the
semi-supervised methods), because the warm fit restores what a checkpoint holds, as a resumed fit does. Then
what a warm fit refuses (other features, new classes, changed parameters), and what it keeps.
"""

import random

import numpy as np
import pytest
import torch

import layerwise
from layerwise import ConfigError, DataError, PretrainedClassifier, PretrainedRegressor

CPU = dict(random_state=0, device="cpu")  # bitwise: CPU kernels are deterministic
STACK = dict(hidden_layer_sizes=(16,), pretrain_max_iter=1, semi_supervised=None, lr_schedule="constant", **CPU)
SEMI = {"ladder": {}, "m1m2": {"m1_epochs": 2, "latent_dim": 4, "m2_hidden": (16,), "m1_latent": 8},
        "vime": {"prepare_epochs": 2, "predictor_hidden": (16,)}}


@pytest.fixture(scope="module")
def data(digits):
    X, y = digits
    y_partial = y[:240].copy()
    y_partial[80:] = -1  # 80 labels: the semi-supervised methods' rows
    return X[:240], y[:240], y_partial


def _weights(est) -> dict:
    return {k: v.clone() for k, v in est.module_.state_dict().items()}


def _assert_same_weights(a, b) -> None:
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


def _one_and_two_fits(make, X, y, a: int, b: int):
    """One fit of ``a + b`` epochs, and a fit of ``a`` then a warm fit of ``b``, with the same settings."""
    one = make(max_iter=a + b).fit(X, y)
    two = make(max_iter=a, warm_start=True).fit(X, y)
    return one, two.set_params(max_iter=b).fit(X, y)


@pytest.mark.parametrize("task, options", [
    ("classifier", {}),
    ("classifier", {"finetune": "frozen"}),
    ("classifier", {"early_stopping": True, "n_iter_no_change": 50}),  # the same validation rows; never stops here
    ("classifier", {"alpha": 1e-3, "dropout": 0.1}),
    ("regressor", {}),
    ("regressor", {"finetune": "frozen", "batch_size": 32}),
], ids=lambda v: v if isinstance(v, str) else ",".join(f"{k}={w}" for k, w in v.items()) or "full")
def test_a_then_b_epochs_are_one_fit_of_a_plus_b_on_the_stack_path(task, options, data):
    X, y, _ = data
    target = y if task == "classifier" else X @ np.arange(64.0) / 64  # a regressor's targets: a linear function of X
    cls = PretrainedClassifier if task == "classifier" else PretrainedRegressor
    one, two = _one_and_two_fits(lambda **kw: cls(**STACK, **options, **kw), X, target, 3, 2)
    _assert_same_weights(one, two)
    assert two.n_iter_ == 5 and two.loss_curve_ == one.loss_curve_  # the curves cover every fit, as MLP's do
    assert [h["epoch"] for h in two.history_["finetune"]] == [1, 2, 3, 4, 5]
    out = "predict_proba" if task == "classifier" else "predict"
    np.testing.assert_array_equal(getattr(two, out)(X), getattr(one, out)(X))
    assert len(two.history_["pretrain"]) == len(one.history_["pretrain"])  # pretrained once, not again


@pytest.mark.parametrize("name", SEMI)
def test_a_then_b_epochs_are_one_fit_of_a_plus_b_for_the_semi_supervised_methods(name, data):
    X, _, y_partial = data
    make = lambda **kw: PretrainedClassifier((16,), semi_supervised=name, semi_supervised_params=SEMI[name],  # noqa: E731
                                             lr_schedule="constant", **CPU, **kw)
    one, two = _one_and_two_fits(make, X, y_partial, 2, 1)
    assert two.semi_supervised_ == name
    _assert_same_weights(one, two)
    assert two.n_iter_ == 3 and two.loss_curve_ == one.loss_curve_
    losses = lambda est: [h["loss"] for h in est.history_["pretrain"]]  # noqa: E731
    assert losses(two) == losses(one)  # M1 / VIME-self: prepared once, by the first fit


def test_the_convolutional_ladder_continues_bitwise_too(data):
    X, _, y_partial = data  # 60 rows: Conv-Small's layers are fixed, and slow on a CPU
    make = lambda **kw: PretrainedClassifier(semi_supervised="conv_ladder", semi_supervised_params={"image_shape": (1, 8, 8)},  # noqa: E731
                                             lr_schedule="constant", batch_size=30, **CPU, **kw)
    one, two = _one_and_two_fits(make, X[40:100], y_partial[40:100], 1, 1)
    _assert_same_weights(one, two)
    assert two.n_iter_ == 2 and two.loss_curve_ == one.loss_curve_


def test_a_schedule_over_the_epochs_is_laid_over_a_plus_b_at_the_warm_fit(data):
    """The ladder's default schedule (``"auto"``: ``"anneal"``) is a function of the fit's number of epochs: the
    first fit anneals over its own ``a`` epochs, so the weights cannot agree with one longer fit's; from the warm
    fit on, the rates are the longer fit's (the schedule is laid over ``a + b``, as a resumed fit's is)."""
    X, _, y_partial = data
    make = lambda **kw: PretrainedClassifier((16,), semi_supervised="ladder", **CPU, **kw)  # noqa: E731
    one, two = _one_and_two_fits(make, X, y_partial, 6, 3)
    rates = lambda est: [h["lr"] for h in est.history_["finetune"]]  # noqa: E731
    assert rates(two)[:6] != rates(one)[:6]  # the first fit annealed in its 6th epoch, the longer one had not yet
    assert rates(two)[6:] == rates(one)[6:] and two.n_iter_ == 9
    assert any(not torch.equal(a, b) for a, b in zip(_weights(two).values(), _weights(one).values()))


def test_without_warm_start_every_fit_starts_over(data):
    X, y, _ = data
    fresh = PretrainedClassifier(**STACK, max_iter=2).fit(X, y)
    again = PretrainedClassifier(**STACK, max_iter=2).fit(X, y).fit(X, y)
    _assert_same_weights(fresh, again)
    assert again.n_iter_ == 2
    # warm_start=True on an estimator not fitted yet is a plain fit, bitwise
    _assert_same_weights(fresh, PretrainedClassifier(**STACK, max_iter=2, warm_start=True).fit(X, y))


def test_a_warm_fit_trains_max_iter_more_epochs_on_new_rows_with_the_fitted_scaling_and_classes(data):
    X, y, _ = data
    clf = PretrainedClassifier(**STACK, max_iter=2, warm_start=True, scale="minmax").fit(X[:120] * 16, y[:120])
    low, high, classes = clf.data_min_.copy(), clf.data_max_.copy(), clf.classes_.copy()
    first = _weights(clf)
    some = np.isin(y, [0, 1, 2])  # some of the classes only: the head keeps an output for each fitted one
    clf.fit(X[120:][some[120:]] * 16, y[120:][some[120:]])
    assert clf.n_iter_ == 4
    np.testing.assert_array_equal(clf.data_min_, low)
    np.testing.assert_array_equal(clf.data_max_, high)
    np.testing.assert_array_equal(clf.classes_, classes)
    assert any(not torch.equal(first[k], v) for k, v in _weights(clf).items())  # it trained


def test_the_regressor_keeps_its_target_scaling(data):
    X, _, _ = data
    target = X @ np.arange(64.0)
    reg = PretrainedRegressor(**STACK, max_iter=2, warm_start=True).fit(X[:120], target[:120])
    mean, scale = reg.y_mean_.copy(), reg.y_scale_.copy()
    reg.fit(X[120:], target[120:] * 10)  # other targets: the head's outputs stay in the fitted units
    np.testing.assert_array_equal(reg.y_mean_, mean)
    np.testing.assert_array_equal(reg.y_scale_, scale)
    with pytest.raises(DataError, match=r"y has 2 target\(s\) per row, but this PretrainedRegressor was fitted on 1, "
                                        r"and warm_start=True continues that network.*set warm_start=False"):
        reg.fit(X, np.c_[target, target])


def test_other_features_and_new_classes_are_refused(data):
    X, y, _ = data
    clf = PretrainedClassifier(**STACK, max_iter=1, warm_start=True).fit(X, y)
    with pytest.raises(DataError, match=r"X has 10 features, but this PretrainedClassifier was fitted on 64, and "
                                        r"warm_start=True continues that network.*Pass rows with the fitted features"):
        clf.fit(X[:, :10], y)
    with pytest.raises(DataError, match=r"y holds class\(es\) 10, 11 that this PretrainedClassifier was not fitted on; "
                                        r"its classes are \[0, 1, .*set warm_start=False to start over"):
        clf.fit(X, np.where(y == 3, 10, np.where(y == 4, 11, y)))
    assert clf.n_iter_ == 1  # nothing trained
    reg = PretrainedRegressor(**STACK, max_iter=1, warm_start=True).fit(X, X[:, 0])
    with pytest.raises(DataError, match="X has 63 features, but this PretrainedRegressor was fitted on 64"):
        reg.fit(X[:, 1:], X[:, 0])


def test_changed_parameters_that_the_network_or_its_state_keeps_are_refused_with_the_list(data):
    X, y, y_partial = data
    clf = PretrainedClassifier(**STACK, max_iter=1, warm_start=True).fit(X, y)
    clf.set_params(hidden_layer_sizes=(8,), finetune="frozen", solver="sgd")
    with pytest.raises(ConfigError, match=r"(?s)continues the fitted network, but parameters it keeps changed since that "
                                          r"fit:\n- hidden_layer_sizes=\(8,\) \(fitted with \(16,\)\)\n- finetune='frozen' "
                                          r"\(fitted with 'full'\)\n- solver='sgd' \(fitted with 'adam'\) \(the optimizer state.*"
                                          r"Set them back to the fitted values to continue, or set warm_start=False"):
        clf.fit(X, y)
    # starting over with the new values is what warm_start=False says
    assert clf.set_params(warm_start=False).fit(X, y).transform(X[:2]).shape == (2, 8)
    ladder = PretrainedClassifier((16,), max_iter=1, warm_start=True, **CPU).fit(X, y_partial)
    ladder.set_params(semi_supervised="m1m2")
    with pytest.raises(ConfigError, match=r"- semi_supervised='m1m2' \(fitted with 'auto'\)"):
        ladder.fit(X, y_partial)
    ladder.set_params(semi_supervised="ladder", learning_rate_init=0.01)  # the method "auto" chose: no change
    with pytest.raises(ConfigError, match=r"- learning_rate_init=0.01 \(fitted with 'auto'\) \(the restored schedule "
                                          r"keeps its base rates\)"):
        ladder.fit(X, y_partial)  # anneal ("auto" for a method) restores its base rates: a new one would not be used
    assert ladder.set_params(learning_rate_init="auto").fit(X, y_partial).n_iter_ == 2


def test_a_new_learning_rate_applies_under_the_constant_schedule(data):
    X, y, _ = data
    clf = PretrainedClassifier(**STACK, max_iter=1, warm_start=True).fit(X, y)
    clf.set_params(learning_rate_init=1e-4, alpha=1e-3, batch_size=64).fit(X, y)  # settings of training, not of the state
    assert [h["lr"] for h in clf.history_["finetune"]] == [1e-3, 1e-4]


def test_resume_and_the_reference_check_are_refused(data, tmp_path):
    X, y, _ = data
    clf = PretrainedClassifier(**STACK, max_iter=1, warm_start=True).fit(X, y)
    with pytest.raises(ConfigError, match="got resume=True with warm_start=True on a fitted estimator: resume continues an "
                                          "interrupted fit"):
        clf.fit(X, y, checkpoint_dir=tmp_path, resume=True)
    clf.set_params(check_reference=True)
    with pytest.raises(ConfigError, match=r"check_reference=True checks it on these rows by training a second network "
                                          r"from scratch.*Set check_reference=False to continue the network alone"):
        clf.fit(X, y)


def test_early_stopping_that_ended_the_first_fit_lets_the_warm_fit_train_again(data):
    """As scikit-learn's MLP: early stopping's counter continues, so a warm fit after it stopped trains one epoch,
    and stops again unless that epoch improves."""
    X, y, _ = data
    clf = PretrainedClassifier(**STACK, max_iter=20, warm_start=True, early_stopping=True, n_iter_no_change=2, tol=1e9)
    clf.fit(X, y)
    assert clf.n_iter_ == 3  # the first epoch, then 2 without an improvement of 1e9
    assert clf.fit(X, y).n_iter_ == 4


def test_a_model_fitted_without_warm_start_or_loaded_continues_from_its_weights(data, tmp_path):
    X, y, _ = data
    clf = PretrainedClassifier(**STACK, max_iter=2).fit(X, y)
    first = _weights(clf)
    clf.set_params(warm_start=True).fit(X, y)  # no optimizer state kept: its weights, a new Adam
    assert clf.n_iter_ == 4 and [h["epoch"] for h in clf.history_["finetune"]] == [1, 2, 3, 4]
    assert any(not torch.equal(first[k], v) for k, v in _weights(clf).items())
    layerwise.save(clf, tmp_path / "m")
    back = layerwise.load(tmp_path / "m")
    assert back.warm_start is True
    assert back.fit(X, y).n_iter_ == 6
    with pytest.raises(ConfigError, match=r"- activation='tanh' \(fitted with 'relu'\)"):
        back.set_params(activation="tanh").fit(X, y)


def test_a_warm_fit_leaves_the_global_generators_alone(data):
    X, y, _ = data
    clf = PretrainedClassifier(**STACK, max_iter=1, warm_start=True).fit(X, y)
    np.random.seed(123)
    torch.manual_seed(123)
    before = np.random.get_state(), torch.get_rng_state(), random.getstate()
    clf.fit(X, y)  # restores every RNG state the first fit kept (NumPy's, Python's too), inside the fit only
    after = np.random.get_state(), torch.get_rng_state(), random.getstate()
    np.testing.assert_array_equal(after[0][1], before[0][1])
    assert after[0][2] == before[0][2] and torch.equal(after[1], before[1]) and after[2] == before[2]
