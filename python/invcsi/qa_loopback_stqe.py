#!/usr/bin/env python3
#
# Copyright 2025 gr-invcsi developers
#
# This file is part of gr-invcsi
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA of examples/loopback_stqe.grc: STQENet coded reports over the simulated burst PHY of
ota_sim (UE: CSI source -> STQENet encoder -> PDU to tagged stream -> bits -> burst framer
-> RRC -> tail; channel_model with AWGN, CFO 1.5 % of the symbol rate, 0.5-sample delay,
20 ppm clock offset and three taps; BS: pfb_clock_sync -> costas -> burst deframer ->
tagged stream to PDU -> report sequencer -> STQENet decoder -> NMSE probe), compiled with
grcc and run with a tiny STQENet trained here:

- 20 dB: every burst is detected and every report arrives, and the decoded CSI equals the
  core's decode of the core's encode of the same CSI, float for float;
- 7 dB: some payloads fail their CRC: each output report is either that exact decode or,
  for a dropped one (tagged "stqe_dropped"), all zeros; the counters add up; the probe's
  NMSE counts every dropped report as a reconstruction of zeros (linear NMSE 1);
- 0 dB: bursts are lost (headers fail their CRC) and the rest fail their CRC: every report
  is dropped and counted, nothing is decoded, NMSE exactly 0 dB;
- the report sequencer alone: reports lost in a gap and at the very end of the stream
  become empty PDUs, which the decoder turns into zero reports before it finishes."""

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pmt
from gnuradio import blocks, gr, gr_unittest, invcsi, pdu

import core_reference as core
from qa_stqe_encoder import StqeCore, tiny_stqenet

SOURCE_DIR = os.environ.get(
    "INVCSI_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
GRCC = shutil.which("grcc") or "/usr/bin/grcc"
REPORTS = 40
CDL_SEED = 1000  # the flowgraph's default: reports unseen in training (seed 1)


def nmse_db(h, h_hat):
    """The probe's NMSE: 10 log10 of the mean over reports of ||H - H^||^2 / ||H||^2."""
    err = np.sum(np.abs(h - h_hat) ** 2, axis=1) / np.sum(np.abs(h) ** 2, axis=1)
    return 10 * np.log10(np.mean(err))


