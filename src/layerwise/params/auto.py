"""What ``"auto"`` resolves to: one resolver per parameter, attached to its declaration (``Param(auto=...)``).

A resolver takes the :class:`Situation` of one training phase (the rows it trains on, the semi-supervised method
it trains, the batch size the user set) and returns the value ``"auto"`` stands for there. The estimators resolve
their parameters through :meth:`~layerwise.params.core.Param.resolve`; the trainer resolves ``batch_size`` with
the same function (:func:`~layerwise.train.loop.auto_batch_size`), and nothing else computes these values.

What ``"auto"`` means for *which* network or method trains (``semi_supervised``, ``pretrain``, ``scale``,
``check_reference``, ``precision``) depends on the data and the machine, not on one phase: those are resolved
where the data is read, listed in docs/architecture.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Situation", "FINETUNE_EPOCHS", "learning_rate", "lr_schedule", "batch_size", "max_iter"]

#: ``max_iter="auto"`` of fine-tuning a pretrained stack.
FINETUNE_EPOCHS = 100
#: The default learning rate of Adam (and of scikit-learn's MLP), where no method recommends another.
LEARNING_RATE = 1e-3


@dataclass(frozen=True)
class Situation:
    """What ``"auto"`` depends on in one phase.

    Parameters
    ----------
    n_rows : int
        The rows the phase takes a pass over per epoch (every row for a semi-supervised method).
    method : object, optional
        The semi-supervised method the phase trains (its class attributes ``learning_rate``, ``batch_size``,
        ``min_steps``, ``max_steps`` are its recommendations); None: a stack's pretraining or fine-tuning.
    batch_size : int or "auto", default="auto"
        The batch size the user set (``max_iter="auto"`` counts steps with it).
    """

    n_rows: int
    method: Any = None
    batch_size: int | str = "auto"


def learning_rate(s: Situation) -> float:
    """The method's recommended rate (the ladder's 0.005, or the paper's 0.002 on wide rows), else 1e-3."""
    return getattr(s.method, "learning_rate", LEARNING_RATE) if s.method is not None else LEARNING_RATE


def lr_schedule(s: Situation) -> str:
    """``"anneal"`` for a semi-supervised method (the ladder paper's), else ``"constant"``."""
    return "anneal" if s.method is not None else "constant"


def batch_size(s: Situation) -> int:
    """The method's rows per step (the papers' 100 unlabeled rows), else ``n_rows // 32`` in [32, 256], so small
    data sets still get enough steps per epoch and large ones efficient batches. (A batch is never more than the
    rows: :func:`~layerwise.train.loop.auto_batch_size` clips, one policy for every phase.)"""
    if s.method is not None and getattr(s.method, "batch_size", None) is not None:
        return int(s.method.batch_size)
    return max(32, min(256, s.n_rows // 32))


def max_iter(s: Situation) -> int:
    """100 epochs of fine-tuning; for a semi-supervised method, enough epochs for its ``min_steps`` optimizer
    steps, else up to 100 epochs within about its ``max_steps`` (large data sets get fewer epochs)."""
    if s.method is None:
        return FINETUNE_EPOCHS
    batch = min(batch_size(s) if s.batch_size == "auto" else int(s.batch_size), s.n_rows)
    steps_per_epoch = -(-s.n_rows // batch)
    at_most = -(-getattr(s.method, "max_steps", 100 * steps_per_epoch) // steps_per_epoch)
    return max(-(-getattr(s.method, "min_steps", 0) // steps_per_epoch), min(100, at_most))
