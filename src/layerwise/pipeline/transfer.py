"""Transfer of pretrained weights into a new model, key by key, with shape checks.

Yosinski et al. (2014, "How transferable are features in deep neural
networks?") reuse the first ``n`` layers of a trained network in a new one,
frozen or fine-tuned. :func:`load_pretrained` does the copying the way
nanoGPT's ``GPT.from_pretrained`` does: every selected key of the target must
have a source tensor of the same shape, and a mismatch is reported key by key
rather than hidden (``strict=True`` by default).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterable, Mapping

import torch
from torch import nn

from ..exceptions import CheckpointError, ConfigError
from ..nn.stack import forget_trained_freeze
from ..persistence.folder import TransferReport, compare_state, read_weights

__all__ = ["load_pretrained"]  # its report (TransferReport, compare_state) is the model files': layerwise.persistence.folder

def load_pretrained(
    target: nn.Module,
    source: str | os.PathLike | nn.Module | Mapping[str, torch.Tensor],
    layers: str | Iterable[str] | None = None,
    key_map: Mapping[str, str] | Callable[[str], str | None] | None = None,
    strict: bool = True,
    freeze: bool = False,
) -> TransferReport:
    """Copy pretrained weights into ``target``, key by key, checking every shape.

    Parameters
    ----------
    target : nn.Module
        The model that receives the weights (changed in place).
    source : str, path, nn.Module or mapping of str to Tensor
        A folder written by :func:`layerwise.save` (its ``model.safetensors``
        keys, e.g. ``stack.layers.0.0.weight`` for a saved classifier or
        ``layers.0.0.weight`` for a saved :class:`~layerwise.nn.EncoderStack`),
        a module (its ``state_dict()``) or a state dict.
    layers : str or sequence of str, optional
        Copy only the keys under these prefixes, in the target's naming
        (after ``key_map``): ``"stack.layers.0"`` selects
        ``stack.layers.0.0.weight`` but not ``stack.layers.01...``. Source
        keys outside them are ignored. Default: every key.
    key_map : dict or callable, optional
        Renames source keys into the target's naming before matching. A dict
        maps source prefixes to target prefixes (the longest matching prefix
        wins), e.g. ``{"layers.": "stack.layers."}`` to put a saved stack
        under a classifier's ``stack``; a callable returns the new key, or
        ``None`` to drop the key.
    strict : bool, default=True
        Raise when a selected key is missing, unexpected or of another shape;
        nothing is copied then. ``False`` copies what fits and reports the rest.
    freeze : bool, default=False
        Set ``requires_grad=False`` on the copied parameters (for "frozen"
        transfer; put the module in ``eval()`` too if it has dropout or
        batch norm). They stay frozen in every fine-tuning mode:
        ``finetune(mode="full")`` trains the other layers only.

    Returns
    -------
    TransferReport

    Raises
    ------
    CheckpointError
        With ``strict=True``, when the selected keys do not match; or when the
        source folder cannot be read.
    ConfigError
        A ``layers`` prefix matches no key of the target, or ``source`` has an
        unsupported type.

    Examples
    --------
    >>> from layerwise.nn import dense_autoencoder
    >>> pre, new = dense_autoencoder(8, 4), dense_autoencoder(8, 4)
    >>> report = load_pretrained(new, pre, layers="encoder", freeze=True)
    >>> report.copied, report.frozen == report.copied
    (['encoder.0.weight', 'encoder.0.bias'], True)
    """
    src = _rename(_source_state(source), key_map)
    dst = target.state_dict()
    prefixes = _prefixes(layers, dst)
    report = compare_state(_select(dst, prefixes), _select(src, prefixes))
    if strict and not report.ok:
        raise CheckpointError(
            f"Cannot copy the pretrained weights into {type(target).__name__} strictly:\n{report.problems()}\n"
            "Rename source keys with key_map={'old.prefix.': 'new.prefix.'}, pick layers with layers=[...], or pass "
            "strict=False to copy only the keys that fit."
        )
    params = dict(target.named_parameters())
    with torch.no_grad():
        for key in report.copied:
            dst[key].copy_(src[key])
            if freeze and key in params:
                params[key].requires_grad_(False)
                forget_trained_freeze(target, key)  # frozen by the user now: full fine-tuning keeps it frozen
                report.frozen.append(key)
    return report


def _source_state(source) -> dict[str, torch.Tensor]:
    """The source's tensors by key: a saved folder, a module or a state dict."""
    if isinstance(source, (str, os.PathLike)):
        return read_weights(source)
    if isinstance(source, nn.Module):
        return dict(source.state_dict())
    if isinstance(source, Mapping) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in source.items()):
        return dict(source)
    raise ConfigError(
        f"source must be a model folder written by layerwise.save, an nn.Module or a state dict (str -> Tensor); "
        f"got {type(source).__name__}. For a .pt file you trust, pass torch.load(path, weights_only=True)."
    )


def _rename(state: dict[str, torch.Tensor], key_map) -> dict[str, torch.Tensor]:
    """Apply ``key_map`` (prefix dict or callable) to the source keys."""
    if key_map is None:
        return state
    if callable(key_map):
        renamed = {key_map(k): v for k, v in state.items()}
        renamed.pop(None, None)
        return renamed
    if not isinstance(key_map, Mapping):
        raise ConfigError(f"key_map must be a dict of prefixes or a callable; got {type(key_map).__name__}.")
    by_length = sorted(key_map.items(), key=lambda kv: -len(kv[0]))
    out = {}
    for key, value in state.items():
        old, new = next(((o, n) for o, n in by_length if key.startswith(o)), ("", ""))
        out[new + key[len(old):]] = value
    return out


def _matches(key: str, prefix: str) -> bool:
    return key == prefix or key.startswith(prefix if prefix.endswith(".") else prefix + ".")


def _prefixes(layers, target: Mapping[str, torch.Tensor]) -> list[str] | None:
    """``layers`` as a list, each prefix checked to select at least one target key."""
    if layers is None:
        return None
    prefixes = [layers] if isinstance(layers, str) else list(layers)
    unknown = [p for p in prefixes if not any(_matches(k, p) for k in target)]
    if unknown:
        modules = sorted({k.rsplit(".", 1)[0] for k in target})
        parts = [k.split(".") for k in target]
        candidates = sorted({".".join(p[:i]) for p in parts for i in range(1, len(p))})  # every module path
        hints = [repr(p) + "".join(f" (did you mean {m!r}?)" for m in difflib.get_close_matches(p, candidates, 1)) for p in unknown]
        raise ConfigError(
            f"layers prefix {', '.join(hints)} matches no key of the target; its parameters live under: "
            f"{', '.join(modules)}."
        )
    return prefixes


def _select(state: Mapping[str, torch.Tensor], prefixes: list[str] | None) -> dict[str, torch.Tensor]:
    if prefixes is None:
        return dict(state)
    return {k: v for k, v in state.items() if any(_matches(k, p) for p in prefixes)}
