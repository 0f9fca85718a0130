"""A plain install without matplotlib still runs the main job to the end: plots are skipped with one line."""

import json
import os
import subprocess
import sys

# matplotlib made unimportable, as in an environment without it: `import matplotlib...` raises ImportError
_RUN_WITHOUT_MATPLOTLIB = """
import sys
sys.modules["matplotlib"] = None
from layerwise.app.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_the_demo_runs_to_the_end_without_matplotlib(tmp_path):
    out = tmp_path / "demo"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", _RUN_WITHOUT_MATPLOTLIB, "demo", "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    skipped = [line for line in done.stderr.splitlines() if "matplotlib cannot be imported" in line]
    assert skipped == ["layerwise: matplotlib cannot be imported, so plots are skipped; pip install matplotlib (a dependency "
                       "of layerwise that this environment lacks)."]
    assert "Traceback" not in done.stderr and "pretrained, full" in done.stdout
    # the results, and no picture (.lock: the run folder's lock file, released at exit)
    assert sorted(p.name for p in out.iterdir() if p.name != ".lock") == ["results.json"]
    assert json.loads((out / "results.json").read_text())["plots"] == []
    assert f"run folder: {out} (results.json)" in done.stdout
