"""Plots people would rather look at than read: loss curves and reconstructions.

matplotlib is an optional dependency (``pip install layerwise[plot]``). The
figures are drawn on ``matplotlib.figure.Figure`` directly, without pyplot, so
no display or backend set-up is needed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = ["plot_loss_curves", "plot_reconstructions", "plot_image_grid", "plot_latent_2d"]


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


def plot_image_grid(images: np.ndarray, image_shape: tuple[int, int], path: str | Path, n_cols: int = 10, title: str = "") -> Path:
    """Images in a grid, row by row: samples, or one interpolation strip per row.

    Parameters
    ----------
    images : ndarray of shape (n_images, h * w)
        Values in [0, 1].
    image_shape : (h, w)
    path : path
    n_cols : int, default=10

    Returns
    -------
    Path
    """
    images = np.asarray(images)
    n_rows = (len(images) + n_cols - 1) // n_cols
    fig = _figure(figsize=(0.9 * n_cols, 0.9 * n_rows + 0.4), layout="constrained")
    axes = np.atleast_2d(fig.subplots(n_rows, n_cols, squeeze=False))
    for ax, i in zip(axes.ravel(), range(n_rows * n_cols)):
        ax.set_xticks([])
        ax.set_yticks([])
        if i < len(images):
            ax.imshow(images[i].reshape(image_shape), cmap="gray_r", vmin=0, vmax=1)
        else:
            ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.savefig(path, dpi=90)
    return Path(path)


def plot_latent_2d(codes: np.ndarray, labels: np.ndarray | None, path: str | Path, title: str = "Latent space") -> Path:
    """Scatter of codes coloured by label; codes wider than 2 are projected with PCA.

    Parameters
    ----------
    codes : ndarray of shape (n_samples, n_components)
    labels : ndarray of shape (n_samples,), optional
    path : path

    Returns
    -------
    Path
    """
    codes = np.asarray(codes, dtype=np.float64).reshape(len(codes), -1)
    axis_names = ("z1", "z2")
    if codes.shape[1] > 2:
        from sklearn.decomposition import PCA

        codes = PCA(2).fit_transform(codes)
        axis_names = ("PC 1 of the codes", "PC 2 of the codes")
    elif codes.shape[1] == 1:
        codes = np.c_[codes, np.zeros(len(codes))]
    fig = _figure(figsize=(5.5, 4.8), layout="constrained")
    ax = fig.subplots()
    colour = {"c": labels, "cmap": "tab10"} if labels is not None else {}
    points = ax.scatter(codes[:, 0], codes[:, 1], s=4, alpha=0.7, **colour)
    if labels is not None:
        fig.colorbar(points, ax=ax, label="label")
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    ax.set_title(title, fontsize=10)
    fig.savefig(path, dpi=90)
    return Path(path)
