"""Where a fit runs: one process, or several data-parallel ones, behind one small interface.

The :class:`~layerwise.train.Trainer`'s loop calls the same methods either way;
:class:`LocalExecution` makes each of them the plain one-process step (or
nothing), :class:`DistributedExecution` the ``torch.distributed`` one (see
:mod:`layerwise.train.distributed` for what is exchanged and why). So the loop
reads top to bottom without a branch on the number of processes.

Only :mod:`layerwise.train` knows about ranks. Code elsewhere that must act once
per run (print, write the run folder, clear old checkpoints) asks a
:class:`Role` -- the execution of a fit, or :func:`this_process` outside one --
through :meth:`Role.once`, :attr:`Role.writes` and :attr:`Role.who`
(``tests/test_layers.py`` checks that no other module asks for a rank).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from ..exceptions import CheckpointError, ConfigError
from ..params.constraints import COMPUTE_DEVICES
from . import distributed as dist_
from .inference import BLOCK_ROWS, predict_in_batches

__all__ = ["Role", "LocalExecution", "DistributedExecution", "resolve_execution", "resolve_device", "this_process", "shutdown"]


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else as given.

    Under ``torchrun`` a bare ``"cuda"`` is the GPU ``LOCAL_RANK`` of this machine.

    Raises
    ------
    ConfigError
        A name torch does not know (``"gpu"``, ``"tpu"``), or ``"cuda"``/``"mps"``
        on a machine without that accelerator.
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as e:
        raise ConfigError(
            f"device must be 'auto', 'cpu', 'cuda', 'cuda:<index>' or another torch device; got {device!r}. "
            "Use device='auto' to take CUDA when available, else the CPU."
        ) from e
    if dev.type not in COMPUTE_DEVICES:
        raise ConfigError(f"device={device!r} is a {dev.type!r} device, which holds no data to train on; expected one of "
                          f"{list(COMPUTE_DEVICES)} (e.g. 'cpu', 'cuda:0'). Use device='auto' to take CUDA when available.")
    if dev.type == "cuda" and dev.index is None and dist_.launched() and torch.cuda.is_available():
        # one GPU per process under torchrun: process LOCAL_RANK of this machine takes GPU LOCAL_RANK
        return torch.device("cuda", dist_.local_device_index())
    available = {"cuda": torch.cuda.is_available, "mps": lambda: torch.backends.mps.is_available()}
    if dev.type in available and not available[dev.type]():
        raise ConfigError(f"device={device!r} was asked for, but this machine (torch {torch.__version__}) has no {dev.type} "
                          "device. Use device='auto' or 'cpu'.")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ConfigError(f"device={device!r} was asked for, but this machine has {torch.cuda.device_count()} CUDA "
                          f"device(s), numbered from 0. Use device='cuda' or 'auto'.")
    return dev


def _draw_seed() -> int:
    return int(torch.randint(0, 2**62, (1,)).item())


class Role:
    """A process's part in a run: rank 0 (or the only process) writes files and prints; the others train and stay
    silent. What code outside :mod:`layerwise.train` asks instead of a rank.

    Parameters
    ----------
    rank : int, default=0
    world_size : int, default=1
    launched : bool, default=False
        Whether a launcher such as ``torchrun`` started this process as one of several.
    """

    def __init__(self, rank: int = 0, world_size: int = 1, launched: bool = False) -> None:
        self.rank, self.world_size, self.is_main, self.launched = rank, world_size, rank == 0, launched

    @property
    def writes(self) -> bool:
        """Whether this process writes the run's files and messages (rank 0; the only process of a local run)."""
        return self.is_main

    @property
    def who(self) -> str:
        """This process in a message: ``""`` for the one that writes, ``"rank 2"`` for another."""
        return "" if self.is_main else f"rank {self.rank}"

    def once(self, action: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``action(*args, **kwargs)`` on the process that writes, and nowhere else: its result there, None on the
        other ranks, which do not wait for it (:meth:`LocalExecution.write` is the form every rank waits for, whose
        failure stops them all)."""
        return action(*args, **kwargs) if self.is_main else None


def this_process() -> Role:
    """This process's :class:`Role` outside a fit, from the process group when one is open, else from the launcher's
    environment (``RANK``, ``WORLD_SIZE``); one process otherwise. Opens nothing."""
    return Role(dist_.rank(), dist_.world_size(), dist_.launched())


def shutdown() -> None:
    """Close the process group layerwise opened for the fits of this process, if any (a caller's own is kept)."""
    dist_.shutdown()


class LocalExecution(Role):
    """One process: every step as written, every exchange a no-op."""

    def batch_seed(self) -> int:
        """The seed of the batch order, drawn from torch's global generator."""
        return _draw_seed()

    def shard(self, batches):
        return batches

    def same_on_all_ranks(self, value: int) -> int:
        """Rank 0's ``value`` on every rank (one process: ``value``), e.g. the name of a shared file."""
        return value

    def iter_batches(self, batches, first_batch: int) -> Iterator[tuple[tuple[torch.Tensor, ...], int, float | None]]:
        """``(batch, rows, loss weight)`` from ``first_batch`` on; the weight is ``None``: the loss as it is."""
        for batch in batches.iter_from(first_batch):
            yield batch, batch[0].shape[0], None

    @contextlib.contextmanager
    def wrapped(self, model: nn.Module, objective) -> Iterator[Callable]:
        """The objective each step calls."""
        yield objective

    def progress(self, epochs: range, desc: str, verbose: bool):
        """``epochs`` with a progress bar when ``verbose`` (and only on rank 0)."""
        # disable=None: no bar when the output is not a terminal (CI logs, pipes)
        return tqdm(epochs, desc=desc, disable=None if verbose and self.is_main else True, leave=False, dynamic_ncols=True)

    def any(self, flag: bool) -> bool:
        return bool(flag)

    def reduce_metrics(self, total, n: int, sums: dict):
        return total, n, sums

    def validate(self, evaluate: Callable[[tuple[torch.Tensor, ...]], float], val: tuple[torch.Tensor, ...]) -> float:
        return evaluate(val)

    def predict(self, module: nn.Module, X: torch.Tensor, batch_size: int = BLOCK_ROWS, method: str | None = None) -> torch.Tensor:
        return predict_in_batches(module, X, batch_size, method)

    # -- what a checkpoint needs ---------------------------------------------------------------------
    def checkpoint_info(self) -> dict[str, Any]:
        return {}

    def rank_rng(self, device: torch.device) -> dict[str, torch.Tensor]:
        """Every rank's noise generator (one process: the global one is in the checkpoint already)."""
        return {}

    def restore_rank_rng(self, tensors: dict[str, torch.Tensor], device: torch.device) -> None:
        pass

    def total_acc(self, acc):
        """The partial epoch sums of every rank, for a mid-epoch checkpoint."""
        return acc

    def own_acc(self, acc):
        """This rank's share of restored partial sums."""
        return acc

    def found_checkpoint(self, found: bool, folder) -> bool:
        return found

    def write(self, write: Callable[[], None], folder) -> None:
        write()


class DistributedExecution(LocalExecution):
    """Several processes: rank 0's batch order, sharded batches, DDP, reduced metrics, one writer.

    Parameters
    ----------
    ctx : DistributedContext
    """

    def __init__(self, ctx: dist_.DistributedContext) -> None:
        super().__init__(ctx.rank, ctx.world_size, dist_.launched())
        self.ctx = ctx

    def batch_seed(self) -> int:
        # the batch order must be the same on every rank (rank 0's seed); the noise of corruptions,
        # dropout and sampling must not (each rank its own stream, still fixed by the trainer's seed)
        seed, noise = _draw_seed(), _draw_seed()
        seed, noise = (int(v) for v in self.ctx.broadcast(torch.tensor([seed, noise], dtype=torch.int64)))
        torch.manual_seed(noise + self.rank)
        return seed

    def shard(self, batches):
        return dist_.ShardedBatches(batches, self.rank, self.world_size)

    def same_on_all_ranks(self, value: int) -> int:
        return int(self.ctx.broadcast(torch.tensor([value], dtype=torch.int64))[0])

    def iter_batches(self, batches, first_batch: int):
        return batches.iter_from(first_batch)

    @contextlib.contextmanager
    def wrapped(self, model: nn.Module, objective):
        # wrapped after a restore: DDP starts from the restored weights
        ddp = self.ctx.wrap(model, objective)
        try:
            yield dist_.DistributedObjective(ddp, objective)
            # each rank updated its running statistics (batch norm) from its own rows after DDP's last broadcast:
            # rank 0's on every rank, so that all ranks predict the same (not in `finally`: a peer may be gone)
            with torch.no_grad():
                for b in model.buffers():
                    b.copy_(self.ctx.broadcast(b))
        finally:
            self.ctx.unwrap(ddp)

    def any(self, flag: bool) -> bool:
        # a callback that stops one rank stops them all: no rank waits for the others forever
        return self.ctx.any(flag)

    def reduce_metrics(self, total, n: int, sums: dict):
        # every rank gets the row-weighted mean over all ranks
        return self.ctx.reduce_metrics(total, n, sums)

    def validate(self, evaluate, val):
        """Each rank evaluates its share of the rows; the means are combined, weighted by rows."""
        start, stop = self.ctx.shard(val[0].shape[0])
        # a rank without rows (fewer rows than ranks) evaluates one and counts none
        part = tuple(t[start:stop] if stop > start else t[:1] for t in val)
        rows = stop - start
        total, n, _ = self.ctx.reduce_metrics(evaluate(part) * rows, rows, {})
        return total / n

    def predict(self, module, X, batch_size=BLOCK_ROWS, method=None):
        return self.ctx.predict(module, X, batch_size, method)

    def checkpoint_info(self) -> dict[str, Any]:
        return {"world_size": self.world_size}

    def rank_rng(self, device: torch.device) -> dict[str, torch.Tensor]:
        # weights, optimizer and batch order are the same on every rank; the noise generators are
        # not: keep each rank's, so a resumed run draws the noise an uninterrupted one would
        tensors = {f"rng/rank/{r}/torch": s for r, s in enumerate(self.ctx.all_gather(torch.get_rng_state()))}
        if device.type == "cuda":
            cuda = self.ctx.all_gather(torch.cuda.get_rng_state(device))
            tensors.update({f"rng/rank/{r}/cuda": s for r, s in enumerate(cuda)})
        return tensors

    def restore_rank_rng(self, tensors, device) -> None:
        mine = f"rng/rank/{self.rank}/"
        if mine + "torch" in tensors:
            torch.set_rng_state(tensors[mine + "torch"])
            if mine + "cuda" in tensors and device.type == "cuda":
                torch.cuda.set_rng_state(tensors[mine + "cuda"], device)
        else:  # written by fewer processes: a new noise stream for this rank, still fixed by the checkpoint
            torch.manual_seed(_draw_seed() + self.rank)

    def total_acc(self, acc):
        if acc is None:
            return None
        total, n, sums = self.ctx.reduce_metrics(*acc)  # a resume gives them to rank 0
        return torch.tensor(total, dtype=torch.float64), n, {k: torch.tensor(v, dtype=torch.float64) for k, v in sums.items()}

    def own_acc(self, acc):
        if acc is None or self.is_main:
            return acc
        total, _, sums = acc  # the saved sums are over all ranks: rank 0 carries them
        return torch.zeros_like(total), 0, {k: torch.zeros_like(v) for k, v in sums.items()}

    def found_checkpoint(self, found: bool, folder) -> bool:
        """Whether to resume; every rank must see rank 0's checkpoint."""
        seen = int(self.ctx.all_reduce_sum(torch.tensor([float(found)]))[0])
        if seen not in (0, self.world_size):
            raise CheckpointError(
                f"{seen} of {self.world_size} processes see a checkpoint in {folder}; this one "
                f"{'does' if found else 'does not'}. Every process reads the checkpoint rank 0 wrote: put the run "
                "folder on a file system all machines share, or copy it to each machine at the same path."
            )
        return bool(seen)

    def write(self, write, folder) -> None:
        """Rank 0 writes; the others wait for its outcome, so a failed write stops every rank."""
        error = None
        if self.is_main:
            try:
                write()
            except CheckpointError as e:
                error = e
        if self.ctx.any(error is not None):
            raise error or CheckpointError(f"Rank 0 could not write the checkpoint in {folder} (its error says why); "
                                           "this rank stops with it.")


def resolve_execution(option: bool | str, device: torch.device) -> LocalExecution:
    """The execution of a ``Trainer(distributed=option)``: local unless several processes train (see
    :func:`layerwise.train.distributed.resolve`)."""
    ctx = dist_.resolve(option, device)
    return LocalExecution() if ctx is None else DistributedExecution(ctx)
