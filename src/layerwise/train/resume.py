"""Checkpoints of the training loop: what :class:`~layerwise.train.Trainer` writes and restores.

A checkpoint holds everything needed to continue at (epoch, batch): weights, optimizer state, the
RNG states (every rank's under distributed training), the epoch's batch order, partial epoch sums,
history and callback state. Written atomically by :func:`~layerwise.train.checkpoint.save_checkpoint`,
by rank 0 only when several processes train.
"""

from __future__ import annotations

import logging

import torch

from ..exceptions import CheckpointError, DivergenceError
from .checkpoint import (
    flatten_optimizer,
    has_checkpoint,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    unflatten_optimizer,
)

log = logging.getLogger("layerwise.train.loop")  # the trainer's logger: "resumed from ..." stays where users look

__all__ = ["CheckpointMixin"]


class CheckpointMixin:
    """Checkpoint writing and restoring for :class:`~layerwise.train.Trainer` (uses its
    ``checkpoint_dir``, ``history``, ``should_stop``, ``callbacks``, ``device``, ``_ctx``, ``_diverged``)."""

    def _checkpoint(self, model, opt, gen_state, epoch: int, batch: int, acc) -> None:
        """Everything needed to continue at (``epoch``, ``batch``), written atomically.

        A NaN gradient with a finite loss leaves NaN weights that only the next
        batch's loss would show: weights are checked here, so a checkpoint is
        never written over the last good one with non-finite values.
        """
        bad = [name for name, p in model.named_parameters() if not torch.isfinite(p).all()]
        if bad:
            raise DivergenceError(self._diverged(f"weights of {bad[:3]}", float("nan"), max(epoch - (batch == 0), 0), max(batch - 1, 0)))
        ctx = self._ctx
        tensors = {f"model/{k}": v for k, v in model.state_dict().items()}
        opt_tensors, opt_meta = flatten_optimizer(opt)
        rng_tensors, rng_meta = rng_state()
        tensors.update(opt_tensors)
        tensors.update(rng_tensors)
        if gen_state is not None:
            tensors["rng/epoch"] = gen_state
        state = {"epoch": epoch, "batch": batch, "history": self.history, "should_stop": self.should_stop,
                 "optimizer": opt_meta, "rng": rng_meta, "callbacks": {}}
        if ctx is not None:
            # weights, optimizer and batch order are the same on every rank; the noise generators are
            # not: keep each rank's, so a resumed run draws the noise an uninterrupted one would
            tensors.update({f"rng/rank/{r}/torch": s for r, s in enumerate(ctx.all_gather(torch.get_rng_state()))})
            if self.device.type == "cuda":
                cuda = ctx.all_gather(torch.cuda.get_rng_state(self.device))
                tensors.update({f"rng/rank/{r}/cuda": s for r, s in enumerate(cuda)})
            state["world_size"] = ctx.world_size
            if acc is not None:  # the partial epoch sums of all ranks: a resume gives them to rank 0
                total, n, sums = ctx.reduce_metrics(*acc)
                acc = (torch.tensor(total, dtype=torch.float64), n, {k: torch.tensor(v, dtype=torch.float64) for k, v in sums.items()})
        if acc is not None:
            total, n, sums = acc
            tensors["acc/total"] = torch.as_tensor(total)
            tensors.update({f"acc/logs/{k}": torch.as_tensor(v) for k, v in sums.items()})
            state["acc_n"] = n
        for name, cb in self._named_callbacks():
            cb_tensors, cb_state = cb.state_dict()
            tensors.update({f"callback/{name}/{k}": v for k, v in cb_tensors.items()})
            state["callbacks"][name] = cb_state
        if ctx is None:
            save_checkpoint(self.checkpoint_dir, tensors, state)
            return
        error = None
        if ctx.is_main:  # one writer; the others wait for its outcome, so a failed write stops every rank
            try:
                save_checkpoint(self.checkpoint_dir, tensors, state)
            except CheckpointError as e:
                error = e
        if ctx.any(error is not None):
            raise error or CheckpointError(f"Rank 0 could not write the checkpoint in {self.checkpoint_dir} (its error "
                                           "says why); this rank stops with it.")

    def _has_checkpoint(self, ctx) -> bool:
        """Whether there is a checkpoint to resume from; under distributed training every rank must see rank 0's."""
        found = has_checkpoint(self.checkpoint_dir)
        if ctx is None:
            return found
        seen = int(ctx.all_reduce_sum(torch.tensor([float(found)]))[0])
        if seen not in (0, ctx.world_size):
            raise CheckpointError(
                f"{seen} of {ctx.world_size} processes see a checkpoint in {self.checkpoint_dir}; this one "
                f"{'does' if found else 'does not'}. Every process reads the checkpoint rank 0 wrote: put the run "
                "folder on a file system all machines share, or copy it to each machine at the same path."
            )
        return bool(seen)

    def _named_callbacks(self):
        """``(ClassName/occurrence, callback)``: stable names whatever other callbacks are present."""
        seen: dict[str, int] = {}
        for cb in self.callbacks:
            kind = type(cb).__name__
            seen[kind] = seen.get(kind, -1) + 1
            yield f"{kind}/{seen[kind]}", cb

    def _restore(self, model, opt, gen, ctx=None):
        tensors, state = load_checkpoint(self.checkpoint_dir)
        model.load_state_dict({k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")})
        unflatten_optimizer(opt, tensors, state["optimizer"])
        set_rng_state(tensors, state["rng"])
        if ctx is not None:
            mine = f"rng/rank/{ctx.rank}/"
            if mine + "torch" in tensors:
                torch.set_rng_state(tensors[mine + "torch"])
                if mine + "cuda" in tensors and self.device.type == "cuda":
                    torch.cuda.set_rng_state(tensors[mine + "cuda"], self.device)
            else:  # written by fewer processes: a new noise stream for this rank, still fixed by the checkpoint
                torch.manual_seed(int(torch.randint(0, 2**62, (1,)).item()) + ctx.rank)
        if "rng/epoch" in tensors:
            gen.set_state(tensors["rng/epoch"])
        self.history, self.should_stop = state["history"], state["should_stop"]
        for name, cb in self._named_callbacks():
            if name in state["callbacks"]:
                prefix = f"callback/{name}/"
                cb.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}, state["callbacks"][name])
        acc = None
        if "acc_n" in state:
            sums = {k[len("acc/logs/"):]: v for k, v in tensors.items() if k.startswith("acc/logs/")}
            acc = (tensors["acc/total"], state["acc_n"], sums)
            if ctx is not None and not ctx.is_main:  # the saved sums are over all ranks: rank 0 carries them
                acc = (torch.zeros_like(acc[0]), 0, {k: torch.zeros_like(v) for k, v in sums.items()})
        if ctx is None or ctx.is_main:
            log.info("resumed from %s at epoch %d, batch %d", self.checkpoint_dir, state["epoch"] + 1, state["batch"])
        return state["epoch"], state["batch"], acc

