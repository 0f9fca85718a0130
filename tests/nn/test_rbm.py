"""Restricted Boltzmann machines, contrastive divergence and deep belief networks."""

import itertools

import numpy as np
import pytest
import torch
from sklearn.neural_network import BernoulliRBM
from sklearn.preprocessing import StandardScaler

from layerwise.exceptions import ConfigError, DataError
from layerwise.nn import AutoEncoder, TiedLinear, dense_autoencoder
from layerwise.nn.rbm import RBM
from layerwise.objectives import OBJECTIVES, make_objective
from layerwise.objectives.contrastive import ContrastiveDivergence
from layerwise.pipeline.greedy import GreedyLayerwise
from layerwise.sklearn import PretrainedClassifier
from layerwise.train import Trainer


def _set(rbm, W, b, c):
    with torch.no_grad():
        rbm.weight.copy_(torch.tensor(W))
        rbm.visible_bias.copy_(torch.tensor(b))
        rbm.hidden_bias.copy_(torch.tensor(c))
    return rbm


def _energy(rbm, v, h):
    """E(v, h) written out (Hinton 2010, eq. 1 and section 13.2)."""
    W, b, c = rbm.weight, rbm.visible_bias, rbm.hidden_bias
    visible = -(v @ b) if rbm.visible == "bernoulli" else 0.5 * ((v - b) ** 2).sum()
    return visible - h @ c - h @ W @ v


def _gap(rbm, data, noise):
    """Mean free energy of the data minus that of noise: negative once the RBM models the data."""
    with torch.no_grad():
        return (rbm.free_energy(data).mean() - rbm.free_energy(noise).mean()).item()


def _train(X, loss="bce", persistent=False, epochs=6, lr=1e-2, seed=0, n_hidden=32, k=1):
    torch.manual_seed(seed)  # the initial weights; the trainer seeds the sampling
    obj = make_objective("rbm", {"persistent": persistent, "k": k}, loss=loss)
    rbm = obj.build_model((X.shape[1],), n_hidden, "relu", "logistic" if loss == "bce" else "identity", False, 0.0)
    history = Trainer(max_iter=epochs, batch_size=64, learning_rate_init=lr, random_state=seed).fit(rbm, obj, (X,))
    return rbm, obj, history


def test_rbm_is_a_tied_autoencoder_with_the_right_shapes():
    rbm = RBM(6, 3)
    assert isinstance(rbm, AutoEncoder) and rbm.output == "logistic"
    assert isinstance(rbm.decoder[0], TiedLinear) and rbm.decoder[0].source is rbm.encoder[0]
    assert sorted(rbm.state_dict()) == ["decoder.0.bias", "encoder.0.bias", "encoder.0.weight"]
    v = torch.bernoulli(torch.full((5, 6), 0.5))
    p, h = rbm.sample_hidden(v)
    assert p.shape == h.shape == (5, 3) and torch.equal(p, rbm.encode(v))
    assert set(h.unique().tolist()) <= {0.0, 1.0} and ((p > 0) & (p < 1)).all()
    mean, sample = rbm.sample_visible(h)
    assert mean.shape == sample.shape == (5, 6) and set(sample.unique().tolist()) <= {0.0, 1.0}
    assert rbm.free_energy(v).shape == (5,) and rbm.gibbs(v, k=3).shape == (5, 6)
    assert rbm.pseudo_likelihood(v).shape == (5,)
    gauss = RBM(6, 3, visible="gaussian")
    mean, sample = gauss.sample_visible(h)
    assert gauss.output == "identity" and torch.equal(mean, gauss.decoder(h))
    assert not torch.equal(sample, mean)  # unit-variance noise added


@pytest.mark.parametrize("visible", ["bernoulli", "gaussian"])
def test_free_energy_matches_a_sum_over_every_hidden_state(visible):
    rbm = _set(RBM(2, 3, visible), W=[[0.5, -1.0], [2.0, 0.3], [-0.7, 0.1]], b=[0.2, -0.4], c=[0.1, -0.3, 0.6])
    v = torch.tensor([[1.0, 0.0], [0.3, 0.8]])
    hiddens = [torch.tensor(h, dtype=torch.float32) for h in itertools.product([0, 1], repeat=3)]
    expected = [-torch.logsumexp(torch.stack([-_energy(rbm, row, h) for h in hiddens]), 0) for row in v]
    torch.testing.assert_close(rbm.free_energy(v), torch.stack(expected).detach())
    # Hand value for v = (1, 0), Bernoulli: -0.2 - softplus(0.6) - softplus(1.7) - softplus(-0.1)
    if visible == "bernoulli":
        sp = torch.nn.functional.softplus(torch.tensor([0.6, 1.7, -0.1])).sum()
        assert rbm.free_energy(v[:1]).item() == pytest.approx((-0.2 - sp).item(), abs=1e-6)


