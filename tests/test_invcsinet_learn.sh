#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# InvCSINet learns, end to end through real bits: a short run FROM SCRATCH (INN, latent
# normalisation, DAQ, IC all trained; D-BCD at 10 dB) must beat the untrained model (the
# same seed and --epochs 0: identity INN + the fitted uniform 4-bit quantizer) by at least
# MIN_GAIN dB of held-out NMSE, both evaluated by invcsi-eval through BPSK with complex
# AWGN at Eb/N0 = 10 dB and hard detection (frequency domain). The run also exercises the
# CLI end to end: --snr-db, the CSV, the theory BER column, the error-free row, --plot.
#
# Data: 1500 CDL-C reports, nt 16 x nc 16 (dim 512), CR 1/8 (M = 64, 256 bits/report).
# Measured (2 threads): trained -3.35 dB, untrained -1.20 dB at 10 dB (gain 2.15 dB) after
# 8 epochs (15 s of training on a loaded 2-core machine; the whole test ~17 s). Asserted:
# gain >= 1.0 dB and trained <= -2.5 dB (the all-zero reconstruction is 0 dB). For
# comparison the ideal INN alone reaches -7.9 dB in 8 epochs on this data: from scratch,
# the bit path's gradients and lambda = 0.1 slow the INN down (DESIGN.md section 4), which
# is why --init from a trained INN is the recommended schedule.
set -u
APPS=${INVCSI_APPS_DIR:?run through ctest}
PY=${INVCSI_PYTHON:-/usr/bin/python3}
MIN_GAIN=1.0
MAX_DB=-2.5
for p in invcsi-gen invcsi-train invcsi-eval; do
    [ -x "$APPS/$p" ] || { echo "SKIP: $APPS/$p not built"; exit 77; }
done
export OMP_WAIT_POLICY=passive
rm -f data.mat trained.safetensors untrained.safetensors eval.csv nmse.png
"$APPS/invcsi-gen" --model cdl-c --samples 1500 --seed 11 --ds-lgstd 0 --nt 16 --nc 16 \
    -o data.mat --quiet >/dev/null || exit 1
t0=$(date +%s.%N)
"$APPS/invcsi-train" --data data.mat --model invcsinet --cr 1/8 --bits 4 --snr-db 10 \
    --epochs 8 --batch 32 --lr 2e-3 --threads 2 --eval-every 100 \
    -o trained.safetensors || exit 1
t1=$(date +%s.%N)
"$APPS/invcsi-train" --data data.mat --model invcsinet --cr 1/8 --bits 4 --snr-db 10 \
    --epochs 0 --threads 2 --quiet -o untrained.safetensors >/dev/null || exit 1
out=$("$APPS/invcsi-eval" --data data.mat --weights trained.safetensors \
      --weights untrained.safetensors --snr-db 10,inf --threads 2 --quiet --csv eval.csv) \
    || { echo "$out"; exit 1; }
echo "$out"
# --plot: invcsi-eval finds apps/linkeval_plot.py and draws the figure
if "$PY" -c 'import matplotlib' 2>/dev/null; then
    "$APPS/invcsi-eval" --data data.mat --weights trained.safetensors --snr-db 0,10 \
        --threads 2 --quiet --plot nmse.png >/dev/null || { echo "FAIL: --plot"; exit 1; }
    [ "$(stat -c %s nmse.png)" -gt 20000 ] || { echo "FAIL: nmse.png too small"; exit 1; }
    echo "--plot: wrote nmse.png"
else
    echo "(no matplotlib for $PY: --plot not checked)"
fi
"$PY" - "$MIN_GAIN" "$MAX_DB" "$t0" "$t1" <<'PYEOF'
import csv, math, sys
min_gain, max_db, t0, t1 = map(float, sys.argv[1:])
rows = {(r["model"], r["snr_db"]): r for r in csv.DictReader(open("eval.csv"))}
tr = float(rows[("trained.safetensors", "10")]["nmse_db_zmean"])
un = float(rows[("untrained.safetensors", "10")]["nmse_db_zmean"])
r10 = rows[("trained.safetensors", "10")]
ok = True
# the CSV carries the theory BER and the payload; at 10 dB BPSK has BER 3.87e-6
if abs(float(r10["ber_theory"]) - 0.5 * math.erfc(math.sqrt(10.0))) > 1e-9:
    print("FAIL: theory BER column %s" % r10["ber_theory"]); ok = False
if int(r10["payload_bits"]) != 256 or int(r10["bits"]) != 4:
    print("FAIL: payload %s bits, B %s" % (r10["payload_bits"], r10["bits"])); ok = False
inf = float(rows[("trained.safetensors", "inf")]["nmse_db_zmean"])
if abs(inf - tr) > 0.2:  # at 10 dB about one bit in 250,000 is wrong
    print("FAIL: 10 dB (%.3f) far from the error-free row (%.3f)" % (tr, inf)); ok = False
print("invcsinet from scratch: trained %.3f dB, untrained %.3f dB at 10 dB (gain %.2f dB), "
      "training %.1f s" % (tr, un, un - tr, t1 - t0))
if not tr <= max_db:
    print("FAIL: trained %.3f dB is above %.1f dB" % (tr, max_db)); ok = False
if not un - tr >= min_gain:
    print("FAIL: gain %.2f dB < %.1f dB" % (un - tr, min_gain)); ok = False
sys.exit(0 if ok else 1)
PYEOF
