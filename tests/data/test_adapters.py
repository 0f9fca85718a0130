"""Datasets and data loaders as trainer inputs: read into tensors, or streamed like a .npy file."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset

from layerwise.data.adapters import DatasetRows, as_training_data, is_torch_data, materialize
from layerwise.data.images import ImageFolder
from layerwise.exceptions import DataError
from layerwise.objectives import Reconstruction
from layerwise.train import Trainer

from ..conftest import boring_autoencoder


class Pairs(Dataset):
    """Items (x as a numpy array, y as an int): what many user datasets return."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], int(self.y[i])


class Stream(IterableDataset):
    def __init__(self, X):
        self.X = X

    def __iter__(self):
        return iter(torch.from_numpy(self.X))


def test_materialize_a_dataset_keeps_order_and_labels(digits_small):
    X, y = digits_small
    Xt, yt = materialize(Pairs(X, y), batch_size=64)
    assert Xt.dtype == torch.float32 and torch.equal(Xt, torch.from_numpy(X)) and yt.tolist() == y.tolist()
    Xt, yt = materialize(TensorDataset(torch.from_numpy(X)))  # items (x,): no labels
    assert yt is None and Xt.shape == (300, 64)
    Xt, yt = materialize(Stream(X[:50]))  # no len(): collected, then concatenated
    assert torch.equal(Xt, torch.from_numpy(X[:50])) and yt is None


def test_materialize_a_loader_as_it_is(digits_small):
    X, y = digits_small
    loader = DataLoader(Pairs(X, y), batch_size=32, shuffle=True, drop_last=True)
    Xt, yt = materialize(loader)
    assert Xt.shape == (288, 64)  # drop_last: 9 full batches
    rows = {tuple(r): int(label) for r, label in zip(X.tolist(), y)}
    assert all(rows[tuple(r)] == int(label) for r, label in zip(Xt.tolist(), yt))  # labels stay with their rows
    with pytest.raises(DataError, match=r"The DataLoader shuffles \(shuffle=True\).*Pass its dataset, or a DataLoader with shuffle=False"):
        materialize(loader, ordered=True)


def test_materialize_refuses_what_it_cannot_read():
    with pytest.raises(DataError, match=r"yields 3 values per item; expected x, \(x,\) or \(x, y\)"):
        materialize(TensorDataset(torch.zeros(4, 2), torch.zeros(4), torch.zeros(4)))
    with pytest.raises(DataError, match=r"The TensorDataset yielded no items"):
        materialize(TensorDataset(torch.zeros(0, 2)))
    with pytest.raises(DataError, match=r"Expected a torch.utils.data.Dataset or DataLoader; got ndarray"):
        materialize(np.zeros((3, 2)))
    ragged = [torch.zeros(2), torch.zeros(3)]
    with pytest.raises(DataError, match=r"items differ in shape: \(2,\) first, then \(3,\) at row 1"):
        materialize(_ListDataset(ragged), batch_size=1)


class _ListDataset(Dataset):
    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def test_dataset_rows_reads_ranges_like_a_file(digits_small):
    X, y = digits_small
    rows = DatasetRows(Pairs(X, y), batch_size=7)
    assert rows.shape == (300, 64) and len(rows) == 300
    assert np.array_equal(rows.read(10, 25), X[10:25]) and torch.equal(rows[290:400], torch.from_numpy(X[290:]))
    with pytest.raises(DataError, match=r"DatasetRows needs a map-style dataset"):
        DatasetRows(Stream(X))
    with pytest.raises(DataError, match=r"read by row ranges"):
        rows[3]


def test_streaming_a_dataset_equals_streaming_its_tensor(digits_small):
    """The chunked path of the trainer, fed by a Dataset, trains bitwise like the same rows in memory."""
    X, y = digits_small
    weights = []
    for data in (torch.from_numpy(X), DatasetRows(Pairs(X, y))):
        torch.manual_seed(0)
        ae = boring_autoencoder()
        Trainer(max_iter=2, batch_size=32, chunk_rows=96, random_state=0).fit(ae, Reconstruction("bce"), (data,))
        weights.append(ae.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_as_training_data_chooses_memory_or_streaming(digits_small, tmp_path):
    X, y = digits_small
    Xt, yt = as_training_data(Pairs(X, y))
    assert isinstance(Xt, torch.Tensor) and yt.tolist() == y.tolist()
    big, labels = as_training_data(Pairs(X, y), max_bytes=1000)
    assert isinstance(big, DatasetRows) and labels is None  # Pairs has no targets attribute
    from PIL import Image

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / name / "1.png")
    rows, targets = as_training_data(ImageFolder(tmp_path), max_bytes=10)
    assert isinstance(rows, DatasetRows) and rows.shape == (2, 1, 4, 4) and targets.tolist() == [0, 1]
    assert is_torch_data(ImageFolder(tmp_path)) and not is_torch_data(X)
