"""Property-based tests: any input either works or fails with the library's own error.

Hypothesis generates small arrays of every dtype (int, float16/32/64, bool,
object, strings), with NaN and infinity, 0..20 rows and 0..5 features, and
labels of random types and lengths. The data checks, ``load_file``, ``split``
and the estimators must either succeed with the promised result or raise a
:class:`~layerwise.exceptions.LayerwiseError`, never a raw numpy, torch or
Python error.

One exception is allowed, on purpose: a classifier given labels that are not
classes (continuous floats, ``None`` in an object array) raises scikit-learn's
``ValueError("Unknown label type: ...")``. scikit-learn's common estimator
check ``check_classifiers_regression_target`` pins that exact message, and the
estimators pass those checks (``tests/sklearn/test_common.py``), so the message
stays scikit-learn's. It is still a ``ValueError``, as ``DataError`` is.

Label kinds that currently escape as other errors (2-D, NaN or inf, strings
mixed with numbers) are left out of the generated labels and listed in
``test_classifier_refuses_the_label_kinds_left_out_above`` (see
``docs/reliability.md``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from layerwise import PretrainedClassifier, PretrainedRegressor, StackedAutoencoder
from layerwise.data import check_X, load_file, split
from layerwise.exceptions import ConfigError, DataError, LayerwiseError

SETTINGS = settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
TINY = dict(hidden_layer_sizes=(4,), pretrain_max_iter=1, max_iter=1, random_state=0, device="cpu")
NUMERIC = [np.int8, np.int64, np.uint8, np.float16, np.float32, np.float64, np.bool_]


def _floats_with_specials(dtype):
    """Elements of ``dtype``; floats include NaN and +-inf now and then."""
    kind = np.dtype(dtype).kind
    if kind == "f":
        width = np.dtype(dtype).itemsize * 8
        return st.floats(-1e3, 1e3, width=width, allow_subnormal=False) | st.sampled_from([np.nan, np.inf, -np.inf])
    if kind in "iu":  # magnitudes a feature can have; 1e300 and the like are in test_reliability.py
        info = np.iinfo(dtype)
        return st.integers(max(int(info.min), -1000), min(int(info.max), 1000))
    return hnp.from_dtype(np.dtype(dtype))


@st.composite
def arrays(draw, max_rows=20, max_cols=5, ndims=(1, 2, 3)):
    """Small arrays of any numeric dtype, sometimes as object arrays or strings, of 1 to 3 dimensions."""
    ndim = draw(st.sampled_from(ndims))
    shape = (draw(st.integers(0, max_rows)),) + tuple(draw(st.integers(0, max_cols)) for _ in range(ndim - 1))
    dtype = draw(st.sampled_from(NUMERIC))
    arr = draw(hnp.arrays(dtype, shape, elements=_floats_with_specials(dtype)))
    kind = draw(st.sampled_from(["as is", "as is", "as is", "object", "strings"]))
    if kind == "object":
        arr = arr.astype(object)
    elif kind == "strings":
        arr = arr.astype(str)
    return arr


def _expected_ok(arr: np.ndarray, ndims=(2,)) -> bool:
    """What check_X should accept: numbers, the right ndim, a row and a feature, all finite in float32."""
    if arr.dtype.kind not in "biufO" or arr.ndim not in ndims or arr.shape[0] < 1 or 0 in arr.shape[1:]:
        return False
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(arr.astype(np.float64).astype(np.float32)).all())


# -- layerwise.data.check_X --------------------------------------------------------------------

@SETTINGS
@given(arr=arrays())
def test_check_X_returns_finite_float32_or_raises_data_error(arr):
    try:
        out = check_X(arr)
    except DataError:
        assert not _expected_ok(arr)
        return
    assert _expected_ok(arr)
    assert out.dtype == np.float32 and out.flags.c_contiguous and out.shape == arr.shape
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out, arr.astype(np.float64).astype(np.float32))


@SETTINGS
@given(arr=arrays(ndims=(1, 2, 3, 4)), min_samples=st.integers(1, 3))
def test_check_X_dimensions_and_row_count(arr, min_samples):
    try:
        out = check_X(arr, ndim=(2, 3, 4), min_samples=min_samples)
    except DataError as e:
        assert not _expected_ok(arr, (2, 3, 4)) or arr.shape[0] < min_samples, e
        return
    assert out.shape == arr.shape and arr.shape[0] >= min_samples


# -- layerwise.data.load_file ------------------------------------------------------------------

@SETTINGS
@given(arr=arrays(ndims=(1, 2, 3)), scale=st.sampled_from([None, "auto", "minmax"]))
def test_load_file_npy(tmp_path_factory, arr, scale):
    assume(arr.dtype.kind != "O")  # np.save of an object array needs pickle, which load_file refuses (tested below)
    path = tmp_path_factory.mktemp("npy") / "data.npy"
    np.save(path, arr)
    try:
        d = load_file(path, scale=scale)
    except DataError:
        flat = arr.reshape(len(arr), int(np.prod(arr.shape[1:]))) if arr.ndim >= 3 else arr
        assert not _expected_ok(flat)
        return
    assert d.X.dtype == np.float32 and len(d.X) == len(arr) and np.isfinite(d.X).all() and d.y is None
    assert d.image_shape == (arr.shape[1:] if arr.ndim >= 3 else None)
    if scale is None:
        np.testing.assert_array_equal(d.X, arr.reshape(len(arr), -1).astype(np.float64).astype(np.float32))
    else:  # scaled to [0, 1], or already there
        assert d.X.min() >= 0 and d.X.max() <= 1


def test_load_file_never_unpickles_an_object_npy(tmp_path):
    np.save(tmp_path / "o.npy", np.array([[1.0, 2.0]], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match=r"Object arrays cannot be loaded when allow_pickle=False"):
        load_file(tmp_path / "o.npy")


cells = st.one_of(
    st.floats(-100, 100, allow_subnormal=False).map(repr),
    st.integers(-5, 5).map(str),
    st.sampled_from(["", "nan", "inf", "-inf", " 1.5 ", "red", "1e400"]),
)


@SETTINGS
@given(n_rows=st.integers(0, 8), n_cols=st.integers(1, 4), data=st.data(), label=st.sampled_from([None, "first", "last", "index", "missing"]))
def test_load_file_csv(tmp_path_factory, n_rows, n_cols, data, label):
    rows = [[data.draw(cells) for _ in range(n_cols)] for _ in range(n_rows)]
    header = [f"c{j}" for j in range(n_cols)]
    path = tmp_path_factory.mktemp("csv") / "data.csv"
    path.write_text("\n".join(",".join(r) for r in [header] + rows) + "\n")
    label_column = {None: None, "first": "c0", "last": header[-1], "index": -1, "missing": "label"}[label]
    try:
        d = load_file(path, label_column=label_column, scale=None)
    except LayerwiseError as e:
        assert isinstance(e, (DataError, ConfigError))
        return
    n_features = n_cols - (label_column is not None)
    n_rows = sum(1 for r in rows if ",".join(r))  # a blank line (one empty cell in a 1-column file) is skipped
    assert d.X.shape == (n_rows, n_features) and d.X.dtype == np.float32 and np.isfinite(d.X).all()
    assert d.feature_names == [h for h in header if label_column is None or h != header[0 if label == "first" else -1]]
    if label_column is not None:
        assert len(d.y) == n_rows and (d.y.dtype.kind in "ifU")
    assert label != "missing"


# -- layerwise.data.split ----------------------------------------------------------------------

sizes = st.one_of(st.floats(0, 0.99, allow_subnormal=False), st.integers(-1, 25), st.sampled_from([1.0, 1.5, float("nan"), True, "0.1"]))
labels = st.one_of(
    st.lists(st.integers(-1, 3)),
    st.lists(st.sampled_from(["cat", "dog"])),
    st.lists(st.floats(-1, 1, allow_subnormal=False)),
    st.lists(st.booleans()),
)


@SETTINGS
@given(n=st.integers(0, 20), val_size=sizes, test_size=sizes, y=st.none() | labels, stratify=st.booleans(), seed=st.integers(0, 3))
def test_split_partitions_the_rows_or_raises(n, val_size, test_size, y, stratify, seed):
    X = np.arange(2 * n, dtype=np.float32).reshape(n, 2)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the documented fallback to an unstratified split
            s = split(X, y, val_size=val_size, test_size=test_size, stratify=stratify, random_state=seed)
    except LayerwiseError as e:
        assert isinstance(e, (ConfigError, DataError))
        if y is not None and len(y) != n:
            assert isinstance(e, DataError)
        return
    assert y is None or len(y) == n
    parts = [s.train_index, s.val_index, s.test_index]
    assert sorted(np.concatenate(parts).tolist()) == list(range(n))  # disjoint and complete
    assert len(s.train_index) >= 1
    for name, index in zip(("train", "val", "test"), parts):
        got = s[f"X_{name}"]
        if len(index):
            np.testing.assert_array_equal(got, X[index])
            if y is not None:
                np.testing.assert_array_equal(s[f"y_{name}"], np.asarray(y)[index])
        else:
            assert got is None and s[f"y_{name}"] is None
    again = split(X, y, val_size=val_size, test_size=test_size, stratify=False, random_state=seed) if not stratify else None
    if again is not None:  # seeded: the same parts again
        assert all(np.array_equal(a, b) for a, b in zip(parts, [again.train_index, again.val_index, again.test_index]))


# -- estimators --------------------------------------------------------------------------------

@st.composite
def valid_X(draw):
    """(2..20, 1..5) finite numbers of any numeric dtype, sometimes in an object array."""
    shape = (draw(st.integers(2, 20)), draw(st.integers(1, 5)))
    dtype = draw(st.sampled_from(NUMERIC))
    finite = st.floats(-1e3, 1e3, width=np.dtype(dtype).itemsize * 8, allow_subnormal=False) if np.dtype(dtype).kind == "f" else _floats_with_specials(dtype)
    arr = draw(hnp.arrays(dtype, shape, elements=finite))
    return arr.astype(object) if draw(st.booleans()) and draw(st.booleans()) else arr


def estimator_X():
    """Valid arrays two times in three; otherwise anything: 0..20 rows, 0..5 features, 1-3 dims, NaN/inf, strings."""
    return st.one_of(valid_X(), valid_X(), arrays(max_rows=20, max_cols=5, ndims=(2, 2, 1, 3)))


def class_labels(n):
    """Labels of random types, the right length or not: ints, -1 (unlabeled), strings, bools, objects."""
    length = st.one_of(st.just(n), st.just(n), st.integers(0, 22))  # mostly the right length
    return st.one_of(
        length.flatmap(lambda k: st.lists(st.integers(-1, 3), min_size=k, max_size=k)),
        length.flatmap(lambda k: st.lists(st.sampled_from(["cat", "dog", "emu"]), min_size=k, max_size=k)),
        length.flatmap(lambda k: st.lists(st.booleans(), min_size=k, max_size=k)),
        length.flatmap(lambda k: st.lists(st.floats(-3, 3, allow_subnormal=False), min_size=k, max_size=k)),  # continuous: not classes
        length.flatmap(lambda k: st.lists(st.sampled_from([0.0, 1.0, 2.0]), min_size=k, max_size=k)),
        length.flatmap(lambda k: st.lists(st.sampled_from([1, None]), min_size=k, max_size=k)).map(lambda v: np.array(v, dtype=object)),
        st.none(),
    )


def _check_outcome(fit, allow_label_type=False):
    """Run ``fit``: ``(estimator, None)``, or ``(None, error)`` for an allowed error; any other error fails the test."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = fit()
    except LayerwiseError as e:
        event(f"refused: {type(e).__name__}")
        return None, e
    except ValueError as e:
        if allow_label_type and str(e).startswith("Unknown label type"):
            event("refused: Unknown label type")
            return None, e
        raise
    event("fitted")
    return est, None


