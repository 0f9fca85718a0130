"""Issue #7, "Defaults": ``PretrainedClassifier()`` out of the box on an image dataset of MNIST's size.

Fits the estimator with its default hyperparameters (only ``random_state`` set) on the 60,000
MNIST training images, once with every label and once with 1,000 labels (the other rows marked
-1, used for pretraining only), and reports the test accuracy and wall time; then the same with
each alternative given on the command line, to show what a default buys.

    python benchmarks/defaults.py                                   # defaults vs lr_schedule="constant"
    python benchmarks/defaults.py --variant '{"hidden_layer_sizes": [512, 128]}'
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from _reproduce import mnist, record

from layerwise import PretrainedClassifier


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--labels", type=int, nargs="+", default=[60000, 1000])
    p.add_argument("--variant", action="append", default=None, help="JSON of parameters to change (repeatable)")
    p.add_argument("--random-state", type=int, default=0)
    args = p.parse_args(argv)
    variants = [{}] + [json.loads(v) for v in (args.variant or ['{"lr_schedule": "constant"}'])]
    X, y, X_test, y_test = mnist()
    X, y, X_test, y_test = X.numpy(), y.numpy(), X_test.numpy(), y_test.numpy()
    rows = []
    for n in args.labels:
        y_partial = y.copy()
        if n < len(y):
            keep = np.random.default_rng(args.random_state).choice(len(y), n, replace=False)
            y_partial[np.setdiff1d(np.arange(len(y)), keep)] = -1
        for params in variants:
            clf = PretrainedClassifier(random_state=args.random_state, **params)
            start = time.perf_counter()
            clf.fit(X, y_partial)
            seconds = time.perf_counter() - start
            rows.append(record("defaults", {"labels": n, "params": params or "defaults", "test_accuracy": round(float(clf.score(X_test, y_test)), 4),
                                            "fit_minutes": round(seconds / 60, 2), "finetune_epochs": clf.n_iter_}, argv))
    return rows


if __name__ == "__main__":
    main()
