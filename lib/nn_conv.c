/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * conv2d, stride 1, 'same' zero padding, odd kh x kw kernel, via im2col + GEMM.
 *
 * A chunk of cn samples is unrolled into col[K][cn*HW] (K = Cin*kh*kw, row r = (ci, i, j),
 * column = (sample, y, x)), so one GEMM serves the whole chunk. The INN works on 4 x 4 maps,
 * where a per-sample GEMM would have 16 columns and run at a fraction of the BLAS speed;
 * chunking keeps >= CONV_MIN_COLUMNS columns (and the chunk's matrices in the L2 cache).
 *
 * Every product of the layer can be formed on either side of the GEMM, and the side with
 * FEWER channels is unrolled, because the unrolled matrix (kh*kw times its channel count,
 * per column) is what the data movement around the GEMM costs:
 *
 *   input side ("gather", A)                    output side ("scatter", B)
 *   forward  out_r = W col(in)                  out   = bias + col2im(Wf in_r)
 *   dweight  dW   += dout_r col(in)^T           dWf  += col(dout) in_r^T
 *   dinput   din  += col2im(W^T dout_r)         din_r = Wf^T col(dout),  din += din_r
 *
 * x_r is x as [channels][cn*HW]; col() is im2col, col2im its adjoint (the same maps for
 * both sides); Wf[(co, t)][ci] = W[co][ci][kk-1-t] (kk = kh*kw) is the weight with the taps
 * mirrored, because a tap at offset d on the input side is a tap at -d on the output side
 * (and the offset of tap kk-1-t is minus that of tap t for an odd kernel). Each form does
 * the same multiply-adds (B*HW*Cout*Cin*kh*kw per product) in GEMMs, only the rounding
 * differs. Side A is used when Cout >= Cin (forward) / Cout > Cin (backward), side B
 * otherwise: the INN's 120 -> 24 and 24 -> 8 convs (B moves 5x resp. 3x less data) and the
 * backward of its 24 -> 24 convs (same volume, but B's GEMM shapes measured faster and it
 * has no read-modify-write col2im over Cin*kk rows). The col2im that tests/test_cuda_emulator
 * compares with the CUDA kernel (Cout = Cin*kk there) is side A's.
 *
 * With one sample per chunk (maps of >= CONV_MIN_COLUMNS pixels) x_r IS the sample's
 * [C][HW] tensor, so no reordering is needed, and a 1x1 kernel uses the input itself as col.
 *
 * im2col/col2im copy each [H][W] plane once into a zero-bordered (H+kh-1) x (W+kw-1) frame,
 * after which every tap of every output row is W contiguous floats of the frame: no
 * per-pixel bounds tests and no per-row library calls on the tiny rows of the 4 x 4 maps.
 * The tap offsets come from kernels/index_math.h, whose per-element im2col/col2im maps the
 * CUDA kernels use (the same 'same'-padding rule, written once); col2im adds the taps of an
 * input element in the same row-major order as that kernel, onto the element's old value,
 * so both give the same float sums.
 */
#include "invcsi/gemm.h"
#include "invcsi/nn.h"

#include <limits.h>
#include <string.h>

#include "index_math.h"
#include "kernel_bodies.h"

#define CONV_MIN_COLUMNS 256

static long conv_hw(const invcsi_conv2d_shape *s) { return (long)s->height * s->width; }
static long conv_taps(const invcsi_conv2d_shape *s) { return (long)s->kh * s->kw; }
static long conv_k(const invcsi_conv2d_shape *s) { return (long)s->in_ch * conv_taps(s); }

/* Samples per chunk: enough for CONV_MIN_COLUMNS GEMM columns, at most the batch. */
static int conv_chunk(const invcsi_conv2d_shape *s)
{
    long hw = conv_hw(s);
    long c = (CONV_MIN_COLUMNS + hw - 1) / hw;
    if (c > s->batch)
        c = s->batch;
    return c < 1 ? 1 : (int)c;
}

/* Which side of the GEMM is unrolled (see the file comment). */
static int forward_on_output_side(const invcsi_conv2d_shape *s)
{
    return conv_taps(s) > 1 && s->in_ch > s->out_ch;
}
static int backward_on_output_side(const invcsi_conv2d_shape *s)
{
    return conv_taps(s) > 1 && s->in_ch >= s->out_ch;
}

/* The zero-bordered frame of one plane. */
static long frame_floats(const invcsi_conv2d_shape *s)
{
    return (long)(s->height + s->kh - 1) * (s->width + s->kw - 1);
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
    long wide = conv_k(s) > (long)s->out_ch * conv_taps(s) ? conv_k(s)
                                                             : (long)s->out_ch * conv_taps(s);
    if (wide > INT_MAX || cols > INT_MAX || (long)s->out_ch * s->in_ch > INT_MAX)
        return invcsi_error_set(err, INVCSI_EINVAL, "conv2d: sizes too large for int indexing");
    return INVCSI_OK;
}

long invcsi_conv2d_weight_floats(const invcsi_conv2d_shape *s)
{
    return (long)s->out_ch * conv_k(s);
}

long invcsi_conv2d_scratch_floats(const invcsi_conv2d_shape *s)
{
    /* side A: col[Cin kk][cols] + out_r/dout_r[Cout][cols];
     * side B: col(dout)/Y[Cout kk][cols] + in_r/din_r[Cin][cols] + Wf + dWf;
     * plus one frame. */
    const long kk = conv_taps(s), cols = (long)conv_chunk(s) * conv_hw(s);
    const long a = (conv_k(s) + s->out_ch) * cols;
    const long b = ((long)s->out_ch * kk + s->in_ch) * cols + 2 * invcsi_conv2d_weight_floats(s);
    return (a > b ? a : b) + frame_floats(s);
}

/* ---- im2col / col2im over zero-bordered frames ---------------------------------------- */

/* d[0..n) = src[0..n) and d[0..n) += src[0..n), four floats per vector move: the rows of
 * the INN's 4 x 4 maps are one vector each (plain loops became 16 scalar moves per tap). */
typedef float conv_f4 __attribute__((vector_size(16)));

static inline __attribute__((always_inline)) void copy_floats(float *restrict d,
                                                              const float *restrict src, int n)
{
    int x = 0;
    for (; x + 4 <= n; x += 4)
        memcpy(d + x, src + x, sizeof(conv_f4));
    for (; x < n; x++)
        d[x] = src[x];
}

static inline __attribute__((always_inline)) void add_floats(float *restrict d,
                                                             const float *restrict src, int n)
{
    int x = 0;
    for (; x + 4 <= n; x += 4) {
        conv_f4 a, b;
        memcpy(&a, d + x, sizeof a);
        memcpy(&b, src + x, sizeof b);
        a += b;
        memcpy(d + x, &a, sizeof a);
    }
    for (; x < n; x++)
        d[x] += src[x];
}

/* col[ch kk][cn HW] = im2col of x[cn][ch][H][W]; frame has frame_floats() floats. The
 * sizes are parameters so that the 4 x 4, 3 x 3 case can be instantiated with constants. */
static inline __attribute__((always_inline)) void
im2col_body(float *restrict col, const float *restrict x, int cn, int ch, int H, int W, int kh,
            int kw, float *restrict frame)
{
    const long hw = (long)H * W, cols = (long)cn * hw;
    const int kk = kh * kw;
    /* frame coordinate of input pixel (yy, xx): (yy + ph, xx + pw) */
    const int ph = -invcsi_conv_tap_offset(0, kh), pw = -invcsi_conv_tap_offset(0, kw);
    const int fw = W + kw - 1;
    memset(frame, 0, sizeof(float) * (H + kh - 1) * fw); /* the border stays 0 */
    for (int c = 0; c < ch; c++)
        for (int b = 0; b < cn; b++) {
            const float *plane = x + ((long)b * ch + c) * hw;
            for (int y = 0; y < H; y++)
                copy_floats(frame + (y + ph) * fw + pw, plane + (long)y * W, W);
            for (int i = 0; i < kh; i++)
                for (int j = 0; j < kw; j++) {
                    float *row = col + ((long)c * kk + i * kw + j) * cols + b * hw;
                    /* output pixel (y, x) reads input (y + dy, x + dx) */
                    const float *src = frame + (ph + invcsi_conv_tap_offset(i, kh)) * fw + pw +
                                       invcsi_conv_tap_offset(j, kw);
                    for (int y = 0; y < H; y++)
                        copy_floats(row + (long)y * W, src + y * fw, W);
                }
        }
}

static void im2col(float *col, const float *x, int cn, int ch, const invcsi_conv2d_shape *s,
                   float *frame)
{
    if (s->height == 4 && s->width == 4 && s->kh == 3 && s->kw == 3)
        im2col_body(col, x, cn, ch, 4, 4, 3, 3, frame);
    else
        im2col_body(col, x, cn, ch, s->height, s->width, s->kh, s->kw, frame);
}

/* x[cn][ch][H][W] += col2im(col[ch kk][cn HW]), the adjoint of im2col. Each plane is
 * accumulated in the frame, starting from its old value and adding the taps in row-major
 * order (what lands on the border belongs to no input pixel and is dropped). */
static inline __attribute__((always_inline)) void
col2im_body(float *restrict x, const float *restrict col, int cn, int ch, int H, int W, int kh,
            int kw, float *restrict frame)
{
    const long hw = (long)H * W, cols = (long)cn * hw;
    const int kk = kh * kw;
    const int ph = -invcsi_conv_tap_offset(0, kh), pw = -invcsi_conv_tap_offset(0, kw);
    const int fw = W + kw - 1;
    /* The border collects the contributions that fall outside the map; they are dropped,
     * so it is zeroed once per call, not per plane. */
    memset(frame, 0, sizeof(float) * (H + kh - 1) * fw);
    for (int c = 0; c < ch; c++)
        for (int b = 0; b < cn; b++) {
            float *plane = x + ((long)b * ch + c) * hw;
            for (int y = 0; y < H; y++)
                copy_floats(frame + (y + ph) * fw + pw, plane + (long)y * W, W);
            for (int i = 0; i < kh; i++)
                for (int j = 0; j < kw; j++) {
                    const float *row = col + ((long)c * kk + i * kw + j) * cols + b * hw;
                    float *dst = frame + (ph + invcsi_conv_tap_offset(i, kh)) * fw + pw +
                                 invcsi_conv_tap_offset(j, kw);
                    for (int y = 0; y < H; y++)
                        add_floats(dst + y * fw, row + (long)y * W, W);
                }
            for (int y = 0; y < H; y++)
                copy_floats(plane + (long)y * W, frame + (y + ph) * fw + pw, W);
        }
}

static void col2im_add(float *x, const float *col, int cn, int ch, const invcsi_conv2d_shape *s,
                       float *frame)
{
    if (s->height == 4 && s->width == 4 && s->kh == 3 && s->kw == 3)
        col2im_body(x, col, cn, ch, 4, 4, 3, 3, frame);
    else
        col2im_body(x, col, cn, ch, s->height, s->width, s->kh, s->kw, frame);
}

/* ---- layout changes between [cn][ch][HW] and [ch][cn HW] ------------------------------- */

static void to_rows(float *restrict r, const float *restrict x, int cn, int ch, long hw)
{
    const long cols = cn * hw;
    for (int b = 0; b < cn; b++)
        for (int c = 0; c < ch; c++)
            memcpy(r + c * cols + b * hw, x + ((long)b * ch + c) * hw, sizeof(float) * hw);
}

/* x[b][c][p] = r[c][b hw + p] + (bias ? bias[c] : 0) */
static void from_rows(float *restrict x, const float *restrict r, const float *bias, int cn,
                      int ch, long hw)
{
    const long cols = cn * hw;
    for (int b = 0; b < cn; b++)
        for (int c = 0; c < ch; c++) {
            const float *t = r + c * cols + b * hw;
            float *o = x + ((long)b * ch + c) * hw;
            const float bb = bias ? bias[c] : 0.0f;
            for (long p = 0; p < hw; p++)
                o[p] = t[p] + bb;
        }
}

/* x[b][c][p] += r[c][b hw + p] */
static void from_rows_add(float *restrict x, const float *restrict r, int cn, int ch, long hw)
{
    const long cols = cn * hw;
    for (int b = 0; b < cn; b++)
        for (int c = 0; c < ch; c++) {
            const float *t = r + c * cols + b * hw;
            float *o = x + ((long)b * ch + c) * hw;
            for (long p = 0; p < hw; p++)
                o[p] += t[p];
        }
}

/* Wf[(co, t)][ci] = W[co][ci][kk-1-t] and its adjoint: the kernel bodies of
 * kernels/kernel_bodies.h (one row per call), so host and backend convs share the map. */
static void mirror_weight(float *restrict wf, const float *restrict w, int cout, int cin, int kk)
{
    for (long r = 0; r < (long)cout * kk; r++)
        kb_mirror_weight(r, wf, w, cout, cin, kk);
}

static void unmirror_add(float *restrict dw, const float *restrict dwf, int cout, int cin,
                         int kk)
{
    for (long r = 0; r < (long)cout * cin; r++)
        kb_unmirror_add(r, dw, dwf, cout, cin, kk);
}

/* dbias[c] += sum over the chunk of dout[b][c][:], in double. Eight partial sums (lane
 * p % 8 of each plane) instead of one: a single chain of dependent double adds cost more
 * than the rest of the INN's backward bookkeeping together. */
#define BIAS_LANES 8
static void bias_grad(float *dbias, const float *dout, int cn, int ch, long hw)
{
    for (int c = 0; c < ch; c++) {
        double acc[BIAS_LANES] = {0.0};
        for (int b = 0; b < cn; b++) {
            const float *d = dout + ((long)b * ch + c) * hw;
            long p = 0;
            for (; p + BIAS_LANES <= hw; p += BIAS_LANES)
                for (int l = 0; l < BIAS_LANES; l++)
                    acc[l] += d[p + l];
            for (; p < hw; p++)
                acc[p % BIAS_LANES] += d[p];
        }
        double sum = 0.0;
        for (int l = 0; l < BIAS_LANES; l++)
            sum += acc[l];
        dbias[c] += (float)sum;
    }
}

/* ---- forward -------------------------------------------------------------------------- */

int invcsi_conv2d_forward(float *out, const float *in, const float *weight, const float *bias,
                          const invcsi_conv2d_shape *s, float *scratch, invcsi_error *err)
{
    int rc = invcsi_conv2d_check(s, err);
    if (rc)
        return rc;
    if (!out || !in || !weight || !scratch)
        return invcsi_error_set(err, INVCSI_EINVAL, "conv2d_forward: NULL buffer");
    const int chunk = conv_chunk(s);
    const long hw = conv_hw(s), K = conv_k(s), kk = conv_taps(s);
    const int cin = s->in_ch, cout = s->out_ch;
    const long max_cols = (long)chunk * hw;
    float *frame = scratch + invcsi_conv2d_scratch_floats(s) - frame_floats(s);

    if (forward_on_output_side(s)) {
        /* out = bias + col2im(Wf in_r) */
        float *y = scratch;                            /* [Cout kk][cols] */
        float *in_r = y + (long)cout * kk * max_cols; /* [Cin][cols] */
        float *wf = in_r + (long)cin * max_cols;      /* [Cout kk][Cin] */
        mirror_weight(wf, weight, cout, cin, (int)kk);
        for (int b0 = 0; b0 < s->batch; b0 += chunk) {
            const int cn = s->batch - b0 < chunk ? s->batch - b0 : chunk;
            const long cols = cn * hw;
            const float *in_b = in + (long)b0 * cin * hw;
            float *out_b = out + (long)b0 * cout * hw;
            const float *xr = in_b;
            if (cn > 1) {
                to_rows(in_r, in_b, cn, cin, hw);
                xr = in_r;
            }
            invcsi_sgemm(INVCSI_NOTRANS, INVCSI_NOTRANS, (int)(cout * kk), (int)cols, cin, 1.0f,
                         wf, cin, xr, (int)cols, 0.0f, y, (int)cols);
            for (int b = 0; b < cn; b++)
                for (int co = 0; co < cout; co++) {
                    float *o = out_b + ((long)b * cout + co) * hw;
                    const float bb = bias ? bias[co] : 0.0f;
                    for (long p = 0; p < hw; p++)
                        o[p] = bb;
                }
            col2im_add(out_b, y, cn, cout, s, frame);
        }
        return INVCSI_OK;
    }

    /* out_r = W col(in) */
    const int direct_1x1 = kk == 1;
    float *col = scratch;
    float *tmp = scratch + K * max_cols;
    for (int b0 = 0; b0 < s->batch; b0 += chunk) {
        const int cn = s->batch - b0 < chunk ? s->batch - b0 : chunk;
        const long cols = cn * hw;
        const float *in_b = in + (long)b0 * cin * hw;
        float *out_b = out + (long)b0 * cout * hw;
        const float *colp = col;
        if (direct_1x1 && cn == 1)
            colp = in_b; /* a 1x1 'same' conv's im2col is the input itself */
        else if (direct_1x1)
            to_rows(col, in_b, cn, cin, hw); /* ... or its rows */
        else
            im2col(col, in_b, cn, cin, s, frame);
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
            from_rows(out_b, tmp, bias, cn, cout, hw);
        }
    }
    return INVCSI_OK;
}

