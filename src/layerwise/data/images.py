"""Folders of images, one subfolder per class, as torchvision's ``ImageFolder`` lays them out.

::

    root/cat/001.png
    root/cat/002.jpg
    root/dog/a.jpeg

Classes are the subfolder names in sorted order (label ``i`` is the
``i``-th name), images are found recursively inside each class folder and
read with Pillow (which comes with matplotlib), so no torchvision is needed.
Pixels become ``float32`` in [0, 1], in PyTorch's ``(channels, height,
width)`` layout.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..exceptions import ConfigError, DataError

__all__ = ["IMAGE_EXTENSIONS", "ImageFolder", "load_image_folder", "find_images"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
# modes with one channel; 16- and 32-bit integer images are scaled by 65535 (PNG's 16-bit range)
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_WIDE_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N"}


def find_images(root: str | os.PathLike, extensions: Sequence[str] = IMAGE_EXTENSIONS) -> tuple[list[tuple[Path, int]], list[str]]:
    """The ``(file, label)`` pairs and the class names of an image folder.

    Parameters
    ----------
    root : path
        A folder with one subfolder per class; hidden folders (``.name``) are
        skipped.
    extensions : sequence of str, default=(".png", ".jpg", ".jpeg")
        File suffixes that count as images, compared case-insensitively.

    Returns
    -------
    samples : list of (Path, int)
        Sorted by class, then by path.
    classes : list of str
        Sorted subfolder names; label ``i`` is ``classes[i]``.

    Raises
    ------
    DataError
        ``root`` is not a folder, has no class subfolders, or a class folder
        holds no image.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"Image folder {root} does not exist or is not a folder; expected root/<class name>/<image>.png "
                        "(the layout of torchvision's ImageFolder).")
    suffixes = tuple(e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions)
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        loose = sorted(p.name for p in root.iterdir() if p.is_file())[:3]
        found = f" It holds files ({', '.join(loose)}...) but no folder." if loose else " It is empty."
        raise DataError(f"Image folder {root} has no class subfolders; expected one subfolder per class, e.g. "
                        f"{root}/cat/1.png and {root}/dog/2.png.{found} Move the images into a folder named after their class.")
    samples, empty = [], []
    for label, name in enumerate(classes):
        files = sorted(p for p in (root / name).rglob("*") if p.suffix.lower() in suffixes and p.is_file()
                       and not any(part.startswith(".") for part in p.relative_to(root).parts))
        if not files:
            empty.append(name)
        samples += [(p, label) for p in files]
    if empty:
        raise DataError(f"Class folder(s) {empty} of {root} hold no image with a suffix in {list(suffixes)}; expected at "
                        "least one image per class. Add images, remove the folder, or pass extensions=... .")
    return samples, classes


def _open(path: Path):
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(path)
        img.load()
    except (OSError, UnidentifiedImageError, ValueError) as e:
        raise DataError(f"Cannot read {path} as an image: {e}. Remove or replace the file, or restrict extensions=.") from e
    return img


def _pixels(img, gray: bool, size: tuple[int, int] | None) -> np.ndarray:
    """One image as float32 ``(channels, height, width)`` in [0, 1]."""
    from PIL import Image

    if size is not None and (img.height, img.width) != tuple(size):
        img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)  # PIL sizes are (width, height)
    if img.mode in _WIDE_MODES:
        arr = np.asarray(img, dtype=np.float32) / 65535.0
        arr = arr[None] if gray else np.repeat(arr[None], 3, axis=0)
    else:
        arr = np.asarray(img.convert("L" if gray else "RGB"), dtype=np.float32) / 255.0
        arr = arr[None] if gray else np.transpose(arr, (2, 0, 1))
    return np.clip(arr, 0.0, 1.0)


def _check_size(size) -> tuple[int, int] | None:
    if size is None:
        return None
    try:
        h, w = (int(v) for v in size)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"size must be (height, width) in pixels, e.g. (28, 28); got {size!r}.") from e
    if h < 1 or w < 1:
        raise ConfigError(f"size must be (height, width) with positive values; got {size!r}.")
    return h, w


