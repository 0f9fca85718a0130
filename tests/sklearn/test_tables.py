"""Tables as tables in the estimators: mixed columns encoded per column, saved with the model, applied everywhere."""

import json
import warnings

import numpy as np
import pytest

import layerwise
from layerwise import PretrainedClassifier, PretrainedRegressor, StackedAutoencoder, VariationalAutoencoder
from layerwise.data.tables import TablePreprocessor
from layerwise.exceptions import DataError, TrainingWarning

pd = pytest.importorskip("pandas")

FAST = dict(pretrain_max_iter=1, max_iter=3, random_state=0, device="cpu")


@pytest.fixture(scope="module")
def table():
    """A mixed table (numbers, a heavy tail, strings, a category, a flag) and labels, -1 for most rows."""
    rng = np.random.RandomState(0)
    n = 150
    df = pd.DataFrame({
        "age": rng.normal(40, 10, n),
        "income": rng.lognormal(10, 1.5, n),
        "city": rng.choice(["Oslo", "Rome", "Lima"], n).astype(object),
        "kind": pd.Categorical(rng.choice(["x", "y"], n)),
        "count": rng.poisson(2, n),
    })
    y = ((df["age"] > 40) ^ (df["city"] == "Rome")).astype(int).to_numpy()
    y_partial = y.copy()
    y_partial[16:] = -1
    return df, y, y_partial


def test_classifier_fits_predicts_scores_saves_and_loads_a_mixed_table(table, tmp_path):
    df, y, y_partial = table
    clf = PretrainedClassifier((16,), semi_supervised=None, **FAST).fit(df, y_partial)
    assert clf.n_features_in_ == 5 and list(clf.feature_names_in_) == list(df.columns)  # scikit-learn's meaning
    assert isinstance(clf.preprocessor_, TablePreprocessor) and clf._n_inputs() == 2 + 3 + 2 + 1 == clf.preprocessor_.n_features_out_
    assert clf.stack_.layers[0][0].weight.shape[1] == 8  # the network takes the encoded columns
    assert clf.data_min_ is None and clf.semi_supervised_ is None
    pred = clf.predict(df)
    assert pred.shape == (150,) and set(pred) <= {0, 1}
    assert 0 <= clf.score(df, y) <= 1
    assert clf.transform(df.iloc[:3]).shape == (3, 16)
    assert np.array_equal(clf.predict(df.iloc[:1]), pred[:1])  # one row alone: encoded with the training numbers
    layerwise.save(clf, tmp_path / "m")
    saved = json.loads((tmp_path / "m" / "config.json").read_text())["state"]["attributes"]["preprocessor_"]
    assert saved["format"] == "layerwise.table" and [c["kind"] for c in saved["columns"]] == ["standard", "quantile", "onehot", "onehot", "standard"]
    loaded = layerwise.load(tmp_path / "m")
    assert isinstance(loaded.preprocessor_, TablePreprocessor)
    assert np.array_equal(loaded.predict_proba(df), clf.predict_proba(df))
    assert np.array_equal(loaded.predict(df), pred)
    assert "table: per column, 5 columns -> 8 inputs" in loaded._scaling_description()


def test_the_default_on_a_table_pretrains_with_scarf_not_the_ladder(table, tmp_path):
    df, y, y_partial = table
    clf = PretrainedClassifier((16, 8), max_iter=2, pretrain_max_iter=1, random_state=0, device="cpu").fit(df, y_partial)
    assert clf.semi_supervised_ is None and clf._stack_recipe["objective"] == "scarf"
    layerwise.save(clf, tmp_path / "auto")
    assert np.array_equal(layerwise.load(tmp_path / "auto").predict_proba(df), clf.predict_proba(df))


def test_the_ladder_takes_a_mixed_table_without_the_unit_interval_warning(table, tmp_path):
    df, y, y_partial = table
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*expects inputs in", category=TrainingWarning)
        clf = PretrainedClassifier((16, 8), semi_supervised="ladder", max_iter=2, random_state=0, device="cpu").fit(df, y_partial)
    assert clf.scale == "auto" and clf.semi_supervised_ == "ladder"
    assert clf.predict(df).shape == (150,) and 0 <= clf.score(df, y) <= 1
    layerwise.save(clf, tmp_path / "ladder")
    loaded = layerwise.load(tmp_path / "ladder")
    assert np.array_equal(loaded.predict_proba(df), clf.predict_proba(df))
    assert loaded.get_feature_names_out().shape == (8,)


