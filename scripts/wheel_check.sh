#!/usr/bin/env bash
# The wheel as a user gets it (`make wheel-check`, called by .ci/run): build the wheel,
# install it into a fresh venv outside the repo (dependencies from the package index),
# and run the simulated release week end to end from the installed package, in a
# directory outside the repo, so nothing can be read from the checkout by accident.
# Checks the site's index.html and the retrospective PDF exist.
#
# PYTHON picks the interpreter that builds the wheel and creates the venv (3.11+).
# KEEP=1 keeps the temporary directory for a look afterwards.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tars-wheel-check.XXXXXX")"
if [ "${KEEP:-0}" != 1 ]; then
  trap 'rm -rf "$WORK"' EXIT
fi
start=$SECONDS

echo "== build the wheel"
"$PYTHON" -m pip wheel --quiet --no-deps -w "$WORK/dist" "$REPO"
WHEEL="$(ls "$WORK"/dist/tars_lib-*.whl)"
echo "$WHEEL"

# What the wheel must carry (and must not): the project's files under tars_lib/_project.
"$PYTHON" - "$WHEEL" <<'EOF'
import sys
import zipfile

names = set(zipfile.ZipFile(sys.argv[1]).namelist())
wanted = [
    "tars_lib/_project/_quarto.yml",
    "tars_lib/_project/data/config/kpis.yaml",
    "tars_lib/_project/data/config/pricing.yaml",
    "tars_lib/_project/data/scenarios/ga_week.yaml",
    "tars_lib/_project/data/scenarios/ga_week_changes.yaml",
    "tars_lib/_project/notebooks/01_ga_day.ipynb",
    "tars_lib/_project/notebooks/06_retrospective.ipynb",
    "tars_lib/py.typed",
]
missing = [n for n in wanted if n not in names]
unwanted = sorted(n for n in names if "test_data" in n or n.startswith(("tests/", "data/")))
if missing or unwanted:
    sys.exit(f"wheel contents: missing {missing}, unwanted {unwanted[:5]}")
print(f"wheel contents: {len(names)} files, project files present, no test data")
EOF

echo "== install it into a fresh venv outside the repo"
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet --upgrade pip
"$WORK/venv/bin/python" -m pip install --quiet "$WHEEL"
TARS="$WORK/venv/bin/tars"
if "$WORK/venv/bin/python" -m pip show --quiet jupyterlab >/dev/null 2>&1; then
  echo "a runtime install (no extras) must not contain JupyterLab" >&2
  exit 1
fi

echo "== run the simulated week from the installed package"
RUN="$WORK/run"
mkdir -p "$RUN"
cd "$RUN"   # outside the repo: only the installed package can be used
WS="$RUN/ws"
SITE="$RUN/_site"

# The packaged scenario and its known changes, as the installed package finds them.
read -r SCENARIO CHANGES < <("$WORK/venv/bin/python" -c \
  'from tars_lib.core.workspace import PROJECT; print(PROJECT.scenario, PROJECT.scenario_changes)')
case "$SCENARIO" in
  "$REPO"/*) echo "the installed package reads the repo's $SCENARIO" >&2; exit 1 ;;
esac

# A release of the user's own, from `tars init`, through the embedded week
# (`tars demo`): the report must name it, never the seed's v1.0.1.
"$TARS" --version
"$TARS" init "$WS" --name checkout-api --version 2.3.0 --ga-timestamp 2025-11-18T00:00:00Z
"$TARS" demo --workspace "$WS" --output-dir "$SITE" --quiet

echo "== check the outputs"
INDEX="$("$WORK/venv/bin/python" -c \
  'import sys; from pathlib import Path; from tars_lib.core.workspace import SiteLayout; print(SiteLayout(Path(sys.argv[1])).index)' "$SITE")"
PDF="$("$WORK/venv/bin/python" -c \
  'import sys; from pathlib import Path; from tars_lib.core.workspace import SiteLayout; print(SiteLayout(Path(sys.argv[1])).pdf)' "$SITE")"
for f in "$INDEX" "$PDF"; do
  if [ ! -s "$f" ]; then
    echo "missing or empty: $f" >&2
    ls -la "$SITE" >&2 || true
    exit 1
  fi
  echo "ok: $f"
done
pdftotext "$PDF" "$RUN/report.txt"
for f in "$INDEX" "$RUN/report.txt" "$WS"/docs/final/*.md; do
  grep -q "checkout-api 2.3.0" "$f" || { echo "$f does not name checkout-api 2.3.0" >&2; exit 1; }
done
for f in "$INDEX" "$RUN/report.txt" "$WS"/docs/final/*.md "$WS"/docs/final/*.json; do
  if grep -l "v1\.0\.1\|v1_0_2" "$f"; then echo "$f names the seed's release" >&2; exit 1; fi
done
"$WORK/venv/bin/python" - "$WS"/docs/final/*.json <<'PY'
import json, sys
data = json.load(open(sys.argv[1], encoding="utf-8"))
release = data["release"]
assert (release["name"], release["version"]) == ("checkout-api", "2.3.0"), release
assert data["recommendations_v2_3_1"] == data["recommendations_next"]
PY
echo "ok: the report names checkout-api 2.3.0 and never v1.0.1"
echo "wheel check passed in $((SECONDS - start)) s"
