import pytest
import torch

from layerwise.exceptions import ConfigError, DivergenceError
from layerwise.objectives import Reconstruction
from layerwise.train import Callback, Trainer
from layerwise.train.loop import make_optimizer

from ..conftest import boring_autoencoder


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
def test_every_optimizer_trains(optimizer, digits_small):
    X = torch.from_numpy(digits_small[0])
    lr = 0.1 if optimizer == "sgd" else 3e-3
    hist = Trainer(solver=optimizer, learning_rate_init=lr, max_iter=8, batch_size=32, random_state=0).fit(boring_autoencoder(), Reconstruction("bce"), (X,))
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert [h["epoch"] for h in hist] == list(range(1, 9))


def test_adam_is_fused_on_cpu():
    opt = make_optimizer([torch.nn.Parameter(torch.zeros(2))], "adam", device=torch.device("cpu"))
    assert opt.defaults["fused"] is True


def test_same_seed_same_weights_different_seed_different(digits_small):
    X = torch.from_numpy(digits_small[0])

    def run(seed):
        torch.manual_seed(0)
        ae = boring_autoencoder()
        Trainer(max_iter=3, batch_size=40, random_state=seed).fit(ae, Reconstruction("bce"), (X,))
        return ae.encoder[0].weight.detach().clone()

    assert torch.equal(run(1), run(1))
    assert not torch.equal(run(1), run(2))


def test_early_stopping_restores_the_best_epoch(digits_small):
    X = torch.from_numpy(digits_small[0])
    trainer = Trainer(max_iter=200, batch_size=32, learning_rate_init=3e-2, early_stopping=True, n_iter_no_change=3, random_state=0)
    ae = boring_autoencoder()
    hist = trainer.fit(ae, Reconstruction("bce"), (X[:200],), val=(X[200:],))
    assert len(hist) < 200
    best = min(h["val_loss"] for h in hist)
    assert trainer.evaluate(ae, Reconstruction("bce"), (X[200:],))["loss"] == pytest.approx(best, rel=1e-5)


def test_callbacks_see_every_event(digits_small):
    X = torch.from_numpy(digits_small[0][:100])
    events = []

    class Spy(Callback):
        def on_fit_start(self, trainer, model):
            events.append("fit_start")

        def on_epoch_end(self, trainer, model, logs):
            events.append(f"epoch{logs['epoch']}")
            trainer.should_stop = logs["epoch"] == 2

        def on_fit_end(self, trainer, model):
            events.append("fit_end")

    Trainer(max_iter=5, batch_size=50, callbacks=[Spy()]).fit(boring_autoencoder(), Reconstruction("bce"), (X,))
    assert events == ["fit_start", "epoch1", "epoch2", "fit_end"]


def test_divergence_names_epoch_batch_and_causes(digits_small):
    X = torch.from_numpy(digits_small[0][:64]).clone()
    X[40, 3] = float("nan")
    with pytest.raises(DivergenceError, match=r"The loss became nan at epoch 1, batch 2\. Likely causes: a learning rate too high"):
        Trainer(max_iter=1, batch_size=32, shuffle=False).fit(boring_autoencoder(), Reconstruction("mse"), (X,))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"solver": "adagrad"}, r"solver must be one of \['adam', 'adamw', 'sgd', 'Adam', 'AdamW', 'SGD'\]; got 'adagrad'"),
        ({"learning_rate_init": 0}, r"learning_rate_init must be a positive number; got 0"),
        ({"batch_size": -1}, r"batch_size must be 'auto' or a positive integer; got -1"),
        ({"max_iter": 1.5}, r"max_iter must be a positive integer; got 1.5"),
        ({"precision": "fp16"}, r"precision must be one of \['auto', 'fp32', 'bf16'\]; got 'fp16'"),
        ({"shuffle": "no"}, r"shuffle must be True or False; got 'no'"),
        ({"tol": float("inf")}, r"tol must be a number >= 0; got inf"),
        ({"callbacks": None}, r"callbacks must be a list of Callback objects \(subclasses of .*\); got None"),
        ({"callbacks": [print]}, r"callbacks must be a list of Callback objects .*; got \[<built-in function print>\]"),
    ],
)
def test_trainer_rejects_bad_settings(kwargs, message):
    with pytest.raises(ConfigError, match=r"Trainer has 1 invalid parameter\(s\):\n- " + message):
        Trainer(**kwargs)


def test_trainer_reports_every_bad_setting_at_once_and_suggests_names():
    with pytest.raises(ConfigError, match=r"Trainer has 2 invalid parameter\(s\):\n- max_iter must be .*\n- precision must be"):
        Trainer(max_iter=0, precision="fp64")
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['max_iters'\]\. Did you mean 'max_iter'\?"):
        Trainer(max_iters=3)
    with pytest.raises(TypeError, match=r"Only \[\] may be passed by position"):
        Trainer("adam")


@pytest.mark.parametrize("old, new", [("optimizer", "solver"), ("lr", "learning_rate_init"), ("weight_decay", "alpha"),
                                      ("max_epochs", "max_iter"), ("seed", "random_state"), ("progress", "verbose"),
                                      ("patience", "n_iter_no_change")])
