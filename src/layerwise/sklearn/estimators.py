"""``PretrainedClassifier`` and ``PretrainedRegressor``: pretrain, then fine-tune.

Unlabeled rows follow ``sklearn.semi_supervised``: a label of ``-1`` (classifier)
or a ``NaN`` target (regressor) marks a row used for pretraining only.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import ClassifierMixin, RegressorMixin, TransformerMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import assert_all_finite, column_or_1d
from sklearn.utils.multiclass import check_classification_targets

from ..exceptions import DataError
from ..finetune import finetune, stack_with_head
from ..nn.heads import ClassifierHead, RegressorHead
from ..nn.stack import freeze, unfreeze
from ..objectives import Classification, Regression
from ..train.loop import Trainer, predict_in_batches
from ._base import LayerwiseBase, check_is_fitted

__all__ = ["PretrainedClassifier", "PretrainedRegressor"]

_PARAMS_DOC = """
    hidden_layer_sizes : tuple of int, default=(512, 256)
        Code width of each pretrained layer. (512, 256) beat (256, 64) on
        MNIST by 0.27 pt with all labels and 0.94 pt with 1,000, for 1.8x the
        time (``benchmarks/defaults.py``; README, "Defaults").
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
    pretrain : str or None, default="denoising"
        Objective of greedy layer-wise pretraining, a name in
        ``layerwise.OBJECTIVES``: ``"autoencoder"``, ``"sparse"``,
        ``"denoising"``, ``"contractive"``, ``"conv"``, ``"rbm"`` (a deep belief
        network) or ``"vae"``. ``None`` trains the same network from random
        initialisation (the honest baseline).
    pretrain_params : dict, optional
        Options of the objective, e.g. ``{"noise": "gaussian", "level": 0.2}``
        for ``"denoising"`` or ``{"penalty": "kl", "weight": 0.1}`` for ``"sparse"``.
    pretrained : str or path, optional
        Folder of a model saved with :func:`layerwise.save`: a
        ``StackedAutoencoder``, ``PretrainedClassifier``, ``PretrainedRegressor``
        or ``EncoderStack``. Pretraining is then skipped and fine-tuning starts
        from the saved encoder layers (Yosinski et al. 2014); ``finetune``
        applies as usual (``"frozen"`` keeps them fixed). The architecture is
        still the one these parameters describe, so ``hidden_layer_sizes``,
        ``activation`` and the layer type of ``pretrain`` (dense for
        ``"autoencoder"``, ``"sparse"``, ``"denoising"``, ``"contractive"`` and
        ``None``; ``"rbm"``, ``"vae"`` and ``"conv"`` each their own) must
        match the saved model's: a mismatch raises a ``ConfigError`` that lists
        the differing layers. The saved decoders are not used.
    finetune : {"frozen", "full"}, default="full"
        ``"frozen"`` trains only the head on the stack's codes; ``"full"``
        back-propagates through every layer.
    encoder_lr_scale : float, default=1.0
        With ``finetune="full"``, the pretrained layers learn at
        ``learning_rate_init * encoder_lr_scale``.
    loss : {"auto", "mse", "bce"}, default="auto"
        Reconstruction loss of the first layer; ``"auto"`` is ``"bce"`` for
        data in [0, 1], else ``"mse"``.
    tied : bool, default=False
        Tie decoder weights to the encoders' during pretraining.
    solver : {"adam", "adamw", "sgd"}, default="adam"
        ``"sgd"`` uses Nesterov momentum 0.9.
    learning_rate_init : float, default=1e-3
    lr_schedule : {"constant", "cosine"}, default="constant"
        ``"cosine"`` decays the learning rate of each pretraining stage and of
        fine-tuning from ``learning_rate_init`` to 0 over their epochs
        (:class:`layerwise.train.CosineLR`). Measured worse as a default (on
        MNIST -0.11 pt, on nudged digits -1.6 pt; ``benchmarks/defaults.py``),
        so it is an option; see "Defaults" in the README.
    alpha : float, default=0.0
        L2 penalty (weight decay).
    batch_size : int or "auto", default="auto"
        ``"auto"`` is ``n_samples // 32`` clipped to [32, 256] (and to n_samples).
    pretrain_max_iter : int, default=20
        Epochs of pretraining per layer.
    max_iter : int, default=100
        Epochs of fine-tuning.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the labeled rows and stop
        fine-tuning when their loss stops improving; the best weights are kept.
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
    unlabeled : "auto", int, float, str or None, default="auto"
        The label that marks an unlabeled row: ``"auto"`` is ``-1`` for the
        classifier (the ``sklearn.semi_supervised`` convention) and ``NaN`` for
        the regressor (where ``NaN`` always marks one). ``None`` treats every
        row as labeled: use it when -1 is a real class (labels in {-1, 1}).
