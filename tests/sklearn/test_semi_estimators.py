"""PretrainedClassifier with semi-supervised methods: which method runs, files, resume, errors."""

import numpy as np
import pytest

import layerwise
from layerwise import PretrainedClassifier, PretrainedRegressor
from layerwise.exceptions import ConfigError, DataError
from layerwise.registry import SEMI_SUPERVISED

SMALL = {"ladder": {}, "m1m2": {"m1_epochs": 2, "latent_dim": 4, "m2_hidden": (32,), "m1_latent": 8},
         "vime": {"prepare_epochs": 2, "predictor_hidden": (32,)}, "conv_ladder": {"image_shape": (1, 8, 8)}}


@pytest.fixture(scope="module")
def partial(digits):
    X, y = digits
    y_partial = y.copy()
    y_partial[150:] = -1
    return X[:600], y_partial[:600], y[:600]


def _clf(name, **kw):
    sizes = () if name == "conv_ladder" else ((32, 16),)  # Conv-Small's layers are fixed: it refuses hidden_layer_sizes
    return PretrainedClassifier(*sizes, semi_supervised=name, semi_supervised_params=SMALL[name], max_iter=3,
                                random_state=0, **kw)


def test_auto_trains_the_ladder_when_rows_are_unlabeled_and_pretrains_otherwise(partial):
    X, y_partial, y = partial
    assert PretrainedClassifier((32,), max_iter=2, random_state=0).fit(X, y_partial).semi_supervised_ == "ladder"
    full = PretrainedClassifier((32,), max_iter=2, pretrain_max_iter=1, random_state=0).fit(X, y)
    assert full.semi_supervised_ is None and full.stack_ is not None


def test_the_default_ladder_learns_from_few_labels(partial):
    X, y_partial, y = partial
    clf = PretrainedClassifier((64,), max_iter=50, random_state=0).fit(X, y_partial)
    assert clf.score(X[150:], y[150:]) > 0.8  # 150 labels; the 450 unlabeled rows scored (0.84 measured)
    assert any(k.startswith("denoising_") for k in clf.history_["finetune"][0])


@pytest.mark.parametrize("name", SEMI_SUPERVISED.names())
def test_every_method_round_trips_through_model_files(name, partial, tmp_path):
    X, y_partial, _ = partial
    clf = _clf(name).fit(X, y_partial)
    assert clf.semi_supervised_ == name and clf.transform(X[:4]).shape[0] == 4
    assert len(clf.get_feature_names_out()) == clf.transform(X[:1]).shape[1]
    layerwise.save(clf, tmp_path / "m")
    back = layerwise.load(tmp_path / "m")
    assert back.semi_supervised_ == name
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(back.transform(X[:5]), clf.transform(X[:5]))


@pytest.mark.parametrize("name", SEMI_SUPERVISED.names())
def test_every_method_resumes_bitwise_through_the_estimator(name, partial, tmp_path, monkeypatch):
    from layerwise.train import loop

    X, y_partial, _ = partial
    ref = _clf(name).fit(X, y_partial, checkpoint_dir=tmp_path / "ref")
    real_step, calls = loop.Trainer._step, {"n": 0}

    def crash_after_some_steps(self, model, objective, batch):  # a kill in the middle of the method's training
        if self.desc == name:
            calls["n"] += 1
            if calls["n"] == 9:  # in the second epoch (6 steps of 100 rows each): the first one is checkpointed
                raise KeyboardInterrupt
        return real_step(self, model, objective, batch)

    def count_steps(self, model, objective, batch):
        if self.desc == name:
            calls["resumed"] += 1
        return real_step(self, model, objective, batch)

    monkeypatch.setattr(loop.Trainer, "_step", crash_after_some_steps)
    with pytest.raises(KeyboardInterrupt):
        _clf(name).fit(X, y_partial, checkpoint_dir=tmp_path / "run")
    calls["resumed"] = 0
    monkeypatch.setattr(loop.Trainer, "_step", count_steps)
    resumed = _clf(name).fit(X, y_partial, checkpoint_dir=tmp_path / "run", resume=True)
    steps = 3 * 6  # 3 epochs of batch "auto" (the method's 100 rows) over 600 rows
    assert calls["resumed"] < steps  # it continued from the last checkpoint instead of starting over
    for (k, a), b in zip(ref.module_.state_dict().items(), resumed.module_.state_dict().values()):
        assert np.array_equal(a.numpy(), b.numpy()), k


