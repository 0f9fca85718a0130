"""Same seed, same data, same machine: the same weights, bit for bit, across processes (CPU).

Two separate Python processes fit a small ``GreedyLayerwise`` stack for every
registered pretraining objective, and a ``PretrainedClassifier``, on digits,
with seed 0, and write the weights with ``safetensors.torch.save_file``. They
run with different ``PYTHONHASHSEED`` values and working folders, so no set or
dict ordering, and no path, can leak into the weights; their files must be
the same bytes. The first process then fits again with seed 1, whose weights
must differ: the comparison can fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from safetensors.torch import load_file

from layerwise.objectives import OBJECTIVES

CHILD = textwrap.dedent(
    """
    import sys

    import numpy as np
    import torch
    from safetensors.torch import save_file
    from sklearn.datasets import load_digits

    import layerwise
    from layerwise.objectives import OBJECTIVES
    from layerwise.train import Trainer

    digits = load_digits()
    X = (digits.data[:240] / 16.0).astype(np.float32)
    y = digits.target[:240]

    def write(module, out, name):
        # clone: tied weights share storage, which save_file refuses
        save_file({k: v.detach().clone().contiguous() for k, v in module.state_dict().items()}, f"{out}/{name}.safetensors")

    for arg in sys.argv[1:]:  # FOLDER=SEED ...
        out, seed = arg.rsplit("=", 1)
        seed = int(seed)
        for name in OBJECTIVES.names():
            conv = name == "conv"
            greedy = layerwise.GreedyLayerwise(
                (4, 8) if conv else (16, 8), objective=name, objective_params={"image_shape": (1, 8, 8)} if conv else None,
                trainer=Trainer(max_iter=2, batch_size=32, random_state=seed, device="cpu"))
            write(greedy.fit(torch.from_numpy(X)), out, name)
        clf = layerwise.PretrainedClassifier((16,), pretrain_max_iter=1, max_iter=2, random_state=seed, device="cpu").fit(X, y)
        write(clf.module_, out, "PretrainedClassifier")
    """
)

NAMES = OBJECTIVES.names() + ["PretrainedClassifier"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Folders of weights: ``a`` (seed 0, then ``c`` with seed 1, in one process) and ``b`` (seed 0, another process)."""
    root = tmp_path_factory.mktemp("determinism")
    script = root / "child.py"
    script.write_text(CHILD)
    for hashseed, folders in (("1", {"a": 0, "c": 1}), ("2", {"b": 0})):
        for run in folders:
            (root / run).mkdir()
        # one process after the other: the machine's cores are shared, and each process uses them all
        proc = subprocess.run([sys.executable, str(script), *(f"{root / run}={seed}" for run, seed in folders.items())],
                              cwd=root / next(iter(folders)), env={**os.environ, "PYTHONHASHSEED": hashseed},
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"runs {list(folders)} failed:\n{proc.stderr}"
    return root


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_gives_the_same_bytes_in_another_process(runs, name):
    a, b = (runs / run / f"{name}.safetensors" for run in ("a", "b"))
    assert a.read_bytes() == b.read_bytes(), f"{name}: two processes with seed 0 wrote different weights"


@pytest.mark.parametrize("name", NAMES)
def test_another_seed_gives_other_weights(runs, name):
    a, c = (load_file(runs / run / f"{name}.safetensors") for run in ("a", "c"))
    assert a.keys() == c.keys() and len(a) > 0
    assert any(not (a[k] == c[k]).all() for k in a), f"{name}: seeds 0 and 1 gave the same weights"
