"""Resume state as one object, and the checkpointer the training loop hands it to.

:class:`TrainState` is where a fit stands: epochs done, batches done in the
current epoch, the history, the stop flag, the partial sums of a cut epoch and
the state of the batch-order generator. The loop hands it to a
:class:`Checkpointer`, which writes it with the weights, the optimizer state,
every RNG state and the callbacks' states (atomically, by rank 0 alone under
distributed training), and gives it back on resume. Without a
``checkpoint_dir`` the loop gets a :class:`NoCheckpoints`, whose methods do
nothing: the loop has no "is there a checkpoint folder" branch.

A :class:`Continuation` (a trainer's ``continuation``, which the estimators' ``warm_start`` sets) keeps the same
state in memory at the end of every epoch, and a later fit starts from it: the next fit continues the first
as a resumed one does, without a folder.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn

from ..exceptions import CheckpointError
from .checkpoint import (
    clear_checkpoint,
    flatten_optimizer,
    has_checkpoint,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    unflatten_optimizer,
)
from .fingerprint import fingerprint_differences

log = logging.getLogger("layerwise.train.loop")  # the trainer's logger: "resumed from ..." stays where users look

__all__ = ["TrainState", "Checkpointer", "NoCheckpoints", "Continuation", "make_checkpointer"]


@dataclass
class TrainState:
    """Where a fit stands.

    Attributes
    ----------
    epoch : int
        Epochs finished.
    batch : int
        Batches of epoch ``epoch`` finished (0 at an epoch boundary).
    history : list of dict
    should_stop : bool
    acc : tuple or None
        ``(total loss, rows, summed logs)`` of the cut epoch so far.
    batch_order : Tensor or None
        State of the generator that draws epoch ``epoch``'s batch order.
    """

    epoch: int = 0
    batch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    should_stop: bool = False
    acc: tuple | None = None
    batch_order: torch.Tensor | None = None

    def partial_sums(self) -> tuple:
        """``(total loss, rows, summed logs)`` to continue epoch ``epoch`` from batch ``batch`` (zeros at its start)."""
        return self.acc if self.acc is not None else (0.0, 0, {})


class NoCheckpoints:
    """The checkpointer of a fit without ``checkpoint_dir``: nothing is written or read."""

    def start(self, model: nn.Module, opt, gen: torch.Generator, resume: bool) -> TrainState:
        return TrainState()

    def after_batch(self, model: nn.Module, opt, batches_done: int, n_batches: int, state: Callable[[], TrainState]) -> None:
        """Called after every batch; ``state()`` builds the state to write if a checkpoint is due."""

    def save(self, model: nn.Module, opt, state: TrainState) -> None:
        """Called at the end of every epoch."""

    def fingerprint(self) -> dict | None:
        """What the checkpoints record of the fit's data and settings (nothing without checkpoints)."""
        return None


