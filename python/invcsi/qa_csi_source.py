#!/usr/bin/env python3
#
# Copyright 2025 gr-invcsi developers
#
# This file is part of gr-invcsi
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA of invcsi.csi_source: the reports of a .mat file (all, the core's test/train split,
shuffled), and the live CDL generator against invcsi-gen's file with the same seed."""

import os
import shutil
import tempfile

import numpy as np
from gnuradio import blocks, gr, gr_unittest

from gnuradio import invcsi

import core_reference as core


def collect(src, head=None):
    tb = gr.top_block()
    snk = blocks.vector_sink_c(src.vlen())
    if head is None:
        tb.connect(src, snk)
    else:
        h = blocks.head(gr.sizeof_gr_complex * src.vlen(), head)
        tb.connect(src, h, snk)
    tb.run()
    return np.array(snk.data(), dtype=np.complex64).reshape(-1, src.vlen())


class qa_csi_source(gr_unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="invcsi-qa-src-")
        cls.n, cls.nr, cls.nt, cls.nc = 50, 2, 4, 8
        cls.data = core.gen(os.path.join(cls.tmp, "d.mat"), samples=cls.n, nr=cls.nr, nt=cls.nt,
                            nc=cls.nc, seed=7, model="cdl-a")
        cls.h = core.read_h(cls.data)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_001_all_in_order(self):
        src = invcsi.csi_source("mat", self.data)
        self.assertEqual((src.nr(), src.nt(), src.nc(), src.vlen()),
                         (self.nr, self.nt, self.nc, self.nr * self.nt * self.nc))
        self.assertEqual(src.reports_per_pass(), self.n)
        self.assertEqual(src.order(), list(range(self.n)))
        out = collect(src)  # not repeating: ends by itself
        np.testing.assert_array_equal(out, self.h)
        self.assertEqual(src.reports_emitted(), self.n)

    def test_002_test_and_train_split(self):
        train, test = core.split(self.n, 0.7, 3)
        src = invcsi.csi_source("mat", self.data, "test", 3, 0.7)
        self.assertEqual(src.order(), test)
        np.testing.assert_array_equal(collect(src), self.h[test])
        src = invcsi.csi_source("mat", self.data, "train", split_seed=3, train_frac=0.7)
        self.assertEqual(src.order(), train)
        np.testing.assert_array_equal(collect(src), self.h[train])
        # Another split seed, another test set.
        self.assertNotEqual(invcsi.csi_source("mat", self.data, "test", 4, 0.7).order(), test)

    def test_003_shuffle_and_repeat(self):
        _, test = core.split(self.n, 0.7, 1)
        a = invcsi.csi_source("mat", self.data, "test", shuffle=True, seed=5, repeat=True)
        first = a.order()
        self.assertEqual(sorted(first), sorted(test))
        self.assertNotEqual(first, test)
        self.assertEqual(invcsi.csi_source("mat", self.data, "test", shuffle=True,
                                           seed=5).order(), first)  # seeded
        self.assertNotEqual(invcsi.csi_source("mat", self.data, "test", shuffle=True,
                                              seed=6).order(), first)
        k = len(test)
        out = collect(a, head=2 * k + 3)  # repeating: a head block ends the run
        np.testing.assert_array_equal(out[:k], self.h[first])
        second = out[k:2 * k]
        # The second pass is the same reports in a new order.
        self.assertEqual(sorted(map(bytes, second)), sorted(map(bytes, self.h[test])))
        self.assertFalse(np.array_equal(second, out[:k]))
        self.assertGreaterEqual(a.reports_emitted(), 2 * k + 3)

    def test_004_repeat_in_order(self):
        src = invcsi.csi_source("mat", self.data, repeat=True)
        out = collect(src, head=2 * self.n + 1)
        np.testing.assert_array_equal(out[:self.n], self.h)
        np.testing.assert_array_equal(out[self.n:2 * self.n], self.h)
        np.testing.assert_array_equal(out[-1], self.h[0])

    def test_005_cdl_equals_invcsi_gen(self):
        n = 12
        ref = core.read_h(core.gen(os.path.join(self.tmp, "g.mat"), samples=n, nr=1, nt=8, nc=16,
                                   seed=11, model="cdl-d"))
        src = invcsi.csi_source("cdl", cdl_model="cdl-d", seed=11, nr=1, nt=8, nc=16,
                                cdl_reports=n)
        self.assertEqual(src.vlen(), 8 * 16)
        np.testing.assert_array_equal(collect(src), ref)
        # Endless: as many as asked for, the first n the same.
        endless = invcsi.csi_source("cdl", cdl_model="cdl-d", seed=11, nr=1, nt=8, nc=16)
        self.assertEqual(endless.reports_per_pass(), 0)
        out = collect(endless, head=n + 5)
        np.testing.assert_array_equal(out[:n], ref)
        self.assertFalse(np.array_equal(out[n], ref[0]))
        # Repeating n: sample 0 again after sample n-1.
        rep = invcsi.csi_source("cdl", cdl_model="cdl-d", seed=11, nr=1, nt=8, nc=16,
                                cdl_reports=n, repeat=True)
        out = collect(rep, head=n + 2)
        np.testing.assert_array_equal(out[n:], ref[:2])

    def test_006_sizes(self):
        # Given sizes must be the file's; 0 takes them; CDL defaults to 1 x 32 x 32.
        src = invcsi.csi_source("mat", self.data, nr=self.nr, nt=self.nt, nc=self.nc)
        self.assertEqual(src.vlen(), self.nr * self.nt * self.nc)
        src = invcsi.csi_source("mat", self.data, nr=0, nt=self.nt, nc=0)
        self.assertEqual(src.vlen(), self.nr * self.nt * self.nc)
        cdl = invcsi.csi_source("cdl")
        self.assertEqual((cdl.nr(), cdl.nt(), cdl.nc()), (1, 32, 32))

    def test_007_bad_parameters(self):
        bad = [
            dict(source="file", path=self.data),
            dict(source="mat", path=""),
            dict(source="mat", path=self.data, subset="held-out"),
            dict(source="mat", path=self.data, subset="test", train_frac=1.5),
            dict(source="cdl", cdl_model="cdl-f"),
            dict(source="cdl", nr=-1),
            dict(source="cdl", nt=-1),
            dict(source="cdl", nc=-2),
            dict(source="mat", path=self.data, nt=self.nt + 1),  # not the file's sizes
            dict(source="cdl", cdl_reports=-3),
        ]
        for kw in bad:
            with self.subTest(**kw):
                with self.assertRaises(ValueError) as cm:
                    invcsi.csi_source(**kw)
                self.assertIn("invcsi csi_source", str(cm.exception))
        # Files: missing, not a MAT file, an empty subset.
        with self.assertRaises(RuntimeError) as cm:
            invcsi.csi_source("mat", os.path.join(self.tmp, "missing.mat"))
        self.assertIn("missing.mat", str(cm.exception))
        junk = os.path.join(self.tmp, "junk.mat")
        with open(junk, "wb") as f:
            f.write(b"not a mat file at all" * 10)
        with self.assertRaises(RuntimeError):
            invcsi.csi_source("mat", junk)
        with self.assertRaises(RuntimeError) as cm:
            invcsi.csi_source("mat", self.data, "test", train_frac=1.0)
        self.assertIn("empty", str(cm.exception))


if __name__ == '__main__':
    gr_unittest.run(qa_csi_source)
