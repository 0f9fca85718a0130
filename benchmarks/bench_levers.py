"""Issue #20: each speed lever of the default semi-supervised fit by itself, alternated in one process.

One ladder training step (100 labeled + 100 unlabeled rows, fused Adam, the default noise and costs) on
three networks: digits' default (64-512-256-10 and 64-256-64-10), MNIST's default (784-512-256-10) and the
ladder paper's (784-1000-500-250-250-250-10). Random inputs of the right width: the step's cost does not
depend on the pixel values. Each lever is compared with its alternative in the same process, A B A B,
medians of ``--rounds`` runs of ``--steps`` steps:

- ``precision``: fp32 against bf16 autocast (what ``precision="auto"`` decides from, see
  :mod:`layerwise.train.precision`);
- ``kernels``: the ladder's batch normalisation and combinators as committed (one centred pass,
  ``addcmul``) against the previous form (``torch.var``, separate multiply and add kernels);
- ``compile``: ``torch.compile`` of the objective against eager (with its compile time), only with
  ``--compile`` (it costs about a minute);
- ``threads``: 1 thread against 2 (``torch.set_num_threads``), only with ``--threads``.

    python benchmarks/bench_levers.py [--rounds 7] [--steps 20] [--compile] [--threads]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

import torch

import layerwise  # noqa: F401  (flushes denormals at import)
import layerwise.nn.ladder as ladder_module
from layerwise.objectives import Ladder

sys.path.insert(0, str(Path(__file__).parent))
from _common import emit, machine  # noqa: E402

NETWORKS = {"digits 64-256-64-10": (64, (256, 64)), "digits 64-512-256-10": (64, (512, 256)),
            "MNIST default 784-512-256-10": (784, (512, 256)),
            "ladder paper 784-1000-500-250-250-250-10": (784, (1000, 500, 250, 250, 250))}


def _previous_normalise(z):
    mean = z.mean(0)
    std = torch.sqrt(z.var(0, unbiased=False) + 1e-5)
    return (z - mean) / std, mean, std


def _previous_combinator(self, z_tilde, u):
    a = self.a
    mu = a[0] * torch.sigmoid(a[1] * u + a[2]) + a[3] * u + a[4]
    v = a[5] * torch.sigmoid(a[6] * u + a[7]) + a[8] * u + a[9]
    return (z_tilde - mu) * v + mu


KERNELS = {"committed": (ladder_module._normalise, ladder_module.VanillaCombinator.forward),
           "previous": (_previous_normalise, _previous_combinator)}


class Step:
    """Steps of one ladder on fixed random batches, under a variant's settings."""

    def __init__(self, d: int, hidden: tuple[int, ...], bf16: bool = False, kernels: str = "committed",
                 compiled: bool = False, threads: int | None = None) -> None:
        torch.manual_seed(0)
        self.objective = Ladder()
        self.net = self.objective.build_model(d, hidden, 10)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=5e-3, fused=True)
        self.batch = (torch.rand(100, d), torch.randint(0, 10, (100,)), torch.rand(100, d))
        self.bf16, self.kernels, self.threads = bf16, kernels, threads
        self.fn = torch.compile(self.objective) if compiled else self.objective
        start = time.perf_counter()
        self(3)
        self.warmup = time.perf_counter() - start

    def __call__(self, steps: int) -> None:
        ladder_module._normalise, ladder_module.VanillaCombinator.forward = KERNELS[self.kernels]
        before = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            for _ in range(steps):
                ctx = torch.autocast("cpu", dtype=torch.bfloat16) if self.bf16 else contextlib.nullcontext()
                with ctx:
                    loss = self.fn(self.net, self.batch).loss
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                self.opt.step()
        finally:
            torch.set_num_threads(before)
            ladder_module._normalise, ladder_module.VanillaCombinator.forward = KERNELS["committed"]


def compare(lever: str, network: str, variants: dict[str, Step], rounds: int, steps: int) -> None:
    """Alternate the variants, print and emit each one's median ms per step and its ratio to the first."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, step in variants.items():
            start = time.perf_counter()
            step(steps)
            times[name].append((time.perf_counter() - start) / steps * 1000)
    first = statistics.median(times[next(iter(times))])
    for name, ts in times.items():
        ms = statistics.median(ts)
        print(f"{lever:<9} {network:<42} {name:<12} {ms:7.2f} ms/step  x{first / ms:.2f} speed vs first"
              f"  (warm-up {variants[name].warmup:.1f} s)", flush=True)
        emit({**machine(), "benchmark": "levers", "lever": lever, "network": network, "variant": name, "ms_per_step": round(ms, 3),
              "speedup_vs_first": round(first / ms, 3), "warmup_s": round(variants[name].warmup, 2),
              "threads": variants[name].threads or torch.get_num_threads()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--threads", action="store_true")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for network, (d, hidden) in NETWORKS.items():
        compare("precision", network, {"fp32": Step(d, hidden), "bf16": Step(d, hidden, bf16=True)}, args.rounds, args.steps)
        compare("kernels", network, {"previous": Step(d, hidden, kernels="previous"), "committed": Step(d, hidden)},
                args.rounds, args.steps)
        if args.threads:
            compare("threads", network, {"2 threads": Step(d, hidden, threads=2), "1 thread": Step(d, hidden, threads=1)},
                    args.rounds, args.steps)
        if args.compile:
            compare("compile", network, {"eager bf16": Step(d, hidden, bf16=True),
                                         "compiled": Step(d, hidden, bf16=True, compiled=True)}, args.rounds, args.steps)


if __name__ == "__main__":
    main()
