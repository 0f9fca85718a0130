"""The plots that answer the question: what each draws, and that none can end a run."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from layerwise import viz

PNG = b"\x89PNG\r\n\x1a\n"


def _is_png(path, min_bytes=2000):
    return path.read_bytes()[:8] == PNG and path.stat().st_size > min_bytes


def _hist(n, scale):
    return [{"epoch": e + 1, "loss": scale / (e + 1), "val_loss": 1.2 * scale / (e + 1), "accuracy": 1 - 0.5 / (e + 1)}
            for e in range(n)]


def test_accuracy_bars_sorted_best_on_top_with_labels_and_reference(tmp_path, figures):
    scores = {"random init": [0.90, 0.92], "pretrained": [0.95, 0.97], "LabelSpreading": 0.93}
    path = viz.plot_accuracy_bars(scores, tmp_path / "bars.png", reference="LabelSpreading")
    assert _is_png(path)
    ax = figures[0].axes[0]
    # barh draws the first category at the bottom: the best method is last
    assert [t.get_text() for t in ax.get_yticklabels()] == ["random init", "LabelSpreading (reference)", "pretrained"]
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["0.9100 ± 0.0141", "0.9300", "0.9600 ± 0.0141"]
    assert ax.get_xlabel() == "accuracy (mean ± std over 2 seeds; axis starts at 0.88, not 0)"
    colours = {tuple(p.get_facecolor()) for p in ax.patches}
    assert len(colours) == 2  # the reference stands out


def test_accuracy_bars_start_near_the_lowest_bar_and_say_so(tmp_path, figures):
    """0.90 to 0.99 on a 0-1 axis look alike: the axis starts just below the lowest bar, and its label says where."""
    scores = {"kNN": 0.8926, "random init": 0.9056, "LabelSpreading": 0.9685, "ladder": 0.9907}
    viz.plot_accuracy_bars(scores, tmp_path / "bars.png", reference="LabelSpreading")
    ax = figures[-1].axes[0]
    left, right = ax.get_xlim()
    assert left == pytest.approx(0.88) and 0.9907 < right < 1.0
    assert ax.get_xlabel() == "accuracy (axis starts at 0.88, not 0)"
    assert len(ax.lines) == 2  # the break marks on the axis
    viz.plot_accuracy_bars({"a": 0.3, "b": 0.9}, tmp_path / "far.png")  # far apart: a cut would hide little
    ax = figures[-1].axes[0]
    assert ax.get_xlim()[0] == 0 and ax.get_xlabel() == "accuracy" and not ax.lines
    viz.plot_accuracy_bars({"a": 0.95}, tmp_path / "one.png")  # nothing to tell apart
    assert figures[-1].axes[0].get_xlim()[0] == 0


@pytest.mark.parametrize("lows, high, start", [([0.90, 0.95, 0.99], 0.99, 0.89), ([0.65, 0.95], 0.95, 0.6),
                                               ([0.3, 0.9], 0.9, 0.0), ([0.97, 0.97], 0.97, 0.0), ([-0.2, 0.5], 0.5, -0.2)])
def test_bar_axis_start(lows, high, start):
    assert viz._bar_axis_start(lows, high) == pytest.approx(start)
    assert viz._bar_axis_start(lows, high) <= min(lows)


def test_accuracy_bars_refuse_an_unknown_reference(tmp_path):
    with pytest.raises(ValueError, match=r"reference='sklearn' is not a method of scores; expected one of \['a'\]"):
        viz.plot_accuracy_bars({"a": 0.9}, tmp_path / "x.png", reference="sklearn")
    with pytest.raises(ValueError, match="scores is empty"):
        viz.plot_accuracy_bars({}, tmp_path / "x.png")


def test_training_curves_share_one_axis_per_metric(tmp_path, figures):
    path = viz.plot_training_curves({"pretrained": _hist(5, 1.0), "random init": _hist(5, 3.0)}, tmp_path / "curves.png")
    assert _is_png(path)
    loss_ax, acc_ax = figures[0].axes
    assert loss_ax.get_ylabel() == "loss" and acc_ax.get_ylabel() == "accuracy"
    # both methods, train and validation, on the same loss axes
    assert len(loss_ax.lines) == 4 and len(acc_ax.lines) == 2
    labels = [t.get_text() for t in figures[0].legends[0].get_texts()]
    assert labels == ["pretrained (train)", "pretrained (validation)", "random init (train)", "random init (validation)"]


def test_confusion_matrix_counts_with_row_normalised_colours(tmp_path, figures):
    m = np.array([[8, 2], [1, 9]])
    path = viz.plot_confusion_matrix(m, tmp_path / "cm.png", class_names=["cat", "dog"])
    assert _is_png(path)
    ax = figures[0].axes[0]
    assert [t.get_text() for t in ax.texts] == ["8", "2", "1", "9"]
    assert np.allclose(ax.images[0].get_array(), [[0.8, 0.2], [0.1, 0.9]])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog"]
    assert "accuracy 0.8500" in ax.get_title()


def test_confusion_matrix_checks_its_input(tmp_path):
    with pytest.raises(ValueError, match=r"matrix must be a square .* got shape \(2, 3\)"):
        viz.plot_confusion_matrix(np.ones((2, 3)), tmp_path / "cm.png")
    with pytest.raises(ValueError, match="class_names has 3 names but the matrix has 2 classes"):
        viz.plot_confusion_matrix(np.eye(2), tmp_path / "cm.png", class_names=["a", "b", "c"])


def test_latent_plot_has_a_legend_of_classes_not_a_colour_bar(tmp_path, figures, digits_small):
    X, y = digits_small
    path = viz.plot_latent_2d(X, y, tmp_path / "latent.png", class_names=[f"digit {i}" for i in range(10)])
    assert _is_png(path)
    fig = figures[0]
    assert len(fig.axes) == 1  # no colour bar axes
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [f"digit {i}" for i in range(10)]
    # a continuous target keeps a colour bar
    viz.plot_latent_2d(X[:, :2], X[:, 20], tmp_path / "target.png")
    assert len(figures[1].axes) == 2 and not figures[1].legends


def test_reconstructions_show_the_corrupted_inputs_between(tmp_path, figures, digits_small):
    X = digits_small[0][:6]
    path = viz.plot_reconstructions(X, X, (8, 8), tmp_path / "rec.png", n=6, X_corrupted=X * 0.5)
    assert _is_png(path)
    axes = figures[0].axes
    assert len(axes) == 18
    assert [axes[6 * r].get_ylabel() for r in range(3)] == ["input", "corrupted", "reconstruction"]
    assert any("corrupted" in t.get_text() for t in figures[0].texts)  # the suptitle (get_suptitle needs matplotlib 3.8)
    viz.plot_reconstructions(X, X, (8, 8), tmp_path / "plain.png", n=6)  # the two-row form is unchanged
    assert len(figures[1].axes) == 12


def test_rgb_images_in_a_grid(tmp_path, figures):
    images = np.random.default_rng(0).random((4, 3, 6, 6))
    assert _is_png(viz.plot_image_grid(images, (3, 6, 6), tmp_path / "rgb.png", n_cols=4), min_bytes=500)
    assert figures[0].axes[0].images[0].get_array().shape == (6, 6, 3)


MISSING = textwrap.dedent(
    """
    import sys
    sys.modules["matplotlib"] = None  # what an environment without matplotlib looks like to an import
    import numpy as np
    from layerwise import viz
    out = sys.argv[1]
    X = np.random.rand(10, 64)
    h = [{"epoch": 1, "loss": 1.0}]
    results = [
        viz.plot_loss_curves({"a": h}, out + "/a.png"),
        viz.plot_training_curves({"a": h}, out + "/b.png"),
        viz.plot_accuracy_bars({"a": 0.9}, out + "/c.png"),
        viz.plot_confusion_matrix(np.eye(2), out + "/d.png"),
        viz.plot_reconstructions(X, X, (8, 8), out + "/e.png"),
        viz.plot_image_grid(X, (8, 8), out + "/f.png"),
        viz.plot_latent_2d(X, np.arange(10) % 2, out + "/g.png"),
    ]
    print(results, viz.matplotlib_available())
    """
)


def test_without_matplotlib_plots_are_skipped_with_one_line(tmp_path):
    script = tmp_path / "missing.py"
    script.write_text(MISSING)
    proc = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[None, None, None, None, None, None, None] False"
    # (other lines may be warnings of the environment, e.g. numpy 1.26 on flushed denormals)
    lines = [line for line in proc.stderr.splitlines() if line.startswith("layerwise:")]
    assert len(lines) == 1 and "matplotlib cannot be imported, so plots are skipped; pip install matplotlib" in lines[0]
    assert not list(tmp_path.glob("*.png"))
