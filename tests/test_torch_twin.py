# SPDX-License-Identifier: GPL-3.0-or-later
"""The C core against its PyTorch twin (bench/torch_twin.py), one batch, float32 both.

For the INN (CR 1/16; patch front, and the energy front with a random permutation) and
InvCSINet (CR 1/16, B = 3): weights made here (the C core's init, then every trainable
tensor randomly perturbed, the zero-initialised last convs of the HiNet subnets and of
the LAN included, so no block is the identity), saved by the C core
(invcsi_model_save) and loaded by both sides from that file. One training step on
8 deterministic reports with the SAME noise on both sides (the C step draws from
invcsi_rng (seed, stream); this test replays the same draws through the library's own
invcsi_rng_normal / invcsi_gumbel_fill in the order the C train_step uses them, and hands
them to the twin as inputs). Compared:
  - forward outputs: y, z (INN forward), the reconstruction x^ (inverse), and for
    InvCSINet also the normalised latent y_n, the hard DAQ levels, and x^ of
    decode_levels fed the twin's D-BCD output y~;
  - the loss terms: total, MMD, MSE, NMSE sum;
  - the gradient of EVERY trainable tensor.
InvCSINet is checked twice: the training forward (hard DAQ and one-hot D-BCD,
straight-through) and the soft forward (invcsi_invcsinet_set_soft_forward: one smooth
function, its exact gradient).

Tolerances (both sides float32; they differ only in summation order: im2col + OpenBLAS
GEMM against PyTorch's own convolution, blocked dot products in the MMD distances, cumsum
in the DAQ tables; each such sum carries a few ulp (~1e-7 relative) and the INN can
multiply it by up to e^2 per block through its clamped scales). Measured when written
(OMP_NUM_THREADS 1 and 2 alike): outputs within 9e-7 of max(1, their size), loss terms
within 1e-8 relative, gradients within 3.5e-6 of each tensor's largest entry. The limits
leave 5-10x room and still catch a 1 % change of a single weight:
  - outputs: max |c - t| <= 5e-6 x max(1, max |t|)
  - loss terms: relative 1e-6 (the MMD, a difference of kernel sums near 1, gets an
    absolute 1e-8 as well)
  - gradients: per tensor, max |g_c - g_t| <= 3e-5 x max |g_t| (a tensor's gradient is a
    sum over the batch and the map positions; normalising by the tensor's largest entry
    keeps near-zero entries from dominating)
PyTorch's oneDNN (mkldnn) convolutions are switched off for the comparison: their float32
weight gradients were off by up to 1.3e-2 of the tensor's largest entry on the first
INN block here (a float64 run of the twin agrees with the C core to 3e-7 and with the
twin without oneDNN to 1e-7). The speed benchmark keeps oneDNN on.
Each comparison prints the largest error measured.

Sensitivity: the same comparison is run once more with a planted difference (one weight
of one subnet of the twin changed by 1 %); the test fails unless that run fails.

Skipped (77) with one line when torch cannot be imported.
"""
import ctypes as C
import os
import sys

try:
    import torch
except Exception as e:  # noqa: BLE001 - any import failure means "no torch here"
    print(f"SKIP: python3-torch is not importable ({type(e).__name__}: {e})")
    sys.exit(77)

import numpy as np

SRC = os.environ.get("INVCSI_SOURCE_DIR", os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(SRC, "bench"))
import torch_twin as tw  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twin_lib  # noqa: E402

BATCH = 8
NR, NT, NC = 1, 32, 32
CR = 1.0 / 16
BITS = 3
STEP_SEED, STEP_STREAM = 5, 3

TOL_OUT = 5e-6
TOL_LOSS = 1e-6
TOL_MMD_ABS = 1e-8
TOL_GRAD = 3e-5


from twin_lib import Error, P, FP, E, check, fp, tensors  # noqa: E402


