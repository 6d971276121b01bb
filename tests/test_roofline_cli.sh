#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# invcsi-roofline from the command line:
#   - --help names the presets as vendor datasheet figures, says projections are upper
#     bounds; bad options, values and combinations exit 2 with a message; a missing
#     weights file exits 1;
#   - a run on the shipped examples/weights/inn-cr16.safetensors and one on
#     --model csinet --cr 1/4 print the counts and every projected figure labelled
#     "projection";
#   - --efficiency 0.5 halves the projected samples/s; --verbose prints the layer rows.
set -u
APPS=${INVCSI_APPS_DIR:?run through ctest}
SRC=${INVCSI_SOURCE_DIR:?run through ctest}
RL=$APPS/invcsi-roofline
[ -x "$RL" ] || { echo "SKIP: $RL not built"; exit 77; }
WEIGHTS=$SRC/examples/weights/inn-cr16.safetensors

failures=0
pass() { echo "ok:   $1"; }
fail() { echo "FAIL: $1"; failures=$((failures + 1)); }
# expect DESC STATUS PATTERN -- command...: exit status and an output pattern
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

# ---- help and bad input ----
expect "help" 0 "vendor datasheet figures" -- "$RL" --help
expect "help: upper bound" 0 "UPPER BOUND" -- "$RL" --help
for p in t4 a100 h100 rtx4090; do
    expect "help lists $p" 0 "^ +$p " -- "$RL" --help
done
expect "unknown option" 2 "unknown option or argument '--frobnicate'" -- "$RL" --frobnicate
expect "unknown gpu" 2 "known presets are t4 a100 h100 rtx4090" -- "$RL" --gpu v100
expect "unknown model" 2 "bad value 'foo' for --model" -- "$RL" --model foo
expect "bad cr" 2 "--cr" -- "$RL" --cr abc
expect "bad batch" 2 "--batch" -- "$RL" --batch 1
expect "efficiency above 1" 2 "--efficiency" -- "$RL" --efficiency 1.5
expect "peak without bandwidth" 2 "give both" -- "$RL" --peak-tflops 10
expect "gpu and custom figures" 2 "not both" -- "$RL" --gpu t4 --peak-tflops 1 --bandwidth-gbs 10
expect "weights with --cr" 2 "--weights fixes the model" -- "$RL" --weights "$WEIGHTS" --cr 1/4
expect "missing value" 2 "--batch needs a value" -- "$RL" --batch
expect "samples below batch" 2 "no full batch" -- "$RL" --samples 10
expect "missing weights file" 1 "nonexistent" -- "$RL" --weights nonexistent.safetensors
expect "invalid model size" 1 "INN config" -- "$RL" --model inn --cr 1/3000

# ---- runs ----
if [ -f "$WEIGHTS" ]; then
    out=$("$RL" --weights "$WEIGHTS" 2>&1)
    rc=$?
    if [ "$rc" -ne 0 ]; then
        fail "weights run: exit $rc: $out"
    else
        pass "weights run"
        for pat in "model:      inn" "Counted per training step, batch 128" \
            "Counted per decoded report" "UPPER BOUND" \
            "projection: training step, batch 128" "projection: training samples/s" \
            "projection: schedule 1000 x 12670" "projection: decoded reports/s, batch 1 " \
            "projection: decoded reports/s, batch 128" "vendor datasheet figures" \
            "^t4: " "^a100: " "^h100: " "^rtx4090: "; do
            grep -qE -- "$pat" <<<"$out" && pass "weights run prints /$pat/" ||
                fail "weights run lacks /$pat/"
        done
        # the walk visits exactly the model's trainable parameters
        line=$(grep '^parameters:' <<<"$out")
        n1=$(sed -E 's/^parameters: ([0-9]+) trainable.*/\1/' <<<"$line")
        n2=$(sed -E 's/.*visits ([0-9]+) in a training step.*/\1/' <<<"$line")
        [ -n "$n1" ] && [ "$n1" = "$n2" ] && pass "walk = param count ($n1)" ||
            fail "walk vs param count: $line"
        # every line with a time or rate of a machine carries the label
        bad=$(grep -E '^  [a-z]' <<<"$out" | grep -E 'samples/s|reports/s|schedule' |
              grep -vc 'projection:')
        [ "$bad" -eq 0 ] && pass "every projected figure labelled" ||
            fail "$bad projected lines without the label"
    fi
else
    fail "shipped weights $WEIGHTS missing"
fi

expect "csinet cr 1/4" 0 "projection: training samples/s" -- "$RL" --model csinet --cr 1/4
expect "csinet cr 1/4 decode" 0 "projection: decoded reports/s, batch 128" -- \
    "$RL" --model csinet --cr 1/4 --gpu t4
expect "invcsinet custom machine" 0 "^cpu: 0.1568 TFLOP/s FP32" -- \
    "$RL" --model invcsinet --bits 3 --peak-tflops 0.1568 --bandwidth-gbs 20 --label cpu

# --efficiency 0.5: every row time doubles, the samples/s halve
rate() { "$RL" --model inn --gpu a100 "$@" | sed -nE 's/.*projection: training samples\/s +([0-9]+).*/\1/p'; }
r1=$(rate)
r2=$(rate --efficiency 0.5)
if [ -n "$r1" ] && [ -n "$r2" ] && awk -v a="$r1" -v b="$r2" 'BEGIN { d = a / 2 - b; exit !(d < 2 && d > -2) }'; then
    pass "efficiency 0.5 halves samples/s ($r1 -> $r2)"
else
    fail "efficiency 0.5: $r1 -> $r2"
fi

expect "markdown table" 0 "^\\| t4 \\(8.1 TFLOP/s, 320 GB/s\\) \\|" -- "$RL" --model invcsinet --bits 3 --markdown
expect "markdown header labelled" 0 "training samples/s \\(projection\\)" -- "$RL" --model inn --gpu t4 --markdown
expect "verbose layer rows" 0 "f\\^-1 inn.0.phi.conv0 " -- "$RL" --model inn --gpu t4 --verbose
expect "verbose adam row" 0 "upd adam" -- "$RL" --model inn --gpu t4 --verbose

echo "test_roofline_cli: $failures failure(s)"
[ "$failures" -eq 0 ]
