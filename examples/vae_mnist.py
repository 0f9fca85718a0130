"""A variational autoencoder on MNIST: samples, interpolations, traversals, the latent space.

Trains a 784-400-Z VAE (Kingma & Welling 2014) with a Bernoulli decoder on the 60,000
MNIST training images, reports the test ELBO and an importance-weighted bound on the test
log-likelihood (Burda et al. 2016), and writes four PNG files:

- ``samples.png``: decoded draws from the prior N(0, I);
- ``interpolation.png``: straight lines in latent space between pairs of test digits;
- ``traversals.png``: one latent dimension varied at a time, the others held at a digit's code;
- ``latent_2d.png``: latent means of the test set coloured by label (PCA if Z > 2).

    python examples/vae_mnist.py --data-dir ../shared/data/mnist --max-iter 10 --out runs/vae-mnist
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import layerwise
from layerwise import ELBO, KLWarmup, Trainer, dense_vae, iwae_log_likelihood
from layerwise.viz import plot_image_grid, plot_latent_2d, plot_loss_curves


def train(X: torch.Tensor, latent_dim: int, epochs: int, seed: int):
    torch.manual_seed(seed)
    vae = dense_vae(784, (400,), latent_dim, activation="relu", output="logistic")
    elbo = ELBO(loss="bce")
    trainer = Trainer(max_iter=epochs, batch_size=128, learning_rate_init=1e-3, random_state=seed, verbose=True, desc="VAE",
                      callbacks=[KLWarmup(elbo, epochs=min(5, epochs // 2))])
    history = trainer.fit(vae, elbo, (X,))
    return vae.eval(), elbo, trainer, history


@torch.no_grad()
def pictures(vae, X_test, y_test, out: Path, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    plot_image_grid(vae.sample(100, generator=gen).numpy(), (28, 28), out / "samples.png", title="Samples from the prior")
    pairs = [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    strips = torch.cat([vae.interpolate(X_test[a], X_test[b], steps=10) for a, b in pairs])
    plot_image_grid(strips.flatten(1).numpy(), (28, 28), out / "interpolation.png", title="Interpolations between test digits")
    values = torch.linspace(-2.5, 2.5, 10)
    rows = [vae.traverse(X_test[0], d, values) for d in range(min(vae.latent_dim, 8))]
    plot_image_grid(torch.cat(rows).flatten(1).numpy(), (28, 28), out / "traversals.png",
                    title="Latent traversals: one dimension per row, -2.5 to 2.5")
    mu, _ = vae.encode(X_test)
    plot_latent_2d(mu.numpy(), y_test.numpy(), out / "latent_2d.png", title="Latent means of the MNIST test set")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None, help="folder with the MNIST IDX .gz files")
    parser.add_argument("--latent-dim", type=int, default=2)
    parser.add_argument("--max-iter", type=int, default=10)
    parser.add_argument("--iwae-k", type=int, default=100)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--out", default="runs/vae-mnist")
    args = parser.parse_args()
    data = layerwise.load_dataset("mnist", data_dir=args.data_dir)
    X, X_test, y_test = torch.from_numpy(data.X), torch.from_numpy(data.X_test), torch.from_numpy(data.y_test)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    vae, elbo, trainer, history = train(X, args.latent_dim, args.max_iter, args.random_state)
    print(f"trained {args.max_iter} epochs in {time.perf_counter() - start:.0f} s")
    print(f"test negative ELBO: {trainer.evaluate(vae, elbo, (X_test,))['loss']:.2f} nats")
    nll = -iwae_log_likelihood(vae, X_test[:1000], k=args.iwae_k, generator=torch.Generator().manual_seed(0)).mean()
    print(f"test NLL, IWAE bound with k={args.iwae_k} (first 1000 test images, grey levels as Bernoulli means): {nll:.2f} nats")
    plot_loss_curves({"VAE (negative ELBO)": history}, out / "loss_curves.png")
    pictures(vae, X_test, y_test, out, args.random_state)
    print(f"wrote {out}/samples.png, interpolation.png, traversals.png, latent_2d.png, loss_curves.png")


if __name__ == "__main__":
    main()
