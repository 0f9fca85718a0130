"""Learning-rate schedules by name: checked before training, followed exactly, resumed bitwise."""

import json

import pytest
import torch

from layerwise.exceptions import ConfigError
from layerwise.objectives import Reconstruction
from layerwise.train import Callback, Trainer
from layerwise.train.loggers import JSONLinesLogger
from layerwise.train.schedules import SCHEDULERS, LRScheduler, _decode, _encode

from ..conftest import boring_autoencoder

# the smallest arguments each scheduler needs
MINIMAL = {
    "ConstantLR": {},
    "CosineAnnealingLR": {"T_max": 4},
    "CosineAnnealingWarmRestarts": {"T_0": 2},
    "CyclicLR": {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 2},
    "ExponentialLR": {"gamma": 0.9},
    "LambdaLR": {"lr_lambda": lambda e: 0.9**e},
    "LinearLR": {},
    "MultiStepLR": {"milestones": [2, 5]},
    "MultiplicativeLR": {"lr_lambda": lambda e: 0.95},
    "OneCycleLR": {"max_lr": 0.1, "total_steps": 20},
    "PolynomialLR": {"total_iters": 6},
    "ReduceLROnPlateau": {"patience": 0},
    "StepLR": {"step_size": 2},
}


def test_every_scheduler_is_covered():
    assert set(MINIMAL) == set(SCHEDULERS)


