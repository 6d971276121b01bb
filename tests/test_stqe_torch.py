# SPDX-License-Identifier: GPL-3.0-or-later
"""STQENet layers of the C core against a PyTorch twin of the same equations.

The C layers are called through ctypes on $INVCSI_BINARY_DIR/lib/libinvcsi.so with float32
buffers; the twin runs in float64 on the same float32 values, so the differences measure the
C side's float32 arithmetic only. The torch side is bench/stqe_twin.py's functions (the
whole-model twin of test_stqenet_torch), so each equation is written once in torch too.
Compared, forward and backward (input and every parameter
gradient, for a random upstream gradient):
  - LayerNorm (eps 1e-6) and GELU (erf form),
  - LSA: row tokens, 8-token windows, 4 heads, embed 32 (nn.Linear qkv/proj as in Twins),
  - GSA: queries = rows, keys/values from nn.Conv2d(1, 32, 8, stride 8) -> LayerNorm -> kv,
  - the pre-LayerNorm transformer block of DESIGN.md section 5, invcsi_stqe_block_forward /
    _backward (x + LSA(LN x), + MLP(LN x), + GSA(LN x), + MLP(LN x), then LN), against the
    twin's block (all 32 parameter tensors' gradients),
  - the CR block (conv + BN units in training mode: output, input and parameter gradients,
    running statistics; eval mode; after folding the BN into the convs) against the twin's
    cr_block (STNet's CRBlock),
  - the compander (tanh + mu-law, B = 6) and its inverse,
  - the factorised entropy model's rate (Balle 2018 / CompressAI EntropyBottleneck form with
    the end-symbol tails folded in), d/du and d/dparams.
Tolerances (stated, float32 against float64): forward max abs error <= 2e-5 on O(1)
outputs (rate: 1e-4 relative to the total bits); gradients max abs error <= 1e-4 x max|grad|
(2e-4 for the whole block, which chains 9 layers).
Exit 77 with one line when torch is missing.
"""
import ctypes as C
import math
import re
import os
import sys

import numpy as np

try:
    import torch
except ImportError:
    print("SKIP: python3-torch is not installed for", sys.executable)
    sys.exit(77)

torch.set_default_dtype(torch.float64)
FP = C.POINTER(C.c_float)

SRC = os.environ.get("INVCSI_SOURCE_DIR", os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(SRC, "bench"))
import stqe_twin as st  # noqa: E402  (the torch equations: one copy, shared with the whole-model twin)


class Error(C.Structure):
    _fields_ = [("code", C.c_int), ("msg", C.c_char * 512)]


class AttnShape(C.Structure):
    _fields_ = [("seqs", C.c_int), ("tokens", C.c_int), ("dim", C.c_int), ("heads", C.c_int),
                ("window", C.c_int), ("patch", C.c_int)]


class LsaW(C.Structure):
    _fields_ = [(n, FP) for n in ("qkv_w", "qkv_b", "proj_w", "proj_b")]


class GsaW(C.Structure):
    _fields_ = [(n, FP) for n in ("q_w", "q_b", "kv_w", "kv_b", "sr_w", "sr_b", "norm_w",
                                  "norm_b", "proj_w", "proj_b")]


def load():
    bdir = os.environ.get("INVCSI_BINARY_DIR")
    if not bdir:
        print("SKIP: INVCSI_BINARY_DIR not set (run through ctest)")
        sys.exit(77)
    return C.CDLL(os.path.join(bdir, "lib", "libinvcsi.so"))


lib = load()
for name in ("invcsi_lsa_saved_floats", "invcsi_lsa_scratch_floats", "invcsi_gsa_saved_floats",
             "invcsi_gsa_scratch_floats", "invcsi_entropy_scratch_floats"):
    getattr(lib, name).restype = C.c_long