class Checkpointer(NoCheckpoints):
    """Writes and restores a :class:`TrainState` with everything else a bitwise resume needs.

    Parameters
    ----------
    folder : path
    execution : LocalExecution or DistributedExecution
        Gathers every rank's noise generator and lets rank 0 alone write.
    callbacks : list of Callback
        Their ``state_dict`` goes in the checkpoint, named by class and occurrence.
    device : torch.device
    every : int, optional
        Also checkpoint every this many batches inside an epoch.
    check : callable
        ``check(model, state)``, called before writing; raises on weights that must not overwrite the last
        good checkpoint (the trainer's divergence check).
    """

    def __init__(self, folder, execution, callbacks, device: torch.device, every: int | None, check,
                 fingerprint: Callable[[], dict] | None = None) -> None:
        self.folder, self.execution, self.callbacks = folder, execution, callbacks
        self.device, self.every, self.check = device, every, check
        self._make_fingerprint, self._fingerprint = fingerprint, None

    def fingerprint(self) -> dict | None:
        """The data and settings of this fit (:mod:`layerwise.train.fingerprint`), computed once."""
        if self._fingerprint is None and self._make_fingerprint is not None:
            self._fingerprint = self._make_fingerprint()
        return self._fingerprint

    def after_batch(self, model: nn.Module, opt, batches_done: int, n_batches: int, state: Callable[[], TrainState]) -> None:
        """A mid-epoch checkpoint every ``every`` batches (never after the last: the epoch's end writes one)."""
        if self.every and batches_done % self.every == 0 and batches_done < n_batches:
            self.save(model, opt, state())

    def start(self, model: nn.Module, opt, gen: torch.Generator, resume: bool) -> TrainState:
        """The restored state when resuming from an existing checkpoint, else a fresh one.

        A fit that does not resume starts over: a checkpoint left in the folder by an earlier run is
        removed first, so that resuming this run later can never pick it up.
        """
        if not resume:
            if self.execution.is_main:
                clear_checkpoint(self.folder)
            return TrainState()
        if not self.execution.found_checkpoint(has_checkpoint(self.folder), self.folder):
            return TrainState()
        return self._restore(model, opt, gen)

    def save(self, model: nn.Module, opt, state: TrainState) -> None:
        """Everything needed to continue at (``state.epoch``, ``state.batch``), written atomically."""
        self.check(model, state)
        tensors = {f"model/{k}": v for k, v in model.state_dict().items()}
        opt_tensors, opt_meta = flatten_optimizer(opt)
        rng_tensors, rng_meta = rng_state()
        tensors.update(opt_tensors)
        tensors.update(rng_tensors)
        if state.batch_order is not None:
            tensors["rng/epoch"] = state.batch_order
        tensors.update(self.execution.rank_rng(self.device))
        meta = {"epoch": state.epoch, "batch": state.batch, "history": state.history, "should_stop": state.should_stop,
                "optimizer": opt_meta, "rng": rng_meta, "callbacks": {}, "fingerprint": self.fingerprint(),
                **self.execution.checkpoint_info()}
        acc = self.execution.total_acc(state.acc)
        if acc is not None:
            total, n, sums = acc
            tensors["acc/total"] = torch.as_tensor(total)
            tensors.update({f"acc/logs/{k}": torch.as_tensor(v) for k, v in sums.items()})
            meta["acc_n"] = n
        for name, cb in self._named_callbacks():
            cb_tensors, cb_state = cb.state_dict()
            tensors.update({f"callback/{name}/{k}": v for k, v in cb_tensors.items()})
            meta["callbacks"][name] = cb_state
        self._write(tensors, meta)

    def _write(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        self.execution.write(lambda: save_checkpoint(self.folder, tensors, meta), self.folder)

    def _restore(self, model: nn.Module, opt, gen: torch.Generator, kept: tuple[dict, dict] | None = None) -> TrainState:
        """The state of the folder's checkpoint, or of ``kept`` (``(tensors, meta)`` held in memory by a
        :class:`Continuation`), loaded into ``model``, ``opt``, ``gen``, the RNGs and the callbacks.

        A kept state's fingerprint is not compared: a warm fit may bring new rows, and the estimator checks
        what may change between its fits."""
        if kept is None:
            tensors, meta = load_checkpoint(self.folder)
            self._check_fingerprint(meta.get("fingerprint"))
        else:
            tensors, meta = kept
        try:
            model.load_state_dict({k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")})
        except RuntimeError as e:  # another architecture (a checkpoint without a fingerprint, from before 0.2)
            raise CheckpointError(f"The checkpoint in {self.folder} holds weights of another model: {e}. "
                                  f"{_START_OVER.format(folder=self.folder)}") from e
        unflatten_optimizer(opt, tensors, meta["optimizer"])
        set_rng_state(tensors, meta["rng"])
        self.execution.restore_rank_rng(tensors, self.device)
        if "rng/epoch" in tensors:
            gen.set_state(tensors["rng/epoch"])
        for name, cb in self._named_callbacks():
            if name in meta["callbacks"]:
                prefix = f"callback/{name}/"
                cb.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}, meta["callbacks"][name])
        acc = None
        if "acc_n" in meta:
            sums = {k[len("acc/logs/"):]: v for k, v in tensors.items() if k.startswith("acc/logs/")}
            acc = self.execution.own_acc((tensors["acc/total"], meta["acc_n"], sums))
        if self.execution.is_main:
            log.info("resumed from %s at epoch %d, batch %d", self.folder if kept is None else "the state kept in memory",
                     meta["epoch"] + 1, meta["batch"])
        return TrainState(meta["epoch"], meta["batch"], meta["history"], meta["should_stop"], acc)

    def _check_fingerprint(self, saved: dict | None) -> None:
        """Refuse a checkpoint written for other data or settings (checkpoints from before 0.2 have none)."""
        now = self.fingerprint()
        if saved is None or now is None:
            return
        differences = fingerprint_differences(saved, now)
        if differences:
            raise CheckpointError(
                f"Cannot resume from {self.folder}: its checkpoint was written by a fit with other data or settings:\n- "
                + "\n- ".join(differences) + f"\n{_START_OVER.format(folder=self.folder)}"
            )

    def _named_callbacks(self):
        """``(ClassName/occurrence, callback)``: stable names whatever other callbacks are present."""
        seen: dict[str, int] = {}
        for cb in self.callbacks:
            kind = type(cb).__name__
            seen[kind] = seen.get(kind, -1) + 1
            yield f"{kind}/{seen[kind]}", cb


_START_OVER = ("To continue that run, resume with the data and settings it was started with; to start over, fit "
               "without resume=True (which replaces these checkpoints), or delete {folder}.")


class Continuation:
    """Where a fit ends, kept in memory for the next fit to continue (the estimators' ``warm_start``).

    Set it as a :class:`~layerwise.train.Trainer`'s ``continuation``: the trainer's fit starts from
    ``checkpoint`` when there is one, else from ``start``, else from scratch; and at the end of every epoch
    ``checkpoint`` becomes that epoch's state. Give the next fit's trainer the same object (with
    ``max_iter`` the epochs done plus the new ones) and it continues as a fit resumed from a checkpoint
    does: on one process, bitwise as one longer fit (learning-rate schedules over the epochs excepted: they
    follow each fit's ``max_iter``).

    Parameters
    ----------
    checkpoint : tuple of (dict, dict), optional
        ``(tensors, meta)`` as :class:`Checkpointer` writes them: weights, optimizer state, every RNG state, the
        batch-order generator, the callbacks' states, epochs done and history.
    start : TrainState, optional
        Without ``checkpoint``: the epochs done and their history, to continue from the weights as the model
        holds them, with a new optimizer state and RNG stream (a model fitted without a continuation, or loaded
        from a model file).
    fresh : tuple of str, default=()
        Settings of the parameter groups (``"lr"``, ``"weight_decay"``) taken from the new fit's optimizer after
        ``checkpoint`` is restored, rather than from it: rates the user changed between the fits apply, while the
        optimizer's moments continue.

    Notes
    -----
    The state of an epoch is copied (about three times the weights with Adam), so that what happens after
    it (early stopping restoring its best weights, the next fit's steps) never changes what is kept. A fit
    that early stopping ended trains again when continued: ``should_stop`` is not restored, and early
    stopping, its counter restored, stops it again once its patience is spent (scikit-learn's MLP does the same).
    """

    def __init__(self, checkpoint: tuple[dict, dict] | None = None, start: TrainState | None = None,
                 fresh: tuple[str, ...] = ()) -> None:
        self.checkpoint, self.start, self.fresh = checkpoint, start, tuple(fresh)

    @property
    def epochs_done(self) -> int:
        """Epochs the continued fit has run (0: none to continue)."""
        if self.checkpoint is not None:
            return int(self.checkpoint[1]["epoch"])
        return self.start.epoch if self.start is not None else 0


class _Continuing(Checkpointer):
    """A :class:`Checkpointer` that starts from a :class:`Continuation` and keeps every state it saves there
    (and in ``folder`` too, when one is given)."""

    def __init__(self, folder, execution, callbacks, device, every, check, fingerprint, continuation: Continuation) -> None:
        super().__init__(folder, execution, callbacks, device, every, check, fingerprint)
        self.continuation = continuation

    def start(self, model: nn.Module, opt, gen: torch.Generator, resume: bool) -> TrainState:
        kept, start = self.continuation.checkpoint, self.continuation.start
        if resume or (kept is None and start is None):
            return super().start(model, opt, gen, resume)
        if self.folder is not None and self.execution.is_main:
            clear_checkpoint(self.folder)  # an earlier run's: resuming this fit later must never pick it up
        if kept is None:
            return replace(start, history=list(start.history), should_stop=False)
        fresh = [{k: g[k] for k in self.continuation.fresh if k in g} for g in opt.param_groups]
        # copies: the optimizer would step the kept tensors in place, and a failed fit must leave them as they were
        tensors, meta = kept
        state = self._restore(model, opt, gen, ({k: v.clone() for k, v in tensors.items()},
                                                {**meta, "history": list(meta["history"])}))
        for group, settings in zip(opt.param_groups, fresh):
            group.update(settings)
        state.should_stop = False
        return state

    def _write(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        if self.folder is not None:
            super()._write(tensors, meta)
        # copies: the weights are the model's own tensors, which training (or early stopping's restore) changes
        self.continuation.checkpoint = ({k: v.detach().clone() for k, v in tensors.items()},
                                        {**meta, "history": list(meta["history"])})


def make_checkpointer(folder, execution, callbacks, device, every, check, fingerprint=None,
                      continuation: Continuation | None = None) -> NoCheckpoints:
    """A :class:`Checkpointer` for ``folder``, or :class:`NoCheckpoints` when ``folder`` is None; with a
    ``continuation``, one that starts from it and keeps every state it saves there (in ``folder`` too, if any).

    ``fingerprint()`` returns what the checkpoints record of the fit's data and settings."""
    if continuation is not None:
        # the fingerprint (a digest of the data) is only for checkpoints on disk
        return _Continuing(folder, execution, callbacks, device, every, check, fingerprint if folder is not None else None,
                           continuation)
    return NoCheckpoints() if folder is None else Checkpointer(folder, execution, callbacks, device, every, check, fingerprint)
