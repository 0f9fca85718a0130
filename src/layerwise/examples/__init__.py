"""The example run configs that ship inside the package (the ``.toml`` and ``.yaml`` files of this folder).

``layerwise finetune -c digits_few_labels.toml`` finds the packaged file by its name when no file of that
name is in the current folder; ``layerwise examples`` lists them and ``layerwise examples DIR`` copies
them out to edit. In the source repository, ``examples/`` holds links to these files: this folder is
the one copy.

Examples
--------
>>> "digits_quick.toml" in names()
True
>>> find("digits_quick") == find("digits_quick.toml") == path("digits_quick.toml")
True
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["FOLDER", "SUFFIXES", "names", "path", "find", "summary", "copy_to"]

FOLDER = Path(__file__).resolve().parent
SUFFIXES = (".toml", ".yaml", ".yml")


def names() -> list[str]:
    """The file names of the packaged example configs, sorted."""
    return sorted(p.name for p in FOLDER.iterdir() if p.suffix in SUFFIXES and p.is_file())


def path(name: str) -> Path:
    """The packaged config ``name`` (a file name from :func:`names`).

    Raises
    ------
    KeyError
        No packaged example has that name.
    """
    if name not in names():
        raise KeyError(f"{name!r} is not a packaged example; they are {names()}")
    return FOLDER / name


def find(name: str) -> Path | None:
    """The packaged config called ``name``, by file name or by stem (``digits_quick``); ``None`` if there is none."""
    if name in names():
        return FOLDER / name
    stems = [n for n in names() if Path(n).stem == name]
    return FOLDER / stems[0] if len(stems) == 1 else None


def summary(name: str) -> str:
    """The first line of the config's leading comment (what it is), without the ``#``."""
    for line in path(name).read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
        if line.strip():
            break
    return ""


def copy_to(folder: str | os.PathLike, overwrite: bool = False) -> tuple[list[Path], list[Path]]:
    """Copy every packaged config into ``folder`` (created if missing).

    Parameters
    ----------
    folder : path
    overwrite : bool, default=False
        Replace files of the same name; by default they are kept (and returned as ``kept``).

    Returns
    -------
    copied, kept : list of Path
        The files written, and the existing files left as they were.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    copied, kept = [], []
    for name in names():
        target = folder / name
        if target.exists() and not overwrite:
            kept.append(target)
            continue
        shutil.copyfile(FOLDER / name, target)
        copied.append(target)
    return copied, kept
