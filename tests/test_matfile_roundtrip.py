# SPDX-License-Identifier: GPL-3.0-or-later
"""MAT files across tools: what invcsi-gen writes, h5py reads (shape (n, nr, nt, nc), the
same float32 values invcsi-info prints, every config field); what Python writes (h5py
v7.3 with the MATLAB userblock, scipy v5) the loader reads with the same numbers:
invcsi H+config, DeepMIMO `channels` arrays and the DeepMIMO v2 struct, CsiNet/COST2100 HT.

The helpers (write_mat73, info_sample, ...) are imported by test_badfiles.py too.
"""
import os
import subprocess
import sys
import time

import numpy as np

APPS = os.environ.get("INVCSI_APPS_DIR", "")


def app(name):
    return os.path.join(APPS, name)


# ---------------------------------------------------------------- MAT v7.3 from Python
# What matio needs to read an h5py file as MAT v7.3:
#  - a 512-byte userblock whose first 128 bytes are MATLAB's header: 116 bytes of text,
#    8 bytes subsystem offset, version 0x0200 and the endian mark 'IM' at bytes 124..127;
#  - on every dataset/group an attribute MATLAB_class ("double", "single", "char",
#    "struct", ...) that is a fixed-length NULLTERM string of exactly the class name
#    (h5py's default NULLPAD string is read back one character short and not recognised);
#  - complex data as a compound with fields named 'real' and 'imag' (h5py's own complex
#    type uses 'r'/'i');
#  - structs as groups with MATLAB_class "struct" and MATLAB_fields (vlen of 1-char
#    strings, one entry per field name);
#  - char arrays as uint16 with MATLAB_int_decode = 2.
# h5py (numpy) order is MATLAB order reversed: numpy shape (n, nr, nt, nc) is MATLAB
# size nc x nt x nr x n.

def _set_matlab_class(obj, cls):
    import h5py
    tid = h5py.h5t.C_S1.copy()
    tid.set_size(len(cls))
    tid.set_strpad(h5py.h5t.STR_NULLTERM)
    aid = h5py.h5a.create(obj.id, b"MATLAB_class", tid, h5py.h5s.create(h5py.h5s.SCALAR))
    aid.write(np.array(cls.encode(), dtype="S%d" % len(cls)), mtype=tid)


_CLASSES = {np.dtype(np.float32): "single", np.dtype(np.float64): "double",
            np.dtype(np.uint64): "uint64", np.dtype(np.int32): "int32",
            np.dtype(np.uint8): "uint8"}


def _put(group, name, value, matlab_class=True):
    import h5py
    if isinstance(value, dict):
        sub = group.create_group(name)
        _set_matlab_class(sub, "struct")
        names = np.empty(len(value), dtype=object)
        for i, k in enumerate(value):
            names[i] = np.array([bytes([ch]) for ch in k.encode()], dtype="S1")
        sub.attrs.create("MATLAB_fields", names, dtype=h5py.vlen_dtype(np.dtype("S1")))
        for k, v in value.items():
            _put(sub, k, v)
        return
    if isinstance(value, str):
        codes = np.array([ord(ch) for ch in value], dtype=np.uint16).reshape(-1, 1)
        d = group.create_dataset(name, data=codes)
        _set_matlab_class(d, "char")
        d.attrs.create("MATLAB_int_decode", np.int32(2))
        return
    a = np.asarray(value)
    if np.iscomplexobj(a):
        base = np.float32 if a.dtype == np.complex64 else np.float64
        b = np.empty(a.shape, np.dtype([("real", base), ("imag", base)]))
        b["real"] = a.real
        b["imag"] = a.imag
        d = group.create_dataset(name, data=b)
        cls = "single" if base == np.float32 else "double"
    else:
        d = group.create_dataset(name, data=a)
        cls = _CLASSES[a.dtype]
    if matlab_class:
        _set_matlab_class(d, cls)


def write_mat73(path, variables, matlab_class=True, header=True):
    """Writes {name: array | str | dict} as a MAT v7.3 file with h5py."""
    import h5py
    with h5py.File(path, "w", userblock_size=512) as f:
        for k, v in variables.items():
            _put(f, k, v, matlab_class)
    if header:
        text = ("MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: %s HDF5 schema 1.00 ."
                % time.strftime("%a %b %d %H:%M:%S %Y")).encode()
        hdr = text.ljust(116, b" ") + b"\0" * 8 + b"\x00\x02" + b"IM"
        with open(path, "r+b") as fh:
            fh.write(hdr)


