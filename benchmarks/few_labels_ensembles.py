"""Issue #12, digits: do ensembles, LabelSpreading on the codes or self-training add to the ladder?

Run on the TUNING seeds only (10-15), never on the reported seeds 0-2, on the demo's split (as in
few_labels_digits.py). For each seed it fits the default ``PretrainedClassifier()`` (the ladder) three
times (random_state seed, seed+1000, seed+2000), ``LabelSpreading`` on raw pixels and on each ladder's
codes, and one self-trained ladder: the unlabeled rows where the first ladder is confident (p > 0.95)
and agrees with LabelSpreading on its codes get that label, and a fresh ladder is fitted on them.
Probabilities go to ``--out`` (one .npz per seed); ``report`` combines them (sums of probabilities).

    OMP_NUM_THREADS=1 python benchmarks/few_labels_ensembles.py fit 10 11 12     # one lane per core
    OMP_NUM_THREADS=1 python benchmarks/few_labels_ensembles.py fit 13 14 15
    python benchmarks/few_labels_ensembles.py report 10 11 12 13 14 15

About 5 minutes per seed on one thread (four ladder fits).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from few_labels_digits import split
from sklearn.semi_supervised import LabelSpreading

from layerwise import PretrainedClassifier


def fit(seed: int, out: Path) -> None:
    Xtr, yp, lab, Xte, yte, ytr = split(seed)  # the demo's split, as few_labels_digits.py draws it
    res = {"yte": yte, "ytr": ytr, "lab": lab}
    res["ls_raw_te"] = LabelSpreading(kernel="knn", n_neighbors=7).fit(Xtr, yp).predict_proba(Xte)
    for r in range(3):
        t0 = time.time()
        clf = PretrainedClassifier(random_state=seed + 1000 * r).fit(Xtr, yp)
        res[f"p{r}_te"], res[f"p{r}_tr"] = clf.predict_proba(Xte), clf.predict_proba(Xtr)
        ls = LabelSpreading(kernel="knn", n_neighbors=7).fit(clf.transform(Xtr), yp)
        res[f"lsc{r}_te"], res[f"lsc{r}_tr"] = ls.predict_proba(clf.transform(Xte)), ls.transduction_
        print(seed, r, "ladder", (res[f"p{r}_te"].argmax(1) == yte).mean(), "lscodes",
              (res[f"lsc{r}_te"].argmax(1) == yte).mean(), round(time.time() - t0), flush=True)
    p = res["p0_tr"]
    pick = (yp == -1) & (p.argmax(1) == res["lsc0_tr"]) & (p.max(1) > 0.95)
    yst = yp.copy()
    yst[pick] = p.argmax(1)[pick]
    t0 = time.time()
    res["st_te"] = PretrainedClassifier(random_state=seed + 5000).fit(Xtr, yst).predict_proba(Xte)
    print(seed, "selftrain", int(pick.sum()), "pseudo acc", (yst[pick] == ytr[pick]).mean(), "test",
          (res["st_te"].argmax(1) == yte).mean(), round(time.time() - t0), flush=True)
    np.savez(out / f"probs_{seed}.npz", **res)


def report(seeds: list[int], out: Path) -> None:
    rows: dict[str, list[float]] = {}
    for s in seeds:
        d = np.load(out / f"probs_{s}.npz")
        y = d["yte"]

        def acc(p):
            return float((p.argmax(1) == y).mean())

        lsc = [np.nan_to_num(d[f"lsc{r}_te"]) for r in range(3)]  # LabelSpreading leaves NaN rows unreached
        ens3 = d["p0_te"] + d["p1_te"] + d["p2_te"]
        for name, value in {
            "ladder (the default)": acc(d["p0_te"]),
            "LabelSpreading, raw pixels": acc(d["ls_raw_te"]),
            "LabelSpreading on the ladder's codes": acc(lsc[0]),
            "2 ladders": acc(d["p0_te"] + d["p1_te"]),
            "3 ladders": acc(ens3),
            "ladder + LabelSpreading raw": acc(d["p0_te"] + d["ls_raw_te"]),
            "ladder + LabelSpreading on its codes": acc(d["p0_te"] + lsc[0]),
            "3 ladders + LabelSpreading on their codes": acc(ens3 / 3 + sum(lsc) / 3),
            "self-trained ladder": acc(d["st_te"]),
            "self-trained + first ladder": acc(d["st_te"] + d["p0_te"]),
        }.items():
            rows.setdefault(name, []).append(value)
    base = np.mean(rows["LabelSpreading, raw pixels"])
    print(f"seeds {seeds}; accuracy mean ± std, margin over LabelSpreading in points, per seed")
    for name, v in rows.items():
        print(f"{name:42s} {np.mean(v):.4f} ± {np.std(v):.4f}  {100 * (np.mean(v) - base):+.2f}  "
              + " ".join(f"{x:.4f}" for x in v))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["fit", "report"])
    parser.add_argument("seeds", type=int, nargs="+")
    parser.add_argument("--out", type=Path, default=Path("results/ensembles"))
    args = parser.parse_args()
    if args.step == "fit":
        if set(args.seeds) & {0, 1, 2}:
            parser.error("seeds 0-2 are the reported ones (few_labels_digits.py): choose methods on others")
        torch.set_num_threads(1)
        args.out.mkdir(parents=True, exist_ok=True)
        for seed in args.seeds:
            fit(seed, args.out)
    else:
        report(args.seeds, args.out)


if __name__ == "__main__":
    main()