lib.invcsi_lsa_saved_floats.argtypes = [C.POINTER(AttnShape)]
lib.invcsi_lsa_scratch_floats.argtypes = [C.POINTER(AttnShape)]
lib.invcsi_gsa_saved_floats.argtypes = [C.POINTER(AttnShape)]
lib.invcsi_gsa_scratch_floats.argtypes = [C.POINTER(AttnShape)]
lib.invcsi_entropy_scratch_floats.argtypes = [C.c_int]
lib.invcsi_layernorm_forward.argtypes = [FP, FP, FP, FP, FP, FP, C.c_long, C.c_int, C.c_float,
                                         C.POINTER(Error)]
lib.invcsi_layernorm_backward.argtypes = [FP, FP, FP, FP, FP, FP, FP, FP, C.c_long, C.c_int,
                                          C.POINTER(Error)]
lib.invcsi_dense_forward.argtypes = [FP, FP, FP, FP, C.c_int, C.c_int, C.c_int, C.POINTER(Error)]
lib.invcsi_dense_backward.argtypes = [FP, FP, FP, FP, FP, FP, C.c_int, C.c_int, C.c_int,
                                      C.POINTER(Error)]
lib.invcsi_gelu_forward.argtypes = [FP, FP, C.c_long]
lib.invcsi_gelu_backward.argtypes = [FP, FP, FP, C.c_long]
lib.invcsi_lsa_forward.argtypes = [FP, FP, FP, C.POINTER(LsaW), C.POINTER(AttnShape),
                                   C.POINTER(Error)]
lib.invcsi_lsa_backward.argtypes = [FP, C.POINTER(LsaW), FP, FP, FP, C.POINTER(LsaW),
                                    C.POINTER(AttnShape), FP, C.POINTER(Error)]
lib.invcsi_gsa_forward.argtypes = [FP, FP, FP, C.POINTER(GsaW), C.POINTER(AttnShape),
                                   C.POINTER(Error)]
lib.invcsi_gsa_backward.argtypes = [FP, C.POINTER(GsaW), FP, FP, FP, C.POINTER(GsaW),
                                    C.POINTER(AttnShape), FP, C.POINTER(Error)]
lib.invcsi_compander_forward.argtypes = [FP, FP, C.c_long, C.c_float, C.c_int, C.POINTER(Error)]
lib.invcsi_compander_backward.argtypes = [FP, FP, FP, C.c_long, C.c_float, C.c_int,
                                          C.POINTER(Error)]
lib.invcsi_compander_inverse_forward.argtypes = [FP, FP, C.c_long, C.c_float, C.c_int,
                                                 C.POINTER(Error)]
lib.invcsi_compander_inverse_backward.argtypes = [FP, FP, FP, C.c_long, C.c_float, C.c_int,
                                                  C.POINTER(Error)]
lib.invcsi_entropy_init.argtypes = [FP, C.c_int, C.c_float, C.c_uint64, C.POINTER(Error)]
lib.invcsi_entropy_rate_forward.argtypes = [FP, FP, FP, FP, C.c_int, C.c_int, C.c_int, FP,
                                            C.POINTER(Error)]
lib.invcsi_entropy_rate_backward.argtypes = [FP, FP, C.c_float, FP, FP, C.c_int, C.c_int,
                                             C.c_int, FP, C.POINTER(Error)]

ERR = Error()
failures = []
rng = np.random.default_rng(20261123)


def f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


def ptr(a):
    return a.ctypes.data_as(FP) if a is not None else None


def zeros(n):
    return np.zeros(n, dtype=np.float32)


def ok(rc, what):
    if rc != 0:
        raise RuntimeError(f"{what}: {ERR.msg.decode()}")


def compare(what, c_val, t_val, rel_tol=None, abs_tol=None):
    c_val = np.asarray(c_val, dtype=np.float64).ravel()
    t_val = t_val.detach().numpy().ravel() if torch.is_tensor(t_val) else np.ravel(t_val)
    err = float(np.max(np.abs(c_val - t_val)))
    scale = float(np.max(np.abs(t_val)))
    tol = abs_tol if abs_tol is not None else rel_tol * scale
    flag = "ok" if err <= tol else "FAIL"
    print(f"  {what:<22} max abs err {err:.2e} (max |ref| {scale:.2e}, tol {tol:.1e}) {flag}")
    if err > tol:
        failures.append(what)


