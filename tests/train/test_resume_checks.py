"""Resume checks what it resumes: other data or settings are refused; a re-used folder never resumes a stale run."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from layerwise import GreedyLayerwise, PretrainedClassifier, Trainer
from layerwise.exceptions import CheckpointError
from layerwise.objectives import Reconstruction
from layerwise.train import Callback
from layerwise.train.callbacks import EarlyStopping
from layerwise.train.schedules import AnnealLR, CosineLR, LRScheduler

from ..conftest import boring_autoencoder

ROOT = Path(__file__).resolve().parents[2]
SMALL = dict(pretrain_max_iter=1, max_iter=2, batch_size=50, random_state=0)


class StopAt(Callback):
    """Raise KeyboardInterrupt at the start of the ``n``-th fit that uses it (a greedy stage) and epoch ``epoch``."""

    def __init__(self, fit: int, epoch: int = 0):
        self.fit, self.epoch, self.fits = fit, epoch, 0

    def on_fit_start(self, trainer, model):
        self.fits += 1

    def on_epoch_start(self, trainer, model, epoch):
        if (self.fits, epoch) == (self.fit, self.epoch):
            raise KeyboardInterrupt


def test_other_data_is_refused(tmp_path, digits):
    X, y = digits
    PretrainedClassifier((16,), **SMALL).fit(X[:300], y[:300], checkpoint_dir=tmp_path)
    with pytest.raises(CheckpointError, match=r"Cannot resume from .*pretrain.stage_1: its checkpoint was written by a fit with "
                                              r"other data or settings:\n- train\[0\]: shape \(300, 64\) float32 \(sha256 \w+\) in the "
                                              r"checkpoint, shape \(300, 64\) float32 \(sha256 \w+\) now\n[\s\S]*to start over, fit "
                                              r"without resume=True \(which replaces these checkpoints\)"):
        PretrainedClassifier((16,), **SMALL).fit(X[300:600], y[300:600], checkpoint_dir=tmp_path, resume=True)
    # the same data resumes (here: nothing left to train) to the same model
    a = PretrainedClassifier((16,), **SMALL).fit(X[:300], y[:300], checkpoint_dir=tmp_path, resume=True)
    b = PretrainedClassifier((16,), **SMALL).fit(X[:300], y[:300])
    assert np.array_equal(a.predict_proba(X[:50]), b.predict_proba(X[:50]))


@pytest.mark.parametrize("change, line", [
    ({"learning_rate_init": 0.01}, r"trainer\.learning_rate_init: 0\.001 in the checkpoint, 0\.01 now"),
    ({"solver": "sgd"}, r"trainer\.solver: 'adam' in the checkpoint, 'sgd' now"),
    ({"alpha": 1e-4}, r"trainer\.alpha: 0\.0 in the checkpoint, 0\.0001 now"),
])
def test_new_settings_are_refused_not_ignored(tmp_path, digits_small, change, line):
    X = torch.from_numpy(digits_small[0])
    settings = dict(max_iter=2, batch_size=50, random_state=0, checkpoint_dir=tmp_path)
    Trainer(**settings).fit(boring_autoencoder(), Reconstruction("bce"), (X,))
    with pytest.raises(CheckpointError, match=line):
        Trainer(**{**settings, **change}).fit(boring_autoencoder(), Reconstruction("bce"), (X,), resume=True)


def test_a_new_learning_rate_in_an_estimator_is_refused(tmp_path, digits_small):
    X, y = digits_small
    PretrainedClassifier((16,), **SMALL).fit(X, y, checkpoint_dir=tmp_path)
    with pytest.raises(CheckpointError, match=r"trainer\.learning_rate_init: 0\.001 in the checkpoint, 0\.01 now"):
        PretrainedClassifier((16,), **{**SMALL, "learning_rate_init": 0.01}).fit(X, y, checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(CheckpointError, match=r"model\.stack\.layers\.0\.0\.weight: \[16, 64\] in the checkpoint, \[8, 64\] now"):
        PretrainedClassifier((8,), **{**SMALL, "pretrain": None}).fit(X, y, checkpoint_dir=tmp_path, resume=True)


def test_max_iter_may_grow_on_resume(tmp_path, digits_small):
    """``max_iter`` says when to stop: a finished fit resumes to train longer, to the same weights as one long fit."""
    X = torch.from_numpy(digits_small[0])
    settings = dict(batch_size=50, random_state=0, checkpoint_dir=tmp_path)
    torch.manual_seed(0)
    Trainer(max_iter=1, **settings).fit(boring_autoencoder(), Reconstruction("bce"), (X,))
    torch.manual_seed(0)
    longer = boring_autoencoder()
    hist = Trainer(max_iter=2, **settings).fit(longer, Reconstruction("bce"), (X,), resume=True)
    torch.manual_seed(0)
    ref = boring_autoencoder()
    ref_hist = Trainer(max_iter=2, batch_size=50, random_state=0).fit(ref, Reconstruction("bce"), (X,))
    assert [h["loss"] for h in hist] == [h["loss"] for h in ref_hist]
    assert all(torch.equal(a, b) for a, b in zip(ref.state_dict().values(), longer.state_dict().values()))


def test_a_reused_folder_never_resumes_the_stale_stage_of_another_seed(tmp_path, digits_small):
    """Run A (seed 0) finishes both stages; run B (seed 1) starts in the same folder, is interrupted in
    stage 1 and resumed: stage 2 must be trained for B, not restored from A."""
    X = torch.from_numpy(digits_small[0])

    def greedy(seed, callbacks=()):
        return GreedyLayerwise((16, 8), checkpoint_dir=tmp_path / "run", trainer=Trainer(
            max_iter=2, batch_size=50, random_state=seed, callbacks=list(callbacks)))

    greedy(0).fit(X)
    with pytest.raises(KeyboardInterrupt):
        greedy(1, [StopAt(fit=1, epoch=1)]).fit(X)
    resumed = greedy(1).fit(X, resume=True)
    ref = GreedyLayerwise((16, 8), trainer=Trainer(max_iter=2, batch_size=50, random_state=1)).fit(X)
    a, b = ref.state_dict(), resumed.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_fit_that_starts_over_removes_the_old_finetuning_checkpoint(tmp_path, digits_small):
    X, y = digits_small
    PretrainedClassifier((16,), **SMALL).fit(X, y, checkpoint_dir=tmp_path)
    assert (tmp_path / "finetune" / "checkpoint.json").is_file()

    class StopInPretraining(Callback):
        def on_epoch_start(self, trainer, model, epoch):
            if trainer.desc.startswith("pretrain"):
                raise KeyboardInterrupt

    clf = PretrainedClassifier((16,), **{**SMALL, "random_state": 1}, callbacks=[StopInPretraining()])
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y, checkpoint_dir=tmp_path)
    assert not (tmp_path / "finetune" / "checkpoint.json").exists() and not (tmp_path / "pretrain" / "stage_1" / "checkpoint.json").exists()


# -- the learning-rate schedule and the other callbacks that change the result (issue "Trust, part two", item 5) --
def _fit(tmp_path, X, callbacks, resume=False):
    return Trainer(max_iter=2, batch_size=50, random_state=0, checkpoint_dir=tmp_path, callbacks=callbacks).fit(
        boring_autoencoder(), Reconstruction("bce"), (X,), resume=resume)


@pytest.mark.parametrize("before, after, line", [
    # a changed decay factor was silently replaced by the checkpoint's scheduler state
    ([LRScheduler("StepLR", step_size=1, gamma=0.5)], [LRScheduler("StepLR", step_size=1, gamma=0.1)],
     r"\n- lr_schedule\.gamma: 0\.5 in the checkpoint, 0\.1 now\n"),
    # another schedule gave a run that was neither (the new schedule from its start, on the old one's rates)
    ([LRScheduler("StepLR", step_size=1, gamma=0.5)], [LRScheduler("ExponentialLR", gamma=0.5)],
     r"\n- lr_schedule: 'StepLR' in the checkpoint, 'ExponentialLR' now\n- lr_schedule\.step_size: 1 in the checkpoint, absent now"),
    ([], [CosineLR()], r"\n- lr_schedule: absent in the checkpoint, 'CosineLR' now\n"),
    ([AnnealLR(0.5)], [AnnealLR(0.25)], r"\n- lr_schedule\.fraction: 0\.5 in the checkpoint, 0\.25 now\n"),
    ([LRScheduler("StepLR", step_size=1)], [LRScheduler("StepLR", step_size=1, interval="batch")],
     r"\n- lr_schedule\.interval: 'epoch' in the checkpoint, 'batch' now\n"),
    ([EarlyStopping(n_iter_no_change=5)], [EarlyStopping(n_iter_no_change=2)], r"\n- early_stopping\.n_iter_no_change: 5 in the checkpoint, 2 now\n"),
])
def test_a_changed_schedule_is_refused_not_ignored(tmp_path, digits_small, before, after, line):
    X = torch.from_numpy(digits_small[0])
    _fit(tmp_path, X, before)
    with pytest.raises(CheckpointError, match=r"Cannot resume from .*: its checkpoint was written by a fit with other data or "
                                              r"settings:" + line):
        _fit(tmp_path, X, after, resume=True)


def test_callbacks_that_only_watch_may_change_and_the_same_schedule_resumes_bitwise(tmp_path, digits_small):
    from layerwise.train import JSONLinesLogger

    X = torch.from_numpy(digits_small[0])
    schedule = dict(step_size=1, gamma=0.5)
    with pytest.raises(KeyboardInterrupt):
        _fit(tmp_path, X, [LRScheduler("StepLR", **schedule), StopAt(fit=1, epoch=1)])
    torch.manual_seed(0)
    resumed = _fit(tmp_path, X, [LRScheduler("StepLR", **schedule), JSONLinesLogger(tmp_path / "m.jsonl")], resume=True)
    torch.manual_seed(0)
    ref = Trainer(max_iter=2, batch_size=50, random_state=0, callbacks=[LRScheduler("StepLR", **schedule)]).fit(
        boring_autoencoder(), Reconstruction("bce"), (X,))
    assert [h["loss"] for h in resumed] == [h["loss"] for h in ref]


def test_a_checkpoint_from_before_the_schedule_was_recorded_still_resumes(tmp_path, digits_small):
    import json

    X = torch.from_numpy(digits_small[0])
    _fit(tmp_path, X, [CosineLR()])
    meta = json.loads((tmp_path / "checkpoint.json").read_text())
    meta["fingerprint"].pop("version")  # version 1: no callbacks in it
    meta["fingerprint"]["settings"] = {k: v for k, v in meta["fingerprint"]["settings"].items() if not k.startswith("lr_schedule")}
    (tmp_path / "checkpoint.json").write_text(json.dumps(meta))
    _fit(tmp_path, X, [CosineLR()], resume=True)


@pytest.mark.parametrize("change, line", [
    ({"lr_schedule_params": {"step_size": 1, "gamma": 0.1}}, r"lr_schedule\.gamma: 0\.5 in the checkpoint, 0\.1 now"),
    ({"lr_schedule": "ExponentialLR", "lr_schedule_params": {"gamma": 0.5}}, r"lr_schedule: 'StepLR' in the checkpoint, 'ExponentialLR' now"),
    ({"lr_schedule": "auto", "lr_schedule_params": None}, r"lr_schedule: 'StepLR' in the checkpoint, absent now"),
    ({"batch_size": 40}, r"trainer\.batch_size: 50 in the checkpoint, 40 now"),
    ({"tied": True}, r"model\.decoder\.0: 'Linear' in the checkpoint, 'TiedLinear' now"),
    ({"dropout": 0.2}, r"model\.stack\.dropout: 0\.0 in the checkpoint, 0\.2 now"),
    ({"scale": "none"}, r"train\[0\]: shape \(300, 64\) float32 \(sha256 \w+\) in the checkpoint, shape \(300, 64\) float32"),
])
def test_every_estimator_setting_that_changes_the_result_is_refused(tmp_path, digits, change, line):
    X, y = digits
    X = X[:300] * 16  # digits' own units, which scale="auto" (the default) maps to [0, 1] and "none" does not
    base = {**SMALL, "lr_schedule": "StepLR", "lr_schedule_params": {"step_size": 1, "gamma": 0.5}, "loss": "mse"}
    PretrainedClassifier((16,), **base).fit(X, y[:300], checkpoint_dir=tmp_path)
    with pytest.raises(CheckpointError, match=line):
        PretrainedClassifier((16,), **{**base, **change}).fit(X, y[:300], checkpoint_dir=tmp_path, resume=True)


def test_a_changed_semi_supervised_option_is_refused(tmp_path, digits_small):
    X, y = digits_small
    y = np.where(np.arange(len(y)) % 2 == 0, y, -1)
    # pretrain_max_iter applies to a stack alone: beside a ladder it would be refused
    base = {**{k: v for k, v in SMALL.items() if k != "pretrain_max_iter"}, "semi_supervised": "ladder"}
    PretrainedClassifier((16,), **base).fit(X, y, checkpoint_dir=tmp_path)
    with pytest.raises(CheckpointError, match=r"objective\.noise_std: 0\.2 in the checkpoint, 0\.5 now"):
        PretrainedClassifier((16,), **base, semi_supervised_params={"noise_std": 0.5}).fit(X, y, checkpoint_dir=tmp_path, resume=True)


def test_the_command_line_lists_every_edited_setting_old_to_new():
    """`layerwise resume` compares config.json with the config the run started with (in state.json)."""
    from layerwise.app.commands import _edited_settings
    from layerwise.app.config import config_from_dict, config_to_dict, load_config

    started = json.loads(json.dumps(config_to_dict(load_config(ROOT / "examples" / "digits_quick.toml", [
        'pretrain.lr_schedule="StepLR"', "pretrain.lr_schedule_params={step_size=1, gamma=0.5}"]))))
    edited = json.loads(json.dumps(started))
    edited["pretrain"]["lr_schedule_params"]["gamma"] = 0.1
    edited["finetune"]["semi_supervised"] = "ladder"
    edited["finetune"]["batch_size"] = 16
    # not compared: where the folder is, the device, logging, how long a phase may train
    edited.update(out_dir="elsewhere", name="moved", device="cpu")
    edited["logging"]["csv"] = True
    edited["pretrain"]["max_iter"] = 50
    assert _edited_settings(started, config_from_dict(edited)) == [
        "pretrain.lr_schedule_params.gamma: 0.5 -> 0.1", "finetune.batch_size: 32 -> 16",
        "finetune.semi_supervised: 'auto' -> 'ladder'"]
    assert _edited_settings(None, config_from_dict(edited)) == []  # a run folder from before state.json held the config
