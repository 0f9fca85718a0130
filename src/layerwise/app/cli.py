"""The ``layerwise`` command line.

``layerwise --help`` and ``layerwise --version`` import no torch (see :mod:`layerwise`): this module imports
only the standard library at its top, and each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from collections.abc import Sequence

__all__ = ["main"]


#: Flags of earlier releases -> their names now. Only the usage error reads it: an old flag is refused like any
#: unknown one, never translated.
RENAMED_FLAGS = {"--seed": "--random-state"}


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose "unrecognized arguments" error names the flag now of an old flag it lists."""

    def error(self, message: str):
        if message.startswith("unrecognized arguments"):
            message += "".join(f" ({old} is now {new})" for old, new in RENAMED_FLAGS.items()
                               if re.search(rf"(?<![\w-]){re.escape(old)}(?![\w-])", message))
        super().error(message)


class _LazyCommands:
    """``commands.NAME``: a function that imports :mod:`layerwise.app.commands` or :mod:`layerwise.app.model_commands` (and
    with them torch) when it is called, not when the parser is built."""

    def __getattr__(self, name: str):
        def command(args: argparse.Namespace) -> int:
            from . import commands, model_commands

            return getattr(commands if hasattr(commands, name) else model_commands, name)(args)

        command.__name__ = command.__qualname__ = name
        return command


class _DatasetNames(Sequence):
    """The names of ``layerwise.data.DATASETS``, read when argparse first needs them (to check a value or to
    print ``demo --help``), so that building the parser imports no dataset code."""

    def _names(self) -> list[str]:
        from ..data.datasets import DATASETS

        return DATASETS.names()

    def __getitem__(self, index):
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())

    def __contains__(self, value) -> bool:
        return value in self._names()

    def __iter__(self):
        return iter(self._names())


def _demo(args: argparse.Namespace) -> int:
    from ..exceptions import ConfigError
    from .demo import SETTINGS, format_table, run_demo

    if not 0 < args.label_fraction <= 1:
        raise ConfigError(f"--label-fraction must be in (0, 1]; got {args.label_fraction}. It is the fraction of training "
                          "rows that keep their label, e.g. 0.1; 1 keeps them all.")

    settings = SETTINGS.get(args.dataset, SETTINGS["mnist"] if args.dataset != "digits" else SETTINGS["digits"])
    if args.quick:
        from dataclasses import replace

        settings = replace(settings, pretrain_max_iter=max(1, settings.pretrain_max_iter // 10), max_iter=max(1, settings.max_iter // 10),
                           semi_max_iter=10)
    from .commands import epoch_lines, progress_bars
    from .runs import claim_run_folder

    out = args.out or f"runs/demo-{args.dataset}"
    # a new folder, or an earlier demo's with --overwrite; locked while the demo runs
    with claim_run_folder(out, "demo", args.overwrite, how="another folder with --out DIR"):
        result = run_demo(args.dataset, args.data_dir, out, args.label_fraction, args.random_state, settings,
                          verbose=progress_bars(args), log=lambda m: print(m, file=sys.stderr), callbacks=epoch_lines(args))
    print(format_table(result))
    written = ", ".join(["results.json", *result.get("plots", [])])
    print(f"\nrun folder: {out} ({written})")
    return 0


def _image_size(text: str) -> tuple[int, int]:
    """``--image-size``: ``HxW`` or ``S`` (a square) in pixels."""
    parts = text.lower().split("x")
    try:
        size = tuple(int(p) for p in parts)
    except ValueError:
        size = ()
    if len(size) not in (1, 2) or min(size) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size; write HEIGHTxWIDTH in pixels, e.g. 28x28, or one number "
                                         "for a square")
    return (size[0], size[-1])


def _verbosity_flags(default) -> argparse.ArgumentParser:
    """``-q``/``-v``, accepted before the command (``layerwise -q pretrain``) and after it; ``default`` is
    ``argparse.SUPPRESS`` after it, so that a flag given before the command is not reset."""
    flags = argparse.ArgumentParser(add_help=False)
    group = flags.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", default=default,
                       help="nothing per epoch: no epoch lines, no progress bars")
    group.add_argument("-v", "--verbose", action="store_true", default=default,
                       help="one line per epoch on stderr even on a terminal (instead of progress bars); by default "
                            "the line is written only when stderr is not a terminal (a log file, a pipe)")
    return flags


