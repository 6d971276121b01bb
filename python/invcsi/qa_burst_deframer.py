#!/usr/bin/env python3
#
# Copyright 2025 gr-invcsi developers
#
# This file is part of gr-invcsi
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA of invcsi.burst_deframer on symbol-spaced bursts from invcsi.burst_framer:
exact payloads and tags through a phase rotation (incl. 180 degrees: the BPSK ambiguity),
a carrier offset and noise; a corrupt header and a truncated payload are dropped and
counted while every other burst still arrives; a burst cut by the end of the stream
counts as truncated; counters as getters and as messages; parameter checks."""

import time

import numpy as np
from gnuradio import blocks, gr, gr_unittest

from gnuradio import invcsi

LEN_KEY = "packet_len"
NBITS = 96


def make_bursts(n, seed=1, nbits=NBITS, guard=16, header_repeat=3):
    """n bursts of random payloads: (list of per-burst symbol arrays, payloads)."""
    rng = np.random.default_rng(seed)
    payloads = rng.integers(0, 2, (n, nbits)).astype(np.uint8)
    tags = [gr.tag_utils.python_to_tag((k * nbits, gr.pmt.intern(LEN_KEY),
                                        gr.pmt.from_long(nbits))) for k in range(n)]
    tb = gr.top_block()
    src = blocks.vector_source_b(payloads.ravel().tolist(), False, 1, tags)
    fr = invcsi.burst_framer(LEN_KEY, 63, header_repeat, guard, 0, False)
    snk = blocks.vector_sink_c()
    tb.connect(src, fr, snk)
    tb.run()
    sym = np.array(snk.data(), dtype=np.complex64)
    per = invcsi.burst_framer.burst_symbols(nbits, 63, header_repeat, guard)
    return [sym[k * per:(k + 1) * per] for k in range(n)], payloads


def run_deframer(symbols, nbits=NBITS, header_repeat=3, with_msgs=False):
    tb = gr.top_block()
    src = blocks.vector_source_c(np.asarray(symbols, dtype=np.complex64).tolist(), False)
    df = invcsi.burst_deframer(nbits, 63, header_repeat, 0.35, 0.01, LEN_KEY)
    snk = blocks.vector_sink_b()
    tb.connect(src, df, snk)
    dbg = None
    if with_msgs:
        dbg = blocks.message_debug()
        tb.msg_connect(df, "counters", dbg, "store")
    tb.run()
    out = np.array(snk.data(), dtype=np.uint8)
    reports = sorted((t.offset, gr.pmt.to_long(t.value)) for t in snk.tags()
                     if gr.pmt.symbol_to_string(t.key) == "report")
    lens = sorted((t.offset, gr.pmt.to_long(t.value)) for t in snk.tags()
                  if gr.pmt.symbol_to_string(t.key) == LEN_KEY)
    return df, out, reports, lens, dbg


class qa_burst_deframer(gr_unittest.TestCase):

    def check_payloads(self, out, reports, payloads, nbits=NBITS):
        for k, (offset, counter) in enumerate(reports):
            self.assertEqual(offset, k * nbits)
            np.testing.assert_array_equal(out[offset:offset + nbits], payloads[counter],
                                          "payload of report %d" % counter)

    def test_001_clean_roundtrip(self):
        bursts, payloads = make_bursts(5)
        df, out, reports, lens, _ = run_deframer(np.concatenate(bursts + [np.zeros(64)]))
        self.assertEqual(len(out), 5 * NBITS)
        self.assertEqual([c for _, c in reports], [0, 1, 2, 3, 4])
        self.assertEqual(lens, [(k * NBITS, NBITS) for k in range(5)])
        self.check_payloads(out, reports, payloads)
        self.assertEqual((df.detected(), df.headers_ok(), df.headers_bad(), df.truncated(),
                          df.reports(), df.missing(), df.last_counter()), (5, 5, 0, 0, 5, 0, 4))

    def test_002_phase_cfo_noise(self):
        # 180 degrees is the BPSK ambiguity a Costas loop leaves: the preamble resolves it.
        bursts, payloads = make_bursts(8, seed=2)
        x = np.concatenate(bursts + [np.zeros(64)])
        rng = np.random.default_rng(5)
        n = np.arange(len(x))
        for phase, cfo in ((np.pi, 0.0), (2.0, 0.0), (0.3, 0.01), (-1.0, -0.02)):
            with self.subTest(phase=phase, cfo=cfo):
                noise = 0.15 * (rng.standard_normal(len(x)) + 1j * rng.standard_normal(len(x)))
                y = 0.7 * x * np.exp(1j * (phase + 2 * np.pi * cfo * n)) + noise  # Eb/N0 ~ 10 dB
                df, out, reports, _, _ = run_deframer(y)
                self.assertEqual([c for _, c in reports], list(range(8)))
                self.check_payloads(out, reports, payloads)
                self.assertEqual(df.headers_bad(), 0)

    def test_003_corrupt_header_dropped_and_counted(self):
        bursts, payloads = make_bursts(5, seed=3)
        bad = bursts[2].copy()
        start = 16 + 63
        for r in range(3):  # the same header bit in every copy: the CRC must catch it
            bad[start + 48 * r + 5] *= -1
        df, out, reports, _, dbg = run_deframer(
            np.concatenate(bursts[:2] + [bad] + bursts[3:] + [np.zeros(64)]), with_msgs=True)
        self.assertEqual([c for _, c in reports], [0, 1, 3, 4])
        self.check_payloads(out, reports, payloads)
        self.assertEqual((df.detected(), df.headers_ok(), df.headers_bad(), df.truncated(),
                          df.reports(), df.missing()), (5, 4, 1, 0, 4, 1))
        # the last message holds the final counters
        self.assertGreater(dbg.num_messages(), 0)
        last = dbg.get_message(dbg.num_messages() - 1)
        self.assertEqual(gr.pmt.to_long(gr.pmt.dict_ref(last, gr.pmt.intern("headers_bad"),
                                                        gr.pmt.PMT_NIL)), 1)
        self.assertEqual(gr.pmt.to_long(gr.pmt.dict_ref(last, gr.pmt.intern("reports"),
                                                        gr.pmt.PMT_NIL)), 4)

    def test_004_wrong_length_header_dropped(self):
        bursts, payloads = make_bursts(3, seed=4, nbits=80)
        df, out, reports, _, _ = run_deframer(np.concatenate(bursts + [np.zeros(64)]), nbits=96)
        self.assertEqual(len(out), 0)
        self.assertEqual((df.headers_ok(), df.headers_bad(), df.reports()), (0, 3, 0))
        df, out, reports, _, _ = run_deframer(np.concatenate(bursts + [np.zeros(64)]), nbits=0)
        self.assertEqual([c for _, c in reports], [0, 1, 2])  # any length accepted
        self.check_payloads(out, reports, payloads, nbits=80)

    def test_005_truncated_payload_dropped_and_counted(self):
        bursts, payloads = make_bursts(6, seed=6)
        cut_at = 16 + 63 + 144 + NBITS // 2
        cut_silence = bursts[1][:cut_at]  # the signal stops (then zeros)
        cut_spliced = bursts[3][:cut_at]  # the next burst starts inside the payload
        x = np.concatenate([bursts[0], cut_silence, np.zeros(200), bursts[2], cut_spliced[:-16],
                            bursts[4][16:], bursts[5], np.zeros(64)])
        df, out, reports, _, _ = run_deframer(x)
        self.assertEqual([c for _, c in reports], [0, 2, 4, 5])
        self.check_payloads(out, reports, payloads)
        self.assertEqual((df.detected(), df.headers_ok(), df.headers_bad(), df.truncated(),
                          df.reports(), df.missing()), (6, 6, 0, 2, 4, 2))

    def test_006_cut_by_end_of_stream(self):
        bursts, _ = make_bursts(2, seed=7)
        df, out, reports, _, _ = run_deframer(np.concatenate([bursts[0], bursts[1][:150]]))
        self.assertEqual([c for _, c in reports], [0])
        self.assertEqual(df.truncated(), 1)

    def test_007_noise_only(self):
        rng = np.random.default_rng(8)
        x = rng.standard_normal(20000) + 1j * rng.standard_normal(20000)
        df, out, reports, _, _ = run_deframer(x)
        self.assertEqual(len(out), 0)
        self.assertEqual(df.reports(), 0)
        self.assertEqual(df.symbols(), 20000)
        self.assertLessEqual(df.detected(), 2)  # threshold 0.35 vs ~0.1 for noise

    def test_008_bad_parameters(self):
        for kw in (dict(payload_bits=-1), dict(payload_bits=70000), dict(preamble_len=64),
                   dict(header_repeat=0), dict(threshold=0.0), dict(threshold=1.0),
                   dict(loop_bw=-0.1), dict(loop_bw=0.5)):
            with self.subTest(**kw):
                with self.assertRaises(ValueError):
                    invcsi.burst_deframer(**kw)


if __name__ == '__main__':
    gr_unittest.run(qa_burst_deframer)
