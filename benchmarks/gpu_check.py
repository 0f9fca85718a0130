"""The whole path on one CUDA GPU, with its throughput against the same work on the CPU.

Greedy pretraining of a 784-1000-500-250-30 stack, fine-tuning in fp32 and in
bf16, a VAE, an RBM, save/load, resume after an interrupted fit, and a
1-process DDP run over NCCL. Each check trains two epochs and times the
second (the first pays for CUDA initialisation and kernel selection); the
CPU runs the same models on ``--cpu-rows`` rows. Then the two semi-supervised
methods on MNIST with 100 labels (10 per class, every training image
unlabeled), one run each on the GPU alone, with their time and test error:
the ladder (the paper's 784-1000-500-250-250-250-10 network, noise 0.3, 20
epochs of 100 + 100 rows, Adam 0.002 annealed over the last third) and M1+M2
(M1 784-600-600-50 for 20 epochs, then M2 for 30). These are shorter runs
than the 100 epochs of the ladder and 50 + 60 of M1+M2 that
``benchmarks/reproduce_semi.py`` takes to 1.09% and 4.79% (published: 1.06%
and 3.33%), so their errors sit above those figures; each stops after
the epoch that passes ``--semi-budget`` seconds (180 by default: an
estimate of 5-15 ms per ladder step on a GPU, launch-bound, puts 20 epochs
at 1-3 minutes; the note says how many epochs ran). Prints tables and one
JSON line; exits 1 if a check failed. Takes about a minute on a recent GPU,
plus up to twice ``--semi-budget`` for the two methods (``--no-semi`` skips
them), so one call stays under ten minutes.

    python benchmarks/gpu_check.py                 # MNIST from ../shared/data/mnist, else synthetic
    python benchmarks/gpu_check.py --synthetic     # random data of MNIST's shape
    python benchmarks/gpu_check.py --cpu-dry-run   # the same path on the CPU, in miniature (a test runs this)

Without a CUDA device (and without ``--cpu-dry-run``) it says so and exits 0:
nothing in layerwise needs a GPU.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

import layerwise
from layerwise import Trainer, dense_vae
from layerwise.nn import RBM
from layerwise.objectives import ELBO, ContrastiveDivergence, Reconstruction
from layerwise.objectives.ladder import Ladder
from layerwise.objectives.m2 import M2Objective
from layerwise.pipeline import FineTune, Fit, Given, Greedy, RandomInit, SemiSupervised, TrainSettings
from layerwise.train import Callback, predict_in_batches

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "mnist"


@dataclass
class Size:
    rows: int  # rows trained on by the device under test
    cpu_rows: int  # rows of the CPU comparison
    layers: tuple[int, ...]
    batch_size: int
    vae: tuple[tuple[int, ...], int]  # hidden widths, latent width
    rbm_hidden: int
    semi: Semi


@dataclass
class Semi:
    """The few-label runs: MNIST's training images (``rows`` of them) with ``labels`` labels, its test images."""

    rows: int
    test_rows: int
    labels: int  # balanced: labels // 10 per class
    ladder_layers: tuple[int, ...]
    ladder_epochs: int
    m1m2_layers: tuple[int, ...]  # M1's hidden widths
    m1_epochs: int
    m2_epochs: int
    m2: dict  # M2Objective's options besides m1_epochs
    max_error_pct: float  # a test error above this fails the check (chance is 90%)


FULL_SEMI = Semi(rows=60000, test_rows=10000, labels=100, ladder_layers=(1000, 500, 250, 250, 250), ladder_epochs=20,
                 m1m2_layers=(600, 600), m1_epochs=20, m2_epochs=30, m2={}, max_error_pct=20.0)
DRY_SEMI = Semi(rows=128, test_rows=64, labels=20, ladder_layers=(16, 8), ladder_epochs=2, m1m2_layers=(16,), m1_epochs=2,
                m2_epochs=2, m2={"latent_dim": 4, "m2_hidden": (16,), "m1_latent": 4}, max_error_pct=100.0)
FULL = Size(rows=60000, cpu_rows=10000, layers=(1000, 500, 250, 30), batch_size=256, vae=((400,), 20), rbm_hidden=500,
            semi=FULL_SEMI)
DRY = Size(rows=128, cpu_rows=64, layers=(16, 8), batch_size=32, vae=((16,), 2), rbm_hidden=16, semi=DRY_SEMI)


