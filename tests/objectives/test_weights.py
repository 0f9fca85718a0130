"""Row weights below the estimators: the weighted mean, the supervised objectives, fine-tuning, and the batches
(one process and under torchrun's sharding) that carry the weights."""

import pytest
import torch
from torch.nn import functional as F

from layerwise.data.semi import LabeledUnlabeled
from layerwise.exceptions import DataError
from layerwise.nn import ClassifierHead
from layerwise.objectives import Classification, Regression
from layerwise.objectives.supervised import weighted_mean
from layerwise.pipeline.finetune import finetune
from layerwise.train import Trainer, distributed


def test_the_weighted_mean_is_sklearn_s_average_and_a_zero_weight_removes_a_row():
    values, w = torch.tensor([1.0, 2.0, 6.0]), torch.tensor([0.5, 1.5, 2.0])
    assert weighted_mean(values, w).item() == pytest.approx((0.5 * 1 + 1.5 * 2 + 2 * 6) / 4.0)  # np.average(v, weights=w)
    assert weighted_mean(torch.cat([values, torch.tensor([1e6])]), torch.cat([w, torch.tensor([0.0])])) == weighted_mean(values, w)
    assert weighted_mean(values, 3 * w).item() == pytest.approx(weighted_mean(values, w).item())  # only ratios count
    assert weighted_mean(values, torch.zeros(3)).item() == 0.0  # a batch with nothing to learn: 0, not NaN


@pytest.mark.parametrize("objective, y", [
    (Classification(), torch.tensor([0, 1, 2, 1, 0])),
    (Regression(), torch.randn(5, 3)),
])
def test_supervised_objectives_weigh_a_third_tensor(objective, y):
    torch.manual_seed(0)
    model, x = torch.nn.Linear(4, 3), torch.randn(5, 4)
    plain = objective(model, (x, y)).loss
    torch.testing.assert_close(objective(model, (x, y, torch.ones(5))).loss, plain)
    w = torch.tensor([1.0, 0.0, 2.0, 0.5, 0.0])
    weighted = objective(model, (x, y, w)).loss
    keep = w > 0  # the rows of weight 0 dropped, the others' weights kept: the same cost
    torch.testing.assert_close(weighted, objective(model, (x[keep], y[keep], w[keep])).loss)
    assert not torch.allclose(weighted, plain)  # the weights change the cost


def test_both_fine_tuning_modes_train_on_the_weights():
    """A class whose rows all weigh 0 is never learned; with the weights dropped it would be."""
    torch.manual_seed(0)
    X = torch.randn(300, 6)
    y = (X[:, 0] > 0).long() + (X[:, 1] > 0.5).long()  # classes 0, 1, 2
    w = (y != 2).float()
    for mode in ("frozen", "full"):
        for weights, learns_class_2 in ((None, True), (w, False)):
            torch.manual_seed(0)
            stack = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU())
            train = (X, y) if weights is None else (X, y, weights)
            model, _ = finetune(stack, ClassifierHead(16, 3), Classification(), train, mode=mode,
                                trainer=Trainer(max_iter=30, batch_size=50, learning_rate_init=1e-2, random_state=0))
            with torch.no_grad():
                predicted = model.eval()(X).argmax(1)
            assert bool((predicted[y == 2] == 2).any()) is learns_class_2, (mode, weights is None)


def _data(weights=None):
    torch.manual_seed(0)
    X_l = torch.arange(30, dtype=torch.float32)[:, None].repeat(1, 4)  # row i holds i: the batches show which rows they hold
    return LabeledUnlabeled(X_l, torch.arange(30) % 3, torch.randn(70, 4), labeled_batch_size=8, weights=weights)


def test_weighted_batches_hold_the_rows_of_unweighted_ones_and_their_weights():
    w = torch.rand(30)
    plain = list(_data().batches(16, torch.Generator().manual_seed(3)))
    weighted = list(_data(w).to(torch.device("cpu")).batches(16, torch.Generator().manual_seed(3)))
    assert [len(b) for b in plain] == [3] * len(plain) and [len(b) for b in weighted] == [4] * len(plain)
    for a, b in zip(plain, weighted):
        assert all(torch.equal(u, v) for u, v in zip(a, b[:3]))
        assert torch.equal(b[3], w[b[0][:, 0].long()])  # each labeled row's own weight
    assert len(_data(w).tensors) == 4 and len(_data().tensors) == 3  # checkpoints fingerprint the weights too


@pytest.mark.parametrize("weights, match", [
    (torch.ones(29), r"weights must be a 1-D tensor with one weight per labeled row \(30\); got Tensor\(29,\)"),
    (torch.ones(30, dtype=torch.long), "weights holds int64 values; expected floats"),
    (torch.full((30,), -1.0), "weights holds negative, NaN or infinite values; expected finite numbers >= 0"),
    (torch.full((30,), float("nan")), "weights holds negative, NaN or infinite values"),
])
def test_bad_weights_are_refused(weights, match):
    with pytest.raises(DataError, match=match):
        _data(weights)


@pytest.mark.parametrize("batch_size, world_size", [(24, 2), (24, 3), (36, 4), (35, 2)])  # halves, thirds, quarters; 18/17
def test_weighted_shares_give_the_global_batch_gradient(batch_size, world_size):
    """Under torchrun each rank with unlabeled rows takes every weighted labeled row: the average of the ranks'
    weighted gradients is one process's, exactly (the shares' own weighted means would not average to it)."""
    torch.manual_seed(0)
    X_l, y, X_u, w = torch.randn(23, 5), torch.randint(0, 3, (23,)), torch.randn(71, 5), torch.rand(23) * 3
    data = LabeledUnlabeled(X_l, y, X_u, labeled_batch_size=12, weights=w)
    model = torch.nn.Linear(5, 3)

    def grad(batch, scale=1.0):
        x_l, y_l, x_u, w_l = batch
        model.zero_grad()
        supervised = weighted_mean(F.cross_entropy(model(x_l), y_l, reduction="none"), w_l)
        (scale * (supervised + model(x_u).pow(2).mean())).backward()
        return torch.cat([p.grad.flatten() for p in model.parameters()])

    state = torch.Generator().manual_seed(1).get_state()
    one = data.batches(batch_size, torch.Generator().set_state(state))
    ranks = [distributed.ShardedBatches(data.batches(batch_size, torch.Generator().set_state(state)), r, world_size)
             for r in range(world_size)]
    for full, *shares in zip(one.iter_from(0), *(r.iter_from(0) for r in ranks)):
        averaged = sum(grad(batch, scale) for batch, _, scale in shares) / world_size
        torch.testing.assert_close(averaged, grad(full), rtol=1e-5, atol=1e-6)
