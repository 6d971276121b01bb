#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Bounded fuzz run of the rANS decoder and report PDU parser (fuzz/run.sh): libFuzzer with
# ASan and UBSan for 20 s when clang has it, else the plain driver under ASan over seeds
# and mutations; exit 77 (skip) when no compiler has ASan. Any crash, sanitizer report or
# accepted input that does not re-encode to itself fails the test.
set -u
src="${INVCSI_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
seconds="${INVCSI_FUZZ_SECONDS:-20}"
exec bash "$src/fuzz/run.sh" --seconds "$seconds" --workdir "$PWD/fuzz-work" --seed 1
