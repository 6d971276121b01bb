#!/usr/bin/env bash
# The main job of `make demo`, on shipped defaults. Called by the Makefile with the build dir.
# Runs the headless GNU Radio loopback (examples/loopback_awgn.grc) with the shipped
# InvCSINet weights at several Eb/N0 and prints NMSE, rho and BER per Eb/N0.
set -euo pipefail
build=${1:-build}
out="$build/demo"
mkdir -p "$out"
weights=examples/weights/invcsinet-cr16-b3.safetensors

echo "== gr-invcsi demo: CSI feedback over a BPSK/AWGN link in a GNU Radio flowgraph"
echo "   CDL-C reports (32 BS antennas, 32 subcarriers, 28 GHz, 50 MHz) -> INN encoder ->"
echo "   DAQ (3 bits x 128 values = 384 bits per report) -> BPSK -> AWGN -> demapper ->"
echo "   IC + inverse INN -> NMSE probe; weights: $weights"
if [ -d "$build/test_modules/gnuradio/invcsi" ]; then
    /usr/bin/python3 examples/loopback_demo.py --build "$build" --weights "$weights" \
        --snr-db=-5,0,5,10,20 --reports 500 | tee "$out/loopback.txt"
else
    echo "(GNU Radio blocks not built: running the same link through invcsi-eval instead)"
    "$build/apps/invcsi-gen" --model cdl-c --samples 500 --seed 1000 --quiet -o "$out/cdl-c.mat" >/dev/null
    "$build/apps/invcsi-eval" --data "$out/cdl-c.mat" --weights "$weights" --split all \
        --snr-db -5,0,5,10,20 | tee "$out/loopback.txt"
fi
echo
echo "== the same reports through invcsi-eval (C evaluator, same link, its own noise draws)"
"$build/apps/invcsi-gen" --model cdl-c --samples 500 --seed 1000 --quiet -o "$out/cdl-c.mat" >/dev/null
"$build/apps/invcsi-eval" --data "$out/cdl-c.mat" --weights "$weights" --split all \
    --snr-db -5,0,5,10,20 --csv "$out/eval.csv" --plot "$out/nmse_vs_snr.png"
echo
echo "table: $out/loopback.txt, CSV: $out/eval.csv, plot: $out/nmse_vs_snr.png"
