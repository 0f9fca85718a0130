"""benchmarks/gpu_check.py: the GPU path in miniature on the CPU, and a clear word without CUDA."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules["gpu_check"]


def test_without_cuda_it_says_so_and_succeeds(gpu_check, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main([]) == 0
    assert capsys.readouterr().out.startswith("no CUDA device: nothing to check")


def test_cpu_dry_run_runs_every_check(gpu_check, capsys, tmp_path):
    assert gpu_check.main(["--cpu-dry-run", "--rows", "96", "--cpu-rows", "64", "--json-out", str(tmp_path / "r.jsonl")]) == 0
    out = capsys.readouterr().out
    record = json.loads(out.strip().splitlines()[-1])
    assert record == json.loads((tmp_path / "r.jsonl").read_text())
    results = record["results"]["cpu"]
    assert list(results) == list(gpu_check.CHECKS) and all(r["ok"] for r in results.values()), results
    assert results["resume after interruption"]["note"].endswith("bitwise identical")
    assert results["save / load"]["note"].endswith("outputs identical")
    assert all(results[k]["samples_per_s"] > 0 for k in ("greedy stack (autoencoders)", "fine-tuning, bf16", "DDP, 1 process"))
    assert "greedy stack (autoencoders)" in out and "speed-up" in out  # the table
    # the few-label runs of the ladder and M1+M2 (on the device alone; here the CPU), with time and test error
    few = record["few_labels"]
    assert list(few) == list(gpu_check.SEMI_CHECKS) == ["ladder", "m1m2"] and all(r["ok"] for r in few.values()), few
    assert all(0 <= r["test_error_pct"] <= 100 and r["seconds"] > 0 for r in few.values())
    assert "M1: 2 epochs" in few["m1m2"]["note"] and "few labels on cpu" in out
    assert not torch.distributed.is_initialized()
