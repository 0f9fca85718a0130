"""The run commands end to end on a small real dataset (digits), from a config file."""

import csv
import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from layerwise.app.cli import main

from ..conftest import assert_png_shows_a_picture

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run_figures():
    """The matplotlib figure of each picture the `run` fixture saves, by file name (as the ``figures`` fixture)."""
    return {}


@pytest.fixture(scope="module")
def run(tmp_path_factory, run_figures):
    """pretrain then finetune examples/digits_quick.toml into a temporary out_dir."""
    from layerwise import viz

    out = tmp_path_factory.mktemp("runs")
    cfg = out / "digits.toml"
    shutil.copy(ROOT / "examples" / "digits_quick.toml", cfg)
    args = ["-c", str(cfg), "--set", f'out_dir="{out}"', "--set", "logging.csv=true", "--set", "logging.tensorboard=true",
            "--no-progress"]
    real = viz._save

    def keep(fig, path):
        run_figures[Path(path).name] = fig
        return real(fig, path)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(viz, "_save", keep)
        assert main(["pretrain", *args]) == 0
        assert main(["finetune", *args]) == 0
    return out / "digits-quick", cfg


def test_the_run_folder_holds_every_file(run):
    folder, _ = run
    for name in ["config.json", "metrics.jsonl", "metrics.json", "pretrain_metrics.json", "loss_curves.png",
                 "reconstructions.png", "filters.png", "latent_2d.png", "interpolation.png", "samples.png",
                 "confusion_matrix.png", "curves.png", "metrics_pretrain.csv", "metrics_finetune.csv"]:
        assert (folder / name).is_file(), name
        if name.endswith(".png"):
            assert_png_shows_a_picture(folder / name)
    for model in ["pretrained", "model"]:
        assert sorted(p.name for p in (folder / model).iterdir()) == ["config.json", "meta.json", "model.safetensors"]
    lines = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
    assert [(x["phase"], x.get("layer"), x["epoch"]) for x in lines] == (
        [("pretrain", k, e) for k in (1, 2) for e in range(1, 6)] + [("finetune", None, e) for e in range(1, 41)])
    assert all("loss" in x and "lr" in x for x in lines)
    with open(folder / "metrics_finetune.csv") as f:
        assert len(list(csv.DictReader(f))) == 40
    for command in ("pretrain", "finetune"):  # TensorBoard events (the dev extras install tensorboard)
        assert list((folder / "tensorboard" / command).glob("events.out.tfevents.*")), command
    assert json.loads((folder / "config.json").read_text())["name"] == "digits-quick"
    assert json.loads((folder / "metrics.json").read_text())["accuracy"] > 0.8


def test_the_run_pictures_show_the_run(run, run_figures):
    """What each picture of the run folder draws: the curves of every epoch, the confusion matrix's accuracy, the
    digits' codes in one colour per class, image panels."""
    folder, _ = run
    assert set(run_figures) == {"loss_curves.png", "reconstructions.png", "filters.png", "latent_2d.png",
                                "interpolation.png", "samples.png", "confusion_matrix.png", "curves.png"}
    loss = run_figures["loss_curves.png"]
    assert loss.get_suptitle() == "Greedy pretraining (denoising)"
    assert [(ax.get_title(), [len(x.get_xdata()) for x in ax.lines]) for ax in loss.axes] == [("layer 1", [5]), ("layer 2", [5])]
    curves = run_figures["curves.png"]
    assert curves.get_suptitle() == "digits-quick (digits): fine-tuning curves"
    assert [(ax.get_title(), [len(x.get_xdata()) for x in ax.lines]) for ax in curves.axes] == [("loss", [40]), ("accuracy", [40])]
    accuracy = json.loads((folder / "metrics.json").read_text())["accuracy"]
    title = run_figures["confusion_matrix.png"].axes[0].get_title()
    assert title.startswith("digits-quick (digits): confusion matrix") and f"(accuracy {accuracy:.4f}, n=450)" in title
    latent = run_figures["latent_2d.png"].axes[0]
    assert latent.get_title() == "Top-layer codes of held-out rows" and len(latent.collections) == 10  # a colour per digit
    assert "corrupted inputs" in run_figures["reconstructions.png"].get_suptitle()
    assert run_figures["samples.png"].get_suptitle() == "Samples (denoising)"
    for name in ("reconstructions.png", "filters.png", "interpolation.png", "samples.png"):
        panels = [ax for ax in run_figures[name].axes if ax.images]
        assert len(panels) >= 10, name


