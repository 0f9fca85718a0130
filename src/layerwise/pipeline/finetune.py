"""Supervised fine-tuning of a pretrained stack with a head on top.

Two modes (Bengio et al. 2007, sec. 3; the freeze / unfreeze vocabulary of
Lightning's ``BaseFinetuning``):

- ``"frozen"``: the stack is frozen (``requires_grad=False`` and ``eval()``),
  its codes are computed once, and only the head is trained on them;
- ``"full"``: the error is back-propagated through every layer, the
  pretrained layers optionally with a smaller learning rate.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from ..exceptions import ConfigError
from ..nn.stack import EncoderStack, freeze_trained, unfreeze_trained
from ..params import PARAMS, ParamSet
from ..params.table import FINETUNE_MODES
from ..train.callbacks import Callback
from ..train.loop import Trainer, check_tensors

__all__ = ["FINETUNE_MODES", "finetune", "stack_with_head"]

# the estimators' ``finetune`` is this function's ``mode``: one declaration, the function's own name
_ARGS = ParamSet((replace(PARAMS["finetune"], name="mode"), PARAMS["encoder_lr_scale"]))


def stack_with_head(stack: nn.Module, head: nn.Module) -> nn.Sequential:
    """``nn.Sequential`` named ``stack`` then ``head`` (stable state-dict keys)."""
    return nn.Sequential(OrderedDict(stack=stack, head=head))


def finetune(
    stack: EncoderStack | nn.Module,
    head: nn.Module,
    objective,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor] | None = None,
    mode: str = "full",
    encoder_lr_scale: float = 1.0,
    trainer: Trainer | None = None,
    resume: bool = False,
) -> tuple[nn.Sequential, list[dict[str, Any]]]:
    """Train ``head`` (and, in ``"full"`` mode, ``stack``) on labeled data.

    Parameters
    ----------
    stack : nn.Module
        Pretrained (or randomly initialised) encoder, ``(batch, d) -> (batch, k)``.
    head : nn.Module
        ``(batch, k) -> (batch, n_out)``, e.g. :class:`~layerwise.nn.ClassifierHead`.
    objective : callable
        ``objective(model, (x, y)) -> StepOutput``, e.g.
        :class:`~layerwise.objectives.Classification`.
    train, val : tuple of Tensor
        ``(X, y)`` with ``X`` in the stack's input space. ``train`` may be
        ``(X, y, w)`` with row weights ``w`` of shape ``(n,)``, which
        :class:`~layerwise.objectives.Classification` and
        :class:`~layerwise.objectives.Regression` weigh (the weighted mean of
        each batch's losses), in both modes; ``val`` is not weighted (early
        stopping watches the plain mean).
    mode : {"frozen", "full"}, default="full"
    encoder_lr_scale : float, default=1.0
        ``"full"`` only: the stack's learning rate is the trainer's times this.
    trainer : Trainer, optional
        With ``checkpoint_dir`` set, fine-tuning is checkpointed.
    resume : bool, default=False
        Continue from the trainer's checkpoint, if any.

    Returns
    -------
    model : nn.Sequential
        ``stack`` then ``head``.
    history : list of dict
    """
    _ARGS.validate({"mode": mode, "encoder_lr_scale": encoder_lr_scale}, "finetune()")
    trainer = trainer or Trainer()
    train = check_tensors(train, "train")  # NumPy arrays become tensors, as in Trainer.fit
    val = check_tensors(val, "val", like=train) if val is not None else None
    model = stack_with_head(stack, head)
    _check_targets(objective, model, train, "train[1]")
    _check_targets(objective, model, val, "val[1]")
    if mode == "frozen" and getattr(objective, "needs_decoder", False):
        raise ConfigError(f"{type(objective).__name__} trains the stack on unlabeled rows too, which mode='frozen' forbids; "
                          "use mode='full', or a supervised objective such as Classification() with mode='frozen'.")
    if mode == "frozen":
        freeze_trained(stack.to(trainer.device))
        # The fast path: codes of the frozen stack are computed once, the head
        # trains on them alone.
        codes = trainer.predict(stack, train[0].to(trainer.device))
        val_codes = (trainer.predict(stack, val[0].to(trainer.device)), val[1]) if val is not None else None
        history = trainer.fit(head, objective, (codes, *train[1:]), val_codes, resume=resume)  # labels (and weights)
        _check_fitted(objective, head, (codes, train[1]))
        return model, history
    # what pretraining froze learns now; what the user froze (load_pretrained(freeze=True), freeze()) stays frozen
    kept_frozen = unfreeze_trained(stack)
    groups = [
        {"params": [p for p in stack.parameters() if p.requires_grad], "lr": trainer.learning_rate_init * float(encoder_lr_scale)},
        {"params": list(head.parameters())},
    ]
    trained = model
    if getattr(objective, "needs_decoder", False):  # SemiSupervised: the stack also keeps reconstructing
        trained = _with_decoder(stack, head)
        groups[1]["params"] += list(trained.decoder.parameters())
    keep_eval = _KeepInEval(kept_frozen)
    trainer.callbacks.append(keep_eval)
    try:
        history = trainer.fit(trained, objective, train, val, params=groups, resume=resume)
    finally:
        trainer.callbacks.remove(keep_eval)
    _check_fitted(objective, model, train)
    keep_eval.apply()  # and after training
    return model, history


def _check_fitted(objective, model: nn.Module, data) -> None:
    """The objective's check of the trained model (a classifier that predicts one class for every row warns)."""
    check = getattr(objective, "check_fitted", None)
    if check is not None and isinstance(data, (tuple, list)) and len(data) >= 2:
        check(model, (torch.as_tensor(data[0]), torch.as_tensor(data[1])))


class _KeepInEval(Callback):
    """Layers the user froze stay in eval mode while the rest trains (the loop puts the model in train mode
    every epoch): no dropout in them, batch-norm statistics unchanged."""

    def __init__(self, modules: list[nn.Module]) -> None:
        self.modules = modules

    def on_epoch_start(self, trainer, model, epoch: int) -> None:
        self.apply()

    def apply(self) -> None:
        for m in self.modules:
            m.eval()


def _check_targets(objective, model: nn.Module, data, name: str) -> None:
    """The objective's check of the labels (``check_targets``), against the width of the model's output."""
    check = getattr(objective, "check_targets", None)
    if check is None or data is None or len(data) < 2 or not isinstance(data[1], torch.Tensor):
        return
    param = next(model.parameters(), None)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            x = torch.as_tensor(data[0][:1])
            out = model(x.to(param.device) if param is not None else x)  # (1, n_outputs)
    finally:
        model.train(was_training)
    check(data[1], int(out.shape[1]), name)


def _with_decoder(stack: nn.Module, head: nn.Module) -> nn.Module:
    """Stack, head and a copy of the stack's mirrored decoders, for semi-supervised fine-tuning."""
    from ..objectives.semi import SemiSupervisedNet

    if not hasattr(stack, "unroll"):
        raise ConfigError(f"Semi-supervised fine-tuning needs a stack that can be unrolled into a decoder (an EncoderStack "
                          f"from GreedyLayerwise, best with keep_decoders=True); got {type(stack).__name__}.")
    decoder = stack.unroll().decoder  # independent copies of the greedy decoders (or transposed encoders)
    return SemiSupervisedNet(stack, head, decoder, "bce" if getattr(stack, "output", "identity") == "logistic" else "mse")
