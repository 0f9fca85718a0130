"""The main job: does unsupervised pretraining help when labels are few?

Hold out a test split, keep labels for a fraction of the training rows, and
compare on the same split and seed:

- logistic regression on raw pixels (labeled rows only);
- the network from random initialisation, fine-tuned on the labeled rows;
- the same network pretrained greedily on *all* training rows (labels unused),
  then only the head trained (``frozen``), or every layer (``full``);
- k-nearest neighbours on the pretrained codes;
- a deep belief network: the same layer sizes pretrained as stacked RBMs
  (contrastive divergence), then fine-tuned end to end.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

from .data.datasets import load_dataset
from .finetune import finetune
from .greedy import GreedyLayerwise, random_stack
from .metrics import classification_report
from .nn.heads import ClassifierHead
from .objectives import Classification
from .train.loop import Trainer, predict_in_batches

__all__ = ["DemoSettings", "SETTINGS", "run_demo", "format_table"]


@dataclass
class DemoSettings:
    """What the demo trains; one preset per dataset in :data:`SETTINGS`."""

    hidden_layer_sizes: tuple[int, ...] = (256, 64)
    activation: str = "relu"
    objective: str = "denoising"
    objective_params: dict = field(default_factory=lambda: {"noise": "masking", "level": 0.25})
    pretrain_epochs: int = 150
    pretrain_batch_size: int = 32
    finetune_epochs: int = 200
    finetune_batch_size: int = 32
    lr: float = 1e-3
    dbn: bool = True
    precision: str = "fp32"


SETTINGS = {
    "digits": DemoSettings(),
    "mnist": DemoSettings(hidden_layer_sizes=(512, 128), pretrain_epochs=10, pretrain_batch_size=128,
                          finetune_epochs=30, finetune_batch_size=64),
}


def _split(X, y, label_fraction: float, seed: int, X_test=None, y_test=None):
    """Train/test split (official test split when there is one) and unlabeled marks."""
    if X_test is None:
        X, X_test, y, y_test = train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)
    labeled, _ = train_test_split(np.arange(len(y)), train_size=label_fraction, random_state=seed, stratify=y)
    return X, y, np.sort(labeled), X_test, y_test


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def run_demo(dataset: str = "digits", data_dir=None, out_dir="runs/demo", label_fraction: float = 0.1, seed: int = 0,
             settings: DemoSettings | None = None, progress: bool = True, log=print) -> dict:
    """Run the comparison, write the run folder, return the results.

    Parameters
    ----------
    dataset : {"digits", "mnist"}, default="digits"
    data_dir : path, optional
        Where the dataset's files are (MNIST IDX files).
    out_dir : path, default="runs/demo"
        Run folder: ``results.json``, ``reconstructions.png``, ``loss_curves.png``.
    label_fraction : float, default=0.1
        Fraction of the training rows that keep their label.
    seed : int, default=0
    settings : DemoSettings, optional
        Defaults to the dataset's preset in :data:`SETTINGS`.

    Returns
    -------
    dict
        ``rows`` (one dict per method: accuracy, precision, recall, f1,
        seconds), ``pretrain_seconds``, ``n_labeled``, ``n_train``, ``n_test``.
    """
    s = settings or SETTINGS.get(dataset, DemoSettings())
    data = load_dataset(dataset, data_dir=data_dir)
    X, y, labeled, X_test, y_test = _split(data.X, data.y, label_fraction, seed, data.X_test, data.y_test)
    log(f"{dataset}: {len(X)} training rows ({len(labeled)} labeled, {label_fraction:.0%}), {len(X_test)} test rows; pixels {data.scaling}")
    device = torch.device("cpu")
    Xt, Xl, yl = torch.from_numpy(X), torch.from_numpy(X[labeled]), torch.from_numpy(y[labeled])
    Xte = torch.from_numpy(X_test)
    rows, curves, extra = [], {}, {}

    def add(name, y_pred, seconds):
        r = classification_report(y_test, y_pred)
        rows.append({"method": name, **{k: r[k] for k in ("accuracy", "precision", "recall", "f1")}, "seconds": seconds,
                     "confusion_matrix": r["confusion_matrix"]})

    logreg, t = _timed(lambda: LogisticRegression(max_iter=2000).fit(X[labeled], y[labeled]))
    add("logistic regression, raw pixels", logreg.predict(X_test), t)

    torch.manual_seed(seed)
    greedy = GreedyLayerwise(s.hidden_layer_sizes, s.activation, s.objective, s.objective_params, trainer_params=dict(
        max_epochs=s.pretrain_epochs, batch_size=s.pretrain_batch_size, lr=s.lr, seed=seed, device=device, progress=progress,
        precision=s.precision))
    stack, t_pre = _timed(lambda: greedy.fit(Xt))
    log(f"greedy pretraining of {len(s.hidden_layer_sizes)} layers {s.hidden_layer_sizes} on {len(X)} unlabeled rows: {t_pre:.1f} s")
    for k, h in enumerate(greedy.history_):
        curves[f"pretrain layer {k + 1} ({s.objective})"] = h

    def tune(name, start_stack, mode):
        trainer = Trainer(max_epochs=s.finetune_epochs, batch_size=s.finetune_batch_size, lr=s.lr, seed=seed + 1,
                          device=device, progress=progress, desc=name, precision=s.precision)
        head = ClassifierHead(s.hidden_layer_sizes[-1], int(y.max()) + 1)
        (model, hist), t = _timed(lambda: finetune(start_stack, head, Classification(), (Xl, yl), mode=mode, trainer=trainer))
        curves[f"fine-tune: {name}"] = hist
        add(name, predict_in_batches(model, Xte).argmax(1).numpy(), t)
        return model

    torch.manual_seed(seed)
    tune("random init, full", random_stack(X.shape[1], s.hidden_layer_sizes, s.activation), "full")
    tune("pretrained, frozen", copy.deepcopy(stack), "frozen")
    tune("pretrained, full", copy.deepcopy(stack), "full")
    if s.dbn:
        dbn = GreedyLayerwise(s.hidden_layer_sizes, "logistic", "rbm", trainer_params=dict(
            max_epochs=s.pretrain_epochs, batch_size=s.pretrain_batch_size, lr=s.lr, seed=seed, device=device, progress=progress,
            precision=s.precision))
        dbn_stack, t_dbn = _timed(lambda: dbn.fit(Xt))
        extra["dbn_pretrain_seconds"] = t_dbn
        log(f"deep belief network (RBMs, CD-1) pretraining: {t_dbn:.1f} s")
        curves["pretrain DBN layer 1 (rbm, recon)"] = [{**h, "loss": h["recon"]} for h in dbn.history_[0]]
        tune("DBN (stacked RBMs), full", dbn_stack, "full")
    codes = lambda A: predict_in_batches(stack, torch.from_numpy(A)).numpy()  # noqa: E731
    knn, t = _timed(lambda: KNeighborsClassifier(5).fit(codes(X[labeled]), y[labeled]))
    add("kNN (k=5), pretrained codes", knn.predict(codes(X_test)), t)

    result = {"dataset": dataset, "n_train": len(X), "n_labeled": int(len(labeled)), "n_test": len(X_test), "seed": seed,
              "pretrain_seconds": t_pre, **extra, "settings": asdict(s), "rows": rows}
    _write_run(out_dir, result, stack, X_test, data.image_shape, curves)
    return result


def _write_run(out_dir, result, stack, X_test, image_shape, curves) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=2))
    try:
        from .viz import plot_loss_curves, plot_reconstructions
    except ImportError:  # pragma: no cover
        return
    deep = stack.unroll()
    X_hat = predict_in_batches(deep, torch.from_numpy(X_test[:10])).numpy()
    plot_reconstructions(X_test[:10], X_hat, image_shape, out / "reconstructions.png",
                         title="Test inputs (top) and greedy-stack reconstructions (bottom)")
    plot_loss_curves(curves, out / "loss_curves.png", title=f"{result['dataset']}: pretraining and fine-tuning")


def format_table(result: dict) -> str:
    """The comparison as a plain-text table."""
    lines = [f"{'method':<34} {'accuracy':>8} {'precision':>9} {'recall':>7} {'seconds':>8}", "-" * 70]
    for r in result["rows"]:
        lines.append(f"{r['method']:<34} {r['accuracy']:>8.4f} {r['precision']:>9.4f} {r['recall']:>7.4f} {r['seconds']:>8.2f}")
    lines.append("-" * 70)
    lines.append(f"precision and recall are macro averages; the seconds are fine-tuning only. The pretrained rows share "
                 f"{result['pretrain_seconds']:.1f} s of unsupervised pretraining on {result['n_train']} rows"
                 + (f", the DBN row {result['dbn_pretrain_seconds']:.1f} s of RBM pretraining." if "dbn_pretrain_seconds" in result else "."))
    return "\n".join(lines)
