# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit average power per sample, and the nc_full remedy.

1. mean_i ||H_i||^2 / (nr nt nc) is within 3 % of 1 for every model (2000 samples; its
   statistical spread is about 1 %).
2. nc_full: the closed form in lib/cdl.c equals the procedure it stands for, done here by
   brute force on the same rays (generate nc_full subcarriers with the remedy off, inverse
   FFT, keep the first nc taps, half-bin phase ramp, FFT to nc points); an on-grid path
   inside the window comes out as without the remedy, one beyond the window vanishes.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdl_ctypes import Cdl, Checker  # noqa: E402

cdl = Cdl()
ck = Checker("test_cdl_power")

# 1. unit power
for model, kw in (("A", {}), ("B", {}), ("C", {}), ("D", {}), ("E", {}),
                  ("C", dict(nr=2, nt=4, nc=16, ds_lgstd=0.3)),
                  ("D", dict(k_factor_db=3.0, asd_deg=10.0, asa_deg=20.0))):
    p = cdl.params(model, seed=2, **kw)
    h, _ = cdl.generate(p, 2000)
    per_sample = np.sum(np.abs(h) ** 2, axis=(1, 2, 3)) / (p.nr * p.nt * p.nc)
    m = per_sample.mean()
    ck.check(abs(m - 1) < 0.03, f"CDL-{model} {kw}: mean ||H||^2/(nr nt nc) = {m:.4f}")

# 2a. remedy == brute force on the same rays
NC, F = 16, 256
for model in ("C", "E"):
    p_rem = cdl.params(model, nt=3, nr=2, nc=NC, nc_full=F, seed=4)
    p_full = cdl.params(model, nt=3, nr=2, nc=F, seed=4)
    h_rem, _ = cdl.generate(p_rem, 50)
    h_full, _ = cdl.generate(p_full, 50)
    x = np.fft.ifft(h_full.astype(np.complex128), axis=-1)[..., :NC]
    delta = 0.5 * (1.0 / NC - 1.0 / F)
    x = x * np.exp(-2j * np.pi * np.arange(NC) * delta)
    ref = np.fft.fft(x, axis=-1)
    err = np.max(np.abs(h_rem - ref)) / np.max(np.abs(ref))
    ck.check(err < 1e-5, f"CDL-{model}: remedy == brute-force IDFT/keep/DFT (rel. error {err:.1e})")
    h, _ = cdl.generate(cdl.params(model, nc_full=1024, seed=2), 2000)
    print(f"     CDL-{model} 32x1x32, nc_full=1024, DS 66 ns: mean power "
          f"{np.mean(np.abs(h) ** 2):.4f} (power past the kept taps is dropped)")

# 2b. single on-grid rays: inside the window unchanged, beyond it removed
p_plain = cdl.params("C", nt=2, nr=1, nc=32, bw_mhz=50.0)
p_rem = cdl.params("C", nt=2, nr=1, nc=32, bw_mhz=50.0, nc_full=512)
for tau, inside in ((5 * 20.0, True), (40 * 20.0, False)):   # bins of 1/bw = 20 ns
    ray = dict(delay_ns=tau, power=1.0, aod_deg=10.0, aoa_deg=0.0, zod_deg=90.0, zoa_deg=90.0,
               phase_rad=0.3, cluster=0)
    a = cdl.rays_to_h(p_rem, [ray], 0.0)
    b = cdl.rays_to_h(p_plain, [ray], 0.0)
    if inside:
        err = np.max(np.abs(a - b))
        ck.check(err < 1e-5, f"path at {tau} ns (inside 640 ns): remedy == plain (error {err:.1e})")
    else:
        mx = np.max(np.abs(a))
        ck.check(mx < 1e-5, f"path at {tau} ns (beyond 640 ns): removed by the remedy (|H| <= {mx:.1e})"
                 f", plain |H| = {np.max(np.abs(b)):.2f}")
ck.done()