def test_loss_gradient_is_the_cd1_update(digits_small):
    v = torch.from_numpy(digits_small[0][:20])
    rbm, cd = RBM(64, 8), ContrastiveDivergence(k=1)
    torch.manual_seed(7)
    cd(rbm, (v,)).loss.backward()
    torch.manual_seed(7)  # replay the same Gibbs step
    with torch.no_grad():
        _, h = rbm.sample_hidden(v)
        v_model, _ = rbm.sample_visible(h)
        ph_data, ph_model = rbm.encode(v), rbm.encode(v_model)
    # Hinton 2002: dW = <h v>_data - <h v>_model; the loss is minimised, so its gradient is minus that
    expected = -(ph_data.T @ v - ph_model.T @ v_model) / len(v)
    torch.testing.assert_close(rbm.weight.grad, expected)
    torch.testing.assert_close(rbm.visible_bias.grad, -(v - v_model).mean(0))


@pytest.mark.parametrize("persistent", [False, True])
def test_cd_training_lowers_the_free_energy_of_digits(persistent, digits):
    X = torch.from_numpy(digits[0][:1000])
    held_out, noise = torch.from_numpy(digits[0][1000:1500]), torch.rand(500, 64)
    torch.manual_seed(0)
    untrained = RBM(64, 32)
    assert abs(_gap(untrained, held_out, noise)) < 5
    torch.manual_seed(1)
    pl_before = untrained.pseudo_likelihood(held_out).mean().item()
    rbm, obj, history = _train(X, persistent=persistent)
    # unseen digits now have a much lower free energy than uniform noise
    assert _gap(rbm, held_out, noise) < -20
    assert history[-1]["recon"] < 0.6 * history[0]["recon"]
    torch.manual_seed(1)
    assert rbm.pseudo_likelihood(held_out).mean().item() > pl_before + 5
    if persistent:  # 1000 rows, batches of 64: the last batch has 40 rows; the chains keep 64
        assert obj.chains.shape == (64, 64)


def test_persistent_chains_advance_only_in_training_mode(digits_small):
    X = torch.from_numpy(digits_small[0])
    rbm, obj, _ = _train(X, persistent=True, epochs=1)
    chains = obj.chains.clone()
    Trainer().evaluate(rbm, obj, (X,))
    assert torch.equal(obj.chains, chains)
    obj(rbm.train(), (X[:10],))
    assert not torch.equal(obj.chains, chains)
    obj.reset()
    assert obj.chains is None


def test_gaussian_rbm_trains_on_standardised_digits(digits):
    X = torch.from_numpy(StandardScaler().fit_transform(digits[0]).astype(np.float32))
    noise = torch.randn(500, 64)
    torch.manual_seed(0)
    gap_before = _gap(RBM(64, 32, "gaussian"), X[1000:1500], noise)
    rbm, _, history = _train(X[:1000], loss="mse", lr=3e-3)
    assert rbm.visible == "gaussian" and rbm.output == "identity"
    assert history[-1]["recon"] < 0.7 * history[0]["recon"]
    assert _gap(rbm, X[1000:1500], noise) < gap_before - 5


@pytest.mark.parametrize("persistent", [False, True])
def test_a_seed_makes_runs_identical(persistent, digits_small):
    X = torch.from_numpy(digits_small[0])
    weights = [_train(X, persistent=persistent, epochs=2, seed=s)[0].weight.detach() for s in (3, 3, 4)]
    assert torch.equal(weights[0], weights[1])
    assert not torch.equal(weights[0], weights[2])


def test_pseudo_likelihood_agrees_with_sklearn(digits):
    X = digits[0]
    # one visible unit: both flip the same unit, so the values must be equal
    sk = BernoulliRBM(n_components=4, n_iter=2, random_state=0).fit(X[:, 20:21])
    rbm = _set(RBM(1, 4), sk.components_, sk.intercept_visible_, sk.intercept_hidden_)
    expected = torch.from_numpy(sk.score_samples(X[:, 20:21])).float()
    torch.testing.assert_close(rbm.pseudo_likelihood(torch.from_numpy(X[:, 20:21])), expected)
    # 64 units: each flips its own random units, so compare averages over 10 draws
    sk = BernoulliRBM(n_components=16, n_iter=3, learning_rate=0.05, random_state=0).fit(X)
    rbm = _set(RBM(64, 16), sk.components_, sk.intercept_visible_, sk.intercept_hidden_)
    ours = np.mean([rbm.pseudo_likelihood(torch.from_numpy(X)).mean().item() for _ in range(10)])
    theirs = np.mean([sk.set_params(random_state=s).score_samples(X).mean() for s in range(10, 20)])
    assert ours == pytest.approx(theirs, abs=1.0)


