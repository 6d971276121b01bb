#!/usr/bin/env python3
#
# Copyright 2025 gr-invcsi developers
#
# This file is part of gr-invcsi
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA of invcsi.bpsk_demapper: hard decisions and LLRs equal the C core's invcsi_bpsk_hard
and invcsi_bpsk_llr; mapper -> AWGN -> demapper gives the BPSK bit error rate."""

import math

import numpy as np
from gnuradio import blocks, channels, gr, gr_unittest

from gnuradio import invcsi

import core_reference as core


def run_demapper(sym, **kw):
    tb = gr.top_block()
    src = blocks.vector_source_c(list(sym), False)
    dm = invcsi.bpsk_demapper(**kw)
    snk = blocks.vector_sink_f() if dm.soft() else blocks.vector_sink_b()
    tb.connect(src, dm, snk)
    tb.run()
    return dm, np.array(snk.data())


class qa_bpsk_demapper(gr_unittest.TestCase):

    def setUp(self):
        rng = np.random.default_rng(2)
        self.sym = (rng.standard_normal(4000) + 1j * rng.standard_normal(4000)).astype(np.complex64)

    def test_001_hard_equals_core(self):
        dm, got = run_demapper(self.sym)
        self.assertFalse(dm.soft())
        np.testing.assert_array_equal(got.astype(np.uint8), core.bpsk_hard(self.sym))
        # Re(r) < 0 -> bit 1; the imaginary part does not matter.
        _, got = run_demapper(np.array([1 + 5j, -1 - 5j, 0.1 - 3j, -0.1 + 3j], np.complex64))
        self.assertEqual(list(got), [0, 1, 0, 1])

    def test_002_llr_equals_core(self):
        for es, ebn0_db in ((1.0, 10.0), (2.0, -3.0), (0.5, 0.0)):
            with self.subTest(es=es, ebn0_db=ebn0_db):
                dm, got = run_demapper(self.sym, soft=True, es=es, ebn0_db=ebn0_db)
                want, n0 = core.bpsk_llr(self.sym, es, ebn0_db)
                self.assertEqual(dm.n0(), n0)
                np.testing.assert_array_equal(got.astype(np.float32), want)
                # The sign agrees with the hard decision.
                _, hard = run_demapper(self.sym)
                np.testing.assert_array_equal((got < 0).astype(np.uint8), hard.astype(np.uint8))

    def test_003_setters(self):
        dm = invcsi.bpsk_demapper(True, 1.0, 10.0)
        self.assertAlmostEqual(dm.n0(), 0.1, places=12)
        dm.set_ebn0_db(0.0)
        dm.set_es(2.0)
        self.assertEqual((dm.es(), dm.ebn0_db()), (2.0, 0.0))
        self.assertAlmostEqual(dm.n0(), 2.0, places=12)

    def test_004_bad_parameters(self):
        for kw in (dict(es=0.0), dict(es=-1.0), dict(es=float("nan")),
                   dict(ebn0_db=float("inf")), dict(ebn0_db=float("nan")), dict(ebn0_db=500.0)):
            with self.subTest(**kw):
                with self.assertRaises(ValueError) as cm:
                    invcsi.bpsk_demapper(**kw)
                self.assertIn("invcsi bpsk_demapper", str(cm.exception))
        dm = invcsi.bpsk_demapper()
        with self.assertRaises(ValueError):
            dm.set_ebn0_db(float("nan"))
        with self.assertRaises(ValueError):
            dm.set_es(0.0)

    def test_005_ber_over_awgn(self):
        # mapper -> channel_model -> demapper at Eb/N0 = 4 dB: BER = Q(sqrt(2 Eb/N0)).
        n, ebn0_db = 200000, 4.0
        bits = np.random.default_rng(3).integers(0, 2, n).astype(np.uint8)
        tb = gr.top_block()
        src = blocks.vector_source_b(bits.tolist(), False)
        mp = invcsi.bpsk_bit_mapper(1.0)
        ch = channels.channel_model(noise_voltage=invcsi.bpsk_bit_mapper.noise_voltage(ebn0_db),
                                    frequency_offset=0.0, epsilon=1.0, taps=[1.0], noise_seed=9,
                                    block_tags=False)
        # channel_model's resampler drops its first 3 samples: delay them back into place.
        delay = blocks.delay(gr.sizeof_gr_complex, 3)
        dm = invcsi.bpsk_demapper()
        snk = blocks.vector_sink_b()
        tb.connect(src, mp, delay, ch, dm, snk)
        tb.run()
        rx = np.array(snk.data(), dtype=np.uint8)
        self.assertGreater(len(rx), n - 16)
        ber = np.mean(rx != bits[:len(rx)])
        theory = 0.5 * math.erfc(math.sqrt(10 ** (ebn0_db / 10)))
        self.assertAlmostEqual(ber, theory, delta=0.1 * theory)


if __name__ == '__main__':
    gr_unittest.run(qa_bpsk_demapper)
