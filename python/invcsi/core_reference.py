#
# Copyright 2025 gr-invcsi developers
#
# This file is part of gr-invcsi
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
"""Shared by the QA tests (not installed): the C core called directly through ctypes, to
produce the reference output a block must reproduce, and small data sets and weights made
with the built programs (invcsi-gen, invcsi-train) in a temporary directory."""

import ctypes
import json
import os
import struct
import subprocess

import numpy as np

BINARY_DIR = os.environ.get("INVCSI_BINARY_DIR", "")
APPS_DIR = os.environ.get("INVCSI_APPS_DIR") or os.path.join(BINARY_DIR, "apps")

# include/invcsi/bitlink.h, invcsinet.h, linkeval.h
NATURAL, GRAY = 0, 1
Z_MEAN, Z_SAMPLE = 0, 1
DETECT_HARD, DETECT_MMSE = 0, 1

_fp = ctypes.POINTER(ctypes.c_float)
_ip = ctypes.POINTER(ctypes.c_int)
_bp = ctypes.POINTER(ctypes.c_uint8)


class Error(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("msg", ctypes.c_char * 512)]


class DaqConfig(ctypes.Structure):
    _fields_ = [("dims", ctypes.c_int), ("bits", ctypes.c_int), ("range", ctypes.c_float)]


class DaqTables(ctypes.Structure):
    _fields_ = [("thresholds", _fp), ("steps", _fp), ("levels", _fp)]


class LinkConfig(ctypes.Structure):
    _fields_ = [("bits", ctypes.c_int), ("mapping", ctypes.c_int), ("z_mode", ctypes.c_int),
                ("detect", ctypes.c_int), ("seed", ctypes.c_uint64)]


class ConfigHead(ctypes.Structure):
    """The leading fields of invcsi_model_config (model.h); the struct starts the model."""
    _fields_ = [("kind", ctypes.c_char * 16), ("nr", ctypes.c_int), ("nt", ctypes.c_int),
                ("nc", ctypes.c_int), ("dim", ctypes.c_int), ("m", ctypes.c_int)]


_LIB = None


