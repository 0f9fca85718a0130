"""Freezing is respected: layers the user froze stay frozen in every fine-tuning mode."""

import pytest
import torch

from layerwise import ClassifierHead, GreedyLayerwise, Trainer, finetune, load_pretrained
from layerwise.nn import freeze
from layerwise.objectives import Classification
from layerwise.pipeline.greedy import random_stack


@pytest.fixture(scope="module")
def data(digits):
    X, y = digits
    return torch.from_numpy(X[:300]), torch.from_numpy(y[:300])


def _snapshot(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def _changed(before, module):
    return {k for k, v in module.state_dict().items() if not torch.equal(before[k], v)}


def _finetune(stack, data, mode="full"):
    return finetune(stack, ClassifierHead(16, 10), Classification(), data, mode=mode,
                    trainer=Trainer(max_iter=2, batch_size=50, random_state=0))


@pytest.fixture(scope="module")
def pretrained():
    torch.manual_seed(0)
    return random_stack(64, (32, 16))


@pytest.mark.parametrize("mode", ["full", "frozen"])
def test_layers_transferred_frozen_stay_frozen(data, pretrained, mode):
    """docs/transfer.md: transfer some layers, frozen, fine-tune the rest."""
    torch.manual_seed(1)
    stack = random_stack(64, (32, 16))
    report = load_pretrained(stack, pretrained, layers="layers.0", freeze=True)
    assert report.frozen == ["layers.0.0.weight", "layers.0.0.bias"]
    before = _snapshot(stack)
    _finetune(stack, data, mode)
    changed = _changed(before, stack)
    assert not any(k.startswith("layers.0.") for k in changed)
    assert (mode == "full") == ({"layers.1.0.weight", "layers.1.0.bias"} <= changed)
    assert not stack.layers[0][0].weight.requires_grad


def test_a_greedy_stack_trains_fully_unless_the_user_froze_a_layer(data):
    X, _ = data
    greedy = lambda: GreedyLayerwise((32, 16), trainer=Trainer(max_iter=1, batch_size=50, random_state=0)).fit(X)  # noqa: E731
    stack = greedy()  # frozen by pretraining: full fine-tuning trains every layer
    before = _snapshot(stack)
    _finetune(stack, data)
    assert {"layers.0.0.weight", "layers.1.0.weight"} <= _changed(before, stack)
    stack = greedy()
    stack.freeze(upto=1)  # the user's freeze of the first layer sticks
    before = _snapshot(stack)
    _finetune(stack, data)
    changed = _changed(before, stack)
    assert not any(k.startswith("layers.0.") for k in changed) and "layers.1.0.weight" in changed


def test_requires_grad_false_on_a_trainable_stack_sticks(data):
    torch.manual_seed(0)
    stack = random_stack(64, (32, 16))
    stack.layers[1][0].weight.requires_grad_(False)
    freeze(stack.layers[0])
    before = _snapshot(stack)
    _finetune(stack, data)
    assert _changed(before, stack) == {"layers.1.0.bias"}
    assert not stack.layers[0].training  # kept in eval mode: no dropout, no batch-norm updates


def test_a_saved_and_loaded_greedy_stack_still_fine_tunes_fully_and_a_user_freeze_still_sticks(data, tmp_path):
    import layerwise

    X, _ = data
    stack = GreedyLayerwise((32, 16), trainer=Trainer(max_iter=1, batch_size=50, random_state=0)).fit(X)
    stack.freeze(upto=1)  # the user's, on top of pretraining's
    loaded = layerwise.load(layerwise.save(stack, tmp_path / "stack"))
    before = _snapshot(loaded)
    _finetune(loaded, data)
    changed = _changed(before, loaded)
    assert not any(k.startswith("layers.0.") for k in changed) and "layers.1.0.weight" in changed
