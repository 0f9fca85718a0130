"""layerwise's loop vs a hand-written PyTorch loop, model by model (one epoch each, alternated).

Same data (MNIST training images in memory), batch, optimizer (fused Adam lr 1e-3) and initial
weights on both sides; the hand-written side is the best loop we know (batches sliced from a
permuted in-memory tensor, fused Adam, denormals flushed).

    python benchmarks/bench_models.py [--rounds 3] [--samples 60000] [--only NAME]

Work: "stage" one greedy stage 784-1000 AE; "finetune-full" 784-1000-500-250-30 + softmax, all
layers; "finetune-frozen" the same with the stack frozen (layerwise trains the head on codes computed
once; hand-written: naive = frozen forward every batch, precomputed = codes once, like layerwise);
"vae" 784-400-20 VAE; "rbm" 784x500 Bernoulli RBM, CD-1.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import torch
from torch.nn import functional as F

import layerwise  # noqa: F401  (flushes denormals before torch starts its threads)
from layerwise import ELBO, ClassifierHead, Trainer, dense_vae
from layerwise.nn import RBM, dense_autoencoder
from layerwise.objectives import ContrastiveDivergence, Reconstruction
from layerwise.pipeline import FineTune, Fit, Given, TrainSettings
from layerwise.pipeline.greedy import random_stack
from layerwise.train import predict_in_batches

sys.path.insert(0, str(Path(__file__).parent))
from _common import alternate, report  # noqa: E402

B = 256


def loop(model, params, X, y, step, gen):
    """The hand-written epoch: permuted index, slice, step."""
    opt = loop.opts.setdefault(id(model), torch.optim.Adam(params, lr=1e-3, fused=True))
    model.train()
    perm = torch.randperm(X.shape[0], generator=gen)
    for i in range(0, X.shape[0], B):
        idx = perm[i : i + B]
        loss = step(model, X[idx], None if y is None else y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


loop.opts = {}


def lw(model, objective, data, **kw):
    return lambda: Trainer(max_iter=1, batch_size=B, learning_rate_init=1e-3, device="cpu", **kw).fit(model, objective, data)


def lw_finetune(stack, head, X, y, mode: str):
    """One epoch of fine-tuning as the library runs it: a ``layerwise.pipeline.Fit`` of the given stack, then
    ``FineTune`` with the given head (both trained in place, round after round, as the hand-written side's)."""
    tune = FineTune(n_outputs=10, mode=mode, head=head, train=TrainSettings(max_iter=1, batch_size=B, learning_rate_init=1e-3, device="cpu"))
    return lambda: Fit([Given(stack), tune], seed=0).run(X, y)


def work_stage(X, y, gen):
    base = dense_autoencoder(784, 1000, "relu", "identity")
    a, b = copy.deepcopy(base), copy.deepcopy(base)
    step = lambda m, xb, _: F.mse_loss(m(xb), xb, reduction="sum") / xb.shape[0]  # noqa: E731
    return {"layerwise": lw(a, Reconstruction("mse"), (X,)), "hand-written": lambda: loop(b, b.parameters(), X, None, step, gen)}


def work_finetune_full(X, y, gen):
    stack = random_stack(784, (1000, 500, 250, 30), "relu")
    head = ClassifierHead(30, 10)
    sa, ha, sb, hb = (copy.deepcopy(m) for m in (stack, head, stack, head))
    mb = torch.nn.Sequential(sb, hb)
    step = lambda m, xb, yb: F.cross_entropy(m(xb), yb)  # noqa: E731
    return {
        "layerwise": lw_finetune(sa, ha, X, y, "full"),
        "hand-written": lambda: loop(mb, mb.parameters(), X, y, step, gen),
    }


def work_finetune_frozen(X, y, gen):
    stack = random_stack(784, (1000, 500, 250, 30), "relu").eval().requires_grad_(False)
    head = ClassifierHead(30, 10)
    ha, hb, hc = (copy.deepcopy(head) for _ in range(3))

    def naive_step(m, xb, yb):
        with torch.no_grad():
            codes = stack(xb)
        return F.cross_entropy(m(codes), yb)

    def precomputed():
        codes = predict_in_batches(stack, X)
        loop(hc, hc.parameters(), codes, y, lambda m, cb, yb: F.cross_entropy(m(cb), yb), gen)

    return {
        "layerwise": lw_finetune(stack, ha, X, y, "frozen"),
        "hand-written, naive": lambda: loop(hb, hb.parameters(), X, y, naive_step, gen),
        "hand-written, codes once": precomputed,
    }


def work_vae(X, y, gen):
    base = dense_vae(784, (400,), 20, "relu", "logistic")
    a, b = copy.deepcopy(base), copy.deepcopy(base)

    def step(m, xb, _):  # pytorch/examples vae/main.py (one decode, logits), with a per-sample mean
        mu, logvar = m.encode(xb)
        logits = m.decoder(m.reparameterize(mu, logvar))
        bce = F.binary_cross_entropy_with_logits(logits, xb, reduction="sum")
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return (bce + kld) / xb.shape[0]

    return {"layerwise": lw(a, ELBO("bce"), (X,)), "hand-written": lambda: loop(b, b.parameters(), X, None, step, gen)}


def work_rbm(X, y, gen):
    base = RBM(784, 500)
    a, b = copy.deepcopy(base), copy.deepcopy(base)

    def step(m, v, _):  # CD-1 as the gradient of a free-energy difference (Hinton 2002)
        h = torch.bernoulli(torch.sigmoid(F.linear(v, m.weight, m.hidden_bias)))
        v_model = torch.sigmoid(F.linear(h, m.weight.t(), m.visible_bias))
        return m.free_energy(v).mean() - m.free_energy(v_model.detach()).mean()

    return {"layerwise": lw(a, ContrastiveDivergence(k=1), (X,)), "hand-written": lambda: loop(b, b.parameters(), X, None, step, gen)}


WORK = {"stage": work_stage, "finetune-full": work_finetune_full, "finetune-frozen": work_finetune_frozen, "vae": work_vae, "rbm": work_rbm}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--only", choices=list(WORK), action="append")
    args = parser.parse_args()
    d = layerwise.load_dataset("mnist", data_dir=Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist")
    X, y = torch.from_numpy(d.X[: args.samples]), torch.from_numpy(d.y[: args.samples])
    for name in args.only or list(WORK):
        torch.manual_seed(0)
        runs = WORK[name](X, y, torch.Generator().manual_seed(0))
        reference = "hand-written" if "hand-written" in runs else "hand-written, codes once"
        report(name, alternate(runs, args.rounds, name), len(X), reference)


if __name__ == "__main__":
    main()
