#!/usr/bin/env bash
# What a user of `pip install layerwise` gets: build the wheel, install it into a fresh virtual environment
# outside the clone (the CPU torch, through constraints.txt as `make test` installs it), then run the README's
# commands from an empty folder, by the packaged example's name. `make wheel-check`; CI runs it after `make test`.
#   PYTHON=python3.12 .ci/wheel_check.sh    another interpreter
#   KEEP=1 .ci/wheel_check.sh               keep the temporary folder (its path is printed)
#   DEMO_FLAGS=--quick make wheel-check     the demo with a tenth of the epochs, on a busy machine (CI runs it whole)
# On 2 idle cores: the install about a minute, the demo about a minute (README, "The demo"), the rest seconds.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/layerwise-wheel.XXXXXX")"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$WORK"' EXIT
echo "wheel check in $WORK"
start=$SECONDS
step() { echo "--- $* ($((SECONDS - start)) s)"; }

step "build the wheel"
# pip builds in the tree: setuptools' build/lib of an earlier build would put modules since moved or removed into
# the wheel beside the new ones (and keep stale copies), so it starts from nothing
rm -rf "$ROOT/build/lib" "$ROOT"/build/bdist.*
"$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$WORK/dist" "$ROOT"
wheel=("$WORK"/dist/layerwise-*.whl)
"$PYTHON" - "${wheel[0]}" <<'EOF'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
configs = sorted(n for n in names if n.startswith("layerwise/examples/") and n.endswith((".toml", ".yaml", ".yml")))
assert "layerwise/py.typed" in names, "py.typed is not in the wheel"
assert "layerwise/examples/digits_few_labels.toml" in configs, f"the example configs are not in the wheel: {configs}"
assert not any(n.startswith(("tests/", "benchmarks/")) for n in names), "tests or benchmarks in the wheel"
print(f"{sys.argv[1].rsplit('/', 1)[-1]}: {len(names)} files, configs {[c.rsplit('/', 1)[-1] for c in configs]}")
EOF

step "install it into a fresh venv with the CPU torch of constraints.txt"
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet -c "$ROOT/constraints.txt" "${wheel[0]}"
export PATH="$WORK/venv/bin:$PATH"

mkdir "$WORK/run"
cd "$WORK/run"  # an empty folder outside the clone: nothing of the source tree is found from here
step "layerwise --version and --help without torch"
python - <<'EOF'
import sys
import layerwise
assert "/venv/" in layerwise.__file__, f"layerwise imported from {layerwise.__file__}, not from the installed wheel"
EOF
time layerwise --version
time layerwise --help >/dev/null
python - <<'EOF'
import subprocess, sys
# the console script's own process: `layerwise --version` must not import torch
code = ("import sys; sys.argv = ['layerwise', '--version']\n"
        "try:\n    from layerwise.app.cli import main; main()\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'layerwise --version imported torch'")
subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL)
EOF

step "layerwise demo"
layerwise demo -q ${DEMO_FLAGS:-}  # -q: the table without a line per epoch

step "layerwise finetune -c digits_few_labels.toml (the packaged example, by name), then evaluate"
layerwise finetune -c digits_few_labels.toml --set finetune.max_iter=5 -q
layerwise evaluate runs/digits-few-labels/model -c digits_few_labels.toml
layerwise examples configs >/dev/null
test -f configs/mnist_sdae.toml
step "wheel check passed"
