"""Inference is batch-invariant: a row's output is bitwise the same alone, in a subset or shuffled."""

import numpy as np
import pytest
import torch
from torch import nn

from layerwise import PretrainedClassifier, PretrainedRegressor, StackedAutoencoder, VariationalAutoencoder
from layerwise.nn import EncoderStack, dense_block
from layerwise.nn.ladder import LadderNetwork
from layerwise.nn.m2 import M1M2, M2
from layerwise.nn.vae import dense_vae
from layerwise.train.inference import predict_in_batches


def _assert_batch_invariant(f, X):
    """``f`` of every row alone, of subsets and of a shuffled copy equals ``f(X)`` bitwise."""
    full = np.asarray(f(X))
    rng = np.random.RandomState(0)
    order = rng.permutation(len(X))
    assert np.array_equal(np.asarray(f(X[order])), full[order])
    for start, stop in [(0, 1), (5, 6), (3, 40), (17, 130), (len(X) - 1, len(X))]:
        assert np.array_equal(np.asarray(f(X[start:stop])), full[start:stop]), (start, stop)


MODULES = {
    # sigmoid and softplus round differently in the vectorised body and the scalar tail of a tensor
    "logistic mlp": lambda: nn.Sequential(nn.Linear(13, 37), nn.Sigmoid(), nn.Linear(37, 5), nn.Softplus()),
    "encoder stack": lambda: EncoderStack([dense_block(13, 24, "tanh"), dense_block(24, 7, "logistic")]),
    "ladder network": lambda: LadderNetwork(13, (20, 9), 4, activation="logistic"),
    "m1+m2": lambda: M1M2(dense_vae(13, (11,), 6), M2(6, 3, (10,), 4)),
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_predict_in_batches_is_bitwise_batch_invariant(name):
    torch.manual_seed(0)
    module = MODULES[name]().eval()
    X = torch.randn(300, 13)
    _assert_batch_invariant(lambda A: predict_in_batches(module, A), X)
    # the old way (one matrix product for the whole batch) is not: the test can fail
    with torch.no_grad():
        alone = torch.cat([module(X[i : i + 1]) for i in range(len(X))])
        assert not torch.equal(alone, module(X)) or name == "m1+m2"


def test_an_empty_input_gives_an_empty_output():
    out = predict_in_batches(nn.Linear(3, 2), torch.zeros(0, 3))
    assert out.shape == (0, 2)


@pytest.mark.parametrize("make, methods", [
    (lambda: PretrainedClassifier((24, 7), activation="logistic", pretrain_max_iter=1, max_iter=2, random_state=0),
     ("predict", "predict_proba", "predict_log_proba", "transform")),
    (lambda: PretrainedRegressor((16,), activation="tanh", pretrain_max_iter=1, max_iter=2, random_state=0), ("predict", "transform")),
    (lambda: StackedAutoencoder((16, 6), activation="logistic", max_iter=1, random_state=0),
     ("transform", "score_samples", "reconstruct")),
    (lambda: VariationalAutoencoder((16,), n_components=5, activation="tanh", max_iter=1, random_state=0), ("transform",)),
])
def test_estimator_outputs_do_not_depend_on_the_batch(digits, make, methods):
    X, y = digits
    est = make().fit(X[:400], y[:400])
    for method in methods:
        _assert_batch_invariant(getattr(est, method), X[400:700])


def test_small_output_widths_are_position_invariant_too():
    # MKL gives odd output widths below 12 a result that depends on the row's position modulo 4
    torch.manual_seed(0)
    for n_in in (5, 7, 10, 13, 37):
        for n_out in (3, 5, 7, 9, 11, 16, 33):
            layer = nn.Linear(n_in, n_out)
            X = torch.randn(130, n_in)
            order = torch.randperm(130)
            assert torch.equal(predict_in_batches(layer, X[order]), predict_in_batches(layer, X)[order]), (n_in, n_out)