def T(a, grad=True):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


# ---- torch twins: bench/stqe_twin.py's functions, under this test's short tensor names ----

def twin_names(p):
    """This test's names (qkv_w, ln1_w, lsa.qkv_w, mlp1_fc1_w, ...) -> the C parameter
    table's names that bench/stqe_twin.py reads (qkv.weight, norm1.weight,
    attn1.qkv.weight, mlp1.fc1.weight, ...), the same tensor objects."""
    out = {}
    for k, v in p.items():
        n = k.replace("lsa.", "attn1.").replace("gsa.", "attn2.")
        n = re.sub(r"^ln(\d)_", r"norm\1_", n)
        n = re.sub(r"^(mlp\d)_", r"\1.", n)
        out[n[:-2] + (".weight" if n.endswith("_w") else ".bias")] = v
    return out


# ---- C wrappers (forward keeps what the backward needs) -----------------------------------------

LSA_NAMES = ("qkv_w", "qkv_b", "proj_w", "proj_b")
GSA_NAMES = ("q_w", "q_b", "kv_w", "kv_b", "sr_w", "sr_b", "norm_w", "norm_b", "proj_w", "proj_b")


class CLayerNorm:
    """The C LayerNorm with the statistics its backward needs."""

    def __init__(self, g, b):
        self.g, self.b = g, b

    def forward(self, x):
        self.x = x
        rows, d = x.size // x.shape[-1], x.shape[-1]
        self.m, self.r = zeros(rows), zeros(rows)
        out = np.empty_like(x)
        ok(lib.invcsi_layernorm_forward(ptr(out), ptr(self.m), ptr(self.r), ptr(x), ptr(self.g),
                                        ptr(self.b), rows, d, 1e-6, C.byref(ERR)), "ln fwd")
        return out

    def backward(self, dout, grads):
        rows, d = self.x.size // self.x.shape[-1], self.x.shape[-1]
        dx = np.zeros_like(self.x)
        ok(lib.invcsi_layernorm_backward(ptr(dx), ptr(grads[0]), ptr(grads[1]), ptr(dout),
                                         ptr(self.x), ptr(self.g), ptr(self.m), ptr(self.r), rows,
                                         d, C.byref(ERR)), "ln bwd")
        return dx


class CAttn:
    def __init__(self, kind, w, shape):
        self.kind, self.shape = kind, shape
        names = LSA_NAMES if kind == "lsa" else GSA_NAMES
        self.W = (LsaW if kind == "lsa" else GsaW)(*[ptr(w[n]) for n in names])
        self.names = names
        self.saved = zeros(getattr(lib, f"invcsi_{kind}_saved_floats")(C.byref(shape)))
        self.scratch = zeros(getattr(lib, f"invcsi_{kind}_scratch_floats")(C.byref(shape)))

    def forward(self, x):
        self.x = x
        out = np.empty_like(x)
        ok(getattr(lib, f"invcsi_{self.kind}_forward")(ptr(out), ptr(self.saved), ptr(x),
                                                       C.byref(self.W), C.byref(self.shape),
                                                       C.byref(ERR)), self.kind + " fwd")
        return out

    def backward(self, dout, grads):
        dx = np.zeros_like(self.x)
        G = (LsaW if self.kind == "lsa" else GsaW)(*[ptr(grads[n]) for n in self.names])
        ok(getattr(lib, f"invcsi_{self.kind}_backward")(ptr(dx), C.byref(G), ptr(dout),
                                                        ptr(self.x), ptr(self.saved),
                                                        C.byref(self.W), C.byref(self.shape),
                                                        ptr(self.scratch), C.byref(ERR)),
           self.kind + " bwd")
        return dx


# ---- the tests -----------------------------------------------------------------------------------

N, TOK, D, HEADS, WIN, PATCH = 6, 32, 32, 4, 8, 8   # 3 CSI samples x 2 channels


