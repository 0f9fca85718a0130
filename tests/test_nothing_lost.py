"""Nothing is lost: model folders, run records and input files survive mistakes, failures and Ctrl-C."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import layerwise
from layerwise import PretrainedClassifier
from layerwise.cli import main
from layerwise.exceptions import CheckpointError
from layerwise.train import Trainer

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(pretrain_max_iter=1, max_iter=2, random_state=0)


@pytest.fixture(scope="module")
def fitted(digits):
    X, y = digits
    return PretrainedClassifier((8,), **TINY).fit(X[:200], y[:200])


def test_save_refuses_a_folder_another_tool_wrote(tmp_path, fitted):
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "config.json").write_text('{"architectures": ["BertModel"], "hidden_size": 768}')
    (folder / "model.safetensors").write_bytes(b"not ours")
    with pytest.raises(CheckpointError, match=r"'.*hf' exists and is not a layerwise model folder \(it holds \['config\.json', "
                                              r"'model\.safetensors'\], and its config\.json was not written by layerwise\)"):
        layerwise.save(fitted, folder)
    assert (folder / "model.safetensors").read_bytes() == b"not ours"


def test_an_overwrite_that_fails_keeps_the_old_model_at_its_path(tmp_path, fitted, digits, monkeypatch):
    path = layerwise.save(fitted, tmp_path / "m")
    before = {p.name: p.read_bytes() for p in path.iterdir()}
    X, y = digits
    other = PretrainedClassifier((8,), **{**TINY, "random_state": 1}).fit(X[:200], y[:200])
    real = os.replace

    def fails_at_the_last_move(src, dst):
        if Path(src).name.startswith(".m.tmp-"):
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", fails_at_the_last_move)
    with pytest.raises(CheckpointError, match=r"Could not write the model folder .*m: \[Errno 28\] No space left on device\. .*a model "
                                              r"that was at this path is still there, unchanged\."):
        layerwise.save(other, path)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no hidden folder left behind
    assert np.array_equal(layerwise.load(path).predict(X[:20]), fitted.predict(X[:20]))


def test_a_save_killed_between_its_two_moves_says_where_the_old_model_is(tmp_path, fitted):
    path = layerwise.save(fitted, tmp_path / "m")
    aside = tmp_path / ".m.old-1234abcd"
    os.replace(path, aside)  # what a SIGKILL between the two renames leaves
    with pytest.raises(CheckpointError, match=r"No model folder at '.*m', but the previous model is at '.*\.m\.old-1234abcd': "
                                              r"a save into '.*m' was interrupted\. Rename that folder back"):
        layerwise.load(path)


@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(ROOT / "examples" / "digits_quick.toml", tmp_path / "q.toml")
    return tmp_path


def _config(tmp_path):
    return ["-c", str(tmp_path / "q.toml"), "--set", f'out_dir="{tmp_path}"', "--set", "pretrain.max_iter=2", "--no-progress"]


def test_a_bad_config_under_a_finished_run_name_leaves_its_records(run_dir, capsys):
    assert main(["pretrain", *_config(run_dir)]) == 0
    run = run_dir / "digits-quick"
    records = {name: (run / name).read_text() for name in ("config.json", "state.json")}
    # valid TOML and keys, but data and parameters that are refused: nothing of the finished run changes
    for bad in (["--set", "data.dataset='missing.csv'"], ["--set", "pretrain.batch_size=100000"],
                ["--set", "pretrain.loss='bce'", "--set", "data.dataset='shifted.npy'", "--set", "data.scale='none'"]):
        np.save(run_dir / "shifted.npy", np.random.RandomState(0).rand(40, 4) * 10)
        assert main(["pretrain", *_config(run_dir), *bad]) == 2
        assert {name: (run / name).read_text() for name in records} == records, bad
    capsys.readouterr()
    assert main(["resume", str(run)]) == 0 and "nothing to resume" in capsys.readouterr().err


def test_predict_refuses_to_write_over_its_input(run_dir, fitted, digits):
    X, _ = digits
    model = layerwise.save(fitted, run_dir / "model")
    np.save(run_dir / "rows.npy", X[:5])
    before = (run_dir / "rows.npy").read_bytes()
    assert main(["predict", str(model), "--input", "rows.npy", "-o", "rows.npy"]) == 2
    assert main(["predict", str(model), "--input", "rows.npy", "-o", str(model / "config.json")]) == 2
    assert (run_dir / "rows.npy").read_bytes() == before and layerwise.load(model) is not None
    assert main(["predict", str(model), "--input", "rows.npy", "-o", "missing/p.csv"]) == 2
    assert main(["sample", str(model), "-o", "missing/s"]) == 2


def test_ctrl_c_prints_one_line_with_the_resume_command(run_dir, capsys, monkeypatch):
    real = Trainer._run_epoch
    calls = []

    def interrupted(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Trainer, "_run_epoch", interrupted)
    assert main(["pretrain", *_config(run_dir)]) == 130
    run = run_dir / "digits-quick"
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"layerwise: interrupted; continue with `layerwise resume {run}`"
    monkeypatch.undo()
    # resuming with other settings (here: an edited run config) is refused, with the command that starts over
    config = (run / "config.json").read_text()
    edited = json.loads(config)
    edited["pretrain"]["learning_rate_init"] = 0.01
    (run / "config.json").write_text(json.dumps(edited))
    assert main(["resume", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "trainer.learning_rate_init: 0.001 in the checkpoint, 0.01 now" in err
    assert "On the command line, `layerwise pretrain -c CONFIG` starts the run over" in err
    (run / "config.json").write_text(config)
    assert main(["resume", str(run), "--no-progress"]) == 0
    assert json.loads((run / "state.json").read_text()) == {"command": "pretrain", "done": True}


def test_ctrl_c_before_a_run_folder_exists_says_only_interrupted(run_dir, capsys, monkeypatch):
    import layerwise.commands as commands

    monkeypatch.setattr(commands, "_data", lambda cfg: (_ for _ in ()).throw(KeyboardInterrupt))
    assert main(["pretrain", *_config(run_dir)]) == 130
    assert capsys.readouterr().err.strip() == "layerwise: interrupted"
    assert not (run_dir / "digits-quick").exists()


@pytest.mark.parametrize("content, message", [
    ("{not json", r"state\.json is not valid JSON \(.*\): the run folder was damaged or edited, so it cannot be resumed\. Start "
                  r"the run again with `layerwise pretrain -c CONFIG`"),
    ('{"command": "train"}', r"state\.json does not hold what `layerwise resume` needs"),
])
def test_a_broken_state_file_is_a_clear_error(run_dir, capsys, content, message):
    run = run_dir / "r"
    run.mkdir()
    (run / "config.json").write_text("{}")
    (run / "state.json").write_text(content)
    assert main(["resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and __import__("re").search(r"layerwise: error: .*" + message, err), err


def test_an_unwritable_output_is_a_clear_error_not_a_traceback(run_dir, fitted, digits, capsys, monkeypatch):
    import layerwise.commands as commands

    X, _ = digits
    model = layerwise.save(fitted, run_dir / "model")
    np.save(run_dir / "rows.npy", X[:5])

    def denied(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(commands, "open", denied, raising=False)  # what a read-only folder gives a normal user
    assert main(["predict", str(model), "--input", "rows.npy", "-o", "p.csv"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "layerwise: error: Permission denied: " in err and "Check the path, its permissions" in err
    assert not list(run_dir.glob(".p.csv*")) and not (run_dir / "p.csv").exists()
