"""Issue #23: the demo, the benchmarks and the examples fit through the one pipeline, never by hand.

Every script of ``benchmarks/`` and ``examples/``, and ``src/layerwise/app/demo.py``, is read with :mod:`ast` (not
run): none of them may import or call the pieces a fit is made of (``GreedyLayerwise``, ``finetune``,
``fit_semi_supervised``, ``continue_semi_supervised``: :mod:`layerwise.pipeline.fit` calls them, in one place);
and each one that trains a network (it imports ``Trainer``, an estimator or :mod:`layerwise.pipeline`) fits through
:mod:`layerwise.pipeline` or an estimator, unless it is one of the few listed in :data:`ALLOWED`, each with its
reason. Names are resolved through the file's imports (``import layerwise as lw; lw.finetune(...)`` counts, a
function of the script's own called ``finetune`` does not).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: what a fit is made of: only layerwise.pipeline.fit calls them
FORBIDDEN = {"GreedyLayerwise", "finetune", "fit_semi_supervised", "continue_semi_supervised"}
#: the scikit-learn estimators, which build and run the pipeline themselves
ESTIMATORS = {"PretrainedClassifier", "PretrainedRegressor", "StackedAutoencoder", "VariationalAutoencoder"}
#: a script that imports one of these trains a network
TRAINS = FORBIDDEN | ESTIMATORS | {"Trainer"}

#: scripts that train with ``Trainer`` and neither pretrain nor fine-tune: they may leave the pipeline out
ALLOWED = {
    # component micro-benchmark: one epoch of Trainer.fit on a deep autoencoder against hand-written PyTorch loops
    "benchmarks/bench_loop.py",
    # component micro-benchmark: one epoch of Trainer.fit (deep AE, RBM) against scikit-learn's and a DataLoader loop
    "benchmarks/bench_peers.py",
    # component micro-benchmark: one epoch of Trainer.fit (deep AE, VAE) against pythae's trainers
    "benchmarks/bench_pythae.py",
    # component micro-benchmark: one epoch of Trainer.fit on one process against two (DistributedDataParallel)
    "benchmarks/bench_scaling.py",
    # one VAE trained alone with its own objective (dynamic binarization): no pretraining, no fine-tuning, and no
    # phase of the pipeline trains a lone VAE (the estimator, VariationalAutoencoder, does not binarize)
    "benchmarks/reproduce_vae.py",
    # one VAE trained alone (KL warm-up), then its samples, interpolations and traversals: no pretraining, no
    # fine-tuning, and the pictures need the VAE module itself
    "examples/vae_mnist.py",
}

#: the scripts issue #23 names, which pretrain, fine-tune or pretrain greedily: they build layerwise.pipeline plans
PIPELINE_PLANS = {
    "benchmarks/bench_greedy.py", "benchmarks/bench_ladder.py", "benchmarks/bench_models.py", "benchmarks/gpu_check.py",
    "benchmarks/reproduce_deep_ae.py", "benchmarks/reproduce_few_labels.py", "benchmarks/reproduce_sdae.py",
    "benchmarks/reproduce_sklearn_rbm.py", "examples/transfer_mnist.py", "src/layerwise/app/demo.py",
}

FILES = sorted(str(p.relative_to(ROOT)) for p in [*ROOT.glob("benchmarks/*.py"), *ROOT.glob("examples/*.py")])
FILES.append("src/layerwise/app/demo.py")


@dataclass
class Uses:
    """What a file takes from layerwise: every dotted name it imports or uses (``layerwise.pipeline.Fit``) and where."""

    names: list[tuple[int, str]] = field(default_factory=list)

    def forbidden(self) -> list[str]:
        return [f"line {n}: {name}" for n, name in self.names
                if name.split(".")[-1] in FORBIDDEN or name.endswith(".*")]

    @property
    def trains(self) -> bool:
        return any(name.split(".")[-1] in TRAINS or _in_pipeline(name) for _, name in self.names)

    @property
    def pipeline(self) -> bool:
        return any(_in_pipeline(name) or name.split(".")[-1] in ESTIMATORS for _, name in self.names)


#: the pieces the plan's phases call (layerwise.pipeline's own modules): using one of them is not fitting a plan
PIECES = ("layerwise.pipeline.greedy", "layerwise.pipeline.finetune", "layerwise.pipeline.semi_supervised",
          "layerwise.pipeline.transfer")


def _in_pipeline(name: str) -> bool:
    """``name`` is the plan (``layerwise.pipeline.Fit``, its phases, ``layerwise.pipeline.fit``), not a piece."""
    if any(name == piece or name.startswith(piece + ".") for piece in PIECES):
        return False
    return name == "layerwise.pipeline" or name.startswith("layerwise.pipeline.")


def _package(relative: str) -> str | None:
    """The package of a file under ``src/`` (``layerwise`` for ``src/layerwise/app/demo.py``), for relative imports."""
    parts = Path(relative).parts
    return ".".join(parts[1:-1]) if parts[0] == "src" else None


def _from_module(node: ast.ImportFrom, package: str | None) -> str | None:
    if not node.level:
        return node.module
    if package is None:
        return None
    base = package.split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _dotted(node: ast.expr) -> list[str] | None:
    """``a.b.c`` as ``["a", "b", "c"]``; None for anything else (a call's result, a subscript...)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def scan(source: str, package: str | None = None) -> Uses:
    """The layerwise names ``source`` imports, and those its code reaches through them (``lw.greedy.X``)."""
    tree = ast.parse(source)
    uses, bound = Uses(), {}
    for node in ast.walk(tree):  # every import, at the top or inside a function
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "layerwise":
                    uses.names.append((node.lineno, alias.name))
                    if alias.asname:
                        bound[alias.asname] = alias.name
                    else:  # import layerwise.x binds layerwise
                        bound["layerwise"] = "layerwise"
        elif isinstance(node, ast.ImportFrom):
            module = _from_module(node, package)
            if module is not None and module.split(".")[0] == "layerwise":
                for alias in node.names:
                    uses.names.append((node.lineno, f"{module}.{alias.name}"))
                    bound[alias.asname or alias.name] = f"{module}.{alias.name}"
    inner = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    for node in ast.walk(tree):  # the longest dotted names only: lw.finetune.helper is not lw.finetune
        if isinstance(node, (ast.Name, ast.Attribute)) and id(node) not in inner:
            parts = _dotted(node)
            if parts and parts[0] in bound:
                uses.names.append((node.lineno, ".".join([bound[parts[0]], *parts[1:]])))
    return uses


def scan_file(relative: str) -> Uses:
    return scan((ROOT / relative).read_text(), _package(relative))


@pytest.mark.parametrize("relative", FILES)
def test_no_fit_by_hand(relative):
    assert not scan_file(relative).forbidden(), (
        f"{relative} builds a fit by hand: build a layerwise.pipeline.Fit (or use an estimator) instead")


@pytest.mark.parametrize("relative", FILES)
def test_what_trains_fits_through_the_pipeline(relative):
    uses = scan_file(relative)
    if uses.trains and relative not in ALLOWED:
        assert uses.pipeline, (f"{relative} trains a network but neither imports layerwise.pipeline nor uses an estimator "
                               "(a component micro-benchmark goes in ALLOWED, with its reason)")


@pytest.mark.parametrize("relative", sorted(PIPELINE_PLANS))
def test_scripts_that_pretrain_and_fine_tune_build_pipeline_plans(relative):
    assert any(_in_pipeline(name) for _, name in scan_file(relative).names), f"{relative} does not import layerwise.pipeline"


def test_allow_list_is_current():
    """Each allowed file exists, trains, and does need the exception (it would fail without it)."""
    for relative in ALLOWED:
        assert relative in FILES, f"{relative} is allowed but is not there"
        uses = scan_file(relative)
        assert uses.trains and not uses.pipeline, f"{relative} no longer needs its place in ALLOWED"


@pytest.mark.parametrize("source", [
    "from layerwise import GreedyLayerwise",
    "from layerwise.pipeline.finetune import finetune as ft",
    "from layerwise.pipeline.semi_supervised import fit_semi_supervised",
    "from layerwise.pipeline.semi_supervised import continue_semi_supervised",
    "import layerwise\nlayerwise.finetune(stack, head, objective, data)",
    "import layerwise as lw\nmodel = lw.greedy.GreedyLayerwise((8,)).fit(X)",
    "import layerwise.pipeline.greedy\nlayerwise.greedy.GreedyLayerwise((8,))",
    "def f():\n    from layerwise import finetune\n    return finetune",
    "from layerwise import *",
])
def test_scanner_finds_a_fit_by_hand(source):
    assert scan(source).forbidden()


def test_scanner_reads_relative_imports_in_the_package():
    assert scan("from .finetune import finetune", "layerwise").forbidden()
    assert scan("from ..greedy import GreedyLayerwise", "layerwise.sklearn").forbidden()
    assert scan("from .pipeline import Fit", "layerwise").pipeline


@pytest.mark.parametrize("source", [
    "def finetune(x):\n    return x\n\nfinetune(1)",  # the script's own function
    "from layerwise.pipeline import FineTune, Fit\nFit([FineTune(10)]).run(X, y)",
    "import layerwise\nlayerwise.finetune_helper = 1",
    "history = clf.history_['finetune']",
])
def test_scanner_leaves_other_names_alone(source):
    assert not scan(source).forbidden()


def test_scanner_tells_training_without_the_pipeline():
    by_hand = scan("from layerwise import Trainer\nTrainer(max_iter=1).fit(model, objective, (X,))")
    assert by_hand.trains and not by_hand.pipeline
    estimator = scan("from layerwise import StackedAutoencoder\nStackedAutoencoder().fit(X)")
    assert estimator.trains and estimator.pipeline
    plan = scan("import layerwise.pipeline as lp\nlp.Fit([lp.Greedy((8,))]).run(X)")
    assert plan.trains and plan.pipeline
    assert not scan("from layerwise import load_dataset").trains
