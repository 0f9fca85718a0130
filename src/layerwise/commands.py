"""What each ``layerwise`` subcommand does (the parser lives in :mod:`layerwise.cli`)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from .config import RunConfig, config_to_dict, estimator_params, load_config
from .exceptions import ConfigError, DataError
from .train import distributed

__all__ = ["pretrain", "finetune", "resume", "evaluate", "predict", "sample", "inspect"]


def _say(msg: str) -> None:
    if distributed.is_main():  # under torchrun only rank 0 talks
        print(msg, file=sys.stderr)


def _config(args: argparse.Namespace) -> RunConfig:
    return load_config(args.config, args.set or [])


def _data(cfg: RunConfig):
    """The run's rows: the config's ``[data]`` keys are :func:`prepare_data`'s arguments."""
    from .data.prepare import prepare_data

    return prepare_data(**config_to_dict(cfg)["data"], random_state=cfg.random_state)


def _phase_params(cfg: RunConfig, phase: str, data) -> dict:
    """The estimator's parameters from the config (:func:`estimator_params`); a convolutional pretraining gets the
    data's image shape (an image folder's, MNIST's 28x28) unless ``pretrain_params`` sets it."""
    from .objectives import with_image_shape

    params = estimator_params(cfg, phase)
    params["pretrain_params"] = with_image_shape(params["pretrain"], params["pretrain_params"], data.image_shape)
    return params


def _run_folder(cfg: RunConfig):
    from .runs import RunFolder

    run = RunFolder(cfg.run_dir)
    run.write_json("config.json", config_to_dict(cfg))
    return run


def _verbosity(args: argparse.Namespace) -> int:
    """-1 with ``-q``, 1 with ``-v``, else 0."""
    return -1 if getattr(args, "quiet", False) else 1 if getattr(args, "verbose", False) else 0


def progress_bars(args: argparse.Namespace) -> bool:
    """Progress bars (on a terminal only): not with ``--no-progress`` or ``-q``, nor with ``-v``, whose lines replace them."""
    return not getattr(args, "no_progress", False) and _verbosity(args) == 0


def epoch_lines(args: argparse.Namespace) -> list:
    """The per-epoch line on stderr: when it is not a terminal (default), always (``-v``), never (``-q``)."""
    from .train.loggers import EpochLogger

    v = _verbosity(args)
    return [] if v < 0 else [EpochLogger(when="always" if v > 0 else "auto")]


def _callbacks(args: argparse.Namespace, cfg: RunConfig, run, command: str, resume: bool) -> list:
    """The epoch lines and the run folder's loggers (``metrics.jsonl``, and what ``[logging]`` asks for)."""
    from .runs import run_loggers

    state = run.read_state() if resume else None
    start = state.get("metrics_start") if state else None
    return epoch_lines(args) + run_loggers(run.path, command, metrics_start=start, **config_to_dict(cfg)["logging"])


def pretrain(args: argparse.Namespace) -> int:
    """Greedy layer-wise pretraining on every training row; writes ``pretrained/`` and plots."""
    return _pretrain_run(_config(args), args, resume=False)


def _pretrain_run(cfg: RunConfig, args: argparse.Namespace, resume: bool) -> int:
    from . import io
    from .plots import pretrain_plots
    from .sklearn import StackedAutoencoder

    run = _run_folder(cfg)
    callbacks = _callbacks(args, cfg, run, "pretrain", resume)  # before any training: a missing extra fails now
    if not resume:
        run.write_state("pretrain", done=False, metrics_start=run.metrics_size())
    data = _data(cfg)
    _say(f"{data.name}: {len(data.X_train)} training rows, {data.X_train.shape[1]} features ({data.scaling}); run folder {run.path}")
    sae = StackedAutoencoder(**_phase_params(cfg, "pretrain", data), verbose=progress_bars(args), callbacks=callbacks)
    start = time.perf_counter()
    sae.fit(data.X_train, checkpoint_dir=run.path / "checkpoints", resume=resume)
    seconds = time.perf_counter() - start
    if not distributed.is_main():  # every rank trained; rank 0 alone evaluates and writes the run folder
        return 0
    X_eval = data.X_test if data.X_test is not None else data.X_train
    metrics = {"reconstruction_error": float(-sae.score(X_eval)), "pretrain_seconds": seconds}
    io.save(sae, run.path / "pretrained", metrics=metrics, meta={"preprocessing": data.scaling, "dataset": data.name})
    plots = pretrain_plots(run.path, sae, data, cfg.model.pretrain, cfg.random_state)
    run.write_json("pretrain_metrics.json", metrics)
    run.write_state("pretrain", done=True)
    print(json.dumps(metrics))
    _say(f"wrote {run.path / 'pretrained'}" + (f" and {', '.join(x.name for x in plots)}" if plots else ""))
    return 0


