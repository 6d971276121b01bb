/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The per-item functions of the CUDA kernels: kb_<name>(i, args...) does item i of kernel
 * <name> by calling the INVCSI_HD math of the headers beside this one. They are compiled
 * for the device (the .cu files here: a __global__ grid-stride wrapper per kernel) and for the
 * host (kernels/launch_emu.h: the launch emulator of the tests), from this one text.
 *
 * INVCSI_ELEMENTWISE_KERNELS(X) lists every element-wise kernel once as
 *   X(name, item count, (parameters), (parameter names))
 * and the wrappers, launchers and emulated launches are generated from that list.
 * Items are elements unless the comment says otherwise ("per dimension": one thread per
 * latent dimension, which loops over the batch in the CPU's order so its double sums are
 * the CPU's sums; its scratch lives in a caller's global buffer, not on the stack).
 * Accumulating outputs ("+=") follow the lib/ functions they mirror.
 */
#ifndef INVCSI_KERNEL_BODIES_H
#define INVCSI_KERNEL_BODIES_H

#include <stdint.h>

#include "bn_math.h"
#include "daq_math.h"
#include "dbcd_math.h"
#include "ic_math.h"
#include "index_math.h"
#include "inn_math.h"
#include "invcsi_hd.h"
#include "launch.h"
#include "loss_math.h"
#include "nn_math.h"

/* ---- activations (lib/nn_activation.c) ----------------------------------------------- */
INVCSI_HD void kb_leaky_relu_forward(long i, const float *x, float *y, long n, float slope)
{
    y[i] = nn_leaky_relu(x[i], slope);
}
INVCSI_HD void kb_leaky_relu_backward(long i, float *dx, const float *dy, const float *x, long n,
                                      float slope)
{
    dx[i] += dy[i] * nn_leaky_relu_grad(x[i], slope);
}
INVCSI_HD void kb_sigmoid_forward(long i, const float *x, float *y, long n) { y[i] = nn_sigmoid(x[i]); }
INVCSI_HD void kb_sigmoid_backward(long i, float *dx, const float *dy, const float *y, long n)
{
    dx[i] += dy[i] * nn_sigmoid_grad_from_output(y[i]);
}
INVCSI_HD void kb_tanh_forward(long i, const float *x, float *y, long n) { y[i] = nn_tanh(x[i]); }
INVCSI_HD void kb_tanh_backward(long i, float *dx, const float *dy, const float *y, long n)
{
    dx[i] += dy[i] * nn_tanh_grad_from_output(y[i]);
}
INVCSI_HD void kb_soft_clamp_forward(long i, const float *x, float *y, long n, float clamp)
{
    y[i] = nn_soft_clamp(x[i], clamp);
}
INVCSI_HD void kb_soft_clamp_backward(long i, float *dx, const float *dy, const float *x, long n,
                                      float clamp)
{
    dx[i] += dy[i] * nn_soft_clamp_grad(x[i], clamp);
}

/* ---- affine coupling (lib/inn_coupling.c) ------------------------------------------------ */
INVCSI_HD void kb_affine_forward(long i, const float *x2, const float *r, const float *e,
                                 float *y2, long n, float clamp)
{
    y2[i] = inn_affine_forward(x2[i], r[i], e[i], clamp);
}
INVCSI_HD void kb_affine_inverse(long i, const float *y2, const float *r, const float *e,
                                 float *x2, long n, float clamp)
{
    x2[i] = inn_affine_inverse(y2[i], r[i], e[i], clamp);
}
/* dx2 += (may be NULL), dr = */
INVCSI_HD void kb_affine_forward_grad(long i, const float *dy2, const float *x2, const float *r,
                                      float *dx2, float *dr, long n, float clamp)
{
    float gx, gr;
    inn_affine_forward_grad(dy2[i], x2[i], r[i], clamp, &gx, &gr);
    if (dx2)
        dx2[i] += gx;
    dr[i] = gr;
}
/* dy2 += (may be NULL), dr =, de = (de may alias dx2, as in lib/inn_coupling.c) */
INVCSI_HD void kb_affine_inverse_grad(long i, const float *dx2, const float *x2, const float *r,
                                      float *dy2, float *dr, float *de, long n, float clamp)
{
    float gy, gr, ge;
    inn_affine_inverse_grad(dx2[i], x2[i], r[i], clamp, &gy, &gr, &ge);
    if (dy2)
        dy2[i] += gy;
    dr[i] = gr;
    de[i] = ge;
}