/* ---- backward ------------------------------------------------------------------------- */

/* Side B: dWf += col(dout) in_r^T, din_r = Wf^T col(dout), din += din_r. */
static void backward_output_side(float *dinput, float *dweight, float *dbias, const float *dout,
                                 const float *in, const float *weight,
                                 const invcsi_conv2d_shape *s, float *scratch)
{
    const int chunk = conv_chunk(s);
    const long hw = conv_hw(s), kk = conv_taps(s);
    const int cin = s->in_ch, cout = s->out_ch;
    const long max_cols = (long)chunk * hw, n_w = invcsi_conv2d_weight_floats(s);
    float *colg = scratch;                              /* col(dout) [Cout kk][cols] */
    float *xr = colg + (long)cout * kk * max_cols;      /* in_r, then din_r [Cin][cols] */
    float *wf = xr + (long)cin * max_cols;              /* Wf [Cout kk][Cin] */
    float *dwf = wf + n_w;                              /* dWf [Cout kk][Cin] */
    float *frame = scratch + invcsi_conv2d_scratch_floats(s) - frame_floats(s);
    if (dinput)
        mirror_weight(wf, weight, cout, cin, (int)kk);

    for (int b0 = 0; b0 < s->batch; b0 += chunk) {
        const int cn = s->batch - b0 < chunk ? s->batch - b0 : chunk;
        const long cols = cn * hw;
        const float *dout_b = dout + (long)b0 * cout * hw;
        if (dbias)
            bias_grad(dbias, dout_b, cn, cout, hw);
        if (!dweight && !dinput)
            continue;
        im2col(colg, dout_b, cn, cout, s, frame);
        if (dweight) {
            const float *in_b = in + (long)b0 * cin * hw;
            const float *in_r = in_b;
            if (cn > 1) {
                to_rows(xr, in_b, cn, cin, hw);
                in_r = xr;
            }
            invcsi_sgemm(INVCSI_NOTRANS, INVCSI_TRANS, (int)(cout * kk), cin, (int)cols, 1.0f,
                         colg, (int)cols, in_r, (int)cols, b0 == 0 ? 0.0f : 1.0f, dwf, cin);
        }
        if (dinput) {
            float *din_b = dinput + (long)b0 * cin * hw;
            if (cn == 1) {
                invcsi_sgemm(INVCSI_TRANS, INVCSI_NOTRANS, cin, (int)cols, (int)(cout * kk),
                             1.0f, wf, cin, colg, (int)cols, 1.0f, din_b, (int)cols);
            } else {
                invcsi_sgemm(INVCSI_TRANS, INVCSI_NOTRANS, cin, (int)cols, (int)(cout * kk),
                             1.0f, wf, cin, colg, (int)cols, 0.0f, xr, (int)cols);
                from_rows_add(din_b, xr, cn, cin, hw);
            }
        }
    }
    if (dweight)
        unmirror_add(dweight, dwf, cout, cin, (int)kk);
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
    if (backward_on_output_side(s)) {
        backward_output_side(dinput, dweight, dbias, dout, in, weight, s, scratch);
        return INVCSI_OK;
    }

    /* Side A: dW += dout_r col(in)^T, din += col2im(W^T dout_r). */
    const int chunk = conv_chunk(s);
    const long hw = conv_hw(s), K = conv_k(s);
    const int cin = s->in_ch, cout = s->out_ch;
    const int direct_1x1 = s->kh == 1 && s->kw == 1;
    const long max_cols = (long)chunk * hw;
    float *col = scratch;
    float *tmp = scratch + K * max_cols;
    float *frame = scratch + invcsi_conv2d_scratch_floats(s) - frame_floats(s);

    for (int b0 = 0; b0 < s->batch; b0 += chunk) {
        const int cn = s->batch - b0 < chunk ? s->batch - b0 : chunk;
        const long cols = cn * hw;
        const float *dout_b = dout + (long)b0 * cout * hw;

        if (dbias)
            bias_grad(dbias, dout_b, cn, cout, hw);
        if (!dweight && !dinput)
            continue;
        /* dout of the chunk as [Cout][cn*HW] */
        const float *dr = dout_b;
        if (cn > 1) {
            to_rows(tmp, dout_b, cn, cout, hw);
            dr = tmp;
        }
        if (dweight) {
            const float *in_b = in + (long)b0 * cin * hw;
            const float *colp = col;
            if (direct_1x1 && cn == 1)
                colp = in_b;
            else if (direct_1x1)
                to_rows(col, in_b, cn, cin, hw);
            else
                im2col(col, in_b, cn, cin, s, frame);
            invcsi_sgemm(INVCSI_NOTRANS, INVCSI_TRANS, cout, (int)K, (int)cols, 1.0f, dr,
                         (int)cols, colp, (int)cols, 1.0f, dweight, (int)K);
        }
        if (dinput) {
            float *din_b = dinput + (long)b0 * cin * hw;
            if (direct_1x1 && cn == 1) {
                invcsi_sgemm(INVCSI_TRANS, INVCSI_NOTRANS, (int)K, (int)cols, cout, 1.0f,
                             weight, (int)K, dr, (int)cols, 1.0f, din_b, (int)cols);
            } else {
                invcsi_sgemm(INVCSI_TRANS, INVCSI_NOTRANS, (int)K, (int)cols, cout, 1.0f,
                             weight, (int)K, dr, (int)cols, 0.0f, col, (int)cols);
                if (direct_1x1)
                    from_rows_add(din_b, col, cn, cin, hw);
                else
                    col2im_add(din_b, col, cn, cin, s, frame);
            }
        }
    }
    return INVCSI_OK;
}

