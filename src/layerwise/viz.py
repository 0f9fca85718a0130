"""Plots people would rather look at than read: curves, accuracies, confusions, codes, reconstructions.

matplotlib is a dependency of layerwise, because the pictures are part of
every run folder. The figures are drawn on ``matplotlib.figure.Figure``
directly, without pyplot, so no display or backend set-up is needed.

Plots never end a run: when matplotlib cannot be imported (a broken or
stripped environment) every function here writes one line to stderr, once
per process, saying how to get the plots, and returns ``None`` instead of
the path of the picture.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

__all__ = [
    "matplotlib_available",
    "plot_loss_curves",
    "plot_training_curves",
    "plot_accuracy_bars",
    "plot_confusion_matrix",
    "plot_reconstructions",
    "plot_image_grid",
    "plot_latent_2d",
    "plot_semi_supervised_curves",
]

INSTALL_HINT = "pip install matplotlib (a dependency of layerwise that this environment lacks)"
_F = TypeVar("_F", bound=Callable[..., Any])
_warned = False
# categorical colours: distinct hues for up to 20 classes (tab10, then tab20)
_MAX_CATEGORIES = 20


def matplotlib_available() -> bool:
    """True when ``matplotlib.figure`` can be imported."""
    try:
        import matplotlib.figure  # noqa: F401
    except ImportError:
        return False
    return True


def _skip_without_matplotlib(fn: _F) -> _F:
    """Run ``fn``, or return ``None`` with one line on stderr (once per process) when matplotlib is missing.

    Training has already happened when plots are drawn: losing the run to an
    ``ImportError`` there would be the worst outcome.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        global _warned
        if matplotlib_available():
            return fn(*args, **kwargs)
        if not _warned:
            _warned = True
            print(f"layerwise: matplotlib cannot be imported, so plots are skipped; {INSTALL_HINT}.", file=sys.stderr)
        return None

    return wrapper  # type: ignore[return-value]


def _figure(**kwargs):
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _save(fig, path: str | Path) -> Path:
    fig.savefig(path, dpi=90)
    return Path(path)