def load_lib():
    return twin_lib.load_lib({
        "invcsi_twin_create": (C.c_int, [C.POINTER(P), C.c_char_p, C.c_int, C.c_int, C.c_int,
                                         C.c_double, C.c_int, C.c_char_p, C.c_uint64, C.c_int,
                                         E]),
        "invcsi_twin_train_step": (C.c_int, [P, FP, C.c_int, C.c_uint64, C.c_uint64,
                                             C.POINTER(C.c_double), E]),
        "invcsi_model_save": (C.c_int, [P, C.c_char_p, P, C.c_int, E]),
        "invcsi_model_load": (C.c_int, [C.POINTER(P), C.c_char_p, C.c_int, E]),
        "invcsi_inn_of_model": (P, [P]),
        "invcsi_inn_forward": (C.c_int, [P, FP, C.c_int, FP, FP, E]),
        "invcsi_inn_inverse": (C.c_int, [P, FP, FP, C.c_int, FP, E]),
        "invcsi_invcsinet_fit_latent": (C.c_int, [P, FP, C.c_long, E]),
        "invcsi_invcsinet_set_beta": (None, [P, C.c_float]),
        "invcsi_invcsinet_beta": (C.c_float, [P]),
        "invcsi_invcsinet_set_soft_forward": (None, [P, C.c_int]),
        "invcsi_invcsinet_encode_latent": (C.c_int, [P, FP, C.c_int, FP, E]),
        "invcsi_invcsinet_quantize": (C.c_int, [P, FP, C.c_int, C.POINTER(C.c_int), E]),
        "invcsi_invcsinet_dequantize": (C.c_int, [P, C.POINTER(C.c_int), C.c_int, FP, E]),
        "invcsi_invcsinet_decode_levels": (C.c_int, [P, FP, C.c_int, P, FP, E]),
        "invcsi_rng_init": (None, [P, C.c_uint64, C.c_uint64]),
        "invcsi_rng_normal": (C.c_double, [P]),
        "invcsi_gumbel_fill": (None, [FP, C.c_long, P]),
        "invcsi_params_zero_grad": (None, [P]),
    })


LIB = load_lib()
FAILS = []


def perturb(m, rng):
    """Random weights: every trainable tensor moved off the C core's init."""
    for name, (d, _, frozen) in tensors(LIB, m).items():
        if frozen:
            continue
        if name.endswith(".weight"):
            fan_in = d.shape[1] * d.shape[2] * d.shape[3]
            bound = np.sqrt(6.0 / fan_in)
            last = name.endswith("conv3.weight") or name.startswith("ic.lan.conv2")
            # the zero-initialised last convs get small random weights (0.3 x He), the
            # others a 20 % He-sized nudge on top of their init
            d += (0.3 if last else 0.2) * bound * rng.uniform(-1, 1, d.shape).astype(np.float32)
        elif name.endswith(".bias"):
            d += 0.02 * rng.standard_normal(d.shape).astype(np.float32)
        elif name.startswith("daq."):
            d += 0.1 * rng.standard_normal(d.shape).astype(np.float32)
        elif name.startswith("ic.z."):
            d += 0.1 * rng.standard_normal(d.shape).astype(np.float32)
        elif name.startswith("latent."):
            d += 0.05 * rng.standard_normal(d.shape).astype(np.float32)


def make_weights(kind, path, x, front="patch"):
    err = Error()
    m = C.c_void_p()
    check(LIB.invcsi_twin_create(C.byref(m), kind.encode(), NR, NT, NC, CR, BITS,
                                 front.encode(), 11, BATCH, C.byref(err)), err, "create")
    rng = np.random.default_rng(1234 if kind == "inn" else 4321)
    perturb(m, rng)
    if front == "energy":
        # a random permutation stands in for the fitted energy order
        perm = tensors(LIB, m)["inn.front.perm"][0]
        perm[...] = rng.permutation(perm.size).astype(np.float32)
    if kind == "invcsinet":
        # the latent normalisation fitted to the perturbed INN's latents (then perturbed
        # by perturb() once more, below), so y_n spans the DAQ's [-1, 1]
        check(LIB.invcsi_invcsinet_fit_latent(m, fp(x), x.shape[0], C.byref(err)), err, "fit")
        for name, (d, _, _) in tensors(LIB, m).items():
            if name.startswith("latent."):
                d += 0.02 * rng.standard_normal(d.shape).astype(np.float32)
    check(LIB.invcsi_model_save(m, path.encode(), None, 0, C.byref(err)), err, "save")
    LIB.invcsi_model_destroy(m)


