"""``PretrainedClassifier`` and ``PretrainedRegressor``: pretrain, then fine-tune.

Unlabeled rows follow ``sklearn.semi_supervised``: a label of ``-1`` (classifier)
or a ``NaN`` target (regressor) marks a row used for pretraining only.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import ClassifierMixin, RegressorMixin, TransformerMixin
from sklearn.utils import _safe_indexing
from sklearn.utils.multiclass import check_classification_targets

from ..data.tables import looks_like_table
from ..exceptions import DataError
from ..nn.heads import ClassifierHead, RegressorHead
from ..nn.stack import freeze_trained, unfreeze
from ..objectives import Classification, Regression
from ..params import PRETRAINED
from ..params.auto import Situation
from ..params.table import PRETRAINED_CLASSIFIER
from ..pipeline import FineTune, Fit, Given, code_width
from ..pipeline.finetune import stack_with_head
from ..train.inference import predict_in_batches
from ._base import LayerwiseBase, check_is_fitted
from ._inputs import by_chunks, in_memory, is_external
from ._labels import check_label_kinds, is_nan, is_unlabeled, labels_1d
from ._reference import check_against_reference, wants_check
from ._semi import SemiSupervisedMixin
from ._stack import PretrainedStackMixin, checkpoint_doc
from ._warm import WarmStartMixin
from ._weights import check_sample_weight, class_weights, labeled_row_weights

__all__ = ["PretrainedClassifier", "PretrainedRegressor"]


class _PretrainedBase(TransformerMixin, PretrainedStackMixin, SemiSupervisedMixin, WarmStartMixin, LayerwiseBase):
    _parameters = PRETRAINED
    _task = "classification"

    def _pretrain_max_iter(self) -> int:
        return self.pretrain_max_iter

    def _fit(self, X, y_targets: torch.Tensor, labeled: np.ndarray, n_out: int, objective, stratify, checkpoint_dir, resume: bool,
             weights: np.ndarray | None = None):
        """Train the network (:meth:`_fit_network`), then check it against a supervised reference
        (``check_reference``; :func:`~layerwise.sklearn._reference.check_against_reference`).

        ``weights``: the rows' weights in the supervised cost (:func:`~layerwise.sklearn._weights.labeled_row_weights`),
        or None for none."""
        # X as the network sees it: encoded tables stay tables, except one of categories only (0/1 columns)
        self._rows_are_table = getattr(self, "preprocessor_", None) is not None or (
            getattr(self, "_input_image_shape", None) is None and looks_like_table(X))
        self._fit_network(X, y_targets, labeled, n_out, objective, stratify, checkpoint_dir, resume, weights)
        self._blend_recipe = None
        for name in ("reference_score_", "holdout_score_", "baseline_score_", "reference_name_", "blend_weight_", "blend_score_",
                     "blend_shares_"):
            setattr(self, name, None)
        if wants_check(self, self._rows_are_table):
            check_against_reference(self, X, y_targets, labeled, n_out, objective, stratify, self._task, weights)
        return self

    def _fit_network(self, X, y_targets: torch.Tensor, labeled: np.ndarray, n_out: int, objective, stratify, checkpoint_dir, resume: bool,
                     weights: np.ndarray | None = None):
        """Pretrain on every row of ``X``, fine-tune on the ``labeled`` ones; checkpoints under ``checkpoint_dir``.

        With a semi-supervised method (``semi_supervised``), train it on every row instead. ``weights``: of the
        rows in the supervised cost, or None (batches without a weight column: the fit as it was without them).

        A warm fit (``warm_start``, :meth:`_warm_fit`) continues the fitted network's last phase: the
        fine-tuning of the fitted stack and head (no pretraining), or the fitted method's training.
        """
        self._check_params(X.shape[0])
        warm = self._warm_fit(resume)
        method = self._semi_method(labeled, self._task) if warm is None else getattr(self, "semi_supervised_", None)
        if method is not None:
            return self._fit_semi(method, X, y_targets, labeled, n_out, stratify, checkpoint_dir, resume, weights, warm)
        self.semi_supervised_ = None
        ctx, seed = self._seed_context(None if warm is None else warm.seed)
        continuation = self._continuation_for(warm)
        max_iter = self._parameters["max_iter"].resolve(self.max_iter, Situation(X.shape[0])) + (0 if warm is None else continuation.epochs_done)
        Xt = torch.from_numpy(X)
        with ctx:  # the plan inside: a transferred stack's modules draw their (replaced) initial weights from the seed
            # a warm fit continues the fitted stack and head (the modules of module_), with this fit's dropout
            first = self._stack_phase(X.shape[1]) if warm is None else Given(warm.network.stack, self._stack_recipe)
            tune = FineTune(n_out, objective, self.finetune, self.encoder_lr_scale, self.dropout, self.input_dropout,
                            head=self._head if warm is None else warm.network.head, early_stopping=self.early_stopping,
                            validation_fraction=self.validation_fraction, train=self._settings(max_iter), continuation=continuation)
            result = Fit([first, tune], seed, checkpoint_dir, resume, seeded=False).run(Xt, y_targets, labeled, weights, stratify)
        if warm is None:
            self._keep_stack(first, result)
        self.stack_, self.module_ = result.stack, result.model
        self.history_ = {"pretrain": getattr(self, "pretrain_history_", []), "finetune": result.history["finetune"]}
        self._set_curves(result.history["finetune"])
        self._keep_for_warm_start(seed, continuation)
        return self

    def _finetuning_stack(self, stack):
        """The stack with this estimator's fine-tuning dropout (active only while it trains: full fine-tuning)."""
        stack.dropout, stack.input_dropout = float(self.dropout), float(self.input_dropout)
        return stack

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def transform(self, X) -> np.ndarray:
        """Codes of the top layer of the (fine-tuned) stack, ``(n_samples, hidden_layer_sizes[-1])``.

        After a semi-supervised method: its network's codes (the ladder's top hidden layer, M1's latent mean).
        ``X`` may also be a ``Dataset``, a ``DataLoader`` without shuffling, a
        ``.npy`` file or a folder of images, read a chunk at a time (as in
        :meth:`predict`).
        """
        if getattr(self, "semi_supervised_", None) is None:
            return self._encode(X)
        return self._forward(X, method="transform")

    def _saved_state(self):
        """The stack's recipe (and the blended reference's, if any), and ``module_`` (stack + head) to save."""
        blend = getattr(self, "_blend_recipe", None)
        return {"stack": self._stack_recipe, **({"blend": blend} if blend else {})}, self.module_

    def _restore_modules(self, state, load_weights) -> None:
        """Rebuild stack and head from the parameters and the recipe, then load the weights."""
        self._stack_recipe = state["stack"]
        self._blend_recipe = state.get("blend")
        self._warm_state = None  # a model file holds no optimizer state: a warm fit continues from the weights alone
        self._record_fitted_params()
        if self._stack_recipe["kind"] == "semi":
            model = self._with_blend(self._build_semi(self._stack_recipe, self._n_inputs(), self._n_outputs()))
            load_weights(model)
            self.stack_, self.module_ = None, model.eval()
            return
        stack = self._finetuning_stack(self._build_stack(self._n_inputs(), self._stack_recipe))
        head = self._head(code_width(stack, torch.zeros(1, self._n_inputs())), self._n_outputs())
        model = self._with_blend(stack_with_head(stack, head))
        load_weights(model)
        if self.finetune == "frozen":  # as fine-tuning left it
            freeze_trained(stack)
        else:
            unfreeze(stack)
        self.stack_, self.module_ = stack, model.eval()

    def _with_blend(self, network: torch.nn.Module) -> torch.nn.Module:
        """``network``, or the :class:`~layerwise.nn.blend.ReferenceBlend` the saved recipe describes (empty weights)."""
        if not self._blend_recipe:
            return network
        from ..nn.blend import ReferenceBlend
        from ..nn.reference import build_reference

        recipes = [dict(r) for r in self._blend_recipe["references"]]
        shares = [r.pop("share") for r in recipes]
        references = [build_reference(r.pop("kind"), r) for r in recipes]
        return ReferenceBlend(network, references, self._blend_recipe["weight"], shares, self._task)

    def _forward(self, X, method: str | None = None) -> np.ndarray:
        """``module_(X)`` (or ``module_.method(X)``) in eval mode, as a float32 array."""
        if is_external(X):  # a Dataset, a .npy file, an image folder: a chunk of rows at a time
            return by_chunks(lambda part: self._forward(part, method), X, image_size=getattr(self, "image_size", None))
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        dev = next(self.module_.parameters()).device
        return predict_in_batches(self.module_, torch.from_numpy(X).to(dev), method=method).float().cpu().numpy()


