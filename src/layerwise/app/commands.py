"""What the ``layerwise`` subcommands that train do: ``pretrain``, ``finetune``, ``resume`` (the parser lives in
:mod:`layerwise.app.cli`; the commands that use a saved model are in :mod:`layerwise.app.model_commands`)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from ..exceptions import CheckpointError, ConfigError, DataError
from ..train.callbacks import Callback
from ..train.execution import this_process
from .config import RunConfig, config_to_dict, estimator_params, load_config

__all__ = ["pretrain", "finetune", "resume"]  # the commands that use a saved model: layerwise.app.model_commands


def _say(msg: str) -> None:
    this_process().once(print, msg, file=sys.stderr)  # under torchrun only rank 0 talks


def _config(args: argparse.Namespace) -> RunConfig:
    return load_config(args.config, args.set or [])


def _data(cfg: RunConfig):
    """The run's rows: the config's ``[data]`` keys are :func:`prepare_data`'s arguments."""
    from ..data.prepare import prepare_data

    return prepare_data(**config_to_dict(cfg)["data"], random_state=cfg.random_state)


def _training_rows(data):
    """The training rows as the estimators should see them: an array of images ``(n, c, h, w)`` when the data are
    images (a folder, MNIST), so that they keep their shape and are never taken for a table's columns, whatever
    their width; else the rows as they are."""
    shape = data.image_shape
    if shape is None or int(np.prod(shape)) != data.X_train.shape[1]:
        return data.X_train
    return data.X_train.reshape(len(data.X_train), *shape)


def _phase_params(cfg: RunConfig, phase: str, data) -> dict:
    """The estimator's parameters from the config (:func:`estimator_params`); a convolutional pretraining gets the
    data's image shape (an image folder's, MNIST's 28x28) unless ``pretrain_params`` sets it."""
    from ..objectives import with_image_shape

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
    from ..params import PRETRAINED
    from .config import SECTIONS

    reset = {}
    for name in PRETRAINED:
        param = PRETRAINED[name]
        if param.paths != ("stack",) or name not in params:
            continue
        section = next((SECTIONS[k] for k in ("model", "finetune") if name in SECTIONS[k]), None)
        if section is not None and params[name] == section[name].default:
            reset[name] = param.default
    return reset


