"""The VAE module, the ELBO objective, KL warm-up and the IWAE bound."""

import math

import pytest
import torch
from torch import nn

from layerwise.exceptions import ConfigError, DataError
from layerwise.losses import kl_normal
from layerwise.nn import dense_autoencoder, dense_block
from layerwise.nn.vae import VAE, VAEOutput, dense_vae
from layerwise.objectives import make_objective
from layerwise.objectives.elbo import ELBO, KLWarmup, elbo_per_sample, iwae_log_likelihood, log_likelihood
from layerwise.pipeline.greedy import GreedyLayerwise, code_activation
from layerwise.train import Callback, Trainer


@pytest.fixture(scope="module")
def trained(digits):
    """A small Bernoulli VAE trained on all digits, binarised as MNIST is in Burda et al. 2016 (1797, 64).

    Binary pixels make the posterior carry information (KL ~5 nats instead of
    ~3 on grey levels), so the IWAE bounds for growing k are well apart.
    """
    X = (torch.from_numpy(digits[0]) > 0.5).float()
    torch.manual_seed(0)
    vae = dense_vae(64, (64,), 16)
    Trainer(max_iter=30, batch_size=64, learning_rate_init=3e-3, random_state=0).fit(vae, ELBO("bce"), (X,))
    return vae.eval(), X


# -- kl_normal ------------------------------------------------------------------------------
def test_kl_normal_matches_the_closed_form_by_hand():
    # mu=1, logvar=0: 1/2 mu^2 = 0.5 per dimension; 3 dimensions
    assert kl_normal(torch.ones(4, 3), torch.zeros(4, 3)).item() == pytest.approx(1.5)
    # mu=0, sigma^2=4: 1/2 (4 - 1 - log 4) per dimension
    logvar = torch.full((2, 5), math.log(4.0))
    assert kl_normal(torch.zeros(2, 5), logvar).item() == pytest.approx(5 * 0.5 * (4 - 1 - math.log(4)), rel=1e-6)
    # the prior itself: no divergence
    assert kl_normal(torch.zeros(3, 2), torch.zeros(3, 2)).item() == 0.0


def test_kl_normal_sums_dims_averages_batch_and_agrees_with_torch_distributions():
    mu, logvar = torch.randn(6, 4), torch.randn(6, 4)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros(4), torch.ones(4))
    per_row = torch.distributions.kl_divergence(q, p).sum(dim=1)  # (6,)
    assert torch.allclose(kl_normal(mu, logvar, reduction="none"), per_row, atol=1e-5)
    assert torch.allclose(kl_normal(mu, logvar), per_row.mean(), atol=1e-5)
    per_unit = torch.distributions.kl_divergence(q, p).mean(dim=0)  # (4,): free bits, the activity of each unit
    assert torch.allclose(kl_normal(mu, logvar, reduction="units"), per_unit, atol=1e-5)
    with pytest.raises(ConfigError, match=r"reduction must be 'mean', 'none' or 'units'; got 'sum'"):
        kl_normal(mu, logvar, reduction="sum")


# -- the module -----------------------------------------------------------------------------
def test_shapes_of_everything():
    vae = dense_vae(64, (32, 16), 4)
    x = torch.rand(5, 64)
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (5, 4)
    out = vae(x)
    assert isinstance(out, VAEOutput) and out.recon.shape == (5, 64) and out.z.shape == (5, 4)
    assert torch.equal(out.mu, mu) and 0 <= out.recon.min() and out.recon.max() <= 1  # Bernoulli means
    assert vae.decoder(out.z).shape == (5, 64)
    assert vae.sample(7).shape == (7, 64)
    assert vae.interpolate(x[0], x[1], steps=6).shape == (6, 64)
    assert vae.traverse(x[0], 2, [-1.0, 0.0, 1.0, 2.0]).shape == (4, 64)
    gaussian = dense_vae(64, (16,), 3, output="identity")
    assert gaussian(x).recon.min() < 0  # no squashing for a Gaussian decoder


def test_encoder_is_the_mean_path_and_every_weight_is_registered_once():
    vae = dense_vae(64, (32,), 4)
    x = torch.rand(5, 64)
    assert torch.equal(vae.encoder(x), vae.encode(x)[0])
    assert vae.body is vae.encoder[0]
    encoder_params = {id(p) for p in vae.encoder.parameters()}
    assert id(vae.logvar_head.weight) not in encoder_params
    keys = list(vae.state_dict())
    assert not any(k.startswith("body.") for k in keys) and len(keys) == len(set(keys))
    assert sum(p.numel() for p in vae.parameters()) == (64 * 32 + 32) + 2 * (32 * 4 + 4) + (4 * 32 + 32) + (32 * 64 + 64)
    assert code_activation(vae.encoder) == "identity"  # the stacked code is linear


