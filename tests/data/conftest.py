"""Fixtures for the data tests: an isolated environment and local HTTP mirrors.

Every test here runs with ``$HOME`` in ``tmp_path`` (so the cache folder is
fresh), without ``$LAYERWISE_DATA``, and with ``$LAYERWISE_MIRROR`` pointing at
a closed port on 127.0.0.1, so no test can reach the internet by accident.
"""

from __future__ import annotations

import pytest

from .helpers import CutOffHandler, closed_port_url, serve


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LAYERWISE_DATA", raising=False)
    monkeypatch.setenv("LAYERWISE_MIRROR", closed_port_url())


@pytest.fixture
def local_mirror(tmp_path, monkeypatch):
    """A folder served over HTTP on 127.0.0.1 and set as ``$LAYERWISE_MIRROR``; put files in ``<root>/<name>/``."""
    root = tmp_path / "mirror"
    root.mkdir()
    with serve(root) as url:
        monkeypatch.setenv("LAYERWISE_MIRROR", url)
        yield root


@pytest.fixture
def cut_off_mirror(tmp_path, monkeypatch):
    """A server on 127.0.0.1 that breaks off every download, set as ``$LAYERWISE_MIRROR``."""
    with serve(tmp_path, CutOffHandler) as url:
        monkeypatch.setenv("LAYERWISE_MIRROR", url)
        yield url
