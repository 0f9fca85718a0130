"""Transfer of pretrained layers: load_pretrained and the estimators' ``pretrained=``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import layerwise.pipeline.greedy as greedy_mod
from layerwise import (
    CheckpointError,
    ClassifierHead,
    ConfigError,
    PretrainedClassifier,
    PretrainedRegressor,
    StackedAutoencoder,
    dense_vae,
)
from layerwise.persistence.io import load, save
from layerwise.pipeline.finetune import stack_with_head
from layerwise.pipeline.greedy import random_stack
from layerwise.pipeline.transfer import TransferReport, load_pretrained


def _classifier_net(n_classes: int = 10, sizes=(16, 8)):
    return stack_with_head(random_stack(64, sizes), ClassifierHead(sizes[-1], n_classes))


@pytest.fixture
def source(tmp_path):
    """A saved (stack + 10-class head) module, and the module."""
    torch.manual_seed(1)
    net = _classifier_net()
    return save(net, tmp_path / "source"), net


def test_a_subset_of_layers_is_copied_and_reported(source):
    folder, net = source
    target = _classifier_net(n_classes=3)
    head_before = target.head[1].weight.clone()
    report = load_pretrained(target, folder, layers=["stack.layers.0", "stack.layers.1"])
    assert report.copied == ["stack.layers.0.0.weight", "stack.layers.0.0.bias", "stack.layers.1.0.weight", "stack.layers.1.0.bias"]
    assert report.ok and report.missing == report.unexpected == report.mismatched == report.frozen == []
    assert torch.equal(target.stack.layers[1][0].weight, net.stack.layers[1][0].weight)
    assert torch.equal(target.head[1].weight, head_before)  # outside the selection: untouched
    assert str(report).startswith("TransferReport: 4 copied (0 frozen), 0 missing, 0 unexpected, 0 shape-mismatched\n  copied (4): stack.layers.0.0.weight")


def test_strict_transfer_lists_every_bad_key_and_copies_nothing(source):
    folder, _ = source
    target = stack_with_head(random_stack(64, (16, 8, 4)), ClassifierHead(4, 3))
    before = {k: v.clone() for k, v in target.state_dict().items()}
    message = (
        r"Cannot copy the pretrained weights into Sequential strictly:\n"
        r"missing \(2, in the target but not the source\): stack\.layers\.2\.0\.weight, stack\.layers\.2\.0\.bias\n"
        r"shape mismatch \(2\): head\.1\.weight: target \(3, 4\) vs source \(10, 8\), head\.1\.bias: target \(3,\) vs source \(10,\)\n"
        r"Rename source keys with key_map=.*strict=False"
    )
    with pytest.raises(CheckpointError, match=message):
        load_pretrained(target, folder)
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())


def test_non_strict_copies_what_fits(source):
    folder, net = source
    target = _classifier_net(n_classes=3)
    report = load_pretrained(target, folder, strict=False)
    assert len(report.copied) == 4 and not report.ok
    assert report.mismatched == [("head.1.weight", (3, 8), (10, 8)), ("head.1.bias", (3,), (10,))]
    assert "shape mismatch (2): head.1.weight: target (3, 8) vs source (10, 8)" in str(report)
    assert torch.equal(target.stack.layers[0][0].bias, net.stack.layers[0][0].bias)


def test_key_map_and_freeze(tmp_path):
    stack = random_stack(64, (16, 8))
    folder = save(stack, tmp_path / "stack")  # keys layers.0.0.weight, ...
    target = _classifier_net()
    report = load_pretrained(target, folder, key_map={"layers.": "stack.layers."}, layers="stack", freeze=True)
    assert report.frozen == report.copied and len(report.copied) == 4
    assert [p.requires_grad for p in target.stack.parameters()] == [False] * 4
    assert all(p.requires_grad for p in target.head.parameters())
    frozen, head = target.stack.layers[0][0].weight.clone(), target.head[1].weight.clone()
    opt = torch.optim.SGD([p for p in target.parameters() if p.requires_grad], lr=0.1)
    torch.nn.functional.cross_entropy(target(torch.rand(8, 64)), torch.arange(8)).backward()
    opt.step()
    assert not torch.equal(target.head[1].weight, head)  # the step happened...
    assert torch.equal(target.stack.layers[0][0].weight, frozen) and torch.equal(frozen, stack.layers[0][0].weight)  # ...not here
    only_first = lambda k: "stack." + k if k.startswith("layers.0") else None  # noqa: E731  (None drops a key)
    with pytest.raises(CheckpointError, match=r"missing \(2, in the target but not the source\): stack\.layers\.1\.0\.weight"):
        load_pretrained(_classifier_net(), stack, key_map=only_first, layers="stack")
    partial = load_pretrained(_classifier_net(), stack, key_map=only_first, layers="stack", strict=False)
    assert partial.copied == ["stack.layers.0.0.weight", "stack.layers.0.0.bias"] and len(partial.missing) == 2


def test_wrong_arguments_are_refused(source):
    folder, net = source
    with pytest.raises(ConfigError, match=r"layers prefix 'stack.layer.0' \(did you mean 'stack.layers.0'\?\) matches no key of the target; its parameters live under: head.1, stack.layers.0.0, stack.layers.1.0"):
        load_pretrained(_classifier_net(), folder, layers="stack.layer.0")
    with pytest.raises(ConfigError, match=r"source must be a model folder written by layerwise\.save, an nn\.Module or a state dict.*got list"):
        load_pretrained(_classifier_net(), [1, 2])
    torch.save(net.state_dict(), folder.parent / "weights.pt")
    with pytest.raises(CheckpointError, match=r"weights\.pt' is a \.pt file, not a layerwise model folder\. layerwise never unpickles"):
        load_pretrained(_classifier_net(), folder.parent / "weights.pt")
    state = {k: v.clone() for k, v in net.state_dict().items()}
    assert load_pretrained(_classifier_net(), state).ok  # a plain state dict works too
    assert isinstance(load_pretrained(_classifier_net(), net), TransferReport)


# -- estimators: pretrained= --------------------------------------------------------------
@pytest.fixture(scope="module")
def pretrained_sae(tmp_path_factory, digits):
    """A stacked autoencoder trained without labels on 1500 digits, saved."""
    X = digits[0][:1500]
    sae = StackedAutoencoder((32,), max_iter=20, random_state=0, device="cpu").fit(X)
    return save(sae, tmp_path_factory.mktemp("runs") / "sae"), sae


@pytest.fixture
def no_pretraining(monkeypatch):
    def refuse(self, X, X_val=None):
        raise AssertionError("pretraining ran although pretrained= was given")

    monkeypatch.setattr(greedy_mod.GreedyLayerwise, "fit", refuse)


def test_pretrained_classifier_starts_from_the_saved_stack(digits, pretrained_sae, no_pretraining, tmp_path):
    X, y = digits
    folder, sae = pretrained_sae
    few, test = slice(0, 100), slice(1500, None)  # 100 labels
    common = dict(hidden_layer_sizes=(32,), finetune="frozen", max_iter=100, learning_rate_init=1e-2, random_state=0, device="cpu")
    clf = PretrainedClassifier(**common, pretrained=str(folder)).fit(X[few], y[few])
    assert np.array_equal(clf.transform(X), sae.transform(X))  # frozen: exactly the transferred codes
    assert clf.history_["pretrain"] == [] and clf.stack_.decoders is None
    random = PretrainedClassifier(**common, pretrain=None).fit(X[few], y[few])
    assert clf.score(X[test], y[test]) > random.score(X[test], y[test]) + 0.05
    full = PretrainedClassifier(**{**common, "finetune": "full", "max_iter": 5}, pretrained=folder).fit(X[few], y[few])
    assert not np.allclose(full.transform(X), sae.transform(X))  # fine-tuning moved the transferred layers
    loaded = load(save(full, tmp_path / "clf"))  # a transferred classifier saves and loads like any other
    assert np.array_equal(loaded.predict_proba(X), full.predict_proba(X))
    chained = PretrainedRegressor(**{**common, "max_iter": 2}, pretrained=tmp_path / "clf").fit(X[few], y[few].astype(float))
    assert chained.transform(X[:5]).shape == (5, 32)


@pytest.mark.parametrize(
    "params, n_features, message",
    [
        (dict(activation="tanh"), 64, r"- layers\.0\.1: saved ReLU\(\), this estimator builds Tanh\(\)\nThe saved StackedAutoencoder has hidden_layer_sizes=\(32,\), activation='relu', pretrain='autoencoder' and 64 input features\. Set hidden_layer_sizes"),
        (dict(hidden_layer_sizes=(16,)), 64, r"- layers\.0\.0: saved Linear\(in_features=64, out_features=32, bias=True\), this estimator builds Linear\(in_features=64, out_features=16"),
        (dict(pretrain="rbm"), 64, r"- layers\.0\.1: saved ReLU\(\), this estimator builds Sigmoid\(\)"),
        (dict(), 32, r"builds for 32 features.*\n- layers\.0\.0: saved Linear\(in_features=64, out_features=32"),
    ],
)
def test_a_pretrained_model_of_another_architecture_is_refused(digits_small, pretrained_sae, no_pretraining, params, n_features, message):
    X, y = digits_small
    clf = PretrainedClassifier(**{"hidden_layer_sizes": (32,), "device": "cpu", **params}, pretrained=pretrained_sae[0])
    with pytest.raises(ConfigError, match=message):
        clf.fit(X[:, :n_features], y)


def test_pretrained_must_hold_an_encoder_stack(digits_small, tmp_path, no_pretraining):
    X, y = digits_small
    folder = save(dense_vae(64, (16,), 4), tmp_path / "vae")
    with pytest.raises(ConfigError, match=r"holds a VAE, which has no encoder stack; pass the folder of a saved StackedAutoencoder"):
        PretrainedClassifier((16,), pretrained=folder).fit(X, y)
    with pytest.raises(ConfigError, match=r"pretrained must be None or the path of a model folder written by layerwise\.save; got 3"):
        PretrainedClassifier((16,), pretrained=3).fit(X, y)
    with pytest.raises(CheckpointError, match=r"No model folder at .*missing"):
        PretrainedClassifier((16,), pretrained=tmp_path / "missing").fit(X, y)