def rand(*shape, scale=1.0):
    return f32(scale * rng.standard_normal(shape))


def attn_params(kind):
    if kind == "lsa":
        return {"qkv_w": rand(3 * D, D, scale=1.5 / math.sqrt(D)), "qkv_b": rand(3 * D, scale=0.3),
                "proj_w": rand(D, D, scale=1 / math.sqrt(D)), "proj_b": rand(D, scale=0.3)}
    return {"q_w": rand(D, D, scale=1.5 / math.sqrt(D)), "q_b": rand(D, scale=0.3),
            "kv_w": rand(2 * D, D, scale=1.5 / math.sqrt(D)), "kv_b": rand(2 * D, scale=0.3),
            "sr_w": rand(D, PATCH * PATCH, scale=1 / PATCH), "sr_b": rand(D, scale=0.3),
            "norm_w": f32(1 + rand(D, scale=0.3)), "norm_b": rand(D, scale=0.3),
            "proj_w": rand(D, D, scale=1 / math.sqrt(D)), "proj_b": rand(D, scale=0.3)}


def test_ln_gelu():
    print("layernorm (eps 1e-6) and gelu, [6][32][32]")
    x = rand(N, TOK, D) + f32(3 * rng.standard_normal((N, TOK, 1)))
    g, b, dy = f32(1 + rand(D, scale=0.3)), rand(D, scale=0.3), rand(N, TOK, D)
    ln = CLayerNorm(g, b)
    y = ln.forward(x)
    gg, gb = zeros(D), zeros(D)
    dx = ln.backward(dy, (gg, gb))
    tx, tg, tb = T(x), T(g), T(b)
    ty = st.layer_norm(tx, tg, tb)
    ty.backward(T(dy, False))
    compare("ln out", y, ty, abs_tol=2e-5)
    compare("ln dx", dx, tx.grad, rel_tol=1e-4)
    compare("ln dgamma", gg, tg.grad, rel_tol=1e-4)
    compare("ln dbeta", gb, tb.grad, rel_tol=1e-4)
    x = rand(1000, scale=2.0)
    y, dx = np.empty_like(x), zeros(1000)
    dy = rand(1000)
    lib.invcsi_gelu_forward(ptr(y), ptr(x), 1000)
    lib.invcsi_gelu_backward(ptr(dx), ptr(dy), ptr(x), 1000)
    tx = T(x)
    ty = torch.nn.functional.gelu(tx)
    ty.backward(T(dy, False))
    compare("gelu out", y, ty, abs_tol=2e-6)
    compare("gelu dx", dx, tx.grad, rel_tol=1e-5)


def test_attention(kind):
    shape = AttnShape(N, TOK, D, HEADS, WIN, PATCH)
    p = attn_params(kind)
    x, dy = rand(N, TOK, D), rand(N, TOK, D)
    layer = CAttn(kind, p, shape)
    y = layer.forward(x)
    grads = {k: np.zeros_like(v) for k, v in p.items()}
    dx = layer.backward(dy, grads)
    tx = T(x)
    tp = {k: T(v) for k, v in p.items()}
    ty = (st.lsa(tx, twin_names(tp), "", HEADS, WIN) if kind == "lsa"
          else st.gsa(tx, twin_names(tp), "", HEADS, PATCH))
    ty.backward(T(dy, False))
    print(f"{kind}: [{N}][{TOK}][{D}], {HEADS} heads, " +
          (f"window {WIN}" if kind == "lsa" else f"summary conv {PATCH}x{PATCH} stride {PATCH}"))
    compare(f"{kind} out", y, ty, abs_tol=2e-5)
    compare(f"{kind} dx", dx, tx.grad, rel_tol=1e-4)
    for k in p:
        compare(f"{kind} d{k}", grads[k], tp[k].grad, rel_tol=1e-4)


