"""The main job: learning from unlabeled rows when labels are few.

Hold out a test split, keep labels for a fraction of the training rows, and
compare on the same split and seed:

- logistic regression on raw pixels (labeled rows only);
- the network from random initialisation, fine-tuned on the labeled rows;
- the same network pretrained greedily on *all* training rows (labels unused),
  then only the head trained (``frozen``), or every layer (``full``);
- k-nearest neighbours on the pretrained codes;
- a deep belief network: the same layer sizes pretrained as stacked RBMs
  (contrastive divergence), then fine-tuned end to end;
- scikit-learn's ``LabelSpreading`` on a kNN graph of the raw rows, the
  semi-supervised estimator a scikit-learn user would pick;
- ``PretrainedClassifier()`` with its defaults: with unlabeled rows, a ladder
  network trained on every row at every step (Rasmus et al. 2015);
- M1+M2, the semi-supervised VAE (Kingma et al. 2014).

Every network of the demo is trained by :class:`layerwise.pipeline.Fit` (the
pretraining, the fine-tunings, the DBN) or by the estimators (the
semi-supervised rows), as every other fit of the library: what each step
does is written in :mod:`layerwise.pipeline.fit`.
"""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from ..data.prepare import prepare_data
from ..metrics import classification_report
from ..objectives import Classification
from ..pipeline import FineTune, Fit, Given, Greedy, RandomInit, TrainSettings
from ..train.callbacks import Callback
from ..train.inference import predict_in_batches
from ..train.loggers import EpochLogger, _duration
from .runs import RunFolder

if TYPE_CHECKING:
    from ..train.loop import Trainer

__all__ = ["DemoSettings", "DemoRun", "SETTINGS", "STEPS", "run_demo", "format_table"]


@dataclass
class DemoSettings:
    """What the demo trains; one preset per dataset in :data:`SETTINGS`. Names as the estimators'."""

    hidden_layer_sizes: tuple[int, ...] = (256, 64)
    activation: str = "relu"
    pretrain: str = "denoising"
    pretrain_params: dict = field(default_factory=lambda: {"noise": "masking", "level": 0.25})
    pretrain_max_iter: int = 150
    pretrain_batch_size: int = 32
    max_iter: int = 200
    batch_size: int = 32
    learning_rate_init: float = 1e-3
    dbn: bool = True
    m1m2: bool = True
    semi_max_iter: int | None = None  # epochs of the semi-supervised rows (and of M1); None: the estimator's defaults
    precision: str = "auto"  # bf16 where the layers are big enough and the CPU has AMX (layerwise.train.precision)


SETTINGS = {
    "digits": DemoSettings(),
    # M1+M2 on MNIST takes an hour on 2 cores: benchmarks/reproduce_semi.py runs it
    "mnist": DemoSettings(hidden_layer_sizes=(512, 128), pretrain_max_iter=10, pretrain_batch_size=128,
                          max_iter=30, batch_size=64, m1m2=False, semi_max_iter=30),
}


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


