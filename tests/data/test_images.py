"""Image folders (torchvision's ImageFolder layout) read with Pillow: arrays, a Dataset, clear errors."""

import numpy as np
import pytest
import torch
from PIL import Image

from layerwise.data.images import ImageFolder, find_images, load_image_folder
from layerwise.exceptions import ConfigError, DataError


def _save(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode=mode).save(path)
    return path


@pytest.fixture
def gray_folder(tmp_path):
    """cat: 2 images, dog: 1 image (in a subfolder), 6x5 grayscale; pixel values known."""
    root = tmp_path / "imgs"
    _save(root / "cat" / "a.png", np.full((6, 5), 255, np.uint8))
    _save(root / "cat" / "b.PNG", np.zeros((6, 5), np.uint8))
    _save(root / "dog" / "sub" / "c.png", np.arange(30, dtype=np.uint8).reshape(6, 5))
    (root / "dog" / "notes.txt").write_text("not an image")
    (root / ".hidden").mkdir()
    return root


def test_reads_classes_labels_and_pixels(gray_folder):
    X, y, classes = load_image_folder(gray_folder)
    assert classes == ["cat", "dog"] and y.tolist() == [0, 0, 1] and y.dtype == np.int64
    assert X.shape == (3, 1, 6, 5) and X.dtype == np.float32
    assert X[0].min() == 1.0 and X[1].max() == 0.0
    assert np.allclose(X[2, 0], np.arange(30).reshape(6, 5) / 255.0)


def test_rgb_jpeg_and_grayscale_choice(tmp_path):
    rng = np.random.default_rng(0)
    _save(tmp_path / "a" / "x.jpg", rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    _save(tmp_path / "b" / "y.png", rng.integers(0, 256, (8, 8), dtype=np.uint8))
    X, _, _ = load_image_folder(tmp_path)  # one colour image: every image gets 3 channels
    assert X.shape == (2, 3, 8, 8) and np.allclose(X[1, 0], X[1, 2])
    X, _, _ = load_image_folder(tmp_path, grayscale=True)
    assert X.shape == (2, 1, 8, 8)


def test_rgba_and_16_bit_images(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 255, 7
    _save(tmp_path / "a" / "rgba.png", rgba)
    Image.fromarray(np.full((4, 4), 65535, np.uint16)).save(tmp_path / "a" / "wide.png")
    X, _, _ = load_image_folder(tmp_path)
    assert X.shape == (2, 3, 4, 4)
    assert np.allclose(X[0, 0], 1.0) and np.allclose(X[0, 1:], 0.0)  # alpha dropped, red kept
    assert np.allclose(X[1], 1.0)  # 16-bit white is 1.0, not 257


def test_size_resizes_and_mixed_sizes_name_two_files(tmp_path):
    _save(tmp_path / "a" / "small.png", np.zeros((6, 5), np.uint8))
    _save(tmp_path / "b" / "big.png", np.zeros((10, 12), np.uint8))
    with pytest.raises(DataError, match=r"differ in size: .*small.png is 6x5 \(height x width\) but .*big.png is 10x12.*"
                                        r"Pass size=\(6, 5\)"):
        load_image_folder(tmp_path)
    X, y, _ = load_image_folder(tmp_path, size=(7, 9))
    assert X.shape == (2, 1, 7, 9)
    with pytest.raises(ConfigError, match=r"size must be \(height, width\) in pixels"):
        load_image_folder(tmp_path, size=28)


def test_unreadable_file_is_named(gray_folder):
    (gray_folder / "dog" / "broken.png").write_bytes(b"\x89PNG but not really")
    with pytest.raises(DataError, match=r"Cannot read .*dog/broken.png as an image"):
        load_image_folder(gray_folder)


def test_truncated_file_is_named_when_decoded(tmp_path):
    path = _save(tmp_path / "a" / "t.png", np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:200])  # the header survives, the pixels do not
    with pytest.raises(DataError, match=r"Cannot read .*a/t.png as an image"):
        load_image_folder(tmp_path)


def test_folder_errors(tmp_path):
    with pytest.raises(DataError, match=r"Image folder .*missing does not exist or is not a folder; expected root/<class name>/"):
        load_image_folder(tmp_path / "missing")
    with pytest.raises(DataError, match=r"has no class subfolders; .* It is empty"):
        load_image_folder(tmp_path)
    _save(tmp_path / "loose.png", np.zeros((2, 2), np.uint8))
    with pytest.raises(DataError, match=r"has no class subfolders; .* It holds files \(loose.png\.\.\.\) but no folder"):
        load_image_folder(tmp_path)
    (tmp_path / "empty_class").mkdir()
    _save(tmp_path / "full" / "x.png", np.zeros((2, 2), np.uint8))
    with pytest.raises(DataError, match=r"Class folder\(s\) \['empty_class'\] of .* hold no image with a suffix in "
                                        r"\['.png', '.jpg', '.jpeg'\]"):
        find_images(tmp_path)


def test_the_dataset_reads_lazily_and_matches_the_arrays(gray_folder):
    ds = ImageFolder(gray_folder)
    assert len(ds) == 3 and ds.shape == (1, 6, 5) and ds.targets == [0, 0, 1]
    image, label = ds[2]
    X, y, _ = load_image_folder(gray_folder)
    assert isinstance(image, torch.Tensor) and label == 1 and torch.equal(image, torch.from_numpy(X[2]))
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=3)))
    assert batch[0].shape == (3, 1, 6, 5) and batch[1].tolist() == [0, 0, 1]