@pytest.mark.parametrize("params, match", [
    ({"semi_supervised": "ladr"}, r"semi_supervised must be None or 'auto' or one of \['conv_ladder', 'ladder', 'm1m2', 'vime'\]; got 'ladr'. Did you mean 'ladder'\?"),
    ({"semi_supervised_params": {"noise_std": -1}}, r"semi_supervised_params\['noise_std'\] \(an option of the semi-supervised method 'ladder'\) must be a number >= 0; got -1\."),
    ({"semi_supervised_params": {"nois": 0.2}}, "unknown option 'nois' for the semi-supervised method 'ladder'. Did you mean 'noise_std'"),
    ({"semi_supervised": "ladder", "semi_supervised_params": {"denoising_costs": [1, -1, 1]}}, r"denoising_costs'\] \(an option of the semi-supervised method 'ladder'\) must be one of \['paper', 'gamma'\] or a non-empty list"),
    ({"semi_supervised": "m1m2", "semi_supervised_params": {"alpha": -0.5}}, r"alpha'\] \(an option of the semi-supervised method 'm1m2'\) must be a number >= 0; got -0.5\."),
    ({"semi_supervised": None, "semi_supervised_params": {"noise_std": 0.2}}, "'semi_supervised' is None, so nothing would use them"),
])
def test_bad_semi_supervised_settings_name_the_parameter(params, match, partial):
    X, y_partial, _ = partial
    with pytest.raises(ConfigError, match=match):
        PretrainedClassifier((16,), max_iter=1, **params).fit(X, y_partial)


def test_a_wrong_number_of_lambdas_is_refused_before_training(partial):
    X, y_partial, _ = partial
    clf = PretrainedClassifier((16,), max_iter=1, semi_supervised_params={"denoising_costs": [1, 1]})
    with pytest.raises(ConfigError, match="denoising_costs has 2 values but the network has 3 layers"):
        clf.fit(X, y_partial)


def test_a_method_with_a_pretrained_model_or_a_regressor_is_refused(partial):
    X, y_partial, y = partial
    with pytest.raises(ConfigError, match="builds and trains its own network, so pretrained='somewhere' would not be used"):
        PretrainedClassifier((16,), semi_supervised="ladder", pretrained="somewhere").fit(X, y_partial)
    with pytest.raises(ConfigError, match="semi_supervised='ladder' trains classifiers only"):
        PretrainedRegressor((16,), semi_supervised="ladder").fit(X, y.astype(float))


def test_all_rows_unlabeled_or_labels_of_the_wrong_length_are_refused(partial):
    X, _, y = partial
    with pytest.raises(DataError, match="Every label is -1 \\(unlabeled\\)"):
        PretrainedClassifier((16,)).fit(X, np.full(len(X), -1))
    with pytest.raises(DataError, match="y has 10 rows but X has 600"):
        PretrainedClassifier((16,)).fit(X, y[:10])


def test_inputs_outside_the_unit_interval_are_warned_about_or_refused(partial):
    """The careless user's digits in 0..16: the ladder trained on them scored 0.51 (0.96 scaled), silently. Now the
    ladder warns (standardised data can still work) and M1+M2, whose M1 is a Bernoulli VAE, refuses them."""
    import warnings

    from layerwise.exceptions import TrainingWarning

    X, y, _ = partial
    with pytest.warns(TrainingWarning, match=r"semi_supervised='ladder' expects inputs in \[0, 1\].*X ranges over "
                                             r"\[0, 16\] after scale='none'.*Pass scale='minmax'"):
        _clf("ladder", scale="none").fit(X * 16, y)  # "auto", the default, would min-max scale these pixels
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*expects inputs in", category=TrainingWarning)
        _clf("ladder", scale="minmax").fit(X * 16, y)
    with pytest.raises(DataError, match=r"m1m2's M1 is a Bernoulli VAE, which needs inputs in \[0, 1\]; got values in \[0, 16\]"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TrainingWarning)
            _clf("m1m2", scale="none").fit(X * 16, y)


# -- the convolutional ladder (Conv-Small) on images -------------------------------------------------


def test_auto_trains_the_conv_ladder_on_images_on_a_gpu_and_load_rebuilds_it(partial, tmp_path, monkeypatch):
    """Images (here a Dataset of 8x8 digits, -1 for the unlabeled ones) get Conv-Small, which needs their shape, when
    the fit runs on a GPU (faked here: the network itself runs on the CPU); on a CPU, the dense ladder."""
    import torch
    from torch.utils.data import TensorDataset

    from layerwise.sklearn._semi import SemiSupervisedMixin

    X, y_partial, _ = partial
    images = TensorDataset(torch.from_numpy(X.reshape(-1, 1, 8, 8)), torch.from_numpy(y_partial))
    assert PretrainedClassifier(max_iter=1, random_state=0).fit(images).semi_supervised_ == "ladder"
    monkeypatch.setattr(SemiSupervisedMixin, "_on_gpu", lambda self: True)
    clf = PretrainedClassifier(max_iter=2, random_state=0).fit(images)
    assert clf.semi_supervised_ == "conv_ladder" and clf._stack_recipe["image_shape"] == [1, 8, 8]
    assert clf.transform(X[:3]).shape == (3, 10)  # the global mean pool of its ten channels
    layerwise.save(clf, tmp_path / "m")
    back = layerwise.load(tmp_path / "m")
    assert back.semi_supervised_ == "conv_ladder"
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    # the same images with layer widths: the dense ladder, which uses them
    dense = PretrainedClassifier((32,), max_iter=1, random_state=0).fit(images)
    assert dense.semi_supervised_ == "ladder"


