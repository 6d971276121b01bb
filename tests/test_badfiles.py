# SPDX-License-Identifier: GPL-3.0-or-later
"""Every kind of bad input file, made for real (truncated, overwritten with garbage,
mistyped, misshaped, NaN/Inf, empty), through invcsi-info: exit status 1 (never a crash
or a signal), nothing on stdout, and one message on stderr that names the file and the
problem (which variable, what shape was found and what was expected)."""
import os
import random
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_matfile_roundtrip as rt  # noqa: E402  (helpers: write_mat73, app, ...)

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def expect_bad(path, *needles):
    """invcsi-info PATH must exit 1 with a message naming PATH and every needle."""
    p = subprocess.run([rt.app("invcsi-info"), path], capture_output=True, text=True)
    err = p.stderr.strip()
    print("%-22s rc=%d  %s" % (path, p.returncode, err))
    check(p.returncode == 1, "%s: exit status %d (want 1; negative = killed by a signal)"
          % (path, p.returncode))
    check(p.stdout == "", "%s: printed a summary for a bad file" % path)
    check(path in err, "%s: message does not name the file: %r" % (path, err))
    for n in needles:
        check(n.lower() in err.lower(), "%s: message lacks %r: %r" % (path, n, err))
    check(len(err.splitlines()) == 1, "%s: more than one line on stderr (HDF5/matio noise?): %r"
          % (path, err))


