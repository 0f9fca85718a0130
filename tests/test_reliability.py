"""Bad input gives a clear error: the Python API, config files, the command line, and files on disk.

Every case pins its message: what was received, what was expected, how to fix it.
The table in ``docs/reliability.md`` lists these cases together with the ones
pinned elsewhere (``tests/data/``, ``tests/app/test_config.py``, ``tests/persistence/test_io.py``, ...).
Every case here passes; the bugs this suite first found were fixed in the same change
(see docs/reliability.md, "fixed").
"""

from __future__ import annotations

import builtins
import errno
import gzip
import json
import os

import numpy as np
import pytest
import torch

import layerwise.train.checkpoint as checkpoint_mod
from layerwise import GreedyLayerwise, PretrainedClassifier, PretrainedRegressor, StackedAutoencoder, Trainer
from layerwise.app.cli import main
from layerwise.data import check_X, load_file, read_idx, split
from layerwise.exceptions import CheckpointError, ConfigError, DataError, DivergenceError, LayerwiseError, NotFittedError
from layerwise.objectives import Reconstruction, StepOutput
from layerwise.train.checkpoint import load_checkpoint, save_checkpoint
from layerwise.train.loop import resolve_device

from .conftest import boring_autoencoder

TINY = dict(hidden_layer_sizes=(4,), pretrain_max_iter=1, max_iter=1, random_state=0, device="cpu")


@pytest.fixture
def Xy():
    rng = np.random.RandomState(0)
    return rng.rand(20, 5).astype(np.float32), np.arange(20) % 2


# -- data checks: layerwise.data.check_X -------------------------------------------------------

@pytest.mark.parametrize("X, message", [
    (np.array([[0.1, np.nan], [0.2, 0.3]]), r"X contains NaN or infinity \(1 NaN, 0 infinite values\); expected only finite numbers\. Impute or drop them first"),
    (np.array([[0.1, np.inf], [-np.inf, 0.3]]), r"X contains NaN or infinity \(0 NaN, 2 infinite values\)"),
    (np.zeros(3), r"X must be a 2-D array; got 1-D with shape \(3,\)\. Reshape a single feature with X\.reshape\(-1, 1\) or a single sample with X\.reshape\(1, -1\)\."),
    (np.zeros((0, 3)), r"X has 0 sample\(s\) \(shape \(0, 3\)\); at least 1 are needed\."),
    (np.zeros((3, 0)), r"X has no features: its shape is \(3, 0\); expected at least one value per sample\. Check which columns were selected"),
    (np.array([["a", "b"]]), r"X must be numeric; got an array of dtype <U1\. Encode strings or categories as numbers first \(e\.g\. sklearn's OrdinalEncoder\)\."),
    (np.array([[1, "red"]], dtype=object), r"X must be numeric; got an array of dtype object\. Encode strings"),
    (np.array([[1, None]], dtype=object), r"X contains NaN or infinity \(1 NaN, 0 infinite values\)"),  # None is a missing value
    ([[1.0, 2.0], [3.0]], r"X could not be turned into a numeric array: .*inhomogeneous.*Pass a 2-D array\."),
    (np.array([[1e300, 0.0]]), r"X holds values up to 1e\+300, beyond the float32 range \(about 3\.4e38\) in which layerwise computes; expected smaller magnitudes\. Rescale the data first"),
])
def test_check_X_refuses_bad_arrays(X, message):
    with pytest.raises(DataError, match=message):
        check_X(X)


def test_check_X_accepts_numbers_in_every_dtype():
    for dtype in (np.int8, np.int64, np.uint8, np.float16, np.float32, np.float64, bool):
        out = check_X(np.ones((2, 3), dtype=dtype))
        assert out.dtype == np.float32 and out.flags.c_contiguous and (out == 1).all()
    assert check_X(np.array([[1, 2.5]], dtype=object)).tolist() == [[1.0, 2.5]]  # numbers in an object array


# -- data files -------------------------------------------------------------------------------

def test_csv_that_is_not_utf8_text(tmp_path):
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00\x01abc\n\x80\x81")
    with pytest.raises(DataError, match=r"bin\.csv is not UTF-8 text \(.*can't decode byte 0xff.*\); expected a CSV file with a header line\. Re-save it as UTF-8 CSV"):
        load_file(tmp_path / "bin.csv")


