"""``layerwise.data.arrays``: the finiteness check shared by every input path."""

import numpy as np
import pytest
import torch

from layerwise.data.arrays import all_finite

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("as_tensor", [False, True], ids=["numpy", "torch"])
@pytest.mark.parametrize(("values", "expected"), [
    ([[0.0, 1.0], [2.0, -3.0]], True),
    ([[0.0, NAN], [2.0, 3.0]], False),
    ([[NAN, NAN], [NAN, NAN]], False),
    ([[0.0, 1.0], [INF, 3.0]], False),
    ([[0.0, -INF], [2.0, 3.0]], False),
    ([[3e38, -3e38]], True),  # large but finite: the sum would overflow, min and max do not
], ids=["finite", "one-nan", "all-nan", "inf", "minus-inf", "huge-finite"])
def test_all_finite_finds_any_nan_or_infinity(values, expected, as_tensor):
    X = np.asarray(values, dtype=np.float32)
    assert all_finite(torch.from_numpy(X) if as_tensor else X) is expected


def test_all_finite_takes_empty_integer_and_half_inputs():
    assert all_finite(np.zeros((0, 3), np.float32)) and all_finite(torch.zeros(0, 3))
    assert all_finite(np.arange(6).reshape(2, 3)) and all_finite(torch.arange(6).reshape(2, 3))
    assert not all_finite(torch.tensor([[1.0, NAN]], dtype=torch.float16))
