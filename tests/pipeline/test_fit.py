"""The one pipeline: every kind of plan runs, is seeded once, checkpoints per phase, and is what the estimators run."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.utils import check_random_state

from layerwise import ConfigError, DataError, PretrainedClassifier, StackedAutoencoder
from layerwise.objectives import Ladder
from layerwise.pipeline import SEED_OFFSETS, FineTune, Fit, Given, Greedy, RandomInit, SemiSupervised, TrainSettings, Unroll
from layerwise.train.callbacks import Callback

FAST = TrainSettings(max_iter=2, batch_size=32, device="cpu")


@pytest.fixture
def rows(digits_small):
    X, y = digits_small
    return torch.from_numpy(X.astype(np.float32)), torch.from_numpy(y.astype(np.int64))


def _plan(kind: str) -> list:
    if kind == "greedy+frozen":
        return [Greedy((16,), train=FAST), FineTune(10, mode="frozen", train=FAST)]
    if kind == "greedy+full":
        return [Greedy((16,), train=FAST), FineTune(10, mode="full", dropout=0.1, train=FAST)]
    if kind == "random+full":
        return [RandomInit((16,)), FineTune(10, train=FAST)]
    if kind == "greedy+unroll":
        return [Greedy((16, 8), train=FAST), Unroll(FAST)]
    return [SemiSupervised(Ladder(), (16,), 10, train=TrainSettings(max_iter=2, batch_size=50, device="cpu"))]


@pytest.mark.parametrize("kind", ["greedy+frozen", "greedy+full", "random+full", "greedy+unroll", "ladder"])
def test_every_kind_of_plan_runs_and_returns_eval_modules(rows, kind):
    X, y = rows
    result = Fit(_plan(kind), seed=3).run(X, y)
    assert result.seed == 3 and not result.model.training
    out = result.model(X[:5])
    assert out.shape == ((5, 64) if kind == "greedy+unroll" else (5, 10))
    expected = {"greedy+frozen": {"pretrain", "finetune"}, "greedy+full": {"pretrain", "finetune"},
                "random+full": {"pretrain", "finetune"}, "greedy+unroll": {"pretrain", "unroll"}, "ladder": {"prepare", "train"}}
    assert set(result.history) == expected[kind]
    if kind != "ladder":
        assert result.recipe["kind"] == ("random" if kind.startswith("random") else "greedy")


def test_a_plan_is_seeded_once_and_leaves_the_callers_generator_alone(rows):
    X, y = rows
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = Fit(_plan("greedy+full"), seed=5).run(X, y).model(X)
    assert torch.equal(torch.get_rng_state(), before)
    b = Fit(_plan("greedy+full"), seed=5).run(X, y).model(X)
    c = Fit(_plan("greedy+full"), seed=6).run(X, y).model(X)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_each_phase_draws_from_the_seed_plus_its_offset(rows):
    X, y = rows
    seen = {}

    class Seeds(Callback):
        def on_fit_start(self, trainer, model):
            seen[trainer.desc.split(":")[0]] = trainer.random_state

    settings = TrainSettings(max_iter=1, batch_size=32, device="cpu", callbacks=(Seeds(),))
    Fit([Greedy((8,), train=settings), FineTune(10, train=settings)], seed=40).run(X, y)
    assert seen["fine-tune"] == 40 + SEED_OFFSETS["finetune"]
    assert any(k.startswith("pretrain") for k in seen)


def test_phases_checkpoint_in_their_own_folders_and_a_resumed_fit_is_the_uninterrupted_one(rows, tmp_path):
    X, y = rows
    whole = Fit(_plan("greedy+full"), seed=1).run(X, y).model(X)

    class Stop(Callback):
        def on_epoch_start(self, trainer, model, epoch):
            if trainer.desc == "fine-tune" and epoch == 1:
                raise KeyboardInterrupt

    stopping = TrainSettings(max_iter=2, batch_size=32, device="cpu", callbacks=(Stop(),))
    with pytest.raises(KeyboardInterrupt):
        Fit([Greedy((16,), train=FAST), FineTune(10, dropout=0.1, train=stopping)], seed=1, checkpoint_dir=tmp_path).run(X, y)
    assert (tmp_path / "pretrain").is_dir() and (tmp_path / "finetune" / "checkpoint.json").is_file()
    resumed = Fit(_plan("greedy+full"), seed=1, checkpoint_dir=tmp_path, resume=True).run(X, y).model(X)
    assert torch.equal(whole, resumed)


def test_only_labeled_rows_fine_tune_and_early_stopping_holds_some_out(rows, monkeypatch):
    import layerwise.pipeline.fit as pipeline_fit

    X, y = rows
    labeled = np.zeros(len(X), bool)
    labeled[:40] = True
    seen = {}
    real = pipeline_fit.finetune

    def spy(stack, head, objective, train, val=None, **kwargs):
        seen["train"], seen["val"] = len(train[0]), len(val[0])
        return real(stack, head, objective, train, val, **kwargs)

    monkeypatch.setattr(pipeline_fit, "finetune", spy)
    tune = FineTune(10, early_stopping=True, validation_fraction=0.25, train=FAST)
    result = Fit([RandomInit((16,)), tune], seed=0).run(X, y, labeled)
    assert seen == {"train": 30, "val": 10} and "val_loss" in result.history["finetune"][0]


def test_given_stack_is_fine_tuned_in_place_with_the_phases_dropout(rows):
    X, y = rows
    stack = Fit([Greedy((16,), train=FAST)], seed=0).run(X).stack
    result = Fit([Given(stack, {"kind": "greedy"}), FineTune(10, dropout=0.3, train=FAST)], seed=0).run(X, y)
    assert result.stack is stack and stack.dropout == 0.3 and result.recipe == {"kind": "greedy"}


def test_the_estimators_run_the_same_plan(rows):
    """PretrainedClassifier is an adapter: its fit is the plan its parameters describe, bitwise."""
    X, y = rows
    params = dict(hidden_layer_sizes=(16,), pretrain="denoising", pretrain_max_iter=2, max_iter=2, batch_size=32,
                  semi_supervised=None, random_state=0, device="cpu", precision="fp32", check_reference=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = PretrainedClassifier(**params).fit(X.numpy(), y.numpy())
    seed = int(check_random_state(0).randint(0, 2**31 - 1))
    plan = Fit([Greedy((16,), objective="denoising", train=FAST),
                FineTune(10, train=FAST)], seed=seed)
    model = plan.run(X, y).model
    assert _same_weights(clf.module_, model)


def test_the_stacked_autoencoder_runs_greedy_then_unroll(rows):
    X, _ = rows
    sae = StackedAutoencoder((16, 8), max_iter=2, unroll_max_iter=2, batch_size=32, random_state=0, device="cpu").fit(X.numpy())
    seed = int(check_random_state(0).randint(0, 2**31 - 1))
    result = Fit([Greedy((16, 8), objective="autoencoder", train=FAST), Unroll(FAST)], seed=seed).run(X)  # its default
    assert _same_weights(sae.stack_, result.stack) and _same_weights(sae.autoencoder_, result.model)


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_describe_lists_every_phase_with_its_settings():
    text = Fit(_plan("greedy+full")).describe()
    assert text.splitlines()[0].startswith("1. pretrain [16] greedily, objective 'denoising': 2 epochs, batch 32")
    assert text.splitlines()[1].startswith("2. fine-tune (full) with a head of 10 outputs: 2 epochs")


def test_a_verbose_fit_says_its_plan_first(rows, capsys):
    X, y = rows
    loud = TrainSettings(max_iter=1, batch_size=32, device="cpu", verbose=True)
    Fit([RandomInit((8,)), FineTune(10, train=loud)], seed=0).run(X, y)
    err = capsys.readouterr().err
    assert err.startswith("fit plan:\n  1. random initialisation of [8]\n  2. fine-tune (full) with a head of 10 outputs: 1 epochs")
    Fit(_plan("random+full"), seed=0).run(X, y)
    assert "fit plan" not in capsys.readouterr().err


def test_a_misspelt_schedule_is_refused_not_trained_at_a_constant_rate():
    with pytest.raises(ConfigError, match=r"schedule must be one of \['constant', 'cosine', 'anneal'\] or a torch.optim.lr_scheduler "
                                          r"class name such as 'StepLR'; got 'cosin'\. Did you mean 'cosine'\?"):
        TrainSettings(max_iter=1, schedule="cosin")
    assert TrainSettings(max_iter=1, schedule="StepLR", schedule_params={"step_size": 1}).schedule == "StepLR"


@pytest.mark.parametrize("phases, error, match", [
    ([], ConfigError, r"Fit needs a list of phases \(Greedy, RandomInit, Given, FineTune, Unroll, SemiSupervised\); got \[\]\."),
    ([FineTune(10, train=FAST)], ConfigError, r"FineTune needs a stack: start the plan with Greedy, RandomInit or Given; got \['FineTune'\]\."),
    ([RandomInit((8,)), RandomInit((8,))], ConfigError, r"Only the first phase makes the stack .*got \['RandomInit', 'RandomInit'\]\."),
    ([RandomInit((8,)), SemiSupervised(Ladder(), (8,), 10)], ConfigError, r"A SemiSupervised phase .* is the plan's only phase"),
    ([RandomInit((8,)), FineTune(10, train=FAST)], DataError, r"The plan \['RandomInit', 'FineTune'\] trains on labels: pass them, "
                                                              r"Fit\(\.\.\.\)\.run\(X, targets\)"),
])
def test_a_plan_that_cannot_run_is_refused_before_training(rows, phases, error, match):
    X, _ = rows
    with pytest.raises(error, match=match):
        Fit(phases).run(X)


def test_numpy_rows_and_float64_are_taken_as_float32(rows):
    X, y = rows
    from_numpy = Fit(_plan("greedy+full"), seed=2).run(X.double().numpy(), y.numpy()).model(X)
    assert torch.equal(from_numpy, Fit(_plan("greedy+full"), seed=2).run(X, y).model(X))


def test_text_targets_are_refused_with_the_encoder_to_use(rows):
    X, _ = rows
    with pytest.raises(DataError, match=r"targets must be numbers \(class indices 0\.\.k-1, or regression values\); got an array of "
                                        r"<U1 such as \['a', 'b', 'a'\]\. Encode labels with sklearn\.preprocessing\.LabelEncoder"):
        Fit(_plan("random+full")).run(X, np.array(["a", "b"] * (len(X) // 2)))
