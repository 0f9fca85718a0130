"""Model files: save -> load round trips, the folder's contents, and every refusal."""

from __future__ import annotations

import json
import pickle
import struct

import numpy as np
import pytest
import torch
from torch import nn

import layerwise.persistence.folder as modelfile_mod
import layerwise.persistence.io as io_mod
from layerwise import (
    RBM,
    CheckpointError,
    ClassifierHead,
    ConfigError,
    GreedyLayerwise,
    NotFittedError,
    PretrainedClassifier,
    PretrainedRegressor,
    StackedAutoencoder,
    VariationalAutoencoder,
    conv_autoencoder,
    dense_autoencoder,
    dense_vae,
)
from layerwise.persistence.folder import CONFIG, META, WEIGHTS
from layerwise.persistence.io import load, save
from layerwise.pipeline.finetune import stack_with_head
from layerwise.train import Trainer

OBJECTIVES = ["autoencoder", "sparse", "denoising", "contractive", "conv", "rbm", "vae", None]
CONV = {"image_shape": (1, 8, 8)}
FAST = dict(hidden_layer_sizes=(16, 8), random_state=0, device="cpu")


def _estimator(kind: str, pretrain):
    params = {**FAST, "pretrain": pretrain, "pretrain_params": CONV if pretrain == "conv" else None}
    if kind == "classifier":
        return PretrainedClassifier(**params, pretrain_max_iter=1, max_iter=2)
    if kind == "regressor":
        return PretrainedRegressor(**params, pretrain_max_iter=1, max_iter=2)
    # the unrolled, tied deep autoencoder keeps decoder weights outside itself (tied to copies): saved too
    unroll = dict(unroll_max_iter=1, tied=pretrain != "conv") if kind == "unrolled autoencoder" else {}
    return StackedAutoencoder(**params, max_iter=1, **unroll)


def _outputs(est, X) -> dict[str, np.ndarray]:
    """Everything the estimator computes from X."""
    out = {"transform": est.transform(X)}
    for method in ("predict", "predict_proba"):
        if hasattr(est, method):
            out[method] = getattr(est, method)(X)
    if hasattr(est, "inverse_transform"):
        out["inverse_transform"] = est.inverse_transform(out["transform"])
    return out


CASES = [(k, o) for k in ("classifier", "regressor") for o in OBJECTIVES]
CASES += [(k, o) for k in ("autoencoder", "unrolled autoencoder") for o in OBJECTIVES if o is not None]


@pytest.mark.parametrize("kind, pretrain", CASES, ids=[f"{k}-{o}" for k, o in CASES])
def test_loaded_estimator_computes_exactly_what_the_saved_one_did(digits_small, tmp_path, kind, pretrain):
    X, y = digits_small
    est = _estimator(kind, pretrain)
    est.fit(X, y.astype(float) if kind == "regressor" else y)
    folder = save(est, tmp_path / "model")
    loaded = load(folder)
    assert type(loaded) is type(est) and loaded.get_params() == est.get_params()
    expected, got = _outputs(est, X), _outputs(loaded, X)
    assert expected.keys() == got.keys()
    for method in expected:
        assert np.array_equal(expected[method], got[method]), method
    assert loaded.n_features_in_ == 64 and loaded.n_iter_ == est.n_iter_ and loaded.history_ == est.history_
    if kind == "classifier":
        assert np.array_equal(loaded.classes_, est.classes_) and loaded.classes_.dtype == est.classes_.dtype


def test_variational_autoencoder_round_trip(digits_small, tmp_path):
    X = digits_small[0]
    vae = VariationalAutoencoder((16,), n_components=4, max_iter=2, random_state=0, device="cpu").fit(X)
    loaded = load(save(vae, tmp_path / "vae"))
    Z = vae.transform(X)
    assert np.array_equal(loaded.transform(X), Z)
    assert np.array_equal(loaded.inverse_transform(Z), vae.inverse_transform(Z))
    assert np.array_equal(loaded.sample(5, random_state=1), vae.sample(5, random_state=1))
    assert np.array_equal(loaded.score_samples(X), vae.score_samples(X))


def test_string_labels_and_two_target_columns_survive(digits_small, tmp_path):
    X, y = digits_small
    clf = PretrainedClassifier(**FAST, pretrain_max_iter=1, max_iter=2).fit(X, np.array(["even", "odd"])[y % 2])
    assert np.array_equal(load(save(clf, tmp_path / "clf")).predict(X), clf.predict(X))
    reg = PretrainedRegressor(**FAST, pretrain_max_iter=1, max_iter=2).fit(X, np.c_[y, -2.0 * y])
    loaded = load(save(reg, tmp_path / "reg"))
    assert loaded.predict(X).shape == (300, 2) and np.array_equal(loaded.predict(X), reg.predict(X))


