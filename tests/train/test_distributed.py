"""Data-parallel training under ``torchrun``: 2 CPU processes (gloo, loopback) on digits.

This file is also the worker script that ``torchrun`` launches (``python
test_distributed.py --out DIR ...``): :func:`_job` pretrains a 64-32-16
stack greedily (plain autoencoders, Bernoulli loss, validation rows, a
checkpoint every 4 batches) and fine-tunes it fully with a classifier head,
then rank 0 writes the weights and every rank its history. The same function
run in the pytest process (no launcher, so one process) is the reference.

What is checked, and why it can be checked exactly:

- with the same seed and the same *global* batch size (100, so the last batch
  of 1,500 rows splits 50/50, and 297 validation rows split 149/148), 2
  processes give the 1-process weights up to float rounding: each rank sees
  its share of the same global batches, DDP averages the gradients, and the
  row weighting makes that the global batch's gradient. Tolerance: 1e-5
  absolute on every weight after 2 x 4 pretraining epochs and 3 fine-tuning
  epochs of Adam (measured: 8e-7; the losses agree to 1e-5 relative);
- the loss falls and both ranks log the same history (metrics are reduced);
- rank 1 killing itself mid-epoch makes ``torchrun`` fail within seconds, not
  hang, and the checkpoint left behind resumes to the weights of the
  uninterrupted 2-process run, bit for bit (each rank's noise generator is in
  the checkpoint);
- ``torchrun -m layerwise pretrain -c CONFIG`` writes one run folder, from rank 0.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from layerwise.data.arrays import TensorBatches
from layerwise.exceptions import ConfigError
from layerwise.train import Callback, Trainer, distributed

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120  # seconds a torchrun launch may take before the test calls it a hang
BATCH = 100


def _digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return torch.from_numpy((X / 16.0).astype(np.float32)), torch.from_numpy(y)


class _KillRank(Callback):
    """On rank ``rank``, SIGKILL this process after batch ``batch`` of epoch ``epoch`` of stage ``desc``: a crashed machine."""

    def __init__(self, rank: int, desc: str, epoch: int, batch: int) -> None:
        self.rank, self.desc, self.epoch, self.batch, self.current = rank, desc, epoch, batch, -1

    def on_epoch_start(self, trainer, model, epoch):
        self.current = epoch

    def on_batch_end(self, trainer, model, batch_idx, loss):
        if (trainer.desc, self.current, batch_idx) == (self.desc, self.epoch, self.batch) and distributed.rank() == self.rank:
            os.kill(os.getpid(), signal.SIGKILL)


def _job(ckpt: Path | None = None, resume: bool = False, kill: str | None = None, extras: bool = False,
         rows: Path | None = None):
    """Greedy pretraining then full fine-tuning on digits; returns (weights, histories)."""
    from layerwise.nn import ClassifierHead
    from layerwise.objectives import Classification
    from layerwise.pipeline.finetune import finetune
    from layerwise.pipeline.greedy import GreedyLayerwise

    X, y = _digits()
    callbacks = []
    if kill:  # "DESC:EPOCH:BATCH"
        desc, epoch, batch = kill.rsplit(":", 2)
        callbacks.append(_KillRank(1, desc, int(epoch), int(batch)))
    greedy = GreedyLayerwise((32, 16), activation="logistic", objective="autoencoder", loss="bce",
                             trainer=Trainer(max_iter=4, batch_size=BATCH, random_state=0, learning_rate_init=1e-2,
                                             checkpoint_every=4, callbacks=callbacks),
                             checkpoint_dir=str(ckpt / "pretrain") if ckpt else None)
    stack = greedy.fit(X[:1500], X_val=X[1500:], resume=resume)
    torch.manual_seed(1)
    head = ClassifierHead(16, 10)
    trainer = Trainer(max_iter=3, batch_size=BATCH, random_state=1, learning_rate_init=1e-2, checkpoint_dir=str(ckpt / "finetune") if ckpt else None)
    model, history = finetune(stack, head, Classification(), (X[:1500], y[:1500]), (X[1500:], y[1500:]), mode="full",
                              trainer=trainer, resume=resume)
    histories = {"pretrain": greedy.history_, "finetune": history}
    weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if extras:  # the other objectives and the frozen mode under DDP: they run, and every rank logs the same
        for name in ("denoising", "contractive", "vae", "rbm"):
            g = GreedyLayerwise((16,), objective=name, trainer=Trainer(max_iter=2, batch_size=BATCH, random_state=0))
            g.fit(X[:600], X_val=X[1500:1600])
            histories[name] = g.history_
        torch.manual_seed(2)
        _, histories["frozen"] = finetune(stack, ClassifierHead(16, 10), Classification(), (X[:600], y[:600]),
                                          (X[1500:], y[1500:]), mode="frozen", trainer=Trainer(max_iter=2, batch_size=BATCH, random_state=2))
    if rows is not None:  # rows streamed from a .npy file: layer 1's codes go to a file rank 0 writes, every rank reads
        from layerwise.data import NpyFile

        g = GreedyLayerwise((16, 8), trainer=Trainer(max_iter=2, batch_size=BATCH, random_state=0, chunk_rows=300))
        g.fit(NpyFile(rows))
        histories["streamed"] = g.history_
    return weights, _strip(histories)


def _strip(h):
    """Histories without the wall-clock seconds (which differ between ranks)."""
    if isinstance(h, dict):
        return {k: _strip(v) for k, v in h.items() if k != "seconds"}
    if isinstance(h, list):
        return [_strip(v) for v in h]
    return h


def _worker(argv: list[str]) -> None:
    """What each torchrun process runs."""
    from safetensors.torch import save_file

    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--ckpt")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--kill")
    p.add_argument("--extras", action="store_true")
    p.add_argument("--rows", help="a .npy file to pretrain on, streamed")
    a = p.parse_args(argv)
    out = Path(a.out)
    weights, histories = _job(Path(a.ckpt) if a.ckpt else None, a.resume, a.kill, a.extras, Path(a.rows) if a.rows else None)
    r = distributed.rank()
    (out / f"rank{r}.json").write_text(json.dumps({"world_size": distributed.world_size(), "histories": histories}))
    if distributed.is_main():
        save_file({k: v.contiguous() for k, v in weights.items()}, str(out / "weights.safetensors"))


def _torchrun(args: list[str], cwd: Path, timeout: float = TIMEOUT) -> tuple[subprocess.CompletedProcess, float]:
    """``torchrun --standalone --nproc_per_node=2 ARGS`` (a free loopback port), with a timeout."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "LAYERWISE_DIST_TIMEOUT": "60", "PYTHONHASHSEED": "0"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *args]
    start = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return r, time.perf_counter() - start


