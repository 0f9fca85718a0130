"""class_weight="balanced" on digits with a rare class and few labels: balanced accuracy with and without.

The split, one per seed: 30% of the 1,797 digits held out as the test set (stratified, seeded; every class
as common as in digits); in the training rows the rare class (``--minority``, 9) keeps a tenth of its rows
(``--ratio``), labeled and unlabeled alike, so that it is rare in the data as in the labels; labels are kept
for 10% of each class's training rows (``--label-fraction``; at least one), the others marked -1. The rare
class then has about a tenth as many labeled rows as each other class (1 against 12-13 with the defaults;
the script prints the counts). Every method sees the same training rows and labels, and the test rows are
predicted once per fit; the scores are computed from those predictions:

- ``PretrainedClassifier()`` and ``PretrainedClassifier(class_weight="balanced")``: the defaults
  otherwise, ``random_state=seed`` (with -1 rows on flat pixels: the ladder network);
- ``LogisticRegression()`` and ``LogisticRegression(class_weight="balanced")`` on the labeled rows only;
- ``LabelSpreading(kernel="knn")`` on every training row (scikit-learn's semi-supervised estimator).

Reported per method: balanced accuracy (the mean of the per-class recalls: a classifier that never answers
the rare class loses a tenth of it), the rare class's recall, plain accuracy, wall seconds of ``fit`` and
the thread counts the process ran with (torch, OpenMP, BLAS, ``OMP_NUM_THREADS``).

    python benchmarks/class_weight.py --seeds 0 1 2
    python benchmarks/class_weight.py --seeds 0 --max-iter 2 --no-record     # a smoke run, seconds
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
from _reproduce import record
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score, recall_score
from sklearn.model_selection import train_test_split
from sklearn.semi_supervised import LabelSpreading

import layerwise  # noqa: F401  (flushes denormals at import)
from layerwise import PretrainedClassifier

LABELED_ONLY = ("logistic regression", "logistic regression, balanced")


def methods(seed: int, max_iter) -> dict:
    """name -> a fresh estimator; those in :data:`LABELED_ONLY` are fitted on the labeled rows alone."""
    return {
        "PretrainedClassifier()": PretrainedClassifier(random_state=seed, max_iter=max_iter),
        "PretrainedClassifier(class_weight='balanced')": PretrainedClassifier(class_weight="balanced", random_state=seed,
                                                                              max_iter=max_iter),
        "logistic regression": LogisticRegression(max_iter=2000),
        "logistic regression, balanced": LogisticRegression(class_weight="balanced", max_iter=2000),
        "labelspreading": LabelSpreading(kernel="knn"),
    }


def split(seed: int, minority: int, ratio: float, label_fraction: float):
    """``(X_train, y_partial, X_test, y_test)``: the rare class thinned to ``ratio`` of its training rows, labels kept
    for ``label_fraction`` of each class's training rows (at least one), -1 elsewhere."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)
    rng = np.random.RandomState(seed)
    rare = np.flatnonzero(y_train == minority)
    dropped = rng.choice(rare, size=len(rare) - max(1, round(ratio * len(rare))), replace=False)
    keep = np.setdiff1d(np.arange(len(y_train)), dropped)
    X_train, y_train = X_train[keep], y_train[keep]
    y_partial = np.full(len(y_train), -1)
    for c in np.unique(y_train):
        rows = np.flatnonzero(y_train == c)
        chosen = rng.choice(rows, size=max(1, round(label_fraction * len(rows))), replace=False)
        y_partial[chosen] = c
    return X_train, y_partial, X_test, y_test


def threads() -> dict:
    import torch
    from threadpoolctl import threadpool_info

    pools = threadpool_info()
    return {"torch": torch.get_num_threads(),
            "openmp": max((p["num_threads"] for p in pools if p["user_api"] == "openmp"), default=None),
            "blas": max((p["num_threads"] for p in pools if p["user_api"] == "blas"), default=None),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}


def run(name: str, est, X, y_partial, X_test, y_test, minority: int) -> dict:
    """Fit ``est``, predict the test rows once; the scores and the fit's wall seconds."""
    labeled = y_partial != -1
    start = time.perf_counter()
    if name in LABELED_ONLY:
        est.fit(X[labeled], y_partial[labeled])
    else:
        est.fit(X, y_partial)
    seconds = time.perf_counter() - start
    predicted = est.predict(X_test)  # the test rows, read once
    return {"balanced_accuracy": float(balanced_accuracy_score(y_test, predicted)),
            "minority_recall": float(recall_score(y_test, predicted, labels=[minority], average=None)[0]),
            "accuracy": float(accuracy_score(y_test, predicted)), "fit_seconds": seconds, "threads": threads()}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--methods", nargs="+", default=None, help="default: all")
    p.add_argument("--minority", type=int, default=9, help="the rare class")
    p.add_argument("--ratio", type=float, default=0.1, help="the rare class's share of its training rows that is kept")
    p.add_argument("--label-fraction", type=float, default=0.1, help="labeled share of each class's training rows")
    p.add_argument("--max-iter", default="auto", help="PretrainedClassifier's max_iter (smoke runs: a small number)")
    p.add_argument("--no-record", action="store_true", help="print, do not append to results/reproduce.jsonl")
    args = p.parse_args(argv)
    max_iter = args.max_iter if args.max_iter == "auto" else int(args.max_iter)
    results: dict[str, list[dict]] = {}
    for seed in args.seeds:
        X, y_partial, X_test, y_test = split(seed, args.minority, args.ratio, args.label_fraction)
        if seed == args.seeds[0]:  # untimed: the first fit of a process pays torch's one-time start-up
            PretrainedClassifier((8,), max_iter=1, random_state=0).fit(X, y_partial)
        counts = np.bincount(y_partial[y_partial != -1], minlength=10).tolist()
        for name, est in methods(seed, max_iter).items():
            if args.methods and name not in args.methods:
                continue
            result = run(name, est, X, y_partial, X_test, y_test, args.minority)
            results.setdefault(name, []).append(result)
            print(json.dumps({"seed": seed, "method": name, "labels_per_class": counts, "training_rows": len(X),
                              **{k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}}), flush=True)
    summary = {name: {key: {"mean": round(float(np.mean([r[key] for r in runs])), 4),
                            "std": round(float(np.std([r[key] for r in runs])), 4),
                            "runs": [round(r[key], 4) for r in runs]}
                      for key in ("balanced_accuracy", "minority_recall", "accuracy", "fit_seconds")}
               for name, runs in results.items()}
    row = {"seeds": args.seeds, "minority": args.minority, "ratio": args.ratio, "label_fraction": args.label_fraction,
           "max_iter": max_iter, "results": summary, "threads": threads()}
    if args.no_record:
        print(json.dumps(row))
        return row
    return record("class_weight", row, argv)


if __name__ == "__main__":
    main()