def _greedy(objective: str, tied: bool = False):
    params = CONV if objective == "conv" else {}
    return GreedyLayerwise((8, 4), objective=objective, objective_params=params, tied=tied,
                           trainer=Trainer(max_iter=1, random_state=0, device="cpu")).fit(torch.rand(64, 64))


MODULES = {
    "greedy stack": lambda: _greedy("autoencoder"),
    "greedy rbm stack (DBN)": lambda: _greedy("rbm"),
    "greedy vae stack": lambda: _greedy("vae", tied=True),
    "greedy conv stack": lambda: _greedy("conv"),
    "unrolled tied stack": lambda: _greedy("autoencoder", tied=True).unroll(),
    "unrolled conv stack": lambda: _greedy("conv").unroll(),
    "dense_autoencoder tied": lambda: dense_autoencoder(64, 8, "tanh", "logistic", tied=True, dropout=0.1),
    "dense_vae": lambda: dense_vae(64, (16,), 4, tied=True),
    "rbm": lambda: RBM(64, 8, visible="gaussian"),
    "conv_autoencoder": lambda: conv_autoencoder((64,), 4, decoder="upsample", image_shape=(1, 8, 8)),
    "stack with head": lambda: stack_with_head(_greedy("autoencoder"), ClassifierHead(4, 3, dropout=0.2)),
}


@pytest.mark.parametrize("name", list(MODULES))
def test_library_modules_are_rebuilt_from_their_architecture(tmp_path, name):
    module = MODULES[name]()
    folder = save(module, tmp_path / "m")
    loaded = load(folder)
    assert type(loaded) is type(module) and io_mod._layout(loaded) == io_mod._layout(module)
    assert [p.requires_grad for p in loaded.parameters()] == [p.requires_grad for p in module.parameters()]
    assert [m.training for m in loaded.modules()] == [m.training for m in module.modules()]
    x = torch.rand(20, 64)
    module.eval(), loaded.eval()
    with torch.no_grad():
        a, b = module(x), loaded(x)
    a, b = (a.mu, b.mu) if isinstance(a, tuple) else (a, b)
    assert torch.equal(a, b)
    if name == "unrolled tied stack":  # unrolling unties: every decoder weight is a real parameter
        assert json.loads((folder / CONFIG).read_text())["weights"]["hidden"] == []
        assert "decoder.0.0.weight" in loaded.state_dict()


class _Custom(nn.Module):
    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.proj = nn.Linear(64, width)

    def forward(self, x):
        return self.proj(x).tanh()


def test_unknown_module_needs_model_and_loads_strictly(tmp_path):
    module = _Custom()
    folder = save(module, tmp_path / "custom")
    with pytest.raises(CheckpointError, match=r"holds the weights of a tests\.persistence\.test_io\._Custom, whose architecture layerwise cannot rebuild.*model=MyModel"):
        load(folder)
    fresh = load(folder, model=_Custom())
    assert torch.equal(fresh.proj.weight, module.proj.weight)
    with pytest.raises(CheckpointError, match=r"do not fit the _Custom passed as model=:\nshape mismatch \(2\): proj\.weight: target \(5, 64\) vs source \(4, 64\), proj\.bias"):
        load(folder, model=_Custom(width=5))


@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")  # torch importing dynamo
def test_a_compiled_module_round_trips_as_the_module_it_wraps(tmp_path):
    """torch.compile wraps a module (keys "_orig_mod.*"): save writes the wrapped module, which load rebuilds.

    Compiling happens at the first call, not in torch.compile(): nothing is compiled here, so the test is quick
    on any CPU; the wrapper is the object a user holds.
    """
    model = dense_autoencoder(8, 3)
    compiled = torch.compile(model)
    assert type(compiled).__name__ == "OptimizedModule" and next(iter(compiled.state_dict())).startswith("_orig_mod.")
    folder = save(compiled, tmp_path / "compiled")
    assert json.loads((folder / "config.json").read_text())["class"] == "AutoEncoder"
    again = load(folder)
    x = torch.rand(5, 8)
    assert type(again) is type(model) and torch.equal(again(x), model(x))
    assert list(again.state_dict()) == list(model.state_dict())


