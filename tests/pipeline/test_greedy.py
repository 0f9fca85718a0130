import pytest
import torch

from layerwise.exceptions import ConfigError, DataError
from layerwise.pipeline.greedy import GreedyLayerwise, random_stack
from layerwise.train import Trainer
from layerwise.train.inference import BLOCK_ROWS


def _count_rows(module, counter, key):
    def hook(mod, args, out):
        counter[key] = counter.get(key, 0) + args[0].shape[0]

    return module.register_forward_hook(hook)


def test_codes_of_each_frozen_layer_are_computed_once(digits_small, monkeypatch):
    """Layer k's encoder sees the data once after it is frozen, not once per batch."""
    X = torch.from_numpy(digits_small[0])  # 300 rows
    counter: dict = {}
    handles = []
    import layerwise.pipeline.greedy as greedy_mod

    real_fit = greedy_mod.Trainer.fit

    def spying_fit(self, model, objective, train, val=None, params=None, resume=False):
        out = real_fit(self, model, objective, train, val, params, resume)
        # from now on this layer is frozen: count every row it encodes
        handles.append(_count_rows(model.encoder, counter, len(handles)))
        return out

    monkeypatch.setattr(greedy_mod.Trainer, "fit", spying_fit)
    epochs = 3
    stack = GreedyLayerwise((32, 16, 8), trainer=Trainer(max_iter=epochs, batch_size=50, random_state=0)).fit(X)
    for h in handles:
        h.remove()
    # once: 300 rows in blocks of BLOCK_ROWS, the last one padded (predict_in_batches); the top layer: once too, a
    # sample of up to 1,024 rows in one forward pass for the dead-units check (layerwise.diagnostics)
    padded = -(-300 // BLOCK_ROWS) * BLOCK_ROWS
    assert counter == {0: padded, 1: padded, 2: 300}
    assert len(stack) == 3 and stack(X).shape == (300, 8)


def test_stack_is_frozen_and_decoders_are_not_used_by_the_encoder(digits_small):
    X = torch.from_numpy(digits_small[0])
    g = GreedyLayerwise((16, 4), trainer=Trainer(max_iter=2, random_state=0))
    stack = g.fit(X)
    assert not any(p.requires_grad for p in stack.parameters())
    assert [len(h) for h in g.history_] == [2, 2]
    codes = stack(X)
    stack.decoders = None
    assert torch.equal(stack(X), codes)


def test_first_layer_loss_is_chosen_from_the_data_range(digits_small):
    X = torch.from_numpy(digits_small[0])
    assert GreedyLayerwise((8,), trainer=Trainer(max_iter=1)).fit(X).output == "logistic"
    assert GreedyLayerwise((8,), trainer=Trainer(max_iter=1)).fit(X * 3 - 1).output == "identity"
    with pytest.raises(DataError, match=r"loss='bce' needs inputs in \[0, 1\]; got values in \[-1, 2\]"):
        GreedyLayerwise((8,), loss="bce", trainer=Trainer(max_iter=1)).fit(X * 3 - 1)


def test_unrolled_deep_autoencoder_trains_jointly(digits_small):
    from layerwise.objectives import Reconstruction
    from layerwise.train import Trainer

    X = torch.from_numpy(digits_small[0])
    stack = GreedyLayerwise((32, 8), trainer=Trainer(max_iter=10, batch_size=32, random_state=0)).fit(X)
    deep = stack.unroll()
    obj = Reconstruction("bce")
    trainer = Trainer(max_iter=10, batch_size=32, random_state=0)
    before = trainer.evaluate(deep, obj, (X,))["loss"]
    trainer.fit(deep, obj, (X,))
    assert trainer.evaluate(deep, obj, (X,))["loss"] < before
    # the stack itself is untouched by training its unrolled copy
    assert not torch.equal(deep.encoder.layers[0][0].weight, stack.layers[0][0].weight)


def test_random_stack_matches_the_greedy_architecture(digits_small):
    X = torch.from_numpy(digits_small[0])
    g = GreedyLayerwise((16, 4), trainer=Trainer(max_iter=1)).fit(X)
    r = random_stack(64, (16, 4))
    assert [p.shape for p in r.parameters()] == [p.shape for p in g.layers.parameters()]


@pytest.mark.parametrize("sizes", [(), (0,), (16, -2), ("a",), 3.5])
def test_bad_layer_sizes(sizes):
    with pytest.raises(ConfigError, match="hidden_layer_sizes must be a"):
        GreedyLayerwise(sizes)


def test_build_gives_the_fitted_architecture_untrained(digits_small):
    X = torch.from_numpy(digits_small[0])
    g = GreedyLayerwise((16, 4), trainer=Trainer(max_iter=1, random_state=0))
    fitted = g.fit(X)
    built = GreedyLayerwise((16, 4)).build((64,), first_loss=g.first_loss_)
    a, b = fitted.state_dict(), built.state_dict()
    assert a.keys() == b.keys() and all(a[k].shape == b[k].shape for k in a)
    assert built.output == fitted.output == "logistic"
    built.load_state_dict(a)
    assert torch.equal(built(X), fitted(X))


def test_cached_codes_equal_the_frozen_layers_outputs(digits_small, monkeypatch):
    """What stage k trains on is exactly the frozen stack's output up to layer k (the fast path changes nothing)."""
    import layerwise.pipeline.greedy as greedy_mod

    X = torch.from_numpy(digits_small[0])
    seen = []
    real_fit = greedy_mod.Trainer.fit

    def spying_fit(self, model, objective, train, val=None, params=None, resume=False):
        seen.append(train[0].clone())
        return real_fit(self, model, objective, train, val, params, resume)

    monkeypatch.setattr(greedy_mod.Trainer, "fit", spying_fit)
    stack = GreedyLayerwise((32, 16, 8), trainer=Trainer(max_iter=2, batch_size=50, random_state=0)).fit(X)
    with torch.no_grad():
        for k, codes in enumerate(seen):
            assert torch.equal(codes, stack(X, upto=k)), k
