"""Pretraining made for tables: SCARF's and VIME's corruption by the columns' marginals, VIME's costs.

Noise made for images (Gaussian, zeroed pixels) puts tabular rows off their
support: a category code becomes 0.37, an age becomes 0. Replacing an entry
by the same column's value in another row keeps every column on its
empirical marginal (:class:`~layerwise.corruption.MarginalNoise`; Bahri et
al. 2022, "SCARF", sec. 3; Yoon et al. 2020, "VIME", sec. 4.1). Registered
here:

- ``"scarf"`` (objective): a denoising autoencoder whose corruption is that
  one, at SCARF's corruption rate 0.6 (``"denoising"`` with
  ``noise="marginal"`` is the same at another rate). SCARF itself trains with
  a contrastive loss; this is its corruption under the reconstruction cost
  that greedy stacking uses.
- ``"vime"`` (objective): VIME's self-supervised cost (Yoon et al. 2020,
  eqs. 3-4), a mask estimator and a feature estimator on the codes of the
  corrupted row; each greedy layer learns it, and the stack keeps the encoders.
- ``"vime"`` (semi-supervised method): VIME-self on every row first, then the
  predictor on the encoder trained with the cross-entropy of the labeled rows
  plus ``beta`` times the consistency of its predictions across ``k``
  corrupted copies of each unlabeled row (sec. 4.2, eqs. 6-7).

Defaults are the authors' (github.com/jsyoon0823/VIME, ``main_vime.py``):
``p_m = 0.3``, ``alpha = 2.0``, ``K = 3``, ``beta = 1.0``, batches of 128,
Adam at its default learning rate 0.001, 1000 iterations of VIME-semi.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ..corruption import MarginalNoise
from ..exceptions import ConfigError, DataError
from ..losses import RECONSTRUCTION_LOSSES, reconstruction_loss
from ..nn.tabular import VIMEAutoEncoder, VIMENet, vime_autoencoder
from ..params.constraints import Interval, Options, SequenceOf
from ..params.core import Param, ParamSet, declared_options
from .base import OBJECTIVES, SEMI_SUPERVISED, StepOutput
from .reconstruction import Reconstruction
from .supervised import batch_weights, cross_entropy

__all__ = ["VIMESelf", "VIMESemi", "vime_self_loss", "vime_consistency"]

#: The seed of the corruption that an objective in eval mode (validation) draws: the same draws at every
#: epoch, so the validation loss compares across epochs, and none from the global generator that training uses.
EVAL_SEED = 0


def _is_real(v) -> bool:
    return not isinstance(v, bool) and isinstance(v, numbers.Real)


def _common_problems(p_mask, alpha, loss) -> list[str]:
    problems = []
    if not _is_real(p_mask) or not 0 <= p_mask < 1:
        problems.append(f"p_mask must be a number in [0, 1); got {p_mask!r}. The authors used 0.3.")
    if not _is_real(alpha) or not 0 <= alpha < float("inf"):
        problems.append(f"alpha must be a finite number >= 0; got {alpha!r}. The authors used 2.0.")
    if loss not in RECONSTRUCTION_LOSSES:
        problems.append(f"loss must be one of {list(RECONSTRUCTION_LOSSES)}; got {loss!r}.")
    return problems


def _draw(corruption: MarginalNoise, x: torch.Tensor, training: bool) -> torch.Tensor:
    """``x_tilde``: a fresh draw in training, the same draws (:data:`EVAL_SEED`) in eval mode."""
    generator = None if training else torch.Generator(device=x.device).manual_seed(EVAL_SEED)
    return corruption.draw(x, generator)[0]


def vime_self_loss(model: VIMEAutoEncoder, x: torch.Tensor, x_tilde: torch.Tensor, alpha: float, loss: str) -> StepOutput:
    """VIME's self-supervised cost of one batch (Yoon et al. 2020, eqs. 3-4).

    ``l_m + alpha * l_r``: ``l_m`` the Bernoulli cross-entropy of the mask
    estimator's logits against the mask ``m`` (eq. 3), ``l_r`` the error of
    the feature estimator's reconstruction of the clean ``x`` (eq. 4), both
    from the codes of the corrupted ``x_tilde``. ``alpha`` weighs the
    reconstruction, as in the paper's eq. 4 and the authors' code
    (``loss_weights={'mask': 1, 'feature': alpha}``).

    Parameters
    ----------
    model : VIMEAutoEncoder
        ``encoder``, ``decoder`` (the feature estimator), ``mask_estimator``
        and ``output_activation``.
    x : Tensor, shape (batch, d)
        The clean rows.
    x_tilde : Tensor, shape (batch, d)
        The corrupted rows.
    alpha : float
    loss : {"mse", "bce"}
        ``l_r``; ``"bce"`` reads the feature estimator's output as logits.

    Returns
    -------
    StepOutput
        Logs ``recon`` (``l_r``), ``mask`` (``l_m``) and ``mask_accuracy``;
        both losses are sums over the features, means over the rows (as
        :func:`~layerwise.losses.reconstruction_loss`), so ``alpha`` weighs
        them as it does the authors' per-feature means.

    Notes
    -----
    The mask target is the entries that *changed*, ``x_tilde != x``, as in
    the authors' ``pretext_generator`` (``m_new = 1 * (x != x_tilde)``): an
    entry given a donor's equal value (a repeated category) cannot be seen to
    be corrupted, and asking the estimator to find it would only add noise.
    """
    m = (x_tilde != x).to(torch.float32)  # (batch, d)
    z = model.encode(x_tilde)  # (batch, k)
    raw = model.decoder(z).float()  # (batch, d): s_r, pre-activation
    out = raw if loss == "bce" else model.output_activation(raw)
    recon = reconstruction_loss(out, x.float(), loss)  # l_r, eq. 4
    mask_logits = model.mask_estimator(z).float()  # (batch, d): s_m
    mask = reconstruction_loss(mask_logits, m, "bce")  # l_m, eq. 3: sum_j m_j log m_hat_j + (1 - m_j) log(1 - m_hat_j)
    accuracy = ((mask_logits.detach() > 0).float() == m).float().mean()
    return StepOutput(mask + alpha * recon, {"recon": recon.detach(), "mask": mask.detach(), "mask_accuracy": accuracy})


class VIMESelf:
    """VIME's self-supervised objective: ``objective(model, (x,)) -> StepOutput`` on a :class:`~layerwise.nn.tabular.VIMEAutoEncoder`.

    The encoder sees ``x_tilde = m * x_bar + (1 - m) * x``, ``m`` Bernoulli
    with ``p_mask`` and ``x_bar`` drawn from each column's marginal in the
    batch (Yoon et al. 2020, sec. 4.1); a mask estimator finds ``m`` and a
    feature estimator recovers ``x`` from the codes (:func:`vime_self_loss`).

    Parameters
    ----------
    p_mask : float, default=0.3
        Probability that an entry is replaced (the paper's ``p_m``; the authors used 0.3).
    alpha : float, default=2.0
        Weight of the reconstruction against the mask estimation (eq. 4; the authors used 2.0).
    loss : {"mse", "bce"}, default="mse"
        The reconstruction error ``l_r``: squared error (the authors'), or
        Bernoulli cross-entropy from logits for data in [0, 1].

    Notes
    -----
    :meth:`build_model` makes each greedy layer a :func:`~layerwise.nn.tabular.vime_autoencoder`:
    its ``decoder`` is the feature estimator, so the stack keeps a plain
    encoder and decoder per layer and fine-tuning, unrolling and model files
    work as for ``"denoising"``; the mask estimator is dropped after the
    layer is trained. In eval mode (validation) the corruption is the same at
    every call (a generator seeded with :data:`EVAL_SEED`).

    Examples
    --------
    >>> obj = VIMESelf()
    >>> model = obj.build_model((8,), 4, "relu", "identity", False, 0.0)
    >>> sorted(obj(model, (torch.rand(16, 8),)).logs)
    ['mask', 'mask_accuracy', 'recon']
    """

    def __init__(self, p_mask: float = 0.3, alpha: float = 2.0, loss: str = "mse") -> None:
        problems = _common_problems(p_mask, alpha, loss)
        if problems:
            raise ConfigError("vime: " + " ".join(problems))
        self.p_mask, self.alpha, self.loss = float(p_mask), float(alpha), loss
        self.corruption = MarginalNoise(self.p_mask)

    def build_model(self, in_shape: tuple[int, ...], n_hidden: int, activation: str, output: str, tied: bool,
                    dropout: float) -> VIMEAutoEncoder:
        """One greedy layer for rows of shape ``in_shape`` (flat: ``(d,)``): encoder, feature and mask estimators."""
        if len(in_shape) != 1:
            raise DataError(f"The 'vime' objective corrupts table columns and builds dense layers, which need 2-D input "
                            f"(n_samples, n_features); got rows of shape {tuple(in_shape)}. Flatten the data first.")
        return vime_autoencoder(in_shape[0], n_hidden, activation, output, tied, dropout)

    def __call__(self, model: nn.Module, batch: tuple[torch.Tensor, ...]) -> StepOutput:
        x = batch[0]
        if not hasattr(model, "mask_estimator"):
            raise ConfigError(f"The 'vime' objective needs a model with a mask estimator; got {type(model).__name__}. "
                              "Build it with VIMESelf.build_model(...) or layerwise.nn.tabular.vime_autoencoder.")
        return vime_self_loss(model, x, _draw(self.corruption, x, model.training), self.alpha, self.loss)

    def __repr__(self) -> str:
        return f"VIMESelf(p_mask={self.p_mask}, alpha={self.alpha}, loss={self.loss!r})"


@OBJECTIVES.register("scarf")
def _scarf(loss: str = "mse", level: float = 0.6) -> Reconstruction:
    """Denoising autoencoder with SCARF's corruption: entries replaced by draws from their column's marginal.

    ``level`` is the corruption rate, 0.6 in SCARF (Bahri et al. 2022, sec. 3
    and 4); the same as ``"denoising"`` with ``noise="marginal"``.
    """
    return Reconstruction(loss=loss, corruption=MarginalNoise(level))


@OBJECTIVES.register("vime")
def _vime(p_mask: float = 0.3, alpha: float = 2.0, loss: str = "mse") -> VIMESelf:
    """VIME's self-supervised cost (Yoon et al. 2020, eqs. 3-4): estimate the corruption mask and the clean row."""
    return VIMESelf(p_mask=p_mask, alpha=alpha, loss=loss)


def vime_consistency(model: nn.Module, x_u: torch.Tensor, corruption: MarginalNoise, k: int) -> torch.Tensor:
    """VIME-semi's unsupervised cost: how much the predictions of ``k`` corrupted copies of each row disagree.

    The consistency loss of Yoon et al. 2020 (sec. 4.2, eqs. 6-7), as the
    authors' code computes it: the variance over the ``k`` copies of the
    predictor's logits, averaged over the rows and the classes
    (``tf.reduce_mean(tf.nn.moments(yv_hat_logit, axes=0)[1])``).

    Parameters
    ----------
    model : nn.Module
        ``model(x)``: ``(batch, d) -> (batch, n_classes)`` logits.
    x_u : Tensor, shape (n_u, d)
        Unlabeled rows; each copy is corrupted with donors from this batch.
    corruption : MarginalNoise
    k : int
        Copies per row (the paper's ``K``).

    Returns
    -------
    Tensor, shape ()
    """
    n_u = x_u.shape[0]
    copies = torch.cat([corruption(x_u) for _ in range(k)])  # (k * n_u, d): one forward pass for all copies
    logits = model(copies).float().view(k, n_u, -1)  # (k, n_u, n_classes)
    return logits.var(0, unbiased=False).mean()


@SEMI_SUPERVISED.register("vime")
@declared_options
class VIMESemi:
    """VIME (Yoon et al. 2020): self-supervised encoder, then a predictor with a consistency cost on unlabeled rows.

    ``objective(model, (x_labeled, y, x_unlabeled)) -> StepOutput`` on a
    :class:`~layerwise.nn.tabular.VIMENet`.

    Parameters
    ----------
    {parameters}

    Notes
    -----
    :meth:`prepare` trains the encoder with VIME-self (:class:`VIMESelf`) on
    every row, labels unused. Training then minimises
    ``cross_entropy(labeled) + beta * consistency(unlabeled)``
    (:func:`vime_consistency`), the encoder fine-tuned with the predictor
    (the authors' code keeps it frozen; fine-tuning it lets the labels shape
    the codes, as the other methods here do). Inference is
    ``predictor(encoder(x))``, clean. Logs: ``supervised``, ``consistency``,
    ``accuracy``. Batches ``(x_labeled, y, x_unlabeled, w_labeled)`` weigh the
    labeled rows' cross-entropy (their weighted mean); the consistency cost is
    not weighted.

    Examples
    --------
    >>> method = VIMESemi(predictor_hidden=(8,))
    >>> net = method.build_model(6, (5,), 2)
    >>> out = method(net, (torch.rand(4, 6), torch.tensor([0, 1, 0, 1]), torch.rand(10, 6)))
    >>> sorted(out.logs)
    ['accuracy', 'consistency', 'supervised']
    """

    # Every option, declared once: the __init__, its checks and the Parameters above come from here.
    options = ParamSet((
        Param("p_mask", (Interval(float, 0, 1, "left"),), 0.3,
              """Probability that an entry is replaced by its column's marginal, in both phases (the paper's ``p_m``; the
              authors used 0.3)."""),
        Param("alpha", (Interval(float, 0),), 2.0,
              "Weight of the reconstruction in the self-supervised phase (eq. 4; the authors used 2.0)."),
        Param("beta", (Interval(float, 0),), 1.0, "Weight of the consistency cost against the cross-entropy (eq. 7; the authors used 1.0)."),
        Param("k", (Interval(int, 2),), 3,
              "Corrupted copies of each unlabeled row (the paper's ``K``; at least 2, since the cost is their variance)."),
        Param("prepare_epochs", (Interval(int, 0),), 50,
              """Epochs of the self-supervised phase on every row; 0 skips it. The authors ran 10 epochs over 54,000 MNIST
              rows (about 4,000 steps of 128): small tables need more epochs for as many steps."""),
        Param("loss", (Options(*RECONSTRUCTION_LOSSES),), "mse",
              """Reconstruction error of the self-supervised phase; ``"bce"`` needs inputs in [0, 1]."""),
        Param("predictor_hidden", (SequenceOf(Interval(int, 1), "a sequence of positive integers, e.g. (100, 100)", "sequence of int"),),
              (100, 100), "Hidden widths of the predictor MLP on the codes (the authors' code: two layers of 100)."),
    ))

    #: The learning rate ``learning_rate_init="auto"`` gives the estimators (Adam's default, the authors').
    learning_rate = 1e-3
    #: The unlabeled rows per step ``batch_size="auto"`` gives the estimators (the authors' 128; as many labeled
    #: rows are drawn alongside). The self-supervised phase uses it too.
    batch_size = 128
    #: At least this many optimizer steps when ``max_iter="auto"`` (the authors' 1000 iterations of VIME-semi).
    min_steps = 1000

    def __post_init__(self) -> None:
        """Store the options as Python numbers and a tuple, and the corruption both phases draw."""
        self.p_mask, self.alpha, self.beta, self.k = float(self.p_mask), float(self.alpha), float(self.beta), int(self.k)
        self.prepare_epochs, self.predictor_hidden = int(self.prepare_epochs), tuple(int(h) for h in self.predictor_hidden)
        self.corruption = MarginalNoise(self.p_mask)

    def build_model(self, n_features: int, hidden_layer_sizes: Sequence[int], n_classes: int, activation: str = "relu") -> VIMENet:
        """The :class:`~layerwise.nn.tabular.VIMENet` this method trains: encoder ``n_features -> hidden_layer_sizes``."""
        output = "logistic" if self.loss == "bce" else "identity"
        return VIMENet(n_features, hidden_layer_sizes, n_classes, activation, self.predictor_hidden, output)

    def prepare(self, model: VIMENet, data, trainer, resume: bool = False) -> list[dict]:
        """Train the encoder with VIME-self on every row of ``data`` (a :class:`~layerwise.data.semi.LabeledUnlabeled`).

        ``trainer`` is a :class:`~layerwise.train.Trainer` built for this phase
        (its ``max_iter`` is replaced by ``prepare_epochs``); ``resume``
        continues from its checkpoint. Returns its history (``[]`` when
        ``prepare_epochs`` is 0).
        """
        if self.prepare_epochs == 0:
            return []
        X = data.X_unlabeled
        if self.loss == "bce" and (float(X.min()) < 0 or float(X.max()) > 1):
            raise DataError(f"vime with loss='bce' reconstructs inputs in [0, 1]; got values in [{float(X.min()):.4g}, "
                            f"{float(X.max()):.4g}]. Scale the data first (e.g. MinMaxScaler), or use loss='mse'.")
        trainer.max_iter = self.prepare_epochs
        return trainer.fit(model.pretext(), VIMESelf(self.p_mask, self.alpha, self.loss), (X,), resume=resume)

    def __call__(self, model: nn.Module, batch: tuple[torch.Tensor, ...]) -> StepOutput:
        if len(batch) == 2 or not model.training:  # validation: the clean predictor, as at inference
            logits = model(batch[0]).float()
            return StepOutput(F.cross_entropy(logits, batch[1]), {"accuracy": (logits.argmax(1) == batch[1]).float().mean()})
        if len(batch) not in (3, 4):
            raise DataError(f"vime trains on batches (x_labeled, y, x_unlabeled), or with the labeled rows' weights "
                            f"(x_labeled, y, x_unlabeled, w_labeled); got {len(batch)} tensors. Pass the training data as "
                            "layerwise.data.LabeledUnlabeled(X_labeled, y, X_unlabeled, weights=...).")
        x_l, y, x_u = batch[:3]
        logits = model(x_l).float()
        supervised = cross_entropy(logits, y, batch_weights(batch, 3))  # L_s, eq. 6 (a weighted mean with row weights)
        logs = {"supervised": supervised.detach(), "accuracy": (logits.detach().argmax(1) == y).float().mean()}
        if self.beta == 0.0:
            return StepOutput(supervised, logs)
        consistency = vime_consistency(model, x_u, self.corruption, self.k)  # L_u, eq. 7
        logs["consistency"] = consistency.detach()
        return StepOutput(supervised + self.beta * consistency, logs)

    def __repr__(self) -> str:
        return (f"VIMESemi(p_mask={self.p_mask}, alpha={self.alpha}, beta={self.beta}, k={self.k}, "
                f"prepare_epochs={self.prepare_epochs}, loss={self.loss!r}, predictor_hidden={self.predictor_hidden})")