def load_c(path):
    err = Error()
    m = C.c_void_p()
    check(LIB.invcsi_model_load(C.byref(m), path.encode(), BATCH, C.byref(err)), err, "load")
    return m


def replay_noise(kind, cfg):
    """The draws of the C train_step from invcsi_rng (STEP_SEED, STEP_STREAM), in order."""
    rng = C.create_string_buffer(256)  # invcsi_rng is 48 bytes
    LIB.invcsi_rng_init(rng, STEP_SEED, STEP_STREAM)
    M, aux = cfg["m"], cfg["dim"] - cfg["m"]
    gumbel = None
    if kind == "invcsinet":
        # fixed Eb/N0: no draw for the SNR; then the Gumbel noise [b][M][L]
        assert cfg["snr_db_min"] == cfg["snr_db_max"] and not cfg["no_dbcd"]
        gumbel = np.empty((BATCH, M, 1 << cfg["bits"]), np.float32)
        LIB.invcsi_gumbel_fill(fp(gumbel), gumbel.size, rng)
    noise = np.array([LIB.invcsi_rng_normal(rng) for _ in range(BATCH * aux)],
                     np.float64).astype(np.float32).reshape(BATCH, aux)
    assert not cfg.get("z_bwd_sample")
    return gumbel, noise


def cmp_out(what, c, t, tol=TOL_OUT):
    t = t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    c = np.asarray(c)
    e = float(np.max(np.abs(c.astype(np.float64) - t)))
    scale = max(1.0, float(np.max(np.abs(t))))
    ok = e <= tol * scale
    print(f"  {'ok  ' if ok else 'FAIL'} {what:34s} max |err| {e:.3g} (limit {tol * scale:.3g})")
    return ok


def cmp_loss(what, c, t):
    t = float(t)
    e = abs(c - t)
    lim = TOL_LOSS * abs(t) + (TOL_MMD_ABS if what == "mmd" else 0.0)
    ok = e <= lim
    print(f"  {'ok  ' if ok else 'FAIL'} loss {what:29s} C {c:.9g}  twin {t:.9g}  "
          f"|err| {e:.3g} (limit {lim:.3g})")
    return ok


def cmp_grads(cmod, params):
    """Every trainable tensor's gradient; returns (all ok, worst relative error, name)."""
    ok, worst, worst_name, n = True, 0.0, "", 0
    for name, (_, g, frozen) in tensors(LIB, cmod).items():
        t = params[name]
        if frozen:
            if t.requires_grad:
                print(f"  FAIL {name}: frozen in C, trainable in the twin")
                ok = False
            continue
        n += 1
        if t.grad is None:
            print(f"  FAIL {name}: no gradient in the twin")
            ok = False
            continue
        tg = t.grad.numpy().astype(np.float64)
        scale = float(np.max(np.abs(tg)))
        e = float(np.max(np.abs(g - tg)))
        rel = e / scale if scale > 0 else (0.0 if e == 0 else np.inf)
        if scale == 0 and e == 0:
            print(f"  note {name}: gradient is exactly zero on both sides")
        if not rel <= TOL_GRAD:
            print(f"  FAIL grad {name}: max |err| {e:.3g}, max |g| {scale:.3g}, rel {rel:.3g}")
            ok = False
        if rel > worst:
            worst, worst_name = rel, name
    print(f"  {'ok  ' if ok else 'FAIL'} gradients of {n} tensors: worst relative error "
          f"{worst:.3g} ({worst_name}), limit {TOL_GRAD}")
    return ok


