"""Shared pieces of the `reproduce_*.py` experiments (issue #7): MNIST, the test error, records.

The fits themselves are :class:`layerwise.pipeline.Fit` plans. Dropout while fine-tuning
(``FineTune(dropout=, input_dropout=)``, what ``PretrainedClassifier(dropout=, input_dropout=)`` sets;
Srivastava et al. 2014, table 2: pretrained DBN + dropout fine-tuning 0.92% on MNIST) is the one
modern change to the 2006-2010 recipes used here.

Every experiment trains on the 60,000 real MNIST training images and reports the error on the
10,000 test images once, at the end of a fixed budget: no model is selected on the test set.
Results are printed as JSON lines and appended to ``benchmarks/results/reproduce.jsonl``.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import time
from pathlib import Path

import torch
from _common import MNIST_DIR, machine
from torch import nn

# smoke tests point this elsewhere so that only real runs land in the results file
RESULTS = Path(os.environ.get("LAYERWISE_REPRODUCE_RESULTS", Path(__file__).resolve().parent / "results" / "reproduce.jsonl"))


def mnist() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(X_train (60000, 784), y_train, X_test (10000, 784), y_test)``; pixels / 255, labels int64."""
    from layerwise import load_dataset

    b = load_dataset("mnist", data_dir=MNIST_DIR)
    return (torch.from_numpy(b.X), torch.from_numpy(b.y).long(), torch.from_numpy(b.X_test), torch.from_numpy(b.y_test).long())


@torch.no_grad()
def test_error(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """Classification error in percent, ``model(X)`` logits in eval mode."""
    from layerwise.train import predict_in_batches

    pred = predict_in_batches(model, X).argmax(dim=1)
    return 100.0 * float((pred != y).float().mean())


def record(experiment: str, row: dict, argv: list[str] | None = None) -> dict:
    """Print ``row`` as a JSON line and append it, with the command, date and machine, to the results file."""
    # CPU time of the process too: wall time on a shared 2-core machine overstates the cost
    full = {"experiment": experiment, **row, "cpu_minutes": round(time.process_time() / 60, 2),
            "command": "python " + " ".join(argv if argv is not None else sys.argv),
            "date": datetime.date.today().isoformat(),
            "machine": machine()}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as f:
        f.write(json.dumps(full) + "\n")
    print(json.dumps(full), flush=True)
    return full


class Clock:
    """Wall time of named phases: ``with clock("pretrain"): ...``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str):
        clock = self

        class _Phase:
            def __enter__(self):
                self.t = time.perf_counter()

            def __exit__(self, *exc):
                clock.seconds[name] = clock.seconds.get(name, 0.0) + time.perf_counter() - self.t

        return _Phase()

    @property
    def minutes(self) -> dict[str, float]:
        return {k: round(v / 60, 2) for k, v in self.seconds.items()}
