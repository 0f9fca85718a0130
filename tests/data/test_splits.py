"""Seeded, stratified train / validation / test splits."""

import warnings

import numpy as np
import pytest
import torch

from layerwise import ConfigError, DataError
from layerwise.data import read_idx, split


def test_sizes_and_disjoint_cover(digits):
    X, y = digits
    s = split(X, y, val_size=0.1, test_size=0.2)
    assert (len(s.train_index), len(s.val_index), len(s.test_index)) == (1257, 180, 360)  # ceil(0.2 * 1797), ceil(0.1 * 1797)
    assert sorted(np.concatenate([s.train_index, s.val_index, s.test_index]).tolist()) == list(range(1797))
    np.testing.assert_array_equal(s.X_val, X[s.val_index])
    np.testing.assert_array_equal(s.y_test, y[s.test_index])
    assert s.stratified is True


def test_int_sizes_and_empty_parts(digits):
    X, y = digits
    s = split(X, y, val_size=100, test_size=0)
    assert len(s.X_train) == 1697 and len(s.X_val) == 100
    assert s.X_test is None and s.y_test is None and len(s.test_index) == 0
    s = split(X, val_size=0)
    assert len(s.X_train) == 1797 and s.X_val is None and s.y_train is None and s.stratified is False


def test_seeded(digits):
    X, y = digits
    a, b, c = split(X, y, random_state=3), split(X, y, random_state=3), split(X, y, random_state=4)
    np.testing.assert_array_equal(a.val_index, b.val_index)
    assert not np.array_equal(a.val_index, c.val_index)


def test_stratified_on_real_mnist_labels(mnist_dir):
    y = read_idx(mnist_dir / "train-labels-idx1-ubyte.gz").astype(np.int64)
    X = np.arange(len(y))[:, None]  # the split only needs the rows, not the pixels
    s = split(X, y, val_size=0.05, test_size=0.1)
    share = np.bincount(y) / len(y)
    for part in (s.y_train, s.y_val, s.y_test):
        # stratified: each class count is within one row of its expected share
        assert np.abs(np.bincount(part, minlength=10) - share * len(part)).max() <= 1
    np.testing.assert_array_equal(s.X_val[:, 0], s.val_index)


def test_unstratified_when_asked(digits):
    X, y = digits
    s = split(X, y, val_size=0.1, stratify=False)
    share = np.bincount(y) / len(y)
    assert s.stratified is False and np.abs(np.bincount(s.y_val, minlength=10) - share * 180).max() > 1


def test_falls_back_with_a_warning_when_a_class_is_too_small(digits):
    X, y = digits
    y = y.copy()
    y[0] = 99  # a class with one row cannot be in every part
    with pytest.warns(UserWarning, match=r"Could not stratify the test split \(The least populated class(es)? in y (has|have) only 1 member.*\); "
                      r"falling back to an unstratified split.*Pass stratify=False to silence this") as record:
        s = split(X, y, val_size=0.1, test_size=0.1)
    assert len(record) == 1  # one warning, not one per cut
    assert s.stratified is False and (len(s.X_train), len(s.X_val), len(s.X_test)) == (1437, 180, 180)


def test_continuous_targets_are_not_stratified_and_do_not_warn(digits):
    X, _ = digits
    y = np.linspace(0, 1, len(X))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = split(X, y, val_size=0.1)
    assert s.stratified is False and len(s.y_val) == 180


def test_tensors_split_into_tensors(digits):
    X, y = digits
    s = split(torch.from_numpy(X), y, val_size=0.5)
    assert isinstance(s.X_train, torch.Tensor) and torch.equal(s.X_val, torch.from_numpy(X[s.val_index]))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"val_size": 1.0}, r"val_size must be a fraction in \[0, 1\) or a number of rows in \[0, 10\]; got 1\.0"),
    ({"test_size": -1}, r"test_size must be a fraction in \[0, 1\) or a number of rows in \[0, 10\]; got -1"),
    ({"val_size": True}, r"val_size must be .*; got True"),
    ({"val_size": 0.5, "test_size": 5}, r"val_size=0\.5 and test_size=5 take 5 \+ 5 of the 10 rows and leave no training row"),
])
def test_bad_sizes(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        split(np.zeros((10, 2)), **kwargs)


def test_label_length_must_match():
    with pytest.raises(DataError, match=r"y has 9 rows but X has 10; expected one label per row of X"):
        split(np.zeros((10, 2)), np.zeros(9))
