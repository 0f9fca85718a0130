"""Image folders (torchvision's ImageFolder layout) read with Pillow: arrays, a Dataset, clear errors."""

import warnings

import numpy as np
import pytest
import torch
from PIL import Image, features

from layerwise.data.images import ImageFolder, find_images, image_extensions, load_image_folder
from layerwise.exceptions import ConfigError, DataError

# the fixture's notes.txt is skipped with a warning (tested below with pytest.warns, which sees it regardless)
pytestmark = pytest.mark.filterwarnings("ignore:Image folder .* skipped:UserWarning")


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
    rgba[..., 0], rgba[..., 3] = 255, 255
    rgba[0, 0, 3] = 0  # one transparent pixel
    _save(tmp_path / "a" / "rgba.png", rgba)
    Image.fromarray(np.full((4, 4), 65535, np.uint16)).save(tmp_path / "a" / "wide.png")
    X, _, _ = load_image_folder(tmp_path)
    assert X.shape == (2, 3, 4, 4)
    assert np.allclose(X[0, 0], 1.0) and np.allclose(X[0, 1:].ravel()[1:16], 0.0)  # opaque red stays red
    assert np.allclose(X[0, :, 0, 0], 1.0)  # the transparent pixel is white
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
                                        r"the image formats Pillow reads"):
        find_images(tmp_path)
    with pytest.raises(DataError, match=r"hold no image with a suffix in \['.png', '.jpg'\]"):
        find_images(tmp_path, extensions=["png", ".JPG"])


def test_the_dataset_reads_lazily_and_matches_the_arrays(gray_folder):
    ds = ImageFolder(gray_folder)
    assert len(ds) == 3 and ds.shape == (1, 6, 5) and ds.targets == [0, 0, 1]
    image, label = ds[2]
    X, y, _ = load_image_folder(gray_folder)
    assert isinstance(image, torch.Tensor) and label == 1 and torch.equal(image, torch.from_numpy(X[2]))
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=3)))
    assert batch[0].shape == (3, 1, 6, 5) and batch[1].tolist() == [0, 0, 1]


# Images as they come: every format Pillow reads, skipped files counted in one warning, mixed colour modes.

FORMATS = [".bmp", ".gif", ".tiff", ".tif", ".ppm", ".png", ".jpg"] + ([".webp"] if features.check("webp") else [])


def test_every_format_pillow_reads_is_an_image():
    found = image_extensions()
    assert set(FORMATS) <= set(found) and ".jpeg" in found and ".tga" in found
    assert ".pdf" not in found and ".h5" not in found  # written only / identified only by Pillow
    assert all(e == e.lower() and e.startswith(".") for e in found)


@pytest.mark.parametrize("suffix", FORMATS)
def test_reads_each_format(tmp_path, suffix):
    pixels = np.tile(np.array([0, 255], np.uint8), (4, 3))  # 4x6 black and white stripes survive lossy codecs
    _save(tmp_path / "stripes" / f"a{suffix.upper()}", pixels)  # suffixes compare case-insensitively
    X, y, classes = load_image_folder(tmp_path)
    channels = 3 if suffix == ".webp" else 1  # WebP has no grayscale mode: Pillow writes gray as RGB
    assert classes == ["stripes"] and X.shape == (1, channels, 4, 6)
    assert np.allclose(X[0], pixels / 255.0, atol=0.1)


def test_skipped_files_are_counted_in_one_warning(gray_folder):
    (gray_folder / "cat" / "b.txt").write_text("x")
    (gray_folder / "cat" / "c.csv").write_text("x")
    (gray_folder / "cat" / "README").write_text("x")
    (gray_folder / "cat" / ".DS_Store").write_bytes(b"x")
    (gray_folder / ".hidden" / "x.png").write_bytes(b"x")
    (gray_folder / "loose.png").write_bytes(b"x")
    with pytest.warns(UserWarning) as caught:
        X, y, classes = load_image_folder(gray_folder)
    assert len(caught) == 1 and X.shape == (3, 1, 6, 5) and classes == ["cat", "dog"]
    message = str(caught[0].message)
    assert "skipped 7 files, not read as images" in message
    assert "4 with a suffix not of an image format Pillow reads (2 .txt, 1 .csv, 1 without suffix)" in message
    assert "2 hidden" in message and "1 beside the class folders" in message
    assert caught[0].filename == __file__  # it names the caller's line, not the library's


