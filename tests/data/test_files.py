"""Datasets from .npy / .npz / .csv files: round trips on real MNIST rows, errors, stated scaling."""

import numpy as np
import pytest
from sklearn.preprocessing import MinMaxScaler

from layerwise import ConfigError, DataError, load_dataset
from layerwise.data import load_file, read_idx


@pytest.fixture(scope="module")
def mnist_rows(mnist_dir):
    """The first 600 real MNIST test images (600, 28, 28) uint8 and their labels (600,) uint8."""
    images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")[:600]
    labels = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")[:600]
    return images, labels


def test_npy_features_only_round_trip(mnist_rows, tmp_path):
    X = mnist_rows[0].reshape(600, -1).astype(np.float32) / 255
    np.save(tmp_path / "x.npy", X)
    d = load_dataset(tmp_path / "x.npy")
    np.testing.assert_array_equal(d.X, X)
    assert d.X.dtype == np.float32 and d.y is None and d.X_test is None and d.y_test is None
    assert d.image_shape is None and d.name == "x.npy" and d.scaling == "none: values already in [0, 1]"


def test_npy_images_keep_their_shape_and_are_scaled_as_stated(mnist_rows, tmp_path):
    np.save(tmp_path / "img.npy", mnist_rows[0])  # raw uint8 pixels, 0..255
    d = load_dataset(str(tmp_path / "img.npy"))
    flat = mnist_rows[0].reshape(600, -1).astype(np.float32)
    assert d.image_shape == (28, 28) and d.X.shape == (600, 784)
    np.testing.assert_allclose(d.X, MinMaxScaler().fit_transform(flat), atol=1e-6)
    assert d.X.min() == 0 and d.X.max() == 1
    assert d.scaling == 'min-max per feature to [0, 1] from the training rows X (scale="auto": values were in [0, 255])'


def test_npy_with_a_label_column(mnist_rows, tmp_path):
    X = mnist_rows[0].reshape(600, -1) / 255.0
    np.save(tmp_path / "xy.npy", np.column_stack([mnist_rows[1], X]))
    d = load_file(tmp_path / "xy.npy", label_column=0)
    np.testing.assert_array_equal(d.X, X.astype(np.float32))
    assert d.y.dtype == np.int64 and d.y.tolist() == mnist_rows[1].tolist()
    d2 = load_file(tmp_path / "xy.npy", label_column=-785)  # the same column, counted from the end
    np.testing.assert_array_equal(d2.y, d.y)


def test_npy_label_column_errors(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((4, 3)))
    with pytest.raises(ConfigError, match=r"label_column for a .npy file must be a column index \(int\); got 'label'\. A .npy file has no column names"):
        load_file(tmp_path / "a.npy", label_column="label")
    with pytest.raises(ConfigError, match=r"label_column=3 is out of range for .*a.npy, which has 3 columns; expected -3 to 2"):
        load_file(tmp_path / "a.npy", label_column=3)
    np.save(tmp_path / "b.npy", np.zeros((4, 2, 2)))
    with pytest.raises(DataError, match=r"b.npy holds a 3-D array of shape \(4, 2, 2\); label_column needs a 2-D"):
        load_file(tmp_path / "b.npy", label_column=0)


def test_npz_round_trip_with_test_split(mnist_rows, tmp_path):
    X = mnist_rows[0].reshape(600, -1).astype(np.float32) / 255
    y = mnist_rows[1]
    np.savez(tmp_path / "m.npz", X=X[:500], y=y[:500], X_test=X[500:], y_test=y[500:])
    d = load_dataset(tmp_path / "m.npz")
    np.testing.assert_array_equal(d.X, X[:500])
    np.testing.assert_array_equal(d.X_test, X[500:])
    assert d.y.tolist() == y[:500].tolist() and d.y_test.tolist() == y[500:].tolist()
    assert d.scaling == "none: values already in [0, 1]"


def test_npz_without_labels_and_with_images(mnist_rows, tmp_path):
    np.savez(tmp_path / "u.npz", X=mnist_rows[0][:50] / 255.0)
    d = load_file(tmp_path / "u.npz")
    assert d.X.shape == (50, 784) and d.image_shape == (28, 28) and d.y is None and d.X_test is None