def finetune(args: argparse.Namespace) -> int:
    """Fine-tune on the labeled rows, from ``pretrained/`` (or ``--pretrained``); writes ``model/`` and plots."""
    return _finetune_run(_config(args), args.pretrained, args, resume=False)


def _finetune_run(cfg: RunConfig, pretrained: str | None, args: argparse.Namespace, resume: bool) -> int:
    from . import io
    from .metrics import classification_report, regression_report
    from .plots import finetune_plots
    from .sklearn import PretrainedClassifier, PretrainedRegressor

    run = _run_folder(cfg)
    data = _data(cfg)
    if data.y_train is None:
        raise DataError(f"Dataset {data.name!r} has no labels; fine-tuning needs them (CSV files: set data.label_column).")
    classification = cfg.data.task == "classification"
    source = _finetune_source(cfg, run.path, pretrained, data, classification)
    saved = None if source is None else str(source)
    callbacks = _callbacks(args, cfg, run, "finetune", resume)
    if not resume:
        run.write_state("finetune", done=False, pretrained=saved, metrics_start=run.metrics_size())
    cls = PretrainedClassifier if classification else PretrainedRegressor
    est = cls(**_phase_params(cfg, "finetune", data), verbose=progress_bars(args), pretrained=saved, callbacks=callbacks)
    est.fit(data.X_train, data.y_partial, checkpoint_dir=run.path / "checkpoints", resume=resume)
    if not distributed.is_main():  # every rank trained; rank 0 alone evaluates and writes the run folder
        return 0
    X_test, y_test = (data.X_test, data.y_test) if data.X_test is not None else (data.X_val, data.y_val)
    report = (classification_report if classification else regression_report)(y_test, est.predict(X_test))
    io.save(est, run.path / "model", metrics=report, meta={"preprocessing": data.scaling, "dataset": data.name})
    run.write_json("metrics.json", report)
    plots = finetune_plots(run.path, est.history_["finetune"], report, title=f"{cfg.name} ({data.name})")
    if getattr(est, "semi_supervised_", None) is not None:  # the per-layer costs and the accuracy over epochs
        from .viz import plot_semi_supervised_curves

        plots.append(plot_semi_supervised_curves(
            est.history_["finetune"], run.path / "semi_supervised_curves.png",
            title=f"{data.name}: {est.semi_supervised_}, {int((np.asarray(data.y_partial) != -1).sum())} labels"))
        plots = [x for x in plots if x is not None]
    run.write_state("finetune", done=True, pretrained=saved)
    print(json.dumps({k: v for k, v in report.items() if k != "confusion_matrix"}))
    _say(f"wrote {run.path / 'model'}" + (f" and {', '.join(x.name for x in plots)}" if plots else ""))
    return 0


