"""Issue #7, experiment 6: a VAE on dynamically binarized MNIST, test NLL by importance sampling.

Burda et al. (2016, table 1): a VAE 784-200-200-50 (tanh, two deterministic hidden layers in
encoder and decoder, Bernoulli decoder) reaches a test negative log-likelihood of 86.76 nats
with k = 5000 importance samples; an IWAE trained with k = 50 reaches 84.78. They trained for
3,280 passes over the data.

Binarization: *dynamic* for training, each pixel of each training batch drawn again as
Bernoulli(pixel intensity) at every step; the test images are binarized once the same way with
a fixed seed (stochastic binarization, as Burda et al.). The NLL is ``-iwae_log_likelihood``
with k = 5000, averaged over the 10,000 test images.

    python benchmarks/reproduce_vae.py [--max-iter 100] [--k 5000]
"""

from __future__ import annotations

import argparse

import torch
from _reproduce import Clock, mnist, record

from layerwise import ELBO, Trainer, dense_vae, iwae_log_likelihood
from layerwise.train import CosineLR


class DynamicBinarization:
    """``objective(model, (bernoulli(x),))``: a fresh binary image at every step."""

    def __init__(self, objective) -> None:
        self.objective = objective

    def __call__(self, model, batch):
        return self.objective(model, (torch.bernoulli(batch[0]),))


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hidden", type=int, nargs="+", default=[200, 200])
    p.add_argument("--latent", type=int, default=50)
    p.add_argument("--activation", default="tanh")
    p.add_argument("--max-iter", type=int, default=100)
    p.add_argument("--learning-rate-init", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--k", type=int, default=5000)
    p.add_argument("--test-rows", type=int, default=10000)
    p.add_argument("--random-state", type=int, default=0)
    args = p.parse_args(argv)
    X, _, X_test, _ = mnist()
    X_test_bin = torch.bernoulli(X_test[: args.test_rows], generator=torch.Generator().manual_seed(12345))
    clock = Clock()
    torch.manual_seed(args.random_state)
    vae = dense_vae(784, args.hidden, args.latent, activation=args.activation, output="logistic")
    trainer = Trainer(max_iter=args.max_iter, batch_size=args.batch_size, learning_rate_init=args.learning_rate_init,
                      random_state=args.random_state, verbose=True, desc="VAE", callbacks=[CosineLR(floor=0.1)])
    with clock("train"):
        history = trainer.fit(vae, DynamicBinarization(ELBO(loss="bce")), (X,))
    vae.eval()
    with clock("nll"):
        ll = iwae_log_likelihood(vae, X_test_bin, k=args.k, batch_size=50, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        elbo = -float(iwae_log_likelihood(vae, X_test_bin, k=1, generator=torch.Generator().manual_seed(1)).mean())
    return record("vae_nll", {"layers": [784, *args.hidden, args.latent], "test_nll_nats": round(-float(ll.mean()), 3),
                              "test_negative_elbo": round(elbo, 3), "k": args.k, "published": {"vae": 86.76, "iwae_k50": 84.78},
                              "train_loss": round(history[-1]["loss"], 3), "binarization": "dynamic (train), fixed stochastic draw (test)",
                              "wall_minutes": clock.minutes, "settings": vars(args)}, argv)


if __name__ == "__main__":
    main()
