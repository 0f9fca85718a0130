"""Model files: :func:`save` an estimator or a module to a folder, :func:`load` it back.

A model folder holds three files and never a pickle (a pickle runs code when
it is read):

- ``model.safetensors``: the weights, each tensor once (safetensors);
- ``config.json``: what rebuilds the model: an estimator's class, parameters
  and fitted attributes, or a module's architecture as a tree of layers and
  their arguments (the nanoGPT ``model_args`` idea);
- ``meta.json``: provenance (library versions, input shape, preprocessing,
  metrics, creation time, the weights' SHA-256), the torchvision
  ``Weights.meta`` idea.

The folder is written under a temporary name and renamed at the end, so an
interrupted save never leaves a half-written model under the final name.
"""

from __future__ import annotations

import json
import numbers
import os
import platform
import re
import shutil
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from .exceptions import CheckpointError, ConfigError, DataError
from .nn.blocks import TiedLinear
from .architecture import describe, rebuild
from .train.checkpoint import file_sha256
from .transfer import compare_state

__all__ = ["save", "load", "read_weights", "FORMAT_VERSION"]

FORMAT_VERSION = 1
WEIGHTS, CONFIG, META = "model.safetensors", "config.json", "meta.json"
_PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt", ".joblib")
_HIDDEN = "._source.weight"  # key suffix of a tied decoder's weight held outside the module


def save(obj: Any, path: str | os.PathLike, *, metrics: dict | None = None, meta: dict | None = None) -> Path:
    """Write a fitted estimator or an ``nn.Module`` to the folder ``path``.

    Parameters
    ----------
    obj : fitted layerwise estimator or nn.Module
        :class:`~layerwise.PretrainedClassifier`, :class:`~layerwise.PretrainedRegressor`,
        :class:`~layerwise.StackedAutoencoder`, :class:`~layerwise.VariationalAutoencoder`,
        or any module. Modules made of layerwise and torch building blocks
        (``EncoderStack``, ``AutoEncoder``, ``VAE``, ``RBM``, heads, ``Linear``,
        ``Conv2d``...) are rebuilt by :func:`load`; for others only the weights
        are saved and ``load(path, model=...)`` needs the module.
    path : str or path
        The folder; created, or replaced if it holds a layerwise model.
    metrics : dict, optional
        JSON-able scores to record in ``meta.json``, e.g. ``{"accuracy": 0.97}``.
    meta : dict, optional
        More JSON-able metadata for ``meta.json``, e.g. ``{"preprocessing":
        "x / 255", "input_shape": [1, 28, 28]}``.

    Returns
    -------
    Path
        The folder, holding ``model.safetensors``, ``config.json`` and ``meta.json``.

    Raises
    ------
    ConfigError
        ``obj`` is neither an estimator nor a module.
    NotFittedError
        The estimator is not fitted.
    CheckpointError
        A value is not JSON-able, or ``path`` holds something else than a
        layerwise model.

    Examples
    --------
    >>> import tempfile
    >>> from layerwise.nn import dense_autoencoder
    >>> folder = save(dense_autoencoder(8, 3), Path(tempfile.mkdtemp()) / "ae")
    >>> sorted(p.name for p in folder.iterdir())
    ['config.json', 'meta.json', 'model.safetensors']
    >>> load(folder).encoder
    Sequential(
      (0): Linear(in_features=8, out_features=3, bias=True)
      (1): ReLU()
    )
    """
    if hasattr(obj, "_layerwise_state"):
        config, module, auto_meta = _estimator_config(obj)
    elif isinstance(obj, nn.Module):
        config, module, auto_meta = _module_config(obj), obj, {"input_shape": _input_shape(obj)}
    else:
        raise ConfigError(
            f"save expects a fitted layerwise estimator or a torch nn.Module; got {type(obj).__name__}. "
            "For a Pipeline, save its layerwise step: save(pipe[-1], path)."
        )
    tensors, config["weights"] = _flatten(module)
    info = {
        "class": config["class"],
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
        "input_shape": None,
        "preprocessing": None,
        **auto_meta,
        "metrics": _to_json(metrics or {}, "metrics"),
    }
    info.update({k: _to_json(v, f"meta[{k!r}]") for k, v in (meta or {}).items()})
    return _write_folder(Path(path), tensors, config, info)


