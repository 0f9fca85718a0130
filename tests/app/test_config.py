import dataclasses
import inspect
import tomllib
from pathlib import Path

import pytest

from layerwise import PretrainedClassifier, PretrainedRegressor, StackedAutoencoder
from layerwise.app.config import (
    RENAMED_KEYS,
    SECTIONS,
    RunConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    estimator_params,
    load_config,
)
from layerwise.app.runs import run_loggers
from layerwise.data.prepare import prepare_data
from layerwise.exceptions import ConfigError
from layerwise.params import RUN

EXAMPLES = sorted(p for p in (Path(__file__).resolve().parents[2] / "examples").iterdir() if p.suffix in (".toml", ".yaml", ".yml"))


def test_defaults_round_trip_through_a_dict():
    cfg = config_from_dict({})
    assert cfg == RunConfig()
    assert config_from_dict(config_to_dict(cfg)) == cfg


def test_toml_file_with_overrides(tmp_path):
    p = tmp_path / "run.toml"
    p.write_text('name = "mnist"\n[model]\nhidden_layer_sizes = [500, 250]\npretrain = "rbm"\npretrain_params = {k = 2}\n')
    cfg = load_config(p, ["pretrain.max_iter=3", "finetune.finetune=frozen", "data.label_fraction=0.1"])
    assert cfg.name == "mnist" and cfg.model.hidden_layer_sizes == (500, 250)
    assert cfg.model.pretrain == "rbm" and cfg.model.pretrain_params == {"k": 2} and cfg.pretrain.max_iter == 3
    assert cfg.finetune.finetune == "frozen" and cfg.data.label_fraction == 0.1
    assert cfg.run_dir.as_posix() == "runs/mnist"


def test_yaml_file(tmp_path):
    p = tmp_path / "run.yaml"
    p.write_text("name: y\npretrain:\n  max_iter: 2\n")
    assert load_config(p).pretrain.max_iter == 2


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"pretrain": {"epoch": 5}}, r"unknown key 'pretrain.epoch'\. Did you mean 'pretrain.max_iter' \(called 'pretrain.epochs' before\)\? "
                                     r"Valid keys here: \['loss'"),
        ({"pretrain": {"max_iters": 5}}, r"unknown key 'pretrain.max_iters'\. Did you mean 'pretrain.max_iter'\?"),
        ({"pretrian": {}}, r"unknown key 'pretrian'\. Did you mean 'pretrain'\?"),
        ({"pretrain": {"learning_rate_init": "fast"}}, r"pretrain.learning_rate_init must be a positive number; got 'fast'"),
        ({"model": {"hidden_layer_sizes": [10, 2.5]}}, r"model.hidden_layer_sizes must be a non-empty sequence of positive integers"),
        ({"model": {"hidden_layer_sizes": [10, 0]}}, r"model.hidden_layer_sizes must be .*; got \(10, 0\)"),
        ({"finetune": {"finetune": "frozn"}}, r"finetune.finetune must be one of \['frozen', 'full'\]; got 'frozn'\. Did you mean 'frozen'\?"),
        ({"model": {"pretrain": "denoisng"}}, r"model.pretrain must be None or one of \[.*\]; got 'denoisng'\. Did you mean 'denoising'\?"),
        ({"model": {"pretrain_params": {"level": "high"}}}, r"model.pretrain_params\['level'\] \(an option of the pretraining objective 'denoising'\)"),
        ({"data": {"label_fraction": 0}}, r"data.label_fraction must be a number in \(0, 1\]; got 0"),
        ({"finetune": {"max_iter": -1}}, r"finetune.max_iter must be 'auto' or a positive integer; got -1"),
        ({"finetune": {"dropout": 1.5}}, r"finetune.dropout must be a number in \[0, 1\); got 1.5"),
        ({"name": "../../etc"}, r"name must be a plain folder name \(no '/' or '\.\.'\); got '\.\./\.\./etc'"),
        ({"model": 5}, r"model must be a table/section; got int 5"),
        ({"random_state": True}, r"random_state must be None or an integer in \[0, 2\*\*32\) or a numpy RandomState; got True"),
    ],
)
def test_bad_configs_fail_before_training_with_the_dotted_path(raw, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(raw)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError, match=r"The config has 3 problem\(s\)"):
        config_from_dict({"pretrain": {"max_iterr": 1, "learning_rate_init": -1}, "finetune": {"finetune": "x"}})


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"does not exist\. Pass the path of a \.toml or \.yaml file"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(ConfigError, match=r"bad.toml is not valid TOML"):
        load_config(bad)
    other = tmp_path / "run.json"
    other.write_text("{}")
    with pytest.raises(ConfigError, match=r"has suffix '\.json'; expected \.toml, \.yaml or \.yml"):
        load_config(other)


