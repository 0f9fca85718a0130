"""Issue #7, experiments 1-3: SDAE-3, the same network from random init, and a DBN, on MNIST.

Greedy layer-wise pretraining of 784-1000-1000-1000 on the 60,000 training images (no labels),
then supervised fine-tuning of the whole network with a softmax on top, on all 60,000 labels;
the test error is read once, after the last epoch.

    python benchmarks/reproduce_sdae.py --pretrain denoising     # SDAE-3 (Vincent et al. 2010: 1.28%)
    python benchmarks/reproduce_sdae.py --pretrain none          # random init (Hinton & Salakhutdinov 2006: ~1.6%)
    python benchmarks/reproduce_sdae.py --pretrain rbm           # DBN-3 (1.24%; Theano tutorial 1.34%)

``--precision bf16`` runs the same under bf16 autocast (issue #6: accuracy within 0.2 points).
``--save-stack DIR`` keeps the pretrained stack (``layerwise.save``) for reproduce_few_labels.py;
``--load-stack DIR`` fine-tunes a saved stack instead of pretraining (fp32 vs bf16 from the same weights).
"""

from __future__ import annotations

import argparse

from _reproduce import Clock, mnist, record, test_error

import layerwise
from layerwise.pipeline import FineTune, Fit, Given, Greedy, RandomInit, TrainSettings

DEFAULT_PARAMS = {"denoising": {"noise": "masking", "level": 0.25}, "rbm": {}}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pretrain", choices=["denoising", "autoencoder", "rbm", "none"], default="denoising")
    p.add_argument("--hidden", type=int, nargs="+", default=[1000, 1000, 1000])
    p.add_argument("--activation", default=None, help="default: relu (logistic for rbm, whose units are binary)")
    p.add_argument("--pretrain-max-iter", type=int, default=15)
    p.add_argument("--pretrain-learning-rate-init", type=float, default=1e-3)
    p.add_argument("--max-iter", type=int, default=50)
    p.add_argument("--learning-rate-init", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--input-dropout", type=float, default=0.2)
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--random-state", type=int, default=0)
    p.add_argument("--save-stack", default=None)
    p.add_argument("--load-stack", default=None, help="skip pretraining: fine-tune this saved stack (e.g. in bf16, to compare)")
    args = p.parse_args(argv)
    activation = args.activation or ("logistic" if args.pretrain == "rbm" else "relu")
    X, y, X_test, y_test = mnist()
    clock = Clock()
    common = {"batch_size": args.batch_size, "precision": args.precision, "verbose": True}
    # two fits with the same seed (layerwise.pipeline): the stack, then its fine-tuning; each timed, and the
    # pretrained stack saved in between
    with clock("pretrain"):
        if args.load_stack:
            made = Given(layerwise.load(args.load_stack), {"kind": "loaded"})
        elif args.pretrain == "none":
            made = RandomInit(args.hidden, activation)
        else:
            made = Greedy(args.hidden, activation=activation, objective=args.pretrain, objective_params=DEFAULT_PARAMS.get(args.pretrain, {}),
                          train=TrainSettings(**common, max_iter=args.pretrain_max_iter, learning_rate_init=args.pretrain_learning_rate_init))
        pretrained = Fit([made], seed=args.random_state).run(X)
    if args.save_stack:
        layerwise.save(pretrained.stack, args.save_stack)
    tune = FineTune(n_outputs=10, mode="full", dropout=args.dropout, input_dropout=args.input_dropout,
                    train=TrainSettings(**common, max_iter=args.max_iter, learning_rate_init=args.learning_rate_init, schedule="cosine"))
    with clock("finetune"):
        result = Fit([Given(pretrained.stack, pretrained.recipe), tune], seed=args.random_state).run(X, y)
    model, history = result.model, result.history["finetune"]
    err = test_error(model, X_test, y_test)
    published = {"denoising": 1.28, "autoencoder": 1.40, "rbm": 1.24, "none": 1.6}[args.pretrain]
    return record("sdae", {"pretrain": args.pretrain, "loaded_stack": args.load_stack, "hidden": args.hidden, "activation": activation,
                           "precision": args.precision, "seed": args.random_state, "test_error_pct": round(err, 3),
                           "published_pct": published, "train_loss": round(history[-1]["loss"], 4),
                           "wall_minutes": clock.minutes, "settings": vars(args)}, argv)


if __name__ == "__main__":
    main()