"""


class _PretrainedBase(TransformerMixin, LayerwiseBase):
    _epoch_params = ("pretrain_max_iter", "max_iter")

    def __init__(
        self,
        hidden_layer_sizes=(512, 256),
        activation="relu",
        pretrain="denoising",
        pretrain_params=None,
        finetune="full",
        encoder_lr_scale=1.0,
        loss="auto",
        tied=False,
        solver="adam",
        learning_rate_init=1e-3,
        lr_schedule="constant",
        alpha=0.0,
        batch_size="auto",
        pretrain_max_iter=20,
        max_iter=100,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        random_state=None,
        verbose=False,
        device="auto",
        precision="fp32",
        unlabeled="auto",
        pretrained=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.pretrain = pretrain
        self.pretrain_params = pretrain_params
        self.finetune = finetune
        self.encoder_lr_scale = encoder_lr_scale
        self.loss = loss
        self.tied = tied
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.lr_schedule = lr_schedule
        self.alpha = alpha
        self.batch_size = batch_size
        self.pretrain_max_iter = pretrain_max_iter
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.precision = precision
        self.unlabeled = unlabeled
        self.pretrained = pretrained

    def _pretrain_epochs(self) -> int:
        return self.pretrain_max_iter

    def _fit(self, X, y_targets: torch.Tensor, labeled: np.ndarray, n_out: int, objective, head_cls, stratify):
        """Pretrain on every row of ``X``, fine-tune on the ``labeled`` ones."""
        self._check_params(X.shape[0])
        ctx, seed = self._seed_context()
        with ctx:
            Xt = torch.from_numpy(X)
            stack = self._pretrain(Xt, seed)
            idx = np.flatnonzero(labeled)
            val = None
            if self.early_stopping and len(idx) >= 4:
                idx, vidx = train_test_split(idx, test_size=self.validation_fraction, random_state=seed, stratify=stratify(idx))
                val = (Xt[vidx], y_targets[vidx])
            head = head_cls(code_width(stack, Xt), n_out)
            params = self._trainer_params(len(idx), self.max_iter, "fine-tune", self.early_stopping and val is not None)
            trainer = Trainer(**params, seed=seed + 1000, checkpoint_dir=self._checkpoint_path("finetune"))
            model, history = finetune(stack, head, objective, (Xt[idx], y_targets[idx]), val, self.finetune,
                                      self.encoder_lr_scale, trainer, resume=getattr(self, "_resume", False))
        self.stack_, self.module_ = stack, model.eval()
        self.history_ = {"pretrain": self.pretrain_history_, "finetune": history}
        self.loss_curve_ = [h["loss"] for h in history]
        self.n_iter_ = len(history)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def transform(self, X) -> np.ndarray:
        """Codes of the top layer of the (fine-tuned) stack, ``(n_samples, hidden_layer_sizes[-1])``."""
        return self._encode(X)

    def _saved_state(self):
        """The stack's recipe and the target encoding, and ``module_`` (stack + head) to save."""
        return {"stack": self._stack_recipe, **self._target_state()}, self.module_

    def _restore_modules(self, state, load_weights) -> None:
        """Rebuild stack and head from the parameters and the recipe, then load the weights."""
        self._stack_recipe = state["stack"]
        self._restore_targets(state)
        stack = self._build_stack(self.n_features_in_, self._stack_recipe)
        head = self._head(code_width(stack, torch.zeros(1, self.n_features_in_)), self._n_outputs())
        model = stack_with_head(stack, head)
        load_weights(model)
        if self.finetune == "frozen":  # as fine-tuning left it
            freeze(stack)
        else:
            unfreeze(stack)
        self.stack_, self.module_ = stack, model.eval()

    def _target_state(self) -> dict:
        return {}

    def _restore_targets(self, state) -> None:
        pass

    def _forward(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        dev = next(self.module_.parameters()).device
        return predict_in_batches(self.module_, torch.from_numpy(X).to(dev)).float().cpu().numpy()


def code_width(stack, X: torch.Tensor) -> int:
    """Number of features of the stack's (flattened) top codes, from one row."""
    with torch.no_grad():
        return int(stack.eval()(X[:1]).flatten(1).shape[1])


class PretrainedClassifier(ClassifierMixin, _PretrainedBase):
    __doc__ = f"""Greedy layer-wise pretraining, then a softmax classifier fine-tuned on top.

    All rows of ``X`` are used for unsupervised pretraining; rows whose label is
    ``-1`` are used for nothing else (the ``sklearn.semi_supervised`` convention).

    Parameters
    ----------{_PARAMS_DOC}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    stack_ : EncoderStack
        The pretrained (and, with ``finetune="full"``, fine-tuned) encoder.
    module_ : torch.nn.Sequential
        ``stack_`` followed by the classifier head; outputs logits.
    history_ : dict
        ``{{"pretrain": [stage histories], "finetune": history}}``.
    loss_curve_ : list of float
    n_iter_ : int
        Fine-tuning epochs run.
    n_features_in_ : int

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16.0
    >>> y_partial = y.copy(); y_partial[200:] = -1   # labels for 200 rows only
    >>> clf = PretrainedClassifier((64,), pretrain_max_iter=2, max_iter=20, random_state=0)
    >>> clf.fit(X, y_partial).score(X[:200], y[:200]) > 0.8
    True
    """

    _head = ClassifierHead

    def fit(self, X, y, checkpoint_dir=None, resume=False):
        """Pretrain on all rows, fine-tune on the labeled ones (``y != -1``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels; ``-1`` marks an unlabeled row.
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
        if y is None:
            raise DataError(f"{type(self).__name__} requires y to be passed, but the target y is None. Pass class labels (-1 for unlabeled rows).")
        y = _labels_1d(y, X.shape[0])
        marker = -1 if self.unlabeled == "auto" else self.unlabeled
        labeled = ~_is_unlabeled(y, marker)
        if not labeled.any():
            raise DataError(f"Every label is {marker!r} (unlabeled); at least two labeled classes are needed to fine-tune. Use StackedAutoencoder for unlabeled data.")
        try:
            check_classification_targets(y[labeled])
            self.classes_, codes = np.unique(y[labeled], return_inverse=True)
        except TypeError as e:  # e.g. ["a", 1, ...]: strings and numbers cannot be sorted together
            kinds = sorted({type(v).__name__ for v in y[labeled]})
            raise DataError(f"The labels mix types ({', '.join(kinds)}); expected labels of one type, all numbers or all "
                            "strings. Convert them, e.g. y.astype(str).") from e
        if len(self.classes_) < 2:
            raise DataError(
                f"The labeled rows hold only one class ({self.classes_[0].item() if hasattr(self.classes_[0], 'item') else self.classes_[0]!r}); "
                f"a classifier needs at least 2 classes. Note that {marker!r} marks unlabeled rows: "
                "if it is a real class in your data, pass unlabeled=None."
            )
        targets = np.zeros(len(y), dtype=np.int64)
        targets[labeled] = codes
        self._set_checkpointing(checkpoint_dir, resume)
        return self._fit(X, torch.from_numpy(targets), labeled, len(self.classes_), Classification(), ClassifierHead, lambda i: targets[i] if np.bincount(targets[i]).min() >= 2 else None)

    def _n_outputs(self) -> int:
        return len(self.classes_)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, ``(n_samples, n_classes)``, columns in ``classes_`` order."""
        logits = self._forward(X)
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X) -> np.ndarray:
        """Log of :meth:`predict_proba`."""
        logits = self._forward(X)
        m = logits.max(axis=1, keepdims=True)
        return logits - m - np.log(np.exp(logits - m).sum(axis=1, keepdims=True))

    def predict(self, X) -> np.ndarray:
        """Predicted class labels, ``(n_samples,)``."""
        logits = self._forward(X)
        return self.classes_[logits.argmax(axis=1)]


