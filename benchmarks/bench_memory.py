"""Peak memory (RSS) of training, and how time and memory grow with rows and layer width.

Each configuration runs alone in a fresh subprocess (one at a time), trains one epoch and
reports its peak resident memory next to the size of what it must hold: the data, the model,
the optimizer state (Adam: two moments per parameter). The process baseline (Python + torch
imported) is measured separately and reported too.

    python benchmarks/bench_memory.py [--big-rows 600000] [--only estimator]

Configurations: a 784-1000-500-250-30 deep autoencoder on 10k / 30k / 60k in-memory MNIST rows;
a 784-W autoencoder on 60k rows for W in 256, 1024, 4096; the deep autoencoder trained on a
600k-row .npy file streamed in chunks (MNIST tiled 10 times) without loading it; and greedy
pretraining of the same file through the scikit-learn estimator,
``StackedAutoencoder(max_iter=1).fit(NpyFile(path))`` (its default 784-256-64 stack, one epoch
per layer): the rows and the first layer's codes streamed from disk, the codes written to a
.npy file chunk by chunk.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def peak_rss_mib() -> float:
    """Peak resident memory of this process (VmHWM, MiB). Not ru_maxrss: that survives fork and exec,
    so a child started by a big parent would report the parent's peak."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def child(kind: str, n: int, width: int, path: str | None) -> None:
    import torch

    import layerwise  # noqa: F401
    from layerwise import Trainer
    from layerwise.data.stream import NpyFile
    from layerwise.objectives import Reconstruction
    from layerwise.pipeline.greedy import random_stack

    import_rss = peak_rss_mib()
    # torch's one-time runtime set-up (thread pools, kernels) is not the training's: warm it up on a toy
    toy = random_stack(784, (8,), "relu").unroll()
    Trainer(max_iter=1, batch_size=256, device="cpu").fit(toy, Reconstruction("mse"), (torch.rand(512, 784),))
    del toy
    base = peak_rss_mib()
    if kind == "estimator":
        return estimator_child(n, path, import_rss, base)
    sizes = (1000, 500, 250, 30) if width == 0 else (width,)
    model = random_stack(784, sizes, "relu").unroll()
    if kind == "stream":
        data = NpyFile(path)
        data_mib = 65536 * 784 * 4 / 2**20  # one chunk in memory
    else:  # exactly the rows asked for, loaded without temporaries
        import numpy as np

        X = torch.from_numpy(np.load(path))
        data, data_mib = X, X.numel() * 4 / 2**20
    params_mib = sum(p.numel() for p in model.parameters()) * 4 / 2**20
    start = time.perf_counter()
    Trainer(max_iter=1, batch_size=256, device="cpu").fit(model, Reconstruction("mse"), (data,))
    seconds = time.perf_counter() - start
    peak = peak_rss_mib()
    print(json.dumps({"kind": kind, "rows": n, "width": width or "784-1000-500-250-30", "seconds": seconds,
                      "samples_per_s": n / seconds, "peak_rss_mib": peak, "baseline_rss_mib": base, "import_rss_mib": import_rss,
                      "data_mib": data_mib, "model_mib": params_mib, "optimizer_mib": 2 * params_mib,
                      "peak_over_needed": (peak - base) / (data_mib + 3 * params_mib + 1e-9)}))


def estimator_child(n: int, path: str, import_rss: float, base: float) -> None:
    """Greedy pretraining through the estimator on the streamed file: what a user writes for data larger than memory."""
    from layerwise import StackedAutoencoder
    from layerwise.data.stream import NpyFile

    sae = StackedAutoencoder(max_iter=1, batch_size=256, random_state=0, device="cpu")
    start = time.perf_counter()
    sae.fit(NpyFile(path))
    seconds = time.perf_counter() - start
    peak = peak_rss_mib()
    params_mib = sum(p.numel() for p in sae.stack_.parameters()) * 4 / 2**20  # encoders and kept decoders
    # one chunk of rows and the chunk's codes are in memory at a time; the rest is on disk
    data_mib = 65536 * (784 + sae.hidden_layer_sizes[0]) * 4 / 2**20
    print(json.dumps({"kind": "estimator", "rows": n, "width": "StackedAutoencoder 784-256-64", "seconds": seconds,
                      "samples_per_s": n * len(sae.hidden_layer_sizes) / seconds, "peak_rss_mib": peak,
                      "baseline_rss_mib": base, "import_rss_mib": import_rss, "data_mib": data_mib, "model_mib": params_mib,
                      "optimizer_mib": 2 * params_mib,
                      "peak_over_needed": (peak - base) / (data_mib + 3 * params_mib + 1e-9)}))


def run(kind: str, n: int, width: int, path: str | None = None) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, str(n), str(width), path or "-"],
                         capture_output=True, text=True, timeout=1800, check=True)
    row = json.loads(out.stdout.strip().splitlines()[-1])
    print(json.dumps(row), flush=True)
    return row


def make_big_file(path: Path, rows: int) -> None:
    import numpy as np

    sys.path.insert(0, str(HERE))
    from _common import mnist_train

    X = mnist_train().numpy()
    arr = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, 784))
    for i in range(0, rows, len(X)):
        arr[i : i + len(X)] = X[: rows - i]
    arr.flush()
    del arr  # written through a memory map by this parent process only; the child reads it with file reads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--big-rows", type=int, default=600000)
    parser.add_argument("--big-file", default="/tmp/layerwise_bench_600k.npy")
    parser.add_argument("--only", choices=["memory", "stream", "estimator"], help="run only these configurations")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, n, width, path = args.child
        return child(kind, int(n), int(width), None if path == "-" else path)
    rows = []
    if args.only in (None, "memory"):
        files = {}
        for n in (10000, 30000, 60000):
            files[n] = Path(f"/tmp/layerwise_bench_{n}.npy")
            if not files[n].exists():
                make_big_file(files[n], n)
        rows += [run("memory", n, 0, str(files[n])) for n in (10000, 30000, 60000)]
        rows += [run("memory", 60000, w, str(files[60000])) for w in (256, 1024, 4096)]
    big = Path(args.big_file)
    if args.only != "memory" and not big.exists():
        make_big_file(big, args.big_rows)
    if args.only in (None, "stream"):
        rows.append(run("stream", args.big_rows, 0, str(big)))
    if args.only in (None, "estimator"):
        rows.append(run("estimator", args.big_rows, 0, str(big)))
    print(f"\n{'data':<9} {'rows':>7} {'model':>29} {'s/epoch':>8} {'samples/s':>9} {'peak RSS MiB':>12} "
          f"{'baseline':>8} {'needed MiB':>10} {'(peak-base)/needed':>18}", file=sys.stderr)
    for r in rows:
        needed = r["data_mib"] + r["model_mib"] + r["optimizer_mib"]
        print(f"{r['kind']:<9} {r['rows']:>7} {str(r['width']):>29} {r['seconds']:>8.2f} {r['samples_per_s']:>9.0f} "
              f"{r['peak_rss_mib']:>12.0f} {r['baseline_rss_mib']:>8.0f} {needed:>10.0f} {r['peak_over_needed']:>18.2f}", file=sys.stderr)


if __name__ == "__main__":
    main()