@_skip_without_matplotlib
def plot_loss_curves(curves: Mapping[str, Sequence[Mapping[str, float]]], path: str | Path, title: str = "Training loss") -> Path | None:
    """One panel per history: ``loss`` (and ``val_loss``) against the epoch.

    Each panel has its own y-scale, which suits the stages of one greedy
    pretraining (their losses are on different scales); to compare methods
    on shared axes use :func:`plot_training_curves`.

    Parameters
    ----------
    curves : mapping of name -> history
        Each history is a list of per-epoch dicts with ``"loss"`` (and
        optionally ``"val_loss"``), as returned by ``Trainer.fit``.
    path : path
        Where to write the PNG.
    title : str, default="Training loss"

    Returns
    -------
    Path or None
        ``None`` when matplotlib is missing and the plot was skipped.
    """
    n = len(curves)
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    fig = _figure(figsize=(4.2 * cols, 3.2 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax, (name, hist) in zip(axes, curves.items()):
        epochs = [h["epoch"] for h in hist]
        ax.plot(epochs, [h["loss"] for h in hist], label="train")
        if hist and "val_loss" in hist[0]:
            ax.plot(epochs, [h["val_loss"] for h in hist], label="validation")
            ax.legend()
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.suptitle(title)
    return _save(fig, path)


@_skip_without_matplotlib
def plot_training_curves(histories: Mapping[str, Sequence[Mapping[str, float]]], path: str | Path,
                         metrics: Sequence[str] = ("loss", "accuracy"), title: str = "Fine-tuning",
                         val_prefix: str = "val_", val_label: str = "validation") -> Path | None:
    """Several methods' curves on shared axes: one panel per metric, one colour per method.

    Training values are solid lines and validation values (``val_<metric>``)
    dashed lines of the same colour, so "pretrained vs random init" compares
    by eye on one y-scale.

    Parameters
    ----------
    histories : mapping of method name -> history
        Each history is a list of per-epoch dicts (``Trainer.fit``'s return
        value), with ``"epoch"`` and some of ``metrics``.
    path : path
    metrics : sequence of str, default=("loss", "accuracy")
        Keys to draw; a metric found in no history gets no panel.
    title : str, default="Fine-tuning"
    val_prefix : str, optional
        The held-out rows' keys are ``<val_prefix><metric>``: by default
        ``val_`` (the trainer's validation rows), the demo's ``test_``.
    val_label : str, default="validation"
        Their name in the legend.

    Returns
    -------
    Path or None
    """
    present = [m for m in metrics if any(m in h or f"{val_prefix}{m}" in h for hist in histories.values() for h in hist)]
    present = present or ["loss"]
    fig = _figure(figsize=(5.0 * len(present) + 2.2, 3.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(present)))
    colours = _category_colours(len(histories))
    for ax, metric in zip(axes, present):
        for colour, (name, hist) in zip(colours, histories.items()):
            for key, style, suffix in ((metric, "-", "train"), (f"{val_prefix}{metric}", "--", val_label)):
                points = [(h["epoch"], h[key]) for h in hist if key in h]
                if points:
                    x, y = zip(*points)
                    ax.plot(x, y, style, color=colour, label=f"{name} ({suffix})", linewidth=1.6)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(metric, fontsize=10)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes[1:]:  # methods missing from the first panel still get a legend entry
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="outside right center", fontsize=8, frameon=False)
    fig.suptitle(title)
    return _save(fig, path)


def _mean_std(value: float | Sequence[float]) -> tuple[float, float | None, int]:
    """A score or the scores of several seeds -> (mean, sample std or None, count)."""
    values = np.atleast_1d(np.asarray(value, dtype=np.float64))
    if values.size > 1:
        return float(values.mean()), float(values.std(ddof=1)), int(values.size)
    return float(values[0]), None, 1


@_skip_without_matplotlib
def plot_accuracy_bars(scores: Mapping[str, float | Sequence[float]], path: str | Path, title: str = "Test accuracy",
                       xlabel: str = "accuracy", reference: str | None = None, sort: bool = True) -> Path | None:
    """Horizontal bars of methods' scores, best at the top, each labelled with its value.

    When the scores are close together and far from 0 (accuracies of 0.90 to
    0.99) the axis starts just below the lowest bar (:func:`_bar_axis_start`),
    so that their differences show; the axis label then says where it starts
    ("axis starts at 0.88, not 0") and a break mark is drawn on the axis.

    Parameters
    ----------
    scores : mapping of method name -> float or sequence of float
        One score per method, or one per seed: bars then show the mean and
        error bars ± one standard deviation (``ddof=1``), labelled
        ``mean ± std (n seeds)``.
    path : path
    title : str, default="Test accuracy"
    xlabel : str, default="accuracy"
    reference : str, optional
        A method drawn in another colour and marked "(reference)", e.g.
        scikit-learn's ``LabelSpreading``; it must be a key of ``scores``.
    sort : bool, default=True
        Sort by mean score, best at the top; else keep the mapping's order.

    Returns
    -------
    Path or None

    Raises
    ------
    ValueError
        ``scores`` is empty, or ``reference`` is not one of its keys.
    """
    if not scores:
        raise ValueError("scores is empty; expected at least one method, e.g. {'pretrained': 0.97}.")
    if reference is not None and reference not in scores:
        raise ValueError(f"reference={reference!r} is not a method of scores; expected one of {list(scores)}.")
    rows = [(name, *_mean_std(v)) for name, v in scores.items()]
    if sort:
        rows.sort(key=lambda r: r[1])  # barh draws the first row at the bottom: best ends on top
    else:
        rows.reverse()
    names = [f"{r[0]} (reference)" if r[0] == reference else r[0] for r in rows]
    means = [r[1] for r in rows]
    errors = [r[2] or 0.0 for r in rows]
    counts = {r[3] for r in rows if r[2] is not None}
    fig = _figure(figsize=(7.5, 0.45 * len(rows) + 1.3), layout="constrained")
    ax = fig.subplots()
    colours = ["tab:orange" if r[0] == reference else "tab:blue" for r in rows]
    has_std = bool(counts)
    ax.barh(names, means, xerr=errors if has_std else None, color=colours, capsize=3, error_kw={"elinewidth": 1})
    right = max(m + e for m, e in zip(means, errors))
    left = _bar_axis_start([m - e for m, e in zip(means, errors)], right)
    span = right - left or 1.0
    for i, (_, m, s, n) in enumerate(rows):
        label = f"{m:.4f}" + (f" ± {s:.4f}" if s is not None else "") + (f" (n={n})" if s is not None and len(counts) > 1 else "")
        if m - (s or 0.0) - left > 0.45 * span:  # a long bar holds its label, so the axis can stop at the best score
            ax.text(m - (s or 0.0) - 0.015 * span, i, label, ha="right", va="center", fontsize=8, color="white")
        else:
            ax.text(m + (s or 0.0) + 0.015 * span, i, label, ha="left", va="center", fontsize=8)
            right = max(right, m + (s or 0.0) + 0.35 * span)
    ax.set_xlim(left, right + 0.02 * span)
    notes = [f"mean ± std over {counts.pop()} seeds"] if len(counts) == 1 else []
    if left > 0:  # said in words and drawn as a break on the axis: the bars' lengths are not proportional to the scores
        notes.append(f"axis starts at {left:g}, not 0")
        d = 0.012
        for x in (0.0, 0.012):
            ax.plot((x - d, x + d), (-2 * d, 2 * d), transform=ax.transAxes, color="k", linewidth=1, clip_on=False)
    ax.set_xlabel(xlabel + (f" ({'; '.join(notes)})" if notes else ""))
    fig.suptitle(title, fontsize=10)  # over the whole figure: long method names leave the axes narrow
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def _bar_axis_start(lows: Sequence[float], high: float) -> float:
    """Where a bar chart's score axis starts: near the lowest bar when the scores are close together and far from 0.

    Accuracies of 0.90 to 0.99 on an axis from 0 look alike; from 0.89 the
    differences show. The start is the lowest score less a tenth of the
    scores' range, rounded down to that range's power of ten (0.89 for 0.90 to
    0.99, 0.6 for 0.65 to 0.95). It stays 0 for one score or equal ones, and
    when the cut would hide less than a quarter of the best bar (it would gain
    little); with a negative score it is the lowest score.

    Parameters
    ----------
    lows : sequence of float
        Each bar's lowest point (the score, less its error bar).
    high : float
        The highest point of any bar.

    Returns
    -------
    float

    Examples
    --------
    >>> _bar_axis_start([0.90, 0.95, 0.99], 0.99)
    0.89
    >>> _bar_axis_start([0.3, 0.9], 0.9)
    0.0
    """
    low = float(min(lows))
    if low <= 0:
        return low
    spread = high - low
    if len(lows) < 2 or spread <= 0:
        return 0.0  # one score, or equal ones: nothing to tell apart
    step = 10.0 ** np.floor(np.log10(spread))
    start = max(0.0, round(float(np.floor((low - 0.1 * spread) / step + 1e-9) * step), 12))
    return start if start >= 0.25 * high else 0.0


@_skip_without_matplotlib
def plot_confusion_matrix(matrix, path: str | Path, class_names: Sequence[Any] | None = None,
                          title: str = "Confusion matrix") -> Path | None:
    """Counts in the cells, colours normalised per row (the recall of each true class).

    Parameters
    ----------
    matrix : array-like of shape (n_classes, n_classes)
        Counts, rows = true class, columns = predicted class, as
        ``sklearn.metrics.confusion_matrix`` or
        :func:`layerwise.metrics.classification_report` return them.
    path : path
    class_names : sequence, optional
        Names of the classes in the order of the rows; default ``0..k-1``.
    title : str, default="Confusion matrix"

    Returns
    -------
    Path or None

    Raises
    ------
    ValueError
        ``matrix`` is not square, or ``class_names`` has the wrong length.
    """
    counts = np.asarray(matrix)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] == 0:
        raise ValueError(f"matrix must be a square (n_classes, n_classes) array of counts; got shape {counts.shape}.")
    k = counts.shape[0]
    names = [str(c) for c in (class_names if class_names is not None else range(k))]
    if len(names) != k:
        raise ValueError(f"class_names has {len(names)} names but the matrix has {k} classes; expected one name per row.")
    totals = counts.sum(axis=1, keepdims=True)
    rates = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    side = max(4.0, 0.55 * k + 2.0)
    fig = _figure(figsize=(side + 1.0, side), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, label="fraction of the true class", shrink=0.8)
    size = 9 if k <= 10 else 7 if k <= 20 else 5
    for i in range(k):
        for j in range(k):
            ax.text(j, i, f"{counts[i, j]:g}", ha="center", va="center", fontsize=size,
                    color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xticks(range(k), names, rotation=45 if max(map(len, names)) > 3 else 0, ha="right" if max(map(len, names)) > 3 else "center")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(f"{title}\n(accuracy {accuracy:.4f}, n={counts.sum():g})", fontsize=10)  # two lines: fits small matrices
    return _save(fig, path)


def _show(ax, image: np.ndarray, image_shape: Sequence[int]) -> None:
    """One image without ticks: ``(h, w)`` grayscale, or ``(c, h, w)`` with 1 or 3 channels."""
    shape = tuple(image_shape)
    img = np.asarray(image).reshape(shape)
    if len(shape) == 3:
        img = img[0] if shape[0] == 1 else np.transpose(img, (1, 2, 0))
    if img.ndim == 3:
        ax.imshow(np.clip(img, 0, 1))
    else:
        ax.imshow(img, cmap="gray_r", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])