/* ---- the backend version (device-resident models: the INN) -----------------------------
 * The same layer on any backend table (include/invcsi/backend.h), every buffer in that
 * backend's memory, the whole batch as one chunk, with the side choice of the file comment:
 *   side A  forward   col = im2col(in) [K][B HW];  out_r = W col;  out = rows^-1(out_r) + b
 *           backward  dout_r = rows(dout);  dW += dout_r im2col(in)^T;
 *                     col = W^T dout_r;  din += col2im(col)
 *   side B  forward   Y = Wf rows(in);  out = b + col2im(Y)
 *           backward  colg = im2col(dout);  dW += unmirror(colg rows(in)^T);
 *                     din += rows^-1(Wf^T colg)
 *   dbias += per-channel sums of dout (double).
 * The kernels (kernels/kernel_list.h: im2col_planes, col2im_planes_add, nchw_to_rows,
 * rows_to_nchw, mirror_weight, unmirror_add, plane_fill, channel_sums) use the tap offsets
 * of kernels/index_math.h like the host version above, so both compute the same products;
 * they differ in rounding only (GEMM shapes, chunking; tests/test_conv_backends: 1.2e-7 of
 * max|value| apart on every model shape). The host version stays the CPU-fast path of the
 * host-resident models (CsiNet, STQENet, the IC LAN): on their 32 x 32 maps this version
 * is 2.3-4.9x slower on the CPU (bench_conv, 1 thread, CPU time: generic per-element
 * im2col with bounds tests instead of zero-bordered frames); on the INN's 4 x 4 maps the
 * two are within 20 %. */
