#!/usr/bin/env python3
#
# Copyright 2025 gr-invcsi developers
#
# This file is part of gr-invcsi
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA of invcsi.nmse_probe: vector sources -> probe, checked against numpy and the C core."""

import ctypes
import os
import time

import numpy as np
import pmt
from gnuradio import blocks, gr, gr_unittest

from gnuradio import invcsi


# ---- references ---------------------------------------------------------------------

def numpy_metrics(h, hh, n_ant, nc):
    """Mean NMSE (dB) and mean rho of report pairs h, hh of shape (reports, n_ant*nc)."""
    h = h.reshape(-1, n_ant, nc).astype(np.complex128)
    hh = hh.reshape(-1, n_ant, nc).astype(np.complex128)
    nmse = np.sum(np.abs(h - hh) ** 2, axis=(1, 2)) / np.sum(np.abs(h) ** 2, axis=(1, 2))
    # h_k is the n_ant vector at subcarrier k (layout [r][t][k]).
    inner = np.abs(np.sum(np.conj(h) * hh, axis=1))
    norms = np.linalg.norm(h, axis=1) * np.linalg.norm(hh, axis=1)
    rho = np.mean(inner / norms, axis=1)
    return 10.0 * np.log10(np.mean(nmse)), float(np.mean(rho))


class _Acc(ctypes.Structure):
    _fields_ = [("nmse_sum", ctypes.c_double),
                ("rho_sum", ctypes.c_double),
                ("count", ctypes.c_long)]


def core_metrics(h, hh, n_ant, nc):
    """The same through libinvcsi's accumulator API, called directly with ctypes."""
    libdir = os.path.join(os.environ.get("INVCSI_BINARY_DIR", ""), "lib")
    path = os.path.join(libdir, "libinvcsi.so")
    lib = ctypes.CDLL(path if os.path.exists(path) else "libinvcsi.so")
    fptr = ctypes.POINTER(ctypes.c_float)
    lib.invcsi_metrics_reset.argtypes = [ctypes.POINTER(_Acc)]
    lib.invcsi_metrics_add.argtypes = [ctypes.POINTER(_Acc), fptr, fptr, ctypes.c_int, ctypes.c_int]
    lib.invcsi_metrics_nmse_db.argtypes = [ctypes.POINTER(_Acc)]
    lib.invcsi_metrics_nmse_db.restype = ctypes.c_double
    lib.invcsi_metrics_rho.argtypes = [ctypes.POINTER(_Acc)]
    lib.invcsi_metrics_rho.restype = ctypes.c_double
    acc = _Acc()
    lib.invcsi_metrics_reset(ctypes.byref(acc))
    for a, b in zip(h, hh):
        a = np.ascontiguousarray(a, dtype=np.complex64).view(np.float32)
        b = np.ascontiguousarray(b, dtype=np.complex64).view(np.float32)
        lib.invcsi_metrics_add(ctypes.byref(acc), a.ctypes.data_as(fptr), b.ctypes.data_as(fptr),
                               n_ant, nc)
    return lib.invcsi_metrics_nmse_db(ctypes.byref(acc)), lib.invcsi_metrics_rho(ctypes.byref(acc)), acc.count


def random_reports(rng, reports, n_ant, nc, noise):
    shape = (reports, n_ant * nc)
    h = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    e = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    # Per-report noise level, so the mean of NMSE differs from NMSE of the mean.
    scale = noise * (1.0 + np.arange(reports))[:, None]
    return h, (h + scale * e).astype(np.complex64)


# ---- tests ----------------------------------------------------------------------------

