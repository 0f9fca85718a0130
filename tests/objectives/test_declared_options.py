"""Contract over SEMI_SUPERVISED: every method's options are declared once (``options``), and that declaration is its
``__init__``, its checks (the class's and the estimators' ``semi_supervised_params``) and its docstring."""

import inspect
import re

import numpy as np
import pytest

from layerwise import PretrainedClassifier
from layerwise.exceptions import ConfigError
from layerwise.objectives import SEMI_SUPERVISED
from layerwise.params import ParamSet
from layerwise.params.constraints import Subject

METHODS = SEMI_SUPERVISED.names()


def _bad_value(param):
    """A value the option refuses: out of range when it is a number, else of the wrong type."""
    return next(v for v in (-1, "text") if param.problems(v, {}, Subject(param.name)))


def _options(name):
    """``(method, option, bad value)`` for every declared option of the method ``name``."""
    cls = SEMI_SUPERVISED.get(name)
    return [(name, p.name, _bad_value(p)) for p in cls.options.params]


EVERY_OPTION = [case for name in METHODS for case in _options(name)]


@pytest.fixture(scope="module")
def tiny():
    """40 rows of 64 features (8x8 images), ten of them labeled."""
    rng = np.random.RandomState(0)
    y = rng.randint(0, 2, 40)
    y[10:] = -1
    return rng.rand(40, 64).astype("float32"), y


@pytest.mark.parametrize("name", METHODS)
def test_every_method_declares_exactly_its_init_parameters(name):
    cls = SEMI_SUPERVISED.get(name)
    assert isinstance(cls.__dict__.get("options"), ParamSet), f"{cls.__name__} declares no options of its own"
    signature = inspect.signature(cls).parameters
    assert list(signature) == list(cls.options)
    assert {k: p.default for k, p in signature.items()} == {p.name: p.default for p in cls.options.params}
    method = cls()
    assert all(getattr(method, p.name) == p.default for p in cls.options.params)  # stored under the option's name


@pytest.mark.parametrize("name, option, bad", EVERY_OPTION)
def test_a_bad_value_of_each_option_is_refused_by_the_class_in_the_template(name, option, bad):
    cls = SEMI_SUPERVISED.get(name)
    expected = re.escape(cls.options[option].expected())
    with pytest.raises(ConfigError, match=rf"^{cls.__name__} has 1 invalid parameter\(s\):\n- {option} must be {expected}; got {re.escape(repr(bad))}\.$"):
        cls(**{option: bad})


@pytest.mark.parametrize("name, option, bad", EVERY_OPTION)
def test_a_bad_value_of_each_option_is_refused_by_the_estimator_before_training(name, option, bad, tiny):
    cls = SEMI_SUPERVISED.get(name)
    expected = re.escape(cls.options[option].expected())
    clf = PretrainedClassifier(semi_supervised=name, semi_supervised_params={option: bad}, max_iter=1)
    with pytest.raises(ConfigError, match=rf"^PretrainedClassifier has 1 invalid parameter\(s\):\n- semi_supervised_params\['{option}'\] "
                                          rf"\(an option of the semi-supervised method '{name}'\) must be {expected}; got {re.escape(repr(bad))}\.$"):
        clf.fit(*tiny)


