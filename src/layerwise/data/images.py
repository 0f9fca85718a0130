"""Folders of images, one subfolder per class, as torchvision's ``ImageFolder`` lays them out.

::

    root/cat/001.png
    root/cat/002.webp
    root/dog/a.tiff

Classes are the subfolder names in sorted order (label ``i`` is the
``i``-th name), images are found recursively inside each class folder and
read with Pillow (which comes with matplotlib), so no torchvision is needed.
Pixels become ``float32`` in [0, 1], in PyTorch's ``(channels, height,
width)`` layout.

Images as they come:

- **Formats**: every file whose suffix names a format this Pillow reads
  (:func:`image_extensions`: PNG, JPEG, BMP, GIF, TIFF, WebP, PPM... and
  those of Pillow plugins registered before the folder is read). Of an
  animated GIF or a multi-page TIFF the first frame is read.
- **Skipped files** (another suffix, hidden names ``.*``, files beside the
  class folders) are reported in one warning that counts them by reason and
  suffix; none is left out silently.
- **Colour**: with ``grayscale=None``, one channel when every image is
  grayscale (modes ``1``, ``L``, ``LA``, ``I;16``, ``I``, ``F``, or a
  palette of grays only), else RGB for every image: one colour image makes
  the whole folder RGB, its grayscale images repeated into three equal
  channels. Palette, CMYK and YCbCr images are converted to RGB (or to gray
  when ``grayscale=True``, by ITU-R 601-2 luma).
- **Transparency** (``RGBA``, ``LA``, ``PA``, a palette or a PNG with a
  transparent colour) is composited onto a white background, as a browser
  shows it on a white page: a transparent pixel becomes white, a
  half-transparent one half its colour and half white. ``background="black"``
  composites onto black instead.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..exceptions import ConfigError, DataError

__all__ = ["ImageFolder", "load_image_folder", "find_images", "image_extensions"]

# modes with one channel; 16- and 32-bit integer images are scaled by 65535 (PNG's 16-bit range)
_GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_WIDE_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N"}
_ALPHA_MODES = {"LA", "La", "PA", "RGBA", "RGBa"}
_BACKGROUNDS = {"white": (255, 255, 255, 255), "black": (0, 0, 0, 255)}
# Pillow identifies these but cannot decode them here (or only with a program that may be missing)
_IDENTIFY_ONLY = {"MPEG"}


def image_extensions() -> tuple[str, ...]:
    """The file suffixes of every image format this Pillow can read, lower case, sorted.

    From ``PIL.Image.registered_extensions()``, less the formats Pillow can only
    write (PDF...) or only identify (HDF5, GRIB, BUFR, WMF, MPEG stubs) and
    EPS when Ghostscript is missing. Formats of plugins registered before the
    call (e.g. ``pillow_heif.register_heif_opener()``) are included.

    Examples
    --------
    >>> {".png", ".jpg", ".bmp", ".gif", ".tiff"} <= set(image_extensions())
    True
    """
    from PIL import Image, ImageFile

    Image.init()
    readable = set()
    for fmt, (factory, _accept) in Image.OPEN.items():
        if isinstance(factory, type) and issubclass(factory, ImageFile.StubImageFile) or fmt in _IDENTIFY_ONLY:
            continue
        readable.add(fmt)
    if "JPEG" in readable:
        readable.add("MPO")  # multi-picture JPEG files open through the JPEG reader
    if "EPS" in readable:
        from PIL import EpsImagePlugin

        if not EpsImagePlugin.has_ghostscript():
            readable.discard("EPS")
    return tuple(sorted(ext.lower() for ext, fmt in Image.registered_extensions().items() if fmt in readable))


def find_images(root: str | os.PathLike, extensions: Sequence[str] | None = None) -> tuple[list[tuple[Path, int]], list[str]]:
    """The ``(file, label)`` pairs and the class names of an image folder.

    Files that are not read are reported in one ``UserWarning`` that counts
    them by reason (another suffix, by suffix; a hidden name; a file beside
    the class folders).

    Parameters
    ----------
    root : path
        A folder with one subfolder per class; hidden folders and files
        (``.name``) are skipped.
    extensions : sequence of str, optional
        File suffixes that count as images, compared case-insensitively;
        default: every format Pillow reads (:func:`image_extensions`).

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
    given = extensions is not None
    if not root.is_dir():
        raise DataError(f"Image folder {root} does not exist or is not a folder; expected root/<class name>/<image>.png "
                        "(the layout of torchvision's ImageFolder).")
    suffixes = tuple(e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions) if given else image_extensions()
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    skipped: Counter = Counter()  # (reason, suffix) -> files
    for entry in root.iterdir():
        if entry.name.startswith("."):
            skipped["hidden", ""] += sum(1 for p in entry.rglob("*") if p.is_file()) if entry.is_dir() else 1
        elif not entry.is_dir():
            skipped["beside", ""] += 1
    if not classes:
        loose = sorted(p.name for p in root.iterdir() if p.is_file())[:3]
        found = f" It holds files ({', '.join(loose)}...) but no folder." if loose else " It is empty."
        raise DataError(f"Image folder {root} has no class subfolders; expected one subfolder per class, e.g. "
                        f"{root}/cat/1.png and {root}/dog/2.png.{found} Move the images into a folder named after their class.")
    samples, empty = [], []
    for label, name in enumerate(classes):
        files = []
        for p in (root / name).rglob("*"):
            if not p.is_file():
                continue
            if any(part.startswith(".") for part in p.relative_to(root).parts):
                skipped["hidden", ""] += 1
            elif p.suffix.lower() in suffixes:
                files.append(p)
            else:
                skipped["suffix", p.suffix.lower()] += 1
        if not files:
            empty.append(name)
        samples += [(p, label) for p in sorted(files)]
    if empty:
        wanted = list(suffixes) if given else "the image formats Pillow reads (layerwise.data.images.image_extensions())"
        raise DataError(f"Class folder(s) {empty} of {root} hold no image with a suffix in {wanted}; expected at "
                        "least one image per class. Add images, remove the folder, or pass extensions=... .")
    if skipped:
        warnings.warn(_skipped_message(root, skipped, given), UserWarning, stacklevel=_caller_level())
    return samples, classes


