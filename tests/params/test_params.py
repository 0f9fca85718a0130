"""The parameter table: one declaration drives signatures, docs, validation, nested options and the messages that
point an old name to its name now."""

from __future__ import annotations

import inspect
import typing

import numpy as np
import pytest

from layerwise import (
    OBJECTIVES,
    CheckpointError,
    ConfigError,
    GreedyLayerwise,
    PretrainedClassifier,
    PretrainedRegressor,
    StackedAutoencoder,
    Trainer,
    VariationalAutoencoder,
)
from layerwise.objectives import SEMI_SUPERVISED
from layerwise.params import GREEDY, PARAMS, PRETRAINED, STACKED_AUTOENCODER, TRAINER, VARIATIONAL_AUTOENCODER, Param, ParamSet
from layerwise.params.constraints import Options, RegistryOptions, Subject, type_problem
from layerwise.params.core import REQUIRED
from layerwise.params.table import PRETRAINED_CLASSIFIER

ESTIMATORS = [(PretrainedClassifier, PRETRAINED_CLASSIFIER), (PretrainedRegressor, PRETRAINED), (StackedAutoencoder, STACKED_AUTOENCODER),
              (VariationalAutoencoder, VARIATIONAL_AUTOENCODER)]
OWNERS = {"Trainer": TRAINER, "GreedyLayerwise": GREEDY, "PretrainedClassifier": PRETRAINED_CLASSIFIER, "PretrainedRegressor": PRETRAINED,
          "StackedAutoencoder": STACKED_AUTOENCODER, "VariationalAutoencoder": VARIATIONAL_AUTOENCODER}


@pytest.mark.parametrize("owner", OWNERS)
def test_every_default_is_a_valid_value(owner):
    params = OWNERS[owner]
    defaults = params.defaults()
    problems = params.problems(defaults, Subject)
    assert problems == [], problems
    assert all(p.doc for p in params.params), [p.name for p in params.params if not p.doc]


@pytest.mark.parametrize("cls, params", ESTIMATORS, ids=lambda x: getattr(x, "__name__", ""))
def test_the_signature_and_the_docstring_come_from_the_table(cls, params):
    sig = inspect.signature(cls)
    assert list(sig.parameters) == list(params)
    assert [p.default for p in sig.parameters.values()] == [params[n].default for n in params]
    kinds = [p.kind for p in sig.parameters.values()]
    assert kinds[0] is inspect.Parameter.POSITIONAL_OR_KEYWORD and set(kinds[1:]) == {inspect.Parameter.KEYWORD_ONLY}
    for name in params:
        assert f"\n    {name} : " in cls.__doc__, name
    assert cls().get_params() == params.defaults()


def test_only_the_first_parameter_is_positional():
    with pytest.raises(TypeError, match=r"PretrainedClassifier\(\): too many positional arguments\. Only \['hidden_layer_sizes'\]"):
        PretrainedClassifier((16,), "relu")
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['max_iters'\]\. Did you mean 'max_iter'\?"):
        PretrainedClassifier(max_iters=3)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"batch_size": 0}, r"batch_size must be 'auto' or a positive integer; got 0\."),
        ({"tied": "no"}, r"tied must be True or False; got 'no'\."),
        ({"early_stopping": 1}, r"early_stopping must be True or False; got 1\."),
        ({"max_iter": 0}, r"max_iter must be 'auto' or a positive integer; got 0\."),
        ({"learning_rate_init": float("nan")}, r"learning_rate_init must be 'auto' or a positive number; got nan\."),
        ({"alpha": "0.1"}, r"alpha must be a number >= 0; got '0\.1'\."),
        ({"encoder_lr_scale": "fast"}, r"encoder_lr_scale must be a number >= 0; got 'fast'\."),
        ({"dropout": 1.0}, r"dropout must be a number in \[0, 1\); got 1\.0\."),
        ({"solver": "sgdd"}, r"solver must be one of \['adam', 'adamw', 'sgd', 'Adam', 'AdamW', 'SGD'\]; got 'sgdd'\. Did you mean 'sgd'\?"),
        ({"device": "gpu"}, r"device must be 'auto', 'cpu', 'cuda', 'cuda:<index>' or another torch device; got 'gpu'\."),
        ({"random_state": -1}, r"random_state must be None or an integer in \[0, 2\*\*32\) or a numpy RandomState; got -1\."),
        ({"pretrain_params": "masking"},
         r"pretrain_params must be None or a dict of options of the pretraining objective 'denoising' \(accepted: level, loss, noise, "
         r"noise2noise\); got 'masking'\."),
        ({"pretrain_params": {"level": "high"}},
         r"pretrain_params\['level'\] \(an option of the pretraining objective 'denoising'\) must be a number; got 'high'\."),
        ({"pretrain_params": {"noise2noise": "no"}},
         r"pretrain_params\['noise2noise'\] \(an option of the pretraining objective 'denoising'\) must be True or False; got 'no'\."),
        ({"pretrain_params": {"levl": 0.1}},
         r"pretrain_params has an unknown option 'levl' for the pretraining objective 'denoising'\. Did you mean 'level'\?"),
        ({"pretrain_params": {"level": 2.0}}, r"pretrain_params is refused by the pretraining objective 'denoising': p must be in \[0, 1\)"),
        ({"pretrain": None, "pretrain_params": {"level": 0.1}},
         r"pretrain_params sets options \['level'\] but 'pretrain' is None, so nothing would use them"),
    ],
)
def test_one_message_template_for_every_bad_value(digits_small, params, message):
    X, y = digits_small
    with pytest.raises(ConfigError, match=r"PretrainedClassifier has 1 invalid parameter\(s\):\n- " + message):
        PretrainedClassifier((8,), **params).fit(X, y)


