import json
import re
import subprocess
import sys
from dataclasses import replace

import pytest

from layerwise.app.cli import main
from layerwise.app.demo import STEPS

from ..conftest import assert_png_shows_a_picture


def test_demo_quick_writes_the_run_folder(tmp_path, capsys, figures):
    out = tmp_path / "run"
    assert main(["demo", "--quick", "--out", str(out), "--no-progress", "--random-state", "3"]) == 0
    table = capsys.readouterr().out
    for method in ["logistic regression, raw pixels", "random init, full", "pretrained, frozen", "pretrained, full",
                   "DBN (stacked RBMs), full", "kNN (k=5), pretrained codes", "LabelSpreading"]:
        assert method in table
    assert "accuracy" in table and "precision" in table and "recall" in table and "seconds" in table
    result = json.loads((out / "results.json").read_text())
    assert len(result["rows"]) == len(STEPS) - 1 and result["n_labeled"] == 125  # every step but pretrain adds a row
    assert result["random_state"] == 3
    assert result["plots"] == ["accuracy.png", "curves.png", "reconstructions.png"]
    for png in result["plots"]:
        assert_png_shows_a_picture(out / png)
    assert len(figures) == 3
    bars, curves, pictures = figures  # in the order of result["plots"]
    assert bars.get_suptitle() == "Test accuracy: digits, 125 of 1257 training rows labeled"
    assert len(bars.axes[0].patches) == len(result["rows"])  # a bar per method
    assert curves.get_suptitle().startswith("Training on the labeled rows")
    assert [ax.get_title() for ax in curves.axes] == ["loss", "accuracy"] and all(ax.lines for ax in curves.axes)
    assert "reconstructions" in pictures.get_suptitle() and sum(bool(ax.images) for ax in pictures.axes) >= 10
    assert f"run folder: {out} (results.json, accuracy.png, curves.png, reconstructions.png)" in table


@pytest.fixture
def tiny_demo(monkeypatch):
    """The digits demo with every step but a few epochs and small layers: seconds, not minutes. A rate of 1e-2 lets
    3 epochs of fine-tuning learn something: at 1e-3 a head can still predict one class for every row, and the
    warning that says so is a line more per step."""
    import layerwise.app.demo as demo

    monkeypatch.setitem(demo.SETTINGS, "digits", replace(demo.SETTINGS["digits"], hidden_layer_sizes=(16,), pretrain_max_iter=2,
                                                         max_iter=3, semi_max_iter=2, learning_rate_init=1e-2))


def test_demo_piped_prints_a_line_per_step_not_per_epoch(tmp_path, capsys, tiny_demo):
    """stderr is not a terminal here (a pipe, a log file): a line when each step starts and ends, with its time and
    accuracies, and no line per epoch; `-v` still asks for the epoch lines."""
    assert main(["demo", "--out", str(tmp_path / "run")]) == 0
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert not [line for line in lines if " epoch " in line]
    assert len(lines) <= 2 * len(STEPS) + 5 and len(out.splitlines()) < 20  # a screenful in all
    assert lines[1] == f"[1/{len(STEPS)}] logistic regression ..."
    assert re.fullmatch(rf"\[1/{len(STEPS)}\] logistic regression, raw pixels: accuracy 0\.\d{{4}} \(\d+\.\d s\)", lines[2])
    assert any(re.fullmatch(rf"\[{len(STEPS)}/{len(STEPS)}\] M1\+M2 \(semi-supervised VAE\): accuracy .*", line) for line in lines)
    assert main(["demo", "--out", str(tmp_path / "run"), "--overwrite", "-v"]) == 0
    verbose = capsys.readouterr().err.splitlines()
    assert len([line for line in verbose if re.match(r"\[.+\] epoch 1/\d+  loss ", line)]) >= 6  # each fit's first epoch


def test_cli_errors_exit_non_zero(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("LAYERWISE_MIRROR", "http://127.0.0.1:9")  # a closed local port: no download possible
    assert main(["demo", "--dataset", "mnist", "--data-dir", str(tmp_path), "--quick", "--out", str(tmp_path / "r")]) == 2
    assert "layerwise: error: Could not download the mnist file" in capsys.readouterr().err


def test_help_and_module_entry_point():
    r = subprocess.run([sys.executable, "-m", "layerwise", "demo", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "--label-fraction" in r.stdout
    r = subprocess.run([sys.executable, "-m", "layerwise", "nonsense"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_examples_lists_and_copies_the_packaged_configs(tmp_path, capsys):
    from layerwise import examples

    assert main(["examples"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in examples.names()) and "Few labels on scikit-learn's digits" in listing
    assert main(["examples", str(tmp_path / "cfg")]) == 0
    assert sorted(p.name for p in (tmp_path / "cfg").iterdir()) == examples.names()
    (tmp_path / "cfg" / "digits_quick.toml").write_text("mine")
    assert main(["examples", str(tmp_path / "cfg")]) == 0
    assert "kept 4 existing file(s)" in capsys.readouterr().err
    assert (tmp_path / "cfg" / "digits_quick.toml").read_text() == "mine"  # kept without --overwrite
    assert main(["examples", str(tmp_path / "cfg"), "--overwrite"]) == 0
    assert (tmp_path / "cfg" / "digits_quick.toml").read_bytes() == examples.path("digits_quick.toml").read_bytes()


def test_a_config_by_its_packaged_name(tmp_path, capsys, monkeypatch):
    """`-c NAME`: a file NAME in the current folder, else the packaged example NAME; anything else fails listing them."""
    import layerwise.app.commands
    from layerwise import examples

    seen = []
    monkeypatch.setattr(layerwise.app.commands, "finetune", lambda args: seen.append(args.config) or 0)
    monkeypatch.chdir(tmp_path)
    assert main(["finetune", "-c", "digits_few_labels.toml"]) == 0
    assert main(["finetune", "-c", "digits_few_labels"]) == 0  # the stem is enough
    assert seen == [str(examples.path("digits_few_labels.toml"))] * 2
    assert "using the packaged example digits_few_labels.toml" in capsys.readouterr().err
    (tmp_path / "digits_few_labels.toml").write_text("name = 'mine'\n")
    assert main(["finetune", "-c", "digits_few_labels.toml"]) == 0 and seen[-1] == "digits_few_labels.toml"  # here first
    assert main(["finetune", "-c", "no_such.toml"]) == 2
    err = capsys.readouterr().err
    assert "Config file no_such.toml does not exist in" in err and "digits_quick.toml" in err
