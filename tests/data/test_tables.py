"""Tables as tables: the rule that tells a table from pixels, and the per-column preprocessing."""

import json

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.preprocessing import QuantileTransformer

from layerwise.data.tables import TablePreprocessor, is_typed_table, looks_like_table
from layerwise.exceptions import CheckpointError, DataError

pd = pytest.importorskip("pandas")


def _mixed(n=200, seed=0):
    rng = np.random.RandomState(seed)
    return pd.DataFrame({
        "age": rng.normal(40, 10, n),
        "income": rng.lognormal(10, 1.5, n),  # heavy right tail
        "city": rng.choice(["Oslo", "Rome", "Lima"], n),
        "kind": pd.Categorical(rng.choice(["x", "y"], n)),
        "flag": rng.rand(n) > 0.5,
        "const": np.full(n, 7.0),
    })


def _heterogeneous(n=300, seed=0):
    """26 numeric columns of their own units: ages, prices, counts, rates, signed numbers."""
    rng = np.random.RandomState(seed)
    cols = [rng.normal(40, 12, n), rng.lognormal(8, 1, n), rng.poisson(3, n), rng.rand(n), rng.normal(0, 1, n) * 50]
    return np.column_stack([cols[i % 5] * (i + 1) for i in range(26)]).astype(np.float64)


# -- the rule ---------------------------------------------------------------------------------------------------
def test_pixels_are_image_like():
    assert not looks_like_table(load_digits().data)  # 64 = 8 x 8, values 0..16
    assert not looks_like_table(load_digits().data / 16.0)
    pixels = np.random.RandomState(0).randint(0, 256, size=(100, 784)).astype(np.float32)  # MNIST-shaped
    pixels[:, :50] = 0  # a border that is always black
    assert not looks_like_table(pixels)
    assert not looks_like_table(np.random.RandomState(0).rand(50, 3 * 32 * 32))  # CIFAR-shaped, in [0, 1]


def test_tables_are_tables():
    assert looks_like_table(_mixed())
    X = _heterogeneous()
    assert looks_like_table(X)
    assert looks_like_table(pd.DataFrame(X))
    scaled = (X - X.min(axis=0)) / (X.max(axis=0) - X.min(axis=0))  # min-max scaled to [0, 1]: still 26 columns
    assert scaled.min() == 0 and scaled.max() == 1 and looks_like_table(scaled)
    assert looks_like_table(np.array([["a", "b"], ["c", "d"]]))
    assert looks_like_table(np.array([[1.0, "a"], [2.0, "b"]], dtype=object))


def test_pixel_width_with_table_values_is_a_table():
    """A width of c*s*s is not enough: negative values, or columns with ranges of their own, make a table."""
    rng = np.random.RandomState(0)
    assert looks_like_table(rng.randn(100, 64))  # negative values
    ranges = np.logspace(0, 6, 64)  # 64 columns, each with its own scale: most far below the largest
    assert looks_like_table(rng.rand(100, 64) * ranges)
    assert not looks_like_table(rng.rand(100, 64) * 255)


def test_typed_tables_need_non_numeric_columns():
    assert is_typed_table(_mixed())
    assert not is_typed_table(pd.DataFrame({"a": [1.0, 2.0], "b": [3, 4]}))
    assert not is_typed_table(np.zeros((3, 2)))
    assert not is_typed_table(np.array([[1.0, 2.0]], dtype=object))
    assert not looks_like_table(np.zeros(5)) and not looks_like_table(np.zeros((5, 8, 8)))  # not rows


# -- the preprocessor -------------------------------------------------------------------------------------------
def test_each_column_gets_its_encoding():
    df = _mixed()
    pre = TablePreprocessor().fit(df)
    kinds = {c["name"]: c["kind"] for c in pre.columns_}
    assert kinds == {"age": "standard", "income": "quantile", "city": "onehot", "kind": "onehot", "flag": "onehot",
                     "const": "constant"}
    assert list(pre.get_feature_names_out()) == ["age", "income", "city_Lima", "city_Oslo", "city_Rome", "kind_x", "kind_y",
                                                 "flag_False", "flag_True", "const"]
    Z = pre.transform(df)
    assert Z.dtype == np.float32 and Z.shape == (len(df), pre.n_features_out_) == (200, 10)
    assert abs(Z[:, 0].mean()) < 1e-5 and abs(Z[:, 0].std() - 1) < 1e-4  # standardised
    assert abs(Z[:, 1].mean()) < 0.1 and abs(Z[:, 1].std() - 1) < 0.2  # normal, despite the long tail
    assert np.array_equal(Z[:, 2:5].sum(axis=1), np.ones(200))  # one category per row
    assert (Z[:, 9] == 0).all()  # constant
    assert pre.n_features_in_ == 6 and list(pre.feature_names_in_) == list(df.columns)


