"""Training on a .npy file streamed in chunks matches the same training in memory."""

import numpy as np
import pytest
import torch

from layerwise.data.stream import ChunkedBatches, NpyFile
from layerwise.exceptions import ConfigError, DataError
from layerwise.objectives import Reconstruction
from layerwise.train import Trainer

from ..conftest import boring_autoencoder


def test_chunked_batches_visit_every_row_once(tmp_path, digits_small):
    X = digits_small[0]
    np.save(tmp_path / "x.npy", X)
    batches = ChunkedBatches(NpyFile(tmp_path / "x.npy"), batch_size=32, chunk_rows=100, generator=torch.Generator().manual_seed(0))
    rows = torch.cat([b[0] for b in batches])
    assert rows.shape == (300, 64) and len(batches) == sum(1 for _ in batches)
    assert np.array_equal(np.sort(rows.numpy(), axis=0), np.sort(X, axis=0))
    assert not np.array_equal(rows.numpy(), X)  # shuffled


def test_streamed_training_equals_in_memory_training(tmp_path, digits_small):
    X = digits_small[0]
    np.save(tmp_path / "x.npy", X.astype(np.float64))  # any float dtype on disk; float32 in memory
    weights = []
    for data in (torch.from_numpy(X), NpyFile(tmp_path / "x.npy")):
        torch.manual_seed(0)
        ae = boring_autoencoder()
        Trainer(max_iter=3, batch_size=32, chunk_rows=96, random_state=0).fit(ae, Reconstruction("bce"), (data,))
        weights.append(ae.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_streaming_resumes_mid_epoch(tmp_path, digits_small):
    np.save(tmp_path / "x.npy", digits_small[0])
    f = NpyFile(tmp_path / "x.npy")
    gen = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    full = [b[0] for b in ChunkedBatches(f, 32, 100, gen())]
    tail = [b[0] for b in ChunkedBatches(f, 32, 100, gen()).iter_from(5)]
    assert len(tail) == len(full) - 5 and all(torch.equal(a, b) for a, b in zip(full[5:], tail))


def test_bad_files(tmp_path):
    np.save(tmp_path / "one_d.npy", np.zeros(5))
    with pytest.raises(DataError, match=r"holds a 1-D float64 array of shape \(5,\); streaming needs a C-ordered numeric "
                                        r"array of rows, .* Save a single feature as X.reshape\(-1, 1\)"):
        NpyFile(tmp_path / "one_d.npy")
    images = np.arange(24, dtype=np.float64).reshape(2, 3, 2, 2)  # rows of (channels, height, width): conv codes
    np.save(tmp_path / "four_d.npy", images)
    assert np.array_equal(NpyFile(tmp_path / "four_d.npy").read(1, 2), images[1:].astype(np.float32))
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(DataError, match=r"Cannot read .*junk.npy as a .npy file"):
        NpyFile(tmp_path / "junk.npy")
    np.save(tmp_path / "ok.npy", np.zeros((4, 2), np.float32))
    with pytest.raises(ConfigError, match=r"Streaming in chunks supports unlabeled data \(X,\) only"):
        Trainer(max_iter=1).fit(boring_autoencoder(2, 1), Reconstruction(), (NpyFile(tmp_path / "ok.npy"), torch.zeros(4)))
