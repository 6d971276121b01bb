#!/usr/bin/env python3
#
# Copyright 2025 gr-invcsi developers
#
# This file is part of gr-invcsi
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA of invcsi.burst_framer: the burst layout of burst.h (guard, m-sequence preamble,
header x R with counter, length and CRC-16/CCITT, payload as 1 - 2b, guard), the output
tags (packet_len in symbols, report counter, tx_sob/tx_eob), counters and parameter checks."""

import numpy as np
from gnuradio import blocks, gr, gr_unittest

from gnuradio import invcsi

LEN_KEY = "packet_len"


def crc16_ccitt(data):
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def header_bits(counter, n):
    word = (counter << 32) | (n << 16) | crc16_ccitt([counter >> 8, counter & 255, n >> 8, n & 255])
    return np.array([(word >> (47 - i)) & 1 for i in range(48)], dtype=np.uint8)


def tagged_bits(packets):
    data, tags, off = [], [], 0
    for p in packets:
        tags.append(gr.tag_utils.python_to_tag((off, gr.pmt.intern(LEN_KEY),
                                                gr.pmt.from_long(len(p)))))
        data.extend(int(b) for b in p)
        off += len(p)
    return data, tags


def run_framer(packets, **kw):
    data, tags = tagged_bits(packets)
    tb = gr.top_block()
    src = blocks.vector_source_b(data, False, 1, tags)
    fr = invcsi.burst_framer(LEN_KEY, **kw)
    snk = blocks.vector_sink_c()
    tb.connect(src, fr, snk)
    tb.run()
    return fr, np.array(snk.data(), dtype=np.complex64), snk.tags()


class qa_burst_framer(gr_unittest.TestCase):

    def test_001_preamble_is_an_m_sequence(self):
        for L in (31, 63, 127):
            with self.subTest(L=L):
                p = np.array(invcsi.burst_framer.preamble(L))
                self.assertEqual(len(p), L)
                self.assertTrue(set(p.tolist()) <= {1.0, -1.0})
                # periodic autocorrelation: L at lag 0, -1 at every other lag
                ac = [int(np.dot(p, np.roll(p, k))) for k in range(L)]
                self.assertEqual(ac[0], L)
                self.assertEqual(set(ac[1:]), {-1})
        with self.assertRaises(ValueError):
            invcsi.burst_framer.preamble(64)

    def test_002_layout(self):
        rng = np.random.default_rng(3)
        packets = [rng.integers(0, 2, 100).astype(np.uint8) for _ in range(3)]
        L, R, G = 63, 3, 16
        fr, out, tags = run_framer(packets, preamble_len=L, header_repeat=R, guard=G,
                                   first_counter=65534)
        per = invcsi.burst_framer.burst_symbols(100, L, R, G)
        self.assertEqual(per, 2 * G + L + 48 * R + 100)
        self.assertEqual(len(out), 3 * per)
        self.assertEqual(fr.bursts(), 3)
        self.assertEqual(fr.next_counter(), 1)  # 65534, 65535, 0, then 1
        self.assertTrue(np.all(out.imag == 0))
        pre = np.array(invcsi.burst_framer.preamble(L))
        for k, counter in enumerate((65534, 65535, 0)):
            b = out[k * per:(k + 1) * per].real
            np.testing.assert_array_equal(b[:G], 0)
            np.testing.assert_array_equal(b[-G:], 0)
            np.testing.assert_array_equal(b[G:G + L], pre)
            h = header_bits(counter, 100)
            hs = b[G + L:G + L + 48 * R]
            np.testing.assert_array_equal(hs, np.tile(1 - 2.0 * h, R))
            np.testing.assert_array_equal(b[G + L + 48 * R:-G], 1 - 2.0 * packets[k])
        lens = [(t.offset, gr.pmt.to_long(t.value)) for t in tags
                if gr.pmt.symbol_to_string(t.key) == LEN_KEY]
        reps = [(t.offset, gr.pmt.to_long(t.value)) for t in tags
                if gr.pmt.symbol_to_string(t.key) == "report"]
        self.assertEqual(lens, [(k * per, per) for k in range(3)])
        self.assertEqual(reps, [(0, 65534), (per, 65535), (2 * per, 0)])
        self.assertFalse([t for t in tags if gr.pmt.symbol_to_string(t.key) in ("tx_sob", "tx_eob")])

    def test_003_burst_tags(self):
        fr, out, tags = run_framer([np.ones(10, np.uint8)] * 2, burst_tags=True, guard=0)
        per = invcsi.burst_framer.burst_symbols(10, 63, 3, 0)
        sob = [t.offset for t in tags if gr.pmt.symbol_to_string(t.key) == "tx_sob"]
        eob = [t.offset for t in tags if gr.pmt.symbol_to_string(t.key) == "tx_eob"]
        self.assertEqual(sob, [0, per])
        self.assertEqual(eob, [per - 1, 2 * per - 1])

    def test_004_bad_parameters(self):
        for kw in (dict(preamble_len=64), dict(header_repeat=0), dict(header_repeat=17),
                   dict(guard=-1), dict(guard=5000), dict(first_counter=65536),
                   dict(first_counter=-1)):
            with self.subTest(**kw):
                with self.assertRaises(ValueError):
                    invcsi.burst_framer(LEN_KEY, **kw)
        with self.assertRaises(ValueError):
            invcsi.burst_framer("")
        with self.assertRaises(ValueError):
            invcsi.burst_framer.burst_symbols(0)


if __name__ == '__main__':
    gr_unittest.run(qa_burst_framer)