#include "invcsi/backend.h"

/* Samples per chunk on backend be: enough for its preferred GEMM width, at most the batch
 * (the whole batch when it has none). The scratch is sized for the largest chunk of ANY
 * backend, i.e. the whole batch. */
static int conv_be_chunk(const invcsi_backend *be, const invcsi_conv2d_shape *s)
{
    if (!be || be->conv_chunk_columns <= 0)
        return s->batch;
    long hw = conv_hw(s);
    long c = (be->conv_chunk_columns + hw - 1) / hw;
    if (c > s->batch)
        c = s->batch;
    return c < 1 ? 1 : (int)c;
}

long invcsi_conv2d_be_scratch_floats(const invcsi_conv2d_shape *s)
{
    const long cols = (long)s->batch * conv_hw(s), kk = conv_taps(s);
    const long a = (conv_k(s) + s->out_ch) * cols;
    const long b = ((long)s->out_ch * kk + s->in_ch) * cols + 2 * invcsi_conv2d_weight_floats(s);
    return a > b ? a : b;
}

static int conv_be_check(const invcsi_conv2d_shape *s, invcsi_error *err)
{
    int rc = invcsi_conv2d_check(s, err);
    if (rc)
        return rc;
    const long cols = (long)s->batch * conv_hw(s);
    if (cols > INT_MAX || conv_k(s) * cols > ((long)1 << 40))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "conv2d (backend): batch %d of %dx%d maps too large for one "
                                "GEMM",
                                s->batch, s->height, s->width);
    return INVCSI_OK;
}

