#!/usr/bin/env python3
#
# Copyright 2025 gr-invcsi developers
#
# This file is part of gr-invcsi
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA of the receiver's fault handling through the whole PHY of examples/ota_sim.grc (RRC,
channel_model with CFO 1.5 % of the symbol rate, 0.5-sample delay, clock offset, three taps
and noise at Eb/N0 = 20 dB, pfb_clock_sync, costas_loop, burst_deframer): in a train of
bursts, one has a corrupt header (the same bit flipped in every copy, so soft combining
cannot save it), one a truncated payload (the transmitter stops mid-payload; another is
cut by the next burst). Each is dropped and counted, nothing is output for it, the counter
gaps show as missing reports, and every other burst, before and after, arrives intact."""

import math

import numpy as np
from gnuradio import blocks, channels, digital, filter, gr, gr_unittest
from gnuradio.filter import firdes

from gnuradio import invcsi

LEN_KEY = "packet_len"
NBITS = 384
SPS, ALPHA, NFILTS = 4, 0.35, 32
L, R, G = 63, 3, 16


def bursts_of(payloads):
    tags = [gr.tag_utils.python_to_tag((k * NBITS, gr.pmt.intern(LEN_KEY), gr.pmt.from_long(NBITS)))
            for k in range(len(payloads))]
    tb = gr.top_block()
    src = blocks.vector_source_b(payloads.ravel().tolist(), False, 1, tags)
    fr = invcsi.burst_framer(LEN_KEY, L, R, G, 0, False)
    snk = blocks.vector_sink_c()
    tb.connect(src, fr, snk)
    tb.run()
    sym = np.array(snk.data(), dtype=np.complex64)
    per = invcsi.burst_framer.burst_symbols(NBITS, L, R, G)
    return [sym[k * per:(k + 1) * per] for k in range(len(payloads))]


def through_phy(symbols, ebn0_db=20.0, cfo=0.015, seed=3):
    """ota_sim's chain from the framer's output to the deframer."""
    rrc = np.array(firdes.root_raised_cosine(1.0, SPS, 1.0, ALPHA, 11 * SPS + 1))
    rrc /= np.sqrt(np.sum(rrc ** 2))
    h = np.array([1.0, 0.3j, -0.15])
    h = h / np.sqrt(np.sum(np.abs(np.convolve(rrc, h)) ** 2))
    tb = gr.top_block()
    src = blocks.vector_source_c(np.asarray(symbols, dtype=np.complex64).tolist(), False)
    interp = filter.interp_fir_filter_ccf(SPS, rrc.tolist())
    delay = filter.mmse_resampler_cc(0.5, 1.0)
    ch = channels.channel_model(invcsi.bpsk_bit_mapper.noise_voltage(ebn0_db, 1.0), cfo / SPS,
                                1.0 + 20e-6, h.tolist(), seed, False)
    pfb = digital.pfb_clock_sync_ccf(SPS, 2 * math.pi / 100,
                                     firdes.root_raised_cosine(NFILTS, NFILTS * SPS, 1.0, ALPHA,
                                                               11 * SPS * NFILTS),
                                     NFILTS, NFILTS // 2, 1.5, 1)
    costas = digital.costas_loop_cc(0.02, 2, False)
    df = invcsi.burst_deframer(NBITS, L, R, 0.35, 0.01, LEN_KEY)
    snk = blocks.vector_sink_b()
    tb.connect(src, interp, delay, ch, pfb, costas, df, snk)
    tb.run()
    out = np.array(snk.data(), dtype=np.uint8)
    reports = sorted((t.offset, gr.pmt.to_long(t.value)) for t in snk.tags()
                     if gr.pmt.symbol_to_string(t.key) == "report")
    return df, out, reports


class qa_ota_faults(gr_unittest.TestCase):

    def test_001_corrupt_header_and_truncated_payloads(self):
        payloads = np.random.default_rng(11).integers(0, 2, (10, NBITS)).astype(np.uint8)
        b = bursts_of(payloads)
        hdr = G + L
        corrupt = b[2].copy()
        for r in range(R):
            corrupt[hdr + 48 * r + 20] *= -1  # a length bit, in all copies
        cut = G + L + 48 * R + NBITS // 2
        stopped = b[5][:cut]  # the transmitter stops mid-payload; silence follows
        spliced = b[7][:cut]  # burst 8 starts where burst 7's payload should continue
        x = np.concatenate(b[:2] + [corrupt] + b[3:5] + [stopped, np.zeros(300, np.complex64)] +
                           [b[6], spliced] + b[8:] + [np.zeros(256, np.complex64)])
        df, out, reports = through_phy(x)
        got = [c for _, c in reports]
        self.assertEqual(got, [0, 1, 3, 4, 6, 8, 9])
        for k, (offset, c) in enumerate(reports):
            self.assertEqual(offset, k * NBITS)
            np.testing.assert_array_equal(out[offset:offset + NBITS], payloads[c],
                                          "payload of report %d" % c)
        self.assertEqual(len(out), 7 * NBITS)
        self.assertEqual(df.detected(), 10)
        self.assertEqual(df.headers_ok(), 9)
        self.assertEqual(df.headers_bad(), 1)
        self.assertEqual(df.truncated(), 2)
        self.assertEqual(df.reports(), 7)
        self.assertEqual(df.missing(), 3)  # counters 2, 5 and 7 never arrived
        self.assertEqual(df.last_counter(), 9)


if __name__ == '__main__':
    gr_unittest.run(qa_ota_faults)
