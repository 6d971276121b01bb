#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# invcsi-train and invcsi-eval from the command line, on a small CDL-C set made here:
#   - --help documents every option; bad options exit 2 with a message;
#   - a short run prints one progress line per epoch and writes the weights and, with
#     --checkpoint-every, a checkpoint;
#   - the same command twice gives byte-identical weights files;
#   - SIGINT mid-run: exit 130, a checkpoint, a message saying how to resume; --resume
#     then gives the same tensors as an uninterrupted run (INN and CsiNet, whose BN
#     running statistics must survive the checkpoint too);
#   - invcsi-eval reproduces the trainer's held-out NMSE, writes CSV, adds the PCA row,
#     and refuses missing files, checkpoints and data of the wrong size.
set -u
APPS=${INVCSI_APPS_DIR:?run through ctest}
PY=${INVCSI_PYTHON:-/usr/bin/python3}
TRAIN=$APPS/invcsi-train
EVAL=$APPS/invcsi-eval
GEN=$APPS/invcsi-gen
for p in "$TRAIN" "$EVAL" "$GEN"; do
    [ -x "$p" ] || { echo "SKIP: $p not built"; exit 77; }
done

failures=0
pass() { echo "ok:   $1"; }
fail() { echo "FAIL: $1"; failures=$((failures + 1)); }
# expect DESC STATUS PATTERN -- command...: exit status and a stderr/stdout pattern
expect() {
    local desc=$1 want=$2 pattern=$3
    shift 4
    local out rc
    out=$("$@" 2>&1)
    rc=$?
    if [ "$rc" -ne "$want" ]; then
        fail "$desc: exit $rc, expected $want; output: $out"
    elif [ -n "$pattern" ] && ! grep -qE -- "$pattern" <<<"$out"; then
        fail "$desc: output lacks /$pattern/: $out"
    else
        pass "$desc"
    fi
}