/* ---- data movement (lib/inn_front.c, lib/nn_conv.c) ------------------------------------- */
INVCSI_HD void kb_patchify(long o, const float *in, float *out, int batch, int planes, int h,
                           int w, int p)
{
    out[o] = in[invcsi_patchify_src(o, planes, h, w, p)];
}
INVCSI_HD void kb_unpatchify(long o, const float *in, float *out, int batch, int planes, int h,
                             int w, int p)
{
    out[o] = in[invcsi_unpatchify_src(o, planes, h, w, p)];
}
/* col[K][cn H W] = im2col of cn samples */
INVCSI_HD void kb_im2col(long t, const float *in, float *col, int cn, int cin, int H, int W,
                         int kh, int kw)
{
    const long s = invcsi_im2col_src(t, cn, cin, H, W, kh, kw);
    col[t] = s >= 0 ? in[s] : 0.0f;
}
/* din[cn][Cin][H][W] += col2im(col); item = one input element, taps summed in row order */
INVCSI_HD void kb_col2im_add(long e, const float *col, float *din, int cn, int cin, int H, int W,
                             int kh, int kw)
{
    float acc = din[e];
    for (int i = 0; i < kh; i++)
        for (int j = 0; j < kw; j++) {
            const long s = invcsi_col2im_src(e, i, j, cn, cin, H, W, kh, kw);
            if (s >= 0)
                acc += col[s];
        }
    din[e] = acc;
}

/* The same two maps with one item per PLANE / ROW (the backend conv of lib/nn_conv.c uses
 * these): the per-element kernels above divide ~8 times per element, which made im2col 70 %
 * of the INN step on the CPU. Same index rule (kernels/index_math.h tap offsets and valid
 * spans), same values, and col2im_planes_add adds the taps of each element in the same
 * row-major order onto its old value, so it equals col2im_add bit for bit.
 * im2col_planes: item t = (ci, b), t = ci cn + b: the kh kw rows (ci, i, j) of sample b.
 * The body is instantiated once more with the constants of the INN's maps (4 x 4, 3 x 3)
 * so the host compiler unrolls and vectorises the tiny rows (host only: on the device the
 * fully unrolled instance spills registers, and the generic loop is what a GPU wants). */
#if defined(__CUDACC__)
#define INVCSI_HD_INLINE __host__ __device__ __forceinline__
/* the tap loops: rolled on the device (unrolled, they spilled on sm_90), unrolled on the
 * host (the 4 x 4, 3 x 3 instance then becomes straight-line moves) */
#define INVCSI_TAP_LOOP_UNROLL _Pragma("unroll 1")
#else
#define INVCSI_HD_INLINE static inline __attribute__((always_inline))
#define INVCSI_TAP_LOOP_UNROLL _Pragma("GCC unroll 16")
#endif
INVCSI_HD_INLINE void im2col_plane(const float *plane, float *dst, long cols, int H, int W,
                                   int kh, int kw)
{
    INVCSI_TAP_LOOP_UNROLL
    for (int i = 0; i < kh; i++) {
        const int dy = invcsi_conv_tap_offset(i, kh);
        INVCSI_TAP_LOOP_UNROLL
        for (int j = 0; j < kw; j++, dst += cols) {
            const int dx = invcsi_conv_tap_offset(j, kw);
            INVCSI_TAP_LOOP_UNROLL
            for (int y = 0; y < H; y++) {
                const int yy = y + dy;
                const int row_in = yy >= 0 && yy < H;
                INVCSI_TAP_LOOP_UNROLL
                for (int x = 0; x < W; x++) {
                    const int xx = x + dx;
                    dst[y * W + x] = row_in && xx >= 0 && xx < W ? plane[yy * W + xx] : 0.0f;
                }
            }
        }
    }
}
INVCSI_HD void kb_im2col_planes(long t, const float *in, float *col, int cn, int cin, int H,
                                int W, int kh, int kw)
{
    const long hw = (long)H * W, cols = (long)cn * hw;
    /* 32-bit division (items = cin cn < 2^31): a 64-bit one is a device subroutine call
     * whose frame ptxas reports as local memory */
    const int ci = (int)t / cn, b = (int)t - ci * cn;
    const float *plane = in + ((long)b * cin + ci) * hw;
    float *dst0 = col + (long)ci * kh * kw * cols + b * hw;
#if !defined(__CUDACC__)
    if (H == 4 && W == 4 && kh == 3 && kw == 3)
        im2col_plane(plane, dst0, cols, 4, 4, 3, 3);
    else
#endif
        im2col_plane(plane, dst0, cols, H, W, kh, kw);
}
/* col2im_planes_add: item t = (b, ci), one plane of the input gradient din[cn][Cin][H][W];
 * each element adds its taps in row-major order onto its old value (as col2im_add). */
