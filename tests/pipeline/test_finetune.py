import pytest
import torch

from layerwise.exceptions import ConfigError
from layerwise.nn import ClassifierHead
from layerwise.objectives import Classification
from layerwise.pipeline.finetune import finetune
from layerwise.pipeline.greedy import GreedyLayerwise
from layerwise.train import Trainer


@pytest.fixture
def stack(digits_small):
    X = torch.from_numpy(digits_small[0])
    return GreedyLayerwise((32, 16), trainer=Trainer(max_iter=3, random_state=0)).fit(X)


def _snapshot(m):
    return {k: v.clone() for k, v in m.state_dict().items()}


def test_frozen_mode_leaves_the_stack_unchanged(stack, digits_small):
    X, y = (torch.from_numpy(a) for a in digits_small)
    before = _snapshot(stack)
    head = ClassifierHead(16, 10)
    head_before = _snapshot(head)
    model, hist = finetune(stack, head, Classification(), (X, y), mode="frozen", trainer=Trainer(max_iter=5, learning_rate_init=1e-2, random_state=0))
    assert all(torch.equal(before[k], v) for k, v in stack.state_dict().items())
    assert not all(torch.equal(head_before[k], v) for k, v in head.state_dict().items())
    assert not stack.training and not any(p.requires_grad for p in stack.parameters())
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert model(X).shape == (300, 10)


def test_full_mode_trains_every_layer(stack, digits_small):
    X, y = (torch.from_numpy(a) for a in digits_small)
    before = _snapshot(stack)
    finetune(stack, ClassifierHead(16, 10), Classification(), (X, y), mode="full", trainer=Trainer(max_iter=2, random_state=0))
    assert all(not torch.equal(before[k], v) for k, v in stack.state_dict().items() if k.startswith("layers"))


def test_encoder_lr_scale_zero_keeps_the_encoder(stack, digits_small):
    X, y = (torch.from_numpy(a) for a in digits_small)
    before = _snapshot(stack)
    finetune(stack, ClassifierHead(16, 10), Classification(), (X, y), mode="full", encoder_lr_scale=0.0, trainer=Trainer(max_iter=2, random_state=0))
    assert all(torch.equal(before[k], v) for k, v in stack.state_dict().items())


def test_bad_mode(stack):
    with pytest.raises(ConfigError, match=r"mode must be one of \['frozen', 'full'\]; got 'partial'"):
        finetune(stack, ClassifierHead(16, 10), Classification(), (torch.zeros(2, 64), torch.zeros(2)), mode="partial")
