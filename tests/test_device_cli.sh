#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# --device cpu|cuda|auto on invcsi-train and invcsi-eval (include/invcsi/backend.h):
#   - --help documents it; a bad value exits 2;
#   - --device cuda for a CsiNet exits 1 with exactly one line naming why: here (no GPU)
#     the CUDA error string (cudaGetDeviceCount / cublasCreate / the module that cannot
#     load), in a build without nvcc "built without CUDA", and on a GPU machine "only the
#     INN model runs on CUDA in this version"; nothing is written (the INN itself trains
#     on CUDA there: tests/test_gpu_train_step covers that, label gpu);
#   - --device auto runs on the CPU and says so in one stderr line;
#   - --device cpu (the default) says nothing about devices.
set -u
APPS=${INVCSI_APPS_DIR:?run through ctest}
BIN=${INVCSI_BINARY_DIR:?run through ctest}
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

# what `cuda` must say in this build
if [ -e "$BIN/lib/libinvcsi_cuda_backend.so" ]; then
    why="device 'cuda' is not available: (cudaGetDeviceCount failed|cudaGetDeviceCount found no|cublasCreate failed|cannot load the CUDA backend module|only the INN model .*runs on CUDA)"
    echo "build with CUDA: expecting the CUDA error string"
else
    why="device 'cuda' is not available: this libinvcsi was built without CUDA"
    echo "build without CUDA: expecting 'built without CUDA'"
fi

rm -f data.mat w.safetensors w-cuda.safetensors w-auto.safetensors
"$GEN" --model cdl-c --samples 60 --nt 16 --nc 16 --seed 3 -o data.mat --quiet >/dev/null ||
    { fail "invcsi-gen"; exit 1; }
TRAIN_ARGS=(--data data.mat --epochs 1 --batch 16 --eval-every 0 --quiet)

for prog in "$TRAIN" "$EVAL"; do
    name=$(basename "$prog")
    "$prog" --help | grep -q -- "--device D" && pass "$name --help documents --device" ||
        fail "$name --help lacks --device"
    out=$("$prog" --device gpu --data data.mat -o x --weights x 2>&1)
    rc=$?
    [ $rc -eq 2 ] && grep -q "bad value 'gpu' for --device" <<<"$out" &&
        pass "$name --device gpu: exit 2" || fail "$name --device gpu: exit $rc: $out"
done

# ---- invcsi-train ----------------------------------------------------------------------
out=$("$TRAIN" "${TRAIN_ARGS[@]}" --model csinet --device cuda -o w-cuda.safetensors 2>&1)
rc=$?
lines=$(printf '%s\n' "$out" | wc -l)
if [ $rc -eq 1 ] && [ "$lines" -eq 1 ] && grep -qE "^invcsi-train: $why" <<<"$out" &&
    [ ! -e w-cuda.safetensors ]; then
    pass "invcsi-train --device cuda: exit 1, one line: $out"
else
    fail "invcsi-train --device cuda: exit $rc, $lines lines: $out"
fi

out=$("$TRAIN" "${TRAIN_ARGS[@]}" --device auto -o w-auto.safetensors 2>&1)
rc=$?
auto_lines=$(grep -c "device auto" <<<"$out")
if [ $rc -eq 0 ] && [ "$auto_lines" -eq 1 ] &&
    grep -q "^invcsi-train: device auto: using cpu" <<<"$out" && [ -s w-auto.safetensors ]; then
    pass "invcsi-train --device auto: trains on the cpu and says so"
else
    fail "invcsi-train --device auto: exit $rc: $out"
fi

out=$("$TRAIN" "${TRAIN_ARGS[@]}" -o w.safetensors 2>&1)
rc=$?
if [ $rc -eq 0 ] && ! grep -qi "device" <<<"$out" && [ -s w.safetensors ]; then
    pass "invcsi-train default (cpu): no device line"
else
    fail "invcsi-train default: exit $rc: $out"
fi
# the same tensors (the metadata differ: the command line is recorded)
"$PY" - w.safetensors w-auto.safetensors <<'EOF' && pass "auto and cpu give the same tensors" ||
import json, struct, sys
def tensors(p):
    raw = open(p, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    h = json.loads(raw[8:8 + n])
    h.pop("__metadata__", None)
    return {k: raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in h.items()}
sys.exit(0 if tensors(sys.argv[1]) == tensors(sys.argv[2]) else 1)
EOF
    fail "auto and cpu tensors differ"

# ---- invcsi-eval -----------------------------------------------------------------------
out=$("$EVAL" --data data.mat --weights w.safetensors --device cuda 2>&1)
rc=$?
lines=$(printf '%s\n' "$out" | wc -l)
if [ $rc -eq 1 ] && [ "$lines" -eq 1 ] && grep -qE "^invcsi-eval: $why" <<<"$out"; then
    pass "invcsi-eval --device cuda: exit 1, one line"
else
    fail "invcsi-eval --device cuda: exit $rc, $lines lines: $out"
fi

err=$("$EVAL" --data data.mat --weights w.safetensors --device auto --quiet 2>&1 >eval.out)
rc=$?
if [ $rc -eq 0 ] && [ "$(grep -c "device auto" <<<"$err")" -eq 1 ] &&
    grep -q "^invcsi-eval: device auto: using cpu" <<<"$err" && grep -q "NMSE" eval.out; then
    pass "invcsi-eval --device auto: evaluates on the cpu and says so"
else
    fail "invcsi-eval --device auto: exit $rc: $err $(cat eval.out)"
fi

[ $failures -eq 0 ] && echo "test_device_cli: all passed" || echo "test_device_cli: $failures failed"
exit $((failures > 0))