def lib():
    global _LIB
    if _LIB is None:
        path = os.path.join(BINARY_DIR, "lib", "libinvcsi.so")
        _LIB = ctypes.CDLL(path if os.path.exists(path) else "libinvcsi.so")
        L = _LIB
        vp = ctypes.c_void_p
        L.invcsi_model_load.argtypes = [ctypes.POINTER(vp), ctypes.c_char_p, ctypes.c_int,
                                        ctypes.POINTER(Error)]
        L.invcsi_model_destroy.argtypes = [vp]
        L.invcsi_model_encode.argtypes = [vp, _fp, ctypes.c_long, _fp, ctypes.POINTER(Error)]
        L.invcsi_dft_create.argtypes = [ctypes.POINTER(vp), ctypes.c_int, ctypes.c_int,
                                        ctypes.c_int, ctypes.POINTER(Error)]
        L.invcsi_dft_destroy.argtypes = [vp]
        L.invcsi_dft_forward.argtypes = [vp, _fp, _fp, ctypes.c_long]
        L.invcsi_dft_inverse.argtypes = [vp, _fp, _fp, ctypes.c_long]
        L.invcsi_scale.argtypes = [_fp, ctypes.c_long, ctypes.c_long, ctypes.c_double]
        L.invcsi_split.argtypes = [ctypes.c_int, ctypes.c_double, ctypes.c_ulonglong, _ip, _ip,
                                   _ip, _ip]
        L.invcsi_indices_to_bits.argtypes = [_bp, _ip, ctypes.c_long, ctypes.c_int,
                                             ctypes.c_int, ctypes.POINTER(Error)]
        L.invcsi_bpsk_map_complex.argtypes = [_fp, _bp, ctypes.c_long, ctypes.c_float]
        L.invcsi_bpsk_hard.argtypes = [_bp, _fp, ctypes.c_long, ctypes.c_int]
        L.invcsi_bpsk_llr.argtypes = [_fp, _fp, ctypes.c_long, ctypes.c_int, ctypes.c_float,
                                      ctypes.c_double]
        L.invcsi_bpsk_n0.argtypes = [ctypes.c_double, ctypes.c_double]
        L.invcsi_bpsk_n0.restype = ctypes.c_double
        L.invcsi_db_to_linear.argtypes = [ctypes.c_double]
        L.invcsi_db_to_linear.restype = ctypes.c_double
        L.invcsi_daq_init_uniform.argtypes = [ctypes.POINTER(DaqConfig), _fp, _fp,
                                              ctypes.POINTER(Error)]
        L.invcsi_daq_tables_floats.argtypes = [ctypes.POINTER(DaqConfig)]
        L.invcsi_daq_tables_floats.restype = ctypes.c_long
        L.invcsi_daq_tables_bind.argtypes = [ctypes.POINTER(DaqTables), ctypes.POINTER(DaqConfig),
                                             _fp]
        L.invcsi_daq_derive.argtypes = [ctypes.POINTER(DaqConfig), _fp, _fp,
                                        ctypes.POINTER(DaqTables)]
        L.invcsi_daq_quantize.argtypes = [ctypes.POINTER(DaqConfig), ctypes.POINTER(DaqTables),
                                          _fp, ctypes.c_int, _ip]
        L.invcsi_link_create.argtypes = [ctypes.POINTER(vp), vp, ctypes.POINTER(LinkConfig),
                                         ctypes.POINTER(Error)]
        L.invcsi_link_destroy.argtypes = [vp]
        L.invcsi_link_set_range.argtypes = [vp, _fp, _fp, ctypes.POINTER(Error)]
        L.invcsi_link_encode.argtypes = [vp, _fp, ctypes.c_int, _ip, _bp, ctypes.POINTER(Error)]
        L.invcsi_link_decode_bits.argtypes = [vp, _bp, ctypes.c_int, ctypes.c_uint64, _fp,
                                              ctypes.POINTER(Error)]
        L.invcsi_link_llr_to_levels.argtypes = [vp, _fp, ctypes.c_int, _fp,
                                                ctypes.POINTER(Error)]
        L.invcsi_link_decode_levels.argtypes = [vp, _fp, ctypes.c_int, ctypes.c_uint64, _fp,
                                                ctypes.POINTER(Error)]
        L.invcsi_link_bits.argtypes = [vp]
    return _LIB


def _f(a):
    return a.ctypes.data_as(_fp)


def _check(rc, err, what):
    if rc != 0:
        raise RuntimeError("%s: %s" % (what, err.msg.decode()))


# ---- data and weights made by the programs ----------------------------------------------------

