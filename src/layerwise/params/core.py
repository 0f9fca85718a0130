"""Parameters declared once: validation, signatures and docstrings from one declaration.

A :class:`Param` holds a name, its constraints, its default and its doc. A
:class:`ParamSet` is what one owner takes (an estimator, the ``Trainer``, a
config section): it validates a mapping of values, collecting every problem
before raising one :class:`~layerwise.ConfigError` (skorch's habit), each
problem in one template (scikit-learn's: the name as the caller typed it, what
is expected, what was received, and the closest valid value if any)::

    PretrainedClassifier has 2 invalid parameter(s):
    - batch_size must be 'auto' or a positive integer; got 0.
    - solver must be one of ['adam', 'adamw', 'sgd', 'Adam', 'AdamW', 'SGD']; got str 'sgdd'. Did you mean 'sgd'?

It also builds the ``__init__`` signature of its owner (keyword-only after the
first parameter, as scikit-learn's estimators) and renders the numpydoc
``Parameters`` lines. A name of an earlier release is an unknown name like any
other; the message says what it is called now (:attr:`ParamSet.renamed`).

A class that is not an estimator declares its options the same way, as a
``ParamSet`` in its ``options`` attribute, and :func:`declared_options` makes
its ``__init__`` (validated) and its docstring's ``Parameters`` from it: a
semi-supervised method's option is one declaration plus the code that uses it.
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..exceptions import ConfigError
from ..registry import suggest
from .constraints import Constraint, Subject, _show

__all__ = ["REQUIRED", "Param", "Renamed", "ParamSet", "configurable_init", "declared_options"]


class _Required:
    def __repr__(self) -> str:
        return "<required>"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class Param:
    """One hyperparameter: name, accepted values, default, doc.

    Parameters
    ----------
    name : str
    constraints : tuple of Constraint
        A value is accepted when any of them accepts it.
    default : object, default=REQUIRED
    doc : str
        What it does (numpydoc body; wrapped when rendered).
    type_doc : str, optional
        The numpydoc type; default: from the constraints.
    paths : tuple of str, default=()
        The training paths the parameter applies to, when not all: ``("stack",)`` for greedy pretraining and
        fine-tuning of a stack, ``("semi",)`` for a semi-supervised method. An estimator uses or refuses a
        parameter set away from its default on a path it does not apply to, never drops it
        (:meth:`~layerwise.sklearn._semi.SemiSupervisedMixin._semi_method`).
    auto : callable, optional
        What ``"auto"`` resolves to in one phase: ``auto(situation) -> value``, a function of
        :mod:`layerwise.params.auto` (:meth:`resolve` calls it).
    """

    name: str
    constraints: tuple[Constraint, ...]
    default: Any = REQUIRED
    doc: str = ""
    type_doc: str | None = None
    paths: tuple[str, ...] = ()
    auto: Callable[[Any], Any] | None = None

    def resolve(self, value: Any, situation: Any) -> Any:
        """``value``, or what ``"auto"`` stands for in ``situation`` (a :class:`~layerwise.params.auto.Situation`)."""
        if self.auto is not None and isinstance(value, str) and value == "auto":
            return self.auto(situation)
        return value

    def expected(self, values: Mapping[str, Any] | None = None) -> str:
        """What the constraints accept, in words: ``"'auto' or a positive integer"``."""
        return " or ".join(c.describe(values) for c in self.constraints)

    def problems(self, value: Any, values: Mapping[str, Any], subject: Subject) -> list[str]:
        """The problems of ``value`` (``subject`` names it in the message), ``[]`` if none."""
        accepted = [c for c in self.constraints if c.accepts(value)]
        if not accepted:
            hint = next((h for h in (c.suggest(value) for c in self.constraints) if h), "")
            return [f"{subject} must be {self.expected(values)}; got {_show(value)}.{hint}"]
        return [p for c in accepted for p in c.nested_problems(value, values, subject)]

    def numpydoc(self, indent: str = "    ") -> str:
        type_doc = self.type_doc or " or ".join(dict.fromkeys(c.type_doc for c in self.constraints))
        default = "" if self.default is REQUIRED else f", default={_default_doc(self.default)}"
        head = f"{indent}{self.name} : {type_doc}{default}"
        if not self.doc:
            return head
        body = textwrap.fill(" ".join(self.doc.split()), width=110, initial_indent=indent * 2, subsequent_indent=indent * 2)
        return f"{head}\n{body}"


@dataclass(frozen=True)
class Renamed:
    """A parameter name of an earlier release, which the unknown-name message points to its name now.

    Only messages read it: the old name is refused like any unknown name, never translated.

    Parameters
    ----------
    old : str
    new : str
    note : str
        Appended to the hint, when the new name alone does not say how to write the old value.
    """

    old: str
    new: str
    note: str = ""

    def hint(self) -> str:
        return f" {self.old!r} is now {self.new!r}{'; ' + self.note if self.note else ''}."


@dataclass(frozen=True)
class ParamSet(Mapping):
    """The parameters one owner takes, in signature order, and the old names its messages point to the new ones.

    Examples
    --------
    >>> from layerwise.params.constraints import Interval, Options
    >>> ps = ParamSet((Param("batch_size", (Options("auto"), Interval(int, 1)), "auto"),))
    >>> ps.validate({"batch_size": 0}, "Demo")
    Traceback (most recent call last):
    ...
    layerwise.exceptions.ConfigError: Demo has 1 invalid parameter(s):
    - batch_size must be 'auto' or a positive integer; got 0.
    """

    params: tuple[Param, ...]
    #: names of earlier releases, for the unknown-name message only (:meth:`unknown_hint`)
    renamed: tuple[Renamed, ...] = field(default=())

    def __getitem__(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return (p.name for p in self.params)

    def __len__(self) -> int:
        return len(self.params)

    # -- deriving one owner's set from the shared table ---------------------------------
    def select(self, *names: str, defaults: Mapping[str, Any] | None = None, docs: Mapping[str, str] | None = None,
               constraints: Mapping[str, tuple[Constraint, ...]] | None = None) -> ParamSet:
        """The parameters ``names``, in that order, with owner-specific defaults, docs or constraints (and the old
        names of those parameters)."""
        defaults, docs, constraints = dict(defaults or {}), dict(docs or {}), dict(constraints or {})
        unknown = [n for n in (*names, *defaults, *docs, *constraints) if n not in self]
        if unknown:
            raise KeyError(f"not declared in the parameter table: {unknown}")
        params = []
        for n in names:
            p = self[n]
            params.append(replace(p, default=defaults.get(n, p.default), doc=docs.get(n, p.doc),
                                  constraints=constraints.get(n, p.constraints)))
        return ParamSet(tuple(params), tuple(r for r in self.renamed if r.new in names))

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params if p.default is not REQUIRED}

    # -- validation -------------------------------------------------------------------------
    def problems(self, values: Mapping[str, Any], subject: Callable[[str], Subject], unknown: str | None = None) -> list[str]:
        """Every problem of ``values``: bad values, and unknown names when ``unknown`` says what a name is."""
        found = []
        for name, value in values.items():
            if name in self:
                found += self[name].problems(value, values, subject(name))
            elif unknown is not None:
                found.append(self.unknown_message(name, unknown))
        return found

    def unknown_message(self, name: str, what: str) -> str:
        """``unknown key 'x'. Did you mean 'y'? ...``; an old name says its name now."""
        return f"unknown {what} {name!r}.{self.unknown_hint(name)} Valid {what}s: {list(self)}."

    def unknown_hint(self, name: str) -> str:
        """``" 'lr' is now 'learning_rate_init'."`` for a name of an earlier release, else the closest name
        (``" Did you mean 'max_iter'?"``), else ``""``."""
        old = next((r for r in self.renamed if r.old == name), None)
        return old.hint() if old is not None else suggest(str(name), list(self))

    def validate(self, values: Mapping[str, Any], owner: str, context: list[str] | None = None) -> None:
        """Raise one :class:`ConfigError` listing every problem of ``values`` (and of ``context``)."""
        found = list(context or []) + self.problems(values, Subject)
        if found:
            raise ConfigError(f"{owner} has {len(found)} invalid parameter(s):\n- " + "\n- ".join(found))

    # -- signature and docs -----------------------------------------------------------------------
    def signature(self, n_positional: int = 1) -> inspect.Signature:
        """``(self, first, *, rest...)``: keyword-only after the first ``n_positional`` parameters."""
        params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        for i, p in enumerate(self.params):
            kind = inspect.Parameter.POSITIONAL_OR_KEYWORD if i < n_positional else inspect.Parameter.KEYWORD_ONLY
            default = inspect.Parameter.empty if p.default is REQUIRED else p.default
            params.append(inspect.Parameter(p.name, kind, default=default))
        return inspect.Signature(params)

    def numpydoc(self, indent: str = "    ") -> str:
        """The numpydoc ``Parameters`` lines of every parameter."""
        return "\n".join(p.numpydoc(indent) for p in self.params)

    def document(self, doc: str | None) -> str | None:
        """``doc`` with its ``{parameters}`` line replaced by :meth:`numpydoc`."""
        if doc is None or "{parameters}" not in doc:
            return doc
        return doc.replace("    {parameters}", self.numpydoc())


def configurable_init(params: ParamSet, n_positional: int = 1, validate: bool = False) -> Callable[..., None]:
    """An ``__init__`` that stores each parameter as an attribute of the same name.

    Its signature (what ``inspect.signature`` and scikit-learn's ``get_params``
    see) is :meth:`ParamSet.signature`: keyword-only after the first
    ``n_positional`` parameters. An unknown keyword raises ``TypeError`` with
    the closest name, or for a name of an earlier release its name now. Values
    are not checked here (scikit-learn checks them in ``fit``) unless
    ``validate``: then every bad value is reported in one
    :class:`~layerwise.ConfigError` (:meth:`ParamSet.validate`, the owner named
    by its class) before any is stored.
    """
    sig = params.signature(n_positional)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        owner = type(self).__name__
        values = _bind(params, sig, owner, n_positional, self, args, kwargs)
        if validate:
            params.validate(values, owner)
        for name, value in values.items():
            setattr(self, name, value)
        post_init = getattr(self, "__post_init__", None)
        if post_init is not None:  # owners that check and derive at once (the Trainer), as torch modules do
            post_init()

    __init__.__signature__ = sig  # type: ignore[attr-defined]
    return __init__


def _bind(params: ParamSet, sig: inspect.Signature, owner: str, n_positional: int, obj: Any, args: tuple,
          kwargs: dict[str, Any]) -> dict[str, Any]:
    """The arguments of one call by name, defaults filled in; ``TypeError`` naming what the owner takes."""
    unknown = [k for k in kwargs if k not in params]
    if unknown:
        hints = "".join(params.unknown_hint(k) for k in unknown)
        raise TypeError(f"{owner}() got unexpected keyword argument(s) {unknown}.{hints} It takes {list(params)}.")
    try:
        bound = sig.bind(obj, *args, **kwargs)
    except TypeError as e:
        by_name = "; pass the others by name, e.g. max_iter=50" if n_positional < len(params) else ""
        raise TypeError(f"{owner}(): {e}. Only {list(params)[:n_positional]} may be passed by position{by_name}.") from None
    bound.apply_defaults()
    return dict(list(bound.arguments.items())[1:])


def declared_options(cls: type) -> type:
    """Class decorator: ``cls.__init__`` and the ``{parameters}`` line of ``cls.__doc__`` from ``cls.options``.

    ``cls.options`` is the :class:`ParamSet` of every option ``cls`` takes (each
    may be passed by position too, in that order). The ``__init__`` refuses an
    unknown name (``TypeError``), reports every bad value in one
    :class:`~layerwise.ConfigError`, stores each value as an attribute of the same name
    and then calls ``cls.__post_init__``, if any: what needs several options
    together, or converts a value (``float(noise_std)``), is written there.
    A subclass that takes other options declares its own ``options`` and is
    decorated too; one that does not inherits both.

    Examples
    --------
    >>> from layerwise.params.constraints import Interval
    >>> @declared_options
    ... class Demo:
    ...     '''A demo.
    ...
    ...     Parameters
    ...     ----------
    ...     {parameters}
    ...     '''
    ...     options = ParamSet((Param("rate", (Interval(float, 0),), 0.5, "How fast."),))
    >>> Demo().rate
    0.5
    >>> Demo(rate=-1)
    Traceback (most recent call last):
    ...
    layerwise.exceptions.ConfigError: Demo has 1 invalid parameter(s):
    - rate must be a number >= 0; got -1.
    >>> print(Demo.__doc__.split("----------")[1].rstrip())
    <BLANKLINE>
        rate : float, default=0.5
            How fast.
    """
    options = cls.__dict__.get("options")
    if not isinstance(options, ParamSet):
        raise TypeError(f"@declared_options: {cls.__name__} declares no options = ParamSet((Param(...), ...)) of its own.")
    cls.__init__ = configurable_init(options, n_positional=len(options), validate=True)  # type: ignore[misc]
    cls.__doc__ = options.document(cls.__doc__)
    return cls


def _default_doc(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)