INVCSI_HD_INLINE void col2im_plane(const float *col0, float *plane, long cols, int H, int W,
                                   int kh, int kw)
{
    INVCSI_TAP_LOOP_UNROLL
    for (int yy = 0; yy < H; yy++)
        for (int xx = 0; xx < W; xx++) {
            float acc = plane[(long)yy * W + xx];
            for (int i = 0; i < kh; i++) {
                const int y = yy - invcsi_conv_tap_offset(i, kh);
                if (y < 0 || y >= H)
                    continue;
                for (int j = 0; j < kw; j++) {
                    const int x = xx - invcsi_conv_tap_offset(j, kw);
                    if (x < 0 || x >= W)
                        continue;
                    acc += col0[(long)(i * kw + j) * cols + (long)y * W + x];
                }
            }
            plane[(long)yy * W + xx] = acc;
        }
}
INVCSI_HD void kb_col2im_planes_add(long t, const float *col, float *din, int cn, int cin, int H,
                                    int W, int kh, int kw)
{
    const long hw = (long)H * W, cols = (long)cn * hw;
    const int b = (int)t / cin, ci = (int)t - b * cin; /* 32-bit: see im2col_planes */
    const float *col0 = col + (long)ci * kh * kw * cols + b * hw;
    float *plane = din + t * hw;
#if !defined(__CUDACC__)
    if (H == 4 && W == 4 && kh == 3 && kw == 3)
        col2im_plane(col0, plane, cols, 4, 4, 3, 3);
    else
#endif
        col2im_plane(col0, plane, cols, H, W, kh, kw);
}

/* ---- DAQ (lib/daq.c) ----------------------------------------------------------------------
 * Tables: thr[dims][nk], step[dims][nk], lev[dims][nk+1], nk = L - 1. Items of daq_forward,
 * daq_quantize, daq_dequantize: e = b * dims + d. */
/* per dimension */
INVCSI_HD void kb_daq_derive(long d, const float *thr_raw, const float *step_raw, int dims,
                             int nk, float range, float *thr, float *step, float *lev)
{
    daq_derive(thr_raw + d * nk, step_raw + d * nk, nk, range, thr + d * nk, step + d * nk,
               lev + d * (nk + 1));
}
/* q_hard =, q_soft = and indices = (both may be NULL) */
INVCSI_HD void kb_daq_forward(long e, const float *y, const float *thr, const float *step,
                              const float *lev, long n, int dims, int nk, float range,
                              float beta, float *q_hard, float *q_soft, int *indices)
{
    const int d = (int)(e % dims);
    const float *t = thr + (long)d * nk;
    const int j = daq_hard_index(y[e], t, nk);
    q_hard[e] = lev[(long)d * (nk + 1) + j];
    if (indices)
        indices[e] = j;
    if (q_soft)
        q_soft[e] = daq_soft_value(y[e], t, step + (long)d * nk, nk, range, beta);
}
/* Backward, in two per-dimension kernels (one kernel would keep a register across the
 * slow path of a float division and spill it). work: 2 dims nk doubles, this dimension's
 * sums of dL/d(threshold) and dL/d(step) over the batch.
 * 1. sums: work = the sums, dy += (may be NULL), from dq */
