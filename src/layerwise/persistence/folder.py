"""The model-file format: a folder with the weights, what rebuilds the model, and provenance.

A model folder holds three files and never a pickle (a pickle runs code when
it is read):

- ``model.safetensors``: the weights, each tensor once (safetensors);
- ``config.json``: what rebuilds the model (``"kind"``: an estimator's class,
  parameters and fitted attributes, or a module's architecture), written by
  :mod:`layerwise.persistence.io`;
- ``meta.json``: provenance (library versions, input shape, preprocessing,
  metrics, creation time, the weights' SHA-256), the torchvision
  ``Weights.meta`` idea.

This module reads and writes such folders and knows nothing about what the
config describes: :mod:`layerwise.persistence.io` turns estimators and modules into
configs, :mod:`layerwise.pipeline.transfer` reads the weights alone. The folder is
written under a temporary name and renamed at the end, so an interrupted save
never leaves a half-written model under the final name.
"""

from __future__ import annotations

import json
import numbers
import os
import platform
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .._version import __version__
from ..exceptions import CheckpointError
from ..train.checkpoint import file_sha256

__all__ = ["FORMAT_VERSION", "WEIGHTS", "CONFIG", "META", "read_folder", "write_folder", "read_weights", "to_json",
           "from_json", "versions", "TransferReport", "compare_state"]

FORMAT_VERSION = 1
WEIGHTS, CONFIG, META = "model.safetensors", "config.json", "meta.json"
_PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt", ".joblib")


def read_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The state dict saved in a model folder (checked like :func:`layerwise.load`), without building a model.

    Returns
    -------
    dict of str to Tensor
        Keys as in the saved module's ``state_dict()``.
    """
    return read_folder(Path(path))[1]


# -- reading and writing folders ------------------------------------------------------
def read_folder(path: Path) -> tuple[dict, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Checked config and tensors of a model folder: ``(config, state, hidden)``."""
    _check_folder(path)
    config = _read_json(path / CONFIG)
    if not isinstance(config, dict) or config.get("format") != "layerwise" or not isinstance(config.get("format_version"), int):
        run = " It is a run folder: its models are in its model/ and pretrained/ folders." if (path / "state.json").is_file() else ""
        raise CheckpointError(f"{path / CONFIG} is not a layerwise config (no \"format\": \"layerwise\" and format version); "
                              f"pass a folder written by layerwise.save.{run}")
    if config["format_version"] > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} was written in model format version {config['format_version']}, newer than this layerwise reads "
            f"(up to {FORMAT_VERSION}). Upgrade layerwise: pip install -U layerwise."
        )
    if config.get("kind") not in ("estimator", "module") or not isinstance(config.get("weights"), dict):
        raise CheckpointError(f"{path / CONFIG} is incomplete (no valid \"kind\" or \"weights\"); save the model again.")
    meta = _read_json(path / META) if (path / META).is_file() else {}
    tensors = _read_tensors(path, meta.get("weights_sha256") if isinstance(meta, dict) else None)
    try:
        tensors.update({alias: tensors[key] for alias, key in config["weights"]["aliases"].items()})
        hidden = {key: tensors.pop(key) for key in config["weights"]["hidden"]}
    except KeyError as e:
        raise CheckpointError(f"{path / WEIGHTS} lacks the tensor {e} that {CONFIG} refers to; save the model again.") from e
    return config, tensors, hidden


