"""Data-parallel training on several processes with PyTorch's own DistributedDataParallel.

Nothing here communicates by hand: the process group is
:func:`torch.distributed.init_process_group` (``gloo`` on CPU, ``nccl`` for
CUDA tensors), gradients are averaged by
:class:`~torch.nn.parallel.DistributedDataParallel` during ``backward``, and
the few other exchanges (epoch metrics, the seed of the batch order, the codes
of frozen layers) are ``torch.distributed`` collectives.

How the :class:`~layerwise.train.Trainer` uses it, when ``torchrun`` (or an
equivalent launcher) has set ``RANK``/``WORLD_SIZE`` with more than one
process, or when the caller has already initialised a process group:

- every rank draws the *same* seeded permutation of the rows per epoch and
  takes its contiguous share of each *global* batch (``batch_size`` stays the
  number of rows per optimizer step over all processes: 256 on 4 processes is
  64 rows each). A batch that does not split evenly is split as evenly as
  possible and each rank's loss is weighted by its share of the rows, so the
  averaged gradient is the gradient of the global batch's mean loss, as on one
  process;
- semi-supervised batches (the ladder, M1+M2; :class:`~layerwise.data.semi.LabeledUnlabeled`)
  are shared the same way: every rank draws the same labeled and unlabeled
  orders and takes its share of each global batch of unlabeled rows and the
  labeled rows in the same proportions (:func:`labeled_share`), so the one
  weight per rank is right for both the labeled and the unlabeled mean.
  Preparation phases (M1 of M1+M2) are ordinary fits and are shared too;
- the model and the objective run inside one module that DDP wraps, so
  objectives may call any submodule (``model.encoder``, ``model.decode``...)
  and their gradients are still averaged by DDP;
- epoch metrics are summed over ranks (weighted by rows), so every rank sees
  the same history and takes the same early-stopping decision;
- only rank 0 writes checkpoints, logs and progress bars.

What differs from one process: objectives that normalise with the statistics
of the batch see each rank's share, as DDP's plain ``BatchNorm`` does
(no ``SyncBatchNorm``). The ladder network does this at every layer, so 2
processes follow a slightly different path from one, within the spread of
seeds; the noise of corruptions and of sampled codes is drawn per rank too.
Its running statistics are kept as DDP keeps buffers, rank 0's, and at the end
of every distributed fit the trainer copies rank 0's buffers to every rank
(``DistributedExecution.wrapped``), so every rank predicts the same.

Launch with ``torchrun --nproc_per_node=2 -m layerwise pretrain -c cfg.toml``
(see the README). ``LAYERWISE_DIST_TIMEOUT`` (seconds, default 600) bounds how
long a collective waits for a peer that died or hangs.
"""

from __future__ import annotations

import atexit
import datetime
import logging
import os
import time

import torch
from torch import nn

from ..exceptions import ConfigError
from .inference import BLOCK_ROWS, predict_in_batches
from .sharding import ShardedBatches, labeled_share, shard_bounds  # noqa: F401  (their home before)

log = logging.getLogger(__name__)

__all__ = [
    "DistributedContext",
    "launched",
    "is_distributed",
    "rank",
    "world_size",
    "local_rank",
    "local_device_index",
    "is_main",
    "init_from_env",
    "shutdown",
    "resolve",
    "shard_bounds",
    "labeled_share",
]

ENV_TIMEOUT = "LAYERWISE_DIST_TIMEOUT"
DEFAULT_TIMEOUT_S = 600.0
# what torchrun (and torch.distributed.launch, SLURM wrappers that follow it) sets for each worker
_LAUNCH_VARS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")

_owned = False  # True when layerwise initialised the process group (and so must destroy it)


# -- who am I ---------------------------------------------------------------------------------
def _dist_ready() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def launched() -> bool:
    """True when a launcher such as ``torchrun`` started this process as one of several.

    Reads ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``; a
    world size of 1 (``torchrun --nproc_per_node=1``) is a plain single process.
    """
    if not all(os.environ.get(v) for v in _LAUNCH_VARS):
        return False
    try:
        return int(os.environ["WORLD_SIZE"]) > 1
    except ValueError:
        return False


def is_distributed() -> bool:
    """True when a process group with more than one process is initialised."""
    return _dist_ready() and torch.distributed.get_world_size() > 1


