# SPDX-License-Identifier: GPL-3.0-or-later
"""The whole STQENet of the C core (lib/stqenet.c) against its PyTorch twin (bench/stqe_twin.py).

The C model is created through ctypes (invcsi_twin_create_json: CR 1/16, B 6, lambda
LAMBDA below), every trainable tensor and the BN running statistics moved off the
initialisation by seeded random amounts (so no tensor is trivially zero or one), and one
training step is run with invcsi_stqenet_train_step_ex on 4 seeded reports with a given rate
noise U(-1/2, 1/2); the twin (float64) runs the same step from a copy of the same parameter
table with the same noise. Two map sizes: 16 x 16 (nr 1, nt 16, nc 16: 2 LSA windows, a
2 x 2 GSA summary; the smallest the C accepts, 8 x 8, has ONE summary token, so GSA's
softmax is constant and attn2.q gets an exactly-zero gradient) and 32 x 32 (the size of
the data sets). Compared:
  - u (the compander output, invcsi_model_encode) and the symbols round(u);
  - the loss terms the step reports: total, MSE, rate (bits per report), NMSE sum;
  - the gradient of EVERY trainable tensor (80 of them) and dL/dx (train_step_ex's dx;
    it carries the training-mode x^ through dMSE/dx, which the C API exposes no other way);
  - the BN running statistics of the 13 decoder units after the step;
  - the inference decode (invcsi_stqenet_decode_symbols) of the step's symbols with the
    updated running statistics, BN unfolded (set_bn_fold 0) and folded (1);
  - the rate warm-up: two more steps at lambda_eff = 0 and lambda / 2 (invcsi_twin_begin_epoch
    0 and 1 of 8), where the entropy model still gets the full lambda (16 x 16 only).
The two sides' rounding decisions (round(u) for the decoder, floor(u~ + 1/2) for the folded
tails) are taken from the C values: a u within float32 rounding of a half would otherwise
send the two sides to different symbols. The symbol check counts disagreements away from a
half (must be 0).

Tolerances (float32 C against float64 twin: the errors measure the C's float32 arithmetic
through ~30 layers). Measured when written over 6-12 seeds x both sizes (and the warm-up
step), OMP_NUM_THREADS 1 and 2 alike; each limit is about 5x the worst measured:
  u                max |c - t| / max |t|               7.4e-6   tol 4e-5
  loss terms       relative                            1.3e-7   tol 1e-6
  gradients        per tensor max |c - t| / max |t|    1.1e-4   tol 5e-4
  dL/dx            max |c - t| / max |t|               7.2e-5   tol 4e-4
  running stats    per tensor max |c - t| / max |t|    1.3e-7   tol 1e-6
                   (a running mean: / max(max |mean|, max sqrt(var)) of its unit)
  decode           max |c - t| / max |t|               8.0e-7   tol 4e-6 (both BN forms)
The encoder's gradients are the loose ones, and the reason is the mu-law: at t = 0 the
compander's slope is du/dz = 31.5 x 255 / ln 256 ~ 1450 and its relative change per unit
of z is ~255, so a float32 rounding of ~2e-7 in z (a 2048-term FC) moves the slope of that
entry by ~6e-5 relative, and an entry near z = 0 dominates its report's encoder gradient
(the worst case above: |z| = 2.8e-4). The decoder's gradients agree to ~1e-7.
Bites: the comparison is re-run with planted errors and must fail each time: the sign of
one C gradient tensor flipped (enc.block.attn2.kv.weight), the twin's in_scale changed by
1e-3 relative, one running mean of the twin changed by 1e-3, and the C's warm-up step
compared with a twin that ignores the warm-up (lambda_eff = lambda).

Skipped (77) with one line when torch cannot be imported.
"""
import ctypes as C
import os
import sys
import time

try:
    import torch
except Exception as e:  # noqa: BLE001 - any import failure means "no torch here"
    print(f"SKIP: python3-torch is not importable ({type(e).__name__}: {e})")
    sys.exit(77)

