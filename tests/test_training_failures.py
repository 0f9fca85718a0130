"""Training that fails says so: SGD after pretraining no longer dies, and explosions, dead layers, one-class
classifiers and collapsed VAEs are reported."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.model_selection import train_test_split

from layerwise import GreedyLayerwise, PretrainedClassifier, StackedAutoencoder, Trainer
from layerwise.diagnostics import check_codes
from layerwise.exceptions import DivergenceError, TrainingWarning
from layerwise.sampling import estimator_samples

# the recipe: on main at 46af6b0 it scored 0.31 with 1 live unit of 32 in layer 2
SGD = dict(solver="sgd", learning_rate_init=0.01, pretrain_max_iter=10, max_iter=30, random_state=0)


@pytest.fixture(scope="module")
def split(digits):
    X, y = digits
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


def test_sgd_after_pretraining_trains_a_live_network(split, monkeypatch):
    X_train, X_test, y_train, y_test = split
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingWarning)  # and nothing to warn about
        clf = PretrainedClassifier((128, 32), **SGD).fit(X_train, y_train)
    assert clf.score(X_test, y_test) > 0.9
    rates, real = [], Trainer.fit
    monkeypatch.setattr(Trainer, "fit", lambda self, *a, **k: rates.append(self.learning_rate_init) or real(self, *a, **k))
    stack = GreedyLayerwise((128, 32), objective="denoising", trainer=Trainer(
        solver="sgd", learning_rate_init=0.01, max_iter=10, batch_size=39, random_state=0)).fit(torch.from_numpy(X_train))
    codes = stack(torch.from_numpy(X_train))  # (n, 32)
    assert int((codes > 0).any(0).sum()) >= 8  # was 1
    assert rates[0] == 0.01 and rates[1] < 0.002  # the second stage's inputs have about 7x the squared norm of the data's
    GreedyLayerwise((128, 32), trainer=Trainer(learning_rate_init=0.01, max_iter=1, random_state=0)).fit(torch.from_numpy(X_train))
    assert rates[2:] == [0.01, 0.01]  # Adam is invariant to the scale of the loss: left alone


def test_a_loss_that_explodes_stops_training(digits):
    X, y = digits
    with pytest.raises(DivergenceError, match=r"The loss exploded to \S+ at epoch 1, batch \d+: over 10000 times the first batch's "
                                              r"\(\S+\), so training diverged\. Likely causes: a learning rate too high \(now 0\.001 to "
                                              r"1e\+27 by parameter group \(encoder_lr_scale\?\); try 10x smaller\)"):
        PretrainedClassifier((16,), encoder_lr_scale=1e30, pretrain_max_iter=1, max_iter=3, random_state=0).fit(X[:300], y[:300])


def test_a_dead_layer_is_reported():
    X = torch.zeros(100, 8)  # constant features: every unit of layer 1 gives one value for every row
    with pytest.warns(TrainingWarning, match=r"Layer 1 of 2 is dead after pretraining: each of its 6 units gives one value for "
                                             r"every row .* Pretraining failed: lower learning_rate_init"):
        GreedyLayerwise((6, 3), trainer=Trainer(max_iter=1, random_state=0)).fit(X)
    with pytest.warns(TrainingWarning, match=r"Layer 2 of 3: 9 of its 10 units give one value for every row after pretraining \(dead "
                                             r"units\).*use solver='adam'"):
        check_codes(torch.cat([torch.rand(50, 1), torch.zeros(50, 9)], dim=1), 2, 3, "sgd")


def test_a_classifier_that_predicts_one_class_for_every_row_is_reported(digits):
    X, y = digits
    y = np.where(np.arange(len(y)) % 10 == 0, 1, 0)[:500]  # 90% one class, and a learning rate far too high
    with pytest.warns(TrainingWarning, match=r"The fine-tuned classifier predicts class index 0 for every one of \d+ training rows, "
                                             r"whose labels hold 2 classes \(90% of them that class\): training failed\."):
        PretrainedClassifier((8,), pretrain=None, learning_rate_init=0.5, max_iter=2, random_state=0).fit(X[:500], y)


@pytest.fixture(scope="module")
def vae_stacks(digits):
    """The issue's stacked VAE (examples/digits_quick.toml with --set model.pretrain=vae), with and without free bits."""
    X = digits[0][:1200]
    fit = lambda **options: StackedAutoencoder((64, 32), pretrain="vae", pretrain_params=options or None,  # noqa: E731
                                               max_iter=5, batch_size=32, random_state=0).fit(X)
    with pytest.warns(TrainingWarning, match=r"Layer 2 of 2: the posterior collapsed: none of its 32 latent units carries "
                                             r"information .* free_bits"):
        collapsed = fit(free_bits=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingWarning)
        default = fit()
    return collapsed, default


def test_the_stacked_vae_samples_distinct_rows(vae_stacks, digits):
    from sklearn.linear_model import LogisticRegression

    collapsed, default = vae_stacks
    assert default.history_["pretrain"][1][-1]["kl"] > 1.0 > 0.01 > collapsed.history_["pretrain"][1][-1]["kl"]
    reader = LogisticRegression(max_iter=1000).fit(*digits)  # which digit each sample looks like
    digits_drawn = [len(set(reader.predict(estimator_samples(m, "vae", 64, seed=0, n=64)))) for m in (collapsed, default)]
    assert digits_drawn[0] <= 3 and digits_drawn[1] >= 6  # 64 copies of one blurred digit on main