_DEFAULT_RECON_TITLE = "Inputs (top) and reconstructions (bottom)"


@_skip_without_matplotlib
def plot_reconstructions(X: np.ndarray, X_hat: np.ndarray, image_shape: Sequence[int], path: str | Path, n: int = 10,
                         title: str = _DEFAULT_RECON_TITLE, X_corrupted: np.ndarray | None = None) -> Path | None:
    """A grid of ``n`` inputs above their reconstructions (and, for denoising, the corrupted inputs between).

    Parameters
    ----------
    X, X_hat : ndarray of shape (n_samples, h * w) or (n_samples, c, h, w)
        Inputs and their reconstructions, values in [0, 1].
    image_shape : (h, w) or (c, h, w)
        ``c`` is 1 (grayscale) or 3 (RGB).
    path : path
    n : int, default=10
    title : str, default="Inputs (top) and reconstructions (bottom)"
        With ``X_corrupted`` and this default title, the title names the three rows.
    X_corrupted : ndarray like ``X``, optional
        What the denoising autoencoder received: drawn as a middle row, so
        the picture shows what was removed, not only what was kept.

    Returns
    -------
    Path or None
    """
    n = min(n, len(X))
    rows = [("input", X)] + ([("corrupted", X_corrupted)] if X_corrupted is not None else []) + [("reconstruction", X_hat)]
    if X_corrupted is not None and title == _DEFAULT_RECON_TITLE:
        title = "Inputs (top), corrupted inputs (middle) and reconstructions of the corrupted inputs (bottom)"
    fig = _figure(figsize=(1.1 * n + 0.8, 1.2 * len(rows) + 0.1), layout="constrained")
    axes = fig.subplots(len(rows), n, squeeze=False)
    for r, (label, data) in enumerate(rows):
        for i in range(n):
            _show(axes[r, i], data[i], image_shape)
        axes[r, 0].set_ylabel(label, fontsize=8)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


