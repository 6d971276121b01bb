/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Index maps of the data-movement layers, written once for the CPU loops (lib/inn_front.c,
 * lib/nn_conv.c) and the CUDA kernels: each maps the index of an OUTPUT element to the
 * index of the element it is read from (a gather), so a kernel is one thread per output
 * element with no write conflicts.
 *
 * Patchify (DESIGN.md section 3): a [planes][h][w] map cut into p x p patches on a
 * gh x gw grid (gh = h / p, gw = w / p, h and w multiples of p) becomes
 * [planes * p * p][gh][gw]: channel (c, i, j) holds pixel (i, j) of every patch.
 *   out[b][((c p + i) p + j) g + gy gw + gx] = in[b][(c h + gy p + i) w + gx p + j]
 * Unpatchify is the inverse permutation.
 *
 * im2col of a stride-1 'same' conv with an odd kh x kw kernel (lib/nn_conv.c): a chunk of
 * cn samples [cn][Cin][H][W] becomes col[K][cn H W], K = Cin kh kw, row r = (ci, i, j),
 * column (b, y, x):
 *   col[r][(b H + y) W + x] = in[b][ci][y + i - kh/2][x + j - kw/2]   (0 outside the map)
 * col2im is its adjoint: input element (b, ci, yy, xx) sums, over the taps (i, j) in
 * row-major order, col[(ci, i, j)][(b, yy - i + kh/2, xx - j + kw/2)] where that pixel
 * lies inside the map. That order is the order lib/nn_conv.c adds the rows in, so the
 * gather kernel and the CPU loop give the same float sums.
 */
#ifndef INVCSI_INDEX_MATH_H
#define INVCSI_INDEX_MATH_H

#include "invcsi_hd.h"

/* ---- patchify -------------------------------------------------------------------------- */

/* Source index (into the [batch][planes][h][w] input) of patchify output element o. */
INVCSI_HD long invcsi_patchify_src(long o, int planes, int h, int w, int p)
{
    const int gh = h / p, gw = w / p;
    const long per = (long)planes * h * w, g = (long)gh * gw;
    const long b = o / per, r = o - b * per;
    const long cij = r / g, pos = r - cij * g;
    const int gy = (int)(pos / gw), gx = (int)(pos - (long)gy * gw);
    const int j = (int)(cij % p), ci = (int)(cij / p);
    const int i = ci % p, c = ci / p;
    return b * per + ((long)c * h + (long)gy * p + i) * w + (long)gx * p + j;
}

/* Source index (into the [batch][planes p p][gh][gw] input) of unpatchify output element o
 * (an index of the [batch][planes][h][w] image). */
INVCSI_HD long invcsi_unpatchify_src(long o, int planes, int h, int w, int p)
{
    const int gh = h / p, gw = w / p;
    const long per = (long)planes * h * w, g = (long)gh * gw;
    const long b = o / per, r = o - b * per;
    const long hw = (long)h * w;
    const int c = (int)(r / hw);
    const long yx = r - (long)c * hw;
    const int y = (int)(yx / w), x = (int)(yx - (long)y * w);
    const int gy = y / p, i = y - gy * p, gx = x / p, j = x - gx * p;
    return b * per + ((long)(c * p + i) * p + j) * g + (long)gy * gw + gx;
}

/* ---- 'same' convolution taps -------------------------------------------------------------- */

/* Offset of tap i of an odd kernel of size k: i - k/2 in [-k/2, k/2]. */
INVCSI_HD int invcsi_conv_tap_offset(int i, int k) { return i - k / 2; }

/* Output positions x in [*x0, *x1) whose input position x + d lies inside [0, n). The
 * span is empty (x0 >= x1) when |d| >= n. */
INVCSI_HD void invcsi_conv_valid_span(int d, int n, int *x0, int *x1)
{
    *x0 = d < 0 ? -d : 0;
    *x1 = d > 0 ? n - d : n;
}

/* Source index of im2col element t of a chunk of cn samples (col[K][cn H W]), or -1 where
 * the tap falls outside the map (the element is 0). */
INVCSI_HD long invcsi_im2col_src(long t, int cn, int cin, int H, int W, int kh, int kw)
{
    const long hw = (long)H * W, cols = (long)cn * hw;
    const long r = t / cols, col = t - r * cols;
    const int j = (int)(r % kw), cii = (int)(r / kw);
    const int i = cii % kh, ci = cii / kh;
    const long b = col / hw, pos = col - b * hw;
    const int y = (int)(pos / W), x = (int)(pos - (long)y * W);
    const int yy = y + invcsi_conv_tap_offset(i, kh), xx = x + invcsi_conv_tap_offset(j, kw);
    if (yy < 0 || yy >= H || xx < 0 || xx >= W || cn < 1)
        return -1;
    return ((b * cin + ci) * H + yy) * W + xx;
}

/* col2im: for input element e of a chunk ([cn][Cin][H][W]) and tap (i, j), the index in
 * col[K][cn H W] of the value that tap contributes, or -1 when the output pixel it comes
 * from lies outside the map. */
INVCSI_HD long invcsi_col2im_src(long e, int i, int j, int cn, int cin, int H, int W, int kh,
                                 int kw)
{
    const long hw = (long)H * W, cols = (long)cn * hw;
    const long bc = e / hw, pos = e - bc * hw;
    const long b = bc / cin;
    const int ci = (int)(bc - b * cin);
    const int yy = (int)(pos / W), xx = (int)(pos - (long)yy * W);
    const int y = yy - invcsi_conv_tap_offset(i, kh), x = xx - invcsi_conv_tap_offset(j, kw);
    if (y < 0 || y >= H || x < 0 || x >= W)
        return -1;
    const long r = ((long)ci * kh + i) * kw + j;
    return r * cols + (b * H + y) * W + x;
}

#endif