@dataclass
class DemoRun:
    """What the steps of one demo share: the split, the settings, the shared pretrained stack, and what they report.

    A step is a function ``step(run)``; one that compares a method calls :meth:`add` with its
    test predictions. Steps run in :data:`STEPS` order (the pretrained rows start from the
    pretraining step's stack); each network is one :class:`~layerwise.pipeline.Fit` seeded with
    ``random_state`` (its phases draw from it plus their offsets), so the random numbers of a
    step do not depend on the steps before it.
    """

    data: Any
    settings: DemoSettings
    random_state: int
    verbose: bool
    log: Callable[[str], None]
    rows: list = field(default_factory=list)
    curves: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    stack: Any = None  # the greedy (denoising) stack, set by the pretraining step
    callbacks: list = field(default_factory=list)  # of every trainer: the CLI's epoch lines
    bars: bool = field(init=False, default=False)  # the trainers' and estimators' verbose, from verbose

    def __post_init__(self) -> None:
        # the trainers' verbose: progress bars on a terminal; elsewhere (a pipe, a log file) verbose would print a line
        # per epoch of every method, so the demo leaves it off there and prints a line per step instead (run_demo)
        self.bars = bool(self.verbose) and _is_terminal(sys.stderr)
        d = self.data
        self.X, self.y, self.labeled = d.X_train, d.y_train, np.flatnonzero(d.labeled)
        self.Xt = torch.from_numpy(self.X)
        self.Xl, self.yl = torch.from_numpy(self.X[self.labeled]), torch.from_numpy(self.y[self.labeled])

    def add(self, name: str, y_pred, seconds: float) -> None:
        """One row of the table: test metrics of ``y_pred``."""
        r = classification_report(self.data.y_test, y_pred)
        self.rows.append({"method": name, **{k: r[k] for k in ("accuracy", "precision", "recall", "f1")}, "seconds": seconds,
                          "confusion_matrix": r["confusion_matrix"]})

    def settings_for(self, phase: str, extra: tuple = ()) -> TrainSettings:
        """The trainer of ``phase`` (``"pretrain"`` or ``"finetune"``) from the demo's settings, on the CPU.

        Its callbacks: the run's (the CLI's epoch lines), then ``extra``."""
        s = self.settings
        epochs, batch = (s.pretrain_max_iter, s.pretrain_batch_size) if phase == "pretrain" else (s.max_iter, s.batch_size)
        return TrainSettings(max_iter=epochs, batch_size=batch, learning_rate_init=s.learning_rate_init, device=_DEVICE,
                             precision=s.precision, verbose=self.bars, callbacks=(*self.callbacks, *extra))

    def tune(self, name: str, stack: RandomInit | Given, mode: str) -> None:
        """Fine-tune the stack of ``stack`` (a random one, or a given one, which ``"full"`` trains in place) with a
        softmax head on the labeled rows, one :class:`~layerwise.pipeline.Fit`; add its row.

        ``mode="frozen"`` needs a :class:`~layerwise.pipeline.Given` stack: the test scores of each epoch are the
        head's on its codes."""
        X_test = torch.from_numpy(self.data.X_test)
        # frozen: the trainer trains the head alone, on the codes of the (unchanging) stack
        test_scores = _TestScores(predict_in_batches(stack.stack, X_test) if mode == "frozen" else X_test,
                                  torch.from_numpy(self.data.y_test))
        tune = FineTune(int(self.y.max()) + 1, mode=mode, train=self.settings_for("finetune", (test_scores,)), desc=name)
        fit, t = _timed(lambda: Fit([stack, tune], seed=self.random_state).run(self.Xl, self.yl))
        self.curves[f"fine-tune: {name}"] = fit.history["finetune"]
        self.add(name, predict_in_batches(fit.model, X_test).argmax(1).numpy(), t)


_DEVICE = "cpu"


