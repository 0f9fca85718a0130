"""Issue #20, one lever alone: the ladder's unlabeled batch, larger with a scaled learning rate, for the same epochs.

On digits a ladder step of 64-512-256-10 costs about 11 ms, mostly per-operation overhead rather than arithmetic
(RESULTS.md, "The speed levers"), so a step on twice the rows should cost far less than twice as much, and the
same number of epochs in half the steps should take less time. This measures whether the accuracy holds:
the default ``PretrainedClassifier()`` (100 + 100 rows per step, Adam 0.005, 231 epochs on the demo's split)
against the same epochs with ``batch_size`` 200 and 400 and the learning rate scaled by the square root of the
batch ratio (the square-root rule for Adam, Malladi et al. 2022), beside ``LabelSpreading(kernel="knn")`` on the
same split, seeds given, the test rows read once per fit. Nothing here changes a default.

    python benchmarks/ladder_batch.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.semi_supervised import LabelSpreading

from layerwise import PretrainedClassifier
from layerwise.objectives import Ladder
from layerwise.params.auto import Situation, max_iter

sys.path.insert(0, str(Path(__file__).parent))
import few_labels_digits  # noqa: E402
from _common import emit, machine  # noqa: E402


def variants(n_rows: int) -> dict[str, dict]:
    """The default, and the same epochs with 2x and 4x the rows per step (learning rate x sqrt of the ratio)."""
    epochs = max_iter(Situation(n_rows, Ladder()))  # what the default trains: the same epochs for every variant
    out = {"default (batch 100, lr 0.005)": {}}
    for factor in (2, 4):
        out[f"batch {100 * factor}, lr {Ladder.learning_rate * factor ** 0.5:.4f}"] = {
            "batch_size": 100 * factor, "learning_rate_init": Ladder.learning_rate * factor ** 0.5, "max_iter": epochs}
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = p.parse_args(argv)
    rows = []
    for seed in args.seeds:
        X, y_partial, _, X_test, y_test, _ = few_labels_digits.split(seed)
        start = time.perf_counter()
        peer = LabelSpreading(kernel="knn", n_neighbors=7).fit(X, y_partial)
        rows.append(("LabelSpreading (kNN, k=7)", seed, float((peer.predict(X_test) == y_test).mean()), time.perf_counter() - start))
        for name, params in variants(len(X)).items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                clf = PretrainedClassifier(random_state=seed, **params).fit(X, y_partial)
                seconds = time.perf_counter() - start
            rows.append((name, seed, float((clf.predict(X_test) == y_test).mean()), seconds))
            print(f"seed {seed}  {name:32s} accuracy {rows[-1][2]:.4f}  {seconds:6.1f} s", flush=True)
    print(f"\n{'method':32s} {'accuracy (mean ± std)':>24s} {'seconds':>8s}   threads {torch.get_num_threads()}")
    for name in dict.fromkeys(r[0] for r in rows):
        acc = np.array([r[2] for r in rows if r[0] == name])
        sec = np.array([r[3] for r in rows if r[0] == name])
        print(f"{name:32s} {acc.mean():12.4f} ± {acc.std():.4f} {sec.mean():8.1f}")
        emit({"benchmark": "ladder_batch", "variant": name, "seeds": args.seeds, "accuracy": acc.tolist(),
              "seconds": sec.tolist(), "machine": machine()})


if __name__ == "__main__":
    main()