def load(path: str | os.PathLike, *, model: nn.Module | None = None) -> Any:
    """Read a model folder written by :func:`save`; never unpickles.

    Parameters
    ----------
    path : str or path
        The folder.
    model : nn.Module, optional
        A module built by the caller to load the weights into (strictly: same
        keys, same shapes). Needed for modules whose architecture layerwise
        cannot rebuild; the module is returned.

    Returns
    -------
    estimator or nn.Module
        The estimator, fitted, or the module with its saved train/eval mode
        and frozen parameters, on the CPU.

    Raises
    ------
    CheckpointError
        ``path`` is not a layerwise model folder (a ``.pt``/``.pkl`` file, a
        folder without ``config.json``), a file is missing, truncated or
        corrupted, the weights do not fit the architecture in ``config.json``,
        the class is unknown, or the folder comes from a newer layerwise.
    """
    path = Path(path)
    config, tensors, hidden = _read_folder(path)

    def load_weights(module: nn.Module) -> None:
        _copy_weights(module, tensors, hidden, path, f"the {config['class']} architecture described in {CONFIG}")

    if model is not None:
        _copy_weights(model, tensors, hidden, path, f"the {type(model).__name__} passed as model=")
        return model
    with torch.random.fork_rng(devices=[]):  # building modules draws initial weights: leave the caller's RNG alone
        if config["kind"] == "estimator":
            return _load_estimator(config, load_weights, path)
        return _load_module(config, load_weights, path)


