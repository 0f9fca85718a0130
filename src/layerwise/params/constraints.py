"""Declarative constraints on parameter values (scikit-learn's ``_param_validation`` idea, small).

A constraint answers three questions about a value: is it accepted
(:meth:`Constraint.accepts`), how to say what is expected (:meth:`Constraint.describe`,
used in the one message template of :mod:`layerwise.params.core`), and which close
value the user may have meant (:meth:`Constraint.suggest`). A parameter accepts a
value when any of its constraints does.

:class:`RegistryOptions` is the one constraint that looks past its own value: the
options of a registry entry (``pretrain_params`` of ``pretrain``) are checked,
name by name and value by value, against the options the factory that the
sibling parameter names declares (its ``options``, a
:class:`~layerwise.params.core.ParamSet`), or else against its signature.
"""

from __future__ import annotations

import inspect
import math
import numbers
import os
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..exceptions import ConfigError
from ..registry import Registry, suggest

__all__ = [
    "Subject", "Constraint", "Interval", "Options", "Boolean", "NoneValue", "Registered", "InstanceOf", "HasMethods", "Callbacks", "LayerSizes", "ImageSize",
    "SequenceOf", "Device", "COMPUTE_DEVICES", "PathLike", "FolderName", "RandomState", "AnyValue", "RegistryOptions", "type_problem",
]


class Subject:
    """How a message names a parameter: as the caller typed it (``batch_size``, ``pretrain.max_iter`` in a
    config); the owner is named by the message's header."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return self.name

    def option(self, key: str) -> str:
        """``pretrain_params['level']``: a key inside this parameter's dict."""
        return f"{self}[{key!r}]"

    def option_of(self, key: str, what: str) -> Subject:
        """``pretrain_params['level'] (an option of the pretraining objective 'denoising')``, as a subject."""
        return Subject(f"{self.option(key)} (an option of {what})")


class Constraint:
    """One kind of accepted value. Subclasses override :meth:`accepts` and :meth:`describe`."""

    #: numpydoc type of the values this constraint accepts (``"int"``, ``'{"adam", "sgd"}'``)
    type_doc = "object"

    def accepts(self, value: Any) -> bool:
        raise NotImplementedError

    def describe(self, values: Mapping[str, Any] | None = None) -> str:
        raise NotImplementedError

    def suggest(self, value: Any) -> str:
        """``" Did you mean 'x'?"`` for a value close to an accepted one, else ``""``."""
        return ""

    def nested_problems(self, value: Any, values: Mapping[str, Any], subject: Subject) -> list[str]:
        """Problems inside an accepted value (options of a registry entry); most constraints have none."""
        return []


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) and math.isfinite(v)


class Interval(Constraint):
    """An int or a finite number in a range, e.g. ``Interval(int, 1)`` (``>= 1``), ``Interval(float, 0, 1, "left")``.

    Booleans are never numbers here (``True`` is not ``1``), strings never either.
    """

    def __init__(self, kind: type, low: float | None = None, high: float | None = None, closed: str = "both") -> None:
        self.kind, self.low, self.high, self.closed = kind, low, high, closed
        self.type_doc = "int" if kind is int else "float"

    def accepts(self, value: Any) -> bool:
        if not (_is_int(value) if self.kind is int else _is_number(value)):
            return False
        if self.low is not None and (value < self.low or (value == self.low and self.closed in ("right", "neither"))):
            return False
        if self.high is not None and (value > self.high or (value == self.high and self.closed in ("left", "neither"))):
            return False
        return True

    def describe(self, values: Mapping[str, Any] | None = None) -> str:
        what = "an integer" if self.kind is int else "a number"
        left_closed = self.closed in ("both", "left")
        if self.high is None and self.low == (1 if self.kind is int else 0) and left_closed == (self.kind is int):
            return f"a positive {what.split()[-1]}"  # >= 1 for integers, > 0 for numbers
        if self.low is not None and self.high is not None:
            right = "]" if self.closed in ("both", "right") else ")"
            return f"{what} in {'[' if left_closed else '('}{self.low}, {self.high}{right}"
        if self.low is not None:
            return f"{what} {'>=' if left_closed else '>'} {self.low}"
        if self.high is not None:
            return f"{what} {'<=' if self.closed in ('both', 'right') else '<'} {self.high}"
        return what


