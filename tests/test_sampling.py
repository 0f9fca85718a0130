"""The DAE as a generative model: the corrupt-and-denoise Markov chain (Bengio et al. 2013)."""

import pytest
import torch

from layerwise.corruption import make_corruption
from layerwise.exceptions import ConfigError
from layerwise.nn import dense_autoencoder
from layerwise.objectives import Reconstruction
from layerwise.sampling import dae_chain
from layerwise.train import Trainer

NOISE = make_corruption("salt_and_pepper", 0.3)


@pytest.fixture(scope="module")
def trained_dae(digits):
    X = torch.from_numpy(digits[0])
    torch.manual_seed(0)
    dae = dense_autoencoder(64, 64, activation="relu", output="logistic")
    Trainer(max_iter=20, batch_size=64, learning_rate_init=3e-3, random_state=0).fit(dae, Reconstruction("bce", corruption=NOISE), (X,))
    return dae, X


def _nn_distance(Z, X):
    """Mean Euclidean distance from each row of Z to its nearest training row."""
    return torch.cdist(Z, X).min(dim=1).values.mean().item()


def test_chain_from_noise_moves_to_the_digits(trained_dae):
    dae, X = trained_dae
    torch.manual_seed(1)
    chain = dae_chain(dae, NOISE, n_samples=100, n_steps=20)
    assert chain.samples.shape == chain.means.shape == (20, 100, 64) and chain.start.shape == (100, 64)
    assert set(chain.samples.unique().tolist()) == {0.0, 1.0}  # Bernoulli draws from a logistic output
    start, end = _nn_distance(chain.start, X), _nn_distance(chain.means[-1], X)
    # a typical digit's nearest other digit: the scale of "looks like data"
    data_nn = torch.cdist(X[:200], X).topk(2, largest=False).values[:, 1].mean().item()
    assert end < 0.5 * start and end < 1.5 * data_nn, (start, end, data_nn)
    assert _nn_distance(chain.samples[-1], X) < 0.85 * start
    # the chains do not collapse onto one image: they spread about as the data does
    assert chain.means[-1].std(dim=0).mean() > 0.4 * X.std(dim=0).mean()


def test_chain_from_data_stays_near_the_data_and_keeps_moving(trained_dae):
    dae, X = trained_dae
    torch.manual_seed(2)
    chain = dae_chain(dae, NOISE, start=X[:50], n_steps=10, sample=False)
    assert torch.equal(chain.start, X[:50]) and torch.equal(chain.samples, chain.means)
    assert _nn_distance(chain.means[-1], X) < 0.5 * _nn_distance(torch.rand(50, 64), X)
    assert (chain.means[-1] - X[:50]).abs().mean() > 0.02  # a chain, not a fixed point


def test_chain_is_repeatable_under_a_seed_and_leaves_train_mode(trained_dae):
    dae, _ = trained_dae
    dae.train()
    runs = []
    for _ in range(2):
        torch.manual_seed(5)
        runs.append(dae_chain(dae, NOISE, n_samples=4, n_steps=3).samples)
    assert torch.equal(runs[0], runs[1]) and dae.training


def test_identity_output_follows_the_mean(digits_small):
    dae = dense_autoencoder(64, 8, output="identity")
    chain = dae_chain(dae, make_corruption("gaussian", 0.1), n_samples=3, n_steps=2)
    assert torch.equal(chain.samples, chain.means) and chain.samples.shape == (2, 3, 64)


def test_chain_errors():
    dae = dense_autoencoder(6, 3, output="logistic")
    with pytest.raises(ConfigError, match=r"n_steps must be a positive integer; got 0"):
        dae_chain(dae, NOISE, n_samples=2, n_steps=0)
    with pytest.raises(ConfigError, match=r"n_samples=3 but start has 2 rows \(shape \(2, 6\)\)"):
        dae_chain(dae, NOISE, n_samples=3, start=torch.rand(2, 6))
    with pytest.raises(ConfigError, match=r"needs n_samples or start; got neither"):
        dae_chain(dae, NOISE)
    with pytest.raises(ConfigError, match=r"corruption must be a callable x -> x_tilde; got str"):
        dae_chain(dae, "masking", n_samples=2)
    from layerwise.nn import AutoEncoder

    conv_like = AutoEncoder(torch.nn.Identity(), torch.nn.Identity(), "logistic")
    with pytest.raises(ConfigError, match=r"Cannot tell the shape of one sample of this AutoEncoder \(no nn.Linear in its encoder\); pass shape="):
        dae_chain(conv_like, NOISE, n_samples=2)
    assert dae_chain(conv_like, NOISE, n_samples=2, n_steps=1, shape=(1, 4, 4)).samples.shape == (1, 2, 1, 4, 4)
