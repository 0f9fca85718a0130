"""Issue #7, experiment 4: the deep autoencoder 784-1000-500-250-30 vs PCA on MNIST.

Hinton & Salakhutdinov (2006, fig. 2 and its text): average squared reconstruction error per
test image 3.00 for the pretrained and fine-tuned deep autoencoder, 13.87 for PCA with 30
components (the paper's own figure; this script computes ours on the same images).

Recipe: greedy layer-wise pretraining of 1000-500-250 (denoising autoencoders, Bernoulli loss
on pixels) and of a linear 30-unit code layer on top, then the unrolled 8-layer autoencoder is
fine-tuned end to end with the Bernoulli cross-entropy (Hinton & Salakhutdinov fine-tune the
cross-entropy too). The error is ``sum over the 784 pixels of (reconstruction - pixel)^2``,
averaged over the 10,000 test images, pixels in [0, 1].

    python benchmarks/reproduce_deep_ae.py [--max-iter 50] [--pretrain-max-iter 10]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from _reproduce import Clock, mnist, record
from sklearn.decomposition import PCA

from layerwise.nn.stack import EncoderStack
from layerwise.pipeline import Fit, Given, Greedy, TrainSettings, Unroll
from layerwise.train import predict_in_batches


@torch.no_grad()
def squared_error(model, X: torch.Tensor) -> float:
    """Mean over images of the summed squared pixel error of ``model(X)`` (reconstructions in [0, 1])."""
    return float((predict_in_batches(model, X) - X).pow(2).sum(dim=1).mean())


def pca_error(X: np.ndarray, X_test: np.ndarray, k: int = 30) -> float:
    pca = PCA(n_components=k, random_state=0).fit(X)
    R = pca.inverse_transform(pca.transform(X_test))
    return float(((R - X_test) ** 2).sum(axis=1).mean())


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hidden", type=int, nargs="+", default=[1000, 500, 250])
    p.add_argument("--code", type=int, default=30)
    p.add_argument("--activation", default="relu")
    p.add_argument("--pretrain", default="denoising")
    p.add_argument("--pretrain-max-iter", type=int, default=10)
    p.add_argument("--max-iter", type=int, default=50)
    p.add_argument("--learning-rate-init", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--random-state", type=int, default=0)
    args = p.parse_args(argv)
    X, _, X_test, _ = mnist()
    clock = Clock()
    with clock("pca"):
        pca = pca_error(X.numpy(), X_test.numpy(), args.code)
    common = {"batch_size": args.batch_size, "precision": args.precision, "verbose": True}
    params = {"noise": "masking", "level": 0.2} if args.pretrain == "denoising" else {}
    pretrain = TrainSettings(**common, max_iter=args.pretrain_max_iter)
    with clock("pretrain"):
        body = Fit([Greedy(args.hidden, activation=args.activation, objective=args.pretrain, objective_params=params, loss="bce",
                           train=pretrain)], seed=args.random_state).run(X)
        # the 30-unit code layer is linear (Hinton & Salakhutdinov 2006), trained on the frozen codes: a fit of its
        # own, since a Greedy phase gives every layer the same activation
        top = Fit([Greedy((args.code,), activation="identity", objective="autoencoder", train=pretrain)],
                  seed=args.random_state + 10).run(predict_in_batches(body.stack, X))
        stack = EncoderStack([*body.stack.layers, *top.stack.layers], [*body.stack.decoders, *top.stack.decoders],
                             output=body.stack.output)
    pretrained_error = squared_error(stack.unroll(), X_test)
    # the unrolled encoder, then the mirrored greedy decoders, trained end to end (Reconstruction("bce"): the
    # stack's output is logistic)
    unroll = Unroll(TrainSettings(**common, max_iter=args.max_iter, learning_rate_init=args.learning_rate_init, schedule="cosine"))
    with clock("finetune"):
        result = Fit([Given(stack, body.recipe), unroll], seed=args.random_state).run(X)
    deep, history = result.model, result.history["unroll"]
    err = squared_error(deep, X_test)
    return record("deep_ae", {"layers": [784, *args.hidden, args.code], "test_squared_error": round(err, 3),
                              "pretrained_only_squared_error": round(pretrained_error, 3), "pca_squared_error": round(pca, 3),
                              "published": {"deep_ae": 3.00, "pca": 13.87}, "train_bce": round(history[-1]["loss"], 3),
                              "wall_minutes": clock.minutes, "settings": vars(args)}, argv)


if __name__ == "__main__":
    main()
