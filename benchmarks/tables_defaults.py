"""Issue #25: which network a table's defaults should train — variants measured on tuning seeds.

The defaults for tables (``looks_like_table``) were chosen here, on seeds other than the reported ones
(0-2 in ``few_labels_tables.py``): each variant is ``PretrainedClassifier(random_state=seed,
check_reference=False, **params)`` on the same split as ``few_labels_tables.py``; the record holds the test
accuracy and the fit seconds, next to ``HistGradientBoostingClassifier`` on the labeled rows.

    python benchmarks/tables_defaults.py --seeds 10 --labels 1000 \\
        --variant ladder '{"semi_supervised": "ladder"}' --variant mlp '{"semi_supervised": null, "pretrain": null}'
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import numpy as np
from _tables import TABLES, load
from few_labels_tables import partial_labels, run_method, split

import layerwise  # noqa: F401  (flushes denormals at import)
from layerwise import PretrainedClassifier

RESULTS = Path(__file__).resolve().parent / "results" / "tables_defaults.jsonl"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tables", nargs="+", default=list(TABLES), choices=list(TABLES))
    p.add_argument("--labels", type=int, nargs="+", default=[1000])
    p.add_argument("--seeds", type=int, nargs="+", default=[10])
    p.add_argument("--variant", nargs=2, action="append", metavar=("NAME", "JSON"), required=True)
    p.add_argument("--peers", nargs="*", default=["hgb"])
    args = p.parse_args(argv)
    for table in args.tables:
        X, y = load(table)
        _, codes = np.unique(y.to_numpy(str), return_inverse=True)
        for labels in args.labels:
            for seed in args.seeds:
                s = split(codes, labels, seed)
                y_partial = partial_labels(codes, s)
                X_train, X_test = X.iloc[s.train].reset_index(drop=True), X.iloc[s.test].reset_index(drop=True)
                rows = [{"variant": m, **run_method(m, X, codes, s, seed)} for m in args.peers]
                for name, params in args.variant:
                    est = PretrainedClassifier(random_state=seed, check_reference=False, **json.loads(params))
                    start = time.perf_counter()
                    est.fit(X_train, y_partial)
                    seconds = time.perf_counter() - start
                    accuracy = float((est.predict(X_test) == codes[s.test]).mean())
                    rows.append({"variant": name, "params": json.loads(params), "accuracy": round(accuracy, 5),
                                 "fit_seconds": round(seconds, 2), "semi_supervised_": est.semi_supervised_})
                for row in rows:
                    rec = {"table": table, "labels": labels, "seed": seed, **row, "date": datetime.date.today().isoformat(),
                           "command": "python " + " ".join(sys.argv)}
                    print(json.dumps({k: rec[k] for k in ("table", "labels", "seed", "variant", "accuracy", "fit_seconds")}), flush=True)
                    RESULTS.parent.mkdir(parents=True, exist_ok=True)
                    with RESULTS.open("a") as f:
                        f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
