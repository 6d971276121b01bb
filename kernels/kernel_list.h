/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The list of the element-wise CUDA kernels, alone (no math), so that
 * include/invcsi/backend.h can generate the kernel table (invcsi_kernels, one function
 * pointer per kernel) from it without pulling the kernel bodies into every user of the
 * backend. The bodies kb_<name> are in kernels/kernel_bodies.h; see there for the format
 *   X(name, item count, (parameters), (parameter names)).
 */
#ifndef INVCSI_KERNEL_LIST_H
#define INVCSI_KERNEL_LIST_H

#include <stdint.h>

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
      (mu, log_sigma, noise, z, batch, zdims))                                                 \
    X(im2col_planes, (long)cin * cn,                                                    \
      (const float *in, float *col, int cn, int cin, int H, int W, int kh, int kw),            \
      (in, col, cn, cin, H, W, kh, kw))                                                         \
    X(col2im_planes_add, (long)cn * cin,                                                      \
      (const float *col, float *din, int cn, int cin, int H, int W, int kh, int kw),           \
      (col, din, cn, cin, H, W, kh, kw))                                                        \
    X(mirror_weight, (long)cout * kk,                                                           \
      (float *wf, const float *w, int cout, int cin, int kk), (wf, w, cout, cin, kk))          \
    X(unmirror_add, (long)cout * cin,                                                           \
      (float *dw, const float *dwf, int cout, int cin, int kk), (dw, dwf, cout, cin, kk))      \
    X(plane_fill, (long)cn * ch, (float *x, const float *bias, int cn, int ch, long hw),       \
      (x, bias, cn, ch, hw))                                                                    \
    X(channel_sums, ch, (float *out, const float *x, int cn, int ch, long hw, int accumulate), \
      (out, x, cn, ch, hw, accumulate))                                                         \
    X(fill, n, (float *x, long n, float value), (x, n, value))                                  \
    X(copy_rows, rows *cols,                                                                    \
      (float *dst, const float *src, long rows, long cols, long dst_stride, long src_stride),  \
      (dst, src, rows, cols, dst_stride, src_stride))                                           \
    X(add_scaled, n, (float *out, const float *x, const float *y, long n, float alpha),        \
      (out, x, y, n, alpha))                                                                    \
    X(scale, n, (float *out, const float *x, long n, float alpha), (out, x, n, alpha))          \
    X(gather_perm, (long)batch * dim,                                                           \
      (float *out, const float *in, const float *perm, int batch, int dim),                    \
      (out, in, perm, batch, dim))                                                              \
    X(scatter_perm, (long)batch * dim,                                                          \
      (float *out, const float *in, const float *perm, int batch, int dim),                    \
      (out, in, perm, batch, dim))                                                              \
    X(channel_perm, (long)batch * channels * g,                                                 \
      (const float *s1, const float *s2, float *d1, float *d2, const float *perm, int batch,   \
       int channels, int c1, int g, int inverse),                                               \
      (s1, s2, d1, d2, perm, batch, channels, c1, g, inverse))                                  \
    X(nchw_to_rows, (long)cn * ch, (float *r, const float *x, int cn, int ch, long hw),   \
      (r, x, cn, ch, hw))                                                                       \
    X(rows_to_nchw, (long)cn * ch,                                                         \
      (float *x, const float *r, const float *bias, int cn, int ch, long hw, int accumulate),  \
      (x, r, bias, cn, ch, hw, accumulate))                                                     \
    X(row_sums, rows,                                                                           \
      (float *out, const float *x, long rows, long cols, long rs, long cs, int accumulate),    \
      (out, x, rows, cols, rs, cs, accumulate))                                                 \
    X(row_sumsq, rows, (float *out, const float *x, long rows, long cols),                     \
      (out, x, rows, cols))                                                                     \
    X(row_scale_add, rows *cols,                                                                \
      (float *dx, const float *r, const float *x, long rows, long cols), (dx, r, x, rows, cols)) \
    X(mmd_loss, 1,                                                                              \
      (const float *d2_aa, const float *d2_bb, const float *d2_ab, int n, const float *c_list, \
       int n_c, float c_default, double *loss),                                                 \
      (d2_aa, d2_bb, d2_ab, n, c_list, n_c, c_default, loss))                                   \
    X(report_sse, batch,                                                                        \
      (const float *x, const float *xhat, int batch, int dim, double *e, double *p),           \
      (x, xhat, batch, dim, e, p))                                                              \
    X(sse_finish, 1, (const double *e, const double *p, int batch, double *out),               \
      (e, p, batch, out))

#endif
