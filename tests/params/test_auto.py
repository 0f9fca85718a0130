"""What "auto" resolves to: one resolver per declaration, the one the estimators and the trainer use."""

import pytest

from layerwise import PretrainedClassifier
from layerwise.objectives import Ladder
from layerwise.params import PARAMS, PRETRAINED
from layerwise.params.auto import FINETUNE_EPOCHS, Situation
from layerwise.train.loop import auto_batch_size


@pytest.mark.parametrize("name", ["learning_rate_init", "lr_schedule", "batch_size", "max_iter"])
def test_every_per_phase_auto_of_the_estimators_has_its_resolver_in_the_declaration(name):
    assert PRETRAINED[name].auto is not None and PRETRAINED[name].auto is PARAMS[name].auto


def test_resolve_leaves_set_values_alone_and_resolves_auto_for_the_situation():
    ladder, stack = Situation(1257, Ladder()), Situation(1257)
    assert PARAMS["learning_rate_init"].resolve("auto", ladder) == Ladder.learning_rate
    assert PARAMS["learning_rate_init"].resolve("auto", stack) == 1e-3
    assert PARAMS["learning_rate_init"].resolve(0.01, ladder) == 0.01
    assert PARAMS["lr_schedule"].resolve("auto", ladder) == "anneal" and PARAMS["lr_schedule"].resolve("auto", stack) == "constant"
    assert PARAMS["batch_size"].resolve("auto", ladder) == 100 and PARAMS["batch_size"].resolve("auto", stack) == 39
    assert PARAMS["max_iter"].resolve("auto", stack) == FINETUNE_EPOCHS


@pytest.mark.parametrize("n, epochs", [(1257, 231), (60_000, 20), (20_000, 60)])
def test_a_methods_epochs_follow_its_step_budget(n, epochs):
    """At least min_steps steps (3,000) on small data, at most about max_steps (12,000) on large data, <= 100 epochs."""
    assert PARAMS["max_iter"].resolve("auto", Situation(n, Ladder())) == epochs


def test_the_trainer_and_the_estimators_resolve_batch_size_with_the_same_function():
    assert [auto_batch_size("auto", n) for n in (10, 100, 5000, 100_000)] == [10, 32, 156, 256]
    assert auto_batch_size(500, 40) == 40  # one policy: a batch is never more than the rows
    settings = PretrainedClassifier(batch_size="auto")._settings(3, Ladder())
    assert settings.batch_size == Ladder.batch_size and settings.learning_rate_init == Ladder.learning_rate