def test_csv_with_only_a_label_column_has_no_features(tmp_path):
    (tmp_path / "y.csv").write_text("y\n1\n2\n")
    with pytest.raises(DataError, match=r"X has no features: its shape is \(2, 0\); expected at least one value per sample\. .*a label column is not a feature"):
        load_file(tmp_path / "y.csv", label_column="y")


def test_csv_empty_label_cells_are_nan_not_strings(tmp_path):
    (tmp_path / "gaps.csv").write_text("a,y\n0.1,\n0.2,3\n0.3,4.5\n")
    y = load_file(tmp_path / "gaps.csv", label_column="y").y
    assert y.dtype == np.float64 and np.isnan(y[0]) and y[1:].tolist() == [3.0, 4.5]


def test_npz_with_an_object_array_is_refused_without_unpickling(tmp_path):
    np.savez(tmp_path / "o.npz", X=np.array([[1, "a"]], dtype=object))
    with pytest.raises(DataError, match=r"Could not read .*o\.npz with numpy \(Object arrays cannot be loaded when allow_pickle=False\); expected a file written by np\.savez with numeric arrays\."):
        load_file(tmp_path / "o.npz")


def test_npy_with_a_value_beyond_float32(tmp_path):
    np.save(tmp_path / "big.npy", np.array([[1e39, 0.0], [0.0, 1.0]]))
    with pytest.raises(DataError, match=r"X holds values up to 1e\+39, beyond the float32 range"):
        load_file(tmp_path / "big.npy")


def test_idx_file_with_a_wrong_magic_number(tmp_path):
    (tmp_path / "labels.gz").write_bytes(gzip.compress(bytes([0x12, 0x34, 0x08, 0x01, 0, 0, 0, 1, 7])))
    with pytest.raises(DataError, match=r"labels\.gz is not an IDX file: its magic number is 12340801; expected 00 00 <type> <ndim> .*Is it the right file\?"):
        read_idx(tmp_path / "labels.gz")


def test_idx_file_that_does_not_exist(tmp_path):
    with pytest.raises(DataError, match=r"No such IDX file: .*missing\.gz \(absolute: .*\)\. Check the path, or load a named dataset"):
        read_idx(tmp_path / "missing.gz")


# -- splits ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, message", [
    ({"X": 3}, DataError, r"X must be an array with one row per sample; got int 3\. Pass an array"),
    ({"X": np.zeros((10, 2)), "y": 3}, DataError, r"y must be an array with one row per sample; got int 3"),
    ({"X": np.zeros((10, 2)), "random_state": "seed"}, ConfigError, r"random_state must be None, an integer in \[0, 2\*\*32\) or a numpy RandomState; got 'seed'\."),
    ({"X": np.zeros((1, 2))}, ConfigError, r"val_size=0\.1 and test_size=0\.0 take 1 \+ 0 of the 1 rows and leave no training row; expected them to leave at least one\. Use smaller sizes\."),
])
def test_split_refuses_what_it_cannot_split(kwargs, error, message):
    with pytest.raises(error, match=message):
        split(**kwargs)


# -- estimators ----------------------------------------------------------------------------

@pytest.mark.parametrize("make, message", [
    (lambda X, y: (X[:0], y[:0]), r"Found array with 0 sample\(s\) \(shape=\(0, 5\)\) while a minimum of 2 is required by PretrainedClassifier\. PretrainedClassifier expects X of shape \(n_samples, n_features\)"),
    (lambda X, y: (X[:1], y[:1]), r"Found array with 1 sample\(s\) \(shape=\(1, 5\)\) while a minimum of 2 is required"),
    (lambda X, y: (X[:, :0], y), r"Found array with 0 feature\(s\) \(shape=\(20, 0\)\) while a minimum of 1 is required"),
    (lambda X, y: (np.full(X.shape, "a"), y), r"could not convert string to float: .*'a'.* PretrainedClassifier expects X of shape \(n_samples, n_features\) with finite numbers\."),
    (lambda X, y: (X, y[:3]), r"y has 3 rows but X has 20; expected one label per row of X \(-1 for unlabeled rows\)\."),
    (lambda X, y: (X, None), r"PretrainedClassifier requires y to be passed, but the target y is None\. Pass class labels \(-1 for unlabeled rows\)\."),
    (lambda X, y: (X * 5, y), r"loss='bce' needs inputs in \[0, 1\]; got values in \[0\.\d+, 4\.\d+\]\. Scale the data \(e\.g\. sklearn's MinMaxScaler\) or use loss='mse'\."),
])
def test_classifier_refuses_bad_data(Xy, make, message):
    X, y = make(*Xy)
    loss = "bce" if message.startswith("loss=") else "auto"
    with pytest.raises(DataError, match=message):  # scale="none": "auto" (the default) encodes a table of strings
        PretrainedClassifier(**TINY, loss=loss, scale="none").fit(X, y)


