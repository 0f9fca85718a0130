"""The convolutional ladder network (Conv-Small): shapes at several image sizes, its two decoders, inference, bf16."""

import math

import pytest
import torch

from layerwise.exceptions import ConfigError, DataError
from layerwise.nn.conv_ladder import ConvLadderNetwork
from layerwise.objectives import ConvLadder

GAMMA = (0.0,) * 9 + (1.0,)
FULL = (1000.0, 10.0) + (0.1,) * 8


def _passes(net, x, n_labeled):
    """The objective's two passes: clean on the unlabeled rows, corrupted on all, labeled and unlabeled normalised apart."""
    clean = net.encode(x[n_labeled:], update_running=True)
    corrupted = net.encode(x, 0.3, groups=[n_labeled, len(x) - n_labeled])
    return clean, corrupted


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size, pooled", [(8, 2), (28, 7), (32, 8), ((7, 9), (2, 3))])
def test_every_layer_has_the_shape_of_conv_small(channels, size, pooled):
    (h, w), (ph, pw) = (size, pooled) if isinstance(size, tuple) else ((size, size), (pooled, pooled))
    net = ConvLadderNetwork((channels, h, w), 4)
    x = torch.rand(6, channels * h * w)
    clean, corrupted = _passes(net, x, 2)
    widths = [channels, 32, 32, 64, 64, 64, 128, 10, 10, 4]
    assert [tuple(z.shape[1:2]) for z in corrupted.z] == [(c,) for c in widths]
    assert corrupted.z[1].shape[2:] == (h, w) and corrupted.z[6].shape[2:] == (ph, pw)  # 'same' convolutions, two pools
    assert corrupted.logits.shape == (6, 4) and clean.z[9].shape == (4, 4)
    net.eval()
    assert net(x).shape == (6, 4) and net.transform(x).shape == (6, 10)


def test_the_gamma_model_decodes_the_top_only_and_the_full_decoder_every_layer():
    x = torch.rand(12, 64)
    gamma, full = ConvLadderNetwork((1, 8, 8), 3, gamma_only=True), ConvLadderNetwork((1, 8, 8), 3)
    costs = gamma.decode(*reversed(_passes(gamma, x, 4)), GAMMA, rows=8)
    assert [c is not None for c in costs] == [False] * 9 + [True]
    costs = full.decode(*reversed(_passes(full, x, 4)), FULL, rows=8)
    assert all(c is not None and c.ndim == 0 and torch.isfinite(c) for c in costs)
    sum(costs).backward()
    assert all(full.decoder[k].weight.grad is not None for k in full.decoder)  # every transposed convolution learns
    assert len(gamma.decoder) == 0 and list(gamma.combinators) == ["9"]  # the Gamma-model builds no lower decoder
    with pytest.raises(ConfigError, match="built with gamma_only=True .* but costs asks for layer 0; build it with gamma_only=False"):
        gamma.decode(*reversed(_passes(gamma, x, 4)), FULL, rows=8)


def test_the_objective_builds_the_gamma_model_by_default_and_the_full_ladder_with_paper_costs(digits):
    X = torch.from_numpy(digits[0][:96])
    y = torch.from_numpy(digits[1][:32]).long()
    for costs, decoded in (("gamma", ["denoising_9"]), ("paper", [f"denoising_{l}" for l in range(10)])):
        objective = ConvLadder(denoising_costs=costs, image_shape=(1, 8, 8))
        net = objective.build_model(64, (), 10)
        out = objective(net, (X[:32], y, X[32:]))
        assert sorted(k for k in out.logs if k.startswith("denoising_")) == sorted(decoded)
        assert net.gamma_only is (costs == "gamma")


