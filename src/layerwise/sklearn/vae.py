"""``VariationalAutoencoder``: a VAE (Kingma & Welling 2014) as a scikit-learn transformer."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import TransformerMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_array, check_random_state

from ..exceptions import ConfigError, DataError
from ..greedy import check_layer_sizes, resolve_loss
from ..nn.stack import EncoderStack, freeze
from ..nn.vae import dense_vae
from ..objectives.elbo import ELBO, KLWarmup, elbo_per_sample
from ..train.callbacks import EarlyStopping
from ..train.loop import Trainer, predict_in_batches
from ._base import LayerwiseBase, check_is_fitted, _is_int, _is_number

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

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(400,)
        Widths of the encoder's hidden layers; the decoder mirrors them.
        ``(400,)`` with ``n_components=20`` is the pytorch/examples VAE.
    n_components : int, default=20
        Width of the latent code: the number of columns of ``transform``.
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
    loss : {"auto", "mse", "bce"}, default="auto"
        The decoder's likelihood. ``"bce"``: Bernoulli, for data in [0, 1];
        ``"mse"``: Gaussian with unit variance (standardise the data first);
        ``"auto"``: ``"bce"`` when the data is in [0, 1], else ``"mse"``.
    beta : float, default=1.0
        Weight of the KL term (``beta > 1``: beta-VAE, Higgins et al. 2017).
    kl_warmup : int, default=0
        Epochs over which the KL weight rises linearly from 0 to ``beta``
        (Bowman et al. 2016; Sonderby et al. 2016); 0 turns warm-up off.
    solver : {"adam", "adamw", "sgd"}, default="adam"
    learning_rate_init : float, default=1e-3
    alpha : float, default=0.0
        L2 penalty (weight decay).
    batch_size : int or "auto", default="auto"
        ``"auto"`` is ``n_samples // 32`` clipped to [32, 256] (and to n_samples).
    max_iter : int, default=20
        Epochs of training.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows and stop when their
        negative ELBO has not improved for ``n_iter_no_change`` epochs after
        the warm-up; the best weights are kept.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=10
    tol : float, default=1e-4
    random_state : int, RandomState or None, default=None
        Makes ``fit`` repeatable; torch's global generator is left untouched.
    verbose : bool, default=False
        Progress bars.
    device : str, default="auto"
        ``"cpu"``, ``"cuda"``, or ``"auto"`` (CUDA when available).
    precision : {"fp32", "bf16"}, default="fp32"

    Attributes
    ----------
    module_ : layerwise.nn.vae.VAE
        The trained VAE, frozen and in eval mode.
    stack_ : EncoderStack
        One layer: the VAE's mean path (shares its weights with ``module_``),
        e.g. to fine-tune with a head on top (:func:`layerwise.finetune`).
    history_ : list of dict
        One dict per epoch: ``loss`` (negative ELBO), ``recon``, ``kl``.
    loss_curve_ : list of float
    n_iter_ : int
        Epochs run.
    n_features_in_ : int

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

    _epoch_params = ("max_iter", "kl_warmup")

    def __init__(
        self,
        hidden_layer_sizes=(400,),
        n_components=20,
        activation="relu",
        loss="auto",
        beta=1.0,
        kl_warmup=0,
        solver="adam",
        learning_rate_init=1e-3,
        alpha=0.0,
        batch_size="auto",
        max_iter=20,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        random_state=None,
        verbose=False,
        device="auto",
        precision="fp32",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.n_components = n_components
        self.activation = activation
        self.loss = loss
        self.beta = beta
        self.kl_warmup = kl_warmup
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.alpha = alpha
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.precision = precision

    def _check_params(self, n_samples: int) -> None:
        """The shared checks plus the VAE's own, reported together in one :class:`ConfigError`."""
        problems = []
        if not (_is_int(self.n_components) and self.n_components >= 1):
            problems.append(f"n_components must be a positive integer (the latent width); got {self.n_components!r}.")
        if not (_is_number(self.beta) and self.beta >= 0):
            problems.append(f"beta must be a finite number >= 0 (the weight of the KL term); got {self.beta!r}.")
        try:
            super()._check_params(n_samples)
        except ConfigError as e:
            problems = str(e).split("\n- ")[1:] + problems
        if problems:
            raise ConfigError(f"{type(self).__name__} has {len(problems)} invalid parameter(s):\n- " + "\n- ".join(problems))

    def fit(self, X, y=None):
        """Train the VAE on ``X``, ``(n_samples, n_features)``; ``y`` is ignored.

        Returns
        -------
        self
        """
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
                callbacks.append(_StopAfterWarmup(int(self.kl_warmup), patience=self.n_iter_no_change, tol=self.tol))
            params = self._trainer_params(len(train[0]), self.max_iter, "vae", early_stopping=False)
            history = Trainer(**params, seed=seed, callbacks=callbacks).fit(model, objective, train, val)
        self.module_ = freeze(model)
        self.stack_ = EncoderStack([model.encoder], [model.decoder], output=output).freeze()
        self.history_ = history
        self.loss_curve_ = [h["loss"] for h in history]
        self.n_iter_ = len(history)
        return self

    def _saved_state(self):
        """The decoder's output activation (the resolved loss), and ``module_`` to save."""
        return {"output": self.module_.output}, self.module_

    def _restore_modules(self, state, load_weights) -> None:
        """Rebuild the VAE from the parameters, load the weights, share them with ``stack_``."""
        output = state["output"]
        model = dense_vae(self.n_features_in_, check_layer_sizes(self.hidden_layer_sizes), int(self.n_components), self.activation, output)
        load_weights(model)
        self.module_ = freeze(model)
        self.stack_ = EncoderStack([model.encoder], [model.decoder], output=output).freeze()

    def transform(self, X) -> np.ndarray:
        """Latent means ``mu(x)``, ``(n_samples, n_components)``."""
        return self._encode(X)

    def inverse_transform(self, X) -> np.ndarray:
        """Decoded means of latent codes, ``(n_samples, n_components) -> (n_samples, n_features_in_)``."""
        check_is_fitted(self)
        Z = check_array(X, dtype=np.float32)
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
        if not (_is_int(n_samples) and n_samples >= 1):
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
        X = self._validate_X(X, reset=False)
        gen = torch.Generator().manual_seed(_SCORE_SEED)
        scores = elbo_per_sample(self.module_, torch.from_numpy(X), n_draws=_SCORE_DRAWS, generator=gen)
        return scores.double().cpu().numpy()

    def score(self, X, y=None) -> float:
        """Mean ELBO per row (nats), :meth:`score_samples` averaged: higher is better (for ``GridSearchCV``)."""
        return float(self.score_samples(X).mean())

    def _decode(self, Z: torch.Tensor) -> np.ndarray:
        dev = next(self.module_.parameters()).device
        return predict_in_batches(self.module_, Z.to(dev), method="decode").float().cpu().numpy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


class _StopAfterWarmup(EarlyStopping):
    """Early stopping on ``val_loss`` that ignores the warm-up epochs, whose smaller
    KL weight makes their loss look better than any later one."""

    def __init__(self, warmup: int, patience: int, tol: float) -> None:
        super().__init__("val_loss", patience=patience, tol=tol)
        self.warmup = warmup

    def on_epoch_end(self, trainer, model, logs) -> None:
        if logs["epoch"] > self.warmup:
            super().on_epoch_end(trainer, model, logs)