int invcsi_conv2d_forward_be(const invcsi_backend *be, float *out, const float *in,
                             const float *weight, const float *bias,
                             const invcsi_conv2d_shape *s, float *scratch, invcsi_error *err)
{
    int rc = conv_be_check(s, err);
    if (rc)
        return rc;
    if (!out || !in || !weight || !scratch)
        return invcsi_error_set(err, INVCSI_EINVAL, "conv2d_forward: NULL buffer");
    const invcsi_kernels *k = be->kern;
    const long hw = conv_hw(s), K = conv_k(s), kk = conv_taps(s);
    const int cin = s->in_ch, cout = s->out_ch, chunk = conv_be_chunk(be, s);
    const long max_cols = (long)chunk * hw;
    const int side_b = forward_on_output_side(s);
    float *y = scratch;                     /* B: [Cout kk][cols] */
    float *in_r = y + cout * kk * max_cols; /* B: [Cin][cols] */
    float *wf = in_r + cin * max_cols;      /* B: [Cout kk][Cin] */
    float *col = scratch, *out_r = scratch + K * max_cols; /* A */
    if (side_b)
        k->mirror_weight(wf, weight, cout, cin, (int)kk);
    for (int b0 = 0; b0 < s->batch; b0 += chunk) {
        const int cn = s->batch - b0 < chunk ? s->batch - b0 : chunk;
        const long cols = cn * hw;
        const float *in_b = in + (long)b0 * cin * hw;
        float *out_b = out + (long)b0 * cout * hw;
        if (side_b) {
            k->nchw_to_rows(in_r, in_b, cn, cin, hw);
            be->sgemm(INVCSI_NOTRANS, INVCSI_NOTRANS, (int)(cout * kk), (int)cols, cin, 1.0f, wf,
                      cin, in_r, (int)cols, 0.0f, y, (int)cols);
            k->plane_fill(out_b, bias, cn, cout, hw);
            k->col2im_planes_add(y, out_b, cn, cout, s->height, s->width, s->kh, s->kw);
        } else {
            k->im2col_planes(in_b, col, cn, cin, s->height, s->width, s->kh, s->kw);
            be->sgemm(INVCSI_NOTRANS, INVCSI_NOTRANS, cout, (int)cols, (int)K, 1.0f, weight,
                      (int)K, col, (int)cols, 0.0f, out_r, (int)cols);
            k->rows_to_nchw(out_b, out_r, bias, cn, cout, hw, 0);
        }
    }
    return INVCSI_OK;
}