import numpy as np

SRC = os.environ.get("INVCSI_SOURCE_DIR", os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(SRC, "bench"))
import stqe_twin as st  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twin_lib  # noqa: E402
from twin_lib import Error, P, FP, E, check, fp, tensors  # noqa: E402

BATCH = 4
CR = 1.0 / 16
BITS = 6
LAMBDA = 2.0          # the rate term weighs about as much as the MSE here
SIZES = ((1, 16, 16), (1, 32, 32))

TOL_U = 4e-5
TOL_LOSS = 1e-6
TOL_GRAD = 5e-4
TOL_DX = 4e-4
TOL_STATS = 1e-6
TOL_DECODE = 4e-6
NEAR_HALF = 2e-3      # |u - k - 1/2| below this may round either way (|u_c - u_t| <= 4.7e-4)


class Losses(C.Structure):
    _fields_ = [("total", C.c_double), ("mmd", C.c_double), ("mse", C.c_double),
                ("nmse_sum", C.c_double)]


U16 = C.POINTER(C.c_uint16)
LIB = twin_lib.load_lib({
    "invcsi_twin_create_json": (C.c_int, [C.POINTER(P), C.c_char_p, C.c_int, E]),
    "invcsi_twin_begin_epoch": (None, [P, C.c_int, C.c_int]),
    "invcsi_stqenet_train_step_ex": (C.c_int, [P, FP, C.c_int, FP, C.POINTER(Losses), FP, E]),
    "invcsi_model_encode": (C.c_int, [P, FP, C.c_long, FP, E]),
    "invcsi_stqenet_symbols": (C.c_int, [P, FP, C.c_long, U16, E]),
    "invcsi_stqenet_decode_symbols": (C.c_int, [P, U16, C.c_long, FP, E]),
    "invcsi_stqenet_set_bn_fold": (None, [P, C.c_int]),
})
RESULTS = []   # (what, measured, tol) of the real comparison


def u16p(a):
    assert a.dtype == np.uint16 and a.flags["C_CONTIGUOUS"]
    return a.ctypes.data_as(U16)


def perturb(tab, rng):
    """Every tensor off its init: weights by 30 % of their init range, LayerNorm / BN
    scales and all biases by N(0, 0.2) / N(0, 0.1), the entropy model's raw parameters by
    N(0, 0.1), the running statistics to random values. in_scale and the coder tables
    keep their values (frozen, and the step does not read the tables)."""
    for name, (d, _, frozen) in tab.items():
        if name.endswith(".running_mean"):
            d[...] = 0.1 * rng.standard_normal(d.shape)
        elif name.endswith(".running_var"):
            d[...] = 0.5 + rng.uniform(0, 1, d.shape)
        elif frozen:
            continue
        elif name == "entropy.raw":
            d += 0.1 * rng.standard_normal(d.shape).astype(np.float32)
        elif name.endswith(".weight") and d.ndim >= 2:
            d += 0.3 * float(np.max(np.abs(d))) * rng.uniform(-1, 1, d.shape).astype(np.float32)
        elif name.endswith(".weight"):
            d += 0.2 * rng.standard_normal(d.shape).astype(np.float32)
        else:
            d += 0.1 * rng.standard_normal(d.shape).astype(np.float32)


def rel(c, t):
    c, t = np.asarray(c, np.float64), np.asarray(t, np.float64)
    return float(np.max(np.abs(c - t))) / max(float(np.max(np.abs(t))), 1e-300)


def tnp(t):
    return t.detach().cpu().numpy().astype(np.float64)


