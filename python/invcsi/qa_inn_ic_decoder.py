#!/usr/bin/env python3
#
# Copyright 2025 gr-invcsi developers
#
# This file is part of gr-invcsi
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA of invcsi.inn_ic_decoder: the reconstruction from bits (or LLRs) equals the C core
link's decoder (levels, IC, inverse INN with z at the mean or a seeded sample, undo the
scale, inverse DFT) float for float; the z sample of report r does not depend on how the
stream is cut; bad parameters raise."""

import os
import shutil
import tempfile

import numpy as np
from gnuradio import blocks, gr, gr_unittest

from gnuradio import invcsi

import core_reference as core


class qa_inn_ic_decoder(gr_unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="invcsi-qa-dec-")
        cls.data = core.gen(os.path.join(cls.tmp, "d.mat"), samples=100, nt=8, nc=8)
        cls.h = core.read_h(cls.data)
        cls.icsi = core.train(os.path.join(cls.tmp, "icsi.safetensors"), cls.data, "invcsinet",
                              "1/4", 1, "--bits", 3)
        cls.inn = core.train(os.path.join(cls.tmp, "inn.safetensors"), cls.data, "inn")
        cls.csinet = core.train(os.path.join(cls.tmp, "csinet.safetensors"), cls.data, "csinet",
                                "1/8")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def decode(self, dec, items, soft=False):
        tb = gr.top_block()
        src = (blocks.vector_source_f if soft else blocks.vector_source_b)(
            items.ravel().tolist(), False)
        snk = blocks.vector_sink_c(dec.vlen())
        tb.connect(src, dec, snk)
        tb.run()
        return np.array(snk.data(), dtype=np.complex64).reshape(-1, dec.vlen())

    def random_bits(self, n, nbits, seed=4):
        return np.random.default_rng(seed).integers(0, 2, (n, nbits)).astype(np.uint8)

    def test_001_invcsinet_mean_and_sample_equal_core(self):
        ref = core.Core(self.icsi, max_batch=1)
        n = 30
        for z_mode, zc, seed in (("mean", core.Z_MEAN, 1), ("sample", core.Z_SAMPLE, 5)):
            with self.subTest(z_mode=z_mode):
                dec = invcsi.inn_ic_decoder(self.icsi, z_mode, seed, batch=1)
                self.assertEqual((dec.kind(), dec.z_mode(), dec.bits(), dec.m()),
                                 ("invcsinet", z_mode, 3, ref.m))
                self.assertEqual(dec.payload_bits(), 3 * ref.m)
                self.assertEqual((dec.nr(), dec.nt(), dec.nc()), (ref.nr, ref.nt, ref.nc))
                bits = self.random_bits(n, dec.payload_bits())
                got = self.decode(dec, bits)
                ref.open_link(z_mode=zc, seed=seed)
                np.testing.assert_array_equal(got, ref.link_decode(bits=bits))
                self.assertEqual(dec.reports_decoded(), n)
        # The sample differs from the mean, and from another seed's sample.
        bits = self.random_bits(4, 3 * ref.m)
        a = self.decode(invcsi.inn_ic_decoder(self.icsi, "sample", 5), bits)
        b = self.decode(invcsi.inn_ic_decoder(self.icsi, "sample", 6), bits)
        c = self.decode(invcsi.inn_ic_decoder(self.icsi), bits)
        self.assertFalse(np.allclose(a, b))
        self.assertFalse(np.allclose(a, c))
        ref.close()

    def test_002_error_free_round_trip_equals_core(self):
        # Encoder -> quantizer -> decoder with no channel: the core's quantization-only
        # reconstruction.
        ref = core.Core(self.icsi, max_batch=1)
        ref.open_link()
        want = ref.link_decode(bits=ref.link_bits(self.h))
        tb = gr.top_block()
        src = blocks.vector_source_c(self.h.ravel().tolist(), False, self.h.shape[1])
        enc = invcsi.inn_encoder(self.icsi, 1)
        q = invcsi.daq_quantizer(self.icsi, batch=1)
        dec = invcsi.inn_ic_decoder(self.icsi, batch=1)
        snk = blocks.vector_sink_c(dec.vlen())
        tb.connect(src, enc, q, dec, snk)
        tb.run()
        got = np.array(snk.data(), dtype=np.complex64).reshape(-1, dec.vlen())
        np.testing.assert_array_equal(got, want)
        ref.close()

    def test_003_batching_keeps_report_streams(self):
        # z samples belong to report r whatever the batch: batch 7 gives batch 1's numbers
        # up to the core's batch round-off.
        n = 40
        bits = self.random_bits(n, 3 * core.Core(self.icsi).m, seed=8)
        a = self.decode(invcsi.inn_ic_decoder(self.icsi, "sample", 3, batch=1), bits)
        b = self.decode(invcsi.inn_ic_decoder(self.icsi, "sample", 3, batch=7), bits)
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)

    def test_004_soft_input_equals_core(self):
        ref = core.Core(self.icsi, max_batch=1)
        n = 20
        llr = np.random.default_rng(9).normal(0, 4, (n, 3 * ref.m)).astype(np.float32)
        dec = invcsi.inn_ic_decoder(self.icsi, soft_input=True, batch=1)
        self.assertTrue(dec.soft_input())
        got = self.decode(dec, llr, soft=True)
        ref.open_link(detect=core.DETECT_MMSE)
        np.testing.assert_array_equal(got, ref.link_decode(llr=llr))
        # Very confident LLRs decode like the hard bits they stand for.
        bits = self.random_bits(n, 3 * ref.m, seed=10)
        sure = np.where(bits == 0, 60.0, -60.0).astype(np.float32)
        np.testing.assert_allclose(
            self.decode(invcsi.inn_ic_decoder(self.icsi, soft_input=True, batch=1), sure,
                        soft=True),
            self.decode(invcsi.inn_ic_decoder(self.icsi, batch=1), bits), rtol=1e-5, atol=1e-5)
        ref.close()

    def test_005_uniform_models_equal_core(self):
        for w, bits_b, rng_r, mapping in ((self.inn, 4, 2.0, "natural"),
                                          (self.csinet, 2, 1.5, "gray")):
            with self.subTest(weights=os.path.basename(w)):
                ref = core.Core(w, max_batch=1)
                dec = invcsi.inn_ic_decoder(w, bits=bits_b, range=rng_r, mapping=mapping,
                                            batch=1)
                self.assertFalse(dec.learned())
                bits = self.random_bits(10, bits_b * ref.m, seed=11)
                ref.open_link(bits=bits_b, mapping=core.GRAY if mapping == "gray"
                              else core.NATURAL, uniform_range=rng_r)
                np.testing.assert_array_equal(self.decode(dec, bits), ref.link_decode(bits=bits))
                ref.close()

    def test_006_bad_parameters(self):
        cases = [
            ((self.icsi,), dict(z_mode="median"), "z_mode"),
            ((self.icsi,), dict(bits=2), "learned 3-bit DAQ"),
            ((self.inn,), dict(), "no learned quantizer"),
            ((self.inn,), dict(bits=4, range=0.0), "range"),
            ((self.inn,), dict(bits=4, mapping="grey"), "mapping"),
            ((self.icsi,), dict(batch=0), "batch"),
            ((self.icsi,), dict(device="gpu"), "device"),
            (("",), dict(), "weights"),
        ]
        for args, kw, words in cases:
            with self.subTest(kw=kw):
                with self.assertRaises(ValueError) as cm:
                    invcsi.inn_ic_decoder(*args, **kw)
                self.assertIn("invcsi inn_ic_decoder", str(cm.exception))
                self.assertIn(words, str(cm.exception))
        # device: cpu by default, auto falls back to the CPU, cuda is an error with a reason
        self.assertEqual(invcsi.inn_ic_decoder(self.icsi).device(), "cpu")
        self.assertEqual(invcsi.inn_ic_decoder(self.icsi, device="auto").device(), "cpu")
        with self.assertRaises(RuntimeError) as cm:
            invcsi.inn_ic_decoder(self.icsi, device="cuda")
        self.assertRegex(str(cm.exception), "inn_ic_decoder: .*(cuda|CUDA)")
        with self.assertRaises(RuntimeError) as cm:
            invcsi.inn_ic_decoder(os.path.join(self.tmp, "nope.safetensors"))
        self.assertIn("nope.safetensors", str(cm.exception))


if __name__ == '__main__':
    gr_unittest.run(qa_inn_ic_decoder)
