"""Shared fixtures: seeds, tiny real data, and a boring autoencoder."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

MNIST_DIR = Path(os.environ.get("LAYERWISE_MNIST_DIR", Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"))


@pytest.fixture(autouse=True)
def _seed():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's digits scaled to [0, 1]: X (1797, 64) float32, y (1797,)."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


@pytest.fixture(scope="session")
def digits_small(digits):
    """The first 300 digits."""
    X, y = digits
    return X[:300], y[:300]


@pytest.fixture(scope="session")
def mnist_dir():
    if not (MNIST_DIR / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real MNIST files not found in {MNIST_DIR}")
    return MNIST_DIR


def boring_autoencoder(n_in: int = 64, n_hidden: int = 16, output: str = "logistic"):
    """A small dense autoencoder used across tests."""
    from layerwise.nn import dense_autoencoder

    return dense_autoencoder(n_in, n_hidden, activation="relu", output=output)


@pytest.fixture
def figures(monkeypatch):
    """Every matplotlib figure :mod:`layerwise.viz` saves (the PNG is still written), to check what it shows:
    its axes, the lines, bars, points and images drawn, the titles, labels and legends."""
    from layerwise import viz

    saved = []
    real = viz._save

    def keep(fig, path):
        saved.append(fig)
        return real(fig, path)

    monkeypatch.setattr(viz, "_save", keep)
    return saved


def assert_png_shows_a_picture(path, min_size: tuple[int, int] = (200, 150), min_colours: int = 16) -> None:
    """``path`` is a PNG of at least ``min_size`` (width, height) pixels in more than ``min_colours`` colours: something
    was drawn (text, lines, images), not a blank or single-colour canvas. A few milliseconds per file."""
    from PIL import Image

    with Image.open(path) as im:
        assert im.format == "PNG", (path, im.format)
        assert im.width >= min_size[0] and im.height >= min_size[1], (path, im.size)
        colours = im.convert("RGB").getcolors(maxcolors=min_colours + 1)  # None: more colours than that
        assert colours is None, f"{path} has only {len(colours)} colours: a blank picture?"