class Case:
    """One C model and its input; step() runs the C step once from the stored snapshot."""

    def __init__(self, nr, nt, nc, seed):
        self.nr, self.nt, self.nc = nr, nt, nc
        self.dim = 2 * nr * nt * nc
        self.mm = round(self.dim * CR)
        self.cfg = {"kind": "stqenet", "nr": nr, "nt": nt, "nc": nc, "m": self.mm,
                    "bits": BITS, "mse_weight": LAMBDA, "seed": seed}
        err = Error()
        self.m = C.c_void_p()
        cfg_json = ('{"kind": "stqenet", "nr": %d, "nt": %d, "nc": %d, "m": %d, "bits": %d, '
                    '"mse_weight": %r, "seed": %d}' % (nr, nt, nc, self.mm, BITS, LAMBDA, seed))
        check(LIB.invcsi_twin_create_json(C.byref(self.m), cfg_json.encode(), BATCH,
                                          C.byref(err)), err, "create")
        rng = np.random.default_rng(seed)
        self.tab = tensors(LIB, self.m)
        perturb(self.tab, rng)
        self.snapshot = {k: d.copy() for k, (d, _, _) in self.tab.items()}
        self.x = (0.5 * rng.standard_normal((BATCH, self.dim))).astype(np.float32)
        self.noise = rng.uniform(-0.5, 0.5, (BATCH, self.mm)).astype(np.float32)

    def restore(self):
        for k, (d, _, _) in self.tab.items():
            d[...] = self.snapshot[k]

    def c_step(self):
        """u, symbols, then one step: losses, grads, dx, running stats, and the decodes."""
        self.restore()
        err = Error()
        u = np.zeros((BATCH, self.mm), np.float32)
        check(LIB.invcsi_model_encode(self.m, fp(self.x), BATCH, fp(u), C.byref(err)), err, "enc")
        sym = np.zeros((BATCH, self.mm), np.uint16)
        check(LIB.invcsi_stqenet_symbols(self.m, fp(self.x), BATCH, u16p(sym), C.byref(err)),
              err, "symbols")
        for _, g, _ in self.tab.values():
            if g is not None:
                g[...] = 0.0
        dx = np.zeros_like(self.x)
        losses = Losses()
        check(LIB.invcsi_stqenet_train_step_ex(self.m, fp(self.x), BATCH, fp(self.noise),
                                               C.byref(losses), fp(dx), C.byref(err)),
              err, "train_step_ex")
        out = {"u": u.astype(np.float64), "sym": sym, "dx": dx.astype(np.float64),
               "losses": {"total": losses.total, "mse": losses.mse, "rate": losses.mmd,
                          "nmse_sum": losses.nmse_sum},
               "grads": {k: g.astype(np.float64) for k, (_, g, fr) in self.tab.items()
                         if not fr},
               "frozen_grads": {k: float(np.max(np.abs(g))) for k, (_, g, fr) in
                                self.tab.items() if fr and g is not None},
               "stats": {k: d.astype(np.float64) for k, (d, _, _) in self.tab.items()
                         if k.endswith(".running_mean") or k.endswith(".running_var")}}
        # the C's own noisy values (float32 sum, as the step forms them) decide the folding
        out["bins"] = np.floor((u + self.noise).astype(np.float32) + np.float32(0.5))
        for fold in (0, 1):
            xh = np.zeros_like(self.x)
            LIB.invcsi_stqenet_set_bn_fold(self.m, fold)
            check(LIB.invcsi_stqenet_decode_symbols(self.m, u16p(sym), BATCH, fp(xh),
                                                    C.byref(err)), err, "decode")
            out[f"decode{fold}"] = xh.astype(np.float64)
        return out

    def twin(self, change=None, lambda_eff=None, c=None):
        """The twin's step from the snapshot; change(tensors) may plant a difference."""
        tensors_ = {k: v.copy() for k, v in self.snapshot.items()}
        if change:
            change(tensors_)
        net = st.STQENet(self.cfg, tensors_)
        x = torch.tensor(self.x.astype(np.float64), requires_grad=True)
        sym = None if c is None else np.floor(c["u"].astype(np.float32) + np.float32(0.5))
        res = net.train_forward(x, self.noise, lambda_eff=lambda_eff, symbols=sym,
                                bins=None if c is None else c["bins"])
        res["objective"].backward()
        out = {"u": tnp(res["u"]), "dx": tnp(x.grad), "grads": net.grads(),
               "losses": {k: float(res[k]) for k in ("total", "mse", "rate", "nmse_sum")},
               "stats": {k: tnp(v) for k, v in net.buffers.items()}}
        with torch.no_grad():
            own = st.round_half_up(res["u"]).clamp(0, (1 << BITS) - 1)
            out["sym"] = tnp(own)
        for fold in (0, 1):
            out[f"decode{fold}"] = tnp(net.decode_symbols(c["sym"] if c else out["sym"],
                                                          folded=bool(fold)))
        return out


