"""benchmarks/few_labels_tables.py and its tables (benchmarks/_tables.py): each table loads offline from
its package (skipped where the package, ``pip install 'layerwise[bench]'``, is absent), and the split
keeps the test rows apart and the labels stratified."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"

# name -> (rows, classes) as documented in the loaders' docstrings
EXPECTED = {"diamonds": (53_940, 5), "telco_churn": (7_043, 2), "hpc_jobs": (4_331, 4), "credit": (4_454, 2)}


def _module(name):
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))  # the script imports its sibling _tables
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _one_thread():
    """OpenMP/BLAS on one thread: HistGradientBoosting's threads crawl on a busy shared machine."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def tables():
    return _module("_tables")


@pytest.fixture(scope="module")
def script():
    return _module("few_labels_tables")


@pytest.fixture(scope="module")
def loaded(tables):
    cache = {}

    def get(name):
        pytest.importorskip(tables.TABLES[name][1])
        if name not in cache:
            cache[name] = tables.load(name)
        return cache[name]

    return get


def test_every_table_is_listed(tables):
    assert set(tables.TABLES) == set(EXPECTED)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_table_loads(name, loaded):
    X, y = loaded(name)
    rows, classes = EXPECTED[name]
    assert isinstance(X, pd.DataFrame) and isinstance(y, pd.Series)
    assert 1_000 <= len(X) <= 250_000 and len(X) == len(y) == rows
    assert y.nunique() == classes >= 2 and not y.isna().any()
    assert y.name not in X.columns and "rownames" not in X.columns
    kinds = [pd.api.types.is_numeric_dtype(X[c]) for c in X.columns]
    assert any(kinds) and not all(kinds)  # numbers and strings both


@pytest.mark.parametrize("labels", [100, 1000])
@pytest.mark.parametrize("name", ["hpc_jobs", "credit"])
def test_split(name, labels, loaded, script):
    X, y = loaded(name)
    codes = np.unique(y.to_numpy(str), return_inverse=True)[1]
    s = script.split(codes, labels, seed=1)
    n = len(y)
    assert len(s.test) == min(round(0.2 * n), 10_000)
    assert not set(s.train) & set(s.test) and len(s.train) + len(s.test) == n
    assert len(s.labeled) == labels == len(set(s.labeled)) and s.labeled.max() < len(s.train)
    # stratified: each class's share of the labels within one row of its share of the training rows
    train_counts = np.bincount(codes[s.train], minlength=codes.max() + 1)
    label_counts = np.bincount(codes[s.train][s.labeled], minlength=codes.max() + 1)
    assert np.all(np.abs(label_counts - labels * train_counts / len(s.train)) <= 1)
    test_counts = np.bincount(codes[s.test], minlength=codes.max() + 1)
    assert np.all(np.abs(test_counts - len(s.test) * np.bincount(codes) / n) <= 1)
    y_partial = script.partial_labels(codes, s)
    assert (y_partial != -1).sum() == labels and np.array_equal(y_partial[s.labeled], codes[s.train][s.labeled])
    again = script.split(codes, labels, seed=1)  # fixed per seed
    assert np.array_equal(again.test, s.test) and np.array_equal(again.labeled, s.labeled)
    assert not np.array_equal(script.split(codes, labels, seed=2).test, s.test)


def test_split_caps_the_test_set(script):
    y = np.arange(60_000) % 3
    s = script.split(y, 100, seed=0)
    assert len(s.test) == 10_000 and len(s.train) == 50_000 and len(s.labeled) == 100


def test_run_and_report(loaded, script, tmp_path, capsys):
    loaded("hpc_jobs")  # skip without the package
    out = tmp_path / "r.jsonl"
    script.main(["run", "--tables", "hpc_jobs", "--labels", "100", "--seeds", "0", "1",
                 "--methods", "hgb", "logreg", "majority", "--results", str(out)])
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 6 and all(0 <= r["accuracy"] <= 1 and r["fit_seconds"] >= 0 for r in records)
    assert {"table", "package", "labels", "seed", "method", "threads", "machine", "command"} <= set(records[0])
    capsys.readouterr()
    text = script.main(["report", "--results", str(out)])
    assert "| hpc_jobs | 100 |" in text and "n=2" in text and "no paired runs" in text


def test_default_records_its_fitted_attributes(loaded, script, tmp_path, monkeypatch):
    """The ``default`` branch with a stand-in for PretrainedClassifier: it gets the DataFrame as loaded
    (strings and all) and the -1 marks, and its fitted attributes land in the record."""
    import types

    from sklearn.dummy import DummyClassifier

    X_loaded, _ = loaded("hpc_jobs")
    seen = {}

    class Stand_in(DummyClassifier):
        def __init__(self, random_state=None):
            super().__init__(strategy="most_frequent")
            self.random_state = random_state

        def fit(self, X, y):
            seen["X"], seen["y"] = X, y
            self.semi_supervised_, self.reference_score_ = "ladder", np.float64(0.5)
            return super().fit(X, np.where(y == -1, 0, y))

    monkeypatch.setitem(sys.modules, "layerwise", types.SimpleNamespace(PretrainedClassifier=Stand_in))
    out = tmp_path / "r.jsonl"
    script.main(["run", "--tables", "hpc_jobs", "--labels", "1000", "--seeds", "0", "--methods", "default", "hgb",
                 "--results", str(out)])
    assert list(seen["X"].columns) == list(X_loaded.columns) and list(seen["X"].dtypes) == list(X_loaded.dtypes)
    assert (seen["y"] != -1).sum() == 1000 and (seen["y"] == -1).sum() == len(seen["X"]) - 1000
    default = [json.loads(line) for line in out.read_text().splitlines()][0]
    assert default["method"] == "default" and default["semi_supervised_"] == "ladder" and default["reference_score_"] == 0.5
    assert "gain of default over hgb at 1,000 labels" in script.main(["report", "--results", str(out)]).splitlines()[-1]
