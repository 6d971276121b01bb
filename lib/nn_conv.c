/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * conv2d, stride 1, 'same' zero padding, odd kh x kw kernel, via im2col + GEMM.
 *
 * A chunk of cn samples is unrolled into col[K][cn*HW] (K = Cin*kh*kw, row r = (ci, i, j),
 * column = (sample, y, x)), so one GEMM serves the whole chunk:
 *   forward   out_r[Cout][cn*HW]  = W[Cout][K] col
 *   backward  dW[Cout][K]        += dout_r col^T
 *             dcol[K][cn*HW]      = W^T dout_r       -> col2im adds into dinput
 * The INN works on 4 x 4 maps, where a per-sample GEMM would have 16 columns and run at
 * a fraction of the BLAS speed; chunking keeps >= CONV_MIN_COLUMNS columns. With one
 * sample per chunk (maps of >= 1024 pixels) out_r IS the sample's [Cout][HW] output, so
 * no reordering is needed, and a 1x1 kernel uses the input itself as col.
 * The tap offsets and valid spans come from kernels/index_math.h, whose per-element
 * im2col/col2im maps the CUDA kernels use (the same 'same'-padding rule, written once).
 */
#include "invcsi/gemm.h"
#include "invcsi/nn.h"

#include <limits.h>
#include <string.h>

#include "index_math.h"

#define CONV_MIN_COLUMNS 1024

static long conv_hw(const invcsi_conv2d_shape *s) { return (long)s->height * s->width; }
static long conv_k(const invcsi_conv2d_shape *s) { return (long)s->in_ch * s->kh * s->kw; }

/* Samples per chunk: enough for CONV_MIN_COLUMNS GEMM columns, at most the batch. */
static int conv_chunk(const invcsi_conv2d_shape *s)
{
    long hw = conv_hw(s);
    long c = (CONV_MIN_COLUMNS + hw - 1) / hw;
    if (c > s->batch)
        c = s->batch;
    return c < 1 ? 1 : (int)c;
}

int invcsi_conv2d_check(const invcsi_conv2d_shape *s, invcsi_error *err)
{
    if (!s)
        return invcsi_error_set(err, INVCSI_EINVAL, "conv2d: shape is NULL");
    if (s->batch < 1 || s->in_ch < 1 || s->out_ch < 1 || s->height < 1 || s->width < 1)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "conv2d: batch %d, in_ch %d, out_ch %d, height %d, width %d: "
                                "all must be >= 1",
                                s->batch, s->in_ch, s->out_ch, s->height, s->width);
    if (s->kh < 1 || s->kw < 1 || s->kh % 2 == 0 || s->kw % 2 == 0)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "conv2d: kernel %dx%d: 'same' padding needs odd sizes >= 1",
                                s->kh, s->kw);
    /* BLAS takes int dimensions and leading dimensions. */
    long cols = (long)conv_chunk(s) * conv_hw(s);
    if (conv_k(s) > INT_MAX || cols > INT_MAX || (long)s->out_ch * s->in_ch > INT_MAX)
        return invcsi_error_set(err, INVCSI_EINVAL, "conv2d: sizes too large for int indexing");
    return INVCSI_OK;
}

long invcsi_conv2d_weight_floats(const invcsi_conv2d_shape *s)
{
    return (long)s->out_ch * conv_k(s);
}

long invcsi_conv2d_scratch_floats(const invcsi_conv2d_shape *s)
{
    /* col[K][cols] and the reordered output/dout [Cout][cols]. */
    return (conv_k(s) + s->out_ch) * (long)conv_chunk(s) * conv_hw(s);
}

