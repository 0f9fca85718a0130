"""What the drawing functions of :mod:`layerwise.viz` show, read back from the matplotlib figures they save
(the ``figures`` fixture): the axes, the series drawn against the data given, titles, axis labels and legends."""

import numpy as np
import pytest
from matplotlib.container import ErrorbarContainer
from sklearn.decomposition import PCA

from layerwise import viz

PNG = b"\x89PNG\r\n\x1a\n"


def _texts(fig):
    """The figure's own texts: its suptitle (``Figure.get_suptitle`` needs matplotlib 3.8)."""
    return [t.get_text() for t in fig.texts]


def _legend(legend):
    return [t.get_text() for t in legend.get_texts()]


def _image(ax):
    return np.asarray(ax.images[0].get_array())


def test_loss_curves_draw_one_panel_per_history(tmp_path, figures):
    with_val = [{"epoch": e + 1, "loss": 1.0 / (e + 1), "val_loss": 1.2 / (e + 1)} for e in range(5)]
    train_only = [{"epoch": e + 1, "loss": 3.0 - e} for e in range(3)]
    curves = {"layer 1": with_val, "layer 2": train_only, "layer 3": with_val, "layer 4": train_only}
    path = viz.plot_loss_curves(curves, tmp_path / "loss.png", title="Greedy pretraining")
    assert path == tmp_path / "loss.png" and path.read_bytes()[:8] == PNG  # the picture is still written
    fig = figures[0]
    assert len(fig.axes) == 6  # 2 rows of 3 panels, the last two hidden
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == list(curves)
    for ax, hist in zip(panels, curves.values()):
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("epoch", "loss")
        train = ax.lines[0]
        assert list(train.get_xdata()) == [h["epoch"] for h in hist]
        assert np.allclose(train.get_ydata(), [h["loss"] for h in hist])
        if "val_loss" in hist[0]:
            assert len(ax.lines) == 2 and np.allclose(ax.lines[1].get_ydata(), [h["val_loss"] for h in hist])
            assert _legend(ax.get_legend()) == ["train", "validation"]
        else:
            assert len(ax.lines) == 1 and ax.get_legend() is None
    assert _texts(fig) == ["Greedy pretraining"]


def test_training_curves_draw_each_history_on_the_shared_axes(tmp_path, figures):
    ours = [{"epoch": e + 1, "loss": 1.0 / (e + 1), "test_loss": 1.5 / (e + 1), "accuracy": 0.5 + 0.1 * e} for e in range(4)]
    theirs = [{"epoch": e + 1, "loss": 2.0 / (e + 1)} for e in range(3)]
    viz.plot_training_curves({"ours": ours, "theirs": theirs}, tmp_path / "c.png", val_prefix="test_", val_label="test", title="T")
    fig = figures[0]
    loss_ax, acc_ax = fig.axes
    assert [(ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes] == [("loss", "epoch", "loss"), ("accuracy", "epoch", "accuracy")]
    drawn = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata()), line.get_linestyle()) for line in loss_ax.lines}
    assert drawn == {"ours (train)": ([1, 2, 3, 4], [h["loss"] for h in ours], "-"),
                     "ours (test)": ([1, 2, 3, 4], [h["test_loss"] for h in ours], "--"),
                     "theirs (train)": ([1, 2, 3], [h["loss"] for h in theirs], "-")}
    assert [line.get_label() for line in acc_ax.lines] == ["ours (train)"]
    assert np.allclose(acc_ax.lines[0].get_ydata(), [0.5, 0.6, 0.7, 0.8])
    # one colour per method on both panels
    assert loss_ax.lines[0].get_color() == loss_ax.lines[1].get_color() == acc_ax.lines[0].get_color() != loss_ax.lines[2].get_color()
    assert _legend(fig.legends[0]) == ["ours (train)", "ours (test)", "theirs (train)"] and _texts(fig) == ["T"]


def test_accuracy_bars_are_as_long_as_the_mean_scores_with_their_spread(tmp_path, figures):
    viz.plot_accuracy_bars({"a": [0.80, 0.84], "b": 0.9, "c": [0.70, 0.72]}, tmp_path / "bars.png", title="Accuracies")
    ax = figures[0].axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["c", "a", "b"]  # worst at the bottom
    assert [p.get_width() for p in ax.patches] == pytest.approx([0.71, 0.82, 0.9])
    assert [p.get_y() + p.get_height() / 2 for p in ax.patches] == pytest.approx([0, 1, 2])
    (errorbar,) = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]  # ± one std; none for the single score
    segments = errorbar.lines[2][0].get_segments()
    ends = [0.71 - 0.01414, 0.71 + 0.01414, 0.82 - 0.02828, 0.82 + 0.02828, 0.9, 0.9]
    assert [x for s in segments for x in (s[0][0], s[1][0])] == pytest.approx(ends, abs=1e-4)
    assert _texts(figures[0]) == ["Accuracies"]