def compare(c, t, tag, record):
    """Measured errors of one C step against one twin step: list of (what, err, tol)."""
    res = [(f"{tag} u", rel(c["u"], t["u"]), TOL_U)]
    # symbols: disagreements away from a half must not exist
    near_half = np.abs(t["u"] - np.floor(t["u"]) - 0.5) < NEAR_HALF
    bad = int(np.sum((c["sym"] != t["sym"]) & ~near_half))
    res.append((f"{tag} symbols differing", float(bad), 0.0))
    for k in ("total", "mse", "rate", "nmse_sum"):
        res.append((f"{tag} loss {k}", rel([c["losses"][k]], [t["losses"][k]]), TOL_LOSS))
    worst, at = -1.0, ""
    for k, g in t["grads"].items():
        e = rel(c["grads"][k], g)
        if e > worst:
            worst, at = e, k
    res.append((f"{tag} grad worst ({at})", worst, TOL_GRAD))
    res.append((f"{tag} dL/dx", rel(c["dx"], t["dx"]), TOL_DX))
    worst, at = -1.0, ""
    for k, s in t["stats"].items():
        # a running mean is measured against its channel's scale as well (the larger of
        # max |mean| and max sqrt(var)): a mean near 0 is a difference of near-equal terms
        scale = float(np.max(np.abs(s)))
        if k.endswith(".running_mean"):
            var = t["stats"][k[:-len("running_mean")] + "running_var"]
            scale = max(scale, float(np.max(np.sqrt(np.abs(var)))))
        e = float(np.max(np.abs(c["stats"][k] - s))) / max(scale, 1e-300)
        if e > worst:
            worst, at = e, k
    res.append((f"{tag} running stats ({at})", worst, TOL_STATS))
    res.append((f"{tag} decode, BN running", rel(c["decode0"], t["decode0"]), TOL_DECODE))
    res.append((f"{tag} decode, BN folded", rel(c["decode1"], t["decode1"]), TOL_DECODE))
    if record:
        RESULTS.extend(res)
    return res


def failed(res):
    return [w for w, e, tol in res if not e <= tol]


def show(res):
    for what, e, tol in res:
        print(f"  {what:<58} {e:9.2e}  (tol {tol:.0e}) {'ok' if e <= tol else 'FAIL'}")


def per_tensor(c, t):
    """The gradient error of every tensor, largest first, two to a line."""
    rows = sorted(((rel(c["grads"][k], g), k) for k, g in t["grads"].items()), reverse=True)
    print(f"  gradient max |c - t| / max |t| per tensor ({len(rows)} tensors):")
    cells = [f"{k:<40} {e:8.1e}" for e, k in rows]
    for i in range(0, len(cells), 2):
        print("    " + "   ".join(cells[i:i + 2]))


