"""Files as they come (issue: "Files as they come"): .npz and .csv wherever .npy is, y as a path or a CSV column, and
score reading the labels of its source."""

import numpy as np
import pytest

from layerwise import DataError, PretrainedClassifier, PretrainedRegressor, StackedAutoencoder

FAST = dict(hidden_layer_sizes=(8,), pretrain_max_iter=1, max_iter=2, random_state=0, device="cpu", check_reference=False)


@pytest.fixture
def rows(digits_small):
    X, y = digits_small
    return X[:120], y[:120]


def _csv(path, X, y=None, header=True):
    names = [f"px{i}" for i in range(X.shape[1])] + ([] if y is None else ["label"])
    lines = [",".join(map(str, list(r) + ([] if y is None else [lab]))) for r, lab in zip(X, y if y is not None else X)]
    path.write_text((",".join(names) + "\n" if header else "") + "\n".join(lines) + "\n")
    return path


def test_npy_paths_for_x_and_y_fit_like_the_arrays(tmp_path, rows):
    X, y = rows
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    reference = PretrainedClassifier(**FAST).fit(X, y)
    for X_path, y_path in [(tmp_path / "X.npy", tmp_path / "y.npy"), (str(tmp_path / "X.npy"), str(tmp_path / "y.npy"))]:
        clf = PretrainedClassifier(**FAST).fit(X_path, y_path)  # used to fail with "y must be 1-D"
        np.testing.assert_array_equal(clf.predict_proba(X), reference.predict_proba(X))
        assert clf.score(X_path, y_path) == reference.score(X, y)
    assert PretrainedClassifier(**FAST).fit(X, tmp_path / "y.npy").classes_.tolist() == list(range(10))  # arrays and a y path


def test_an_npz_archive_gives_x_and_y_and_is_scored_with_its_labels(tmp_path, rows):
    X, y = rows
    np.savez(tmp_path / "d.npz", X=X, y=y)
    reference = PretrainedClassifier(**FAST).fit(X, y)
    clf = PretrainedClassifier(**FAST).fit(tmp_path / "d.npz")
    np.testing.assert_array_equal(clf.predict(tmp_path / "d.npz"), reference.predict(X))
    assert clf.score(tmp_path / "d.npz") == reference.score(X, y)
    np.savez(tmp_path / "rows.npz", X)  # one array: the rows, no labels
    sae = StackedAutoencoder((8,), max_iter=1, random_state=0, device="cpu").fit(tmp_path / "rows.npz")
    assert sae.transform(tmp_path / "rows.npz").shape == (120, 8)
    with pytest.raises(DataError, match=r"PretrainedClassifier requires y to be passed"):
        PretrainedClassifier(**FAST).fit(tmp_path / "rows.npz")
    np.savez(tmp_path / "odd.npz", a=X, b=y)
    with pytest.raises(DataError, match=r"odd.npz holds the arrays \['a', 'b'\], none named 'X', 'x', 'data'"):
        PretrainedClassifier(**FAST).fit(tmp_path / "odd.npz")


def test_a_csv_with_a_label_column_named_by_y(tmp_path, rows):
    X, y = rows
    path = _csv(tmp_path / "d.csv", X, y)
    reference = PretrainedClassifier(**FAST).fit(X, y)
    clf = PretrainedClassifier(**FAST).fit(path, y="label")
    assert clf.classes_.tolist() == list(range(10)) and clf.n_features_in_ == 64
    np.testing.assert_allclose(clf.predict_proba(X), reference.predict_proba(X), atol=1e-6)
    assert clf.score(path, y="label") == pytest.approx(reference.score(X, y))
    features = _csv(tmp_path / "features.csv", X, header=False)  # no header: every column a feature
    np.testing.assert_array_equal(clf.predict(features), clf.predict(X))
    reg = PretrainedRegressor(**FAST).fit(str(path), y="label")
    assert reg.score(path, y="label") == pytest.approx(reg.score(X, y.astype(float)))
    with pytest.raises(DataError, match=r"y='lable' names no column of .*d.csv; its columns are \['px0', .*Did you mean 'label'\?"):
        PretrainedClassifier(**FAST).fit(path, y="lable")
    with pytest.raises(DataError, match=r"y is the string 'label'; a string y names the label column of X when X is the path of a "
                                        r"\.csv file, or is the path of a file of labels \(\.npy, \.npz or \.csv\), but X is of type "
                                        r"ndarray\. Pass the labels themselves"):
        PretrainedClassifier(**FAST).fit(X, y="label")


def test_csv_class_names_and_a_one_column_label_file(tmp_path, rows):
    X, y = rows
    names = np.array(["even", "odd"])[y % 2]
    path = _csv(tmp_path / "named.csv", X, names)
    clf = PretrainedClassifier(**{**FAST, "max_iter": 30}).fit(path, y="label")  # enough epochs not to predict one class
    assert clf.classes_.tolist() == ["even", "odd"]
    (tmp_path / "y.csv").write_text("parity\n" + "\n".join(names) + "\n")  # a header above class names
    assert PretrainedClassifier(**{**FAST, "max_iter": 30}).fit(X, tmp_path / "y.csv").classes_.tolist() == ["even", "odd"]
    assert 0 <= clf.score(X, str(tmp_path / "y.csv")) <= 1


def test_a_text_feature_column_points_to_the_dataframe_path(tmp_path):
    (tmp_path / "t.csv").write_text("size,city,label\n1.5,Paris,0\n2.0,Oslo,1\n")
    with pytest.raises(DataError, match=r"t.csv: feature column\(s\) 'city' \(column 1, line 2: 'Paris'\) are not numeric; .*"
                                        r"pandas\.read_csv\(path\)\) and pass the DataFrame, whose text columns scale='table' encodes"):
        PretrainedClassifier(**FAST).fit(tmp_path / "t.csv", y="label")


def test_the_row_index_pandas_writes_is_not_a_feature(tmp_path, rows):
    pd = pytest.importorskip("pandas")
    X, y = rows
    frame = pd.DataFrame(X, columns=[f"px{i}" for i in range(64)]).assign(label=y)
    frame.to_csv(tmp_path / "d.csv")  # index=True, pandas' default: an unnamed first column of row numbers
    clf = PretrainedClassifier(**FAST).fit(tmp_path / "d.csv", y="label")
    assert clf.n_features_in_ == 64
    assert clf.score(tmp_path / "d.csv", y="label") == PretrainedClassifier(**FAST).fit(X, y).score(X, y)