INVCSI_HD void kb_daq_backward_sums(long d, const float *thr, const float *step, const float *y,
                                    const float *dq, int batch, int dims, int nk, float beta,
                                    float *dy, double *work)
{
    double *dthr = work + 2 * d * nk, *dstep = dthr + nk;
    for (int k = 0; k < nk; k++)
        dthr[k] = dstep[k] = 0.0;
    const float *t = thr + d * nk, *s = step + d * nk;
    for (int b = 0; b < batch; b++) {
        const long e = (long)b * dims + d;
        const float g = daq_soft_grad(dq[e], y[e], t, s, nk, beta, dthr, dstep);
        if (dy)
            dy[e] += g;
    }
}
/* 2. raw: dthr_raw += and dstep_raw += (either may be NULL) from the sums and dlevels
 * [dims][nk+1] (may be NULL) */
INVCSI_HD void kb_daq_backward_raw(long d, const float *thr_raw, const float *step_raw,
                                   const double *work, const float *dlevels, int dims, int nk,
                                   float *dthr_raw, float *dstep_raw)
{
    const double *dthr = work + 2 * d * nk, *dstep = dthr + nk;
    daq_raw_grad(thr_raw + d * nk, step_raw + d * nk, nk, dthr, dstep,
                 dlevels ? dlevels + d * (nk + 1) : (const float *)0,
                 dthr_raw ? dthr_raw + d * nk : (float *)0,
                 dstep_raw ? dstep_raw + d * nk : (float *)0);
}
INVCSI_HD void kb_daq_quantize(long e, const float *y, const float *thr, long n, int dims, int nk,
                               int *indices)
{
    indices[e] = daq_hard_index(y[e], thr + (long)(e % dims) * nk, nk);
}
/* out = levels[d][clamp(index, 0, L-1)] */
INVCSI_HD void kb_daq_dequantize(long e, const float *levels, const int *indices, long n,
                                 int dims, int L, float *out)
{
    int j = indices[e];
    j = j < 0 ? 0 : (j >= L ? L - 1 : j);
    out[e] = levels[(long)(e % dims) * L + j];
}

/* ---- D-BCD (lib/dbcd.c) ---------------------------------------------------------------------
 * levels[dims][L], P[L][L], gumbel[n][L], save[n][3L] = (p, pi, g) per value. */
INVCSI_HD void kb_dbcd_forward(long e, const float *q, const float *levels, const float *P,
                               const float *gumbel, long n, int dims, int L, float delta,
                               float tau, float *y, int *detected, float *y_soft, float *save)
{
    const float *c = levels + (long)(e % dims) * L;
    float *s = save + e * 3L * L;
    float ys;
    const int j = dbcd_forward_element(q[e], c, P, gumbel + e * L, L, delta, tau, s, s + L,
                                       s + 2 * L, &ys);
    y[e] = c[j];
    if (detected)
        detected[e] = j;
    if (y_soft)
        y_soft[e] = ys;
}
/* per dimension: dq += (may be NULL), dlevels += (may be NULL); work_dc: dims L doubles,
 * work_u: dims L floats */
INVCSI_HD void kb_dbcd_backward(long d, const float *dy, const float *q, const float *levels,
                                const float *P, const float *save, int batch, int dims, int L,
                                float delta, float tau, float *dq, float *dlevels,
                                double *work_dc, float *work_u)
{
    double *dc = work_dc + d * L;
    float *u = work_u + d * L;
    for (int j = 0; j < L; j++)
        dc[j] = 0.0;
    const float *c = levels + d * L;
    for (int b = 0; b < batch; b++) {
        const long e = (long)b * dims + d;
        const float *s = save + e * 3L * L;
        const float g =
            dbcd_backward_element(dy[e], q[e], c, P, s, s + L, s + 2 * L, L, delta, tau, dc, u);
        if (dq)
            dq[e] += g;
    }
    if (dlevels)
        for (int j = 0; j < L; j++)
            dlevels[d * L + j] += (float)dc[j];
}