#: The run folder whose records this process wrote, for the "interrupted" line of ``layerwise.app.cli.main``.
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
    from ..train.loggers import EpochLogger

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
    (:func:`~layerwise.app.runs.claim_run_folder`)."""
    from .runs import claim_run_folder

    cfg = _config(args)
    if cfg.model.pretrain is None:  # before the run folder is claimed: nothing is written
        raise ConfigError("[model] pretrain = \"none\" (None): there is nothing to pretrain. Run `layerwise finetune -c CONFIG` "
                          "directly, which fine-tunes from random initialisation; or set [model] pretrain to an objective "
                          "(e.g. \"denoising\") to pretrain first.")
    with claim_run_folder(cfg.run_dir, "pretrain", getattr(args, "overwrite", False)):
        return _pretrain_run(cfg, args, resume=False)


def _pretrain_run(cfg: RunConfig, args: argparse.Namespace, resume: bool) -> int:
    from ..persistence import io
    from ..sklearn import StackedAutoencoder
    from .pictures import pretrain_plots

    data = _data(cfg)
    _say(f"{data.name}: {len(data.X_train)} training rows, {data.X_train.shape[1]} features ({data.scaling}; the model "
         f"scales them with scale={cfg.data.scale!r}, fitted on the training rows); run folder {cfg.run_dir}")
    records = _RunRecords(cfg, "pretrain", resume)
    callbacks = _callbacks(args, cfg, "pretrain", resume)  # before any training: a missing extra fails now
    sae = StackedAutoencoder(**_phase_params(cfg, "pretrain", data), verbose=progress_bars(args), callbacks=callbacks)
    sae._run_callbacks = [records]
    start = time.perf_counter()
    sae.fit(_training_rows(data), checkpoint_dir=cfg.run_dir / "checkpoints", resume=resume)
    seconds = time.perf_counter() - start
    if not this_process().writes:  # every rank trained; rank 0 alone evaluates and writes the run folder
        return 0
    run = records.write()
    X_eval = data.X_test if data.X_test is not None else data.X_train
    metrics = {"reconstruction_error": float(-sae.score(X_eval)), "pretrain_seconds": seconds}
    io.save(sae, run.path / "pretrained", metrics=metrics, meta=_model_meta(sae, data, cfg))
    plots = pretrain_plots(run.path, sae, data, cfg.model.pretrain, cfg.random_state)
    run.write_json("pretrain_metrics.json", metrics)
    run.write_state("pretrain", done=True)
    print(json.dumps(metrics))
    _say(f"wrote {run.path / 'pretrained'}" + (f" and {', '.join(x.name for x in plots)}" if plots else ""))
    return 0


def _model_meta(est, data, cfg: RunConfig) -> dict:
    """``meta.json`` entries of a model the CLI saves: the dataset and every step between its values and the model,
    and the ``[data]`` keys that ``evaluate``/``predict`` need to read new files as the training rows were read (the
    images' ``image_size``, a CSV's ``label_column``)."""
    meta = {"dataset": data.name, "preprocessing": f"{data.scaling}; then, in the model: {est._scaling_description()}"}
    for key in ("image_size", "label_column"):
        if getattr(cfg.data, key) is not None:
            meta[key] = getattr(cfg.data, key)
    return meta


def finetune(args: argparse.Namespace) -> int:
    """Fine-tune on the labeled rows, from ``pretrained/`` (or ``--pretrained``); writes ``model/`` and plots.

    Into a new run folder or the folder of a finished ``pretrain`` (or, with ``--overwrite``, over an earlier
    run), locked while it runs."""
    from .runs import claim_run_folder

    cfg = _config(args)
    with claim_run_folder(cfg.run_dir, "finetune", getattr(args, "overwrite", False)):
        return _finetune_run(cfg, args.pretrained, args, resume=False)


def _class_weight(params: dict, classification: bool, y) -> dict:
    """``params`` with ``class_weight`` as the estimator takes it: gone for a regression (which has no classes: set
    there, it is refused), and a config table's text keys (TOML's keys are always text) turned into the labels they
    name when the labels are numbers (``"3"`` -> ``3``)."""
    weights = params.pop("class_weight", None)
    if not classification:
        if weights is not None:
            raise ConfigError(f"finetune.class_weight={weights!r} weighs classes, but data.task is 'regression'. Remove "
                              "class_weight (or set data.task = 'classification' if the targets are class labels).")
        return params
    if isinstance(weights, dict):
        by_text = {str(c): c for c in np.unique(np.asarray(y)).tolist()}
        weights = {by_text.get(k, k) if isinstance(k, str) else k: v for k, v in weights.items()}
    return {**params, "class_weight": weights}


def _finetune_run(cfg: RunConfig, pretrained: str | None, args: argparse.Namespace, resume: bool) -> int:
    from ..metrics import classification_report, regression_report
    from ..persistence import io
    from ..sklearn import PretrainedClassifier, PretrainedRegressor
    from .pictures import finetune_plots

    data = _data(cfg)
    if data.y_train is None:
        raise DataError(f"Dataset {data.name!r} has no labels; fine-tuning needs them (CSV files: set data.label_column).")
    classification = cfg.data.task == "classification"
    source = _finetune_source(cfg, cfg.run_dir, pretrained, data, classification)
    saved = None if source is None else str(source)
    cls = PretrainedClassifier if classification else PretrainedRegressor
    records = _RunRecords(cfg, "finetune", resume, pretrained=saved)
    callbacks = _callbacks(args, cfg, "finetune", resume)
    params = _class_weight(_phase_params(cfg, "finetune", data), classification, data.y_train)
    est = cls(**params, verbose=progress_bars(args), pretrained=saved, callbacks=callbacks)
    est._run_callbacks = [records]
    est.fit(_training_rows(data), data.y_partial, checkpoint_dir=cfg.run_dir / "checkpoints", resume=resume)
    if not this_process().writes:  # every rank trained; rank 0 alone evaluates and writes the run folder
        return 0
    run = records.write()
    X_test, y_test = (data.X_test, data.y_test) if data.X_test is not None else (data.X_val, data.y_val)
    report = (classification_report if classification else regression_report)(y_test, est.predict(X_test))
    io.save(est, run.path / "model", metrics=report, meta=_model_meta(est, data, cfg))
    run.write_json("metrics.json", report)
    plots = finetune_plots(run.path, est.history_["finetune"], report, title=f"{cfg.name} ({data.name})")
    if getattr(est, "semi_supervised_", None) is not None:  # the per-layer costs and the accuracy over epochs
        from ..viz import plot_semi_supervised_curves

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
    needs one; ``None`` always does, unless ``[model] pretrain = "none"``: no pretraining, so fine-tuning starts
    from random initialisation (from ``--pretrained`` only when it is given; the run's ``pretrained/`` is not used).
    """
    method = cfg.finetune.semi_supervised
    if cfg.model.pretrain is None and not pretrained and method in (None, "auto"):
        return None
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
    from ..sklearn._labels import is_unlabeled

    return is_unlabeled(np.asarray(y), -1)


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