@pytest.mark.parametrize(("args", "kwargs", "message"), [
    (("steplr",), {}, r"Unknown learning-rate scheduler 'steplr'; expected a class name of torch.optim.lr_scheduler, "
                      r"one of \['ConstantLR', .*'StepLR'\]. Did you mean 'StepLR'\?"),
    (("SequentialLR",), {}, r"Unknown learning-rate scheduler 'SequentialLR'"),
    (("StepLR", {"step_sise": 3}), {}, r"StepLR got unknown argument\(s\) \['step_sise'\]; it accepts \['step_size', 'gamma'\]. "
                                       r"Did you mean 'step_size'\?"),
    (("StepLR",), {}, r"StepLR needs the argument\(s\) \['step_size'\]; got \[\]"),
    (("StepLR",), {"step_size": 2, "last_epoch": 3}, r"\['last_epoch'\] \(last_epoch is set by the trainer"),
    (("StepLR", [("step_size", 2)]), {}, r"params of LRScheduler\('StepLR'\) must be a dict"),
    (("OneCycleLR",), {"max_lr": 0.1, "pct_start": 3}, r"OneCycleLR\(max_lr=0.1, pct_start=3\) was refused by PyTorch: .*pct_start"),
    (("OneCycleLR",), {"max_lr": 0.1, "interval": "batch"}, r"OneCycleLR with interval='batch' needs total_steps"),
    (("CosineAnnealingLR",), {"interval": "batch"}, r"CosineAnnealingLR needs the argument\(s\) \['T_max'\] \(T_max defaults "
                                                    r"to the trainer's max_iter only with interval='epoch'\)"),
    (("ReduceLROnPlateau",), {"interval": "batch"}, r"ReduceLROnPlateau watches an epoch metric.*Use interval='epoch'"),
    (("StepLR",), {"step_size": 2, "interval": "step"}, r"interval must be one of \['epoch', 'batch'\]; got 'step'"),
])
def test_names_and_arguments_are_checked_before_training(args, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        LRScheduler(*args, **kwargs)


@pytest.mark.parametrize("name", sorted(MINIMAL))
def test_every_scheduler_state_survives_a_json_checkpoint(name):
    def make():
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
        return opt, SCHEDULERS[name](opt, **MINIMAL[name])

    def step(opt, sched, i):
        opt.step()
        sched.step(1.0 / (i + 1)) if name == "ReduceLROnPlateau" else sched.step()
        return opt.param_groups[0]["lr"]

    opt, sched = make()
    for i in range(5):
        step(opt, sched, i)
    tensors = {}
    state = json.loads(json.dumps(_encode(sched.state_dict(), tensors, "")))
    opt2, sched2 = make()
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(_decode(state, tensors))
    assert [step(opt, sched, i) for i in range(5, 9)] == [step(opt2, sched2, i) for i in range(5, 9)]


def _fit(X, callbacks, ckpt=None, resume=False, epochs=4, lr=1e-3):
    torch.manual_seed(0)
    trainer = Trainer(max_iter=epochs, batch_size=50, learning_rate_init=lr, random_state=1, checkpoint_dir=ckpt, checkpoint_every=2,
                      callbacks=callbacks)
    model = boring_autoencoder()
    trainer.fit(model, Reconstruction("bce"), (X[:250],), val=(X[250:],), resume=resume)
    return model, trainer


def test_epoch_schedule_sets_each_epochs_rate(tmp_path, digits_small):
    X = torch.from_numpy(digits_small[0])
    _, trainer = _fit(X, [LRScheduler("StepLR", step_size=2, gamma=0.5), JSONLinesLogger(tmp_path / "m.jsonl")], lr=0.1)
    rates = [json.loads(line)["lr"] for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert rates == [0.1, 0.1, 0.05, 0.05]
    assert trainer.optimizer_.param_groups[0]["lr"] == 0.025


def test_cosine_fills_t_max_from_max_iter(digits_small):
    X = torch.from_numpy(digits_small[0])
    _, trainer = _fit(X, [cb := LRScheduler("CosineAnnealingLR")], epochs=3, lr=0.1)
    assert cb.scheduler_.T_max == 3 and trainer.optimizer_.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)


def test_reduce_on_plateau_watches_the_monitored_log(digits_small):
    X = torch.from_numpy(digits_small[0])
    # the validation loss falls every epoch: in "min" mode no plateau; in "max" mode every epoch after the
    # first is one, and patience=0 cuts the rate at once (twice in 3 epochs)
    _, trainer = _fit(X, [LRScheduler("ReduceLROnPlateau", patience=0, mode="min", monitor="val_loss")], epochs=3)
    assert trainer.optimizer_.param_groups[0]["lr"] == 1e-3
    _, trainer = _fit(X, [LRScheduler("ReduceLROnPlateau", patience=0, mode="max", monitor="val_loss")], epochs=3)
    assert trainer.optimizer_.param_groups[0]["lr"] == pytest.approx(1e-5)


class Crash(Callback):
    def __init__(self, epoch, batch):
        self.epoch, self.batch, self.current = epoch, batch, 0

    def on_epoch_start(self, trainer, model, epoch):
        self.current = epoch

    def on_batch_end(self, trainer, model, batch_idx, loss):
        if (self.current, batch_idx) == (self.epoch, self.batch):
            raise KeyboardInterrupt


@pytest.mark.parametrize("schedule", [
    lambda: LRScheduler("OneCycleLR", max_lr=0.01, total_steps=20, interval="batch"),
    lambda: LRScheduler("StepLR", step_size=3, gamma=0.5),
    lambda: LRScheduler("ReduceLROnPlateau", patience=0, threshold=0.05),
], ids=["OneCycleLR-batch", "StepLR-epoch", "ReduceLROnPlateau"])
def test_killed_and_resumed_fit_is_bitwise_identical(tmp_path, digits_small, schedule):
    X = torch.from_numpy(digits_small[0])
    ref, ref_trainer = _fit(X, [schedule()], ckpt=tmp_path / "ref")
    with pytest.raises(KeyboardInterrupt):
        _fit(X, [schedule(), Crash(epoch=2, batch=3)], ckpt=tmp_path / "run")
    resumed, trainer = _fit(X, [schedule()], ckpt=tmp_path / "run", resume=True)
    for (k, a), b in zip(ref.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k
    assert trainer.optimizer_.param_groups[0]["lr"] == ref_trainer.optimizer_.param_groups[0]["lr"]
    assert [h["loss"] for h in trainer.history] == [h["loss"] for h in ref_trainer.history]
