"""The few-label run from a config: a ladder network trained by `layerwise finetune`, without `pretrain`."""

import json
import shutil
from pathlib import Path

import pytest

from layerwise.app.cli import main

from ..conftest import assert_png_shows_a_picture

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def few_labels(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    cfg = out / "few.toml"
    shutil.copy(ROOT / "examples" / "digits_few_labels.toml", cfg)
    args = ["-c", str(cfg), "--set", f'out_dir="{out}"', "--set", "model.hidden_layer_sizes=[64, 32]",
            "--set", "finetune.max_iter=6", "--no-progress"]
    assert main(["finetune", *args]) == 0
    return out / "digits-few-labels", cfg, args


def test_finetune_trains_the_ladder_and_shows_each_layer_cost(few_labels):
    folder, _, _ = few_labels
    lines = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
    assert len(lines) == 6 and all({"denoising_0", "denoising_1", "denoising_2", "denoising_3", "accuracy"} <= set(x) for x in lines)
    assert_png_shows_a_picture(folder / "semi_supervised_curves.png")
    assert not (folder / "pretrained").exists()  # no pretraining step: the ladder trains on every row itself
    assert json.loads((folder / "metrics.json").read_text())["accuracy"] > 0.5


def test_the_saved_ladder_evaluates_and_resumes_as_done(few_labels, capsys):
    folder, cfg, args = few_labels
    capsys.readouterr()
    assert main(["evaluate", str(folder / "model"), "-c", str(cfg), "--set", "model.hidden_layer_sizes=[64, 32]"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == json.loads((folder / "metrics.json").read_text())["accuracy"]
    assert main(["resume", str(folder)]) == 0  # finished: nothing to do


def test_without_a_pretrained_model_or_unlabeled_rows_the_message_says_what_to_do(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    shutil.copy(ROOT / "examples" / "digits_quick.toml", cfg)
    assert main(["finetune", "-c", str(cfg), "--set", f'out_dir="{tmp_path}"', "--set", "data.label_fraction=1.0",
                 "--no-progress"]) == 2
    assert 'or set finetune.semi_supervised = "ladder"' in capsys.readouterr().err


@pytest.mark.parametrize("y_partial", [[0, -1, 1], ["cat", -1, "dog"], ["cat", "-1", "dog"]])
def test_auto_trains_the_ladder_when_some_labels_are_hidden_whatever_their_type(tmp_path, y_partial):
    """Integer labels or class names (a CSV's), with -1 or its text "-1": rows without a label, so no
    pretrained model is needed."""
    from types import SimpleNamespace

    import numpy as np

    from layerwise.app.commands import _finetune_source
    from layerwise.app.config import load_config

    cfg = load_config(ROOT / "examples" / "digits_few_labels.toml", ['finetune.semi_supervised="auto"'])
    assert cfg.finetune.semi_supervised == "auto"
    data = SimpleNamespace(y_partial=np.array(y_partial, dtype=object if isinstance(y_partial[0], str) else None))
    assert _finetune_source(cfg, tmp_path, None, data, classification=True) is None
