#!/usr/bin/env bash
# Build an sdist and a wheel of ccroute and of every plugin under plugins/, then
# install the wheels into a fresh virtual environment (no checkout on the path)
# and import each package: what a user installing from built packages gets.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$python" -m pip install -q build
for project in . plugins/*/; do
    echo "+ python -m build $project"
    "$python" -m build --outdir "$out/dist" "$project" > "$out/build.log" 2>&1 \
        || { cat "$out/build.log" >&2; exit 1; }
done
ls "$out/dist"

python3 -m venv "$out/venv"
"$out/venv/bin/pip" install -q "$out"/dist/*.whl
cd "$out"  # away from the checkout, so only the installed packages import
"$out/venv/bin/python" - <<'PY'
import importlib, importlib.metadata as md

import ccroute

assert ccroute.IMPLEMENTATION == "compiled", ccroute.IMPLEMENTATION
plugins = sorted(ep.value.split(".")[0].split(":")[0] for ep in md.entry_points(group="ccroute"))
for name in plugins:
    importlib.import_module(name)
print("installed from wheels:", ccroute.__version__, ccroute.IMPLEMENTATION, "+", ", ".join(plugins))
PY
