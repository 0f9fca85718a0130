"""What the pictures of a run (:mod:`layerwise.app.pictures`) show: the model's losses, codes, reconstructions, filters,
interpolations and samples, and a classifier's confusion matrix and curves, read back from the figures drawn."""

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.utils import Bunch

from layerwise.app.pictures import corrupted, finetune_plots, pretrain_plots
from layerwise.metrics import classification_report
from layerwise.sklearn import StackedAutoencoder


def _images(fig):
    return [np.asarray(ax.images[0].get_array()) for ax in fig.axes if ax.get_visible() and ax.images]


def _texts(fig):
    return [t.get_text() for t in fig.texts]


@pytest.fixture(scope="module")
def pretrained(digits_small):
    X, y = digits_small
    sae = StackedAutoencoder((16, 8), pretrain="denoising", max_iter=2, batch_size=50, random_state=0, device="cpu").fit(X[:250])
    return sae, Bunch(X_train=X[:250], y_train=y[:250], X_test=X[250:], y_test=y[250:], image_shape=(8, 8))


def test_pretrain_plots_show_the_models_losses_codes_and_pictures(tmp_path, figures, pretrained):
    sae, data = pretrained
    written = pretrain_plots(tmp_path, sae, data, "denoising", seed=3)
    assert [p.name for p in written] == ["loss_curves.png", "latent_2d.png", "reconstructions.png", "filters.png",
                                         "interpolation.png", "samples.png"]
    assert all(p.is_file() for p in written) and len(figures) == len(written)
    curves, latent, recon, filters, interpolation, samples = figures

    # one panel per layer, its training loss
    panels = [ax for ax in curves.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["layer 1", "layer 2"]
    for ax, history in zip(panels, sae.history_["pretrain"]):
        assert np.allclose(ax.lines[0].get_ydata(), [h["loss"] for h in history])
    assert _texts(curves) == ["Greedy pretraining (denoising)"]

    # the top-layer codes of the held-out rows (8 wide: their first two principal components), a colour per digit
    (ax,) = latent.axes
    points = PCA(2).fit_transform(sae.transform(data.X_test).astype(np.float64))
    classes = np.unique(data.y_test)
    assert [t.get_text() for t in latent.legends[0].get_texts()] == [str(c) for c in classes]
    for collection, c in zip(ax.collections, classes):
        assert np.allclose(collection.get_offsets(), points[data.y_test == c], atol=1e-5)
    assert ax.get_title() == "Top-layer codes of held-out rows"

    # 10 held-out rows, the noise the stack was trained with on them, and the reconstructions of the noisy rows
    shown = sae._scale(data.X_test[:10])
    noisy = corrupted("denoising", sae.pretrain_params, shown, 3)
    rows = [shown, noisy, sae._scale(sae.reconstruct(sae._unscale(noisy)))]
    assert not np.allclose(noisy, shown)
    assert [ax.get_ylabel() for ax in recon.axes[::10]] == ["input", "corrupted", "reconstruction"]
    assert np.allclose(_images(recon), np.concatenate(rows).reshape(30, 8, 8), atol=1e-6)

    # each first-layer unit's weights, scaled to [0, 1]
    first = next(m for m in sae.stack_.layers[0].modules() if isinstance(m, torch.nn.Linear))
    W = first.weight.detach().numpy()  # (16 units, 64 pixels)
    drawn = np.array(_images(filters))
    assert drawn.shape == (16, 8, 8)
    assert np.allclose(drawn.reshape(16, 64), (W - W.min(1, keepdims=True)) / np.ptp(W, axis=1, keepdims=True), atol=1e-5)
    assert _texts(filters) == ["First-layer filters (50 units)"]

    # five strips of 10 decodings between two held-out rows' codes: each strip starts and ends at a row's decoding
    strips = np.array(_images(interpolation)).reshape(5, 10, 64)
    Z = sae.transform(data.X_test[:10])
    assert np.allclose(strips[:, 0], sae._scale(sae.inverse_transform(Z[0:10:2])), atol=1e-5)
    assert np.allclose(strips[:, -1], sae._scale(sae.inverse_transform(Z[1:10:2])), atol=1e-5)

    # 50 samples of the DAE's Markov chain, as pictures in [0, 1]
    drawn = np.array(_images(samples))
    assert drawn.shape == (50, 8, 8) and drawn.min() >= 0 and drawn.max() <= 1
    assert _texts(samples) == ["Samples (denoising)"]


def test_pretrain_plots_of_rows_that_are_not_images(tmp_path, figures, pretrained):
    """Without an image shape there are only the curves and the codes; unlabeled rows get one colour."""
    sae, data = pretrained
    data = Bunch(**{**data, "image_shape": None, "X_test": None, "y_test": None})
    written = pretrain_plots(tmp_path, sae, data, "denoising")
    assert [p.name for p in written] == ["loss_curves.png", "latent_2d.png"]
    (ax,) = figures[1].axes
    assert len(ax.collections) == 10 and sum(len(c.get_offsets()) for c in ax.collections) == len(data.X_train)


def test_finetune_plots_show_the_report_and_the_history(tmp_path, figures):
    y_true, y_pred = np.array([0, 0, 1, 1, 2, 2, 2]), np.array([0, 1, 1, 1, 2, 2, 0])
    report = classification_report(y_true, y_pred)
    history = [{"epoch": e + 1, "loss": 1.0 / (e + 1), "val_loss": 1.1 / (e + 1), "accuracy": 0.7 + 0.1 * e} for e in range(3)]
    written = finetune_plots(tmp_path, history, report, class_names=["a", "b", "c"], title="mlp", prefix="evaluation_")
    assert [p.name for p in written] == ["evaluation_confusion_matrix.png", "evaluation_curves.png"]
    matrix, curves = figures
    ax = matrix.axes[0]
    counts = np.array(report["confusion_matrix"])
    assert [t.get_text() for t in ax.texts] == [str(v) for v in counts.ravel()]
    assert np.allclose(ax.images[0].get_array(), counts / counts.sum(axis=1, keepdims=True))
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    assert ax.get_title().startswith("mlp: confusion matrix\n(accuracy 0.7143, n=7)")
    loss_ax, acc_ax = curves.axes
    assert [line.get_label() for line in loss_ax.lines] == ["fine-tuning (train)", "fine-tuning (validation)"]
    assert np.allclose(loss_ax.lines[1].get_ydata(), [h["val_loss"] for h in history])
    assert np.allclose(acc_ax.lines[0].get_ydata(), [0.7, 0.8, 0.9])
    assert _texts(curves) == ["mlp: fine-tuning curves"]


def test_finetune_plots_draw_what_there_is(tmp_path, figures):
    """A regression's report has no matrix; no history, no curves."""
    history = [{"epoch": 1, "loss": 0.5}]
    assert [p.name for p in finetune_plots(tmp_path, history, {"r2": 0.9})] == ["curves.png"]
    assert [p.name for p in finetune_plots(tmp_path, None, classification_report([0, 1], [0, 1]))] == ["confusion_matrix.png"]
    assert [t.get_text() for t in figures[1].axes[0].get_xticklabels()] == ["0", "1"]  # the report's labels
    assert finetune_plots(tmp_path, [], None) == [] and len(figures) == 2
