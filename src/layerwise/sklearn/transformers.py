"""``StackedAutoencoder``: greedy layer-wise pretraining as a scikit-learn transformer."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import TransformerMixin
from sklearn.utils import check_array

from ..exceptions import DataError
from ..params import STACKED_AUTOENCODER
from ..pipeline import Fit, Unroll
from ..pipeline.greedy import is_streamed
from ..train.inference import predict_in_batches
from ._base import LayerwiseBase, check_is_fitted
from ._inputs import by_chunks, is_external
from ._stack import PretrainedStackMixin, checkpoint_doc

__all__ = ["StackedAutoencoder"]


class StackedAutoencoder(TransformerMixin, PretrainedStackMixin, LayerwiseBase):
    """A stack of autoencoders trained greedily, layer by layer, without labels.

    ``transform`` gives the codes of the top layer; ``inverse_transform``
    decodes codes back to the input space through the kept decoders (or the
    jointly trained deep autoencoder when ``unroll_max_iter > 0``). Every
    parameter after the first is keyword-only.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    stack_ : EncoderStack
    autoencoder_ : AutoEncoder
        The deep autoencoder used by ``inverse_transform`` and ``score``.
    history_ : dict
        ``{"pretrain": [one history per layer], "unroll": history}``.
    loss_curve_ : list of float
        The training loss of every epoch, layer after layer, then of the
        unrolled deep autoencoder (``history_`` has them by phase).
    validation_scores_, best_validation_score_ : None
        No validation rows are held out (scikit-learn's names, for tools that read them).
    n_iter_ : int
        Epochs per layer.
    n_features_in_ : int
        Input columns (scikit-learn's meaning); ``feature_names_in_`` holds their names for a DataFrame.
    preprocessor_ : TablePreprocessor or None
        The per-column encoding of a table (``scale="table"``, or ``"auto"`` on a table), saved with the
        model; the network takes its ``n_features_out_`` encoded columns. None for other rows.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X = load_digits().data / 16.0
    >>> sae = StackedAutoencoder((32, 8), max_iter=2, random_state=0)
    >>> sae.fit_transform(X).shape
    (1797, 8)
    """

    _parameters = STACKED_AUTOENCODER

    def _pretrain_max_iter(self) -> int:
        return self.max_iter

    @checkpoint_doc
    def fit(self, X, y=None, checkpoint_dir=None, resume=False):
        """Pretrain every layer on ``X``, ``(n_samples, n_features)``; ``y`` is ignored.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), Dataset, DataLoader or path
            Rows in memory; or rows streamed from disk a chunk at a time, for
            data larger than memory: a ``.npy`` file (its path, or a
            :class:`~layerwise.data.NpyFile`), a folder of images with one
            subfolder per class (flattened; ``pretrain="conv"`` gets their
            shape; ``image_size`` resizes them), a ``torch.utils.data.Dataset``
            or ``DataLoader`` (read into memory below 1 GiB); or the path of an
            ``.npz`` archive or a ``.csv`` file of numbers, read into memory.
        y : ignored
        {checkpoint_args}

        Returns
        -------
        self
        """
        X, _ = self._fit_input(X, stream=True)
        if is_streamed(X):
            self._streamed_input(X)
            Xt = X
        else:
            X = self._validate_X(X, reset=True)
            Xt = torch.from_numpy(X)
        self._check_params(len(Xt))
        ctx, seed = self._seed_context()
        with ctx:
            first = self._stack_phase(Xt.shape[1])
            result = Fit([first, Unroll(self._settings(self.unroll_max_iter))], seed, checkpoint_dir, resume, seeded=False).run(Xt)
        self._keep_stack(first, result)
        self.stack_, self.autoencoder_ = result.stack, result.model
        unroll_history = result.history["unroll"]
        self.history_ = {"pretrain": self.pretrain_history_, "unroll": unroll_history}
        self._set_curves([h for stage in [*self.pretrain_history_, unroll_history] for h in stage])
        self.n_iter_ = self.max_iter
        return self

    def _saved_state(self):
        """The stack's recipe; the deep autoencoder when it was trained, else the stack (it unrolls again)."""
        unrolled = self.unroll_max_iter > 0
        return {"stack": self._stack_recipe, "unrolled": unrolled}, self.autoencoder_ if unrolled else self.stack_

    def _restore_modules(self, state, load_weights) -> None:
        """Rebuild the stack from the parameters and the recipe, then load the weights."""
        self._stack_recipe = state["stack"]
        stack = self._build_stack(self._n_inputs(), self._stack_recipe)
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
        """Top-layer codes, ``(n_samples, hidden_layer_sizes[-1])``.

        ``X`` may also be what :meth:`fit` takes (a ``DataLoader`` in a fixed
        order), read a chunk at a time.
        """
        return self._encode(X)

    def inverse_transform(self, X) -> np.ndarray:
        """Decode top-layer codes back to the input space, ``(n_samples, n_features_in_)``.

        With the table preprocessing (``preprocessor_``) it raises :class:`~layerwise.exceptions.DataError`: one-hot
        and quantile-normalised columns are not decoded back into a table.
        """
        check_is_fitted(self)
        try:
            Z = check_array(X, dtype=np.float32)
        except ValueError as e:
            raise DataError(f"{e} inverse_transform expects codes of shape (n_samples, n_codes) with finite numbers, "
                            "e.g. the output of transform.") from e
        if not Z.flags.writeable:  # a view of a read-only DataFrame (pandas' copy-on-write): torch wants writable memory
            Z = Z.copy()
        code_shape = self._code_shape()
        width = int(np.prod(code_shape))
        if Z.shape[1] != width:
            raise DataError(f"inverse_transform expects codes with {width} columns (the top layer's width); got {Z.shape[1]}.")
        return self._unscale(self._decode(Z, code_shape))

    def _decode(self, Z: np.ndarray, code_shape) -> np.ndarray:
        """Decoded codes, in the model's input space, ``(n_samples, n_features_in_)``."""
        dev = next(self.autoencoder_.parameters()).device
        Zt = torch.from_numpy(Z).to(dev).reshape(len(Z), *code_shape)
        return predict_in_batches(self.autoencoder_, Zt, method="decode").flatten(1).float().cpu().numpy()

    def reconstruct(self, X) -> np.ndarray:
        """``inverse_transform(transform(X))``, ``(n_samples, n_features_in_)``, in the units of ``X``."""
        return self.inverse_transform(self.transform(X))

    def score_samples(self, X) -> np.ndarray:
        """Negative squared reconstruction error per row, ``(n_samples,)``, in the model's input space (after
        its ``scale``; the units of ``X`` when ``scale="none"``)."""
        check_is_fitted(self)
        if is_external(X):  # a .npy file, an image folder...: a chunk of rows at a time
            return by_chunks(self.score_samples, X, image_size=self.image_size)
        Xs = self._validate_X(X, reset=False)
        codes = self._codes(Xs)
        return -((self._decode(codes, self._code_shape()) - Xs) ** 2).sum(axis=1)

    def _code_shape(self) -> tuple[int, ...]:
        dev = next(self.stack_.parameters()).device
        with torch.no_grad():
            return tuple(self.stack_.eval()(torch.zeros(1, self._n_inputs(), device=dev)).shape[1:])

    def score(self, X, y=None) -> float:
        """Mean of :meth:`score_samples`: higher is better (for ``GridSearchCV``)."""
        return float(self.score_samples(X).mean())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
