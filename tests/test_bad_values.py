"""Every bad value is refused before training, clearly (issue #13): the values the issue lists, and their classes."""

import numpy as np
import pytest
import torch

from layerwise import ClassifierHead, GreedyLayerwise, PretrainedClassifier, PretrainedRegressor, StackedAutoencoder, Trainer, VariationalAutoencoder, finetune
from layerwise.app.cli import main
from layerwise.app.config import load_config
from layerwise.data import load_file
from layerwise.exceptions import ConfigError, DataError
from layerwise.nn import RegressorHead, dense_autoencoder
from layerwise.objectives import Classification, Reconstruction, Regression
from layerwise.pipeline.greedy import random_stack
from layerwise.train.loop import resolve_device

TINY = dict(pretrain_max_iter=1, max_iter=1, random_state=0)


@pytest.fixture(scope="module")
def small(digits):
    X, y = digits
    return X[:200], y[:200]


@pytest.mark.parametrize("make, message", [
    (lambda: Trainer(device="meta"), r"device must be .*; got 'meta'\. A 'meta' device holds no data to train on; use one of "
                                     r"\['cpu', 'cuda', 'mps', 'xpu'\]\."),
    (lambda: resolve_device("meta"), r"device='meta' is a 'meta' device, which holds no data to train on"),
    (lambda: Trainer(momentum=1.5), r"momentum must be a number in \[0, 1\); got 1\.5\."),
])
def test_settings_that_cannot_train(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_estimator_parameters_refused_before_training(small):
    X, y = small
    with pytest.raises(ConfigError, match=r"- device must be .*got 'meta'"):
        PretrainedClassifier((8,), device="meta", **TINY).fit(X, y)
    with pytest.raises(ConfigError, match=r"kl_warmup=5 is not shorter than max_iter=3: the KL weight would never reach beta"):
        VariationalAutoencoder((8,), kl_warmup=5, max_iter=3).fit(X)
    with pytest.raises(ConfigError, match=r"hidden_layer_sizes=\(1000000, 100000\) with 64 input features needs a weight matrix of "
                                          r"100,000,000,000 values \(373 GiB in float32\)"):
        PretrainedClassifier((10**6, 10**5), **TINY).fit(X, y)
    with pytest.raises(ConfigError, match=r"objective 'sparse' with penalty='kl' compares each unit's mean activation with "
                                          r"target_rate, which needs activations in \(0, 1\); got activation='relu'"):
        StackedAutoencoder((8,), pretrain="sparse", pretrain_params={"penalty": "kl"}, max_iter=1).fit(X)
    with pytest.raises(ConfigError, match=r"unlabeled must be 'auto' or None or a label \(a number or a string\); got True\."):
        PretrainedClassifier((8,), unlabeled=True, **TINY).fit(X, y)


@pytest.mark.parametrize("X, message", [
    (np.arange(400).astype("datetime64[D]").reshape(200, 2),
     r"X holds dates or durations \(datetime64/timedelta64\); PretrainedClassifier expects numeric features"),
    (np.ones((200, 3)) + 1j, r"Complex data not supported: X holds complex numbers; PretrainedClassifier expects real features"),
    (np.full((200, 3), 1e300), r"X holds values up to 1e\+300, beyond the float32 range"),
    (np.full((200, 3), 1e30), r"X holds values up to 1e\+30 \(after scale='none'\): their squares overflow float32"),
    (np.ones(200), r"Expected 2D array, got 1D array of shape \(200,\) instead: .* Reshape your data"),
])
def test_x_that_means_nothing_is_refused(X, message, small):
    with pytest.raises(DataError, match=message):  # scale="none": the default "auto" would encode a numeric table
        PretrainedClassifier((8,), scale="none", **TINY).fit(X, small[1])


def test_string_labels_minus_one_mark_unlabeled_rows(small):
    """Decided in issue #13: among string labels, "-1" marks an unlabeled row (a CSV of class names keeps -1 as text);
    unlabeled=None keeps it as a class."""
    X, y = small
    text = np.where(y > 5, "-1", y.astype(str))
    assert "-1" not in PretrainedClassifier((8,), **TINY).fit(X, text).classes_
    assert "-1" in PretrainedClassifier((8,), unlabeled=None, **TINY).fit(X, text).classes_
    assert -1 not in PretrainedClassifier((8,), unlabeled="-1", **TINY).fit(X, np.where(y > 5, -1, y)).classes_
    with pytest.raises(DataError, match=r"unlabeled='x' is text, but the labels are numbers, so it can never mark a row"):
        PretrainedRegressor((8,), unlabeled="x", **TINY).fit(X, y.astype(float))


def test_trainer_takes_numpy_arrays_like_tensors(small):
    X = small[0]
    histories = []
    for data in (X, torch.from_numpy(X)):
        torch.manual_seed(0)
        histories.append(Trainer(max_iter=2, batch_size=50, random_state=0).fit(dense_autoencoder(64, 4), Reconstruction("mse"), (data,)))
    assert [h["loss"] for h in histories[0]] == [h["loss"] for h in histories[1]]
    with pytest.raises(DataError, match=r"train\[0\] is a NumPy array of dtype <U1; expected numbers"):
        Trainer(max_iter=1).fit(dense_autoencoder(64, 4), Reconstruction("mse"), (np.array([["a"] * 64]),))


def test_finetune_refuses_labels_the_head_cannot_hold(small):
    X, y = torch.from_numpy(small[0]), torch.from_numpy(small[1])
    stack = random_stack(64, (8,))
    with pytest.raises(DataError, match=r"train\[1\] holds class indices from 0 to 9, but the head has 3 outputs, so labels must "
                                        r"be in \[0, 2\]\."):
        finetune(stack, ClassifierHead(8, 3), Classification(), (X, y), trainer=Trainer(max_iter=1))
    with pytest.raises(DataError, match=r"train\[1\] holds float32 values; Classification expects class indices"):
        finetune(stack, ClassifierHead(8, 10), Classification(), (X, y.float()), trainer=Trainer(max_iter=1))
    with pytest.raises(DataError, match=r"train\[1\] has shape \(200,\), but the head has 1 output\(s\); expected \(200, 1\)"):
        finetune(stack, RegressorHead(8, 1), Regression(), (X, y.float()), trainer=Trainer(max_iter=1))
    # and the trainer's first-batch check explains an out-of-range label met there
    with pytest.raises(DataError, match=r"The first training batch could not go through ClassifierHead with Classification: Target "
                                        r"\d is out of bounds\. .*expected class labels from 0 to the number of the model's outputs"):
        Trainer(max_iter=1).fit(ClassifierHead(64, 3), Classification(), (X, y))


def test_resume_and_checkpoint_dir_that_cannot_work(small, tmp_path):
    X, y = small
    with pytest.raises(ConfigError, match=r"resume=True continues from the checkpoints in checkpoint_dir, but checkpoint_dir is None"):
        PretrainedClassifier((8,), **TINY).fit(X, y, resume=True)
    with pytest.raises(ConfigError, match=r"resume=True continues from the checkpoints"):
        GreedyLayerwise((8,)).fit(torch.from_numpy(X), resume=True)
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError, match=r"checkpoint_dir='.*f' is a file; expected a folder"):
        Trainer(checkpoint_dir=tmp_path / "f")


