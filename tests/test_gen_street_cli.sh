#!/usr/bin/env bash
# invcsi-gen --model street: the built-in scene prints as the shipped scene file, a small
# data set is written with user positions and reads back, and bad scene input is refused.
set -u
GEN="$INVCSI_APPS_DIR/invcsi-gen"
INFO="$INVCSI_APPS_DIR/invcsi-info"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

"$GEN" --print-scene >scene.json || fail "--print-scene exited $?"
cmp -s scene.json "$INVCSI_SOURCE_DIR/data/scenes/street-default.json" ||
    fail "--print-scene differs from data/scenes/street-default.json"

"$GEN" --model street --samples 300 --seed 5 --quiet -o s.mat >out.txt 2>err.txt ||
    fail "street generation failed: $(cat err.txt)"
grep -q "^model: *street" out.txt || fail "summary lacks the model: $(cat out.txt)"
grep -q "without a path (skipped)" out.txt || fail "summary lacks the skipped-user count"
"$INFO" s.mat >info.txt 2>&1 || fail "invcsi-info cannot read the street file: $(cat info.txt)"
grep -q "samples (n): *300" info.txt || fail "wrong sample count: $(cat info.txt)"
grep -q "positions: *x \[" info.txt || fail "positions not stored: $(grep -i positions info.txt)"

"$GEN" --model street --scene scene.json --samples 300 --seed 5 --quiet -o s2.mat >/dev/null 2>&1 ||
    fail "street from the scene file failed"
"$INFO" s.mat --sample 17 >a.txt && "$INFO" s2.mat --sample 17 >b.txt && cmp -s a.txt b.txt ||
    fail "built-in scene and its file give different channels"

echo '{"name": "broken", ' >bad.json
"$GEN" --model street --scene bad.json -o x.mat >/dev/null 2>err.txt
rc=$?
[ $rc -eq 1 ] || fail "malformed scene: exit $rc, want 1"
grep -q "bad.json" err.txt || fail "malformed scene error does not name the file: $(cat err.txt)"
[ ! -e x.mat ] || fail "a file was written for a bad scene"

"$GEN" --model cdl-c --scene scene.json -o x.mat >/dev/null 2>err.txt
[ $? -eq 2 ] || fail "--scene with cdl-c must be a usage error"
"$GEN" --model cdl-c --samples 0 -o x.mat >/dev/null 2>err.txt
[ $? -eq 2 ] || fail "--samples 0 with cdl-c must be a usage error"

# --normalize sample: every sample at unit mean power, the same channels up to a scale
"$GEN" --model street --samples 300 --seed 5 --normalize sample --quiet -o n.mat >nout.txt 2>err.txt ||
    fail "--normalize sample failed: $(cat err.txt)"
grep -q "^normalised: .*dB spread" nout.txt || fail "summary lacks the removed gain spread: $(cat nout.txt)"
"$INVCSI_PYTHON" - s.mat n.mat <<'PY' || fail "normalised data wrong (see above)"
import sys, h5py, numpy as np
def load(p):
    with h5py.File(p, "r") as f:
        h = f["H"][()]
    return h["real"] + 1j * h["imag"] if h.dtype.names else h
a, b = load(sys.argv[1]), load(sys.argv[2])
pa = np.mean(np.abs(a.reshape(len(a), -1)) ** 2, axis=1)
pb = np.mean(np.abs(b.reshape(len(b), -1)) ** 2, axis=1)
ok = np.allclose(pb, 1.0, rtol=1e-4)
ratio = b.reshape(len(b), -1) / (a.reshape(len(a), -1) / np.sqrt(pa)[:, None])
ok = ok and np.allclose(ratio, 1.0, rtol=1e-3)
print("normalised power %.6f..%.6f, gain spread %.1f dB" % (pb.min(), pb.max(), 10 * np.log10(pa.max() / pa.min())))
sys.exit(0 if ok else 1)
PY
"$GEN" --model street --samples 10 --normalize peak -o x.mat >/dev/null 2>err.txt
[ $? -eq 2 ] || fail "--normalize peak must be a usage error"
grep -q "none or sample" err.txt || fail "bad --normalize message: $(cat err.txt)"

if [ $failures -ne 0 ]; then echo "test_gen_street_cli: $failures failures"; exit 1; fi
echo "test_gen_street_cli: ok"
