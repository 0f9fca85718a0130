"""Parameters declared once: validation, deprecated names, signatures and docstrings from one declaration.

A :class:`Param` holds a name, its constraints, its default and its doc. A
:class:`ParamSet` is what one owner takes (an estimator, the ``Trainer``, a
config section): it validates a mapping of values, collecting every problem
before raising one :class:`~layerwise.ConfigError` (skorch's habit), each
problem in one template (scikit-learn's: the name as the caller typed it, what
is expected, what was received, and the closest valid value if any)::

    PretrainedClassifier has 2 invalid parameter(s):
    - batch_size must be 'auto' or a positive integer; got 0.
    - solver must be one of ['adam', 'adamw', 'sgd', 'Adam', 'AdamW', 'SGD']; got str 'sgdd'. Did you mean 'sgd'?

It also translates deprecated names (with a ``FutureWarning``), builds the
``__init__`` signature of its owner (keyword-only after the first parameter, as
scikit-learn's estimators) and renders the numpydoc ``Parameters`` lines.
"""

from __future__ import annotations

import inspect
import textwrap
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..exceptions import ConfigError
from ..registry import suggest
from .constraints import Constraint, Subject, _show

__all__ = ["REQUIRED", "Param", "Deprecated", "ParamSet", "configurable_init"]


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
    """

    name: str
    constraints: tuple[Constraint, ...]
    default: Any = REQUIRED
    doc: str = ""
    type_doc: str | None = None
    paths: tuple[str, ...] = ()

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
class Deprecated:
    """An old name that keeps working for one release, with a ``FutureWarning``.

    Parameters
    ----------
    old : str
    new : str or None
        The name to use instead; ``None`` when the parameter is removed (its
        value is then ignored).
    translate : callable, optional
        ``old value -> {new name: value, ...}`` when the meaning changed shape
        (``patience=5`` is ``early_stopping=True, n_iter_no_change=5``).
    note : str
        Appended to the warning.
    """

    old: str
    new: str | None
    translate: Callable[[Any], dict[str, Any]] | None = None
    note: str = ""
    removed_in: str = "0.3"

    def message(self, owner: str) -> str:
        if self.new is None:
            return (f"The {self.old!r} parameter of {owner} has no effect and is deprecated; it will be removed in "
                    f"{self.removed_in}. Remove it.{' ' + self.note if self.note else ''}")
        return (f"The {self.old!r} parameter of {owner} was renamed {self.new!r}; the old name will stop working in "
                f"{self.removed_in}.{' ' + self.note if self.note else ''}")

    def new_values(self, value: Any) -> dict[str, Any]:
        if self.translate is not None:
            return self.translate(value)
        return {} if self.new is None else {self.new: value}


@dataclass(frozen=True)
class ParamSet(Mapping):
    """The parameters one owner takes, in signature order, and its deprecated names.

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
    deprecated: tuple[Deprecated, ...] = field(default=())

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
               constraints: Mapping[str, tuple[Constraint, ...]] | None = None, deprecated: Iterable[Deprecated] = ()) -> ParamSet:
        """The parameters ``names``, in that order, with owner-specific defaults, docs or constraints."""
        defaults, docs, constraints = dict(defaults or {}), dict(docs or {}), dict(constraints or {})
        unknown = [n for n in (*names, *defaults, *docs, *constraints) if n not in self]
        if unknown:
            raise KeyError(f"not declared in the parameter table: {unknown}")
        params = []
        for n in names:
            p = self[n]
            params.append(replace(p, default=defaults.get(n, p.default), doc=docs.get(n, p.doc),
                                  constraints=constraints.get(n, p.constraints)))
        return ParamSet(tuple(params), tuple(deprecated))

    def with_deprecated(self, *deprecated: Deprecated) -> ParamSet:
        """The same parameters, with more deprecated names."""
        return ParamSet(self.params, self.deprecated + tuple(deprecated))

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
        """``unknown key 'x'. Did you mean 'y'? ...``, pointing old names to their new ones."""
        names = list(self)
        old = {d.old: d for d in self.deprecated}
        close = suggest(str(name), names + list(old))
        for d in old.values():  # a misspelt *old* name: say what it is now
            if close == f" Did you mean {d.old!r}?":
                close += f" ({d.old!r} is the deprecated name of {d.new!r}.)" if d.new else ""
        return f"unknown {what} {name!r}.{close} Valid {what}s: {names}."

    def validate(self, values: Mapping[str, Any], owner: str, context: list[str] | None = None,
                 typed: Mapping[str, str] | None = None) -> None:
        """Raise one :class:`ConfigError` listing every problem of ``values`` (and of ``context``).

        ``typed`` maps a parameter to the deprecated name the caller used for it, which the message quotes.
        """
        typed = typed or {}
        found = list(context or []) + self.problems(values, lambda n: Subject(n, typed.get(n)))
        if found:
            raise ConfigError(f"{owner} has {len(found)} invalid parameter(s):\n- " + "\n- ".join(found))

    # -- old names ------------------------------------------------------------------------------
    def translate(self, kwargs: Mapping[str, Any], owner: str, warn: bool = True) -> tuple[dict[str, Any], dict[str, str]]:
        """``kwargs`` with deprecated names replaced by the new ones (a ``FutureWarning`` for each), and
        ``{new name: old name}`` for the names the caller typed, so messages can quote them.

        Raises
        ------
        TypeError
            An old name and its new name are both given.
        """
        out, typed = dict(kwargs), {}
        for d in self.deprecated:
            if d.old not in out:
                continue
            value = out.pop(d.old)
            if warn:
                warnings.warn(d.message(owner), FutureWarning, stacklevel=3)
            for new, v in d.new_values(value).items():
                if new in kwargs:
                    raise TypeError(f"{owner} got both {d.old!r} (deprecated) and {new!r}; pass only {new!r}.")
                out[new], typed[new] = v, d.old
        return out, typed

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


def configurable_init(params: ParamSet, n_positional: int = 1) -> Callable[..., None]:
    """An ``__init__`` that stores each parameter as an attribute of the same name.

    Its signature (what ``inspect.signature`` and scikit-learn's ``get_params``
    see) is :meth:`ParamSet.signature`: keyword-only after the first
    ``n_positional`` parameters. Deprecated names are translated with a
    ``FutureWarning``; an unknown keyword raises ``TypeError`` with the closest
    name. Values are not checked here (scikit-learn checks them in ``fit``).
    """
    sig = params.signature(n_positional)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        owner = type(self).__name__
        kwargs, typed = params.translate(kwargs, owner)
        unknown = [k for k in kwargs if k not in params]
        if unknown:
            hints = "".join(suggest(k, list(params)) for k in unknown)
            raise TypeError(f"{owner}() got unexpected keyword argument(s) {unknown}.{hints} It takes {list(params)}.")
        try:
            bound = sig.bind(self, *args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{owner}(): {e}. Only {list(params)[:n_positional]} may be passed by position; pass the "
                            "others by name, e.g. max_iter=50.") from None
        bound.apply_defaults()
        for name, value in list(bound.arguments.items())[1:]:
            setattr(self, name, value)
        post_init = getattr(self, "__post_init__", None)
        if post_init is not None:  # owners that check and derive at once (the Trainer), as torch modules do
            post_init(typed)

    __init__.__signature__ = sig  # type: ignore[attr-defined]
    return __init__


def _default_doc(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)