@_skip_without_matplotlib
def plot_image_grid(images: np.ndarray, image_shape: Sequence[int], path: str | Path, n_cols: int = 10, title: str = "") -> Path | None:
    """Images in a grid, row by row: samples, or one interpolation strip per row.

    Parameters
    ----------
    images : ndarray of shape (n_images, h * w) or (n_images, c, h, w)
        Values in [0, 1].
    image_shape : (h, w) or (c, h, w)
    path : path
    n_cols : int, default=10
    title : str, default=""

    Returns
    -------
    Path or None
    """
    images = np.asarray(images)
    n_rows = (len(images) + n_cols - 1) // n_cols
    fig = _figure(figsize=(0.9 * n_cols, 0.9 * n_rows + 0.4), layout="constrained")
    axes = np.atleast_2d(fig.subplots(n_rows, n_cols, squeeze=False))
    for ax, i in zip(axes.ravel(), range(n_rows * n_cols)):
        if i < len(images):
            _show(ax, images[i], image_shape)
        else:
            ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def _category_colours(n: int) -> list:
    """``n`` distinct colours: tab10, tab20, or evenly spaced hues beyond 20."""
    from matplotlib import colormaps

    if n <= 10:
        return [colormaps["tab10"](i) for i in range(n)]
    if n <= _MAX_CATEGORIES:
        return [colormaps["tab20"](i) for i in range(n)]
    return [colormaps["hsv"](i / n) for i in range(n)]


