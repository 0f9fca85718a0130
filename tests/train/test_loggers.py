"""Loggers: a line per finished epoch while the run goes on, no duplicate after a resume, rank 0 only."""

import csv
import io
import json
import sys

import pytest
import torch

from layerwise.exceptions import ConfigError
from layerwise.objectives import Reconstruction
from layerwise.pipeline.greedy import GreedyLayerwise
from layerwise.train import Callback, Trainer
from layerwise.train import loggers as loggers_mod
from layerwise.train.loggers import CSVLogger, EpochLogger, JSONLinesLogger, TensorBoardLogger

from ..conftest import boring_autoencoder


class CrashAtEpochEnd(Callback):
    """Raise in ``on_epoch_end`` of a given epoch: after the loggers before it wrote, before the checkpoint."""

    def __init__(self, epoch, desc=None):
        self.epoch, self.desc = epoch, desc

    def on_epoch_end(self, trainer, model, logs):
        if logs["epoch"] == self.epoch and (self.desc is None or trainer.desc == self.desc):
            raise KeyboardInterrupt


def _fit(X, callbacks, ckpt=None, resume=False, epochs=4, val=True):
    torch.manual_seed(0)
    trainer = Trainer(max_iter=epochs, batch_size=50, random_state=1, checkpoint_dir=ckpt, callbacks=callbacks, desc="ae")
    return trainer.fit(boring_autoencoder(), Reconstruction("bce"), (X[:250],), val=(X[250:],) if val else None,
                       resume=resume)


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _without_seconds(records):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


@pytest.fixture
def X(digits_small):
    return torch.from_numpy(digits_small[0])


def test_jsonl_has_a_line_per_finished_epoch_while_the_fit_runs(tmp_path, X):
    path = tmp_path / "run" / "metrics.jsonl"
    seen = []

    class Watch(Callback):  # after the logger: sees what a `tail -f` would see
        def on_epoch_end(self, trainer, model, logs):
            seen.append(len(path.read_text().splitlines()))

    hist = _fit(X, [JSONLinesLogger(path), Watch()])
    assert seen == [1, 2, 3, 4]
    lines = _lines(path)
    assert [r["epoch"] for r in lines] == [1, 2, 3, 4]
    assert all(r["phase"] == "ae" and r["lr"] == 1e-3 for r in lines)
    assert [r["loss"] for r in lines] == [h["loss"] for h in hist] and [r["val_loss"] for r in lines] == [h["val_loss"] for h in hist]


def test_jsonl_after_a_crash_and_resume_has_each_epoch_once(tmp_path, X):
    ref = tmp_path / "ref.jsonl"
    _fit(X, [JSONLinesLogger(ref)], ckpt=tmp_path / "ref_ckpt")
    path = tmp_path / "metrics.jsonl"
    with pytest.raises(KeyboardInterrupt):  # epoch 3 is in the file, its checkpoint is not
        _fit(X, [JSONLinesLogger(path), CrashAtEpochEnd(3)], ckpt=tmp_path / "ckpt")
    assert [r["epoch"] for r in _lines(path)] == [1, 2, 3]
    _fit(X, [JSONLinesLogger(path)], ckpt=tmp_path / "ckpt", resume=True)
    assert [r["epoch"] for r in _lines(path)] == [1, 2, 3, 4]
    assert _without_seconds(_lines(path)) == _without_seconds(_lines(ref))  # bitwise the same losses


def test_a_new_logger_starts_the_file_anew_unless_it_appends(tmp_path, X):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"phase": "older command", "epoch": 1}\n')
    _fit(X, [JSONLinesLogger(path, phase="finetune", append=True)], epochs=2)
    assert [r["phase"] for r in _lines(path)] == ["older command", "finetune", "finetune"]
    _fit(X, [JSONLinesLogger(path)], epochs=2)
    assert [r["phase"] for r in _lines(path)] == ["ae", "ae"]