def test_override_grammar():
    assert apply_overrides({}, ["a.b=[1, 2]", "c=true", "d=hello"]) == {"a": {"b": [1, 2]}, "c": True, "d": "hello"}
    with pytest.raises(ConfigError, match=r"Override 'epochs' is not of the form key.path=value"):
        apply_overrides({}, ["epochs"])


# -- old keys ----------------------------------------------------------------------------------

OLD_CONFIG = {"seed": 3, "pretrain": {"objective": "sparse", "params": {"weight": 0.01}, "epochs": 2, "lr": 0.01, "optimizer": "sgd"},
              "finetune": {"mode": "frozen", "epochs": 4, "lr": 0.02, "optimizer": "adamw", "patience": 3, "task": "regression"}}


def test_old_keys_are_refused_with_their_names_now():
    """No key of an earlier release is moved: each is an unknown key, and the message names the key now."""
    assert set(RENAMED_KEYS) == {"seed", *(f"{s}.{k}" for s in ("pretrain", "finetune") for k in OLD_CONFIG[s])}
    with pytest.raises(ConfigError, match=rf"The config has {len(RENAMED_KEYS)} problem\(s\)") as e:
        config_from_dict(OLD_CONFIG)
    for old, new in RENAMED_KEYS.items():
        assert f"unknown key {old!r}: it is now {new!r} (the name of the parameter it sets)." in str(e.value)


def test_an_old_key_in_an_override_is_refused_with_its_name_now(tmp_path):
    p = tmp_path / "run.toml"
    p.write_text("[pretrain]\nmax_iter = 5\n")
    with pytest.raises(ConfigError, match=r"unknown key 'pretrain.epochs': it is now 'pretrain.max_iter'"):
        load_config(p, ["pretrain.epochs=2"])
    with pytest.raises(ConfigError, match=r"unknown key 'seed': it is now 'random_state'"):
        load_config(p, ["seed=2"])


# -- every config key is the parameter it configures, under the same name ------------------------------

_OWNERS = {"model": (StackedAutoencoder, PretrainedClassifier, PretrainedRegressor), "pretrain": (StackedAutoencoder,),
           "finetune": (PretrainedClassifier, PretrainedRegressor)}
_SHARED = ("random_state", "device", "precision")


def _misnamed(raw: dict) -> list[str]:
    """The keys of a raw config that are not a parameter of what they configure, under the same name."""
    wrong = []
    data_args = set(inspect.signature(prepare_data).parameters) - {"random_state"}
    logging_args = set(inspect.signature(run_loggers).parameters) - {"folder", "command", "metrics_start"}
    for key, value in raw.items():
        if isinstance(value, dict) and key in _OWNERS:
            for k in value:
                # class_weight: the classifier's; a regression run refuses it (test_preprocessing.py)
                wrong += [f"{key}.{k} ({cls.__name__})" for cls in _OWNERS[key]
                          if k not in cls().get_params() and not (k == "class_weight" and cls is PretrainedRegressor)]
        elif isinstance(value, dict) and key == "data":
            wrong += [f"data.{k} (prepare_data)" for k in value if k not in data_args]
        elif isinstance(value, dict) and key == "logging":  # the run folder's loggers
            wrong += [f"logging.{k} (run_loggers)" for k in value if k not in logging_args]
        elif key in _SHARED:  # the data split's seed and both estimators'
            wrong += [f"{key} ({cls.__name__})" for cls in (StackedAutoencoder, PretrainedClassifier) if key not in cls().get_params()]
        elif key not in RUN:  # the run folder: out_dir/name
            wrong.append(key)
    return wrong


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_key_of_an_example_config_is_the_parameter_it_sets(path):
    raw = tomllib.loads(path.read_text())
    assert _misnamed(raw) == []
    cfg = load_config(path)  # the examples use the names of today: an old one is refused
    for phase, cls in (("pretrain", StackedAutoencoder), ("finetune", PretrainedClassifier)):
        est = cls(**estimator_params(cfg, phase))
        for section in ("model", phase):
            for key, value in raw.get(section, {}).items():
                assert est.get_params()[key] == (tuple(value) if isinstance(value, list) else value), (section, key)
        est._check_params(n_samples=10**6)  # every value the example sets is valid for the estimator
    assert set(raw.get("data", {})) <= set(inspect.signature(prepare_data).parameters)


