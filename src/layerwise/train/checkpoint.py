"""Atomic checkpoints: tensors in safetensors, everything else in JSON; never pickle.

A checkpoint is a folder with ``checkpoint.safetensors`` and ``checkpoint.json``.
Both are written to temporary files, flushed with ``fsync`` and renamed into
place, JSON last: the JSON names the tensor file's digest, and the tensor file
it replaces is kept as ``checkpoint.prev.safetensors`` until the next save. So
a crash, or a full disk, between the two renames leaves the previous
checkpoint readable (its JSON and its tensors), never a mixed one.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..exceptions import CheckpointError

__all__ = ["file_sha256", "save_checkpoint", "load_checkpoint", "has_checkpoint", "clear_checkpoint", "check_resume",
           "checkpoint_dir_problems", "flatten_optimizer", "unflatten_optimizer",
           "rng_state", "set_rng_state", "atomic_write_bytes"]

FORMAT = 1
PREVIOUS = "checkpoint.prev.safetensors"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, fsync and rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise CheckpointError(f"Could not write {path}: {e}. Free some disk space or choose another checkpoint_dir; "
                              "the previous checkpoint, if any, is intact.") from e


def save_checkpoint(folder: str | os.PathLike, tensors: dict[str, torch.Tensor], state: dict[str, Any]) -> None:
    """Write ``tensors`` and the JSON-able ``state`` to ``folder`` atomically."""
    folder = Path(folder)
    tmp = folder / f".checkpoint.safetensors.tmp{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        digest = file_sha256(tmp)
        current = folder / "checkpoint.safetensors"
        if current.is_file():  # still named by the current checkpoint.json until that is replaced
            os.replace(current, folder / PREVIOUS)
        os.replace(tmp, current)
    except (OSError, SafetensorError) as e:  # safetensors reports a full disk as a SafetensorError
        tmp.unlink(missing_ok=True)
        raise CheckpointError(f"Could not write a checkpoint in {folder}: {e}. Free some disk space or choose another "
                              "checkpoint_dir; the previous checkpoint, if any, is intact.") from e
    body = {"format": FORMAT, "tensors_sha256": digest, **state}
    atomic_write_bytes(folder / "checkpoint.json", json.dumps(body).encode())


def checkpoint_dir_problems(folder) -> list[str]:
    """``[problem]`` when ``folder`` cannot hold checkpoints (it is a file), else ``[]``."""
    if folder is not None and Path(folder).is_file():
        return [f"checkpoint_dir={str(folder)!r} is a file; expected a folder (created if absent) for the checkpoints."]
    return []


def check_resume(resume: bool, folder, owner: str) -> None:
    """``resume=True`` needs somewhere to resume from: a :class:`~layerwise.ConfigError` without ``checkpoint_dir``."""
    if resume is True and folder is None:
        from ..exceptions import ConfigError

        raise ConfigError(f"{owner}: resume=True continues from the checkpoints in checkpoint_dir, but checkpoint_dir is "
                          "None; pass the checkpoint_dir of the interrupted fit, or resume=False to train from the start.")
    if not isinstance(resume, bool):
        from ..exceptions import ConfigError

        raise ConfigError(f"{owner}: resume must be True or False; got {resume!r}.")


def clear_checkpoint(folder: str | os.PathLike | None) -> None:
    """Remove the checkpoint files of ``folder`` (only those :func:`save_checkpoint` writes), if any."""
    if folder is None or not Path(folder).is_dir():
        return
    for name in ("checkpoint.json", "checkpoint.safetensors", PREVIOUS):  # the JSON first: no half checkpoint is readable
        (Path(folder) / name).unlink(missing_ok=True)


def has_checkpoint(folder: str | os.PathLike | None) -> bool:
    return folder is not None and (Path(folder) / "checkpoint.json").is_file()


def load_checkpoint(folder: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint written by :func:`save_checkpoint`, checking that its two files belong together."""
    folder = Path(folder)
    try:
        state = json.loads((folder / "checkpoint.json").read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(f"Cannot read {folder / 'checkpoint.json'}: {e}. Delete the folder to start over.") from e
    if not isinstance(state, dict) or "tensors_sha256" not in state:
        raise CheckpointError(f"{folder / 'checkpoint.json'} is not a layerwise checkpoint (no 'tensors_sha256' entry). "
                              "Delete the folder to start over.")
    if state.get("format") != FORMAT:
        raise CheckpointError(f"{folder} holds checkpoint format {state.get('format')!r}; this layerwise reads format {FORMAT}.")
    path = folder / "checkpoint.safetensors"
    if not path.is_file() or file_sha256(path) != state["tensors_sha256"]:
        previous = folder / PREVIOUS  # a save interrupted between its two renames: the JSON still names these
        if not previous.is_file() or file_sha256(previous) != state["tensors_sha256"]:
            raise CheckpointError(f"{path} is missing or does not match {folder / 'checkpoint.json'} (interrupted write?). "
                                  "Delete the folder to start over.")
        path = previous
    try:
        return load_file(str(path)), state
    except SafetensorError as e:  # a damaged header whose digest still matched: written by something else
        raise CheckpointError(f"Cannot read {path} as safetensors: {e}. Delete the folder to start over.") from e


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def flatten_optimizer(opt: torch.optim.Optimizer, prefix: str = "optim/") -> tuple[dict[str, torch.Tensor], dict]:
    """An optimizer's state as named tensors plus JSON (param groups, non-tensor values)."""
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, st in sd["state"].items():
        for name, value in st.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}{idx}/{name}"] = value
            else:
                scalars[f"{idx}/{name}"] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def unflatten_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict, prefix: str = "optim/") -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith(prefix):
            idx, name = key[len(prefix):].split("/", 1)
            state.setdefault(int(idx), {})[name] = value
    for key, value in meta["scalars"].items():
        idx, name = key.split("/", 1)
        state.setdefault(int(idx), {})[name] = value
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def rng_state() -> tuple[dict[str, torch.Tensor], dict]:
    """torch (CPU and CUDA), NumPy and Python generator states."""
    tensors = {"rng/torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{i}"] = s
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    py = random.getstate()
    return tensors, {"numpy": [kind, keys.tolist(), pos, has_gauss, cached], "python": [py[0], list(py[1]), py[2]]}


def set_rng_state(tensors: dict[str, torch.Tensor], meta: dict) -> None:
    torch.set_rng_state(tensors["rng/torch"])
    cuda = sorted(k for k in tensors if k.startswith("rng/cuda/"))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda])
    kind, keys, pos, has_gauss, cached = meta["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    version, internal, gauss = meta["python"]
    random.setstate((version, tuple(internal), gauss))