def test_version(capsys):
    from layerwise import __version__

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out == f"layerwise {__version__}\n"


def test_one_line_per_epoch_on_stderr_unless_quiet(tmp_path, capsys):
    """Under pytest stderr is not a terminal: the line is written by default, never with -q, always with -v."""
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(f'out_dir = "{tmp_path}"\n[model]\nhidden_layer_sizes = [8]\npretrain = "autoencoder"\n[pretrain]\nmax_iter = 2\n')
    # the time left after every epoch but the last (issue #20)
    line = re.compile(r"^\[pretrain layer 1/1\] epoch \d/2  loss \S+  recon \S+  lr 0.001  \(\d+\.\d s\)(  eta \d+ s)?$", re.M)
    for argv, expected in ((["pretrain"], 2), (["-q", "pretrain"], 0), (["pretrain", "-v"], 2)):  # flags before or after
        assert main([*argv, "-c", str(cfg), "--overwrite"]) == 0
        err = capsys.readouterr().err
        assert len(line.findall(err)) == expected and ("] epoch " in err) == (expected > 0), err


def test_a_missing_tensorboard_is_said_before_any_training(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as when the extra is not installed
    cfg = tmp_path / "tb.toml"
    cfg.write_text(f'out_dir = "{tmp_path}"\nname = "tb"\n[logging]\ntensorboard = true\n')
    assert main(["pretrain", "-c", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "TensorBoardLogger needs the tensorboard package, which cannot be imported here" in err
    assert "Install it with: pip install 'layerwise[tensorboard]'" in err
    assert not (tmp_path / "tb" / "checkpoints").exists() and not (tmp_path / "tb" / "metrics.jsonl").exists()


def test_evaluate_predict_inspect(run, tmp_path, capsys):
    folder, cfg = run
    capsys.readouterr()
    assert main(["evaluate", str(folder / "model"), "-c", str(cfg)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["accuracy"] > 0.8 and len(report["confusion_matrix"]) == 10
    for name in ("evaluation_confusion_matrix.png", "evaluation_curves.png"):
        assert_png_shows_a_picture(folder / name)
    # digits has no test split of its own: the 20% that prepare_data holds out by default (random_state=0)
    assert main(["evaluate", str(folder / "model"), "--dataset", "digits", "-o", str(tmp_path / "ev")]) == 0
    report = json.loads(capsys.readouterr().out)
    from layerwise.data import prepare_data

    assert sum(map(sum, report["confusion_matrix"])) == len(prepare_data("digits").X_test) == 360
    assert sorted(p.name for p in (tmp_path / "ev").iterdir()) == ["evaluation_confusion_matrix.png", "evaluation_curves.png"]
    for png in (tmp_path / "ev").iterdir():
        assert_png_shows_a_picture(png)
    from sklearn.datasets import load_digits

    X = (load_digits().data[:7] / 16).astype(np.float32)
    np.save(tmp_path / "rows.npy", X)
    assert main(["predict", str(folder / "model"), "--input", str(tmp_path / "rows.npy"), "-o", str(tmp_path / "p.csv")]) == 0
    assert (tmp_path / "p.csv").read_text().splitlines()[0] == "prediction"
    preds = np.loadtxt(tmp_path / "p.csv", delimiter=",", skiprows=1)
    assert preds.shape == (7,) and set(preds.astype(int)) <= set(range(10))
    assert main(["predict", str(folder / "model"), "--input", str(tmp_path / "rows.npy"), "--proba"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    proba = np.loadtxt(rows, delimiter=",")
    assert header == ",".join(map(str, range(10))) and proba.shape == (7, 10) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert proba.argmax(1).tolist() == preds.astype(int).tolist()
    assert main(["predict", str(folder / "pretrained"), "--input", str(tmp_path / "rows.npy")]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    codes = np.loadtxt(rows, delimiter=",")
    assert codes.shape == (7, 32) and header == ",".join(f"code_{i}" for i in range(32))
    assert main(["predict", str(folder / "pretrained"), "--input", str(tmp_path / "rows.npy"), "--proba"]) == 2
    assert "--proba needs a classifier; " in capsys.readouterr().err
    assert main(["inspect", str(folder / "model")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("PretrainedClassifier from") and "parameters:" in out and '"torch"' in out


def test_run_command_errors(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[pretrain]\nepoch = 3\n')
    assert main(["pretrain", "-c", str(bad)]) == 2
    assert "unknown key 'pretrain.epoch'. Did you mean 'pretrain.max_iter' (called 'pretrain.epochs' before)?" in capsys.readouterr().err
    good = tmp_path / "good.toml"
    good.write_text(f'out_dir = "{tmp_path}"\n')
    assert main(["finetune", "-c", str(good)]) == 2
    assert "No pretrained model at" in capsys.readouterr().err
    assert main(["inspect", str(tmp_path)]) == 2
    assert "layerwise: error:" in capsys.readouterr().err
    (tmp_path / "weights.pt").write_bytes(b"\x80\x04K\x01.")
    assert main(["evaluate", str(tmp_path / "weights.pt"), "--input", str(bad)]) == 2
    assert "layerwise: error:" in capsys.readouterr().err


def _no_pretraining_config(tmp_path):
    cfg = tmp_path / "nopre.toml"
    cfg.write_text(f'out_dir = "{tmp_path}"\nname = "nopre"\n[data]\ndataset = "digits"\nlabel_fraction = 0.2\n'
                   '[model]\nhidden_layer_sizes = [16]\npretrain = "none"\n[finetune]\nmax_iter = 2\nbatch_size = 64\n')
    return cfg


@pytest.mark.parametrize("overrides", [[], ["--set", "data.label_fraction=1.0"], ["--set", "finetune.semi_supervised=none"]],
                         ids=["auto-unlabeled-rows", "auto-all-labeled", "semi-none"])
def test_finetune_without_pretraining_starts_from_random_weights(tmp_path, capsys, overrides):
    """``[model] pretrain = "none"``: `layerwise finetune` needs no pretrained/ folder and trains from random init,
    whether every row is labeled or not (semi_supervised "auto" with unlabeled rows: pretrain=None is a stack
    setting, so no ladder) and with semi_supervised = "none"."""
    from layerwise.persistence import io

    cfg = _no_pretraining_config(tmp_path)
    assert main(["finetune", "-c", str(cfg), *overrides, "--no-progress"]) == 0, capsys.readouterr().err
    folder = tmp_path / "nopre"
    assert not (folder / "pretrained").exists() and (folder / "model" / "model.safetensors").is_file()
    assert json.loads((folder / "state.json").read_text())["pretrained"] is None
    lines = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
    assert [(x["phase"], x["epoch"]) for x in lines] == [("finetune", 1), ("finetune", 2)]  # no pretraining epochs
    model = io.load(folder / "model")
    assert model.get_params()["pretrain"] is None and model.semi_supervised_ is None
    assert model._stack_recipe["kind"] == "random"
    assert 0.0 <= json.loads((folder / "metrics.json").read_text())["accuracy"] <= 1.0


def test_pretrain_with_pretraining_off_says_there_is_nothing_to_pretrain(tmp_path, capsys):
    cfg = _no_pretraining_config(tmp_path)
    assert main(["pretrain", "-c", str(cfg), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "layerwise: error:" in err and "there is nothing to pretrain" in err
    assert "Run `layerwise finetune -c CONFIG` directly" in err
    assert not (tmp_path / "nopre").exists()  # refused before any run folder is written


def test_sample_from_a_denoising_run_and_refusal(run, tmp_path, capsys):
    folder, _ = run
    assert main(["sample", str(folder / "pretrained"), "-n", "12", "-o", str(tmp_path / "s"), "--random-state", "1"]) == 0
    X = np.load(tmp_path / "s.npy")
    assert X.shape == (12, 64)
    assert_png_shows_a_picture(tmp_path / "s.png", min_size=(100, 50))  # 12 digits in a grid
    assert main(["sample", str(folder / "model"), "-o", str(tmp_path / "t")]) == 2
    assert "cannot sample. Sampling needs a VariationalAutoencoder" in capsys.readouterr().err


def _cli(*args):
    import subprocess
    import sys

    return subprocess.Popen([sys.executable, "-m", "layerwise", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_layerwise_resume_after_sigkill_gives_the_same_model(tmp_path):
    """A `layerwise pretrain` process killed with SIGKILL, then `layerwise resume`: the same bytes."""
    import os
    import signal
    import time

    cfg = tmp_path / "run.toml"
    cfg.write_text('name = "ref"\n[data]\ndataset = "digits"\n[model]\nhidden_layer_sizes = [64, 32]\n'
                   '[pretrain]\nmax_iter = 40\nbatch_size = 32\n')
    common = ["-c", str(cfg), "--set", f'out_dir="{tmp_path}"', "--no-progress"]
    ref = _cli("pretrain", *common)
    assert ref.wait(timeout=600) == 0, ref.stderr.read().decode()[-2000:]
    proc = _cli("pretrain", *common, "--set", 'name="killed"')
    marker = tmp_path / "killed" / "checkpoints" / "pretrain" / "stage_1" / "checkpoint.json"
    deadline = time.time() + 300
    while not marker.is_file() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)
    # metrics.jsonl while the run goes on: a line for each finished epoch, the checkpointed ones at least
    running = (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (tmp_path / "killed" / "pretrained").exists()
    again = _cli("resume", str(tmp_path / "killed"), "--no-progress")
    assert again.wait(timeout=600) == 0, again.stderr.read().decode()[-2000:]
    a = (tmp_path / "ref" / "pretrained" / "model.safetensors").read_bytes()
    b = (tmp_path / "killed" / "pretrained" / "model.safetensors").read_bytes()
    assert a == b
    assert json.loads((tmp_path / "killed" / "state.json").read_text()) == {"command": "pretrain", "done": True}

    def without_seconds(line):  # the timings differ
        return {k: v for k, v in json.loads(line).items() if k != "seconds"}

    def lines(name):
        return [without_seconds(x) for x in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]

    assert lines("killed") == lines("ref") and len(lines("ref")) == 80  # every epoch once: none lost, none twice
    assert 1 <= len(running) < 80 and [without_seconds(x) for x in running] == lines("ref")[: len(running)]


class _Evil:
    """Unpickling this writes a file: proof that something executed code from a model file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_every_command_refuses_a_malicious_pickle_and_runs_nothing(tmp_path, capsys):
    import pickle

    marker = tmp_path / "pwned"
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "model.pkl").write_bytes(pickle.dumps(_Evil(marker)))
    (evil / "model.safetensors").write_bytes(pickle.dumps(_Evil(marker)))
    (evil / "config.json").write_text('{"format": 1, "class": "PretrainedClassifier"}')
    evil_file = tmp_path / "model.pt"
    evil_file.write_bytes(pickle.dumps(_Evil(marker)))
    cfg = tmp_path / "run.toml"
    cfg.write_text(f'out_dir = "{tmp_path}"\n')
    rows = tmp_path / "rows.npy"
    np.save(rows, np.zeros((2, 64), np.float32))
    for target in (evil, evil_file, evil / "model.pkl"):
        for argv in (["evaluate", str(target), "--input", str(rows)], ["predict", str(target), "--input", str(rows)],
                     ["sample", str(target), "-o", str(tmp_path / "s")], ["inspect", str(target)],
                     ["finetune", "-c", str(cfg), "--pretrained", str(target), "--no-progress"]):
            assert main(argv) == 2, argv
            assert "layerwise: error:" in capsys.readouterr().err
    pickled_cfg = tmp_path / "run.pkl"
    pickled_cfg.write_bytes(pickle.dumps(_Evil(marker)))
    assert main(["pretrain", "-c", str(pickled_cfg)]) == 2
    assert main(["resume", str(evil)]) == 2
    np.save(tmp_path / "obj.npy", np.array([_Evil(marker)], dtype=object), allow_pickle=True)
    assert main(["predict", str(evil), "--input", str(tmp_path / "obj.npy")]) == 2
    assert not marker.exists()
