# SPDX-License-Identifier: GPL-3.0-or-later
"""ctypes binding of include/invcsi/cdl.h for the CDL tests (tests/test_cdl_*.py).

Loads $INVCSI_BINARY_DIR/lib/libinvcsi.so. The structures mirror the C ones field by
field (ctypes applies the same alignment rules as the C compiler).
"""
import ctypes as C
import math
import os
import sys

import numpy as np

MAX_ENTRIES = 25
MAX_RAYS = 500
MODELS = {"A": 0, "B": 1, "C": 2, "D": 3, "E": 4}


class Params(C.Structure):
    _fields_ = [("model", C.c_int), ("nt", C.c_int), ("nr", C.c_int), ("nc", C.c_int),
                ("fc_ghz", C.c_double), ("bw_mhz", C.c_double), ("ds_ns", C.c_double),
                ("ds_lgstd", C.c_double), ("asd_deg", C.c_double), ("asa_deg", C.c_double),
                ("k_factor_db", C.c_double), ("nc_full", C.c_int), ("seed", C.c_uint64),
                ("threads", C.c_int)]


class Table(C.Structure):
    _fields_ = [("name", C.c_char_p), ("los", C.c_int), ("n", C.c_int),
                ("c_asd", C.c_double), ("c_asa", C.c_double), ("c_zsd", C.c_double),
                ("c_zsa", C.c_double), ("xpr_db", C.c_double)] + [
                    (f, C.c_double * MAX_ENTRIES)
                    for f in ("delay", "power_db", "aod", "aoa", "zod", "zoa")]


class Ray(C.Structure):
    _fields_ = [("delay_ns", C.c_double), ("power", C.c_double), ("aod_deg", C.c_double),
                ("aoa_deg", C.c_double), ("zod_deg", C.c_double), ("zoa_deg", C.c_double),
                ("phase_rad", C.c_double), ("cluster", C.c_int)]


class SampleInfo(C.Structure):
    _fields_ = [("ds_ns", C.c_double), ("ue_orientation_deg", C.c_double), ("n_rays", C.c_int)]


class ChannelConfig(C.Structure):
    _fields_ = [("model", C.c_char * 32), ("nr", C.c_int), ("nt", C.c_int), ("nc", C.c_int),
                ("fc_ghz", C.c_double), ("bw_mhz", C.c_double), ("ds_ns", C.c_double),
                ("ds_lgstd", C.c_double), ("k_factor_db", C.c_double), ("seed", C.c_uint64)]


class Channels(C.Structure):
    _fields_ = [("n", C.c_int), ("nr", C.c_int), ("nt", C.c_int), ("nc", C.c_int),
                ("h", C.POINTER(C.c_float)), ("pos", C.POINTER(C.c_float)),
                ("cfg", ChannelConfig)]


class Error(C.Structure):
    _fields_ = [("code", C.c_int), ("msg", C.c_char * 512)]


def load():
    bdir = os.environ.get("INVCSI_BINARY_DIR")
    if not bdir:
        print("SKIP: INVCSI_BINARY_DIR not set (run through ctest)")
        sys.exit(77)
    lib = C.CDLL(os.path.join(bdir, "lib", "libinvcsi.so"))
    lib.invcsi_cdl_table_get.restype = C.POINTER(Table)
    lib.invcsi_cdl_table_get.argtypes = [C.c_int]
    lib.invcsi_cdl_model_k_factor_db.restype = C.c_double
    lib.invcsi_cdl_model_k_factor_db.argtypes = [C.c_int]
    lib.invcsi_cdl_max_delay_ns.restype = C.c_double
    lib.invcsi_cdl_max_delay_ns.argtypes = [C.c_int, C.c_double]
    lib.invcsi_delay_window_ns.restype = C.c_double
    lib.invcsi_delay_window_ns.argtypes = [C.c_int, C.c_double]
    lib.invcsi_cdl_params_default.argtypes = [C.POINTER(Params), C.c_int]
    lib.invcsi_cdl_generate.argtypes = [C.POINTER(Params), C.c_int, C.POINTER(Channels),
                                        C.c_void_p, C.c_void_p, C.POINTER(Error)]
    lib.invcsi_cdl_sample_rays.argtypes = [C.POINTER(Params), C.c_long, C.POINTER(Ray),
                                           C.POINTER(SampleInfo), C.POINTER(Error)]
    lib.invcsi_cdl_rays_to_h.argtypes = [C.POINTER(Params), C.POINTER(Ray), C.c_int,
                                         C.c_double, C.POINTER(C.c_float), C.POINTER(Error)]
    lib.invcsi_channels_free.argtypes = [C.POINTER(Channels)]
    return lib