/* col[K][cn*HW] from samples in[0..cn) ([cn][Cin][H][W]), zero outside the map. */
static void im2col(float *col, const float *in, int cn, const invcsi_conv2d_shape *s)
{
    const int H = s->height, W = s->width, kh = s->kh, kw = s->kw;
    const long hw = (long)H * W, cols = (long)cn * hw;
    for (int ci = 0; ci < s->in_ch; ci++)
        for (int i = 0; i < kh; i++)
            for (int j = 0; j < kw; j++) {
                float *row = col + ((long)(ci * kh + i) * kw + j) * cols;
                const int dy = invcsi_conv_tap_offset(i, kh), dx = invcsi_conv_tap_offset(j, kw);
                /* output columns x whose input column x + dx lies inside [0, W) */
                int x0, x1;
                invcsi_conv_valid_span(dx, W, &x0, &x1);
                for (int b = 0; b < cn; b++) {
                    const float *plane = in + ((long)b * s->in_ch + ci) * hw;
                    float *dst = row + b * hw;
                    for (int y = 0; y < H; y++) {
                        float *d = dst + (long)y * W;
                        const int yy = y + dy;
                        if (yy < 0 || yy >= H || x0 >= x1) {
                            memset(d, 0, sizeof(float) * W);
                            continue;
                        }
                        const float *srow = plane + (long)yy * W + dx;
                        for (int x = 0; x < x0; x++)
                            d[x] = 0.0f;
                        memcpy(d + x0, srow + x0, sizeof(float) * (x1 - x0));
                        for (int x = x1; x < W; x++)
                            d[x] = 0.0f;
                    }
                }
            }
}

/* dinput (cn samples) += col2im(col): the adjoint of im2col. */
static void col2im_add(float *din, const float *col, int cn, const invcsi_conv2d_shape *s)
{
    const int H = s->height, W = s->width, kh = s->kh, kw = s->kw;
    const long hw = (long)H * W, cols = (long)cn * hw;
    for (int ci = 0; ci < s->in_ch; ci++)
        for (int i = 0; i < kh; i++)
            for (int j = 0; j < kw; j++) {
                const float *row = col + ((long)(ci * kh + i) * kw + j) * cols;
                const int dy = invcsi_conv_tap_offset(i, kh), dx = invcsi_conv_tap_offset(j, kw);
                int x0, x1;
                invcsi_conv_valid_span(dx, W, &x0, &x1);
                for (int b = 0; b < cn; b++) {
                    float *plane = din + ((long)b * s->in_ch + ci) * hw;
                    const float *src = row + b * hw;
                    for (int y = 0; y < H; y++) {
                        const int yy = y + dy;
                        if (yy < 0 || yy >= H)
                            continue;
                        float *drow = plane + (long)yy * W + dx;
                        const float *srow = src + (long)y * W;
                        for (int x = x0; x < x1; x++)
                            drow[x] += srow[x];
                    }
                }
            }
}

int invcsi_conv2d_forward(float *out, const float *in, const float *weight, const float *bias,
                          const invcsi_conv2d_shape *s, float *scratch, invcsi_error *err)
{
    int rc = invcsi_conv2d_check(s, err);
    if (rc)
        return rc;
    if (!out || !in || !weight || !scratch)
        return invcsi_error_set(err, INVCSI_EINVAL, "conv2d_forward: NULL buffer");
    const int chunk = conv_chunk(s);
    const long hw = conv_hw(s), K = conv_k(s);
    const int cout = s->out_ch;
    const int direct_1x1 = s->kh == 1 && s->kw == 1;
    float *col = scratch;
    float *tmp = scratch + K * chunk * hw;

    for (int b0 = 0; b0 < s->batch; b0 += chunk) {
        const int cn = s->batch - b0 < chunk ? s->batch - b0 : chunk;
        const long cols = cn * hw;
        const float *in_b = in + (long)b0 * s->in_ch * hw;
        float *out_b = out + (long)b0 * cout * hw;
        const float *colp = col;
        if (cn == 1 && direct_1x1)
            colp = in_b; /* a 1x1 'same' conv's im2col is the input itself */
        else
            im2col(col, in_b, cn, s);
        if (cn == 1) {
            invcsi_sgemm(INVCSI_NOTRANS, INVCSI_NOTRANS, cout, (int)cols, (int)K, 1.0f, weight,
                         (int)K, colp, (int)cols, 0.0f, out_b, (int)hw);
            if (bias)
                for (int co = 0; co < cout; co++) {
                    float *o = out_b + co * hw;
                    for (long p = 0; p < hw; p++)
                        o[p] += bias[co];
                }
        } else {
            invcsi_sgemm(INVCSI_NOTRANS, INVCSI_NOTRANS, cout, (int)cols, (int)K, 1.0f, weight,
                         (int)K, colp, (int)cols, 0.0f, tmp, (int)cols);
            /* [Cout][cn][HW] -> [cn][Cout][HW], adding the bias on the way */
            for (int b = 0; b < cn; b++)
                for (int co = 0; co < cout; co++) {
                    const float *t = tmp + co * cols + b * hw;
                    float *o = out_b + ((long)b * cout + co) * hw;
                    const float bb = bias ? bias[co] : 0.0f;
                    for (long p = 0; p < hw; p++)
                        o[p] = t[p] + bb;
                }
        }
    }
    return INVCSI_OK;
}