def c_step(cmod, x):
    err = Error()
    losses = (C.c_double * 4)()
    check(LIB.invcsi_twin_train_step(cmod, fp(x), BATCH, STEP_SEED, STEP_STREAM, losses,
                                     C.byref(err)), err, "train_step")
    return dict(total=losses[0], mmd=losses[1], mse=losses[2], nmse_sum=losses[3])


def plant(params, on):
    """The planted difference: one weight of block 1's eta subnet changed by 1 %."""
    if on:
        with torch.no_grad():
            params["inn.1.eta.conv1.weight"].view(-1)[7] *= 1.01


def run_inn(path, x, planted=False, front="patch"):
    print(f"INN, front {front}{' (planted difference)' if planted else ''}:")
    cmod = load_c(path)
    cfg, params = tw.load_weights(path)
    plant(params, planted)
    _, noise = replay_noise("inn", cfg)
    closs = c_step(cmod, x)
    inn = tw.INN(cfg, params)
    out = tw.inn_train_loss(inn, cfg, torch.from_numpy(x), torch.from_numpy(noise))
    out["total"].backward()
    ok = True
    for k in ("total", "mmd", "mse", "nmse_sum"):
        ok &= cmp_loss(k, closs[k], out[k])
    ok &= cmp_grads(cmod, params)
    # forward outputs of the C INN on the same batch
    err = Error()
    innp = LIB.invcsi_inn_of_model(cmod)
    y = np.zeros((BATCH, cfg["m"]), np.float32)
    z = np.zeros((BATCH, cfg["dim"] - cfg["m"]), np.float32)
    xh = np.zeros_like(x)
    check(LIB.invcsi_inn_forward(innp, fp(x), BATCH, fp(y), fp(z), C.byref(err)), err, "fwd")
    check(LIB.invcsi_inn_inverse(innp, fp(y), None, BATCH, fp(xh), C.byref(err)), err, "inv")
    ok &= cmp_out("y", y, out["y"])
    ok &= cmp_out("z", z, out["z"])
    ok &= cmp_out("reconstruction f^-1(y, 0)", xh, out["xhat"])
    LIB.invcsi_model_destroy(cmod)
    return ok


def inn_yz_of(path, cfg, x):
    """y, z of the INN part of an InvCSINet file, from a C "inn" model given the same
    inn.* tensors (the InvCSINet keeps its INN private)."""
    err = Error()
    m = C.c_void_p()
    check(LIB.invcsi_twin_create(C.byref(m), b"inn", cfg["nr"], cfg["nt"], cfg["nc"],
                                 cfg["m"] / cfg["dim"], 0, cfg["front"].encode(), 1, BATCH,
                                 C.byref(err)), err, "create inn")
    src, _ = tw.read_safetensors(path)
    for name, (d, _, _) in tensors(LIB, m).items():
        d[...] = src[name]
    y = np.zeros((BATCH, cfg["m"]), np.float32)
    z = np.zeros((BATCH, cfg["dim"] - cfg["m"]), np.float32)
    check(LIB.invcsi_inn_forward(LIB.invcsi_inn_of_model(m), fp(x), BATCH, fp(y), fp(z),
                                 C.byref(err)), err, "inn forward")
    LIB.invcsi_model_destroy(m)
    return y, z


