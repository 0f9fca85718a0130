"""Save anything layerwise trains to a model folder, and load it back: :func:`save`, :func:`load`.

The folder format itself is :mod:`layerwise.persistence.folder`. What goes in its
``config.json`` is either a module's architecture as a tree of layers and their
arguments (the nanoGPT ``model_args`` idea, :mod:`layerwise.persistence.architecture`), or
an estimator's class, parameters and fitted state. This module knows no
estimator: estimator classes register themselves in :data:`ESTIMATORS` (as
objectives register in ``OBJECTIVES``) and provide ``_layerwise_state()`` and
``_layerwise_restore(params, state, load_weights)``.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..exceptions import CheckpointError, ConfigError, DataError
from ..nn.blocks import TiedLinear
from ..nn.stack import frozen_by_layerwise, refreeze_trained
from ..registry import Registry
from .architecture import describe, rebuild
from .folder import CONFIG, FORMAT_VERSION, WEIGHTS, compare_state, from_json, read_folder, read_weights, to_json, versions, write_folder

__all__ = ["save", "load", "read_weights", "register_estimator", "ESTIMATORS", "FORMAT_VERSION"]

_HIDDEN = "._source.weight"  # key suffix of a tied decoder's weight held outside the module

#: Estimator classes that :func:`save` writes and :func:`load` rebuilds, by class name.
ESTIMATORS: Registry[type] = Registry("estimator class")


def register_estimator(cls: type) -> type:
    """Let :func:`save` and :func:`load` handle ``cls`` (a class with ``_layerwise_state`` and
    ``_layerwise_restore``); layerwise's estimators register themselves when defined."""
    if cls.__name__ not in ESTIMATORS:
        ESTIMATORS.register(cls.__name__)(cls)
    return cls


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
        are saved and ``load(path, model=...)`` needs the module. A module
        wrapped by ``torch.compile`` is saved as the module it wraps (its
        weights, without the ``_orig_mod.`` prefix): :func:`load` gives that
        module back, to compile again if wanted.
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
    obj = _uncompiled(obj)
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
        "versions": versions(),
        "input_shape": None,
        "preprocessing": None,
        **auto_meta,
        "metrics": to_json(metrics or {}, "metrics"),
    }
    info.update({k: to_json(v, f"meta[{k!r}]") for k, v in (meta or {}).items()})
    return write_folder(Path(path), tensors, config, info)


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
    config, tensors, hidden = read_folder(path)

    def load_weights(module: nn.Module) -> None:
        _copy_weights(module, tensors, hidden, path, f"the {config['class']} architecture described in {CONFIG}")

    if model is not None:
        _copy_weights(model, tensors, hidden, path, f"the {type(model).__name__} passed as model=")
        return model
    with torch.random.fork_rng(devices=[]):  # building modules draws initial weights: leave the caller's RNG alone
        if config["kind"] == "estimator":
            return _load_estimator(config, load_weights, path)
        return _load_module(config, load_weights, path)


def _uncompiled(obj: Any) -> Any:
    """The module that ``torch.compile`` wrapped (it shares its weights), else ``obj``.

    A compiled module's ``state_dict`` prefixes every key with ``_orig_mod.``,
    which the uncompiled architecture ``load`` rebuilds would not accept.
    """
    eval_frame = sys.modules.get("torch._dynamo.eval_frame")  # imported by torch.compile: none without it
    if eval_frame is None:
        return obj
    while isinstance(obj, eval_frame.OptimizedModule):  # the wrapper's class: torch has no public name for it
        obj = obj._orig_mod
    return obj


# -- estimators and modules ------------------------------------------------------------
def _estimator_config(est) -> tuple[dict, nn.Module, dict]:
    name = type(est).__name__
    if name not in ESTIMATORS or ESTIMATORS.get(name) is not type(est):
        raise ConfigError(f"save supports the registered estimator classes {ESTIMATORS.names()}; got {name}, which load could "
                          "not rebuild. Register it with layerwise.persistence.io.register_estimator.")
    params, state, module, auto_meta = est._layerwise_state()
    config = {"format": "layerwise", "format_version": FORMAT_VERSION, "kind": "estimator", "class": name}
    config.update(params=to_json(params, "params"), state=to_json(state, "state"))
    return config, module, to_json(auto_meta, "meta")


def _load_estimator(config: dict, load_weights: Callable, path: Path):
    name = config["class"]
    if name not in ESTIMATORS:
        raise CheckpointError(f"Unknown estimator class {name!r} in {path / CONFIG}; this layerwise knows {ESTIMATORS.names()}. "
                              "The folder may come from a newer layerwise: upgrade it.")
    try:
        return ESTIMATORS.get(name)._layerwise_restore(from_json(config["params"]), from_json(config["state"]), load_weights)
    except CheckpointError:
        raise
    except (TypeError, KeyError, AttributeError, ValueError, ConfigError, DataError) as e:  # an edited or damaged config.json
        raise CheckpointError(f"{path / CONFIG} does not describe a valid {name} ({type(e).__name__}: {e}); save the model again.") from e


def _module_config(module: nn.Module) -> dict:
    try:
        spec = to_json(describe(module), "architecture")
        with torch.device("meta"), torch.random.fork_rng(devices=[]):
            if _layout(rebuild(from_json(spec))) != _layout(module):  # a layer the description misses: do not pretend
                spec = None
    except CheckpointError:  # a layer type layerwise does not know
        spec = None
    cls = type(module)
    return {
        "format": "layerwise", "format_version": FORMAT_VERSION, "kind": "module",
        "class": cls.__name__ if spec else f"{cls.__module__}.{cls.__qualname__}", "architecture": spec,
        "training": [n for n, m in module.named_modules() if m.training],  # modes may differ by layer
        "frozen": [n for n, p in module.named_parameters() if not p.requires_grad],
        # of those, the ones layerwise froze itself (a trained greedy layer): full fine-tuning lifts them, not the user's
        "frozen_by_layerwise": frozen_by_layerwise(module),
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
    module = rebuild(from_json(config["architecture"]))
    load_weights(module)
    try:
        training, params = set(config["training"]), dict(module.named_parameters())
        for name, m in module.named_modules():
            m.training = name in training
        ours = set(config.get("frozen_by_layerwise", config["frozen"]))  # older files: layerwise's, as it treated them
        for name in config["frozen"]:
            params[name].requires_grad_(False)
        refreeze_trained(module, [n for n in config["frozen"] if n in ours])
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
