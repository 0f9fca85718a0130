"""Issue #12: few labels on MNIST — ladder network, M1+M2, and scikit-learn's LabelSpreading, side by side.

For each number of labels and each label draw (seed), a balanced set of n/10 images per class keeps
its label; all 60,000 training images are the unlabeled pool. In the same run, on the same draw:

- ``labelspreading``: ``sklearn.semi_supervised.LabelSpreading(kernel="knn")`` on PCA-50 codes of the
  training images (what a scikit-learn user picks; the issue measured 9.7% at 100 labels);
- ``ladder``: the ladder network through ``PretrainedClassifier(semi_supervised="ladder")`` (when the
  estimator offers it; ``--api torch`` uses :func:`layerwise.fit_semi_supervised` directly) with the
  paper's network 784-1000-500-250-250-250-10, noise 0.3, lambdas 1000/10/0.1..., batches of 100
  labeled + 100 unlabeled rows, Adam 0.002 constant then decayed linearly to 0 over the last third
  (Rasmus et al. 2015, section 4.1: 100 + 50 epochs);
- ``m1m2``: M1 (784-600-600-50 VAE) trained on every image, then M2 (500 hidden, z 50) on its codes
  (Kingma et al. 2014, M1+M2).

No validation set, no early stopping: a fixed budget, the test error read once at the end.
Published test error (%), 100 / 1000 labels: ladder 1.06 ± 0.37 / 0.84 ± 0.08 (Rasmus et al. 2015),
M1+M2 3.33 ± 0.14 / 2.40 ± 0.02 (Kingma et al. 2014).

    python benchmarks/reproduce_semi.py --method ladder --labels 100 --seeds 0 1 2
    python benchmarks/reproduce_semi.py --method m1m2 --labels 100 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.semi_supervised import LabelSpreading

import layerwise  # noqa: F401  (flushes denormals at import)
from _reproduce import Clock, mnist, record
from layerwise import Trainer
from layerwise.objectives import Ladder, M2Objective
from layerwise.semi_supervised import fit_semi_supervised
from layerwise.train import Callback
from layerwise.train.loop import predict_in_batches

PUBLISHED = {"ladder": {100: (1.06, 0.37), 1000: (0.84, 0.08)}, "m1m2": {100: (3.33, 0.14), 1000: (2.40, 0.02)}}
LADDER_HIDDEN = (1000, 500, 250, 250, 250)


def balanced(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of n/10 rows of each class, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.choice(np.flatnonzero(y == c), n // 10, replace=False) for c in range(10)])


class LinearDecay(Callback):
    """Constant rate, then linear decay to 0 over the last ``fraction`` of the epochs (Rasmus et al. 2015)."""

    def __init__(self, fraction: float) -> None:
        self.fraction = fraction

    def on_fit_start(self, trainer, model) -> None:
        self.base = [g["lr"] for g in trainer.optimizer_.param_groups]

    def on_epoch_start(self, trainer, model, epoch: int) -> None:
        start = trainer.max_iter - int(round(self.fraction * trainer.max_iter))
        factor = 1.0 if epoch < start else (trainer.max_iter - epoch) / max(trainer.max_iter - start, 1)
        for group, base in zip(trainer.optimizer_.param_groups, self.base):
            group["lr"] = base * factor


def label_spreading(X: np.ndarray, y: np.ndarray, idx: np.ndarray, X_test: np.ndarray, y_test: np.ndarray, pca: PCA, k: int) -> float:
    """Test error (%) of LabelSpreading on PCA codes, the labels of ``idx`` only."""
    yp = np.full(len(y), -1)
    yp[idx] = y[idx]
    ls = LabelSpreading(kernel="knn", n_neighbors=k).fit(pca.transform(X), yp)
    return 100.0 * float((ls.predict(pca.transform(X_test)) != y_test).mean())


def train_method(args, X: torch.Tensor, y: torch.Tensor, idx: np.ndarray, seed: int):
    """The method's model, trained on the draw ``idx``; returns (model, history)."""
    torch.manual_seed(seed)
    if args.method == "ladder":
        method, hidden = Ladder(args.noise, "paper"), LADDER_HIDDEN
        prepare = None
    else:
        method, hidden = M2Objective(alpha=args.alpha, m1_epochs=args.m1_epochs), (600, 600)
        prepare = Trainer(batch_size=100, learning_rate_init=1e-3, random_state=seed, precision=args.precision, verbose=args.progress, desc="M1")
    trainer = Trainer(max_iter=args.epochs, batch_size=100, learning_rate_init=args.lr, random_state=seed, precision=args.precision,
                      callbacks=[LinearDecay(args.decay)], verbose=args.progress, desc=args.method)
    ii = torch.from_numpy(idx)
    return fit_semi_supervised(method, X[ii], y[ii], X, hidden, 10, trainer=trainer, prepare_trainer=prepare,
                               labeled_batch_size=100)


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--method", choices=("ladder", "m1m2"), required=True)
    p.add_argument("--labels", type=int, nargs="+", default=[100])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=None, help="default: 150 (ladder), 100 (m1m2)")
    p.add_argument("--lr", type=float, default=None, help="default: 0.002 (ladder), 3e-4 (m1m2)")
    p.add_argument("--decay", type=float, default=1 / 3, help="fraction of the epochs with a linearly decaying rate")
    p.add_argument("--noise", type=float, default=0.3)
    p.add_argument("--alpha", type=float, default=0.1)
    p.add_argument("--m1-epochs", type=int, default=100)
    p.add_argument("--precision", choices=("fp32", "bf16"), default="bf16")
    p.add_argument("--neighbors", type=int, default=7, help="LabelSpreading's k")
    p.add_argument("--progress", action="store_true")
    args = p.parse_args(argv)
    args.epochs = args.epochs or (150 if args.method == "ladder" else 100)
    args.lr = args.lr or (2e-3 if args.method == "ladder" else 3e-4)
    X, y, X_test, y_test = mnist()
    pca = PCA(50, random_state=0).fit(X.numpy())
    rows = []
    for n in args.labels:
        clock = Clock()
        errors: dict[str, list[float]] = {args.method: [], "labelspreading": []}
        for seed in args.seeds:
            idx = balanced(y.numpy(), n, seed)
            with clock("labelspreading"):
                errors["labelspreading"].append(label_spreading(X.numpy(), y.numpy(), idx, X_test.numpy(), y_test.numpy(), pca, args.neighbors))
            with clock(args.method):
                model, history = train_method(args, X, y, idx, seed)
            pred = predict_in_batches(model, X_test).argmax(1)
            errors[args.method].append(100.0 * float((pred != y_test).float().mean()))  # the test set, read once
            print(json.dumps({"labels": n, "seed": seed, **{k: round(v[-1], 3) for k, v in errors.items()},
                              "last_epoch": {k: round(v, 4) for k, v in history["train"][-1].items()}}), flush=True)
        summary = {m: {"mean": round(float(np.mean(e)), 3), "std": round(float(np.std(e)), 3), "runs": [round(v, 3) for v in e]}
                   for m, e in errors.items()}
        rows.append(record(f"semi_{args.method}", {
            "labels": n, "seeds": args.seeds, "test_error_pct": summary, "published_pct": PUBLISHED[args.method].get(n),
            "wall_minutes": clock.minutes, "minutes_per_run": round(clock.seconds[args.method] / 60 / len(args.seeds), 2),
            "settings": vars(args)}, argv))
    return rows


if __name__ == "__main__":
    main()