class BlockW(C.Structure):
    """invcsi_stqe_block_weights / _grads (same layout: pointers and nested pointer structs)."""
    _fields_ = ([("ln1_w", FP), ("ln1_b", FP), ("lsa", LsaW), ("ln2_w", FP), ("ln2_b", FP)] +
                [("mlp1_" + n, FP) for n in ("fc1_w", "fc1_b", "fc2_w", "fc2_b")] +
                [("ln3_w", FP), ("ln3_b", FP), ("gsa", GsaW), ("ln4_w", FP), ("ln4_b", FP)] +
                [("mlp2_" + n, FP) for n in ("fc1_w", "fc1_b", "fc2_w", "fc2_b")] +
                [("ln5_w", FP), ("ln5_b", FP)])


def block_struct(p):
    kw = {}
    for name, _ in BlockW._fields_:
        if name in ("lsa", "gsa"):
            names = LSA_NAMES if name == "lsa" else GSA_NAMES
            kw[name] = (LsaW if name == "lsa" else GsaW)(*[ptr(p[name + "." + n]) for n in names])
        else:
            kw[name] = ptr(p[name])
    return BlockW(**kw)


for fn in ("invcsi_stqe_block_saved_floats", "invcsi_stqe_block_scratch_floats",
           "invcsi_stqe_block_param_count"):
    getattr(lib, fn).restype = C.c_long
    getattr(lib, fn).argtypes = [C.POINTER(AttnShape)]
lib.invcsi_stqe_block_forward.argtypes = [FP, FP, FP, C.POINTER(BlockW), C.POINTER(AttnShape),
                                          C.POINTER(Error)]
lib.invcsi_stqe_block_backward.argtypes = [FP, C.POINTER(BlockW), FP, FP, FP, C.POINTER(BlockW),
                                           C.POINTER(AttnShape), FP, C.POINTER(Error)]


def test_block():
    """invcsi_stqe_block_forward/backward (DESIGN.md section 5 block) vs the torch module."""
    shape = AttnShape(N, TOK, D, HEADS, WIN, PATCH)
    p = {}
    for i in range(1, 6):
        p[f"ln{i}_w"], p[f"ln{i}_b"] = f32(1 + rand(D, scale=0.2)), rand(D, scale=0.2)
    for k, v in attn_params("lsa").items():
        p["lsa." + k] = v
    for k, v in attn_params("gsa").items():
        p["gsa." + k] = v
    for m in ("mlp1_", "mlp2_"):
        p[m + "fc1_w"], p[m + "fc1_b"] = rand(D, D, scale=1 / math.sqrt(D)), rand(D, scale=0.2)
        p[m + "fc2_w"], p[m + "fc2_b"] = rand(D, D, scale=1 / math.sqrt(D)), rand(D, scale=0.2)
    n_params = sum(v.size for v in p.values())
    assert n_params == lib.invcsi_stqe_block_param_count(C.byref(shape)), n_params
    x, dy = rand(N, TOK, D), rand(N, TOK, D)
    g = {k: np.zeros_like(v) for k, v in p.items()}
    W, G = block_struct(p), block_struct(g)
    saved = zeros(lib.invcsi_stqe_block_saved_floats(C.byref(shape)))
    scratch = zeros(lib.invcsi_stqe_block_scratch_floats(C.byref(shape)))
    y, dx = np.empty_like(x), np.zeros_like(x)
    ok(lib.invcsi_stqe_block_forward(ptr(y), ptr(saved), ptr(x), C.byref(W), C.byref(shape),
                                     C.byref(ERR)), "block fwd")
    ok(lib.invcsi_stqe_block_backward(ptr(dx), C.byref(G), ptr(dy), ptr(x), ptr(saved),
                                      C.byref(W), C.byref(shape), ptr(scratch), C.byref(ERR)),
       "block bwd")
    tx = T(x)
    tp = {k: T(v) for k, v in p.items()}
    ty = st.transformer_block(tx, twin_names(tp), pre="")
    ty.backward(T(dy, False))
    print(f"transformer block (LN-LSA, LN-MLP, LN-GSA, LN-MLP, LN), {n_params} parameters")
    compare("block out", y, ty, abs_tol=2e-5)
    compare("block dx", dx, tx.grad, rel_tol=2e-4)
    worst, at = max((float(np.max(np.abs(g[k] - tp[k].grad.numpy())) /
                     max(1e-30, float(np.max(np.abs(tp[k].grad.numpy()))))), k) for k in p)
    flag = "ok" if worst <= 2e-4 else "FAIL"
    print(f"  {'block d(' + str(len(p)) + ' tensors)':<22} worst max abs err / max|ref| "
          f"{worst:.2e} ({at}, tol 2.0e-04) {flag}")
    if worst > 2e-4:
        failures.append("block dparams")


