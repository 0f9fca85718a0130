"""Contractive autoencoder (Rifai et al. 2011) and noise2noise targets (Lehtinen et al. 2018)."""

import pytest
import torch
from torch import nn

from layerwise.corruption import make_corruption
from layerwise.exceptions import ConfigError, DataError
from layerwise.losses import contractive_penalty, jacobian_frobenius
from layerwise.nn import dense_autoencoder, dense_block
from layerwise.objectives import Reconstruction, make_objective
from layerwise.objectives.reconstruction import encode_contractive
from layerwise.train import Trainer


def _explicit_penalty(encoder, x):
    """||dh/dx||_F^2 per sample, batch mean, one full Jacobian per row (the definition)."""
    total = 0.0
    for row in x:
        jac = torch.autograd.functional.jacobian(lambda r: encoder(r.unsqueeze(0)).squeeze(0), row)
        total += jac.pow(2).sum()
    return total / len(x)


@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
def test_closed_form_matches_the_jacobian_and_its_gradient(activation, digits_small):
    x = torch.from_numpy(digits_small[0][:20])
    enc = dense_block(64, 12, activation)
    h = enc(x)
    closed = contractive_penalty(h, enc[0].weight, activation)
    generic = jacobian_frobenius(enc, x)
    torch.testing.assert_close(closed, _explicit_penalty(enc, x))
    torch.testing.assert_close(closed, generic)
    g_closed = torch.autograd.grad(closed, enc[0].weight)[0]
    g_generic = torch.autograd.grad(jacobian_frobenius(enc, x), enc[0].weight)[0]
    torch.testing.assert_close(g_closed, g_generic)
    assert g_closed.abs().sum() > 0


def test_encode_contractive_uses_the_closed_form_for_dense_blocks_only(monkeypatch, digits_small):
    import layerwise.objectives.reconstruction as rec

    x = torch.from_numpy(digits_small[0][:8])
    calls = []
    monkeypatch.setattr(rec, "jacobian_frobenius", lambda fn, x: calls.append(fn) or jacobian_frobenius(fn, x))
    dense = dense_block(64, 6, "logistic", dropout=0.5).eval()
    codes, pen = encode_contractive(dense, x)
    assert calls == [] and torch.equal(codes, dense(x))
    deep = nn.Sequential(dense_block(64, 16, "tanh"), dense_block(16, 4, "logistic"))
    codes, pen = encode_contractive(deep, x)
    assert calls == [deep] and codes.shape == (8, 4)
    torch.testing.assert_close(pen, _explicit_penalty(deep, x))


def test_contractive_training_shrinks_the_jacobian_on_digits(digits_small):
    X = torch.from_numpy(digits_small[0])
    result = {}
    for weight in (0.0, 1.0):
        torch.manual_seed(0)
        ae = dense_autoencoder(64, 32, activation="logistic", output="logistic")
        hist = Trainer(max_iter=20, batch_size=32, learning_rate_init=3e-3, random_state=0).fit(ae, Reconstruction("bce", contractive_weight=weight), (X,))
        with torch.no_grad():
            result[weight] = (hist, contractive_penalty(ae.encode(X), ae.encoder[0].weight, "logistic").item())
    hist, penalty = result[1.0]
    assert penalty < 0.5 * result[0.0][1]
    assert "contractive" in hist[0] and "contractive" not in result[0.0][0][0]
    assert hist[-1]["recon"] < 0.8 * hist[0]["recon"]  # it still learns to reconstruct


def test_contractive_objective_trains_a_generic_encoder_through_torch_func(digits_small):
    from layerwise.nn import AutoEncoder

    X = torch.from_numpy(digits_small[0])
    ae = AutoEncoder(nn.Sequential(dense_block(64, 16, "tanh"), dense_block(16, 8, "tanh")), nn.Linear(8, 64), "logistic")
    obj = make_objective("contractive", {"weight": 0.5}, loss="bce")
    hist = Trainer(max_iter=5, batch_size=50, learning_rate_init=3e-3, random_state=0).fit(ae, obj, (X,))
    assert hist[-1]["loss"] < hist[0]["loss"] and hist[-1]["contractive"] > 0
    # torch.func's jacrev still differentiates inside the evaluation's no_grad
    assert Trainer().evaluate(ae, obj, (X,))["contractive"] > 0


