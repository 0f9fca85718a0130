"""Greedy layer-wise pretraining with codes cached per stage, vs the naive way, vs the deep AE.

One epoch per stage of a 784-1000-500-250-30 stack on the MNIST training images, alternated:
- "greedy, codes cached": ``GreedyLayerwise`` (each frozen layer's codes computed once);
- "greedy, naive": the same stages, re-running the frozen layers on every batch;
- "deep AE, 1 epoch": the unrolled 784-...-30-...-784 autoencoder trained jointly for one epoch.

    python benchmarks/bench_greedy.py [--rounds 3] [--samples 60000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch.nn import functional as F

import layerwise  # noqa: F401
from layerwise import GreedyLayerwise, Trainer
from layerwise.greedy import random_stack
from layerwise.nn import dense_autoencoder
from layerwise.objectives import Reconstruction

sys.path.insert(0, str(Path(__file__).parent))
from _common import alternate, mnist_train, report  # noqa: E402

SIZES = (1000, 500, 250, 30)
B = 256


def naive(X: torch.Tensor, gen: torch.Generator) -> None:
    """What a hand-rolled greedy loop often does: push every batch through the frozen layers again."""
    frozen: list[torch.nn.Module] = []
    n_in = X.shape[1]
    for width in SIZES:
        ae = dense_autoencoder(n_in, width, "relu", "identity")
        opt = torch.optim.Adam(ae.parameters(), lr=1e-3, fused=True)
        perm = torch.randperm(X.shape[0], generator=gen)
        for i in range(0, X.shape[0], B):
            xb = X[perm[i : i + B]]
            with torch.no_grad():
                for f in frozen:
                    xb = f(xb)
            loss = F.mse_loss(ae(xb), xb, reduction="sum") / xb.shape[0]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        frozen.append(ae.encoder.eval().requires_grad_(False))
        n_in = width


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=60000)
    args = parser.parse_args()
    X = mnist_train()[: args.samples].contiguous()
    gen = torch.Generator().manual_seed(0)
    runs = {
        "greedy, codes cached (layerwise)": lambda: GreedyLayerwise(SIZES, "relu", loss="mse", trainer_params={
            "max_epochs": 1, "batch_size": B, "device": "cpu"}).fit(X),
        "greedy, naive re-run of frozen layers": lambda: naive(X, gen),
        "deep AE, 1 epoch (layerwise)": lambda: Trainer(max_epochs=1, batch_size=B, device="cpu").fit(
            random_stack(784, SIZES, "relu").unroll(), Reconstruction("mse"), (X,)),
    }
    report("greedy_vs_naive_vs_deep", alternate(runs, args.rounds, "greedy"), len(X), "deep AE, 1 epoch (layerwise)")


if __name__ == "__main__":
    main()
