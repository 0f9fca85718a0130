"""The estimators on data that is not an array: PyTorch datasets, .npy files, folders of images (.npz, .csv: test_file_inputs.py)."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader, TensorDataset

from layerwise import (
    Callback,
    DataError,
    JSONLinesLogger,
    NpyFile,
    PretrainedClassifier,
    PretrainedRegressor,
    StackedAutoencoder,
    VariationalAutoencoder,
    load,
    save,
)

FAST = dict(hidden_layer_sizes=(16,), pretrain_max_iter=2, max_iter=5, random_state=0, device="cpu")
NAMES = ("one", "two", "zero")  # sorted folder names: the classes, label i is NAMES[i]


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory, digits):
    """Digits 0, 1 and 2 of the first 300 as 8x8 grayscale PNGs in root/zero, root/one, root/two."""
    X, y = digits
    root = tmp_path_factory.mktemp("images")
    words = {0: "zero", 1: "one", 2: "two"}
    for i in np.flatnonzero(y[:300] <= 2):
        (root / words[y[i]]).mkdir(exist_ok=True)
        Image.fromarray(np.round(X[i].reshape(8, 8) * 255).astype(np.uint8), mode="L").save(root / words[y[i]] / f"{i}.png")
    return root


def test_a_dataset_fits_and_predicts_like_its_arrays(digits_small):
    X, y = digits_small
    data = TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    from_arrays = PretrainedClassifier(**FAST).fit(X, y)
    from_data = PretrainedClassifier(**FAST).fit(data)  # the labels are the dataset's
    assert np.array_equal(from_data.predict_proba(X), from_arrays.predict_proba(X))
    for source in (data, DataLoader(data, batch_size=64)):
        assert np.array_equal(from_data.predict(source), from_arrays.predict(X))
        assert np.array_equal(from_data.transform(source), from_arrays.transform(X))
    y_partial = np.where(np.arange(len(y)) % 3 == 0, y, -1)  # an explicit y wins over the dataset's labels
    assert PretrainedClassifier(**FAST).fit(data, y_partial).n_features_in_ == 64
    with pytest.raises(DataError, match=r"The DataLoader shuffles \(shuffle=True\), so its rows come in a new order each pass "
                                        r"and predictions would not line up with the data"):
        from_data.predict(DataLoader(data, shuffle=True))
    assert from_data.score(DataLoader(data, batch_size=64, shuffle=True)) == from_arrays.score(X, y)  # rows beside their labels
    reg = PretrainedRegressor(**FAST).fit(TensorDataset(torch.from_numpy(X), torch.from_numpy(y.astype(np.float32))))
    assert reg.predict(data).shape == (300,)


def test_an_image_folder_fits_and_predicts_with_a_convolutional_stack(image_folder, tmp_path):
    conv = dict(FAST, hidden_layer_sizes=(4, 8), pretrain="conv", max_iter=15)
    clf = PretrainedClassifier(**conv).fit(str(image_folder))
    assert list(clf.classes_) == list(NAMES) and clf.n_features_in_ == 64
    assert clf._stack_recipe["image_shape"] == [1, 8, 8]  # the conv layers got the images' shape
    truth = np.asarray([p.parent.name for p in sorted(image_folder.rglob("*.png"), key=lambda p: (p.parent.name, p))])
    predicted = clf.predict(image_folder)
    assert (predicted == truth).mean() > 0.8
    again = load(save(clf, tmp_path / "clf"))  # the shape is saved with the model: the same conv stack comes back
    assert np.array_equal(again.predict(image_folder), predicted)
    sae = StackedAutoencoder((4, 8), pretrain="conv", max_iter=2, random_state=0, device="cpu").fit(image_folder)
    assert sae.transform(image_folder).shape == (len(truth), 8 * 2 * 2)  # 8 channels of 2x2 after two 2x2 poolings


def test_an_npy_file_is_streamed_by_the_stacked_autoencoder(tmp_path, digits_small):
    X = digits_small[0]
    np.save(tmp_path / "x.npy", X)
    sae = StackedAutoencoder((16, 8), max_iter=2, random_state=0, device="cpu")
    for source in (NpyFile(tmp_path / "x.npy"), str(tmp_path / "x.npy"), tmp_path / "x.npy"):
        sae.fit(source)
        assert sae.n_features_in_ == 64 and len(sae.loss_curve_) == 4
        np.testing.assert_allclose(sae.transform(source), sae.transform(X), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(sae.score_samples(source), sae.score_samples(X), rtol=1e-5, atol=1e-5)
    VariationalAutoencoder((16,), n_components=2, max_iter=1, random_state=0, device="cpu").fit(tmp_path / "x.npy")


def test_a_path_that_is_not_a_folder_nor_a_data_file_is_refused(tmp_path):
    (tmp_path / "rows.txt").write_text("1 2\n3 4\n")
    with pytest.raises(DataError, match=r"X is the path '.*rows.txt', which is a .txt file; expected a folder of images \(one "
                                        r"subfolder per class\), a .npy or .npz file of rows, or a .csv file of numbers\. For "
                                        r"other formats, load the data and pass the arrays"):
        StackedAutoencoder((4,)).fit(tmp_path / "rows.txt")
    with pytest.raises(DataError, match=r"X is the path '.*missing.csv', which does not exist"):
        StackedAutoencoder((4,)).fit(str(tmp_path / "missing.csv"))


@pytest.mark.parametrize("make", [
    lambda: StackedAutoencoder((16, 8), max_iter=2, random_state=0, device="cpu"),
    lambda: VariationalAutoencoder((16,), n_components=3, max_iter=2, random_state=0, device="cpu"),
    lambda: PretrainedClassifier(**FAST),
])
def test_set_output_pandas_gives_a_dataframe_named_by_get_feature_names_out(make, digits_small):
    pd = pytest.importorskip("pandas")  # a dev dependency: installed by `make install`
    X, y = digits_small
    est = make().set_output(transform="pandas")
    codes = est.fit(pd.DataFrame(X, columns=[f"pixel{i}" for i in range(64)]), y).transform(pd.DataFrame(X[:5], columns=[f"pixel{i}" for i in range(64)]))
    names = est.get_feature_names_out()
    prefix = type(est).__name__.lower()
    assert isinstance(codes, pd.DataFrame) and list(codes.columns) == list(names)
    assert list(names) == [f"{prefix}{i}" for i in range(codes.shape[1])] and codes.shape == (5, est._n_features_out)
    assert isinstance(est.fit_transform(X, y), pd.DataFrame)


def test_loss_curves_and_validation_scores_on_every_estimator(digits_small):
    X, y = digits_small
    sae = StackedAutoencoder((16, 8), max_iter=3, random_state=0, device="cpu").fit(X)
    assert sae.loss_curve_ == [h["loss"] for stage in sae.history_["pretrain"] for h in stage] and len(sae.loss_curve_) == 6
    assert sae.validation_scores_ is None
    clf = PretrainedClassifier(**{**FAST, "early_stopping": True, "max_iter": 4}).fit(X, y)
    assert clf.validation_scores_ == [-h["val_loss"] for h in clf.history_["finetune"]] and len(clf.validation_scores_) == 4
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert PretrainedClassifier(**FAST).fit(X, y).validation_scores_ is None
    vae = VariationalAutoencoder((16,), n_components=2, max_iter=3, early_stopping=True, random_state=0, device="cpu").fit(X)
    assert len(vae.validation_scores_) == 3 and vae.best_validation_score_ == max(vae.validation_scores_)


class _ReadsTheFile(Callback):
    """After the logger's on_epoch_end: how many lines the file holds while the fit is still going."""

    def __init__(self, path):
        self.path, self.seen = path, []

    def on_epoch_end(self, trainer, model, logs):
        self.seen.append(len(self.path.read_text().splitlines()))