def test_the_full_decoder_lowers_its_denoising_costs(digits):
    X = torch.from_numpy(digits[0][:120])
    y = torch.from_numpy(digits[1][:40]).long()
    objective = ConvLadder(denoising_costs="paper", image_shape=(1, 8, 8))
    net = objective.build_model(64, (), 10)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    logs = []
    for _ in range(15):  # 0.56-0.61 and 0.36-0.38 of the first costs measured over three seeds
        out = objective(net, (X[:40], y, X[40:]))
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        logs.append(out.logs)
    for k in ("denoising_0", "denoising_8"):
        assert logs[-1][k] < 0.75 * logs[0][k], (k, [float(g[k]) for g in logs])


def test_a_row_is_predicted_the_same_alone_or_in_a_batch():
    net = ConvLadderNetwork((3, 16, 16), 5, combinator="amlp")
    x = torch.rand(40, 3 * 16 * 16)
    for _ in range(3):  # some running statistics to predict with
        net.encode(x, update_running=True)
    net.eval()
    with torch.no_grad():
        together = net(x[:10])
        alone = torch.cat([net(x[i : i + 1]) for i in range(10)])
    torch.testing.assert_close(alone, together, rtol=1e-5, atol=1e-5)
    assert net.running_mean_1.shape == (32,) and net.running_var_8.shape == (10,)  # per channel


def test_a_bf16_autocast_step_and_forward_work():
    net = ConvLadderNetwork((1, 28, 28), 10)
    x = torch.rand(8, 784)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        clean, corrupted = _passes(net, x, 4)
        costs = net.decode(corrupted, clean, FULL, rows=4)
    assert all(z.dtype == torch.float32 for z in corrupted.z[1:])  # the statistics are fp32
    loss = sum(c for c in costs) + torch.nn.functional.cross_entropy(corrupted.logits[:4], torch.arange(4))
    loss.backward()
    assert torch.isfinite(loss) and net.weights["1"].weight.grad is not None
    net.eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        logits = net(x)
    assert logits.dtype == torch.float32 and torch.isfinite(logits).all()


def test_wrong_shapes_and_settings_are_refused():
    with pytest.raises(DataError, match=r"expects rows of 64 values \(image_shape=\(1, 8, 8\), flattened\); got a tensor "
                                        r"of shape \(2, 1, 8, 8\)"):
        ConvLadderNetwork((1, 8, 8), 3)(torch.zeros(2, 1, 8, 8))
    with pytest.raises(ConfigError, match=r"image_shape must be \(channels, height, width\)"):
        ConvLadderNetwork((8, 8), 3)
    with pytest.raises(ConfigError, match="n_classes must be an integer >= 2; got 1"):
        ConvLadderNetwork((1, 8, 8), 1)
    with pytest.raises(ConfigError, match=r"conv_ladder needs image_shape=\(channels, height, width\) to unflatten its rows "
                                          r"of 64 values; pass semi_supervised_params=\{'image_shape': \(1, 28, 28\)\}"):
        ConvLadder().build_model(64, (), 10)
    with pytest.raises(ConfigError, match=r"image_shape=\(1, 28, 28\) has 784 values but the rows have 64"):
        ConvLadder(image_shape=(1, 28, 28)).build_model(64, (), 10)
    with pytest.raises(ConfigError, match="denoising_costs has 4 values but the network has 10 layers"):
        ConvLadder(denoising_costs=[1, 1, 1, 1], image_shape=(1, 8, 8)).build_model(64, (), 10)


def test_the_defaults_are_the_papers():
    objective = ConvLadder()
    assert (objective.noise_std, objective.denoising_costs, objective.learning_rate, objective.batch_size) == (0.3, "gamma", 0.002, 100)
    net = ConvLadderNetwork((1, 28, 28), 10)
    n_weights = sum(math.prod(m.weight.shape) for m in net.weights.values())
    assert n_weights == 5 * 5 * 32 + 3 * 3 * 32 * 64 + 3 * 3 * 64 * 64 + 3 * 3 * 64 * 128 + 128 * 10 + 10 * 10