def test_every_problem_of_a_call_is_reported_at_once(digits_small):
    X, y = digits_small
    with pytest.raises(ConfigError, match=r"has 3 invalid parameter\(s\):\n- pretrain_params\['level'\].*\n- tied must be.*\n- max_iter must be"):
        PretrainedClassifier((8,), pretrain_params={"level": "high"}, tied="no", max_iter=0).fit(X, y)


def _wrong_value(hint):
    """A value of another type than the annotation ``hint`` allows."""
    return ["not", "a", "value"] if type_problem("text", hint) == "" else "text"


@pytest.mark.parametrize("name", OBJECTIVES.names())
def test_every_objective_option_is_checked_by_type(name):
    """Contract over the registry: each annotated option of each objective refuses a value of the wrong type."""
    factory = OBJECTIVES.get(name)
    hints = {k: v for k, v in typing.get_type_hints(factory).items() if k != "return"}
    assert hints, f"{name}'s factory annotates no option"
    params = PARAMS.select("pretrain", "pretrain_params")
    for option, hint in hints.items():
        problems = params.problems({"pretrain": name, "pretrain_params": {option: _wrong_value(hint)}}, Subject)
        assert len(problems) == 1 and f"pretrain_params['{option}']" in problems[0], (option, problems)


def test_nested_options_work_for_any_registry():
    """The constraint the semi-supervised parameters will use: the same check, another registry."""
    params = ParamSet((Param("semi_supervised", (Options(*SEMI_SUPERVISED.names()),), "ladder", "method"),
                       Param("semi_supervised_params", (RegistryOptions(SEMI_SUPERVISED, "semi_supervised"),), None, "options")))
    with pytest.raises(ConfigError, match=r"semi_supervised_params\['noise_std'\] \(an option of the semi-supervised method 'ladder'\) "
                                          r"must be a number >= 0; got 'loud'"):
        params.validate({"semi_supervised": "ladder", "semi_supervised_params": {"noise_std": "loud"}}, "Demo")
    with pytest.raises(ConfigError, match=r"unknown option 'alfa' for the semi-supervised method 'm1m2'\. Did you mean 'alpha'\?"):
        params.validate({"semi_supervised": "m1m2", "semi_supervised_params": {"alfa": 0.1}}, "Demo")
    params.validate({"semi_supervised": "ladder", "semi_supervised_params": {"denoising_costs": [1.0, 0.1, 0.1]}}, "Demo")


def test_stacked_autoencoder_refuses_the_parameters_it_never_used():
    with pytest.raises(TypeError, match=r"StackedAutoencoder\(\) got unexpected keyword argument\(s\) \['tol'\]\."):
        StackedAutoencoder((4,), max_iter=1, tol=1e-3)


def test_a_model_saved_with_parameters_of_an_earlier_release_is_refused_with_their_names(digits_small, tmp_path):
    import json

    from layerwise import load, save

    X, _ = digits_small
    folder = save(StackedAutoencoder((4,), max_iter=1, random_state=0).fit(X), tmp_path / "sae")
    config = json.loads((folder / "config.json").read_text())
    config["params"].update(tol=1e-4, n_iter_no_change=10, validation_fraction=0.1)  # what 0.1 wrote
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"does not describe a valid StackedAutoencoder \(TypeError: StackedAutoencoder\(\) got "
                                              r"unexpected keyword argument\(s\) \['tol', 'n_iter_no_change', 'validation_fraction'\]"):
        load(folder)


def test_trainer_and_greedy_validate_at_construction():
    with pytest.raises(ConfigError, match=r"GreedyLayerwise has 2 invalid parameter\(s\):\n- activation must be one of .*'relu'.*; got 'rellu'\. "
                                          r"Did you mean 'relu'\?\n- objective_params has an unknown option 'levle'"):
        GreedyLayerwise((4,), activation="rellu", objective="denoising", objective_params={"levle": 0.1})
    assert GREEDY["hidden_layer_sizes"].default is REQUIRED
    with pytest.raises(TypeError, match=r"missing a required argument: 'hidden_layer_sizes'"):
        GreedyLayerwise()


def test_greedy_takes_a_trainer_and_refuses_the_old_trainer_params(digits_small):
    import torch

    X = torch.from_numpy(digits_small[0])
    greedy = GreedyLayerwise((8,), trainer=Trainer(max_iter=2, batch_size=50, random_state=3))
    greedy.fit(X)
    assert [h["epoch"] for h in greedy.history_[0]] == [1, 2]
    with pytest.raises(TypeError, match=r"GreedyLayerwise\(\) got unexpected keyword argument\(s\) \['trainer_params'\]\. 'trainer_params' "
                                        r"is now 'trainer'; pass trainer=Trainer\(\.\.\.\) with the same arguments\."):
        GreedyLayerwise((8,), trainer_params={"max_iter": 2})


def test_regressor_fitted_state_is_public(digits_small):
    X, y = digits_small
    reg = PretrainedRegressor((8,), pretrain_max_iter=1, max_iter=2, random_state=0).fit(X, y.astype(float) * 2 + 1)
    assert reg.y_mean_.shape == (1,) and reg.y_scale_.shape == (1,) and reg.n_outputs_ == 1 and reg.y_ndim_ == 1
    assert np.allclose(reg.y_mean_, (y * 2 + 1).mean())
    assert not [k for k in vars(reg) if k.startswith("_y")]
    assert not hasattr(reg, "_resume") and not hasattr(reg, "_checkpoint_dir")