class PretrainedRegressor(RegressorMixin, _PretrainedBase):
    __doc__ = f"""Greedy layer-wise pretraining, then a linear regression head fine-tuned on top.

    Rows whose target is ``NaN`` are used for pretraining only. Targets are
    standardised internally; predictions come back in the original units.

    Parameters
    ----------{_PARAMS_DOC}
    Attributes
    ----------
    stack_, module_, history_, loss_curve_, n_iter_, n_features_in_
        As in :class:`PretrainedClassifier`.

    Examples
    --------
    >>> rng = np.random.RandomState(0)
    >>> X = rng.rand(200, 5); y = X @ np.arange(5.0)
    >>> reg = PretrainedRegressor((16,), pretrain_max_iter=2, max_iter=50, random_state=0).fit(X, y)
    >>> reg.predict(X).shape
    (200,)
    """

    _head = RegressorHead

    def fit(self, X, y, checkpoint_dir=None, resume=False):
        """Pretrain on all rows, fine-tune on the rows with a finite target.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            ``NaN`` marks an unlabeled row.
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
        if y is None:
            raise DataError(f"{type(self).__name__} requires y to be passed, but the target y is None. Pass targets (NaN for unlabeled rows).")
        try:
            y = np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise DataError(f"y must be numeric for regression; could not convert it: {e}.") from e
        if y.ndim not in (1, 2) or len(y) != X.shape[0]:
            raise DataError(f"y must have shape (n_samples,) or (n_samples, n_targets) with n_samples={X.shape[0]}; got {y.shape}.")
        if np.isinf(y).any():
            raise DataError("Input y contains infinity; expected finite targets (NaN marks an unlabeled row).")
        y2 = y.reshape(len(y), -1)
        labeled = ~np.isnan(y2).any(axis=1)
        if self.unlabeled not in ("auto", None):
            labeled &= ~(y2 == self.unlabeled).any(axis=1)
        if not labeled.any():
            raise DataError("Input y contains NaN in every row: no row is labeled. At least one finite target is needed to fine-tune.")
        self._y_1d = y.ndim == 1
        self._y_mean = y2[labeled].mean(axis=0)
        self._y_std = y2[labeled].std(axis=0)
        self._y_std[self._y_std == 0] = 1.0
        targets = np.where(labeled[:, None], (y2 - self._y_mean) / self._y_std, 0.0).astype(np.float32)
        self._set_checkpointing(checkpoint_dir, resume)
        return self._fit(X, torch.from_numpy(targets), labeled, y2.shape[1], Regression(), RegressorHead, lambda i: None)

    def _n_outputs(self) -> int:
        return len(self._y_mean)

    def _target_state(self) -> dict:
        """The target standardisation, in original units."""
        return {"targets": {"one_dimensional": self._y_1d, "mean": self._y_mean, "std": self._y_std}}

    def _restore_targets(self, state) -> None:
        t = state["targets"]
        self._y_1d, self._y_mean, self._y_std = bool(t["one_dimensional"]), np.asarray(t["mean"]), np.asarray(t["std"])

    def _layerwise_state(self):
        params, state, module, meta = super()._layerwise_state()
        return params, state, module, {**meta, "target_scaling": {"mean": self._y_mean, "std": self._y_std}}

    def predict(self, X) -> np.ndarray:
        """Predicted targets, ``(n_samples,)`` or ``(n_samples, n_targets)``."""
        out = self._forward(X).astype(np.float64) * self._y_std + self._y_mean
        return out.ravel() if self._y_1d else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


def _labels_1d(y, n_rows: int) -> np.ndarray:
    """Class labels as a 1-D array of ``n_rows`` finite values, else :class:`DataError`."""
    try:
        y = column_or_1d(y, warn=True)
    except ValueError as e:
        shape = np.shape(y)
        raise DataError(f"y must be 1-D with one label per row; got shape {shape}. Pass y.ravel() for a column vector, "
                        "or one column of a 2-D label array.") from e
    if len(y) != n_rows:
        raise DataError(f"y has {len(y)} rows but X has {n_rows}; expected one label per row of X (-1 for unlabeled rows).")
    if y.dtype.kind == "f":
        try:
            assert_all_finite(y, input_name="y")
        except ValueError as e:
            raise DataError(f"{e} Class labels must be finite; PretrainedClassifier marks unlabeled rows with -1, not NaN "
                            "(NaN is the regressor's marker): replace them, e.g. np.where(np.isfinite(y), y, -1).") from e
    return y


def _is_unlabeled(y: np.ndarray, marker) -> np.ndarray:
    """Rows whose label equals ``marker`` (``None``: no row is unlabeled)."""
    if marker is None:
        return np.zeros(len(y), dtype=bool)
    if y.dtype.kind in "biuf":
        return y == marker if isinstance(marker, (int, float, np.number)) else np.zeros(len(y), dtype=bool)
    return np.asarray([v == marker for v in y], dtype=bool)