def read_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The state dict saved in a model folder (checked like :func:`load`), without building a model.

    Returns
    -------
    dict of str to Tensor
        Keys as in the saved module's ``state_dict()``.
    """
    return _read_folder(Path(path))[1]


# -- estimators and modules ------------------------------------------------------------
def _estimator_classes() -> dict[str, type]:
    from .sklearn import PretrainedClassifier, PretrainedRegressor, StackedAutoencoder, VariationalAutoencoder

    return {c.__name__: c for c in (PretrainedClassifier, PretrainedRegressor, StackedAutoencoder, VariationalAutoencoder)}


def _estimator_config(est) -> tuple[dict, nn.Module, dict]:
    name = type(est).__name__
    if _estimator_classes().get(name) is not type(est):
        raise ConfigError(f"save supports layerwise's own estimator classes {sorted(_estimator_classes())}; got {name}, which load could not rebuild.")
    params, state, module, auto_meta = est._layerwise_state()
    config = {"format": "layerwise", "format_version": FORMAT_VERSION, "kind": "estimator", "class": name}
    config.update(params=_to_json(params, "params"), state=_to_json(state, "state"))
    return config, module, _to_json(auto_meta, "meta")


def _load_estimator(config: dict, load_weights: Callable, path: Path):
    classes, name = _estimator_classes(), config["class"]
    if name not in classes:
        raise CheckpointError(f"Unknown estimator class {name!r} in {path / CONFIG}; this layerwise knows {sorted(classes)}. The folder may come from a newer layerwise: upgrade it.")
    try:
        return classes[name]._layerwise_restore(_from_json(config["params"]), _from_json(config["state"]), load_weights)
    except (TypeError, KeyError, ConfigError, DataError) as e:
        raise CheckpointError(f"{path / CONFIG} does not describe a valid {name} ({type(e).__name__}: {e}); save the model again.") from e


def _module_config(module: nn.Module) -> dict:
    try:
        spec = _to_json(describe(module), "architecture")
        with torch.device("meta"), torch.random.fork_rng(devices=[]):
            if _layout(rebuild(_from_json(spec))) != _layout(module):  # a layer the description misses: do not pretend
                spec = None
    except CheckpointError:  # a layer type layerwise does not know
        spec = None
    cls = type(module)
    return {
        "format": "layerwise", "format_version": FORMAT_VERSION, "kind": "module",
        "class": cls.__name__ if spec else f"{cls.__module__}.{cls.__qualname__}", "architecture": spec,
        "training": [n for n, m in module.named_modules() if m.training],  # modes may differ by layer
        "frozen": [n for n, p in module.named_parameters() if not p.requires_grad],
    }


def _layout(module: nn.Module) -> str:
    """``repr(module)`` without empty slots (``(decoders): None``), which do not change the module."""
    return re.sub(r"\n\s*\([\w.]+\): None", "", repr(module))


def _load_module(config: dict, load_weights: Callable, path: Path) -> nn.Module:
    if config.get("architecture") is None:
        raise CheckpointError(
            f"{path} holds the weights of a {config['class']}, whose architecture layerwise cannot rebuild (it rebuilds "
            "its estimators and modules made of layerwise and torch layers). Build the model yourself and pass it: "
            f"layerwise.load({str(path)!r}, model=MyModel(...))."
        )
    module = rebuild(_from_json(config["architecture"]))
    load_weights(module)
    try:
        training, params = set(config["training"]), dict(module.named_parameters())
        for name, m in module.named_modules():
            m.training = name in training
        for name in config["frozen"]:
            params[name].requires_grad_(False)
    except KeyError as e:
        raise CheckpointError(f"{path / CONFIG} is incomplete or names an unknown parameter ({e}); save the model again.") from e
    return module


def _input_shape(module: nn.Module) -> list[int] | None:
    """The input row shape, when the first layer tells it (``Linear`` or ``Unflatten``)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            return [m.in_features]
        if isinstance(m, nn.Unflatten):
            return [int(np.prod(m.unflattened_size))]
        if isinstance(m, nn.Conv2d):
            return None
    return None


# -- weights ----------------------------------------------------------------------------
def _flatten(module: nn.Module) -> tuple[dict[str, torch.Tensor], dict]:
    """Contiguous CPU copies of the weights, each stored once, and how to expand them back."""
    tensors: dict[str, torch.Tensor] = {}
    seen: dict[tuple, str] = {}
    aliases: dict[str, str] = {}
    for key, t in module.state_dict().items():
        ident = (t.device, t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), tuple(t.stride()), t.dtype)
        if t.numel() > 0 and ident in seen:  # one tensor registered under two names
            aliases[key] = seen[ident]
            continue
        seen[ident] = key
        tensors[key] = t.detach().to("cpu", copy=True).contiguous()
    inside = {id(m) for m in module.modules()}
    hidden = []
    for name, m in module.named_modules():
        if isinstance(m, TiedLinear) and id(m.source) not in inside:  # e.g. an unrolled tied decoder
            key = (name + _HIDDEN).lstrip(".")
            tensors[key] = m.source.weight.detach().to("cpu", copy=True).contiguous()
            hidden.append(key)
    return tensors, {"aliases": aliases, "hidden": hidden}


def _copy_weights(module: nn.Module, tensors: dict, hidden: dict, path: Path, what: str) -> None:
    """Load ``tensors`` into ``module`` strictly, or explain which keys disagree."""
    report = compare_state(module.state_dict(), tensors)
    inside = {id(m) for m in module.modules()}
    tied = {k: m for k, m in module.named_modules() if isinstance(m, TiedLinear) and id(m.source) not in inside}
    for key, t in hidden.items():
        owner = tied.get(key[: -len(_HIDDEN)])
        if owner is None:  # no tied layer there whose weight lives outside the module
            report.unexpected.append(key)
        elif tuple(owner.source.weight.shape) != tuple(t.shape):
            report.mismatched.append((key, tuple(owner.source.weight.shape), tuple(t.shape)))
    if not report.ok:
        raise CheckpointError(
            f"The weights in {path / WEIGHTS} do not fit {what}:\n{report.problems()}\n"
            "The folder mixes files of different models, or was edited; save the model again (or pass the matching model=)."
        )
    module.load_state_dict(tensors, strict=True)
    with torch.no_grad():
        for key, t in hidden.items():
            tied[key[: -len(_HIDDEN)]].source.weight.copy_(t)


