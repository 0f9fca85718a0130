import math

import pytest
import torch

from layerwise.corruption import GaussianNoise, MaskingNoise, SaltAndPepper, make_corruption
from layerwise.exceptions import ConfigError
from layerwise.losses import kl_sparsity, l1_activity, reconstruction_loss


def test_bce_from_logits_matches_the_textbook_formula():
    x = torch.rand(4, 6)
    logits = torch.randn(4, 6)
    p = torch.sigmoid(logits)
    manual = -(x * p.log() + (1 - x) * (1 - p).log()).sum(1).mean()
    assert torch.allclose(reconstruction_loss(logits, x, "bce"), manual, atol=1e-5)


def test_bce_is_finite_for_saturated_units():
    logits = torch.tensor([[100.0, -100.0]])
    assert torch.isfinite(reconstruction_loss(logits, torch.tensor([[0.0, 1.0]]), "bce"))


def test_mse_is_summed_per_sample_and_averaged_over_the_batch():
    out, x = torch.ones(2, 3), torch.zeros(2, 3)
    assert reconstruction_loss(out, x, "mse").item() == 3.0
    with pytest.raises(ConfigError, match=r"Unknown reconstruction loss 'l2'; expected one of \['mse', 'bce'\]"):
        reconstruction_loss(out, x, "l2")


def test_l1_is_on_the_activations():
    codes = torch.tensor([[1.0, -2.0], [0.0, 3.0]])
    assert l1_activity(codes).item() == 3.0


def test_kl_sparsity_is_zero_at_the_target_and_positive_elsewhere():
    rho = 0.1
    assert kl_sparsity(torch.full((8, 5), rho), rho).abs().item() < 1e-6
    expected = 5 * (rho * math.log(rho / 0.5) + (1 - rho) * math.log((1 - rho) / 0.5))
    assert kl_sparsity(torch.full((8, 5), 0.5), rho).item() == pytest.approx(expected, rel=1e-5)


def test_masking_zeroes_about_p_of_the_inputs():
    x = torch.ones(200, 100)
    frac_zero = (MaskingNoise(0.3)(x) == 0).float().mean().item()
    assert 0.28 < frac_zero < 0.32


def test_salt_and_pepper_sets_low_or_high():
    x = torch.full((200, 100), 0.5)
    out = SaltAndPepper(0.2)(x)
    changed = out != 0.5
    assert 0.18 < changed.float().mean().item() < 0.22
    assert set(out[changed].unique().tolist()) == {0.0, 1.0}


def test_gaussian_noise_has_the_requested_std():
    x = torch.zeros(500, 200)
    assert GaussianNoise(0.2)(x).std().item() == pytest.approx(0.2, rel=0.02)


def test_corruption_errors():
    with pytest.raises(ConfigError, match=r"p must be in \[0, 1\); got 1.5"):
        MaskingNoise(1.5)
    with pytest.raises(ConfigError, match=r"Unknown corruption 'gauss'.*Did you mean 'gaussian'\?"):
        make_corruption("gauss", 0.1)
