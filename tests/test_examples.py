"""The example scripts run end to end (briefly) and write what they promise."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_vae_example_writes_its_pictures(tmp_path, mnist_dir):
    out = tmp_path / "vae"
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "vae_mnist.py"), "--data-dir", str(mnist_dir),
                        "--epochs", "1", "--iwae-k", "5", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "test negative ELBO" in r.stdout and "IWAE bound with k=5" in r.stdout
    for name in ["samples.png", "interpolation.png", "traversals.png", "latent_2d.png", "loss_curves.png"]:
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
