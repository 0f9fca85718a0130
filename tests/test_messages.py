"""Messages point at the real cause ("Trust", item 8): each case pins the message it gets, and what it must not say.

The config cases (a key in the wrong section, ``"none"`` for None) are in ``tests/app/test_config.py``; a ladder's
description on the command line (``layerwise inspect``, ``layerwise sample``) in ``tests/test_contract_calls.py``.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

import layerwise
from layerwise import GreedyLayerwise, PretrainedClassifier, PretrainedRegressor, StackedAutoencoder, Trainer
from layerwise.exceptions import DataError, DivergenceError, TrainingWarning

pytestmark = pytest.mark.filterwarnings("ignore::layerwise.TrainingWarning")

FAST = dict(hidden_layer_sizes=(8,), pretrain_max_iter=1, max_iter=1, random_state=0, device="cpu", check_reference=False)


@pytest.fixture(scope="module")
def rows(digits):
    X, y = digits
    return X[:200], y[:200]


# -- labels held as Python objects are classes, not "continuous values" ----------------------------------


@pytest.mark.parametrize("labels, classes", [
    (lambda y: y.astype(object), list(range(10))),  # ints read as objects (a pandas object column)
    (lambda y: np.array([np.int32(v) for v in y], dtype=object), list(range(10))),
    (lambda y: (y > 4).astype(object), [False, True]),  # bools as objects
    (lambda y: np.array([float(v) for v in y], dtype=object), list(range(10))),  # whole floats as objects
    (lambda y: np.array([int(v) if i % 2 else float(v) for i, v in enumerate(y)], dtype=object), list(range(10))),
])
def test_object_labels_of_whole_numbers_or_bools_are_classes(labels, classes, rows):
    X, y = rows
    clf = PretrainedClassifier(**FAST).fit(X, labels(y))
    assert clf.classes_.tolist() == classes


def test_object_labels_with_a_pandas_object_column(rows):
    pd = pytest.importorskip("pandas")
    X, y = rows
    clf = PretrainedClassifier(**FAST).fit(X, pd.Series(y).astype(object))
    assert clf.classes_.tolist() == list(range(10))


def test_labels_that_are_really_continuous_are_still_called_so(rows):
    X, y = rows
    with pytest.raises(ValueError, match=r"Unknown label type: continuous"):
        PretrainedClassifier(**FAST).fit(X, np.array([v + 0.5 for v in y], dtype=object))


# -- a huge finite value is not "NaN or infinity" --------------------------------------------------------


def test_a_huge_finite_value_is_named_by_its_size(rows, tmp_path):
    X, _ = rows
    huge = X.copy()
    huge[3, 5] = 1e30
    with pytest.raises(DataError, match=r"X holds values up to 1e\+30 \(after scale='none'\): their squares overflow float32") as e:
        StackedAutoencoder((8,), max_iter=1, scale="none").fit(huge)
    assert "NaN" not in str(e.value)
    # the trainer's own path (GreedyLayerwise, a streamed .npy file): the divergence names the inputs first
    for data in (torch.from_numpy(huge), huge):
        with pytest.raises(DivergenceError, match=r"The inputs hold values up to 1e\+30, finite but so large that their squares "
                                                  r"overflow float32 \(about 3\.4e38\), so no loss can be computed: rescale the "
                                                  r"data") as e:
            GreedyLayerwise((8,), trainer=Trainer(max_iter=1, random_state=0)).fit(data)
        assert "NaN in the data" not in str(e.value)
    np.save(tmp_path / "huge.npy", huge)
    with pytest.raises(DivergenceError, match=r"The inputs hold values up to 1e\+30"):
        StackedAutoencoder((8,), max_iter=1, scale="none", random_state=0).fit(tmp_path / "huge.npy")


def test_float64_values_beyond_float32_in_a_dataset_are_named_by_their_size(rows):
    from torch.utils.data import TensorDataset

    X, y = rows
    wide = torch.from_numpy(X.astype(np.float64))
    wide[4, 2] = 1e300
    with pytest.raises(DataError, match=r"The TensorDataset holds values up to 1e\+300 \(in the batch from row 0\), beyond the "
                                        r"float32 range \(about 3\.4e38\)") as e:
        PretrainedClassifier(**FAST).fit(TensorDataset(wide, torch.from_numpy(y)))
    assert "NaN" not in str(e.value)


def test_min_max_scaling_of_a_range_beyond_float32_is_not_called_nan(rows):
    """A column from -3e38 to 3e38 is finite, but its range (max - min) is not in float32: scaling it must not make
    NaN and then ask the user to impute values they never had."""
    X, y = rows
    wide = X * 16
    wide[0, 1], wide[1, 1] = -3e38, 3e38
    try:
        clf = PretrainedClassifier(**FAST, scale="minmax").fit(wide, y)
    except DataError as e:
        assert "NaN" not in str(e) and "mpute" not in str(e), str(e)
    else:
        assert np.isfinite(clf.predict_proba(wide)).all()


# -- min-max scaling of a constant column ------------------------------------------------------------------


@pytest.mark.parametrize("est", [lambda: PretrainedClassifier(**FAST, scale="minmax"),
                                 lambda: StackedAutoencoder((8,), max_iter=1, scale="minmax", random_state=0)],
                         ids=["classifier", "autoencoder"])
def test_min_max_scaling_of_a_constant_column_is_not_a_missing_value(est, rows):
    """A constant column (digits' first pixel is always 0; here one is 7) scales to 0, as sklearn's MinMaxScaler does:
    no error or warning tells the user to impute, at fit or predict time, even for another value later."""
    X, y = rows
    X = X * 16
    X[:, 5] = 7.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing about missing values
        warnings.simplefilter("ignore", TrainingWarning)
        model = est().fit(X, y)
        assert model.data_min_[5] == model.data_max_[5] == 7.0
        later = X.copy()
        later[:, 5] = 9.0
        assert np.isfinite(model.transform(later)).all() and np.isfinite(model.transform(X)).all()


# -- a diverging ladder names its noise --------------------------------------------------------------------


def test_a_ladder_diverging_with_a_huge_noise_names_the_noise(rows):
    X, y = rows
    y_partial = y.copy()
    y_partial[60:] = -1
    with pytest.raises(DivergenceError, match=r"noise_std=1e\+06: the ladder adds Gaussian noise of that standard deviation to "
                                              r"every layer, so its denoising costs grow with its square whatever the learning "
                                              r"rate; .* Lower semi_supervised_params\['noise_std'\]\. Other causes: a learning "
                                              r"rate too high") as e:
        PretrainedClassifier((16,), semi_supervised="ladder", semi_supervised_params={"noise_std": 1e6}, max_iter=3,
                             random_state=0, device="cpu").fit(X, y_partial)
    assert str(e.value).index("noise_std") < str(e.value).index("learning rate")  # the noise first


def test_a_divergence_without_a_visible_cause_keeps_the_usual_causes():
    from layerwise.objectives import Ladder
    from layerwise.train.loop import _huge_inputs, _objective_cause

    assert _huge_inputs((torch.ones(4, 3), torch.zeros(4))) is None
    assert _objective_cause(Ladder(noise_std=0.3)) is None and _objective_cause(object()) is None


# -- a semi-supervised model is described by its method, not as pretrained ---------------------------------


@pytest.mark.parametrize("method", ["ladder", "m1m2", "vime"])
def test_a_semi_supervised_model_is_not_described_as_pretrained(method, rows, tmp_path, capsys):
    from layerwise.app.cli import main
    from layerwise.app.model_commands import describe_training

    from .sklearn.test_semi_estimators import SMALL

    X, y = rows
    y_partial = y.copy()
    y_partial[60:] = -1
    clf = PretrainedClassifier((8,), semi_supervised=method, semi_supervised_params=SMALL[method], max_iter=1,
                               random_state=0, device="cpu").fit(X, y_partial)
    assert "pretrain" not in repr(clf)  # only the parameters set: semi_supervised, not the unused pretrain
    assert describe_training(clf).startswith(f"semi_supervised={method!r}: one network trained on the labeled and unlabeled")
    path = layerwise.save(clf, tmp_path / "m")
    meta = json.loads((path / "meta.json").read_text())
    assert "denoising" not in json.dumps(meta)
    capsys.readouterr()
    assert main(["inspect", str(path)]) == 0
    shown = capsys.readouterr().out
    assert f"training: semi_supervised={method!r}" in shown and "pretrained with" not in shown


def test_a_stack_model_is_described_by_the_objective_it_really_used(rows):
    from layerwise.app.model_commands import describe_training

    X, y = rows
    auto = PretrainedClassifier(**FAST, semi_supervised=None).fit(X, y)  # pretrain="auto" on pixels: denoising
    assert describe_training(auto) == ("pretrained layer by layer with 'denoising', then fine-tuned on the labeled rows "
                                       "(finetune='full')")
    none = PretrainedRegressor(**FAST, pretrain=None).fit(X, y.astype(float))
    assert describe_training(none).startswith("no pretraining: the layers start from random initialisation")