class ConvBN(C.Structure):
    _fields_ = [("in_ch", C.c_int), ("out_ch", C.c_int), ("kh", C.c_int), ("kw", C.c_int),
                ("weight", FP), ("bias", FP), ("gamma", FP), ("beta", FP),
                ("running_mean", FP), ("running_var", FP), ("folded", C.c_int)]


class ConvBNGrads(C.Structure):
    _fields_ = [("weight", FP), ("gamma", FP), ("beta", FP)]


CR_UNITS = ("p1a", "p1b", "p1c", "p2a", "p2b", "fuse")
CR_KERNELS = {"p1a": (3, 3), "p1b": (1, 9), "p1c": (9, 1), "p2a": (1, 5), "p2b": (5, 1),
              "fuse": (1, 1)}


class CrBlock(C.Structure):
    _fields_ = [(u, ConvBN) for u in CR_UNITS]


class CrGrads(C.Structure):
    _fields_ = [(u, ConvBNGrads) for u in CR_UNITS]


lib.invcsi_crblock_set_shapes.argtypes = [C.POINTER(CrBlock), C.c_int, C.c_int]
for fn in ("invcsi_crblock_saved_floats", "invcsi_crblock_scratch_floats"):
    getattr(lib, fn).restype = C.c_long
    getattr(lib, fn).argtypes = [C.POINTER(CrBlock), C.c_int, C.c_int, C.c_int]
lib.invcsi_crblock_forward.argtypes = [FP, FP, FP, C.POINTER(CrBlock), C.c_int, C.c_int, C.c_int,
                                       C.c_int, C.c_float, FP, C.POINTER(Error)]
lib.invcsi_crblock_backward.argtypes = [FP, C.POINTER(CrGrads), FP, FP, FP, C.POINTER(CrBlock),
                                        C.c_int, C.c_int, C.c_int, FP, C.POINTER(Error)]
lib.invcsi_crblock_fold.argtypes = [C.POINTER(CrBlock), C.POINTER(Error)]


