"""Semi-supervised training under ``torchrun``: the ladder and M1+M2 on 2 CPU processes (gloo, loopback).

This file is also the worker script that ``torchrun`` launches (``python
test_distributed_semi.py --out DIR``), as ``test_distributed.py`` is for the
greedy path: :func:`_job` fits the ladder and M1+M2 on a slice of digits with
:func:`~layerwise.pipeline.semi_supervised.fit_semi_supervised`, and every rank writes
its weights, histories, test accuracies and the rows it trained on at each
step. The same function run in the pytest process (no launcher, so one
process) is the reference.

What is checked, and why not to float rounding as for the greedy path: each
process normalises the ladder's layers with the statistics of its own share of
the batch (as DDP's plain BatchNorm does) and draws its own noise, so 2
processes follow a different path from one. So: both ranks end with the same
weights *and running statistics* (they predict alike), log the same history,
keep the global batch size (the same number of steps per epoch), each train on
its share of every batch; and the test accuracy is within the spread of seeds
of the 1-process fit. That the one loss weight per rank gives the global
batch's gradient is checked exactly, in this process, on a model without
batch statistics or noise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from layerwise.data.semi import LabeledUnlabeled
from layerwise.objectives.ladder import Ladder
from layerwise.objectives.m2 import M2Objective
from layerwise.pipeline.semi_supervised import fit_semi_supervised
from layerwise.train import Trainer, distributed

TIMEOUT = 120  # seconds a torchrun launch may take before the test calls it a hang
N_UNLABELED = 1237  # 12 batches of 100 and a last one of 37, which splits 19/18: its labeled rows are not halved
N_LABELED = 100


def _digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return torch.from_numpy((X / 16.0).astype(np.float32)), torch.from_numpy(y)


class _Rows:
    """Mixin: remembers ``(labeled rows, unlabeled rows)`` of every training step this process runs."""

    def __call__(self, model, batch):
        if len(batch) == 3 and model.training:
            self.rows.append((batch[0].shape[0], batch[2].shape[0]))
        return super().__call__(model, batch)


class _Ladder(_Rows, Ladder):
    rows: list


class _M1M2(_Rows, M2Objective):
    rows: list


def _methods():
    """The two methods, small enough for a busy core: (method, hidden sizes, learning rate, epochs)."""
    return {
        "ladder": (_Ladder(), (32, 16), 5e-3, 20),
        "m1m2": (_M1M2(latent_dim=8, m2_hidden=(64,), m1_latent=16, m1_epochs=30), (64,), 3e-3, 30),
    }


def _job(seed: int = 0) -> dict:
    """Both methods on digits: per method the weights, histories, test accuracy and rows per step."""
    X, y = _digits()
    X_test, y_test = X[N_UNLABELED:], y[N_UNLABELED:]
    results = {}
    for name, (method, hidden, lr, epochs) in _methods().items():
        method.rows = []
        torch.manual_seed(seed)
        trainer = Trainer(max_iter=epochs, batch_size=100, random_state=seed, learning_rate_init=lr)
        model, history = fit_semi_supervised(method, X[:N_LABELED], y[:N_LABELED], X[:N_UNLABELED], hidden, 10,
                                             trainer=trainer, prepare_trainer=Trainer(batch_size=100, random_state=seed + 1))
        with torch.no_grad():
            accuracy = float((model(X_test).argmax(1) == y_test).float().mean())
        results[name] = {"weights": {k: v.detach().clone() for k, v in model.state_dict().items()},
                         "history": _strip(history), "accuracy": accuracy, "rows": list(method.rows),
                         "steps": trainer.steps_per_epoch}
    return results


def _strip(h):
    """Histories without the wall-clock seconds (which differ between ranks)."""
    if isinstance(h, dict):
        return {k: _strip(v) for k, v in h.items() if k != "seconds"}
    if isinstance(h, list):
        return [_strip(v) for v in h]
    return h


def _worker(argv: list[str]) -> None:
    """What each torchrun process runs: every rank writes its own results, to compare them."""
    from safetensors.torch import save_file

    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    out = Path(a.out)
    results = _job(a.seed)
    r = distributed.rank()
    for name, res in results.items():
        save_file({k: v.contiguous() for k, v in res.pop("weights").items()}, str(out / f"{name}_rank{r}.safetensors"))
    (out / f"rank{r}.json").write_text(json.dumps({"world_size": distributed.world_size(), "results": results}))


def _launch(out: Path) -> float:
    """``torchrun --standalone --nproc_per_node=2 THIS_FILE --out OUT``; its wall time."""
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "LAYERWISE_DIST_TIMEOUT": "60", "PYTHONHASHSEED": "0"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", __file__, "--out", str(out)]
    start = time.perf_counter()
    r = subprocess.run(cmd, cwd=out, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, f"torchrun failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}"
    return time.perf_counter() - start


# -- in this process: how a batch is shared, and that the weights make the global gradient --------------
def _batches(n_labeled: int, n_unlabeled: int, batch_size: int, labeled_batch_size: int | None, world_size: int):
    """The global batches of one process and each rank's shares, drawn from the same seed."""
    data = LabeledUnlabeled(torch.arange(n_labeled, dtype=torch.float32)[:, None], torch.arange(n_labeled) % 3,
                            -1.0 - torch.arange(n_unlabeled, dtype=torch.float32)[:, None], labeled_batch_size)
    state = torch.Generator().manual_seed(5).get_state()
    one = data.batches(batch_size, torch.Generator().set_state(state))
    ranks = [distributed.ShardedBatches(data.batches(batch_size, torch.Generator().set_state(state)), r, world_size)
             for r in range(world_size)]
    return one, ranks


