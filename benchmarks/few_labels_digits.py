"""Issue #12: digits with 10% of the labels — the default PretrainedClassifier against what a user would pick instead.

The demo's split (``layerwise demo``): 30% of the 1,797 digits held out as the test set (stratified,
seeded), labels kept for 10% of the training rows (stratified, same seed), the others marked -1.
Every method sees the same training rows and labels, and the test set is read once per seed:

- ``PretrainedClassifier()``: the defaults, nothing set (with -1 rows: the ladder network);
- ``PretrainedClassifier(semi_supervised=None)``: greedy pretraining on every row, then fine-tuning
  on the labeled rows (the defaults before issue #12);
- ``PretrainedClassifier(semi_supervised="m1m2")``: M1+M2 with its defaults;
- ``LabelSpreading(kernel="knn", n_neighbors=7)`` on raw pixels: scikit-learn's semi-supervised
  estimator (the peer the issue measured at 0.965);
- ``LabelSpreading`` on the ladder's codes (``make_pipeline(PretrainedClassifier(), LabelSpreading())``);
- ``LogisticRegression`` on the labeled rows only.

    python benchmarks/few_labels_digits.py --seeds 0 1 2
    python benchmarks/few_labels_digits.py --seeds 10 11 12 13 14 --methods default   # tuning seeds

The seeds 0-2 are the reported ones; choices of the defaults were made on other seeds (10-14).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from _reproduce import record
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.semi_supervised import LabelSpreading

import layerwise  # noqa: F401  (flushes denormals at import)
from layerwise import PretrainedClassifier

LS = "LabelSpreading (kNN 7), raw pixels"


def methods(seed: int, params: dict) -> dict:
    """name -> a fresh estimator (fit on X with -1 marks) — or a (fit on labeled rows only) marker."""
    return {
        "default": PretrainedClassifier(random_state=seed, **params),
        "pretrain then fine-tune": PretrainedClassifier(semi_supervised=None, random_state=seed),
        "m1m2": PretrainedClassifier(semi_supervised="m1m2", random_state=seed),
        "labelspreading": LabelSpreading(kernel="knn", n_neighbors=7),
        "labelspreading on ladder codes": make_pipeline(PretrainedClassifier(random_state=seed, **params),
                                                        LabelSpreading(kernel="knn", n_neighbors=7)),
        "logistic regression, labeled rows": LogisticRegression(max_iter=2000),
    }


def split(seed: int):
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)
    labeled, _ = train_test_split(np.arange(len(y_train)), train_size=0.1, random_state=seed, stratify=y_train)
    y_partial = np.full(len(y_train), -1)
    y_partial[labeled] = y_train[labeled]
    return X_train, y_partial, labeled, X_test, y_test, y_train


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--methods", nargs="+", default=None, help="default: all")
    p.add_argument("--params", default="{}", help="JSON parameters of the default PretrainedClassifier (tuning only)")
    p.add_argument("--no-record", action="store_true", help="print, do not append to results/reproduce.jsonl")
    args = p.parse_args(argv)
    params = json.loads(args.params)
    acc: dict[str, list[float]] = {}
    seconds: dict[str, list[float]] = {}
    for seed in args.seeds:
        X, y_partial, labeled, X_test, y_test, _ = split(seed)
        for name, est in methods(seed, params).items():
            if args.methods and name not in args.methods:
                continue
            start = time.perf_counter()
            if name.startswith("logistic"):
                est.fit(X[labeled], y_partial[labeled])
            else:
                est.fit(X, y_partial)
            seconds.setdefault(name, []).append(time.perf_counter() - start)
            acc.setdefault(name, []).append(float((est.predict(X_test) == y_test).mean()))  # the test rows, read once
        print(json.dumps({"seed": seed, "labels": int(len(labeled)), **{k: round(v[-1], 4) for k, v in acc.items()}}), flush=True)
    summary = {k: {"mean": round(float(np.mean(v)), 4), "std": round(float(np.std(v)), 4), "runs": [round(x, 4) for x in v],
                   "fit_seconds": round(float(np.mean(seconds[k])), 1)} for k, v in acc.items()}
    row = {"seeds": args.seeds, "accuracy": summary, "params": params}
    if "default" in acc and "labelspreading" in acc:
        row["default_minus_labelspreading_points"] = round(100 * (summary["default"]["mean"] - summary["labelspreading"]["mean"]), 2)
    if args.no_record:
        print(json.dumps(row))
        return row
    return record("few_labels_digits", row, argv)


if __name__ == "__main__":
    main()