int invcsi_conv2d_backward(float *dinput, float *dweight, float *dbias, const float *dout,
                           const float *in, const float *weight, const invcsi_conv2d_shape *s,
                           float *scratch, invcsi_error *err)
{
    int rc = invcsi_conv2d_check(s, err);
    if (rc)
        return rc;
    if (!dout || !scratch || (dweight && !in) || (dinput && !weight))
        return invcsi_error_set(err, INVCSI_EINVAL, "conv2d_backward: NULL buffer");
    const int chunk = conv_chunk(s);
    const long hw = conv_hw(s), K = conv_k(s);
    const int cout = s->out_ch;
    const int direct_1x1 = s->kh == 1 && s->kw == 1;
    float *col = scratch;
    float *tmp = scratch + K * chunk * hw;

    for (int b0 = 0; b0 < s->batch; b0 += chunk) {
        const int cn = s->batch - b0 < chunk ? s->batch - b0 : chunk;
        const long cols = cn * hw;
        const float *dout_b = dout + (long)b0 * cout * hw;

        /* dout of the chunk as [Cout][cn*HW] */
        const float *dr = dout_b;
        if (cn > 1) {
            for (int b = 0; b < cn; b++)
                for (int co = 0; co < cout; co++)
                    memcpy(tmp + co * cols + b * hw, dout_b + ((long)b * cout + co) * hw,
                           sizeof(float) * hw);
            dr = tmp;
        }
        if (dbias)
            for (int co = 0; co < cout; co++) {
                const float *d = dr + co * cols;
                double acc = 0.0;
                for (long p = 0; p < cols; p++)
                    acc += d[p];
                dbias[co] += (float)acc;
            }
        if (dweight) {
            const float *in_b = in + (long)b0 * s->in_ch * hw;
            const float *colp = col;
            if (cn == 1 && direct_1x1)
                colp = in_b;
            else
                im2col(col, in_b, cn, s);
            invcsi_sgemm(INVCSI_NOTRANS, INVCSI_TRANS, cout, (int)K, (int)cols, 1.0f, dr,
                         (int)cols, colp, (int)cols, 1.0f, dweight, (int)K);
        }
        if (dinput) {
            float *din_b = dinput + (long)b0 * s->in_ch * hw;
            if (cn == 1 && direct_1x1) {
                invcsi_sgemm(INVCSI_TRANS, INVCSI_NOTRANS, (int)K, (int)cols, cout, 1.0f,
                             weight, (int)K, dr, (int)cols, 1.0f, din_b, (int)cols);
            } else {
                invcsi_sgemm(INVCSI_TRANS, INVCSI_NOTRANS, (int)K, (int)cols, cout, 1.0f,
                             weight, (int)K, dr, (int)cols, 0.0f, col, (int)cols);
                col2im_add(din_b, col, cn, s);
            }
        }
    }
    return INVCSI_OK;
}
