#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Every CUDA kernel (kernels/*.cu) compiles with nvcc for sm_75, sm_80 and sm_90, and ptxas
# reports no spill stores/loads, no stack frame and no local memory for any function:
# per-thread scratch must live in registers or in caller-provided global buffers. Prints
# a table of registers per kernel and architecture. Skips (77) where nvcc is absent.
#
# Only the device code is compiled (-cubin: no host pass), one file and arch at a time.
set -u
NVCC=${INVCSI_NVCC:-}
if [ -z "$NVCC" ]; then
    if [ -x /usr/local/cuda/bin/nvcc ]; then
        NVCC=/usr/local/cuda/bin/nvcc
    else
        NVCC=$(command -v nvcc || true)
    fi
fi
if [ -z "$NVCC" ] || [ ! -x "$NVCC" ]; then
    echo "SKIP: nvcc not found (looked at /usr/local/cuda/bin/nvcc and on PATH)"
    exit 77
fi
SRC=${INVCSI_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
ARCHS=${INVCSI_PTXAS_ARCHS:-"75 80 90"}
work=$(mktemp -d)
export NVCC SRC
trap 'rm -rf "$work"' EXIT

shopt -s nullglob
sources=("$SRC"/kernels/*.cu)
if [ ${#sources[@]} -eq 0 ]; then
    echo "FAIL: no kernels/*.cu under $SRC"
    exit 1
fi

# compile: one job per (file, arch), two at a time (the machine has 2 cores)
for cu in "${sources[@]}"; do
    for arch in $ARCHS; do
        printf '%s\n%s\n' "$cu" "$arch"
    done
done | xargs -d '\n' -n 2 -P 2 bash -c '
    cu=$1 arch=$2 log="$0/$(basename "$cu" .cu).sm_$arch.log"
    if "$NVCC" -cubin -arch="sm_$arch" -I"$SRC/kernels" -I"$SRC/include" -Xptxas -v \
        -o "$0/$(basename "$cu" .cu).sm_$arch.cubin" "$cu" >"$log" 2>&1; then
        touch "$log.ok"
    fi' "$work"

status=0
for cu in "${sources[@]}"; do
    for arch in $ARCHS; do
        log="$work/$(basename "$cu" .cu).sm_$arch.log"
        if [ ! -e "$log.ok" ]; then
            echo "FAIL: nvcc -arch=sm_$arch $(basename "$cu") did not compile:"
            cat "$log"
            status=1
            continue
        fi
        # ptxas prints, per function:
        #   Compiling entry function 'NAME' for 'sm_XX'     (kernels only)
        #   Function properties for NAME
        #       S bytes stack frame, T bytes spill stores, U bytes spill loads
        #   Used R registers, ... [, L bytes lmem] [, C bytes cumulative stack size] ...
        awk -v file="$(basename "$cu")" -v arch="sm_$arch" '
            /Function properties for/ { fn = $NF; next }
            /bytes stack frame/ {
                if ($1 + 0 > 0 || $5 + 0 > 0 || $9 + 0 > 0) {
                    printf "FAIL: %s %s %s: %s\n", file, arch, fn, $0; bad = 1
                }
                next
            }
            /Used [0-9]+ registers/ {
                for (i = 1; i <= NF; i++) {
                    if ($i == "registers,") regs = $(i - 1)
                    if (($i ~ /^lmem/ || ($i == "cumulative" && $(i + 1) == "stack")) && $(i - 2) + 0 > 0) {
                        printf "FAIL: %s %s %s: %s\n", file, arch, fn, $0; bad = 1
                    }
                }
                printf "REGS %s %s %s %s\n", file, arch, fn, regs
            }
            END { exit bad }' "$log" >>"$work/report" || status=1
    done
done
if command -v c++filt >/dev/null; then # readable kernel names: drop the argument list
    while read -r tag f a fn r; do
        if [ "$tag" = REGS ]; then
            fn=$(printf '%s\n' "$fn" | c++filt | sed -E 's/\(anonymous namespace\)::/anon::/; s/\(.*//; s/ /_/g')
        fi
        echo "$tag $f $a $fn $r"
    done <"$work/report" >"$work/report.txt"
    mv "$work/report.txt" "$work/report"
fi

grep '^FAIL' "$work/report"
# registers per kernel: one row per function, one column per arch
awk '/^REGS/ { key = $2 " " $4; if (!(key in seen)) { seen[key] = 1; order[++n] = key }
               r[key, $3] = $5; archs[$3] = 1 }
     END {
         na = 0; for (a in archs) list[++na] = a
         for (i = 1; i <= na; i++) for (j = i + 1; j <= na; j++)
             if (list[j] < list[i]) { t = list[i]; list[i] = list[j]; list[j] = t }
         printf "%-50s", "registers (file function)"; for (i = 1; i <= na; i++) printf " %6s", list[i]; printf "\n"
         for (k = 1; k <= n; k++) {
             printf "%-50s", order[k]; for (i = 1; i <= na; i++) printf " %6s", r[order[k], list[i]]; printf "\n"
         }
     }' "$work/report"
count=$(grep -c '^REGS' "$work/report")
if [ "$status" -ne 0 ]; then
    echo "FAIL: spills, stack frames or local memory above (or a compile error)"
    exit 1
fi
echo "OK: $count function/arch pairs, no spills, no stack frame, no local memory"
