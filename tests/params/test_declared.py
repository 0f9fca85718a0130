"""Options declared once on a class (``declared_options``), and registry options checked against such a declaration."""

import inspect

import numpy as np
import pytest

from layerwise.exceptions import ConfigError
from layerwise.params import Param, ParamSet
from layerwise.params.constraints import Interval, Options, RegistryOptions, SequenceOf, Subject
from layerwise.params.core import declared_options
from layerwise.registry import Registry

TOYS = Registry("toy method")


@TOYS.register("toy")
@declared_options
class Toy:
    """A toy method.

    Parameters
    ----------
    {parameters}
    """

    options = ParamSet((
        Param("rate", (Interval(float, 0),), 0.5, "How fast."),
        Param("mode", (Options("fast", "slow"),), "fast", "Which way."),
        Param("widths", (SequenceOf(Interval(int, 1), "a sequence of positive integers", "sequence of int"),), (4,), "Widths."),
    ))

    def __post_init__(self):
        if self.mode == "slow" and self.rate > 1:  # a check of two options together stays code
            raise ConfigError("mode='slow' needs rate <= 1.")
        self.rate, self.widths = float(self.rate), tuple(self.widths)


@declared_options
class _Faster(Toy):
    """A subclass with another default and one more option.

    Parameters
    ----------
    {parameters}
    """

    options = ParamSet((*Toy.options.select("rate", "mode", "widths", defaults={"rate": 2}).params,
                        Param("extra", (Interval(int, 0),), 0, "More.")))


def test_the_init_comes_from_the_declaration():
    assert list(inspect.signature(Toy).parameters) == ["rate", "mode", "widths"]
    toy = Toy(1, widths=[3, 2])
    assert (toy.rate, toy.mode, toy.widths) == (1.0, "fast", (3, 2)) and isinstance(toy.rate, float)
    assert vars(Toy()) == {"rate": 0.5, "mode": "fast", "widths": (4,)}


def test_every_bad_value_is_reported_at_once_in_the_template():
    with pytest.raises(ConfigError, match=r"^Toy has 3 invalid parameter\(s\):\n- rate must be a number >= 0; got -1\.\n"
                                          r"- mode must be one of \['fast', 'slow'\]; got 'slwo'\. Did you mean 'slow'\?\n"
                                          r"- widths must be a sequence of positive integers; got \(0,\)\.$"):
        Toy(rate=-1, mode="slwo", widths=(0,))


def test_post_init_checks_options_together_only_once_each_is_valid():
    with pytest.raises(ConfigError, match=r"mode='slow' needs rate <= 1"):
        Toy(rate=2, mode="slow")
    with pytest.raises(ConfigError, match=r"Toy has 1 invalid parameter"):
        Toy(rate="2", mode="slow")  # the declared check first: __post_init__ never sees a string


def test_unknown_names_are_refused_with_the_closest():
    with pytest.raises(TypeError, match=r"Toy\(\) got unexpected keyword argument\(s\) \['rat'\]\. Did you mean 'rate'\?"):
        Toy(rat=1)


def test_a_subclass_declares_its_own_options_and_keeps_the_checks_of_its_parent():
    assert list(inspect.signature(_Faster).parameters) == ["rate", "mode", "widths", "extra"]
    assert _Faster().rate == 2.0 and Toy().rate == 0.5
    with pytest.raises(ConfigError, match=r"_Faster has 2 invalid parameter\(s\):\n- rate must be a number >= 0; got -1\.\n- extra"):
        _Faster(rate=-1, extra=-1)
    with pytest.raises(ConfigError, match=r"mode='slow' needs rate <= 1"):
        _Faster(mode="slow")


def test_the_docstring_lists_the_declared_options():
    assert "{parameters}" not in Toy.__doc__
    assert "    rate : float, default=0.5\n        How fast." in Toy.__doc__
    assert '    mode : {"fast", "slow"}, default="fast"' in Toy.__doc__
    assert "    rate : float, default=2\n" in _Faster.__doc__ and "    extra : int, default=0" in _Faster.__doc__


def test_a_class_without_its_own_declaration_is_refused():
    with pytest.raises(TypeError, match=r"@declared_options: Bare declares no options"):
        declared_options(type("Bare", (), {}))
    with pytest.raises(TypeError, match=r"Child declares no options"):
        declared_options(type("Child", (Toy,), {}))  # inheriting one is not declaring one


@pytest.mark.parametrize("value, ok", [
    ((1, 2), True), ([3], True), ((), True), (np.array([1, 2]), True),
    ("12", False), ((1, 0), False), ((1.5,), False), ((True,), False), (np.ones((2, 2), dtype=int), False), (3, False),
])
def test_sequence_of_checks_every_item(value, ok):
    assert SequenceOf(Interval(int, 1), "widths", "sequence of int").accepts(value) is ok


def test_sequence_of_checks_the_length():
    three = SequenceOf(Interval(int, 1), "three", "(int, int, int)", 3, 3)
    assert three.accepts((1, 8, 8)) and not three.accepts((8, 8)) and not three.accepts((1, 1, 8, 8))


def _toy_params():
    return ParamSet((Param("method", (Options("toy"),), "toy"), Param("method_params", (RegistryOptions(TOYS, "method"),), None)))


def test_registry_options_check_each_value_against_the_declaration():
    problems = _toy_params().problems({"method": "toy", "method_params": {"rate": -1, "mdoe": "fast", "widths": "4"}}, Subject)
    assert problems == [
        "method_params has an unknown option 'mdoe' for the toy method 'toy'. Did you mean 'mode'? Accepted options: ['mode', 'rate', 'widths'].",
        "method_params['rate'] (an option of the toy method 'toy') must be a number >= 0; got -1.",
        "method_params['widths'] (an option of the toy method 'toy') must be a sequence of positive integers; got '4'.",
    ]


def test_registry_options_run_the_checks_of_options_together():
    problems = _toy_params().problems({"method": "toy", "method_params": {"rate": 2, "mode": "slow"}}, Subject)
    assert problems == ["method_params is refused by the toy method 'toy': mode='slow' needs rate <= 1."]


def test_registry_options_describe_the_declared_names():
    constraint = RegistryOptions(TOYS, "method")
    assert constraint.describe({"method": "toy"}) == "a dict of options of the toy method 'toy' (accepted: mode, rate, widths)"