def test_npz_missing_keys_are_listed(tmp_path):
    np.savez(tmp_path / "pos.npz", np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(DataError, match=r"pos.npz has no array named \['X'\]; found keys \['arr_0', 'arr_1'\]\. Expected 'X' \(features\) "
                       r"and optionally 'y', 'X_test', 'y_test'\. Save it with np.savez\(path, X=X"):
        load_file(tmp_path / "pos.npz")
    np.savez(tmp_path / "t.npz", X=np.zeros((3, 2)), y_test=np.zeros(2))
    with pytest.raises(DataError, match=r"has no array named \['X_test'\]; found keys \['X', 'y_test'\]"):
        load_file(tmp_path / "t.npz")


def test_npz_shape_mismatches(tmp_path):
    np.savez(tmp_path / "n.npz", X=np.zeros((3, 2)), y=np.zeros(4))
    with pytest.raises(DataError, match=r"y has 4 rows but X has 3; expected one label per row of X"):
        load_file(tmp_path / "n.npz")
    np.savez(tmp_path / "f.npz", X=np.zeros((3, 2)), X_test=np.zeros((2, 5)))
    with pytest.raises(DataError, match=r"X_test has 5 features but X has 2; expected the same columns"):
        load_file(tmp_path / "f.npz")


def test_wrong_container_for_the_suffix(tmp_path):
    np.savez(tmp_path / "z.npz", X=np.zeros((2, 2)))
    (tmp_path / "z.npy").write_bytes((tmp_path / "z.npz").read_bytes())
    with pytest.raises(DataError, match=r"z.npy does not hold a single .npy array; got a NpzFile\. Write it with np.save"):
        load_file(tmp_path / "z.npy")
    (tmp_path / "junk.npz").write_bytes(b"not numpy at all")
    with pytest.raises(DataError, match=r"Could not read .*junk.npz with numpy .*expected a file written by np.savez"):
        load_file(tmp_path / "junk.npz")


def _write_csv(path, header, rows):
    path.write_text(",".join(header) + "\n" + "".join(",".join(str(v) for v in r) + "\n" for r in rows))
    return path


def test_csv_round_trip_with_a_named_label_column(mnist_rows, tmp_path):
    X = mnist_rows[0][:200].reshape(200, -1)
    header = [f"px{i}" for i in range(392)] + ["digit"] + [f"px{i}" for i in range(392, 784)]
    rows = [list(x[:392]) + [lab] + list(x[392:]) for x, lab in zip(X, mnist_rows[1][:200])]
    path = _write_csv(tmp_path / "m.csv", header, rows)
    d = load_dataset(path, label_column="digit", scale=None)
    np.testing.assert_array_equal(d.X, X.astype(np.float32))
    assert d.y.tolist() == mnist_rows[1][:200].tolist() and d.y.dtype == np.int64
    assert d.feature_names == [f"px{i}" for i in range(784)] and d.image_shape is None
    assert d.scaling == "none (scale=None): values as stored, in [0, 255]"
    scaled = load_dataset(path, label_column="digit")
    assert 0 <= scaled.X.min() and scaled.X.max() == 1 and scaled.scaling.startswith("min-max per feature to [0, 1]")


def test_csv_string_feature_columns_are_named(tmp_path):
    path = _write_csv(tmp_path / "s.csv", ["height", "colour", "city", "label"],
                      [[1.5, "red", "Paris", 0], [2.0, "blue", "Oslo", 1]])
    with pytest.raises(DataError, match=r"s.csv: feature column\(s\) 'colour' \(column 1, line 2: 'red'\), 'city' \(column 2, line 2: 'Paris'\) "
                       r"are not numeric; expected numbers in every feature column\. Encode them as numbers first \(e.g. sklearn's "
                       r"OrdinalEncoder\) or drop them\.$"):
        load_file(path, label_column="label")
    with pytest.raises(DataError, match=r"'city' \(column 2, line 2: 'Paris'\) are not numeric.* If one of them holds the labels, pass label_column=<its name>\.$"):
        load_file(path)


def test_csv_string_labels_and_label_by_index(tmp_path):
    path = _write_csv(tmp_path / "c.csv", ["species", "a", "b"], [["setosa", 1, 2], ["virginica", 3, 4], ["setosa", 5, 6]])
    d = load_file(path, label_column=0, scale=None)
    assert d.y.tolist() == ["setosa", "virginica", "setosa"] and d.X.tolist() == [[1, 2], [3, 4], [5, 6]]
    assert d.feature_names == ["a", "b"]


def test_csv_float_labels_stay_floats(tmp_path):
    path = _write_csv(tmp_path / "r.csv", ["x", "target"], [[0.1, 1.5], [0.2, 2.0]])
    d = load_file(path, label_column="target")
    assert d.y.dtype == np.float64 and d.y.tolist() == [1.5, 2.0]


def test_csv_format_errors(tmp_path):
    with pytest.raises(DataError, match=r"The first line of .*nohead.csv looks like data, not a header: \['1', '2'\]; expected column names"):
        load_file(_write_csv(tmp_path / "nohead.csv", ["1", "2"], [[3, 4]]))
    with pytest.raises(DataError, match=r"ragged.csv: line 3 has 3 fields but the header has 2; expected one value per column"):
        load_file(_write_csv(tmp_path / "ragged.csv", ["a", "b"], [[1, 2], [3, 4, 5]]))
    with pytest.raises(DataError, match=r"has no column 'lable'; its columns are \['a', 'label'\]\. Did you mean 'label'\?"):
        load_file(_write_csv(tmp_path / "l.csv", ["a", "label"], [[1, 0]]), label_column="lable")
    with pytest.raises(DataError, match=r"empty.csv has 1 non-empty line\(s\); expected a header line with column names and at least one data row"):
        load_file(_write_csv(tmp_path / "empty.csv", ["a", "b"], []))
    with pytest.raises(DataError, match=r"X contains NaN or infinity \(1 NaN, 0 infinite values\)"):
        load_file(_write_csv(tmp_path / "hole.csv", ["a", "b"], [[1, ""], [3, 4]]))


def test_scaling_options(tmp_path):
    np.savez(tmp_path / "s.npz", X=np.array([[0.0, 0.2], [0.5, 0.4]]), X_test=np.array([[1.0, 0.9]]))
    kept = load_file(tmp_path / "s.npz")
    assert kept.scaling == "none: values already in [0, 1]" and kept.X.tolist() == [[0.0, pytest.approx(0.2)], [0.5, pytest.approx(0.4)]]
    forced = load_file(tmp_path / "s.npz", scale="minmax")
    assert forced.X.tolist() == [[0, 0], [1, 1]]
    assert forced.X_test.tolist() == [[1, 1]]  # (1.0 - 0) / 0.5 = 2 and (0.9 - 0.2) / 0.2 = 3.5, clipped to 1
    assert forced.scaling == "min-max per feature to [0, 1] from the training rows X; X_test with the same min/max, clipped to [0, 1]"
    np.savez(tmp_path / "t.npz", X=np.array([[0.0], [0.5]]), X_test=np.array([[-1.0]]))
    auto = load_file(tmp_path / "t.npz")  # X_test outside [0, 1] is enough for "auto" to rescale
    assert auto.X.tolist() == [[0], [1]] and auto.X_test.tolist() == [[0]]
    assert auto.scaling.endswith('(scale="auto": values were in [-1, 0.5])')
    with pytest.raises(ConfigError, match=r"scale must be one of \['auto', 'minmax', None\]; got 'standard'"):
        load_file(tmp_path / "t.npz", scale="standard")


def test_path_errors(tmp_path):
    with pytest.raises(DataError, match=r"No such file: .*missing.csv \(absolute: .*\)\. Check the path"):
        load_dataset(tmp_path / "missing.csv")
    (tmp_path / "data.txt").write_text("1 2\n")
    with pytest.raises(DataError, match=r"data.txt has suffix '.txt'; expected one of \['.npy', '.npz', '.csv'\]"):
        load_dataset(tmp_path / "data.txt")
    with pytest.raises(ConfigError, match=r"data_dir='elsewhere' applies to named datasets; got the file '.*data.txt'"):
        load_dataset(str(tmp_path / "data.txt"), data_dir="elsewhere")
    with pytest.raises(ConfigError, match=r"label_column applies to .csv and .npy files; got label_column='y' for .*\.npz"):
        np.savez(tmp_path / "k.npz", X=np.zeros((2, 2)))
        load_file(tmp_path / "k.npz", label_column="y")


# -- an estimator's X and y as files (read_features, read_labels) -----------------------------------------


def test_an_npz_of_one_array_is_the_rows_and_of_several_x_and_y_by_their_names(tmp_path):
    from layerwise.data.files import read_features

    rows = np.arange(6.0).reshape(3, 2)
    np.savez(tmp_path / "one.npz", whatever=rows)
    d = read_features(tmp_path / "one.npz")
    assert d.X.tolist() == rows.tolist() and d.y is None
    np.savez(tmp_path / "named.npz", data=rows, labels=np.array([0.0, 1.0, 1.0]), extra=np.zeros(1))
    d = read_features(tmp_path / "named.npz")
    assert d.X.tolist() == rows.tolist() and d.y.tolist() == [0, 1, 1] and d.y.dtype == np.int64
    np.savez(tmp_path / "odd.npz", a=rows, b=rows)
    with pytest.raises(DataError, match=r"odd.npz holds the arrays \['a', 'b'\], none named 'X', 'x', 'data'; expected one array, "
                                        r"or the rows under one of these names\. Save it with np\.savez\(path, X=X, y=y\)"):
        read_features(tmp_path / "odd.npz")
    np.savez(tmp_path / "both.npz", X=rows, data=rows)
    with pytest.raises(DataError, match=r"both.npz has arrays \['X', 'data'\], which could each be the rows; expected one of them"):
        read_features(tmp_path / "both.npz")
    np.savez(tmp_path / "text.npz", X=np.array(["a", "b"]))
    with pytest.raises(DataError, match=r"text.npz: the array 'X' holds <U1 values; expected numbers"):
        read_features(tmp_path / "text.npz")


def test_a_csv_header_is_detected_and_text_columns_are_refused_with_the_dataframe_way(tmp_path):
    from layerwise.data.files import read_features

    with_header = _write_csv(tmp_path / "h.csv", ["a", "b", "label"], [[1, 2, "cat"], [3, 4, "dog"]])
    d = read_features(with_header, label="label")
    assert d.X.tolist() == [[1, 2], [3, 4]] and d.y.tolist() == ["cat", "dog"] and d.feature_names == ["a", "b"]
    (tmp_path / "bare.csv").write_text("1,2,0\n3,4,1\n")  # no header: every line is a row
    d = read_features(tmp_path / "bare.csv")
    assert d.X.tolist() == [[1, 2, 0], [3, 4, 1]] and d.y is None and d.feature_names is None
    (tmp_path / "pandas.csv").write_text("0,1,2\n0.5,0.25,1\n")  # DataFrame(X).to_csv(index=False): names 0..n-1
    assert read_features(tmp_path / "pandas.csv").X.tolist() == [[0.5, 0.25, 1]]
    with pytest.raises(DataError, match=r"h.csv: feature column\(s\) 'label' \(column 2, line 2: 'cat'\) are not numeric; .* read a "
                                        r"table with text columns with pandas \(X = pandas\.read_csv\(path\)\) and pass the DataFrame.*"
                                        r"If one of them holds the labels, name it: fit\(path, y='<its name>'\)"):
        read_features(with_header)
    with pytest.raises(DataError, match=r"y='lable' names no column of .*h.csv; its columns are \['a', 'b', 'label'\]\. "
                                        r"Did you mean 'label'\?"):
        read_features(with_header, label="lable")
    with pytest.raises(DataError, match=r"y='label' names a column, but .*bare.csv has no header line \(its first line is numbers"):
        read_features(tmp_path / "bare.csv", label="label")


def test_labels_from_npy_npz_and_one_column_csv_files(tmp_path):
    from layerwise.data.files import read_labels

    np.save(tmp_path / "y.npy", np.array([[1.0], [0.0]]))
    assert read_labels(tmp_path / "y.npy").tolist() == [1, 0]
    np.savez(tmp_path / "y.npz", X=np.zeros((2, 3)), target=np.array([2.5, 1.0]))
    assert read_labels(tmp_path / "y.npz").tolist() == [2.5, 1.0]
    (tmp_path / "numbers.csv").write_text("label\n1\n0\n")
    assert read_labels(tmp_path / "numbers.csv").tolist() == [1, 0]
    (tmp_path / "names.csv").write_text("species\ncat\ndog\n")  # text: one line more than X has rows is a header
    assert read_labels(tmp_path / "names.csv", n_rows=2).tolist() == ["cat", "dog"]
    assert read_labels(tmp_path / "names.csv", n_rows=3).tolist() == ["species", "cat", "dog"]
    _write_csv(tmp_path / "wide.csv", ["a", "label"], [[1, 0]])
    with pytest.raises(DataError, match=r"y is the file .*wide.csv, whose lines hold 2 fields; expected one column of labels\. "
                                        r"With X a \.csv, name its label column instead: fit\(X_path, y='<column name>'\)"):
        read_labels(tmp_path / "wide.csv")
    np.save(tmp_path / "grid.npy", np.zeros((2, 2)))
    with pytest.raises(DataError, match=r"y is the file .*grid.npy, which holds an array of shape \(2, 2\); expected one label per row"):
        read_labels(tmp_path / "grid.npy")
    with pytest.raises(DataError, match=r"y is the path '.*missing.npy', which does not exist; expected a \.npy, \.npz or one-column \.csv"):
        read_labels(tmp_path / "missing.npy")
