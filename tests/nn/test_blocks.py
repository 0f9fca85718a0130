import pytest
import torch
from torch import nn

from layerwise.exceptions import ConfigError
from layerwise.nn import ACTIVATIONS, AutoEncoder, EncoderStack, TiedLinear, dense_autoencoder, dense_block


@pytest.mark.parametrize("name", ACTIVATIONS.names())
def test_dense_block_shapes_for_every_activation(name):
    block = dense_block(5, 3, name)
    assert block(torch.randn(4, 5)).shape == (4, 3)


def test_activation_names_follow_sklearn():
    assert ACTIVATIONS.names() == ["identity", "logistic", "relu", "tanh"]
    with pytest.raises(ConfigError, match=r"Unknown activation 'sigmoid'.*\['identity', 'logistic', 'relu', 'tanh'\]"):
        dense_block(2, 2, "sigmoid")


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_dense_block_rejects_bad_sizes(bad):
    with pytest.raises(ConfigError, match=r"n_out must be a positive integer; got"):
        dense_block(4, bad)


def test_tied_decoder_shares_the_encoder_weight():
    ae = dense_autoencoder(6, 3, tied=True)
    tied = ae.decoder[0]
    assert isinstance(tied, TiedLinear)
    assert torch.equal(tied.weight, ae.encoder[0].weight.t())
    # stored once: the decoder holds only its bias
    assert [k for k in ae.state_dict() if "weight" in k] == ["encoder.0.weight"]
    with torch.no_grad():
        ae.encoder[0].weight.add_(1.0)
    assert torch.equal(tied.weight, ae.encoder[0].weight.t())


def test_autoencoder_accepts_any_modules_and_checks_output():
    ae = AutoEncoder(nn.Linear(4, 2), nn.Linear(2, 4), output="logistic")
    x = torch.randn(3, 4)
    out = ae(x)
    assert out.shape == (3, 4) and (out > 0).all() and (out < 1).all()
    with pytest.raises(ConfigError, match=r"output must be one of \['identity', 'logistic'\]; got 'softmax'"):
        AutoEncoder(nn.Identity(), nn.Identity(), output="softmax")


def test_stack_freeze_unroll_and_errors():
    stack = EncoderStack([dense_block(8, 4, "tanh"), dense_block(4, 2, "relu")])
    x = torch.randn(5, 8)
    assert stack(x).shape == (5, 2) and stack(x, upto=1).shape == (5, 4)
    stack.freeze()
    assert not any(p.requires_grad for p in stack.parameters()) and not stack.training
    deep = stack.unroll()
    assert deep(x).shape == (5, 8)
    assert all(p.requires_grad for p in deep.parameters())
    # transposed initialisation (Hinton & Salakhutdinov 2006)
    assert torch.equal(deep.decoder[0].weight, stack.layers[1][0].weight.t())
    assert isinstance(deep.decoder[1], nn.Tanh)
    with pytest.raises(ConfigError, match="at least one layer"):
        EncoderStack([])
    with pytest.raises(ConfigError, match="2 layers but 1 decoders"):
        EncoderStack([nn.Linear(2, 2), nn.Linear(2, 2)], decoders=[nn.Linear(2, 2)])


def test_unrolling_unties_tied_decoders():
    from layerwise.nn import dense_autoencoder

    ae = dense_autoencoder(6, 3, tied=True)
    stack = EncoderStack([ae.encoder], decoders=[ae.decoder])
    deep = stack.unroll()
    dec = deep.decoder[0][0]
    assert type(dec) is nn.Linear and torch.equal(dec.weight, ae.encoder[0].weight.t())
    assert "decoder.0.0.weight" in deep.state_dict()  # a real, trainable parameter now
    x = torch.randn(4, 6)
    assert torch.allclose(deep(x), ae(x))
