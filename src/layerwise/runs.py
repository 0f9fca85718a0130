"""Run folders: the data of a config, a metrics log, and the pictures of a run.

A run folder ``out_dir/name/`` holds ``config.json`` (the resolved config),
``metrics.jsonl`` (one line per epoch of every phase), ``checkpoints/``
(each greedy stage), ``pretrained/`` and ``model/`` (saved models), and PNG
plots. Paths come only from ``out_dir`` and ``name``, which the config checks,
so nothing is written outside the run folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils import Bunch

from .config import RunConfig, config_to_dict
from .data.datasets import load_dataset
from .data.splits import split

__all__ = ["prepare_data", "RunFolder", "pretrain_plots", "draw_samples"]


def prepare_data(cfg: RunConfig) -> Bunch:
    """Load ``cfg.data`` and split it: train / validation / test, and the labeled mask.

    The dataset's own test split is used when it has one; otherwise
    ``data.test_size`` of the rows is held out (stratified, seeded). Only
    ``data.label_fraction`` of the training rows keep their label; the others
    get ``-1`` (classification) or ``NaN`` (regression), as the estimators expect.
    """
    d = cfg.data
    scale = None if d.scale == "none" else d.scale
    data = load_dataset(d.dataset, data_dir=d.data_dir, **({"label_column": d.label_column, "scale": scale} if _is_file(d.dataset) else {}))
    X, y, X_test, y_test = data.X, data.y, data.X_test, data.y_test
    if X_test is None and y is not None and d.test_size > 0:
        parts = split(X, y, val_size=0.0, test_size=d.test_size, random_state=cfg.seed)
        X, y, X_test, y_test = parts.X_train, parts.y_train, parts.X_test, parts.y_test
    parts = split(X, y, val_size=d.val_size, test_size=0.0, random_state=cfg.seed) if d.val_size > 0 else None
    if parts is not None:
        X, y, X_val, y_val = parts.X_train, parts.y_train, parts.X_val, parts.y_val
    else:
        X_val = y_val = None
    y_partial = _hide_labels(y, d.label_fraction, cfg.finetune.task, cfg.seed) if y is not None else None
    return Bunch(X_train=X, y_train=y, y_partial=y_partial, X_val=X_val, y_val=y_val, X_test=X_test, y_test=y_test,
                 image_shape=data.image_shape, scaling=data.scaling, name=data.name)


def _is_file(name: str) -> bool:
    return Path(name).suffix in (".npy", ".npz", ".csv")


def _hide_labels(y: np.ndarray, fraction: float, task: str, seed: int) -> np.ndarray:
    """Keep labels for ``fraction`` of the rows (stratified for classes)."""
    if fraction >= 1:
        return y
    keep = split(np.arange(len(y)), y if task == "classification" else None, val_size=0.0,
                 test_size=1 - fraction, random_state=seed).X_train
    if task == "classification":
        out = np.full(len(y), -1, dtype=np.int64) if y.dtype.kind in "iu" else np.full(len(y), -1, dtype=object)
    else:
        out = np.full(y.shape, np.nan)
    out[keep] = y[keep]
    return out


class RunFolder:
    """Writes the files of one run under ``cfg.run_dir``.

    Under ``torchrun`` only rank 0 writes: on the other ranks the methods
    return without touching the disk (they still train, and checkpoint
    through rank 0).
    """

    def __init__(self, cfg: RunConfig) -> None:
        from .train.distributed import is_main

        self.cfg = cfg
        self.path = cfg.run_dir
        self.writes = is_main()
        if self.writes:
            self.path.mkdir(parents=True, exist_ok=True)

    def write_config(self) -> Path:
        p = self.path / "config.json"
        if self.writes:
            p.write_text(json.dumps(config_to_dict(self.cfg), indent=2))
        return p

    def log_history(self, phase: str, history: list[dict[str, Any]], **fields: Any) -> None:
        """Append one JSON line per epoch to ``metrics.jsonl``."""
        if not self.writes:
            return
        with open(self.path / "metrics.jsonl", "a") as f:
            for h in history:
                f.write(json.dumps({"phase": phase, **fields, **h}) + "\n")

    def write_state(self, command: str, done: bool, **extra: Any) -> None:
        """``state.json``: which command runs or ran here, for ``layerwise resume``."""
        self.write_json("state.json", {"command": command, "done": done, **extra})

    def write_json(self, name: str, data: dict) -> Path:
        p = self.path / name
        if self.writes:
            p.write_text(json.dumps(data, indent=2, default=_plain))
        return p


def _plain(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o).__name__)


def pretrain_plots(folder: Path, sae, data: Bunch, objective: str, seed: int = 0) -> list[Path]:
    """The pictures of a pretraining run (matplotlib required); returns the files written.

    Always ``loss_curves.png`` and ``latent_2d.png`` (codes of test rows, PCA
    if wider than 2, coloured by label); for image data also
    ``reconstructions.png``, ``filters.png`` (first-layer weights, dense first
    layers) and ``interpolation.png``; for generative objectives
    ``samples.png`` (prior samples for ``vae``, a DAE Markov chain for
    ``denoising``, Bengio et al. 2013).
    """
    import torch

    from .viz import plot_image_grid, plot_latent_2d, plot_loss_curves, plot_reconstructions

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
    written.append(plot_reconstructions(X_eval[:10], sae.reconstruct(X_eval[:10]), shape, folder / "reconstructions.png"))
    first = sae.stack_.layers[0]
    linear = next((m for m in first.modules() if isinstance(m, torch.nn.Linear)), None)
    if linear is not None and linear.in_features == X_eval.shape[1]:
        W = linear.weight.detach().cpu().numpy()[:50]
        W = (W - W.min(1, keepdims=True)) / (np.ptp(W, axis=1, keepdims=True) + 1e-12)
        written.append(plot_image_grid(W, shape, folder / "filters.png", title="First-layer filters (50 units)"))
    Z = sae.transform(X_eval[:10])
    t = np.linspace(0, 1, 10)[:, None]
    strips = np.concatenate([sae.inverse_transform((1 - t) * Z[2 * i] + t * Z[2 * i + 1]) for i in range(5)])
    written.append(plot_image_grid(strips, shape, folder / "interpolation.png", title="Interpolations between codes of held-out rows"))
    samples = _samples(sae, objective, X_eval.shape[1], seed)
    if samples is not None:
        written.append(plot_image_grid(samples, shape, folder / "samples.png", title=f"Samples ({objective})"))
    return written


def draw_samples(model, n: int, seed: int = 0) -> np.ndarray:
    """``n`` samples from a saved generative model, ``(n, n_features)``.

    A :class:`~layerwise.VariationalAutoencoder` samples its prior; a
    :class:`~layerwise.StackedAutoencoder` pretrained with ``"vae"`` decodes
    prior draws of its top codes, one pretrained with ``"denoising"`` runs
    DAE Markov chains (Bengio et al. 2013).
    """
    from .exceptions import ConfigError

    if hasattr(model, "sample"):
        return np.asarray(model.sample(n, random_state=seed))
    objective = getattr(model, "pretrain", None)
    out = _samples(model, objective, model.n_features_in_, seed, n) if hasattr(model, "autoencoder_") else None
    if out is None:
        raise ConfigError(f"A {type(model).__name__} pretrained with {objective!r} cannot sample. Sampling needs a "
                          "VariationalAutoencoder, or a StackedAutoencoder pretrained with 'vae' or 'denoising'.")
    return out


def _samples(sae, objective: str, n_features: int, seed: int, n: int = 50) -> np.ndarray | None:
    """Prior samples through the decoders (vae), or the end of DAE chains (denoising)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    if objective == "vae":
        width = sae.transform(np.zeros((1, n_features), np.float32)).shape[1]
        return sae.inverse_transform(torch.randn(n, width, generator=gen).numpy())
    if objective == "denoising":
        from .corruption import MaskingNoise
        from .sampling import dae_chain

        with torch.random.fork_rng():
            torch.manual_seed(seed)
            chain = dae_chain(sae.autoencoder_, MaskingNoise(0.25), n_samples=n, n_steps=30, shape=(n_features,))
        return chain.means[-1].detach().cpu().numpy()
    return None
