"""What each ``layerwise`` subcommand does (the parser lives in :mod:`layerwise.cli`)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from .config import RunConfig, config_to_dict, estimator_params, load_config
from .exceptions import CheckpointError, ConfigError, DataError
from .train import distributed
from .train.callbacks import Callback

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
    if phase == "finetune" and params.get("semi_supervised") is not None:
        params.update(_unset_stack_keys(params))
    return params


def _unset_stack_keys(params: dict) -> dict:
    """The stack-only keys a config holds at their config defaults, back at the estimator's defaults: a config
    always carries them (``[model] pretrain = "denoising"``), and the estimator would read them as set, so a
    semi-supervised method would refuse them and ``"auto"`` would take the stack path. A key the config sets
    to anything else stays, and is used or refused by the estimator."""
    from .config import SECTIONS
    from .params import PRETRAINED

    reset = {}
    for name in PRETRAINED:
        param = PRETRAINED[name]
        if param.paths != ("stack",) or name not in params:
            continue
        section = next((SECTIONS[k] for k in ("model", "finetune") if name in SECTIONS[k]), None)
        if section is not None and params[name] == section[name].default:
            reset[name] = param.default
    return reset


#: The run folder whose records this process wrote, for the "interrupted" line of ``layerwise.cli.main``.
resumable_run: Path | None = None


class _RunRecords(Callback):
    """Writes a run's ``config.json`` and ``state.json`` when its first training starts.

    Not before: until then the config and the data may still be refused (by the estimator's checks), and a
    run folder re-used under the same name must keep the records of the run it holds, so that that run can
    still be resumed.
    """

    def __init__(self, cfg: RunConfig, command: str, resume: bool = False, **extra) -> None:
        self.cfg, self.command, self.resume, self.extra, self.run = cfg, command, resume, extra, None

    def on_fit_start(self, trainer, model) -> None:
        self.write()

    def write(self):
        global resumable_run
        from .runs import RunFolder

        if self.run is None:
            self.run = RunFolder(self.cfg.run_dir)
            if not self.resume:  # a resumed run keeps its records (metrics_start: where its metrics.jsonl lines begin)
                config = config_to_dict(self.cfg)
                self.run.write_json("config.json", config)
                # the config again, in state.json: `layerwise resume` refuses a config.json edited since (_edited_settings)
                self.run.write_state(self.command, done=False, metrics_start=self.run.metrics_size(), **self.extra,
                                     config=config)
            resumable_run = self.run.path
        return self.run


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


def _callbacks(args: argparse.Namespace, cfg: RunConfig, command: str, resume: bool) -> list:
    """The epoch lines and the run folder's loggers (``metrics.jsonl``, and what ``[logging]`` asks for)."""
    from .runs import RunFolder, run_loggers

    state = RunFolder(cfg.run_dir).read_state() if resume else None
    start = state.get("metrics_start") if state else None
    return epoch_lines(args) + run_loggers(cfg.run_dir, command, metrics_start=start, **config_to_dict(cfg)["logging"])


def pretrain(args: argparse.Namespace) -> int:
    """Greedy layer-wise pretraining on every training row; writes ``pretrained/`` and plots.

    Only into a new run folder (or, with ``--overwrite``, over an earlier run), locked while it runs
    (:func:`~layerwise.runs.claim_run_folder`)."""
    from .runs import claim_run_folder

    cfg = _config(args)
    with claim_run_folder(cfg.run_dir, "pretrain", getattr(args, "overwrite", False)):
        return _pretrain_run(cfg, args, resume=False)


def _pretrain_run(cfg: RunConfig, args: argparse.Namespace, resume: bool) -> int:
    from . import io
    from .plots import pretrain_plots
    from .sklearn import StackedAutoencoder

    data = _data(cfg)
    _say(f"{data.name}: {len(data.X_train)} training rows, {data.X_train.shape[1]} features ({data.scaling}; the model "
         f"scales them with scale={cfg.data.scale!r}, fitted on the training rows); run folder {cfg.run_dir}")
    records = _RunRecords(cfg, "pretrain", resume)
    callbacks = _callbacks(args, cfg, "pretrain", resume)  # before any training: a missing extra fails now
    sae = StackedAutoencoder(**_phase_params(cfg, "pretrain", data), verbose=progress_bars(args), callbacks=callbacks)
    sae._run_callbacks = [records]
    start = time.perf_counter()
    sae.fit(data.X_train, checkpoint_dir=cfg.run_dir / "checkpoints", resume=resume)
    seconds = time.perf_counter() - start
    if not distributed.is_main():  # every rank trained; rank 0 alone evaluates and writes the run folder
        return 0
    run = records.write()
    X_eval = data.X_test if data.X_test is not None else data.X_train
    metrics = {"reconstruction_error": float(-sae.score(X_eval)), "pretrain_seconds": seconds}
    io.save(sae, run.path / "pretrained", metrics=metrics, meta=_model_meta(sae, data))
    plots = pretrain_plots(run.path, sae, data, cfg.model.pretrain, cfg.random_state)
    run.write_json("pretrain_metrics.json", metrics)
    run.write_state("pretrain", done=True)
    print(json.dumps(metrics))
    _say(f"wrote {run.path / 'pretrained'}" + (f" and {', '.join(x.name for x in plots)}" if plots else ""))
    return 0


def _model_meta(est, data) -> dict:
    """``meta.json`` entries of a model the CLI saves: the dataset and every step between its values and the model."""
    return {"dataset": data.name, "preprocessing": f"{data.scaling}; then, in the model: {est._scaling_description()}"}


def finetune(args: argparse.Namespace) -> int:
    """Fine-tune on the labeled rows, from ``pretrained/`` (or ``--pretrained``); writes ``model/`` and plots.

    Into a new run folder or the folder of a finished ``pretrain`` (or, with ``--overwrite``, over an earlier
    run), locked while it runs."""
    from .runs import claim_run_folder

    cfg = _config(args)
    with claim_run_folder(cfg.run_dir, "finetune", getattr(args, "overwrite", False)):
        return _finetune_run(cfg, args.pretrained, args, resume=False)


def _finetune_run(cfg: RunConfig, pretrained: str | None, args: argparse.Namespace, resume: bool) -> int:
    from . import io
    from .metrics import classification_report, regression_report
    from .plots import finetune_plots
    from .sklearn import PretrainedClassifier, PretrainedRegressor

    data = _data(cfg)
    if data.y_train is None:
        raise DataError(f"Dataset {data.name!r} has no labels; fine-tuning needs them (CSV files: set data.label_column).")
    classification = cfg.data.task == "classification"
    source = _finetune_source(cfg, cfg.run_dir, pretrained, data, classification)
    saved = None if source is None else str(source)
    cls = PretrainedClassifier if classification else PretrainedRegressor
    records = _RunRecords(cfg, "finetune", resume, pretrained=saved)
    callbacks = _callbacks(args, cfg, "finetune", resume)
    est = cls(**_phase_params(cfg, "finetune", data), verbose=progress_bars(args), pretrained=saved, callbacks=callbacks)
    est._run_callbacks = [records]
    est.fit(data.X_train, data.y_partial, checkpoint_dir=cfg.run_dir / "checkpoints", resume=resume)
    if not distributed.is_main():  # every rank trained; rank 0 alone evaluates and writes the run folder
        return 0
    run = records.write()
    X_test, y_test = (data.X_test, data.y_test) if data.X_test is not None else (data.X_val, data.y_val)
    report = (classification_report if classification else regression_report)(y_test, est.predict(X_test))
    io.save(est, run.path / "model", metrics=report, meta=_model_meta(est, data))
    run.write_json("metrics.json", report)
    plots = finetune_plots(run.path, est.history_["finetune"], report, title=f"{cfg.name} ({data.name})")
    if getattr(est, "semi_supervised_", None) is not None:  # the per-layer costs and the accuracy over epochs
        from .viz import plot_semi_supervised_curves

        plots.append(plot_semi_supervised_curves(
            est.history_["finetune"], run.path / "semi_supervised_curves.png",
            title=f"{data.name}: {est.semi_supervised_}, {int((~_unlabeled_rows(data.y_partial)).sum())} labels"))
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
    unlabeled = classification and bool(_unlabeled_rows(data.y_partial).any())
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


def _unlabeled_rows(y) -> np.ndarray:
    """The rows ``prepare_data`` marked unlabeled (``-1``, or its text among string labels)."""
    from .sklearn.estimators import _is_unlabeled

    return _is_unlabeled(np.asarray(y), -1)


def resume(args: argparse.Namespace) -> int:
    """Continue the command that was running in RUN_DIR when it stopped (from its checkpoints)."""
    from .config import config_from_dict

    folder = Path(args.run_dir)
    state_file, config_file = folder / "state.json", folder / "config.json"
    if not state_file.is_file() or not config_file.is_file():
        raise ConfigError(f"{folder} is not a run folder (no state.json / config.json). Pass the folder a "
                          "`layerwise pretrain` or `finetune` run wrote, e.g. runs/NAME.")
    from .runs import lock_run_folder

    global resumable_run
    state = _run_record(state_file, lambda d: d.get("command") in ("pretrain", "finetune") and isinstance(d.get("done"), bool))
    resumable_run = folder  # interrupted from here on, the run is still there to resume
    cfg = config_from_dict(_run_record(config_file, lambda d: True))
    cfg.out_dir, cfg.name = str(folder.parent), folder.name  # wherever the folder is now
    if state["done"]:
        _say(f"{folder}: the last command ({state['command']}) finished; nothing to resume.")
        return 0
    edited = _edited_settings(state.get("config"), cfg)
    if edited:
        raise CheckpointError(
            f"Cannot resume {folder}: its config.json was changed after `layerwise {state['command']}` started, in "
            "settings that change the result:\n- " + "\n- ".join(edited) + "\nUndo these changes to resume the run as it "
            f"was started; to train with the new settings, start over: `layerwise {state['command']} -c CONFIG "
            "--overwrite` (or under another run name).")
    with lock_run_folder(folder, "resume"):
        return _resume_run(folder, state, cfg, config_file, args)


def _resume_run(folder: Path, state: dict, cfg: RunConfig, config_file: Path, args: argparse.Namespace) -> int:
    if (folder / "checkpoints").is_dir():
        _say(f"{folder}: resuming {state['command']} from {folder / 'checkpoints'}")
    else:
        _say(f"{folder}: no checkpoints were written before it stopped: {state['command']} starts over")
    try:
        if state["command"] == "pretrain":
            return _pretrain_run(cfg, args, resume=True)
        return _finetune_run(cfg, state.get("pretrained"), args, resume=True)
    except CheckpointError as e:
        raise CheckpointError(f"{e}\nOn the command line, `layerwise {state['command']} -c CONFIG --overwrite` starts the "
                              f"run over (its config is in {config_file}).") from e


#: Config keys that do not change what a run computes: where the folder is, the device, what is logged, how long
#: each phase may train (``max_iter`` says when to stop; a resumed fit may train longer, as ``fit(resume=True)`` may),
#: and the reference check (a second model, compared with; the saved model is the same).
_NOT_RESULT = ("name", "out_dir", "device", "logging", "pretrain.max_iter", "pretrain.unroll_max_iter",
               "finetune.max_iter", "finetune.check_reference")


def _edited_settings(started: dict | None, cfg: RunConfig) -> list[str]:
    """``["key: old -> new"]`` for every setting that changes the result and differs between the config a run
    started with (``state.json``'s ``config``; ``None`` for a run folder from before it was recorded) and ``cfg``."""
    if not isinstance(started, dict):
        return []
    from .runs import _plain

    now = _flat(json.loads(json.dumps(config_to_dict(cfg), default=_plain)))
    then = _flat(started)
    lines = []
    for key in [*then, *(k for k in now if k not in then)]:
        if any(key == k or key.startswith(k + ".") for k in _NOT_RESULT):
            continue
        if then.get(key, _ABSENT) != now.get(key, _ABSENT):
            lines.append(f"{key}: {_shown(then.get(key, _ABSENT))} -> {_shown(now.get(key, _ABSENT))}")
    return lines


_ABSENT = object()


def _shown(value) -> str:
    return "absent" if value is _ABSENT else repr(value)


def _flat(d: dict, prefix: str = "") -> dict:
    """``{"pretrain": {"lr_schedule_params": {"gamma": 0.5}}}`` -> ``{"pretrain.lr_schedule_params.gamma": 0.5}``."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _run_record(file: Path, valid) -> dict:
    """A run folder's ``state.json`` or ``config.json``, or a :class:`CheckpointError` that says how to go on."""
    try:
        record = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        record, error = None, e
    else:
        error = None
    if not isinstance(record, dict) or not valid(record):
        why = f"is not valid JSON ({error})" if error is not None else "does not hold what `layerwise resume` needs"
        raise CheckpointError(f"{file} {why}: the run folder was damaged or edited, so it cannot be resumed. Start the "
                              f"run again with `layerwise pretrain -c CONFIG --overwrite` (or `finetune`), which rewrites "
                              f"{file.name}.")
    return record


def _load(path: str):
    from . import io

    return io.load(path)


def _features(args: argparse.Namespace, model) -> tuple:
    """Rows to evaluate or predict, as stored (the model applies its own scaling), and their labels (or None).

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
        _check_width(args, d.X, model)
        return d.X, d.y
    if getattr(args, "config", None):
        data = _data(load_config(args.config, args.set or []))
    elif getattr(args, "dataset", None):
        data = prepare_data(args.dataset, data_dir=args.data_dir)
    else:
        raise ConfigError("Say which data to use: --input FILE (.npy/.npz/.csv) or FOLDER (images), -c CONFIG (its test "
                          "split) or --dataset NAME.")
    return (data.X_test, data.y_test) if data.X_test is not None else (data.X_val, data.y_val)


def _check_width(args: argparse.Namespace, X: np.ndarray, model) -> None:
    """A CSV with one column more than the model takes is almost always a file that still holds its labels."""
    n = getattr(model, "n_features_in_", None)
    if n is not None and X.shape[1] == n + 1 and str(args.input).lower().endswith(".csv") and not getattr(args, "label_column", None):
        raise DataError(f"{args.input} has {X.shape[1]} columns but the model takes {n} features: if one column holds the "
                        "labels, name it with --label-column NAME.")


def evaluate(args: argparse.Namespace) -> int:
    """Metrics of a saved model on held-out rows (JSON on stdout); for a classifier also the confusion matrix and
    the model's fine-tuning curves as PNGs, next to the model (or in ``-o DIR``)."""
    from .metrics import classification_report, regression_report
    from .plots import finetune_plots

    out = Path(args.output) if args.output else Path(args.model).resolve().parent
    if out.exists() and not out.is_dir():
        raise ConfigError(f"-o {args.output} is a file; evaluate writes its pictures into a folder (created if absent). "
                          "Pass a folder.")
    _refuse_default_names(out, [f"evaluation_{n}.png" for n in ("confusion_matrix", "curves")], "evaluate",
                          getattr(args, "overwrite", False), "another folder with -o DIR")
    model = _load(args.model)
    X, y = _features(args, model)
    if hasattr(model, "predict"):
        X, y = _labeled_rows(model, X, y, args)
        classifier = hasattr(model, "classes_")
        report = (classification_report if classifier else regression_report)(y, model.predict(X))
    elif hasattr(model, "score"):
        report = {"score": float(model.score(X)), "n_rows": len(X)}
    else:
        raise ConfigError(f"{args.model} holds a {type(model).__name__}, which has nothing to evaluate; save an estimator.")
    print(json.dumps(report))
    history = getattr(model, "history_", None)
    out.mkdir(parents=True, exist_ok=True)
    plots = finetune_plots(out, history.get("finetune") if isinstance(history, dict) else None, report,
                           title=f"{Path(args.model).resolve().parent.name}/{Path(args.model).name}", prefix="evaluation_")
    if plots:
        _say(f"wrote {', '.join(str(p) for p in plots)}")
    return 0


def _refuse_default_names(folder: Path, names: list[str], command: str, overwrite: bool, choose: str) -> None:
    """A :class:`ConfigError` when a file of a default name (one the user did not choose) is already in ``folder``:
    such a file is replaced only with ``--overwrite``."""
    taken = [str(folder / n) for n in names if (folder / n).exists()]
    if taken and not overwrite:
        where = "" if folder == Path(".") else f" into {folder}"
        raise ConfigError(f"{' and '.join(taken)} already exist{'s' if len(taken) == 1 else ''}: `layerwise {command}` "
                          f"writes {' and '.join(names)}{where} by default, and never replaces a file whose name was not "
                          f"chosen. Choose {choose}, or pass --overwrite to replace {'it' if len(taken) == 1 else 'them'}.")


def _labeled_rows(model, X: np.ndarray, y, args) -> tuple[np.ndarray, np.ndarray]:
    """The rows that have a label (metrics of a row without one would count it as an error)."""
    if y is None:
        hint = " (for a CSV file, name the label column with --label-column NAME)" if getattr(args, "input", None) else ""
        raise DataError(f"The rows to evaluate have no labels{hint}; evaluate compares predictions with labels. Use "
                        "`layerwise predict` for rows without labels.")
    y = np.asarray(y)
    if hasattr(model, "classes_"):
        from .sklearn.estimators import _is_unlabeled

        numeric = (np.asarray(model.classes_).dtype.kind in "biuf", y.dtype.kind in "biuf")
        if numeric[0] != numeric[1]:
            kinds = ["numbers" if n else "strings" for n in numeric]
            raise DataError(f"The labels of the rows to evaluate are {kinds[1]}, but the model's classes are {kinds[0]} "
                            f"({np.asarray(model.classes_).tolist()[:5]}...); they can never match. Pass the label column the model was "
                            "trained with.")

        marker = -1 if model.unlabeled == "auto" else model.unlabeled
        unlabeled = _is_unlabeled(y, marker)
    else:
        unlabeled = ~np.isfinite(np.asarray(y, dtype=np.float64).reshape(len(y), -1)).all(axis=1)
    if unlabeled.all():
        raise DataError(f"None of the {len(y)} rows to evaluate has a label (all are marked unlabeled); evaluate needs labels.")
    if unlabeled.any():
        _say(f"evaluating the {int((~unlabeled).sum())} labeled rows; {int(unlabeled.sum())} unlabeled rows are left out")
    return X[~unlabeled], y[~unlabeled]


def predict(args: argparse.Namespace) -> int:
    """Predictions (or codes, for a transformer; class probabilities with ``--proba``) for ``--input``;
    CSV to ``--output`` or stdout."""
    output = _output_file(args.output, [getattr(args, "input", None), getattr(args, "config", None)], args.model) if args.output else None
    model = _load(args.model)
    X, _ = _features(args, model)
    if args.proba:
        if not hasattr(model, "predict_proba"):
            raise ConfigError(f"--proba needs a classifier; {args.model} holds a {type(model).__name__}, which has no "
                              "class probabilities. Drop --proba.")
        out = np.asarray(model.predict_proba(X))
        header = [str(c) for c in model.classes_]  # one column per class, in classes_ order
    else:
        predicts = hasattr(model, "predict")
        out = np.asarray(model.predict(X) if predicts else model.transform(X))
        out = out.reshape(len(out), -1)
        name = "prediction" if predicts else "code"
        header = [name] if predicts and out.shape[1] == 1 else [f"{name}_{i}" for i in range(out.shape[1])]
    out = out.reshape(len(out), -1)
    if output is None:
        write_csv(sys.stdout, header, out)
        return 0
    _write_atomically(output, lambda f: write_csv(f, header, out))
    _say(f"wrote {len(out)} rows to {output}")
    return 0


def write_csv(file, header: list[str], rows: np.ndarray) -> None:
    """A CSV file other tools read: written by Python's ``csv`` module (a class name with a comma or a quote is
    quoted), a header of exactly as many fields as every row, numbers with 7 significant digits (float32's)."""
    import csv

    writer = csv.writer(file, lineterminator="\n")
    writer.writerow(header)
    if rows.dtype.kind in "biuf":
        cells = np.char.mod("%.7g", rows) if rows.dtype.kind == "f" else rows.astype(str)
        writer.writerows(cells.tolist())
    else:
        writer.writerows([[str(v) for v in row] for row in rows.tolist()])


def _output_file(path: str, inputs: list, model: str) -> Path:
    """``path`` if a file can be written there without destroying an input, else a :class:`ConfigError`."""
    out = Path(path)
    if out.is_dir():
        raise ConfigError(f"-o {path} is a folder; pass the path of a file to write, e.g. {out / 'predictions.csv'}.")
    if not out.parent.is_dir():
        raise ConfigError(f"The folder of -o {path} does not exist ({out.parent.absolute()}); create it first, or choose "
                          "another path.")
    for other in [*inputs, model]:
        if other is not None and (out.resolve() == Path(other).resolve() or Path(other).resolve() in out.resolve().parents):
            raise ConfigError(f"-o {path} would overwrite {other}, which this command reads; choose another output path.")
    return out


def _write_atomically(path: Path, write, binary: bool = False) -> None:
    """``write(file)`` into a temporary file beside ``path``, renamed over it once complete."""
    import os

    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") if binary else open(tmp, "w", encoding="utf-8", newline="") as f:
            write(f)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def sample(args: argparse.Namespace) -> int:
    """Draw samples from a saved generative model into a PNG grid (and ``.npy``)."""
    from .sampling import draw_samples
    from .viz import plot_image_grid

    if args.n < 1:
        raise ConfigError(f"-n must be a positive number of samples; got {args.n}.")
    out = Path(args.out if args.out is not None else "samples")
    named = args.out is not None and not out.is_dir()  # a name the user chose may be replaced; a default one is not
    if out.is_dir():  # a folder: the files go inside it
        out = out / "samples"
    out = _output_file(str(out.with_suffix(".npy")), [], args.model).with_suffix("")
    if not named:
        _refuse_default_names(out.parent, [out.with_suffix(".npy").name, out.with_suffix(".png").name], "sample",
                              getattr(args, "overwrite", False), "another name with -o NAME")
    model = _load(args.model)
    X = draw_samples(model, args.n, args.seed)
    _write_atomically(out.with_suffix(".npy"), lambda f: np.save(f, X), binary=True)
    side = int(round(np.sqrt(X.shape[1])))
    png = None  # rows that are not square images, or no matplotlib: no picture
    if side * side == X.shape[1]:  # pictures in the model's [0, 1] input space
        shown = model._scale(X) if hasattr(model, "_scale") else X
        png = plot_image_grid(np.clip(shown, 0, 1), (side, side), out.with_suffix(".png"), title=f"{args.n} samples")
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
    if hasattr(model, "_scaling_description"):
        print(f"input scaling: {model._scaling_description()}")
        if getattr(model, "data_min_", None) is not None:
            with np.printoptions(precision=6, threshold=20, edgeitems=5):
                print(f"  data_min_: {model.data_min_}\n  data_max_: {model.data_max_}")
    print(json.dumps(meta, indent=2))
    return 0
