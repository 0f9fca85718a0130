"""Nothing is lost: model folders, run records and input files survive mistakes, failures and Ctrl-C."""

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import layerwise
from layerwise import PretrainedClassifier
from layerwise.app.cli import main
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
    # valid TOML and keys, but data and parameters that are refused: nothing of the finished run changes, even
    # with --overwrite (which replaces the run only once the new one has passed every check and starts training)
    for bad in (["--set", "data.dataset='missing.csv'"], ["--set", "pretrain.batch_size=100000"],
                ["--set", "pretrain.loss='bce'", "--set", "data.dataset='shifted.npy'", "--set", "data.scale='none'"]):
        np.save(run_dir / "shifted.npy", np.random.RandomState(0).rand(40, 4) * 10)
        assert main(["pretrain", *_config(run_dir), *bad, "--overwrite"]) == 2
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
    assert ("its config.json was changed after `layerwise pretrain` started, in settings that change the result:\n"
            "- pretrain.learning_rate_init: 0.001 -> 0.01\n") in err
    # a run folder whose state.json does not record its config (before 0.3): the checkpoint's fingerprint refuses it
    state = (run / "state.json").read_text()
    (run / "state.json").write_text(json.dumps({k: v for k, v in json.loads(state).items() if k != "config"}))
    assert main(["resume", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "trainer.learning_rate_init: 0.001 in the checkpoint, 0.01 now" in err
    assert "On the command line, `layerwise pretrain -c CONFIG --overwrite` starts the run over" in err
    (run / "state.json").write_text(state)
    (run / "config.json").write_text(config)
    assert main(["resume", str(run), "--no-progress"]) == 0
    assert json.loads((run / "state.json").read_text()) == {"command": "pretrain", "done": True}


def test_ctrl_c_before_a_run_folder_exists_says_only_interrupted(run_dir, capsys, monkeypatch):
    import layerwise.app.commands as commands

    monkeypatch.setattr(commands, "_data", lambda cfg: (_ for _ in ()).throw(KeyboardInterrupt))
    assert main(["pretrain", *_config(run_dir)]) == 130
    assert capsys.readouterr().err.strip() == "layerwise: interrupted"
    assert not (run_dir / "digits-quick").exists()


@pytest.mark.parametrize("content, message", [
    ("{not json", r"state\.json is not valid JSON \(.*\): the run folder was damaged or edited, so it cannot be resumed\. Start "
                  r"the run again with `layerwise pretrain -c CONFIG --overwrite`"),
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
    import layerwise.app.model_commands as commands

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


# -- a command writes only into a folder it creates, one process at a time (issue "Trust, part two", item 4) --------
def _raises(argv):
    """Run a command as `layerwise ARGV` does, but let its error reach pytest.raises (main prints it instead)."""
    from layerwise.app.cli import build_parser

    args = build_parser().parse_args(argv)
    return args.func(args)


def _tiny(tmp_path, *more):
    return ["-c", str(tmp_path / "q.toml"), "--set", f'out_dir="{tmp_path}"', "--set", "pretrain.max_iter=1",
            "--set", "finetune.max_iter=1", "--set", "model.hidden_layer_sizes=[8]", "--no-progress", *more]


def test_a_run_folder_is_replaced_only_with_overwrite(run_dir, capsys):
    from layerwise.exceptions import ConfigError

    run = run_dir / "digits-quick"
    assert main(["pretrain", *_tiny(run_dir)]) == 0
    records = {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != ".lock"}
    with pytest.raises(ConfigError, match=r"digits-quick already holds a finished `layerwise pretrain` run \(its pretrained/ and "
                                          r"records\); `layerwise pretrain` would replace them\. Choose another run name "
                                          r"\(--set name=NEW\) or out_dir, or pass --overwrite to replace that run\."):
        _raises(["pretrain", *_tiny(run_dir)])
    assert main(["finetune", *_tiny(run_dir)]) == 0  # the run's next step: fine-tuning its pretrained model
    with pytest.raises(ConfigError, match=r"already holds a finished `layerwise finetune` run \(its pretrained/ and model/ and "
                                          r"records\); `layerwise finetune` would replace them\."):
        _raises(["finetune", *_tiny(run_dir)])
    assert {p.name: p.read_bytes() for p in (run / "pretrained").iterdir()} == {
        name: data for name, data in records.items() if (run / "pretrained" / name).is_file()}
    assert main(["pretrain", *_tiny(run_dir), "--overwrite"]) == 0
    assert json.loads((run / "state.json").read_text()) == {"command": "pretrain", "done": True}


def test_which_folders_a_command_may_write(tmp_path):
    from layerwise.app.runs import run_folder_problem

    assert run_folder_problem(tmp_path / "new", "pretrain") is None
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".lock").write_text("")  # a lock file left by an ended process: the folder holds nothing
    assert run_folder_problem(tmp_path / "empty", "pretrain") is None
    stopped = tmp_path / "stopped"
    stopped.mkdir()
    (stopped / "state.json").write_text('{"command": "finetune", "done": false}')
    assert re.fullmatch(r".*stopped holds an interrupted `layerwise finetune` run; continue it with `layerwise resume .*stopped`, "
                        r"or choose another run name \(--set name=NEW\) or out_dir, or pass --overwrite to start it over\.",
                        run_folder_problem(stopped, "pretrain"))
    assert run_folder_problem(stopped, "pretrain", overwrite=True) is None
    other = tmp_path / "src"
    other.mkdir()
    (other / "main.py").write_text("")
    for overwrite in (False, True):  # --overwrite replaces a run, never a folder layerwise did not write
        assert re.match(r".*src exists and is not a layerwise run folder \(it holds \['main\.py'\]\); a run writes only into a "
                        r"folder it creates, so nothing there is replaced \(not even with --overwrite\)\.",
                        run_folder_problem(other, "pretrain", overwrite=overwrite))


def test_a_refused_command_leaves_no_folder_behind(run_dir, capsys):
    # refused by the estimator's own checks, after the folder was claimed (created and locked): removed again
    assert main(["pretrain", *_tiny(run_dir), "--set", "pretrain.batch_size=100000", "--set", "name='new'"]) == 2
    assert "batch_size=100000 is larger than" in capsys.readouterr().err
    assert not (run_dir / "new").exists()


def test_an_earlier_demo_is_kept(tmp_path, capsys):
    from layerwise.exceptions import ConfigError

    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "results.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"demo already holds a run \(its results\.json and pictures\); choose another folder "
                                          r"with --out DIR, or pass --overwrite to replace it\."):
        _raises(["demo", "--quick", "--out", str(tmp_path / "demo")])
    assert (tmp_path / "demo" / "results.json").read_text() == "{}"


def test_a_second_process_on_the_same_run_folder_is_refused(run_dir, capsys):
    """Another process holds the folder's lock: refused, naming the folder and that process; once it is killed,
    the operating system has dropped its lock and the folder can be used."""
    import signal
    import subprocess
    import sys

    from layerwise.app.runs import LOCK, RunLock
    from layerwise.exceptions import ConfigError

    run = run_dir / "digits-quick"
    run.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (  # what RunLock.acquire does, in a process of its own
        "import fcntl, os, sys, time\n"
        f"f = open({str(run / LOCK)!r}, 'a+')\n"
        "fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "f.write(f'pid {os.getpid()} on host, `layerwise pretrain`'); f.flush()\n"
        "print('locked', flush=True); time.sleep(120)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ConfigError, match=rf".*digits-quick is in use by another layerwise process \(pid {holder.pid} on host, "
                                              rf"`layerwise pretrain`\), which holds its lock .*digits-quick/\.lock\. Two processes "
                                              r"writing one run folder would mix their records"):
            _raises(["pretrain", *_tiny(run_dir)])
        (run / "state.json").write_text('{"command": "pretrain", "done": false}')
        (run / "config.json").write_text("{}")
        with pytest.raises(ConfigError, match=rf"is in use by another layerwise process \(pid {holder.pid} "):
            _raises(["resume", str(run)])
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    lock = RunLock(run).acquire("resume")  # the killed process holds nothing any more
    lock.release()


def test_sample_and_evaluate_never_replace_a_file_of_a_default_name(run_dir, fitted, digits, capsys):
    from layerwise import StackedAutoencoder
    from layerwise.exceptions import ConfigError

    X, y = digits
    sae = layerwise.save(StackedAutoencoder((8,), pretrain="denoising", max_iter=1, random_state=0).fit(X[:100]), run_dir / "sae")
    assert main(["sample", str(sae), "-n", "4"]) == 0
    before = (run_dir / "samples.npy").read_bytes()
    with pytest.raises(ConfigError, match=r"samples\.npy and samples\.png already exist: `layerwise sample` writes samples\.npy and "
                                          r"samples\.png by default, and never replaces a file whose name was not chosen\. Choose "
                                          r"another name with -o NAME, or pass --overwrite to replace them\."):
        _raises(["sample", str(sae), "-n", "8"])
    assert (run_dir / "samples.npy").read_bytes() == before
    assert main(["sample", str(sae), "-n", "8", "-o", "mine"]) == 0 and np.load("mine.npy").shape == (8, 64)
    assert main(["sample", str(sae), "-n", "8", "--overwrite"]) == 0 and np.load("samples.npy").shape == (8, 64)

    model = layerwise.save(fitted, run_dir / "run" / "model")
    np.savez("rows.npz", X=X[:50], y=y[:50])
    assert main(["evaluate", str(model), "--input", "rows.npz"]) == 0
    pictures = {p.name: p.read_bytes() for p in (run_dir / "run").glob("evaluation_*.png")}
    assert len(pictures) == 2
    with pytest.raises(ConfigError, match=r"evaluation_confusion_matrix\.png and .*evaluation_curves\.png already exist: `layerwise "
                                          r"evaluate` writes evaluation_confusion_matrix\.png and evaluation_curves\.png into .*run "
                                          r"by default, .* Choose another folder with -o DIR, or pass --overwrite"):
        _raises(["evaluate", str(model), "--input", "rows.npz"])
    assert {p.name: p.read_bytes() for p in (run_dir / "run").glob("evaluation_*.png")} == pictures
    assert main(["evaluate", str(model), "--input", "rows.npz", "--overwrite"]) == 0
    (run_dir / "file").write_text("")
    with pytest.raises(ConfigError, match=r"-o .*file is a file; evaluate writes its pictures into a folder"):
        _raises(["evaluate", str(model), "--input", "rows.npz", "-o", str(run_dir / "file")])
