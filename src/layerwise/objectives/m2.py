"""M1+M2 (Kingma et al. 2014): a VAE on every row, then the semi-supervised VAE M2 on its codes.

The cost of M2 (Kingma et al. 2014, eqs. 6-9), per step of a labeled and an
unlabeled batch:

- labeled ``(x, y)``: ``L(x, y)``, the negative lower bound of ``log p(x, y)``;
- unlabeled ``x``: ``U(x) = sum_y q(y|x) L(x, y) - H(q(y|x))``, every class
  tried (the label is marginalised, which is how unlabeled rows train the
  classifier);
- ``alpha * N * -log q(y|x)`` summed over the labeled rows, so that the
  classifier also learns from labels directly (eq. 9, ``alpha = 0.1``).

The objective is eq. 9 divided by the number of rows ``N``, computed from
per-batch means: the labeled rows' bound weighs ``N_labeled / N`` (their share
of the data), the unlabeled rows' (every row is in the unlabeled pool) weighs
1, and the cross-entropy weighs ``alpha * N_labeled``. Giving the labeled
bound the weight of the unlabeled one instead (as per-batch means would) made
the decoders fit the few labeled rows and the classifier learn more slowly
(7.3% against 6.5% validation error after 20 epochs on MNIST with 100 labels).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ..exceptions import DataError
from ..nn.m2 import M1M2, M2
from ..nn.vae import dense_vae
from ..params.constraints import Interval, SequenceOf
from ..params.core import Param, ParamSet, declared_options
from .base import SEMI_SUPERVISED, StepOutput
from .supervised import batch_weights, cross_entropy, weighted_mean

__all__ = ["M2Objective", "m2_step"]


def m2_step(m2: M2, x_l: torch.Tensor, y: torch.Tensor, x_u: torch.Tensor, classification_weight: float,
            labeled_weight: float = 1.0, weights: torch.Tensor | None = None) -> StepOutput:
    """The M2 cost of one labeled and one unlabeled batch (eq. 9, per-row means).

    Parameters
    ----------
    m2 : M2
    x_l : Tensor, shape (n_l, d)
    y : Tensor, shape (n_l,)
    x_u : Tensor, shape (n_u, d)
    classification_weight : float
        Weight of the labeled rows' mean cross-entropy (``alpha * N_labeled``).
    labeled_weight : float, default=1.0
        Weight of the labeled rows' mean bound against the unlabeled rows' (``N_labeled / N``).
    weights : Tensor, shape (n_l,), optional
        Row weights of the labeled rows: their bound and their cross-entropy become weighted means
        (:func:`~layerwise.objectives.supervised.weighted_mean`); the unlabeled rows' bound is not weighted.
    """
    K, n_u = m2.n_classes, x_u.shape[0]
    labeled = weighted_mean(m2.neg_elbo(x_l, y), weights)
    logits_u = m2(x_u).float()  # (n_u, K)
    q = F.softmax(logits_u, dim=1)
    # L(x, y) for every class y of every unlabeled row: (K * n_u,) -> (n_u, K)
    every = m2.neg_elbo(x_u.repeat(K, 1), torch.arange(K, device=x_u.device).repeat_interleave(n_u)).view(K, n_u).t()
    entropy = -(q * F.log_softmax(logits_u, dim=1)).sum(1)
    unlabeled = ((q * every).sum(1) - entropy).mean()  # U(x), eq. 7
    logits_l = m2(x_l).float()
    ce = cross_entropy(logits_l, y, weights)
    loss = labeled_weight * labeled + unlabeled + classification_weight * ce
    return StepOutput(loss, {"labeled_bound": labeled.detach(), "unlabeled_bound": unlabeled.detach(),
                             "supervised": ce.detach(), "accuracy": (logits_l.detach().argmax(1) == y).float().mean()})


@SEMI_SUPERVISED.register("m1m2")
@declared_options
class M2Objective:
    """M1+M2 training: ``objective(model, (x_labeled, y, x_unlabeled)) -> StepOutput`` on a :class:`~layerwise.nn.m2.M1M2`.

    Parameters
    ----------
    {parameters}

    Notes
    -----
    :meth:`prepare` trains M1 with the ELBO on every row (labels unused);
    M2 then trains on draws from ``q(z1|x)``, a new draw each step, as in the
    paper. Inference classifies M1's latent mean. Logs: ``labeled_bound``,
    ``unlabeled_bound`` (nats per row), ``supervised``, ``accuracy``. Batches
    ``(x_labeled, y, x_unlabeled, w_labeled)`` weigh the labeled rows' bound and
    cross-entropy (:func:`m2_step`).
    """

    # Every option, declared once: the __init__, its checks and the Parameters above come from here.
    options = ParamSet((
        Param("alpha", (Interval(float, 0),), 0.1,
              """Weight of the classification term, the paper's ``alpha / N``: the cross-entropy summed over the labeled
              rows weighs ``alpha * N`` against the bounds summed over all rows (Kingma et al. 2014, eq. 9 and section
              4.2: ``alpha = 0.1 N``)."""),
        Param("latent_dim", (Interval(int, 1),), 50, "Width of M2's ``z`` (the paper: 50)."),
        Param("m2_hidden", (SequenceOf(Interval(int, 1), "a sequence of positive integers, e.g. (500,)", "sequence of int"),), (500,),
              "Hidden widths of M2's three networks (the paper: 500)."),
        Param("m1_latent", (Interval(int, 1),), 50, "Width of M1's code, the input of M2 (the paper: 50)."),
        Param("m1_epochs", (Interval(int, 1),), 100, "Epochs of M1 (a dense VAE with the estimator's hidden layers) on every row."),
    ))

    #: The learning rate ``learning_rate_init="auto"`` gives the estimators (Adam).
    learning_rate = 1e-3
    #: The unlabeled rows per step ``batch_size="auto"`` gives the estimators (the papers' 100; as many labeled rows
    #: are drawn alongside).
    batch_size = 100

    def __post_init__(self) -> None:
        """Store the options as Python numbers and a tuple, and the weights of eq. 9 until :meth:`prepare` sets them."""
        self.alpha, self.latent_dim, self.m2_hidden = float(self.alpha), int(self.latent_dim), tuple(int(h) for h in self.m2_hidden)
        self.m1_latent, self.m1_epochs = int(self.m1_latent), int(self.m1_epochs)
        # eq. 9 divided by N, per-batch means: set by prepare() from the numbers of rows
        self.classification_weight, self.labeled_weight = self.alpha, 1.0

    def build_model(self, n_features: int, hidden_layer_sizes: Sequence[int], n_classes: int, activation: str = "relu") -> M1M2:
        """M1, a dense VAE ``n_features -> hidden_layer_sizes -> m1_latent`` (Bernoulli), and M2 on its codes."""
        m1 = dense_vae(n_features, hidden_layer_sizes, self.m1_latent, activation, output="logistic")
        return M1M2(m1, M2(self.m1_latent, n_classes, self.m2_hidden, self.latent_dim, activation, "gaussian"))

    def prepare(self, model: M1M2, data, trainer, resume: bool = False) -> list[dict]:
        """Train M1 on every row of ``data`` (a :class:`~layerwise.data.semi.LabeledUnlabeled`) and set the weights of eq. 9.

        ``trainer`` is a :class:`~layerwise.train.Trainer` built for this phase
        (its ``max_iter`` is replaced by ``m1_epochs``); ``resume`` continues
        from its checkpoint. Returns its history.
        """
        from .elbo import ELBO

        X = data.X_unlabeled
        if float(X.min()) < 0 or float(X.max()) > 1:
            raise DataError(f"m1m2's M1 is a Bernoulli VAE, which needs inputs in [0, 1]; got values in "
                            f"[{float(X.min()):.4g}, {float(X.max()):.4g}]. Scale the data first (e.g. MinMaxScaler).")
        n_rows = X.shape[0]
        n_labeled = data.X_labeled.shape[0]
        self.classification_weight, self.labeled_weight = self.alpha * n_labeled, n_labeled / n_rows
        for p in model.m1.parameters():
            p.requires_grad_(True)
        trainer.max_iter = self.m1_epochs
        history = trainer.fit(model.m1, ELBO("bce"), (X,), resume=resume)
        for p in model.m1.parameters():
            p.requires_grad_(False)
        model.m1.eval()
        return history

    def __call__(self, model: nn.Module, batch: tuple[torch.Tensor, ...]) -> StepOutput:
        if len(batch) == 2 or not model.training:  # validation: the classifier at M1's latent mean, as at inference
            logits = model(batch[0])
            return StepOutput(F.cross_entropy(logits, batch[1]), {"accuracy": (logits.argmax(1) == batch[1]).float().mean()})
        if len(batch) not in (3, 4):
            raise DataError(f"m1m2 trains on batches (x_labeled, y, x_unlabeled), or with the labeled rows' weights "
                            f"(x_labeled, y, x_unlabeled, w_labeled); got {len(batch)} tensors. Pass the training data as "
                            "layerwise.data.LabeledUnlabeled(X_labeled, y, X_unlabeled, weights=...).")
        x_l, y, x_u = batch[:3]
        return m2_step(model.m2, model.codes(x_l, sample=True), y, model.codes(x_u, sample=True), self.classification_weight,
                       self.labeled_weight, batch_weights(batch, 3))