class ImageFolder(torch.utils.data.Dataset):
    """A ``torch.utils.data.Dataset`` over an image folder: ``ds[i] -> (image, label)``.

    Every file's header (size and colour mode, not the pixels) is read when
    the dataset is made, so an unreadable file or a size mismatch fails
    before any training. Pixels are decoded when indexed, so the folder may
    be larger than memory; :meth:`load` decodes them all into one array.

    Parameters
    ----------
    root : path
        ``root/<class name>/<image>`` (see :func:`find_images`).
    grayscale : bool or None, default=None
        ``True``: one channel; ``False``: three (RGB; an alpha channel is
        dropped); ``None``: one channel when every image is grayscale, else three.
    size : (height, width), optional
        Resize every image to this size (bilinear). Without it all images
        must share one size.
    extensions : sequence of str, default=(".png", ".jpg", ".jpeg")

    Attributes
    ----------
    classes : list of str
    samples : list of (Path, int)
    targets : list of int
    shape : tuple of int
        ``(channels, height, width)`` of one image.

    Raises
    ------
    DataError
        See :func:`load_image_folder`.

    Examples
    --------
    >>> import tempfile
    >>> from PIL import Image
    >>> root = Path(tempfile.mkdtemp())
    >>> for name in ("cat", "dog"):
    ...     (root / name).mkdir()
    ...     Image.new("RGB", (32, 24)).save(root / name / "1.png")
    >>> ds = ImageFolder(root)
    >>> image, label = ds[1]
    >>> image.shape, ds.classes[label]
    (torch.Size([3, 24, 32]), 'dog')
    """

    def __init__(self, root: str | os.PathLike, grayscale: bool | None = None, size: Sequence[int] | None = None,
                 extensions: Sequence[str] = IMAGE_EXTENSIONS) -> None:
        self.root = Path(root)
        self.samples, self.classes = find_images(root, extensions)
        self.targets = [label for _, label in self.samples]
        self.size = _check_size(size)
        headers = [_header(path) for path, _ in self.samples]
        self._first = (self.samples[0][0], headers[0][0])
        if self.size is None:
            odd = next((i for i, h in enumerate(headers) if h[0] != headers[0][0]), None)
            if odd is not None:
                raise _mixed_sizes(self._first, (self.samples[odd][0], headers[odd][0]))
        self.grayscale = all(h[1] in _GRAY_MODES for h in headers) if grayscale is None else bool(grayscale)
        h, w = self.size or headers[0][0]
        self.shape = (1 if self.grayscale else 3, h, w)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        img = _open(path)
        if self.size is None and (img.height, img.width) != self._first[1]:  # the file changed since the scan
            raise _mixed_sizes(self._first, (path, (img.height, img.width)))
        return torch.from_numpy(_pixels(img, self.grayscale, self.size)), label

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        """Every image in one array.

        Returns
        -------
        X : ndarray of shape (n_images, channels, height, width), float32 in [0, 1]
        y : ndarray of shape (n_images,), int64
        """
        X = np.empty((len(self), *self.shape), dtype=np.float32)
        for i in range(len(self)):
            X[i] = self[i][0].numpy()
        return X, np.asarray(self.targets, dtype=np.int64)


def _header(path: Path) -> tuple[tuple[int, int], str]:
    """``((height, width), mode)`` from the file's header, without decoding the pixels."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return (img.height, img.width), img.mode
    except (OSError, ValueError) as e:  # UnidentifiedImageError is an OSError
        raise DataError(f"Cannot read {path} as an image: {e}. Remove or replace the file, or restrict extensions=.") from e


def _mixed_sizes(a: tuple[Path, tuple[int, int]], b: tuple[Path, tuple[int, int]]) -> DataError:
    (pa, (ha, wa)), (pb, (hb, wb)) = a, b
    return DataError(f"The images differ in size: {pa} is {ha}x{wa} (height x width) but {pb} is {hb}x{wb}; expected one "
                     f"size for all. Pass size=({ha}, {wa}) to resize every image to it, or resize the files.")


def load_image_folder(root: str | os.PathLike, grayscale: bool | None = None, size: Sequence[int] | None = None,
                      extensions: Sequence[str] = IMAGE_EXTENSIONS) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read a folder of images, one subfolder per class, into arrays.

    Parameters
    ----------
    root : path
        ``root/<class name>/<image>.png|jpg|jpeg``, as torchvision's
        ``ImageFolder`` lays it out.
    grayscale : bool or None, default=None
        ``True``: one channel; ``False``: RGB; ``None``: one channel when
        every image is grayscale, else RGB.
    size : (height, width), optional
        Resize every image to this size; without it all images must share one size.
    extensions : sequence of str, default=(".png", ".jpg", ".jpeg")

    Returns
    -------
    X : ndarray of shape (n_images, channels, height, width), float32 in [0, 1]
    y : ndarray of shape (n_images,), int64
        Index of each image's class in ``classes``.
    classes : list of str
        Class folder names, sorted.

    Raises
    ------
    DataError
        No such folder, no class subfolders, an empty class folder, an
        unreadable file (named), or images of different sizes (two named)
        without ``size``.

    Examples
    --------
    >>> import tempfile
    >>> from PIL import Image
    >>> root = Path(tempfile.mkdtemp())
    >>> for name in ("cat", "dog"):
    ...     (root / name).mkdir()
    ...     Image.new("L", (40, 30)).save(root / name / "1.png")
    >>> X, y, classes = load_image_folder(root, size=(28, 28))
    >>> X.shape, y.tolist(), classes
    ((2, 1, 28, 28), [0, 1], ['cat', 'dog'])
    """
    ds = ImageFolder(root, grayscale=grayscale, size=size, extensions=extensions)
    X, y = ds.load()
    return X, y, ds.classes