class qa_loopback_stqe(gr_unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        gr.logging().set_default_level(gr.log_levels.warn)
        cls.tmp = tempfile.mkdtemp(prefix="invcsi-qa-loop-stqe-")
        cls.weights, _ = tiny_stqenet(cls.tmp)
        cls.eval_data = core.gen(os.path.join(cls.tmp, "eval.mat"), samples=REPORTS, nr=1,
                                 nt=32, nc=32, seed=CDL_SEED, model="cdl-c")
        cls.h = core.read_h(cls.eval_data)
        cls.ref = StqeCore(cls.weights)
        cls.pdus = cls.ref.encode(cls.h)
        cls.want = np.array([cls.ref.decode(p) for p in cls.pdus])

        env = dict(os.environ, GRC_BLOCKS_PATH=os.path.join(SOURCE_DIR, "grc"))
        grc = os.path.join(SOURCE_DIR, "examples", "loopback_stqe.grc")
        r = subprocess.run([sys.executable, GRCC, "-o", cls.tmp, grc], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=120)
        if r.returncode != 0:
            raise RuntimeError("grcc failed:\n" + r.stdout)
        sys.path.insert(0, cls.tmp)  # the flowgraph's embedded modules and blocks
        cls.fg = cls.load("loopback_stqe")
        cls.sequencer = cls.load("loopback_stqe_report_sequencer")

    @classmethod
    def load(cls, name):
        spec = importlib.util.spec_from_file_location(name, os.path.join(cls.tmp, name + ".py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    @classmethod
    def tearDownClass(cls):
        cls.ref.close()
        sys.path.remove(cls.tmp)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_flowgraph(self, snr_db, reports=REPORTS, **kw):
        tb = self.fg.loopback_stqe(weights=self.weights, snr_db=snr_db, reports=reports,
                                   cdl_seed=CDL_SEED, noise_seed=7, **kw)
        dec = tb.invcsi_stqe_decoder_0
        snk = blocks.vector_sink_c(dec.vlen())
        tb.connect(dec, snk)  # a second reader of the decoder's output
        tb.run()
        out = np.array(snk.data(), dtype=np.complex64).reshape(-1, dec.vlen())
        dropped = {t.offset for t in snk.tags() if pmt.symbol_to_string(t.key) == "stqe_dropped"}
        seq, deframer = tb.report_sequencer, tb.invcsi_burst_deframer_0
        # One report out per report sent, whatever the link did.
        self.assertEqual(tb.invcsi_nmse_probe_0.count(), reports)
        self.assertEqual(out.shape[0], reports)
        self.assertEqual(tb.invcsi_burst_framer_0.bursts(), reports)
        self.assertEqual(seq.received + seq.lost, reports)
        self.assertEqual(seq.received, deframer.reports())
        self.assertEqual(seq.ignored, 0)
        self.assertEqual(dec.received(), reports)  # a PDU per report, empty if lost
        self.assertEqual(dec.decoded() + dec.dropped(), reports)
        self.assertEqual(dec.dropped(), len(dropped))
        self.assertEqual(sorted(seq.lost_reports), sorted(set(seq.lost_reports)))
        self.assertTrue(set(seq.lost_reports) <= dropped)
        # A lost burst reaches the decoder as an empty PDU ("too short"); a received one
        # with bit errors fails its CRC (or its length prefix).
        self.assertEqual(dec.drop_faults().get("too short", 0), seq.lost)
        enc = tb.invcsi_stqe_encoder_0
        self.assertEqual(enc.reports(), reports)
        return tb, out, dropped

    def test_001_high_snr_equals_core(self):
        tb, out, dropped = self.run_flowgraph(20.0)
        d = tb.invcsi_burst_deframer_0
        self.assertEqual(dropped, set())
        self.assertEqual(d.detected(), REPORTS)
        self.assertEqual(d.headers_bad() + d.truncated() + d.missing(), 0)
        self.assertEqual(tb.report_sequencer.lost, 0)
        np.testing.assert_array_equal(out, self.want)
        self.assertEqual(tb.invcsi_stqe_encoder_0.pdu_bytes(), sum(len(p) for p in self.pdus))
        self.assertEqual(tb.max_pdu_bytes, tb.invcsi_stqe_encoder_0.max_pdu_bytes())
        self.assertAlmostEqual(tb.invcsi_nmse_probe_0.nmse_db(), nmse_db(self.h, self.want),
                               delta=1e-3)

    def test_002_crc_failures_count_as_zeros(self):
        tb, out, dropped = self.run_flowgraph(7.0)
        self.assertGreater(len(dropped), 0)
        self.assertLess(len(dropped), REPORTS)
        for i in range(REPORTS):
            if i in dropped:
                self.assertFalse(out[i].any(), "report %d: dropped, must be zeros" % i)
            else:  # arrived intact (the CRC passed), so decoded exactly
                np.testing.assert_array_equal(out[i], self.want[i])
        expect = self.want.copy()
        expect[sorted(dropped)] = 0
        self.assertAlmostEqual(tb.invcsi_nmse_probe_0.nmse_db(), nmse_db(self.h, expect),
                               delta=1e-3)

    def test_003_0db_lost_and_dropped_nothing_decoded(self):
        tb, out, dropped = self.run_flowgraph(0.0)
        seq, dec = tb.report_sequencer, tb.invcsi_stqe_decoder_0
        self.assertGreater(seq.lost, 0)  # whole bursts lost to header errors
        self.assertGreater(seq.received, 0)  # the others arrive, and fail their CRC
        self.assertEqual(len(dropped), REPORTS)
        self.assertEqual(dec.decoded(), 0)
        self.assertFalse(out.any())
        self.assertAlmostEqual(tb.invcsi_nmse_probe_0.nmse_db(), 0.0, delta=1e-9)

    def sequence(self, sent, reports):
        """sent: (counter, pdu bytes) bursts as the deframer would deliver them, through
        tagged_stream_to_pdu -> report sequencer -> stqe_decoder (zeros); the decoder's
        reports and the sequencer."""
        bits, tags, offset = [], [], 0
        for counter, payload in sent:
            b = np.unpackbits(np.frombuffer(bytes(payload), dtype=np.uint8)).tolist()
            tags.append(gr.tag_utils.python_to_tag(
                (offset, pmt.intern("packet_len"), pmt.from_long(len(b)))))
            tags.append(gr.tag_utils.python_to_tag(
                (offset, pmt.intern("report"), pmt.from_long(counter))))
            bits += b
            offset += len(b)
        tb = gr.top_block()
        src = blocks.vector_source_b(bits, False, 1, tags)
        to_pdu = pdu.tagged_stream_to_pdu(gr.types.byte_t, "packet_len")
        seq = self.sequencer.blk(reports=reports)
        dec = invcsi.stqe_decoder(self.weights, "zeros")
        snk = blocks.vector_sink_c(dec.vlen())
        tb.connect(src, to_pdu)
        tb.msg_connect((to_pdu, "pdus"), (seq, "bursts"))
        tb.msg_connect((seq, "pdus"), (dec, "pdus"))
        tb.connect(dec, snk)
        tb.run()
        return np.array(snk.data(), dtype=np.complex64).reshape(-1, dec.vlen()), seq

    def test_004_sequencer_fills_gaps_and_the_end(self):
        p = self.pdus
        # 1 and 3, 4 lost (3 and 4 at the end: only the end of the stream tells); a repeat
        # of 0 and a counter beyond the reports sent are ignored.
        for _ in range(5):  # the end-of-stream hand-over is threaded: repeat it
            out, seq = self.sequence([(0, p[0]), (2, p[2]), (0, p[0]), (9, p[9])], 5)
            self.assertEqual(out.shape[0], 5)
            np.testing.assert_array_equal(out[0], self.want[0])
            np.testing.assert_array_equal(out[2], self.want[2])
            self.assertFalse(out[[1, 3, 4]].any())
            self.assertEqual((seq.received, seq.lost, seq.ignored), (2, 3, 2))
            self.assertEqual(seq.lost_reports, [1, 3, 4])
        out, seq = self.sequence([], 3)  # nothing received at all
        self.assertEqual(out.shape[0], 3)
        self.assertFalse(out.any())
        self.assertEqual(seq.lost_reports, [0, 1, 2])


if __name__ == '__main__':
    gr_unittest.run(qa_loopback_stqe)
