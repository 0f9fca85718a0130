"""The ladder network's cost: supervised cross-entropy plus a denoising cost at every layer.

Rasmus et al. (2015), Algorithm 1 and eq. 3: for labeled rows, the
cross-entropy of the *corrupted* encoder's output (the noise regularises the
supervised part too); for unlabeled rows, ``sum_l lambda_l * C_l`` with
``C_l = ||z_l - BN(z_hat_l)||^2 / width_l``, the error of the decoder's
denoised code against the clean encoder's, both normalised with the clean
pass's batch statistics. The Gamma-model is the same with only the top cost.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ..exceptions import ConfigError, DataError
from ..nn.ladder import COMBINATORS, LadderNetwork
from ..params.constraints import Interval, NoneValue, Options, SequenceOf
from ..params.core import Param, ParamSet, declared_options
from .base import SEMI_SUPERVISED, StepOutput
from .supervised import batch_weights, cross_entropy

__all__ = ["Ladder", "paper_denoising_costs"]


def paper_denoising_costs(n_layers: int) -> tuple[float, ...]:
    """``lambda_l`` for ``l = 0..n_layers`` in the pattern of the paper's MNIST network.

    Rasmus et al. (2015), section 4.1 (784-1000-500-250-250-250-10):
    ``1000, 10, 0.1, 0.1, ...``: the input reconstruction dominates, the
    first hidden layer matters, the higher ones regularise.
    """
    return tuple([1000.0, 10.0] + [0.1] * (n_layers - 1))[: n_layers + 1]


_NOISE_TOO_LARGE = 10.0  # noise_std above this, on inputs scaled to [0, 1] or standardised, is the first suspect
_COSTS_LIST = "a non-empty list of numbers >= 0, one per layer (input included)"


@SEMI_SUPERVISED.register("ladder")
@declared_options
class Ladder:
    """Ladder-network training: ``objective(model, (x_labeled, y, x_unlabeled)) -> StepOutput``.

    Parameters
    ----------
    {parameters}

    Notes
    -----
    The logs hold ``supervised`` (the cross-entropy), ``accuracy`` (of the
    corrupted pass on the labeled rows) and ``denoising_<l>`` for each decoded
    layer (``C_l`` unweighted, so the curves compare across settings). A batch
    ``(x, y)`` in eval mode (validation) gets the clean encoder's cross-entropy.
    A batch ``(x_labeled, y, x_unlabeled, w_labeled)`` weighs the labeled rows'
    cross-entropy (their weighted mean,
    :func:`~layerwise.objectives.supervised.weighted_mean`); the denoising costs
    of the unlabeled rows are not weighted.

    Examples
    --------
    >>> objective = Ladder(denoising_costs="gamma")
    >>> net = objective.build_model(8, (6, 4), 3)
    >>> out = objective(net, (torch.randn(5, 8), torch.tensor([0, 1, 2, 0, 1]), torch.randn(7, 8)))
    >>> sorted(out.logs)
    ['accuracy', 'denoising_3', 'supervised']
    """

    # Every option, declared once: the __init__, its checks and the Parameters above come from here.
    options = ParamSet((
        Param("noise_std", (Interval(float, 0),), 0.2,
              """Standard deviation of the Gaussian noise of the corrupted encoder, on the input and on every normalised
              pre-activation, in the units of the input (scale it to [0, 1] or standardise it). The paper used 0.3 on
              MNIST; 0.2 was better on digits with 10% of the labels (0.9826 against 0.9800 over five tuning splits;
              0.15-0.2 best among 0.1-0.5)."""),
        # how many lambdas a list needs, the network says: checked when it is built (costs())
        Param("denoising_costs", (Options("paper", "gamma"), SequenceOf(Interval(float, 0), _COSTS_LIST, "sequence of float", 1)),
              "paper",
              """``lambda_l`` for ``l = 0..L`` (the input, each hidden layer, the top). ``"paper"``:
              :func:`paper_denoising_costs`; ``"gamma"``: the Gamma-model, only the top layer's cost (weight 1), so
              only the top combinator is used."""),
        Param("combinator", (Options(*sorted(COMBINATORS)),), "vanilla",
              """Rasmus et al.'s ``g`` (eq. 2), or Pezeshki et al. (2016)'s augmented MLP (``"amlp"``)."""),
        Param("input_noise_std", (NoneValue(), Interval(float, 0)), None,
              """Standard deviation of the corrupted encoder's noise on the input alone, in the input's units;
              None: ``noise_std``, the same noise at every layer, as Rasmus et al. (2015). For inputs whose
              scale differs from the normalised layers' (e.g. sparse pixels in [0, 1])."""),
    ))

    #: The learning rate ``learning_rate_init="auto"`` gives the estimators (Adam; measured best on digits among
    #: 0.002, 0.005, 0.01 and 0.02, and as good as the paper's 0.002 on MNIST after 30 epochs).
    learning_rate = 0.005
    #: The unlabeled rows per step ``batch_size="auto"`` gives the estimators (the papers' 100; as many labeled rows
    #: are drawn alongside).
    batch_size = 100
    #: At least this many optimizer steps when ``max_iter="auto"`` (small data sets get more epochs).
    min_steps = 3000
    #: At most about this many steps when ``max_iter="auto"`` on large data (fewer than 100 epochs): a budget in
    #: time, about 8 minutes of the paper's network on 2 cores (40 ms a step); 20 epochs of MNIST, where 100 gave
    #: 1.09% and 20 gave 1.77% (one label draw, benchmarks/RESULTS.md, "MNIST under a short budget").
    max_steps = 12_000
    #: Rows at least this wide (image-sized: MNIST's 784 pixels; digits' 64 are far below) get the paper's MNIST
    #: network and settings from the estimators' defaults (:meth:`auto_settings`).
    wide_features = 256

    @classmethod
    def auto_settings(cls, n_features: int) -> dict:
        """What the estimators' defaults become for rows of ``n_features`` (``{}``: the class's own).

        On wide rows, the paper's MNIST network and settings (Rasmus et al. 2015, section 4.1):
        784-1000-500-250-250-250-10 layers, noise 0.3, Adam 0.002. With the estimators' (512, 256) layers, noise
        0.2 and rate 0.005 (chosen on digits' 64 pixels), MNIST with 100 labels gave 8.39% after 10 epochs
        against 2.19% with these (one label draw; 5.47% after 100 epochs against 1.09%).
        """
        if n_features < cls.wide_features:
            return {}
        return {"hidden_layer_sizes": (1000, 500, 250, 250, 250), "noise_std": 0.3, "learning_rate": 0.002}

    def __post_init__(self) -> None:
        """Store the options in the types the training reads: ``noise_std`` a float, the costs a tuple of floats."""
        self.noise_std = float(self.noise_std)
        if self.input_noise_std is not None:
            self.input_noise_std = float(self.input_noise_std)
        if not isinstance(self.denoising_costs, str):
            self.denoising_costs = tuple(float(c) for c in self.denoising_costs)

    def divergence_cause(self) -> str | None:
        """The likely cause of a diverging fit that this objective's settings show, for the trainer's
        :class:`~layerwise.exceptions.DivergenceError`: a noise far above the inputs' scale, whose denoising costs
        grow with its square whatever the learning rate."""
        name, value = max([("noise_std", self.noise_std), ("input_noise_std", self.input_noise_std or 0.0)], key=lambda p: p[1])
        if value > _NOISE_TOO_LARGE:
            return (f"{name}={value:g}: the ladder adds Gaussian noise of that standard deviation to "
                    f"{'every layer' if name == 'noise_std' else 'its input'}, so its denoising costs grow with its square "
                    "whatever the learning rate; expected noise of the inputs' scale (0.2-0.3 on data in [0, 1], the "
                    f"paper's 0.3). Lower semi_supervised_params['{name}']")
        return None

    def costs(self, n_layers: int) -> tuple[float, ...]:
        """``lambda_l`` for a network of ``n_layers`` weight layers (``n_layers + 1`` values)."""
        if self.denoising_costs == "paper":
            return paper_denoising_costs(n_layers)
        if self.denoising_costs == "gamma":
            return (0.0,) * n_layers + (1.0,)
        if len(self.denoising_costs) != n_layers + 1:
            raise ConfigError(f"denoising_costs has {len(self.denoising_costs)} values but the network has {n_layers + 1} "
                              f"layers (the input, {n_layers - 1} hidden, the top); give one lambda per layer.")
        return self.denoising_costs

    def build_model(self, n_features: int, hidden_layer_sizes: Sequence[int], n_classes: int, activation: str = "relu") -> LadderNetwork:
        """The :class:`~layerwise.nn.ladder.LadderNetwork` this objective trains."""
        net = LadderNetwork(n_features, hidden_layer_sizes, n_classes, activation, self.combinator)
        self.costs(net.n_layers)  # a wrong number of lambdas fails before training
        return net

    def __call__(self, model: nn.Module, batch: tuple[torch.Tensor, ...]) -> StepOutput:
        if len(batch) == 2 or not model.training:  # validation: the clean encoder, as at inference
            logits = model(batch[0])
            y = batch[1]
            return StepOutput(F.cross_entropy(logits, y), {"accuracy": (logits.argmax(1) == y).float().mean()})
        if len(batch) not in (3, 4):
            raise DataError(f"Ladder trains on batches (x_labeled, y, x_unlabeled), or with the labeled rows' weights "
                            f"(x_labeled, y, x_unlabeled, w_labeled); got {len(batch)} tensors. Pass the training data as "
                            "layerwise.data.LabeledUnlabeled(X_labeled, y, X_unlabeled, weights=...).")
        x_l, y, x_u = batch[:3]
        lambdas = self.costs(model.n_layers)
        n_l, n_u = x_l.shape[0], x_u.shape[0]
        # clean pass of the unlabeled rows: the targets z_l and the statistics that normalise z_hat_l (eq. 3)
        clean = model.encode(x_u, update_running=True)
        corrupted = model.encode(torch.cat([x_l, x_u]), self.noise_std, groups=[n_l, n_u], input_noise_std=self.input_noise_std)
        logits = corrupted.logits[:n_l]
        supervised = cross_entropy(logits, y, batch_weights(batch, 3))  # weighted mean with row weights
        per_layer = model.decode(corrupted, clean, lambdas, rows=n_u)
        loss = supervised
        logs = {"supervised": supervised.detach(), "accuracy": (logits.detach().argmax(1) == y).float().mean()}
        for l, c in enumerate(per_layer):
            if c is not None and lambdas[l] > 0:
                loss = loss + lambdas[l] * c
                logs[f"denoising_{l}"] = c.detach()
        return StepOutput(loss, logs)
