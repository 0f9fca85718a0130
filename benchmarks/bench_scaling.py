"""Samples per second on 1 process vs 2 processes (torchrun, DistributedDataParallel, gloo).

Same work in every variant: the 784-1000-500-250-30 autoencoder with mirrored
decoder (ReLU, MSE, 2.84 M parameters) trained by ``Trainer.fit`` on the first
``--samples`` real MNIST training images in memory, global batch 256, fused
Adam lr 1e-3, one epoch per timed run. Each variant is its own process tree
(started in turn, A B C A B C ... for ``--repeats`` > 1); inside it a warm-up
fit on 2,048 rows (process group, DDP, oneDNN kernels), then ``--rounds``
timed one-epoch fits, each a fresh ``fit`` (set-up and, under DDP, the
gradient all-reduce included). Prints one JSON line per timed run and per
summary row, then a table on stderr.

    python benchmarks/bench_scaling.py [--samples 10000] [--rounds 3] [--repeats 1]

Variants (the CPU has 2 cores, so the fair comparison is the same 2 cores used
two ways):
- ``1 process x 2 threads``: the single-process default;
- ``1 process x 1 thread``: what one DDP rank would do alone;
- ``2 processes x 1 thread (torchrun, DDP)``: ``torchrun --standalone
  --nproc_per_node=2``, each rank with half of every global batch.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

BATCH = 256
SIZES = (1000, 500, 250, 30)
VARIANTS = {
    "1 process x 2 threads": (1, 2),
    "1 process x 1 thread": (1, 1),
    "2 processes x 1 thread (torchrun, DDP)": (2, 1),
}
REFERENCE = "1 process x 2 threads"


def worker(args) -> None:
    """One variant's timed fits (every rank runs this; rank 0 reports)."""
    import torch

    torch.set_num_threads(args.threads)
    from _common import machine, mnist_train

    import layerwise  # noqa: F401  (flushes denormals, as in the other benchmarks)
    from layerwise.objectives import Reconstruction
    from layerwise.pipeline.greedy import random_stack
    from layerwise.train import Trainer, distributed

    X = mnist_train()[: args.samples].contiguous()

    def fit(rows: torch.Tensor) -> float:
        torch.manual_seed(0)
        model = random_stack(784, SIZES, "relu").unroll()
        trainer = Trainer(max_iter=1, batch_size=BATCH, device="cpu", random_state=0)
        start = time.perf_counter()
        trainer.fit(model, Reconstruction("mse"), (rows,))
        return time.perf_counter() - start

    fit(X[:2048])  # warm-up: process group and DDP set-up, kernel selection, first touch of memory
    for r in range(args.rounds):
        seconds = fit(X)
        if distributed.is_main():
            print(json.dumps({"benchmark": "scaling", "variant": args.variant, "round": r, "seconds": seconds,
                              "samples": len(X), "processes": distributed.world_size(), "threads": torch.get_num_threads(),
                              "samples_per_s": len(X) / seconds, "machine": machine()}), flush=True)


def launch(variant: str, args) -> list[dict]:
    """Run one variant in fresh processes; its JSON lines."""
    procs, threads = VARIANTS[variant]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    child = [str(Path(__file__).resolve()), "--worker", "--variant", variant, "--threads", str(threads),
             "--samples", str(args.samples), "--rounds", str(args.rounds)]
    if procs == 1:
        cmd = [sys.executable, *child]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}", *child]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"{variant} failed ({out.returncode}):\n{out.stderr[-4000:]}")
    rows = [json.loads(x) for x in out.stdout.splitlines() if x.startswith("{")]
    for row in rows:
        print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3, help="timed one-epoch fits per process")
    parser.add_argument("--repeats", type=int, default=1, help="launches of each variant, alternated")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for _ in range(args.repeats):
        for variant in VARIANTS:
            times[variant] += [row["seconds"] for row in launch(variant, args)]
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\nscaling: {args.samples} samples per epoch, medians of {min(len(v) for v in times.values())} runs", file=sys.stderr)
    print(f"{'variant':<40} {'s/epoch':>8} {'spread':>14} {'samples/s':>10} {'speed':>6}", file=sys.stderr)
    for k, v in times.items():
        ratio = med[REFERENCE] / med[k]
        print(f"{k:<40} {med[k]:>8.3f} {min(v):>6.3f}-{max(v):<7.3f} {args.samples / med[k]:>10.0f} {ratio:>6.3f}", file=sys.stderr)
        print(json.dumps({"benchmark": "scaling", "variant": k, "median_s": med[k], "min_s": min(v), "max_s": max(v),
                          "samples_per_s": args.samples / med[k], f"speed_vs_{REFERENCE}": ratio}), flush=True)


if __name__ == "__main__":
    main()
