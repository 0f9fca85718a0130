"""The example scripts run end to end (briefly) and write what they promise."""

import subprocess
import sys
from pathlib import Path

from .conftest import assert_png_shows_a_picture

ROOT = Path(__file__).resolve().parents[1]


def test_vae_example_writes_its_pictures(tmp_path, mnist_dir):
    out = tmp_path / "vae"
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "vae_mnist.py"), "--data-dir", str(mnist_dir),
                        "--max-iter", "1", "--iwae-k", "5", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "test negative ELBO" in r.stdout and "IWAE bound with k=5" in r.stdout
    for name in ["samples.png", "interpolation.png", "traversals.png", "latent_2d.png", "loss_curves.png"]:
        assert_png_shows_a_picture(out / name)


def test_grid_search_example_scores_on_labeled_rows():
    """examples/grid_search_semi.py: GridSearchCV with SemiSupervisedKFold on digits with 10% of the labels (2 epochs a fit)."""
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "grid_search_semi.py"), "--max-iter", "2", "--folds", "2"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "1347 training rows, 134 of them labeled" in r.stdout and "every fit saw all 1213 unlabeled rows" in r.stdout
    scores = [float(line.split("}")[-1].split()[0]) for line in r.stdout.splitlines() if line.startswith("  {")]
    assert len(scores) == 4 and all(0.0 < s <= 1.0 for s in scores)  # finite accuracies of labeled rows, not NaN
    test = float(r.stdout.split("refitted on every training row: ")[1].split()[0])
    assert 0.1 < test <= 1.0  # better than chance even after 2 epochs
