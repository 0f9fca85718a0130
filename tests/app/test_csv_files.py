"""Every CSV layerwise writes is read back by other tools: Python's csv module and pandas, class names with a comma
and a quote included, and a header of exactly as many fields as every row (issue "Trust, part two", item 6)."""

import csv
import json

import numpy as np
import pandas as pd
import pytest
import torch

from layerwise.app.cli import main

NAMES = np.array(['zero, "nothing"', "one"])  # a comma and quotes: a naive ",".join breaks the columns


def _fields(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert len({len(r) for r in rows}) == 1, rows[:3]  # the header and every row: the same number of fields
    return rows


def test_the_csv_logger_quotes_phases_and_widens_its_header(tmp_path):
    from layerwise.objectives import Reconstruction
    from layerwise.train import CSVLogger, Trainer

    from ..conftest import boring_autoencoder

    path = tmp_path / "m.csv"
    logger = CSVLogger(path, phase='stage "a", first')
    X = torch.rand(40, 64)
    Trainer(max_iter=2, batch_size=20, random_state=0, callbacks=[logger]).fit(boring_autoencoder(), Reconstruction("bce"), (X,))
    logger.phase = "with, validation"
    Trainer(max_iter=1, batch_size=20, random_state=0, callbacks=[logger]).fit(boring_autoencoder(), Reconstruction("bce"), (X,),
                                                                               val=(X[:10],))
    rows = _fields(path)
    table = pd.read_csv(path)
    assert table["phase"].tolist() == ['stage "a", first'] * 2 + ["with, validation"]
    assert table["epoch"].tolist() == [1, 2, 1] and table["val_loss"].isna().tolist() == [True, True, False]
    assert list(table.columns) == rows[0]


@pytest.fixture(scope="module")
def named_run(tmp_path_factory, digits):
    """pretrain and finetune a tiny run on two digit classes named NAMES, with the CSV metrics logger."""
    X, y = digits
    keep = y < 2
    out = tmp_path_factory.mktemp("named")
    np.savez(out / "named.npz", X=X[keep][:160], y=NAMES[y[keep][:160]])
    (out / "run.toml").write_text(
        f'name = "r"\nout_dir = "{out}"\nrandom_state = 0\n[data]\ndataset = "{out / "named.npz"}"\nlabel_fraction = 1.0\n'
        "[model]\nhidden_layer_sizes = [8]\n[pretrain]\nmax_iter = 2\n[finetune]\nmax_iter = 3\n[logging]\ncsv = true\n")
    args = ["-c", str(out / "run.toml"), "--no-progress"]
    assert main(["pretrain", *args]) == 0 and main(["finetune", *args]) == 0
    np.save(out / "rows.npy", X[keep][160:170])
    return out


def test_a_run_folders_metrics_files_read_back_with_pandas(named_run):
    run = named_run / "r"
    pretrain = pd.read_csv(run / "metrics_pretrain.csv")
    finetune = pd.read_csv(run / "metrics_finetune.csv")
    for name, table in (("metrics_pretrain.csv", pretrain), ("metrics_finetune.csv", finetune)):
        assert list(table.columns) == _fields(run / name)[0] and {"phase", "epoch", "loss", "lr"} <= set(table.columns)
    assert pretrain["epoch"].tolist() == [1, 2] and finetune["epoch"].tolist() == [1, 2, 3]
    lines = pd.read_json(run / "metrics.jsonl", lines=True)
    assert lines["phase"].tolist() == ["pretrain"] * 2 + ["finetune"] * 3
    assert np.allclose(lines["loss"].tail(3), finetune["loss"])
    assert json.loads((run / "metrics.json").read_text())["labels"] == sorted(NAMES.tolist())


def test_predictions_read_back_with_pandas(named_run, capsys):
    model, rows = named_run / "r" / "model", named_run / "rows.npy"
    assert main(["predict", str(model), "--input", str(rows), "-o", str(named_run / "p.csv")]) == 0
    predicted = pd.read_csv(named_run / "p.csv")
    assert list(predicted.columns) == ["prediction"] and len(predicted) == 10 and set(predicted["prediction"]) <= set(NAMES)
    assert main(["predict", str(model), "--input", str(rows), "--proba", "-o", str(named_run / "q.csv")]) == 0
    proba = pd.read_csv(named_run / "q.csv")
    assert list(proba.columns) == sorted(NAMES.tolist()) == _fields(named_run / "q.csv")[0]
    assert np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert (proba.idxmax(axis=1) == predicted["prediction"]).all()
    capsys.readouterr()
    assert main(["predict", str(model), "--input", str(rows), "--proba"]) == 0  # stdout: the same file
    assert capsys.readouterr().out == (named_run / "q.csv").read_text()
