"""The thread policy: one torch thread while a small network trains, torch's own count for large ones."""

import pytest
import torch
from torch import nn

from layerwise.train import Trainer
from layerwise.train.threads import MIN_PARALLEL_WEIGHTS, ThreadPolicy


@pytest.fixture
def two_threads(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("LAYERWISE_THREADS", raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_a_small_network_trains_on_one_thread_and_the_count_is_restored(two_threads):
    seen = []

    def objective(model, batch):
        from layerwise.objectives.base import StepOutput
        seen.append(torch.get_num_threads())
        return StepOutput(((model(batch[0]) - batch[0]) ** 2).mean(), {})

    Trainer(max_iter=1, batch_size=16).fit(nn.Linear(64, 64), objective, (torch.rand(32, 64),))
    assert set(seen) == {1} and torch.get_num_threads() == 2
    big = nn.Linear(784, 784)
    assert big.weight.numel() >= MIN_PARALLEL_WEIGHTS
    Trainer(max_iter=1, batch_size=16).fit(big, objective, (torch.rand(32, 784),))
    assert seen[-1] == 2


@pytest.mark.parametrize("env", ["OMP_NUM_THREADS", "LAYERWISE_THREADS"])
def test_a_user_choice_leaves_the_count_alone(two_threads, monkeypatch, env):
    monkeypatch.setenv(env, "2" if env == "OMP_NUM_THREADS" else "fixed")
    with ThreadPolicy(nn.Linear(8, 8)) as policy:
        assert policy.threads == 2 and torch.get_num_threads() == 2


def test_the_count_is_restored_after_an_error(two_threads):
    with pytest.raises(RuntimeError, match="boom"):
        with ThreadPolicy(nn.Linear(8, 8)):
            assert torch.get_num_threads() == 1
            raise RuntimeError("boom")
    assert torch.get_num_threads() == 2