def _skipped_message(root: Path, skipped: Counter, given: bool) -> str:
    """One sentence that counts the skipped files by reason, and by suffix for the suffixes not read."""
    other = sorted(((n, s) for (r, s), n in skipped.items() if r == "suffix"), key=lambda t: (-t[0], t[1] == "", t[1]))
    parts = []
    if other:
        which = "not in extensions=" if given else "not of an image format Pillow reads"
        parts.append(f"{sum(n for n, _ in other)} with a suffix {which} ("
                     + ", ".join(f"{n} {s or 'without suffix'}" for n, s in other) + ")")
    if skipped["hidden", ""]:
        parts.append(f"{skipped['hidden', '']} hidden (a name starting with '.', or inside such a folder)")
    if skipped["beside", ""]:
        parts.append(f"{skipped['beside', '']} beside the class folders, in {root} itself")
    total = sum(skipped.values())
    return (f"Image folder {root}: skipped {total} {'file' if total == 1 else 'files'}, not read as images: "
            + "; ".join(parts) + ". Pass extensions=[...] to choose the suffixes read.")


def _caller_level() -> int:
    """``stacklevel`` of the first frame outside layerwise, so that a warning names the user's line."""
    import sys

    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    level, frame = 1, sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package + os.sep):
        frame, level = frame.f_back, level + 1
    return level


def _open(path: Path):
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(path)
        img.load()
    except (OSError, UnidentifiedImageError, ValueError) as e:
        raise DataError(f"Cannot read {path} as an image: {e}. Remove or replace the file, or restrict extensions=.") from e
    return img


def _pixels(img, gray: bool, size: tuple[int, int] | None, background: str = "white", path: Path | None = None) -> np.ndarray:
    """One image as float32 ``(channels, height, width)`` in [0, 1]: transparency composited onto ``background``,
    then converted to one channel (``gray``) or RGB, then resized to ``size`` (bilinear)."""
    from PIL import Image

    try:
        if img.mode not in _WIDE_MODES:
            if _has_alpha(img):
                rgba = img.convert("RGBA")
                img = Image.alpha_composite(Image.new("RGBA", rgba.size, _BACKGROUNDS[background]), rgba)
            img = img.convert("L" if gray else "RGB")
    except ValueError as e:  # a mode Pillow cannot convert (e.g. LAB)
        raise DataError(f"Cannot convert {path or 'an image'} (mode {img.mode}) to {'grayscale' if gray else 'RGB'}: {e}. "
                        "Convert the file to PNG or JPEG.") from e
    if size is not None and (img.height, img.width) != tuple(size):
        img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)  # PIL sizes are (width, height)
    if img.mode in _WIDE_MODES:
        arr = np.asarray(img, dtype=np.float32) / 65535.0
        arr = arr[None] if gray else np.repeat(arr[None], 3, axis=0)
    else:
        arr = np.asarray(img, dtype=np.float32) / 255.0
        arr = arr[None] if gray else np.transpose(arr, (2, 0, 1))
    return np.clip(arr, 0.0, 1.0)


