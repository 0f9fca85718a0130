"""Checkpoint and resume: an interrupted run continues to bitwise the same weights."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from layerwise.exceptions import CheckpointError
from layerwise.objectives import Reconstruction
from layerwise.pipeline.greedy import GreedyLayerwise
from layerwise.train import Callback, Trainer
from layerwise.train.checkpoint import load_checkpoint

from ..conftest import boring_autoencoder


class Crash(Callback):
    """Raise after a given (epoch, batch), like a kill mid-epoch."""

    def __init__(self, epoch, batch):
        self.epoch, self.batch, self.current = epoch, batch, 0

    def on_epoch_start(self, trainer, model, epoch):
        self.current = epoch

    def on_batch_end(self, trainer, model, batch_idx, loss):
        if (self.current, batch_idx) == (self.epoch, self.batch):
            raise KeyboardInterrupt


def _train(X, ckpt, callbacks=(), resume=False, denoising=True):
    torch.manual_seed(0)
    ae = boring_autoencoder()
    obj = Reconstruction("bce", corruption=__import__("layerwise").corruption.MaskingNoise(0.3) if denoising else None)
    trainer = Trainer(max_iter=4, batch_size=32, random_state=1, early_stopping=True, n_iter_no_change=10, checkpoint_dir=ckpt, checkpoint_every=2,
                      callbacks=list(callbacks))
    hist = trainer.fit(ae, obj, (X[:250],), val=(X[250:],), resume=resume)
    return ae, hist


def test_resume_mid_epoch_gives_bitwise_the_same_weights(tmp_path, digits_small):
    X = torch.from_numpy(digits_small[0])
    ref, ref_hist = _train(X, tmp_path / "ref")
    with pytest.raises(KeyboardInterrupt):
        _train(X, tmp_path / "run", [Crash(epoch=2, batch=5)])
    _, state = load_checkpoint(tmp_path / "run")
    assert (state["epoch"], state["batch"]) == (2, 4)  # the last checkpoint before the crash
    resumed, hist = _train(X, tmp_path / "run", resume=True)
    for (k, a), b in zip(ref.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k
    assert [h["loss"] for h in hist] == [h["loss"] for h in ref_hist]


def test_resume_after_the_end_does_nothing_more(tmp_path, digits_small):
    X = torch.from_numpy(digits_small[0])
    ref, ref_hist = _train(X, tmp_path / "run")
    again, hist = _train(X, tmp_path / "run", resume=True)
    assert len(hist) == len(ref_hist) and all(torch.equal(a, b) for a, b in zip(ref.state_dict().values(), again.state_dict().values()))


def test_a_corrupted_checkpoint_is_refused(tmp_path, digits_small):
    X = torch.from_numpy(digits_small[0])
    _train(X, tmp_path / "run")
    with open(tmp_path / "run" / "checkpoint.safetensors", "r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01\x02")
    with pytest.raises(CheckpointError, match=r"checkpoint.safetensors is missing or does not match .*checkpoint.json .*Delete the folder"):
        _train(X, tmp_path / "run", resume=True)


CHILD = textwrap.dedent(
    """
    import sys, time, torch
    import layerwise
    from layerwise.train import Callback
    from safetensors.torch import save_file
    from sklearn.datasets import load_digits

    out, ckpt, slow = sys.argv[1], sys.argv[2], sys.argv[3] == "slow"

    class Slow(Callback):
        def on_batch_end(self, trainer, model, i, loss):
            if slow:
                time.sleep(0.02)

    X = torch.from_numpy((load_digits().data / 16.0).astype("float32"))
    greedy = layerwise.GreedyLayerwise((32, 16), objective="denoising", checkpoint_dir=ckpt, trainer=layerwise.Trainer(
        max_iter=3, batch_size=32, random_state=0, checkpoint_every=5, callbacks=[Slow()]))
    stack = greedy.fit(X, resume=True)
    save_file({k: v.contiguous() for k, v in stack.state_dict().items()}, out)
    """
)


def _child(tmp_path, out, ckpt, slow):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    return subprocess.Popen([sys.executable, str(script), str(out), str(ckpt), "slow" if slow else "fast"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.parametrize("kill_at_stage", [1, 2])
def test_sigkill_mid_stage_then_resume_is_bitwise_identical(tmp_path, kill_at_stage):
    """A real process killed with SIGKILL inside a greedy stage, resumed: same bytes as the uninterrupted run."""
    from safetensors.torch import load_file

    ref = _child(tmp_path, tmp_path / "ref.safetensors", tmp_path / "ref_ckpt", slow=False)
    assert ref.wait(timeout=300) == 0, ref.stderr.read().decode()[-2000:]
    ckpt = tmp_path / "ckpt"
    proc = _child(tmp_path, tmp_path / "run.safetensors", ckpt, slow=True)
    marker = ckpt / f"stage_{kill_at_stage}" / "checkpoint.json"
    deadline = time.time() + 240
    while not marker.is_file() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)  # a few more batches: kill somewhere inside an epoch
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (tmp_path / "run.safetensors").exists()
    again = _child(tmp_path, tmp_path / "run.safetensors", ckpt, slow=False)
    assert again.wait(timeout=300) == 0, again.stderr.read().decode()[-2000:]
    a, b = load_file(str(tmp_path / "ref.safetensors")), load_file(str(tmp_path / "run.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / "ref.safetensors").read_bytes() == (tmp_path / "run.safetensors").read_bytes()


def test_greedy_resume_skips_finished_stages(tmp_path, digits_small, monkeypatch):
    X = torch.from_numpy(digits_small[0])
    params = {"max_iter": 2, "batch_size": 50, "random_state": 0}
    first = GreedyLayerwise((16, 8), checkpoint_dir=tmp_path, trainer=Trainer(**params)).fit(X)
    calls = []
    real = Trainer._run_epoch
    monkeypatch.setattr(Trainer, "_run_epoch", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    again = GreedyLayerwise((16, 8), checkpoint_dir=tmp_path, trainer=Trainer(**params)).fit(X, resume=True)
    assert calls == [] and all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values()))
    assert Path(tmp_path / "stage_1" / "checkpoint.json").is_file() and Path(tmp_path / "stage_2" / "checkpoint.json").is_file()


FINETUNE_CHILD = textwrap.dedent(
    """
    import sys, time, torch
    import layerwise
    from layerwise import ClassifierHead, Trainer, finetune
    from layerwise.pipeline.greedy import random_stack
    from layerwise.objectives import Classification
    from layerwise.train import Callback
    from safetensors.torch import save_file
    from sklearn.datasets import load_digits

    out, ckpt, slow, mode = sys.argv[1], sys.argv[2], sys.argv[3] == "slow", sys.argv[4]

    class Slow(Callback):
        def on_batch_end(self, trainer, model, i, loss):
            if slow:
                time.sleep(0.02)

    d = load_digits()
    X, y = torch.from_numpy((d.data / 16.0).astype("float32")), torch.from_numpy(d.target)
    torch.manual_seed(0)
    stack = random_stack(64, (32, 16))
    trainer = Trainer(max_iter=4, batch_size=32, random_state=0, checkpoint_dir=ckpt, checkpoint_every=7, callbacks=[Slow()])
    model, _ = finetune(stack, ClassifierHead(16, 10), Classification(), (X, y), mode=mode, trainer=trainer, resume=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out)
    """
)


@pytest.mark.parametrize("mode", ["full", "frozen"])
def test_sigkill_during_finetuning_then_resume_is_bitwise_identical(tmp_path, mode):
    script = tmp_path / "child.py"
    script.write_text(FINETUNE_CHILD)
    run = lambda out, ckpt, slow: subprocess.Popen([sys.executable, str(script), str(out), str(ckpt), slow, mode],  # noqa: E731
                                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ref = run(tmp_path / "ref.safetensors", tmp_path / "ref_ckpt", "fast")
    assert ref.wait(timeout=300) == 0, ref.stderr.read().decode()[-2000:]
    proc = run(tmp_path / "run.safetensors", tmp_path / "ckpt", "slow")
    deadline = time.time() + 240
    while not (tmp_path / "ckpt" / "checkpoint.json").is_file() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    again = run(tmp_path / "run.safetensors", tmp_path / "ckpt", "fast")
    assert again.wait(timeout=300) == 0, again.stderr.read().decode()[-2000:]
    assert (tmp_path / "ref.safetensors").read_bytes() == (tmp_path / "run.safetensors").read_bytes()


def test_killed_between_stages_resumes_bitwise(tmp_path, digits_small):
    """Interrupted after stage 1 finished and before stage 2 wrote anything: the same stack after resume."""
    X = torch.from_numpy(digits_small[0])

    class StopAtStage2(Callback):
        fits = 0

        def on_fit_start(self, trainer, model):
            StopAtStage2.fits += 1
            if StopAtStage2.fits == 2:
                raise KeyboardInterrupt

    params = {"max_iter": 3, "batch_size": 32, "random_state": 0, "checkpoint_every": 4}
    ref = GreedyLayerwise((16, 8), objective="denoising", checkpoint_dir=tmp_path / "ref", trainer=Trainer(**params)).fit(X)
    with pytest.raises(KeyboardInterrupt):
        GreedyLayerwise((16, 8), objective="denoising", checkpoint_dir=tmp_path / "run",
                        trainer=Trainer(**params, callbacks=[StopAtStage2()])).fit(X)
    assert (tmp_path / "run" / "stage_1" / "checkpoint.json").is_file() and not (tmp_path / "run" / "stage_2").exists()
    again = GreedyLayerwise((16, 8), objective="denoising", checkpoint_dir=tmp_path / "run", trainer=Trainer(**params)).fit(X, resume=True)
    a, b = ref.state_dict(), again.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
