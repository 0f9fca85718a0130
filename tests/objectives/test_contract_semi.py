"""Contract tests run for every registered semi-supervised method (ladder, conv_ladder, m1m2, vime), and their own checks."""

import math

import pytest
import torch

from layerwise.data.semi import LabeledUnlabeled
from layerwise.exceptions import ConfigError, DataError
from layerwise.objectives import SEMI_SUPERVISED, Ladder, M2Objective
from layerwise.train import Callback, Trainer

# small settings so every method trains in seconds on digits
SMALL = {"ladder": {}, "m1m2": {"m1_epochs": 3, "latent_dim": 4, "m2_hidden": (32,), "m1_latent": 8},
         "vime": {"prepare_epochs": 2, "predictor_hidden": (32,)},
         "conv_ladder": {"image_shape": (1, 8, 8)}}  # the digits' flat 64 pixels are 8x8 images

# The weights of each method's classifier: the unlabeled rows must reach their gradient.
CLASSIFIER = {"ladder": lambda model: model.weights[-1].weight, "m1m2": lambda model: model.m2.classifier[0].weight,
              "vime": lambda model: model.predictor[0].weight, "conv_ladder": lambda model: model.weights["9"].weight}


def _data(digits, n_labeled=60, n_rows=600):
    X, y = (torch.from_numpy(a) for a in digits)
    X, y = X[:n_rows], y[:n_rows].long()
    return LabeledUnlabeled(X[:n_labeled], y[:n_labeled], X, labeled_batch_size=32), X, y


def _fit(name, data, epochs=3, seed=0, checkpoint_dir=None, callbacks=(), resume=False):
    torch.manual_seed(seed)
    objective = SEMI_SUPERVISED.build(name, SMALL[name])
    model = objective.build_model(64, (32, 16), 10)
    if hasattr(objective, "prepare"):
        objective.prepare(model, data, Trainer(batch_size=64, random_state=seed))
    trainer = Trainer(max_iter=epochs, batch_size=64, learning_rate_init=3e-3, random_state=seed, checkpoint_dir=checkpoint_dir, callbacks=list(callbacks))
    history = trainer.fit(model, objective, data, resume=resume)
    return model, history


@pytest.mark.parametrize("name", SEMI_SUPERVISED.names())
def test_every_method_lowers_its_loss_and_predicts(name, digits):
    data, X, y = _data(digits)
    model, history = _fit(name, data, epochs=8)
    assert history[-1]["loss"] < history[0]["loss"], [h["loss"] for h in history]
    model.eval()
    logits = model(X[:5])
    assert logits.shape == (5, 10) and torch.isfinite(logits).all()