def _has_alpha(img) -> bool:
    """An alpha channel, or a transparent colour (a palette's, a PNG's ``tRNS``)."""
    return img.mode in _ALPHA_MODES or "transparency" in img.info


def _is_gray(img) -> bool:
    """One channel of gray: a gray mode, or a palette whose entries are all gray (read from the header)."""
    if img.mode in _GRAY_MODES:
        return True
    if img.mode not in ("P", "PA"):
        return False
    palette = getattr(img, "palette", None)
    stride = {"RGB": 3, "BGR": 3, "RGBA": 4, "RGBX": 4, "BGRA": 4, "BGRX": 4}.get(
        getattr(palette, "rawmode", None) or getattr(palette, "mode", None))
    if palette is None or stride is None:
        return False
    try:
        raw = np.frombuffer(bytes(palette.palette), np.uint8)
    except (TypeError, ValueError):
        return False
    entries = raw[: len(raw) // stride * stride].reshape(-1, stride)[:, :3]
    return len(entries) > 0 and bool((entries == entries[:, :1]).all())


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
        ``True``: one channel; ``False``: three (RGB); ``None``: one channel
        when every image is grayscale, else three (one colour image makes
        every image RGB; see the module's docstring for the rules).
    size : (height, width), optional
        Resize every image to this size (bilinear, after the colour
        conversion). Without it all images must share one size.
    extensions : sequence of str, optional
        Suffixes read; default: every format Pillow reads
        (:func:`image_extensions`). Other files are counted in one warning.
    background : {"white", "black"}, default="white"
        What transparent pixels are composited onto.

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
                 extensions: Sequence[str] | None = None, background: str = "white") -> None:
        if background not in _BACKGROUNDS:
            raise ConfigError(f"background must be one of {sorted(_BACKGROUNDS)} (what transparent pixels become); "
                              f"got {background!r}.")
        self.background = background
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
        self.grayscale = all(h[1] for h in headers) if grayscale is None else bool(grayscale)
        h, w = self.size or headers[0][0]
        self.shape = (1 if self.grayscale else 3, h, w)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        with _open(path) as img:
            if self.size is None and (img.height, img.width) != self._first[1]:  # the file changed since the scan
                raise _mixed_sizes(self._first, (path, (img.height, img.width)))
            return torch.from_numpy(_pixels(img, self.grayscale, self.size, self.background, path)), label

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


def _header(path: Path) -> tuple[tuple[int, int], bool]:
    """``((height, width), grayscale)`` from the file's header, without decoding the pixels."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return (img.height, img.width), _is_gray(img)
    except (OSError, ValueError) as e:  # UnidentifiedImageError is an OSError
        raise DataError(f"Cannot read {path} as an image: {e}. Remove or replace the file, or restrict extensions=.") from e


def _mixed_sizes(a: tuple[Path, tuple[int, int]], b: tuple[Path, tuple[int, int]]) -> DataError:
    (pa, (ha, wa)), (pb, (hb, wb)) = a, b
    return DataError(f"The images differ in size: {pa} is {ha}x{wa} (height x width) but {pb} is {hb}x{wb}; expected one "
                     f"size for all. Pass size=({ha}, {wa}) to resize every image to it (an estimator's image_size=({ha}, {wa}), a "
                     f"config's [data] image_size = [{ha}, {wa}]), or resize the files.")


def load_image_folder(root: str | os.PathLike, grayscale: bool | None = None, size: Sequence[int] | None = None,
                      extensions: Sequence[str] | None = None, background: str = "white") -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read a folder of images, one subfolder per class, into arrays.

    Parameters
    ----------
    root : path
        ``root/<class name>/<image>`` (any format Pillow reads), as
        torchvision's ``ImageFolder`` lays it out.
    grayscale : bool or None, default=None
        ``True``: one channel; ``False``: RGB; ``None``: one channel when
        every image is grayscale, else RGB.
    size : (height, width), optional
        Resize every image to this size; without it all images must share one size.
    extensions : sequence of str, optional
        Suffixes read; default: every format Pillow reads. Other files are
        counted in one warning.
    background : {"white", "black"}, default="white"
        What transparent pixels are composited onto.

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
    ds = ImageFolder(root, grayscale=grayscale, size=size, extensions=extensions, background=background)
    X, y = ds.load()
    return X, y, ds.classes