class Options(Constraint):
    """One of a fixed set of values (strings, or ``True``/``False``, compared by identity for bools)."""

    def __init__(self, *values: Any) -> None:
        self.values = values
        listed = ", ".join(_literal(v) for v in values)
        self.type_doc = listed if len(values) == 1 else "{" + listed + "}"

    def accepts(self, value: Any) -> bool:
        return any(value is v if isinstance(v, bool) else (type(value) is type(v) and value == v) for v in self.values)

    def describe(self, values: Mapping[str, Any] | None = None) -> str:
        if len(self.values) == 1:
            return _literal(self.values[0], quote="'")
        return "one of [" + ", ".join(_literal(v, quote="'") for v in self.values) + "]"

    def suggest(self, value: Any) -> str:
        return suggest(str(value), [v for v in self.values if isinstance(v, str)]) if isinstance(value, str) else ""


class Boolean(Constraint):
    """``True`` or ``False`` (NumPy booleans too); never a string such as ``"no"``, never ``0``/``1``."""

    type_doc = "bool"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, (bool, np.bool_))

    def describe(self, values: Mapping[str, Any] | None = None) -> str:
        return "True or False"


class NoneValue(Constraint):
    type_doc = "None"

    def accepts(self, value: Any) -> bool:
        return value is None

    def describe(self, values: Mapping[str, Any] | None = None) -> str:
        return "None"


class Registered(Constraint):
    """A name registered in ``registry`` (the names are read when a value is checked)."""

    type_doc = "str"

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.registry

    def describe(self, values: Mapping[str, Any] | None = None) -> str:
        return f"one of {self.registry.names()}"

    def suggest(self, value: Any) -> str:
        return suggest(str(value), self.registry.names()) if isinstance(value, str) else ""


class InstanceOf(Constraint):
    """An instance of ``types`` (e.g. ``dict``), described as ``what``."""

    def __init__(self, types_: type | tuple[type, ...], what: str, type_doc: str) -> None:
        self.types, self.what, self.type_doc = types_, what, type_doc

    def accepts(self, value: Any) -> bool:
        return isinstance(value, self.types) and not isinstance(value, bool)

    def describe(self, values: Mapping[str, Any] | None = None) -> str:
        return self.what


class HasMethods(Constraint):
    """An object with these methods (duck typing: a ``Trainer``, or anything that trains like one)."""

    def __init__(self, methods: tuple[str, ...], what: str, type_doc: str) -> None:
        self.methods, self.what, self.type_doc = methods, what, type_doc

    def accepts(self, value: Any) -> bool:
        return all(callable(getattr(value, m, None)) for m in self.methods)

    def describe(self, values: Mapping[str, Any] | None = None) -> str:
        return self.what


class Callbacks(Constraint):
    """A list or tuple of callbacks: objects with every hook of :class:`~layerwise.train.Callback` (duck typing)."""

    type_doc = "sequence of Callback"
    HOOKS = ("on_fit_start", "on_epoch_start", "on_batch_end", "on_epoch_end", "on_fit_end", "state_dict", "load_state_dict")

    def accepts(self, value: Any) -> bool:
        return isinstance(value, (list, tuple)) and all(all(callable(getattr(v, h, None)) for h in self.HOOKS) for v in value)

    def describe(self, values: Mapping[str, Any] | None = None) -> str:
        return "a list of Callback objects (subclasses of layerwise.train.Callback, or objects with all its hooks)"