def _finetune_source(cfg: RunConfig, run_path: Path, pretrained: str | None, data, classification: bool) -> Path | None:
    """The saved model fine-tuning starts from, or ``None`` when a semi-supervised method trains its own network.

    ``semi_supervised="auto"`` fine-tunes the run's ``pretrained/`` model (or ``--pretrained``) when there is
    one, else trains the ladder network when some rows are unlabeled; a method named explicitly never
    needs one; ``None`` always does.
    """
    method = cfg.finetune.semi_supervised
    source = Path(pretrained) if pretrained else run_path / "pretrained"
    has_source = (source / "config.json").is_file()
    unlabeled = classification and bool((np.asarray(data.y_partial) == -1).any())
    if method not in (None, "auto"):
        if pretrained:
            raise ConfigError(f"finetune.semi_supervised = {method!r} trains its own network, so --pretrained {pretrained} "
                              "would not be used; drop --pretrained, or set finetune.semi_supervised = \"auto\" to fine-tune it.")
        return None
    if has_source:
        return source
    if method == "auto" and unlabeled:
        return None
    raise ConfigError(f"No pretrained model at {source}. Run `layerwise pretrain -c CONFIG` first, or pass --pretrained PATH "
                      "(a saved model folder), or set finetune.semi_supervised = \"ladder\" to train a ladder network on "
                      "the labeled and unlabeled rows without pretraining.")


def resume(args: argparse.Namespace) -> int:
    """Continue the command that was running in RUN_DIR when it stopped (from its checkpoints)."""
    from .config import config_from_dict

    folder = Path(args.run_dir)
    state_file, config_file = folder / "state.json", folder / "config.json"
    if not state_file.is_file() or not config_file.is_file():
        raise ConfigError(f"{folder} is not a run folder (no state.json / config.json). Pass the folder a "
                          "`layerwise pretrain` or `finetune` run wrote, e.g. runs/NAME.")
    state = json.loads(state_file.read_text())
    cfg = config_from_dict(json.loads(config_file.read_text()))
    cfg.out_dir, cfg.name = str(folder.parent), folder.name  # wherever the folder is now
    if state["done"]:
        _say(f"{folder}: the last command ({state['command']}) finished; nothing to resume.")
        return 0
    _say(f"{folder}: resuming {state['command']} from {folder / 'checkpoints'}")
    if state["command"] == "pretrain":
        return _pretrain_run(cfg, args, resume=True)
    return _finetune_run(cfg, state.get("pretrained"), args, resume=True)


def _load(path: str):
    from . import io

    return io.load(path)


def _features(args: argparse.Namespace, model) -> tuple:
    """Rows to evaluate or predict, and their labels (or None).

    ``--input``: a ``.npy`` file or a folder of images (one subfolder per
    class; labels: the folder names) is handed to the estimator, which reads
    it a chunk at a time; ``.npz`` and ``.csv`` files are loaded. ``-c
    CONFIG``: the config's test split. ``--dataset NAME``: the test split
    :func:`~layerwise.data.prepare_data` makes with its defaults (the
    dataset's own test split, or for ``digits`` the 20% it holds out with
    ``random_state=0``: what a run with a default ``[data]`` section never
    trains on).
    """
    from .data.datasets import load_dataset
    from .data.prepare import prepare_data

    if getattr(args, "input", None):
        path = Path(args.input)
        if path.is_dir():
            from .data.images import ImageFolder

            folder = ImageFolder(path)
            return str(path), np.asarray(folder.classes)[np.asarray(folder.targets)]
        if path.suffix.lower() == ".npy":
            from .data.stream import NpyFile

            return NpyFile(path), None
        d = load_dataset(args.input, label_column=getattr(args, "label_column", None), scale=None)
        return d.X, d.y
    if getattr(args, "config", None):
        data = _data(load_config(args.config, args.set or []))
    elif getattr(args, "dataset", None):
        data = prepare_data(args.dataset, data_dir=args.data_dir)
    else:
        raise ConfigError("Say which data to use: --input FILE (.npy/.npz/.csv) or FOLDER (images), -c CONFIG (its test "
                          "split) or --dataset NAME.")
    return (data.X_test, data.y_test) if data.X_test is not None else (data.X_val, data.y_val)


