"""An ImageFolder given to an estimator is labelled with its class names, as a path is, and keeps its size=."""

import numpy as np
from PIL import Image

from layerwise.data.images import ImageFolder
from layerwise.sklearn._inputs import read_inputs


def test_an_image_folder_with_size_keeps_the_class_names(tmp_path):
    for name, shape in [("cat", (6, 5)), ("dog", (9, 7))]:  # two sizes: only size= makes them one
        (tmp_path / name).mkdir()
        Image.fromarray(np.zeros(shape, np.uint8)).save(tmp_path / name / "a.png")
    for stream in (False, True):
        got = read_inputs(ImageFolder(tmp_path, size=(4, 4)), stream=stream, ordered=True)
        assert got.y.tolist() == ["cat", "dog"] and got.image_shape == (1, 4, 4)
