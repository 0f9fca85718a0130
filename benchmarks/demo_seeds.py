"""The demo's comparison over several seeds (splits, label draws and initialisations).

One seed can flatter or hide a method; this reruns `layerwise demo`'s comparison for seeds
0..N-1 and prints the mean and spread of each method's test accuracy, and the gap between
pretrained + full fine-tuning and the same network from random initialisation.

    python benchmarks/demo_seeds.py [--seeds 5] [--dataset digits]
"""

from __future__ import annotations

import argparse
import json
import tempfile

import numpy as np

from layerwise.app.demo import run_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    args = parser.parse_args()
    from dataclasses import replace

    from layerwise.app.demo import SETTINGS

    settings = replace(SETTINGS[args.dataset], precision=args.precision)
    acc: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as out:
        for seed in range(args.seeds):
            r = run_demo(args.dataset, args.data_dir, f"{out}/{seed}", random_state=seed, settings=settings, verbose=False, log=lambda m: None)
            for row in r["rows"]:
                acc.setdefault(row["method"], []).append(row["accuracy"])
            print(json.dumps({"seed": seed, **{row["method"]: row["accuracy"] for row in r["rows"]}}), flush=True)
    gap = np.array(acc["pretrained, full"]) - np.array(acc["random init, full"])
    print(f"\n{args.dataset}, 10% of training labels, {args.seeds} seeds, {args.precision}: test accuracy mean +- std")
    for name, a in acc.items():
        print(f"  {name:<34} {np.mean(a):.4f} +- {np.std(a):.4f}")
    print(f"  pretrained, full - random init, full: {gap.mean():+.4f} +- {gap.std():.4f} (ahead in {int((gap > 0).sum())} of {len(gap)} seeds)")


if __name__ == "__main__":
    main()