def evaluate(args: argparse.Namespace) -> int:
    """Metrics of a saved model on held-out rows (JSON on stdout); for a classifier also the confusion matrix and
    the model's fine-tuning curves as PNGs, next to the model (or in ``-o DIR``)."""
    from .metrics import classification_report, regression_report
    from .plots import finetune_plots

    model = _load(args.model)
    X, y = _features(args, model)
    if (hasattr(model, "predict") or hasattr(model, "predict_proba")) and y is None:
        raise ConfigError(f"The rows of {args.input} have no labels to evaluate against; pass a .csv with --label-column, "
                          "a .npz with y, a folder of images, -c CONFIG or --dataset NAME. `layerwise predict` needs none.")
    if hasattr(model, "predict_proba") or (hasattr(model, "predict") and hasattr(model, "classes_")):
        report = classification_report(y, model.predict(X))
    elif hasattr(model, "predict"):
        report = regression_report(y, model.predict(X))
    elif hasattr(model, "score"):
        report = {"score": float(model.score(X)), "n_rows": len(X)}
    else:
        raise ConfigError(f"{args.model} holds a {type(model).__name__}, which has nothing to evaluate; save an estimator.")
    print(json.dumps(report))
    history = getattr(model, "history_", None)
    out = Path(args.output) if args.output else Path(args.model).resolve().parent
    out.mkdir(parents=True, exist_ok=True)
    plots = finetune_plots(out, history.get("finetune") if isinstance(history, dict) else None, report,
                           title=f"{Path(args.model).resolve().parent.name}/{Path(args.model).name}", prefix="evaluation_")
    if plots:
        _say(f"wrote {', '.join(str(p) for p in plots)}")
    return 0


def predict(args: argparse.Namespace) -> int:
    """Predictions (or codes, for a transformer; class probabilities with ``--proba``) for ``--input``;
    CSV to ``--output`` or stdout."""
    model = _load(args.model)
    X, _ = _features(args, model)
    header = ""
    if args.proba:
        if not hasattr(model, "predict_proba"):
            raise ConfigError(f"--proba needs a classifier; {args.model} holds a {type(model).__name__}, which has no "
                              "class probabilities. Drop --proba.")
        out = model.predict_proba(X)
        header = ",".join(str(c) for c in model.classes_)  # one column per class, in classes_ order
    else:
        out = model.predict(X) if hasattr(model, "predict") else model.transform(X)
    out = np.asarray(out)
    out = out.reshape(len(out), -1)
    target = open(args.output, "w") if args.output else sys.stdout
    try:
        np.savetxt(target, out, delimiter=",", fmt="%s" if out.dtype.kind in "OUS" else "%.7g", header=header, comments="")
    finally:
        if args.output:
            target.close()
    if args.output:
        _say(f"wrote {len(out)} rows to {args.output}")
    return 0


def sample(args: argparse.Namespace) -> int:
    """Draw samples from a saved generative model into a PNG grid (and ``.npy``)."""
    from .sampling import draw_samples
    from .viz import plot_image_grid

    X = draw_samples(_load(args.model), args.n, args.seed)
    out = Path(args.out)
    np.save(out.with_suffix(".npy"), X)
    side = int(round(np.sqrt(X.shape[1])))
    png = None  # rows that are not square images, or no matplotlib: no picture
    if side * side == X.shape[1]:
        png = plot_image_grid(np.clip(X, 0, 1), (side, side), out.with_suffix(".png"), title=f"{args.n} samples")
    _say(f"wrote {out.with_suffix('.npy')}" + (f" and {png}" if png is not None else ""))
    return 0


def inspect(args: argparse.Namespace) -> int:
    """Print a saved model's class, architecture, metadata and metrics."""
    folder = Path(args.model)
    model = _load(args.model)
    meta = json.loads((folder / "meta.json").read_text()) if (folder / "meta.json").is_file() else {}
    print(f"{type(model).__name__} from {folder}")
    module = next((getattr(model, a) for a in ("module_", "autoencoder_", "stack_") if hasattr(model, a)), model)
    print(module)
    n_params = sum(p.numel() for p in module.parameters()) if hasattr(module, "parameters") else 0
    print(f"parameters: {n_params:,}")
    print(json.dumps(meta, indent=2))
    return 0
