# SPDX-License-Identifier: GPL-3.0-or-later
"""ctypes access to the C core shared by the PyTorch twin tests (test_torch_twin.py,
test_stqenet_torch.py): the library, the error struct, the parameter-table walk of
lib/twin_dump.c. Not a test itself (ctest runs tests/test_*.py only)."""
import ctypes as C
import os
import sys

import numpy as np


class Error(C.Structure):
    _fields_ = [("code", C.c_int), ("msg", C.c_char * 512)]


P, FP, E = C.c_void_p, C.POINTER(C.c_float), C.POINTER(Error)

# Signatures every twin test uses: the parameter table of a model.
TABLE_SIGNATURES = {
    "invcsi_twin_tensor_count": (C.c_int, [P]),
    "invcsi_twin_tensor": (C.c_int, [P, C.c_int, C.POINTER(C.c_char_p), C.POINTER(C.c_int),
                                     C.POINTER(C.c_int), C.POINTER(FP), C.POINTER(FP),
                                     C.POINTER(C.c_int)]),
    "invcsi_model_destroy": (None, [P]),
}


def load_lib(signatures):
    """libinvcsi.so of the build under test with TABLE_SIGNATURES plus `signatures`
    (name -> (restype, argtypes)) declared; exit 77 outside ctest."""
    bdir = os.environ.get("INVCSI_BINARY_DIR")
    if not bdir:
        print("SKIP: INVCSI_BINARY_DIR not set (run through ctest)")
        sys.exit(77)
    lib = C.CDLL(os.path.join(bdir, "lib", "libinvcsi.so"))
    for name, (res, args) in {**TABLE_SIGNATURES, **signatures}.items():
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args
    return lib


def fp(a):
    assert a.dtype == np.float32 and a.flags["C_CONTIGUOUS"]
    return a.ctypes.data_as(FP)


def check(rc, err, what):
    if rc != 0:
        raise RuntimeError(f"{what}: {err.msg.decode()}")


def tensors(lib, m):
    """name -> (data view, grad view or None, frozen) of a C model's parameter table."""
    out = {}
    for i in range(lib.invcsi_twin_tensor_count(m)):
        name, rank = C.c_char_p(), C.c_int()
        shape = (C.c_int * 4)()
        data, grad = FP(), FP()
        frozen = C.c_int()
        lib.invcsi_twin_tensor(m, i, C.byref(name), C.byref(rank), shape, C.byref(data),
                               C.byref(grad), C.byref(frozen))
        shp = tuple(shape[d] for d in range(rank.value))
        n = int(np.prod(shp)) if shp else 1
        d = np.ctypeslib.as_array(data, (n,)).reshape(shp)
        g = np.ctypeslib.as_array(grad, (n,)).reshape(shp) if grad else None
        out[name.value.decode()] = (d, g, bool(frozen.value))
    return out