def test_the_check_finds_old_and_foreign_keys():
    """The example check can fail: the config of the previous release is refused key by key."""
    assert _misnamed(OLD_CONFIG) == ["seed", "pretrain.objective (StackedAutoencoder)", "pretrain.params (StackedAutoencoder)",
                                     "pretrain.epochs (StackedAutoencoder)", "pretrain.lr (StackedAutoencoder)",
                                     "pretrain.optimizer (StackedAutoencoder)", "finetune.mode (PretrainedClassifier)",
                                     "finetune.mode (PretrainedRegressor)", "finetune.epochs (PretrainedClassifier)",
                                     "finetune.epochs (PretrainedRegressor)", "finetune.lr (PretrainedClassifier)",
                                     "finetune.lr (PretrainedRegressor)", "finetune.optimizer (PretrainedClassifier)",
                                     "finetune.optimizer (PretrainedRegressor)", "finetune.patience (PretrainedClassifier)",
                                     "finetune.patience (PretrainedRegressor)", "finetune.task (PretrainedClassifier)",
                                     "finetune.task (PretrainedRegressor)"]


@pytest.mark.parametrize("section", [s for s in SECTIONS if s])
def test_every_key_a_section_accepts_is_a_parameter_of_its_owner(section):
    raw = {section: dict.fromkeys(SECTIONS[section])}
    assert _misnamed(raw) == []
    defaults = dataclasses.asdict(config_from_dict({}))[section]
    assert set(defaults) == set(SECTIONS[section])


def test_a_new_estimator_parameter_is_a_config_key_with_the_estimator_default():
    cfg = config_from_dict({"finetune": {"dropout": 0.25, "input_dropout": 0.1}})
    params = estimator_params(cfg, "finetune")
    assert params["dropout"] == 0.25 and params["input_dropout"] == 0.1
    assert PretrainedClassifier(**params).get_params()["dropout"] == 0.25
    assert config_from_dict({}).finetune.max_iter == PretrainedClassifier().max_iter
    assert config_from_dict({}).pretrain.max_iter == StackedAutoencoder().max_iter


def test_data_image_size_is_a_data_key_that_resizes_a_folder_and_is_refused_elsewhere(tmp_path):
    """Issue "Images as they come": [data] image_size reads a folder of mixed sizes; the estimators get its rows."""
    import numpy as np
    from PIL import Image

    for name, shape in (("cat", (6, 5)), ("dog", (9, 7))):
        (tmp_path / "images" / name).mkdir(parents=True)
        for i in range(5):
            Image.fromarray(np.full(shape, 40 * i, np.uint8)).save(tmp_path / "images" / name / f"{i}.png")
    cfg = config_from_dict({"data": {"dataset": str(tmp_path / "images"), "image_size": [4, 3], "test_size": 0.2, "val_size": 0.0}})
    assert cfg.data.image_size == [4, 3] and "image_size" not in estimator_params(cfg, "finetune")
    data = prepare_data(**config_to_dict(cfg)["data"])
    assert data.image_shape == (1, 4, 3) and data.X_train.shape == (8, 12) and set(data.y_train) == {"cat", "dog"}
    assert prepare_data(str(tmp_path / "images"), image_size=4, test_size=0.2, val_size=0.0).image_shape == (1, 4, 4)
    with pytest.raises(ConfigError, match=r"data.image_size must be None or a positive integer \(a square\) or \(height, width\) in "
                                          r"pixels, e.g. \(28, 28\); got \[4, 3, 1\]"):
        config_from_dict({"data": {"image_size": [4, 3, 1]}})
    with pytest.raises(ConfigError, match=r"unknown key 'finetune.image_size'.* Valid keys here"):
        config_from_dict({"finetune": {"image_size": 4}})
    with pytest.raises(ConfigError, match=r"data.image_size=16 resizes the images of a folder, but dataset='digits' is not a folder: "
                                          r"it would not be used"):
        prepare_data("digits", image_size=16)


