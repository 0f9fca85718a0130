"""Greedy pretraining on data read from disk or a dataset: rows and codes streamed in chunks, codes in files."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import layerwise.pipeline.greedy as greedy_mod
from layerwise.data import DatasetRows, NpyFile
from layerwise.exceptions import DataError
from layerwise.pipeline.greedy import GreedyLayerwise
from layerwise.train import Trainer


def _greedy(**kw):
    return GreedyLayerwise((16, 8), trainer=Trainer(max_iter=2, batch_size=32, chunk_rows=96, random_state=0), **kw)


def test_an_npy_file_trains_like_the_same_rows_in_memory(tmp_path, digits_small):
    """The issue's failure: GreedyLayerwise.fit(NpyFile(...)) said "X must be numeric; got an array of dtype object"."""
    X = digits_small[0]
    np.save(tmp_path / "x.npy", X)
    in_memory = _greedy().fit(torch.from_numpy(X))
    streamed = _greedy(checkpoint_dir=tmp_path / "ckpt")
    stack = streamed.fit(NpyFile(tmp_path / "x.npy"))
    assert streamed.first_loss_ == "bce"  # the [0, 1] check ran over the file, chunk by chunk
    for (name, a), b in zip(in_memory.state_dict().items(), stack.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)  # same batches; codes in other batch sizes
    assert list((tmp_path / "ckpt" / "codes").iterdir()) == []  # the code files are gone once used


def test_codes_of_streamed_rows_go_to_a_file_not_to_memory(tmp_path, digits_small, monkeypatch):
    written, predicted = [], []
    real_encode = greedy_mod.encode_to_npy
    monkeypatch.setattr(greedy_mod, "encode_to_npy", lambda *a, **k: written.append(a[2]) or real_encode(*a, **k))
    monkeypatch.setattr(Trainer, "predict", lambda self, *a, **k: predicted.append(a))
    X = digits_small[0]
    np.save(tmp_path / "x.npy", X)
    _greedy().fit(DatasetRows(TensorDataset(torch.from_numpy(X))))
    assert predicted == [] and [p.name for p in written] == ["codes_layer_1.npy"]
    assert not written[0].exists() and not written[0].parent.exists()  # the temporary folder is removed


def test_a_dataset_or_data_loader_is_read_into_memory_when_small(digits_small):
    X, y = (torch.from_numpy(a) for a in digits_small)
    expected = _greedy().fit(X)
    for data in (TensorDataset(X, y), DataLoader(TensorDataset(X), batch_size=50)):
        stack = _greedy().fit(data)
        assert all(torch.equal(a, b) for a, b in zip(expected.state_dict().values(), stack.state_dict().values()))


def test_streamed_rows_are_checked(tmp_path, digits_small):
    np.save(tmp_path / "wide.npy", digits_small[0] * 16)
    with pytest.raises(DataError, match=r"loss='bce' needs inputs in \[0, 1\]; got values in \[0, 16\]"):
        _greedy(loss="bce").fit(NpyFile(tmp_path / "wide.npy"))
    with pytest.raises(DataError, match=r"X_val is streamed \(NpyFile\(.*wide.npy', shape=\(300, 64\)\)\); validation rows "
                                        r"are held in memory"):
        _greedy().fit(torch.from_numpy(digits_small[0]), X_val=NpyFile(tmp_path / "wide.npy"))
