# SPDX-License-Identifier: GPL-3.0-or-later
"""The C tables of lib/cdl_tables.c equal data/tr38901-cdl/*.json entry by entry (exact
float equality: both are the same decimal numbers), and the derived numbers of the header
(model K-factors, max delay, delay window) follow from them."""
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdl_ctypes import Cdl, Checker  # noqa: E402

src = os.environ.get("INVCSI_SOURCE_DIR", os.path.join(os.path.dirname(__file__), ".."))
data = os.path.join(src, "data", "tr38901-cdl")
cdl = Cdl()
ck = Checker("test_cdl_tables")

FIELDS = [("delays", "delay"), ("powers", "power_db"), ("aod", "aod"), ("aoa", "aoa"),
          ("zod", "zod"), ("zoa", "zoa")]

for i, m in enumerate("ABCDE"):
    with open(os.path.join(data, f"CDL-{m}.json")) as f:
        j = json.load(f)
    t = cdl.table(m)
    n = len(j["delays"])
    ck.check(t.name.decode() == f"cdl-{m.lower()}", f"CDL-{m}: name {t.name.decode()}")
    ck.check(t.n == n, f"CDL-{m}: {t.n} entries in C, {n} in JSON")
    ck.check(t.los == j["los"], f"CDL-{m}: los flag {t.los}")
    # JSON num_clusters counts the NLOS clusters; the LOS ray of D/E is one extra entry
    ck.check(j["num_clusters"] + j["los"] == n, f"CDL-{m}: num_clusters + los == entries")
    for jf, cf in (("cASD", "c_asd"), ("cASA", "c_asa"), ("cZSD", "c_zsd"), ("cZSA", "c_zsa"),
                   ("xpr", "xpr_db")):
        ck.check(getattr(t, cf) == float(j[jf]), f"CDL-{m}: {cf} {getattr(t, cf)} == {j[jf]}")
    for jf, cf in FIELDS:
        col = getattr(t, cf)
        bad = [k for k in range(n) if col[k] != float(j[jf][k])]
        ck.check(len(j[jf]) == n and not bad, f"CDL-{m}: {cf} all {n} values equal"
                 + (f" (differ at {bad})" if bad else ""))

    p_lin = [10 ** (x / 10) for x in j["powers"]]
    kc = cdl.lib.invcsi_cdl_model_k_factor_db(i)
    if j["los"]:
        k = 10 * math.log10(p_lin[0] / sum(p_lin[1:]))
        ck.check(abs(kc - k) < 1e-12, f"CDL-{m}: model K (eq. 7.7.6-2) {kc:.4f} dB == {k:.4f}")
    else:
        ck.check(math.isnan(kc), f"CDL-{m}: no K-factor for an NLOS model")
    md = cdl.lib.invcsi_cdl_max_delay_ns(i, 66.0)
    ck.check(abs(md - max(j["delays"]) * 66.0) < 1e-9, f"CDL-{m}: max delay {md:.1f} ns at 66 ns")

ck.check(abs(cdl.lib.invcsi_delay_window_ns(32, 50.0) - 640.0) < 1e-9, "window 32 / 50 MHz = 640 ns")
# DESIGN.md: CDL-D and CDL-E at 66 ns exceed the default window, A..C do not
for i, m in enumerate("ABCDE"):
    over = cdl.lib.invcsi_cdl_max_delay_ns(i, 66.0) > 640.0
    ck.check(over == (m in "DE"), f"CDL-{m}: beyond the 640 ns window: {over}")
ck.done()
