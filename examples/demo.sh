#!/usr/bin/env bash
# The main job of `make demo`, on shipped defaults. Called by the Makefile with the build dir.
set -euo pipefail
build=${1:-build}
out="$build/demo"
mkdir -p "$out"

echo "== gr-invcsi demo: generate a 3GPP TR 38.901 CDL-C data set (defaults: 32 BS antennas,"
echo "   1 UE antenna, 32 subcarriers across 50 MHz at 28 GHz, 66 ns median delay spread)"
"$build/apps/invcsi-gen" --model cdl-c --samples 2000 --seed 1 -o "$out/cdl-c.mat"
echo
echo "== read it back through the loader"
"$build/apps/invcsi-info" "$out/cdl-c.mat"