class _TestScores(Callback):
    """Loss and accuracy of the test rows after each fine-tuning epoch, as ``test_loss``/``test_accuracy`` in the
    history: drawn in ``curves.png``, used for nothing else (no stopping, no selection; eval mode draws no noise).
    ``X``: what the trained model takes (the stack's codes when only the head trains)."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor) -> None:
        self.X, self.y = X, y

    def on_epoch_end(self, trainer: Trainer, model, logs: dict) -> None:
        scores = trainer.evaluate(model, Classification(), (self.X, self.y))
        logs["test_loss"], logs["test_accuracy"] = scores["loss"], scores["accuracy"]


def logistic_regression(run: DemoRun) -> None:
    logreg, t = _timed(lambda: LogisticRegression(max_iter=2000).fit(run.X[run.labeled], run.y[run.labeled]))
    run.add("logistic regression, raw pixels", logreg.predict(run.data.X_test), t)


def pretrain(run: DemoRun) -> None:
    """Greedy pretraining on every training row (labels unused): the stack the next rows start from."""
    s = run.settings
    greedy = Greedy(s.hidden_layer_sizes, s.activation, s.pretrain, s.pretrain_params, train=run.settings_for("pretrain"))
    fit, t_pre = _timed(lambda: Fit([greedy], seed=run.random_state).run(run.Xt))
    run.stack = fit.stack
    run.extra["pretrain_seconds"] = t_pre
    run.log(f"greedy pretraining of {len(s.hidden_layer_sizes)} layers {s.hidden_layer_sizes} on {len(run.X)} unlabeled rows: {t_pre:.1f} s")
    for k, h in enumerate(fit.history["pretrain"]):
        run.curves[f"pretrain layer {k + 1} ({s.pretrain})"] = h


def random_init(run: DemoRun) -> None:
    run.tune("random init, full", RandomInit(run.settings.hidden_layer_sizes, run.settings.activation), "full")


# each fine-tunes a copy: run.stack stays the pretrained one (for the next step, the kNN codes, reconstructions.png)
def pretrained_frozen(run: DemoRun) -> None:
    run.tune("pretrained, frozen", Given(copy.deepcopy(run.stack)), "frozen")


def pretrained_full(run: DemoRun) -> None:
    run.tune("pretrained, full", Given(copy.deepcopy(run.stack)), "full")


def deep_belief_network(run: DemoRun) -> str | None:
    """The same layer sizes pretrained as stacked RBMs (contrastive divergence), fine-tuned end to end."""
    if not run.settings.dbn:
        return "dbn=False in the settings"
    # two fits, as the pretrained rows: the table times the fine-tuning, the RBMs' pretraining is timed apart
    rbms = Greedy(run.settings.hidden_layer_sizes, "logistic", "rbm", train=run.settings_for("pretrain"))
    dbn, t_dbn = _timed(lambda: Fit([rbms], seed=run.random_state).run(run.Xt))
    run.extra["dbn_pretrain_seconds"] = t_dbn
    run.log(f"deep belief network (RBMs, CD-1) pretraining: {t_dbn:.1f} s")
    run.curves["pretrain DBN layer 1 (rbm, recon)"] = [{**h, "loss": h["recon"]} for h in dbn.history["pretrain"][0]]
    run.tune("DBN (stacked RBMs), full", Given(dbn.stack, dbn.recipe), "full")


def knn_on_codes(run: DemoRun) -> None:
    codes = lambda A: predict_in_batches(run.stack, torch.from_numpy(A)).numpy()  # noqa: E731
    knn, t = _timed(lambda: KNeighborsClassifier(5).fit(codes(run.X[run.labeled]), run.y[run.labeled]))
    run.add("kNN (k=5), pretrained codes", knn.predict(codes(run.data.X_test)), t)


def _partial_labels(run: DemoRun) -> np.ndarray:
    """The training labels with the unlabeled rows marked -1 (the ``sklearn.semi_supervised`` convention)."""
    y = np.full(len(run.y), -1, dtype=np.int64)
    y[run.labeled] = run.y[run.labeled]
    return y


def _semi_supervised(run: DemoRun, name: str, method: str | None) -> None:
    """``PretrainedClassifier`` with its defaults (``method``: ``semi_supervised``) on every training row."""
    from ..sklearn import PretrainedClassifier

    params: dict[str, Any] = {} if method is None else {"semi_supervised": method}
    epochs = run.settings.semi_max_iter
    if epochs is not None:
        params["max_iter"] = epochs
        if method == "m1m2":
            params["semi_supervised_params"] = {"m1_epochs": epochs}
    clf = PretrainedClassifier(random_state=run.random_state, verbose=run.bars, precision=run.settings.precision,
                               callbacks=run.callbacks, **params)
    clf, t = _timed(lambda: clf.fit(run.X, _partial_labels(run)))
    # in curves.png beside the fine-tuned rows: their loss is the cross-entropy of the labeled rows, which the
    # semi-supervised fits log as "supervised" (their "loss" adds the unsupervised costs, on another scale)
    run.curves[f"semi-supervised: {name}"] = [{**h, "loss": h.get("supervised", h["loss"])} for h in clf.history_["finetune"]]
    run.add(name, clf.predict(run.data.X_test), t)


def ladder(run: DemoRun) -> None:
    """``PretrainedClassifier()`` as it comes: with unlabeled rows, a ladder network on every row (Rasmus et al. 2015)."""
    _semi_supervised(run, "PretrainedClassifier() default: ladder", None)


def m1m2(run: DemoRun) -> str | None:
    """M1+M2 (Kingma et al. 2014): a VAE on every row, then the semi-supervised VAE M2 on its codes."""
    if not run.settings.m1m2:
        return "m1m2=False in the settings"
    _semi_supervised(run, "M1+M2 (semi-supervised VAE)", "m1m2")


def label_spreading(run: DemoRun) -> None:
    """scikit-learn's LabelSpreading on a kNN graph of the raw rows: what a scikit-learn user would pick."""
    from sklearn.semi_supervised import LabelSpreading

    ls, t = _timed(lambda: LabelSpreading(kernel="knn", n_neighbors=7).fit(run.X, _partial_labels(run)))
    run.add(LABEL_SPREADING, ls.predict(run.data.X_test), t)


