# SPDX-License-Identifier: GPL-3.0-or-later
"""Angles: the azimuth spreads of the generated rays, angle scaling (7.7.5.1), and that the
rays really drive H (single-ray closed form, generator == rays_to_h, BS spatial
correlation of H == the one the table predicts).

Spreads are the circular spread of TR 38.901 Annex A, pooled over 2000 samples (sum of
P e^{j phi} over all rays of all samples). The expected values are computed here from the
JSON tables, the cluster spreads and the Table 7.5-3 offsets, independently of the C code.
"""
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdl_ctypes import OFFSETS, Cdl, Checker, circular_spread_deg  # noqa: E402

N = 2000
src = os.environ.get("INVCSI_SOURCE_DIR", os.path.join(os.path.dirname(__file__), ".."))
cdl = Cdl()
ck = Checker("test_cdl_angles")


def table_rays(model):
    """(powers, aod, aoa, zod) of every ray of the table, powers summing to 1."""
    with open(os.path.join(src, "data", "tr38901-cdl", f"CDL-{model}.json")) as f:
        j = json.load(f)
    p = 10 ** (np.array(j["powers"]) / 10)
    p /= p.sum()
    P, AOD, AOA, ZOD = [], [], [], []
    for n in range(len(p)):
        if j["los"] and n == 0:
            P.append([p[0]]), AOD.append([j["aod"][0]]), AOA.append([j["aoa"][0]])
            ZOD.append([j["zod"][0]])
            continue
        P.append(np.full(20, p[n] / 20))
        AOD.append(j["aod"][n] + j["cASD"] * OFFSETS)
        AOA.append(j["aoa"][n] + j["cASA"] * OFFSETS)
        ZOD.append(j["zod"][n] + j["cZSD"] * OFFSETS)
    return [np.concatenate(v) for v in (P, AOD, AOA, ZOD)]


def pooled(p, n=N):
    """All rays of n samples, plus the UE orientations."""
    keys = ("power", "aod_deg", "aoa_deg", "zod_deg")
    acc = {k: [] for k in keys}
    orient = []
    for i in range(n):
        r, info = cdl.rays(p, i)
        for k in keys:
            acc[k].append(r[k])
        orient.append(info.ue_orientation_deg)
    return {k: np.concatenate(v) for k, v in acc.items()}, np.array(orient)


# 1. azimuth spreads of the rays vs the table's
for model in "ACD":
    P, AOD, AOA, _ = table_rays(model)
    want_d, want_a = circular_spread_deg(AOD, P), circular_spread_deg(AOA, P)
    rays, orient = pooled(cdl.params(model, seed=11))
    got_d = circular_spread_deg(rays["aod_deg"], rays["power"])
    got_a = circular_spread_deg(rays["aoa_deg"], rays["power"])
    ck.check(abs(got_d / want_d - 1) < 0.10,
             f"CDL-{model}: ASD of the rays {got_d:.3f} deg, table {want_d:.3f} deg")
    ck.check(abs(got_a / want_a - 1) < 0.10,
             f"CDL-{model}: ASA of the rays {got_a:.3f} deg, table {want_a:.3f} deg")
    if model == "A":
        z = np.mean(np.exp(1j * np.radians(orient)))
        ck.check(orient.min() >= 0 and orient.max() < 360 and abs(z) < 0.07,
                 f"UE orientation in [0, 360) and uniform: |mean e^(j o)| = {abs(z):.3f}")

# 2. angle scaling: the requested spread is the spread of the rays
for model, asd, asa in (("C", 10.0, 30.0), ("A", 20.0, 60.0), ("D", 3.0, float("nan"))):
    p = cdl.params(model, asd_deg=asd, asa_deg=asa, seed=5)
    rays, _ = pooled(p, 200)
    got_d = circular_spread_deg(rays["aod_deg"], rays["power"])
    ck.check(abs(got_d / asd - 1) < 0.10, f"CDL-{model} asd_deg={asd}: ASD {got_d:.3f} deg")
    if not math.isnan(asa):
        got_a = circular_spread_deg(rays["aoa_deg"], rays["power"])
        ck.check(abs(got_a / asa - 1) < 0.10, f"CDL-{model} asa_deg={asa}: ASA {got_a:.3f} deg")
    else:
        P, _, AOA, _ = table_rays(model)
        got_a = circular_spread_deg(rays["aoa_deg"], rays["power"])
        want = circular_spread_deg(AOA, P)
        ck.check(abs(got_a - want) < 1e-6, f"CDL-{model}: ASA untouched ({got_a:.3f} deg)")
for bad in (0.0, -3.0, 180.0):
    rc, msg = cdl.generate_rc(cdl.params("C", asd_deg=bad), 1)
    ck.check(rc == -1 and "asd_deg" in msg, f"asd_deg={bad} is refused: {msg}")

# 3. a single ray gives the closed-form steering vectors and delay phase
p = cdl.params("C", nt=8, nr=4, nc=16, bw_mhz=100.0)
ray = dict(delay_ns=37.0, power=1.0, aod_deg=25.0, aoa_deg=-70.0, zod_deg=80.0, zoa_deg=110.0,
           phase_rad=0.7, cluster=0)
o = 123.0
h = cdl.rays_to_h(p, [ray], o)
r, t, k = np.meshgrid(np.arange(4), np.arange(8), np.arange(16), indexing="ij")
f = (k - 7.5) * 100e6 / 16
s = np.sin
d = np.radians
ref = np.exp(1j * (0.7 + np.pi * r * s(d(110)) * s(d(-70 - o)) + np.pi * t * s(d(80)) * s(d(25))
                   - 2 * np.pi * f * 37e-9))
err = np.max(np.abs(h - ref))
ck.check(err < 1e-5, f"single ray: H equals the closed form (max error {err:.2e})")

# 4. the generator computes H from exactly the rays invcsi_cdl_sample_rays returns
p = cdl.params("D", nt=8, nr=2, nc=16, k_factor_db=3.0, asd_deg=12.0, seed=99)
h, _ = cdl.generate(p, 5)
worst = 0.0
for i in range(5):
    rays, info = cdl.rays(p, i)
    lst = [{f: rays[f][q] for f in rays} for q in range(info.n_rays)]
    lst = [{**x, "cluster": int(x["cluster"])} for x in lst]
    worst = max(worst, float(np.max(np.abs(cdl.rays_to_h(p, lst, info.ue_orientation_deg) - h[i]))))
ck.check(worst < 1e-6, f"generate == rays_to_h(sample_rays) (max difference {worst:.1e})")

# 5. the BS spatial correlation of H is the one the table's rays predict:
#    E[h_t h_t'^*] = sum_rays P exp(j pi (t - t') sin(zod) sin(aod))
for model, asd in (("C", float("nan")), ("C", 10.0), ("A", float("nan"))):
    p = cdl.params(model, nt=8, nr=1, nc=4, asd_deg=asd, seed=21)
    h, _ = cdl.generate(p, N)
    hb = h[:, 0, :, :]                                  # [n, t, k]
    rays, _ = pooled(p, 1)                              # the ray set is the same every sample
    u = np.sin(np.radians(rays["zod_deg"])) * np.sin(np.radians(rays["aod_deg"]))
    for lag in (1, 3):
        est = np.mean(hb[:, lag:, :] * np.conj(hb[:, :-lag, :]))
        want = np.sum(rays["power"] * np.exp(1j * np.pi * lag * u))
        ck.check(abs(est - want) < 0.05,
                 f"CDL-{model} asd={asd}: BS correlation lag {lag}: H {est:.3f}, rays {want:.3f}")
ck.done()
