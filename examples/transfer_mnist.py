"""Transfer (self-taught learning): pretrain on MNIST digits 0-4, fine-tune on digits 5-9.

The encoder never sees a 5, 6, 7, 8 or 9 while pretraining, and no label at all. It is then
fine-tuned on a few labeled images of the other five digits, and compared with the same
network from random initialisation, on the same labeled rows and the same budget
(Raina et al. 2007, "Self-taught learning"; the transfer question of Yosinski et al. 2014).

    python examples/transfer_mnist.py --data-dir ../shared/data/mnist [--labels-per-class 20] [--seeds 3]
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch

import layerwise
from layerwise.pipeline import FineTune, Fit, Given, Greedy, RandomInit, TrainSettings
from layerwise.train import predict_in_batches

SIZES = (512, 128)


def few_labels(y: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Indices of ``per_class`` rows of each class, drawn with ``seed``."""
    rng = np.random.RandomState(seed)
    return np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)])


def accuracy(stack, X, y, X_test, y_test, mode: str, seed: int) -> float:
    """Test accuracy after fine-tuning ``stack`` (a ``RandomInit`` or ``Given`` phase) on ``(X, y)``: one fit of the
    pipeline (``layerwise.pipeline.Fit``) with ``seed``."""
    tune = FineTune(n_outputs=5, mode=mode, train=TrainSettings(max_iter=100, batch_size=32, learning_rate_init=1e-3))
    model = Fit([stack, tune], seed=seed).run(X, y).model
    return float((predict_in_batches(model, X_test).argmax(1) == y_test).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--labels-per-class", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--pretrain-max-iter", type=int, default=30)
    args = parser.parse_args()
    d = layerwise.load_dataset("mnist", data_dir=args.data_dir)
    source = torch.from_numpy(d.X[d.y < 5])  # unlabeled digits 0-4
    tgt, tgt_test = d.y >= 5, d.y_test >= 5
    X_t, y_t = d.X[tgt], d.y[tgt] - 5
    X_test, y_test = torch.from_numpy(d.X_test[tgt_test]), torch.from_numpy(d.y_test[tgt_test] - 5)

    start = time.perf_counter()
    greedy = Greedy(SIZES, activation="relu", objective="denoising",
                    train=TrainSettings(max_iter=args.pretrain_max_iter, batch_size=128, verbose=True))
    pretrained = Fit([greedy], seed=0).run(source)
    print(f"pretrained {SIZES} on {len(source)} unlabeled images of digits 0-4 in {time.perf_counter() - start:.0f} s")

    results = {"random init, full": [], "pretrained on 0-4, frozen": [], "pretrained on 0-4, full": []}
    for seed in range(args.seeds):
        idx = few_labels(y_t, args.labels_per_class, seed)
        X, y = torch.from_numpy(X_t[idx]), torch.from_numpy(y_t[idx])
        results["random init, full"].append(accuracy(RandomInit(SIZES, "relu"), X, y, X_test, y_test, "full", seed))
        for mode in ("frozen", "full"):
            given = Given(copy.deepcopy(pretrained.stack), pretrained.recipe)  # a fresh copy: fine-tuning changes it
            results[f"pretrained on 0-4, {mode}"].append(accuracy(given, X, y, X_test, y_test, mode, seed))
    n = args.labels_per_class * 5
    print(f"\ndigits 5-9, {n} labeled images ({args.labels_per_class} per class), test accuracy over {args.seeds} draws of the labels:")
    for name, accs in results.items():
        print(f"  {name:<28} {np.mean(accs):.4f} +- {np.std(accs):.4f}   {np.round(accs, 4).tolist()}")


if __name__ == "__main__":
    main()
