#!/usr/bin/env python3
#
# Copyright 2025 gr-invcsi developers
#
# This file is part of gr-invcsi
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA of examples/loopback_stqe.grc (CSI source -> STQENet encoder -> PDU to tagged stream
-> bits -> BPSK + AWGN -> hard bits -> bytes -> tagged stream to PDU -> STQENet decoder ->
NMSE probe), compiled with grcc and run with a tiny STQENet trained here:

- without bit errors every report arrives and equals the core's decode of the core's
  encode of the same CSI, and the probe's NMSE is the NMSE of those;
- with bit errors (7 dB: about half the reports are hit) each output report is either
  that exact decode or, for a dropped report (tagged "stqe_dropped"), all zeros, the
  decoder's counters add up, and the probe's NMSE counts the dropped reports as
  reconstructions of zeros (linear NMSE 1 each);
- at 0 dB (BER 8 %) no report survives its CRC: NMSE exactly 0 dB, nothing decoded."""

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pmt
from gnuradio import blocks, gr_unittest

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
        cls.tmp = tempfile.mkdtemp(prefix="invcsi-qa-loop-stqe-")
        cls.weights, _ = tiny_stqenet(cls.tmp)
        eval_data = core.gen(os.path.join(cls.tmp, "eval.mat"), samples=REPORTS, nr=1, nt=32,
                             nc=32, seed=CDL_SEED, model="cdl-c")
        cls.h = core.read_h(eval_data)
        ref = StqeCore(cls.weights)
        cls.pdus = ref.encode(cls.h)
        cls.want = np.array([ref.decode(p) for p in cls.pdus])
        ref.close()

        env = dict(os.environ, GRC_BLOCKS_PATH=os.path.join(SOURCE_DIR, "grc"))
        grc = os.path.join(SOURCE_DIR, "examples", "loopback_stqe.grc")
        r = subprocess.run([sys.executable, GRCC, "-o", cls.tmp, grc], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=120)
        if r.returncode != 0:
            raise RuntimeError("grcc failed:\n" + r.stdout)
        sys.path.insert(0, cls.tmp)  # the flowgraph's embedded module (stqe_weights)
        spec = importlib.util.spec_from_file_location(
            "loopback_stqe", os.path.join(cls.tmp, "loopback_stqe.py"))
        cls.fg = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(cls.fg)

    @classmethod
    def tearDownClass(cls):
        sys.path.remove(cls.tmp)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_flowgraph(self, snr_db):
        tb = self.fg.loopback_stqe(weights=self.weights, snr_db=snr_db, reports=REPORTS,
                                   cdl_seed=CDL_SEED, noise_seed=7)
        dec = tb.invcsi_stqe_decoder_0
        snk = blocks.vector_sink_c(dec.vlen())
        tb.connect(dec, snk)  # a second reader of the decoder's output
        tb.run()
        out = np.array(snk.data(), dtype=np.complex64).reshape(-1, dec.vlen())
        dropped = {t.offset for t in snk.tags() if pmt.symbol_to_string(t.key) == "stqe_dropped"}
        probe = tb.invcsi_nmse_probe_0
        self.assertEqual(probe.count(), REPORTS)
        self.assertEqual(out.shape[0], REPORTS)
        self.assertEqual(dec.received(), REPORTS)
        self.assertEqual(dec.decoded() + dec.dropped(), REPORTS)
        self.assertEqual(dec.dropped(), len(dropped))
        enc = tb.invcsi_stqe_encoder_0
        self.assertEqual(enc.reports(), REPORTS)
        self.assertEqual(enc.pdu_bytes(), sum(len(p) for p in self.pdus))
        return tb, out, dropped

    def test_001_error_free_equals_core(self):
        tb, out, dropped = self.run_flowgraph(60.0)  # N0 = 1e-6: no bit errors
        self.assertEqual(dropped, set())
        np.testing.assert_array_equal(out, self.want)
        probe = tb.invcsi_nmse_probe_0
        self.assertAlmostEqual(probe.nmse_db(), nmse_db(self.h, self.want), delta=1e-3)

    def test_002_dropped_reports_count_as_zeros(self):
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
        faults = tb.invcsi_stqe_decoder_0.drop_faults()
        self.assertEqual(sum(faults.values()), len(dropped))

    def test_003_0db_nothing_survives(self):
        tb, out, dropped = self.run_flowgraph(0.0)
        self.assertEqual(len(dropped), REPORTS)
        self.assertFalse(out.any())
        self.assertAlmostEqual(tb.invcsi_nmse_probe_0.nmse_db(), 0.0, delta=1e-9)


if __name__ == '__main__':
    gr_unittest.run(qa_loopback_stqe)