# -- reading and writing folders ------------------------------------------------------
def _read_folder(path: Path) -> tuple[dict, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Checked config and tensors of a model folder: ``(config, state, hidden)``."""
    _check_folder(path)
    config = _read_json(path / CONFIG)
    if not isinstance(config, dict) or config.get("format") != "layerwise" or not isinstance(config.get("format_version"), int):
        raise CheckpointError(f"{path / CONFIG} is not a layerwise config (no \"format\": \"layerwise\" and format version); pass a folder written by layerwise.save.")
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


def _write_folder(path: Path, tensors: dict, config: dict, meta: dict) -> Path:
    """Write the three files into a temporary folder beside ``path``, then rename it."""
    _check_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        save_file(tensors, str(tmp / WEIGHTS), metadata={"format": "pt"})
        meta["weights_sha256"] = file_sha256(tmp / WEIGHTS)
        for name, content in ((CONFIG, config), (META, meta)):
            with open(tmp / name, "w", encoding="utf-8") as f:
                json.dump(content, f, indent=2)
                f.flush()
                os.fsync(f.fileno())
        if path.exists():  # an older model: move it aside, move the new one in, then delete the old one
            old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _check_target(path: Path) -> None:
    """Replace only an empty folder or a layerwise model folder, never other files."""
    if path.is_file():
        raise CheckpointError(f"'{path}' is a file; save writes a folder. Choose a new path, e.g. '{path.with_suffix('')}'.")
    found = sorted(p.name for p in path.iterdir()) if path.is_dir() else []
    if found and (not set(found) <= {WEIGHTS, CONFIG, META} or CONFIG not in found):
        raise CheckpointError(
            f"'{path}' exists and is not a layerwise model folder (it holds {found[:5]}); save replaces only its own "
            "model folders. Choose a new path or empty this folder."
        )


def _versions() -> dict[str, str]:
    import safetensors
    import sklearn

    from . import __version__

    return {"layerwise": __version__, "torch": torch.__version__, "numpy": np.__version__, "sklearn": sklearn.__version__,
            "safetensors": safetensors.__version__, "python": platform.python_version()}


# -- JSON values --------------------------------------------------------------------------
def _to_json(value: Any, where: str) -> Any:
    """``value`` as JSON, tuples and NumPy arrays tagged so :func:`_from_json` restores them."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "biufUSO":
        return {"__ndarray__": _to_json(value.tolist(), where), "dtype": value.dtype.str, "shape": list(value.shape)}
    if isinstance(value, np.generic):
        return _to_json(value.item(), where)
    if isinstance(value, tuple):
        return {"__tuple__": [_to_json(v, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_to_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _to_json(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise CheckpointError(
        f"Cannot save {where} = {value!r} ({type(value).__name__}): model files hold JSON values only (numbers, strings, "
        "lists, dicts with str keys, None), never pickled objects. Replace it with such a value before saving."
    )


def _from_json(value: Any) -> Any:
    """Inverse of :func:`_to_json`."""
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tuple__" in value:
        return tuple(_from_json(v) for v in value["__tuple__"])
    if "__ndarray__" in value:
        return np.array(value["__ndarray__"], dtype=np.dtype(value["dtype"])).reshape(value["shape"])
    return {k: _from_json(v) for k, v in value.items()}