def make_good_files():
    """A file from invcsi-gen (v7.3) and scipy v5 files to damage."""
    import scipy.io as sio
    p = subprocess.run([rt.app("invcsi-gen"), "--samples", "64", "--quiet", "-o", "good.mat"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("invcsi-gen failed: " + p.stderr)
    rng = np.random.default_rng(1)
    sio.savemat("good5.mat", {"HT": rng.uniform(0, 1, (50, 2048))})
    sio.savemat("good5z.mat", {"HT": rng.uniform(0, 1, (50, 2048))}, do_compression=True)


def damaged_files():
    rnd = random.Random(7)
    good = open("good.mat", "rb").read()
    g5 = open("good5.mat", "rb").read()
    g5z = open("good5z.mat", "rb").read()

    def write(name, data):
        with open(name, "wb") as f:
            f.write(data)
        return name

    def garbage(n):
        return bytes(rnd.getrandbits(8) for _ in range(n))

    expect_bad(write("garbage.mat", garbage(10000)), "not a MAT file")
    expect_bad(write("text.mat", b"this is not a mat file\n" * 50), "not a MAT file")
    expect_bad(write("empty.mat", b""), "empty file")
    expect_bad("missing.mat", "cannot open", "no such file")
    expect_bad(write("header_only.mat", g5[:60]), "truncated", "128-byte header")
    # v7.3 cut short: HDF5's end-of-file check names it
    expect_bad(write("trunc73_half.mat", good[:len(good) // 2]), "truncated", "v7.3")
    expect_bad(write("trunc73_600.mat", good[:600]), "truncated", "v7.3")
    expect_bad(write("trunc73_300.mat", good[:300]), "damaged or truncated", "v7.3")
    # v5 cut short (uncompressed, compressed): matio would read zeros for the missing
    # compressed part, the tag walk catches it
    expect_bad(write("trunc5.mat", g5[:len(g5) // 2]), "truncated MAT v5", "variable 1")
    expect_bad(write("trunc5z.mat", g5z[:len(g5z) - 16]), "truncated MAT v5", "variable 1")
    # bytes after the last variable: zero padding is accepted, anything else is not
    write("padded5.mat", g5 + bytes(5))
    p = subprocess.run([rt.app("invcsi-info"), "padded5.mat"], capture_output=True, text=True)
    check(p.returncode == 0, "zero padding after the last v5 variable rejected: %s" % p.stderr)
    expect_bad(write("trailing5.mat", g5 + b"\0\0\0\1"), "truncated MAT v5", "stray bytes")
    # garbage over the MAT header, the HDF5 superblock, the middle (data), the end
    # (metadata written last)
    n = len(good)
    expect_bad(write("garbage_header.mat", garbage(128) + good[128:]), "not a MAT file")
    expect_bad(write("garbage_superblock.mat", good[:512] + garbage(96) + good[608:]),
               "damaged or truncated", "v7.3")
    mid = good[:n // 2] + bytes([0xff]) * 4096 + good[n // 2 + 4096:]  # 0xffffffff = NaN
    expect_bad(write("garbage_data.mat", mid), "variable 'H'", "non-finite")
    end = good[:n - 3000] + garbage(3000)
    expect_bad(write("garbage_end.mat", end))
    # a v5 element tag overwritten
    expect_bad(write("garbage_tag5.mat", g5[:128] + b"\x63\x00\x00\x00" + g5[132:]),
               "damaged MAT v5", "element type 99")


def wrong_content_files():
    import scipy.io as sio
    rng = np.random.default_rng(3)
    ch = rng.standard_normal((4, 1, 8, 4)) + 1j * rng.standard_normal((4, 1, 8, 4))
    cfg = {"model": "cdl-c", "nt": np.array([[8.0]]), "nr": np.array([[1.0]]),
           "nc": np.array([[4.0]])}

    # plain HDF5 (h5py without the MATLAB userblock)
    import h5py
    with h5py.File("plain.h5", "w") as f:
        f["channels"] = ch
    expect_bad("plain.h5", "plain HDF5", "512-byte MATLAB header")
    # MAT v7.3 from h5py without MATLAB_class attributes
    rt.write_mat73("noclass.mat", {"channels": ch}, matlab_class=False)
    expect_bad("noclass.mat", "variable 'channels'", "no MATLAB class")

    # missing variables
    sio.savemat("novar.mat", {"foo": np.ones((3, 4)), "bar": "text"})
    expect_bad("novar.mat", "no channel variable", "foo (double 3x4)", "HT")
    sio.savemat("nothing.mat", {})
    expect_bad("nothing.mat", "no readable variables")
    rt.write_mat73("noconfig.mat", {"H": ch.astype(np.complex64)})
    expect_bad("noconfig.mat", "'config' struct is missing")
    rt.write_mat73("config_no_nt.mat", {"H": ch.astype(np.complex64),
                                        "config": {"nr": np.array([[1.0]]),
                                                   "nc": np.array([[4.0]])}})
    expect_bad("config_no_nt.mat", "config.nt is missing")

    # wrong types
    sio.savemat("int_channels.mat", {"channels": np.ones((4, 1, 8, 4), np.int32)})
    expect_bad("int_channels.mat", "variable 'channels'", "class int32", "single or double")
    rt.write_mat73("real_h.mat", {"H": ch.real.astype(np.float32), "config": cfg})
    expect_bad("real_h.mat", "variable 'H' is real", "expected complex")
    rt.write_mat73("char_h.mat", {"H": "hello", "config": cfg})
    expect_bad("char_h.mat", "variable 'H'", "class char")
    rt.write_mat73("config_double.mat", {"H": ch.astype(np.complex64),
                                         "config": np.array([[1.0]])})
    expect_bad("config_double.mat", "'config' has class double", "expected struct")
    sio.savemat("complex_ht.mat", {"HT": np.ones((3, 2048)) * (0.5 + 0.5j)})
    expect_bad("complex_ht.mat", "variable 'HT' is complex", "expected real")
    sio.savemat("cell_channels.mat", {"channels": np.array([[1.0], ["x"]], dtype=object)})
    expect_bad("cell_channels.mat", "variable 'channels'", "class cell")

    # wrong rank / shape
    sio.savemat("rank5.mat", {"channels": np.ones((2, 1, 8, 4, 3)) * (1 + 1j)})
    expect_bad("rank5.mat", "variable 'channels'", "rank 5", "2x1x8x4x3",
               "(users, nr, nt, nc)")
    sio.savemat("ht_shape.mat", {"HT": rng.uniform(0, 1, (10, 1000))})
    expect_bad("ht_shape.mat", "variable 'HT'", "10x1000", "N x 2048")
    rt.write_mat73("h_vs_config.mat", {"H": ch.astype(np.complex64),
                                       "config": dict(cfg, nt=np.array([[16.0]]))})
    expect_bad("h_vs_config.mat", "variable 'H'", "4x8x1x4", "h5py shape (4, 1, 8, 4)",
               "nt=16")
    rt.write_mat73("bad_pos.mat", {"H": ch.astype(np.complex64), "config": cfg,
                                   "pos": np.ones((4, 2), np.float32)})
    expect_bad("bad_pos.mat", "variable 'pos'", "expected 4 x 3")

    # NaN / Inf / out of range
    nan_ch = ch.copy()
    nan_ch[2, 0, 3, 1] = np.nan
    sio.savemat("nan_channels.mat", {"channels": nan_ch})
    expect_bad("nan_channels.mat", "variable 'channels'", "non-finite", "sample 2",
               "t 3 k 1")
    inf_h = ch.astype(np.complex64)
    inf_h[1, 0, 0, 0] = complex(0, np.inf)
    rt.write_mat73("inf_h.mat", {"H": inf_h, "config": cfg})
    expect_bad("inf_h.mat", "variable 'H'", "non-finite", "imaginary part of sample 1")
    ht = rng.uniform(0, 1, (5, 2048))
    ht[3, 77] = np.inf
    sio.savemat("inf_ht.mat", {"HT": ht})
    expect_bad("inf_ht.mat", "variable 'HT'", "non-finite", "row 3, column 77")
    ht = rng.uniform(0, 1, (5, 2048)) - 0.5
    sio.savemat("ht_range.mat", {"HT": ht})
    expect_bad("ht_range.mat", "variable 'HT'", "outside [0, 1]")

    # empty arrays
    sio.savemat("empty_channels.mat", {"channels": np.zeros((0, 1, 8, 4), complex)})
    expect_bad("empty_channels.mat", "variable 'channels' is empty")
    sio.savemat("empty_ht.mat", {"HT": np.zeros((0, 2048))})
    expect_bad("empty_ht.mat", "variable 'HT' is empty")

    # DeepMIMO v2 struct: users of different sizes, a user without a channel
    users = np.empty((1, 2), dtype=object)
    users[0, 0] = {"channel": np.ones((1, 8, 4)) * 1j}
    users[0, 1] = {"channel": np.ones((1, 8, 5)) * 1j}
    bs = np.empty((1, 1), dtype=object)
    bs[0, 0] = {"user": users}
    sio.savemat("dm2_sizes.mat", {"DeepMIMO_dataset": bs})
    expect_bad("dm2_sizes.mat", "user{2}.channel", "1x8x5", "user 1 has 1x8x4")
    users[0, 1] = {"loc": np.ones((1, 3))}
    sio.savemat("dm2_nochannel.mat", {"DeepMIMO_dataset": bs})
    expect_bad("dm2_nochannel.mat", "user{2}.channel is missing")
    sio.savemat("dm2_notcell.mat", {"DeepMIMO_dataset": np.ones((2, 2))})
    expect_bad("dm2_notcell.mat", "DeepMIMO_dataset{1}", "expected a struct")


def main():
    if not rt.APPS or not os.path.exists(rt.app("invcsi-info")):
        print("SKIP: INVCSI_APPS_DIR/invcsi-info not built")
        return 77
    try:
        import h5py  # noqa: F401
        import scipy.io  # noqa: F401
    except ImportError as e:
        print("SKIP: %s" % e)
        return 77
    make_good_files()
    damaged_files()
    wrong_content_files()
    # --sample beyond the set: usage error, not a crash
    p = subprocess.run([rt.app("invcsi-info"), "good.mat", "--sample", "64"],
                       capture_output=True, text=True)
    check(p.returncode == 2 and "out of range" in p.stderr and "64 samples" in p.stderr,
          "--sample 64 of 64: rc %d, %r" % (p.returncode, p.stderr))
    print("test_badfiles: %d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
