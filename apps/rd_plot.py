#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Rate-distortion plot (NMSE against bits per report) from invcsi-eval --rd --csv.

    /usr/bin/python3 apps/rd_plot.py --csv rd.csv -o rd.png

STQENet models are drawn as one curve per compression ratio (its lambdas, at the coded
bits per report: 8 x bytes of the rANS stream, flush included; the model's estimate as
small open markers beside them). Fixed-rate codes are single points at M x B bits:
InvCSINet (its learned DAQ) and inn/csinet with a uniform quantizer, labelled with CR and
B. Bits on a log axis. invcsi-eval --rd --plot runs this script.
"""
import argparse
import csv
import math
import sys


def num(v):
    return float(v) if v not in ("", None) else math.nan


def cr_label(cr):
    return "1/%d" % round(1 / cr) if cr > 0 else "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", required=True, help="CSV written by invcsi-eval --rd --csv")
    ap.add_argument("-o", "--output", required=True, help="image file (.png, .pdf, .svg)")
    ap.add_argument("--title", default=None)
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(a.csv, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit("rd_plot.py: %s holds no rows" % a.csv)

    fig, ax = plt.subplots(figsize=(7.5, 5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    stqe = {}
    for r in rows:
        if r["kind"] == "stqenet":
            stqe.setdefault(num(r["cr"]), []).append(r)
    ci = 0
    for cr in sorted(stqe, reverse=True):
        pts = sorted(stqe[cr], key=lambda r: num(r["rate_bits"]))
        c = colours[ci % len(colours)]
        ci += 1
        xs = [num(r["rate_bits"]) for r in pts]
        ys = [num(r["nmse_db"]) for r in pts]
        ax.plot(xs, ys, "o-", color=c, label="STQENet CR %s (coded bits)" % cr_label(cr))
        ax.plot([num(r["est_bits"]) for r in pts], ys, "o", mfc="none", color=c, ms=4,
                label="STQENet CR %s (model estimate)" % cr_label(cr))
        for r, x, y in zip(pts, xs, ys):
            ax.annotate("$\\lambda$=%s" % r["lambda"], (x, y), textcoords="offset points",
                        xytext=(4, 4), fontsize=7, color=c)
    markers = {"invcsinet": "s", "csinet": "^", "inn": "v"}
    names = {"invcsinet": "InvCSINet (DAQ)", "csinet": "CsiNet + uniform quantizer",
             "inn": "INN + uniform quantizer"}
    seen = set()
    for r in rows:
        k = r["kind"]
        if k == "stqenet":
            continue
        c = colours[(ci + list(markers).index(k) if k in markers else ci) % len(colours)]
        lab = names.get(k, k) if k not in seen else None
        seen.add(k)
        x, y = num(r["rate_bits"]), num(r["nmse_db"])
        ax.plot([x], [y], markers.get(k, "x"), color=c, ms=7, label=lab)
        ax.annotate("CR %s, B=%s" % (cr_label(num(r["cr"])), r["bits"]), (x, y),
                    textcoords="offset points", xytext=(5, -10), fontsize=7, color=c)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("bits per CSI report")
    ax.set_ylabel("NMSE (dB)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    split = rows[0].get("split", "")
    ax.set_title(a.title or "Rate-distortion, error-free link (%s split, %s reports)"
                 % (split, rows[0].get("samples", "?")))
    fig.tight_layout()
    fig.savefig(a.output, dpi=130)
    if not a.quiet:
        print("rd_plot.py: wrote %s (%d rows)" % (a.output, len(rows)))


if __name__ == "__main__":
    main()
