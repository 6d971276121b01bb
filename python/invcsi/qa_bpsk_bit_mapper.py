#!/usr/bin/env python3
#
# Copyright 2025 gr-invcsi developers
#
# This file is part of gr-invcsi
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA of invcsi.bpsk_bit_mapper: symbols equal the C core's invcsi_bpsk_map_complex (bit 0
-> +sqrt(Es)), only the LSB of each byte counts, and noise_voltage matches what
channels.channel_model adds."""

import numpy as np
from gnuradio import blocks, channels, gr, gr_unittest

from gnuradio import invcsi

import core_reference as core


def run_mapper(bits, es=1.0):
    tb = gr.top_block()
    src = blocks.vector_source_b(list(bits), False)
    mp = invcsi.bpsk_bit_mapper(es)
    snk = blocks.vector_sink_c()
    tb.connect(src, mp, snk)
    tb.run()
    return mp, np.array(snk.data(), dtype=np.complex64)


class qa_bpsk_bit_mapper(gr_unittest.TestCase):

    def test_001_equals_core(self):
        bits = np.random.default_rng(1).integers(0, 2, 5000).astype(np.uint8)
        for es in (1.0, 0.25, 4.0):
            with self.subTest(es=es):
                mp, got = run_mapper(bits, es)
                self.assertEqual(mp.es(), es)
                np.testing.assert_array_equal(got, core.bpsk_map(bits, es))

    def test_002_convention(self):
        # bit 0 -> +sqrt(Es), bit 1 -> -sqrt(Es); the byte's LSB is the bit (2 -> 0, 3 -> 1).
        _, got = run_mapper([0, 1, 2, 3, 255], 4.0)
        np.testing.assert_array_equal(got, np.array([2, -2, 2, -2, -2], dtype=np.complex64))

    def test_003_set_es_and_bad_es(self):
        mp = invcsi.bpsk_bit_mapper(1.0)
        mp.set_es(2.0)
        self.assertEqual(mp.es(), 2.0)
        for es in (0.0, -1.0, float("inf"), float("nan")):
            with self.subTest(es=es):
                with self.assertRaises(ValueError) as cm:
                    invcsi.bpsk_bit_mapper(es)
                self.assertIn("es", str(cm.exception))
                with self.assertRaises(ValueError):
                    mp.set_es(es)
        self.assertEqual(mp.es(), 2.0)

    def test_004_noise_voltage_matches_channel_model(self):
        # N0 = Es / (Eb/N0); channel_model's complex noise has total variance voltage^2.
        for ebn0_db, es in ((10.0, 1.0), (0.0, 1.0), (3.0, 2.0)):
            v = invcsi.bpsk_bit_mapper.noise_voltage(ebn0_db, es)
            self.assertAlmostEqual(v * v, es / 10 ** (ebn0_db / 10), places=12)
        v = invcsi.bpsk_bit_mapper.noise_voltage(0.0)
        tb = gr.top_block()
        src = blocks.null_source(gr.sizeof_gr_complex)
        head = blocks.head(gr.sizeof_gr_complex, 100000)
        ch = channels.channel_model(noise_voltage=v, frequency_offset=0.0, epsilon=1.0,
                                    taps=[1.0], noise_seed=5, block_tags=False)
        snk = blocks.vector_sink_c()
        tb.connect(src, head, ch, snk)
        tb.run()
        noise = np.array(snk.data())
        self.assertAlmostEqual(np.mean(np.abs(noise) ** 2), v * v, delta=0.02 * v * v)
        self.assertAlmostEqual(np.var(noise.real), v * v / 2, delta=0.02 * v * v)
        with self.assertRaises(ValueError):
            invcsi.bpsk_bit_mapper.noise_voltage(float("nan"))
        with self.assertRaises(ValueError):
            invcsi.bpsk_bit_mapper.noise_voltage(10.0, 0.0)


if __name__ == '__main__':
    gr_unittest.run(qa_bpsk_bit_mapper)
