"""Only ``layerwise.train`` knows about ranks.

Code elsewhere that must act once per run (print, write the run folder, clear old checkpoints) asks a
:class:`~layerwise.train.execution.Role` -- ``execution.once(...)``, ``.writes``, ``.who`` -- and never which
process it is. Every module outside ``layerwise/train/`` is read with :mod:`ast` (code, not docstrings or
comments): none may name the rank API or import :mod:`layerwise.train.distributed`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "layerwise"

#: What asks which process this is: the rank API of ``train/distributed.py`` and ``train/execution.py``.
RANK_NAMES = frozenset({"is_main", "rank", "world_size", "local_rank", "local_device_index", "is_distributed", "init_from_env"})
DISTRIBUTED = "layerwise.train.distributed"


def _imported_module(module: str, node: ast.ImportFrom) -> str:
    """The absolute name of what ``from ... import`` reads from (``module`` is the importer's dotted name)."""
    if not node.level:
        return node.module or ""
    base = module.split(".")[: len(module.split(".")) - node.level]
    return ".".join(base + ([node.module] if node.module else []))


def rank_questions(source: str, module: str) -> list[str]:
    """Every place in ``source`` (the module ``module``, e.g. ``layerwise.pipeline.greedy``) that asks for a rank."""
    found = []
    for node in ast.walk(ast.parse(source)):
        where = f"{module}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Attribute) and node.attr in RANK_NAMES:
            found.append(f"{where} .{node.attr}")
        elif isinstance(node, ast.Name) and node.id in RANK_NAMES:
            found.append(f"{where} {node.id}")
        elif isinstance(node, ast.Import):
            found += [f"{where} import {a.name}" for a in node.names if a.name == DISTRIBUTED]
        elif isinstance(node, ast.ImportFrom):
            source_module = _imported_module(module, node)
            names = {a.name for a in node.names}
            if source_module == DISTRIBUTED or (source_module == "layerwise.train" and "distributed" in names):
                found.append(f"{where} from {source_module} import {', '.join(sorted(names))}")
            found += [f"{where} imports {n}" for n in sorted(names & RANK_NAMES)]
    return found


def _modules_outside_train() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        if parts[:2] == ("layerwise", "train"):
            continue
        out.append((".".join(parts[:-1] if parts[-1] == "__init__" else parts), path))
    return out


def test_no_module_outside_train_asks_for_a_rank():
    modules = _modules_outside_train()
    assert len(modules) > 40 and "layerwise.pipeline.greedy" in dict(modules)  # the scan sees the package
    found = [q for name, path in modules for q in rank_questions(path.read_text(encoding="utf-8"),
                                                                 name if path.name != "__init__.py" else name + ".__init__")]
    assert found == [], "ask a Role (layerwise.train.execution: once, writes, who) instead:\n" + "\n".join(found)


@pytest.mark.parametrize("source", [
    "from .train import distributed\nif distributed.is_main(): pass",
    "from .train.distributed import is_main",
    "from ..train.distributed import rank",
    "import layerwise.train.distributed",
    "def f(execution):\n    if execution.is_main: pass",
    "def f(ctx):\n    return ctx.rank, ctx.world_size",
])
def test_the_scan_finds_a_rank_question(source):
    """The check can fail: each of these (what greedy.py, commands.py, runs.py, cli.py and sklearn/_stack.py wrote
    before) is found."""
    assert rank_questions(source, "layerwise.sklearn._stack")


def test_the_scan_leaves_docstrings_and_the_act_once_api_alone():
    source = '''"""Under torchrun only rank 0 writes (:mod:`layerwise.train.distributed`)."""
from .train.execution import this_process

def say(msg):
    this_process().once(print, msg)
    return this_process().writes, this_process().who
'''
    assert rank_questions(source, "layerwise.app.commands") == []


def test_a_role_acts_once():
    from layerwise.train.execution import LocalExecution, Role, this_process

    calls = []
    main, other = Role(0, 2), Role(1, 2)
    assert main.once(calls.append, "main") is None and other.once(calls.append, "other") is None
    assert calls == ["main"]
    assert main.once(lambda: 5) == 5 and other.once(lambda: 5) is None
    assert (main.writes, main.who, other.writes, other.who) == (True, "", False, "rank 1")
    assert this_process().writes and this_process().who == "" and not this_process().launched  # no torchrun here
    assert LocalExecution().writes and LocalExecution().once(lambda: 1) == 1
