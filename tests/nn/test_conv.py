"""Convolutional autoencoder layers, greedy conv stacks, unrolling and fine-tuning."""

import copy

import pytest
import torch
from torch import nn

from layerwise.exceptions import ConfigError, DataError
from layerwise.nn import ClassifierHead, EncoderStack
from layerwise.nn.conv import conv_autoencoder, conv_block, conv_decoder
from layerwise.objectives import Classification, Reconstruction, make_objective
from layerwise.pipeline.finetune import finetune
from layerwise.pipeline.greedy import GreedyLayerwise
from layerwise.train import Trainer


@pytest.mark.parametrize("decoder", ["transpose", "upsample"])
@pytest.mark.parametrize("size, pool, code", [((8, 8), 2, (4, 4)), ((7, 5), 2, (4, 3)), ((28, 28), 3, (10, 10)), ((6, 6), 1, (6, 6))])
def test_conv_layer_reconstructs_the_input_shape(decoder, size, pool, code):
    x = torch.rand(3, 2, *size)
    ae = conv_autoencoder(x.shape[1:], 5, pool=pool, decoder=decoder)
    assert ae.encode(x).shape == (3, 5, *code)
    assert ae(x).shape == x.shape


def test_flat_rows_are_viewed_as_images_and_flattened_back(digits_small):
    X = torch.from_numpy(digits_small[0][:10])
    ae = conv_autoencoder((64,), 4, image_shape=(1, 8, 8))
    assert isinstance(ae.encoder[0], nn.Unflatten) and isinstance(ae.decoder[-1], nn.Flatten)
    assert ae.encode(X).shape == (10, 4, 4, 4) and ae(X).shape == (10, 64)
    # the same weights on the image view give the same codes: Unflatten is a pure view
    assert torch.equal(ae.encode(X), ae.encoder[1:](X.view(10, 1, 8, 8)))


@pytest.fixture(scope="module")
def conv_greedy(digits):
    """A two-layer conv stack pretrained on the first 1000 flat digits rows."""
    X = torch.from_numpy(digits[0][:1000])
    g = GreedyLayerwise((8, 16), objective="conv", objective_params={"image_shape": (1, 8, 8)},
                        trainer=Trainer(max_iter=6, batch_size=64, learning_rate_init=3e-3, random_state=0))
    g.fit(X)
    return g


def test_conv_stack_pretrains_layer_by_layer_on_flat_digits(conv_greedy, digits):
    X = torch.from_numpy(digits[0][:1000])
    stack = conv_greedy.stack_
    assert stack(X, upto=1).shape == (1000, 8, 4, 4)
    assert stack(X).shape == (1000, 16, 2, 2)
    assert stack.output == "logistic"  # digits are in [0, 1]: Bernoulli loss on layer 1
    for hist in conv_greedy.history_:
        assert hist[-1]["recon"] < 0.8 * hist[0]["recon"], [h["recon"] for h in hist]
    # layer 2 was built for layer 1's codes: its conv sees 8 channels
    assert stack.layers[1][0].in_channels == 8


def test_unrolled_conv_stack_is_a_deep_autoencoder_of_the_input(conv_greedy, digits):
    X = torch.from_numpy(digits[0][:500])
    stack = conv_greedy.stack_
    deep = stack.unroll()
    out = deep(X)
    assert out.shape == X.shape and ((out >= 0) & (out <= 1)).all()
    assert isinstance(deep.decoder[1], nn.ReLU)  # layer 1's activation between the mirrored decoders
    obj, trainer = Reconstruction("bce"), Trainer(max_iter=3, batch_size=64, learning_rate_init=1e-3, random_state=0)
    before = trainer.evaluate(deep, obj, (X,))["loss"]
    trainer.fit(deep, obj, (X,))
    assert trainer.evaluate(deep, obj, (X,))["loss"] < before
    # the stack is untouched by training its unrolled copy
    assert not torch.equal(deep.encoder.layers[0][1].weight, stack.layers[0][1].weight)


def test_image_input_works_without_image_shape(digits_small):
    X = torch.from_numpy(digits_small[0]).view(-1, 1, 8, 8)
    stack = GreedyLayerwise((4,), objective="conv", objective_params={"decoder": "upsample"},
                            trainer=Trainer(max_iter=2, random_state=0)).fit(X)
    assert stack(X).shape == (300, 4, 4, 4) and stack.unroll()(X).shape == X.shape


@pytest.mark.parametrize("mode, epochs, min_acc", [("frozen", 60, 0.75), ("full", 20, 0.85)])
def test_classifier_head_on_flattened_conv_codes_fine_tunes(conv_greedy, digits, mode, epochs, min_acc):
    X, y = (torch.from_numpy(a) for a in digits)
    stack = copy.deepcopy(conv_greedy.stack_)
    pretrained = stack.layers[0][1].weight.clone()  # the first conv, after the Unflatten
    model, hist = finetune(nn.Sequential(stack, nn.Flatten()), ClassifierHead(16 * 2 * 2, 10), Classification(),
                           (X[:1000], y[:1000]), mode=mode, trainer=Trainer(max_iter=epochs, batch_size=64, learning_rate_init=1e-2, random_state=0))
    model.eval()
    with torch.no_grad():
        acc = (model(X[1000:]).argmax(1) == y[1000:]).float().mean().item()  # 797 held-out digits
    assert acc > min_acc and hist[-1]["accuracy"] > hist[0]["accuracy"]
    assert torch.equal(stack.layers[0][1].weight, pretrained) == (mode == "frozen")


def test_conv_option_errors():
    with pytest.raises(ConfigError, match=r"kernel_size must be odd .*; got 4"):
        make_objective("conv", {"kernel_size": 4})
    with pytest.raises(ConfigError, match=r"pool must be a positive integer; got 0"):
        make_objective("conv", {"pool": 0})
    with pytest.raises(ConfigError, match=r"decoder must be one of \['transpose', 'upsample'\]; got 'deconv'"):
        make_objective("conv", {"decoder": "deconv"})
    with pytest.raises(ConfigError, match=r"image_shape must be \(channels, height, width\).*got \(8, 8\)"):
        make_objective("conv", {"image_shape": (8, 8)})
    with pytest.raises(ConfigError, match=r"level=0.3 is set but noise=None"):
        make_objective("conv", {"level": 0.3})
    obj = make_objective("conv", {"image_shape": (1, 8, 8)})
    with pytest.raises(ConfigError, match=r"does not tie weights.*got tied=True"):
        obj.build_model((64,), 4, "relu", "identity", True, 0.0)


def test_conv_shape_errors(digits_small):
    X = torch.from_numpy(digits_small[0])
    with pytest.raises(ConfigError, match=r"flat rows of 64 features but no image_shape; pass image_shape="):
        GreedyLayerwise((4,), objective="conv", trainer=Trainer(max_iter=1)).fit(X)
    with pytest.raises(DataError, match=r"image_shape=\(1, 7, 7\) holds 49 values but the rows have 64 features"):
        conv_autoencoder((64,), 4, image_shape=(1, 7, 7))
    with pytest.raises(DataError, match=r"rows of shape \(8, 8\)\. Add a channel axis"):
        conv_autoencoder((8, 8), 4)
    with pytest.raises(ConfigError, match=r"out_shape must be \(channels, height, width\)"):
        conv_decoder(4, (8, 8))
    stack = EncoderStack([conv_block(1, 4)])
    with pytest.raises(ConfigError, match=r"Cannot unroll conv layer 0 without its decoder"):
        stack.unroll()