class LayerSizes(Constraint):
    """A non-empty sequence of positive ints, e.g. ``(256, 64)`` (a list from a config file too), or one int."""

    type_doc = "tuple of int"

    def accepts(self, value: Any) -> bool:
        if _is_int(value):
            return value >= 1
        return isinstance(value, (tuple, list)) and len(value) > 0 and all(_is_int(s) and s >= 1 for s in value)

    def describe(self, values: Mapping[str, Any] | None = None) -> str:
        return "a non-empty sequence of positive integers, e.g. (256, 64)"


class SequenceOf(Constraint):
    """A list or tuple (or 1-D array) of ``min_len`` to ``max_len`` items that ``item`` each accepts, described as
    ``what``: ``SequenceOf(Interval(int, 1), "a sequence of positive integers, e.g. (100, 100)", "sequence of int")``.

    A string is never a sequence here, whatever its characters.
    """

    def __init__(self, item: Constraint, what: str, type_doc: str, min_len: int = 0, max_len: int | None = None) -> None:
        self.item, self.what, self.type_doc, self.min_len, self.max_len = item, what, type_doc, min_len, max_len

    def accepts(self, value: Any) -> bool:
        if isinstance(value, np.ndarray):
            if value.ndim != 1:
                return False
            value = value.tolist()
        if not isinstance(value, (list, tuple)):
            return False
        if len(value) < self.min_len or (self.max_len is not None and len(value) > self.max_len):
            return False
        return all(self.item.accepts(v) for v in value)

    def describe(self, values: Mapping[str, Any] | None = None) -> str:
        return self.what


class ImageSize(Constraint):
    """A positive int (a square) or a ``(height, width)`` pair of positive ints (a list from a config file too)."""

    type_doc = "int or (int, int)"

    def accepts(self, value: Any) -> bool:
        if _is_int(value):
            return value >= 1
        return isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_int(s) and s >= 1 for s in value)

    def describe(self, values: Mapping[str, Any] | None = None) -> str:
        return "a positive integer (a square) or (height, width) in pixels, e.g. (28, 28)"


#: Device types that hold data and compute; torch also knows ``"meta"`` (shapes without values) and others
#: that cannot train a model.
COMPUTE_DEVICES = ("cpu", "cuda", "mps", "xpu")


class Device(Constraint):
    """``"auto"`` or a device name torch understands (``"cpu"``, ``"cuda"``, ``"cuda:1"``), or a ``torch.device``,
    of a type that computes (:data:`COMPUTE_DEVICES`: not ``"meta"``).

    Whether this machine has the device is checked when training starts.
    """

    type_doc = 'str or torch.device'

    def accepts(self, value: Any) -> bool:
        import torch

        if isinstance(value, torch.device):
            return value.type in COMPUTE_DEVICES
        if not isinstance(value, str):
            return False
        if value == "auto":
            return True
        try:
            return torch.device(value).type in COMPUTE_DEVICES
        except (RuntimeError, TypeError, ValueError):
            return False

    def describe(self, values: Mapping[str, Any] | None = None) -> str:
        return "'auto', 'cpu', 'cuda', 'cuda:<index>' or another torch device"

    def suggest(self, value: Any) -> str:
        import torch

        try:
            kind = value.type if isinstance(value, torch.device) else torch.device(value).type
        except (RuntimeError, TypeError, ValueError):
            return suggest(str(value), ["auto", "cpu", "cuda", "mps"]) if isinstance(value, str) else ""
        return f" A {kind!r} device holds no data to train on; use one of {list(COMPUTE_DEVICES)}."


class PathLike(Constraint):
    """A non-empty ``str`` or ``os.PathLike``, described as ``what``."""

    type_doc = "str or path"

    def __init__(self, what: str = "a path (str or pathlib.Path)") -> None:
        self.what = what

    def accepts(self, value: Any) -> bool:
        return isinstance(value, (str, os.PathLike)) and str(value) != ""

    def describe(self, values: Mapping[str, Any] | None = None) -> str:
        return self.what


class FolderName(Constraint):
    """A plain folder name: no ``/``, not ``.`` or ``..`` (the run folder is ``out_dir/name``)."""

    type_doc = "str"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and os.path.basename(value) == value and value not in ("", ".", "..")

    def describe(self, values: Mapping[str, Any] | None = None) -> str:
        return "a plain folder name (no '/' or '..')"


