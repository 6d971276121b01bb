#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# D-BCD pays at low SNR (DESIGN.md section 4): two InvCSINets with the same budget, both
# started from the same quickly trained ideal INN (--init, INN frozen: the default with
# --init) and trained at Eb/N0 = 0 dB (BER 7.9 %), one with D-BCD and one with the ablation
# --no-dbcd (AWGN on the levels at the same Eb/N0), are evaluated through REAL bit errors
# at 0 dB (invcsi-eval: BPSK, complex AWGN, hard detection). The D-BCD model must be better
# by at least MIN_GAP dB of held-out NMSE.
#
# Data: 1500 CDL-C reports, nt 16 x nc 16 (dim 512), CR 1/8 (M = 64), B = 4 (256 bits per
# report), natural labels. INN: 8 epochs; each InvCSINet: 6 epochs, batch 32, lr 2e-3,
# seed 1, 2 threads.
# Measured at 0 dB: this test (2 threads) D-BCD -4.149 dB, --no-dbcd -3.814 dB (gap
# 0.33 dB), untrained InvCSINet (INN + fitted uniform quantizer) -1.960 dB; with 1 thread and
# seeds 1 and 2: gaps 0.30 and 0.27 dB (B = 2: 0.05 dB only: the coarse levels leave D-BCD
# less to shape). ~26 s on a loaded 2-core machine. With the paper's surrogate gradient to the sent value
# (--dbcd-grad surrogate) D-BCD gave -3.61 / -3.57 dB, i.e. WORSE than --no-dbcd: the
# default "straight" backward is what makes D-BCD pay (README).
# Asserted: gap >= 0.10 dB, and both beat the untrained model by >= 1 dB.
set -u
APPS=${INVCSI_APPS_DIR:?run through ctest}
PY=${INVCSI_PYTHON:-/usr/bin/python3}
MIN_GAP=0.10
for p in invcsi-gen invcsi-train invcsi-eval; do
    [ -x "$APPS/$p" ] || { echo "SKIP: $APPS/$p not built"; exit 77; }
done
export OMP_WAIT_POLICY=passive
rm -f data.mat inn.safetensors dbcd.safetensors awgn.safetensors init.safetensors eval.csv
t0=$(date +%s.%N)
"$APPS/invcsi-gen" --model cdl-c --samples 1500 --seed 11 --ds-lgstd 0 --nt 16 --nc 16 \
    -o data.mat --quiet >/dev/null || exit 1
"$APPS/invcsi-train" --data data.mat --model inn --cr 1/8 --epochs 8 --batch 32 --lr 2e-3 \
    --threads 2 --eval-every 100 --quiet -o inn.safetensors >/dev/null || exit 1
common=(--data data.mat --model invcsinet --init inn.safetensors --bits 4 --snr-db 0
        --batch 32 --lr 2e-3 --seed 1 --threads 2 --eval-every 100 --quiet)
"$APPS/invcsi-train" "${common[@]}" --epochs 6 -o dbcd.safetensors >/dev/null || exit 1
"$APPS/invcsi-train" "${common[@]}" --epochs 6 --no-dbcd -o awgn.safetensors >/dev/null || exit 1
"$APPS/invcsi-train" "${common[@]}" --epochs 0 -o init.safetensors >/dev/null || exit 1
out=$("$APPS/invcsi-eval" --data data.mat --weights dbcd.safetensors --weights awgn.safetensors \
      --weights init.safetensors --snr-db 0 --threads 2 --quiet --csv eval.csv) \
    || { echo "$out"; exit 1; }
t1=$(date +%s.%N)
echo "$out"
"$PY" - "$MIN_GAP" "$t0" "$t1" <<'PYEOF'
import csv, sys
gap_min, t0, t1 = map(float, sys.argv[1:])
r = {row["model"]: float(row["nmse_db_zmean"]) for row in csv.DictReader(open("eval.csv"))}
d, a, i = r["dbcd.safetensors"], r["awgn.safetensors"], r["init.safetensors"]
print("at 0 dB through real bits: D-BCD %.3f dB, --no-dbcd %.3f dB (gap %.2f dB), untrained "
      "%.3f dB; %.1f s" % (d, a, a - d, i, t1 - t0))
ok = True
if not a - d >= gap_min:
    print("FAIL: D-BCD beats --no-dbcd by %.2f dB, need %.2f dB" % (a - d, gap_min)); ok = False
for name, v in (("D-BCD", d), ("--no-dbcd", a)):
    if not i - v >= 1.0:
        print("FAIL: %s (%.3f dB) not 1 dB better than untrained (%.3f dB)" % (name, v, i))
        ok = False
sys.exit(0 if ok else 1)
PYEOF