@pytest.mark.parametrize("params, message", [
    ({"hidden_layer_sizes": (0,)}, r"hidden_layer_sizes must be a non-empty sequence of positive integers, e\.g\. \(256, 64\); got \(0,\)\."),
    ({"hidden_layer_sizes": (8, -3)}, r"hidden_layer_sizes must be a non-empty sequence of positive integers, e\.g\. \(256, 64\); got \(8, -3\)\."),
    ({"learning_rate_init": 0}, r"learning_rate_init must be 'auto' or a positive number; got 0\."),
    ({"max_iter": -1}, r"max_iter must be 'auto' or a positive integer; got -1\."),
    ({"max_iter": 0}, r"max_iter must be 'auto' or a positive integer; got 0\."),
    ({"tied": "no"}, r"tied must be True or False; got 'no'\."),
    ({"encoder_lr_scale": "fast"}, r"encoder_lr_scale must be a number >= 0; got 'fast'\."),
    ({"pretrain_params": "masking"}, r"pretrain_params must be None or a dict of options of the pretraining objective 'denoising'"),
    ({"pretrain_params": {"level": "high"}}, r"pretrain_params\['level'\] \(an option of the pretraining objective 'denoising'\) must be a number; got 'high'\."),
    ({"batch_size": 0}, r"batch_size must be 'auto' or a positive integer; got 0\."),
    ({"batch_size": 100}, r"batch_size=100 is larger than the 20 training rows; use batch_size <= 20 or 'auto'\."),
    ({"validation_fraction": 1.0}, r"validation_fraction must be a number in \(0, 1\); got 1\.0\."),
    ({"finetune": "partial"}, r"finetune must be one of \['frozen', 'full'\]; got 'partial'\."),
])
def test_classifier_refuses_bad_parameters(Xy, params, message):
    with pytest.raises(ConfigError, match=r"PretrainedClassifier has 1 invalid parameter\(s\):\n- " + message):
        PretrainedClassifier(**{**TINY, **params}).fit(*Xy)


def test_typo_in_pretrain_params_suggests_the_option(Xy):
    with pytest.raises(ConfigError, match=r"pretrain_params has an unknown option 'nosie' for the pretraining objective 'denoising'\. Did you mean 'noise'\? Accepted options: \['level', 'loss', 'noise', 'noise2noise'\]\."):
        PretrainedClassifier(**TINY, pretrain_params={"nosie": "masking"}).fit(*Xy)


