"""The issue #7 experiment scripts in benchmarks/ run end to end with tiny settings (slow: make test-slow).

The real runs take an hour and a half (``make reproduce``); this only keeps the scripts from rotting:
each must finish and append one well-formed record.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _run(tmp_path, script, *args):
    env = {**os.environ, "LAYERWISE_REPRODUCE_RESULTS": str(tmp_path / "results.jsonl"), "PYTHONPATH": str(ROOT / "src")}
    r = subprocess.run([sys.executable, script, *args], cwd=ROOT / "benchmarks", env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    records = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert all({"experiment", "command", "date", "machine", "cpu_minutes"} <= set(rec) for rec in records)
    return records


def test_sdae_then_few_labels(tmp_path, mnist_dir):
    stack = tmp_path / "stack"
    (rec,) = _run(tmp_path, "reproduce_sdae.py", "--hidden", "32", "16", "--pretrain-max-iter", "1", "--max-iter", "1", "--save-stack", str(stack))
    assert rec["experiment"] == "sdae" and 0 < rec["test_error_pct"] < 50
    recs = _run(tmp_path, "reproduce_few_labels.py", "--stack", str(stack), "--labels", "100", "--seeds", "1", "--steps", "5")
    assert set(recs[-1]["test_error_pct"]) == {"random", "pretrained", "semi"}


def test_deep_ae(tmp_path, mnist_dir):
    (rec,) = _run(tmp_path, "reproduce_deep_ae.py", "--hidden", "32", "16", "--code", "4", "--pretrain-max-iter", "1", "--max-iter", "1")
    assert rec["test_squared_error"] > 0 and rec["pca_squared_error"] > 0


def test_vae(tmp_path, mnist_dir):
    (rec,) = _run(tmp_path, "reproduce_vae.py", "--hidden", "32", "--latent", "4", "--max-iter", "1", "--k", "4", "--test-rows", "50")
    assert rec["test_nll_nats"] > 0


def test_sklearn_rbm(tmp_path):
    (rec,) = _run(tmp_path, "reproduce_sklearn_rbm.py", "--only", "raw", "layerwise RBM")
    assert set(rec["results"]) == {"logistic on raw pixels (C=100)", "layerwise RBM (PCD, same settings) + logistic"}