def test_greedy_stages_share_one_file_and_a_resume_mid_stage_duplicates_nothing(tmp_path, X):
    def greedy(ckpt, callbacks):
        trainer = Trainer(max_iter=3, batch_size=50, random_state=0, callbacks=callbacks)
        return GreedyLayerwise((16, 8), checkpoint_dir=ckpt, trainer=trainer)

    ref = tmp_path / "ref.jsonl"
    greedy(tmp_path / "ref_ckpt", [JSONLinesLogger(ref)]).fit(X)
    path = tmp_path / "metrics.jsonl"
    with pytest.raises(KeyboardInterrupt):
        greedy(tmp_path / "ckpt", [JSONLinesLogger(path), CrashAtEpochEnd(2, "pretrain layer 2/2")]).fit(X)
    assert [(r["phase"], r["epoch"]) for r in _lines(path)][-2:] == [("pretrain layer 2/2", 1), ("pretrain layer 2/2", 2)]
    greedy(tmp_path / "ckpt", [JSONLinesLogger(path)]).fit(X, resume=True)
    got = [(r["phase"], r["epoch"]) for r in _lines(path)]
    assert got == [(f"pretrain layer {k}/2", e) for k in (1, 2) for e in (1, 2, 3)]
    assert _without_seconds(_lines(path)) == _without_seconds(_lines(ref))


def test_csv_header_grows_when_a_key_appears_later(tmp_path, X):
    path = tmp_path / "metrics.csv"
    logger = CSVLogger(path)
    _fit(X, [logger], epochs=2, val=False)
    with open(path) as f:
        assert csv.DictReader(f).fieldnames == ["phase", "epoch", "loss", "recon", "seconds", "lr"]
    _fit(X, [logger], epochs=1, val=True)  # a second fit with validation: a new column
    with open(path) as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert reader.fieldnames == ["phase", "epoch", "loss", "recon", "seconds", "lr", "val_loss"]
    assert [r["epoch"] for r in rows] == ["1", "2", "1"]
    assert rows[0]["val_loss"] == "" and float(rows[2]["val_loss"]) > 0


def test_csv_after_a_crash_and_resume_has_each_epoch_once(tmp_path, X):
    path = tmp_path / "metrics.csv"
    with pytest.raises(KeyboardInterrupt):
        _fit(X, [CSVLogger(path), CrashAtEpochEnd(2)], ckpt=tmp_path / "ckpt")
    _fit(X, [CSVLogger(path)], ckpt=tmp_path / "ckpt", resume=True)
    with open(path) as f:
        assert [r["epoch"] for r in csv.DictReader(f)] == ["1", "2", "3", "4"]


def test_only_rank_0_writes(tmp_path, X, monkeypatch):
    monkeypatch.setattr(loggers_mod.dist_, "is_main", lambda: False)
    err = io.StringIO()
    _fit(X, [JSONLinesLogger(tmp_path / "m.jsonl"), CSVLogger(tmp_path / "m.csv"), EpochLogger(stream=err)], epochs=2)
    assert not (tmp_path / "m.jsonl").exists() and not (tmp_path / "m.csv").exists() and err.getvalue() == ""


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_epoch_logger_writes_when_the_output_is_not_a_terminal(X):
    out = io.StringIO()
    _fit(X, [EpochLogger(stream=out)], epochs=2)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and lines[0].startswith("[ae] 2 epochs x ") and lines[2].startswith("[ae] epoch 2/2  loss ")
    assert "val_loss " in lines[2] and "lr 0.001" in lines[2] and lines[2].endswith(" s)")
    assert " eta " in lines[1]  # the time left, after the first epoch
    tty = _Terminal()
    _fit(X, [EpochLogger(stream=tty)], epochs=1)
    assert tty.getvalue() == ""  # the progress bar's place
    _fit(X, [EpochLogger(when="always", stream=tty)], epochs=1)
    assert tty.getvalue().splitlines()[1].startswith("[ae] epoch 1/1")


def test_epoch_logger_refuses_an_unknown_when():
    with pytest.raises(ConfigError, match=r"when must be one of \['auto', 'always'\]; got 'never'"):
        EpochLogger(when="never")


