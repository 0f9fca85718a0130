"""One epoch of layerwise's training loop vs hand-written PyTorch loops.

Same model (784-1000-500-250-30 autoencoder with mirrored decoder, ReLU, MSE),
same data (the 60,000 MNIST training images in memory), same batch size (256),
same optimizer (Adam, lr 1e-3), in one process, the variants alternated
A B C A B C ... so that a noisy machine slows them alike. Prints one JSON line
per run and per summary row, then a table on stderr.

    python benchmarks/bench_loop.py [--rounds 5] [--samples 60000]

Variants:
- ``layerwise Trainer``: ``Trainer(max_iter=1).fit(model, Reconstruction("mse"), (X,))``,
  a fresh ``fit`` per round (so its set-up cost is counted);
- ``hand-written, fused Adam``: the best loop we know on these CPUs
  (``Adam(fused=True)``, batches sliced from a permuted in-memory tensor);
- ``hand-written, default Adam``: what most people write.
Denormals are flushed to zero for the whole process (``import layerwise`` does it
at import, which is when it takes effect), so all variants share that lever.
"""

from __future__ import annotations

import argparse
import copy
import sys

import torch
from torch.nn import functional as F

import layerwise  # noqa: F401  (flushes denormals at import, before torch spawns threads)
from layerwise.objectives import Reconstruction
from layerwise.pipeline.greedy import random_stack
from layerwise.train import Trainer

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
from _common import emit, machine, mnist_train, summary, timed  # noqa: E402

BATCH = 256
SIZES = (1000, 500, 250, 30)


def hand_written_epoch(model, opt, X, gen):
    """The loop a careful PyTorch user writes."""
    model.train()
    perm = torch.randperm(X.shape[0], generator=gen)
    for i in range(0, X.shape[0], BATCH):
        xb = X[perm[i : i + BATCH]]
        loss = F.mse_loss(model(xb), xb, reduction="sum") / xb.shape[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--samples", type=int, default=60000)
    args = parser.parse_args()
    X = mnist_train()[: args.samples].contiguous()
    torch.manual_seed(0)
    base = random_stack(784, SIZES, "relu").unroll()
    models = {k: copy.deepcopy(base) for k in ("layerwise Trainer", "hand-written, fused Adam", "hand-written, default Adam")}
    opts = {
        "hand-written, fused Adam": torch.optim.Adam(models["hand-written, fused Adam"].parameters(), lr=1e-3, fused=True),
        "hand-written, default Adam": torch.optim.Adam(models["hand-written, default Adam"].parameters(), lr=1e-3),
    }
    gen = torch.Generator().manual_seed(0)
    objective = Reconstruction("mse")
    runs = {
        "layerwise Trainer": lambda: Trainer(max_iter=1, batch_size=BATCH, learning_rate_init=1e-3, device="cpu").fit(
            models["layerwise Trainer"], objective, (X,)),
        "hand-written, fused Adam": lambda: hand_written_epoch(models["hand-written, fused Adam"], opts["hand-written, fused Adam"], X, gen),
        "hand-written, default Adam": lambda: hand_written_epoch(models["hand-written, default Adam"], opts["hand-written, default Adam"], X, gen),
    }
    for fn in runs.values():  # warm-up: first touch of memory, oneDNN kernel selection
        timed(fn)
    times = {k: [] for k in runs}
    for r in range(args.rounds):
        for name, fn in runs.items():
            t = timed(fn)
            times[name].append(t)
            emit({"benchmark": "loop_deep_ae", "round": r, "variant": name, "seconds": t})
    for row in summary("loop_deep_ae", times, X.shape[0], "hand-written, fused Adam"):
        emit({**row, "machine": machine()})


if __name__ == "__main__":
    main()
