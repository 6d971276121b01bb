# SPDX-License-Identifier: GPL-3.0-or-later
"""Cross-check of the safetensors weights format against an independent reader/writer.

Uses numpy only (no safetensors package): the format is parsed and written by hand, the
way the specification describes it (8-byte little-endian header length, JSON header
padded with spaces, raw little-endian data with offsets relative to the data section).

1. The C side (test_safetensors --write) writes a known file; this script checks every
   tensor name, shape and value bit pattern and every metadata string.
2. This script writes files with numpy; the C side (test_safetensors --read) loads them
   and prints shapes and FNV-1a hashes of the bytes, compared here; and it must refuse a
   file with a float16 tensor, naming the dtype.
"""
import json
import os
import struct
import subprocess
import sys

import numpy as np

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what, file=sys.stderr)


def find_binary():
    bindir = os.environ.get("INVCSI_BINARY_DIR")
    if not bindir:
        print("SKIP: INVCSI_BINARY_DIR not set (run through ctest)")
        sys.exit(77)
    exe = os.path.join(bindir, "tests", "test_safetensors")
    if not os.access(exe, os.X_OK):
        print("SKIP: %s not built" % exe)
        sys.exit(77)
    return exe


def parse_safetensors(path):
    """Hand-written reader following the format description."""
    raw = open(path, "rb").read()
    assert len(raw) >= 8, "file shorter than 8 bytes"
    (n,) = struct.unpack("<Q", raw[:8])
    header_bytes = raw[8:8 + n]
    assert len(header_bytes) == n, "header truncated"
    header = json.loads(header_bytes.decode("utf-8"))
    data = raw[8 + n:]
    meta = header.pop("__metadata__", {})
    tensors = {}
    spans = []
    for name, info in header.items():
        assert info["dtype"] == "F32", name
        begin, end = info["data_offsets"]
        shape = tuple(info["shape"])
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        assert end - begin == 4 * count, name
        arr = np.frombuffer(data[begin:end], dtype="<f4").reshape(shape)
        tensors[name] = arr
        spans.append((begin, end, name))
    spans.sort()
    at = 0
    for begin, end, name in spans:
        assert begin == at, "gap/overlap at %s" % name
        at = end
    assert at == len(data), "data section not fully covered"
    return n, header_bytes, tensors, meta, [s[2] for s in spans]


# Must match build_known()/known_meta() in tests/test_safetensors.c.
KNOWN_META = {
    "config": '{"model": "invcsinet", "nt": 32, "nc": 32, "cr": "1/16", '
              '"note": "quote \\" backslash \\\\ newline \\n"}',
    "normalisation": "power=1.2345e-3",
    "command": 'invcsi-train --cr 1/16 --out "w.safetensors"\tx',
    "unicode \u2713": "\u00c5ngstr\u00f6m \u2713 \U0001F600",
}
SPECIAL_BITS = np.array([0x00000000, 0x80000000, 0x00000001, 0x7f7fffff, 0xff800000, 0x7fc00001],
                        dtype=np.uint32)


def known_tensors():
    k = np.arange(108)
    weight = ((k % 29 - 14) / 8.0).astype(np.float32).reshape(4, 3, 3, 3)
    bias = (np.arange(4) * 0.25 - 0.5).astype(np.float32)
    levels = SPECIAL_BITS.view(np.float32).reshape(2, 3)
    scale = np.array(3.14159274, dtype=np.float32).reshape(())
    return {"inn.0.phi.weight": weight, "inn.0.phi.bias": bias, "daq.levels": levels,
            "scale": scale}


def check_c_written(exe):
    path = "from_c.safetensors"
    if os.path.exists(path):
        os.remove(path)
    r = subprocess.run([exe, "--write", path], capture_output=True, text=True)
    check(r.returncode == 0, "--write failed: %s" % r.stderr)
    if r.returncode != 0:
        return
    n, header_bytes, tensors, meta, order = parse_safetensors(path)
    check(n % 8 == 0, "header length %d is a multiple of 8" % n)
    check(header_bytes.rstrip(b" ").endswith(b"}") and header_bytes.startswith(b"{"),
          "header is a JSON object padded with spaces")
    expected = known_tensors()
    check(order == list(expected), "data in table order: %s" % order)
    check(set(tensors) == set(expected), "tensor names %s" % sorted(tensors))
    for name, want in expected.items():
        got = tensors.get(name)
        if got is None:
            continue
        check(got.shape == want.shape, "%s shape %s vs %s" % (name, got.shape, want.shape))
        check(got.view(np.uint32).tobytes() == want.view(np.uint32).tobytes(),
              "%s values bit-identical" % name)
    check(meta == KNOWN_META, "metadata identical: %r" % meta)
    cfg = json.loads(meta.get("config", "{}"))
    check(cfg.get("nt") == 32 and cfg.get("note") == 'quote " backslash \\ newline \n',
          "config metadata is JSON text")
    print("C-written file: %d tensors, %d metadata entries verified with numpy"
          % (len(tensors), len(meta)))


