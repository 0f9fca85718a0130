"""The ladder's options that change its training step (Rasmus et al. 2015): ``input_noise_std``."""

import pytest
import torch

from layerwise.objectives import ConvLadder, Ladder


@pytest.mark.parametrize("method, shape", [(Ladder, (6, 16)), (ConvLadder, (6, 64))])
def test_input_noise_std_corrupts_the_input_alone(method, shape):
    kwargs = {"image_shape": (1, 8, 8)} if method is ConvLadder else {}
    objective = method(noise_std=0.3, input_noise_std=0.0, **kwargs)
    net = objective.build_model(shape[1], (8,) if method is Ladder else (), 3)
    x = torch.rand(*shape)
    torch.manual_seed(0)
    clean_input = net.encode(x, objective.noise_std, input_noise_std=objective.input_noise_std).z[0]
    torch.manual_seed(0)
    noisy_input = net.encode(x, objective.noise_std).z[0]  # None: noise_std at the input too, as the paper
    assert torch.equal(clean_input.reshape(shape), x) and not torch.equal(noisy_input.reshape(shape), x)


def test_input_noise_std_defaults_to_the_papers_same_noise_everywhere():
    assert Ladder().input_noise_std is None and Ladder(input_noise_std=1).input_noise_std == 1.0


def test_a_huge_input_noise_is_named_when_the_fit_diverges():
    cause = Ladder(noise_std=0.2, input_noise_std=1e6).divergence_cause()
    assert cause.startswith("input_noise_std=1e+06: the ladder adds Gaussian noise of that standard deviation to its input")
    assert cause.endswith("Lower semi_supervised_params['input_noise_std']")
