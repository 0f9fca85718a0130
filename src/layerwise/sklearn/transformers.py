"""``StackedAutoencoder``: greedy layer-wise pretraining as a scikit-learn transformer."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import TransformerMixin

from ..exceptions import DataError
from ..train.loop import Trainer, predict_in_batches
from ._base import LayerwiseBase, check_is_fitted

__all__ = ["StackedAutoencoder"]


class StackedAutoencoder(TransformerMixin, LayerwiseBase):
    """A stack of autoencoders trained greedily, layer by layer, without labels.

    ``transform`` gives the codes of the top layer; ``inverse_transform``
    decodes codes back to the input space through the kept decoders (or the
    jointly trained deep autoencoder when ``unroll_max_iter > 0``).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(256, 64)
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
    pretrain : str, default="autoencoder"
        The objective of each layer, a name in ``layerwise.OBJECTIVES``
        (``"autoencoder"``, ``"sparse"``, ``"denoising"``, ``"contractive"``,
        ``"conv"``, ``"rbm"``, ``"vae"``).
    pretrain_params : dict, optional
        Options of that objective.
    loss : {"auto", "mse", "bce"}, default="auto"
    tied : bool, default=False
    solver : {"adam", "adamw", "sgd"}, default="adam"
    learning_rate_init : float, default=1e-3
    alpha : float, default=0.0
    batch_size : int or "auto", default="auto"
    max_iter : int, default=20
        Epochs per layer.
    unroll_max_iter : int, default=0
        Epochs of joint training of the unrolled deep autoencoder after the
        greedy stages (Hinton & Salakhutdinov 2006); 0 skips it.
    validation_fraction, n_iter_no_change, tol : unused unless early stopping is added
    random_state, verbose, device, precision
        As in :class:`PretrainedClassifier`.

    Attributes
    ----------
    stack_ : EncoderStack
    autoencoder_ : AutoEncoder
        The deep autoencoder used by ``inverse_transform`` and ``score``.
    history_ : dict
    n_features_in_ : int

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X = load_digits().data / 16.0
    >>> sae = StackedAutoencoder((32, 8), max_iter=2, random_state=0)
    >>> sae.fit_transform(X).shape
    (1797, 8)
    """

    _epoch_params = ("max_iter", "unroll_max_iter")

    def __init__(
        self,
        hidden_layer_sizes=(256, 64),
        activation="relu",
        pretrain="autoencoder",
        pretrain_params=None,
        loss="auto",
        tied=False,
        solver="adam",
        learning_rate_init=1e-3,
        alpha=0.0,
        batch_size="auto",
        max_iter=20,
        unroll_max_iter=0,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        random_state=None,
        verbose=False,
        device="auto",
        precision="fp32",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.pretrain = pretrain
        self.pretrain_params = pretrain_params
        self.loss = loss
        self.tied = tied
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.alpha = alpha
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.unroll_max_iter = unroll_max_iter
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.precision = precision

    def _pretrain_epochs(self) -> int:
        return self.max_iter

    def fit(self, X, y=None, checkpoint_dir=None, resume=False):
        """Pretrain every layer on ``X``, ``(n_samples, n_features)``; ``y`` is ignored.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        checkpoint_dir : path, optional
            Checkpoint pretraining and fine-tuning there (every epoch), so that
            an interrupted fit can continue with ``resume=True``.
        resume : bool, default=False
            Continue from the checkpoints in ``checkpoint_dir``; the result is
            bitwise the same as an uninterrupted fit on CPU.

        Returns
        -------
        self
        """
        X = self._validate_X(X, reset=True)
        if self.pretrain is None:
            raise DataError("StackedAutoencoder needs a pretraining objective; got pretrain=None.")
        self._check_params(X.shape[0])
        self._set_checkpointing(checkpoint_dir, resume)
        ctx, seed = self._seed_context()
        with ctx:
            Xt = torch.from_numpy(X)
            self.stack_ = self._pretrain(Xt, seed)
            self.autoencoder_ = self.stack_.unroll()
            unroll_history = []
            if self.unroll_max_iter > 0:
                from ..objectives import Reconstruction

                loss = "bce" if self.autoencoder_.output == "logistic" else "mse"
                trainer = Trainer(**self._trainer_params(len(X), self.unroll_max_iter, "deep autoencoder", False), seed=seed + 2000,
                                  checkpoint_dir=self._checkpoint_path("unroll"))
                unroll_history = trainer.fit(self.autoencoder_, Reconstruction(loss=loss), (Xt,), resume=self._resume)
                self.stack_ = self.autoencoder_.encoder
            self.autoencoder_.eval()
            self.stack_.eval()
        self.history_ = {"pretrain": self.pretrain_history_, "unroll": unroll_history}
        self.n_iter_ = max(1, self.max_iter)
        return self

    def _saved_state(self):
        """The stack's recipe; the deep autoencoder when it was trained, else the stack (it unrolls again)."""
        unrolled = self.unroll_max_iter > 0
        return {"stack": self._stack_recipe, "unrolled": unrolled}, self.autoencoder_ if unrolled else self.stack_

    def _restore_modules(self, state, load_weights) -> None:
        """Rebuild the stack from the parameters and the recipe, then load the weights."""
        self._stack_recipe = state["stack"]
        stack = self._build_stack(self.n_features_in_, self._stack_recipe)
        if state["unrolled"]:
            self.autoencoder_ = stack.unroll()
            load_weights(self.autoencoder_)
            self.stack_ = self.autoencoder_.encoder
        else:
            load_weights(stack)
            self.stack_, self.autoencoder_ = stack, stack.unroll()
        self.autoencoder_.eval()
        self.stack_.eval()

    def transform(self, X) -> np.ndarray:
        """Top-layer codes, ``(n_samples, hidden_layer_sizes[-1])``."""
        return self._encode(X)

    def inverse_transform(self, X) -> np.ndarray:
        """Decode top-layer codes back to the input space, ``(n_samples, n_features_in_)``."""
        check_is_fitted(self)
        from sklearn.utils import check_array

        try:
            Z = check_array(X, dtype=np.float32)
        except ValueError as e:
            raise DataError(f"{e} inverse_transform expects codes of shape (n_samples, n_codes) with finite numbers, "
                            "e.g. the output of transform.") from e
        dev = next(self.autoencoder_.parameters()).device
        with torch.no_grad():
            code_shape = self.stack_.eval()(torch.zeros(1, self.n_features_in_, device=dev)).shape[1:]
        width = int(np.prod(code_shape))
        if Z.shape[1] != width:
            raise DataError(f"inverse_transform expects codes with {width} columns (the top layer's width); got {Z.shape[1]}.")
        Zt = torch.from_numpy(Z).to(dev).reshape(len(Z), *code_shape)
        return predict_in_batches(self.autoencoder_, Zt, method="decode").flatten(1).cpu().numpy()

    def reconstruct(self, X) -> np.ndarray:
        """``inverse_transform(transform(X))``, ``(n_samples, n_features_in_)``."""
        return self.inverse_transform(self.transform(X))

    def score_samples(self, X) -> np.ndarray:
        """Negative squared reconstruction error per row, ``(n_samples,)``."""
        X = self._validate_X(X, reset=False) if hasattr(self, "stack_") else X
        return -((self.reconstruct(X) - X) ** 2).sum(axis=1)

    def score(self, X, y=None) -> float:
        """Mean of :meth:`score_samples`: higher is better (for ``GridSearchCV``)."""
        return float(self.score_samples(X).mean())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