def _launch(out: Path, *extra: str, check: bool = True):
    out.mkdir(parents=True, exist_ok=True)
    r, seconds = _torchrun([__file__, "--out", str(out), *extra], cwd=out)
    if check:
        assert r.returncode == 0, f"torchrun failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}"
    return r, seconds


def _weights(out: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(out / "weights.safetensors"))


def test_shards_of_every_global_batch_are_its_rows_with_weights_summing_to_one():
    gen_state = torch.Generator().manual_seed(3).get_state()
    X = torch.arange(23.0).reshape(-1, 1)
    one = TensorBatches((X,), 5, True, torch.Generator().set_state(gen_state))
    ranks = [distributed.ShardedBatches(TensorBatches((X,), 5, True, torch.Generator().set_state(gen_state)), r, 3)
             for r in range(3)]
    assert len(ranks[0]) == len(one) == 5
    for full, *shares in zip(one.iter_from(1), *(r.iter_from(1) for r in ranks)):
        rows = [s[1] for s in shares]
        # the last batch has 3 rows: one each; the others 5 rows: 2, 2, 1
        assert sum(rows) == full[0].shape[0] and max(rows) - min(rows) <= 1
        assert torch.equal(torch.cat([s[0][0] for s in shares if s[1]]), full[0])
        assert sum(s[2] for s in shares) == pytest.approx(3)  # DDP divides by 3: the weights average to 1
    tiny = [list(distributed.ShardedBatches(TensorBatches((X[:1],), 5, False), r, 2).iter_from(0)) for r in range(2)]
    assert [(t[0][1], t[0][2]) for t in tiny] == [(1, 2.0), (0, 0.0)]  # an empty share runs one row with weight 0