def test_tensorboard_missing_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(ConfigError, match=r"needs the tensorboard package.*pip install 'layerwise\[tensorboard\]'"):
        TensorBoardLogger("tb")


def _scalars(log_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_tensorboard_writes_an_event_file_per_epoch_scalars(tmp_path, X):
    pytest.importorskip("tensorboard")
    hist = _fit(X, [TensorBoardLogger(tmp_path / "tb")], epochs=3)
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    scalars = _scalars(tmp_path / "tb")
    assert {"ae/loss", "ae/val_loss", "ae/lr", "ae/seconds"} <= set(scalars)
    assert [s for s, _ in scalars["ae/loss"]] == [1, 2, 3]
    assert [v for _, v in scalars["ae/loss"]] == pytest.approx([h["loss"] for h in hist], rel=1e-6)


def test_tensorboard_after_a_crash_and_resume_shows_each_epoch_once(tmp_path, X):
    pytest.importorskip("tensorboard")
    with pytest.raises(KeyboardInterrupt):
        _fit(X, [TensorBoardLogger(tmp_path / "tb"), CrashAtEpochEnd(3)], ckpt=tmp_path / "ckpt")
    hist = _fit(X, [TensorBoardLogger(tmp_path / "tb")], ckpt=tmp_path / "ckpt", resume=True)
    loss = _scalars(tmp_path / "tb")["ae/loss"]
    assert [s for s, _ in loss] == [1, 2, 3, 4]
    assert [v for _, v in loss] == pytest.approx([h["loss"] for h in hist], rel=1e-6)


def test_verbose_off_a_terminal_prints_the_steps_then_a_line_per_epoch_with_the_time_left(capsys):
    """Issues #20 (how long a fit will take) and #24 (verbose=True prints where stderr is not a terminal)."""
    import torch

    from layerwise.nn.autoencoder import dense_autoencoder
    from layerwise.objectives import Reconstruction
    from layerwise.train import Trainer

    model = dense_autoencoder(6, 3, "relu", "identity")
    Trainer(max_iter=3, batch_size=10, verbose=True, random_state=0, desc="toy").fit(model, Reconstruction(), (torch.rand(40, 6),))
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0] == "[toy] 3 epochs x 4 steps = 12 steps"
    assert [line.split("  ")[0] for line in lines[1:]] == ["[toy] epoch 1/3", "[toy] epoch 2/3", "[toy] epoch 3/3"]
    assert all(" eta " in line for line in lines[1:3]) and " eta " not in lines[3]


def test_a_trainer_that_is_not_verbose_prints_nothing(capsys):
    import torch

    from layerwise.nn.autoencoder import dense_autoencoder
    from layerwise.objectives import Reconstruction
    from layerwise.train import Trainer

    Trainer(max_iter=2, batch_size=10).fit(dense_autoencoder(6, 3, "relu", "identity"), Reconstruction(), (torch.rand(40, 6),))
    assert capsys.readouterr().err == ""


def test_callbacks_and_the_history_see_each_epochs_learning_rate(X):
    """The rate an epoch trained with (after a schedule set it) is ``lr`` in the logs of every callback."""
    from layerwise.train.schedules import AnnealLR

    seen = []

    class Watch(Callback):
        def on_epoch_end(self, trainer, model, logs):
            seen.append(logs["lr"])

    out = io.StringIO()
    hist = Trainer(max_iter=4, batch_size=50, learning_rate_init=0.01, random_state=0, desc="ae",
                   callbacks=[AnnealLR(fraction=0.5), Watch(), EpochLogger(stream=out)]).fit(
        boring_autoencoder(), Reconstruction("bce"), (X[:100],))
    assert seen == pytest.approx([0.01, 0.01, 0.01, 0.005]) and [h["lr"] for h in hist] == seen
    lines = out.getvalue().splitlines()[1:]
    assert [line.count(" lr ") for line in lines] == [1] * 4 and " lr 0.005  (" in lines[-1]  # once, after the losses