def _check_folder(path: Path) -> None:
    """Refuse anything but a folder with a ``config.json``, before reading a byte of it."""
    hint = "Pass the folder written by layerwise.save (it holds model.safetensors, config.json and meta.json)."
    if not path.exists():
        aside = sorted(path.parent.glob(f".{path.name}.old-*")) if path.parent.is_dir() else []
        if aside:  # a save killed between its two renames (a SIGKILL or power loss) left the previous model here
            raise CheckpointError(f"No model folder at '{path}', but the previous model is at '{aside[-1]}': a save into "
                                  f"'{path}' was interrupted. Rename that folder back to '{path.name}' (or save again).")
        raise CheckpointError(f"No model folder at '{path}': nothing exists there. {hint}")
    if path.is_file():
        if path.suffix.lower() in _PICKLE_SUFFIXES:
            raise CheckpointError(
                f"'{path}' is a {path.suffix} file, not a layerwise model folder. layerwise never unpickles: "
                "a pickle (torch.save, .pkl, .pt, .pth) can run arbitrary code when it is read. If you trust the file and "
                "it holds a state dict, read it with torch.load(path, weights_only=True) and copy it with "
                "layerwise.load_pretrained(model, state_dict); better, save the model with layerwise.save."
            )
        if path.name in (WEIGHTS, CONFIG, META):
            raise CheckpointError(f"'{path}' is one file of a model folder; pass the folder itself: '{path.parent}'.")
        raise CheckpointError(f"'{path}' is a file, not a layerwise model folder; layerwise.load reads no other format. {hint}")
    if not (path / CONFIG).is_file():
        found = sorted(p.name for p in path.iterdir())[:10]
        raise CheckpointError(f"'{path}' has no {CONFIG}, so it is not a layerwise model folder (it holds: {found}). {hint}")


def _read_json(file: Path) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{file} is not valid JSON ({e}); the file is truncated or corrupted: save the model again.") from e