def test_reparameterize_has_the_right_moments_and_follows_the_generator():
    vae = dense_vae(8, (4,), 2)
    mu, logvar = torch.full((20000, 2), 2.0), torch.full((20000, 2), math.log(0.25))
    z = vae.reparameterize(mu, logvar)
    assert z.mean().item() == pytest.approx(2.0, abs=0.02) and z.std().item() == pytest.approx(0.5, abs=0.02)
    a = vae.reparameterize(mu[:5], logvar[:5], torch.Generator().manual_seed(3))
    b = vae.reparameterize(mu[:5], logvar[:5], torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and not torch.equal(a, vae.reparameterize(mu[:5], logvar[:5]))
    s1, s2 = (vae.sample(3, torch.Generator().manual_seed(1)) for _ in range(2))
    assert torch.equal(s1, s2) and not s1.requires_grad


def test_interpolate_and_traverse_decode_the_intended_codes():
    vae = dense_vae(16, (8,), 3)
    x_a, x_b = torch.rand(16), torch.rand(16)
    mu = vae.encode(torch.stack([x_a, x_b]))[0]
    line = vae.interpolate(x_a, x_b, steps=5)
    assert torch.allclose(line[0], vae.decode(mu[0])) and torch.allclose(line[-1], vae.decode(mu[1]))
    assert torch.allclose(line[2], vae.decode(mu.mean(dim=0)), atol=1e-6)  # the midpoint
    values = [-2.0, mu[0, 1].item(), 3.0]
    rows = vae.traverse(x_a, 1, values)
    assert torch.allclose(rows[1], vae.decode(mu[0]), atol=1e-6)  # its own value: the mean's decoding
    expected = mu[0].repeat(3, 1)
    expected[:, 1] = torch.tensor(values)
    assert torch.allclose(rows, vae.decode(expected))


def test_a_vae_sits_on_top_of_a_pretrained_stack(digits_small):
    X = torch.from_numpy(digits_small[0])
    stack = GreedyLayerwise((32, 16), trainer=Trainer(max_iter=2, random_state=0)).fit(X)
    vae = VAE(stack, 16, 4, nn.Sequential(dense_block(4, 32), nn.Linear(32, 64)), output="logistic")
    out = vae(X)
    assert out.recon.shape == X.shape and out.mu.shape == (300, 4)
    assert vae.body is stack and torch.equal(vae.encoder(X), out.mu)


def test_tied_dense_vae_shares_every_decoder_weight():
    vae = dense_vae(12, (8,), 3, tied=True)
    assert [k for k in vae.state_dict() if k.endswith("weight")] == ["encoder.0.0.0.weight", "encoder.1.weight", "logvar_head.weight"]
    assert torch.equal(vae.decoder[0].weight, vae.encoder[1].weight.t())
    assert vae(torch.rand(2, 12)).recon.shape == (2, 12)


def test_module_arguments_are_checked_at_once():
    with pytest.raises(ConfigError, match=r"latent_dim must be a positive integer; got 0"):
        dense_vae(8, (4,), 0)
    with pytest.raises(ConfigError, match=r"output must be one of \['identity', 'logistic'\]; got 'softmax'"):
        dense_vae(8, (4,), 2, output="softmax")
    with pytest.raises(ConfigError, match=r"hidden_layer_sizes must be a non-empty sequence .* got \(\)"):
        dense_vae(8, (), 2)
    with pytest.raises(ConfigError, match=r"VAE decoder must be an nn.Module; got function"):
        VAE(nn.Linear(8, 4), 4, 2, lambda z: z)
    vae = dense_vae(8, (4,), 2)
    with pytest.raises(ConfigError, match=r"steps must be an integer >= 2 .*; got 1"):
        vae.interpolate(torch.rand(8), torch.rand(8), steps=1)
    with pytest.raises(DataError, match=r"x_a and x_b must have the same shape .*; got \(8,\) and \(1, 8\)"):
        vae.interpolate(torch.rand(8), torch.rand(1, 8))
    with pytest.raises(ConfigError, match=r"dim must be an integer in \[0, 2\) \(the latent width\); got 2"):
        vae.traverse(torch.rand(8), 2, [0.0])


# -- the ELBO objective -----------------------------------------------------------------------
def test_elbo_is_the_textbook_bernoulli_and_gaussian_bound():
    x = torch.rand(6, 10)
    for output, loss in (("logistic", "bce"), ("identity", "mse")):
        vae = dense_vae(10, (8,), 3, output=output)
        torch.manual_seed(5)
        out = ELBO(loss, beta=0.5)(vae, (x,))
        torch.manual_seed(5)
        mu, logvar = vae.encode(x)
        mean = vae.decode(vae.reparameterize(mu, logvar))
        if loss == "bce":  # from probabilities, not logits
            log_px = (x * mean.log() + (1 - x) * (1 - mean).log()).sum(1)
        else:
            log_px = torch.distributions.Normal(mean, 1.0).log_prob(x).sum(1)
        kl = kl_normal(mu, logvar)
        assert torch.allclose(out.logs["recon"], -log_px.mean(), atol=1e-4)
        assert torch.allclose(out.loss, -log_px.mean() + 0.5 * kl, atol=1e-4)
        assert torch.allclose(out.logs["kl"], kl) and not out.logs["kl"].requires_grad
        raw = vae.decoder(vae.reparameterize(mu, logvar))
        assert log_likelihood(raw, x, loss).shape == (6,)


def test_negative_elbo_falls_on_real_digits(digits):
    X = torch.from_numpy(digits[0])
    torch.manual_seed(0)
    vae = dense_vae(64, (32,), 8)
    objective = make_objective("vae", {"beta": 1.0}, loss="bce")
    trainer = Trainer(max_iter=8, batch_size=64, learning_rate_init=3e-3, random_state=0)
    before = trainer.evaluate(vae, objective, (X,))
    history = trainer.fit(vae, objective, (X,))
    after = trainer.evaluate(vae, objective, (X,))
    assert after["loss"] < 0.75 * before["loss"], (before, after)
    assert history[-1]["recon"] < history[0]["recon"] and set(history[0]) >= {"loss", "recon", "kl"}


def test_a_seed_makes_two_fits_identical(digits_small):
    X = torch.from_numpy(digits_small[0])
    states = []
    for seed in (1, 1, 2):
        torch.manual_seed(0)
        vae = dense_vae(64, (16,), 4)
        Trainer(max_iter=2, batch_size=50, random_state=seed).fit(vae, ELBO(), (X,))
        states.append(vae.state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert not all(torch.equal(states[0][k], states[2][k]) for k in states[0])


def test_kl_warmup_raises_beta_linearly_then_restores_the_target(digits_small):
    X = torch.from_numpy(digits_small[0])
    objective = ELBO(beta=2.0)
    seen = []

    class Spy(Callback):
        def on_epoch_end(self, trainer, model, logs):
            seen.append(objective.beta)

    history = Trainer(max_iter=6, batch_size=100, random_state=0, callbacks=[KLWarmup(objective, epochs=4), Spy()]).fit(
        dense_vae(64, (16,), 4), objective, (X,)
    )
    assert seen == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.0])
    assert objective.beta == 2.0
    assert history[0]["loss"] == pytest.approx(history[0]["recon"])  # no KL weight in epoch 1
    assert history[2]["loss"] == pytest.approx(history[2]["recon"] + history[2]["kl"], rel=1e-4)  # beta = 1
    KLWarmup(objective, epochs=0).on_epoch_start(None, None, 0)
    assert objective.beta == 2.0


