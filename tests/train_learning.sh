#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Learning check shared by tests/test_train_learning_<kind>.sh (not a test by itself: the
# name does not start with test_):  train_learning.sh KIND MAX_NMSE_DB MIN_GAIN_DB
#
# A short run (6 epochs, batch 32, lr 2e-3, 840 training reports of a 1200-report CDL-C
# set, 2 threads) must reach a held-out NMSE (invcsi-eval, frequency domain) of at most
# MAX_NMSE_DB, and beat the untrained model (same seed, --epochs 0) by at least
# MIN_GAIN_DB. The thresholds sit well below 0 dB (the all-zero reconstruction) and below
# the untrained model, so a model that does not learn (broken gradient, optimiser that
# skips tensors, wrong data path) cannot pass. Measured values are in the wrappers.
set -u
KIND=${1:?kind}
MAX_DB=${2:?max nmse dB}
MIN_GAIN=${3:?min gain dB}
APPS=${INVCSI_APPS_DIR:?run through ctest}
PY=${INVCSI_PYTHON:-/usr/bin/python3}
for p in invcsi-gen invcsi-train invcsi-eval; do
    [ -x "$APPS/$p" ] || { echo "SKIP: $APPS/$p not built"; exit 77; }
done
rm -f data.mat trained.safetensors untrained.safetensors
"$APPS/invcsi-gen" --model cdl-c --samples 1200 --seed 11 --ds-lgstd 0 -o data.mat --quiet >/dev/null || exit 1
t0=$(date +%s.%N)
"$APPS/invcsi-train" --data data.mat --model "$KIND" --epochs 6 --batch 32 --lr 2e-3 \
    --threads 2 --eval-every 100 -o trained.safetensors || exit 1
t1=$(date +%s.%N)
"$APPS/invcsi-train" --data data.mat --model "$KIND" --epochs 0 --threads 2 --quiet \
    -o untrained.safetensors >/dev/null || exit 1
out=$("$APPS/invcsi-eval" --data data.mat --weights trained.safetensors \
      --weights untrained.safetensors --quiet) || { echo "$out"; exit 1; }
echo "$out"
trained=$(awk '$1 == "trained.safetensors" {print $7}' <<<"$out")
untrained=$(awk '$1 == "untrained.safetensors" {print $7}' <<<"$out")
"$PY" - "$KIND" "$trained" "$untrained" "$MAX_DB" "$MIN_GAIN" "$t0" "$t1" <<'PYEOF'
import sys
kind, tr, un, max_db, gain, t0, t1 = sys.argv[1], *map(float, sys.argv[2:])
print("%s: trained %.3f dB, untrained %.3f dB (gain %.2f dB), training %.1f s"
      % (kind, tr, un, un - tr, t1 - t0))
ok = True
if not tr <= max_db:
    print("FAIL: held-out NMSE %.3f dB is above %.1f dB" % (tr, max_db)); ok = False
if not un - tr >= gain:
    print("FAIL: only %.2f dB better than untrained, need %.1f dB" % (un - tr, gain)); ok = False
sys.exit(0 if ok else 1)
PYEOF