def test_extensions_restrict_and_their_skips_are_reported(tmp_path):
    _save(tmp_path / "a" / "x.png", np.zeros((2, 2), np.uint8))
    _save(tmp_path / "a" / "y.bmp", np.zeros((2, 2), np.uint8))
    with pytest.warns(UserWarning, match=r"skipped 1 file, not read as images: 1 with a suffix not in "
                                         r"extensions= \(1 \.bmp\)"):
        samples, _ = find_images(tmp_path, extensions=[".png"])
    assert [p.name for p, _ in samples] == ["x.png"]


def test_a_clean_folder_warns_nothing(tmp_path):
    _save(tmp_path / "a" / "x.png", np.zeros((2, 2), np.uint8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_image_folder(tmp_path)


def test_gray_palette_and_colour_mixes(tmp_path):
    """Every image gray (L, 1-bit, a gray palette, gray with alpha) -> one channel; one colour image -> RGB for all."""
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    _save(tmp_path / "a" / "l.png", gray)
    Image.fromarray(gray > 100).save(tmp_path / "a" / "bilevel.png")
    Image.fromarray(gray).convert("P").save(tmp_path / "b" / "gray_palette.png") if (tmp_path / "b").mkdir() is None else None
    la = Image.fromarray(np.stack([gray, np.full_like(gray, 255)], -1), mode="LA")
    la.save(tmp_path / "b" / "la.png")
    X, _, _ = load_image_folder(tmp_path)
    assert X.shape == (4, 1, 3, 4)
    assert np.allclose(X[1, 0], gray / 255.0, atol=1 / 255) and np.allclose(X[2, 0], gray / 255.0)  # a: bilevel, l; b: ...
    colour = np.zeros((3, 4, 3), np.uint8)
    colour[..., 2] = 200
    Image.fromarray(colour).convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "b" / "blue_palette.png")
    X, _, _ = load_image_folder(tmp_path)
    assert X.shape == (5, 3, 3, 4)
    l_index = 1  # a/bilevel.png, a/l.png, b/blue_palette.png, b/gray_palette.png, b/la.png
    assert np.allclose(X[l_index], gray / 255.0)  # a gray image in an RGB folder: three equal channels
    assert np.allclose(X[2, 2], 200 / 255.0, atol=2 / 255) and np.allclose(X[2, :2], 0.0, atol=2 / 255)


def test_transparency_is_composited_onto_white_or_black(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 1] = 255          # green
    rgba[0, 0, 3] = 0           # transparent
    rgba[0, 1, 3] = 128         # half transparent
    rgba[1, :, 3] = 255         # opaque
    _save(tmp_path / "a" / "x.png", rgba)
    X, _, _ = load_image_folder(tmp_path)
    assert X.shape == (1, 3, 2, 2)
    assert np.allclose(X[0, :, 0, 0], 1.0)                                   # transparent: white
    assert np.allclose(X[0, :, 0, 1], [127 / 255, 1.0, 127 / 255], atol=2 / 255)  # half green, half white
    assert np.allclose(X[0, :, 1, 0], [0.0, 1.0, 0.0])                       # opaque: as it is
    X, _, _ = load_image_folder(tmp_path, background="black")
    assert np.allclose(X[0, :, 0, 0], 0.0) and np.allclose(X[0, :, 0, 1], [0, 128 / 255, 0], atol=2 / 255)
    # a palette GIF with a transparent colour
    Image.fromarray(np.array([[0, 255]], np.uint8)).save(tmp_path / "a" / "x.png")
    Image.open(tmp_path / "a" / "x.png").convert("P").save(tmp_path / "a" / "x.gif", transparency=0)
    (tmp_path / "a" / "x.png").unlink()
    X, _, _ = load_image_folder(tmp_path, background="white")
    assert np.allclose(X[0, :, 0, 0], 1.0) and np.allclose(X[0, :, 0, 1], 1.0)
    with pytest.raises(ConfigError, match=r"background must be one of \['black', 'white'\]"):
        ImageFolder(tmp_path, background="grey")


def test_size_keeps_the_class_names(tmp_path):
    _save(tmp_path / "cat" / "a.bmp", np.zeros((6, 5), np.uint8))
    _save(tmp_path / "dog" / "b.gif", np.full((9, 7), 255, np.uint8))
    X, y, classes = load_image_folder(tmp_path, size=(4, 4))
    assert X.shape == (2, 1, 4, 4) and classes == ["cat", "dog"] and y.tolist() == [0, 1]
    folder = ImageFolder(tmp_path, size=(4, 4))
    assert folder.classes == ["cat", "dog"] and folder.shape == (1, 4, 4)
