"""The thread policy of a fit: one torch thread for small networks, where more threads only wait for each other.

On two cores, two torch threads beat one on an idle machine (the digits ladder, 64-512-256-10: 10.7 against
12.7 ms per step, ``benchmarks/bench_levers.py --threads``), but with one other busy process they collapse:
each of the hundreds of small operations of a step waits for the thread that shares a core with the other
process (``layerwise demo``'s ladder took 870 s instead of 27 s). A user's laptop always runs something
else. So a fit whose largest weight matrix has fewer than :data:`MIN_PARALLEL_WEIGHTS` entries runs on one
thread: 1.19x slower on an idle machine, never 30x slower on a busy one. Larger networks keep torch's thread
count, where one thread cost more (784-512-256-10: 0.71x; the ladder paper's network 0.70x).

The rule depends on the network only, not on the machine's load, so that a fit with a ``random_state``
gives the same numbers every time on the same machine (a ladder's results change in the last digits with
the thread count). The previous count is restored after the fit. ``OMP_NUM_THREADS`` set, or
``LAYERWISE_THREADS=fixed``, leaves torch's thread count alone.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from .precision import largest_weight

__all__ = ["MIN_PARALLEL_WEIGHTS", "ThreadPolicy"]

#: Entries of the largest weight matrix below which a fit runs on one thread (the same boundary as bf16's:
#: digits' 512x256 layer, 131,072 entries, is below; MNIST's 784x512, 401,408, above).
MIN_PARALLEL_WEIGHTS = 262_144


class ThreadPolicy:
    """One torch thread during the fit of a small network (see the module's doc); a context manager.

    Parameters
    ----------
    model : nn.Module
        The network the fit trains.

    Attributes
    ----------
    threads : int
        The thread count during the fit.

    Examples
    --------
    >>> with ThreadPolicy(nn.Linear(64, 32)) as policy:
    ...     policy.threads <= torch.get_num_threads()
    True
    """

    def __init__(self, model: nn.Module) -> None:
        self._before = torch.get_num_threads()
        fixed = "OMP_NUM_THREADS" in os.environ or os.environ.get("LAYERWISE_THREADS") == "fixed"
        self.threads = self._before if fixed or largest_weight(model) >= MIN_PARALLEL_WEIGHTS else 1

    def __enter__(self) -> ThreadPolicy:
        if self.threads != self._before:
            torch.set_num_threads(self.threads)
        return self

    def __exit__(self, *exc) -> None:
        if torch.get_num_threads() != self._before:
            torch.set_num_threads(self._before)
