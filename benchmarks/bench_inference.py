"""The cost of batch-invariant inference (issue #13: "if that costs more than 10% of inference speed, say so").

Every estimator's ``predict``/``transform`` runs through ``layerwise.train.inference.predict_in_batches``,
which feeds the network blocks of exactly ``BLOCK_ROWS`` (256) rows, the last one padded, so that a row's
result never depends on the other rows. Before issue #13, one forward pass took blocks of 8,192 rows. Timed
here on the same network and rows, alternated (A B A B ...), medians:

- "256-row blocks (layerwise default)": ``predict_in_batches(module, X)``, what the estimators do;
- "64-row blocks": ``predict_in_batches(module, X, batch_size=64)``, the first block size issue #13 used
  (also batch-invariant: any fixed block is);
- "8,192-row blocks": the same module under ``torch.no_grad()`` on 8,192 rows at a time, the fastest
  plain loop (results then depend, in the last bit, on which rows share a block);
- "PretrainedClassifier.predict_proba": the estimator's whole method (checks, scaling, float64 softmax).

Networks: the 784-1000-500-250-30 encoder (ReLU) and the estimators' default classifier
784-512-256-10, on the 60,000 MNIST training images.

    python benchmarks/bench_inference.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

import layerwise  # noqa: F401  (flushes denormals at import)
from layerwise.train.inference import BLOCK_ROWS, predict_in_batches

sys.path.insert(0, str(Path(__file__).parent))
from _common import alternate, mnist_train, report  # noqa: E402


def mlp(sizes: tuple[int, ...]) -> nn.Module:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1]).eval()


def plain(module: nn.Module, X: torch.Tensor, block: int = 8192) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([module(X[i:i + block]) for i in range(0, len(X), block)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    X = mnist_train()
    for sizes in ((784, 1000, 500, 250, 30), (784, 512, 256, 10)):
        module = mlp(sizes)
        name = f"inference {'-'.join(map(str, sizes))}"
        times = alternate({f"{BLOCK_ROWS}-row blocks (layerwise default)": lambda: predict_in_batches(module, X),
                           "64-row blocks (predict_in_batches, batch_size=64)": lambda: predict_in_batches(module, X, 64),
                           "8,192-row blocks": lambda: plain(module, X)}, args.rounds, name)
        report(name, times, len(X), "8,192-row blocks")
    from layerwise import PretrainedClassifier

    Xn = X.numpy()
    y = np.arange(len(Xn)) % 10
    clf = PretrainedClassifier(semi_supervised=None, pretrain=None, max_iter=1, random_state=0).fit(Xn[:2000], y[:2000])
    times = alternate({"PretrainedClassifier.predict_proba": lambda: clf.predict_proba(Xn),
                       "8,192-row blocks": lambda: plain(clf.module_, X)}, args.rounds, "estimator inference")
    report("estimator inference 784-512-256-10", times, len(X), "8,192-row blocks")


if __name__ == "__main__":
    main()
