"""Fitted scikit-learn models as exact, serialisable torch modules.

:class:`TreeEnsemble` reproduces the prediction function of a fitted
``HistGradientBoostingClassifier`` / ``HistGradientBoostingRegressor``;
:class:`LinearReference` reproduces ``make_pipeline(StandardScaler(),
LogisticRegression())`` or ``make_pipeline(StandardScaler(), Ridge())`` as one
affine layer. Both keep everything in buffers, so ``state_dict()`` can be
written with ``safetensors.torch.save_file`` and a module is rebuilt with
``cls(**module.config())`` (or :func:`build_reference`) before
``load_state_dict``.

Both return *raw scores* as float32: logits for classifiers (``softmax`` gives
``predict_proba``; a binary classifier returns the two columns ``[0, z]``) and
predictions for regressors.

Dtypes
------
Thresholds, leaf values, baselines, weights and biases are float64 buffers,
and inputs are cast to float64 before use: scikit-learn compares float64
inputs with float64 thresholds and sums float64 leaf values, so float32
storage would send inputs that lie between a threshold and its float32
rounding down the wrong branch. Only the final result is cast to float32.
Module-wide dtype casts (``.float()``, ``.half()``, ``.to(dtype)``) leave these
buffers float64; they only move them to the new device.

Rows are computed independently (no reduction across the batch), so each
row's output depends on that row only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ..exceptions import ConfigError, DataError
from .blocks import _check_size

__all__ = ["LinearReference", "TreeEnsemble", "build_reference", "reference_module"]


class _Float64Buffers(nn.Module):
    """Mixin: keep the float64 buffers float64 through module dtype casts."""

    _float64_buffers: ClassVar[tuple[str, ...]] = ()

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True) -> Any:
        saved = {name: self._buffers[name] for name in self._float64_buffers}
        super()._apply(fn, recurse)
        for name, old in saved.items():
            new = self._buffers[name]
            if old is not None and new is not None and new.dtype != old.dtype:
                self._buffers[name] = old.to(device=new.device)
        return self

    def _check_input(self, x: torch.Tensor, n_features: int) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != n_features:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise DataError(
                f"{type(self).__name__} expects a tensor of shape (n, {n_features}); got {shape}."
            )
        return x.to(torch.float64)


class TreeEnsemble(_Float64Buffers):
    """Prediction function of a fitted histogram gradient boosting model.

    Every tree is stored as flat node arrays (padded to ``n_nodes``); a row
    starts at node 0 of every tree and moves one level per step: left when
    ``x[feature] <= threshold`` (or, for NaN, when ``missing_left``), right
    otherwise, until every tree has reached a leaf. Leaves are absorbing, so
    padding nodes (marked as leaves with value 0) are never reached.

    Parameters
    ----------
    n_features : int
        Number of input columns.
    n_outputs : int
        Number of output columns: 2 for a binary classifier (``[0, raw]``),
        ``K`` for a ``K``-class classifier, 1 for a regressor.
    n_trees : int
        Number of trees (iterations times trees per iteration).
    n_nodes : int
        Nodes per tree after padding (the largest tree's node count).

    Attributes
    ----------
    feature : torch.Tensor of int64, shape (n_trees, n_nodes)
        Feature index compared at each split node.
    threshold : torch.Tensor of float64, shape (n_trees, n_nodes)
        Split threshold (scikit-learn's float64 ``num_threshold``).
    left, right : torch.Tensor of int64, shape (n_trees, n_nodes)
        Child node indices.
    is_leaf : torch.Tensor of bool, shape (n_trees, n_nodes)
        Leaf flag (padding nodes are leaves).
    missing_left : torch.Tensor of bool, shape (n_trees, n_nodes)
        Where a NaN goes at each split node.
    value : torch.Tensor of float64, shape (n_trees, n_nodes)
        Leaf values (learning rate already applied).
    output : torch.Tensor of int64, shape (n_trees,)
        Output column each tree adds to.
    baseline : torch.Tensor of float64, shape (n_outputs,)
        Constant added to every row.
    """

    kind: ClassVar[str] = "trees"
    _float64_buffers = ("threshold", "value", "baseline")

    feature: torch.Tensor
    threshold: torch.Tensor
    left: torch.Tensor
    right: torch.Tensor
    is_leaf: torch.Tensor
    missing_left: torch.Tensor
    value: torch.Tensor
    output: torch.Tensor
    baseline: torch.Tensor

    def __init__(self, n_features: int, n_outputs: int, n_trees: int, n_nodes: int) -> None:
        super().__init__()
        self.n_features = _check_size("n_features", n_features)
        self.n_outputs = _check_size("n_outputs", n_outputs)
        self.n_trees = _check_size("n_trees", n_trees)
        self.n_nodes = _check_size("n_nodes", n_nodes)
        shape = (n_trees, n_nodes)
        self.register_buffer("feature", torch.zeros(shape, dtype=torch.int64))
        self.register_buffer("threshold", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("left", torch.zeros(shape, dtype=torch.int64))
        self.register_buffer("right", torch.zeros(shape, dtype=torch.int64))
        self.register_buffer("is_leaf", torch.zeros(shape, dtype=torch.bool))
        self.register_buffer("missing_left", torch.zeros(shape, dtype=torch.bool))
        self.register_buffer("value", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("output", torch.zeros(n_trees, dtype=torch.int64))
        self.register_buffer("baseline", torch.zeros(n_outputs, dtype=torch.float64))

    def config(self) -> dict[str, int]:
        """Constructor arguments: ``TreeEnsemble(**config)`` rebuilds the shapes."""
        return {
            "n_features": self.n_features,
            "n_outputs": self.n_outputs,
            "n_trees": self.n_trees,
            "n_nodes": self.n_nodes,
        }

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.config().items())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw scores.

        Parameters
        ----------
        x : torch.Tensor, shape (n, n_features)
            Inputs of any floating dtype (cast to float64); NaN follows
            ``missing_left``.

        Returns
        -------
        torch.Tensor of float32, shape (n, n_outputs)
            ``baseline`` plus, for each output, the sum of the leaf values
            reached in the trees of that output.
        """
        x = self._check_input(x, self.n_features)
        n = x.shape[0]
        n_trees, n_nodes = self.n_trees, self.n_nodes
        # Flat node index of node j of tree t is t * n_nodes + j.
        offset = torch.arange(n_trees, device=x.device).mul_(n_nodes).expand(n, n_trees)
        feature = self.feature.reshape(-1)
        threshold = self.threshold.reshape(-1)
        left = self.left.reshape(-1)
        right = self.right.reshape(-1)
        is_leaf = self.is_leaf.reshape(-1)
        missing_left = self.missing_left.reshape(-1)

        node = torch.zeros((n, n_trees), dtype=torch.int64, device=x.device)
        # A path is at most n_nodes - 1 splits long; stop as soon as all rows are at leaves.
        for _ in range(n_nodes):
            flat = node + offset
            leaf = is_leaf[flat]
            if bool(leaf.all()):
                break
            xv = x.gather(1, feature[flat])
            go_left = torch.where(torch.isnan(xv), missing_left[flat], xv <= threshold[flat])
            child = torch.where(go_left, left[flat], right[flat])
            node = torch.where(leaf, node, child)

        leaf_value = self.value.reshape(-1)[node + offset]  # (n, n_trees) float64
        out = self.baseline.expand(n, self.n_outputs).clone()
        for k in range(self.n_outputs):
            trees = torch.nonzero(self.output == k).flatten()
            if trees.numel():
                out[:, k] += leaf_value.index_select(1, trees).sum(dim=1)
        return out.to(torch.float32)

    @classmethod
    def from_sklearn(cls, model: Any) -> TreeEnsemble:
        """Copy a fitted ``HistGradientBoosting{Classifier,Regressor}``.

        Parameters
        ----------
        model : HistGradientBoostingClassifier or HistGradientBoostingRegressor
            Fitted on numeric features only, with a loss whose link is the
            identity (squared/absolute error, quantile, ...), logit
            (``log_loss``, binary) or multinomial logit (``log_loss``, K > 2).

        Returns
        -------
        TreeEnsemble
            Module whose ``forward`` equals ``model._raw_predict`` (cast to
            float32), as ``[0, raw]`` for a binary classifier.

        Raises
        ------
        ConfigError
            If the model is not fitted, has categorical features or splits,
            or uses a loss with another link (poisson, gamma: log link). Such
            losses are refused rather than inverted, because the module's
            contract is raw scores whose softmax / identity is the prediction.
        """
        # All scikit-learn private attribute access lives here. Written against
        # scikit-learn 1.9.1: ``_predictors`` (list over iterations of lists of
        # ``TreePredictor`` with a ``nodes`` structured array), ``_baseline_prediction``
        # (float64, shape (1, n_trees_per_iteration_)), ``_loss.link``, ``_preprocessor``
        # and ``is_categorical_``.
        name = type(model).__name__
        predictors = getattr(model, "_predictors", None)
        if name not in ("HistGradientBoostingClassifier", "HistGradientBoostingRegressor"):
            raise ConfigError(f"TreeEnsemble.from_sklearn expects a HistGradientBoosting model; got {name}.")
        if not predictors:
            raise ConfigError(f"{name} is not fitted; call fit before TreeEnsemble.from_sklearn.")
        is_categorical = getattr(model, "is_categorical_", None)
        has_categorical = (
            getattr(model, "_preprocessor", None) is not None
            or (is_categorical is not None and bool(np.any(is_categorical)))
            or any(bool(np.any(p.nodes["is_categorical"])) for it in predictors for p in it)
        )
        if has_categorical:
            raise ConfigError(
                f"{name} was fitted with categorical features; TreeEnsemble only supports "
                "numeric splits. Refit with categorical_features=None (e.g. one-hot encode first)."
            )
        loss = type(model._loss).__name__
        link = type(model._loss.link).__name__
        if link not in ("IdentityLink", "LogitLink", "MultinomialLogit"):
            raise ConfigError(
                f"{name} uses loss {loss} with link {link}; TreeEnsemble supports only losses "
                "with an identity, logit or multinomial-logit link (squared_error, absolute_error, "
                "quantile, log_loss)."
            )

        k_per_iter = int(model.n_trees_per_iteration_)
        baseline = np.asarray(model._baseline_prediction, dtype=np.float64).reshape(-1)
        binary = link == "LogitLink"
        if binary:
            n_outputs, shift, baseline = 2, 1, np.concatenate([[0.0], baseline])
        else:
            n_outputs, shift = k_per_iter, 0
        trees = [(k + shift, p.nodes) for it in predictors for k, p in enumerate(it)]
        n_nodes = max(len(nodes) for _, nodes in trees)

        module = cls(
            n_features=int(model.n_features_in_),
            n_outputs=n_outputs,
            n_trees=len(trees),
            n_nodes=n_nodes,
        )
        shape = (len(trees), n_nodes)
        feature = np.zeros(shape, dtype=np.int64)
        threshold = np.zeros(shape, dtype=np.float64)
        left = np.zeros(shape, dtype=np.int64)
        right = np.zeros(shape, dtype=np.int64)
        is_leaf = np.ones(shape, dtype=bool)  # padding nodes are (unreachable) leaves
        missing_left = np.zeros(shape, dtype=bool)
        value = np.zeros(shape, dtype=np.float64)
        for t, (_, nodes) in enumerate(trees):
            m = len(nodes)
            feature[t, :m] = nodes["feature_idx"]
            threshold[t, :m] = nodes["num_threshold"]
            left[t, :m] = nodes["left"]
            right[t, :m] = nodes["right"]
            is_leaf[t, :m] = nodes["is_leaf"].astype(bool)
            missing_left[t, :m] = nodes["missing_go_to_left"].astype(bool)
            value[t, :m] = np.where(is_leaf[t, :m], nodes["value"], 0.0)
        arrays = {
            "feature": feature,
            "threshold": threshold,
            "left": left,
            "right": right,
            "is_leaf": is_leaf,
            "missing_left": missing_left,
            "value": value,
            "output": np.array([k for k, _ in trees], dtype=np.int64),
            "baseline": baseline,
        }
        with torch.no_grad():
            for key, array in arrays.items():
                getattr(module, key).copy_(torch.from_numpy(np.ascontiguousarray(array)))
        return module


class LinearReference(_Float64Buffers):
    """A fitted (scaler +) logistic regression or ridge as one affine layer.

    ``forward(x) = x @ weight.T + bias`` computed in float64, with the
    ``StandardScaler`` folded in: ``weight = coef / scale`` and
    ``bias = intercept - weight @ mean``.

    Parameters
    ----------
    n_features : int
        Number of input columns.
    n_outputs : int
        Number of output columns: 2 for binary logistic (``[0, z]``), ``K``
        for multinomial, ``n_targets`` for ridge (1 for 1-D ``y``).

    Attributes
    ----------
    weight : torch.Tensor of float64, shape (n_outputs, n_features)
    bias : torch.Tensor of float64, shape (n_outputs,)
    """

    kind: ClassVar[str] = "linear"
    _float64_buffers = ("weight", "bias")

    weight: torch.Tensor
    bias: torch.Tensor

    def __init__(self, n_features: int, n_outputs: int) -> None:
        super().__init__()
        self.n_features = _check_size("n_features", n_features)
        self.n_outputs = _check_size("n_outputs", n_outputs)
        self.register_buffer("weight", torch.zeros((n_outputs, n_features), dtype=torch.float64))
        self.register_buffer("bias", torch.zeros(n_outputs, dtype=torch.float64))

    def config(self) -> dict[str, int]:
        """Constructor arguments: ``LinearReference(**config)`` rebuilds the shapes."""
        return {"n_features": self.n_features, "n_outputs": self.n_outputs}

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.config().items())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (classifier) or predictions (ridge).

        Parameters
        ----------
        x : torch.Tensor, shape (n, n_features)
            Inputs of any floating dtype (cast to float64).

        Returns
        -------
        torch.Tensor of float32, shape (n, n_outputs)
        """
        x = self._check_input(x, self.n_features)
        # Elementwise product and a per-row reduction rather than a matmul, so
        # that no BLAS kernel choice (which depends on the batch size) can change
        # a row's result.
        z = (x.unsqueeze(1) * self.weight).sum(dim=-1) + self.bias
        return z.to(torch.float32)

    @classmethod
    def from_sklearn(cls, pipeline: Any) -> LinearReference:
        """Fold a fitted ``[StandardScaler ->] LogisticRegression | Ridge``.

        Parameters
        ----------
        pipeline : Pipeline or estimator
            ``make_pipeline(StandardScaler(), LogisticRegression(...))``,
            ``make_pipeline(StandardScaler(), Ridge(...))``, or either final
            estimator on its own, fitted.

        Returns
        -------
        LinearReference

        Raises
        ------
        ConfigError
            For other steps or estimators, or an unfitted model.
        """
        from sklearn.linear_model import LogisticRegression, Ridge
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        steps = [s for _, s in pipeline.steps] if isinstance(pipeline, Pipeline) else [pipeline]
        steps = [s for s in steps if s is not None and s != "passthrough"]
        *pre, est = steps
        if len(pre) > 1 or (pre and not isinstance(pre[0], StandardScaler)):
            names = [type(s).__name__ for s in pre]
            raise ConfigError(
                f"LinearReference supports at most one StandardScaler before the estimator; got {names}."
            )
        if not isinstance(est, (LogisticRegression, Ridge)):
            raise ConfigError(
                f"LinearReference supports LogisticRegression or Ridge; got {type(est).__name__}."
            )
        if not hasattr(est, "coef_") or (pre and not hasattr(pre[0], "n_features_in_")):
            raise ConfigError("The pipeline is not fitted; call fit before LinearReference.from_sklearn.")

        coef = np.atleast_2d(np.asarray(est.coef_, dtype=np.float64))  # (n_out, n_features)
        intercept = np.broadcast_to(
            np.asarray(est.intercept_, dtype=np.float64).reshape(-1), (coef.shape[0],)
        ).copy()
        if pre:
            scaler = pre[0]
            scale = np.ones(coef.shape[1]) if scaler.scale_ is None else np.asarray(scaler.scale_, np.float64)
            mean = np.zeros(coef.shape[1]) if scaler.mean_ is None else np.asarray(scaler.mean_, np.float64)
            coef = coef / scale
            intercept = intercept - coef @ mean
        if isinstance(est, LogisticRegression) and len(est.classes_) == 2:
            coef = np.vstack([np.zeros_like(coef), coef])
            intercept = np.concatenate([[0.0], intercept])

        module = cls(n_features=coef.shape[1], n_outputs=coef.shape[0])
        with torch.no_grad():
            module.weight.copy_(torch.from_numpy(np.ascontiguousarray(coef)))
            module.bias.copy_(torch.from_numpy(np.ascontiguousarray(intercept)))
        return module


_KINDS: dict[str, type[TreeEnsemble] | type[LinearReference]] = {
    TreeEnsemble.kind: TreeEnsemble,
    LinearReference.kind: LinearReference,
}


def reference_module(fitted: Any) -> TreeEnsemble | LinearReference:
    """Torch module reproducing a fitted scikit-learn model.

    Parameters
    ----------
    fitted : estimator or Pipeline
        A ``HistGradientBoosting{Classifier,Regressor}`` (-> :class:`TreeEnsemble`)
        or a ``[StandardScaler ->] LogisticRegression | Ridge`` (-> :class:`LinearReference`).

    Returns
    -------
    TreeEnsemble or LinearReference
        Save with ``{"kind": module.kind, **module.config()}`` plus the state dict.
    """
    if type(fitted).__name__.startswith("HistGradientBoosting"):
        return TreeEnsemble.from_sklearn(fitted)
    return LinearReference.from_sklearn(fitted)


def build_reference(kind: str, config: dict[str, Any]) -> TreeEnsemble | LinearReference:
    """Rebuild an empty module (zero buffers) from its kind and config.

    Parameters
    ----------
    kind : {"trees", "linear"}
        The module's ``kind`` attribute.
    config : dict
        Its ``config()``; a ``"kind"`` key in it is ignored.

    Returns
    -------
    TreeEnsemble or LinearReference
        Fill it with ``load_state_dict``.
    """
    if kind not in _KINDS:
        raise ConfigError(f"Unknown reference kind {kind!r}; expected one of {sorted(_KINDS)}.")
    cls = _KINDS[kind]
    kwargs = {k: v for k, v in config.items() if k != "kind"}
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"Bad config for reference kind {kind!r}: {exc}") from exc