def run_invcsinet(path, x, soft, planted=False):
    mode = "soft forward" if soft else "training forward (hard DAQ, one-hot D-BCD)"
    print(f"InvCSINet, B = {BITS}, {mode}{' (planted difference)' if planted else ''}:")
    cmod = load_c(path)
    cfg, params = tw.load_weights(path)
    plant(params, planted)
    beta = 30.0  # absolute soft-DAQ slope, set on both sides
    LIB.invcsi_invcsinet_set_beta(cmod, beta)
    LIB.invcsi_invcsinet_set_soft_forward(cmod, 1 if soft else 0)
    gumbel, noise = replay_noise("invcsinet", cfg)
    closs = c_step(cmod, x)
    net = tw.InvCSINet(cfg, params)
    out = net.train_loss(torch.from_numpy(x), torch.from_numpy(gumbel),
                         torch.from_numpy(noise), beta=float(np.float32(beta)),
                         soft_forward=soft)
    out["total"].backward()
    ok = True
    for k in ("total", "mmd", "mse", "nmse_sum"):
        ok &= cmp_loss(k, closs[k], out[k])
    ok &= cmp_grads(cmod, params)
    err = Error()
    M = cfg["m"]
    yn = np.zeros((BATCH, M), np.float32)
    check(LIB.invcsi_invcsinet_encode_latent(cmod, fp(x), BATCH, fp(yn), C.byref(err)), err,
          "encode")
    ok &= cmp_out("normalised latent y_n", yn, out["yn"])
    idx = np.zeros((BATCH, M), np.int32)
    q = np.zeros((BATCH, M), np.float32)
    check(LIB.invcsi_invcsinet_quantize(cmod, fp(yn), BATCH,
                                        idx.ctypes.data_as(C.POINTER(C.c_int)), C.byref(err)),
          err, "quantize")
    check(LIB.invcsi_invcsinet_dequantize(cmod, idx.ctypes.data_as(C.POINTER(C.c_int)), BATCH,
                                          fp(q), C.byref(err)), err, "dequantize")
    same_idx = float(np.mean(idx == out["idx"].numpy()))
    print(f"  {'ok  ' if same_idx == 1.0 else 'FAIL'} hard DAQ indices equal: "
          f"{same_idx * 100:.2f} %")
    ok &= same_idx == 1.0
    ok &= cmp_out("hard DAQ levels", q, out["q_hard"])
    yt = np.ascontiguousarray(out["yt"].detach().numpy().astype(np.float32))
    xh = np.zeros_like(x)
    check(LIB.invcsi_invcsinet_decode_levels(cmod, fp(yt), BATCH, None, fp(xh), C.byref(err)),
          err, "decode")
    ok &= cmp_out("reconstruction f^-1(y(IC(y~)), mu)", xh, out["xhat"])
    y, z = inn_yz_of(path, cfg, x)
    ok &= cmp_out("y (INN part)", y, out["y"])
    ok &= cmp_out("z (INN part)", z, out["z"])
    LIB.invcsi_model_destroy(cmod)
    return ok


def main():
    torch.set_num_threads(1)
    # oneDNN's float32 convolution weight gradients are less accurate (module docstring)
    torch.backends.mkldnn.enabled = False
    rng = np.random.default_rng(99)
    # unit-power reports with some structure: a smooth part plus white noise
    t = np.linspace(0, 1, 2048, dtype=np.float64)
    x = np.stack([np.sin(2 * np.pi * (3 + b) * t + b) for b in range(BATCH)])
    x = (0.8 * x + 0.6 * rng.standard_normal((BATCH, 2048))).astype(np.float32)
    x = np.ascontiguousarray(x)
    ok = True
    make_weights("inn", "inn.safetensors", x)
    ok &= run_inn("inn.safetensors", x)
    make_weights("inn", "inn_energy.safetensors", x, front="energy")
    ok &= run_inn("inn_energy.safetensors", x, front="energy")
    make_weights("invcsinet", "invcsinet.safetensors", x)
    ok &= run_invcsinet("invcsinet.safetensors", x, soft=False)
    ok &= run_invcsinet("invcsinet.safetensors", x, soft=True)
    # the comparison must see a 1 % change of one weight
    print("sensitivity check (must FAIL):")
    planted_inn = run_inn("inn.safetensors", x, planted=True)
    planted_icsi = run_invcsinet("invcsinet.safetensors", x, soft=False, planted=True)
    if planted_inn or planted_icsi:
        print("FAIL: a planted 1 % change of one weight went unnoticed")
        ok = False
    else:
        print("ok: the planted difference is detected for both models")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
