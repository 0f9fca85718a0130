"""One ladder-network training step: layerwise vs a hand-written PyTorch ladder; and the cost of a ladder epoch.

Part 1, the step (issue #12: ratio >= 0.95). The same network (784-1000-500-250-250-250-10, the
paper's), the same batch (100 labeled + 100 unlabeled MNIST rows), the same costs (noise 0.3, the
paper's lambdas, vanilla combinators), fused Adam: one step of ``Ladder()(net, batch)`` + backward +
``opt.step()`` against a ladder written from scratch below (plain tensors, one function per pass,
the way a PyTorch user would write Rasmus et al. 2015, Algorithm 1). Both run the clean pass on the
unlabeled rows and the corrupted pass on all rows with one matmul per layer. Alternated A B A B,
medians.

Part 2, the epoch: one epoch of ladder training (a ``layerwise.pipeline.Fit`` of one ``SemiSupervised``
phase on 100 labeled rows and every row unlabeled: 600 steps of 100 + 100 rows) against one epoch of plain
full fine-tuning of the same encoder on the same number of steps' worth of labeled rows with
``Classification()`` (``RandomInit`` then ``FineTune``: 60,000 rows, batch 100), in the same process.

    python benchmarks/bench_ladder.py [--rounds 7] [--precision fp32]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

import layerwise  # noqa: F401  (flushes denormals at import)
from layerwise.objectives import Ladder
from layerwise.pipeline import FineTune, Fit, RandomInit, SemiSupervised, TrainSettings

sys.path.insert(0, str(Path(__file__).parent))
from _common import alternate, mnist_train, report  # noqa: E402

SIZES = (784, 1000, 500, 250, 250, 250, 10)
LAMBDAS = (1000.0, 10.0, 0.1, 0.1, 0.1, 0.1, 0.1)
NOISE = 0.3


# -- a ladder written from scratch ----------------------------------------------------------------
def hand_params(seed: int = 0) -> dict[str, list[torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    W = [torch.randn(b, a, generator=g) / math.sqrt(a) for a, b in zip(SIZES[:-1], SIZES[1:])]
    V = [torch.randn(a, b, generator=g) / math.sqrt(b) for a, b in zip(SIZES[:-1], SIZES[1:])]
    beta = [torch.zeros(b) for b in SIZES[1:]]
    gamma = [torch.ones(SIZES[-1])]
    A = []
    for w in SIZES:
        a = torch.zeros(10, w)
        a[1] = a[6] = 1.0
        A.append(a)
    params = {"W": W, "V": V, "beta": beta, "gamma": gamma, "A": A}
    for group in params.values():
        for t in group:
            t.requires_grad_(True)
    return params


def bn(z):
    m = z.mean(0)
    s = torch.sqrt(z.var(0, unbiased=False) + 1e-5)
    return (z - m) / s, m, s


def hand_encoder(P, x, noise, n_l):
    h = x + noise * torch.randn_like(x) if noise else x
    zs, ms, ss = [h], [None], [None]
    L = len(SIZES) - 1
    for l in range(1, L + 1):
        pre = h @ P["W"][l - 1].t()
        if n_l:
            (zl, _, _), (zu, m, s) = bn(pre[:n_l]), bn(pre[n_l:])
            z = torch.cat([zl, zu])
        else:
            z, m, s = bn(pre)
        if noise:
            z = z + noise * torch.randn_like(z)
        zs.append(z)
        ms.append(m)
        ss.append(s)
        h = P["gamma"][0] * (z + P["beta"][l - 1]) if l == L else torch.relu(z + P["beta"][l - 1])
    return zs, ms, ss, h


def hand_step(P, opt, x_l, y, x_u):
    n_l = x_l.shape[0]
    L = len(SIZES) - 1
    zc, mc, sc, _ = hand_encoder(P, x_u, 0.0, 0)
    zn, _, _, logits = hand_encoder(P, torch.cat([x_l, x_u]), NOISE, n_l)
    cost = F.cross_entropy(logits[:n_l], y)
    z_hat = None
    for l in range(L, -1, -1):
        u = bn(F.softmax(logits[n_l:], 1))[0] if l == L else bn(z_hat @ P["V"][l].t())[0]
        a = P["A"][l]
        mu = a[0] * torch.sigmoid(a[1] * u + a[2]) + a[3] * u + a[4]
        v = a[5] * torch.sigmoid(a[6] * u + a[7]) + a[8] * u + a[9]
        z_hat = (zn[l][n_l:] - mu) * v + mu
        z_bn = z_hat if mc[l] is None else (z_hat - mc[l]) / sc[l]
        cost = cost + LAMBDAS[l] * ((z_bn - zc[l]) ** 2).sum(1).mean() / SIZES[l]
    opt.zero_grad(set_to_none=True)
    cost.backward()
    opt.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=50, help="steps per timed run in part 1")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--epoch", action="store_true", help="also part 2 (one ladder epoch vs one fine-tuning epoch)")
    args = parser.parse_args()
    X = mnist_train()
    g = torch.Generator().manual_seed(0)
    x_l, x_u = X[torch.randperm(60000, generator=g)[:100]], X[torch.randperm(60000, generator=g)[:100]]
    y = torch.randint(0, 10, (100,), generator=g)
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if args.precision == "bf16" else None

    torch.manual_seed(0)
    objective = Ladder(NOISE, LAMBDAS)
    net = objective.build_model(784, SIZES[1:-1], 10)
    opt_lw = torch.optim.Adam(net.parameters(), lr=2e-3, fused=True)
    P = hand_params()
    opt_hand = torch.optim.Adam([t for group in P.values() for t in group], lr=2e-3, fused=True)

    def lw_steps():
        for _ in range(args.steps):
            with autocast() if autocast else torch.enable_grad():
                loss = objective(net, (x_l, y, x_u)).loss
            opt_lw.zero_grad(set_to_none=True)
            loss.backward()
            opt_lw.step()

    def hand_steps():
        for _ in range(args.steps):
            with autocast() if autocast else torch.enable_grad():
                hand_step(P, opt_hand, x_l, y, x_u)

    times = alternate({"layerwise Ladder step": lw_steps, "hand-written ladder step": hand_steps}, args.rounds, "ladder_step")
    report("ladder_step", times, args.steps * 200, "hand-written ladder step")

    if not args.epoch:
        return
    labels = torch.randint(0, 10, (60000,), generator=g)
    first_100 = np.arange(len(X)) < 100  # the labeled rows of the ladder's fit; every row is unlabeled too
    epoch = TrainSettings(max_iter=1, batch_size=100, learning_rate_init=2e-3, device="cpu", precision=args.precision)

    # both are fits of the pipeline (seed 0: the same networks every round), so each pays the same set-up
    def ladder_epoch():
        Fit([SemiSupervised(objective, SIZES[1:-1], 10, train=epoch)], seed=0).run(X, labels, first_100)

    def finetune_epoch():  # the same encoder from random initialisation, then one epoch on every labeled row
        Fit([RandomInit(SIZES[1:-1], "relu"), FineTune(n_outputs=10, mode="full", train=epoch)], seed=0).run(X, labels)

    times = alternate({"ladder epoch (600 steps of 100+100 rows)": ladder_epoch,
                       "plain fine-tuning epoch (600 steps of 100 rows)": finetune_epoch}, max(3, args.rounds // 2), "ladder_epoch")
    report("ladder_epoch", times, 60000, "plain fine-tuning epoch (600 steps of 100 rows)")


if __name__ == "__main__":
    main()
