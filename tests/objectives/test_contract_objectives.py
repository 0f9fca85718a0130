"""Contract tests run for every registered pretraining objective."""

import pytest
import torch

from layerwise.exceptions import ConfigError
from layerwise.nn import ClassifierHead, dense_autoencoder
from layerwise.objectives import OBJECTIVES, Classification, Reconstruction, make_objective
from layerwise.pipeline.greedy import GreedyLayerwise
from layerwise.train import Trainer

from ..conftest import boring_autoencoder

# Options some objectives need on flat digits rows (8x8 images).
EXTRA = {"conv": {"image_shape": (1, 8, 8)}}


def _greedy(name, sizes=(16,), seed=0, epochs=15, **kw):
    return GreedyLayerwise(sizes, objective=name, objective_params=EXTRA.get(name),
                           trainer=Trainer(max_iter=epochs, batch_size=32, learning_rate_init=3e-3, random_state=seed), **kw)


def _monitored(history):
    """The reconstruction error where the objective logs one (RBMs: the CD loss is no error)."""
    return "recon" if "recon" in history[0] else "loss"


@pytest.mark.parametrize("name", OBJECTIVES.names())
def test_every_objective_lowers_its_loss_on_real_digits(name, digits_small):
    X = torch.from_numpy(digits_small[0])
    g = _greedy(name)
    g.fit(X)
    hist = g.history_[0]
    key = _monitored(hist)
    assert hist[-1][key] < 0.9 * hist[0][key], [h[key] for h in hist]


@pytest.mark.parametrize("name", OBJECTIVES.names())
def test_every_objective_stacks_with_the_right_shapes(name, digits_small):
    X = torch.from_numpy(digits_small[0])
    stack = _greedy(name, sizes=(16, 8), epochs=2).fit(X)
    codes = stack(X)
    assert codes.shape[0] == 300 and codes.flatten(1).shape[1] >= 1
    assert torch.isfinite(codes).all()
    deep = stack.unroll()
    assert deep(X).shape == X.shape


@pytest.mark.parametrize("name", OBJECTIVES.names())
def test_every_objective_is_repeatable_under_a_seed(name, digits_small):
    X = torch.from_numpy(digits_small[0])
    a = _greedy(name, epochs=2, seed=3).fit(X).state_dict()
    b = _greedy(name, epochs=2, seed=3).fit(X).state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    c = _greedy(name, epochs=2, seed=4).fit(X).state_dict()
    assert not all(torch.equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize("name", OBJECTIVES.names())
def test_every_objective_fine_tunes_on_top(name, digits):
    from layerwise.pipeline.finetune import finetune

    X, y = (torch.from_numpy(a) for a in digits)
    stack = _greedy(name, sizes=(32,), epochs=5).fit(X)
    width = stack(X[:1]).flatten(1).shape[1]
    model, hist = finetune(stack, ClassifierHead(width, 10), Classification(), (X[:1000], y[:1000]), mode="full",
                           trainer=Trainer(max_iter=15, batch_size=32, learning_rate_init=3e-3, random_state=0))
    acc = (model(X[1000:]).argmax(1) == y[1000:]).float().mean().item()
    assert acc > 0.8, acc


def test_reconstruction_objectives_lower_both_losses(digits_small):
    X = torch.from_numpy(digits_small[0])
    for loss in ("mse", "bce"):
        ae = boring_autoencoder(output="logistic" if loss == "bce" else "identity")
        objective = make_objective("denoising", loss=loss)
        trainer = Trainer(max_iter=15, batch_size=32, learning_rate_init=3e-3, random_state=0)
        before = trainer.evaluate(ae, objective, (X,))["loss"]
        trainer.fit(ae, objective, (X,))
        assert trainer.evaluate(ae, objective, (X,))["loss"] < 0.7 * before


def test_sparsity_penalties_make_codes_sparser(digits_small):
    X = torch.from_numpy(digits_small[0])
    means = {}
    for penalty, weight in [(None, 0.0), ("l1", 0.2)]:
        torch.manual_seed(0)
        ae = boring_autoencoder(n_hidden=64)
        obj = Reconstruction(loss="bce", sparsity=penalty, sparsity_weight=weight)
        Trainer(max_iter=20, batch_size=32, random_state=0).fit(ae, obj, (X,))
        means[penalty] = ae.encode(X).abs().mean().item()
    assert means["l1"] < 0.5 * means[None]


def test_kl_sparsity_pulls_mean_activation_to_target(digits_small):
    X = torch.from_numpy(digits_small[0])
    means = []
    for weight in (0.0, 3.0):
        torch.manual_seed(0)
        ae = dense_autoencoder(64, 32, activation="logistic", output="logistic")
        obj = Reconstruction(loss="bce", sparsity="kl", sparsity_weight=weight, target_rate=0.05)
        Trainer(max_iter=40, batch_size=32, learning_rate_init=3e-3, random_state=0).fit(ae, obj, (X,))
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
    hist = Trainer(max_iter=30, batch_size=32, learning_rate_init=1e-2, random_state=0).fit(head, Classification(), (X, y))
    assert hist[-1]["accuracy"] > 0.9