def test_old_trainer_names_are_refused_with_their_names_now(old, new):
    """No name of an earlier release is translated: each is an unknown keyword, and the message names the new one."""
    from layerwise import PretrainedClassifier

    with pytest.raises(TypeError, match=rf"Trainer\(\) got unexpected keyword argument\(s\) \['{old}'\]\. '{old}' is now '{new}'"):
        Trainer(**{old: 1})
    assert not hasattr(Trainer(), old)  # nor an attribute of that name
    with pytest.raises(TypeError, match=rf"'{old}' is now '{new}'"):  # the estimators say the same
        PretrainedClassifier(**{old: 1})


def test_old_patience_says_how_to_write_it_now():
    with pytest.raises(TypeError, match=r"'patience' is now 'n_iter_no_change'; patience=N was early_stopping=True, n_iter_no_change=N\."):
        Trainer(patience=4)


def test_bf16_training_converges(digits_small):
    X = torch.from_numpy(digits_small[0])
    hist = Trainer(max_iter=10, batch_size=32, learning_rate_init=3e-3, precision="bf16", random_state=0).fit(boring_autoencoder(), Reconstruction("bce"), (X,))
    assert hist[-1]["loss"] < 0.8 * hist[0]["loss"]


def test_a_nan_gradient_with_a_finite_loss_never_reaches_a_checkpoint(tmp_path, digits_small):
    """A gradient that turns the weights into NaN while the loss stayed finite: the checkpoint keeps the last good weights."""
    from layerwise.objectives import StepOutput
    from layerwise.train.checkpoint import load_checkpoint

    X = torch.from_numpy(digits_small[0][:64])
    calls = {"n": 0}

    def poisoned(model, batch):
        out = Reconstruction("bce")(model, batch)
        calls["n"] += 1
        if calls["n"] == 4:  # the last batch of epoch 2: the loss is finite (+0), its gradient is 0 * inf = NaN
            b = model.encoder[0].bias.sum()
            return StepOutput(out.loss + 0 * torch.sqrt(b - b.detach()), out.logs)
        return out

    trainer = Trainer(max_iter=3, batch_size=32, checkpoint_dir=tmp_path)
    with pytest.raises(DivergenceError, match=r"The weights of \[.*\] became nan .*The last good checkpoint is in"):
        trainer.fit(boring_autoencoder(), poisoned, (X,))
    tensors, state = load_checkpoint(tmp_path)
    assert state["epoch"] == 1 and all(torch.isfinite(v).all() for k, v in tensors.items() if k.startswith("model/"))


def test_gradient_clipping_reports_a_non_finite_gradient_norm(digits_small):
    from layerwise.objectives import StepOutput

    X = torch.from_numpy(digits_small[0][:64])

    def poisoned(model, batch):
        out = Reconstruction("bce")(model, batch)
        b = model.encoder[0].bias.sum()
        return StepOutput(out.loss + 0 * torch.sqrt(b - b.detach()), out.logs)  # finite loss, NaN gradient

    with pytest.raises(DivergenceError, match=r"The gradient norm became nan at epoch 1, batch 1\. .*grad_clip=1.0"):
        Trainer(max_iter=1, batch_size=32, grad_clip=1.0).fit(boring_autoencoder(), poisoned, (X,))


def _mse(model, batch):
    from layerwise.objectives import StepOutput

    return StepOutput(torch.nn.functional.mse_loss(model(batch[0]), batch[1]), {})


class _LrLog(Callback):
    def __init__(self):
        self.lrs = []

    def on_epoch_start(self, trainer, model, epoch):
        self.lrs.append([g["lr"] for g in trainer.optimizer_.param_groups])


def test_cosine_lr_follows_the_schedule_per_param_group():
    import math

    from layerwise.train import CosineLR

    model = torch.nn.Linear(4, 1)
    log = _LrLog()
    groups = [{"params": [model.weight], "lr": 0.1}, {"params": [model.bias]}]
    # CosineLR runs before the log: callbacks are called in order
    Trainer(max_iter=4, learning_rate_init=1.0, random_state=0, callbacks=[CosineLR(floor=0.2), log]).fit(model, _mse, (torch.rand(8, 4), torch.rand(8, 1)), params=groups)
    for e, (w, b) in enumerate(log.lrs):
        factor = 0.2 + 0.8 * 0.5 * (1 + math.cos(math.pi * e / 4))
        assert w == pytest.approx(0.1 * factor) and b == pytest.approx(1.0 * factor)


def test_cosine_lr_refuses_a_floor_outside_0_1():
    from layerwise.train import CosineLR

    with pytest.raises(ConfigError, match=r"floor must be in \[0, 1\]; got 1.5"):
        CosineLR(floor=1.5)


def test_the_fit_loop_has_no_distributed_or_resume_branch():
    """Where steps run and what a resume needs are the execution's and the checkpointer's: the loop never asks."""
    import ast
    import inspect
    import textwrap

    from layerwise.train.loop import Trainer as T

    words = ("ctx", "rank", "world_size", "is_main", "distributed", "dist_", "checkpoint", "resume", "shard")
    for method in (T._fit, T._run_epoch):
        tree = ast.parse(textwrap.dedent(inspect.getsource(method)))
        tests = [ast.unparse(n.test) for n in ast.walk(tree) if isinstance(n, (ast.If, ast.IfExp, ast.While))]
        assert not [t for t in tests if any(w in t for w in words)], (method.__name__, tests)
    import layerwise.train.distributed as distributed

    assert not hasattr(distributed.DistributedContext, "barrier")  # dead code, removed