def build_parser() -> argparse.ArgumentParser:
    from .._version import __version__

    parser = _Parser(prog="layerwise", description="Unsupervised layer-wise pretraining, then fine-tuning.",
                     parents=[_verbosity_flags(False)])
    parser.add_argument("--version", action="version", version=f"layerwise {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parents = [_verbosity_flags(argparse.SUPPRESS)]
    demo = sub.add_parser("demo", help="pretrained vs random initialisation with few labels", parents=parents,
                          description="Compare logistic regression, a network from random init, pretrained + frozen, "
                                      "pretrained + full fine-tuning and kNN on pretrained codes, with few labels.")
    demo.add_argument("--dataset", choices=_DatasetNames(), default="digits", metavar="NAME",
                      help="%(choices)s (default: digits, which ships with scikit-learn)")
    demo.add_argument("--data-dir", help="folder with the dataset files (MNIST: the four IDX .gz files)")
    demo.add_argument("--out", help="run folder (default: runs/demo-DATASET)")
    demo.add_argument("--label-fraction", type=float, default=0.1, help="fraction of training rows that keep their label (default 0.1)")
    demo.add_argument("--random-state", type=int, default=0, metavar="N", help="seed of the data split and of every method (default 0)")
    demo.add_argument("--quick", action="store_true", help="a tenth of the epochs, for a smoke test")
    demo.add_argument("--no-progress", action="store_true", help="no progress bars")
    demo.add_argument("--overwrite", action="store_true", help="replace the results of an earlier demo in the run folder "
                                                                "(by default an existing run folder is refused)")
    demo.set_defaults(func=_demo)
    _add_run_commands(sub, parents)
    _add_examples_command(sub, parents)
    return parser


def _add_run_commands(sub, parents: list) -> None:
    commands = _LazyCommands()

    def config_args(p):
        p.add_argument("-c", "--config", required=True, help="run config (.toml, or .yaml with PyYAML)")
        p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key, e.g. pretrain.max_iter=5 (repeatable)")
        p.add_argument("--no-progress", action="store_true", help="no progress bars")
        p.add_argument("--overwrite", action="store_true",
                       help="replace the run already in the run folder (by default a command writes only into a new run "
                            "folder, or finetune into the folder of a finished pretrain; `resume` continues a run)")

    def data_args(p):
        p.add_argument("-c", "--config", help="use the test split of this run config")
        p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key")
        p.add_argument("--input", help="rows to use: a .npy file (read a chunk at a time), a .npz or .csv file, or a folder "
                                       "of images with one subfolder per class")
        p.add_argument("--label-column", help="CSV label column of --input (default: the one the model was trained with, "
                                              "when the file has it)")
        p.add_argument("--image-size", type=_image_size, metavar="HxW",
                       help="resize the images of an --input folder, e.g. 28x28 or 28 (default: the model's image_size, or "
                            "the [data] image_size of the run that trained it)")
        p.add_argument("--dataset", help="use the test split of this named dataset: its own (mnist), or for digits the 20%% "
                                         "that prepare_data holds out with random_state=0 (a default [data] section)")
        p.add_argument("--data-dir", help="folder with the dataset files")

    add_parser = lambda *a, **k: sub.add_parser(*a, parents=parents, **k)  # noqa: E731
    p = add_parser("pretrain", help="greedy layer-wise pretraining from a config",
                       description="Pretrain every layer without labels; writes RUN/pretrained/, metrics.jsonl, config.json and plots.")
    config_args(p)
    p.set_defaults(func=commands.pretrain)
    p = add_parser("finetune", help="fine-tune a pretrained model on the labeled rows",
                       description="Fine-tune RUN/pretrained (or --pretrained PATH) with labels; writes RUN/model/ and metrics.json.")
    config_args(p)
    p.add_argument("--pretrained", help="saved model folder to start from (default: RUN/pretrained)")
    p.set_defaults(func=commands.finetune)
    p = add_parser("resume", help="continue an interrupted pretrain or finetune run",
                       description="Continue the command that was running in RUN_DIR when it stopped, from its checkpoints; "
                                   "on CPU the result is bitwise the same as an uninterrupted run.")
    p.add_argument("run_dir", help="the run folder (e.g. runs/NAME)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=commands.resume)
    for name, func, text in [("evaluate", commands.evaluate, "metrics of a saved model on held-out rows"),
                             ("predict", commands.predict, "predictions (or codes) of a saved model")]:
        p = add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        p.add_argument("model", help="saved model folder (e.g. runs/NAME/model)")
        data_args(p)
        if name == "predict":
            p.add_argument("-o", "--output", help="CSV file for the predictions (default: stdout)")
            p.add_argument("--proba", action="store_true",
                           help="class probabilities, one column per class under a header of the class names")
        else:
            p.add_argument("-o", "--output", metavar="DIR",
                           help="folder for evaluation_confusion_matrix.png and evaluation_curves.png (default: the "
                                "folder that holds the model)")
            p.add_argument("--overwrite", action="store_true", help="replace those two files if they exist (by default "
                                                                    "evaluate refuses to)")
        p.set_defaults(func=func)
    p = add_parser("sample", help="draw samples from a saved generative model", description="Draw samples into OUT.png and OUT.npy.")
    p.add_argument("model", help="saved model folder")
    p.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--random-state", type=int, default=0, metavar="N", help="seed of the draws (default 0)")
    p.add_argument("-o", "--out", help="output path without suffix (default: samples); a folder: FOLDER/samples")
    p.add_argument("--overwrite", action="store_true", help="replace samples.npy and samples.png (the default names) if "
                                                            "they exist (by default sample refuses to)")
    p.set_defaults(func=commands.sample)
    p = add_parser("inspect", help="print a saved model's architecture, metadata and metrics",
                       description="Print a saved model's class, architecture, metadata and metrics.")
    p.add_argument("model", help="saved model folder")
    p.set_defaults(func=commands.inspect)


def _add_examples_command(sub, parents: list) -> None:
    p = sub.add_parser("examples", parents=parents, help="list the example configs that ship with layerwise, or copy them out",
                       description="Without DIR: list the example run configs that ship inside the package. With DIR: copy "
                                   "them into DIR (created if missing). `-c NAME` of pretrain, finetune, evaluate and "
                                   "predict finds a packaged example by its name (e.g. digits_few_labels.toml) when "
                                   "no file of that name is in the current folder.")
    p.add_argument("dir", nargs="?", metavar="DIR", help="folder to copy the examples into")
    p.add_argument("--overwrite", action="store_true", help="replace files of the same name in DIR (by default they are kept)")
    p.set_defaults(func=_examples)


def _examples(args: argparse.Namespace) -> int:
    from .. import examples

    if args.dir is None:
        for name in examples.names():
            print(f"{name:24s} {examples.summary(name)}")
        print("\nrun one by name, e.g. `layerwise finetune -c digits_few_labels.toml`; copy them out with "
              "`layerwise examples DIR`")
        return 0
    copied, kept = examples.copy_to(args.dir, overwrite=args.overwrite)
    for path in copied:
        print(path)
    if kept:
        print(f"layerwise: kept {len(kept)} existing file(s) in {args.dir} ({', '.join(p.name for p in kept)}); "
              "--overwrite replaces them", file=sys.stderr)
    return 0


def _packaged_config(args: argparse.Namespace, say: bool = True) -> None:
    """``-c NAME`` where no file ``NAME`` exists and ``NAME`` has no folder part: the packaged example of that name
    (:mod:`layerwise.examples`), said on stderr; a bare name that is neither fails with the examples' names."""
    config = getattr(args, "config", None)
    if not config or os.path.exists(config) or os.path.dirname(config):
        return
    from .. import examples
    from ..exceptions import ConfigError

    found = examples.find(config)
    if found is None:
        raise ConfigError(f"Config file {config} does not exist in {os.getcwd()}, and no example that ships with layerwise "
                          f"has that name ({', '.join(examples.names())}). Pass the path of a .toml or .yaml file, or "
                          "one of those names.")
    if say:
        print(f"layerwise: using the packaged example {found.name} ({found}); `layerwise examples .` copies it here to edit",
              file=sys.stderr)
    args.config = str(found)


# what may run as several processes under torchrun; the rest would only repeat the same work and files
DISTRIBUTED_COMMANDS = ("pretrain", "finetune", "resume")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``layerwise`` console script.

    Under ``torchrun`` (``torchrun --nproc_per_node=N -m layerwise pretrain
    -c cfg.toml``) ``pretrain``, ``finetune`` and ``resume`` train on every
    process; the process group layerwise opened is closed when the command ends.
    """
    args = build_parser().parse_args(argv)
    _import_library()
    from ..exceptions import LayerwiseError
    from ..train.execution import shutdown, this_process
    from . import commands

    commands.resumable_run = None  # set once a command has written a run folder's records
    shown = warnings.showwarning
    warnings.showwarning = _warning_line
    process = this_process()
    try:
        if process.launched and args.command not in DISTRIBUTED_COMMANDS:
            from ..exceptions import ConfigError

            raise ConfigError(f"`layerwise {args.command}` runs on one process; only {', '.join(DISTRIBUTED_COMMANDS)} "
                              "train on several. Run it without torchrun.")
        _packaged_config(args, say=process.writes)
        return args.func(args)
    except LayerwiseError as e:
        # every rank reports its own error (they may differ: a file missing on one machine); rank 0 unprefixed
        who = f" ({process.who})" if process.who else ""
        print(f"layerwise: error{who}: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a file or folder the user named cannot be read or written: not a bug of layerwise
        where = f": {e.filename}" if e.filename else ""
        print(f"layerwise: error: {e.strerror or e}{where}. Check the path, its permissions and the free disk space.",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        run = commands.resumable_run
        hint = f"; continue with `layerwise resume {run}`" if run is not None else ""
        process.once(print, f"layerwise: interrupted{hint}", file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = shown
        shutdown()


def _import_library() -> None:
    """A command is about to run in a process that imported layerwise light (for ``--help``, see :mod:`layerwise`):
    import it whole now, torch's settings included, as a plain ``import layerwise`` does."""
    import importlib

    import layerwise

    if getattr(layerwise, "_LIGHT", False):
        importlib.reload(layerwise)


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one line a command-line user reads (no source file and line of the library)."""
    print(f"layerwise: warning: {message}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