/* ---- BPSK (lib/bitlink.c) -------------------------------------------------------------------- */
INVCSI_HD void kb_bpsk_map(long i, const uint8_t *bits, float *sym, long n, float sqrt_es)
{
    sym[i] = bpsk_symbol(bits[i], sqrt_es);
}
INVCSI_HD void kb_bpsk_hard(long i, const float *rx, uint8_t *bits, long n, int stride)
{
    bits[i] = bpsk_hard(rx[i * stride]);
}
INVCSI_HD void kb_bpsk_llr(long i, const float *rx, float *llr, long n, int stride, float scale)
{
    llr[i] = bpsk_llr(rx[i * stride], scale);
}

/* ---- losses (lib/nn_loss.c) ---------------------------------------------------------------- */
/* d2[n][n] (holding -2 x y^T from the GEMM) = |x_i - y_j|^2; same_set: zero diagonal */
INVCSI_HD void kb_sq_dist_finish(long ij, float *d2, const float *nx, const float *ny, int n,
                                 int same_set)
{
    const int i = (int)(ij / n), j = (int)(ij - (long)i * n);
    d2[ij] = same_set && i == j ? 0.0f : nn_sq_dist_finish(d2[ij], nx[i], ny[j]);
}
/* kval = coef K(d2) (0 on the diagonal when zero_diag) */
INVCSI_HD void kb_mmd_kernel(long ij, const float *d2, float *kval, int n, float coef,
                             const float *c_list, int n_c, float c_default, int zero_diag)
{
    const int i = (int)(ij / n), j = (int)(ij - (long)i * n);
    kval[ij] = zero_diag && i == j ? 0.0f : coef * nn_imq_sum(d2[ij], c_list, n_c, c_default);
}
/* w = coef K'(d2) (0 on the diagonal when zero_diag): the weight matrix of the gradient */
INVCSI_HD void kb_mmd_weight(long ij, const float *d2, float *w, int n, float coef,
                             const float *c_list, int n_c, float c_default, int zero_diag)
{
    const int i = (int)(ij / n), j = (int)(ij - (long)i * n);
    w[ij] = zero_diag && i == j ? 0.0f
                                : coef * nn_imq_sum_grad(d2[ij], c_list, n_c, c_default);
}
/* err = (pred - target)^2, summed by invcsi_cuda_sum for the MSE */
INVCSI_HD void kb_sq_err(long i, const float *pred, const float *target, float *err, long n)
{
    err[i] = nn_sq_err(pred[i], target[i]);
}
/* dpred += k sq_err'(pred, target), dtarget -= the same (either may be NULL); k = dloss / n */
INVCSI_HD void kb_mse_backward(long i, const float *pred, const float *target, float *dpred,
                               float *dtarget, long n, float k)
{
    const float g = k * nn_sq_err_grad(pred[i], target[i]);
    if (dpred)
        dpred[i] += g;
    if (dtarget)
        dtarget[i] -= g;
}

/* ---- Adam (lib/nn_adam.c; the scalars are the caller's, computed as there) -------------------- */
INVCSI_HD void kb_adam(long i, float *param, const float *grad, float *m, float *v, long n,
                       float beta1, float one_minus_b1, float beta2, float one_minus_b2,
                       float eps, float weight_decay, float step_size, float inv_sqrt_bc2)
{
    nn_adam_element(&param[i], &m[i], &v[i], grad[i], beta1, one_minus_b1, beta2, one_minus_b2,
                    eps, weight_decay, step_size, inv_sqrt_bc2);
}

/* ---- batchnorm2d (lib/nn_batchnorm.c), per-channel vectors from the statistics ---------------- */
INVCSI_HD void kb_bn_apply(long e, const float *x, float *y, const float *scale,
                           const float *shift, int batch, int channels, int spatial)
{
    const int c = (int)((e / spatial) % channels);
    y[e] = nn_bn_apply(x[e], scale[c], shift[c]);
}
/* dx += */
INVCSI_HD void kb_bn_backward_dx(long e, float *dx, const float *dy, const float *x,
                                 const float *mean, const float *invstd, const float *k,
                                 const float *mean_dy, const float *mean_dy_xhat, int batch,
                                 int channels, int spatial)
{
    const int c = (int)((e / spatial) % channels);
    dx[e] += nn_bn_backward_element(dy[e], x[e], mean[c], invstd[c], k[c], mean_dy[c],
                                    mean_dy_xhat[c]);
}

