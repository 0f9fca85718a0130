"""Helpers shared by the benchmark scripts: data, timing, reporting."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
MNIST_DIR = Path(os.environ.get("LAYERWISE_MNIST_DIR", ROOT.parent / "shared" / "data" / "mnist"))


def mnist_train() -> torch.Tensor:
    """The 60,000 MNIST training images as a (60000, 784) float32 tensor in [0, 1]."""
    from layerwise import load_dataset

    return torch.from_numpy(load_dataset("mnist", data_dir=MNIST_DIR).X)


def machine() -> dict:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "cores": os.cpu_count(),
    }


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def summary(name: str, times: dict[str, list[float]], n_samples: int, reference: str) -> list[dict]:
    """Median samples/s per variant and its ratio to ``reference``; prints a table."""
    med = {k: statistics.median(v) for k, v in times.items()}
    rows = []
    print(f"\n{name}: {n_samples} samples per epoch, medians of {min(len(v) for v in times.values())} alternated runs", file=sys.stderr)
    print(f"{'variant':<44} {'s/epoch':>8} {'spread':>14} {'samples/s':>10} {'ratio':>6}", file=sys.stderr)
    for k, v in times.items():
        ratio = med[reference] / med[k]
        rows.append({"benchmark": name, "variant": k, "median_s": med[k], "min_s": min(v), "max_s": max(v),
                     "samples_per_s": n_samples / med[k], f"speed_vs_{reference}": ratio})
        print(f"{k:<44} {med[k]:>8.3f} {min(v):>6.3f}-{max(v):<7.3f} {n_samples / med[k]:>10.0f} {ratio:>6.3f}", file=sys.stderr)
    return rows


def alternate(runs: dict, rounds: int, name: str, warmup: bool = True) -> dict[str, list[float]]:
    """Time each callable once per round, in turn (A B C A B C ...); emit one JSON line per run."""
    if warmup:
        for fn in runs.values():  # first touch of memory, oneDNN kernel selection
            fn()
    times = {k: [] for k in runs}
    for r in range(rounds):
        for variant, fn in runs.items():
            t = timed(fn)
            times[variant].append(t)
            emit({"benchmark": name, "round": r, "variant": variant, "seconds": t})
    return times


def report(name: str, times: dict[str, list[float]], n_samples: int, reference: str) -> list[dict]:
    rows = summary(name, times, n_samples, reference)
    for row in rows:
        emit({**row, "machine": machine()})
    return rows
