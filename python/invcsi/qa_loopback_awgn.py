#!/usr/bin/env python3
#
# Copyright 2025 gr-invcsi developers
#
# This file is part of gr-invcsi
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA of the whole link as a flowgraph: examples/loopback_awgn.grc (CSI source -> encoder ->
DAQ -> BPSK -> channel_model -> demapper -> decoder -> NMSE probe), compiled with grcc and
run with a tiny InvCSINet trained here, against invcsi-eval on the same reports:

- without bit errors the flowgraph's NMSE is the evaluator's quantization-only NMSE;
- at Eb/N0 = 10 dB it equals `invcsi-eval --snr-db 10` within 0.1 dB (the issue's
  criterion; the two draw different noise, but at 10 dB BPSK makes ~4e-6 bit errors);
- at 0 dB the bit error rate is BPSK's Q(sqrt(2 Eb/N0)) and the NMSE is close to the
  evaluator's (other noise, so only close)."""

import csv
import importlib.util
import math
import os
import shutil
import subprocess
import sys
import tempfile

from gnuradio import gr_unittest

import core_reference as core

SOURCE_DIR = os.environ.get(
    "INVCSI_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
GRCC = shutil.which("grcc") or "/usr/bin/grcc"
REPORTS = 200
CDL_SEED = 1000  # the flowgraph's default: reports unseen in training (seed 1)


class qa_loopback_awgn(gr_unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="invcsi-qa-loop-")
        train_data = core.gen(os.path.join(cls.tmp, "train.mat"), samples=300, nt=8, nc=8, seed=1)
        cls.weights = core.train(os.path.join(cls.tmp, "icsi.safetensors"), train_data,
                                 "invcsinet", "1/4", 2, "--bits", 3)
        # The reports the flowgraph's CDL source emits: sample i of this seed.
        cls.eval_data = core.gen(os.path.join(cls.tmp, "eval.mat"), samples=REPORTS, nt=8,
                                 nc=8, seed=CDL_SEED, model="cdl-c")
        env = dict(os.environ, GRC_BLOCKS_PATH=os.path.join(SOURCE_DIR, "grc"))
        grc = os.path.join(SOURCE_DIR, "examples", "loopback_awgn.grc")
        r = subprocess.run([sys.executable, GRCC, "-o", cls.tmp, grc], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("grcc failed:\n" + r.stdout)
        spec = importlib.util.spec_from_file_location(
            "loopback_awgn", os.path.join(cls.tmp, "loopback_awgn.py"))
        cls.fg = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(cls.fg)
        cls.eval_rows = cls.invcsi_eval("inf,10,0")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def invcsi_eval(cls, snrs):
        path = os.path.join(cls.tmp, "eval.csv")
        core.run_app("invcsi-eval", "--data", cls.eval_data, "--weights", cls.weights,
                     "--split", "all", "--snr-db", snrs, "--threads", 1, "--quiet", "--csv", path)
        with open(path) as f:
            return {row["snr_db"]: row for row in csv.DictReader(f)}

    def run_flowgraph(self, snr_db):
        tb = self.fg.loopback_awgn(weights=self.weights, snr_db=snr_db, reports=REPORTS,
                                   cdl_seed=CDL_SEED, noise_seed=7)
        tb.run()
        probe = tb.invcsi_nmse_probe_0
        self.assertEqual(probe.count(), REPORTS)
        bits = tb.blocks_xor_xx_0.nitems_written(0)
        self.assertGreaterEqual(bits, REPORTS * tb.info.payload_bits)
        errors = tb.blocks_probe_signal_x_0.level()
        return probe.nmse_db(), probe.rho(), errors / bits

    def eval_row(self, key):
        row = self.eval_rows.get(key)
        self.assertIsNotNone(row, "invcsi-eval gave no row for Eb/N0 %s: %s"
                             % (key, sorted(self.eval_rows)))
        return float(row["nmse_db_zmean"]), float(row["rho_zmean"]), float(row["ber"])

    def test_001_error_free_equals_evaluator(self):
        nmse, rho, ber = self.run_flowgraph(60.0)  # N0 = 1e-6: no bit errors
        self.assertEqual(ber, 0.0)
        want_nmse, want_rho, _ = self.eval_row("inf")
        # Same reports, same core code; only batch round-off differs.
        self.assertAlmostEqual(nmse, want_nmse, delta=1e-3)
        self.assertAlmostEqual(rho, want_rho, delta=1e-4)

    def test_002_10db_equals_evaluator(self):
        nmse, rho, ber = self.run_flowgraph(10.0)
        want_nmse, want_rho, _ = self.eval_row("10")
        self.assertLess(ber, 1e-3)
        self.assertAlmostEqual(nmse, want_nmse, delta=0.1)
        self.assertAlmostEqual(rho, want_rho, delta=0.01)

    def test_003_0db_ber_and_nmse(self):
        nmse, rho, ber = self.run_flowgraph(0.0)
        theory = 0.5 * math.erfc(1.0)  # Q(sqrt(2 Eb/N0)) at Eb/N0 = 1
        self.assertAlmostEqual(ber, theory, delta=0.1 * theory)
        want_nmse, want_rho, want_ber = self.eval_row("0")
        self.assertAlmostEqual(want_ber, theory, delta=0.1 * theory)
        self.assertAlmostEqual(nmse, want_nmse, delta=0.5)


if __name__ == '__main__':
    gr_unittest.run(qa_loopback_awgn)