class PretrainedClassifier(ClassifierMixin, _PretrainedBase):
    """A classifier that learns from unlabeled rows too: a ladder network, or pretraining then fine-tuning.

    Rows whose label is ``-1`` are unlabeled (the ``sklearn.semi_supervised``
    convention). When there are some, the default (``semi_supervised="auto"``)
    trains a ladder network (Rasmus et al. 2015) on every row at every step: the
    method that won with few labels (README, "Few labels"). With every row
    labeled, or ``semi_supervised=None``, the network is pretrained greedily,
    layer by layer, on every row without labels, then a softmax head is
    fine-tuned on top with the labeled rows. Every parameter after the first is
    keyword-only.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    stack_ : EncoderStack or None
        The pretrained (and, with ``finetune="full"``, fine-tuned) encoder; ``None`` when a
        semi-supervised method trained its own network.
    module_ : torch.nn.Module
        ``stack_`` followed by the classifier head, or the semi-supervised method's network
        (:class:`~layerwise.nn.ladder.LadderNetwork`, :class:`~layerwise.nn.m2.M1M2`); outputs logits.
    semi_supervised_ : str or None
        The semi-supervised method that trained ``module_`` (what ``semi_supervised="auto"`` chose), or
        ``None`` when the stack was pretrained, then fine-tuned on the labeled rows.
    history_ : dict
        ``{"pretrain": [stage histories], "finetune": history}``.
    loss_curve_ : list of float
        Fine-tuning loss of each epoch (with ``warm_start``, of every fit's epochs).
    validation_scores_ : list of float or None
        With ``early_stopping``: the negated loss of the validation rows at
        each epoch (higher is better, as scikit-learn's scores); else None.
    best_validation_score_ : float or None
    n_iter_ : int
        Fine-tuning epochs run (with ``warm_start``, over every fit, as scikit-learn's MLP counts them).
    n_features_in_ : int
        Input columns (scikit-learn's meaning); ``feature_names_in_`` holds their names for a DataFrame.
    preprocessor_ : TablePreprocessor or None
        The per-column encoding of a table (``scale="table"``, or ``"auto"`` on a table), saved with the
        model; the network takes its ``n_features_out_`` encoded columns. None for other rows.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16.0
    >>> y_partial = y.copy(); y_partial[200:] = -1   # labels for 200 rows only
    >>> clf = PretrainedClassifier((64,), max_iter=40, random_state=0)
    >>> clf.fit(X, y_partial).semi_supervised_     # rows marked -1: the ladder network
    'ladder'
    >>> clf.score(X[200:], y[200:]) > 0.8
    True
    """

    _parameters = PRETRAINED_CLASSIFIER
    _head = ClassifierHead

    @checkpoint_doc
    def fit(self, X, y=None, sample_weight=None, checkpoint_dir=None, resume=False):
        """Pretrain on all rows, fine-tune on the labeled ones (``y != -1``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), Dataset, DataLoader or path
            Rows; or a ``torch.utils.data.Dataset``/``DataLoader`` of ``(x, y)``
            items; or the path of a ``.npy`` file (or a
            :class:`~layerwise.data.NpyFile`), of an ``.npz`` archive (one
            array, or the rows under ``X`` and the labels under ``y``), of a
            ``.csv`` file of numbers (a header line is detected), or of a
            folder of images with one subfolder per class (labels: the
            folders' names; ``image_size`` resizes them). Images are flattened
            into rows; ``pretrain="conv"`` gets their shape. Fine-tuning holds
            the rows in memory.
        y : array-like of shape (n_samples,), str or path, optional
            Class labels; ``-1`` marks an unlabeled row. A path: a ``.npy``,
            ``.npz`` or one-column ``.csv`` file of labels
            (``fit("X.npy", "y.npy")``). With ``X`` a ``.csv`` path, a string
            names its label column (``fit("data.csv", y="label")``), and the
            other columns are the features. Default: the labels of a dataset,
            an image folder or an ``.npz`` archive.
        sample_weight : array-like of shape (n_samples,) or float, optional
            Weights of the rows in the supervised cost (finite numbers >= 0), multiplied by
            ``class_weight`` as scikit-learn multiplies them: each batch's cost is the weighted
            mean of its labeled rows' losses, ``sum(w_i * l_i) / sum(w_i)``, which is what
            scikit-learn's losses compute with ``sample_weight``. Only their ratios count (equal
            weights train bitwise as none), and the label of a row of weight 0 adds nothing (the
            row itself still pretrains, as every row does). Unlabeled rows' weights are checked
            but not used: they have no label to weigh, and every row pretrains (or trains the
            semi-supervised method's unsupervised cost) alike. The early-stopping validation loss
            is not weighted. With ``check_reference`` the second fit and the references are
            trained with the same weights; the check's scores are unweighted accuracies.
        {checkpoint_args}

        Returns
        -------
        self
        """
        warm = self._continues()  # warm_start: the fitted network, with its input scaling and classes
        X, y = self._fit_input(X, y)
        X = self._warm_rows(X) if warm else self._validate_X(X, reset=True)
        if y is None:
            raise DataError(f"{type(self).__name__} requires y to be passed, but the target y is None. Pass class labels (-1 for unlabeled rows).")
        y = labels_1d(y, X.shape[0])
        sample_weight = check_sample_weight(sample_weight, X.shape[0])
        marker = -1 if self.unlabeled == "auto" else self.unlabeled
        labeled = ~is_unlabeled(y, marker)
        if not labeled.any():
            raise DataError(f"Every label is {marker!r} (unlabeled); at least two labeled classes are needed to fine-tune. "
                            "Use StackedAutoencoder for unlabeled data.")
        try:
            check_classification_targets(y[labeled])
            if warm:  # the head's outputs are the fitted classes: a warm fit's labels may be some of them, never others
                codes = self._warm_codes(y[labeled])
            else:
                self.classes_, codes = np.unique(y[labeled], return_inverse=True)
        except TypeError as e:  # e.g. ["a", 1, ...]: strings and numbers cannot be sorted together
            kinds = sorted({type(v).__name__ for v in y[labeled]})
            raise DataError(f"The labels mix types ({', '.join(kinds)}); expected labels of one type, all numbers or all "
                            "strings. Convert them, e.g. y.astype(str).") from e
        if len(self.classes_) < 2:  # (a warm fit's classes_ are the fitted ones: at least 2)
            raise DataError(
                f"The labeled rows hold only one class ({self.classes_[0].item() if hasattr(self.classes_[0], 'item') else self.classes_[0]!r}); "
                f"a classifier needs at least 2 classes. Note that {marker!r} marks unlabeled rows: "
                "if it is a real class in your data, pass unlabeled=None."
            )
        targets = np.zeros(len(y), dtype=np.int64)
        targets[labeled] = codes
        weights = self._row_weights(sample_weight, targets, labeled)
        return self._fit(X, torch.from_numpy(targets), labeled, len(self.classes_), Classification(),
                         lambda i: targets[i] if np.bincount(targets[i]).min() >= 2 else None, checkpoint_dir, resume, weights)

    def _row_weights(self, sample_weight: np.ndarray | None, targets: np.ndarray, labeled: np.ndarray) -> np.ndarray | None:
        """``sample_weight_i * class_weight[y_i]`` of the labeled rows (scikit-learn's product), or None when they are all equal."""
        self._parameters.select("class_weight").validate({"class_weight": self.class_weight}, type(self).__name__)
        if self.class_weight is None and sample_weight is None:
            return None
        per_class = class_weights(self.class_weight, self.classes_, targets[labeled],
                                   None if sample_weight is None else sample_weight[labeled])
        return labeled_row_weights(per_class[targets] * (1.0 if sample_weight is None else sample_weight), labeled)

    def _n_outputs(self) -> int:
        return len(self.classes_)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, ``(n_samples, n_classes)`` float64, columns in ``classes_`` order."""
        # softmax row by row in float64: each row's value depends on that row alone (batch-invariant)
        return torch.softmax(torch.from_numpy(self._forward(X)).double(), dim=1).numpy()

    def predict_log_proba(self, X) -> np.ndarray:
        """Log of :meth:`predict_proba`."""
        return torch.log_softmax(torch.from_numpy(self._forward(X)).double(), dim=1).numpy()

    def score(self, X, y=None, sample_weight=None) -> float:
        """Accuracy on the labeled rows of ``(X, y)``: rows whose label marks them unlabeled (``-1``, or
        ``unlabeled``) are left out, so a partly labeled ``y`` (cross-validation, ``GridSearchCV`` on the
        training labels) is scored on what is known, never counting an unlabeled row as a wrong answer.

        ``X`` and ``y`` may be what :meth:`fit` takes: with ``y`` None, a folder of images is scored with its
        folders' labels (``classes_`` are those names), an ``.npz`` archive with its ``y``; ``y`` may be the path of a
        file of labels, or name the label column of a ``.csv`` ``X`` (``score("test.csv", y="label")``).
        """
        X, y = self._labeled_input(X, y)
        if y is None:
            raise DataError(f"{type(self).__name__}.score needs y: pass the labels, or X with labels of its own "
                            "(a folder of images with one subfolder per class, a Dataset of (x, y), an .npz archive with "
                            "an array 'y'), or name the label column of a .csv X with y='<its name>'.")
        y = np.asarray(y)
        marker = -1 if self.unlabeled == "auto" else self.unlabeled
        keep = ~is_unlabeled(y.ravel() if y.ndim > 1 else y, marker)
        if not keep.any():
            raise DataError(f"Every label of y is unlabeled ({marker!r} marks them): no row to score. Score on "
                            "labeled rows.")
        check_label_kinds(self.classes_, y[keep], "y")
        if not keep.all():
            X = in_memory(X, getattr(self, "image_size", None))  # a file's rows, to leave the unlabeled ones out
            X, y = _safe_indexing(X, np.flatnonzero(keep)), y[keep]
            sample_weight = None if sample_weight is None else np.asarray(sample_weight)[keep]
        return super().score(X, y, sample_weight=sample_weight)

    def predict(self, X) -> np.ndarray:
        """Predicted class labels, ``(n_samples,)``.

        ``X``: rows, or what :meth:`fit` takes (a ``Dataset``, a
        ``DataLoader`` in a fixed order, a ``.npy``, ``.npz`` or ``.csv`` file,
        a folder of images, resized to ``image_size``), read a chunk at a time.
        A ``.csv`` file gives every column: one that holds labels must be left
        out of it (or name it to :meth:`score`).
        """
        logits = self._forward(X)
        return self.classes_[logits.argmax(axis=1)]


class PretrainedRegressor(RegressorMixin, _PretrainedBase):
    """Greedy layer-wise pretraining, then a linear regression head fine-tuned on top.

    Rows whose target is ``NaN`` are used for pretraining only. Targets are
    standardised internally; predictions come back in the original units.
    Every parameter after the first is keyword-only.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    stack_, module_, history_, loss_curve_, validation_scores_, best_validation_score_, n_iter_, n_features_in_, preprocessor_
        As in :class:`PretrainedClassifier`.
    y_mean_, y_scale_ : ndarray of shape (n_targets,)
        Mean and standard deviation (1 where it is 0) of the labeled targets: the head learns
        ``(y - y_mean_) / y_scale_``.
    n_outputs_ : int
    y_ndim_ : int
        1 when ``fit`` saw ``y`` of shape ``(n_samples,)``, so ``predict`` returns that shape too; else 2.

    Examples
    --------
    >>> rng = np.random.RandomState(0)
    >>> X = rng.rand(200, 5); y = X @ np.arange(5.0)
    >>> reg = PretrainedRegressor((16,), pretrain_max_iter=2, max_iter=50, random_state=0).fit(X, y)
    >>> reg.predict(X).shape
    (200,)
    """

    _head = RegressorHead
    _task = "regression"

    @checkpoint_doc
    def fit(self, X, y=None, sample_weight=None, checkpoint_dir=None, resume=False):
        """Pretrain on all rows, fine-tune on the rows with a finite target.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), Dataset, DataLoader or path
            As in :meth:`PretrainedClassifier.fit`.
        y : array-like of shape (n_samples,) or (n_samples, n_targets), str or path, optional
            ``NaN`` marks an unlabeled row. A path or a column name as in
            :meth:`PretrainedClassifier.fit` (``fit("data.csv", y="price")``;
            an empty cell is ``NaN``). Default: the targets of a dataset or of
            an ``.npz`` archive.
        sample_weight : array-like of shape (n_samples,) or float, optional
            Weights of the rows in the fine-tuning cost (finite numbers >= 0), as in
            :meth:`PretrainedClassifier.fit`: each batch's cost is the weighted mean of its
            labeled rows' squared errors. Rows with a ``NaN`` target have none to weigh: their
            weights are checked but not used.
        {checkpoint_args}

        Returns
        -------
        self
        """
        warm = self._continues()  # warm_start: the fitted network, with its input and target scaling
        X, y = self._fit_input(X, y)
        X = self._warm_rows(X) if warm else self._validate_X(X, reset=True)
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
        if self.unlabeled not in ("auto", None) and not is_nan(self.unlabeled):  # NaN marks a row here anyway
            labeled &= ~is_unlabeled(y2.ravel(), self.unlabeled).reshape(y2.shape).any(axis=1)
        if not labeled.any():
            raise DataError("Input y contains NaN in every row: no row is labeled. At least one finite target is needed to fine-tune.")
        if warm and y2.shape[1] != self.n_outputs_:
            raise DataError(f"y has {y2.shape[1]} target(s) per row, but this {type(self).__name__} was fitted on "
                            f"{self.n_outputs_}, and warm_start=True continues that network, whose head has one output per "
                            f"target. Pass {self.n_outputs_} target(s) per row, or set warm_start=False to start over on "
                            "the new ones.")
        self.y_ndim_, self.n_outputs_ = y.ndim, y2.shape[1]
        if not warm:  # a warm fit keeps the scaling the head learned its outputs in
            self.y_mean_ = y2[labeled].mean(axis=0)
            self.y_scale_ = y2[labeled].std(axis=0)
            self.y_scale_[self.y_scale_ == 0] = 1.0
        targets = np.where(labeled[:, None], (y2 - self.y_mean_) / self.y_scale_, 0.0).astype(np.float32)
        sample_weight = check_sample_weight(sample_weight, X.shape[0])
        weights = None if sample_weight is None else labeled_row_weights(sample_weight, labeled)
        return self._fit(X, torch.from_numpy(targets), labeled, y2.shape[1], Regression(), lambda i: None, checkpoint_dir, resume,
                         weights)

    def _n_outputs(self) -> int:
        return len(self.y_mean_)

    def _saved_meta(self) -> dict:
        return {"target_scaling": {"mean": self.y_mean_, "std": self.y_scale_}}

    def _restore_modules(self, state, load_weights) -> None:
        if "targets" in state:  # a model file written before 0.2, when the target scaling was private
            t = state["targets"]
            self.y_ndim_ = 1 if t["one_dimensional"] else 2
            self.y_mean_, self.y_scale_ = np.asarray(t["mean"]), np.asarray(t["std"])
            self.n_outputs_ = len(self.y_mean_)
        super()._restore_modules(state, load_weights)

    def score(self, X, y=None, sample_weight=None) -> float:
        """:math:`R^2` of :meth:`predict` (scikit-learn's ``RegressorMixin.score``) on the labeled rows: rows with a NaN
        target (the regressor's unlabeled marker) are left out, as the classifier's ``score`` leaves out ``-1``.

        ``X`` and ``y`` may be what :meth:`fit` takes: ``y`` None reads the targets of a dataset or an ``.npz``
        archive, a path reads a file of targets, a string names the target column of a ``.csv`` ``X``.
        """
        X, y = self._labeled_input(X, y)
        if y is None:
            raise DataError(f"{type(self).__name__}.score needs y: pass the targets, or X with targets of its own (a Dataset "
                            "of (x, y), an .npz archive with an array 'y'), or name the target column of a .csv X with "
                            "y='<its name>'.")
        y = np.asarray(y)
        if y.dtype.kind == "f":  # NaN marks an unlabeled target: scored on the labeled rows, as the classifier's score is
            keep = ~np.isnan(y.reshape(len(y), -1)).any(axis=1)
            if not keep.any():
                raise DataError("Every target of y is NaN (unlabeled): no row to score. Score on labeled rows.")
            if not keep.all():
                X = in_memory(X, getattr(self, "image_size", None))
                X, y = _safe_indexing(X, np.flatnonzero(keep)), y[keep]
                sample_weight = None if sample_weight is None else np.asarray(sample_weight)[keep]
        return super().score(X, y, sample_weight=sample_weight)

    def predict(self, X) -> np.ndarray:
        """Predicted targets, ``(n_samples,)`` or ``(n_samples, n_targets)``."""
        out = self._forward(X).astype(np.float64) * self.y_scale_ + self.y_mean_
        return out.ravel() if self.y_ndim_ == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
