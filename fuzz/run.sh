#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Builds and runs the rANS decoder / report PDU fuzz target (fuzz/fuzz_rans_decode.c)
# for a bounded time. See fuzz/README.md.
#
#   fuzz/run.sh [--seconds S] [--workdir DIR] [--seed N]
#
# With clang and libFuzzer (Debian: clang-14 with libclang-rt-14-dev): builds with
# -fsanitize=fuzzer,address,undefined and fuzzes for S seconds (default 20) from seeds
# made by the standalone build; the corpus grows in DIR/corpus across runs.
# Otherwise, with a compiler that has ASan (gcc or clang): builds the standalone driver
# with -fsanitize=address,undefined and runs the seeds plus deterministic mutations for
# about S seconds. Neither: prints why and exits 77 (skip).
# Exit 0: no crash; 1: a crash or a finding (the input is kept in DIR as crash-*);
# 2: bad usage or build failure.
set -u
seconds=20
work="${TMPDIR:-/tmp}/invcsi-fuzz-rans"
seed=1
while [ $# -gt 0 ]; do
    case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --workdir) work="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    -h|--help) sed -n '4,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fuzz/run.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
done
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
lib="$src/lib"
sources=("$src/fuzz/fuzz_rans_decode.c" "$lib/rans.c" "$lib/cdf_table.c" "$lib/crc.c"
         "$lib/report_codec.c" "$lib/error.c")
cflags=(-std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer -I"$src/include" -I"$src/kernels")
mkdir -p "$work/corpus" "$work/seeds" || exit 2

probe() { # probe COMPILER FLAGS...: can it build and run a program with these flags?
    local cc="$1"; shift
    printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }\n%s\n' \
        "$PROBE_MAIN" > "$work/probe.c"
    "$cc" "$@" "$work/probe.c" -o "$work/probe" >/dev/null 2>&1 && "$work/probe" -runs=1 >/dev/null 2>&1
}

if command -v clang >/dev/null 2>&1 && PROBE_MAIN="" probe clang -fsanitize=fuzzer,address; then
    echo "fuzz: clang $(clang --version | head -1 | sed 's/.*version //') with libFuzzer," \
         "ASan and UBSan, ${seconds} s"
    san=(-fsanitize=address,undefined -fno-sanitize-recover=undefined)
    clang "${cflags[@]}" -fsanitize=fuzzer "${san[@]}" "${sources[@]}" -lm \
        -o "$work/fuzz_rans_decode" || { echo "fuzz: build failed" >&2; exit 2; }
    INVCSI_FUZZ_MAKE_CORPUS="$work/seeds" "$work/fuzz_rans_decode" -runs=0 || exit 2
    "$work/fuzz_rans_decode" -max_total_time="$seconds" -seed="$seed" -rss_limit_mb=2048 \
        -max_len=1200 -print_final_stats=1 -artifact_prefix="$work/" \
        "$work/corpus" "$work/seeds" > "$work/fuzz.log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/fuzz.log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$work/fuzz.log" | tail -1)
    corpus=$(ls "$work/corpus" | wc -l)
    if [ $rc -ne 0 ]; then
        tail -40 "$work/fuzz.log"
        echo "fuzz: CRASH or finding after ${execs:-?} executions (input saved as $work/crash-*)"
        exit 1
    fi
    echo "fuzz: ${seconds} s, ${execs} executions (${rate}/s), ${cov}, corpus ${corpus} inputs," \
         "no crash (log: $work/fuzz.log)"
    exit 0
fi

for cc in clang gcc cc; do
    command -v "$cc" >/dev/null 2>&1 || continue
    PROBE_MAIN="int main(void) { return LLVMFuzzerTestOneInput(0, 0); }" \
        probe "$cc" -fsanitize=address || continue
    echo "fuzz: no libFuzzer; plain driver built with $cc, ASan and UBSan"
    "$cc" "${cflags[@]}" -DINVCSI_FUZZ_STANDALONE -fsanitize=address,undefined \
        -fno-sanitize-recover=undefined "${sources[@]}" -lm -o "$work/fuzz_rans_decode_standalone" \
        || { echo "fuzz: build failed" >&2; exit 2; }
    "$work/fuzz_rans_decode_standalone" --make-corpus "$work/seeds" || exit 2
    # about 20k mutations per second under ASan here: scale to the time budget
    "$work/fuzz_rans_decode_standalone" --mutate $((seconds * 10000)) "$seed" "$work"/seeds/* \
        || { echo "fuzz: CRASH or finding"; exit 1; }
    exit 0
done
echo "SKIP: no compiler with AddressSanitizer (clang or gcc -fsanitize=address) found"
exit 77