@pytest.mark.parametrize("name", SEMI_SUPERVISED.names())
def test_every_method_is_repeatable_under_a_seed(name, digits):
    data = _data(digits)[0]
    a, _ = _fit(name, data, epochs=1, seed=3)
    b, _ = _fit(name, data, epochs=1, seed=3)
    assert all(torch.equal(u, v) for u, v in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.mark.parametrize("name", SEMI_SUPERVISED.names())
def test_every_method_predicts_a_row_the_same_alone_or_in_a_batch(name, digits):
    data, X, _ = _data(digits)
    model, _ = _fit(name, data, epochs=1)
    model.eval()
    with torch.no_grad():
        together = model(X[:50])
        alone = torch.cat([model(X[i : i + 1]) for i in range(50)])
    torch.testing.assert_close(alone, together, rtol=1e-5, atol=1e-5)


class _Crash(Callback):
    def on_batch_end(self, trainer, model, i, loss):
        if len(trainer.history) == 1 and i == 3:
            raise KeyboardInterrupt


@pytest.mark.parametrize("name", SEMI_SUPERVISED.names())
def test_every_method_resumes_bitwise_after_a_crash(name, digits, tmp_path):
    data = _data(digits)[0]
    ref, _ = _fit(name, data, epochs=3, checkpoint_dir=tmp_path / "ref")
    with pytest.raises(KeyboardInterrupt):
        _fit(name, data, epochs=3, checkpoint_dir=tmp_path / "run", callbacks=[_Crash()])
    resumed, _ = _fit(name, data, epochs=3, checkpoint_dir=tmp_path / "run", resume=True)
    for (k, a), b in zip(ref.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k


@pytest.mark.parametrize("name", SEMI_SUPERVISED.names())
def test_every_method_learns_from_the_unlabeled_rows(name, digits):
    """The gradient of the classifier depends on the unlabeled rows: it would not if they were dropped."""
    data, X, y = _data(digits)
    torch.manual_seed(0)
    objective = SEMI_SUPERVISED.build(name, SMALL[name])
    model = objective.build_model(64, (32, 16), 10)
    classifier = CLASSIFIER[name](model)

    def grad(x_u):
        model.zero_grad()
        torch.manual_seed(1)  # the same noise draws for both calls
        objective(model, (X[:32], y[:32], x_u)).loss.backward()
        return classifier.grad.clone()

    assert not torch.allclose(grad(X[100:164]), grad(X[300:364]))


@pytest.mark.parametrize("name", SEMI_SUPERVISED.names())
def test_every_method_weighs_its_labeled_rows(name, digits):
    """Batches (x_labeled, y, x_unlabeled, w_labeled): weights of 1 change nothing, a row of weight 0 has no label to
    count (changing it leaves the cost as it was), and other weights change the cost."""
    _, X, y = _data(digits)
    torch.manual_seed(0)
    objective = SEMI_SUPERVISED.build(name, SMALL[name])
    model = objective.build_model(64, (32, 16), 10)
    x_l, y_l, x_u = X[:32], y[:32], X[100:164]

    def loss(labels, *weights):
        torch.manual_seed(1)  # the same noise draws for every call
        return objective(model, (x_l, labels, x_u, *weights)).loss

    plain = loss(y_l)
    torch.testing.assert_close(loss(y_l, torch.ones(32)), plain)
    w = torch.ones(32)
    w[:8] = 0.0
    relabeled = y_l.clone()
    relabeled[:8] = (y_l[:8] + 1) % 10  # other labels on the rows of weight 0 only
    torch.testing.assert_close(loss(relabeled, w), loss(y_l, w))
    assert not torch.allclose(loss(relabeled, torch.ones(32)), plain)  # the same change counts at weight 1
    assert not torch.allclose(loss(y_l, w), plain)


def test_the_ladder_denoising_costs_fall_on_a_small_set(digits):
    data = _data(digits)[0]
    _, history = _fit("ladder", data, epochs=15)
    costs = [k for k in history[0] if k.startswith("denoising_")]
    assert costs == [f"denoising_{l}" for l in range(4)]  # 64-32-16-10: the input, two hidden, the top
    for k in ("denoising_0", "denoising_1"):
        assert history[-1][k] < 0.7 * history[0][k], (k, [h[k] for h in history])


def test_the_gamma_model_has_only_the_top_cost(digits):
    data, X, y = _data(digits)
    objective = Ladder(denoising_costs="gamma")
    model = objective.build_model(64, (32, 16), 10)
    out = objective(model, (X[:32], y[:32], X[32:96]))
    assert sorted(k for k in out.logs if k.startswith("denoising_")) == ["denoising_3"]
    assert objective.costs(3) == (0.0, 0.0, 0.0, 1.0)


def test_m2_bound_is_below_the_importance_weighted_estimate(digits):
    """-L(x, y) <= log p(x, y): the ELBO averaged over draws is below the IWAE bound with many samples."""
    data, X, y = _data(digits)
    model, _ = _fit("m1m2", data, epochs=2)
    model.eval()
    z1 = model.codes(X[:40], sample=False)
    torch.manual_seed(0)
    elbo = torch.stack([-model.m2.neg_elbo(z1, y[:40]) for _ in range(200)]).mean(0)
    w = model.m2.log_weights(z1, y[:40], k=2000)
    iwae = torch.logsumexp(w, 0) - math.log(2000)
    assert (elbo <= iwae + 0.05).all(), (elbo - iwae).max()
    assert (iwae - elbo).mean() > 0  # a strictly looser bound on average: the check can fail


@pytest.mark.parametrize("kwargs, match", [
    ({"noise_std": -0.1}, r"Ladder has 1 invalid parameter\(s\):\n- noise_std must be a number >= 0; got -0\.1\."),
    ({"denoising_costs": [1000, -1, 0.1]}, r"denoising_costs must be one of \['paper', 'gamma'\] or a non-empty list of numbers >= 0, "
                                           r"one per layer \(input included\); got \[1000, -1, 0\.1\]\."),
    ({"denoising_costs": "papr"}, r"denoising_costs must be one of \['paper', 'gamma'\] or .*; got 'papr'\. Did you mean 'paper'\?"),
    ({"combinator": "mlp"}, r"combinator must be one of \['amlp', 'vanilla'\]; got 'mlp'"),
])
def test_bad_ladder_settings_are_refused_naming_the_parameter(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        Ladder(**kwargs)


def test_a_wrong_number_of_denoising_costs_is_refused_before_training():
    with pytest.raises(ConfigError, match="denoising_costs has 3 values but the network has 4 layers"):
        Ladder(denoising_costs=[1, 1, 1]).build_model(64, (32, 16), 10)


@pytest.mark.parametrize("kwargs, match", [
    ({"alpha": -1}, r"M2Objective has 1 invalid parameter\(s\):\n- alpha must be a number >= 0; got -1\."),
    ({"latent_dim": 0}, "latent_dim must be a positive integer; got 0"),
    ({"m2_hidden": "big"}, "m2_hidden must be a sequence of positive integers"),
])
def test_bad_m1m2_settings_are_refused_naming_the_parameter(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        M2Objective(**kwargs)


def test_labels_and_rows_must_agree():
    with pytest.raises(DataError, match="y has 3 rows but X_labeled has 4"):
        LabeledUnlabeled(torch.zeros(4, 3), torch.zeros(3, dtype=torch.long), torch.zeros(9, 3))
    with pytest.raises(DataError, match="X_labeled has rows of shape \\(3,\\) but X_unlabeled has \\(5,\\)"):
        LabeledUnlabeled(torch.zeros(4, 3), torch.zeros(4, dtype=torch.long), torch.zeros(9, 5))