def test_bad_objective_options_are_refused():
    with pytest.raises(ConfigError, match=r"loss must be one of \['bce', 'mse'\]; got 'l2'"):
        ELBO("l2")
    with pytest.raises(ConfigError, match=r"beta must be a finite number >= 0 .*; got -1"):
        make_objective("vae", {"beta": -1})
    with pytest.raises(ConfigError, match=r"hidden must be a positive integer; got 0"):
        make_objective("vae", {"hidden": 0})
    with pytest.raises(ConfigError, match=r"Unknown option\(s\) \['latent'\] for pretraining objective 'vae'"):
        make_objective("vae", {"latent": 3})
    with pytest.raises(ConfigError, match=r"epochs must be an integer >= 0 .*; got -1"):
        KLWarmup(ELBO(), -1)
    with pytest.raises(ConfigError, match=r"KLWarmup needs an objective with a numeric 'beta' attribute"):
        KLWarmup(make_objective("autoencoder"), 3)
    with pytest.raises(DataError, match=r"need 2-D input .*; got rows of shape \(1, 8, 8\)"):
        ELBO().build_model((1, 8, 8), 4, "relu", "logistic", False, 0.0)


def test_elbo_explains_a_model_that_is_not_a_vae():
    x = torch.rand(4, 8)
    with pytest.raises(ConfigError, match=r"encode\(x\) returns \(mu, logvar\).*AutoEncoder.encode returned Tensor"):
        ELBO("bce")(dense_autoencoder(8, 3, output="logistic"), (x,))
    with pytest.raises(ConfigError, match=r"ELBO\(loss='mse'\) needs a model with output='identity'; got output='logistic'"):
        ELBO("mse")(dense_vae(8, (4,), 2), (x,))


