"""A fit that checks itself: the trained network against a cheap supervised model of the labeled rows.

Networks trained on few labels can lose to a gradient-boosted model of the labeled rows alone, or even to
always answering the most frequent class (a public table of 500 labels: 0.384 for the ladder against 0.657 for
``HistGradientBoostingClassifier`` and 0.400 for the majority class). A user who sees no comparison cannot
know. :func:`check_against_reference` makes it for them:

1. a stratified quarter of the labeled rows is held out (the *audit* rows);
2. the network is trained again with the same settings, the audit rows' labels hidden (the rows stay in the
   data as unlabeled rows, as any other unlabeled row);
3. a reference is trained on the same labeled rows only: the better, by 3-fold cross-validation on those
   rows, of a linear model (``LogisticRegression`` / ``Ridge`` on standardised columns) and
   ``HistGradientBoosting``;
4. both, and the constant answer (majority class, or the mean), are scored on the audit rows: the same rows
   for all three, so the comparison is paired.

The model ``fit`` returns is still the one trained on every label: no label is lost to the check, at the
price of a second training run.

With row weights (``sample_weight``, ``class_weight``) the second fit and the references are trained with
them (scikit-learn's ``sample_weight`` of each candidate's last step), so the comparison is between models
that learned the same weighted cost; the scores on the audit rows (accuracy, R^2), the 3-fold choice of the
reference and the blend's shares are unweighted.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import numpy as np
import torch
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from ..exceptions import ReferenceWarning
from ..train.inference import predict_in_batches

__all__ = ["ReferenceWarning", "check_against_reference", "wants_check"]

AUDIT_FRACTION = 0.25  # of the labeled rows; a quarter keeps the estimate's noise near that of 4-fold CV
MIN_LABELED = 20  # below this the audit rows are too few for any verdict (a 5-row audit moves by 20 points)


def wants_check(est, is_table: bool) -> bool:
    """Whether ``est.check_reference`` asks for the check on these rows (``"auto"``: on tables)."""
    setting = getattr(est, "check_reference", False)
    return is_table if setting == "auto" else bool(setting)


def check_against_reference(est, X: np.ndarray, targets: torch.Tensor, labeled: np.ndarray, n_out: int, objective,
                            stratify, task: str, weights: np.ndarray | None = None) -> None:
    """Score a second fit of ``est``'s network on held-out labeled rows next to a reference and the constant answer;
    with ``est.reference_blend``, blend the reference into ``est.module_``.

    Sets ``reference_score_``, ``holdout_score_``, ``baseline_score_``, ``reference_name_``, ``blend_weight_`` and
    ``blend_score_`` on ``est`` (all None when there are too few labeled rows) and warns with
    :class:`ReferenceWarning` when the network alone is worse than the reference or the constant answer.

    Parameters
    ----------
    est : PretrainedClassifier or PretrainedRegressor
        Fitted (``module_``); its parameters are the second fit's.
    X : ndarray of shape (n_samples, n_inputs)
        Rows in the model's input space (scaled, tables encoded).
    targets : Tensor of shape (n_samples,) or (n_samples, n_outputs)
        Class indices, or standardised targets; only the ``labeled`` rows are read.
    labeled : ndarray of bool, shape (n_samples,)
    n_out, objective, stratify
        As ``est._fit_network`` takes them.
    task : {"classification", "regression"}
    weights : ndarray of shape (n_samples,), optional
        The rows' training weights (0 on unlabeled rows), given to the second fit and to the references.
    """
    for name in ("reference_score_", "holdout_score_", "baseline_score_", "reference_name_", "blend_weight_", "blend_score_",
                 "blend_shares_"):
        setattr(est, name, None)
    idx = np.flatnonzero(labeled)
    y = targets.numpy()
    classification = task == "classification"
    if len(idx) < MIN_LABELED or (classification and np.bincount(y[idx], minlength=n_out).min() < 2):
        return
    seed = int(np.random.RandomState(est.random_state if isinstance(est.random_state, int) else 0).randint(2**31 - 1))
    strat = y[idx] if classification else None
    n_audit = max(int(round(AUDIT_FRACTION * len(idx))), n_out if classification else 2)
    train_idx, audit_idx = train_test_split(idx, test_size=n_audit, random_state=seed, stratify=strat)
    if weights is not None and not (weights[train_idx] > 0).any():
        return  # every row left to train on weighs 0: nothing to compare

    network = _refit_without(est, X, targets, labeled, audit_idx, n_out, objective, stratify, weights)
    name, fitted = _references(X[train_idx], y[train_idx], classification, seed, _part(weights, train_idx))
    y_audit = y[audit_idx]
    with threadpool_limits(1, user_api="openmp"):
        outs = {k: _outputs(m, X[audit_idx], classification).reshape(len(audit_idx), -1) for k, m in fitted.items()}
    if classification:
        net_out = torch.softmax(torch.from_numpy(network).double(), dim=1).numpy()
        constant = np.bincount(y[train_idx], minlength=n_out).argmax()
        score, ref, baseline = _accuracy(net_out, y_audit), _accuracy(outs[name], y_audit), float((y_audit == constant).mean())
        slack = 1.0 / len(audit_idx)  # one row: a tie within a single row is no verdict
    else:
        net_out = network.reshape(y_audit.shape)
        outs = {k: v.reshape(y_audit.shape) for k, v in outs.items()}
        score, ref = float(r2_score(y_audit, net_out)), float(r2_score(y_audit, outs[name]))
        baseline = float(r2_score(y_audit, np.broadcast_to(y[train_idx].mean(axis=0), y_audit.shape)))
        slack = 0.01
    est.reference_score_, est.holdout_score_, est.baseline_score_, est.reference_name_ = ref, score, baseline, name
    if getattr(est, "reference_blend", False):
        shares, est.blend_score_ = _blend_weights([net_out, *outs.values()], y_audit, classification)
        _blend_into(est, X[idx], y[idx], classification, seed, dict(zip(outs, shares[1:])), shares[0], _part(weights, idx))
    if score < max(ref, baseline) - slack + 1e-12:
        warnings.warn(_message(est, score, ref, baseline, name, len(audit_idx), len(train_idx), classification),
                      ReferenceWarning, stacklevel=4)


STEP = 0.1  # the grid of shares; coarse, since the audit rows are few


def _simplex(n: int, step: float = STEP) -> list[tuple[float, ...]]:
    """Every ``n``-tuple of multiples of ``step`` that sums to 1, the first share largest first (ties: the network)."""
    k = round(1 / step)
    grid = [c for c in itertools.product(range(k + 1), repeat=n) if sum(c) == k]
    return [tuple(x / k for x in c) for c in sorted(grid, key=lambda c: -c[0])]


def _blend_weights(outputs: list[np.ndarray], y: np.ndarray, classification: bool) -> tuple[tuple[float, ...], float]:
    """The shares of ``outputs`` (the network's first) that score best on the audit rows (log loss, or squared
    error), and the blend's score there (accuracy, or R^2) — optimistic, since the shares were chosen there."""
    def loss(mix):
        if classification:
            return -float(np.mean(np.log(np.clip(mix[np.arange(len(y)), y], 1e-12, None))))
        return float(np.mean((mix - y) ** 2))

    best, best_loss = None, np.inf
    for shares in _simplex(len(outputs)):  # a strict improvement moves away from the larger network share
        value = loss(sum(w * o for w, o in zip(shares, outputs)))
        if value < best_loss - 1e-12:
            best, best_loss = shares, value
    mix = sum(w * o for w, o in zip(best, outputs))
    return best, (_accuracy(mix, y) if classification else float(r2_score(y, mix)))