def main():
    torch.set_num_threads(1)
    torch.backends.mkldnn.enabled = False
    torch.set_default_dtype(torch.float64)
    t0 = time.time()
    bite_fail = []
    for nr, nt, nc in SIZES:
        case = Case(nr, nt, nc, seed=20261124 + nt)
        tag = f"{nr * nt}x{nc}"
        c = case.c_step()
        t = case.twin(c=c)
        ends = float(np.mean((c["sym"] == 0) | (c["sym"] == (1 << BITS) - 1)))
        print(f"STQENet {tag}: dim {case.dim}, M {case.mm}, B {BITS}, lambda {LAMBDA}, batch "
              f"{BATCH}; losses C: total {c['losses']['total']:.6f} mse {c['losses']['mse']:.6f}"
              f" rate {c['losses']['rate']:.2f} bits/report; end symbols {ends:.0%}")
        res = compare(c, t, tag, True)
        show(res)
        per_tensor(c, t)
        nz = {k: v for k, v in c["frozen_grads"].items() if v != 0.0}
        print(f"  frozen tensors with a nonzero C gradient: {len(nz)}; trainable tensors with "
              f"an all-zero twin gradient: {sum(1 for g in t['grads'].values() if not np.any(g))}")
        RESULTS.append((f"{tag} frozen tensors' C gradients nonzero", float(len(nz)), 0.0))
        if nz:
            print(f"  frozen tensors with a nonzero C gradient: {nz}")
        zero_g = [k for k, g in t["grads"].items() if not np.any(g)]
        RESULTS.append((f"{tag} trainable tensors with an all-zero gradient", float(len(zero_g)),
                        0.0))
        if zero_g:
            print(f"  trainable tensors with an all-zero twin gradient: {zero_g}")

        if nt == 16:
            # rate warm-up (W = 2 of 8 epochs): epoch 0 -> lambda_eff = 0, epoch 1 ->
            # lambda / 2 for the encoder; the entropy model keeps the full lambda
            for epoch in (0, 1):
                LIB.invcsi_twin_begin_epoch(case.m, epoch, 8)
                cw = case.c_step()
                tw = case.twin(lambda_eff=LAMBDA * epoch / 2, c=cw)
                print(f"  rate warm-up, begin_epoch {epoch} of 8: encoder lambda "
                      f"{LAMBDA * epoch / 2}, entropy model {LAMBDA}:")
                show(compare(cw, tw, f"{tag} warm-up {epoch}", True))
            LIB.invcsi_twin_begin_epoch(case.m, 7, 8)
            planted_warm = compare(cw, case.twin(c=cw), tag + " warm-up 1", False)

            # the planted differences: each must make the comparison fail
            planted = []
            cb = dict(c, grads=dict(c["grads"]))
            cb["grads"]["enc.block.attn2.kv.weight"] = -cb["grads"]["enc.block.attn2.kv.weight"]
            planted.append(("C gradient of enc.block.attn2.kv.weight sign-flipped",
                            compare(cb, t, tag, False)))

            def scale(ts):
                ts["enc.fc.in_scale"] *= np.float32(1.001)
            planted.append(("twin in_scale x 1.001", compare(c, case.twin(scale, c=c), tag,
                                                            False)))

            def stat(ts):
                ts["dec.cr1.conv1x1.bn.running_mean"][0] += np.float32(1e-3)
            planted.append(("twin dec.cr1.conv1x1 running_mean[0] + 1e-3",
                            compare(c, case.twin(stat, c=c), tag, False)))
            planted.append(("twin without the warm-up (lambda_eff = lambda)", planted_warm))
            for what, res in planted:
                f = failed(res)
                print(f"  planted: {what}: caught by {f if f else 'NOTHING'}")
                if not f:
                    bite_fail.append(what)
        LIB.invcsi_model_destroy(case.m)
    print(f"runtime {time.time() - t0:.1f} s")
    bad = failed(RESULTS)
    if bite_fail:
        print("FAILED: planted differences not caught:", "; ".join(bite_fail))
    if bad:
        print("FAILED:", "; ".join(bad))
    if bad or bite_fail:
        sys.exit(1)
    print("test_stqenet_torch: the whole STQENet step matches the twin within tolerance")


if __name__ == "__main__":
    main()