def test_confusion_matrix_shows_the_counts_and_each_rows_rates(tmp_path, figures):
    m = np.array([[5, 0, 5], [0, 10, 0], [2, 2, 6]])
    viz.plot_confusion_matrix(m, tmp_path / "cm.png", class_names=["ant", "bee", "cat"], title="Run")
    fig = figures[0]
    ax, colour_bar = fig.axes
    assert np.allclose(_image(ax), m / m.sum(axis=1, keepdims=True))
    assert [t.get_text() for t in ax.texts] == [str(v) for v in m.ravel()]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["ant", "bee", "cat"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted class", "true class")
    assert ax.get_title() == "Run\n(accuracy 0.7000, n=30)"
    assert colour_bar.get_ylabel() == "fraction of the true class"


@pytest.mark.parametrize("with_corrupted", [False, True])
def test_reconstructions_show_the_inputs_above_their_reconstructions(tmp_path, figures, digits_small, with_corrupted):
    X = digits_small[0][:6]
    X_hat, noisy = 1.0 - X, X * (np.arange(64) % 2)
    viz.plot_reconstructions(X, X_hat, (8, 8), tmp_path / "rec.png", n=4, X_corrupted=noisy if with_corrupted else None)
    fig = figures[0]
    rows = [("input", X)] + ([("corrupted", noisy)] if with_corrupted else []) + [("reconstruction", X_hat)]
    assert len(fig.axes) == 4 * len(rows)  # n=4 columns of the 6 rows given
    for r, (label, data) in enumerate(rows):
        axes = fig.axes[4 * r:4 * r + 4]
        assert axes[0].get_ylabel() == label
        for ax, row in zip(axes, data):
            assert np.array_equal(_image(ax), row.reshape(8, 8))
            assert ax.images[0].get_clim() == (0, 1) and not ax.get_xticks().size
    assert _texts(fig) == ["Inputs (top), corrupted inputs (middle) and reconstructions of the corrupted inputs (bottom)"
                           if with_corrupted else "Inputs (top) and reconstructions (bottom)"]


def test_image_grid_shows_every_image_row_by_row(tmp_path, figures, digits_small):
    X = digits_small[0][:25]
    viz.plot_image_grid(X, (8, 8), tmp_path / "grid.png", n_cols=10, title="samples")
    fig = figures[0]
    assert len(fig.axes) == 30  # 3 rows of 10
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(shown) == 25 and all(not ax.get_visible() for ax in fig.axes[25:])
    assert all(np.array_equal(_image(ax), x.reshape(8, 8)) for ax, x in zip(shown, X))
    assert _texts(fig) == ["samples"]
    viz.plot_image_grid(X[:3], (8, 8), tmp_path / "untitled.png", n_cols=3)
    assert len(figures[1].axes) == 3 and _texts(figures[1]) == []


def test_rgb_images_are_drawn_channels_last_and_clipped(tmp_path, figures):
    images = np.random.default_rng(0).normal(0.5, 0.5, (4, 3, 6, 6))
    viz.plot_image_grid(images, (3, 6, 6), tmp_path / "rgb.png", n_cols=2)
    for ax, image in zip(figures[0].axes, images):
        assert np.array_equal(_image(ax), np.clip(image.transpose(1, 2, 0), 0, 1))


def test_latent_codes_are_the_points_of_one_scatter_per_class(tmp_path, figures, digits_small):
    codes = np.random.default_rng(0).normal(size=(60, 2))
    labels = np.repeat([2, 0, 1], 20)
    viz.plot_latent_2d(codes, labels, tmp_path / "latent.png", title="Codes", class_names={0: "zero", 1: "one", 2: "two"})
    fig = figures[0]
    (ax,) = fig.axes
    assert [np.asarray(c.get_offsets()).tolist() for c in ax.collections] == [codes[labels == c].tolist() for c in (0, 1, 2)]
    assert len({tuple(c.get_facecolor()[0]) for c in ax.collections}) == 3
    assert _legend(fig.legends[0]) == ["zero", "one", "two"] and fig.legends[0].get_title().get_text() == "class"
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("z1", "z2", "Codes")


def test_wide_codes_are_drawn_as_their_first_two_principal_components(tmp_path, figures, digits_small):
    X, y = digits_small
    viz.plot_latent_2d(X[:, :5], None, tmp_path / "pca.png")
    (ax,) = figures[0].axes
    (points,) = ax.collections  # no labels: one scatter, no legend
    assert np.allclose(points.get_offsets(), PCA(2).fit_transform(X[:, :5].astype(np.float64)))
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("PC 1 of the codes", "PC 2 of the codes")
    assert not figures[0].legends and ax.get_legend() is None


def test_one_dimensional_codes_lie_on_a_line_and_a_target_gets_a_colour_bar(tmp_path, figures):
    z, target = np.linspace(-1, 1, 7)[:, None], np.linspace(0.1, 3.3, 7)
    viz.plot_latent_2d(z, target, tmp_path / "line.png")
    ax, colour_bar = figures[0].axes
    (points,) = ax.collections
    assert np.allclose(points.get_offsets(), np.c_[z, np.zeros(7)])
    assert np.allclose(points.get_array(), target) and colour_bar.get_ylabel() == "target"


def _semi_history(n=4):
    return [{"epoch": e + 1, "denoising_0": 2.0 / (e + 1), "denoising_1": 1.0 / (e + 1), "denoising_2": 0.5 / (e + 1),
             "supervised": 1.5 / (e + 1), "val_loss": 1.8 / (e + 1), "accuracy": 0.6 + 0.05 * e, "val_accuracy": 0.55 + 0.05 * e}
            for e in range(n)]


def test_semi_supervised_curves_show_each_layers_cost_and_the_supervised_ones(tmp_path, figures):
    history = _semi_history()
    viz.plot_semi_supervised_curves(history, tmp_path / "semi.png", title="Ladder")
    fig = figures[0]
    left, right, twin = fig.axes
    epochs = [1, 2, 3, 4]
    assert [line.get_label() for line in left.lines] == ["layer 0 (input)", "layer 1", "layer 2 (top)"]
    for line, key in zip(left.lines, ("denoising_0", "denoising_1", "denoising_2")):
        assert list(line.get_xdata()) == epochs and np.allclose(line.get_ydata(), [h[key] for h in history])
    assert left.get_yscale() == "log" and left.get_ylabel() == "denoising cost C_l (unweighted)"
    assert _legend(left.get_legend()) == ["layer 0 (input)", "layer 1", "layer 2 (top)"]
    assert [(line.get_label(), line.get_linestyle()) for line in right.lines] == [
        ("cross-entropy (labeled rows)", "-"), ("cross-entropy (validation)", "--")]
    assert np.allclose(right.lines[0].get_ydata(), [h["supervised"] for h in history])
    assert np.allclose(twin.lines[1].get_ydata(), [h["val_accuracy"] for h in history])
    assert twin.get_ylabel() == "accuracy" and twin.get_ylim() == (0, 1.02)
    assert _legend(right.get_legend()) == ["cross-entropy (labeled rows)", "cross-entropy (validation)",
                                           "accuracy (labeled rows, noisy pass)", "accuracy (validation)"]
    assert [ax.get_title() for ax in (left, right)] == ["unsupervised cost, per layer", "supervised cost and accuracy"]
    assert _texts(fig) == ["Ladder"]


def test_semi_supervised_curves_of_bounds_and_without_validation(tmp_path, figures):
    """M1+M2 logs its two negative bounds, not denoising costs; a fit without validation rows has no dashed lines."""
    history = [{"epoch": e + 1, "labeled_bound": 90.0 - e, "unlabeled_bound": 80.0 - e, "supervised": 1.0, "accuracy": 0.5}
               for e in range(3)]
    viz.plot_semi_supervised_curves(history, tmp_path / "m2.png")
    left, right, twin = figures[0].axes
    assert [line.get_label() for line in left.lines] == ["labeled_bound", "unlabeled_bound"]
    assert left.get_yscale() == "linear" and left.get_ylabel() == "negative bound (nats per row)"
    assert [line.get_label() for line in right.lines + twin.lines] == ["cross-entropy (labeled rows)", "accuracy (labeled rows, noisy pass)"]
