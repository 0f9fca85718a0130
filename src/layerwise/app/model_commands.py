"""The commands that use a saved model: ``evaluate``, ``predict``, ``sample`` and ``inspect``.

The commands that train (``pretrain``, ``finetune``, ``resume``) and write run folders are in
:mod:`layerwise.app.commands`; these read a model folder and write only the outputs they are asked for, never
replacing a file of a default name (``--overwrite``) or one of their inputs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ..exceptions import ConfigError, DataError
from .commands import _data, _say
from .config import load_config

__all__ = ["evaluate", "predict", "sample", "inspect", "describe_training"]


def _load(path: str):
    from ..persistence import io

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
    from ..data.datasets import load_dataset
    from ..data.prepare import prepare_data

    if getattr(args, "input", None):
        path = Path(args.input)
        meta = _meta(args.model)
        if path.is_dir():
            from ..data.images import ImageFolder

            folder = ImageFolder(path, size=_image_size(args, model, meta))
            return folder, np.asarray(folder.classes)[np.asarray(folder.targets)]
        if path.suffix.lower() == ".npy":
            from ..data.stream import NpyFile

            return NpyFile(path), None
        label_column = getattr(args, "label_column", None) or _saved_label_column(path, meta)
        d = load_dataset(args.input, label_column=label_column, scale=None)
        if label_column is None:
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


def _meta(model: str) -> dict:
    """The model folder's ``meta.json`` (``{}`` when it has none or it is unreadable: it only informs defaults)."""
    try:
        return json.loads((Path(model) / "meta.json").read_text())
    except (OSError, ValueError):
        return {}


def _image_size(args: argparse.Namespace, model, meta: dict):
    """The size to resize a folder's images to: ``--image-size``, else the model's own ``image_size``, else the
    ``[data] image_size`` of the run that trained it (``meta.json``), else none (the images' own size)."""
    given = getattr(args, "image_size", None)
    own = getattr(model, "image_size", None)
    if given is not None and own is not None and tuple(np.broadcast_to(own, 2)) != tuple(given):
        raise ConfigError(f"--image-size {given[0]}x{given[1]} differs from the image_size={own!r} the model was fitted "
                          "with, which it applies to every folder. Drop --image-size.")
    if own is not None:
        return own  # what the estimator resizes every folder to
    return given if given is not None else meta.get("image_size")


def _saved_label_column(path: Path, meta: dict) -> str | None:
    """The label column the model was trained with (``meta.json``), when the CSV ``path`` still holds it: predict and
    evaluate then read the file as training did, the labels apart."""
    name = meta.get("label_column")
    if name is None or path.suffix.lower() != ".csv":
        return None
    import csv

    with path.open(newline="") as f:
        header = next(csv.reader(f), [])
    return name if name in header else None


def _check_width(args: argparse.Namespace, X: np.ndarray, model) -> None:
    """A CSV with one column more than the model takes is almost always a file that still holds its labels."""
    n = getattr(model, "n_features_in_", None)
    if n is not None and X.shape[1] == n + 1 and str(args.input).lower().endswith(".csv") and not getattr(args, "label_column", None):
        raise DataError(f"{args.input} has {X.shape[1]} columns but the model takes {n} features: if one column holds the "
                        "labels, name it with --label-column NAME.")


def evaluate(args: argparse.Namespace) -> int:
    """Metrics of a saved model on held-out rows (JSON on stdout); for a classifier also the confusion matrix and
    the model's fine-tuning curves as PNGs, next to the model (or in ``-o DIR``)."""
    from ..metrics import classification_report, regression_report
    from .pictures import finetune_plots

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
        from ..sklearn._labels import check_label_kinds, is_unlabeled

        check_label_kinds(model.classes_, y, "the rows to evaluate")
        marker = -1 if model.unlabeled == "auto" else model.unlabeled
        unlabeled = is_unlabeled(y, marker)
    else:
        unlabeled = ~np.isfinite(np.asarray(y, dtype=np.float64).reshape(len(y), -1)).all(axis=1)
    if unlabeled.all():
        raise DataError(f"None of the {len(y)} rows to evaluate has a label (all are marked unlabeled); evaluate needs labels.")
    if not unlabeled.any():
        return X, y  # as given: a folder or a .npy file stays a source the model reads a chunk at a time
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
    from ..sampling import draw_samples
    from ..viz import plot_image_grid

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
    if hasattr(model, "predict") and not hasattr(model, "sample"):  # a classifier or regressor: no generative model
        raise ConfigError(f"{args.model} holds a {type(model).__name__} ({describe_training(model)}), which has no generative "
                          "model: it cannot sample. Sampling needs a VariationalAutoencoder, or a StackedAutoencoder pretrained "
                          "with 'vae' or 'denoising' (a run's pretrained/ folder).")
    X = draw_samples(model, args.n, args.random_state)
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
    training = describe_training(model)
    if training:
        print(f"training: {training}")
    if hasattr(model, "_scaling_description"):
        print(f"input scaling: {model._scaling_description()}")
        if getattr(model, "data_min_", None) is not None:
            with np.printoptions(precision=6, threshold=20, edgeitems=5):
                print(f"  data_min_: {model.data_min_}\n  data_max_: {model.data_max_}")
    print(json.dumps(meta, indent=2))
    return 0


def describe_training(model) -> str | None:
    """How a fitted estimator's network was trained, in words (``layerwise inspect``): the semi-supervised method
    that trained it (a ladder is not "pretrained with 'denoising'", whatever its unused ``pretrain`` says), or the
    pretraining objective it really used (``"auto"`` resolved) and the fine-tuning; None for what is not an estimator."""
    method = getattr(model, "semi_supervised_", None)
    if method is not None:
        return (f"semi_supervised={method!r}: one network trained on the labeled and unlabeled rows together, without "
                "greedy pretraining or fine-tuning (pretrain and finetune were not used)")
    recipe = getattr(model, "_stack_recipe", None)
    if not isinstance(recipe, dict):
        return "a variational autoencoder trained on every row (ELBO)" if hasattr(model, "sample") else None
    if recipe.get("kind") == "random":
        how = "no pretraining: the layers start from random initialisation (pretrain=None)"
    elif getattr(model, "pretrained", None) is not None:
        how = f"layers transferred from {model.pretrained} (pretrained with {recipe.get('objective', model.pretrain)!r})"
    else:
        how = f"pretrained layer by layer with {recipe.get('objective', getattr(model, 'pretrain', None))!r}"
    if hasattr(model, "predict") and hasattr(model, "finetune"):
        how += f", then fine-tuned on the labeled rows (finetune={model.finetune!r})"
    return how