@pytest.mark.parametrize("n_labeled, n_unlabeled, batch_size, labeled_batch_size, world_size", [
    (100, 1237, 100, None, 2),  # the test's: even halves, then a last batch of 37 rows
    (30, 500, 64, 15, 2),       # labeled batches of 15 do not halve
    (10, 7, 4, None, 3),        # a last batch of 3 rows on 3 ranks; 4 rows on 3 ranks
    (40, 301, 100, None, 4),    # a last batch of 1 row: three ranks without unlabeled rows
])
def test_each_rank_takes_its_share_and_the_weights_count_every_row_once(n_labeled, n_unlabeled, batch_size,
                                                                         labeled_batch_size, world_size):
    one, ranks = _batches(n_labeled, n_unlabeled, batch_size, labeled_batch_size, world_size)
    assert all(len(r) == len(one) for r in ranks)  # the global batch size is unchanged
    for (x_l, _, x_u), *shares in zip(one.iter_from(0), *(r.iter_from(0) for r in ranks)):
        # DDP averages over ranks: each row's weight in the averaged loss is sum_r scale_r / W * [row on r] / rows_r
        for part, full in ((0, x_l), (2, x_u)):
            weight = {}
            for (batch, rows, scale) in shares:
                assert batch[part].shape[0] >= 1  # every rank runs the step
                for v in batch[part][:, 0].tolist():
                    weight[v] = weight.get(v, 0.0) + scale / world_size / batch[part].shape[0]
            assert sorted(weight) == sorted(full[:, 0].tolist())  # every row of the global batch, nothing else
            assert all(w == pytest.approx(1 / full.shape[0]) for w in weight.values()), (part, weight)
        assert sum(rows for _, rows, _ in shares) == x_u.shape[0]
        assert all(torch.equal(batch[1], (batch[0][:, 0].long() % 3)) for batch, _, _ in shares)  # labels follow their rows


def test_the_weighted_shares_give_the_global_batch_gradient():
    """A labeled mean plus an unlabeled mean, on 3 ranks: the average of the weighted gradients is one process's."""
    torch.manual_seed(0)
    X_l, y, X_u = torch.randn(23, 5), torch.randint(0, 3, (23,)), torch.randn(71, 5)
    data = LabeledUnlabeled(X_l, y, X_u, labeled_batch_size=10)
    model = torch.nn.Linear(5, 3)

    def grad(batch, scale=1.0):
        x_l, y_l, x_u = batch
        model.zero_grad()
        (scale * (F.cross_entropy(model(x_l), y_l) + model(x_u).pow(2).mean())).backward()
        return torch.cat([p.grad.flatten() for p in model.parameters()])

    state = torch.Generator().manual_seed(1).get_state()
    one = data.batches(20, torch.Generator().set_state(state))
    ranks = [distributed.ShardedBatches(data.batches(20, torch.Generator().set_state(state)), r, 3) for r in range(3)]
    for full, *shares in zip(one.iter_from(0), *(r.iter_from(0) for r in ranks)):
        averaged = sum(grad(batch, scale) for batch, _, scale in shares) / 3
        torch.testing.assert_close(averaged, grad(full), rtol=1e-5, atol=1e-6)


# -- 2 processes ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    """One 2-process run of both methods, and the 1-process reference."""
    out = tmp_path_factory.mktemp("ddp_semi")
    seconds = _launch(out)
    torch.manual_seed(0)
    return out, _job(), seconds


def _ranks(out: Path, name: str):
    from safetensors.torch import load_file

    reports = [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]
    assert [x["world_size"] for x in reports] == [2, 2]
    return [x["results"][name] for x in reports], [load_file(str(out / f"{name}_rank{r}.safetensors")) for r in range(2)]


@pytest.mark.parametrize("name", ["ladder", "m1m2"])
def test_two_processes_agree_with_each_other_and_with_one_process(two_processes, name):
    out, reference, _ = two_processes
    (r0, r1), (w0, w1) = _ranks(out, name)
    one = reference[name]
    # every rank: the same weights and buffers (the ladder's running statistics), history and predictions
    assert w0.keys() == one["weights"].keys()
    different = [k for k in w0 if not torch.equal(w0[k], w1[k])]
    assert not different, f"the ranks end with different {different}"
    assert r0["history"] == r1["history"] and r0["accuracy"] == r1["accuracy"]
    if name == "m1m2":  # M1's preparation ran on both processes too: a shared, reduced history
        assert len(r0["history"]["prepare"]) == len(one["history"]["prepare"]) > 0
        assert r0["history"]["prepare"][-1]["loss"] < r0["history"]["prepare"][0]["loss"]
    # the global batch is unchanged (the same steps per epoch), and each rank trains on its share of it
    assert r0["steps"] == r1["steps"] == one["steps"] == 13
    epochs = len(one["history"]["train"])
    assert one["rows"] == ([(100, 100)] * 12 + [(100, 37)]) * epochs
    # 37 rows split 19/18: 51.4 labeled rows is no row count, so both ranks take all 100 (see labeled_share)
    assert [tuple(s) for s in r0["rows"]] == ([(50, 50)] * 12 + [(100, 19)]) * epochs
    assert [tuple(s) for s in r1["rows"]] == ([(50, 50)] * 12 + [(100, 18)]) * epochs
    # the losses fall as on one process, and the accuracy is within the spread of seeds of one process's
    train, ref = r0["history"]["train"], one["history"]["train"]
    assert train[-1]["loss"] < train[0]["loss"]
    assert train[-1]["loss"] == pytest.approx(ref[-1]["loss"], rel=0.1)
    assert abs(r0["accuracy"] - one["accuracy"]) < 0.07, (r0["accuracy"], one["accuracy"])
    assert min(r0["accuracy"], one["accuracy"]) > 0.6


if __name__ == "__main__":
    _worker(sys.argv[1:])
