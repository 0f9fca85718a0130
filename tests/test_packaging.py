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


def test_example_configs_ship_as_package_data():
    """The configs of the README's commands are files of the package; examples/ in the repository holds the same."""
    from layerwise import examples

    patterns = _pyproject()["tool"]["setuptools"]["package-data"]["layerwise.examples"]
    assert "*.toml" in patterns and "*.yaml" in patterns
    names = examples.names()
    assert {"digits_quick.toml", "digits_few_labels.toml", "mnist_sdae.toml", "mnist_few_labels.toml"} <= set(names)
    assert examples.FOLDER == Path(layerwise.__file__).parent / "examples"
    # one copy: examples/*.toml of the repository are links to (or, where links are not checked out, copies of) them
    repo = sorted(p.name for p in (ROOT / "examples").iterdir() if p.suffix in examples.SUFFIXES)
    assert repo == names
    for name in names:
        assert (ROOT / "examples" / name).read_bytes() == examples.path(name).read_bytes(), name
    # every `-c NAME` of the README names a packaged example, so that it runs after `pip install layerwise`
    import re

    used = set(re.findall(r"-c ([\w./-]+\.(?:toml|ya?ml))", (ROOT / "README.md").read_text()))
    assert used and used <= set(names), used - set(names)


def _imports(code_or_args: list[str]) -> tuple[str, str]:
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-X", "importtime", *code_or_args], capture_output=True, text=True, timeout=120)
    return r.stdout, r.stderr


def test_version_and_help_import_no_torch():
    """`layerwise --version` and `--help` answer at once: neither torch nor scikit-learn is imported."""
    import sys

    for args in (["--version"], ["--help"], []):
        # the console script's process: sys.argv[0] is the `layerwise` script
        code = ("import sys; sys.argv = ['/venv/bin/layerwise', *sys.argv[1:]]\n"
                "from layerwise.app.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n")
        out, err = _imports(["-c", code, *args])
        modules = {line.rsplit("|", 1)[-1].strip() for line in err.splitlines() if line.startswith("import time:")}
        assert "layerwise.app.cli" in modules and not {"torch", "sklearn", "numpy"} & modules, (args, sorted(modules))
    out, err = _imports(["-m", "layerwise", "--version"])
    assert out.strip() == f"layerwise {layerwise.__version__}"
    assert not any(line.rstrip().endswith("| torch") for line in err.splitlines())
    assert sys.modules.get("torch") is not None  # a plain `import layerwise` (this process) still imports torch


def test_import_layerwise_is_whole_elsewhere():
    """Any other process that imports layerwise gets the whole library (and torch's denormal setting)."""
    import subprocess
    import sys

    code = "import layerwise, torch; print(layerwise._LIGHT, hasattr(layerwise, 'PretrainedClassifier'))"
    r = subprocess.run([sys.executable, "-c", code, "--help"], capture_output=True, text=True, timeout=120)
    assert r.stdout.split() == ["False", "True"], r.stderr[-2000:]


def test_a_command_after_a_light_import_gets_the_whole_library():
    """Should a command run in a process that imported layerwise light, main() imports it whole first."""
    import subprocess
    import sys

    code = ("import sys; sys.argv = ['layerwise', '--version']\n"
            "import layerwise; assert layerwise._LIGHT and not hasattr(layerwise, 'Trainer')\n"
            "from layerwise.app.cli import main\nassert main(['inspect', 'no/such/model']) == 2\n"
            "import torch\nprint(layerwise._LIGHT, hasattr(layerwise, 'Trainer'), torch.tensor([1e-40]).item())")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.split() == ["False", "True", "0.0"], r.stderr[-2000:]  # denormals flushed, as on a plain import