class qa_nmse_probe(gr_unittest.TestCase):

    def setUp(self):
        self.tb = gr.top_block()
        self.rng = np.random.default_rng(20250101)

    def tearDown(self):
        self.tb = None

    def run_probe(self, h, hh, n_ant, nc, report_every=0, debug=None):
        vlen = n_ant * nc
        src_ref = blocks.vector_source_c(h.ravel().tolist(), False, vlen)
        src_rec = blocks.vector_source_c(hh.ravel().tolist(), False, vlen)
        probe = invcsi.nmse_probe(n_ant, nc, report_every)
        self.tb.connect(src_ref, (probe, 0))
        self.tb.connect(src_rec, (probe, 1))
        if debug is not None:
            self.tb.msg_connect((probe, "metrics"), (debug, "store"))
        self.tb.run()
        return probe

    def test_001_built_tree(self):
        # The tests must exercise the build tree, not an older installed copy.
        bindir = os.environ.get("INVCSI_BINARY_DIR")
        if bindir:
            self.assertTrue(os.path.realpath(invcsi.__file__).startswith(os.path.realpath(bindir)),
                            "gnuradio.invcsi imported from %s, not the build tree" % invcsi.__file__)

    def test_002_matches_numpy_and_core(self):
        n_ant, nc, reports = 4, 8, 6
        h, hh = random_reports(self.rng, reports, n_ant, nc, 0.1)
        probe = self.run_probe(h, hh, n_ant, nc)
        ref_db, ref_rho = numpy_metrics(h, hh, n_ant, nc)
        core_db, core_rho, core_count = core_metrics(h, hh, n_ant, nc)

        self.assertEqual(probe.count(), reports)
        self.assertEqual(core_count, reports)
        self.assertAlmostEqual(probe.nmse_db(), ref_db, places=4)
        self.assertAlmostEqual(probe.rho(), ref_rho, places=5)
        # The block is a shell around the core: same numbers, bit for bit.
        self.assertEqual(probe.nmse_db(), core_db)
        self.assertEqual(probe.rho(), core_rho)
        self.assertEqual((probe.n_ant(), probe.nc(), probe.report_every()), (n_ant, nc, 0))

    def test_003_known_values(self):
        # H^ = 0.9 H: NMSE = 0.01 (-20 dB) and rho = 1 exactly, whatever H is.
        n_ant, nc, reports = 2, 3, 4
        h, _ = random_reports(self.rng, reports, n_ant, nc, 0.0)
        probe = self.run_probe(h, (0.9 * h).astype(np.complex64), n_ant, nc)
        self.assertAlmostEqual(probe.nmse_db(), -20.0, places=4)
        self.assertAlmostEqual(probe.rho(), 1.0, places=5)

    def test_004_reset(self):
        n_ant, nc = 2, 4
        h, hh = random_reports(self.rng, 3, n_ant, nc, 0.2)
        probe = self.run_probe(h, hh, n_ant, nc)
        self.assertEqual(probe.count(), 3)
        probe.reset()
        self.assertEqual(probe.count(), 0)

    def test_005_metrics_messages(self):
        n_ant, nc, reports, every = 2, 4, 7, 3
        h, hh = random_reports(self.rng, reports, n_ant, nc, 0.05)
        debug = blocks.message_debug()
        probe = self.run_probe(h, hh, n_ant, nc, report_every=every, debug=debug)
        # Message delivery is asynchronous to the stream: give the queue a moment.
        for _ in range(100):
            if debug.num_messages() >= reports // every:
                break
            time.sleep(0.01)
        self.assertEqual(debug.num_messages(), reports // every)
        for i in range(debug.num_messages()):
            d = pmt.to_python(debug.get_message(i))
            n = (i + 1) * every
            self.assertEqual(set(d), {"nmse_db", "rho", "count"})
            self.assertEqual(d["count"], n)
            ref_db, ref_rho = numpy_metrics(h[:n], hh[:n], n_ant, nc)
            self.assertAlmostEqual(d["nmse_db"], ref_db, places=4)
            self.assertAlmostEqual(d["rho"], ref_rho, places=5)
        probe.set_report_every(0)
        self.assertEqual(probe.report_every(), 0)

    def test_006_bad_parameters(self):
        for args in [(0, 8), (-1, 8), (4, 0), (4, -2)]:
            with self.assertRaises(ValueError) as cm:
                invcsi.nmse_probe(*args)
            self.assertIn("invcsi nmse_probe", str(cm.exception))
        with self.assertRaises(ValueError):
            invcsi.nmse_probe(4, 8, -1)
        probe = invcsi.nmse_probe(4, 8, 2)
        with self.assertRaises(ValueError):
            probe.set_report_every(-5)
        self.assertEqual(probe.report_every(), 2)


if __name__ == '__main__':
    gr_unittest.run(qa_nmse_probe)
