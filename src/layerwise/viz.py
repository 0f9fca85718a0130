"""Plots people would rather look at than read: loss curves and reconstructions.

matplotlib is an optional dependency (``pip install layerwise[plot]``). The
figures are drawn on ``matplotlib.figure.Figure`` directly, without pyplot, so
no display or backend set-up is needed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = ["plot_loss_curves", "plot_reconstructions"]


def _figure(**kwargs):
    try:
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("Plots need matplotlib: pip install 'layerwise[plot]'.") from e
    return Figure(**kwargs)


def plot_loss_curves(curves: Mapping[str, Sequence[Mapping[str, float]]], path: str | Path, title: str = "Training loss") -> Path:
    """One panel per history: ``loss`` (and ``val_loss``) against the epoch.

    Parameters
    ----------
    curves : mapping of name -> history
        Each history is a list of per-epoch dicts with ``"loss"`` (and
        optionally ``"val_loss"``), as returned by ``Trainer.fit``.
    path : path
        Where to write the PNG.

    Returns
    -------
    Path
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
    fig.savefig(path, dpi=90)
    return Path(path)


def plot_reconstructions(X: np.ndarray, X_hat: np.ndarray, image_shape: tuple[int, int], path: str | Path, n: int = 10, title: str = "Inputs (top) and reconstructions (bottom)") -> Path:
    """A grid of ``n`` inputs above their reconstructions.

    Parameters
    ----------
    X, X_hat : ndarray of shape (n_samples, h * w)
    image_shape : (h, w)
    path : path
    n : int, default=10

    Returns
    -------
    Path
    """
    n = min(n, len(X))
    fig = _figure(figsize=(1.1 * n, 2.5), layout="constrained")
    axes = fig.subplots(2, n, squeeze=False)
    for i in range(n):
        for row, data in enumerate((X, X_hat)):
            ax = axes[row, i]
            ax.imshow(np.asarray(data[i]).reshape(image_shape), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(title, fontsize=10)
    fig.savefig(path, dpi=90)
    return Path(path)