def run_app(name, *args):
    exe = os.path.join(APPS_DIR, name)
    r = subprocess.run([exe] + [str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s" % (name, r.returncode, r.stdout))
    return r.stdout


def gen(path, samples=200, nr=1, nt=8, nc=8, seed=1, model="cdl-c"):
    run_app("invcsi-gen", "--model", model, "--samples", samples, "--nr", nr, "--nt", nt,
            "--nc", nc, "--seed", seed, "--quiet", "--threads", 1, "-o", path)
    return path


def train(path, data, kind="inn", cr="1/4", epochs=1, *extra):
    """A tiny model: one epoch, narrow subnets; good enough to test the plumbing."""
    args = ["--data", data, "--model", kind, "--cr", cr, "--epochs", epochs, "--batch", 32,
            "--threads", 1, "--quiet", "-o", path]
    if kind in ("inn", "invcsinet"):
        args += ["--width", 8]
    run_app("invcsi-train", *(args + list(extra)))
    return path


def read_h(path):
    """H of an invcsi .mat file (v7.3) as complex64 reports, shape (n, nr*nt*nc)."""
    import h5py
    with h5py.File(path, "r") as f:
        raw = f["H"][()]
    h = (raw["real"] + 1j * raw["imag"]).astype(np.complex64)
    return h.reshape(h.shape[0], -1)


def weights_meta(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    return header.get("__metadata__", {})


def split(n, train_frac, seed):
    train = np.zeros(n, dtype=np.int32)
    test = np.zeros(n, dtype=np.int32)
    nt, ns = ctypes.c_int(), ctypes.c_int()
    lib().invcsi_split(n, train_frac, seed, train.ctypes.data_as(_ip), ctypes.byref(nt),
                       test.ctypes.data_as(_ip), ctypes.byref(ns))
    return train[:nt.value].tolist(), test[:ns.value].tolist()


# ---- the model and the link ---------------------------------------------------------------

class Core:
    """A weights file loaded by the core, with its DFT plan; the reference computations."""

    def __init__(self, weights, max_batch=64):
        L = lib()
        err = Error()
        self.m_ptr = ctypes.c_void_p()
        _check(L.invcsi_model_load(ctypes.byref(self.m_ptr), weights.encode(), max_batch,
                                   ctypes.byref(err)), err, "model load")
        head = ConfigHead.from_address(self.m_ptr.value)
        self.kind = head.kind.decode()
        self.nr, self.nt, self.nc, self.dim, self.m = head.nr, head.nt, head.nc, head.dim, head.m
        self.scale = float(weights_meta(weights)["normalisation"])
        self.max_batch = max_batch
        self.dft = ctypes.c_void_p()
        _check(L.invcsi_dft_create(ctypes.byref(self.dft), self.nr, self.nt, self.nc,
                                   ctypes.byref(err)), err, "dft")
        self.link = None

    def close(self):
        L = lib()
        if self.link:
            L.invcsi_link_destroy(self.link)
            self.link = None
        L.invcsi_dft_destroy(self.dft)
        L.invcsi_model_destroy(self.m_ptr)

    def preprocess(self, h):
        h = np.ascontiguousarray(h, dtype=np.complex64)
        n = h.shape[0]
        x = np.zeros((n, self.dim), dtype=np.float32)
        lib().invcsi_dft_forward(self.dft, _f(h.view(np.float32)), _f(x), n)
        lib().invcsi_scale(_f(x), n, self.dim, self.scale)
        return x

    def postprocess(self, xhat):
        xhat = np.array(xhat, dtype=np.float32)
        n = xhat.shape[0]
        lib().invcsi_scale(_f(xhat), n, self.dim, 1.0 / self.scale)
        h = np.zeros((n, self.dim // 2), dtype=np.complex64)
        lib().invcsi_dft_inverse(self.dft, _f(xhat), _f(h.view(np.float32)), n)
        return h

    def encode(self, h):
        x = self.preprocess(h)
        y = np.zeros((x.shape[0], self.m), dtype=np.float32)
        err = Error()
        _check(lib().invcsi_model_encode(self.m_ptr, _f(x), x.shape[0], _f(y),
                                         ctypes.byref(err)), err, "encode")
        return y

    def open_link(self, bits=0, mapping=NATURAL, z_mode=Z_MEAN, detect=DETECT_HARD, seed=1,
                  uniform_range=None):
        L = lib()
        if self.link:
            L.invcsi_link_destroy(self.link)
        cfg = LinkConfig(bits, mapping, z_mode, detect, seed)
        err = Error()
        self.link = ctypes.c_void_p()
        _check(L.invcsi_link_create(ctypes.byref(self.link), self.m_ptr, ctypes.byref(cfg),
                                    ctypes.byref(err)), err, "link")
        if uniform_range is not None:
            center = np.zeros(self.m, dtype=np.float32)
            half = np.full(self.m, uniform_range, dtype=np.float32)
            _check(L.invcsi_link_set_range(self.link, _f(center), _f(half), ctypes.byref(err)),
                   err, "link range")
        self.bits = L.invcsi_link_bits(self.link)

    def _chunks(self, n):
        for at in range(0, n, self.max_batch):
            yield at, min(self.max_batch, n - at)

    def link_bits(self, h):
        """H -> bits [n][M*B] through the link's encoder (InvCSINet: its DAQ)."""
        x = self.preprocess(h)
        n = x.shape[0]
        bits = np.zeros((n, self.m * self.bits), dtype=np.uint8)
        err = Error()
        for at, b in self._chunks(n):
            _check(lib().invcsi_link_encode(self.link, _f(x[at:]), b, None,
                                            bits[at:].ctypes.data_as(_bp), ctypes.byref(err)),
                   err, "link encode")
        return bits

    def link_decode(self, bits=None, llr=None, first_report=0):
        """bits (or LLRs) [n][M*B] -> H^ [n][nr*nt*nc] through the link's decoder."""
        L = lib()
        src = bits if bits is not None else llr
        n = src.shape[0]
        xhat = np.zeros((n, self.dim), dtype=np.float32)
        levels = np.zeros((self.max_batch, self.m), dtype=np.float32)
        err = Error()
        for at, b in self._chunks(n):
            if bits is not None:
                rc = L.invcsi_link_decode_bits(self.link, bits[at:].ctypes.data_as(_bp), b,
                                               first_report + at, _f(xhat[at:]),
                                               ctypes.byref(err))
            else:
                rc = L.invcsi_link_llr_to_levels(self.link, _f(llr[at:]), b, _f(levels),
                                                 ctypes.byref(err))
                if rc == 0:
                    rc = L.invcsi_link_decode_levels(self.link, _f(levels), b, first_report + at,
                                                     _f(xhat[at:]), ctypes.byref(err))
            _check(rc, err, "link decode")
        return self.postprocess(xhat)


def uniform_bits(y, bits, half_range, mapping=NATURAL):
    """The core's uniform quantizer on [-R, R] (daq.h) and the link's labels."""
    L = lib()
    y = np.ascontiguousarray(y, dtype=np.float32)
    n, m = y.shape
    cfg = DaqConfig(m, bits, half_range)
    raw = m * ((1 << bits) - 1)
    thr = np.zeros(raw, dtype=np.float32)
    step = np.zeros(raw, dtype=np.float32)
    err = Error()
    _check(L.invcsi_daq_init_uniform(ctypes.byref(cfg), _f(thr), _f(step), ctypes.byref(err)),
           err, "uniform init")
    buf = np.zeros(L.invcsi_daq_tables_floats(ctypes.byref(cfg)), dtype=np.float32)
    t = DaqTables()
    L.invcsi_daq_tables_bind(ctypes.byref(t), ctypes.byref(cfg), _f(buf))
    L.invcsi_daq_derive(ctypes.byref(cfg), _f(thr), _f(step), ctypes.byref(t))
    idx = np.zeros((n, m), dtype=np.int32)
    L.invcsi_daq_quantize(ctypes.byref(cfg), ctypes.byref(t), _f(y), n, idx.ctypes.data_as(_ip))
    out = np.zeros((n, m * bits), dtype=np.uint8)
    _check(L.invcsi_indices_to_bits(out.ctypes.data_as(_bp), idx.ctypes.data_as(_ip), n * m,
                                    bits, mapping, ctypes.byref(err)), err, "labels")
    return out


def bpsk_map(bits, es):
    bits = np.ascontiguousarray(bits, dtype=np.uint8)
    out = np.zeros(len(bits), dtype=np.complex64)
    lib().invcsi_bpsk_map_complex(_f(out.view(np.float32)), bits.ctypes.data_as(_bp), len(bits),
                                  es)
    return out


def bpsk_hard(sym):
    sym = np.ascontiguousarray(sym, dtype=np.complex64)
    out = np.zeros(len(sym), dtype=np.uint8)
    lib().invcsi_bpsk_hard(out.ctypes.data_as(_bp), _f(sym.view(np.float32)), len(sym), 2)
    return out


def bpsk_llr(sym, es, ebn0_db):
    L = lib()
    sym = np.ascontiguousarray(sym, dtype=np.complex64)
    out = np.zeros(len(sym), dtype=np.float32)
    n0 = L.invcsi_bpsk_n0(es, L.invcsi_db_to_linear(ebn0_db))
    L.invcsi_bpsk_llr(_f(out), _f(sym.view(np.float32)), len(sym), 2, es, n0)
    return out, n0

