import pytest

from layerwise.config import RunConfig, apply_overrides, config_from_dict, config_to_dict, load_config
from layerwise.exceptions import ConfigError


def test_defaults_round_trip_through_a_dict():
    cfg = config_from_dict({})
    assert cfg == RunConfig()
    assert config_from_dict(config_to_dict(cfg)) == cfg


def test_toml_file_with_overrides(tmp_path):
    p = tmp_path / "run.toml"
    p.write_text('name = "mnist"\n[model]\nhidden_layer_sizes = [500, 250]\n[pretrain]\nobjective = "rbm"\nparams = {k = 2}\n')
    cfg = load_config(p, ["pretrain.epochs=3", "finetune.mode=frozen", "data.label_fraction=0.1"])
    assert cfg.name == "mnist" and cfg.model.hidden_layer_sizes == [500, 250]
    assert cfg.pretrain.objective == "rbm" and cfg.pretrain.params == {"k": 2} and cfg.pretrain.epochs == 3
    assert cfg.finetune.mode == "frozen" and cfg.data.label_fraction == 0.1
    assert cfg.run_dir.as_posix() == "runs/mnist"


def test_yaml_file(tmp_path):
    p = tmp_path / "run.yaml"
    p.write_text("name: y\npretrain:\n  epochs: 2\n")
    assert load_config(p).pretrain.epochs == 2


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"pretrain": {"epoch": 5}}, r"unknown key 'pretrain.epoch'\. Did you mean 'pretrain.epochs'\? Valid keys here: \['objective'"),
        ({"pretrian": {}}, r"unknown key 'pretrian'\. Did you mean 'pretrain'\?"),
        ({"pretrain": {"lr": "fast"}}, r"pretrain.lr must be a number; got str 'fast'"),
        ({"model": {"hidden_layer_sizes": [10, 2.5]}}, r"model.hidden_layer_sizes must be a list of an integer; got list \[10, 2.5\]"),
        ({"model": {"hidden_layer_sizes": [10, 0]}}, r"model.hidden_layer_sizes must be a non-empty list of positive integers; got \[10, 0\]"),
        ({"finetune": {"mode": "frozn"}}, r"finetune.mode must be one of \['frozen', 'full'\]; got 'frozn'\. Did you mean 'frozen'\?"),
        ({"pretrain": {"objective": "denoisng"}}, r"pretrain.objective must be one of \[.*\]; got 'denoisng'\. Did you mean 'denoising'\?"),
        ({"data": {"label_fraction": 0}}, r"data.label_fraction must be in \(0, 1\]; got 0"),
        ({"finetune": {"epochs": -1}}, r"finetune.epochs must be a positive integer; got -1"),
        ({"name": "../../etc"}, r"name must be a plain folder name \(no '/' or '\.\.'\); got '\.\./\.\./etc'"),
        ({"model": 5}, r"model must be a table/section; got int 5"),
        ({"seed": True}, r"seed must be an integer; got bool True"),
    ],
)
def test_bad_configs_fail_before_training_with_the_dotted_path(raw, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(raw)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError, match=r"The config has 3 problem\(s\)"):
        config_from_dict({"pretrain": {"epoch": 1, "lr": -1}, "finetune": {"mode": "x"}})


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