def test_heavy_tails_follow_scikit_learns_quantile_transformer():
    rng = np.random.RandomState(0)
    x = np.r_[rng.lognormal(0, 2, 3000), 1e6]
    pre = TablePreprocessor().fit(x[:, None])
    assert pre.columns_[0]["kind"] == "quantile"
    qt = QuantileTransformer(n_quantiles=1000, output_distribution="normal", subsample=10_000, random_state=0).fit(x[:, None])
    new = np.r_[x[:100], -5.0, 0.0, 1e9, np.median(x)][:, None]  # beyond both ends too
    np.testing.assert_allclose(pre.transform(new), qt.transform(new).astype(np.float32), rtol=0, atol=1e-6)
    # the rule: a normal column, or a binary one (however skewed), is standardised
    assert TablePreprocessor().fit(rng.randn(5000, 1)).columns_[0]["kind"] == "standard"
    rare = (rng.rand(5000) < 0.01).astype(float)[:, None]
    assert TablePreprocessor().fit(rare).columns_[0]["kind"] == "standard"
    # one extreme value among normal ones: |z| > 10
    spike = np.r_[rng.randn(2000), 40.0][:, None]
    assert TablePreprocessor().fit(spike).columns_[0]["kind"] == "quantile"
    assert TablePreprocessor(z_threshold=100, skew_threshold=100).fit(spike).columns_[0]["kind"] == "standard"


def test_unknown_categories_are_all_zeros():
    df = pd.DataFrame({"city": ["Oslo", "Rome", "Oslo"], "n": [1.0, 2.0, 3.0]})
    pre = TablePreprocessor().fit(df)
    Z = pre.transform(pd.DataFrame({"city": ["Paris", "Rome", None], "n": [2.0, 2.0, 2.0]}))
    assert Z[:, :2].tolist() == [[0, 0], [0, 1], [0, 0]]  # unseen, and missing when fit saw none


def test_missing_values():
    df = pd.DataFrame({"n": [1.0, np.nan, 3.0, 10.0], "c": ["a", None, "b", np.nan],
                       "i": pd.array([1, None, 3, 5], dtype="Int64"), "s": pd.array(["u", pd.NA, "v", "u"], dtype="string")})
    pre = TablePreprocessor().fit(df)
    spec = {c["name"]: c for c in pre.columns_}
    assert spec["n"]["fill"] == 3.0 and spec["i"]["fill"] == 3.0  # medians of the seen values
    assert spec["c"]["missing"] and spec["c"]["categories"] == ["a", "b"] and spec["s"]["missing"]
    Z = pre.transform(df)
    names = list(pre.get_feature_names_out())
    assert names == ["n", "c_a", "c_b", "c_nan", "i", "s_u", "s_v", "s_nan"]
    n_std = (3.0 - spec["n"]["mean"]) / spec["n"]["std"]
    assert Z[1, 0] == pytest.approx(n_std, abs=1e-6)  # NaN -> the median, then standardised
    assert Z[:, 3].tolist() == [0, 1, 0, 1]  # None and NaN: the missing category
    assert Z[1, 7] == 1 and not np.isnan(Z).any()
    # a missing number never seen in fit is still filled
    assert not np.isnan(TablePreprocessor().fit(df[["n"]].dropna()).transform(df[["n"]])).any()
    with pytest.raises(DataError, match=r"Input X contains infinity in column 'n'"):
        pre.transform(df.assign(n=[np.inf, 1.0, 2.0, 3.0]))


def test_json_round_trip_gives_the_same_encoding():
    df = _mixed()
    pre = TablePreprocessor().fit(df)
    state = pre.to_dict()
    text = json.dumps(state)  # JSON values only: no NumPy scalars, no pickles
    again = TablePreprocessor.from_dict(json.loads(text))
    assert np.array_equal(again.transform(df), pre.transform(df))
    assert list(again.get_feature_names_out()) == list(pre.get_feature_names_out())
    assert state["format"] == "layerwise.table" and state["version"] == 1
    assert {c["kind"] for c in state["columns"]} == {"standard", "quantile", "onehot", "constant"}
    with pytest.raises(CheckpointError, match="incomplete or damaged"):
        TablePreprocessor.from_dict({**state, "columns": state["columns"][:2]})
    with pytest.raises(CheckpointError, match="incomplete or damaged"):
        TablePreprocessor.from_dict({"format": "something else"})


def test_columns_by_name_or_by_position():
    df = _mixed()
    pre = TablePreprocessor().fit(df)
    assert np.array_equal(pre.transform(df[df.columns[::-1]]), pre.transform(df))  # reordered: matched by name
    with pytest.raises(DataError, match=r"X lacks the column\(s\) \['city'\]"):
        pre.transform(df.drop(columns="city"))
    arr = TablePreprocessor().fit(np.array([[1.0, "a"], [2.0, "b"], [4.0, "a"]], dtype=object))
    assert [c["kind"] for c in arr.columns_] == ["standard", "onehot"]
    assert arr.transform(np.array([[2.0, "b"]], dtype=object)).tolist() == [[pytest.approx((2 - 7 / 3) / np.sqrt(14 / 9)), 0.0, 1.0]]
    with pytest.raises(DataError, match=r"X has 1 columns, but the table preprocessing was fitted on 2"):
        arr.transform(np.zeros((2, 1)))


def test_numeric_arrays_need_no_pandas(monkeypatch):
    """pandas is not a dependency: arrays are encoded without it."""
    import sys

    X = _heterogeneous()
    monkeypatch.setitem(sys.modules, "pandas", None)
    pre = TablePreprocessor().fit(X)
    assert pre.transform(X).shape == (300, 26)
    pre = TablePreprocessor().fit(np.array([[1.0, "a", None], [2.0, None, None]], dtype=object))
    assert [c["kind"] for c in pre.columns_] == ["standard", "onehot", "constant"] and pre.n_features_out_ == 4
