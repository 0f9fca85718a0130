"""What a checkpoint was trained on: a fingerprint of the data and of every setting that changes the result.

A checkpoint records it (``checkpoint.json``, ``"fingerprint"``); resuming compares it with the fit that
asks to resume and refuses a checkpoint of other data or settings, saying which differ, instead of
continuing a run that is not the one asked for (new data, a new learning rate or solver silently
replaced by the checkpoint's).

- **data**: shape, dtype and SHA-256 of every training and validation tensor (of the bytes of a
  ``.npy`` file streamed from disk). SHA-256 runs at about 2 GB/s: 0.09 s for MNIST's 60,000 x 784
  float32 rows, once per fit and only when the fit checkpoints, against seconds for one epoch;
- **settings**: the trainer's arguments that change the result (not the device, progress,
  checkpointing or ``max_iter``, which only says when to stop), the learning rate of every parameter group, the model (parameter names and shapes,
  and the plain options of every sub-module, e.g. a dropout rate), the objective's plain options, and
  the options of every callback that changes the result (:meth:`Callback.fingerprint
  <layerwise.train.Callback.fingerprint>`: the learning-rate schedule and its arguments, early stopping),
  under the key it names (``lr_schedule``, ``lr_schedule.gamma``).

Fingerprints carry a ``version``: a checkpoint of version 1 (before callbacks were recorded) is compared on
the keys it has, so that it still resumes.
"""

from __future__ import annotations

import hashlib
import numbers
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = ["fingerprint", "fingerprint_differences", "RESULT_SETTINGS"]

#: The Trainer arguments that change what a fit computes. ``max_iter`` is not one of them: it says when to
#: stop, so a fit can resume to train longer (a cosine schedule then follows the new length).
RESULT_SETTINGS = ("solver", "learning_rate_init", "momentum", "alpha", "batch_size", "shuffle",
                   "early_stopping", "n_iter_no_change", "tol", "random_state", "precision", "grad_clip", "chunk_rows")
_IGNORED_ATTRIBUTES = {"training", "dump_patches", "call_super_init"}
VERSION = 2  # 2: the callbacks' options (learning-rate schedules, early stopping) are recorded


def fingerprint(trainer, model: nn.Module, objective, opt: torch.optim.Optimizer, train, val,
                callbacks=None) -> dict[str, Any]:
    """``{"version": 2, "settings": {...}, "data": {...}}``, JSON-able, flat: one entry per compared value.

    ``callbacks``: those of the fit (default: the trainer's); each one's :meth:`~layerwise.train.Callback.fingerprint`
    is recorded, a key given twice (two schedules) numbered from the second on (``lr_schedule[1]``)."""
    settings: dict[str, Any] = {}
    for name in RESULT_SETTINGS:
        value = getattr(trainer, name)
        settings[f"trainer.{name}"] = _json(value) if _plain(value) else type(value).__name__
    settings["optimizer.lr"] = [float(g["lr"]) for g in opt.param_groups]
    for name, p in model.state_dict().items():
        settings[f"model.{name}"] = list(p.shape)
    for name, module in model.named_modules():
        settings.update(_options(module, f"model.{name}".rstrip(".")))
    settings.update(_options(objective, "objective", depth=2))
    settings.update(_callback_options(trainer.callbacks if callbacks is None else callbacks))
    data = {}
    for part, tensors in (("train", train), ("val", val)):
        for i, t in enumerate(_tensors(tensors)):
            data[f"{part}[{i}]"] = _digest(t)
    return {"version": VERSION, "settings": settings, "data": data}


def _callback_options(callbacks) -> dict[str, Any]:
    out: dict[str, Any] = {}
    seen: dict[str, int] = {}
    for cb in callbacks:
        options = cb.fingerprint() if hasattr(cb, "fingerprint") else None
        if not options:
            continue
        head = next(iter(options)).split(".")[0]
        n = seen[head] = seen.get(head, -1) + 1
        for key, value in options.items():
            if n:  # a second schedule: lr_schedule[1], lr_schedule[1].gamma
                key = f"{head}[{n}]{key[len(head):]}"
            out[key] = _json(value) if _plain(value) else repr(value)
    return out


