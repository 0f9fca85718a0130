
from layerwise.viz import plot_image_grid, plot_latent_2d, plot_loss_curves, plot_reconstructions

PNG = b"\x89PNG\r\n\x1a\n"


def test_every_plot_writes_a_png(tmp_path, digits_small):
    X, y = digits_small
    hist = [{"epoch": i + 1, "loss": 1.0 / (i + 1), "val_loss": 1.2 / (i + 1)} for i in range(5)]
    paths = [
        plot_loss_curves({"a": hist, "b": hist}, tmp_path / "loss.png"),
        plot_reconstructions(X[:10], X[:10], (8, 8), tmp_path / "rec.png"),
        plot_image_grid(X[:25], (8, 8), tmp_path / "grid.png", n_cols=10, title="samples"),
        plot_latent_2d(X[:, :5], y, tmp_path / "latent.png"),
        plot_latent_2d(X[:, :2], None, tmp_path / "latent2.png"),
    ]
    for p in paths:
        assert p.read_bytes()[:8] == PNG and p.stat().st_size > 2000