def test_folder_holds_exactly_three_files_and_no_pickle(digits_small, tmp_path):
    X, y = digits_small
    clf = PretrainedClassifier(**FAST, pretrain_max_iter=1, max_iter=2).fit(X, y)
    folder = save(clf, tmp_path / "model", metrics={"accuracy": np.float64(clf.score(X, y))}, meta={"preprocessing": "x / 16"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temporary folder left behind
    assert sorted(p.name for p in folder.iterdir()) == sorted([WEIGHTS, CONFIG, META])
    raw = (folder / WEIGHTS).read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])  # safetensors: a u64 length, then a JSON header
    header = json.loads(raw[8 : 8 + header_len])
    assert "stack.layers.0.0.weight" in header and not raw.startswith((b"\x80", b"PK"))  # not a pickle, not a torch zip
    config, meta = json.loads((folder / CONFIG).read_text()), json.loads((folder / META).read_text())
    assert config["class"] == "PretrainedClassifier" and config["state"]["stack"]["first_loss"] == "bce"
    assert set(meta["versions"]) == {"layerwise", "torch", "numpy", "sklearn", "safetensors", "python"}
    assert meta["input_shape"] == [64] and meta["preprocessing"] == "x / 16" and meta["class"] == "PretrainedClassifier"
    assert meta["metrics"]["accuracy"] == pytest.approx(clf.score(X, y)) and meta["created"].endswith("+00:00")


class _Bomb:
    """Unpickling this creates ``marker``: a stand-in for code a pickle can run."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


@pytest.mark.parametrize("name", ["model.pkl", "model.pt", "weights", "folder/model.safetensors", "run/model.pkl"])
def test_a_pickle_is_refused_and_never_unpickled(tmp_path, name):
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(_Bomb(control))).close()
    assert control.exists()  # the payload is live: unpickling it runs code
    marker = tmp_path / "pwned"
    evil = tmp_path / name
    evil.parent.mkdir(exist_ok=True)
    evil.write_bytes(pickle.dumps(_Bomb(marker)))
    target, message = {
        "model.pkl": (evil, r"is a \.pkl file, not a layerwise model folder\. layerwise never unpickles"),
        "model.pt": (evil, r"is a \.pt file.*never unpickles.*torch\.load\(path, weights_only=True\).*load_pretrained"),
        "weights": (evil, r"is a file, not a layerwise model folder"),
        "folder/model.safetensors": (evil, r"is one file of a model folder; pass the folder itself"),
        "run/model.pkl": (evil.parent, r"has no config\.json, so it is not a layerwise model folder \(it holds: \['model\.pkl'\]\)"),
    }[name]
    with pytest.raises(CheckpointError, match=message):
        load(target)
    assert not marker.exists()


def test_a_pickle_in_place_of_the_weights_is_not_read(saved, tmp_path):
    marker = tmp_path / "pwned"
    (saved / WEIGHTS).write_bytes(pickle.dumps(_Bomb(marker)))
    (saved / META).unlink()  # no checksum: the safetensors reader itself must refuse it
    with pytest.raises(CheckpointError, match=r"model\.safetensors is truncated or corrupted and cannot be read as safetensors"):
        load(saved)
    assert not marker.exists()


def test_torch_saved_file_is_refused(tmp_path):
    torch.save(dense_autoencoder(8, 3).state_dict(), tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match=r"model\.pt' is a \.pt file.*can run arbitrary code"):
        load(tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match=r"No model folder at .*nothing exists there"):
        load(tmp_path / "missing")


@pytest.fixture
def saved(tmp_path, digits_small):
    """A saved classifier's folder."""
    X, y = digits_small
    return save(PretrainedClassifier(**FAST, pretrain_max_iter=1, max_iter=1).fit(X, y), tmp_path / "model")


