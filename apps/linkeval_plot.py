#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""NMSE against Eb/N0 through real bits, from the CSV of invcsi-eval --snr-db ... --csv.

    /usr/bin/python3 apps/linkeval_plot.py --csv results.csv -o nmse.png

Left: NMSE (dB) of every model against Eb/N0 (the decoder with z = prior mean as solid
lines, z = sample dashed where the model has an auxiliary variable); a model's error-free
row (Eb/N0 = inf: quantization only) is a dotted horizontal line in its colour. Right: the
measured BER of every model with the theory Q(sqrt(2 Eb/N0)) of BPSK over AWGN.
invcsi-eval --plot runs this script.
"""
import argparse
import csv
import math
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", required=True, help="CSV written by invcsi-eval --csv")
    ap.add_argument("-o", "--output", required=True, help="image file (.png, .pdf, .svg)")
    ap.add_argument("--title", default=None)
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = {}  # name -> rows, in file order
    with open(a.csv, newline="") as f:
        for r in csv.DictReader(f):
            models.setdefault(r["model"], []).append(r)
    if not models:
        sys.exit("linkeval_plot.py: %s holds no rows" % a.csv)

    def num(v):
        return float(v) if v not in ("", None) else math.nan

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 6.5),
                                 gridspec_kw={"width_ratios": [3, 2]})
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    ber_points = {}
    floor = 1.0  # lowest BER worth showing: 1 / (the most bits sent at one Eb/N0)
    for i, (name, rows) in enumerate(models.items()):
        c = colours[i % len(colours)]
        finite = sorted((r for r in rows if r["snr_db"] != "inf"), key=lambda r: float(r["snr_db"]))
        ideal = [r for r in rows if r["snr_db"] == "inf"]
        kind, bits = rows[0]["kind"], rows[0]["bits"]
        label = "%s (%s, B=%s)" % (name.rsplit("/", 1)[-1], kind, bits)
        if finite:
            x = [float(r["snr_db"]) for r in finite]
            ax.plot(x, [num(r["nmse_db_zmean"]) for r in finite], "-o", color=c, label=label)
            zs = [num(r["nmse_db_zsample"]) for r in finite]
            if not all(math.isnan(v) for v in zs):
                ax.plot(x, zs, "--", color=c, alpha=0.6, label="%s, z sampled" % label)
            for r in finite:
                ber_points[float(r["snr_db"])] = num(r["ber_theory"])
                floor = min(floor, 0.3 / max(num(r["bits_sent"]), 1.0))
            seen = [(xv, num(r["ber"])) for xv, r in zip(x, finite) if num(r["ber"]) > 0]
            if seen:
                bx.semilogy([p[0] for p in seen], [p[1] for p in seen], "o", color=c,
                            label=label)
        for r in ideal:
            ax.axhline(num(r["nmse_db_zmean"]), color=c, ls=":", lw=1.2,
                       label="%s, no bit errors" % label)
    if ber_points:
        xs = sorted(ber_points)
        fine = [xs[0] + (xs[-1] - xs[0]) * k / 200 for k in range(201)]
        th = [0.5 * math.erfc(math.sqrt(10 ** (s / 10))) for s in fine]
        keep = [(f, t) for f, t in zip(fine, th) if t >= floor]
        bx.semilogy([k[0] for k in keep], [k[1] for k in keep], "k-", lw=1,
                    label="Q(sqrt(2 Eb/N0))")
        bx.set_ylim(bottom=floor)
        bx.text(0.02, 0.02, "Eb/N0 values with no bit error are not drawn", fontsize=7,
                transform=bx.transAxes)
    ax.set_xlabel("Eb/N0 (dB)")
    ax.set_ylabel("NMSE (dB)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    ax.set_title(a.title or "CSI feedback through real bits (BPSK, AWGN, hard detection)",
                 fontsize=10)
    bx.set_xlabel("Eb/N0 (dB)")
    bx.set_ylabel("bit error rate")
    bx.grid(True, which="both", alpha=0.3)
    bx.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=1)
    bx.set_title("measured BER and theory", fontsize=10)
    fig.tight_layout()
    fig.savefig(a.output, dpi=120)
    if not a.quiet:
        print("linkeval_plot.py: wrote %s (%d models)" % (a.output, len(models)))


if __name__ == "__main__":
    main()