# Compares two weights files: every tensor bit-identical, and the metadata except the
# keys given after the two paths.
same_tensors() {
    "$PY" - "$@" <<'EOF'
import json, struct, sys
def load(p):
    raw = open(p, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    h = json.loads(raw[8:8 + n])
    meta = h.pop("__metadata__", {})
    data = raw[8 + n:]
    return meta, {k: (v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in h.items()}
ma, ta = load(sys.argv[1])
mb, tb = load(sys.argv[2])
skip = set(sys.argv[3:])
bad = [k for k in set(ta) | set(tb) if ta.get(k) != tb.get(k)]
mbad = [k for k in set(ma) | set(mb) if k not in skip and ma.get(k) != mb.get(k)]
if bad or mbad:
    print("differing tensors:", sorted(bad)[:5], "metadata:", mbad)
    sys.exit(1)
print("%d tensors identical" % len(ta))
EOF
}

meta_of() { # FILE KEY: prints a metadata value
    "$PY" - "$1" "$2" <<'EOF'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", raw[:8])
print(json.loads(raw[8:8 + n]).get("__metadata__", {}).get(sys.argv[2], ""))
EOF
}

# the scratch directory persists between runs: start clean
rm -rf short det1 det2 full-inn full-csinet int-inn int-csinet eval.csv trunc.safetensors
"$GEN" --model cdl-c --samples 300 --seed 5 -o data.mat --quiet >/dev/null || { fail "invcsi-gen"; exit 1; }
"$GEN" --model cdl-c --samples 40 --seed 6 -o other.mat --quiet >/dev/null || { fail "invcsi-gen other"; exit 1; }
"$GEN" --model cdl-c --samples 20 --nt 16 --seed 5 -o small16.mat --quiet >/dev/null || { fail "invcsi-gen nt 16"; exit 1; }
DATA=$PWD/data.mat

# ---- help and bad options -------------------------------------------------------------
help=$("$TRAIN" --help)
rc=$?
missing=""
for opt in --data --model --mode --cr --epochs --batch --lr --seed --mse-weight --mmd-weight \
           --width --blocks --front --z-bwd --split-seed --train-frac --threads \
           --checkpoint-every --resume --lr-decay --lr-step --max-train --eval-every --quiet \
           --output --help; do
    grep -q -- "$opt" <<<"$help" || missing="$missing $opt"
done
[ $rc -eq 0 ] && [ -z "$missing" ] && pass "invcsi-train --help documents every option" \
    || fail "invcsi-train --help: exit $rc, missing:$missing"
ehelp=$("$EVAL" --help)
rc=$?
missing=""
for opt in --data --weights --split --csv --pca --batch --threads --quiet --help; do
    grep -q -- "$opt" <<<"$ehelp" || missing="$missing $opt"
done
[ $rc -eq 0 ] && [ -z "$missing" ] && pass "invcsi-eval --help documents every option" \
    || fail "invcsi-eval --help: exit $rc, missing:$missing"

expect "no --data" 2 "no data" -- "$TRAIN" -o w.safetensors
expect "no -o" 2 "no output" -- "$TRAIN" --data "$DATA"
expect "unknown option" 2 "unknown option '--bogus'" -- "$TRAIN" --data "$DATA" -o w --bogus
expect "bad --model" 2 "bad value 'foo' for --model" -- "$TRAIN" --data "$DATA" -o w --model foo
expect "bad --mode" 2 "for --mode" -- "$TRAIN" --data "$DATA" -o w --mode quantized
expect "bad --cr" 2 "for --cr" -- "$TRAIN" --data "$DATA" -o w --cr 0
expect "bad --batch" 2 "for --batch" -- "$TRAIN" --data "$DATA" -o w --batch 1
expect "bad --epochs" 2 "not an integer" -- "$TRAIN" --data "$DATA" -o w --epochs ten
expect "bad --front" 2 "for --front" -- "$TRAIN" --data "$DATA" -o w --front diagonal
expect "bad --z-bwd" 2 "for --z-bwd" -- "$TRAIN" --data "$DATA" -o w --z-bwd noise
expect "INN option with csinet" 2 "--width applies to --model inn only" -- \
    "$TRAIN" --data "$DATA" -o w --model csinet --width 16
expect "--lr without value" 2 "needs a value" -- "$TRAIN" --data "$DATA" -o w --lr
expect "--resume with --lr" 2 "cannot be given with --resume" -- \
    "$TRAIN" --data "$DATA" -o w --resume x.ckpt --lr 1e-3
expect "CR the INN cannot split" 2 "" -- "$TRAIN" --data "$DATA" -o w --cr 1/3 --epochs 1
expect "missing data file" 1 "nothing.mat" -- "$TRAIN" --data nothing.mat -o w
expect "batch larger than the training set" 1 "fewer than one batch" -- \
    "$TRAIN" --data "$DATA" -o w --max-train 10 --batch 16 --quiet
expect "eval: no --weights" 2 "no model" -- "$EVAL" --data "$DATA"
expect "eval: bad --split" 2 "for --split" -- "$EVAL" --data "$DATA" --weights x --split dev

# ---- a short run: progress, weights, checkpoint ------------------------------------------
COMMON=(--data "$DATA" --max-train 48 --batch 16 --threads 2 --seed 7)
mkdir -p short && (cd short && "$TRAIN" "${COMMON[@]}" --epochs 2 --checkpoint-every 1 \
    -o w.safetensors >out.txt 2>err.txt)
rc=$?
if [ $rc -eq 0 ] &&
   grep -qE '^epoch 1/2  lr 0.001  loss [0-9.e+-]+ \(mmd [0-9.e+-]+, mse [0-9.e+-]+\)  train NMSE -?[0-9.]+ dB  test NMSE -?[0-9.]+ dB  [0-9]+ samples/s  ETA ' short/err.txt &&
   grep -qE '^epoch 2/2 .*\[checkpoint\]' short/err.txt; then
    pass "one progress line per epoch (epoch, lr, losses, train/test NMSE, samples/s, ETA)"
else
    fail "progress lines (exit $rc): $(cat short/err.txt)"
fi
[ -s short/w.safetensors ] && [ ! -e short/w.safetensors.tmp ] && pass "weights written" \
    || fail "weights file missing"
if [ -s short/w.safetensors.ckpt ] &&
   [ "$(meta_of short/w.safetensors.ckpt format)" = "gr-invcsi-checkpoint-1" ] &&
   grep -q '"epoch":2' <<<"$(meta_of short/w.safetensors.ckpt state)"; then
    pass "checkpoint written with --checkpoint-every 1 (format, state epoch 2)"
else
    fail "checkpoint after --checkpoint-every 1"
fi
cmd=$(meta_of short/w.safetensors command)
[[ "$cmd" == *"--max-train 48 --batch 16"*"--epochs 2"* ]] && pass "command line stored: $cmd" \
    || fail "command metadata: '$cmd'"
[ -n "$(meta_of short/w.safetensors normalisation)" ] && pass "normalisation stored" \
    || fail "normalisation metadata"

# ---- determinism: same command, two directories ------------------------------------------
for d in det1 det2; do
    mkdir -p $d && (cd $d && "$TRAIN" "${COMMON[@]}" --epochs 2 --quiet -o w.safetensors \
        >/dev/null 2>err.txt) || fail "determinism run in $d: $(cat $d/err.txt)"
done
cmp -s det1/w.safetensors det2/w.safetensors && pass "same command twice: identical bytes" \
    || fail "same command twice gave different files"

# ---- SIGINT mid-run, resume = uninterrupted ------------------------------------------------
LONG=(--data "$DATA" --max-train 96 --batch 16 --threads 2 --seed 3 --epochs 8 --eval-every 0)
for kind in inn csinet; do
    mkdir -p full-$kind int-$kind
    (cd full-$kind && "$TRAIN" "${LONG[@]}" --model $kind -o w.safetensors >/dev/null 2>err.txt) \
        || fail "$kind uninterrupted run: $(cat full-$kind/err.txt)"
    cd int-$kind
    "$TRAIN" "${LONG[@]}" --model $kind -o w.safetensors >out.txt 2>err.txt &
    pid=$!
    for _ in $(seq 1 2500); do # wait (up to ~60 s) for the first epoch to finish
        grep -q '^epoch 1/8' err.txt 2>/dev/null && break
        kill -0 $pid 2>/dev/null || break
        sleep 0.02
    done
    kill -INT $pid 2>/dev/null
    wait $pid
    rc=$?
    if [ $rc -eq 130 ] && [ -s w.safetensors.ckpt ] && [ ! -e w.safetensors ] &&
       grep -q "resume with: invcsi-train --data $DATA --resume w.safetensors.ckpt -o w.safetensors" err.txt; then
        pass "$kind: SIGINT -> exit 130, checkpoint, resume hint ($(grep -o 'stopped at [^;]*' err.txt))"
    else
        fail "$kind: SIGINT: exit $rc, files: $(ls), stderr: $(cat err.txt)"
    fi
    "$TRAIN" --data "$DATA" --resume w.safetensors.ckpt -o w.safetensors --threads 2 --quiet \
        >/dev/null 2>err2.txt || fail "$kind: resume: $(cat err2.txt)"
    cd ..
    if out=$(same_tensors full-$kind/w.safetensors int-$kind/w.safetensors resume_command); then
        pass "$kind: interrupted + resumed = uninterrupted ($out, metadata equal)"
    else
        fail "$kind: resumed weights differ: $out"
    fi
    [ -n "$(meta_of int-$kind/w.safetensors resume_command)" ] && pass "$kind: resume_command recorded" \
        || fail "$kind: resume_command missing"
done
expect "resume with other data" 1 "not the data the checkpoint was trained on" -- \
    "$TRAIN" --data other.mat --resume int-inn/w.safetensors.ckpt -o x.safetensors
expect "resume with data of another size" 1 "nt 16 x nc 32 channels but the checkpoint" -- \
    "$TRAIN" --data small16.mat --resume int-inn/w.safetensors.ckpt -o x.safetensors
expect "resume with fewer epochs than done" 2 "already done" -- \
    "$TRAIN" --data "$DATA" --resume short/w.safetensors.ckpt -o x.safetensors --epochs 1
expect "resume a weights file" 1 "not a training checkpoint" -- \
    "$TRAIN" --data "$DATA" --resume short/w.safetensors -o x.safetensors

# ---- invcsi-eval -----------------------------------------------------------------------------
train_db=$(meta_of short/w.safetensors test_nmse_db)
out=$("$EVAL" --data "$DATA" --weights short/w.safetensors --csv eval.csv --pca --quiet 2>&1)
rc=$?
eval_db=$(awk '$1 == "short/w.safetensors" {print $7}' <<<"$out")
if [ $rc -eq 0 ] && [ -n "$eval_db" ] && [ -n "$train_db" ] &&
   "$PY" -c "import sys; sys.exit(0 if abs($eval_db - ($train_db)) < 0.01 else 1)"; then
    pass "eval reproduces the trainer's held-out NMSE ($eval_db vs $train_db dB)"
else
    fail "eval vs trainer NMSE: exit $rc, '$eval_db' vs '$train_db': $out"
fi
grep -qE '^pca \(train split, 48 reports\) +pca +1/16 +128 ' <<<"$out" && pass "PCA row at the same M" \
    || fail "PCA row missing: $out"
head -1 eval.csv | grep -q '^model,kind,cr,m,params,split,samples,nmse_db,rho$' &&
    [ "$(wc -l <eval.csv)" -eq 3 ] && pass "CSV written (header + 2 rows)" || fail "CSV: $(cat eval.csv)"
n_test=$(awk '$1 == "short/w.safetensors" {print $6}' <<<"$out")
[ "$n_test" = "90" ] && pass "test split of 300 reports at 0.7: 90 reports" || fail "test count '$n_test'"
out=$("$EVAL" --data "$DATA" --weights short/w.safetensors --split train --quiet 2>&1)
[ "$(awk '$1 == "short/w.safetensors" {print $6}' <<<"$out")" = "48" ] \
    && pass "--split train = the 48 reports trained on (--max-train)" || fail "--split train: $out"
expect "eval: missing weights" 1 "nothing.safetensors: cannot open" -- \
    "$EVAL" --data "$DATA" --weights nothing.safetensors
expect "eval: a checkpoint" 1 "training checkpoint" -- \
    "$EVAL" --data "$DATA" --weights short/w.safetensors.ckpt
head -c 2000 short/w.safetensors >trunc.safetensors
expect "eval: truncated weights" 1 "trunc.safetensors" -- \
    "$EVAL" --data "$DATA" --weights trunc.safetensors
expect "eval: data of another size" 1 "nt 16 .* trained on nr 1 x nt 32" -- \
    "$EVAL" --data small16.mat --weights short/w.safetensors
expect "eval: other data of the same size warns" 0 "warning: .*not the data" -- \
    "$EVAL" --data other.mat --weights short/w.safetensors --quiet

echo "$failures failure(s)"
[ $failures -eq 0 ]