def _blend_into(est, X: np.ndarray, y: np.ndarray, classification: bool, seed: int, shares: dict[str, float],
                weight: float, weights: np.ndarray | None = None) -> None:
    """``est.module_`` becomes the network (share ``weight``) blended with the references of nonzero ``shares``,
    each refitted on every labeled row (with the rows' ``weights``, if any)."""
    from ..nn.blend import ReferenceBlend
    from ..nn.reference import reference_module

    est.blend_weight_ = weight
    est.blend_shares_ = {"network": weight, **shares}
    used = {k: w for k, w in shares.items() if w > 0}
    if not used:  # the network alone: nothing to blend
        return
    y_fit = y if classification or y.ndim == 1 or y.shape[1] > 1 else y.ravel()
    with warnings.catch_warnings(), threadpool_limits(1, user_api="openmp"):
        warnings.simplefilter("ignore")
        refs = [reference_module(_fit(clone(_candidates(classification, seed)[k]), X, y_fit, weights)) for k in used]
    dev = next(est.module_.parameters()).device
    task = "classification" if classification else "regression"
    est.module_ = ReferenceBlend(est.module_, [r.to(dev) for r in refs], weight, list(used.values()), task).eval()
    est._blend_recipe = {"weight": weight, "references": [{"kind": r.kind, "share": w, **r.config()}
                                                          for r, w in zip(refs, used.values())]}


def _outputs(model, X: np.ndarray, classification: bool) -> np.ndarray:
    return model.predict_proba(X) if classification else np.asarray(model.predict(X), dtype=np.float64)


def _accuracy(proba: np.ndarray, y: np.ndarray) -> float:
    return float((proba.argmax(axis=1) == y).mean())


