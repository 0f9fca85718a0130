"""Contrastive divergence: how an RBM learns from one batch, in the shared loop.

The CD-k update of an RBM is the gradient of a free-energy difference, so an
RBM trains with the same :class:`~layerwise.train.Trainer` and optimizers as
every autoencoder. Registered as ``"rbm"``: ``GreedyLayerwise(sizes,
objective="rbm")`` stacks RBMs into a deep belief network (Hinton, Osindero &
Teh 2006).
"""

from __future__ import annotations

import torch
from torch import nn

from ..exceptions import ConfigError, DataError
from ..nn.rbm import RBM, VISIBLE_UNITS, _check_steps
from .base import OBJECTIVES, StepOutput

__all__ = ["ContrastiveDivergence"]

# The greedy loss of a layer names its visible units: Bernoulli cross-entropy
# data in [0, 1] -> Bernoulli units; squared error (real values) -> Gaussian.
LOSS_TO_VISIBLE = {"bce": "bernoulli", "mse": "gaussian"}


class ContrastiveDivergence:
    """Contrastive divergence (CD-k) or persistent CD for an :class:`~layerwise.nn.rbm.RBM`.

    The loss is ``mean F(v_data) - mean F(v_model)`` with ``v_model`` the
    mean of ``p(v | h)`` after ``k`` Gibbs steps, detached, so its gradient is
    the CD-k estimate of the log-likelihood gradient ``<dF/dθ>_data - <dF/dθ>_model`` (Hinton
    2002, "Training products of experts by minimizing contrastive
    divergences"). The loss value is a free-energy gap, not a likelihood: it
    need not fall during training and may be negative, so monitor ``recon``
    or :meth:`~layerwise.nn.rbm.RBM.pseudo_likelihood` instead, and do not
    early-stop on it.

    Hidden states are sampled at every step, but the negative phase uses the
    visible *means* (probabilities) of the last step rather than samples,
    which is less noisy (Hinton 2010, "A practical guide to training RBMs",
    section 3.2). Since the free energy sums over ``h``, the update uses
    ``p(h | v)`` in both phases, as that guide recommends (section 3.3).

    Parameters
    ----------
    k : int, default=1
        Gibbs steps per update.
    persistent : bool, default=False
        Persistent CD (Tieleman 2008): the negative chains are state of this
        objective and continue from one batch to the next instead of restarting
        at the data. Chains advance only while the model is in training mode;
        in eval mode (validation) the negatives are a CD-k chain from the batch.
    visible : {"bernoulli", "gaussian"}, default="bernoulli"
        Visible units of the RBMs that :meth:`build_model` builds.
    n_chains : int or None, default=None
        Number of persistent chains; ``None`` uses the size of the first
        batch. Every chain advances at each step, whatever the batch size, so a
        smaller last batch needs no special case.

    Notes
    -----
    All sampling draws from torch's global generator, which the trainer seeds:
    a ``seed`` makes runs identical. Logs (detached, 0-d): ``recon``, the
    squared error (summed over units, mean over rows) of a mean-field Gibbs
    step ``v -> p(h|v) -> E[v|h]``, and ``free_energy_gap``, the loss value.

    Examples
    --------
    >>> cd = ContrastiveDivergence(k=1)
    >>> rbm = cd.build_model((6,), 3, "relu", "logistic", False, 0.0)
    >>> out = cd(rbm, (torch.bernoulli(torch.full((8, 6), 0.5)),))
    >>> out.loss.shape, sorted(out.logs)
    (torch.Size([]), ['free_energy_gap', 'recon'])
    """

    def __init__(self, k: int = 1, persistent: bool = False, visible: str = "bernoulli", n_chains: int | None = None) -> None:
        _check_steps(k)
        if not isinstance(persistent, bool):
            raise ConfigError(f"persistent must be True or False; got {persistent!r}.")
        if visible not in VISIBLE_UNITS:
            raise ConfigError(f"visible must be one of {list(VISIBLE_UNITS)}; got {visible!r}.")
        if n_chains is not None and (isinstance(n_chains, bool) or not isinstance(n_chains, int) or n_chains < 1):
            raise ConfigError(f"n_chains must be a positive integer or None (the first batch size); got {n_chains!r}.")
        self.k, self.persistent, self.visible, self.n_chains = k, persistent, visible, n_chains
        self.chains: torch.Tensor | None = None  # (n_chains, n_visible), persistent CD only

    def build_model(self, in_shape: tuple[int, ...], n_hidden: int, activation: str, output: str, tied: bool, dropout: float) -> RBM:
        """The RBM of one greedy stage, ``in_shape[0]`` visible and ``n_hidden`` hidden units.

        The hidden units are always binary (logistic), whatever ``activation``
        says, and the weights always tied (an RBM has one weight matrix), so
        ``activation`` and ``tied`` are ignored. ``output`` must agree with
        ``visible`` (it does when :class:`~layerwise.pipeline.greedy.GreedyLayerwise`
        passes the layer's loss to the ``"rbm"`` factory).

        Parameters
        ----------
        in_shape : tuple of int
            Shape of one input row, ``(n_visible,)``.
        n_hidden : int
            Number of hidden units.
        activation : str
            Ignored: the hidden units are logistic.
        output : {"logistic", "identity"}
            Must be ``"logistic"`` for Bernoulli visibles, ``"identity"`` for Gaussian.
        tied : bool
            Ignored: an RBM's decoder always shares the encoder's weight.
        dropout : float
            Must be 0.

        Returns
        -------
        RBM
        """
        if len(in_shape) != 1:
            raise DataError(
                f"An RBM needs 2-D input (n_samples, n_features); got rows of shape {in_shape}. Flatten the data first."
            )
        if dropout:
            raise ConfigError(f"RBMs do not use dropout; got dropout={dropout!r}. Pass dropout=0.")
        if output != VISIBLE_UNITS[self.visible]:
            raise ConfigError(
                f"output={output!r} does not match visible={self.visible!r} (which needs "
                f"output={VISIBLE_UNITS[self.visible]!r}). Build the objective with the layer's loss: "
                "'bce' for Bernoulli visibles, 'mse' for Gaussian."
            )
        self.reset()
        return RBM(in_shape[0], n_hidden, self.visible)

    def reset(self) -> None:
        """Forget the persistent chains (the next training step starts new ones)."""
        self.chains = None

    def __call__(self, model: nn.Module, batch: tuple[torch.Tensor, ...]) -> StepOutput:
        _check_model(model)
        v = batch[0]  # (batch, n_visible)
        v_model = self._negatives(model, v).detach()  # (n_negatives, n_visible)
        # CD-k / PCD: gradient of F(v_data) - F(v_model) is the CD update (Hinton 2002; Tieleman 2008)
        loss = model.free_energy(v).mean() - model.free_energy(v_model).mean()
        with torch.no_grad():
            # For CD-1 from the data the negatives *are* the one-Gibbs-step reconstructions: reuse them.
            one_step = v_model if (self.k == 1 and not (self.persistent and model.training)) else model(v)
            recon = (one_step - v).pow(2).sum(dim=1).mean()
        return StepOutput(loss, {"recon": recon, "free_energy_gap": loss.detach()})

    def _negatives(self, model: nn.Module, v: torch.Tensor) -> torch.Tensor:
        """Mean of ``p(v | h)`` after ``k`` Gibbs steps from the data (CD) or the chains (PCD)."""
        persistent = self.persistent and model.training
        if persistent and (self.chains is None or self.chains.shape[1:] != v.shape[1:]):
            # Each chain starts at a data row (Tieleman 2008 starts anywhere; data mixes faster)
            n = self.n_chains or v.shape[0]
            idx = torch.arange(n, device=v.device) % v.shape[0]
            self.chains = v[idx].detach().clone()  # (n_chains, n_visible)
        start = self.chains.to(v.device) if persistent else v
        with torch.no_grad():
            if self.k > 1:
                start = model.gibbs(start, self.k - 1)
            _, h = model.sample_hidden(start)  # (n, n_hidden) binary
            if not persistent:  # plain CD needs only the mean of p(v | h): no visible sample to draw
                return model.decode(h)  # (n, n_visible)
            mean, sample = model.sample_visible(h)  # (n, n_visible) each
        self.chains = sample  # the chains carry samples; the update uses their means
        return mean

    def __repr__(self) -> str:
        return f"ContrastiveDivergence(k={self.k}, persistent={self.persistent}, visible={self.visible!r})"


