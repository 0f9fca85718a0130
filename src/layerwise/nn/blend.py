"""A network blended with a supervised reference model: ``w * network + (1 - w) * reference``.

What ``PretrainedClassifier`` returns on a table when its self-check finds that a model of the labeled
rows alone (gradient boosting, a linear model) helps: the mixture of the two predictive distributions,
with the weight that scored best on held-out labeled rows (a blend, Wolpert 1992; ensembles of gradient
boosting and deep models were the most accurate on tables in Shwartz-Ziv & Armon 2022, sec. 5).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ReferenceBlend"]


class ReferenceBlend(nn.Module):
    """``weight * network + (1 - weight) * reference``, as probabilities (classification) or values (regression).

    Parameters
    ----------
    network : nn.Module
        ``(batch, n_inputs) -> (batch, n_outputs)`` logits or standardised predictions; its ``transform``
        (when it has one) gives the codes.
    reference : nn.Module
        The same shapes (:mod:`layerwise.nn.reference`).
    weight : float
        The network's share, in [0, 1].
    task : {"classification", "regression"}
        Classification mixes the two softmax distributions and returns the mixture's log, so that a softmax of
        the output is the mixture itself.
    """

    def __init__(self, network: nn.Module, reference: nn.Module, weight: float, task: str) -> None:
        super().__init__()
        if not 0.0 <= float(weight) <= 1.0:
            raise ValueError(f"weight must be in [0, 1]; got {weight!r}.")
        self.network, self.reference, self.weight, self.task = network, reference, float(weight), task

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, n_inputs) -> (batch, n_outputs)``: log mixture probabilities, or blended values."""
        net = self.network(x).float()  # (batch, n_outputs)
        ref = self.reference(x).float().to(net.device)
        if self.task == "regression":
            return self.weight * net + (1.0 - self.weight) * ref
        mixture = self.weight * torch.softmax(net, dim=1) + (1.0 - self.weight) * torch.softmax(ref, dim=1)
        return torch.log(mixture.clamp_min(1e-12))

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """The network's codes (the reference has none)."""
        return self.network.transform(x)

    def extra_repr(self) -> str:
        return f"weight={self.weight:.2f}, task={self.task!r}"