/* ---- IC prior (lib/ic.c) ------------------------------------------------------------------- */
INVCSI_HD void kb_zprior_sample(long e, const float *mu, const float *log_sigma,
                                const float *noise, float *z, int batch, int zdims)
{
    const int k = (int)(e % zdims);
    z[e] = noise ? ic_zprior_sample(mu[k], log_sigma[k], noise[e]) : mu[k];
}

/* ---- data movement and arithmetic of the device-resident INN step (lib/inn_*.c) ----------
 * Everything the INN step does between GEMMs that is not already a kernel above, so the
 * step never touches a buffer from the host (include/invcsi/backend.h, invcsi_kernels). */
INVCSI_HD void kb_fill(long i, float *x, long n, float value) { x[i] = value; }
/* dst[r * dst_stride + c] = src[r * src_stride + c] for r < rows, c < cols: memcpy (rows 1),
 * concat / split / merge of per-report halves */
INVCSI_HD void kb_copy_rows(long e, float *dst, const float *src, long rows, long cols,
                            long dst_stride, long src_stride)
{
    /* rows == 1 (a plain copy) skips the 64-bit division: it dominated the copy */
    const long r = rows == 1 ? 0 : e / cols, c = e - r * cols;
    dst[r * dst_stride + c] = src[r * src_stride + c];
}
/* out = x + alpha y (out may be x or y: element-wise) */
INVCSI_HD void kb_add_scaled(long i, float *out, const float *x, const float *y, long n,
                             float alpha)
{
    out[i] = x[i] + alpha * y[i];
}
/* out = alpha x */
INVCSI_HD void kb_scale(long i, float *out, const float *x, long n, float alpha)
{
    out[i] = alpha * x[i];
}
/* out[b][k] = in[b][perm[k]] (perm holds indices as floats) */
INVCSI_HD void kb_gather_perm(long o, float *out, const float *in, const float *perm, int batch,
                              int dim)
{
    const long b = o / dim;
    out[o] = in[b * dim + (long)perm[o - b * dim]];
}
/* out[b][perm[k]] = in[b][k]: the inverse (and adjoint) of the gather; item = input element */
INVCSI_HD void kb_scatter_perm(long o, float *out, const float *in, const float *perm, int batch,
                               int dim)
{
    const long b = o / dim;
    out[b * dim + (long)perm[o - b * dim]] = in[o];
}
/* Channel permutation between two INN blocks, on states kept as halves h1 [batch][c1][g],
 * h2 [batch][channels - c1][g]: forward dst channel j = src channel perm[j], inverse dst
 * channel perm[j] = src channel j. Item e = (b, j, q) over batch x channels x g. */
INVCSI_HD void kb_channel_perm(long e, const float *s1, const float *s2, float *d1, float *d2,
                               const float *perm, int batch, int channels, int c1, int g,
                               int inverse)
{
    const long per = (long)channels * g;
    const long b = e / per, r = e - b * per;
    const int j = (int)(r / g), q = (int)(r - (long)j * g);
    const int pj = (int)perm[j];
    const int sc = inverse ? j : pj, dc = inverse ? pj : j;
    const long c2 = channels - c1;
    const float v = sc < c1 ? s1[(b * c1 + sc) * g + q] : s2[(b * c2 + sc - c1) * g + q];
    if (dc < c1)
        d1[(b * c1 + dc) * g + q] = v;
    else
        d2[(b * c2 + dc - c1) * g + q] = v;
}
/* [cn][ch][hw] -> rows [ch][cn hw] (the GEMM layout of a conv chunk); item = one plane
 * (b, c) of x, its hw values */
INVCSI_HD void kb_nchw_to_rows(long t, float *r, const float *x, int cn, int ch, long hw)
{
    const long b = t / ch, c = t - b * ch;
    const float *src = x + t * hw;
    float *dst = r + c * (cn * hw) + b * hw;
    for (long p = 0; p < hw; p++)
        dst[p] = src[p];
}
/* rows [ch][cn hw] -> x [cn][ch][hw]: accumulate ? x += r : x = r + bias[c] (bias may be
 * NULL); item = one plane (b, c) of x */