_RBM_METHODS = ("free_energy", "gibbs", "sample_hidden", "sample_visible")


def _check_model(model: nn.Module) -> None:
    """Raise :class:`ConfigError` unless ``model`` offers the RBM methods CD needs (duck typing)."""
    if not all(callable(getattr(model, name, None)) for name in _RBM_METHODS):
        raise ConfigError(
            f"ContrastiveDivergence trains an RBM (a model with {', '.join(_RBM_METHODS)}); got "
            f"{type(model).__name__}. Build the model with objective.build_model(...) or layerwise.nn.rbm.RBM."
        )


@OBJECTIVES.register("rbm")
def _rbm(k: int = 1, persistent: bool = False, loss: str = "bce") -> ContrastiveDivergence:
    """Restricted Boltzmann machine trained by CD-k or persistent CD.

    ``loss="bce"`` (data in [0, 1]) gives Bernoulli visible units, ``"mse"``
    Gaussian ones (standardise the data). Greedy stacking builds a deep
    belief network.
    """
    if loss not in LOSS_TO_VISIBLE:
        raise ConfigError(
            f"loss must be one of {list(LOSS_TO_VISIBLE)} for 'rbm'; got {loss!r}. 'bce' gives Bernoulli visible "
            "units (data in [0, 1]), 'mse' Gaussian visible units (standardised data)."
        )
    return ContrastiveDivergence(k=k, persistent=persistent, visible=LOSS_TO_VISIBLE[loss])