@SETTINGS
@given(X=estimator_X(), data=st.data())
def test_classifier_fits_or_raises_a_layerwise_error(X, data):
    y = data.draw(class_labels(len(X)))
    clf, _ = _check_outcome(lambda: PretrainedClassifier(**TINY).fit(X, y), allow_label_type=True)
    if clf is None:
        return
    y = np.asarray(y)
    assert len(y) == len(X) and X.ndim in (2, 3, 4)  # rows, or an array of images (flattened by the estimator)
    pred = clf.predict(X)
    assert pred.shape == (len(X),) and set(pred.tolist()) <= set(clf.classes_.tolist())
    assert -1 not in clf.classes_.tolist() and len(clf.classes_) >= 2
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), len(clf.classes_)) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)


@SETTINGS
@given(X=estimator_X(), data=st.data())
def test_regressor_fits_or_raises_a_layerwise_error(X, data):
    n = len(X)
    length = st.one_of(st.just(n), st.just(n), st.integers(0, 22))
    y = data.draw(st.one_of(
        length.flatmap(lambda k: hnp.arrays(np.float64, k, elements=_floats_with_specials(np.float64))),
        length.flatmap(lambda k: hnp.arrays(np.float64, (k, 2), elements=st.floats(-5, 5, allow_subnormal=False))),
        length.flatmap(lambda k: st.lists(st.sampled_from(["1.5", "x"]), min_size=k, max_size=k)),
        length.flatmap(lambda k: st.lists(st.booleans(), min_size=k, max_size=k)),
        st.none(),
    ))
    reg, _ = _check_outcome(lambda: PretrainedRegressor(**TINY).fit(X, y))
    if reg is None:
        return
    pred = reg.predict(X)
    assert pred.shape == np.asarray(y, dtype=np.float64).shape and np.isfinite(pred).all()