class RandomState(Constraint):
    """A seed in ``[0, 2**32)`` or a ``numpy.random.RandomState`` (scikit-learn's ``random_state``)."""

    type_doc = "int or RandomState"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, np.random.RandomState) or (_is_int(value) and 0 <= value < 2**32)

    def describe(self, values: Mapping[str, Any] | None = None) -> str:
        return "an integer in [0, 2**32) or a numpy RandomState"


class AnyValue(Constraint):
    type_doc = "object"

    def accepts(self, value: Any) -> bool:
        return True

    def describe(self, values: Mapping[str, Any] | None = None) -> str:
        return "any value"


class RegistryOptions(Constraint):
    """A dict of options of the registry entry that the sibling parameter ``selector`` names.

    The factory's declared options are the schema: a factory with an ``options``
    :class:`~layerwise.params.core.ParamSet` (the semi-supervised methods,
    :func:`~layerwise.params.core.declared_options`) has each value checked
    against its option's constraints, in the estimators' template, naming it as
    ``semi_supervised_params['noise_std'] (an option of the semi-supervised method
    'ladder')``. Other factories have their signature read instead: an option
    whose value does not match the type annotation (``level: float`` given
    ``"high"``) is refused. Either way an unknown option is refused with the
    closest accepted name, and options that pass are given to the factory once,
    so that what it checks of several options together runs before training too.
    One constraint for every registry (``pretrain_params`` of ``OBJECTIVES``,
    ``semi_supervised_params`` of ``SEMI_SUPERVISED``...).

    Parameters
    ----------
    registry : Registry
    selector : str
        The parameter whose value is the registered name, e.g. ``"pretrain"``.
    aliases : dict, optional
        Values of the selector that stand for a registered name (``{"auto": "ladder"}``).
    """

    type_doc = "dict"

    def __init__(self, registry: Registry, selector: str, aliases: Mapping[str, str] | None = None) -> None:
        self.registry, self.selector, self.aliases = registry, selector, dict(aliases or {})

    def _entry(self, values: Mapping[str, Any] | None) -> Any:
        """The registered name the selector stands for (an alias such as ``"auto"`` resolved)."""
        name = (values or {}).get(self.selector)
        return self.aliases.get(name, name) if isinstance(name, str) else name

    def accepts(self, value: Any) -> bool:
        return isinstance(value, Mapping)

    def describe(self, values: Mapping[str, Any] | None = None) -> str:
        name = self._entry(values)
        if isinstance(name, str) and name in self.registry:
            accepted = _accepted_names(self.registry.get(name))
            listed = f" (accepted: {', '.join(sorted(accepted))})" if accepted else ""
            return f"a dict of options of the {self.registry.kind} {name!r}{listed}"
        return f"a dict of options of the {self.registry.kind} named by {self.selector!r}"

    def nested_problems(self, value: Mapping, values: Mapping[str, Any], subject: Subject) -> list[str]:
        name = self._entry(values)
        if not value:
            return []
        if name is None:
            return [f"{subject} sets options {sorted(value)} but {self.selector!r} is None, so nothing would use them; "
                    f"remove them or set {self.selector!r}."]
        if not (isinstance(name, str) and name in self.registry):
            return []  # the selector's own problem is reported already
        factory = self.registry.get(name)
        what = f"the {self.registry.kind} {name!r}"
        declared = _declared(factory)
        if declared is not None:
            problems = _declared_problems(value, declared, subject, what)
        else:
            problems = _signature_problems(value, factory, subject, what)
        if not problems:
            try:
                factory(**value)
            except (ConfigError, TypeError, ValueError) as e:
                problems.append(f"{subject} is refused by {what}: {e}")
        return problems