def test_without_a_launcher_nothing_is_distributed(monkeypatch):
    for var in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    assert not distributed.launched() and distributed.is_main() and distributed.world_size() == 1
    assert distributed.resolve("auto", torch.device("cpu")) is None
    with pytest.raises(ConfigError, match="torchrun --nproc_per_node"):
        Trainer(distributed=True, max_iter=1).fit(torch.nn.Linear(2, 2), lambda m, b: None, (torch.zeros(4, 2),))
    with pytest.raises(ConfigError, match="distributed must be"):
        Trainer(distributed="yes")
    monkeypatch.setenv("LAYERWISE_DIST_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="LAYERWISE_DIST_TIMEOUT"):
        distributed.timeout()


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    """One uninterrupted 2-process run (with the other objectives), and the 1-process reference."""
    out = tmp_path_factory.mktemp("ddp")
    np.save(out / "rows.npy", _digits()[0][:600].numpy())
    _launch(out, "--ckpt", str(out / "ckpt"), "--extras", "--rows", str(out / "rows.npy"))
    torch.manual_seed(0)
    ref_weights, ref_hist = _job()
    return out, ref_weights, ref_hist


def test_two_processes_train_and_match_one_process(two_processes):
    out, ref_weights, ref_hist = two_processes
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]
    assert [x["world_size"] for x in ranks] == [2, 2]
    hist = ranks[0]["histories"]
    # both ranks log the same (reduced) metrics, epoch by epoch
    assert ranks[0]["histories"] == ranks[1]["histories"]
    for stage in hist["pretrain"]:
        assert stage[-1]["loss"] < stage[0]["loss"] and stage[-1]["val_loss"] < stage[0]["val_loss"]
    assert hist["finetune"][-1]["loss"] < hist["finetune"][0]["loss"]
    # the same global batches and seed: the 1-process numbers, up to float rounding
    for got, want in zip(hist["pretrain"] + [hist["finetune"]], ref_hist["pretrain"] + [ref_hist["finetune"]]):
        for g, w in zip(got, want):
            assert g["loss"] == pytest.approx(w["loss"], rel=1e-5) and g["val_loss"] == pytest.approx(w["val_loss"], rel=1e-5)
    weights = _weights(out)
    assert weights.keys() == ref_weights.keys()
    diff = max(float((weights[k] - ref_weights[k]).abs().max()) for k in weights)
    assert diff < 1e-5, f"2-process weights differ from 1-process ones by {diff:.3g}"


def test_other_objectives_and_frozen_finetuning_run_under_ddp(two_processes):
    out, _, _ = two_processes
    hist = json.loads((out / "rank0.json").read_text())["histories"]
    for name in ("denoising", "contractive", "vae", "rbm", "frozen"):
        epochs = hist[name][0] if name != "frozen" else hist[name]
        assert len(epochs) == 2 and all(np.isfinite(e["loss"]) and np.isfinite(e["val_loss"]) for e in epochs), name
    assert hist["denoising"][0][-1]["loss"] < hist["denoising"][0][0]["loss"]
    # streamed rows: both layers trained (the second on codes from the file rank 0 wrote), the same on both ranks
    assert [len(stage) for stage in hist["streamed"]] == [2, 2] and hist["streamed"][1][-1]["loss"] < hist["streamed"][1][0]["loss"]
    assert not list(out.glob("**/codes_layer_*.npy"))


def test_a_killed_rank_fails_fast_and_its_checkpoint_resumes(two_processes, tmp_path):
    from layerwise.train.checkpoint import load_checkpoint

    full, _, _ = two_processes
    out = tmp_path / "killed"
    # rank 1 dies at layer 2, epoch 2, batch 6: after the mid-epoch checkpoint at batch 4
    r, seconds = _launch(out, "--ckpt", str(out / "ckpt"), "--kill", "pretrain layer 2/2:1:5", check=False)
    assert r.returncode != 0 and seconds < TIMEOUT
    assert not (out / "weights.safetensors").exists()
    _, state = load_checkpoint(out / "ckpt" / "pretrain" / "stage_2")
    assert (state["epoch"], state["batch"], state["world_size"]) == (1, 4, 2)
    _launch(out, "--ckpt", str(out / "ckpt"), "--resume")
    resumed, uninterrupted = _weights(out), _weights(full)
    assert all(torch.equal(resumed[k], uninterrupted[k]) for k in resumed)


def test_cli_pretrain_under_torchrun_writes_one_run_folder(tmp_path):
    cfg = tmp_path / "digits.toml"
    shutil.copy(ROOT / "examples" / "digits_quick.toml", cfg)
    r, _ = _torchrun(["-m", "layerwise", "pretrain", "-c", str(cfg), "--set", f'out_dir="{tmp_path}"',
                      "--set", "pretrain.max_iter=2", "--no-progress"], cwd=tmp_path)
    assert r.returncode == 0, f"{r.stdout[-3000:]}\n{r.stderr[-6000:]}"
    folder = tmp_path / "digits-quick"
    assert sorted(p.name for p in (folder / "pretrained").iterdir()) == ["config.json", "meta.json", "model.safetensors"]
    lines = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
    assert [(x["layer"], x["epoch"]) for x in lines] == [(1, 1), (1, 2), (2, 1), (2, 2)]  # written once, by rank 0
    assert json.loads((folder / "state.json").read_text())["done"] is True
    # one JSON metrics line on stdout (rank 0); "wrote ..." once on stderr
    assert len([x for x in r.stdout.splitlines() if x.startswith("{")]) == 1
    assert r.stderr.count("wrote ") == 1


if __name__ == "__main__":
    _worker(sys.argv[1:])