@SETTINGS
@given(X=estimator_X())
def test_stacked_autoencoder_fits_or_raises_a_layerwise_error(X):
    sae, error = _check_outcome(lambda: StackedAutoencoder((4,), max_iter=1, random_state=0, device="cpu").fit(X))
    if sae is None:  # a valid X of two rows or more must not be refused
        assert not (_expected_ok(X) and len(X) >= 2), error
        return
    # 2-D rows, or an array of images ((n, h, w), (n, c, h, w)), which the estimators flatten
    assert (X.ndim == 2 and X.shape[1] >= 1 or X.ndim in (3, 4)) and len(X) >= 2
    codes = sae.transform(X)
    assert codes.shape == (len(X), 4) and codes.dtype == np.float32 and np.isfinite(codes).all()
    assert sae.inverse_transform(codes).shape == X.reshape(len(X), -1).shape


@pytest.mark.parametrize("y", [
    np.c_[np.arange(12) % 2, np.arange(12) % 2],
    np.where(np.arange(12) % 2, 1.0, np.nan),
    np.where(np.arange(12) % 2, 1.0, np.inf),
    np.array(["a", 1] * 6, dtype=object),
], ids=["2-D", "NaN", "inf", "str and int"])
def test_classifier_refuses_the_label_kinds_left_out_above(y):
    """2-D labels, NaN, inf, strings mixed with numbers: each is refused with the library's DataError."""
    X = np.random.RandomState(0).rand(12, 3)
    with pytest.raises(DataError):
        PretrainedClassifier(**TINY).fit(X, y)
