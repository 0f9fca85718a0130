"""Semi-supervised fine-tuning (objectives/semi.py) and its wiring in finetune()."""

import pytest
import torch

from layerwise.corruption import make_corruption
from layerwise.exceptions import ConfigError, DataError
from layerwise.nn import ClassifierHead
from layerwise.objectives import Classification, SemiSupervised
from layerwise.pipeline.finetune import finetune
from layerwise.pipeline.greedy import GreedyLayerwise
from layerwise.train import Trainer


def _stack(X):
    return GreedyLayerwise((32, 16), trainer=Trainer(max_iter=3, random_state=0)).fit(X)


def _data(digits_small):
    X, y = (torch.from_numpy(a) for a in digits_small)
    return X, y


@torch.no_grad()
def _reconstruction_error(stack, X):
    deep = stack.unroll().eval()
    return float((deep(X) - X).pow(2).sum(dim=1).mean())


def test_weight_zero_is_plain_fine_tuning_bitwise(digits_small):
    X, y = _data(digits_small)
    plain, _ = finetune(_stack(X), ClassifierHead(16, 10), Classification(), (X[:60], y[:60]), trainer=Trainer(max_iter=3, random_state=0))
    semi, _ = finetune(_stack(X), ClassifierHead(16, 10), SemiSupervised(Classification(), X, weight=0.0), (X[:60], y[:60]),
                       trainer=Trainer(max_iter=3, random_state=0))
    for (k, a), b in zip(plain.state_dict().items(), semi.state_dict().values()):
        assert torch.equal(a, b), k


def test_reconstruction_cost_keeps_the_stack_describing_the_data(digits_small):
    """Fine-tuned on 60 labels with a high learning rate, the plain stack forgets how to reconstruct; the semi-supervised one less so."""
    X, y = _data(digits_small)
    errors = {}
    for name, objective in {"plain": Classification(), "semi": SemiSupervised(Classification(), X, weight=5.0, corruption=make_corruption("masking", 0.2))}.items():
        stack = _stack(X)
        model, history = finetune(stack, ClassifierHead(16, 10), objective, (X[:60], y[:60]), trainer=Trainer(max_iter=40, learning_rate_init=1e-2, batch_size=30, random_state=0))
        errors[name] = _reconstruction_error(stack, X)
        if name == "semi":
            assert "reconstruction" in history[-1] and history[-1]["reconstruction"] < history[0]["reconstruction"]
    assert errors["semi"] < errors["plain"]


def test_the_returned_model_is_stack_then_head_without_decoder(digits_small):
    X, y = _data(digits_small)
    model, _ = finetune(_stack(X), ClassifierHead(16, 10), SemiSupervised(Classification(), X), (X[:60], y[:60]), trainer=Trainer(max_iter=1, random_state=0))
    assert [name for name, _ in model.named_children()] == ["stack", "head"]
    assert model(X[:5]).shape == (5, 10)


def test_validation_loss_is_the_supervised_loss_alone(digits_small):
    X, y = _data(digits_small)
    _, history = finetune(_stack(X), ClassifierHead(16, 10), SemiSupervised(Classification(), X, weight=100.0), (X[:60], y[:60]),
                          val=(X[60:120], y[60:120]), trainer=Trainer(max_iter=2, random_state=0))
    assert history[-1]["val_loss"] < 10 < history[-1]["loss"]  # cross-entropy of 10 classes vs 100 x reconstruction


def test_frozen_mode_is_refused(digits_small):
    X, y = _data(digits_small)
    with pytest.raises(ConfigError, match="mode='frozen' forbids; use mode='full'"):
        finetune(_stack(X), ClassifierHead(16, 10), SemiSupervised(Classification(), X), (X[:60], y[:60]), mode="frozen")


def test_a_stack_without_unroll_is_refused(digits_small):
    X, y = _data(digits_small)
    with pytest.raises(ConfigError, match="needs a stack that can be unrolled"):
        finetune(torch.nn.Linear(64, 16), ClassifierHead(16, 10), SemiSupervised(Classification(), X), (X[:60], y[:60]))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"X_unlabeled": [[0.0]]}, DataError, "X_unlabeled must be a tensor of shape"),
    ({"X_unlabeled": torch.zeros(0, 4)}, DataError, "at least one row"),
    ({"weight": -1.0}, ConfigError, "weight must be a number >= 0"),
    ({"batch_size": 0}, ConfigError, "batch_size must be a positive integer"),
])
def test_bad_options_are_refused(kwargs, error, match):
    args = {"X_unlabeled": torch.zeros(10, 4), **kwargs}
    with pytest.raises(error, match=match):
        SemiSupervised(Classification(), **args)
