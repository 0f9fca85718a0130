"""The ``layerwise`` command line."""

from __future__ import annotations

import argparse
import sys

from .data.datasets import DATASETS
from .exceptions import LayerwiseError

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from .demo import SETTINGS, format_table, run_demo

    settings = SETTINGS.get(args.dataset, SETTINGS["mnist"] if args.dataset != "digits" else SETTINGS["digits"])
    if args.quick:
        from dataclasses import replace

        settings = replace(settings, pretrain_epochs=max(1, settings.pretrain_epochs // 10), finetune_epochs=max(1, settings.finetune_epochs // 10))
    out = args.out or f"runs/demo-{args.dataset}"
    result = run_demo(args.dataset, args.data_dir, out, args.label_fraction, args.seed, settings, progress=not args.no_progress,
                      log=lambda m: print(m, file=sys.stderr))
    print(format_table(result))
    print(f"\nrun folder: {out} (results.json, reconstructions.png, loss_curves.png)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="layerwise", description="Unsupervised layer-wise pretraining, then fine-tuning.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = sub.add_parser("demo", help="pretrained vs random initialisation with few labels",
                          description="Compare logistic regression, a network from random init, pretrained + frozen, "
                                      "pretrained + full fine-tuning and kNN on pretrained codes, with few labels.")
    demo.add_argument("--dataset", choices=DATASETS.names(), default="digits", help="default: digits (ships with scikit-learn)")
    demo.add_argument("--data-dir", help="folder with the dataset files (MNIST: the four IDX .gz files)")
    demo.add_argument("--out", help="run folder (default: runs/demo-DATASET)")
    demo.add_argument("--label-fraction", type=float, default=0.1, help="fraction of training rows that keep their label (default 0.1)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--quick", action="store_true", help="a tenth of the epochs, for a smoke test")
    demo.add_argument("--no-progress", action="store_true", help="no progress bars")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``layerwise`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except LayerwiseError as e:
        print(f"layerwise: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