def test_crblock():
    batch, ch, width, h, w = 4, 2, 7, 32, 32
    in_ch = {"p1a": ch, "p1b": width, "p1c": width, "p2a": ch, "p2b": width, "fuse": 2 * width}
    out_ch = {u: (ch if u == "fuse" else width) for u in CR_UNITS}
    arrays = {}
    for u in CR_UNITS:
        kh, kw = CR_KERNELS[u]
        fan = in_ch[u] * kh * kw
        arrays[u] = {"weight": rand(out_ch[u], in_ch[u], kh, kw, scale=1 / math.sqrt(fan)),
                     "gamma": f32(1 + rand(out_ch[u], scale=0.3)),
                     "beta": rand(out_ch[u], scale=0.3),
                     "running_mean": rand(out_ch[u], scale=0.3),
                     "running_var": f32(0.5 + rng.uniform(0, 1, out_ch[u])),
                     "bias": zeros(out_ch[u])}
    # the twin (bench/stqe_twin.py's cr_block) under the C table's unit names
    twin_unit = dict(zip(CR_UNITS, (name for name, _ in st.CR_UNITS)))
    tp, tbuf = {}, {}
    for u in CR_UNITS:
        n = twin_unit[u] + "."
        tp[n + "conv.weight"] = T(arrays[u]["weight"])
        tp[n + "bn.weight"], tp[n + "bn.bias"] = T(arrays[u]["gamma"]), T(arrays[u]["beta"])
        for k in ("running_mean", "running_var"):
            tbuf[n + "bn." + k] = torch.tensor(arrays[u][k].astype(np.float64))
    blk = CrBlock()
    lib.invcsi_crblock_set_shapes(C.byref(blk), ch, width)
    grads = {u: {k: np.zeros_like(arrays[u][k]) for k in ("weight", "gamma", "beta")}
             for u in CR_UNITS}
    G = CrGrads()
    for u in CR_UNITS:
        unit = getattr(blk, u)
        for k in ("weight", "bias", "gamma", "beta", "running_mean", "running_var"):
            setattr(unit, k, ptr(arrays[u][k]))
        gu = getattr(G, u)
        for k in ("weight", "gamma", "beta"):
            setattr(gu, k, ptr(grads[u][k]))
    x, dy = rand(batch, ch, h, w), rand(batch, ch, h, w)
    saved = zeros(lib.invcsi_crblock_saved_floats(C.byref(blk), batch, h, w))
    scratch = zeros(lib.invcsi_crblock_scratch_floats(C.byref(blk), batch, h, w))
    y, dx = np.empty_like(x), np.zeros_like(x)
    ok(lib.invcsi_crblock_forward(ptr(y), ptr(saved), ptr(x), C.byref(blk), batch, h, w, 0, 0.1,
                                  ptr(scratch), C.byref(ERR)), "cr fwd train")
    ok(lib.invcsi_crblock_backward(ptr(dx), C.byref(G), ptr(dy), ptr(x), ptr(saved),
                                   C.byref(blk), batch, h, w, ptr(scratch), C.byref(ERR)), "cr bwd")
    tx = T(x)
    ty = st.cr_block(tx, tp, tbuf, "", train=True)
    ty.backward(T(dy, False))
    print(f"CR block (2 -> 7 ... -> 2, BN train mode), batch {batch}, {h}x{w}")
    compare("cr out (train)", y, ty, abs_tol=2e-5)
    compare("cr dx", dx, tx.grad, rel_tol=1e-4)
    twin_key = {"weight": "conv.weight", "gamma": "bn.weight", "beta": "bn.bias"}
    worst, at = max((float(np.max(np.abs(grads[u][k] - t.grad.numpy())) /
                     float(np.max(np.abs(t.grad.numpy())))), u + "." + k)
                    for u in CR_UNITS for k in ("weight", "gamma", "beta")
                    for t in (tp[twin_unit[u] + "." + twin_key[k]],))
    flag = "ok" if worst <= 1e-4 else "FAIL"
    print(f"  {'cr d(18 tensors)':<22} worst max abs err / max|ref| {worst:.2e} ({at}, "
          f"tol 1.0e-04) {flag}")
    if worst > 1e-4:
        failures.append("cr dparams")
    worst_rs = max(float(np.max(np.abs(arrays[u][k] - tbuf[twin_unit[u] + ".bn." + k].numpy())))
                   for u in CR_UNITS for k in ("running_mean", "running_var"))
    compare("cr running stats", [worst_rs], [0.0], abs_tol=1e-5)
    # eval mode (running statistics), then folded
    with torch.no_grad():
        ty = st.cr_block(T(x, False), tp, tbuf, "", train=False)
    ok(lib.invcsi_crblock_forward(ptr(y), ptr(saved), ptr(x), C.byref(blk), batch, h, w, 1, 0.1,
                                  ptr(scratch), C.byref(ERR)), "cr fwd infer")
    compare("cr out (eval)", y, ty, abs_tol=2e-5)
    ok(lib.invcsi_crblock_fold(C.byref(blk), C.byref(ERR)), "fold")
    ok(lib.invcsi_crblock_forward(ptr(y), ptr(saved), ptr(x), C.byref(blk), batch, h, w, 1, 0.1,
                                  ptr(scratch), C.byref(ERR)), "cr fwd folded")
    compare("cr out (folded)", y, ty, abs_tol=2e-5)