def _declared(factory: Callable) -> Any:
    """The :class:`~layerwise.params.core.ParamSet` ``factory`` declares as its ``options``, else ``None``."""
    # by its methods, not its class: core builds on this module, which must not import it back
    options = getattr(factory, "options", None)
    return options if callable(getattr(options, "problems", None)) and callable(getattr(options, "unknown_hint", None)) else None


def _accepted_names(factory: Callable) -> set[str] | None:
    """The option names ``factory`` takes (``None``: any, it takes ``**kwargs``)."""
    declared = _declared(factory)
    return set(declared) if declared is not None else _options_of(factory)[0]


def _unknown_option(subject: Subject, key: Any, what: str, accepted: set[str], hint: str) -> str:
    return f"{subject} has an unknown option {key!r} for {what}.{hint} Accepted options: {sorted(accepted)}."


def _declared_problems(value: Mapping, declared: Any, subject: Subject, what: str) -> list[str]:
    """Unknown names, then each value against its declared option (the estimators' template)."""
    problems = [_unknown_option(subject, key, what, set(declared), declared.unknown_hint(str(key)))
                for key in value if key not in declared]
    return problems + declared.problems(value, lambda key: subject.option_of(key, what))


def _signature_problems(value: Mapping, factory: Callable, subject: Subject, what: str) -> list[str]:
    """Unknown names, then each value against the type annotation of its keyword in ``factory``'s signature."""
    accepted, hints = _options_of(factory)
    problems = []
    if accepted is not None:
        problems += [_unknown_option(subject, key, what, accepted, suggest(str(key), sorted(accepted)))
                     for key in value if key not in accepted]
    for key, v in value.items():
        if key in hints and (accepted is None or key in accepted):
            wrong = type_problem(v, hints[key])
            if wrong:
                problems.append(f"{subject.option_of(key, what)} must be {wrong}; got {_show(v)}.")
    return problems


def _options_of(factory: Callable) -> tuple[set[str] | None, dict[str, Any]]:
    """Keyword names of ``factory`` (``None`` with ``**kwargs``) and their type hints."""
    target = factory.__init__ if inspect.isclass(factory) else factory
    try:
        hints = typing.get_type_hints(target)
    except Exception:  # an annotation that cannot be resolved: names only
        hints = {}
    names: set[str] | None = set()
    for p in inspect.signature(factory).parameters.values():
        if p.kind is p.VAR_KEYWORD:
            names = None
            break
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            names.add(p.name)
    hints.pop("return", None)
    return names, hints


def type_problem(value: Any, hint: Any) -> str:
    """``""`` when ``value`` matches the annotation ``hint``, else what was expected (``"a float"``)."""
    return "" if _matches(value, hint) else _hint_name(hint)


def _matches(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is Any or hint is inspect.Parameter.empty:
        return True
    if origin in (types.UnionType, typing.Union):
        return any(_matches(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, (bool, np.bool_))
    if hint is int:
        return _is_int(value)
    if hint is float:
        return _is_number(value)
    if hint is str:
        return isinstance(value, str)
    if origin in (list, tuple, Sequence, typing.Sequence) or hint in (list, tuple):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            return False
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return len(args) != 1 or all(_matches(v, args[0]) for v in value)
    if origin is Callable or hint is Callable:
        return callable(value)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True  # an annotation this checker does not know: the factory checks the value


def _hint_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_hint_name(h) for h in typing.get_args(hint))
    names = {type(None): "None", bool: "True or False", int: "an integer", float: "a number", str: "a string"}
    if hint in names:
        return names[hint]
    if origin in (list, tuple, Sequence, typing.Sequence):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        plural = {int: "integers", float: "numbers", str: "strings", bool: "booleans"}
        return f"a list of {plural.get(args[0], 'values')}" if len(args) == 1 else "a list"
    return getattr(hint, "__name__", str(hint))


def _literal(v: Any, quote: str = '"') -> str:
    return f"{quote}{v}{quote}" if isinstance(v, str) else repr(v)


def _show(value: Any) -> str:
    """How a received value is shown: its repr (quotes tell ``'1'`` from ``1``), cut at 200 characters."""
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."
