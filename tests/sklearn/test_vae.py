"""VariationalAutoencoder: sklearn's common checks and its own behaviour."""

import numpy as np
import pytest
import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

from layerwise import ConfigError, DataError, PretrainedClassifier
from layerwise.nn.vae import VAE
from layerwise.sklearn.vae import VariationalAutoencoder, _StopAfterWarmup
from layerwise.train import Trainer

FAST = dict(hidden_layer_sizes=(32,), n_components=4, max_iter=3, random_state=0, device="cpu")


# No expected failures: latent means, decodings and the common-random-number
# ELBO of score_samples are all row-wise, so even the subset and sample-order
# invariance checks pass.
@parametrize_with_checks([VariationalAutoencoder((8,), n_components=2, max_iter=3, random_state=0, device="cpu")])
def test_sklearn_common_checks(estimator, check):
    check(estimator)


def test_every_method_has_the_documented_shape(digits_small):
    X = digits_small[0]
    vae = VariationalAutoencoder(**FAST).fit(X)
    Z = vae.transform(X)
    assert Z.shape == (300, 4) and Z.dtype == np.float32
    assert isinstance(vae.module_, VAE) and vae.module_.output == "logistic"  # digits are in [0, 1]
    recon = vae.inverse_transform(Z)
    assert recon.shape == (300, 64) and 0 <= recon.min() and recon.max() <= 1
    assert vae.sample(5, random_state=0).shape == (5, 64)
    assert vae.score_samples(X).shape == (300,) and vae.score(X) == pytest.approx(vae.score_samples(X).mean())
    assert np.allclose(vae.stack_(torch.from_numpy(X)).numpy(), Z, atol=1e-6)  # the stack is the mean path
    assert vae.n_iter_ == 3 and len(vae.loss_curve_) == 3 and {"recon", "kl"} <= set(vae.history_[0])


def test_training_raises_the_elbo_and_score_is_repeatable(digits):
    X = digits[0]
    short = VariationalAutoencoder(**{**FAST, "max_iter": 1}).fit(X)
    long = VariationalAutoencoder(**{**FAST, "max_iter": 15}).fit(X)
    assert long.score(X) > short.score(X) + 3  # nats per row
    assert long.loss_curve_[-1] < long.loss_curve_[0]
    assert np.array_equal(long.score_samples(X[:50]), long.score_samples(X[:50]))
    # the score is a bound on log p(x): the negative training loss, up to Monte-Carlo noise
    assert long.score(X) == pytest.approx(-long.loss_curve_[-1], abs=1.0)


def test_a_seed_makes_two_fits_identical(digits_small):
    X = digits_small[0]
    a, b = (VariationalAutoencoder(**FAST).fit(X).transform(X) for _ in range(2))
    c = VariationalAutoencoder(**{**FAST, "random_state": 1}).fit(X).transform(X)
    assert np.array_equal(a, b) and not np.allclose(a, c)


def test_sample_follows_its_random_state(digits_small):
    vae = VariationalAutoencoder(**FAST).fit(digits_small[0])
    assert np.array_equal(vae.sample(4, random_state=3), vae.sample(4, random_state=3))
    assert not np.allclose(vae.sample(4, random_state=3), vae.sample(4, random_state=4))
    with pytest.raises(ConfigError, match=r"n_samples must be a positive integer; got 0"):
        vae.sample(0)


def test_gaussian_decoder_for_data_outside_the_unit_interval(digits_small):
    X = digits_small[0] * 4 - 2
    vae = VariationalAutoencoder(**FAST).fit(X)
    assert vae.module_.output == "identity" and vae.inverse_transform(vae.transform(X)).min() < 0
    with pytest.raises(DataError, match=r"loss='bce' needs inputs in \[0, 1\]; got values in \[-2, 2\]"):
        VariationalAutoencoder(**{**FAST, "loss": "bce"}).fit(X)


def test_bad_parameters_are_reported_together(digits_small):
    bad = VariationalAutoencoder(n_components=0, beta=-1, kl_warmup=-2, solver="sgdd")
    with pytest.raises(ConfigError, match=r"has 4 invalid parameter\(s\)") as info:
        bad.fit(digits_small[0])
    for text in ("solver must be one of ['adam', 'adamw', 'sgd', 'Adam', 'AdamW', 'SGD']; got 'sgdd'", "kl_warmup must be an integer >= 0; got -2",
                 "n_components must be a positive integer; got 0", "beta must be a number >= 0; got -1"):
        assert text in str(info.value)


def test_inverse_transform_checks_the_code_width(digits_small):
    vae = VariationalAutoencoder(**FAST).fit(digits_small[0])
    with pytest.raises(DataError, match=r"inverse_transform expects codes with 4 columns \(n_components\); got 3"):
        vae.inverse_transform(np.zeros((2, 3)))


def test_kl_warmup_and_early_stopping(digits_small):
    X = digits_small[0]
    vae = VariationalAutoencoder(**{**FAST, "max_iter": 8, "kl_warmup": 4}).fit(X)
    hist = vae.history_
    assert hist[0]["loss"] == pytest.approx(hist[0]["recon"])  # beta = 0 in the first epoch
    assert hist[-1]["loss"] == pytest.approx(hist[-1]["recon"] + hist[-1]["kl"], rel=1e-4)  # beta back to 1
    stopped = VariationalAutoencoder(**{**FAST, "max_iter": 200, "early_stopping": True, "n_iter_no_change": 2, "tol": 10.0}).fit(X)
    assert stopped.n_iter_ == 3  # no epoch improves by 10 nats: stops after the patience


def test_early_stopping_ignores_the_warm_up_epochs():
    stop = _StopAfterWarmup(warmup=3, n_iter_no_change=1, tol=0.0)
    trainer = Trainer()
    stop.on_fit_start(trainer, None)
    for epoch, val in enumerate([1.0, 2.0, 3.0, 10.0, 9.0], start=1):  # warm-up losses rise with beta
        stop.on_epoch_end(trainer, torch.nn.Linear(1, 1), {"epoch": epoch, "val_loss": val})
        assert not trainer.should_stop, epoch
    assert stop.best == 9.0 and stop.best_epoch == 5


def test_pretrained_classifier_fine_tunes_on_vae_pretraining(digits):
    X, y = digits
    clf = PretrainedClassifier((32,), pretrain="vae", pretrain_params={"beta": 0.5, "hidden": 48}, pretrain_max_iter=5,
                               max_iter=15, random_state=0, device="cpu")
    clf.fit(X[:1200], y[:1200])
    assert clf.score(X[1200:], y[1200:]) > 0.85  # chance is 0.1
    layer = clf.stack_.layers[0]
    assert layer[0][0][0].out_features == 48 and layer[1].out_features == 32  # the VAE's mean path
    assert [h[-1]["kl"] > 0 for h in clf.history_["pretrain"]] == [True]