def test_compander():
    print("compander tanh + mu-law (mu 255, B 6) and inverse")
    z, du = rand(2000, scale=1.5), rand(2000)
    u, dz = zeros(2000), zeros(2000)
    ok(lib.invcsi_compander_forward(ptr(u), ptr(z), 2000, 255.0, 6, C.byref(ERR)), "comp")
    ok(lib.invcsi_compander_backward(ptr(dz), ptr(du), ptr(z), 2000, 255.0, 6, C.byref(ERR)), "cb")
    tz = T(z)
    tu = st.compander(tz, 6, 255.0)
    tu.backward(T(du, False))
    compare("compander u", u, tu, abs_tol=5e-5)  # u spans 0..63: 1e-6 relative
    compare("compander dz", dz, tz.grad, rel_tol=1e-5)
    uu, dt = f32(rng.uniform(0, 63, 2000)), rand(2000)
    t_c, du_c = zeros(2000), zeros(2000)
    ok(lib.invcsi_compander_inverse_forward(ptr(t_c), ptr(uu), 2000, 255.0, 6, C.byref(ERR)), "i")
    ok(lib.invcsi_compander_inverse_backward(ptr(du_c), ptr(dt), ptr(uu), 2000, 255.0, 6,
                                             C.byref(ERR)), "ib")
    tuu = T(uu)
    tt = st.compander_inverse(tuu, 6, 255.0)
    tt.backward(T(dt, False))
    compare("inverse t", t_c, tt, abs_tol=2e-6)
    compare("inverse du", du_c, tuu.grad, rel_tol=1e-5)


def test_entropy():
    dims, levels, batch = 24, 64, 40
    raw = zeros(dims * 43)
    ok(lib.invcsi_entropy_init(ptr(raw), dims, 16.0, 3, C.byref(ERR)), "init")
    raw = f32(raw + rng.normal(0, 0.5, raw.shape))
    u = rng.uniform(-0.5, levels - 0.5, (batch, dims))
    u[::7, :] = np.round(u[::7, :])               # some exact symbols, both ends included
    u[0, :4], u[1, :4] = 0.0, levels - 1.0
    frac = u - np.floor(u)
    u = f32(np.where(np.abs(frac - 0.5) < 1e-3, u + 0.01, u))
    scratch = zeros(lib.invcsi_entropy_scratch_floats(dims))
    total, bits = C.c_float(), zeros(batch * dims)
    ok(lib.invcsi_entropy_rate_forward(C.byref(total), ptr(bits), ptr(u), ptr(raw), batch, dims,
                                       levels, ptr(scratch), C.byref(ERR)), "rate")
    du, draw = zeros(batch * dims), zeros(dims * 43)
    dloss = 0.01
    ok(lib.invcsi_entropy_rate_backward(ptr(du), ptr(draw), dloss, ptr(u), ptr(raw), batch, dims,
                                        levels, ptr(scratch), C.byref(ERR)), "rate bwd")
    tu, traw = T(u), T(raw.reshape(dims, 43))
    # folded tails, the same rule as the C side: symbol 0 -> CDF(lo) = 0, L-1 -> CDF(hi) = 1
    tbits = st.rate_bits(tu, traw, levels)
    (dloss * tbits.sum()).backward()
    print(f"entropy model rate: batch {batch}, dims {dims}, levels {levels}, "
          f"total {total.value:.3f} bits")
    compare("bits per entry", bits, tbits, abs_tol=2e-4)
    compare("total bits", [total.value], [float(tbits.sum())],
            abs_tol=1e-4 * float(tbits.sum()))
    compare("rate du", du, tu.grad, rel_tol=1e-4)
    compare("rate draw", draw, traw.grad, rel_tol=1e-4)


test_ln_gelu()
test_attention("lsa")
test_attention("gsa")
test_block()
test_crblock()
test_compander()
test_entropy()
if failures:
    print("FAILED:", ", ".join(failures))
    sys.exit(1)
print("test_stqe_torch: all comparisons within tolerance")