def _is_categorical(labels: np.ndarray) -> bool:
    """Class labels (ints, strings, booleans, or whole-number floats of few values) rather than a continuous target."""
    if labels.dtype.kind in "biuOSU":
        return True
    finite = labels[np.isfinite(labels)]
    return bool(np.all(finite == np.round(finite))) and len(np.unique(finite)) <= _MAX_CATEGORIES


@_skip_without_matplotlib
def plot_latent_2d(codes: np.ndarray, labels: np.ndarray | None, path: str | Path, title: str = "Latent space",
                   class_names: Mapping[Any, str] | Sequence[str] | None = None) -> Path | None:
    """Scatter of codes coloured by label; codes wider than 2 are projected with PCA.

    Class labels get one categorical colour each and a legend naming them;
    a continuous target (a regression's ``y``) gets a colour bar instead.

    Parameters
    ----------
    codes : ndarray of shape (n_samples, n_components)
    labels : ndarray of shape (n_samples,), optional
        Class labels, or real-valued targets.
    path : path
    title : str, default="Latent space"
    class_names : mapping of label -> name, or sequence indexed by label, optional
        Names for the legend, e.g. ``["T-shirt", "Trouser", ...]``; default
        the labels themselves.

    Returns
    -------
    Path or None
    """
    codes = np.asarray(codes, dtype=np.float64).reshape(len(codes), -1)
    axis_names = ("z1", "z2")
    if codes.shape[1] > 2:
        from sklearn.decomposition import PCA

        codes = PCA(2).fit_transform(codes)
        axis_names = ("PC 1 of the codes", "PC 2 of the codes")
    elif codes.shape[1] == 1:
        codes = np.c_[codes, np.zeros(len(codes))]
    fig = _figure(figsize=(6.4, 4.8), layout="constrained")
    ax = fig.subplots()
    labels = np.asarray(labels) if labels is not None else None
    if labels is None:
        ax.scatter(codes[:, 0], codes[:, 1], s=4, alpha=0.7)
    elif _is_categorical(labels):
        classes = np.unique(labels)
        for colour, c in zip(_category_colours(len(classes)), classes):
            mask = labels == c
            ax.scatter(codes[mask, 0], codes[mask, 1], s=4, alpha=0.7, color=colour, label=_class_name(c, class_names))
        fig.legend(title="class", loc="outside right center", markerscale=3, fontsize=8, frameon=False,
                   ncols=1 if len(classes) <= 20 else 2)
    else:
        points = ax.scatter(codes[:, 0], codes[:, 1], s=4, alpha=0.7, c=labels, cmap="viridis")
        fig.colorbar(points, ax=ax, label="target")
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def _class_name(label: Any, class_names: Mapping[Any, str] | Sequence[str] | None) -> str:
    value = label.item() if isinstance(label, np.generic) else label
    if class_names is None:
        return str(value)
    if isinstance(class_names, Mapping):
        return str(class_names.get(value, value))
    if isinstance(value, (int, np.integer)) and 0 <= int(value) < len(class_names):
        return str(class_names[int(value)])
    return str(value)


