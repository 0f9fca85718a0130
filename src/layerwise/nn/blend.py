"""A network blended with supervised reference models: ``w_0 * network + sum_i w_i * reference_i``.

What ``PretrainedClassifier`` returns on a table when its self-check finds that models of the labeled rows
alone (gradient boosting, a linear model) help: the mixture of the predictive distributions, with the
weights that scored best on held-out labeled rows (a blend, Wolpert 1992; ensembles of gradient boosting
and deep models were the most accurate on tables in Shwartz-Ziv & Armon 2022, sec. 5).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["ReferenceBlend"]


class ReferenceBlend(nn.Module):
    """``weight * network + sum_i reference_weights[i] * references[i]``, as probabilities or values.

    Parameters
    ----------
    network : nn.Module
        ``(batch, n_inputs) -> (batch, n_outputs)`` logits or standardised predictions; its ``transform``
        (when it has one) gives the codes.
    references : sequence of nn.Module
        The same shapes (:mod:`layerwise.nn.reference`).
    weight : float
        The network's share, in [0, 1].
    reference_weights : sequence of float
        One share per reference; with ``weight`` they sum to 1.
    task : {"classification", "regression"}
        Classification mixes the softmax distributions and returns the mixture's log, so that a softmax of the
        output is the mixture itself.
    """

    def __init__(self, network: nn.Module, references: Sequence[nn.Module], weight: float,
                 reference_weights: Sequence[float], task: str) -> None:
        super().__init__()
        shares = [float(weight), *map(float, reference_weights)]
        if len(shares) != len(references) + 1 or min(shares) < 0 or abs(sum(shares) - 1.0) > 1e-6:
            raise ValueError(f"weights must be one per model, >= 0 and sum to 1; got {shares} for {len(references)} reference(s).")
        self.network, self.references = network, nn.ModuleList(references)
        self.weight, self.reference_weights, self.task = shares[0], shares[1:], task

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, n_inputs) -> (batch, n_outputs)``: log mixture probabilities, or blended values."""
        net = self.network(x).float()  # (batch, n_outputs)
        outs = [net, *(ref(x).float().to(net.device) for ref in self.references)]
        shares = [self.weight, *self.reference_weights]
        if self.task == "regression":
            return sum(w * out for w, out in zip(shares, outs))
        mixture = sum(w * torch.softmax(out, dim=1) for w, out in zip(shares, outs))
        return torch.log(mixture.clamp_min(1e-12))

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """The network's codes (the references have none)."""
        return self.network.transform(x)

    def extra_repr(self) -> str:
        return f"weight={self.weight:.2f}, reference_weights={[round(w, 2) for w in self.reference_weights]}, task={self.task!r}"