def test_greedy_rbm_stack_is_a_deep_belief_network(digits):
    X = torch.from_numpy(digits[0][:1000])
    greedy = GreedyLayerwise((64, 32), objective="rbm", trainer=Trainer(max_iter=5, batch_size=64, learning_rate_init=1e-2, random_state=0))
    stack = greedy.fit(X)
    codes = stack(X)
    assert codes.shape == (1000, 32) and ((codes > 0) & (codes < 1)).all()
    assert all(isinstance(d[0], TiedLinear) for d in stack.decoders)
    assert all(h[-1]["recon"] < 0.6 * h[0]["recon"] for h in greedy.history_)
    deep = stack.unroll()
    assert deep.output == "logistic"
    with torch.no_grad():
        recon = deep(X)
    assert recon.shape == X.shape and ((recon > 0) & (recon < 1)).all()
    # the unrolled DBN reconstructs better than predicting each pixel's mean
    assert ((recon - X) ** 2).sum(1).mean() < 0.8 * ((X - X.mean(0)) ** 2).sum(1).mean()


@pytest.mark.parametrize("finetune", ["frozen", "full"])
def test_pretrained_classifier_with_rbm_pretraining(finetune, digits):
    X, y = digits
    clf = PretrainedClassifier(
        hidden_layer_sizes=(64,), pretrain="rbm", finetune=finetune, pretrain_max_iter=5, max_iter=30,
        learning_rate_init=1e-2, random_state=0, device="cpu",
    ).fit(X[:1000], y[:1000])
    assert isinstance(clf.stack_.decoders[0][0], TiedLinear)
    assert clf.score(X[1000:], y[1000:]) > 0.85  # chance is 0.1


def test_rbm_is_registered_with_its_options():
    assert "rbm" in OBJECTIVES
    obj = make_objective("rbm", {"k": 3, "persistent": True}, loss="mse")
    assert (obj.k, obj.persistent, obj.visible) == (3, True, "gaussian")
    with pytest.raises(ConfigError, match=r"Unknown option\(s\) \['steps'\] for pretraining objective 'rbm'"):
        make_objective("rbm", {"steps": 2})
    with pytest.raises(ConfigError, match=r"loss must be one of \['bce', 'mse'\] for 'rbm'; got 'huber'"):
        make_objective("rbm", loss="huber")


def test_bad_options_raise_clear_errors():
    with pytest.raises(ConfigError, match=r"visible must be one of \['bernoulli', 'gaussian'\]; got 'binary'"):
        RBM(4, 2, visible="binary")
    with pytest.raises(ConfigError, match=r"n_out must be a positive integer; got 0"):
        RBM(4, 0)
    with pytest.raises(ConfigError, match=r"init_std must be a positive number; got -1"):
        RBM(4, 2, init_std=-1)
    with pytest.raises(ConfigError, match=r"k \(Gibbs steps\) must be a positive integer; got 0"):
        ContrastiveDivergence(k=0)
    with pytest.raises(ConfigError, match=r"persistent must be True or False; got 'yes'"):
        ContrastiveDivergence(persistent="yes")
    with pytest.raises(ConfigError, match=r"n_chains must be a positive integer or None"):
        ContrastiveDivergence(n_chains=0)


def test_bad_inputs_and_models_raise_clear_errors():
    rbm, cd = RBM(4, 2), ContrastiveDivergence()
    with pytest.raises(DataError, match=r"RBM expects visible vectors of shape \(batch, 4\); got \(3, 5\)"):
        rbm.free_energy(torch.zeros(3, 5))
    with pytest.raises(ConfigError, match=r"pseudo_likelihood needs Bernoulli visible units; .*visible='gaussian'"):
        RBM(4, 2, "gaussian").pseudo_likelihood(torch.zeros(3, 4))
    with pytest.raises(ConfigError, match=r"ContrastiveDivergence trains an RBM \(a model with free_energy, gibbs, .*\); got AutoEncoder"):
        cd(dense_autoencoder(4, 2), (torch.zeros(3, 4),))
    with pytest.raises(DataError, match=r"An RBM needs 2-D input .*got rows of shape \(1, 8, 8\)"):
        cd.build_model((1, 8, 8), 2, "relu", "logistic", False, 0.0)
    with pytest.raises(ConfigError, match=r"RBMs do not use dropout; got dropout=0.5"):
        cd.build_model((4,), 2, "relu", "logistic", False, 0.5)
    with pytest.raises(ConfigError, match=r"output='identity' does not match visible='bernoulli'"):
        cd.build_model((4,), 2, "relu", "identity", False, 0.0)
