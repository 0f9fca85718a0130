"""The pictures of a pretraining run: loss curves, codes, reconstructions, filters, interpolations, samples.

Written into a run folder by ``layerwise pretrain`` (matplotlib required);
drawing is :mod:`layerwise.viz`, sampling :mod:`layerwise.sampling`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from sklearn.utils import Bunch

from .sampling import estimator_samples
from .viz import plot_image_grid, plot_latent_2d, plot_loss_curves, plot_reconstructions

__all__ = ["pretrain_plots"]


def pretrain_plots(folder: Path, sae, data: Bunch, objective: str, seed: int = 0) -> list[Path]:
    """The pictures of a pretraining run (matplotlib required); returns the files written.

    Always ``loss_curves.png`` and ``latent_2d.png`` (codes of test rows, PCA
    if wider than 2, coloured by label); for image data also
    ``reconstructions.png``, ``filters.png`` (first-layer weights, dense first
    layers) and ``interpolation.png``; for generative objectives
    ``samples.png`` (prior samples for ``vae``, a DAE Markov chain for
    ``denoising``, Bengio et al. 2013).
    """
    folder = Path(folder)
    written = [plot_loss_curves({f"layer {k + 1}": h for k, h in enumerate(sae.history_["pretrain"])},
                                folder / "loss_curves.png", title=f"Greedy pretraining ({objective})")]
    X_eval, y_eval = (data.X_test, data.y_test) if data.X_test is not None else (data.X_train, data.y_train)
    X_eval, y_eval = X_eval[:2000], (y_eval[:2000] if y_eval is not None else None)
    labels = y_eval if y_eval is not None and np.asarray(y_eval).dtype.kind in "iuf" else None
    written.append(plot_latent_2d(sae.transform(X_eval), labels, folder / "latent_2d.png", title="Top-layer codes of held-out rows"))
    shape = data.image_shape
    if shape is None or int(np.prod(shape)) != X_eval.shape[1]:
        return written
    show = sae._scale  # pictures in the model's [0, 1] input space, whatever the units of the data
    written.append(plot_reconstructions(show(X_eval[:10]), show(sae.reconstruct(X_eval[:10])), shape, folder / "reconstructions.png"))
    first = sae.stack_.layers[0]
    linear = next((m for m in first.modules() if isinstance(m, torch.nn.Linear)), None)
    if linear is not None and linear.in_features == X_eval.shape[1]:
        W = linear.weight.detach().cpu().numpy()[:50]
        W = (W - W.min(1, keepdims=True)) / (np.ptp(W, axis=1, keepdims=True) + 1e-12)
        written.append(plot_image_grid(W, shape, folder / "filters.png", title="First-layer filters (50 units)"))
    Z = sae.transform(X_eval[:10])
    t = np.linspace(0, 1, 10)[:, None]
    strips = np.concatenate([sae.inverse_transform((1 - t) * Z[2 * i] + t * Z[2 * i + 1]) for i in range(5)])
    written.append(plot_image_grid(show(strips), shape, folder / "interpolation.png", title="Interpolations between codes of held-out rows"))
    samples = estimator_samples(sae, objective, X_eval.shape[1], seed)
    if samples is not None:
        written.append(plot_image_grid(np.clip(show(samples), 0, 1), shape, folder / "samples.png", title=f"Samples ({objective})"))
    return written
