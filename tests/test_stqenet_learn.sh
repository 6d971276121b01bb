#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# STQENet end to end through the programs, small: 16 antennas x 16 subcarriers CDL-C
# (400 reports, 280 train / 120 test), M = 32 (CR 1/16), B = 6.
#   1. invcsi-train --model stqenet learns: 4 epochs, the training loss (MSE + rate) of the
#      last epoch is below 80 % of the first's and the held-out NMSE improves by >= 0.3 dB
#      (measured: loss 1.82 -> 1.36, test NMSE +0.58 -> +0.18 dB: this model starts slowly,
#      and is still above the all-zero 0 dB after 4 short epochs; on 32 x 32 CDL-C it leaves
#      that plateau after about 6 epochs of 4200 reports);
#   2. resume: 2 epochs + --resume to 4 gives the same weights as the uninterrupted run
#      (same test NMSE to 4 decimals);
#   3. invcsi-eval on the weights codes every test report for real: the coded bits per
#      report are within 0.5 % + 32 bits of the model's estimate;
#   4. invcsi-eval --rd with a CsiNet (uniform quantizer, --rd-bits 2,4) writes the
#      rate-distortion CSV (and the plot when matplotlib is there);
#   5. warm start: --init s.safetensors --lambda 2 starts from the trained weights (its
#      first epoch's held-out NMSE is >= 0.2 dB better than a fresh model's first epoch),
#      and --cr with --init is refused.
set -u
APPS=${INVCSI_APPS_DIR:?run through ctest}
PY=${INVCSI_PYTHON:-/usr/bin/python3}
for p in invcsi-gen invcsi-train invcsi-eval; do
    [ -x "$APPS/$p" ] || { echo "SKIP: $APPS/$p not built"; exit 77; }
done
fail() { echo "FAIL: $*"; exit 1; }
rm -f data.mat s.safetensors* r.safetensors* c.safetensors w.safetensors rd.csv rd.png
"$APPS/invcsi-gen" --model cdl-c --samples 400 --seed 5 --nt 16 --nc 16 -o data.mat --quiet \
    >/dev/null || fail "invcsi-gen"
T="--data data.mat --model stqenet --cr 1/16 --bits 6 --lambda 1 --batch 16 --lr 2e-3 --threads 1"
"$APPS/invcsi-train" $T --epochs 4 -o s.safetensors 2> train.log || { cat train.log; fail "train"; }
cat train.log
first=$(awk '/^epoch 1\//{for(i=1;i<=NF;i++) if($i=="loss"){print $(i+1); exit}}' train.log)
last=$(awk '/^epoch 4\//{for(i=1;i<=NF;i++) if($i=="loss"){print $(i+1); exit}}' train.log)
test0=$(awk '/^epoch 1\//{for(i=1;i<=NF;i++) if($i=="NMSE" && $(i-1)=="test"){print $(i+1); exit}}' train.log)
test_db=$(awk '/^epoch 4\//{for(i=1;i<=NF;i++) if($i=="NMSE" && $(i-1)=="test"){print $(i+1); exit}}' train.log)
"$PY" -c "import sys; f,l,t0,t=map(float,sys.argv[1:]); print('loss %.4f -> %.4f, test NMSE %.2f -> %.2f dB'%(f,l,t0,t)); sys.exit(0 if l < 0.8*f and t < t0 - 0.3 else 1)" \
    "$first" "$last" "$test0" "$test_db" || fail "STQENet did not learn"

# warm start from the trained weights at another lambda
"$APPS/invcsi-train" --data data.mat --model stqenet --init s.safetensors --lambda 2 --batch 16 \
    --lr 2e-3 --threads 1 --epochs 1 -o w.safetensors 2> warm.log || { cat warm.log; fail "--init"; }
warm=$(awk '/^epoch 1\//{for(i=1;i<=NF;i++) if($i=="NMSE" && $(i-1)=="test"){print $(i+1); exit}}' warm.log)
"$PY" -c "import sys; w,t0=map(float,sys.argv[1:]); print('warm start epoch 1: test NMSE %.2f dB (fresh %.2f dB)'%(w,t0)); sys.exit(0 if w < t0 - 0.2 else 1)" \
    "$warm" "$test0" || fail "--init did not start from the trained weights"
"$APPS/invcsi-train" --data data.mat --model stqenet --init s.safetensors --cr 1/4 --epochs 1 \
    -o w.safetensors 2>/dev/null && fail "--init with --cr accepted"

# resume
"$APPS/invcsi-train" $T --epochs 2 --checkpoint-every 1 --quiet -o r.safetensors >/dev/null || fail "train 2"
"$APPS/invcsi-train" --data data.mat --resume r.safetensors.ckpt --epochs 4 --threads 1 --quiet \
    -o r.safetensors >/dev/null || fail "resume"
out=$("$APPS/invcsi-eval" --data data.mat --weights s.safetensors --weights r.safetensors \
      --threads 1 --quiet) || { echo "$out"; fail "eval"; }
echo "$out"
a=$(awk '$1 == "s.safetensors" && $2 == "stqenet" {print $7}' <<<"$out")
b=$(awk '$1 == "r.safetensors" && $2 == "stqenet" {print $7}' <<<"$out")
[ -n "$a" ] && [ "$a" == "$b" ] || fail "resumed run gives NMSE $b, uninterrupted $a"
read est coded <<<"$(awk '$1 == "s.safetensors" && $2 == "32" {print $6, $7}' <<<"$out")"
"$PY" -c "import sys; e,c=map(float,sys.argv[1:]); print('estimate %.1f, coded %.1f bits/report'%(e,c)); sys.exit(0 if abs(c-e) <= 0.005*e+32 else 1)" \
    "$est" "$coded" || fail "coded size vs estimate"

# rate-distortion table with a fixed-rate CsiNet
"$APPS/invcsi-train" --data data.mat --model csinet --cr 1/16 --epochs 1 --batch 16 --threads 1 \
    --quiet -o c.safetensors >/dev/null || fail "csinet"
plot=()
"$PY" -c "import matplotlib" 2>/dev/null && plot=(--plot rd.png)
"$APPS/invcsi-eval" --data data.mat --rd --rd-bits 2,4 --weights s.safetensors \
    --weights c.safetensors --csv rd.csv "${plot[@]}" --threads 1 --quiet || fail "eval --rd"
cat rd.csv
[ "$(grep -c '^c.safetensors,csinet,uniform' rd.csv)" == 2 ] || fail "two CsiNet points expected"
grep -q '^s.safetensors,stqenet,mu-law+rANS' rd.csv || fail "no STQENet row"
grep -q ',64.000,' rd.csv && grep -q ',128.000,' rd.csv || fail "CsiNet at M x B = 64 and 128 bits"
if [ ${#plot[@]} -gt 0 ]; then [ -s rd.png ] || fail "no plot"; fi
echo "OK"
