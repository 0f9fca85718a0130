"""Name -> factory registries with helpful errors for unknown names.

One lookup replaces a chain of ``if name == ...`` branches: objectives,
corruptions and activations register themselves here, and an unknown name
lists the valid ones and suggests the closest (``difflib``).
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from .exceptions import ConfigError

T = TypeVar("T")

__all__ = ["Registry", "suggest", "OBJECTIVES", "SEMI_SUPERVISED", "LR_SCHEDULERS"]


def suggest(name: str, options: list[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest option, or ``""``."""
    close = difflib.get_close_matches(str(name), options, n=1, cutoff=0.5)
    return f" Did you mean {close[0]!r}?" if close else ""


class Registry(Generic[T]):
    """A named collection of factories.

    Parameters
    ----------
    kind : str
        What the registry holds, used in error messages (e.g. ``"objective"``).

    Examples
    --------
    >>> reg = Registry("colour")
    >>> @reg.register("red")
    ... def red():
    ...     return "#f00"
    >>> reg.get("red")()
    '#f00'
    >>> reg.names()
    ['red']
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that stores ``obj`` under ``name``."""

        def deco(obj: T) -> T:
            if name in self._items:
                raise ConfigError(f"{self.kind} {name!r} is already registered.")
            self._items[name] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        """Return the factory registered as ``name``.

        Raises
        ------
        ConfigError
            If ``name`` is unknown; the message lists the valid names.
        """
        if not isinstance(name, str) or name not in self._items:
            valid = self.names()
            raise ConfigError(
                f"Unknown {self.kind} {name!r}. Expected one of {valid}."
                + suggest(str(name), valid)
            )
        return self._items[name]

    def build(self, name: str, params: Mapping[str, Any] | None = None) -> Any:
        """Call the factory ``name`` with ``params``, checking the keywords first.

        The factory's signature is the schema: an unknown keyword raises
        :class:`ConfigError` naming the accepted ones.
        """
        factory = self.get(name)
        params = dict(params or {})
        accepted = _keyword_names(factory)
        unknown = [k for k in params if accepted is not None and k not in accepted]
        if unknown:
            hints = "".join(suggest(k, sorted(accepted or [])) for k in unknown)
            raise ConfigError(
                f"Unknown option(s) {unknown} for {self.kind} {name!r}. "
                f"Accepted options: {sorted(accepted or [])}.{hints}"
            )
        return factory(**params)

    def names(self) -> list[str]:
        """Sorted list of registered names."""
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def _keyword_names(factory: Callable[..., Any]) -> set[str] | None:
    """Keyword parameters of ``factory``; ``None`` if it takes ``**kwargs``."""
    sig = inspect.signature(factory)
    names = set()
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            return None
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            names.add(p.name)
    return names


# The registries of objectives live here, below everything, so that the parameter table
# (:mod:`layerwise.params.table`) can name them without importing the objectives; the objectives
# register themselves when :mod:`layerwise.objectives` is imported (which ``import layerwise`` does).

#: Named pretraining objectives. Each factory's signature is the schema of its options
#: (``pretrain_params`` in the estimators), checked name by name and type by type.
OBJECTIVES: Registry = Registry("pretraining objective")

#: Semi-supervised methods that train on labeled and unlabeled rows in every step (ladder networks,
#: the M1+M2 VAE). Each factory's signature is the schema of its options; the object it returns builds
#: its model (``build_model(n_features, hidden_layer_sizes, n_classes, activation)``) and is the
#: objective of the :class:`~layerwise.train.Trainer` on :class:`~layerwise.data.semi.LabeledUnlabeled` data.
SEMI_SUPERVISED: Registry = Registry("semi-supervised method")

#: Learning-rate schedulers by the class name of ``torch.optim.lr_scheduler`` (``"StepLR"``, ``"OneCycleLR"``...):
#: each factory takes the scheduler's arguments and returns a :class:`~layerwise.train.LRScheduler` callback
#: (``lr_schedule`` and ``lr_schedule_params`` in the estimators). Filled when :mod:`layerwise.train` is imported.
LR_SCHEDULERS: Registry = Registry("learning-rate scheduler")
