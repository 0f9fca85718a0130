"""Issue #7, experiment 5: few labels on MNIST, pretrained vs random init vs semi-supervised.

The stack is pretrained once on all 60,000 training images without labels
(``reproduce_sdae.py --pretrain denoising --save-stack benchmarks/results/sdae_stack``); then,
for each number of labels n in 100, 600, 1000, 3000 and each seed, a balanced draw of n/10
images per class is the whole labeled set, and three networks are fine-tuned on it with the same
budget of optimizer steps:

- ``random``: the same architecture from random initialisation;
- ``pretrained``: the pretrained stack, fine-tuned end to end (``FineTune(mode="full")``);
- ``semi``: the pretrained stack fine-tuned with :class:`layerwise.objectives.SemiSupervised`,
  which keeps a denoising reconstruction cost on unlabeled rows at every step.

No validation set (there is none with 100 labels): a fixed budget, test error read once.
Published (test error %, 100 / 600 / 1000 / 3000 labels): M1+TSVM 11.82 / 5.72 / 4.24 / 3.49
(Kingma et al. 2014), M1+M2 3.33 at 100, ladder networks 1.06 at 100 (Rasmus et al. 2015).

    python benchmarks/reproduce_few_labels.py [--labels 100 600 1000 3000] [--seeds 3]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch
from _reproduce import Clock, mnist, record, test_error

import layerwise
from layerwise.corruption import make_corruption
from layerwise.objectives import Classification, SemiSupervised
from layerwise.pipeline import FineTune, Fit, Given, RandomInit, TrainSettings

PUBLISHED = {100: {"M1+TSVM": 11.82, "M1+M2": 3.33, "ladder": 1.06}, 600: {"M1+TSVM": 5.72}, 1000: {"M1+TSVM": 4.24}, 3000: {"M1+TSVM": 3.49}}


def balanced(y: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """Indices of n/10 rows of each class, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    per = n // 10
    return torch.from_numpy(np.concatenate([rng.choice(np.flatnonzero(y.numpy() == c), per, replace=False) for c in range(10)]))


def run(stack_phase, X_l, y_l, X_all, X_test, y_test, args, seed: int, semi: bool) -> float:
    """Fine-tune the stack of ``stack_phase`` (``RandomInit`` or ``Given``) on the labeled rows: one
    :class:`~layerwise.pipeline.Fit` with ``seed``; its test error."""
    batch = min(args.batch_size, len(X_l))
    epochs = max(1, math.ceil(args.steps / math.ceil(len(X_l) / batch)))
    objective = Classification()
    if semi:
        objective = SemiSupervised(objective, X_all, weight=args.semi_weight, corruption=make_corruption("masking", 0.25),
                                   batch_size=args.unlabeled_batch)
    tune = FineTune(n_outputs=10, objective=objective, mode="full", dropout=args.dropout, input_dropout=args.input_dropout,
                    train=TrainSettings(max_iter=epochs, batch_size=batch, learning_rate_init=args.learning_rate_init, schedule="cosine"))
    model = Fit([stack_phase, tune], seed=seed).run(X_l, y_l).model
    return test_error(model, X_test, y_test)


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stack", default=str(Path(__file__).resolve().parent / "results" / "sdae_stack"))
    p.add_argument("--labels", type=int, nargs="+", default=[100, 600, 1000, 3000])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--methods", nargs="+", default=["random", "pretrained", "semi"])
    p.add_argument("--steps", type=int, default=1000, help="optimizer steps per fine-tuning")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--learning-rate-init", type=float, default=1e-3)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--input-dropout", type=float, default=0.2)
    p.add_argument("--semi-weight", type=float, default=1.0)
    p.add_argument("--unlabeled-batch", type=int, default=128)
    args = p.parse_args(argv)
    X, y, X_test, y_test = mnist()
    saved = layerwise.load(args.stack)
    rows = []
    for n in args.labels:
        errors: dict[str, list[float]] = {m: [] for m in args.methods}
        clock = Clock()
        for seed in range(args.seeds):
            idx = balanced(y, n, seed)
            for method in args.methods:
                if method == "random":
                    first = RandomInit([layer[0].out_features for layer in saved.layers], "relu")
                else:
                    first = Given(layerwise.load(args.stack), {"kind": "loaded"})  # a fresh copy: fine-tuning changes it
                with clock(method):
                    err = run(first, X[idx], y[idx], X, X_test, y_test, args, seed, semi=(method == "semi"))
                errors[method].append(err)
                print(json.dumps({"labels": n, "seed": seed, "method": method, "test_error_pct": round(err, 3)}), flush=True)
        summary = {m: {"mean": round(float(np.mean(e)), 3), "std": round(float(np.std(e)), 3), "runs": [round(v, 3) for v in e]} for m, e in errors.items()}
        rows.append(record("few_labels", {"labels": n, "seeds": args.seeds, "test_error_pct": summary, "published_pct": PUBLISHED.get(n, {}),
                                          "wall_minutes": clock.minutes, "settings": vars(args)}, argv))
    return rows


if __name__ == "__main__":
    main()
