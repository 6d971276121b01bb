#!/usr/bin/env python3
#
# Copyright 2025 gr-invcsi developers
#
# This file is part of gr-invcsi
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA of invcsi.daq_quantizer: with InvCSINet weights the bits of encoder -> quantizer equal
the C core link's (learned DAQ, labels) bit for bit; with weights without a DAQ the uniform
quantizer's bits equal the core's daq.h uniform quantizer; bad parameters raise."""

import os
import shutil
import tempfile

import numpy as np
import pmt
from gnuradio import blocks, gr, gr_unittest

from gnuradio import invcsi

import core_reference as core


class qa_daq_quantizer(gr_unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="invcsi-qa-daq-")
        cls.data = core.gen(os.path.join(cls.tmp, "d.mat"), samples=100, nt=8, nc=8)
        cls.h = core.read_h(cls.data)
        cls.icsi = core.train(os.path.join(cls.tmp, "icsi.safetensors"), cls.data, "invcsinet",
                              "1/4", 1, "--bits", 3)
        cls.icsi_gray = core.train(os.path.join(cls.tmp, "icsi-gray.safetensors"), cls.data,
                                   "invcsinet", "1/8", 1, "--bits", 2, "--bit-map", "gray")
        cls.inn = core.train(os.path.join(cls.tmp, "inn.safetensors"), cls.data, "inn")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def quantize_y(self, q, y):
        tb = gr.top_block()
        src = blocks.vector_source_f(y.ravel().tolist(), False, y.shape[1])
        snk = blocks.vector_sink_b()
        tb.connect(src, q, snk)
        tb.run()
        return np.array(snk.data(), dtype=np.uint8).reshape(-1, q.payload_bits()), snk

    def test_001_invcsinet_equals_core_link(self):
        for w, bits, mapping in ((self.icsi, 3, "natural"), (self.icsi_gray, 2, "gray")):
            with self.subTest(weights=os.path.basename(w)):
                ref = core.Core(w, max_batch=1)
                ref.open_link()
                want = ref.link_bits(self.h)  # x -> DAQ indices -> labels, in the core
                tb = gr.top_block()
                src = blocks.vector_source_c(self.h.ravel().tolist(), False, self.h.shape[1])
                enc = invcsi.inn_encoder(w, 1)
                q = invcsi.daq_quantizer(w, batch=1)
                snk = blocks.vector_sink_b()
                tb.connect(src, enc, q, snk)
                tb.run()
                self.assertTrue(q.learned())
                self.assertEqual((q.kind(), q.m(), q.bits(), q.mapping(), q.range()),
                                 ("invcsinet", ref.m, bits, mapping, 0.0))
                self.assertEqual(q.payload_bits(), ref.m * bits)
                got = np.array(snk.data(), dtype=np.uint8).reshape(-1, q.payload_bits())
                np.testing.assert_array_equal(got, want)
                self.assertTrue(set(np.unique(got)) <= {0, 1})
                ref.close()

    def test_002_uniform_equals_core(self):
        ref = core.Core(self.inn)
        y = ref.encode(self.h)
        for bits, rng_r, mapping in ((4, 2.0, "natural"), (2, 0.5, "gray"), (1, 1.0, "natural")):
            with self.subTest(bits=bits, range=rng_r, mapping=mapping):
                q = invcsi.daq_quantizer(self.inn, bits, rng_r, mapping, 16)
                self.assertFalse(q.learned())
                self.assertEqual((q.bits(), q.range(), q.mapping()), (bits, rng_r, mapping))
                got, _ = self.quantize_y(q, y)
                want = core.uniform_bits(y, bits, rng_r, core.GRAY if mapping == "gray"
                                         else core.NATURAL)
                np.testing.assert_array_equal(got, want)
        # Beyond the range: the end levels (all zeros / all ones with natural labels).
        q = invcsi.daq_quantizer(self.inn, 3, 1.0)
        yy = np.zeros((2, q.m()), dtype=np.float32)
        yy[0, :] = -50.0
        yy[1, :] = 50.0
        got, _ = self.quantize_y(q, yy)
        self.assertTrue(np.all(got[0] == 0))
        self.assertTrue(np.all(got[1] == 1))
        ref.close()

    def test_003_length_tags(self):
        ref = core.Core(self.icsi)
        y = ref.encode(self.h[:5])
        q = invcsi.daq_quantizer(self.icsi, len_tag_key="packet_len")
        got, snk = self.quantize_y(q, y)
        tags = snk.tags()
        self.assertEqual([t.offset for t in tags], [i * q.payload_bits() for i in range(5)])
        for t in tags:
            self.assertEqual(pmt.symbol_to_string(t.key), "packet_len")
            self.assertEqual(pmt.to_long(t.value), q.payload_bits())
        ref.close()

    def test_004_bad_parameters(self):
        cases = [
            ((self.icsi,), dict(bits=4), "learned 3-bit DAQ"),
            ((self.inn,), dict(bits=0), "no learned quantizer"),
            ((self.inn,), dict(bits=9), "bits"),
            ((self.inn,), dict(bits=3, range=0.0), "range"),
            ((self.inn,), dict(bits=3, range=-1.0), "range"),
            ((self.inn,), dict(bits=3, range=float("nan")), "range"),
            ((self.inn,), dict(bits=3, mapping="binary"), "mapping"),
            ((self.icsi,), dict(mapping="binary"), "mapping"),
            ((self.icsi,), dict(batch=0), "batch"),
            (("",), dict(), "weights"),
        ]
        for args, kw, words in cases:
            with self.subTest(kw=kw):
                with self.assertRaises(ValueError) as cm:
                    invcsi.daq_quantizer(*args, **kw)
                self.assertIn("invcsi daq_quantizer", str(cm.exception))
                self.assertIn(words, str(cm.exception))
        with self.assertRaises(RuntimeError):
            invcsi.daq_quantizer(os.path.join(self.tmp, "nope.safetensors"))


if __name__ == '__main__':
    gr_unittest.run(qa_daq_quantizer)
