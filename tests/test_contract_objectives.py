"""Contract tests run for every registered pretraining objective."""

import pytest
import torch

from layerwise.objectives import OBJECTIVES, Classification, Reconstruction, make_objective
from layerwise.exceptions import ConfigError
from layerwise.nn import ClassifierHead, dense_autoencoder
from layerwise.train import Trainer

from .conftest import boring_autoencoder


@pytest.mark.parametrize("name", OBJECTIVES.names())
@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_each_objective_lowers_its_loss_on_real_digits(name, loss, digits_small):
    X = torch.from_numpy(digits_small[0])
    ae = boring_autoencoder(output="logistic" if loss == "bce" else "identity")
    objective = make_objective(name, loss=loss)
    trainer = Trainer(max_epochs=15, batch_size=32, lr=3e-3, seed=0)
    before = trainer.evaluate(ae, objective, (X,))["loss"]
    history = trainer.fit(ae, objective, (X,))
    after = trainer.evaluate(ae, objective, (X,))["loss"]
    assert after < 0.7 * before
    assert history[-1]["loss"] < history[0]["loss"]
    out = objective(ae, (X[:7],))
    assert out.loss.shape == () and all(v.shape == () for v in out.logs.values())


@pytest.mark.parametrize("name", OBJECTIVES.names())
def test_each_objective_is_repeatable_under_a_seed(name, digits_small):
    X = torch.from_numpy(digits_small[0])
    weights = []
    for _ in range(2):
        torch.manual_seed(1)
        ae = boring_autoencoder()
        Trainer(max_epochs=2, batch_size=50, seed=3).fit(ae, make_objective(name, loss="bce"), (X,))
        weights.append(ae.encoder[0].weight.detach().clone())
    assert torch.equal(weights[0], weights[1])


def test_sparsity_penalties_make_codes_sparser(digits_small):
    X = torch.from_numpy(digits_small[0])
    means = {}
    for penalty, weight in [(None, 0.0), ("l1", 0.2)]:
        torch.manual_seed(0)
        ae = boring_autoencoder(n_hidden=64)
        obj = Reconstruction(loss="bce", sparsity=penalty, sparsity_weight=weight)
        Trainer(max_epochs=20, batch_size=32, seed=0).fit(ae, obj, (X,))
        means[penalty] = ae.encode(X).abs().mean().item()
    assert means["l1"] < 0.5 * means[None]


def test_kl_sparsity_pulls_mean_activation_to_target(digits_small):
    X = torch.from_numpy(digits_small[0])
    means = []
    for weight in (0.0, 3.0):
        torch.manual_seed(0)
        ae = dense_autoencoder(64, 32, activation="logistic", output="logistic")
        obj = Reconstruction(loss="bce", sparsity="kl", sparsity_weight=weight, target_rate=0.05)
        Trainer(max_epochs=40, batch_size=32, lr=3e-3, seed=0).fit(ae, obj, (X,))
        means.append(ae.encode(X).mean().item())
    assert means[1] < 0.12 < means[0]


def test_denoising_corrupts_only_in_training_mode():
    ae = boring_autoencoder()
    x = torch.rand(10, 64)
    obj = make_objective("denoising", {"level": 0.9}, loss="bce")
    ae.eval()
    assert torch.equal(obj(ae, (x,)).loss, obj(ae, (x,)).loss)


def test_reconstruction_rejects_bad_options():
    with pytest.raises(ConfigError, match=r"sparsity must be one of \[None, 'l1', 'kl'\]; got 'l2'"):
        Reconstruction(sparsity="l2")
    with pytest.raises(ConfigError, match=r"target_rate must be in \(0, 1\); got 2"):
        Reconstruction(sparsity="kl", target_rate=2)


def test_classification_objective_learns(digits_small):
    X, y = (torch.from_numpy(a) for a in digits_small)
    head = ClassifierHead(64, 10)
    hist = Trainer(max_epochs=30, batch_size=32, lr=1e-2, seed=0).fit(head, Classification(), (X, y))
    assert hist[-1]["accuracy"] > 0.9