#: The name of scikit-learn's row, the reference the demo's other rows compare with.
LABEL_SPREADING = "scikit-learn LabelSpreading (kNN), raw pixels"

#: The demo's steps, in order. Add a method by appending ``step(run)`` that calls ``run.add``; a step that does
#: nothing in some settings returns why (a string), which the step's line prints.
STEPS: list[Callable[[DemoRun], str | None]] = [logistic_regression, pretrain, random_init, pretrained_frozen, pretrained_full,
                                                deep_belief_network, knn_on_codes, label_spreading, ladder, m1m2]


def run_demo(dataset: str = "digits", data_dir=None, out_dir="runs/demo", label_fraction: float = 0.1, random_state: int = 0,
             settings: DemoSettings | None = None, verbose: bool = True, log=print, steps=None,
             callbacks: list | None = None) -> dict:
    """Run the comparison, write the run folder, return the results.

    Parameters
    ----------
    dataset : {"digits", "mnist"}, default="digits"
    data_dir : path, optional
        Where the dataset's files are (MNIST IDX files).
    out_dir : path, default="runs/demo"
        Run folder: ``results.json``, ``accuracy.png`` (every method's test
        accuracy, LabelSpreading as the reference when it ran, the axis
        starting near the lowest bar), ``curves.png`` (the training curves
        of every network the run trained, fine-tuned or semi-supervised, on
        shared axes: cross-entropy and accuracy of the labeled rows solid,
        test rows dashed for the fine-tuned ones) and
        ``reconstructions.png`` (test inputs, their corrupted copies for a
        denoising stack, and the stack's reconstructions).
    label_fraction : float, default=0.1
        Fraction of the training rows that keep their label, in (0, 1].
    random_state : int, default=0
        Seeds the data split and every method.
    settings : DemoSettings, optional
        Defaults to the dataset's preset in :data:`SETTINGS`.
    steps : list of callable, optional
        Default :data:`STEPS`.
    callbacks : list of Callback, optional
        Given to every trainer (the CLI's per-epoch lines). An
        ``EpochLogger(when="auto")`` among them (the CLI's default) is left
        out: where stderr is not a terminal it would print a line per epoch
        of every method, over a thousand lines. The demo prints instead,
        through ``log``, a line when each step starts and one when it ends
        (its rows' accuracies and time); on a terminal ``verbose`` shows
        the progress bars. ``EpochLogger(when="always")`` (``-v``) stays.

    Returns
    -------
    dict
        ``rows`` (one dict per method: accuracy, precision, recall, f1,
        seconds), ``pretrain_seconds``, ``n_labeled``, ``n_train``, ``n_test``,
        ``plots`` (the PNG files written; none without matplotlib).
    """
    s = settings or SETTINGS.get(dataset, DemoSettings())
    # the CLI's data preparation: 30% of the rows held out as the test set (unless the dataset has one), no validation rows
    data = prepare_data(dataset, data_dir=data_dir, label_fraction=label_fraction, val_size=0.0, test_size=0.3, random_state=random_state)
    callbacks = [c for c in callbacks or [] if not (isinstance(c, EpochLogger) and c.when == "auto")]
    run = DemoRun(data, s, random_state, verbose, log, callbacks=callbacks)
    log(f"{dataset}: {len(run.X)} training rows ({len(run.labeled)} labeled, {label_fraction:.0%}), {len(data.X_test)} test rows; pixels {data.scaling}")
    steps = list(steps if steps is not None else STEPS)
    for i, step in enumerate(steps, start=1):
        _run_step(run, step, f"[{i}/{len(steps)}]")
    result = {"dataset": dataset, "n_train": len(run.X), "n_labeled": int(len(run.labeled)), "n_test": len(data.X_test),
              "random_state": random_state, **run.extra, "settings": asdict(s), "rows": run.rows}
    result["plots"] = [p.name for p in _plots(RunFolder(out_dir).path, result, run) if p is not None]
    RunFolder(out_dir).write_json("results.json", result)
    return result


