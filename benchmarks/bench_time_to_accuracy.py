"""Issue #20: time to accuracy — test error against wall-clock seconds, the default fit and its peers.

The figure users judge a few-label method by. For each data set and seed, every method is fitted on the
same rows and labels (unlabeled rows marked -1), one after the other in one process, and timed from the
start of ``fit`` to its return:

- ``default``: ``PretrainedClassifier(random_state=seed)``, nothing else set. A callback records the test
  error after every epoch of the phase that trains the classifier (the clock is stopped while it evaluates),
  so the default is a line: error against seconds. Nothing is chosen from those points; the last one is
  the fitted model's error.
- ``conv_ladder``: ``PretrainedClassifier(random_state=seed, semi_supervised="conv_ladder")`` given the
  images' shape (digits 1x8x8, MNIST 1x28x28): the convolutional ladder (Conv-Small, Gamma-model), which
  ``"auto"`` takes for images on a GPU only; a line like the default's. Not in the default ``--methods``
  on MNIST (a step costs about 1 s on this CPU).
- ``greedy`` / ``ladder``: ``semi_supervised=None`` (greedy pretraining, then fine-tuning) and
  ``semi_supervised="ladder"``, lines like the default's: what ``"auto"`` chooses between, side by side
  (with every row labeled, issue #21).
- ``mlp``: scikit-learn's ``MLPClassifier()`` with its defaults on the labeled rows, a point.
- ``labelspreading``: scikit-learn's ``LabelSpreading(kernel="knn")`` (digits: raw pixels, k=7; MNIST:
  on PCA-50 codes fitted on every training row, k=10), a point.
- ``selftraining``: ``SelfTrainingClassifier(LogisticRegression())`` on the same inputs, a point.
- ``logistic``: ``LogisticRegression`` on the labeled rows only, a point.

Data sets: ``digits`` (the demo's split: 30% test, 10% of the training rows labeled), ``mnist100`` and
``mnist1000`` (the 60,000 MNIST training images with 10 / 100 labels per class drawn per seed; the 10,000
test images); ``digitsall`` and ``mnistall``: the same rows with every training label. Records go to
``results/time_to_accuracy.jsonl``; ``report`` prints the table and draws ``results/time_to_accuracy_<data>.png``
(log x)::

    python benchmarks/bench_time_to_accuracy.py run --data digits --seeds 0 1 2
    python benchmarks/bench_time_to_accuracy.py run --data mnist100 mnist1000 --seeds 0 1 2   # hours today
    python benchmarks/bench_time_to_accuracy.py report
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _common import machine
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.semi_supervised import LabelSpreading, SelfTrainingClassifier

import layerwise  # noqa: F401  (flushes denormals at import)
from layerwise import PretrainedClassifier
from layerwise.train import Callback, predict_in_batches

RESULTS = Path(__file__).resolve().parent / "results" / "time_to_accuracy.jsonl"
METHODS = ("default", "conv_ladder", "greedy", "ladder", "labelspreading", "selftraining", "logistic", "mlp")
LINES = ("default", "conv_ladder", "greedy", "ladder")  # the methods drawn as error-against-seconds curves
# the estimator's parameters of each line beside the default (conv_ladder's image shape is added per data set)
LINE_PARAMS = {"default": {}, "conv_ladder": {"semi_supervised": "conv_ladder"}, "greedy": {"semi_supervised": None},
               "ladder": {"semi_supervised": "ladder"}}
DATA = ("digits", "digitsall", "mnist100", "mnist1000", "mnistall")
SHAPES = {"digits": (1, 8, 8), "digitsall": (1, 8, 8), "mnist100": (1, 28, 28), "mnist1000": (1, 28, 28),
          "mnistall": (1, 28, 28)}


def load(data: str, seed: int):
    """``(X_train, y_partial, X_test, y_test)``: float32 rows in [0, 1], -1 for the unlabeled training rows."""
    if data.startswith("digits"):
        import few_labels_digits

        X, y_partial, _, X_test, y_test, y = few_labels_digits.split(seed)
        return X, (y if data == "digitsall" else y_partial), X_test, y_test
    from _reproduce import mnist

    X, y, X_test, y_test = (t.numpy() for t in mnist())
    if data == "mnistall":
        return X, y, X_test, y_test
    per_class = {"mnist100": 10, "mnist1000": 100}[data]
    rng = np.random.RandomState(seed)
    keep = np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in range(10)])
    y_partial = np.full(len(y), -1)
    y_partial[keep] = y[keep]
    return X, y_partial, X_test, y_test


class ErrorCurve(Callback):
    """Test error after each epoch of the classifier's phase, against the seconds of training so far.

    The time spent here is subtracted from the clock, so the curve shows what training alone costs.
    """

    def __init__(self, X_test: np.ndarray, y_test: np.ndarray, n_classes: int, start: float) -> None:
        self.X, self.y, self.n_classes = torch.from_numpy(X_test), torch.from_numpy(y_test), n_classes
        self.start, self.paused, self.points, self.threads = start, 0.0, [], None

    def on_epoch_end(self, trainer, model, logs) -> None:
        t0 = time.perf_counter()
        self.threads = torch.get_num_threads()  # during the fit (layerwise.train.threads may lower it)
        was_training = model.training
        model.eval()
        first = next((m for m in model.modules() if isinstance(m, torch.nn.Linear)), None)
        if first is not None and first.in_features != self.X.shape[1]:  # a deeper greedy stage: it reads codes, not rows
            self.paused += time.perf_counter() - t0
            return
        with torch.no_grad():
            out = predict_in_batches(model, self.X.to(next(model.parameters()).device))
        model.train(was_training)
        if out.ndim == 2 and out.shape[1] == self.n_classes:  # a classifier, not a pretraining autoencoder
            error = 100.0 * float((out.argmax(1).cpu() != self.y).float().mean())
            self.points.append((round(t0 - self.start - self.paused, 2), round(error, 3)))
        self.paused += time.perf_counter() - t0


def peers(data: str, seed: int) -> dict:
    """name -> (estimator, fit on labeled rows only?)."""
    k = 7 if data == "digits" else 10
    pca = [] if data == "digits" else [PCA(50, random_state=seed)]
    return {
        "labelspreading": (make_pipeline(*pca, LabelSpreading(kernel="knn", n_neighbors=k, max_iter=100)), False),
        "selftraining": (make_pipeline(*pca, SelfTrainingClassifier(LogisticRegression(max_iter=1000))), False),
        "logistic": (LogisticRegression(max_iter=2000), True),
        "mlp": (MLPClassifier(random_state=seed), True),  # scikit-learn's defaults: (100,), adam, up to 200 epochs
    }


def run_one(data: str, seed: int, method: str, params: dict) -> dict:
    X, y_partial, X_test, y_test = load(data, seed)
    labeled = y_partial != -1
    curve = None
    start = time.perf_counter()
    if method in LINES:
        curve = ErrorCurve(X_test, y_test, 10, start)
        line = dict(LINE_PARAMS[method])
        if method == "conv_ladder":
            line["semi_supervised_params"] = {"image_shape": SHAPES[data]}
        est = PretrainedClassifier(random_state=seed, callbacks=(curve,), **line, **params)
        est.fit(X, y_partial)
        seconds = time.perf_counter() - start - curve.paused
    else:
        est, labeled_only = peers(data, seed)[method]
        est.fit(X[labeled], y_partial[labeled]) if labeled_only else est.fit(X, y_partial)
        seconds = time.perf_counter() - start
    error = 100.0 * float((est.predict(X_test) != y_test).mean())  # the test rows, read once per fit
    row = {"data": data, "seed": seed, "method": method, "labels": int(labeled.sum()), "test_error": round(error, 3),
           "seconds": round(seconds, 2), "threads": (curve.threads if curve else None) or torch.get_num_threads(),
           "params": params}
    if curve is not None:
        row["curve"] = curve.points
        row["semi_supervised_"] = getattr(est, "semi_supervised_", None)
    return row


def run(args) -> None:
    params = json.loads(args.params)
    for data in args.data:
        for seed in args.seeds:
            for method in args.methods:
                row = run_one(data, seed, method, params if method in LINES else {})
                row.update(date=datetime.date.today().isoformat(), machine=machine(),
                           command="python " + " ".join(sys.argv))
                print(json.dumps({k: v for k, v in row.items() if k != "curve"}), flush=True)
                if not args.no_record:
                    RESULTS.parent.mkdir(parents=True, exist_ok=True)
                    with RESULTS.open("a") as f:
                        f.write(json.dumps(row) + "\n")


def rows(path: Path = RESULTS, params: str = "{}") -> list[dict]:
    """The recorded runs whose default used ``params`` (peers: all), the latest per (data, seed, method)."""
    latest: dict = {}
    if path.exists():
        for line in path.read_text().splitlines():
            r = json.loads(line)
            if r["method"] not in LINES or json.dumps(r["params"], sort_keys=True) == json.dumps(json.loads(params), sort_keys=True):
                latest[(r["data"], r["seed"], r["method"])] = r
    return list(latest.values())


def report(args) -> None:
    recs = rows(params=args.params)
    print("| data | method | test error (%) | fit seconds | threads | seeds |")
    print("|---|---|---:|---:|---:|---|")
    for data in sorted({r["data"] for r in recs}):
        for method in METHODS:
            rs = [r for r in recs if r["data"] == data and r["method"] == method]
            if not rs:
                continue
            e, s = np.array([r["test_error"] for r in rs]), np.array([r["seconds"] for r in rs])
            print(f"| {data} | {method} | {e.mean():.2f} ± {e.std():.2f} | {s.mean():.1f} | {rs[0]['threads']} | "
                  f"{' '.join(str(r['seed']) for r in sorted(rs, key=lambda r: r['seed']))} |")
        plot(data, [r for r in recs if r["data"] == data])


def plot(data: str, recs: list[dict]) -> Path:
    """Error against seconds (log x): the default's curve per seed, each peer's mean as a point with its spread."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    names = {"default": "PretrainedClassifier() (each seed)", "conv_ladder": "semi_supervised='conv_ladder' (each seed)",
             "greedy": "semi_supervised=None: greedy + fine-tune (each seed)", "ladder": "semi_supervised='ladder' (each seed)"}
    for j, line in enumerate(LINES):
        for i, r in enumerate(sorted((r for r in recs if r["method"] == line), key=lambda r: r["seed"])):
            pts = np.array(r.get("curve") or [[r["seconds"], r["test_error"]]])
            ax.plot(pts[:, 0], pts[:, 1], color=f"C{j}", alpha=0.8, label=names[line] if i == 0 else None)
            ax.plot([r["seconds"]], [r["test_error"]], "o", color=f"C{j}")
    for j, method in enumerate(METHODS[len(LINES):], start=len(LINES)):
        rs = [r for r in recs if r["method"] == method]
        if rs:
            e, s = np.array([r["test_error"] for r in rs]), np.array([r["seconds"] for r in rs])
            ax.errorbar([s.mean()], [e.mean()], yerr=[e.std()], fmt="s", color=f"C{j}", capsize=3, label=method)
    ax.set_xscale("log")
    ax.set_xlabel("seconds of fit (2 cores)")
    ax.set_ylabel("test error (%)")
    ax.set_title(f"{data}: test error against fit time")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    top = max([r["test_error"] for r in recs] + [1.0])
    ax.set_ylim(0, min(100.0, 1.15 * top))
    out = RESULTS.parent / f"time_to_accuracy_{data}.png"
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--data", nargs="+", default=["digits"], choices=DATA)
    r.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    r.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    r.add_argument("--params", default="{}", help="JSON parameters of the default (levers; not the reported figure)")
    r.add_argument("--no-record", action="store_true")
    rep = sub.add_parser("report")
    rep.add_argument("--params", default="{}", help="report the default runs made with these parameters")
    args = p.parse_args(argv)
    (run if args.command == "run" else report)(args)


if __name__ == "__main__":
    main()