def rank() -> int:
    """This process's rank: from the process group, else ``RANK`` from the launcher, else 0."""
    if _dist_ready():
        return torch.distributed.get_rank()
    return _env_int("RANK", 0)


def world_size() -> int:
    """Number of processes: from the process group, else ``WORLD_SIZE``, else 1."""
    if _dist_ready():
        return torch.distributed.get_world_size()
    return _env_int("WORLD_SIZE", 1)


def local_rank() -> int:
    """Rank on this machine (``LOCAL_RANK``, set by ``torchrun``), else 0: the GPU index to use."""
    return _env_int("LOCAL_RANK", 0)


def local_device_index() -> int:
    """The GPU of this process: ``LOCAL_RANK``, or 0 when the process sees a single GPU.

    A launcher that hands each process its own ``CUDA_VISIBLE_DEVICES`` (one
    GPU each, as some cluster schedulers do) leaves every process one
    device, numbered 0, whatever its local rank.

    Raises
    ------
    ConfigError
        More processes on this machine than GPUs.
    """
    index, count = local_rank(), torch.cuda.device_count()
    if index < count:
        return index
    if count == 1:
        return 0
    raise ConfigError(f"This is process {index} (LOCAL_RANK) on a machine with {count} visible CUDA device(s): one GPU "
                      f"per process is expected. Launch with torchrun --nproc_per_node={max(count, 1)}, or set device='cpu'.")


def is_main() -> bool:
    """True on rank 0 (and in every single-process run): the process that writes files and prints."""
    return rank() == 0


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def timeout() -> datetime.timedelta:
    """How long a collective waits for its peers: ``LAYERWISE_DIST_TIMEOUT`` seconds (default 600)."""
    raw = os.environ.get(ENV_TIMEOUT)
    if raw is None:
        return datetime.timedelta(seconds=DEFAULT_TIMEOUT_S)
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ConfigError(f"{ENV_TIMEOUT} must be a positive number of seconds; got {raw!r}. Unset it for the default "
                          f"({DEFAULT_TIMEOUT_S:.0f} s).")
    return datetime.timedelta(seconds=seconds)


# -- the process group ------------------------------------------------------------------------
def init_from_env(device: torch.device | str | None = None, force: bool = False) -> bool:
    """Initialise the default process group from the launcher's environment, once.

    Parameters
    ----------
    device : torch.device or str, optional
        The device training runs on: CUDA gives the ``cpu:gloo,cuda:nccl``
        backend (NCCL for CUDA tensors, gloo for CPU ones) and pins this
        process to GPU ``LOCAL_RANK``; anything else ``gloo``.
    force : bool, default=False
        Initialise even for a world size of 1 (``Trainer(distributed=True)``
        under ``torchrun --nproc_per_node=1``).

    Returns
    -------
    bool
        True if this call initialised the group (it is then destroyed by
        :func:`shutdown`, or at exit); False if it was already initialised (by
        layerwise or the caller, who keeps it) or no launcher is present.

    Raises
    ------
    ConfigError
        torch was built without ``torch.distributed``, or the timeout variable is wrong.
    """
    global _owned
    if _dist_ready():
        return False
    if not (launched() or (force and all(os.environ.get(v) for v in _LAUNCH_VARS))):
        return False
    if not torch.distributed.is_available():
        raise ConfigError("This torch build has no torch.distributed, which several processes need. Install a "
                          "standard torch wheel, or run one process.")
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type == "cuda":
        torch.cuda.set_device(dev if dev.index is not None else local_device_index())
        backend = "cpu:gloo,cuda:nccl"
    else:
        backend = "gloo"
    torch.distributed.init_process_group(backend=backend, timeout=timeout())
    _owned = True
    atexit.register(shutdown)  # a library user who never calls shutdown() still exits cleanly
    log.debug("initialised process group: rank %d of %d, backend %s", rank(), world_size(), backend)
    return True


def shutdown() -> None:
    """Destroy the process group if layerwise initialised it; a caller's own group is left alone."""
    global _owned
    if _owned and _dist_ready():
        _wait_for_idle_gloo_workers()
        torch.distributed.destroy_process_group()
        _wait_for_idle_gloo_workers()
    _owned = False