# ---------------------------------------------------------------- invcsi-info helpers

def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def info_sample(path, i):
    """Sample i as invcsi-info prints it: complex64 array (nr, nt, nc)."""
    p = run([app("invcsi-info"), path, "--sample", str(i)])
    if p.returncode != 0:
        raise AssertionError("invcsi-info %s --sample %d failed (%d): %s"
                             % (path, i, p.returncode, p.stderr.strip()))
    rows = [line.split() for line in p.stdout.splitlines()]
    r, t, k = (max(int(row[j]) for row in rows) + 1 for j in range(3))
    h = np.zeros((r, t, k), np.complex64)
    for row in rows:
        # %.9g round-trips float32 exactly
        h[int(row[0]), int(row[1]), int(row[2])] = (np.float32(row[3])
                                                     + 1j * np.float32(row[4]))
    return h


def info_summary(path):
    p = run([app("invcsi-info"), path])
    if p.returncode != 0:
        raise AssertionError("invcsi-info %s failed: %s" % (path, p.stderr.strip()))
    out = {}
    for line in p.stdout.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out


failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def check_samples(path, expected, what, exact=True, tol=0.0):
    """expected: complex array (n, nr, nt, nc); compares a few samples."""
    n = expected.shape[0]
    for i in sorted({0, n // 2, n - 1}):
        got = info_sample(path, i)
        exp = expected[i]
        ok = got.shape == exp.shape and (
            np.array_equal(got, exp.astype(np.complex64)) if exact
            else np.max(np.abs(got - exp)) <= tol)
        check(ok, "%s: sample %d differs (shape %s vs %s, max err %s)" % (
            what, i, got.shape, exp.shape,
            np.max(np.abs(got - exp)) if got.shape == exp.shape else "-"))


def cost2100_to_h(ht):
    """CsiNet HT rows -> frequency-domain H (n, 1, 32, 32), as DESIGN.md section 2 says:
    x = HT - 0.5, (2, 32, 32) = [re, im][angle p][delay q], and the inverse of
    X[p][q] = 1/sqrt(nt nc) sum_t sum_k H[t][k] e^{-j2pi pt/nt} e^{+j2pi qk/nc}."""
    x = (ht.astype(np.float64) - 0.5).reshape(-1, 2, 32, 32)
    X = x[:, 0] + 1j * x[:, 1]
    H = np.fft.fft(np.fft.ifft(X, axis=-2), axis=-1) * 32 / np.sqrt(32 * 32)
    return H[:, None]


# ---------------------------------------------------------------- the tests

def test_gen_file_in_h5py():
    import h5py
    out = "gen.mat"
    cmd = [app("invcsi-gen"), "--model", "cdl-b", "--samples", "40", "--seed", "99",
           "--nr", "2", "--nt", "8", "--nc", "16", "--ds-lgstd", "0.1", "--quiet", "-o", out]
    p = run(cmd)
    check(p.returncode == 0, "invcsi-gen failed: %s" % p.stderr)
    if p.returncode != 0:
        return
    check(not os.path.exists(out + ".tmp"), "gen.mat.tmp left behind")
    with h5py.File(out, "r") as f:
        H = f["H"]
        check(H.shape == (40, 2, 8, 16), "h5py shape %s" % (H.shape,))
        check(H.dtype.names == ("real", "imag") and H.dtype["real"] == np.float32,
              "H dtype %s" % H.dtype)
        # chunks that tile single samples: reading one sample stays cheap
        check(H.chunks is None or H.chunks[0] == 1, "H chunks %s" % (H.chunks,))
        h = H["real"] + 1j * H["imag"]
        check(h.dtype == np.complex64, "complex dtype %s" % h.dtype)
        c = f["config"]

        def num(k):
            return c[k][()].ravel()[0]

        def text(k):
            return "".join(chr(v) for v in c[k][()].ravel())
        check(text("model") == "cdl-b", "config.model %r" % text("model"))
        check(int(num("seed")) == 99 and c["seed"].dtype == np.uint64, "config.seed")
        check((num("nr"), num("nt"), num("nc")) == (2, 8, 16), "config sizes")
        check(num("fc_ghz") == 28 and num("bw_mhz") == 50 and num("ds_ns") == 66,
              "config fc/bw/ds %s %s %s" % (num("fc_ghz"), num("bw_mhz"), num("ds_ns")))
        check(num("ds_lgstd") == 0.1, "config.ds_lgstd")
        check(np.isnan(num("k_factor_db")), "config.k_factor_db of an NLOS model is NaN")
        check(num("format_version") == 1, "config.format_version")
        command = text("command")
        check("invcsi-gen" in command and "--samples 40" in command and "-o gen.mat" in command,
              "config.command %r" % command)
        check("pos" not in f, "pos written without positions")
    check_samples(out, h, "invcsi-gen file vs h5py")
    mean_power = float(np.mean(np.abs(h.astype(np.complex128)) ** 2))
    s = info_summary(out)
    check(s.get("kind", "").startswith("invcsi"), "kind %s" % s.get("kind"))
    check(abs(float(s["mean power per entry"]) - mean_power) <= 1e-5 * mean_power,
          "mean power %s vs %s" % (s.get("mean power per entry"), mean_power))
    # same seed, same data
    p = run(cmd[:-1] + ["gen2.mat"])
    with h5py.File(out, "r") as f1, h5py.File("gen2.mat", "r") as f2:
        check(np.array_equal(f1["H"][()], f2["H"][()]), "same seed gave different H")


def test_python_mat73():
    rng = np.random.default_rng(5)
    ch = (rng.standard_normal((6, 2, 4, 3)) + 1j * rng.standard_normal((6, 2, 4, 3)))
    write_mat73("ch73.mat", {"channels": ch.astype(np.complex64)})
    check_samples("ch73.mat", ch.astype(np.complex64), "h5py v7.3 channels (single)")
    write_mat73("ch73d.mat", {"channel": ch})  # double, converted to float32 on load
    check_samples("ch73d.mat", ch.astype(np.complex64), "h5py v7.3 channel (double)")
    s = info_summary("ch73d.mat")
    check(s["kind"].startswith("deepmimo (variable channel,"), "kind %s" % s["kind"])

    # our own layout written by Python: H + config struct (+ pos)
    pos = rng.uniform(-50, 50, (6, 3)).astype(np.float32)
    write_mat73("h73.mat", {
        "H": ch.astype(np.complex64),
        "config": {"model": "cdl-d", "seed": np.array([[2 ** 63 + 5]], np.uint64),
                   "nt": np.array([[4.0]]), "nr": np.array([[2.0]]), "nc": np.array([[3.0]]),
                   "fc_ghz": np.array([[3.5]]), "bw_mhz": np.array([[20.0]]),
                   "command": "python writer", "format_version": np.array([[1.0]])},
        "pos": pos})
    check_samples("h73.mat", ch.astype(np.complex64), "h5py v7.3 H+config")
    s = info_summary("h73.mat")
    check(s["model"] == "cdl-d" and s["seed"] == str(2 ** 63 + 5), "config %s" % s)
    check(s["carrier"] == "3.5 GHz" and s["bandwidth"] == "20 MHz", "fc/bw %s" % s)
    check(s["command"] == "python writer", "command %s" % s.get("command"))
    check(s["positions"].startswith("x [%g, %g]" % (pos[:, 0].min(), pos[:, 0].max())),
          "positions %s" % s["positions"])

    # HT written by h5py as numpy (N, 2048): MATLAB size 2048 x N
    ht = rng.uniform(0, 1, (5, 2048))
    write_mat73("ht73.mat", {"HT": ht})
    check_samples("ht73.mat", cost2100_to_h(ht), "h5py v7.3 HT", exact=False, tol=2e-6)
    # and as MATLAB itself saves N x 2048 with -v7.3 (h5py sees (2048, N))
    write_mat73("ht73m.mat", {"HT": np.ascontiguousarray(ht.T)})
    check_samples("ht73m.mat", cost2100_to_h(ht), "MATLAB-order v7.3 HT", exact=False,
                  tol=2e-6)


def test_scipy_v5():
    import scipy.io as sio
    rng = np.random.default_rng(6)
    # CsiNet/COST2100: HT, N x 2048 in [0, 1]
    ht = rng.uniform(0, 1, (7, 2048))
    sio.savemat("ht5.mat", {"HT": ht})
    check_samples("ht5.mat", cost2100_to_h(ht), "scipy v5 HT", exact=False, tol=2e-6)
    sio.savemat("ht5z.mat", {"HT": ht.astype(np.float32)}, do_compression=True)
    check_samples("ht5z.mat", cost2100_to_h(ht.astype(np.float32)),
                  "scipy v5 compressed single HT", exact=False, tol=2e-6)
    # more than one read chunk (4 Mi values): 2100 rows of 2048, v5 and v7.3
    big = rng.uniform(0, 1, (2100, 2048))
    big_h = cost2100_to_h(big[[0, 1050, 2099]])
    sio.savemat("ht5big.mat", {"HT": big})
    write_mat73("ht73big.mat", {"HT": big})
    for fn in ("ht5big.mat", "ht73big.mat"):
        for j, i in enumerate((0, 1050, 2099)):
            got = info_sample(fn, i)
            check(np.max(np.abs(got - big_h[j])) <= 2e-6, "%s: sample %d differs" % (fn, i))
        os.remove(fn)
    s = info_summary("ht5.mat")
    check(s["model"] == "cost2100" and s["nr x nt x nc"] == "1 x 32 x 32", "HT summary %s" % s)

    # DeepMIMO channels array (users, nr, nt, nc), complex double, with locations
    ch = rng.standard_normal((5, 2, 8, 4)) + 1j * rng.standard_normal((5, 2, 8, 4))
    loc = rng.uniform(0, 100, (5, 3))
    sio.savemat("dm5.mat", {"channels": ch, "location": loc}, do_compression=True)
    check_samples("dm5.mat", ch.astype(np.complex64), "scipy v5 DeepMIMO channels")
    s = info_summary("dm5.mat")
    check(s["nr x nt x nc"] == "2 x 8 x 4" and s["samples (n)"] == "5", "dm5 summary %s" % s)
    check(s["positions"].startswith("x [%g, %g]" % (np.float32(loc[:, 0].min()),
                                                     np.float32(loc[:, 0].max()))),
          "dm5 positions %s" % s["positions"])
    # single precision, uncompressed, 3-D (nc = 1 dropped by nothing: scipy keeps dims)
    ch1 = ch[:, :1, :, :1].astype(np.complex64)
    sio.savemat("dm5s.mat", {"channel": ch1})
    check_samples("dm5s.mat", ch1, "scipy v5 DeepMIMO channel (1 rx, 1 subcarrier)")

    # DeepMIMO v2 MATLAB struct: DeepMIMO_dataset{1}.user{u}.channel (nr x nt x K)
    users = np.empty((1, 4), dtype=object)
    chs = []
    for u in range(4):
        c = rng.standard_normal((2, 8, 5)) + 1j * rng.standard_normal((2, 8, 5))
        chs.append(c)
        users[0, u] = {"channel": c, "loc": np.array([[u, 2.0 * u, 1.5]]),
                       "LoS": np.array([[1.0]])}
    bs = np.empty((1, 1), dtype=object)
    bs[0, 0] = {"user": users, "loc": np.array([[0, 0, 10.0]])}
    sio.savemat("dm2.mat", {"DeepMIMO_dataset": bs}, do_compression=True)
    check_samples("dm2.mat", np.array(chs).astype(np.complex64), "DeepMIMO v2 struct")
    s = info_summary("dm2.mat")
    check(s["kind"].startswith("deepmimo-v2"), "kind %s" % s["kind"])
    check(s["positions"] == "x [0, 3] m, y [0, 6] m, z [1.5, 1.5] m",
          "v2 positions %s" % s["positions"])


def main():
    if not APPS or not os.path.exists(app("invcsi-info")):
        print("SKIP: INVCSI_APPS_DIR/invcsi-info not built")
        return 77
    try:
        import h5py  # noqa: F401
        import scipy.io  # noqa: F401
    except ImportError as e:
        print("SKIP: %s" % e)
        return 77
    for t in (test_gen_file_in_h5py, test_python_mat73, test_scipy_v5):
        try:
            t()
        except AssertionError as e:
            check(False, "%s: %s" % (t.__name__, e))
    print("test_matfile_roundtrip: %d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