INVCSI_HD void kb_rows_to_nchw(long t, float *x, const float *r, const float *bias, int cn,
                               int ch, long hw, int accumulate)
{
    const long b = t / ch, c = t - b * ch;
    const float *src = r + c * (cn * hw) + b * hw;
    float *dst = x + t * hw;
    if (accumulate) {
        for (long p = 0; p < hw; p++)
            dst[p] += src[p];
    } else {
        const float bb = bias ? bias[c] : 0.0f;
        for (long p = 0; p < hw; p++)
            dst[p] = src[p] + bb;
    }
}
/* Output-side ("B") form of the conv (lib/nn_conv.c): Wf[(co, t)][ci] = W[co][ci][kk-1-t],
 * the weight with mirrored taps; item = one Wf row (co, t), so the index divisions are per
 * row: per element they made this copy half of a single report's INN encode on the CPU. */
INVCSI_HD void kb_mirror_weight(long r, float *wf, const float *w, int cout, int cin, int kk)
{
    (void)cout;
    const long t = r % kk, co = r / kk;
    const float *src = w + co * cin * kk + (kk - 1 - t);
    float *dst = wf + r * cin;
    for (int ci = 0; ci < cin; ci++)
        dst[ci] = src[(long)ci * kk];
}
/* dW[co][ci][t'] += dWf[(co, kk-1-t')][ci]; item = the kk taps of one (co, ci) */
INVCSI_HD void kb_unmirror_add(long r, float *dw, const float *dwf, int cout, int cin, int kk)
{
    (void)cout;
    const long ci = r % cin, co = r / cin;
    float *dst = dw + r * kk;
    for (int t = 0; t < kk; t++)
        dst[t] += dwf[(co * kk + (kk - 1 - t)) * cin + ci];
}
/* x[b][c][:] = bias[c] (0 when bias is NULL); item = one plane */
INVCSI_HD void kb_plane_fill(long t, float *x, const float *bias, int cn, int ch, long hw)
{
    const float v = bias ? bias[t % ch] : 0.0f;
    float *d = x + t * hw;
    for (long p = 0; p < hw; p++)
        d[p] = v;
}
/* out[c] (+)= sum over b, p of x[b][c][p] (the bias gradient), in double: eight lanes,
 * lane l adding x[b][c][8q + l] over b (outer) and q, the tail p >= 8 floor(hw / 8) of each
 * plane into lane 0, then lanes 0..7 summed in order. (One chain of dependent double adds
 * cost more than the rest of the INN's backward bookkeeping; the constant lane indices
 * keep the lanes in registers on a GPU.) */
