#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Coverage picture of a street scene: buildings from above, the BS, every user coloured by
its path gain (10 log10 of the mean |H|^2 per entry, i.e. the wideband path gain seen by
isotropic elements), grid users without any path in grey, and the paths of one user in a
zoom on the intersection.

Inputs: the scene JSON (invcsi-gen --print-scene, or data/scenes/street-default.json), a
.mat written for that scene (invcsi-gen --model street ..., or bench_street --mat; h5py
reads H (n, nr, nt, nc) and pos (n, 3)), and optionally one user's paths as JSON
(bench_street --paths-json). Run with /usr/bin/python3 (numpy, h5py, matplotlib).
"""
import argparse
import json
import math
import os
import sys

import numpy as np


def region_grids(scene):
    """Per user region: (x_first, y_first, nx, ny), as lib/street_scene.c lays the grid out."""
    sp = scene["users"]["spacing"]
    out = []
    for r in scene["users"]["regions"]:
        nx = max(1, math.floor((r["x1"] - r["x0"]) / sp * (1 + 1e-12)))
        ny = max(1, math.floor((r["y1"] - r["y0"]) / sp * (1 + 1e-12)))
        out.append((0.5 * (r["x0"] + r["x1"]) - 0.5 * (nx - 1) * sp,
                    0.5 * (r["y0"] + r["y1"]) - 0.5 * (ny - 1) * sp, nx, ny))
    return out


def inside_buildings(scene, x, y):
    z = scene["users"]["z"]
    inside = np.zeros(np.shape(x), bool)
    for b in scene["buildings"]:
        if z <= b["height"]:
            inside |= (x >= b["x0"]) & (x <= b["x1"]) & (y >= b["y0"]) & (y <= b["y1"])
    return inside


def coverage_images(scene, pos, gain_db):
    """Per region an image of the path gain (NaN: no sample there) and a mask of the grid
    users without a path (in the grid, outside buildings, absent from the data set)."""
    sp = scene["users"]["spacing"]
    images = []
    placed = np.zeros(len(pos), bool)
    for (x0, y0, nx, ny) in region_grids(scene):
        img = np.full((ny, nx), np.nan)
        ix = np.rint((pos[:, 0] - x0) / sp).astype(int)
        iy = np.rint((pos[:, 1] - y0) / sp).astype(int)
        on = (~placed & (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny) &
              (np.abs(pos[:, 0] - (x0 + ix * sp)) < 1e-3) &
              (np.abs(pos[:, 1] - (y0 + iy * sp)) < 1e-3))
        img[iy[on], ix[on]] = gain_db[on]
        placed |= on
        xs, ys = np.meshgrid(x0 + sp * np.arange(nx), y0 + sp * np.arange(ny))
        missing = np.isnan(img) & ~inside_buildings(scene, xs, ys)
        extent = (x0 - sp / 2, x0 + (nx - 0.5) * sp, y0 - sp / 2, y0 + (ny - 0.5) * sp)
        images.append((img, missing, extent))
    return images


def load_mat(path):
    import h5py
    with h5py.File(path, "r") as f:
        h = f["H"][()]
        pos = f["pos"][()]
    h = h["real"].astype(np.float64) + 1j * h["imag"].astype(np.float64)
    gain_db = 10 * np.log10(np.mean(np.abs(h.reshape(len(h), -1)) ** 2, axis=1))
    return pos, gain_db


def draw_scene(ax, scene, colours):
    from matplotlib.patches import Rectangle
    for i, b in enumerate(scene["buildings"]):
        mat = b["material"]
        ax.add_patch(Rectangle((b["x0"], b["y0"]), b["x1"] - b["x0"], b["y1"] - b["y0"],
                               facecolor=colours.get(mat, "0.6"), edgecolor="0.25", lw=0.6,
                               zorder=1))
        cx, cy = 0.5 * (b["x0"] + b["x1"]), 0.5 * (b["y0"] + b["y1"])
        ax.text(cx, cy, "%d\n%g m" % (i, b["height"]), ha="center", va="center", fontsize=5.5,
                color="0.15", zorder=2, clip_on=True)
    bs = scene["bs"]
    ax.plot(bs["x"], bs["y"], marker="^", color="red", markersize=9, markeredgecolor="k",
            zorder=6)
    a = math.radians(bs["array_axis_deg"])
    ax.annotate("", xy=(bs["x"] + 12 * math.cos(a), bs["y"] + 12 * math.sin(a)),
                xytext=(bs["x"], bs["y"]), zorder=6,
                arrowprops=dict(arrowstyle="->", color="red", lw=1.2))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mat", required=True, help=".mat data set of the scene (H, pos)")
    ap.add_argument("--scene", default=os.path.join(here, "..", "data", "scenes",
                                                    "street-default.json"),
                    help="scene JSON [data/scenes/street-default.json]")
    ap.add_argument("--paths", help="one user's paths (bench_street --paths-json)")
    ap.add_argument("-o", "--output", default="street-coverage.png", help="PNG to write")
    args = ap.parse_args()

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(args.scene) as f:
        scene = json.load(f)
    pos, gain_db = load_mat(args.mat)
    images = coverage_images(scene, pos, gain_db)
    n_missing = int(sum(m.sum() for _, m, _ in images))
    n_grid = len(pos) + n_missing

    from matplotlib.colors import ListedColormap
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    colours = {"concrete": "#c8c3b8", "glass": "#a9c8de"}
    fig, axes = plt.subplots(1, 2, figsize=(14, 6.2),
                             gridspec_kw=dict(width_ratios=[1.55, 1]))
    vmin, vmax = np.percentile(gain_db, 1), np.percentile(gain_db, 99.5)
    grey = ListedColormap(["0.55"])
    for ax in axes:
        draw_scene(ax, scene, colours)
        for img, missing, extent in images:
            ax.imshow(np.where(missing, 1.0, np.nan), extent=extent, origin="lower", cmap=grey,
                      interpolation="nearest", zorder=3)
            im = ax.imshow(img, extent=extent, origin="lower", cmap="viridis", vmin=vmin,
                           vmax=vmax, interpolation="nearest", zorder=3)
        ax.set_aspect("equal")
        ax.set_xlabel("x (m)")
        ax.set_ylabel("y (m)")
    xs = [b[c] for b in scene["buildings"] for c in ("x0", "x1")] + [scene["bs"]["x"]]
    ys = [b[c] for b in scene["buildings"] for c in ("y0", "y1")] + [scene["bs"]["y"]]
    axes[0].set_xlim(min(xs) - 5, max(xs) + 5)
    axes[0].set_ylim(min(ys) - 5, max(ys) + 5)
    axes[0].set_title("%s: %d users with a path, coloured by path gain" % (scene["name"], len(pos)))
    handles = [Line2D([], [], marker="^", color="red", markeredgecolor="k", ls="",
                      label="BS, %g m, arrow: ULA axis" % scene["bs"]["z"]),
               Patch(color="0.55", label="no path (%d of %d users)" % (n_missing, n_grid))]
    handles += [Patch(facecolor=c, edgecolor="0.25", label="%s building (index, height)" % m)
                for m, c in colours.items()]
    axes[0].legend(handles=handles, loc="lower left", fontsize=7, framealpha=0.9)
    cb = fig.colorbar(im, ax=axes, fraction=0.025, pad=0.01)
    cb.set_label("path gain 10 log10 mean |H|^2 (dB)")

    zoom = axes[1]
    bx, by = scene["bs"]["x"], scene["bs"]["y"]
    zoom.set_xlim(bx - 60, bx + 110)
    zoom.set_ylim(by - 60, by + 160)
    zoom.set_title("zoom on the intersection")
    if args.paths:
        with open(args.paths) as f:
            pj = json.load(f)
        cmap = {0: "red", 1: "orange", 2: "magenta", 3: "cyan"}
        for p in pj["paths"]:
            pts = [pj["tx"]] + p["points"] + [pj["rx"]]
            xy = np.array(pts)[:, :2]
            via = ", ".join(v.replace("building ", "b").replace(" face ", ".") for v in p["via"])
            ground = "ground" in p["via"]
            zoom.plot(xy[:, 0], xy[:, 1], "--" if ground else "-",
                      color=cmap.get(p["order"], "k"), lw=2.2 if p["order"] == 0 else 1.1,
                      zorder=4 if p["order"] == 0 else 5, label="%s %.0f ns %.1f dB" % (via or "LOS", p["delay_ns"],
                                                           p["power_db"]))
        zoom.plot(pj["rx"][0], pj["rx"][1], "o", color="white", markeredgecolor="k",
                  markersize=6, zorder=7)
        zoom.set_title("zoom: paths of the user at (%g, %g), delay, gain\n(dashed: via the "
                       "ground; orange 1, magenta 2 reflections)" % (pj["rx"][0], pj["rx"][1]),
                       fontsize=10)
        zoom.legend(loc="upper left", fontsize=6.5, framealpha=0.9)
    fig.savefig(args.output, dpi=130, bbox_inches="tight")
    print("wrote %s (%d users, %d without a path)" % (args.output, len(pos), n_missing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