int invcsi_conv2d_backward_be(const invcsi_backend *be, float *dinput, float *dweight,
                              float *dbias, const float *dout, const float *in,
                              const float *weight, const invcsi_conv2d_shape *s, float *scratch,
                              invcsi_error *err)
{
    int rc = conv_be_check(s, err);
    if (rc)
        return rc;
    if (!dout || !scratch || (dweight && !in) || (dinput && !weight))
        return invcsi_error_set(err, INVCSI_EINVAL, "conv2d_backward: NULL buffer");
    const invcsi_kernels *k = be->kern;
    const long hw = conv_hw(s), K = conv_k(s), kk = conv_taps(s);
    const int cin = s->in_ch, cout = s->out_ch, chunk = conv_be_chunk(be, s);
    const long max_cols = (long)chunk * hw;
    if (dbias)
        k->channel_sums(dbias, dout, s->batch, cout, hw, 1);
    if (!dweight && !dinput)
        return INVCSI_OK;
    const int side_b = backward_on_output_side(s);
    const long n_w = invcsi_conv2d_weight_floats(s);
    float *colg = scratch;                   /* B: col(dout) [Cout kk][cols] */
    float *xr = colg + cout * kk * max_cols; /* B: in_r, then din_r [Cin][cols] */
    float *wf = xr + cin * max_cols;         /* B: Wf [Cout kk][Cin] */
    float *dwf = wf + n_w;                   /* B: dWf [Cout kk][Cin] */
    float *col = scratch, *dout_r = scratch + K * max_cols; /* A */
    if (side_b && dinput)
        k->mirror_weight(wf, weight, cout, cin, (int)kk);
    for (int b0 = 0; b0 < s->batch; b0 += chunk) {
        const int cn = s->batch - b0 < chunk ? s->batch - b0 : chunk;
        const long cols = cn * hw;
        const float *dout_b = dout + (long)b0 * cout * hw;
        const float *in_b = in ? in + (long)b0 * cin * hw : NULL;
        float *din_b = dinput ? dinput + (long)b0 * cin * hw : NULL;
        if (side_b) {
            k->im2col_planes(dout_b, colg, cn, cout, s->height, s->width, s->kh, s->kw);
            if (dweight) {
                k->nchw_to_rows(xr, in_b, cn, cin, hw);
                be->sgemm(INVCSI_NOTRANS, INVCSI_TRANS, (int)(cout * kk), cin, (int)cols, 1.0f,
                          colg, (int)cols, xr, (int)cols, b0 == 0 ? 0.0f : 1.0f, dwf, cin);
            }
            if (dinput) {
                be->sgemm(INVCSI_TRANS, INVCSI_NOTRANS, cin, (int)cols, (int)(cout * kk), 1.0f,
                          wf, cin, colg, (int)cols, 0.0f, xr, (int)cols);
                k->rows_to_nchw(din_b, xr, NULL, cn, cin, hw, 1);
            }
        } else {
            k->nchw_to_rows(dout_r, dout_b, cn, cout, hw);
            if (dweight) {
                k->im2col_planes(in_b, col, cn, cin, s->height, s->width, s->kh, s->kw);
                be->sgemm(INVCSI_NOTRANS, INVCSI_TRANS, cout, (int)K, (int)cols, 1.0f, dout_r,
                          (int)cols, col, (int)cols, 1.0f, dweight, (int)K);
            }
            if (dinput) {
                be->sgemm(INVCSI_TRANS, INVCSI_NOTRANS, (int)K, (int)cols, cout, 1.0f, weight,
                          (int)K, dout_r, (int)cols, 0.0f, col, (int)cols);
                k->col2im_planes_add(col, din_b, cn, cin, s->height, s->width, s->kh, s->kw);
            }
        }
    }
    if (side_b && dweight)
        k->unmirror_add(dweight, dwf, cout, cin, (int)kk);
    return INVCSI_OK;
}
