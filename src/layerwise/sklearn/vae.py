"""``VariationalAutoencoder``: a VAE (Kingma & Welling 2014) as a scikit-learn transformer."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import TransformerMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_array, check_random_state

from ..exceptions import ConfigError, DataError
from ..nn.stack import EncoderStack, freeze_trained
from ..nn.vae import dense_vae
from ..objectives.elbo import ELBO, KLWarmup, elbo_per_sample
from ..params import VARIATIONAL_AUTOENCODER
from ..params.constraints import Interval
from ..pipeline.greedy import check_layer_sizes, resolve_loss
from ..train.callbacks import EarlyStopping
from ..train.inference import predict_in_batches
from ._base import LayerwiseBase, check_is_fitted
from ._inputs import by_chunks, is_external

__all__ = ["VariationalAutoencoder"]

# Noise vectors shared by every row in score_samples (common random numbers):
# the score is then a deterministic function of each row alone.
_SCORE_DRAWS = 16
_SCORE_SEED = 0


class VariationalAutoencoder(TransformerMixin, LayerwiseBase):
    """Variational autoencoder: a Gaussian latent code learned by maximising the ELBO.

    A dense VAE (Kingma & Welling 2014) with a mirrored decoder, trained
    jointly (not layer by layer). ``transform`` gives the latent means,
    ``inverse_transform`` the decoded means, ``sample`` draws new rows from the
    prior, and ``score_samples`` is the per-row ELBO, a lower bound on
    ``log p(x)`` in nats.

    Every parameter after the first is keyword-only.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    module_ : layerwise.nn.vae.VAE
        The trained VAE, frozen and in eval mode.
    stack_ : EncoderStack
        One layer: the VAE's mean path (shares its weights with ``module_``),
        e.g. to fine-tune with a head on top (:func:`layerwise.pipeline.finetune.finetune`).
    history_ : list of dict
        One dict per epoch: ``loss`` (negative ELBO), ``recon``, ``kl``.
    loss_curve_ : list of float
    validation_scores_ : list of float or None
        With ``early_stopping``: the ELBO of the validation rows at each epoch
        (the negated validation loss; higher is better); else None.
    best_validation_score_ : float or None
    n_iter_ : int
        Epochs run.
    n_features_in_ : int
        Input columns (scikit-learn's meaning); ``feature_names_in_`` holds their names for a DataFrame.
    preprocessor_ : TablePreprocessor or None
        The per-column encoding of a table (``scale="table"``, or ``"auto"`` on a table), saved with the
        model; the network takes its ``n_features_out_`` encoded columns. None for other rows.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X = load_digits().data / 16.0
    >>> vae = VariationalAutoencoder((64,), n_components=8, max_iter=2, random_state=0)
    >>> vae.fit_transform(X).shape
    (1797, 8)
    >>> vae.sample(3, random_state=0).shape
    (3, 64)
    """

    _parameters = VARIATIONAL_AUTOENCODER

    def fit(self, X, y=None):
        """Train the VAE on ``X``, ``(n_samples, n_features)``; ``y`` is ignored.

        ``X`` may also be a ``Dataset``, a ``DataLoader``, a ``.npy`` file or a
        folder of images (flattened), read into memory.

        Returns
        -------
        self
        """
        X, _ = self._fit_input(X)
        X = self._validate_X(X, reset=True)
        self._check_params(X.shape[0])
        Xt = torch.from_numpy(X)
        loss = resolve_loss(self.loss, Xt, 0, None)
        ctx, seed = self._seed_context()
        with ctx:
            output = "logistic" if loss == "bce" else "identity"
            model = dense_vae(X.shape[1], check_layer_sizes(self.hidden_layer_sizes), int(self.n_components), self.activation, output)
            objective = ELBO(loss, beta=self.beta)
            train, val = (Xt,), None
            if self.early_stopping:
                idx, vidx = train_test_split(np.arange(len(X)), test_size=self.validation_fraction, random_state=seed)
                train, val = (Xt[idx],), (Xt[vidx],)
            callbacks = [KLWarmup(objective, int(self.kl_warmup))]
            if val is not None:
                callbacks.append(_StopAfterWarmup(int(self.kl_warmup), n_iter_no_change=self.n_iter_no_change, tol=self.tol))
            trainer = self._settings(self.max_iter, callbacks=callbacks).trainer(len(train[0]), seed, "vae")
            history = trainer.fit(model, objective, train, val)
            objective.check_trained(model, train[0], type(self).__name__)
        self.module_ = freeze_trained(model)
        self.stack_ = freeze_trained(EncoderStack([model.encoder], [model.decoder], output=output))
        self.history_ = history
        self._set_curves(history)
        return self

    def _saved_state(self):
        """The decoder's output activation (the resolved loss), and ``module_`` to save."""
        return {"output": self.module_.output}, self.module_

    def _restore_modules(self, state, load_weights) -> None:
        """Rebuild the VAE from the parameters, load the weights, share them with ``stack_``."""
        output = state["output"]
        model = dense_vae(self._n_inputs(), check_layer_sizes(self.hidden_layer_sizes), int(self.n_components), self.activation, output)
        load_weights(model)
        self.module_ = freeze_trained(model)
        self.stack_ = freeze_trained(EncoderStack([model.encoder], [model.decoder], output=output))

    def transform(self, X) -> np.ndarray:
        """Latent means ``mu(x)``, ``(n_samples, n_components)``."""
        return self._encode(X)

    def inverse_transform(self, X) -> np.ndarray:
        """Decoded means of latent codes, ``(n_samples, n_components) -> (n_samples, n_features_in_)``.

        With the table preprocessing (``preprocessor_``) it raises :class:`~layerwise.exceptions.DataError`: one-hot
        and quantile-normalised columns are not decoded back into a table.
        """
        check_is_fitted(self)
        Z = check_array(X, dtype=np.float32)
        if not Z.flags.writeable:  # a view of a read-only DataFrame (pandas' copy-on-write): torch wants writable memory
            Z = Z.copy()
        if Z.shape[1] != self.module_.latent_dim:
            raise DataError(
                f"inverse_transform expects codes with {self.module_.latent_dim} columns (n_components); got {Z.shape[1]}. "
                "Pass the output of transform."
            )
        return self._decode(torch.from_numpy(Z))

    def sample(self, n_samples: int = 1, random_state=None) -> np.ndarray:
        """Decoded means of ``n_samples`` draws from the prior ``N(0, I)``, ``(n_samples, n_features_in_)``.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState or None, default=None
            Seed of the draws; torch's global generator is left untouched.
        """
        check_is_fitted(self)
        if not Interval(int, 1).accepts(n_samples):
            raise ConfigError(f"n_samples must be a positive integer; got {n_samples!r}.")
        gen = torch.Generator().manual_seed(int(check_random_state(random_state).randint(0, 2**31 - 1)))
        z = torch.randn((int(n_samples), self.module_.latent_dim), generator=gen)  # (n_samples, n_components)
        return self._decode(z)

    def score_samples(self, X) -> np.ndarray:
        """Evidence lower bound of each row in nats, ``(n_samples,)``: higher is better.

        A Monte-Carlo estimate over 16 noise draws that are the same for every
        row, so each row's score is repeatable and independent of the others
        (:func:`~layerwise.objectives.elbo.elbo_per_sample`). For a tighter
        bound on ``log p(x)`` use
        :func:`~layerwise.objectives.elbo.iwae_log_likelihood` on ``module_``.
        """
        check_is_fitted(self)
        if is_external(X):  # a path, a folder, a Dataset: read a chunk at a time, as transform reads it
            return by_chunks(self.score_samples, X, image_size=getattr(self, "image_size", None))
        X = self._validate_X(X, reset=False)
        gen = torch.Generator().manual_seed(_SCORE_SEED)
        scores = elbo_per_sample(self.module_, torch.from_numpy(X), n_draws=_SCORE_DRAWS, generator=gen)
        return scores.double().cpu().numpy()

    def score(self, X, y=None) -> float:
        """Mean ELBO per row (nats), :meth:`score_samples` averaged: higher is better (for ``GridSearchCV``)."""
        return float(self.score_samples(X).mean())

    def _decode(self, Z: torch.Tensor) -> np.ndarray:
        """Decoded means in the units of the training data (the model's scaling undone)."""
        dev = next(self.module_.parameters()).device
        return self._unscale(predict_in_batches(self.module_, Z.to(dev), method="decode").float().cpu().numpy())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


class _StopAfterWarmup(EarlyStopping):
    """Early stopping on ``val_loss`` that ignores the warm-up epochs, whose smaller
    KL weight makes their loss look better than any later one."""

    def __init__(self, warmup: int, n_iter_no_change: int, tol: float) -> None:
        super().__init__("val_loss", n_iter_no_change=n_iter_no_change, tol=tol)
        self.warmup = warmup

    def on_epoch_end(self, trainer, model, logs) -> None:
        if logs["epoch"] > self.warmup:
            super().on_epoch_end(trainer, model, logs)