@_skip_without_matplotlib
def plot_semi_supervised_curves(history: Sequence[Mapping[str, float]], path: str | Path,
                                title: str = "Semi-supervised training") -> Path | None:
    """A semi-supervised fit over epochs: each layer's denoising cost, and the supervised loss and accuracy.

    Left: the unweighted cost ``C_l`` of every layer a ladder network decodes
    (``denoising_<l>`` in the history; the bounds of ``m1m2``), log scale, so a
    layer whose cost stalls stands out. Right: the supervised cross-entropy
    and the accuracy on the labeled rows (dashed: validation, when there is some).

    Parameters
    ----------
    history : list of dict
        One dict per epoch (``Trainer.fit``'s history), with ``"epoch"``.
    path : path

    Returns
    -------
    Path or None
    """
    unsupervised = sorted({k for h in history for k in h if k.startswith("denoising_") or k.endswith("_bound")},
                          key=lambda k: (not k.startswith("denoising_"), int(k.split("_")[1]) if k.startswith("denoising_") else 0, k))
    fig = _figure(figsize=(11, 3.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    epochs = [h["epoch"] for h in history]
    colours = _category_colours(max(len(unsupervised), 1))
    top = max((int(k.split("_")[1]) for k in unsupervised if k.startswith("denoising_")), default=-1)
    for colour, key in zip(colours, unsupervised):
        label = key
        if key.startswith("denoising_"):
            layer = int(key.split("_")[1])
            label = f"layer {layer}" + (" (input)" if layer == 0 else " (top)" if layer == top else "")
        left.plot(epochs, [h.get(key, np.nan) for h in history], color=colour, label=label, linewidth=1.6)
    if any(k.startswith("denoising_") for k in unsupervised):
        left.set_yscale("log")
        left.set_ylabel("denoising cost C_l (unweighted)")
    else:
        left.set_ylabel("negative bound (nats per row)")
    left.set_xlabel("epoch")
    left.set_title("unsupervised cost, per layer", fontsize=10)
    left.grid(alpha=0.3)
    if unsupervised:
        left.legend(fontsize=8)
    for key, style, colour, axis in (("supervised", "-", "tab:red", right), ("val_loss", "--", "tab:red", right)):
        values = [h.get(key, np.nan) for h in history]
        if not np.all(np.isnan(values)):
            axis.plot(epochs, values, style, color=colour, label="cross-entropy" + (" (validation)" if key == "val_loss" else " (labeled rows)"))
    right.set_yscale("log")
    right.set_xlabel("epoch")
    right.set_ylabel("cross-entropy", color="tab:red")
    twin = right.twinx()
    for key, style in (("accuracy", "-"), ("val_accuracy", "--")):
        values = [h.get(key, np.nan) for h in history]
        if not np.all(np.isnan(values)):
            twin.plot(epochs, values, style, color="tab:blue", label="accuracy" + (" (validation)" if key.startswith("val") else " (labeled rows, noisy pass)"))
    twin.set_ylabel("accuracy", color="tab:blue")
    twin.set_ylim(0, 1.02)
    handles = right.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    labels = right.get_legend_handles_labels()[1] + twin.get_legend_handles_labels()[1]
    if handles:
        right.legend(handles, labels, fontsize=8, loc="center right")
    right.set_title("supervised cost and accuracy", fontsize=10)
    right.grid(alpha=0.3)
    fig.suptitle(title)
    return _save(fig, path)
