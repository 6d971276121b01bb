#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The coverage picture end to end: bench_street writes a small street data set (.mat) and
# one user's paths (JSON), apps/street_plot.py draws them (h5py + matplotlib).
set -euo pipefail
PY=${INVCSI_PYTHON:-/usr/bin/python3}
BENCH=${INVCSI_BENCH_DIR:?}/bench_street
if ! "$PY" -c 'import h5py, matplotlib' 2>/dev/null; then
    echo "SKIP: $PY lacks h5py or matplotlib"
    exit 77
fi
"$BENCH" --samples 1500 --repeat 1 --mat street.mat --paths-json paths.json --user 40,12 > bench.txt
grep -q "identical bytes: yes" bench.txt
grep -q "without any path" bench.txt
"$PY" "$INVCSI_SOURCE_DIR/apps/street_plot.py" --mat street.mat --paths paths.json \
    --scene "$INVCSI_SOURCE_DIR/data/scenes/street-default.json" -o coverage.png > plot.txt
cat plot.txt
grep -q "wrote coverage.png (1500 users" plot.txt
test "$(stat -c %s coverage.png)" -gt 50000
"$PY" - <<'PY'
import json
p = json.load(open("paths.json"))
assert p["rx"] == [40, 12, 1.5], p["rx"]
assert p["paths"] and p["paths"][0]["order"] == 0, "the user at (40, 12) has LOS"
print("paths.json: %d paths" % len(p["paths"]))
PY
echo "test_street_plot: ok"