def _truncate(folder):
    raw = (folder / WEIGHTS).read_bytes()
    (folder / WEIGHTS).write_bytes(raw[: len(raw) // 2])


def _flip_a_weight(folder):
    raw = bytearray((folder / WEIGHTS).read_bytes())
    raw[-10] ^= 0xFF  # inside the last tensor's data: safetensors alone cannot notice
    (folder / WEIGHTS).write_bytes(bytes(raw))


def _edit(file, fn):
    def edit(folder):
        data = json.loads((folder / file).read_text())
        fn(data)
        (folder / file).write_text(json.dumps(data))
    return edit


CORRUPTIONS = {
    "truncated": (_truncate, r"model\.safetensors is truncated or corrupted: its SHA-256 differs"),
    "truncated, no meta.json": (lambda f: (_truncate(f), (f / META).unlink()), r"model\.safetensors is truncated or corrupted and cannot be read as safetensors"),
    "a flipped byte": (_flip_a_weight, r"truncated or corrupted: its SHA-256 differs from the one recorded in meta\.json"),
    "missing weights": (lambda f: (f / WEIGHTS).unlink(), r"has no model\.safetensors \(the weights\)"),
    "missing config": (lambda f: (f / CONFIG).unlink(), r"has no config\.json, so it is not a layerwise model folder \(it holds: \['meta\.json', 'model\.safetensors'\]\)"),
    "config not JSON": (lambda f: (f / CONFIG).write_text('{"format": "lay'), r"config\.json is not valid JSON"),
    "newer format": (_edit(CONFIG, lambda c: c.update(format_version=99)), r"model format version 99, newer than this layerwise reads \(up to 1\)\. Upgrade layerwise"),
    "unknown class": (_edit(CONFIG, lambda c: c.update({"class": "DeepBeliefClassifier"})), r"Unknown estimator class 'DeepBeliefClassifier'.*knows \['PretrainedClassifier'"),
    "other architecture": (
        _edit(CONFIG, lambda c: c["params"].update(hidden_layer_sizes={"__tuple__": [32, 8]})),
        r"do not fit the PretrainedClassifier architecture described in config\.json:\nshape mismatch \(\d+\): stack\.layers\.0\.0\.weight: target \(32, 64\) vs source \(16, 64\)",
    ),
}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_broken_folders_are_refused_with_the_file_and_the_fix(saved, name):
    corrupt, message = CORRUPTIONS[name]
    corrupt(saved)
    with pytest.raises(CheckpointError, match=message):
        load(saved)


def test_weights_of_another_module_list_the_keys(tmp_path):
    a, b = save(dense_autoencoder(64, 8), tmp_path / "a"), save(dense_autoencoder(64, 8, tied=True), tmp_path / "b")
    for name in (WEIGHTS, META):
        (a / name).write_bytes((b / name).read_bytes())
    with pytest.raises(CheckpointError, match=r"do not fit the AutoEncoder.*\nmissing \(1, in the target but not the source\): decoder\.0\.weight"):
        load(a)
    spec = json.loads((b / CONFIG).read_text())
    spec["architecture"]["encoder"]["type"] = "Transformer"
    (b / CONFIG).write_text(json.dumps(spec))
    with pytest.raises(CheckpointError, match=r"Unknown layer class 'Transformer'.*knows \[.*'Conv2d'"):
        load(b)


def test_a_crash_while_saving_leaves_no_half_written_model(saved, digits_small, monkeypatch):
    X, y = digits_small
    before = load(saved).predict(X)

    def crash(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(modelfile_mod, "save_file", crash)
    clf = PretrainedClassifier(**{**FAST, "random_state": 1}, pretrain_max_iter=1, max_iter=1).fit(X, y)
    with pytest.raises(KeyboardInterrupt):
        save(clf, saved)
    with pytest.raises(KeyboardInterrupt):
        save(clf, saved.parent / "new")
    assert sorted(p.name for p in saved.parent.iterdir()) == ["model"]  # no "new", no temporary folder
    assert np.array_equal(load(saved).predict(X), before)  # the old model is intact
    monkeypatch.undo()
    assert np.array_equal(load(save(clf, saved)).predict(X), clf.predict(X))  # replaced in one step


def test_save_refuses_what_it_cannot_write(tmp_path, digits_small):
    X, y = digits_small
    with pytest.raises(NotFittedError, match=r"This PretrainedClassifier is not fitted yet; call fit before layerwise\.save"):
        save(PretrainedClassifier(), tmp_path / "m")
    with pytest.raises(ConfigError, match=r"save expects a fitted layerwise estimator or a torch nn\.Module; got dict"):
        save({"w": torch.zeros(2)}, tmp_path / "m")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    with pytest.raises(CheckpointError, match=r"'.*notes' exists and is not a layerwise model folder \(it holds \['todo\.txt'\]\); save replaces only its own model folders"):
        save(dense_autoencoder(8, 3), tmp_path / "notes")
    clf = PretrainedClassifier(**FAST, pretrain_max_iter=1, max_iter=1, pretrain_params={"noise": "masking", "level": np.float32(0.2)}).fit(X, y)
    with pytest.raises(CheckpointError, match=r"Cannot save metrics\['curve'\] = <built-in function len> \(builtin_function_or_method\): model files hold JSON values only"):
        save(clf, tmp_path / "m", metrics={"curve": len})
    with pytest.warns(UserWarning, match=r"random_state=RandomState.*saved as None"):
        loaded = load(save(clf.set_params(random_state=np.random.RandomState(0)), tmp_path / "m"))
    assert loaded.random_state is None and loaded.pretrain_params == {"noise": "masking", "level": pytest.approx(0.2)}
    assert (tmp_path / "notes" / "todo.txt").read_text() == "keep me"


def test_load_leaves_the_global_rng_alone(saved):
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    load(saved)
    assert torch.equal(torch.rand(3), expected)