@pytest.mark.parametrize("device, message", [
    ("tpu", r"device must be 'auto', 'cpu', 'cuda', 'cuda:<index>' or another torch device; got 'tpu'\. Did you mean 'cpu'\?"),
    ("gpu", r"device must be .*; got 'gpu'"),
])
def test_unknown_device_is_a_config_error_not_a_torch_traceback(Xy, device, message):
    with pytest.raises(ConfigError, match=message):
        PretrainedClassifier(**{**TINY, "device": device}).fit(*Xy)
    with pytest.raises(ConfigError, match=message):
        Trainer(device=device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_on_a_machine_without_it():
    with pytest.raises(ConfigError, match=r"device='cuda' was asked for, but this machine \(torch .*\) has no cuda device\. Use device='auto' or 'cpu'\."):
        resolve_device("cuda")


def test_predict_with_the_wrong_number_of_features(Xy):
    clf = PretrainedClassifier(**TINY).fit(*Xy)
    with pytest.raises(DataError, match=r"X has 3 features, but PretrainedClassifier is expecting 5 features as input\. PretrainedClassifier expects X of shape"):
        clf.predict(Xy[0][:, :3])
    with pytest.raises(DataError, match=r"Input X contains NaN or infinity \(5 NaN, 0 inf values in an array of shape \(1, 5\)\)"):
        clf.predict(np.full((1, 5), np.nan))


@pytest.mark.parametrize("y, message", [
    (np.array(["a", "b"] * 10), r"y must be numeric for regression; could not convert it: could not convert string to float: .*'a'"),
    (np.full(20, np.inf), r"Input y contains infinity; expected finite targets \(NaN marks an unlabeled row\)\."),
    (np.full(20, np.nan), r"Input y contains NaN in every row: no row is labeled\. At least one finite target is needed to fine-tune\."),
    (np.zeros((20, 1, 1)), r"y must have shape \(n_samples,\) or \(n_samples, n_targets\) with n_samples=20; got \(20, 1, 1\)\."),
])
def test_regressor_refuses_bad_targets(Xy, y, message):
    with pytest.raises(DataError, match=message):
        PretrainedRegressor(**TINY).fit(Xy[0], y)


def test_sklearn_unknown_label_type_is_kept_on_purpose(Xy):
    """Continuous or unhashable labels: sklearn's own ValueError, whose wording its common checks pin."""
    with pytest.raises(ValueError, match=r"Unknown label type: continuous"):
        PretrainedClassifier(**TINY).fit(Xy[0], np.linspace(0, 1, 20))


@pytest.mark.parametrize("y", [np.c_[np.arange(20) % 2, np.arange(20) % 2], np.int64(3)], ids=["2-D", "scalar"])
def test_classifier_y_of_the_wrong_shape_gives_a_data_error(Xy, y):
    with pytest.raises(DataError, match=r"y .*1-D.*one label per row"):
        PretrainedClassifier(**TINY).fit(Xy[0], y)


def test_classifier_nan_label_gives_a_data_error_with_the_unlabeled_marker(Xy):
    y = np.where(Xy[1] == 0, np.nan, 1.0)
    with pytest.raises(DataError, match=r"NaN.*-1"):
        PretrainedClassifier(**TINY).fit(Xy[0], y)


def test_classifier_labels_of_mixed_types_give_a_data_error(Xy):
    with pytest.raises(DataError, match=r"labels.*one type"):
        PretrainedClassifier(**TINY).fit(Xy[0], np.array(["a", 1] * 10, dtype=object))


@pytest.mark.parametrize("est", [PretrainedClassifier(), StackedAutoencoder()], ids=["classifier", "transformer"])
def test_use_before_fit_raises_the_layerwise_not_fitted_error(est, Xy):
    with pytest.raises(NotFittedError, match=r"not fitted yet"):
        est.predict(Xy[0]) if hasattr(est, "predict") else est.transform(Xy[0])


def test_inverse_transform_of_bad_codes_gives_a_data_error(Xy):
    sae = StackedAutoencoder((4,), max_iter=1, random_state=0, device="cpu").fit(Xy[0])
    with pytest.raises(DataError):
        sae.inverse_transform(np.full((2, 4), np.nan))


# -- Trainer and GreedyLayerwise --------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    ({"grad_clip": -1}, r"grad_clip must be None or a positive number; got -1\."),
    ({"n_iter_no_change": 0}, r"n_iter_no_change must be a positive integer; got 0\."),
    ({"alpha": -0.1}, r"alpha must be a number >= 0; got -0\.1\."),
    ({"momentum": float("nan")}, r"momentum must be a number in \[0, 1\); got nan\."),
    ({"momentum": 1.5}, r"momentum must be a number in \[0, 1\); got 1\.5\."),
    ({"learning_rate_init": float("inf")}, r"learning_rate_init must be a positive number; got inf\."),
])
def test_trainer_refuses_bad_settings_at_once(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        Trainer(**kwargs)


def test_trainer_explains_data_that_is_not_a_tuple_or_is_empty():
    X = torch.rand(8, 64)
    with pytest.raises(DataError, match=r"train must be a tuple of tensors such as \(X,\) or \(X, y\); got Tensor of shape \(8, 64\)\. Pass train=\(X,\)\."):
        Trainer(max_iter=1).fit(boring_autoencoder(), Reconstruction("mse"), X)
    with pytest.raises(DataError, match=r"train must hold tensors with the same number of rows, at least one; got rows \[0\]"):
        Trainer(max_iter=1).fit(boring_autoencoder(), Reconstruction("mse"), (X[:0],))
    with pytest.raises(DataError, match=r"train must hold tensors with the same number of rows, at least one; got rows \[8, 7\]"):
        Trainer(max_iter=1).fit(boring_autoencoder(), Reconstruction("mse"), (X, X[:7]))
    with pytest.raises(DataError, match=r"val\[0\] has rows of shape \(63,\) but train\[0\] has \(64,\); expected the same features in both\."):
        Trainer(max_iter=1).fit(boring_autoencoder(), Reconstruction("mse"), (X,), (X[:, :63],))


def test_first_batch_that_does_not_fit_the_model_is_explained():
    with pytest.raises(DataError, match=r"The first training batch could not go through AutoEncoder with Reconstruction: mat1 and mat2 shapes cannot be multiplied .*"
                                        r"The batch holds tensors of shape\(s\) \(8, 10\) float32; expected what the model takes, e\.g\. as many features as its first layer's inputs") as info:
        Trainer(max_iter=1).fit(boring_autoencoder(n_in=64), Reconstruction("mse"), (torch.rand(8, 10),))
    assert isinstance(info.value.__cause__, RuntimeError)  # the torch error stays available, chained


@pytest.mark.parametrize("X, message", [
    (torch.full((6, 3), float("nan")), r"X contains NaN or infinity \(18 NaN, 0 infinite values\); expected only finite numbers"),
    (torch.rand(5), r"X must have shape \(n_samples, n_features\) or \(n_samples, channels, height, width\) with at least one sample and one feature; got a 1-D tensor of shape \(5,\)\. Reshape a single feature"),
    (torch.rand(0, 3), r"got a 2-D tensor of shape \(0, 3\)"),
    (torch.ones(2, 2, dtype=torch.complex64), r"X must hold real numbers; got a tensor of dtype torch\.complex64"),
    (np.array([[np.inf, 1.0]]), r"X contains NaN or infinity \(0 NaN, 1 infinite values\)"),
])
def test_greedy_refuses_bad_data_before_training(X, message):
    with pytest.raises(DataError, match=message):
        GreedyLayerwise((2,), trainer=Trainer(max_iter=1)).fit(X)


def test_greedy_takes_arrays_and_integer_tensors():
    stack = GreedyLayerwise((2,), trainer=Trainer(max_iter=1, random_state=0)).fit(np.random.rand(6, 3))
    assert stack(torch.rand(2, 3)).shape == (2, 2)
    stack = GreedyLayerwise((2,), trainer=Trainer(max_iter=1, random_state=0)).fit(torch.randint(0, 2, (6, 3)))
    assert stack(torch.rand(2, 3)).shape == (2, 2)


def test_greedy_refuses_unknown_trainer_arguments_and_a_mismatched_validation_set():
    with pytest.raises(TypeError, match=r"Trainer\(\) got unexpected keyword argument\(s\) \['max_iters'\]\. Did you mean 'max_iter'\?"):
        GreedyLayerwise((4,), trainer=Trainer(max_iters=1))
    with pytest.raises(ConfigError, match=r"trainer has checkpoint_dir='ckpt'; set GreedyLayerwise\(checkpoint_dir=\.\.\.\) instead"):
        GreedyLayerwise((4,), trainer=Trainer(checkpoint_dir="ckpt"))
    with pytest.raises(DataError, match=r"X_val has rows of shape \(4,\) but X has \(3,\); expected the same features in both\."):
        GreedyLayerwise((2,), trainer=Trainer(max_iter=1)).fit(torch.rand(5, 3), torch.rand(5, 4))


# -- divergence and checkpoints ----------------------------------------------------------------

class NaNAfter:
    """An objective whose loss turns NaN after ``n`` good steps, like a learning rate that blows up."""

    def __init__(self, n: int) -> None:
        self.inner, self.n, self.calls = Reconstruction("bce"), n, 0

    def __call__(self, model, batch):
        self.calls += 1
        out = self.inner(model, batch)
        return StepOutput(out.loss * float("nan"), out.logs) if self.calls > self.n else out


def test_divergence_names_the_last_good_checkpoint_and_resume_starts_there(tmp_path, digits_small):
    X = torch.from_numpy(digits_small[0][:64])
    ckpt = tmp_path / "ckpt"
    with pytest.raises(DivergenceError, match=r"The loss became nan at epoch 2, batch 1\. Likely causes: a learning rate too high \(now 0\.001; try 10x smaller\), "
                                              r"inputs not scaled .* or NaN in the data; grad_clip=1.0 can also help. The last good checkpoint is in .*ckpt\."):
        Trainer(max_iter=3, batch_size=32, random_state=0, checkpoint_dir=ckpt).fit(boring_autoencoder(), NaNAfter(2), (X,))
    _, state = load_checkpoint(ckpt)
    assert (state["epoch"], state["batch"]) == (1, 0)
    # resuming continues from that checkpoint: a fresh NaNAfter(2) gives two good batches (epoch 2), then NaN
    with pytest.raises(DivergenceError, match=r"The loss became nan at epoch 3, batch 1\."):
        Trainer(max_iter=3, batch_size=32, random_state=0, checkpoint_dir=ckpt).fit(boring_autoencoder(), NaNAfter(2), (X,), resume=True)
    # another objective is another run: refused, with what differs and how to start over
    with pytest.raises(CheckpointError, match=r"Cannot resume from .*ckpt: its checkpoint was written by a fit with other data or "
                                              r"settings:\n- objective: 'NaNAfter' in the checkpoint, 'Reconstruction' now"):
        Trainer(max_iter=3, batch_size=32, random_state=0, checkpoint_dir=ckpt).fit(boring_autoencoder(), Reconstruction("bce"), (X,), resume=True)


def _full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _fit(X, ckpt, epochs, resume=False):
    torch.manual_seed(0)
    ae = boring_autoencoder()
    hist = Trainer(max_iter=epochs, batch_size=32, random_state=0, checkpoint_dir=ckpt).fit(ae, Reconstruction("bce"), (X,), resume=resume)
    return ae, hist


@pytest.mark.parametrize("where", ["os.replace", "open", "json rename"])
def test_a_disk_that_refuses_the_write_keeps_the_previous_checkpoint(tmp_path, digits_small, monkeypatch, where):
    X = torch.from_numpy(digits_small[0][:64])
    ckpt = tmp_path / "ckpt"
    _fit(X, ckpt, epochs=1)
    tensors_before, state_before = load_checkpoint(ckpt)
    names_before = sorted(p.name for p in ckpt.iterdir())
    if where == "os.replace":  # the tensors cannot be renamed into place
        monkeypatch.setattr(os, "replace", _full_disk)
    elif where == "open":  # files open for reading, but nothing can be written
        monkeypatch.setattr(checkpoint_mod, "open", lambda f, mode="r", *a, **k: _full_disk() if set(mode) & set("wa+") else builtins.open(f, mode, *a, **k),
                            raising=False)
    else:  # the tensors are in place, the JSON that names them is not
        real = os.replace
        monkeypatch.setattr(os, "replace", lambda a, b: _full_disk() if str(b).endswith("checkpoint.json") else real(a, b))
    with pytest.raises(CheckpointError, match=r"Could not write .*: \[Errno 28\] No space left on device\. Free some disk space or choose another "
                                              r"checkpoint_dir; the previous checkpoint, if any, is intact\."):
        _fit(X, ckpt, epochs=2, resume=True)
    monkeypatch.undo()
    assert not [p.name for p in ckpt.iterdir() if ".tmp" in p.name]  # no temporary file left behind
    if where != "json rename":
        assert sorted(p.name for p in ckpt.iterdir()) == names_before
    tensors, state = load_checkpoint(ckpt)  # the epoch-1 checkpoint, whole
    assert state["epoch"] == state_before["epoch"] == 1
    assert tensors.keys() == tensors_before.keys() and all(torch.equal(tensors[k], tensors_before[k]) for k in tensors)
    resumed, hist = _fit(X, ckpt, epochs=2, resume=True)  # and the run continues from it, to the same weights
    ref, ref_hist = _fit(X, tmp_path / "ref", epochs=2)
    assert [h["loss"] for h in hist] == [h["loss"] for h in ref_hist]
    assert all(torch.equal(a, b) for a, b in zip(ref.state_dict().values(), resumed.state_dict().values()))


def test_save_checkpoint_on_a_full_disk(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "replace", _full_disk)
    with pytest.raises(CheckpointError, match=r"Could not write a checkpoint in .*ckpt: \[Errno 28\] No space left on device"):
        save_checkpoint(tmp_path / "ckpt", {"w": torch.zeros(2)}, {})
    assert [p.name for p in (tmp_path / "ckpt").iterdir()] == []


@pytest.mark.parametrize("damage, message", [
    (lambda d: (d / "checkpoint.json").write_text("{not json"), r"Cannot read .*checkpoint\.json: Expecting property name .*Delete the folder to start over\."),
    (lambda d: (d / "checkpoint.json").write_text("[1, 2]"), r"checkpoint\.json is not a layerwise checkpoint \(no 'tensors_sha256' entry\)\. Delete the folder"),
    (lambda d: (d / "checkpoint.safetensors").unlink(), r"checkpoint\.safetensors is missing or does not match .*checkpoint\.json \(interrupted write\?\)\. Delete the folder"),
    (lambda d: (d / "checkpoint.json").write_text(json.dumps({**json.loads((d / "checkpoint.json").read_text()), "format": 99})),
     r"holds checkpoint format 99; this layerwise reads format 1\."),
])
def test_a_damaged_checkpoint_is_refused(tmp_path, digits_small, damage, message):
    X = torch.from_numpy(digits_small[0][:64])
    _fit(X, tmp_path / "ckpt", epochs=1)
    damage(tmp_path / "ckpt")
    with pytest.raises(CheckpointError, match=message):
        _fit(X, tmp_path / "ckpt", epochs=2, resume=True)


# -- config files ---------------------------------------------------------------------------

def test_config_device_is_checked_with_the_rest(tmp_path):
    from layerwise.app.config import config_from_dict

    with pytest.raises(ConfigError, match=r"The config has 2 problem\(s\):\n- device must be 'auto', 'cpu', 'cuda', 'cuda:<index>' or another torch device; "
                                          r"got 'cpus'\. Did you mean 'cpu'\?\n- pretrain.max_iter must be a positive integer; got -1\."):
        config_from_dict({"device": "cpus", "pretrain": {"max_iter": -1}})


# -- the command line -------------------------------------------------------------------------

@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    """Run ``layerwise`` in ``tmp_path``; returns (exit code, stderr)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    np.save(tmp_path / "x.npy", np.random.RandomState(0).rand(10, 5))
    (tmp_path / "tiny.toml").write_text('name = "t"\n[data]\ndataset = "x.npy"\n[model]\nhidden_layer_sizes = [4]\n[pretrain]\nmax_iter = 1\n')

    def run(*argv):
        try:
            code = main(list(argv))
        except SystemExit as e:  # argparse usage errors
            code = e.code
        err = capsys.readouterr().err
        assert "Traceback" not in err
        return code, err

    return run


@pytest.mark.parametrize("argv, message", [
    ([], r"usage: layerwise .*\nlayerwise: error: the following arguments are required: COMMAND"),
    (["train"], r"layerwise: error: argument COMMAND: invalid choice: 'train' \(choose from 'demo', 'pretrain'"),
    (["pretrain"], r"layerwise pretrain: error: the following arguments are required: -c/--config"),
    (["demo", "--label-fraction", "abc"], r"layerwise demo: error: argument --label-fraction: invalid float value: 'abc'"),
    (["demo", "--dataset", "cifar"], r"argument --dataset: invalid choice: 'cifar' \(choose from 'digits', 'fashion-mnist', 'kmnist', 'mnist'\)"),
    (["demo", "--seed", "3"], r"layerwise: error: unrecognized arguments: --seed 3 \(--seed is now --random-state\)"),
    (["sample", "m", "--seed=3"], r"unrecognized arguments: --seed=3 \(--seed is now --random-state\)"),
])
def test_cli_usage_errors_exit_2(cli, argv, message):
    code, err = cli(*argv)
    assert code == 2
    assert __import__("re").search(message, err), err


def _write(name, text):
    def make(path):
        (path / name).write_text(text)
    return make


@pytest.mark.parametrize("setup, argv, message", [
    (None, ["pretrain", "-c", "nope.toml"], r"Config file nope\.toml does not exist in .*, and no example that ships with layerwise has that name \(digits_few_labels\.toml.*\)\. Pass the path of a \.toml or \.yaml file"),
    (_write("typo.toml", "[pretrain]\nepoch = 5\n"), ["pretrain", "-c", "typo.toml"],
     r"The config has 1 problem\(s\):\n- unknown key 'pretrain\.epoch'\. Did you mean 'pretrain\.max_iter' \(called 'pretrain\.epochs' before\)\?"),
    (_write("type.toml", '[pretrain]\nmax_iter = "five"\n'), ["pretrain", "-c", "type.toml"], r"pretrain\.max_iter must be a positive integer; got 'five'\."),
    (_write("bad.toml", "[pretrain\n"), ["pretrain", "-c", "bad.toml"], r"Config file bad\.toml is not valid TOML: Expected ']'"),
    (None, ["pretrain", "-c", "tiny.toml", "--set", "max_iter"], r"Override 'max_iter' is not of the form key\.path=value, e\.g\. --set pretrain\.max_iter=5\."),
    (None, ["pretrain", "-c", "tiny.toml", "--set", "pretrain.learning_rate_init=-1"], r"pretrain\.learning_rate_init must be a positive number; got -1\."),
    (None, ["pretrain", "-c", "tiny.toml", "--set", "device=tpu"], r"device must be 'auto', 'cpu', 'cuda', 'cuda:<index>' or another torch device; got 'tpu'"),
    (None, ["pretrain", "-c", "tiny.toml", "--set", "data.dataset=cifar10"],
     r"Unknown dataset 'cifar10'\. Expected one of \['digits', 'fashion-mnist', 'kmnist', 'mnist'\]\. Or pass the path of a \.npy/\.npz/\.csv file\."),
    (None, ["pretrain", "-c", "tiny.toml", "--set", "data.dataset='nothere.csv'"], r"No such file: nothere\.csv \(absolute: .*\)\. Check the path, or pass a dataset name\."),
    (_write("s.csv", "a,b,label\n1,x,0\n2,y,1\n"), ["pretrain", "-c", "tiny.toml", "--set", "data.dataset='s.csv'", "--set", "data.label_column='label'"],
     r"s\.csv: feature column\(s\) 'b' \(column 1, line 2: 'x'\) are not numeric; expected numbers in every feature column\."),
    (None, ["pretrain", "-c", "tiny.toml", "--set", "pretrain.batch_size=1000", "--no-progress"],
     r"StackedAutoencoder has 1 invalid parameter\(s\):\n- batch_size=1000 is larger than the 9 training rows; use batch_size <= 9 or 'auto'\."),
    (None, ["finetune", "-c", "tiny.toml"], r"Dataset 'x\.npy' has no labels; fine-tuning needs them \(CSV files: set data\.label_column\)\."),
    (None, ["evaluate", "nomodel", "--input", "x.npy"], r"No model folder at 'nomodel': nothing exists there\. Pass the folder written by layerwise\.save"),
    (None, ["predict", "x.npy", "--input", "x.npy"], r"'x\.npy' is a file, not a layerwise model folder; layerwise\.load reads no other format\."),
])
def test_cli_user_errors_print_one_line_and_exit_2(cli, tmp_path, setup, argv, message):
    if setup is not None:
        setup(tmp_path)
    code, err = cli(*argv)
    assert code == 2
    assert err.rstrip().split("\n")[-1]  # something was said
    assert __import__("re").search(r"layerwise: error: [\s\S]*" + message, err), err


@pytest.fixture(scope="module")
def saved_classifier(tmp_path_factory, digits):
    from layerwise.persistence.io import save

    X, y = digits
    return save(PretrainedClassifier(**TINY).fit(X[:100], y[:100]), tmp_path_factory.mktemp("m") / "model")


@pytest.mark.parametrize("argv, message", [
    (["evaluate", "{model}"], r"Say which data to use: --input FILE \(\.npy/\.npz/\.csv\) or FOLDER \(images\), -c CONFIG \(its test split\) or "
                            r"--dataset NAME\."),
    (["predict", "{model}", "--input", "x.npy"], r"X has 5 features, but PretrainedClassifier is expecting 64 features as input\."),
    (["sample", "{model}"], r"holds a PretrainedClassifier \(.*\), which has no generative model: it cannot sample\. Sampling "
                            r"needs a VariationalAutoencoder"),
])
def test_cli_errors_with_a_saved_model(cli, saved_classifier, argv, message):
    code, err = cli(*[a.format(model=saved_classifier) for a in argv])
    assert code == 2
    assert __import__("re").search(r"layerwise: error: .*" + message, err), err


def test_cli_demo_label_fraction_out_of_range(cli):
    code, err = cli("demo", "--label-fraction", "0", "--quick", "--no-progress")
    assert code == 2 and "--label-fraction must be in (0, 1]" in err


def test_every_error_is_a_layerwise_error_and_a_builtin():
    for cls in (ConfigError, DataError, CheckpointError):
        assert issubclass(cls, LayerwiseError) and issubclass(cls, ValueError)
    assert issubclass(DivergenceError, FloatingPointError)