INVCSI_HD void kb_channel_sums(long c, float *out, const float *x, int cn, int ch, long hw,
                               int accumulate)
{
    double acc[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    const long full = hw / 8 * 8;
    for (long b = 0; b < cn; b++) {
        const float *d = x + (b * ch + c) * hw;
        for (long p = 0; p < full; p += 8)
            for (int l = 0; l < 8; l++)
                acc[l] += d[p + l];
        for (long p = full; p < hw; p++)
            acc[0] += d[p];
    }
    double sum = 0.0;
    for (int l = 0; l < 8; l++)
        sum += acc[l];
    out[c] = accumulate ? out[c] + (float)sum : (float)sum;
}
/* out[i] (+)= sum over j < cols of x[i rs + j cs], in double in increasing j (bias
 * gradients, the MMD's weight-matrix row sums). One thread per row. */
INVCSI_HD void kb_row_sums(long i, float *out, const float *x, long rows, long cols, long rs,
                           long cs, int accumulate)
{
    double acc = 0.0;
    for (long j = 0; j < cols; j++)
        acc += x[i * rs + j * cs];
    out[i] = accumulate ? out[i] + (float)acc : (float)acc;
}
/* out[i] = sum over the row of x^2, in double (squared row norms of the MMD) */
INVCSI_HD void kb_row_sumsq(long i, float *out, const float *x, long rows, long cols)
{
    double acc = 0.0;
    const float *r = x + i * cols;
    for (long k = 0; k < cols; k++)
        acc += (double)r[k] * r[k];
    out[i] = (float)acc;
}
/* dx[i][k] += r[i] x[i][k] */
INVCSI_HD void kb_row_scale_add(long e, float *dx, const float *r, const float *x, long rows,
                                long cols)
{
    dx[e] += r[e / cols] * x[e];
}
/* The unbiased MMD^2 from the three distance matrices, in double in row-major order, into
 * loss[0] (rounded to float, as invcsi_mmd_imq_forward returns it). ONE item: a serial
 * loop over n^2 entries (16 K at batch 128), kept serial so the sum is the CPU's exactly. */
INVCSI_HD void kb_mmd_loss(long t, const float *d2_aa, const float *d2_bb, const float *d2_ab,
                           int n, const float *c_list, int n_c, float c_default, double *loss)
{
    double s_same = 0.0, s_cross = 0.0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            const long ij = (long)i * n + j;
            if (i != j)
                s_same += (double)nn_imq_sum(d2_aa[ij], c_list, n_c, c_default) +
                          nn_imq_sum(d2_bb[ij], c_list, n_c, c_default);
            s_cross += nn_imq_sum(d2_ab[ij], c_list, n_c, c_default);
        }
    loss[0] = (double)(float)(s_same / ((double)n * (n - 1)) - 2.0 * s_cross / ((double)n * n));
}
/* Per report b: e[b] = sum (xhat - x)^2 and p[b] = sum x^2, in double (invcsi_batch_sse) */
INVCSI_HD void kb_report_sse(long b, const float *x, const float *xhat, int batch, int dim,
                             double *e, double *p)
{
    const float *xb = x + b * dim, *hb = xhat + b * dim;
    double ee = 0.0, pp = 0.0;
    for (int i = 0; i < dim; i++) {
        const double d = (double)hb[i] - xb[i];
        ee += d * d;
        pp += (double)xb[i] * xb[i];
    }
    e[b] = ee;
    p[b] = pp;
}
/* ONE item: out[0] = sum_b e[b], out[1] = sum_b e[b] / p[b] (p > 0), in order */
INVCSI_HD void kb_sse_finish(long t, const double *e, const double *p, int batch, double *out)
{
    double sse = 0.0, nmse = 0.0;
    for (int b = 0; b < batch; b++) {
        sse += e[b];
        if (p[b] > 0.0)
            nmse += e[b] / p[b];
    }
    out[0] = sse;
    out[1] = nmse;
}

/* ---- the list: kernels/kernel_list.h ---- */
#include "kernel_list.h"

/* ---- the block reduction --------------------------------------------------------------------
 * partial[blockIdx.x] = the sum of the block's share of x[0..n), in a fixed order:
 *   1. thread t of block b adds, in float and in increasing i, x[i] for
 *      i = b B + t, b B + t + G B, b B + t + 2 G B, ...  (B = blockDim.x, G = gridDim.x)
 *      into sh[t];
 *   2. tree: for s = B/2, B/4, ..., 1: sh[t] += sh[t + s] for every t < s;
 *   3. thread 0 writes sh[0].
 * invcsi_cuda_sum runs it twice: G = invcsi_grid_1d(n) blocks over x, then one block over
 * the G partials. The order depends only on n (not on the device or the timing), so the
 * result is reproducible run to run; tests/test_cuda_emulator.c rebuilds this order from
 * this description and checks the emulated kernel against it bit for bit. sh: B floats
 * (shared memory on the device). */
#if defined(__CUDACC__) || defined(INVCSI_EMULATOR) /* needs blockIdx & co. */
INVCSI_BLOCK_HD void kblock_sum(const float *x, long n, float *partial, float *sh)
{
    INVCSI_FOR_EACH_THREAD
    {
        float acc = 0.0f;
        INVCSI_GRID_STRIDE_LOOP(i, n)
        acc += x[i];
        sh[threadIdx.x] = acc;
    }
    INVCSI_SYNC;
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        INVCSI_FOR_EACH_THREAD
        {
            if (threadIdx.x < s)
                sh[threadIdx.x] += sh[threadIdx.x + s];
        }
        INVCSI_SYNC;
    }
    INVCSI_FOR_EACH_THREAD
    {
        if (threadIdx.x == 0)
            partial[blockIdx.x] = sh[0];
    }
}
#endif

#endif
