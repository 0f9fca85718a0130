"""Dependencies run one way: no import cycle in ``src/layerwise``, counting imports inside functions.

Every ``import`` statement is read with :mod:`ast` (module level, in functions, in classes; not under
``if TYPE_CHECKING:``), relative imports are resolved, and each becomes an edge from the importing module
to what it imports. Importing ``a.b.c`` also runs the ``__init__`` of every package on the way that the
importer is not itself inside (``a.b`` from ``x.y``), which can close a cycle too, so those are edges as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "layerwise"


def _modules(root: Path) -> dict[str, tuple[Path, bool]]:
    """``{dotted name: (file, is_package)}`` of every module under the package ``root``."""
    out = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return out


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for child in node.body for n in ast.walk(child)}
    return skip


def _targets(module: str, is_package: bool, node: ast.AST, modules: dict) -> list[str]:
    """The modules an import statement loads (the most specific that exist)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in modules]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    found = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in modules else prefix for a in node.names]
    return [t for t in found if t in modules]


def import_graph(root: Path) -> dict[str, set[str]]:
    """``{module: modules its imports run}``, as described in the module docstring."""
    modules = _modules(root)
    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        skip = _type_checking_nodes(tree)
        own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 2)}  # itself and its packages
        deps = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in skip:
                for target in _targets(name, is_package, node, modules):
                    parts = target.split(".")
                    deps |= {p for p in (".".join(parts[:i]) for i in range(1, len(parts) + 1)) if p not in own and p in modules}
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as a cycle path."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(_path_in(sorted(component), graph))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _path_in(component: list[str], graph: dict[str, set[str]]) -> list[str]:
    """One cycle through the component's first module, for the failure message."""
    members, start = set(component), component[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & members):
                if w == start:
                    return paths[v] + [start]
                if w not in paths:
                    paths[w] = paths[v] + [w]
                    nxt.append(w)
        frontier = nxt
    return component


def test_layerwise_has_no_import_cycle():
    found = cycles(import_graph(SRC))
    assert found == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_the_model_format_knows_no_estimator_and_the_loop_no_distributed_module():
    graph = import_graph(SRC)

    def reaches(a: str, b: str) -> bool:
        seen, todo = set(), [a]
        while todo:
            v = todo.pop()
            if v == b:
                return True
            if v not in seen:
                seen.add(v)
                todo += graph[v]
        return False

    assert not any(reaches(m, "layerwise.sklearn") for m in ("layerwise.persistence.io", "layerwise.persistence.folder", "layerwise.pipeline.transfer"))
    assert not reaches("layerwise.pipeline.transfer", "layerwise.persistence.io")  # transfer utilities sit below the model files
    assert not reaches("layerwise.persistence.io", "layerwise.pipeline.transfer")  # the model files sit below the pipeline (transfer is a phase)
    assert not reaches("layerwise.train.distributed", "layerwise.train.loop")  # inference helpers below the loop
    assert "layerwise.train.distributed" not in graph["layerwise.train.loop"]  # the loop sees executions only


def test_the_data_layer_imports_nothing_of_the_training_code():
    graph = import_graph(SRC)
    found = {m: sorted(d for d in deps if d.startswith("layerwise.train")) for m, deps in graph.items() if m.startswith("layerwise.data")}
    assert {m: d for m, d in found.items() if d} == {}


@pytest.fixture
def toy(tmp_path):
    """A package whose cycles hide in a function and behind a package ``__init__``."""
    root = tmp_path / "toy"
    (root / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "a.py": "def f():\n    from . import b\n",
        "b.py": "from .a import f\n",
        "c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .d import x\n",
        "d.py": "from .c import y\n",
        "sub/__init__.py": "from . import leaf\n",
        "sub/leaf.py": "",
        "e.py": "from .sub.leaf import z\n",
        "sub/other.py": "from ..e import w\n",
    }
    for name, text in files.items():
        (root / name).write_text(text)
    (root / "sub" / "__init__.py").write_text("from . import leaf, other\n")
    return root


def test_the_cycle_finder_sees_function_level_and_package_imports_but_not_type_checking(toy):
    found = {tuple(c) for c in cycles(import_graph(toy))}
    assert ("toy.a", "toy.b", "toy.a") in found  # through the import inside f()
    assert any("toy.e" in c and "toy.sub" in c for c in found)  # e -> toy.sub (its __init__) -> other -> e
    assert not any("toy.c" in c for c in found)  # the TYPE_CHECKING import is not an edge
