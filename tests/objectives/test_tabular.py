"""Pretraining made for tables: the marginal corruption, SCARF-style denoising, VIME-self and VIME-semi."""

import numpy as np
import pytest
import torch

import layerwise
from layerwise.corruption import MarginalNoise, make_corruption
from layerwise.exceptions import ConfigError, DataError
from layerwise.nn.tabular import VIMEAutoEncoder, VIMENet
from layerwise.objectives import OBJECTIVES, SEMI_SUPERVISED, Reconstruction, VIMESelf, VIMESemi, make_objective
from layerwise.objectives.tabular import vime_consistency
from layerwise.pipeline.greedy import GreedyLayerwise
from layerwise.pipeline.semi_supervised import fit_semi_supervised
from layerwise.train import Trainer


def _blocks_table(n=512, groups=2, width=4, seed=0):
    """Columns in groups of ``width`` copies of a binary value: an entry that changed disagrees with the rest of its
    group, so the mask is learnable from the corrupted row."""
    g = torch.Generator().manual_seed(seed)
    latent = (torch.rand(n, groups, generator=g) > 0.5).float()
    return latent.repeat_interleave(width, dim=1)  # (n, groups * width)


def _two_class_table(n=400, d=8, seed=0):
    """Two classes that differ in the mean of half of the columns, in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    X = torch.rand(n, d, generator=g) * 0.6
    X[:, : d // 2] += 0.4 * y[:, None]
    return X, y


# the classifier's check against a supervised reference (where the estimators have it) trains twice: not tested here
NO_CHECK = {"check_reference": False} if "check_reference" in layerwise.PretrainedClassifier().get_params() else {}


# -- the marginal corruption ------------------------------------------------------------------------------


def test_marginal_noise_keeps_each_column_inside_its_values_and_changes_about_p_of_the_entries():
    x = torch.randn(400, 12)  # every value distinct: a replaced entry always changes
    x_tilde, mask = MarginalNoise(0.3).draw(x)
    for j in range(x.shape[1]):
        assert set(x_tilde[:, j].tolist()) <= set(x[:, j].tolist()), j
    changed = x_tilde != x
    assert torch.equal(changed, mask)  # donors are other rows: nothing replaced by itself
    assert 0.28 < changed.float().mean().item() < 0.32
    assert changed.float().mean(0).min() > 0.2  # every column is corrupted, not a few of them


def test_marginal_noise_edge_cases_and_any_row_shape():
    x = torch.randn(1, 5)
    assert torch.equal(MarginalNoise(0.5)(x), x)  # a batch of one row has no donor
    x = torch.randn(30, 6)
    assert torch.equal(MarginalNoise(0.0)(x), x)
    images = torch.randn(16, 2, 3, 3)
    out = MarginalNoise(0.5)(images)
    assert out.shape == images.shape
    assert all(set(out[:, c, i, j].tolist()) <= set(images[:, c, i, j].tolist()) for c in range(2) for i in range(3) for j in range(3))


def test_marginal_noise_follows_the_seed_and_a_given_generator():
    x = torch.randn(50, 7)
    torch.manual_seed(1)
    a = MarginalNoise(0.4)(x)
    torch.manual_seed(1)
    assert torch.equal(MarginalNoise(0.4)(x), a)
    g1, g2 = (torch.Generator().manual_seed(5) for _ in range(2))
    assert torch.equal(MarginalNoise(0.4).draw(x, g1)[0], MarginalNoise(0.4).draw(x, g2)[0])


def test_denoising_and_scarf_use_the_marginal_corruption():
    assert repr(make_corruption("marginal", 0.2)) == "MarginalNoise(p=0.2)"
    obj = make_objective("denoising", {"noise": "marginal", "level": 0.3})
    assert isinstance(obj, Reconstruction) and isinstance(obj.corruption, MarginalNoise) and obj.corruption.p == 0.3
    scarf = OBJECTIVES.build("scarf")
    assert isinstance(scarf.corruption, MarginalNoise) and scarf.corruption.p == 0.6  # SCARF's corruption rate
    assert OBJECTIVES.build("scarf", {"level": 0.2}).corruption.p == 0.2


# -- VIME-self ---------------------------------------------------------------------------------------------


def test_vime_mask_loss_falls_where_the_mask_is_learnable():
    X = _blocks_table(n=256)
    objective = VIMESelf(p_mask=0.3)
    torch.manual_seed(0)
    model = objective.build_model((X.shape[1],), 64, "relu", "identity", False, 0.0)
    history = Trainer(max_iter=25, batch_size=64, learning_rate_init=2e-2, random_state=0).fit(model, objective, (X,))
    first, last = history[0], history[-1]
    assert last["mask"] < 0.7 * first["mask"], [h["mask"] for h in history]
    # below what knowing only the rate of changed entries gives (its entropy per entry: 0.3 * 1/2 of them change)
    rate = torch.tensor(0.15)
    blind = -X.shape[1] * (rate * rate.log() + (1 - rate) * (1 - rate).log()).item()
    assert last["mask"] < 0.8 * blind, (last["mask"], blind)  # 2.24 against 3.38 nats measured
    assert last["recon"] < 0.5 * first["recon"]


def test_vime_objective_logs_both_costs_and_is_deterministic_in_eval_mode():
    objective = VIMESelf(alpha=0.5)
    model = objective.build_model((6,), 4, "relu", "identity", False, 0.0)
    x = torch.rand(32, 6)
    out = objective(model, (x,))
    assert sorted(out.logs) == ["mask", "mask_accuracy", "recon"]
    torch.testing.assert_close(out.loss, out.logs["mask"] + 0.5 * out.logs["recon"])  # l_m + alpha * l_r (eq. 4)
    model.eval()
    state = torch.random.get_rng_state()
    assert torch.equal(objective(model, (x,)).loss, objective(model, (x,)).loss)
    assert torch.equal(torch.random.get_rng_state(), state)  # validation draws nothing from the training's generator


def test_greedy_vime_stack_keeps_plain_encoders_and_decoders():
    X = _blocks_table(n=128)
    greedy = GreedyLayerwise((6, 3), objective="vime", trainer=Trainer(max_iter=2, batch_size=32, random_state=0))
    stack = greedy.fit(X)
    assert stack(X).shape == (128, 3)
    assert stack.unroll()(X).shape == X.shape
    assert not any("mask_estimator" in k for k in stack.state_dict())  # the mask head is dropped with the layer
    assert stack.state_dict().keys() == greedy.build((8,), greedy.first_loss_).state_dict().keys()


def test_the_estimators_pretrain_with_vime_and_round_trip(digits_small, tmp_path):
    X, y = digits_small
    clf = layerwise.PretrainedClassifier((16,), pretrain="vime", semi_supervised=None, pretrain_max_iter=2, max_iter=3,
                                         random_state=0, device="cpu", **NO_CHECK).fit(X, y)
    back = layerwise.load(layerwise.save(clf, tmp_path / "clf"))
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(back.transform(X[:5]), clf.transform(X[:5]))
    ae = layerwise.StackedAutoencoder((16, 8), pretrain="vime", pretrain_params={"p_mask": 0.2}, max_iter=2,
                                      random_state=0, device="cpu").fit(X)
    back = layerwise.load(layerwise.save(ae, tmp_path / "ae"))
    assert ae.transform(X).shape == (300, 8)
    np.testing.assert_array_equal(back.transform(X), ae.transform(X))
    np.testing.assert_array_equal(back.inverse_transform(ae.transform(X[:5])), ae.inverse_transform(ae.transform(X[:5])))


# -- VIME-semi ---------------------------------------------------------------------------------------------


def test_vime_semi_supervised_beats_chance_on_a_small_two_class_table():
    X, y = _two_class_table(n=200)
    model, history = fit_semi_supervised(
        "vime", X[:20], y[:20], X, (16,), method_params={"prepare_epochs": 2, "predictor_hidden": (16,)},
        trainer=Trainer(max_iter=15, batch_size=50, learning_rate_init=3e-3, random_state=0),
        prepare_trainer=Trainer(batch_size=50, learning_rate_init=3e-3, random_state=0))
    assert len(history["prepare"]) == 2 and "mask" in history["prepare"][0]
    assert {"supervised", "consistency", "accuracy"} <= set(history["train"][0])
    accuracy = (model(X[20:]).argmax(1) == y[20:]).float().mean().item()
    assert accuracy > 0.8, accuracy  # 0.94 measured; chance is 0.5
    assert model.transform(X[:3]).shape == (3, 16)


def test_the_consistency_cost_is_the_variance_across_copies():
    net = VIMENet(5, (4,), 3, predictor_hidden=())
    x = torch.rand(10, 5)
    assert vime_consistency(net, x, MarginalNoise(0.0), k=3).item() == 0.0  # identical copies agree
    assert vime_consistency(net, x, MarginalNoise(0.5), k=3).item() > 0.0
    method = VIMESemi(beta=0.0, predictor_hidden=(4,))
    out = method(method.build_model(5, (4,), 2), (x[:4], torch.tensor([0, 1, 0, 1]), x))
    assert "consistency" not in out.logs  # beta=0: the cross-entropy alone


def test_the_self_supervised_phase_trains_the_shared_encoder():
    X, y = _two_class_table(n=128)
    method = VIMESemi(prepare_epochs=2, predictor_hidden=(8,))
    net = method.build_model(8, (6,), 2)
    assert isinstance(net.pretext(), VIMEAutoEncoder)
    before = net.encoder[0][0].weight.clone()
    from layerwise.data.semi import LabeledUnlabeled

    history = method.prepare(net, LabeledUnlabeled(X[:10], y[:10], X), Trainer(batch_size=32, random_state=0))
    assert len(history) == 2 and not torch.equal(net.encoder[0][0].weight, before)
    assert VIMESemi(prepare_epochs=0).prepare(net, None, None) == []


def test_the_classifier_trains_vime_and_round_trips(tmp_path):
    X, y = (t.numpy() for t in _two_class_table(n=200))
    y_partial = y.copy()
    y_partial[40:] = -1
    clf = layerwise.PretrainedClassifier((16,), semi_supervised="vime", max_iter=3, random_state=0, device="cpu",
                                         semi_supervised_params={"prepare_epochs": 2, "predictor_hidden": (8,)}, **NO_CHECK).fit(X, y_partial)
    assert clf.semi_supervised_ == "vime" and clf.predict(X).shape == (200,)
    back = layerwise.load(layerwise.save(clf, tmp_path / "vime"))
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(back.transform(X), clf.transform(X))


# -- refused settings --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, match", [
    ({"p_mask": 1.0}, r"VIMESemi has 1 invalid parameter\(s\):\n- p_mask must be a number in \[0, 1\); got 1.0"),
    ({"alpha": -1}, "alpha must be a number >= 0; got -1"),
    ({"beta": float("nan")}, "beta must be a number >= 0; got nan"),
    ({"k": 1}, r"k must be an integer >= 2; got 1\."),
    ({"k": 2.5}, "k must be an integer >= 2"),
    ({"prepare_epochs": -1}, "prepare_epochs must be an integer >= 0"),
    ({"loss": "l1"}, r"loss must be one of \['mse', 'bce'\]; got 'l1'"),
    ({"predictor_hidden": "big"}, "predictor_hidden must be a sequence of positive integers"),
    ({"predictor_hidden": (8, 0)}, "predictor_hidden must be a sequence of positive integers"),
])
def test_bad_vime_semi_settings_are_refused_naming_the_parameter(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        VIMESemi(**kwargs)


def test_bad_vime_and_marginal_settings_are_refused():
    with pytest.raises(ConfigError, match=r"vime: p_mask must be a number in \[0, 1\); got -0.1.*alpha must be"):
        VIMESelf(p_mask=-0.1, alpha="big")
    with pytest.raises(ConfigError, match=r"p must be in \[0, 1\); got 1.5"):
        MarginalNoise(1.5)
    with pytest.raises(ConfigError, match=r"p must be in \[0, 1\); got 2.0"):
        OBJECTIVES.build("scarf", {"level": 2.0})
    with pytest.raises(ConfigError, match=r"Unknown option\(s\) \['p_mas'\] for pretraining objective 'vime'.*Did you mean 'p_mask'"):
        OBJECTIVES.build("vime", {"p_mas": 0.2})
    with pytest.raises(ConfigError, match=r"Unknown option\(s\) \['betta'\] for semi-supervised method 'vime'.*Did you mean 'beta'"):
        SEMI_SUPERVISED.build("vime", {"betta": 3})
    with pytest.raises(DataError, match=r"The 'vime' objective .* need 2-D input .* got rows of shape \(1, 8, 8\)"):
        VIMESelf().build_model((1, 8, 8), 4, "relu", "identity", False, 0.0)
    with pytest.raises(ConfigError, match="needs a model with a mask estimator; got AutoEncoder"):
        from layerwise.nn import dense_autoencoder

        VIMESelf()(dense_autoencoder(4, 2), (torch.rand(8, 4),))


def test_vime_semi_with_the_bernoulli_loss_refuses_inputs_outside_the_unit_interval():
    from layerwise.data.semi import LabeledUnlabeled

    X, y = _two_class_table(n=64)
    method = VIMESemi(loss="bce", prepare_epochs=1)
    X[0, 0], X[1, 1] = -1.0, 3.0
    with pytest.raises(DataError, match=r"vime with loss='bce' reconstructs inputs in \[0, 1\]; got values in \[-1, 3\]"):
        method.prepare(method.build_model(8, (4,), 2), LabeledUnlabeled(X[:8], y[:8], X), Trainer())