def load_data(data_dir: Path, synthetic: bool, rows: int) -> tuple[torch.Tensor, torch.Tensor, str]:
    """``(X (rows, 784) in [0, 1], y (rows,), description)``: MNIST's training rows, or random data of that shape."""
    if not synthetic:
        if (Path(data_dir) / "train-images-idx3-ubyte.gz").is_file():
            data = layerwise.load_dataset("mnist", data_dir=data_dir, download=False, progress=False)
            return torch.from_numpy(data.X[:rows]), torch.from_numpy(data.y[:rows]), f"MNIST from {data_dir}"
        print(f"MNIST not found in {data_dir}: synthetic data of MNIST's shape instead (--synthetic says so "
              "explicitly).", file=sys.stderr)
    gen = torch.Generator().manual_seed(0)
    y = torch.randint(0, 10, (rows,), generator=gen)
    # ten noisy prototypes in [0, 1]: learnable, so fine-tuning accuracy says something
    prototypes = torch.rand(10, 784, generator=gen)
    X = (prototypes[y] * 0.7 + 0.3 * torch.rand(rows, 784, generator=gen)).clamp(0, 1)
    return X, y, "synthetic (random prototypes, MNIST's shape)"


def load_few_labels(data_dir: Path, synthetic: bool, semi: Semi) -> tuple[tuple, str]:
    """``((X (rows, 784), y, labeled, X_test, y_test), description)``: ``labeled`` (a boolean mask of the rows) keeps
    ``semi.labels // 10`` labels per class.

    MNIST's training images (every one unlabeled, as in both papers) and its
    test images, or the synthetic prototypes of :func:`load_data`.
    """
    if not synthetic and (Path(data_dir) / "t10k-images-idx3-ubyte.gz").is_file():
        data = layerwise.load_dataset("mnist", data_dir=data_dir, download=False, progress=False)
        X, y = torch.from_numpy(data.X[: semi.rows]), torch.from_numpy(data.y[: semi.rows]).long()
        X_test, y_test = torch.from_numpy(data.X_test[: semi.test_rows]), torch.from_numpy(data.y_test[: semi.test_rows]).long()
        source = f"MNIST from {data_dir}"
    else:
        X, y, source = load_data(data_dir, True, semi.rows + semi.test_rows)
        X, y, X_test, y_test = X[: semi.rows], y[: semi.rows], X[semi.rows :], y[semi.rows :]
    rng = np.random.default_rng(0)
    idx = np.concatenate([rng.choice(np.flatnonzero(y.numpy() == c), semi.labels // 10, replace=False) for c in range(10)])
    labeled = np.zeros(len(X), dtype=bool)
    labeled[idx] = True
    return (X, y, labeled, X_test, y_test), f"{source}, {len(idx)} labels"


class _Budget(Callback):
    """Stop a fit after the epoch that passes ``deadline`` (``time.perf_counter()``): one GPU call stays bounded."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def on_epoch_end(self, trainer, model, logs):
        if time.perf_counter() > self.deadline:
            trainer.should_stop = True


def _few_labels(method, layers, epochs: int, lr: float, data, device: str, budget_s: float):
    """One fit of ``method`` on the labeled and unlabeled rows (a :class:`~layerwise.pipeline.Fit` of one
    ``SemiSupervised`` phase, seed 0): (test error %, seconds, note, ok-so-far)."""
    X, y, labeled, X_test, y_test = data
    budget = _Budget(time.perf_counter() + budget_s)
    phase = SemiSupervised(method, layers, 10, train=TrainSettings(max_iter=epochs, batch_size=100, learning_rate_init=lr, schedule="anneal",
                                                                   device=device, callbacks=(budget,)),
                           prepare=TrainSettings(max_iter=1, batch_size=100, learning_rate_init=1e-3, device=device, callbacks=(budget,)))
    start = time.perf_counter()
    result = Fit([phase], seed=0).run(X, y, labeled)
    model, history = result.model, result.history
    pred = predict_in_batches(model, X_test.to(device)).argmax(1).cpu()  # .cpu() waits for the GPU
    seconds = time.perf_counter() - start
    error = 100.0 * float((pred != y_test).float().mean())
    phases = [(k, h) for k, h in (("M1", history["prepare"]), ("train", history["train"])) if h]
    losses = [e["loss"] for _, h in phases for e in h]
    note = "; ".join(f"{k}: {len(h)} epochs, loss {h[0]['loss']:.4g} -> {h[-1]['loss']:.4g}" for k, h in phases)
    return error, seconds, note, bool(np.all(np.isfinite(losses)))


def check_ladder(data, device, semi: Semi, budget_s: float):
    method = Ladder(noise_std=0.3, denoising_costs="paper")
    return _few_labels(method, semi.ladder_layers, semi.ladder_epochs, 2e-3, data, device, budget_s)


def check_m1m2(data, device, semi: Semi, budget_s: float):
    method = M2Objective(m1_epochs=semi.m1_epochs, **semi.m2)
    return _few_labels(method, semi.m1m2_layers, semi.m2_epochs, 1e-3, data, device, budget_s)


SEMI_CHECKS = {"ladder": check_ladder, "m1m2": check_m1m2}


def run_semi_checks(data, device: str, semi: Semi, budget_s: float) -> dict[str, dict]:
    """Each few-label method once on ``device``: test error, seconds, and whether it ran and learned."""
    results = {}
    for name, fn in SEMI_CHECKS.items():
        start = time.perf_counter()
        try:
            error, seconds, note, ok = fn(data, device, semi, budget_s)
            ok = ok and error <= semi.max_error_pct
        except Exception as e:  # reported, not fatal, as for the other checks
            error, seconds, ok, note = None, time.perf_counter() - start, False, f"{type(e).__name__}: {e}"[:300]
        results[name] = {"test_error_pct": error, "seconds": seconds, "ok": bool(ok), "note": note}
        print(f"  {device}: {name}: {'ok' if ok else 'FAILED'} ({seconds:.1f} s) "
              f"{'' if error is None else f'test error {error:.2f}%; '}{note}", file=sys.stderr)
    return results


def semi_table(results: dict, device: str, source: str) -> str:
    lines = [f"few labels on {device}: {source}, one run each", f"{'method':<10} {'test error':>10} {'seconds':>8}  {'ok':<4} note",
             "-" * 100]
    for name, r in results.items():
        error = "-" if r["test_error_pct"] is None else f"{r['test_error_pct']:.2f}%"
        lines.append(f"{name:<10} {error:>10} {r['seconds']:>8.1f}  {'yes' if r['ok'] else 'NO':<4} {r['note']}")
    return "\n".join(lines)


def _trainer(device: str, size: Size, **kw) -> Trainer:
    return Trainer(max_iter=2, batch_size=size.batch_size, random_state=0, device=device, **kw)


def _settings(device: str, size: Size, **kw) -> TrainSettings:
    """The trainer of a pipeline phase with :func:`_trainer`'s settings (its seed: the fit's, 0)."""
    return TrainSettings(max_iter=2, batch_size=size.batch_size, device=device, **kw)


def _last_epoch_rate(history: list[dict], rows: int) -> float:
    """Rows per second of the last epoch (the first pays for CUDA start-up and kernel selection)."""
    return rows / history[-1]["seconds"]


def check_greedy(X, y, device, size, ctx):
    result = Fit([Greedy(size.layers, objective="autoencoder", train=_settings(device, size))], seed=0).run(X)
    ctx["stack"] = result.stack
    history = result.history["pretrain"]
    seconds = sum(h[-1]["seconds"] for h in history)
    losses = [h[-1]["loss"] for h in history]
    ok = all(np.isfinite(losses)) and all(h[-1]["loss"] <= h[0]["loss"] * 1.05 for h in history)
    return len(X) * len(size.layers) / seconds, ok, f"{len(size.layers)} stages; last losses {', '.join(f'{v:.4g}' for v in losses)}"


def _finetune(X, y, device, size, ctx, precision):
    stack = ctx.get("stack")  # the greedy check's; if that failed, the same layers from random initialisation
    first = Given(_copy(stack).to(device), {"kind": "greedy"}) if stack is not None else RandomInit(size.layers)
    n_train = int(len(X) * 0.9)
    tune = FineTune(n_outputs=10, mode="full", train=_settings(device, size, precision=precision))
    result = Fit([first, tune], seed=0).run(X[:n_train], y[:n_train])
    model, hist = result.model, result.history["finetune"]
    with torch.no_grad():
        acc = (model(X[n_train:].to(device)).argmax(1).cpu() == y[n_train:]).float().mean().item()
    ctx[f"model_{precision}"] = model
    return _last_epoch_rate(hist, n_train), bool(np.isfinite(hist[-1]["loss"])), f"held-out accuracy {acc:.4f}"


def _copy(module):
    import copy

    return copy.deepcopy(module)


def check_finetune_fp32(X, y, device, size, ctx):
    return _finetune(X, y, device, size, ctx, "fp32")


def check_finetune_bf16(X, y, device, size, ctx):
    if torch.device(device).type == "cuda" and not torch.cuda.is_bf16_supported():
        return None, False, "this GPU does not support bf16"
    return _finetune(X, y, device, size, ctx, "bf16")


def check_vae(X, y, device, size, ctx):
    torch.manual_seed(0)
    vae = dense_vae(X.shape[1], size.vae[0], size.vae[1])
    hist = _trainer(device, size).fit(vae, ELBO("bce"), (X,))
    return _last_epoch_rate(hist, len(X)), hist[-1]["loss"] < hist[0]["loss"], f"-ELBO {hist[-1]['loss']:.2f} nats"


def check_rbm(X, y, device, size, ctx):
    torch.manual_seed(0)
    rbm = RBM(X.shape[1], size.rbm_hidden)
    hist = _trainer(device, size, learning_rate_init=0.01).fit(rbm, ContrastiveDivergence(k=1), (X,))
    return _last_epoch_rate(hist, len(X)), bool(np.isfinite(hist[-1]["recon"])), f"recon {hist[-1]['recon']:.4g}"


def check_save_load(X, y, device, size, ctx):
    model = ctx.get("model_fp32")
    if model is None:
        return None, False, "fine-tuning failed, nothing to save"
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        layerwise.save(model, Path(tmp) / "model")
        again = layerwise.load(Path(tmp) / "model").to(device)
        seconds = time.perf_counter() - start
    model.eval(), again.eval()
    with torch.no_grad():
        batch = X[:256].to(device)
        same = torch.equal(model(batch), again(batch))
    return None, same, f"round trip {seconds:.2f} s; outputs {'identical' if same else 'DIFFER'}"


class _Interrupt(Callback):
    """Raise at (epoch, batch), like a kill."""

    def __init__(self, epoch: int, batch: int) -> None:
        self.at, self.epoch = (epoch, batch), 0

    def on_epoch_start(self, trainer, model, epoch):
        self.epoch = epoch

    def on_batch_end(self, trainer, model, batch_idx, loss):
        if (self.epoch, batch_idx) == self.at:
            raise KeyboardInterrupt


def check_resume(X, y, device, size, ctx):
    n_batches = (len(X) + size.batch_size - 1) // size.batch_size

    def run(ckpt, callbacks=(), resume=False):
        torch.manual_seed(0)
        ae = layerwise.dense_autoencoder(X.shape[1], size.layers[0], output="logistic")
        trainer = _trainer(device, size, checkpoint_dir=ckpt, checkpoint_every=max(1, n_batches // 3),
                           callbacks=list(callbacks))
        trainer.fit(ae, Reconstruction("bce"), (X,), resume=resume)
        return ae

    with tempfile.TemporaryDirectory() as tmp:
        ref = run(Path(tmp) / "ref")
        try:
            run(Path(tmp) / "run", [_Interrupt(1, n_batches // 2)])
        except KeyboardInterrupt:
            pass
        start = time.perf_counter()
        again = run(Path(tmp) / "run", resume=True)
        seconds = time.perf_counter() - start
    diffs = [float((a - b).abs().max()) for a, b in zip(ref.state_dict().values(), again.state_dict().values())]
    bitwise = max(diffs) == 0.0
    return None, max(diffs) < 1e-4, f"resumed in {seconds:.2f} s; {'bitwise identical' if bitwise else f'max |diff| {max(diffs):.2e}'}"


def check_ddp(X, y, device, size, ctx):
    """One process, world size 1, through DistributedDataParallel (NCCL for CUDA tensors, gloo for CPU ones)."""
    dist = torch.distributed
    dev = torch.device(device)
    backend = "cpu:gloo,cuda:nccl" if dev.type == "cuda" else "gloo"
    with tempfile.TemporaryDirectory() as tmp:
        dist.init_process_group(backend, init_method=f"file://{tmp}/rendezvous", rank=0, world_size=1)
        try:
            torch.manual_seed(0)
            ae = layerwise.dense_autoencoder(X.shape[1], size.layers[0], output="logistic")
            hist = _trainer(device, size, distributed=True).fit(ae, Reconstruction("bce"), (X,))
        finally:
            dist.destroy_process_group()
    return _last_epoch_rate(hist, len(X)), hist[-1]["loss"] < hist[0]["loss"], f"backend {backend}"


CHECKS = {
    "greedy stack (autoencoders)": check_greedy,
    "fine-tuning, fp32": check_finetune_fp32,
    "fine-tuning, bf16": check_finetune_bf16,
    "VAE": check_vae,
    "RBM (CD-1)": check_rbm,
    "save / load": check_save_load,
    "resume after interruption": check_resume,
    "DDP, 1 process": check_ddp,
}


def run_checks(X, y, device: str, size: Size) -> dict[str, dict]:
    """Every check on ``device``; an exception fails that check and the next one runs."""
    ctx: dict = {}
    results = {}
    for name, fn in CHECKS.items():
        start = time.perf_counter()
        try:
            rate, ok, note = fn(X, y, device, size, ctx)
        except Exception as e:  # a failed check is reported, not fatal: the table shows every result
            rate, ok, note = None, False, f"{type(e).__name__}: {e}"[:300]
        results[name] = {"samples_per_s": rate, "ok": bool(ok), "note": note, "seconds": time.perf_counter() - start}
        print(f"  {device}: {name}: {'ok' if ok else 'FAILED'} ({results[name]['seconds']:.1f} s) {note}", file=sys.stderr)
    return results


def table(main: dict, cpu: dict, device: str) -> str:
    lines = [f"{'check':<28} {device + ' samples/s':>16} {'cpu samples/s':>14} {'speed-up':>9}  {'ok':<4} note", "-" * 100]
    for name, r in main.items():
        c = cpu.get(name, {})
        rate, base = r["samples_per_s"], c.get("samples_per_s")
        fmt = lambda v: f"{v:,.0f}" if v else "-"  # noqa: E731
        ratio = f"{rate / base:.1f}x" if rate and base else "-"
        lines.append(f"{name:<28} {fmt(rate):>16} {fmt(base):>14} {ratio:>9}  {'yes' if r['ok'] else 'NO':<4} {r['note']}")
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="folder with MNIST's IDX files (default: %(default)s)")
    p.add_argument("--synthetic", action="store_true", help="random data of MNIST's shape instead of MNIST")
    p.add_argument("--cpu-dry-run", action="store_true", help="run the same path on the CPU in miniature (no GPU needed)")
    p.add_argument("--rows", type=int, default=None, help=f"rows on the device (default {FULL.rows})")
    p.add_argument("--cpu-rows", type=int, default=None, help=f"rows of the CPU comparison (default {FULL.cpu_rows})")
    p.add_argument("--json-out", type=Path, default=None, help="also append the JSON line to this file")
    p.add_argument("--semi-budget", type=float, default=180.0,
                   help="seconds for each few-label method: it stops after the epoch that passes them (default %(default)s)")
    p.add_argument("--no-semi", action="store_true", help="skip the few-label runs of the ladder and M1+M2")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not args.cpu_dry_run and not torch.cuda.is_available():
        print("no CUDA device: nothing to check (layerwise needs none; --cpu-dry-run runs the same path on the CPU in "
              "miniature).")
        return 0
    size = DRY if args.cpu_dry_run else FULL
    size = replace(size, **{k: v for k, v in (("rows", args.rows), ("cpu_rows", args.cpu_rows)) if v})
    device = "cpu" if args.cpu_dry_run else "cuda"
    X, y, source = load_data(args.data_dir, args.synthetic or args.cpu_dry_run, max(size.rows, size.cpu_rows))
    start = time.perf_counter()
    print(f"{device}: {size.rows} rows of {source}", file=sys.stderr)
    main_results = run_checks(X[: size.rows], y[: size.rows], device, size)
    print(f"cpu: the same work on {size.cpu_rows} rows", file=sys.stderr)
    cpu_results = run_checks(X[: size.cpu_rows], y[: size.cpu_rows], "cpu", size)
    print(table(main_results, cpu_results, device))
    semi_results = {}
    if not args.no_semi:  # on the device under test only: on a CPU each run takes 10-30 minutes (benchmarks/RESULTS.md)
        few, few_source = load_few_labels(args.data_dir, args.synthetic or args.cpu_dry_run, size.semi)
        print(f"{device}: few labels, {few_source}", file=sys.stderr)
        semi_results = run_semi_checks(few, device, size.semi, args.semi_budget)
        print(semi_table(semi_results, device, few_source))
    record = {
        "benchmark": "gpu_check", "dry_run": args.cpu_dry_run, "data": source, "rows": size.rows, "cpu_rows": size.cpu_rows,
        "seconds": time.perf_counter() - start, "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "versions": {"layerwise": layerwise.__version__, "torch": torch.__version__, "cuda": torch.version.cuda,
                     "python": platform.python_version()},
        "results": {device: main_results, "cpu": cpu_results}, "few_labels": semi_results,
    }
    line = json.dumps(record)
    print(line)
    if args.json_out is not None:
        with open(args.json_out, "a") as f:
            f.write(line + "\n")
    every = [*main_results.values(), *cpu_results.values(), *semi_results.values()]
    return 0 if all(r["ok"] for r in every) else 1


if __name__ == "__main__":
    sys.exit(main())