def _is_terminal(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


def _run_step(run: DemoRun, step: Callable[[DemoRun], Any], counter: str) -> None:
    """``step(run)`` between two lines: its name when it starts, its rows' accuracies and its time when it ends."""
    name = getattr(step, "__name__", type(step).__name__).replace("_", " ")
    run.log(f"{counter} {name} ...")
    n_rows = len(run.rows)
    skipped, seconds = _timed(lambda: step(run))
    if isinstance(skipped, str):
        run.log(f"{counter} {name}: skipped ({skipped})")
        return
    done = ", ".join(f"{r['method']}: accuracy {r['accuracy']:.4f}" for r in run.rows[n_rows:]) or f"{name}: done"
    run.log(f"{counter} {done} ({seconds:.1f} s)" if seconds < 60 else f"{counter} {done} ({_duration(seconds)})")


#: The row drawn as the reference in ``accuracy.png``: scikit-learn's semi-supervised baseline, when it ran.
REFERENCE = "LabelSpreading"


def _plots(out, result: dict, run: DemoRun) -> list:
    """``accuracy.png``, ``curves.png`` and ``reconstructions.png`` (``None`` for a plot skipped without matplotlib)."""
    from ..viz import plot_accuracy_bars, plot_reconstructions, plot_training_curves
    from .pictures import corrupted

    title = f"{result['dataset']}, {result['n_labeled']} of {result['n_train']} training rows labeled"
    scores = {r["method"]: r["accuracy"] for r in result["rows"]}
    reference = next((name for name in scores if REFERENCE in name), None)
    written = [plot_accuracy_bars(scores, out / "accuracy.png", title=f"Test accuracy: {title}", reference=reference)]
    # every method that trained a classifier, fine-tuned or semi-supervised (pretraining curves are not methods)
    trained = {name.split(": ", 1)[1]: hist for name, hist in run.curves.items()
               if name.startswith(("fine-tune: ", "semi-supervised: "))}
    if trained:
        written.append(plot_training_curves(trained, out / "curves.png", val_prefix="test_", val_label="test",
                                            title=f"Training on the labeled rows (loss: their cross-entropy): {title}"))
    if run.stack is not None:
        s, X = run.settings, run.data.X_test[:10]
        noisy = corrupted(s.pretrain, s.pretrain_params, X, run.random_state)
        X_hat = predict_in_batches(run.stack.unroll(), torch.from_numpy(noisy if noisy is not None else X)).numpy()
        written.append(plot_reconstructions(X, X_hat, run.data.image_shape, out / "reconstructions.png", X_corrupted=noisy))
    return written


def format_table(result: dict) -> str:
    """The comparison as a plain-text table."""
    width = max(34, *(len(r["method"]) for r in result["rows"]))
    lines = [f"{'method':<{width}} {'accuracy':>8} {'precision':>9} {'recall':>7} {'seconds':>8}", "-" * (width + 36)]
    for r in result["rows"]:
        lines.append(f"{r['method']:<{width}} {r['accuracy']:>8.4f} {r['precision']:>9.4f} {r['recall']:>7.4f} {r['seconds']:>8.2f}")
    lines.append("-" * (width + 36))
    lines.append(f"precision and recall are macro averages. Seconds: the whole fit for LabelSpreading, the ladder and M1+M2; "
                 f"fine-tuning only for the others, whose pretrained rows share {result['pretrain_seconds']:.1f} s of "
                 f"unsupervised pretraining on {result['n_train']} rows"
                 + (f", the DBN row {result['dbn_pretrain_seconds']:.1f} s of RBM pretraining." if "dbn_pretrain_seconds" in result else "."))
    return "\n".join(lines)