def write_safetensors(path, tensors, meta=None, pad=True, order=None):
    """Hand-written writer: header keys sorted (as Python's safetensors does), data in the
    given order (default: reverse of the header, so offsets are not monotonic in it)."""
    names = order or sorted(tensors, reverse=True)
    header = {}
    offset = 0
    blobs = []
    for name in names:
        arr = np.asarray(tensors[name])  # (ascontiguousarray would turn a scalar into [1])
        blob = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes(order="C")
        dtype = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16"}[arr.dtype]
        header[name] = {"dtype": dtype, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    if meta is not None:
        header["__metadata__"] = meta
    # the unpadded variant also escapes non-ASCII as \uXXXX (both are valid JSON)
    text = json.dumps(dict(sorted(header.items())), ensure_ascii=not pad).encode("utf-8")
    if pad:
        text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def c_read(exe, path):
    r = subprocess.run([exe, "--read", path], capture_output=True, text=True)
    return r.returncode, (json.loads(r.stdout) if r.returncode == 0 else None), r.stderr


def check_numpy_written(exe):
    rng = np.random.default_rng(2024)
    tensors = {
        "encoder.conv1.weight": rng.standard_normal((24, 64, 3, 3)).astype(np.float32),
        "encoder.conv1.bias": rng.standard_normal(24).astype(np.float32),
        "latent.mu": np.array(0.125, dtype=np.float32),
        "ic.lan.weight": rng.standard_normal((2, 3, 5)).astype(np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
        "unicode.\u00e9": np.array([np.inf, -0.0, np.nan, 1e-45], dtype=np.float32),
    }
    meta = {"config": json.dumps({"cr": 0.0625, "B": 4}), "note": "written by numpy \u2713"}
    cases = [("np_padded.safetensors", meta, True), ("np_unpadded.safetensors", None, False)]
    for path, m, pad in cases:
        write_safetensors(path, tensors, m, pad)
        rc, out, err = c_read(exe, path)
        check(rc == 0, "%s: C reader accepted it (%s)" % (path, err.strip()))
        if rc != 0:
            continue
        check(set(out["tensors"]) == set(tensors), "%s: names %s" % (path, sorted(out["tensors"])))
        for name, arr in tensors.items():
            t = out["tensors"].get(name)
            if t is None:
                continue
            check(tuple(t["shape"]) == arr.shape, "%s: %s shape" % (path, name))
            check(t["count"] == arr.size, "%s: %s count" % (path, name))
            check(t["fnv1a64"] == fnv1a64(arr.astype("<f4").tobytes()),
                  "%s: %s bytes identical (hash)" % (path, name))
        check(out["metadata"] == (m or {}), "%s: metadata %r" % (path, out["metadata"]))
    print("numpy-written files: %d tensors each read by C with identical bytes" % len(tensors))

    # refusals the C side must report clearly
    write_safetensors("np_f16.safetensors",
                      {"a": np.ones(3, np.float32), "half": np.ones(4, np.float16)})
    rc, _, err = c_read(exe, "np_f16.safetensors")
    check(rc == 2 and "dtype F16" in err and "np_f16.safetensors" in err
          and '"half"' in err, "float16 tensor refused: %s" % err.strip())
    good = open("np_padded.safetensors", "rb").read()
    open("np_truncated.safetensors", "wb").write(good[:-3])
    rc, _, err = c_read(exe, "np_truncated.safetensors")
    check(rc == 2 and "truncated" in err, "truncated file refused: %s" % err.strip())


def main():
    exe = find_binary()
    check_c_written(exe)
    check_numpy_written(exe)
    if FAILURES:
        print("test_safetensors_numpy: %d failures" % len(FAILURES))
        return 1
    print("test_safetensors_numpy: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
