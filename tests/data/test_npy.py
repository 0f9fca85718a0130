"""Writing .npy files chunk by chunk: copies of row sources and the codes of a frozen encoder."""

import numpy as np
import pytest
import torch

from layerwise.data.adapters import DatasetRows
from layerwise.data.npy import NpyWriter, write_npy
from layerwise.data.stream import NpyFile
from layerwise.exceptions import DataError
from layerwise.train.inference import encode_to_npy
from layerwise.train.loop import predict_in_batches

from ..conftest import boring_autoencoder


@pytest.fixture
def encoder():
    torch.manual_seed(0)
    return boring_autoencoder().encoder


@pytest.mark.parametrize("kind", ["tensor", "array", "npyfile", "dataset"])
def test_codes_on_disk_equal_codes_in_memory(tmp_path, digits_small, encoder, kind):
    X = digits_small[0]
    np.save(tmp_path / "x.npy", X)
    source = {"tensor": torch.from_numpy(X), "array": X, "npyfile": NpyFile(tmp_path / "x.npy"),
              "dataset": DatasetRows(torch.utils.data.TensorDataset(torch.from_numpy(X)))}[kind]
    expected = predict_in_batches(encoder, torch.from_numpy(X), batch_size=32)
    # chunks a multiple of the batch: the same batches, so bitwise the same codes
    path = encode_to_npy(encoder, source, tmp_path / "codes.npy", chunk_rows=96, batch_size=32)
    assert torch.equal(torch.from_numpy(np.load(path)), expected)
    assert NpyFile(path).shape == (300, 16)
    # any chunking: the same values up to the rounding of differently sized matrix products
    path = encode_to_npy(encoder, source, tmp_path / "codes2.npy", chunk_rows=77)
    assert np.allclose(np.load(path), expected.numpy(), atol=1e-6)


def test_encode_with_a_method_and_4d_codes(tmp_path, digits_small):
    X = torch.from_numpy(digits_small[0]).reshape(-1, 1, 8, 8)
    conv = torch.nn.Conv2d(1, 3, 3, padding=1)
    path = encode_to_npy(conv, X, tmp_path / "maps.npy", chunk_rows=50)
    assert np.load(path).shape == (300, 3, 8, 8)
    ae = boring_autoencoder()
    path = encode_to_npy(ae, X.reshape(300, 64), tmp_path / "codes.npy", method="encode")
    assert np.load(path).shape == (300, 16)


def test_holds_one_chunk_in_memory(tmp_path, digits_small, encoder):
    seen = []

    class Watch(torch.nn.Module):
        def forward(self, x):
            seen.append(len(x))
            return encoder(x)

    encode_to_npy(Watch(), torch.from_numpy(digits_small[0]), tmp_path / "c.npy", chunk_rows=64, batch_size=32)
    assert seen == [32] * 10  # 300 rows: chunks of 64, 64, 64, 64, 44, each in blocks of 32 (the last padded)


def test_a_failed_encoding_leaves_no_file(tmp_path, digits_small):
    class Breaks(torch.nn.Module):
        calls = 0

        def forward(self, x):
            Breaks.calls += 1
            if Breaks.calls == 3:
                raise RuntimeError("boom")
            return x[:, :4]

    with pytest.raises(RuntimeError, match="boom"):
        encode_to_npy(Breaks(), torch.from_numpy(digits_small[0]), tmp_path / "c.npy", chunk_rows=50)
    assert list(tmp_path.iterdir()) == []


def test_write_npy_copies_rows_in_chunks(tmp_path, digits_small):
    X = digits_small[0]
    path = write_npy(torch.from_numpy(X), tmp_path / "copy.npy", chunk_rows=70)
    assert np.array_equal(np.load(path), X)
    with pytest.raises(DataError, match=r"chunk_rows must be a positive integer, e.g. 65536; got 0"):
        write_npy(X, tmp_path / "x.npy", chunk_rows=0)
    with pytest.raises(DataError, match=r"The source has no rows \(shape \(0, 3\)\)"):
        write_npy(np.zeros((0, 3)), tmp_path / "x.npy")
    with pytest.raises(DataError, match=r"Expected rows to read: .*; got list"):
        write_npy([[1.0]], tmp_path / "x.npy")


def test_writer_checks_rows(tmp_path):
    w = NpyWriter(tmp_path / "a.npy", (3, 2))
    w.write(np.ones((2, 2)))
    with pytest.raises(DataError, match=r"2 rows were written to .*a.npy but its header announces 3"):
        w.close()
    assert not (tmp_path / "a.npy").exists() and list(tmp_path.iterdir()) == []
    w = NpyWriter(tmp_path / "b.npy", (3, 2))
    with pytest.raises(DataError, match=r"Rows of shape \(2, 5\) do not fit .*b.npy of shape \(3, 2\) after 0 rows"):
        w.write(np.ones((2, 5)))