@pytest.mark.parametrize("name, params, match", [
    ("ladder", {"noise_std": float("nan")}, r"semi_supervised_params\['noise_std'\] \(an option of the semi-supervised method 'ladder'\) "
                                             r"must be a number >= 0; got nan\."),
    ("ladder", {"denoising_costs": "gama"}, r"semi_supervised_params\['denoising_costs'\] \(an option of the semi-supervised method 'ladder'\) "
                                            r"must be one of \['paper', 'gamma'\] or a non-empty list of numbers >= 0, one per layer "
                                            r"\(input included\); got 'gama'\. Did you mean 'gamma'\?"),
    ("ladder", {"combinator": "amlpp"}, r"must be one of \['amlp', 'vanilla'\]; got 'amlpp'\. Did you mean 'amlp'\?"),
    ("conv_ladder", {"image_shape": (8, 8)}, r"semi_supervised_params\['image_shape'\] \(an option of the semi-supervised method "
                                             r"'conv_ladder'\) must be None or \(channels, height, width\), three positive integers, "
                                             r"e\.g\. \(1, 28, 28\); got \(8, 8\)\."),
    ("m1m2", {"m2_hidden": (64, 0)}, r"semi_supervised_params\['m2_hidden'\] \(an option of the semi-supervised method 'm1m2'\) must be a "
                                     r"sequence of positive integers, e\.g\. \(500,\); got \(64, 0\)\."),
    ("m1m2", {"m1_epochs": 2.5}, r"semi_supervised_params\['m1_epochs'\] \(an option of the semi-supervised method 'm1m2'\) must be a positive "
                                 r"integer; got 2\.5\."),
    ("vime", {"p_mask": 1.0, "k": True}, r"PretrainedClassifier has 2 invalid parameter\(s\):\n"
                                         r"- semi_supervised_params\['p_mask'\] \(an option of the semi-supervised method 'vime'\) must be a "
                                         r"number in \[0, 1\); got 1\.0\.\n"
                                         r"- semi_supervised_params\['k'\] \(an option of the semi-supervised method 'vime'\) must be an integer "
                                         r">= 2; got True\."),
    ("vime", {"loss": "bec"}, r"must be one of \['mse', 'bce'\]; got 'bec'\. Did you mean 'bce'\?"),
    ("vime", {"predictr_hidden": (8,)}, r"semi_supervised_params has an unknown option 'predictr_hidden' for the semi-supervised method 'vime'\. "
                                        r"Did you mean 'predictor_hidden'\? Accepted options: \['alpha', 'beta', 'k', 'loss', 'p_mask', "
                                        r"'predictor_hidden', 'prepare_epochs'\]\."),
])
def test_the_estimator_names_the_option_and_what_it_accepts(name, params, match, tiny):
    with pytest.raises(ConfigError, match=match):
        PretrainedClassifier(semi_supervised=name, semi_supervised_params=params, max_iter=1).fit(*tiny)


@pytest.mark.parametrize("name", METHODS)
def test_an_unknown_option_is_refused_with_the_closest_declared_name(name, tiny):
    option = max(SEMI_SUPERVISED.get(name).options, key=len)
    typo = option[:-1]
    with pytest.raises(ConfigError, match=rf"unknown option '{typo}' for the semi-supervised method '{name}'\. Did you mean '{option}'\?"):
        PretrainedClassifier(semi_supervised=name, semi_supervised_params={typo: 1}, max_iter=1).fit(*tiny)


@pytest.mark.parametrize("name", METHODS)
def test_the_docstring_lists_every_declared_option(name):
    cls = SEMI_SUPERVISED.get(name)
    doc = inspect.getdoc(cls)
    assert "{parameters}" not in doc
    section = doc.split("Parameters\n----------\n")[1].split("\n\n")[0]
    assert [line.split(" : ")[0] for line in section.splitlines() if not line.startswith(" ")] == list(cls.options)
    for p in cls.options.params:
        assert f"{p.name} : " in section and " ".join(p.doc.split())[:30] in " ".join(section.split()), p.name


@pytest.mark.parametrize("name", METHODS)
def test_the_docstring_parses_as_numpydoc(name):
    napoleon = pytest.importorskip("sphinx.ext.napoleon")
    cls = SEMI_SUPERVISED.get(name)
    rendered = str(napoleon.NumpyDocstring(inspect.getdoc(cls), napoleon.Config(napoleon_use_param=True)))
    assert [re.match(r":param (\w+):", line).group(1) for line in rendered.splitlines() if line.startswith(":param ")] == list(cls.options)


def test_the_conv_ladder_takes_every_option_of_the_ladder_whose_steps_it_runs():
    ladder, conv = SEMI_SUPERVISED.get("ladder"), SEMI_SUPERVISED.get("conv_ladder")
    assert list(conv.options)[:len(ladder.options)] == list(ladder.options) and conv.__call__ is ladder.__call__
    assert (conv().noise_std, conv().denoising_costs, ladder().noise_std, ladder().denoising_costs) == (0.3, "gamma", 0.2, "paper")
