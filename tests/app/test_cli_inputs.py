"""`evaluate` and `predict` read new files as the run read its training rows: the images' size, the label column."""

import json

import numpy as np
import pytest

import layerwise
from layerwise.app.cli import main
from layerwise.data.images import ImageFolder


@pytest.fixture
def mixed_folder(tmp_path):
    """Two classes of images of two sizes (6x5 and 9x7): a folder only a size makes readable."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for name, shape, level in (("cat", (6, 5), 40), ("dog", (9, 7), 200)):
        (tmp_path / "images" / name).mkdir(parents=True)
        for i in range(10):
            pixels = np.clip(level + rng.normal(0, 10, shape), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "images" / name / f"{i}.png")
    return tmp_path / "images"


def test_a_folder_is_resized_as_the_run_resized_its_training_images(tmp_path, mixed_folder, capsys):
    (tmp_path / "run.toml").write_text(
        f'name = "r"\nout_dir = "{tmp_path}"\n[data]\ndataset = "{mixed_folder}"\nimage_size = [4, 3]\ntest_size = 0.2\n'
        "val_size = 0.0\n[model]\nhidden_layer_sizes = [8]\n[pretrain]\nmax_iter = 1\n[finetune]\nmax_iter = 30\n")
    args = ["-c", str(tmp_path / "run.toml"), "--no-progress"]
    assert main(["pretrain", *args]) == 0 and main(["finetune", *args]) == 0
    model = str(tmp_path / "r" / "model")
    assert json.loads((tmp_path / "r" / "model" / "meta.json").read_text())["image_size"] == [4, 3]
    capsys.readouterr()
    assert main(["evaluate", model, "--input", str(mixed_folder), "-o", str(tmp_path / "e")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert sum(map(sum, report["confusion_matrix"])) == 20
    # 4x3 images: 12 pixels, a width no square image has, yet images, never a table's columns (which cannot be drawn)
    assert layerwise.load(model).preprocessor_ is None and (tmp_path / "r" / "reconstructions.png").exists()
    assert main(["predict", model, "--input", str(mixed_folder), "--image-size", "4x3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    X, _ = ImageFolder(mixed_folder, size=(4, 3)).load()  # the rows as the run read them
    assert lines == ["prediction", *layerwise.load(model).predict(X.reshape(len(X), -1)).tolist()]
    # another size gives rows of another width: the model says so
    assert main(["predict", model, "--input", str(mixed_folder), "--image-size", "9"]) == 2
    assert "81 features" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["0", "4x", "axb", "1x2x3"])
def test_a_bad_image_size_is_refused_by_the_parser(text, capsys):
    with pytest.raises(SystemExit):
        main(["predict", "m", "--input", "x", "--image-size", text])
    assert f"{text!r} is not a size; write HEIGHTxWIDTH in pixels" in capsys.readouterr().err