# -- bounds on log p(x) -------------------------------------------------------------------------
def test_iwae_bound_tightens_as_k_grows_and_k1_is_the_elbo(trained):
    vae, X = trained
    gen = torch.Generator().manual_seed(0)
    means = {k: iwae_log_likelihood(vae, X, k=k, generator=gen).mean().item() for k in (1, 10, 100)}
    assert means[1] < means[10] < means[100], means
    # real gaps, well above the Monte-Carlo noise of the means (~0.01 nats)
    assert means[10] - means[1] > 0.3 and means[100] - means[10] > 0.05, means
    elbo = -Trainer(random_state=0).evaluate(vae, ELBO("bce"), (X,))["loss"]
    assert means[1] == pytest.approx(elbo, abs=0.3), (means, elbo)


def test_iwae_decodes_in_chunks_and_matches_the_gaussian_elbo(digits):
    X = torch.from_numpy(digits[0])
    X = (X - X.mean(0)) / (X.std(0) + 1e-3)
    torch.manual_seed(0)
    vae = dense_vae(64, (32,), 4, output="identity")
    rows = []
    vae.decoder.register_forward_hook(lambda m, args, out: rows.append(args[0].shape[0]))
    gen = torch.Generator().manual_seed(0)
    iwae = iwae_log_likelihood(vae, X, k=40, batch_size=300, chunk_size=7, generator=gen)
    assert iwae.shape == (1797,) and max(rows) == 300 * 7
    assert iwae.mean().item() == pytest.approx(iwae_log_likelihood(vae, X, k=40, generator=gen).mean().item(), abs=0.2)
    elbo = elbo_per_sample(vae, X, n_draws=64, generator=gen).mean().item()
    single = iwae_log_likelihood(vae, X, k=1, generator=gen).mean().item()
    assert single == pytest.approx(elbo, abs=0.3) and elbo == pytest.approx(-Trainer().evaluate(vae, ELBO("mse"), (X,))["loss"], abs=0.5)
    with pytest.raises(ConfigError, match=r"k must be a positive integer; got 0"):
        iwae_log_likelihood(vae, X, k=0)


def test_elbo_per_sample_depends_on_each_row_only(trained):
    vae, X = trained
    X = X[:200]
    a = elbo_per_sample(vae, X, generator=torch.Generator().manual_seed(0))
    b = elbo_per_sample(vae, X.flip(0), batch_size=64, generator=torch.Generator().manual_seed(0))
    assert a.shape == (200,) and torch.allclose(a, b.flip(0), atol=1e-4)


def test_iwae_with_k_5000_on_mnist(mnist_dir):
    from layerwise import load_dataset

    X = torch.from_numpy(load_dataset("mnist", data_dir=mnist_dir).X[:2000])
    torch.manual_seed(0)
    vae = dense_vae(784, (128,), 16)
    Trainer(max_iter=3, batch_size=100, learning_rate_init=3e-3, random_state=0).fit(vae, ELBO("bce"), (X,))
    rows = []
    vae.decoder.register_forward_hook(lambda m, args, out: rows.append(args[0].shape[0]))
    gen = torch.Generator().manual_seed(0)
    ll = iwae_log_likelihood(vae, X[:4], k=5000, chunk_size=500, generator=gen)
    assert ll.shape == (4,) and torch.isfinite(ll).all() and max(rows) == 4 * 500 and len(rows) == 10
    assert (ll > iwae_log_likelihood(vae, X[:4], k=1, generator=gen)).all()


# -- greedy stacking --------------------------------------------------------------------------
def test_greedy_vae_stacks_latent_means_with_a_gaussian_upper_layer(digits_small, monkeypatch):
    import layerwise.pipeline.greedy as greedy_mod

    X = torch.from_numpy(digits_small[0])
    made = []
    real = greedy_mod.make_objective
    monkeypatch.setattr(greedy_mod, "make_objective", lambda *a, **k: made.append(real(*a, **k)) or made[-1])
    g = GreedyLayerwise((24, 6), objective="vae", objective_params={"hidden": 20}, trainer=Trainer(max_iter=2, random_state=0))
    stack = g.fit(X)
    assert [o.loss for o in made] == ["bce", "mse"]  # latent means are unbounded: Gaussian decoder above
    assert stack(X).shape == (300, 6) and stack.output == "logistic"
    assert stack.layers[0][0][0][0].out_features == 20 and isinstance(stack.layers[0][2], nn.Identity)
    assert {"recon", "kl"} <= set(g.history_[1][0])
    assert stack.unroll()(X).shape == X.shape
