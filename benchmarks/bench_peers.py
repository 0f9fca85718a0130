"""layerwise with its defaults vs peers on the same work, one epoch each, alternated.

- deep AE 784-1000-500-250-30-250-500-1000-784 (ReLU, squared error, Adam lr 1e-3, batch 256) on the
  MNIST training images: layerwise fp32 and ``precision="bf16"``; scikit-learn ``MLPRegressor`` as an
  autoencoder (``partial_fit`` = one epoch) on float32 and float64 input; the loop most wrappers run
  (``DataLoader`` over a ``TensorDataset``, default ``Adam``).
- RBM 784x500, CD-1, batch 100: layerwise's loop on the RBM (``Trainer.fit`` with ``ContrastiveDivergence(k=1)``,
  what each stage of ``layerwise.pipeline.Greedy(objective="rbm")`` runs) vs scikit-learn ``BernoulliRBM`` (one
  ``partial_fit`` pass over the batches).

Both time one epoch of the training loop on a model built once (``Trainer.fit``), not a whole fit: the
pipeline's plans (``layerwise.pipeline.Fit``) are timed in bench_greedy.py and bench_models.py.

    python benchmarks/bench_peers.py [--rounds 3] [--samples 60000] [--only ae|rbm]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

import layerwise  # noqa: F401
from layerwise import Trainer
from layerwise.nn import RBM
from layerwise.objectives import ContrastiveDivergence, Reconstruction
from layerwise.pipeline.greedy import random_stack

sys.path.insert(0, str(Path(__file__).parent))
from _common import alternate, mnist_train, report  # noqa: E402

SIZES = (1000, 500, 250, 30)
B = 256


def dataloader_epoch(model, opt, X):
    """The loop most wrappers (and tutorials) run: DataLoader over a TensorDataset, default Adam."""
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X), batch_size=B, shuffle=True)
    for (xb,) in loader:
        loss = F.mse_loss(model(xb), xb, reduction="sum") / xb.shape[0]
        opt.zero_grad()
        loss.backward()
        opt.step()


def mlp(dtype):
    from sklearn.neural_network import MLPRegressor

    hidden = SIZES + tuple(reversed(SIZES[:-1]))
    return MLPRegressor(hidden_layer_sizes=hidden, activation="relu", solver="adam", batch_size=B, learning_rate_init=1e-3, random_state=0), dtype


def ae_runs(X: torch.Tensor) -> dict:
    torch.manual_seed(0)
    m32, m64 = mlp(np.float32), mlp(np.float64)
    X32, X64 = X.numpy(), X.numpy().astype(np.float64)
    dl_model = random_stack(784, SIZES, "relu").unroll()
    dl_opt = torch.optim.Adam(dl_model.parameters(), lr=1e-3)
    lw32, lwbf = random_stack(784, SIZES, "relu").unroll(), random_stack(784, SIZES, "relu").unroll()
    return {
        "layerwise fp32 (defaults)": lambda: Trainer(max_iter=1, batch_size=B, device="cpu").fit(lw32, Reconstruction("mse"), (X,)),
        "layerwise bf16": lambda: Trainer(max_iter=1, batch_size=B, device="cpu", precision="bf16").fit(lwbf, Reconstruction("mse"), (X,)),
        "DataLoader + TensorDataset, default Adam": lambda: dataloader_epoch(dl_model, dl_opt, X),
        "sklearn MLPRegressor, float32": lambda: m32[0].partial_fit(X32, X32),
        "sklearn MLPRegressor, float64": lambda: m64[0].partial_fit(X64, X64),
    }


def rbm_runs(X: torch.Tensor) -> dict:
    from sklearn.neural_network import BernoulliRBM

    sk = BernoulliRBM(n_components=500, learning_rate=0.1, batch_size=100, n_iter=1, random_state=0)
    Xn = X.numpy()
    rbm = RBM(784, 500)
    return {
        "layerwise RBM, CD-1": lambda: Trainer(max_iter=1, batch_size=100, device="cpu").fit(rbm, ContrastiveDivergence(k=1), (X,)),
        "sklearn BernoulliRBM": lambda: sk.partial_fit(Xn) if not hasattr(sk, "components_") else _sk_epoch(sk, Xn),
    }


def _sk_epoch(sk, X):
    """One pass of BernoulliRBM's own minibatch updates (what fit does per iteration)."""
    for i in range(0, len(X), sk.batch_size):
        sk.partial_fit(X[i : i + sk.batch_size])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--only", choices=["ae", "rbm"], action="append")
    args = parser.parse_args()
    X = mnist_train()[: args.samples].contiguous()
    warnings.filterwarnings("ignore")  # MLPRegressor's ConvergenceWarning after one epoch
    if "ae" in (args.only or ["ae"]):
        report("peers_deep_ae", alternate(ae_runs(X), args.rounds, "peers_deep_ae"), len(X), "layerwise fp32 (defaults)")
    if "rbm" in (args.only or ["rbm"]):
        report("peers_rbm", alternate(rbm_runs(X), args.rounds, "peers_rbm"), len(X), "layerwise RBM, CD-1")


if __name__ == "__main__":
    main()
