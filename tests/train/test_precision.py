"""``precision="auto"``: bf16 where the hardware has it and the layers are big enough, fp32 elsewhere."""

import pytest
import torch
from torch import nn

from layerwise.train import Trainer
from layerwise.train import precision as precision_module
from layerwise.train.precision import MIN_BF16_WEIGHTS, fast_bf16, resolve_precision

CPU = torch.device("cpu")


@pytest.mark.parametrize("given", ["fp32", "bf16"])
def test_an_explicit_precision_is_kept(given):
    assert resolve_precision(given, CPU, nn.Linear(784, 1000)) == given


@pytest.mark.parametrize("fast", [True, False])
def test_auto_takes_bf16_only_for_big_layers_on_fast_hardware(monkeypatch, fast):
    monkeypatch.setattr(precision_module, "fast_bf16", lambda device: fast)
    assert resolve_precision("auto", CPU, nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 64))) == "fp32"
    big = nn.Linear(784, 512)
    assert big.weight.numel() >= MIN_BF16_WEIGHTS
    assert resolve_precision("auto", CPU, big) == ("bf16" if fast else "fp32")


def test_fast_bf16_answers_false_without_the_cpu_checks(monkeypatch):
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported", raising=False)
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported", raising=False)
    assert fast_bf16(CPU) is False
    assert fast_bf16(torch.device("meta")) is False


def test_the_trainer_records_its_choice(monkeypatch):
    monkeypatch.setattr(precision_module, "fast_bf16", lambda device: True)
    X = torch.rand(64, 784)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 784))
    seen = []

    def objective(model, batch):
        from layerwise.objectives.base import StepOutput
        out = model(batch[0])
        seen.append(out.dtype)
        return StepOutput(((out.float() - batch[0]) ** 2).mean(), {})

    trainer = Trainer(max_iter=1, batch_size=32, precision="auto")
    trainer.fit(model, objective, (X,))
    assert trainer.precision_ == "bf16" and seen[0] == torch.bfloat16
    small = Trainer(max_iter=1, batch_size=32)  # the Trainer's own default stays fp32
    small.fit(nn.Linear(784, 784), objective, (X,))
    assert small.precision_ == "fp32" and seen[-1] == torch.float32


def test_a_convolution_counts_its_positions(monkeypatch):
    monkeypatch.setattr(precision_module, "fast_bf16", lambda device: True)
    assert resolve_precision("auto", CPU, nn.Conv2d(64, 128, 3)) == "bf16"  # Conv-Small's largest kernel
    assert resolve_precision("auto", CPU, nn.Conv2d(1, 16, 3)) == "fp32"