def _wait_for_idle_gloo_workers(timeout_s: float = 2.0) -> None:
    """Return once gloo's worker threads have let go of their last collective (at most ``timeout_s``).

    Why: a gloo worker thread drops a finished collective (and the tensors it
    holds) a moment after the caller's wait returns. If the interpreter has
    begun to shut down by then, dropping a tensor Python created needs the GIL
    and the thread aborts the process ("terminate called without an active
    exception", exit code -6, after a run that succeeded; described in
    PyTorch pull request 179291). ``destroy_process_group`` does not join these threads: once
    DistributedDataParallel has wrapped a model, the group outlives it.
    Seen in 2 of 39 launches on two busy cores, 0 of 60 with this wait. A worker is idle when the
    kernel reports it sleeping (waiting for work, or for the GIL, which this
    loop's sleeps hand over) twice in a row. Linux only; elsewhere a no-op.
    """
    tasks = "/proc/self/task"
    if not os.path.isdir(tasks):
        return

    def states() -> list[str]:
        out = []
        for tid in os.listdir(tasks):
            try:
                with open(f"{tasks}/{tid}/stat") as f:
                    stat = f.read()
            except OSError:  # the thread ended
                continue
            name, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :]
            if name.startswith("pt_gloo"):
                out.append(rest[:1])
        return out

    deadline, calm = time.monotonic() + timeout_s, 0
    while time.monotonic() < deadline and calm < 2:
        time.sleep(0.005)
        calm = calm + 1 if all(s == "S" for s in states()) else 0


def resolve(option: bool | str, device: torch.device) -> DistributedContext | None:
    """The context of a ``Trainer(distributed=option)``, initialising the group if needed; None for one process.

    ``"auto"`` is distributed when a launcher started several processes or a
    process group of several is initialised; ``True`` insists (an error
    without either); ``False`` never is.
    """
    if option is False:
        return None
    if option not in ("auto", True):
        raise ConfigError(f"distributed must be 'auto', True or False; got {option!r}.")
    if not _dist_ready():
        init_from_env(device, force=option is True)
    if not _dist_ready():
        if option is True:
            raise ConfigError(
                "distributed=True, but this process was not started by a launcher (RANK, WORLD_SIZE, MASTER_ADDR and "
                "MASTER_PORT are unset) and no process group is initialised. Launch with "
                "`torchrun --nproc_per_node=N ...`, call torch.distributed.init_process_group first, or use "
                "distributed='auto' to train on one process."
            )
        return None
    if torch.distributed.get_world_size() == 1 and option == "auto":
        return None
    return DistributedContext(device)