def fingerprint_differences(saved: dict, now: dict, limit: int = 6) -> list[str]:
    """Lines ``"trainer.learning_rate_init: 0.001 in the checkpoint, 0.01 now"``, data first; ``[]`` if equal."""
    lines = []
    old = saved.get("version", 1) < VERSION  # recorded fewer settings: compare those it has
    for part in ("data", "settings"):
        a, b = saved.get(part, {}), now.get(part, {})
        for key in [*a, *(k for k in b if k not in a and not old)]:
            if a.get(key) != b.get(key):
                lines.append(f"{key}: {_say(a.get(key), part)} in the checkpoint, {_say(b.get(key), part)} now")
    return lines[:limit] + ([f"... and {len(lines) - limit} more"] if len(lines) > limit else [])


def _say(value, part: str) -> str:
    if value is None:
        return "absent"
    if part == "data":
        return f"shape {tuple(value['shape'])} {value['dtype']} (sha256 {value['sha256'][:12]})"
    return repr(value)


def _tensors(data) -> list:
    if data is None:
        return []
    if hasattr(data, "tensors") and not isinstance(data, (tuple, list)):  # LabeledUnlabeled
        return list(data.tensors)
    return list(data)


def _digest(t) -> dict:
    """Shape, dtype and SHA-256 of a tensor's bytes (of a streamed ``.npy`` file's bytes)."""
    from .checkpoint import file_sha256

    if hasattr(t, "path") and not isinstance(t, torch.Tensor):  # NpyFile: the file itself, read in 1 MiB blocks
        return {"shape": list(t.shape), "dtype": str(t.dtype), "sha256": file_sha256(t.path)}
    a = t.detach().cpu().contiguous() if isinstance(t, torch.Tensor) else np.ascontiguousarray(t)
    raw = a.view(torch.uint8).numpy() if isinstance(a, torch.Tensor) and a.dtype == torch.bfloat16 else np.asarray(a)
    return {"shape": list(a.shape), "dtype": str(a.dtype).replace("torch.", ""),
            "sha256": hashlib.sha256(memoryview(np.ascontiguousarray(raw)).cast("B")).hexdigest()}


def _options(obj, prefix: str, depth: int = 1) -> dict[str, Any]:
    """The plain public attributes of ``obj`` (numbers, strings, booleans, None, tuples of them): its options.

    An objective's tensors named ``X_...`` are data it trains on (the unlabeled rows of ``SemiSupervised``):
    their digest is compared too. Other tensors are state that training changes (a persistent chain).
    """
    out: dict[str, Any] = {prefix: type(obj).__name__}
    for key, value in vars(obj).items():
        if key.startswith("_") or key in _IGNORED_ATTRIBUTES:
            continue
        if _plain(value):
            out[f"{prefix}.{key}"] = _json(value)
        elif isinstance(value, torch.Tensor) and key.startswith("X_") and not isinstance(obj, nn.Module):
            out[f"{prefix}.{key}"] = _digest(value)["sha256"]
        elif depth > 1 and not isinstance(value, (nn.Module, torch.Tensor, dict, list, set)) and hasattr(value, "__dict__"):
            out.update(_options(value, f"{prefix}.{key}", depth - 1))  # e.g. the objective's corruption
    return out


def _plain(value) -> bool:
    if isinstance(value, (tuple, list)):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (bool, str, np.bool_)) or (isinstance(value, numbers.Real))


def _json(value):
    """``value`` as it reads back from JSON: lists for tuples, Python numbers for NumPy ones."""
    if isinstance(value, (tuple, list)):
        return [_json(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value