def test_callbacks_reach_every_trainer_and_metrics_are_on_disk_each_epoch(tmp_path, digits_small):
    X, y = digits_small
    path = tmp_path / "metrics.jsonl"
    reader = _ReadsTheFile(path)
    clf = PretrainedClassifier(**{**FAST, "hidden_layer_sizes": (16, 8)}, callbacks=[JSONLinesLogger(path), reader]).fit(X, y)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["phase"] for r in lines] == ["pretrain layer 1/2"] * 2 + ["pretrain layer 2/2"] * 2 + ["fine-tune"] * 5
    assert reader.seen == list(range(1, 10))  # a line per finished epoch, flushed before the next one starts
    again = load(save(clf, tmp_path / "clf"))  # callbacks are objects: not saved
    assert again.get_params()["callbacks"] == ()


def test_rows_streamed_from_disk_are_not_min_max_scaled_silently(tmp_path, digits_small):
    """Min-max scaling needs every row before training: a streamed file must arrive scaled, and says so."""
    np.save(tmp_path / "x.npy", digits_small[0] * 16.0)
    with pytest.raises(DataError, match=r"StackedAutoencoder\(scale='minmax'\) cannot scale rows streamed from disk .*"
                                        r"write the file already scaled to \[0, 1\].* and fit with scale='none'"):
        StackedAutoencoder((8,), max_iter=1, scale="minmax", device="cpu").fit(NpyFile(tmp_path / "x.npy"))
