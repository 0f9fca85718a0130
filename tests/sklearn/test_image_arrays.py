"""Arrays of images, (n, c, h, w), (n, h, w) or (n, h, w, c): flat rows that keep their shape, and never a table."""

import numpy as np
import pytest
import torch

from layerwise import PretrainedClassifier, StackedAutoencoder
from layerwise.sklearn._inputs import image_rows

FAST = dict(hidden_layer_sizes=(8,), max_iter=2, pretrain_max_iter=1, random_state=0)


@pytest.fixture(scope="module")
def images():
    """60 grey 4x3 images in [0, 1]: 12 pixels, a width no square image has, so the rows alone look like a table."""
    rng = np.random.default_rng(0)
    return rng.random((60, 1, 4, 3)).astype(np.float32), np.arange(60) % 2


@pytest.mark.parametrize("layout, expected", [((60, 4, 3), (1, 4, 3)), ((60, 1, 4, 3), (1, 4, 3)), ((60, 3, 5, 6), (3, 5, 6)),
                                              ((60, 5, 6, 3), (3, 5, 6)), ((60, 12), None)])
def test_image_rows_reads_each_layout(layout, expected):
    X = np.arange(np.prod(layout), dtype=np.float32).reshape(layout)
    found = image_rows(X)
    if expected is None:
        assert found is None
        return
    rows, shape = found
    assert shape == expected and rows.shape == (60, int(np.prod(expected)))
    channels_first = np.moveaxis(X, 3, 1) if len(layout) == 4 and layout[1] > 4 else X.reshape(60, *expected)
    assert np.array_equal(rows, channels_first.reshape(60, -1))  # channel by channel, as an image folder's rows
    assert np.array_equal(image_rows(torch.from_numpy(X))[0], rows)


def test_an_array_of_images_is_never_taken_for_a_table(images):
    X, y = images
    flat = PretrainedClassifier(**FAST).fit(X.reshape(60, -1), y)
    assert flat.preprocessor_ is not None  # 12 columns alone: a table, encoded column by column
    clf = PretrainedClassifier(**FAST).fit(X, y)
    assert clf.preprocessor_ is None and clf._input_image_shape == (1, 4, 3) and clf.n_features_in_ == 12
    expected = clf.predict_proba(X.reshape(60, -1))
    for rows in (X, torch.from_numpy(X), X.reshape(60, 4, 3)):  # any layout of the same pixels predicts the same
        assert np.array_equal(clf.predict_proba(rows), expected)
    sae = StackedAutoencoder((8,), max_iter=1, random_state=0).fit(X)
    assert sae.preprocessor_ is None and sae.reconstruct(X).shape == (60, 12)  # decodable: not a table's encoding


def test_unlabeled_images_in_an_array_train_the_ladder_on_a_cpu(images):
    X, y = images
    y = np.where(np.arange(60) < 20, y, -1)
    clf = PretrainedClassifier(max_iter=1, random_state=0, device="cpu").fit(X, y)
    assert clf.semi_supervised_ == "ladder"  # images: a dense ladder on a CPU (the conv ladder on a GPU)
