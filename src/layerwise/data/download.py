"""Dataset downloads: official mirrors, atomic writes, MD5 checks.

A file is streamed into a hidden temporary file next to its final name and
renamed only once its MD5 matches the published value, so an interrupted or
corrupted download never leaves a file under the final name.

The mirrors can be replaced with ``$LAYERWISE_MIRROR``: one or more base URLs
(separated by spaces or commas); a file is then fetched from
``<base>/<dataset name>/<file name>``, and the official mirrors are not tried.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from urllib.request import Request, urlopen

from tqdm.auto import tqdm

from ..exceptions import DataError

__all__ = ["MIRRORS", "MIRROR_ENV", "md5sum", "file_urls", "download_file", "download_files"]

# Official locations, in the order torchvision tries them: the ``mirrors`` of MNIST,
# FashionMNIST and KMNIST in torchvision/datasets/mnist.py (pytorch/vision commit 01977a18).
MIRRORS: dict[str, list[str]] = {
    "mnist": ["http://yann.lecun.com/exdb/mnist/", "https://ossci-datasets.s3.amazonaws.com/mnist/"],
    "fashion-mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
    "kmnist": ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"],
}

MIRROR_ENV = "LAYERWISE_MIRROR"

#: Seconds to wait for a server to answer (connect or next bytes) before trying the next mirror.
TIMEOUT = 30.0

_CHUNK = 1 << 16

# What a failed fetch can raise: no network, refused, HTTP 4xx/5xx (URLError is an OSError),
# a connection cut mid-body (IncompleteRead), or a malformed URL in $LAYERWISE_MIRROR (ValueError).
_FETCH_ERRORS = (OSError, http.client.HTTPException, ValueError)


def md5sum(path: str | os.PathLike) -> str:
    """Hex MD5 digest of a file, read in 1 MiB chunks."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_urls(name: str, filename: str) -> list[str]:
    """URLs to try for one file of dataset ``name``, in order.

    Parameters
    ----------
    name : str
        Dataset name, a key of :data:`MIRRORS`.
    filename : str

    Returns
    -------
    list of str
        ``<base>/<name>/<filename>`` for each base URL in ``$LAYERWISE_MIRROR``
        if it is set, else ``<official mirror><filename>`` for each official mirror.

    Examples
    --------
    >>> file_urls("kmnist", "t10k-labels-idx1-ubyte.gz")
    ['http://codh.rois.ac.jp/kmnist/dataset/kmnist/t10k-labels-idx1-ubyte.gz']
    """
    override = os.environ.get(MIRROR_ENV, "").strip()
    if override:
        return [f"{base.rstrip('/')}/{name}/{filename}" for base in re.split(r"[\s,]+", override)]
    return [base + filename for base in MIRRORS.get(name, [])]


def download_file(url: str, dest: str | os.PathLike, md5: str, *, progress: bool = True,
                  timeout: float = TIMEOUT) -> Path:
    """Download ``url`` to ``dest`` atomically, checking its MD5.

    Parameters
    ----------
    url : str
        ``http(s)://`` or ``file://`` URL.
    dest : path
        Final file name; its folder is created if needed.
    md5 : str
        Expected hex MD5 digest of the file.
    progress : bool, default=True
        Show a tqdm progress bar (bytes) on stderr.
    timeout : float, default=30.0
        Seconds to wait for the server.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    DataError
        The downloaded bytes have another MD5; nothing is left under ``dest``.
    OSError, http.client.HTTPException, ValueError
        The server could not be reached or broke off, or the URL is malformed;
        nothing is left under ``dest``.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        h, received = hashlib.md5(), 0
        with os.fdopen(fd, "wb") as out, urlopen(Request(url, headers={"User-Agent": "layerwise"}), timeout=timeout) as resp:
            total = resp.headers.get("Content-Length")
            with tqdm(total=int(total) if total else None, unit="B", unit_scale=True, unit_divisor=1024,
                      desc=dest.name, disable=not progress, leave=False) as bar:
                for chunk in iter(lambda: resp.read(_CHUNK), b""):
                    out.write(chunk)
                    h.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            # read(n) returns b"" when the server hangs up early, so compare with the announced length
            if total and received != int(total):
                raise ConnectionError(f"the server hung up after {received} of the {total} bytes it announced")
        got = h.hexdigest()
        if got != md5:
            raise DataError(
                f"the bytes downloaded from {url} have MD5 {got}; expected {md5} (a corrupted download or a "
                f"different version of the file); nothing was saved as {dest}"
            )
        os.replace(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return dest


def download_files(name: str, files: Mapping[str, str], dest: str | os.PathLike, *, progress: bool = True) -> None:
    """Download the files of dataset ``name`` that are missing from ``dest``.

    Each file is tried from every URL of :func:`file_urls` in turn.

    Parameters
    ----------
    name : str
        Dataset name (a key of :data:`MIRRORS`).
    files : mapping of str to str
        File name -> expected MD5.
    dest : path
        Folder to download into.
    progress : bool, default=True

    Raises
    ------
    DataError
        A file could not be fetched with the right MD5 from any URL; the
        message lists each URL's error, the folder to put the files in and
        where to get them.
    """
    dest = Path(dest)
    for fname, md5 in files.items():
        if (dest / fname).is_file():
            continue
        errors = []
        for url in file_urls(name, fname):
            try:
                download_file(url, dest / fname, md5, progress=progress)
                break
            except (DataError, *_FETCH_ERRORS) as e:
                errors.append((url, e))
        else:
            raise DataError(_failure_message(name, fname, files, dest, errors))


def _failure_message(name: str, fname: str, files: Mapping[str, str], dest: Path, errors: list[tuple[str, Exception]]) -> str:
    """What failed, where to put the files by hand and where to get them."""
    tried = "; ".join(f"{url}: {e}" for url, e in errors) or f"no URL to try (no mirror for {name!r} and ${MIRROR_ENV} is not set)"
    network = " Is the network reachable?" if any(not isinstance(e, DataError) for _, e in errors) else ""
    official = ", ".join(MIRRORS.get(name, [])) or "the dataset's home page"
    return (
        f"Could not download the {name} file {fname}: {tried}.{network} "
        f"To install the files by hand, get {sorted(files)} from {official} and put them in {dest} "
        f"(or in a folder passed as data_dir=..., or in $LAYERWISE_DATA/{name}); "
        f"or set ${MIRROR_ENV} to a mirror that serves <mirror>/{name}/<file>."
    )