class Cdl:
    """Thin pythonic wrapper: params(model, **fields), generate(p, n) -> complex array."""

    def __init__(self):
        self.lib = load()

    def params(self, model, **kw):
        p = Params()
        self.lib.invcsi_cdl_params_default(C.byref(p), MODELS[model])
        for k, v in kw.items():
            setattr(p, k, v)
        return p

    def generate(self, p, n):
        """Returns (H as complex64 array [n, nr, nt, nc], cfg)."""
        ch = Channels()
        err = Error()
        rc = self.lib.invcsi_cdl_generate(C.byref(p), n, C.byref(ch), None, None, C.byref(err))
        if rc:
            raise RuntimeError(f"invcsi_cdl_generate: {rc}: {err.msg.decode()}")
        count = n * ch.nr * ch.nt * ch.nc
        buf = np.ctypeslib.as_array(ch.h, shape=(2 * count,)).copy()
        cfg = ch.cfg
        cfg_copy = {f: getattr(cfg, f) for f, _ in ChannelConfig._fields_}
        self.lib.invcsi_channels_free(C.byref(ch))
        h = buf.view(np.complex64).reshape(n, p.nr, p.nt, p.nc)
        return h, cfg_copy

    def generate_rc(self, p, n):
        """Returns (rc, message) without raising."""
        ch = Channels()
        err = Error()
        rc = self.lib.invcsi_cdl_generate(C.byref(p), n, C.byref(ch), None, None, C.byref(err))
        if rc == 0:
            self.lib.invcsi_channels_free(C.byref(ch))
        return rc, err.msg.decode()

    def rays(self, p, index):
        """Returns (structured dict of numpy arrays, info) for sample `index`."""
        arr = (Ray * MAX_RAYS)()
        info = SampleInfo()
        err = Error()
        rc = self.lib.invcsi_cdl_sample_rays(C.byref(p), index, arr, C.byref(info), C.byref(err))
        if rc:
            raise RuntimeError(f"invcsi_cdl_sample_rays: {rc}: {err.msg.decode()}")
        n = info.n_rays
        out = {f: np.array([getattr(arr[i], f) for i in range(n)]) for f, _ in Ray._fields_}
        return out, info

    def rays_to_h(self, p, rays, orientation_deg):
        """rays: list of dicts with Ray fields. Returns complex array [nr, nt, nc]."""
        n = len(rays)
        arr = (Ray * max(n, 1))()
        for i, r in enumerate(rays):
            for k, v in r.items():
                setattr(arr[i], k, v)
        out = np.zeros(2 * p.nr * p.nt * p.nc, dtype=np.float32)
        err = Error()
        rc = self.lib.invcsi_cdl_rays_to_h(C.byref(p), arr, n, orientation_deg,
                                           out.ctypes.data_as(C.POINTER(C.c_float)),
                                           C.byref(err))
        if rc:
            raise RuntimeError(f"invcsi_cdl_rays_to_h: {rc}: {err.msg.decode()}")
        return out.view(np.complex64).reshape(p.nr, p.nt, p.nc)

    def table(self, model):
        return self.lib.invcsi_cdl_table_get(MODELS[model]).contents


OFFSETS = np.array([0.0447, 0.1413, 0.2492, 0.3715, 0.5129, 0.6797, 0.8844, 1.1481, 1.5195,
                    2.1551])
OFFSETS = np.concatenate([OFFSETS, -OFFSETS])


def circular_spread_deg(angles_deg, powers):
    """TR 38.901 Annex A: sqrt(-2 ln |sum P e^{j phi} / sum P|), in degrees."""
    z = np.sum(powers * np.exp(1j * np.radians(angles_deg))) / np.sum(powers)
    return math.degrees(math.sqrt(-2.0 * math.log(abs(z))))


class Checker:
    def __init__(self, name):
        self.name, self.n, self.failed = name, 0, 0

    def check(self, cond, msg):
        self.n += 1
        if not cond:
            self.failed += 1
            print("FAIL:", msg)
        else:
            print("ok:  ", msg)

    def done(self):
        print(f"{self.name}: {self.n} checks, {self.failed} failed")
        sys.exit(1 if self.failed else 0)
