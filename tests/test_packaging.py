"""Packaging conventions: one version source, a licence file, the typing marker, honest bounds."""

import importlib.metadata
import tomllib
from pathlib import Path

import layerwise

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_version_is_written_once():
    project = _pyproject()["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert _pyproject()["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "layerwise._version.__version__"}
    assert importlib.metadata.version("layerwise") == layerwise.__version__


def test_licence_and_typing_marker_ship():
    assert "BSD 3-Clause" in (ROOT / "LICENSE").read_text()
    assert _pyproject()["project"]["license"] == "BSD-3-Clause"
    assert (Path(layerwise.__file__).parent / "py.typed").is_file()
    assert "py.typed" in _pyproject()["tool"]["setuptools"]["package-data"]["layerwise"]


def test_plots_need_no_extra_and_torch_bound_has_out_of_memory_error():
    deps = _pyproject()["project"]["dependencies"]
    assert any(d.startswith("matplotlib") for d in deps)
    torch_dep = next(d for d in deps if d.startswith("torch"))
    # torch.OutOfMemoryError, caught by the trainer, appeared in torch 2.5
    assert torch_dep.startswith("torch>=") and tuple(int(v) for v in torch_dep[len("torch>="):].split(".")[:2]) >= (2, 5)
