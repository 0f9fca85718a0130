"""The pictures of a run: pretraining (loss curves, codes, reconstructions, filters, interpolations, samples)
and fine-tuning (confusion matrix, training curves).

Written into a run folder by ``layerwise pretrain``, ``finetune`` and
``evaluate``; drawing is :mod:`layerwise.viz`, sampling
:mod:`layerwise.sampling`. A plot that could not be drawn (matplotlib
missing: :mod:`layerwise.viz` says so once) is left out of the files returned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.utils import Bunch

from ..objectives import make_objective
from ..sampling import estimator_samples
from ..viz import plot_confusion_matrix, plot_image_grid, plot_latent_2d, plot_loss_curves, plot_reconstructions, plot_training_curves

__all__ = ["pretrain_plots", "finetune_plots", "corrupted"]


def corrupted(objective: str | None, params: Mapping[str, Any] | None, X: np.ndarray, seed: int = 0) -> np.ndarray | None:
    """``X`` as the pretraining objective corrupts it (a denoising autoencoder's input), else ``None``.

    The noise is drawn from a generator seeded with ``seed`` inside a forked
    RNG, so drawing it leaves torch's global state alone.
    """
    if objective is None:
        return None
    corruption = getattr(make_objective(objective, params), "corruption", None)
    if corruption is None:
        return None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return corruption(torch.from_numpy(np.asarray(X, dtype=np.float32))).numpy()


def pretrain_plots(folder: Path, sae, data: Bunch, objective: str, seed: int = 0) -> list[Path]:
    """The pictures of a pretraining run; returns the files written.

    Always ``loss_curves.png`` and ``latent_2d.png`` (codes of test rows, PCA
    if wider than 2, one colour per class and a legend of the labels, an
    image folder's class names);
    for image data also ``reconstructions.png`` (for a denoising objective:
    inputs, their corrupted copies and the reconstructions of those),
    ``filters.png`` (first-layer weights, dense first layers) and
    ``interpolation.png``; for generative objectives ``samples.png`` (prior
    samples for ``vae``, a DAE Markov chain for ``denoising``, Bengio et al.
    2013). Plots skipped for want of matplotlib are not in the list.
    """
    folder = Path(folder)
    written = [plot_loss_curves({f"layer {k + 1}": h for k, h in enumerate(sae.history_["pretrain"])},
                                folder / "loss_curves.png", title=f"Greedy pretraining ({objective})")]
    X_eval, y_eval = (data.X_test, data.y_test) if data.X_test is not None else (data.X_train, data.y_train)
    X_eval, y_eval = X_eval[:2000], (y_eval[:2000] if y_eval is not None else None)
    labels = y_eval if y_eval is not None and np.asarray(y_eval).dtype.kind in "iufUSO" else None
    written.append(plot_latent_2d(sae.transform(X_eval), labels, folder / "latent_2d.png", title="Top-layer codes of held-out rows"))
    shape = data.image_shape
    if shape is None or int(np.prod(shape)) != X_eval.shape[1]:
        return [p for p in written if p is not None]
    show = sae._scale  # pictures in the model's [0, 1] input space, whatever the units of the data
    shown = show(X_eval[:10])
    noisy = corrupted(objective, sae.pretrain_params, shown, seed)  # the noise the stack was trained with, on its inputs
    X_hat = sae.reconstruct(sae._unscale(noisy) if noisy is not None else X_eval[:10])
    written.append(plot_reconstructions(shown, show(X_hat), shape, folder / "reconstructions.png", X_corrupted=noisy))
    first = sae.stack_.layers[0]
    linear = next((m for m in first.modules() if isinstance(m, torch.nn.Linear)), None)
    if linear is not None and linear.in_features == X_eval.shape[1]:
        W = linear.weight.detach().cpu().numpy()[:50]
        W = (W - W.min(1, keepdims=True)) / (np.ptp(W, axis=1, keepdims=True) + 1e-12)
        written.append(plot_image_grid(W, shape, folder / "filters.png", title="First-layer filters (50 units)"))
    Z = sae.transform(X_eval[:10])
    t = np.linspace(0, 1, 10)[:, None]
    if len(Z) >= 2:  # a strip between each pair of rows (up to 5 pairs); a one-row evaluation split has none
        strips = np.concatenate([sae.inverse_transform((1 - t) * Z[2 * i] + t * Z[2 * i + 1]) for i in range(min(5, len(Z) // 2))])
        written.append(plot_image_grid(show(strips), shape, folder / "interpolation.png",
                                       title="Interpolations between codes of held-out rows"))
    samples = estimator_samples(sae, objective, X_eval.shape[1], seed)
    if samples is not None:
        written.append(plot_image_grid(np.clip(show(samples), 0, 1), shape, folder / "samples.png", title=f"Samples ({objective})"))
    return [p for p in written if p is not None]


def finetune_plots(folder: Path, history: Sequence[Mapping[str, float]] | None, report: Mapping[str, Any] | None,
                   class_names: Sequence[Any] | None = None, title: str = "model", prefix: str = "") -> list[Path]:
    """``confusion_matrix.png`` (a classification report's) and ``curves.png`` (the fine-tuning history: loss and
    accuracy of the training rows, solid, and of the validation rows when early stopping held some out, dashed);
    returns the files written.

    Parameters
    ----------
    folder : path
    history : list of dict, optional
        One dict per epoch, as ``history_["finetune"]`` of a ``Pretrained*`` estimator.
    report : dict, optional
        :func:`layerwise.metrics.classification_report`'s; a regression report draws no matrix.
    class_names : sequence, optional
        Names of the matrix's rows; default ``report["labels"]``.
    title : str, default="model"
        What the pictures are of: "<title>: confusion matrix", "<title>: fine-tuning curves".
    prefix : str, default=""
        Before each file name (``layerwise evaluate``: ``evaluation_``, beside a run's own plots).
    """
    folder = Path(folder)
    written = []
    if report is not None and "confusion_matrix" in report:
        names = class_names if class_names is not None else report.get("labels")
        written.append(plot_confusion_matrix(report["confusion_matrix"], folder / f"{prefix}confusion_matrix.png", class_names=names,
                                             title=f"{title}: confusion matrix"))
    if history:
        written.append(plot_training_curves({"fine-tuning": history}, folder / f"{prefix}curves.png",
                                            title=f"{title}: fine-tuning curves"))
    return [p for p in written if p is not None]