# -- the context a distributed fit uses -------------------------------------------------------
class DistributedContext:
    """Rank, world size and the collectives of one distributed fit.

    Parameters
    ----------
    device : torch.device
        Where the model trains; the tensors of collectives go where the
        backend wants them (CPU for gloo, the current GPU for NCCL alone).
    """

    def __init__(self, device: torch.device) -> None:
        self.device = torch.device(device)
        self.rank = torch.distributed.get_rank()
        self.world_size = torch.distributed.get_world_size()
        backend = str(torch.distributed.get_backend())
        # which tensors the backend moves: gloo CPU ones (and CUDA ones through the CPU), NCCL CUDA ones;
        # "cpu:gloo,cuda:nccl" (what init_from_env opens for CUDA) each on its own device
        self._cpu_ok = "gloo" in backend or "nccl" not in backend
        self._cuda_ok = "nccl" in backend

    def _to_comm(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` (detached, contiguous) on a device the backend can send from."""
        t = t.detach()
        if t.is_cuda and not self._cuda_ok:
            t = t.cpu()
        elif not t.is_cuda and not self._cpu_ok:
            t = t.to(torch.device("cuda", torch.cuda.current_device()))
        return t.contiguous()

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, n: int) -> tuple[int, int]:
        """``(start, stop)`` of this rank's contiguous share of ``n`` rows."""
        return shard_bounds(n, self.rank, self.world_size)

    # collectives: every rank must call them, in the same order
    def all_reduce_sum(self, t: torch.Tensor) -> torch.Tensor:
        """The sum over ranks of ``t`` (a new tensor on ``t``'s device)."""
        out = self._to_comm(t).clone()
        torch.distributed.all_reduce(out, op=torch.distributed.ReduceOp.SUM)
        return out.to(t.device)

    def broadcast(self, t: torch.Tensor, src: int = 0) -> torch.Tensor:
        """Rank ``src``'s value of ``t`` on every rank (a new tensor on ``t``'s device)."""
        out = self._to_comm(t).clone()
        torch.distributed.broadcast(out, src=src)
        return out.to(t.device)

    def all_gather(self, t: torch.Tensor) -> list[torch.Tensor]:
        """``t`` of every rank (same shape and dtype on each), in rank order, on ``t``'s device."""
        sent = self._to_comm(t)
        out = [torch.empty_like(sent) for _ in range(self.world_size)]
        torch.distributed.all_gather(out, sent)
        return [o.to(t.device) for o in out]

    def any(self, flag: bool) -> bool:
        """True on every rank if ``flag`` is true on any: one decision for all (stopping, errors)."""
        return bool(self.all_reduce_sum(torch.tensor([float(bool(flag))]))[0] > 0)

    def reduce_metrics(self, total, n: int, sums: dict) -> tuple[float, int, dict[str, float]]:
        """Sum a loss total, a row count and summed logs over ranks (float64, one collective)."""
        keys = sorted(sums)
        local = torch.tensor([float(total), float(n), *(float(sums[k]) for k in keys)], dtype=torch.float64)
        out = self.all_reduce_sum(local).tolist()
        return out[0], int(round(out[1])), dict(zip(keys, out[2:]))

    # the model
    def wrap(self, model: nn.Module, objective) -> nn.Module:
        """``model`` and ``objective`` as one DDP module: ``wrapped(batch) -> StepOutput``.

        Running the whole objective inside DDP's forward lets it call any
        submodule (``model.encoder``, ``model.free_energy``...) and still have
        DDP average the gradients. ``static_graph=True``: the parameters an
        objective uses are the same at every step, which lets DDP skip those
        it never uses (e.g. the greedy decoders of a fine-tuned stack) without
        searching the graph at every step as ``find_unused_parameters`` would.
        """
        from torch.nn.parallel import DistributedDataParallel

        module = _ObjectiveModule(model, objective)
        ids = [self.device.index if self.device.index is not None else torch.cuda.current_device()] if self.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=ids, static_graph=True)

    @staticmethod
    def unwrap(ddp: nn.Module) -> None:
        """Detach DDP's gradient hooks from the model's parameters (before they are trained again elsewhere)."""
        remove = getattr(ddp, "_remove_autograd_hooks", None)
        if remove is not None:
            remove()

    # inference, shard by shard
    @torch.no_grad()
    def predict(self, module: nn.Module, X: torch.Tensor, batch_size: int = BLOCK_ROWS, method: str | None = None) -> torch.Tensor:
        """``predict_in_batches(module, X)`` with each rank computing its share of rows, gathered on every rank.

        Every rank gets the full result (the next greedy stage samples its
        batches from all rows, like one process does); the work is split.
        """
        start, stop = self.shard(X.shape[0])
        n_max = -(-X.shape[0] // self.world_size)
        # an empty share (fewer rows than ranks) still runs one row to learn the output's shape and dtype
        part = predict_in_batches(module, X[start:stop] if stop > start else X[:1], batch_size, method)
        if stop == start:
            part = part[:0]
        padded = part.new_zeros((n_max, *part.shape[1:]))
        padded[: part.shape[0]] = part
        pieces = self.all_gather(padded)
        bounds = [shard_bounds(X.shape[0], r, self.world_size) for r in range(self.world_size)]
        return torch.cat([piece[: b - a] for piece, (a, b) in zip(pieces, bounds)])


class _ObjectiveModule(nn.Module):
    """``objective(model, batch)`` as a module's forward, for DDP to wrap."""

    def __init__(self, model: nn.Module, objective) -> None:
        super().__init__()
        self.model = model
        self.objective = objective

    def forward(self, batch):
        return self.objective(self.model, batch)


class DistributedObjective:
    """An objective that runs through the DDP module: what the loop calls in place of ``objective``.

    ``self(model, batch)`` ignores ``model`` (the DDP module holds it) so the
    loop's calling convention is unchanged.
    """

    def __init__(self, ddp: nn.Module, objective) -> None:
        self.ddp, self.objective = ddp, objective

    def __call__(self, model: nn.Module, batch):
        return self.ddp(batch)