def _read_tensors(path: Path, sha256: str | None) -> dict[str, torch.Tensor]:
    file = path / WEIGHTS
    if not file.is_file():
        raise CheckpointError(f"{path} has no {WEIGHTS} (the weights): the save was interrupted or the file was removed. Save the model again.")
    if sha256 is not None and file_sha256(file) != sha256:
        raise CheckpointError(
            f"{file} is truncated or corrupted: its SHA-256 differs from the one recorded in {META} when it was saved "
            f"({file.stat().st_size} bytes now). Save the model again."
        )
    try:
        return load_file(file, device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{file} is truncated or corrupted and cannot be read as safetensors ({e}). Save the model again.") from e


def write_folder(path: Path, tensors: dict, config: dict, meta: dict) -> Path:
    """Write the three files into a temporary folder beside ``path``, then swap it in.

    A model already at ``path`` is replaced only once the new one is complete, and stays at ``path`` if
    anything fails (it is moved aside, the new folder moved in, then the old one deleted; a failure of the
    second move puts it back).
    """
    _check_target(path)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
        save_file(tensors, str(tmp / WEIGHTS), metadata={"format": "pt"})
        meta["weights_sha256"] = file_sha256(tmp / WEIGHTS)
        for name, content in ((CONFIG, config), (META, meta)):
            with open(tmp / name, "w", encoding="utf-8") as f:
                json.dump(content, f, indent=2)
                f.flush()
                os.fsync(f.fileno())
        _swap_in(tmp, path)
    except (OSError, SafetensorError) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise CheckpointError(f"Could not write the model folder {path}: {e}. Check that the folder is writable and the disk "
                              "has space; a model that was at this path is still there, unchanged.") from e
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _swap_in(tmp: Path, path: Path) -> None:
    """Move the complete folder ``tmp`` to ``path``; an older model there is replaced, or kept if the move fails."""
    if not path.exists():
        os.replace(tmp, path)
        return
    old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
    os.replace(path, old)
    try:
        os.replace(tmp, path)
    except BaseException:  # the new model could not take its place: the old one goes back
        os.replace(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _check_target(path: Path) -> None:
    """Replace only an empty folder or a folder :func:`write_folder` wrote, never other files."""
    if path.is_file():
        raise CheckpointError(f"'{path}' is a file; save writes a folder. Choose a new path, e.g. '{path.with_suffix('')}'.")
    found = sorted(p.name for p in path.iterdir()) if path.is_dir() else []
    if not found:
        return
    ours = set(found) <= {WEIGHTS, CONFIG, META} and CONFIG in found and _is_layerwise_config(path / CONFIG)
    if not ours:
        raise CheckpointError(
            f"'{path}' exists and is not a layerwise model folder (it holds {found[:5]}"
            + ("" if CONFIG not in found or _is_layerwise_config(path / CONFIG) else f", and its {CONFIG} was not written by layerwise")
            + "); save replaces only its own model folders. Choose a new path or empty this folder."
        )


def _is_layerwise_config(file: Path) -> bool:
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(config, dict) and config.get("format") == "layerwise"


def versions() -> dict[str, str]:
    """The versions of layerwise and of what wrote the weights, for ``meta.json``."""
    import safetensors
    import sklearn

    return {"layerwise": __version__, "torch": torch.__version__, "numpy": np.__version__, "sklearn": sklearn.__version__,
            "safetensors": safetensors.__version__, "python": platform.python_version()}


# -- JSON values --------------------------------------------------------------------------
def to_json(value: Any, where: str) -> Any:
    """``value`` as JSON, tuples and NumPy arrays tagged so :func:`from_json` restores them."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "biufUSO":
        return {"__ndarray__": to_json(value.tolist(), where), "dtype": value.dtype.str, "shape": list(value.shape)}
    if isinstance(value, np.generic):
        return to_json(value.item(), where)
    if isinstance(value, tuple):
        return {"__tuple__": [to_json(v, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [to_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: to_json(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise CheckpointError(
        f"Cannot save {where} = {value!r} ({type(value).__name__}): model files hold JSON values only (numbers, strings, "
        "lists, dicts with str keys, None), never pickled objects. Replace it with such a value before saving."
    )


def from_json(value: Any) -> Any:
    """Inverse of :func:`to_json`."""
    if isinstance(value, list):
        return [from_json(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tuple__" in value:
        return tuple(from_json(v) for v in value["__tuple__"])
    if "__ndarray__" in value:
        return np.array(value["__ndarray__"], dtype=np.dtype(value["dtype"])).reshape(value["shape"])
    return {k: from_json(v) for k, v in value.items()}


# -- a module's state against a file's tensors: what loading (io.load) and transfer (transfer.load_pretrained) check --
Shape = tuple[int, ...]


@dataclass
class TransferReport:
    """What :func:`load_pretrained` copied, and what it could not.

    Attributes
    ----------
    copied : list of str
        Target keys that received a source tensor.
    missing : list of str
        Selected target keys with no source tensor.
    unexpected : list of str
        Selected source keys (after ``key_map``) with no target key.
    mismatched : list of (str, tuple, tuple)
        ``(key, target shape, source shape)`` for keys present on both sides
        whose shapes differ.
    frozen : list of str
        Copied parameters set to ``requires_grad=False`` (``freeze=True``).
    """

    copied: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, Shape, Shape]] = field(default_factory=list)
    frozen: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is missing, unexpected or shape-mismatched."""
        return not (self.missing or self.unexpected or self.mismatched)

    def problems(self) -> str:
        """The missing, unexpected and mismatched keys, one group per line."""
        lines = []
        if self.missing:
            lines.append(f"missing ({len(self.missing)}, in the target but not the source): {', '.join(self.missing)}")
        if self.unexpected:
            lines.append(f"unexpected ({len(self.unexpected)}, in the source but not the target): {', '.join(self.unexpected)}")
        if self.mismatched:
            shapes = ", ".join(f"{k}: target {tuple(t)} vs source {tuple(s)}" for k, t, s in self.mismatched)
            lines.append(f"shape mismatch ({len(self.mismatched)}): {shapes}")
        return "\n".join(lines)

    def __str__(self) -> str:
        head = (
            f"TransferReport: {len(self.copied)} copied ({len(self.frozen)} frozen), {len(self.missing)} missing, "
            f"{len(self.unexpected)} unexpected, {len(self.mismatched)} shape-mismatched"
        )
        copied = f"copied ({len(self.copied)}): {', '.join(self.copied) or 'nothing'}"
        return "\n".join([head, *("  " + line for line in [copied, *self.problems().splitlines()])])


def compare_state(target: Mapping[str, torch.Tensor], source: Mapping[str, torch.Tensor]) -> TransferReport:
    """Match two state dicts key by key; nothing is copied.

    Parameters
    ----------
    target, source : mapping of str to Tensor

    Returns
    -------
    TransferReport
        ``copied`` lists the keys that *would* be copied (same key, same shape).
    """
    report = TransferReport()
    for key, t in target.items():
        if key not in source:
            report.missing.append(key)
        elif tuple(source[key].shape) != tuple(t.shape):
            report.mismatched.append((key, tuple(t.shape), tuple(source[key].shape)))
        else:
            report.copied.append(key)
    report.unexpected = [k for k in source if k not in target]
    return report
