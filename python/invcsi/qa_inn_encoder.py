#!/usr/bin/env python3
#
# Copyright 2025 gr-invcsi developers
#
# This file is part of gr-invcsi
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA of invcsi.inn_encoder: the latent of every model kind (inn, csinet, invcsinet) equals
the C core's (DFT, stored scale, model encoder) bit for bit when both run the same batches;
bad weights and parameters raise at construction.

Why batch 1 for the exact comparison: the block cuts whatever GNU Radio hands work() into
batches of at most `batch` reports, and the core's encoders differ by a few float ulp
between batch sizes (OpenBLAS sgemm sums in another order for another matrix size), so only
equal batches give equal bits. Across batch sizes the test allows that round-off."""

import os
import shutil
import tempfile

import numpy as np
from gnuradio import blocks, gr, gr_unittest

from gnuradio import invcsi

import core_reference as core


class qa_inn_encoder(gr_unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="invcsi-qa-enc-")
        cls.data = core.gen(os.path.join(cls.tmp, "d.mat"), samples=120, nt=8, nc=8)
        cls.h = core.read_h(cls.data)
        cls.weights = {
            "inn": core.train(os.path.join(cls.tmp, "inn.safetensors"), cls.data, "inn"),
            "csinet": core.train(os.path.join(cls.tmp, "csinet.safetensors"), cls.data,
                                 "csinet", "1/8"),
            "invcsinet": core.train(os.path.join(cls.tmp, "icsi.safetensors"), cls.data,
                                    "invcsinet", "1/4", 1, "--bits", 3),
        }

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def encode(self, weights, h, batch=64):
        enc = invcsi.inn_encoder(weights, batch)
        tb = gr.top_block()
        src = blocks.vector_source_c(h.ravel().tolist(), False, h.shape[1])
        snk = blocks.vector_sink_f(enc.m())
        tb.connect(src, enc, snk)
        tb.run()
        return enc, np.array(snk.data(), dtype=np.float32).reshape(-1, enc.m())

    def test_001_each_kind_equals_core(self):
        for kind, w in self.weights.items():
            with self.subTest(kind=kind):
                ref = core.Core(w, max_batch=1)
                want = ref.encode(self.h)
                enc, got = self.encode(w, self.h, batch=1)
                self.assertEqual(enc.kind(), kind)
                self.assertEqual((enc.nr(), enc.nt(), enc.nc(), enc.vlen(), enc.m()),
                                 (ref.nr, ref.nt, ref.nc, ref.nr * ref.nt * ref.nc, ref.m))
                self.assertEqual(enc.norm_scale(), ref.scale)
                self.assertEqual(got.shape, want.shape)
                np.testing.assert_array_equal(got, want)  # float-exact
                ref.close()

    def test_002_batch_changes_only_round_off(self):
        w = self.weights["invcsinet"]
        _, a = self.encode(w, self.h, batch=1)
        for batch in (7, 64, 256):
            _, b = self.encode(w, self.h, batch=batch)
            np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)

    def test_003_bad_weights(self):
        missing = os.path.join(self.tmp, "missing.safetensors")
        with self.assertRaises(RuntimeError) as cm:
            invcsi.inn_encoder(missing)
        self.assertIn("missing.safetensors", str(cm.exception))
        self.assertIn("invcsi inn_encoder", str(cm.exception))

        good = open(self.weights["inn"], "rb").read()
        for name, blob in [("truncated", good[:len(good) // 2]),
                           ("garbage", b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}"),
                           ("empty", b"")]:
            with self.subTest(corrupt=name):
                path = os.path.join(self.tmp, name + ".safetensors")
                with open(path, "wb") as f:
                    f.write(blob)
                with self.assertRaises(RuntimeError) as cm:
                    invcsi.inn_encoder(path)
                self.assertIn(name + ".safetensors", str(cm.exception))

    def test_004_bad_parameters(self):
        with self.assertRaises(ValueError):
            invcsi.inn_encoder("")
        for batch in (0, -4):
            with self.assertRaises(ValueError) as cm:
                invcsi.inn_encoder(self.weights["inn"], batch)
            self.assertIn("batch", str(cm.exception))

    def test_007_device(self):
        # The device parameter resolves as the programs' --device: cpu and auto run on the
        # CPU backend (same latent), cuda is an error naming the reason (no GPU here; the
        # models are CPU-only in this version anyway), anything else is a ValueError.
        w = self.weights["inn"]
        self.assertEqual(invcsi.inn_encoder(w).device(), "cpu")
        self.assertEqual(invcsi.inn_encoder(w, 4, "auto").device(), "cpu")
        with self.assertRaises(RuntimeError) as cm:
            invcsi.inn_encoder(w, 4, "cuda")
        self.assertRegex(str(cm.exception), "inn_encoder: .*(cuda|CUDA)")
        for bad in ("gpu", ""):
            with self.assertRaises(ValueError) as cm:
                invcsi.inn_encoder(w, 4, bad)
            self.assertIn("device", str(cm.exception))

    def test_005_size_mismatch_at_connect(self):
        # A source of other sizes cannot be connected: GNU Radio checks the item size.
        enc = invcsi.inn_encoder(self.weights["inn"])
        src = invcsi.csi_source("cdl", nr=1, nt=16, nc=8, cdl_reports=1)
        tb = gr.top_block()
        with self.assertRaises(Exception):
            tb.connect(src, enc)

    def test_006_weights_info(self):
        # The sizes GRC takes its port lengths from.
        for kind, w in self.weights.items():
            with self.subTest(kind=kind):
                info = invcsi.weights_info.read(w)
                enc = invcsi.inn_encoder(w)
                self.assertEqual((info.kind, info.nr, info.nt, info.nc, info.vlen, info.m),
                                 (kind, enc.nr(), enc.nt(), enc.nc(), enc.vlen(), enc.m()))
                self.assertEqual(info.dim, 2 * info.vlen)
                self.assertEqual(info.norm_scale, enc.norm_scale())
                if kind == "invcsinet":
                    self.assertEqual((info.bits, info.mapping, info.payload_bits),
                                     (3, "natural", 3 * info.m))
                else:
                    self.assertEqual((info.bits, info.mapping, info.payload_bits), (0, "", 0))
        with self.assertRaises(RuntimeError):
            invcsi.weights_info.read(os.path.join(self.tmp, "missing.safetensors"))


if __name__ == '__main__':
    gr_unittest.run(qa_inn_encoder)