def test_contractive_errors():
    with pytest.raises(ConfigError, match=r"contractive_weight must be >= 0; got -1"):
        Reconstruction(contractive_weight=-1)
    with pytest.raises(ConfigError, match=r"contractive_weight must be >= 0; got -0.5"):
        make_objective("contractive", {"weight": -0.5})
    with pytest.raises(ConfigError, match=r"closed form for activations .*got 'softplus'. Use jacobian_frobenius"):
        contractive_penalty(torch.zeros(2, 3), torch.zeros(3, 4), "softplus")
    with pytest.raises(ConfigError, match=r"needs codes \(batch, n_hidden\) and weight \(n_hidden, n_in\); got codes \(2, 3\) and weight \(4, 3\)"):
        contractive_penalty(torch.zeros(2, 3), torch.zeros(4, 3), "relu")


# -- noise2noise ---------------------------------------------------------------------


def test_noise2noise_target_is_a_second_independent_corruption():
    obj = make_objective("denoising", {"noise": "gaussian", "level": 0.2, "noise2noise": True}, loss="mse")
    x = torch.rand(500, 64)
    x_in, target = obj.pair(x, training=True)
    for noisy in (x_in, target):
        assert not torch.equal(noisy, x)
        assert abs((noisy - x).std().item() - 0.2) < 0.01 and abs((noisy - x).mean().item()) < 0.01
    # independent draws: the two noises are uncorrelated, not the same noise twice
    corr = torch.corrcoef(torch.stack([(x_in - x).flatten(), (target - x).flatten()]))[0, 1]
    assert abs(corr.item()) < 0.02
    # eval mode: clean input and target
    assert all(t is x for t in obj.pair(x, training=False))
    # a plain denoising objective keeps the clean target
    plain = make_objective("denoising", {"noise": "gaussian", "level": 0.2}, loss="mse")
    assert plain.pair(x, training=True)[1] is x


def test_noise2noise_learns_to_denoise_without_clean_targets(digits):
    X = torch.from_numpy(digits[0])
    train, test = X[:1500], X[1500:]
    noise = make_corruption("gaussian", 0.3)
    ae = dense_autoencoder(64, 32, activation="relu", output="identity")
    obj = Reconstruction("mse", corruption=noise, noise2noise=True)
    hist = Trainer(max_iter=30, batch_size=64, learning_rate_init=3e-3, random_state=0).fit(ae, obj, (train,))
    assert hist[-1]["recon"] < 0.8 * hist[0]["recon"]
    torch.manual_seed(1)
    noisy = noise(test)
    with torch.no_grad():
        denoised = ae(noisy)
    err = lambda a: (a - test).pow(2).sum(1).mean().item()  # noqa: E731
    # the clean test images were never a target, yet the output is far closer to them than the input was
    assert err(denoised) < 0.5 * err(noisy)


def test_noise2noise_errors():
    with pytest.raises(ConfigError, match=r"noise2noise=True needs a corruption .*got corruption=None"):
        Reconstruction(noise2noise=True)
    ae = dense_autoencoder(64, 8, output="logistic")
    obj = make_objective("denoising", {"noise": "gaussian", "level": 0.5, "noise2noise": True}, loss="bce")
    with pytest.raises(DataError, match=r"noise2noise with loss='bce' needs noisy targets in \[0, 1\]; the corruption gave values in \[-"):
        obj(ae, (torch.rand(16, 64),))
    # masking noise stays in [0, 1]: fine with bce
    ok = make_objective("denoising", {"noise": "masking", "level": 0.3, "noise2noise": True}, loss="bce")
    assert torch.isfinite(ok(ae, (torch.rand(16, 64),)).loss)
