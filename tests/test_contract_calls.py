"""Every documented call works on every model kind ("Trust", item 7).

The kinds come from the registries: a ``PretrainedClassifier`` and a ``PretrainedRegressor`` pretrained with each
objective of ``layerwise.OBJECTIVES``, a ``PretrainedClassifier`` trained by each method of ``SEMI_SUPERVISED``, a
``StackedAutoencoder`` with each objective, and the ``VariationalAutoencoder``. On each: what the README documents
(``predict``, ``predict_proba``, ``transform``, ``inverse_transform``, ``score``, ``set_output(transform="pandas")``,
``get_params``/``clone``, ``layerwise.save``/``layerwise.load``, and ``layerwise evaluate``/``predict``/``inspect``/
``sample``), or, where a call does not apply, a clear error pinned by its message. Tiny data (200 digits rows, one or
two epochs, 8 units) keeps the whole file fast.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from sklearn.base import clone

import layerwise
from layerwise import PretrainedClassifier, PretrainedRegressor, StackedAutoencoder, VariationalAutoencoder
from layerwise.app.cli import main
from layerwise.exceptions import ConfigError, DataError, TrainingWarning
from layerwise.registry import OBJECTIVES, SEMI_SUPERVISED

from .objectives.test_contract_objectives import EXTRA
from .sklearn.test_semi_estimators import SMALL

pytestmark = pytest.mark.filterwarnings("ignore::layerwise.TrainingWarning")

N_ROWS = 200
# what each objective needs on the digits' flat rows (conv: their 8x8 shape), as in test_contract_objectives
STACK = dict(hidden_layer_sizes=(8,), pretrain_max_iter=1, max_iter=2, random_state=0, device="cpu", check_reference=False)


def _kinds() -> dict[str, tuple[str, callable]]:
    """id -> (what it is fitted on, the unfitted estimator)."""
    kinds = {}
    for name in OBJECTIVES.names():
        kinds[f"classifier-{name}"] = ("labels", lambda n=name: PretrainedClassifier(
            **STACK, pretrain=n, pretrain_params=EXTRA.get(n), semi_supervised=None))
        kinds[f"regressor-{name}"] = ("targets", lambda n=name: PretrainedRegressor(
            **STACK, pretrain=n, pretrain_params=EXTRA.get(n)))
        kinds[f"autoencoder-{name}"] = ("rows", lambda n=name: StackedAutoencoder(
            (8,), pretrain=n, pretrain_params=EXTRA.get(n), max_iter=1, random_state=0, device="cpu"))
    for name in SEMI_SUPERVISED.names():
        sizes = {} if name == "conv_ladder" else {"hidden_layer_sizes": (8,)}  # Conv-Small's layers are fixed
        kinds[f"semi-{name}"] = ("partial", lambda n=name, s=sizes: PretrainedClassifier(
            **s, semi_supervised=n, semi_supervised_params={**SMALL[n], **({"m1_epochs": 1} if n == "m1m2" else {})},
            max_iter=1, random_state=0, device="cpu"))
    kinds["vae"] = ("rows", lambda: VariationalAutoencoder(n_components=2, hidden_layer_sizes=(8,), max_iter=1, random_state=0,
                                                           device="cpu"))
    return kinds


KINDS = _kinds()
CLASSIFIERS = [k for k in KINDS if k.startswith(("classifier-", "semi-"))]
PREDICTORS = [k for k in KINDS if k.startswith(("classifier-", "semi-", "regressor-"))]
TRANSFORMERS = [k for k in KINDS if k.startswith(("autoencoder-", "vae"))]


@pytest.fixture(scope="module")
def rows(digits):
    X, y = digits
    y_partial = y[:N_ROWS].copy()
    y_partial[60:] = -1  # 60 labels, 140 unlabeled rows
    return X[:N_ROWS], y[:N_ROWS], y_partial


def _fit_args(kind: str, rows) -> tuple:
    X, y, y_partial = rows
    on = KINDS[kind][0]
    if kind == "semi-conv_ladder":  # Conv-Small's 128 channels are slow on a CPU: 64 rows, half of them labeled
        return X[:64], np.where(np.arange(64) < 32, y[:64], -1)
    return {"labels": (X, y), "targets": (X, y.astype(np.float64)), "partial": (X, y_partial), "rows": (X,)}[on]


@pytest.fixture(scope="module")
def fitted(rows):
    """kind -> its estimator, fitted once for the whole module."""
    cache = {}

    def get(kind: str):
        if kind not in cache:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", TrainingWarning)
                cache[kind] = KINDS[kind][1]().fit(*_fit_args(kind, rows))
        return cache[kind]

    return get


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    """kind -> the folder where ``layerwise.save`` wrote it."""
    root, cache = tmp_path_factory.mktemp("models"), {}

    def get(kind: str):
        if kind not in cache:
            cache[kind] = layerwise.save(fitted(kind), root / kind)
        return cache[kind]

    return get


# -- predict, predict_proba, transform, inverse_transform, score --------------------------------------


@pytest.mark.parametrize("kind", PREDICTORS)
def test_predictors_predict_transform_and_score(kind, fitted, rows, files):
    X, y, _ = rows
    est = fitted(kind)
    pred = est.predict(X[:7])
    assert pred.shape == (7,)
    # a file in place of the rows: a .npy file read a chunk at a time, an .npz archive scored on its own labels
    np.testing.assert_array_equal(est.predict(str(files / "X.npy")), est.predict(X[:30]))
    archive = files / ("labeled.npz" if kind in CLASSIFIERS else "targets.npz")
    assert est.score(str(archive)) == pytest.approx(est.score(X[:30], y[:30] if kind in CLASSIFIERS else y[:30].astype(float)))
    codes = est.transform(X[:7])
    assert codes.shape[0] == 7 and codes.ndim == 2 and np.isfinite(codes).all()
    assert len(est.get_feature_names_out()) == codes.shape[1]
    if kind in CLASSIFIERS:
        assert set(pred) <= set(est.classes_)
        proba = est.predict_proba(X[:7])
        assert proba.shape == (7, len(est.classes_)) and np.allclose(proba.sum(axis=1), 1.0)
        np.testing.assert_allclose(est.predict_log_proba(X[:7]), np.log(proba), rtol=1e-6, atol=1e-6)
        assert 0.0 <= est.score(X, y) <= 1.0
    else:
        assert np.isfinite(pred).all() and np.isfinite(est.score(X, y.astype(float)))
        with pytest.raises(AttributeError, match="has no attribute 'predict_proba'"):
            est.predict_proba(X[:7])
    # what a classifier or regressor does not do: decode codes back into rows
    with pytest.raises(AttributeError, match="has no attribute 'inverse_transform'"):
        est.inverse_transform(codes)


@pytest.mark.parametrize("kind", TRANSFORMERS)
def test_transformers_transform_inverse_transform_and_score(kind, fitted, rows, files):
    X = rows[0]
    est = fitted(kind)
    codes = est.transform(X[:7])
    np.testing.assert_array_equal(est.transform(str(files / "X.npy")), est.transform(X[:30]))
    assert est.score(str(files / "X.npy")) == pytest.approx(est.score(X[:30]), rel=1e-5)
    assert codes.shape[0] == 7 and np.isfinite(codes).all()
    assert len(est.get_feature_names_out()) == codes.shape[1]
    back = est.inverse_transform(codes)
    assert back.shape == (7, X.shape[1]) and np.isfinite(back).all()
    assert np.isfinite(est.score(X)) and est.score_samples(X[:7]).shape == (7,)
    with pytest.raises(AttributeError, match="has no attribute 'predict'"):
        est.predict(X[:7])
    with pytest.raises(DataError, match=rf"inverse_transform expects codes with {codes.shape[1]} columns"):
        est.inverse_transform(np.zeros((2, codes.shape[1] + 1), np.float32))


def test_the_vae_samples_and_a_regressor_refuses_semi_supervised_methods(fitted, rows):
    X, y, _ = rows
    assert fitted("vae").sample(5, random_state=0).shape == (5, X.shape[1])
    for name in SEMI_SUPERVISED.names():
        with pytest.raises(ConfigError, match=rf"semi_supervised='{name}' trains classifiers only"):
            PretrainedRegressor((8,), semi_supervised=name, max_iter=1).fit(X, y.astype(float))


# -- set_output, get_params / clone, save / load -----------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
def test_set_output_pandas_on_every_kind(kind, fitted, rows):
    """``set_output(transform="pandas")`` (a RecursionError once, on a semi-supervised model): codes as a DataFrame
    whose columns are ``get_feature_names_out()``."""
    pd = pytest.importorskip("pandas")
    X = rows[0]
    est = fitted(kind)
    try:
        out = est.set_output(transform="pandas").transform(X[:5])
        assert isinstance(out, pd.DataFrame) and out.shape[0] == 5
        assert list(out.columns) == list(est.get_feature_names_out())
    finally:
        est.set_output(transform="default")
    assert isinstance(est.transform(X[:5]), np.ndarray)


@pytest.mark.parametrize("kind", list(KINDS))
def test_get_params_and_clone_on_every_kind(kind, fitted):
    est = fitted(kind)
    params = est.get_params()
    copy = clone(est)
    assert type(copy) is type(est) and repr(copy.get_params()) == repr(params)
    assert not hasattr(copy, "n_features_in_")  # unfitted
    assert copy.set_params(**params) is copy


@pytest.mark.parametrize("kind", list(KINDS))
def test_save_and_load_give_the_same_answers(kind, fitted, saved, rows):
    X = rows[0]
    est, back = fitted(kind), layerwise.load(saved(kind))
    assert type(back) is type(est) and repr(back) == repr(est)
    np.testing.assert_array_equal(back.transform(X[:9]), est.transform(X[:9]))
    if hasattr(est, "predict"):
        np.testing.assert_array_equal(back.predict(X[:9]), est.predict(X[:9]))
    if hasattr(est, "predict_proba"):
        np.testing.assert_array_equal(back.predict_proba(X[:9]), est.predict_proba(X[:9]))
    # rows of another width: the widths, not a numpy error
    with pytest.raises(DataError, match=rf"X has 10 features, but {type(est).__name__} is expecting {X.shape[1]} features"):
        back.transform(X[:3, :10])


# -- the command line: evaluate, predict, inspect, sample ---------------------------------------------


@pytest.fixture(scope="module")
def files(rows, tmp_path_factory):
    """The rows as a .npy file (predict) and as an .npz archive with their labels (evaluate)."""
    X, y, _ = rows
    root = tmp_path_factory.mktemp("files")
    np.save(root / "X.npy", X[:30])
    np.savez(root / "labeled.npz", X=X[:30], y=y[:30])
    np.savez(root / "targets.npz", X=X[:30], y=y[:30].astype(np.float64))
    return root


@pytest.mark.parametrize("kind", list(KINDS))
def test_cli_inspect_predict_and_evaluate_every_kind(kind, fitted, saved, files, tmp_path, capsys):
    est, model = fitted(kind), str(saved(kind))
    capsys.readouterr()
    assert main(["inspect", model]) == 0
    shown = capsys.readouterr().out
    assert f"{type(est).__name__} from {model}" in shown
    if kind.startswith("semi-"):  # trained by its method: never "pretrained with 'denoising'" (its pretrain param is unused)
        method = kind.removeprefix("semi-")
        assert f"training: semi_supervised={method!r}: one network trained on the labeled and unlabeled rows" in shown
        assert "pretrained with" not in shown and "'denoising'" not in shown
    elif kind != "vae":
        objective = kind.split("-", 1)[1]
        assert f"training: pretrained layer by layer with {objective!r}" in shown
    assert main(["predict", model, "--input", str(files / "X.npy")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 31 and lines[0].split(",")[0] == ("prediction" if hasattr(est, "predict") else "code_0")
    if not hasattr(est, "predict"):  # a transformer's evaluate is its score on the rows
        assert main(["evaluate", model, "--input", str(files / "X.npy"), "-o", str(tmp_path)]) == 0
        assert json.loads(capsys.readouterr().out)["n_rows"] == 30
        return
    archive = files / ("labeled.npz" if kind in CLASSIFIERS else "targets.npz")
    assert main(["evaluate", model, "--input", str(archive), "-o", str(tmp_path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert ("accuracy" if kind in CLASSIFIERS else "r2") in report


@pytest.mark.parametrize("kind", list(KINDS))
def test_cli_sample_draws_or_says_why_not(kind, fitted, saved, tmp_path, capsys):
    """Samples from what has a generative model (the VAE, a stacked autoencoder pretrained with 'vae' or
    'denoising'); a clear refusal from everything else."""
    est, model = fitted(kind), str(saved(kind))
    capsys.readouterr()
    code = main(["sample", model, "-n", "4", "-o", str(tmp_path / "s")])
    err = capsys.readouterr().err
    if kind in ("vae", "autoencoder-vae", "autoencoder-denoising"):
        assert code == 0 and np.load(tmp_path / "s.npy").shape == (4, 64)
    elif hasattr(est, "predict"):
        assert code == 2
        assert f"holds a {type(est).__name__} (" in err and "which has no generative model: it cannot sample. Sampling needs" in err
        if kind.startswith("semi-"):  # described by the method that trained it, not by its unused pretrain parameter
            assert f"(semi_supervised={kind.removeprefix('semi-')!r}: one network trained" in err
            assert f"{type(est).__name__} pretrained with" not in err
    else:
        objective = kind.split("-", 1)[1]
        assert code == 2 and f"A StackedAutoencoder pretrained with {objective!r} cannot sample" in err


# -- image folders: fit, score on the folder's labels, `layerwise evaluate --input FOLDER` --------------


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    """root/dark and root/light: ten 8x8 grayscale images each."""
    from PIL import Image

    root = tmp_path_factory.mktemp("images")
    rng = np.random.RandomState(0)
    for name, level in (("dark", 40), ("light", 200)):
        (root / name).mkdir()
        for i in range(10):
            pixels = np.clip(level + rng.normal(0, 20, (8, 8)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


@pytest.mark.parametrize("method", [None, *SEMI_SUPERVISED.names()])
def test_a_model_trained_on_an_image_folder_scores_and_evaluates_on_its_labels(method, image_folder, tmp_path, capsys):
    from layerwise.data.images import ImageFolder

    folder = ImageFolder(image_folder)
    truth = np.asarray(folder.classes)[folder.targets]
    if method is None:
        clf = PretrainedClassifier(**{**STACK, "max_iter": 5}).fit(str(image_folder))  # the folders' names are the labels
    else:
        y_partial = np.where(np.arange(len(truth)) % 2 == 0, truth, "-1")  # half the labels hidden, as "-1"
        sizes = {} if method == "conv_ladder" else {"hidden_layer_sizes": (8,)}
        params = {k: v for k, v in SMALL[method].items() if k != "image_shape"}  # a folder gives its images' shape
        clf = PretrainedClassifier(**sizes, semi_supervised=method, semi_supervised_params=params, max_iter=1,
                                   random_state=0, device="cpu").fit(str(image_folder), y_partial)
        assert clf.semi_supervised_ == method
    assert clf.classes_.tolist() == ["dark", "light"]
    accuracy = float((clf.predict(str(image_folder)) == truth).mean())
    assert clf.score(str(image_folder)) == pytest.approx(accuracy)  # score reads the folder's labels
    assert clf.score(folder) == pytest.approx(accuracy)
    model = layerwise.save(clf, tmp_path / "model")
    capsys.readouterr()
    assert main(["evaluate", str(model), "--input", str(image_folder), "-o", str(tmp_path / "e")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["accuracy"] == pytest.approx(accuracy) and sum(map(sum, report["confusion_matrix"])) == 20
    assert main(["predict", str(model), "--input", str(image_folder)]) == 0
    assert capsys.readouterr().out.splitlines() == ["prediction", *clf.predict(str(image_folder)).tolist()]


# -- a saved scaling and rows of another width -----------------------------------------------------------


def test_a_saved_scaling_applied_to_rows_of_another_width_names_both_widths(rows, tmp_path):
    """A model's min-max scaling holds one minimum and maximum per training column: rows of another width are refused
    with both widths (it was numpy's "operands could not be broadcast together")."""
    X, y, _ = rows
    sae = StackedAutoencoder((8,), max_iter=1, scale="minmax", random_state=0).fit(X * 16)
    path = layerwise.save(sae, tmp_path / "sae")
    with pytest.raises(DataError, match=r"X has 32 features, but StackedAutoencoder is expecting 64 features"):
        layerwise.load(path).transform(X[:5, :32] * 16)
    for scale in ("auto", "none"):  # the pretrained model's scaling is used whatever scale says
        with pytest.raises(DataError, match=r"The pretrained model .*scales 64 input columns .*but X has 32 columns"):
            PretrainedClassifier((8,), pretrained=path, scale=scale, max_iter=1, check_reference=False).fit(X[:, :32] * 16, y)


# -- a torch Dataset: string labels, items that change shape ---------------------------------------------


def _dataset(X, labels, shape_of=lambda i, x: x):
    import torch
    from torch.utils.data import Dataset

    class Items(Dataset):
        def __len__(self):
            return len(X)

        def __getitem__(self, i):
            return torch.from_numpy(shape_of(i, X[i])), labels[i]

    return Items()


@pytest.mark.parametrize("make", [lambda: PretrainedClassifier(**STACK), lambda: PretrainedRegressor(**STACK),
                                  lambda: StackedAutoencoder((8,), max_iter=1, random_state=0)],
                         ids=["classifier", "regressor", "autoencoder"])
def test_a_dataset_whose_items_change_shape_is_refused_naming_the_item(make, rows):
    X, y, _ = rows
    ragged = _dataset(X, y.tolist(), lambda i, x: x if i != 70 else x[:60])
    with pytest.raises(DataError, match=r"The Items's items differ in shape: \(64,\) first, then \(60,\) at row 70; expected "
                                        r"one shape for all\. Resize or pad the items"):
        make().fit(ragged)
    fitted = make().fit(X, *([] if isinstance(make(), StackedAutoencoder) else [y]))
    with pytest.raises(DataError, match=r"items differ in shape: \(64,\) first, then \(60,\) at row 70"):
        fitted.transform(ragged)


def test_a_dataset_with_string_labels_fits_a_classifier_and_clear_errors_elsewhere(rows):
    X, y, _ = rows
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    items = _dataset(X, names[y].tolist())
    clf = PretrainedClassifier(**STACK).fit(items)  # text labels are class names, as an image folder's are
    assert sorted(clf.classes_.tolist()) == sorted(set(names[y])) and clf.score(items) == pytest.approx(
        float((clf.predict(items) == names[y]).mean()))
    with pytest.raises(DataError, match=r"y must be numeric for regression"):
        PretrainedRegressor(**STACK).fit(items)
    mixed = _dataset(X, [str(v) if i % 2 else int(v) for i, v in enumerate(y)])
    with pytest.raises(DataError, match=r"The Items's labels mix text and numbers: item 0 has the label 0 \(int\) and item 1 "
                                        r"'1' \(str\); expected labels of one type\. Make every label a string"):
        PretrainedClassifier(**STACK).fit(mixed)
    missing = _dataset(X, [None if i == 5 else int(v) for i, v in enumerate(y)])
    with pytest.raises(DataError, match=r"The Items's item 5 has the label None; expected a label for every item"):
        PretrainedClassifier(**STACK).fit(missing)
