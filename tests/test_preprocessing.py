"""Preprocessing is part of the model: fitted on the training rows, saved as numbers, applied everywhere."""

import json

import numpy as np
import pytest

import layerwise
from layerwise import PretrainedClassifier, StackedAutoencoder, VariationalAutoencoder
from layerwise.app.cli import main
from layerwise.data.prepare import prepare_data
from layerwise.exceptions import ConfigError, DataError

FAST = dict(pretrain_max_iter=2, max_iter=20, random_state=0)


@pytest.fixture(scope="module")
def shifted(digits):
    """Digits with values in [500, 660]: outside [0, 1], as a sensor or a price would be."""
    X, y = digits
    return (X * 160 + 500).astype(np.float32), y


def test_the_estimator_fits_the_scaling_on_the_training_rows_and_keeps_it(shifted, tmp_path):
    X, y = shifted
    clf = PretrainedClassifier((32,), scale="auto", **FAST).fit(X[:1200], y[:1200])
    assert np.array_equal(clf.data_min_, X[:1200].min(axis=0)) and np.array_equal(clf.data_max_, X[:1200].max(axis=0))
    assert clf.score(X[1200:], y[1200:]) > 0.85
    # one row alone is scaled with the training numbers, never with its own min/max
    assert np.array_equal(clf.predict(X[1200:1201]), clf.predict(X[1200:1210])[:1])
    layerwise.save(clf, tmp_path / "m")
    saved = json.loads((tmp_path / "m" / "config.json").read_text())["state"]["attributes"]
    assert "data_min_" in saved and "data_max_" in saved  # numbers, not a description
    loaded = layerwise.load(tmp_path / "m")
    assert np.array_equal(loaded.predict_proba(X[1200:]), clf.predict_proba(X[1200:]))


def test_outputs_in_the_input_space_come_back_in_the_original_units(shifted):
    X, _ = shifted
    sae = StackedAutoencoder((32, 8), scale="minmax", max_iter=2, random_state=0).fit(X[:1000])
    assert 450 < sae.reconstruct(X[:5]).mean() < 700
    vae = VariationalAutoencoder((32,), n_components=4, scale="auto", max_iter=2, random_state=0).fit(X[:1000])
    assert 450 < vae.sample(5, random_state=0).mean() < 700
    assert StackedAutoencoder((8,), max_iter=1).fit(X[:100] / 1000).data_min_ is None  # "none" by default


def test_prepare_data_no_longer_scales_and_refuses_file_options_with_a_named_dataset(tmp_path, shifted):
    X, y = shifted
    np.savez(tmp_path / "d.npz", X=X, y=y)
    data = prepare_data(str(tmp_path / "d.npz"), test_size=0.25)
    assert data.X_train.min() >= 500  # as stored: the model scales, with the training rows' numbers
    with pytest.raises(ConfigError, match=r"data\.label_column='label' applies to data files; the named dataset 'digits' comes"):
        prepare_data("digits", label_column="label")
    np.savez(tmp_path / "f.npz", X=X[:50], y=np.linspace(0, 1, 50))
    with pytest.raises(DataError, match=r"the labels are not classes: label 1 is .*data\.task = 'regression'"):
        prepare_data(str(tmp_path / "f.npz"))


def _write_csv(path, X, y=None):
    cols = [f"p{i}" for i in range(X.shape[1])] + (["label"] if y is not None else [])
    lines = [",".join(cols)]
    for i, row in enumerate(X):
        lines.append(",".join(f"{v:g}" for v in row) + (f",{y[i]}" if y is not None else ""))
    path.write_text("\n".join(lines) + "\n")


