# SPDX-License-Identifier: GPL-3.0-or-later
"""Weights files of every model kind read with numpy alone (no safetensors package).

tests/test_model_io --write DIR saves a randomised model of each kind and a listing of
its tensors (name, shape, sum of values). This script parses each file by hand from the
format description (8-byte little-endian header length, JSON header, raw little-endian
float32 data) and checks: every listed tensor is there with its shape and values (sum),
nothing else is; the data section is covered exactly; the metadata holds the format,
the config as JSON text and the normalisation as a number equal to config.norm_scale.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what, file=sys.stderr)


def parse_safetensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    meta = header.pop("__metadata__", {})
    tensors, spans = {}, []
    for name, info in header.items():
        check(info["dtype"] == "F32", "%s: dtype %s" % (name, info["dtype"]))
        begin, end = info["data_offsets"]
        shape = tuple(info["shape"])
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        check(end - begin == 4 * count, "%s: byte span matches the shape" % name)
        tensors[name] = np.frombuffer(data[begin:end], dtype="<f4").reshape(shape)
        spans.append((begin, end))
    spans.sort()
    at = 0
    for begin, end in spans:
        check(begin == at, "no gap or overlap at byte %d" % begin)
        at = end
    check(at == len(data), "data section covered exactly")
    return tensors, meta


def main():
    bindir = os.environ.get("INVCSI_BINARY_DIR")
    if not bindir:
        print("SKIP: INVCSI_BINARY_DIR not set (run through ctest)")
        sys.exit(77)
    exe = os.path.join(bindir, "tests", "test_model_io")
    if not os.access(exe, os.X_OK):
        print("SKIP: %s not built" % exe)
        sys.exit(77)
    with tempfile.TemporaryDirectory(dir=".") as d:
        r = subprocess.run([exe, "--write", d], capture_output=True, text=True)
        check(r.returncode == 0, "test_model_io --write: %s" % r.stderr)
        if r.returncode:
            return
        for kind in ("inn", "csinet"):
            tensors, meta = parse_safetensors(os.path.join(d, kind + ".safetensors"))
            listing = {}
            for line in open(os.path.join(d, kind + ".txt")):
                f = line.split()
                rank = int(f[1])
                listing[f[0]] = (tuple(int(v) for v in f[2:2 + rank]), float(f[2 + rank]))
            check(set(tensors) == set(listing),
                  "%s: tensor names: extra %s, missing %s"
                  % (kind, sorted(set(tensors) - set(listing)), sorted(set(listing) - set(tensors))))
            for name, (shape, total) in listing.items():
                t = tensors.get(name)
                if t is None:
                    continue
                check(t.shape == shape, "%s: %s shape %s vs %s" % (kind, name, t.shape, shape))
                got = float(np.sum(t, dtype=np.float64))
                check(abs(got - total) <= 1e-9 * max(1.0, abs(total)),
                      "%s: %s sum %.17g vs %.17g" % (kind, name, got, total))
            check(meta.get("format") == "gr-invcsi-weights-1", "%s: format" % kind)
            cfg = json.loads(meta.get("config", "{}"))
            check(cfg.get("kind") == kind and cfg.get("dim") == 2048 and cfg.get("m") == 128,
                  "%s: config JSON %s" % (kind, cfg))
            check(float(meta.get("normalisation", "nan")) == cfg.get("norm_scale"),
                  "%s: normalisation equals config.norm_scale" % kind)
            check(meta.get("command") == "test_model_io --write", "%s: command" % kind)
            print("%s: %d tensors, %d values, metadata %s read with numpy"
                  % (kind, len(tensors), sum(t.size for t in tensors.values()), sorted(meta)))


main()
if FAILURES:
    print("%d failures" % len(FAILURES))
    sys.exit(1)
print("ok")
