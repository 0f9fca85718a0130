"""The demo's pictures answer its question: accuracies as bars (LabelSpreading the reference), curves on shared axes."""

from dataclasses import replace

import pytest

import layerwise.viz as viz
from layerwise.app.demo import SETTINGS, ladder, logistic_regression, pretrain, random_init, run_demo


def _label_spreading(run):
    """A stand-in for the row the semi-supervised steps add (named as they name it)."""
    run.add("scikit-learn LabelSpreading (kNN), raw pixels", run.data.y_test, 0.0)


def test_the_reference_is_label_spreading_and_the_curves_share_axes(tmp_path, monkeypatch, figures):
    drawn = {}
    real_bars, real_curves = viz.plot_accuracy_bars, viz.plot_training_curves

    def bars(scores, path, **kw):
        drawn["bars"] = scores, kw
        return real_bars(scores, path, **kw)

    def curves(histories, path, **kw):
        drawn["curves"] = histories, kw
        return real_curves(histories, path, **kw)

    monkeypatch.setattr(viz, "plot_accuracy_bars", bars)
    monkeypatch.setattr(viz, "plot_training_curves", curves)
    settings = replace(SETTINGS["digits"], hidden_layer_sizes=(16,), pretrain_max_iter=1, max_iter=3, dbn=False)
    result = run_demo(out_dir=tmp_path, settings=settings, verbose=False, log=lambda m: None,
                      steps=[logistic_regression, pretrain, random_init, _label_spreading])
    assert result["plots"] == ["accuracy.png", "curves.png", "reconstructions.png"]
    scores, kw = drawn["bars"]
    assert kw["reference"] == "scikit-learn LabelSpreading (kNN), raw pixels" and len(scores) == 3
    histories, kw = drawn["curves"]
    assert list(histories) == ["random init, full"] and (kw["val_prefix"], kw["val_label"]) == ("test_", "test")
    assert [sorted(h) for h in histories["random init, full"]] == [
        ["accuracy", "epoch", "loss", "lr", "seconds", "test_accuracy", "test_loss"]] * 3
    assert histories["random init, full"][-1]["test_accuracy"] == pytest.approx(next(
        r["accuracy"] for r in result["rows"] if r["method"] == "random init, full"))  # the table's number (float32)
    # what the pictures show: a bar per row of the table, as long as its accuracy; the histories' curves; digits
    accuracy, curves, reconstructions = figures
    ax = accuracy.axes[0]
    rows = sorted(result["rows"], key=lambda r: r["accuracy"])
    assert [t.get_text() for t in ax.get_yticklabels()] == [r["method"] + (" (reference)" if "LabelSpreading" in r["method"] else "")
                                                            for r in rows]
    assert [p.get_width() for p in ax.patches] == pytest.approx([r["accuracy"] for r in rows])
    loss_ax, acc_ax = curves.axes
    test_line = next(line for line in acc_ax.lines if line.get_label() == "random init, full (test)")
    assert list(test_line.get_ydata()) == pytest.approx([h["test_accuracy"] for h in histories["random init, full"]])
    assert len(reconstructions.axes) == 30  # 10 test rows, corrupted as the denoising stack was trained, reconstructed
    assert [ax.get_ylabel() for ax in reconstructions.axes[::10]] == ["input", "corrupted", "reconstruction"]


def test_curves_cover_the_semi_supervised_rows_too(tmp_path, monkeypatch):
    """The ladder (and M1+M2) trained a classifier too: curves.png draws it beside the fine-tuned rows, its loss the
    cross-entropy of the labeled rows (the semi-supervised fits' "supervised"), as the fine-tuned rows' loss is."""
    drawn = {}
    real_curves = viz.plot_training_curves

    def curves(histories, path, **kw):
        drawn["curves"] = histories, kw
        return real_curves(histories, path, **kw)

    monkeypatch.setattr(viz, "plot_training_curves", curves)
    settings = replace(SETTINGS["digits"], hidden_layer_sizes=(16,), pretrain_max_iter=1, max_iter=2, semi_max_iter=2, dbn=False)
    result = run_demo(out_dir=tmp_path, settings=settings, verbose=False, log=lambda m: None,
                      steps=[pretrain, random_init, ladder])
    assert "curves.png" in result["plots"]
    histories, kw = drawn["curves"]
    assert list(histories) == ["random init, full", "PretrainedClassifier() default: ladder"]
    assert [r["method"] for r in result["rows"]] == list(histories)  # every trained method, no pretraining stage
    semi = histories["PretrainedClassifier() default: ladder"]
    assert len(semi) == 2 and all(h["loss"] == h["supervised"] and "accuracy" in h for h in semi)
    assert "cross-entropy" in kw["title"]
