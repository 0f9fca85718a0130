"""Greedy layer-wise pretraining: the estimator and the library vs hand-written greedy loops, vs the deep AE.

One epoch per stage of a 784-1000-500-250-30 stack (ReLU, squared error, fused Adam lr 1e-3, batch 256)
on the MNIST training images, alternated:
- "StackedAutoencoder.fit": the scikit-learn estimator, everything included (input checks, seeding, the
  stack's recipe, the unrolled decoder it keeps for ``inverse_transform``);
- "Fit([Greedy])": the library below it, the pipeline's plan of one greedy phase (``layerwise.pipeline``;
  each frozen layer's codes computed once);
- "hand-written greedy, codes cached": the best greedy loop by hand, with the same settings: permuted
  index slicing, fused Adam, each frozen layer's codes computed once, in eval mode without autograd;
- "hand-written greedy, naive": the same stages, re-running the frozen layers on every batch;
- "deep AE, 1 epoch (layerwise)": the unrolled 784-...-30-...-784 autoencoder trained jointly for one epoch
  (``Fit([RandomInit, Unroll])``).

The ratios against "hand-written greedy, codes cached" are the cost of the library's layers (issue #14:
``StackedAutoencoder.fit`` within 3% of it).

    python benchmarks/bench_greedy.py [--rounds 3] [--samples 60000]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch.nn import functional as F

import layerwise  # noqa: F401  (flushes denormals before torch starts its threads)
from layerwise import StackedAutoencoder
from layerwise.nn import dense_autoencoder
from layerwise.pipeline import Fit, Greedy, RandomInit, TrainSettings, Unroll

sys.path.insert(0, str(Path(__file__).parent))
from _common import alternate, mnist_train, report  # noqa: E402

SIZES = (1000, 500, 250, 30)
B = 256
REFERENCE = "hand-written greedy, codes cached"


def hand_written(X: torch.Tensor, gen: torch.Generator, cached: bool) -> None:
    """A greedy loop by hand: each stage an autoencoder on the codes of the frozen ones below it.

    ``cached``: the codes of each frozen layer are computed once after its stage (what layerwise does);
    otherwise every batch goes through the frozen layers again (what a hand-rolled loop often does).
    """
    frozen: list[torch.nn.Module] = []
    codes, n_in = X, X.shape[1]
    for width in SIZES:
        ae = dense_autoencoder(n_in, width, "relu", "identity")
        opt = torch.optim.Adam(ae.parameters(), lr=1e-3, fused=True)
        perm = torch.randperm(X.shape[0], generator=gen)
        for i in range(0, X.shape[0], B):
            xb = codes[perm[i : i + B]]
            if not cached:
                with torch.no_grad():
                    for f in frozen:
                        xb = f(xb)
            loss = F.mse_loss(ae(xb), xb, reduction="sum") / xb.shape[0]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        encoder = ae.encoder.eval().requires_grad_(False)
        frozen.append(encoder)
        if cached and width != SIZES[-1]:
            with torch.no_grad():
                codes = torch.cat([encoder(codes[i : i + 4096]) for i in range(0, codes.shape[0], 4096)])
        n_in = width


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=60000)
    args = parser.parse_args()
    X = mnist_train()[: args.samples].contiguous()
    X_np = X.numpy()
    gen = torch.Generator().manual_seed(0)
    epoch = TrainSettings(max_iter=1, batch_size=B, device="cpu")
    runs = {
        "StackedAutoencoder.fit": lambda: StackedAutoencoder(SIZES, activation="relu", loss="mse", batch_size=B, max_iter=1,
                                                             random_state=0, device="cpu").fit(X_np),
        "Fit([Greedy])": lambda: Fit([Greedy(SIZES, activation="relu", objective="autoencoder", loss="mse", train=epoch)]).run(X),
        REFERENCE: lambda: hand_written(X, gen, cached=True),
        "hand-written greedy, naive": lambda: hand_written(X, gen, cached=False),
        "deep AE, 1 epoch (layerwise)": lambda: Fit([RandomInit(SIZES, "relu"), Unroll(epoch)]).run(X),
    }
    report("greedy_vs_hand_written", alternate(runs, args.rounds, "greedy"), len(X), REFERENCE)


if __name__ == "__main__":
    main()
