"""An ImageFolder given to an estimator is labelled with its class names, as a path is, and keeps its size=; the
estimators' image_size resizes a folder's images (issue: "Images as they come")."""

import numpy as np
import pytest
from PIL import Image

from layerwise import ConfigError, PretrainedClassifier, StackedAutoencoder, load, save
from layerwise.data.images import ImageFolder
from layerwise.sklearn._inputs import read_inputs

FAST = dict(hidden_layer_sizes=(8,), pretrain_max_iter=1, max_iter=30, random_state=0, device="cpu", check_reference=False)


def test_an_image_folder_with_size_keeps_the_class_names(tmp_path):
    for name, shape in [("cat", (6, 5)), ("dog", (9, 7))]:  # two sizes: only size= makes them one
        (tmp_path / name).mkdir()
        Image.fromarray(np.zeros(shape, np.uint8)).save(tmp_path / name / "a.png")
    for stream in (False, True):
        got = read_inputs(ImageFolder(tmp_path, size=(4, 4)), stream=stream, ordered=True)
        assert got.y.tolist() == ["cat", "dog"] and got.image_shape == (1, 4, 4)


def _mixed_folder(root, sizes=((6, 5), (9, 7), (5, 8))):
    """root/cat (dark) and root/dog (bright), three images each, of several sizes: only a resize makes them rows."""
    rng = np.random.RandomState(0)
    for name, low in (("cat", 0), ("dog", 155)):
        (root / name).mkdir(parents=True)
        for i, shape in enumerate(sizes):
            Image.fromarray((low + rng.rand(*shape) * 100).astype(np.uint8)).save(root / name / f"{i}.png")
    return root


def test_image_size_reads_a_folder_of_mixed_sizes_and_keeps_the_class_names(tmp_path):
    root = _mixed_folder(tmp_path / "train")
    with pytest.raises(ValueError, match=r"The images differ in size: .* Pass size=\(.*\) to resize every image to it \(an "
                                         r"estimator's image_size=\(.*\), a config's \[data\] image_size = \[.*\]\)"):
        PretrainedClassifier(**FAST).fit(root)
    clf = PretrainedClassifier(**FAST, image_size=(4, 3)).fit(root)
    assert clf.classes_.tolist() == ["cat", "dog"] and clf.n_features_in_ == 12
    truth = np.array(["cat"] * 3 + ["dog"] * 3)
    assert clf.score(root) == float((clf.predict(root) == truth).mean())  # the folder's labels, read by score
    square = PretrainedClassifier(**FAST, image_size=4).fit(str(root))  # an int is a square
    assert square.n_features_in_ == 16
    other = _mixed_folder(tmp_path / "other", sizes=((12, 10), (3, 3), (7, 7)))
    again = load(save(square, tmp_path / "model"))  # saved with the model: another folder is resized the same way
    assert again.image_size == 4
    np.testing.assert_array_equal(again.predict_proba(other), square.predict_proba(other))
    assert again.predict(other).tolist() == square.predict(ImageFolder(other, size=(4, 4))).tolist()


def test_image_size_streams_with_the_stacked_autoencoder_and_resizes_an_image_folder_without_a_size(tmp_path):
    root = _mixed_folder(tmp_path / "images")
    sae = StackedAutoencoder((4,), max_iter=1, random_state=0, device="cpu", image_size=(5, 5)).fit(root)
    assert sae.n_features_in_ == 25 and sae.transform(root).shape == (6, 4)
    same = _mixed_folder(tmp_path / "same", sizes=((6, 6),) * 3)
    np.testing.assert_allclose(sae.transform(ImageFolder(same)), sae.transform(ImageFolder(same, size=(5, 5))))
    got = read_inputs(ImageFolder(same), stream=True, ordered=True, image_size=(5, 5))
    assert got.y.tolist() == ["cat"] * 3 + ["dog"] * 3 and got.image_shape == (1, 5, 5)
    with pytest.raises(ConfigError, match=r"image_size=\(5, 5\) asks for 5x5 images, but X is an ImageFolder made with size=\(4, 4\); "
                                          r"expected one size"):
        sae.transform(ImageFolder(same, size=(4, 4)))


def test_image_size_is_refused_when_x_is_not_a_folder_of_images(tmp_path, digits_small):
    X, y = digits_small
    with pytest.raises(ConfigError, match=r"PretrainedClassifier\(image_size=8\) resizes the images of a folder, but X is of type "
                                          r"ndarray: it would not be used\. Pass X as a folder of images"):
        PretrainedClassifier(**FAST, image_size=8).fit(X, y)
    np.save(tmp_path / "x.npy", X)
    with pytest.raises(ConfigError, match=r"StackedAutoencoder\(image_size=\(8, 8\)\) resizes the images of a folder, but X is the "
                                          r"path '.*x.npy' \(a file\): it would not be used"):
        StackedAutoencoder((4,), image_size=(8, 8)).fit(tmp_path / "x.npy")
    with pytest.raises(ConfigError, match=r"image_size must be None or a positive integer \(a square\) or \(height, width\) in "
                                          r"pixels, e.g. \(28, 28\); got \(0, 4\)"):
        PretrainedClassifier(**FAST, image_size=(0, 4)).fit(_mixed_folder(tmp_path / "f"))
