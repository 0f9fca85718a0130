import pytest

from layerwise.exceptions import ConfigError
from layerwise.objectives import OBJECTIVES
from layerwise.registry import Registry


def test_unknown_name_lists_valid_ones_and_suggests():
    with pytest.raises(ConfigError, match=r"Unknown pretraining objective 'denoisng'.*'autoencoder'.*Did you mean 'denoising'\?"):
        OBJECTIVES.get("denoisng")


def test_build_checks_keywords_against_the_signature():
    with pytest.raises(ConfigError, match=r"Unknown option\(s\) \['levle'\] for pretraining objective 'denoising'.*Did you mean 'level'\?"):
        OBJECTIVES.build("denoising", {"levle": 0.3})


def test_register_twice_is_refused():
    reg = Registry("thing")
    reg.register("a")(object)
    with pytest.raises(ConfigError, match="already registered"):
        reg.register("a")(object)
    assert "a" in reg and list(reg) == ["a"]
