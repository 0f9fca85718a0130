"""Learning-rate schedules by name: checked before training, followed exactly, resumed bitwise."""

import json
import math

import pytest
import torch

from layerwise.exceptions import ConfigError
from layerwise.objectives import Reconstruction
from layerwise.train import AnnealLR, Callback, CosineLR, Trainer
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
    lambda: CosineLR(floor=0.1),
    lambda: AnnealLR(fraction=0.75),
], ids=["OneCycleLR-batch", "StepLR-epoch", "ReduceLROnPlateau", "CosineLR", "AnnealLR"])
@pytest.mark.parametrize("batch", [3, 0], ids=["mid-epoch", "epoch-boundary"])  # batch 0: the last checkpoint ended epoch 2
def test_killed_and_resumed_fit_is_bitwise_identical(tmp_path, digits_small, schedule, batch):
    X = torch.from_numpy(digits_small[0])
    ref, ref_trainer = _fit(X, [schedule()], ckpt=tmp_path / "ref")
    with pytest.raises(KeyboardInterrupt):
        _fit(X, [schedule(), Crash(epoch=2, batch=batch)], ckpt=tmp_path / "run")
    resumed, trainer = _fit(X, [schedule()], ckpt=tmp_path / "run", resume=True)
    for (k, a), b in zip(ref.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k
    assert trainer.optimizer_.param_groups[0]["lr"] == ref_trainer.optimizer_.param_groups[0]["lr"]
    assert [h["loss"] for h in trainer.history] == [h["loss"] for h in ref_trainer.history]
    if trainer.callbacks[0].interval == "epoch":  # a batch schedule's "lr" of a cut epoch is the rate it resumed at
        assert [h["lr"] for h in trainer.history] == [h["lr"] for h in ref_trainer.history]
    assert len({h["lr"] for h in ref_trainer.history}) > 1  # the schedule did change the rate


# -- CosineLR and AnnealLR: torch's LambdaLR, at the rates of the hand-written schedules they replaced --------
def _old_cosine(epoch, epochs, floor):
    """The rate factor CosineLR set by hand in each epoch's start, before it was torch's."""
    t = epoch / max(epochs, 1)
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * t))


def _old_anneal(epoch, epochs, fraction):
    total = max(epochs, 1)
    return min(1.0, (total - epoch) / max(1, int(round(fraction * total))))


class _Rates(Callback):
    """Every param group's rate as each epoch trains with it (after the schedule, first in the list, set it)."""

    def __init__(self):
        self.rates = []

    def on_epoch_start(self, trainer, model, epoch):
        self.rates.extend(g["lr"] for g in trainer.optimizer_.param_groups)


def _rates(schedule, epochs):
    model = torch.nn.Linear(2, 1)
    groups = [{"params": [model.weight], "lr": 0.003}, {"params": [model.bias]}]  # two rates, as with encoder_lr_scale
    seen = _Rates()
    Trainer(max_iter=epochs, batch_size=4, learning_rate_init=0.1, random_state=0, callbacks=[schedule, seen]).fit(
        model, _step, (torch.rand(4, 2),), params=groups)
    return seen.rates


def _step(model, batch):
    from layerwise.objectives import StepOutput

    return StepOutput(model(batch[0]).pow(2).mean(), {})


EPOCHS = [1, 2, 3, 4, 7, 10, 150]


@pytest.mark.parametrize("epochs", EPOCHS)
@pytest.mark.parametrize("floor", [0.0, 0.1, 0.2, 1.0])
def test_cosine_rates_are_the_old_formulas(epochs, floor):
    expected = [base * _old_cosine(e, epochs, floor) for e in range(epochs) for base in (0.003, 0.1)]
    assert _rates(CosineLR(floor=floor), epochs) == pytest.approx(expected, rel=0, abs=1e-12)


@pytest.mark.parametrize("epochs", EPOCHS)
@pytest.mark.parametrize("fraction", [1 / 3, 0.5, 0.75, 1.0, 0.01, 0.999, 1])  # 0.5 of 1 or 3 epochs: round() to even
def test_anneal_rates_are_the_old_formulas(epochs, fraction):
    expected = [base * _old_anneal(e, epochs, fraction) for e in range(epochs) for base in (0.003, 0.1)]
    assert _rates(AnnealLR(fraction=fraction), epochs) == pytest.approx(expected, rel=0, abs=1e-12)


def test_cosine_and_anneal_are_torch_schedulers_with_their_own_names():
    cosine, anneal = CosineLR(floor=0.2), AnnealLR(fraction=0.5)
    assert isinstance(cosine, LRScheduler) and cosine.cls is torch.optim.lr_scheduler.LambdaLR
    assert cosine.fingerprint() == {"lr_schedule": "CosineLR", "lr_schedule.floor": 0.2}
    assert anneal.fingerprint() == {"lr_schedule": "AnnealLR", "lr_schedule.fraction": 0.5}
    assert repr(cosine) == "CosineLR(floor=0.2)" and repr(anneal) == "AnnealLR(fraction=0.5)"
    from layerwise import train

    assert train.CosineLR is CosineLR and train.AnnealLR is AnnealLR
    with pytest.raises(ConfigError, match=r"fraction must be a number in \(0, 1\]; got 0"):
        AnnealLR(fraction=0)


@pytest.mark.parametrize("schedule", [lambda: CosineLR(floor=0.1), lambda: AnnealLR(fraction=0.75)], ids=["CosineLR", "AnnealLR"])
def test_a_resumed_fit_follows_a_larger_max_iter(tmp_path, digits_small, schedule):
    """``max_iter`` may grow on resume: the epochs left follow the schedule of the new length."""
    X = torch.from_numpy(digits_small[0])
    _fit(X, [schedule()], ckpt=tmp_path, epochs=2, lr=0.1)
    _, trainer = _fit(X, [schedule()], ckpt=tmp_path, epochs=5, lr=0.1, resume=True)
    factor = _old_cosine if isinstance(schedule(), CosineLR) else _old_anneal
    option = 0.1 if factor is _old_cosine else 0.75
    expected = [0.1 * factor(e, 2, option) for e in range(2)] + [0.1 * factor(e, 5, option) for e in range(2, 5)]
    assert [h["lr"] for h in trainer.history] == pytest.approx(expected, rel=0, abs=1e-12)


def test_a_checkpoint_without_scheduler_state_catches_up(tmp_path, digits_small):
    """A checkpoint written when CosineLR set the rates by hand kept no state for it: the resumed fit still
    trains each epoch at its rate, to the weights of an uninterrupted fit."""
    X = torch.from_numpy(digits_small[0])
    ref, ref_trainer = _fit(X, [CosineLR(floor=0.1)], lr=0.01)
    with pytest.raises(KeyboardInterrupt):
        _fit(X, [CosineLR(floor=0.1), Crash(epoch=2, batch=0)], ckpt=tmp_path, lr=0.01)
    meta = json.loads((tmp_path / "checkpoint.json").read_text())
    assert meta["callbacks"]["CosineLR/0"]["scheduler"]["last_epoch"] == 2
    meta["callbacks"]["CosineLR/0"] = {}  # what the hand-written CosineLR saved
    (tmp_path / "checkpoint.json").write_text(json.dumps(meta))
    resumed, trainer = _fit(X, [CosineLR(floor=0.1)], ckpt=tmp_path, lr=0.01, resume=True)
    assert [h["lr"] for h in trainer.history] == [h["lr"] for h in ref_trainer.history]
    assert all(torch.equal(a, b) for a, b in zip(ref.state_dict().values(), resumed.state_dict().values()))
