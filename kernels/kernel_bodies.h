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

/* ---- the list ------------------------------------------------------------------------------ */
#define INVCSI_ELEMENTWISE_KERNELS(X)                                                          \
    X(leaky_relu_forward, n, (const float *x, float *y, long n, float slope), (x, y, n, slope)) \
    X(leaky_relu_backward, n, (float *dx, const float *dy, const float *x, long n, float slope), \
      (dx, dy, x, n, slope))                                                                    \
    X(sigmoid_forward, n, (const float *x, float *y, long n), (x, y, n))                        \
    X(sigmoid_backward, n, (float *dx, const float *dy, const float *y, long n), (dx, dy, y, n)) \
    X(tanh_forward, n, (const float *x, float *y, long n), (x, y, n))                           \
    X(tanh_backward, n, (float *dx, const float *dy, const float *y, long n), (dx, dy, y, n))    \
    X(soft_clamp_forward, n, (const float *x, float *y, long n, float clamp), (x, y, n, clamp)) \
    X(soft_clamp_backward, n, (float *dx, const float *dy, const float *x, long n, float clamp), \
      (dx, dy, x, n, clamp))                                                                    \
    X(affine_forward, n,                                                                        \
      (const float *x2, const float *r, const float *e, float *y2, long n, float clamp),       \
      (x2, r, e, y2, n, clamp))                                                                 \
    X(affine_inverse, n,                                                                        \
      (const float *y2, const float *r, const float *e, float *x2, long n, float clamp),       \
      (y2, r, e, x2, n, clamp))                                                                 \
    X(affine_forward_grad, n,                                                                   \
      (const float *dy2, const float *x2, const float *r, float *dx2, float *dr, long n,       \
       float clamp),                                                                            \
      (dy2, x2, r, dx2, dr, n, clamp))                                                          \
    X(affine_inverse_grad, n,                                                                   \
      (const float *dx2, const float *x2, const float *r, float *dy2, float *dr, float *de,    \
       long n, float clamp),                                                                    \
      (dx2, x2, r, dy2, dr, de, n, clamp))                                                      \
    X(patchify, (long)batch * planes * h * w,                                                   \
      (const float *in, float *out, int batch, int planes, int h, int w, int p),               \
      (in, out, batch, planes, h, w, p))                                                        \
    X(unpatchify, (long)batch * planes * h * w,                                                 \
      (const float *in, float *out, int batch, int planes, int h, int w, int p),               \
      (in, out, batch, planes, h, w, p))                                                        \
    X(im2col, (long)cin * kh * kw * cn * H * W,                                                 \
      (const float *in, float *col, int cn, int cin, int H, int W, int kh, int kw),            \
      (in, col, cn, cin, H, W, kh, kw))                                                         \
    X(col2im_add, (long)cn * cin * H * W,                                                       \
      (const float *col, float *din, int cn, int cin, int H, int W, int kh, int kw),           \
      (col, din, cn, cin, H, W, kh, kw))                                                        \
    X(daq_derive, dims,                                                                         \
      (const float *thr_raw, const float *step_raw, int dims, int nk, float range, float *thr, \
       float *step, float *lev),                                                                \
      (thr_raw, step_raw, dims, nk, range, thr, step, lev))                                     \
    X(daq_forward, n,                                                                           \
      (const float *y, const float *thr, const float *step, const float *lev, long n,          \
       int dims, int nk, float range, float beta, float *q_hard, float *q_soft, int *indices), \
      (y, thr, step, lev, n, dims, nk, range, beta, q_hard, q_soft, indices))                   \
    X(daq_backward_sums, dims,                                                                  \
      (const float *thr, const float *step, const float *y, const float *dq, int batch,        \
       int dims, int nk, float beta, float *dy, double *work),                                 \
      (thr, step, y, dq, batch, dims, nk, beta, dy, work))                                      \
    X(daq_backward_raw, dims,                                                                   \
      (const float *thr_raw, const float *step_raw, const double *work, const float *dlevels,  \
       int dims, int nk, float *dthr_raw, float *dstep_raw),                                    \
      (thr_raw, step_raw, work, dlevels, dims, nk, dthr_raw, dstep_raw))                        \
    X(daq_quantize, n, (const float *y, const float *thr, long n, int dims, int nk, int *indices), \
      (y, thr, n, dims, nk, indices))                                                           \
    X(daq_dequantize, n,                                                                        \
      (const float *levels, const int *indices, long n, int dims, int L, float *out),          \
      (levels, indices, n, dims, L, out))                                                       \
    X(dbcd_forward, n,                                                                          \
      (const float *q, const float *levels, const float *P, const float *gumbel, long n,       \
       int dims, int L, float delta, float tau, float *y, int *detected, float *y_soft,        \
       float *save),                                                                            \
      (q, levels, P, gumbel, n, dims, L, delta, tau, y, detected, y_soft, save))                \
    X(dbcd_backward, dims,                                                                      \
      (const float *dy, const float *q, const float *levels, const float *P, const float *save, \
       int batch, int dims, int L, float delta, float tau, float *dq, float *dlevels,          \
       double *work_dc, float *work_u),                                                         \
      (dy, q, levels, P, save, batch, dims, L, delta, tau, dq, dlevels, work_dc, work_u))       \
    X(bpsk_map, n, (const uint8_t *bits, float *sym, long n, float sqrt_es),                   \
      (bits, sym, n, sqrt_es))                                                                  \
    X(bpsk_hard, n, (const float *rx, uint8_t *bits, long n, int stride), (rx, bits, n, stride)) \
    X(bpsk_llr, n, (const float *rx, float *llr, long n, int stride, float scale),             \
      (rx, llr, n, stride, scale))                                                              \
    X(sq_dist_finish, (long)n * n,                                                              \
      (float *d2, const float *nx, const float *ny, int n, int same_set),                      \
      (d2, nx, ny, n, same_set))                                                                \
    X(mmd_kernel, (long)n * n,                                                                  \
      (const float *d2, float *kval, int n, float coef, const float *c_list, int n_c,          \
       float c_default, int zero_diag),                                                         \
      (d2, kval, n, coef, c_list, n_c, c_default, zero_diag))                                   \
    X(mmd_weight, (long)n * n,                                                                  \
      (const float *d2, float *w, int n, float coef, const float *c_list, int n_c,             \
       float c_default, int zero_diag),                                                         \
      (d2, w, n, coef, c_list, n_c, c_default, zero_diag))                                      \
    X(sq_err, n, (const float *pred, const float *target, float *err, long n),                 \
      (pred, target, err, n))                                                                   \
    X(mse_backward, n,                                                                          \
      (const float *pred, const float *target, float *dpred, float *dtarget, long n, float k), \
      (pred, target, dpred, dtarget, n, k))                                                     \
    X(adam, n,                                                                                  \
      (float *param, const float *grad, float *m, float *v, long n, float beta1,               \
       float one_minus_b1, float beta2, float one_minus_b2, float eps, float weight_decay,     \
       float step_size, float inv_sqrt_bc2),                                                    \
      (param, grad, m, v, n, beta1, one_minus_b1, beta2, one_minus_b2, eps, weight_decay,      \
       step_size, inv_sqrt_bc2))                                                                \
    X(bn_apply, (long)batch * channels * spatial,                                               \
      (const float *x, float *y, const float *scale, const float *shift, int batch,             \
       int channels, int spatial),                                                              \
      (x, y, scale, shift, batch, channels, spatial))                                           \
    X(bn_backward_dx, (long)batch * channels * spatial,                                         \
      (float *dx, const float *dy, const float *x, const float *mean, const float *invstd,     \
       const float *k, const float *mean_dy, const float *mean_dy_xhat, int batch,             \
       int channels, int spatial),                                                              \
      (dx, dy, x, mean, invstd, k, mean_dy, mean_dy_xhat, batch, channels, spatial))            \
    X(zprior_sample, (long)batch * zdims,                                                       \
      (const float *mu, const float *log_sigma, const float *noise, float *z, int batch,       \
       int zdims),                                                                              \
      (mu, log_sigma, noise, z, batch, zdims))

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
