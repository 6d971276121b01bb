#!/usr/bin/env python3
#
# Copyright 2025 gr-invcsi developers
#
# This file is part of gr-invcsi
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""QA of invcsi.stqe_encoder: every PDU the block publishes equals, byte for byte, the C
core's invcsi_stqenet_encode_report of the same report (after the same DFT and scale);
the metadata and counters add up; bad weights and weights of another model kind raise at
construction.

Also home of StqeCore and tiny_stqenet(), the reference and the weights that
qa_stqe_decoder and qa_loopback_stqe import from here: the C core called through ctypes,
and a one-epoch STQENet trained at test time (no weights are committed)."""

import ctypes
import os
import shutil
import tempfile

import numpy as np
import pmt
from gnuradio import blocks, gr, gr_unittest

from gnuradio import invcsi

import core_reference as core

SOURCE_DIR = os.environ.get(
    "INVCSI_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
# include/invcsi/stqenet.h, report_codec.h
STQENET_EDROPPED = -20
REPORT_OVERHEAD = 6

_vp = ctypes.c_void_p
_u8p = ctypes.POINTER(ctypes.c_uint8)
_fp = ctypes.POINTER(ctypes.c_float)
_ep = ctypes.POINTER(core.Error)
_stqe_ready = False


def _lib():
    global _stqe_ready
    L = core.lib()
    if not _stqe_ready:
        L.invcsi_stqenet_load.argtypes = [ctypes.POINTER(_vp), ctypes.c_char_p, ctypes.c_int,
                                          _ep]
        for name in ("invcsi_stqenet_dim", "invcsi_stqenet_latent", "invcsi_stqenet_bits"):
            getattr(L, name).argtypes = [_vp]
            getattr(L, name).restype = ctypes.c_int
        L.invcsi_stqenet_max_pdu_bytes.argtypes = [_vp]
        L.invcsi_stqenet_max_pdu_bytes.restype = ctypes.c_size_t
        L.invcsi_stqenet_encode_report.argtypes = [_vp, _fp, _u8p, ctypes.c_size_t,
                                                   ctypes.POINTER(ctypes.c_size_t), _ep]
        L.invcsi_stqenet_decode_report.argtypes = [_vp, _u8p, ctypes.c_size_t, _fp, _ep]
        _stqe_ready = True
    return L


def tiny_stqenet(tmp, samples=64, cr="1/16", bits=6, epochs=1, seed=1):
    """(weights, data): a CDL-C set of 1 x 32 x 32 reports and a one-epoch STQENet on it.
    Good for plumbing only (its NMSE is near 0 dB)."""
    data = core.gen(os.path.join(tmp, "stqe-train.mat"), samples=samples, nr=1, nt=32, nc=32,
                    seed=seed)
    weights = core.train(os.path.join(tmp, "stqenet.safetensors"), data, "stqenet", cr,
                         epochs, "--bits", bits, "--batch", 16)
    return weights, data


class StqeCore:
    """An STQENet weights file loaded by the core (invcsi_stqenet_load) with its DFT plan:
    H -> PDU bytes and PDU bytes -> H^, one report at a time, as the blocks call it."""

    def __init__(self, weights):
        L = _lib()
        err = core.Error()
        self.m_ptr = _vp()
        rc = L.invcsi_stqenet_load(ctypes.byref(self.m_ptr), weights.encode(), 1,
                                   ctypes.byref(err))
        if rc != 0:
            raise RuntimeError("stqenet load: " + err.msg.decode())
        head = core.ConfigHead.from_address(self.m_ptr.value)
        self.nr, self.nt, self.nc = head.nr, head.nt, head.nc
        self.dim = L.invcsi_stqenet_dim(self.m_ptr)
        self.m = L.invcsi_stqenet_latent(self.m_ptr)
        self.bits = L.invcsi_stqenet_bits(self.m_ptr)
        self.max_pdu = L.invcsi_stqenet_max_pdu_bytes(self.m_ptr)
        self.scale = float(core.weights_meta(weights)["normalisation"])
        self.dft = _vp()
        rc = L.invcsi_dft_create(ctypes.byref(self.dft), self.nr, self.nt, self.nc,
                                 ctypes.byref(err))
        if rc != 0:
            raise RuntimeError("dft: " + err.msg.decode())

    def close(self):
        L = _lib()
        L.invcsi_dft_destroy(self.dft)
        L.invcsi_model_destroy(self.m_ptr)

    def encode(self, h):
        """H [n][nr*nt*nc] -> list of n PDUs (bytes)."""
        L = _lib()
        out = []
        buf = (ctypes.c_uint8 * self.max_pdu)()
        n = ctypes.c_size_t()
        err = core.Error()
        for row in np.atleast_2d(np.asarray(h, dtype=np.complex64)):
            x = np.zeros(self.dim, dtype=np.float32)
            row = np.ascontiguousarray(row)
            L.invcsi_dft_forward(self.dft, row.view(np.float32).ctypes.data_as(_fp),
                                 x.ctypes.data_as(_fp), 1)
            L.invcsi_scale(x.ctypes.data_as(_fp), 1, self.dim, self.scale)
            rc = L.invcsi_stqenet_encode_report(self.m_ptr, x.ctypes.data_as(_fp), buf,
                                                self.max_pdu, ctypes.byref(n),
                                                ctypes.byref(err))
            if rc != 0:
                raise RuntimeError("encode_report: " + err.msg.decode())
            out.append(bytes(buf[:n.value]))
        return out

    def decode(self, pdu):
        """PDU bytes -> H^ (complex64 [nr*nt*nc]), or None when the core drops it."""
        L = _lib()
        raw = np.frombuffer(bytes(pdu), dtype=np.uint8).copy()
        xhat = np.zeros(self.dim, dtype=np.float32)
        err = core.Error()
        rc = L.invcsi_stqenet_decode_report(self.m_ptr, raw.ctypes.data_as(_u8p), len(raw),
                                            xhat.ctypes.data_as(_fp), ctypes.byref(err))
        if rc == STQENET_EDROPPED:
            return None
        if rc != 0:
            raise RuntimeError("decode_report: " + err.msg.decode())
        L.invcsi_scale(xhat.ctypes.data_as(_fp), 1, self.dim, 1.0 / self.scale)
        h = np.zeros(self.dim // 2, dtype=np.complex64)
        L.invcsi_dft_inverse(self.dft, xhat.ctypes.data_as(_fp),
                             h.view(np.float32).ctypes.data_as(_fp), 1)
        return h


class qa_stqe_encoder(gr_unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="invcsi-qa-stqe-enc-")
        cls.weights, cls.data = tiny_stqenet(cls.tmp)
        cls.h = core.read_h(cls.data)[:40]
        cls.ref = StqeCore(cls.weights)

    @classmethod
    def tearDownClass(cls):
        cls.ref.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def encode(self, h):
        enc = invcsi.stqe_encoder(self.weights)
        tb = gr.top_block()
        src = blocks.vector_source_c(h.ravel().tolist(), False, h.shape[1])
        dbg = blocks.message_debug()
        tb.connect(src, enc)
        tb.msg_connect(enc, "pdus", dbg, "store")
        tb.run()
        msgs = [dbg.get_message(i) for i in range(dbg.num_messages())]
        return enc, msgs

    def test_001_pdus_equal_core(self):
        want = self.ref.encode(self.h)
        enc, msgs = self.encode(self.h)
        self.assertEqual(len(msgs), len(self.h))
        for i, (msg, pdu) in enumerate(zip(msgs, want)):
            self.assertTrue(pmt.is_pair(msg) and pmt.is_u8vector(pmt.cdr(msg)))
            got = bytes(pmt.u8vector_elements(pmt.cdr(msg)))
            self.assertEqual(got, pdu, "report %d: PDU differs from the core's" % i)
            meta = pmt.to_python(pmt.car(msg))
            self.assertEqual(meta["report"], i)
            self.assertEqual(meta["coded_bits"], 8 * (len(pdu) - REPORT_OVERHEAD))
            # the framing of report_codec.h: payload length prefix, little-endian
            self.assertEqual(int.from_bytes(pdu[:2], "little"), len(pdu) - REPORT_OVERHEAD)
        self.assertEqual(enc.reports(), len(self.h))
        self.assertEqual(enc.pdu_bytes(), sum(len(p) for p in want))
        self.assertAlmostEqual(enc.mean_pdu_bits(),
                               8.0 * sum(len(p) for p in want) / len(want))
        # a variable-length code: not every report costs the same
        self.assertGreater(len({len(p) for p in want}), 1)

    def test_002_sizes(self):
        enc = invcsi.stqe_encoder(self.weights)
        info = invcsi.weights_info.read(self.weights)
        self.assertEqual((enc.nr(), enc.nt(), enc.nc(), enc.vlen(), enc.m()),
                         (self.ref.nr, self.ref.nt, self.ref.nc,
                          self.ref.nr * self.ref.nt * self.ref.nc, self.ref.m))
        self.assertEqual((info.kind, info.vlen, info.m), ("stqenet", enc.vlen(), enc.m()))
        self.assertEqual(enc.bits(), self.ref.bits)
        self.assertEqual(enc.max_pdu_bytes(), self.ref.max_pdu)
        self.assertEqual(enc.norm_scale(), self.ref.scale)
        self.assertEqual((enc.reports(), enc.pdu_bytes(), enc.mean_pdu_bits()), (0, 0, 0.0))

    def test_003_bad_weights(self):
        with self.assertRaises(ValueError) as cm:
            invcsi.stqe_encoder("")
        self.assertIn("weights", str(cm.exception))
        missing = os.path.join(self.tmp, "missing.safetensors")
        with self.assertRaises(RuntimeError) as cm:
            invcsi.stqe_encoder(missing)
        self.assertIn("invcsi stqe_encoder", str(cm.exception))
        self.assertIn("missing.safetensors", str(cm.exception))
        good = open(self.weights, "rb").read()
        path = os.path.join(self.tmp, "truncated.safetensors")
        with open(path, "wb") as f:
            f.write(good[:len(good) // 2])
        with self.assertRaises(RuntimeError) as cm:
            invcsi.stqe_encoder(path)
        self.assertIn("truncated.safetensors", str(cm.exception))

    def test_004_other_kind(self):
        # The shipped INN weights load fine as a model, but are no STQENet.
        inn = os.path.join(SOURCE_DIR, "examples", "weights", "inn-cr16.safetensors")
        if not os.path.exists(inn):
            self.skipTest("no " + inn)
        with self.assertRaises(RuntimeError) as cm:
            invcsi.stqe_encoder(inn)
        self.assertIn("invcsi stqe_encoder", str(cm.exception))

    def test_005_size_mismatch_at_connect(self):
        enc = invcsi.stqe_encoder(self.weights)
        src = invcsi.csi_source("cdl", nr=1, nt=16, nc=8, cdl_reports=1)
        tb = gr.top_block()
        with self.assertRaises(Exception):
            tb.connect(src, enc)


if __name__ == '__main__':
    gr_unittest.run(qa_stqe_encoder)