def test_config_files_with_a_byte_order_mark_or_duplicate_keys(tmp_path):
    (tmp_path / "bom.toml").write_bytes(b"\xef\xbb\xbfname = 'x'\n[pretrain]\nmax_iter = 2\n")
    assert load_config(tmp_path / "bom.toml").pretrain.max_iter == 2
    pytest.importorskip("yaml")
    (tmp_path / "dup.yaml").write_text("name: a\npretrain:\n  max_iter: 2\n  max_iter: 3\n")
    with pytest.raises(ConfigError, match=r"dup\.yaml is not valid YAML: the key 'max_iter' is given twice; keep one"):
        load_config(tmp_path / "dup.yaml")
    with pytest.raises(ConfigError, match=r"Config file .* is a folder"):
        load_config(tmp_path)


def test_a_csv_with_another_separator_says_so(tmp_path):
    (tmp_path / "s.csv").write_text("a;b;label\n1;2;0\n3;4;1\n")
    with pytest.raises(DataError, match=r"s\.csv looks ';'-separated \(its header is one column, 'a;b;label'\); layerwise reads "
                                        r"comma-separated values"):
        load_file(tmp_path / "s.csv", label_column="label")


def test_cli_evaluate_needs_labels_and_leaves_unlabeled_rows_out(small, tmp_path, capsys, monkeypatch):
    import json

    import layerwise

    X, y = small
    model = layerwise.save(PretrainedClassifier((8,), **{**TINY, "max_iter": 20}).fit(X, y), tmp_path / "m")
    monkeypatch.chdir(tmp_path)
    np.save("x.npy", X)
    assert main(["evaluate", str(model), "--input", "x.npy"]) == 2
    assert "The rows to evaluate have no labels" in capsys.readouterr().err
    np.savez("half.npz", X=X, y=np.where(np.arange(200) < 100, y, -1))
    assert main(["evaluate", str(model), "--input", "half.npz"]) == 0
    out = capsys.readouterr()
    assert "evaluating the 100 labeled rows; 100 unlabeled rows are left out" in out.err
    assert sum(map(sum, json.loads(out.out)["confusion_matrix"])) == 100
    np.savez("text.npz", X=X, y=y.astype(str))  # labels of another type than the classes: never a match
    assert main(["evaluate", str(model), "--input", "text.npz", "-o", "e2"]) == 2
    assert "The labels of the rows to evaluate are strings, but the model's classes are numbers" in capsys.readouterr().err
    assert main(["sample", str(model), "-n", "0"]) == 2 and "-n must be a positive number of samples; got 0." in capsys.readouterr().err