def test_the_cli_predicts_with_the_training_scaling(tmp_path, shifted, capsys):
    """The issue's case: `finetune` reported 0.94, `evaluate`/`predict` on the same rows 0.26 (each file was re-scaled
    by its own min/max, and the scaler was fitted on the whole file before the test split)."""
    X, y = shifted
    _write_csv(tmp_path / "train.csv", X[:900], y[:900])
    _write_csv(tmp_path / "rows.csv", X[1500:1520])
    (tmp_path / "run.toml").write_text(
        f'name = "r"\nout_dir = "{tmp_path}"\nrandom_state = 0\n[data]\ndataset = "{tmp_path / "train.csv"}"\nlabel_column = "label"\n'
        "[model]\nhidden_layer_sizes = [32]\n[pretrain]\nmax_iter = 2\n[finetune]\nmax_iter = 30\n")
    args = ["-c", str(tmp_path / "run.toml"), "--no-progress"]
    assert main(["pretrain", *args]) == 0 and main(["finetune", *args]) == 0
    capsys.readouterr()
    reported = json.loads((tmp_path / "r" / "metrics.json").read_text())["accuracy"]
    assert main(["evaluate", str(tmp_path / "r" / "model"), "-c", str(tmp_path / "run.toml")]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == reported > 0.8
    assert main(["predict", str(tmp_path / "r" / "model"), "--input", str(tmp_path / "rows.csv"), "-o", str(tmp_path / "p.csv")]) == 0
    clf = layerwise.load(tmp_path / "r" / "model")
    predicted = np.loadtxt(tmp_path / "p.csv", delimiter=",", skiprows=1)  # under the header "prediction"
    assert np.array_equal(predicted, clf.predict(X[1500:1520]))
    assert (predicted == y[1500:1520]).mean() > 0.8
    assert clf.data_min_.min() >= 500  # the numbers of the training rows, in the units of the file
    assert main(["inspect", str(tmp_path / "r" / "model")]) == 0
    out = capsys.readouterr().out
    assert "input scaling: min-max per feature to [0, 1]" in out and "data_min_: [" in out
    # a file that still holds the label column the run trained with: read as training read it, the labels apart
    _write_csv(tmp_path / "labeled.csv", X[1500:1520], y[1500:1520])
    assert main(["predict", str(tmp_path / "r" / "model"), "--input", str(tmp_path / "labeled.csv"), "-o", str(tmp_path / "q.csv")]) == 0
    assert np.array_equal(np.loadtxt(tmp_path / "q.csv", delimiter=",", skiprows=1), predicted)
    assert main(["evaluate", str(tmp_path / "r" / "model"), "--input", str(tmp_path / "labeled.csv"), "-o", str(tmp_path / "e")]) == 0
    assert sum(map(sum, json.loads(capsys.readouterr().out)["confusion_matrix"])) == 20


def test_a_config_weighs_classes_by_label_text(tmp_path, shifted, capsys):
    """TOML keys are text: ``"3" = 5.0`` weighs the class 3 of numeric labels; a regression run refuses weights."""
    X, y = shifted
    _write_csv(tmp_path / "train.csv", X[:600], y[:600])
    base = (f'name = "r"\nout_dir = "{tmp_path}"\n[data]\ndataset = "{tmp_path / "train.csv"}"\nlabel_column = "label"\n'
            "[model]\nhidden_layer_sizes = [16]\n[pretrain]\nmax_iter = 1\n[finetune]\nmax_iter = 2\n")
    (tmp_path / "w.toml").write_text(base + '[finetune.class_weight]\n"3" = 5.0\n')
    assert main(["pretrain", "-c", str(tmp_path / "w.toml"), "--no-progress"]) == 0
    assert main(["finetune", "-c", str(tmp_path / "w.toml"), "--no-progress"]) == 0
    assert layerwise.load(tmp_path / "r" / "model").class_weight == {3: 5.0}
    pretrained = ["--pretrained", str(tmp_path / "r" / "pretrained")]
    (tmp_path / "b.toml").write_text(base.replace('name = "r"', 'name = "b"') + 'class_weight = "balanced"\n')
    assert main(["finetune", "-c", str(tmp_path / "b.toml"), "--no-progress", *pretrained]) == 0
    assert layerwise.load(tmp_path / "b" / "model").class_weight == "balanced"
    (tmp_path / "g.toml").write_text(base.replace('name = "r"', 'name = "g"').replace("[data]\n", '[data]\ntask = "regression"\n')
                                     + 'class_weight = "balanced"\n')
    assert main(["finetune", "-c", str(tmp_path / "g.toml"), "--no-progress", *pretrained]) == 2
    assert "finetune.class_weight='balanced' weighs classes, but data.task is 'regression'" in capsys.readouterr().err
    assert not (tmp_path / "g").exists()