def test_strings_with_scale_none_or_minmax_are_refused_naming_scale_table(table):
    df, y, _ = table
    for scale in ("none", "minmax"):
        with pytest.raises(DataError, match=r"X has 2 non-numeric column\(s\): 'city' \((object|str)\), 'kind' \(category\), and "
                                            rf"scale='{scale}' takes numbers only\. Pass scale='table'"):
            PretrainedClassifier((8,), scale=scale, **FAST).fit(df, y)
    clf = PretrainedClassifier((8,), scale="none", **FAST).fit(df.select_dtypes("number"), y)
    with pytest.raises(DataError, match=r"this model was fitted on numeric rows without the table preprocessing"):
        clf.predict(df[["age", "income", "city"]])


def test_predict_checks_the_columns(table):
    df, y, _ = table
    clf = PretrainedClassifier((8,), semi_supervised=None, **FAST).fit(df, y)
    with pytest.raises(DataError, match=r"Feature names seen at fit time, yet now missing:\n- count"):
        clf.predict(df.drop(columns="count"))
    with pytest.raises(DataError, match=r"X has 4 features, but PretrainedClassifier is expecting 5 features"), \
            pytest.warns(UserWarning, match="X does not have valid feature names"):
        clf.predict(df.to_numpy()[:, :4])
    assert np.array_equal(clf.predict(df.iloc[:5]), clf.predict(df)[:5])
    unseen = df.iloc[:4].assign(city="Paris", age=np.nan)  # an unseen city, missing ages: encoded, not refused
    assert clf.predict(unseen).shape == (4,)


def test_auto_keeps_min_max_for_pixels_and_takes_numeric_tables_as_tables(digits_small):
    X, y = digits_small
    clf = PretrainedClassifier((8,), semi_supervised=None, **FAST).fit(X * 16, y)  # pixels in 0..16
    assert clf.preprocessor_ is None and clf.data_min_ is not None
    clf = PretrainedClassifier((8,), semi_supervised=None, **FAST).fit(X, y)  # pixels in [0, 1]: as given
    assert clf.preprocessor_ is None and clf.data_min_ is None
    rng = np.random.RandomState(0)
    T = np.column_stack([rng.normal(50, 10, 300), rng.lognormal(5, 2, 300), rng.rand(300)])
    reg = PretrainedRegressor((8,), **FAST).fit(T, T[:, 0] + rng.rand(300))
    assert reg.preprocessor_ is not None and [c["kind"] for c in reg.preprocessor_.columns_] == ["standard", "quantile", "standard"]
    with pytest.raises(DataError, match=r"Input X contains NaN or infinity \(1 NaN, 0 inf values .*or pass scale='table', which "
                                        r"fills a missing number with the training median"):
        reg.predict(np.where(np.arange(3) == 1, np.nan, T[:1]))
    T_nan = T.copy()
    T_nan[0, 1] = np.nan
    explicit = PretrainedRegressor((8,), scale="table", **FAST).fit(T_nan, T[:, 0])
    assert np.isfinite(explicit.predict(T_nan[:2])).all()


def test_transformers_take_tables(table):
    df, _, _ = table
    sae = StackedAutoencoder((8, 4), max_iter=1, scale="auto", random_state=0, device="cpu").fit(df)
    assert sae.transform(df).shape == (150, 4) and np.isfinite(sae.score(df))
    with pytest.raises(DataError, match=r"encodes its input columns as a table .* is not undone"):
        sae.inverse_transform(sae.transform(df))
    vae = VariationalAutoencoder((8,), n_components=2, max_iter=2, scale="table", random_state=0, device="cpu").fit(df)
    assert vae.transform(df).shape == (150, 2) and np.isfinite(vae.score_samples(df)).all()


def test_a_saved_table_preprocessing_is_reused_with_pretrained(table, tmp_path):
    df, y, _ = table
    sae = StackedAutoencoder((8,), max_iter=1, scale="table", random_state=0, device="cpu").fit(df)
    layerwise.save(sae, tmp_path / "sae")
    clf = PretrainedClassifier((8,), pretrained=tmp_path / "sae", semi_supervised=None, scale="none", **FAST).fit(df.iloc[:40], y[:40])
    assert clf.preprocessor_.to_dict() == sae.preprocessor_.to_dict()  # fitted on all 150 rows, not these 40