# -- a key in the wrong section; None in TOML ("Trust", item 8) ------------------------------------------


@pytest.mark.parametrize("raw, message", [
    ({"finetune": {"hidden_layer_sizes": [32]}},
     r"unknown key 'finetune\.hidden_layer_sizes'\. It belongs in \[model\], which pretraining and fine-tuning share: "
     r"model\.hidden_layer_sizes\. Valid keys here"),
    ({"pretrain": {"class_weight": "balanced"}}, r"unknown key 'pretrain\.class_weight'\. It belongs in \[finetune\]: "
                                                 r"finetune\.class_weight\."),
    ({"finetune": {"image_size": [8, 8]}}, r"unknown key 'finetune\.image_size'\. It belongs in \[data\], which reads the data "
                                           r"for both phases: data\.image_size\."),
    ({"finetune": {"scale": "minmax"}}, r"unknown key 'finetune\.scale'\. It belongs in \[data\]"),
    ({"model": {"max_iter": 3}}, r"unknown key 'model\.max_iter'\. It belongs in \[pretrain\] and \[finetune\] \(each phase has "
                                 r"its own\): pretrain\.max_iter, finetune\.max_iter\."),
    ({"max_iter": 3}, r"unknown key 'max_iter'\. It belongs in \[pretrain\] and \[finetune\]"),
    ({"finetune": {"random_state": 1}}, r"unknown key 'finetune\.random_state'\. It belongs at the top level of the config, "
                                        r"before any \[section\]: random_state = \.\.\."),
    ({"finetune": {"loss": "mse"}}, r"unknown key 'finetune\.loss'\. It belongs in \[pretrain\]: pretrain\.loss\."),
    ({"finetune": {"pretrain_max_iter": 3}}, r"unknown key 'finetune\.pretrain_max_iter'\. It belongs in \[pretrain\] as "
                                             r"pretrain\.max_iter\."),
    ({"data": {"hidden_layer_sizes": [3]}}, r"unknown key 'data\.hidden_layer_sizes'\. It belongs in \[model\]"),
    ({"pretrain": {"pretrained": "runs/x/pretrained"}}, r"unknown key 'pretrain\.pretrained'\. It is not a config key: the "
                                                        r"command line sets it \(--pretrained PATH"),
])
def test_a_key_in_the_wrong_section_names_the_section_it_belongs_in(raw, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(raw)


def test_a_misspelt_key_still_gets_the_nearest_key_of_its_section():
    with pytest.raises(ConfigError, match=r"unknown key 'finetune\.max_iters'\. Did you mean 'finetune\.max_iter'\?"):
        config_from_dict({"finetune": {"max_iters": 3}})


def test_none_is_written_none_in_toml_where_a_key_takes_none(tmp_path):
    """TOML has no null: "none" (any case, or "null") is None wherever the key takes None and not that text."""
    p = tmp_path / "run.toml"
    p.write_text('[model]\npretrain = "none"\n[finetune]\nsemi_supervised = "none"\nclass_weight = "None"\n'
                 '[data]\nlabel_column = "none"\n')
    cfg = load_config(p)
    assert cfg.model.pretrain is None and cfg.finetune.semi_supervised is None and cfg.finetune.class_weight is None
    assert cfg.data.label_column == "none"  # a column may be named so: the text is a valid value, kept
    params = estimator_params(cfg, "finetune")
    assert params["semi_supervised"] is None and params["pretrain"] is None
    assert PretrainedClassifier(**{k: v for k, v in params.items() if k in PretrainedClassifier().get_params()}).semi_supervised is None
    assert load_config(p, ["finetune.semi_supervised=NULL"]).finetune.semi_supervised is None  # --set, a bare word
    assert load_config(p, ["finetune.semi_supervised=ladder"]).finetune.semi_supervised == "ladder"
    assert config_from_dict(config_to_dict(cfg)) == cfg  # the run folder's config.json (JSON null) reads back the same
    with pytest.raises(ConfigError, match=r"finetune\.lr_schedule must be one of .*; got 'none'"):  # takes no None: refused
        config_from_dict({"finetune": {"lr_schedule": "none"}})


def test_the_config_module_documents_none():
    import layerwise.app.config

    assert 'semi_supervised = "none"' in layerwise.app.config.__doc__ and "TOML has no null" in layerwise.app.config.__doc__
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert 'semi_supervised = "none"' in readme
