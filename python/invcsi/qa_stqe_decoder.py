#!/usr/bin/env python3
#
# Copyright 2025 gr-invcsi developers
#
# This file is part of gr-invcsi
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA of invcsi.stqe_decoder: fed PDUs made by the C core, through the stock
pdu.tagged_stream_to_pdu as in a flowgraph, its output equals the core's decode
(invcsi_stqenet_decode_report, the inverse scale and DFT) float for float; a corrupted,
truncated or too short PDU is dropped and counted, never decoded, and stands as zeros,
the last report or nothing (on_drop) with a "stqe_dropped" tag; bad parameters raise."""

import os
import shutil
import tempfile
import time

import numpy as np
import pmt
from gnuradio import blocks, gr, gr_unittest, pdu

from gnuradio import invcsi

import core_reference as core
from qa_stqe_encoder import SOURCE_DIR, StqeCore, tiny_stqenet

LEN_KEY = "packet_len"


def tagged_bytes(pdus):
    """The PDUs as one byte stream with a length tag at the start of each."""
    data, tags, at = [], [], 0
    for p in pdus:
        t = gr.tag_t()
        t.offset = at
        t.key = pmt.intern(LEN_KEY)
        t.value = pmt.from_long(len(p))
        tags.append(t)
        data += list(p)
        at += len(p)
    return data, tags


class qa_stqe_decoder(gr_unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="invcsi-qa-stqe-dec-")
        cls.weights, data = tiny_stqenet(cls.tmp)
        cls.h = core.read_h(data)[:24]
        cls.ref = StqeCore(cls.weights)
        cls.pdus = cls.ref.encode(cls.h)
        cls.want = np.array([cls.ref.decode(p) for p in cls.pdus])

    @classmethod
    def tearDownClass(cls):
        cls.ref.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def decode(self, pdus, on_drop="zeros"):
        """Runs byte stream -> tagged_stream_to_pdu -> decoder -> sink; returns the decoder,
        the output reports and their tags {report index: fault}."""
        dec = invcsi.stqe_decoder(self.weights, on_drop)
        data, tags = tagged_bytes(pdus)
        src = blocks.vector_source_b(data, False, 1, tags)
        to_pdu = pdu.tagged_stream_to_pdu(gr.types.byte_t, LEN_KEY)
        snk = blocks.vector_sink_c(dec.vlen())
        tb = gr.top_block()
        tb.connect(src, to_pdu)
        tb.msg_connect(to_pdu, "pdus", dec, "pdus")
        tb.connect(dec, snk)
        tb.run()
        out = np.array(snk.data(), dtype=np.complex64).reshape(-1, dec.vlen())
        faults = {t.offset: pmt.symbol_to_string(t.value) for t in snk.tags()
                  if pmt.symbol_to_string(t.key) == "stqe_dropped"}
        return dec, out, faults

    def corrupted(self):
        """(pdus, {index: fault}): a flipped payload bit, a cut-off tail and a stub."""
        pdus = list(self.pdus)
        bad = {}
        b = bytearray(pdus[3])
        b[len(b) // 2] ^= 0x10
        pdus[3], bad[3] = bytes(b), "crc mismatch"
        pdus[7], bad[7] = pdus[7][:-5], "truncated"
        pdus[8], bad[8] = pdus[8][:3], "too short"
        b = bytearray(pdus[12])
        b[-1] ^= 0x01  # the CRC itself
        pdus[12], bad[12] = bytes(b), "crc mismatch"
        for i in bad:  # the reference agrees that each is to be dropped
            self.assertIsNone(self.ref.decode(pdus[i]), "report %d" % i)
        return pdus, bad

    def test_001_equals_core(self):
        dec, out, faults = self.decode(self.pdus)
        self.assertEqual(out.shape, self.want.shape)
        np.testing.assert_array_equal(out, self.want)  # float-exact: the same core calls
        self.assertEqual(faults, {})
        self.assertEqual((dec.received(), dec.decoded(), dec.dropped(), dec.reports_out()),
                         (len(self.pdus), len(self.pdus), 0, len(self.pdus)))
        self.assertEqual(dec.drop_faults(), {})
        # and it is a reconstruction of H, not something else of the right size
        self.assertEqual((dec.nr(), dec.nt(), dec.nc(), dec.m(), dec.bits()),
                         (self.ref.nr, self.ref.nt, self.ref.nc, self.ref.m, self.ref.bits))

    def test_002_corrupted_dropped_as_zeros(self):
        pdus, bad = self.corrupted()
        dec, out, faults = self.decode(pdus)
        n = len(pdus)
        self.assertEqual(out.shape[0], n)
        for i in range(n):
            if i in bad:
                self.assertFalse(out[i].any(), "report %d: dropped, must be zeros" % i)
            else:
                np.testing.assert_array_equal(out[i], self.want[i])
        self.assertEqual(faults, bad)
        self.assertEqual((dec.received(), dec.decoded(), dec.dropped(), dec.reports_out()),
                         (n, n - len(bad), len(bad), n))
        self.assertEqual(dec.drop_faults(),
                         {"crc mismatch": 2, "truncated": 1, "too short": 1})
        dec.reset_counters()
        self.assertEqual((dec.received(), dec.decoded(), dec.dropped(), dec.drop_faults()),
                         (0, 0, 0, {}))

    def test_003_hold_and_skip(self):
        pdus, bad = self.corrupted()
        pdus[0] = pdus[0][:-1]  # nothing decoded yet: "hold" gives zeros
        bad[0] = "truncated"
        dec, out, faults = self.decode(pdus, "hold")
        self.assertEqual(dec.on_drop(), "hold")
        last = np.zeros_like(self.want[0])
        for i in range(len(pdus)):
            if i in bad:
                np.testing.assert_array_equal(out[i], last)
            else:
                np.testing.assert_array_equal(out[i], self.want[i])
                last = self.want[i]
        self.assertEqual(faults, bad)

        dec, out, faults = self.decode(pdus, "skip")
        keep = [i for i in range(len(pdus)) if i not in bad]
        np.testing.assert_array_equal(out, self.want[keep])
        self.assertEqual(faults, {})
        self.assertEqual((dec.received(), dec.dropped(), dec.reports_out()),
                         (len(pdus), len(bad), len(keep)))

    def test_004_not_a_pdu(self):
        # Posted straight to the port (no upstream to end the flowgraph): run until done.
        dec = invcsi.stqe_decoder(self.weights)
        snk = blocks.vector_sink_c(dec.vlen())
        tb = gr.top_block()
        tb.connect(dec, snk)
        port = pmt.intern("pdus")
        tb.start()
        dec.to_basic_block()._post(port, pmt.intern("hello"))
        dec.to_basic_block()._post(port, pmt.cons(pmt.PMT_NIL,
                                                  pmt.init_u8vector(len(self.pdus[1]),
                                                                    list(self.pdus[1]))))
        deadline = time.time() + 20
        while len(snk.data()) < 2 * dec.vlen() and time.time() < deadline:
            time.sleep(0.01)
        tb.stop()
        tb.wait()
        out = np.array(snk.data(), dtype=np.complex64).reshape(-1, dec.vlen())
        self.assertEqual(out.shape[0], 2)
        self.assertFalse(out[0].any())
        np.testing.assert_array_equal(out[1], self.want[1])
        self.assertEqual(dec.drop_faults(), {"not a pdu": 1})
        self.assertEqual((dec.received(), dec.decoded(), dec.dropped()), (2, 1, 1))

    def test_005_bad_parameters(self):
        with self.assertRaises(ValueError) as cm:
            invcsi.stqe_decoder(self.weights, "garbage")
        self.assertIn("on_drop", str(cm.exception))
        with self.assertRaises(ValueError):
            invcsi.stqe_decoder("")
        with self.assertRaises(RuntimeError) as cm:
            invcsi.stqe_decoder(os.path.join(self.tmp, "missing.safetensors"))
        self.assertIn("invcsi stqe_decoder", str(cm.exception))
        inn = os.path.join(SOURCE_DIR, "examples", "weights", "inn-cr16.safetensors")
        if os.path.exists(inn):
            with self.assertRaises(RuntimeError):
                invcsi.stqe_decoder(inn)


if __name__ == '__main__':
    gr_unittest.run(qa_stqe_decoder)