def test_the_conv_ladder_learns_colours_from_an_image_folder(tmp_path):
    """A folder of 16x16 RGB images, three classes told apart by colour, a third of the labels hidden as "-1"."""
    from PIL import Image

    from layerwise.data.images import ImageFolder

    rng = np.random.RandomState(0)
    for name, rgb in [("red", (200, 40, 40)), ("green", (40, 180, 60)), ("blue", (50, 60, 210))]:
        (tmp_path / name).mkdir()
        for i in range(20):
            pixels = np.clip(np.array(rgb) + rng.normal(0, 40, (16, 16, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels, "RGB").save(tmp_path / name / f"{i}.png")
    folder = ImageFolder(tmp_path)
    y = np.asarray(folder.classes)[folder.targets]
    y_partial = np.where(np.arange(len(y)) % 3 == 0, y, "-1")
    clf = PretrainedClassifier(semi_supervised="conv_ladder", max_iter=15, random_state=0).fit(str(tmp_path), y_partial)
    assert clf.semi_supervised_ == "conv_ladder" and clf._stack_recipe["image_shape"] == [3, 16, 16]
    hidden = y_partial == "-1"
    assert clf.score(str(tmp_path)) > 0.8 and (clf.predict(str(tmp_path))[hidden] == y[hidden]).mean() > 0.8  # chance: 1/3


@pytest.mark.parametrize("setting, shown", [({"hidden_layer_sizes": (32, 16)}, r"hidden_layer_sizes=\(32, 16\)"),
                                            ({"activation": "tanh"}, "activation='tanh'")])
def test_layer_settings_beside_the_conv_ladder_are_refused(partial, setting, shown):
    X, y_partial, _ = partial
    with pytest.raises(ConfigError, match=rf"semi_supervised='conv_ladder' trains a network of fixed layers, so {shown} "
                                          r"would not be used; remove it, or set semi_supervised='ladder' for a dense ladder"):
        PretrainedClassifier(semi_supervised="conv_ladder", semi_supervised_params={"image_shape": (1, 8, 8)}, max_iter=1,
                             **setting).fit(X, y_partial)


def test_the_conv_ladder_on_flat_rows_needs_their_image_shape(partial):
    X, y_partial, _ = partial
    with pytest.raises(ConfigError, match=r"conv_ladder needs image_shape=\(channels, height, width\) to unflatten its "
                                          r"rows of 64 values; pass semi_supervised_params=\{'image_shape': \(1, 28, 28\)\}"):
        PretrainedClassifier(semi_supervised="conv_ladder", max_iter=1).fit(X, y_partial)
    with pytest.raises(ConfigError, match=r"image_shape=\(3, 8, 8\) has 192 values but the rows have 64"):
        PretrainedClassifier(semi_supervised="conv_ladder", semi_supervised_params={"image_shape": (3, 8, 8)},
                             max_iter=1).fit(X, y_partial)


# -- the ladder's settings from the rows' width -------------------------------------------------------


def _wide(n=300, d=300, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.rand(n, d).astype(np.float32)
    y = (X[:, 0] > 0.5).astype(int)
    y_partial = np.where(np.arange(n) < 40, y, -1)
    return X, y_partial


def test_wide_rows_get_the_papers_network_noise_and_rate_unless_set(tmp_path):
    X, y_partial = _wide()
    clf = PretrainedClassifier(max_iter=1, random_state=0, check_reference=False).fit(X, y_partial)
    assert clf.semi_supervised_ == "ladder"
    assert clf.module_.sizes == (300, 1000, 500, 250, 250, 250, 2)
    assert clf._stack_recipe["hidden_layer_sizes"] == [1000, 500, 250, 250, 250]
    layerwise.save(clf, tmp_path / "m")
    np.testing.assert_array_equal(layerwise.load(tmp_path / "m").predict_proba(X), clf.predict_proba(X))
    method, sizes = clf._semi_method_for("ladder", 300)
    assert (method.noise_std, method.learning_rate, sizes) == (0.3, 0.002, (1000, 500, 250, 250, 250))
    mine = PretrainedClassifier((64,), semi_supervised_params={"noise_std": 0.1}, learning_rate_init=0.01)
    method, sizes = mine._semi_method_for("ladder", 300)
    assert (method.noise_std, sizes) == (0.1, (64,))
    method, sizes = PretrainedClassifier()._semi_method_for("ladder", 64)  # narrow rows (digits): the class's own
    assert (method.noise_std, method.learning_rate, sizes) == (0.2, 0.005, (512, 256))


@pytest.mark.parametrize("n, epochs", [(1257, 231), (60000, 20), (30000, 40), (600000, 2)])
def test_auto_epochs_give_at_least_min_steps_and_at_most_about_max_steps(n, epochs):
    from layerwise.objectives import Ladder

    assert PretrainedClassifier()._semi_epochs(Ladder(), n) == epochs