def _refit_without(est, X, targets, labeled, audit_idx, n_out, objective, stratify, weights=None) -> np.ndarray:
    """Outputs on the audit rows of ``est``'s network trained again without their labels."""
    twin = clone(est).set_params(check_reference=False, verbose=False, callbacks=())
    for name in ("_input_image_shape", "n_features_in_", "preprocessor_", "_rows_are_table"):  # what the network's construction reads from the fit
        if hasattr(est, name):
            setattr(twin, name, getattr(est, name))
    hidden = labeled.copy()
    hidden[audit_idx] = False
    with warnings.catch_warnings():  # the user was told what the main fit had to say; this fit repeats it
        warnings.simplefilter("ignore")
        twin._fit_network(X, targets, hidden, n_out, objective, stratify, None, False, weights)
    dev = next(twin.module_.parameters()).device
    out = predict_in_batches(twin.module_, torch.from_numpy(X[audit_idx]).to(dev))
    return out.float().cpu().numpy()


def _candidates(classification: bool, seed: int) -> dict[str, Any]:
    if classification:
        return {"LogisticRegression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
                "HistGradientBoostingClassifier": HistGradientBoostingClassifier(random_state=seed)}
    return {"Ridge": make_pipeline(StandardScaler(), Ridge()),
            "HistGradientBoostingRegressor": HistGradientBoostingRegressor(random_state=seed)}


def _references(X: np.ndarray, y: np.ndarray, classification: bool, seed: int,
                weights: np.ndarray | None = None) -> tuple[str, dict[str, Any]]:
    """The name of the better candidate by 3-fold CV on ``(X, y)`` (the reference of the verdict), and every
    candidate fitted on all of ``(X, y)`` (the blend may use each); each fit weighs the rows by ``weights``, if given."""
    if classification:
        folds = min(3, int(np.bincount(y).min()))
        cv = StratifiedKFold(folds, shuffle=True, random_state=seed) if folds >= 2 else KFold(3, shuffle=True, random_state=seed)
    else:
        cv = KFold(3, shuffle=True, random_state=seed)
    y_fit = y if classification or y.ndim == 1 or y.shape[1] > 1 else y.ravel()
    best, best_score, fitted = None, -np.inf, {}
    # convergence chatter of the candidates is not the user's concern; one OpenMP thread: gradient boosting on a
    # few thousand labeled rows is quick on one, and its threads stall for minutes when another process has a core
    with warnings.catch_warnings(), threadpool_limits(1, user_api="openmp"):
        warnings.simplefilter("ignore")
        for name, model in _candidates(classification, seed).items():
            if not classification and y_fit.ndim == 2 and name.startswith("Hist"):
                continue  # one output only
            score = float(np.mean(cross_val_score(model, X, y_fit, cv=cv, params=_fit_params(model, weights) or None)))
            if score > best_score:
                best, best_score = name, score
            fitted[name] = _fit(clone(model), X, y_fit, weights)
    return best, fitted


def _part(weights: np.ndarray | None, idx: np.ndarray) -> np.ndarray | None:
    return None if weights is None else weights[idx]


def _fit_params(model, weights: np.ndarray | None) -> dict[str, np.ndarray]:
    """``fit``'s keyword for row weights: a pipeline's last step takes them (``logisticregression__sample_weight``)."""
    if weights is None:
        return {}
    steps = getattr(model, "steps", None)
    return {f"{steps[-1][0]}__sample_weight" if steps else "sample_weight": weights}


def _fit(model, X: np.ndarray, y: np.ndarray, weights: np.ndarray | None):
    return model.fit(X, y, **_fit_params(model, weights))


def _message(est, score, ref, baseline, name, n_audit, n_train, classification) -> str:
    what = "accuracy" if classification else "R^2"
    constant = "always answering the most frequent class" if classification else "always answering the mean"
    worse = []
    if score < ref:
        worse.append(f"{name} trained on the same {n_train} labeled rows alone scored {ref:.3f}")
    if score < baseline:
        worse.append(f"{constant} scored {baseline:.3f}")
    shares = getattr(est, "blend_shares_", None)
    blend = ("" if not shares else
             " The returned model blends " + ", ".join(f"{'the network' if k == 'network' else k} ({w:.0%})"
                                                         for k, w in shares.items() if w > 0)
             + ", each refitted on every labeled row, the shares that scored best on those rows: "
             f"{est.blend_score_:.3f} there (optimistic: the shares were chosen on them).")
    method = getattr(est, "semi_supervised_", None)
    trained = f"semi_supervised={method!r}" if method else f"pretrain={est.pretrain!r}, finetune={est.finetune!r}"
    return (f"{type(est).__name__} ({trained}) is worse than a supervised reference on {n_audit} held-out labeled "
            f"rows: its {what} was {score:.3f}, while {' and '.join(worse)}.{blend} Try another method (semi_supervised=None "
            "with pretrain='vime' or 'scarf' for tables, or semi_supervised='ladder'), a smaller network "
            f"(hidden_layer_sizes), or use {name} on the labeled rows. The figures are in reference_score_, "
            "holdout_score_, baseline_score_ and blend_weight_; check_reference=False turns the check off.")
