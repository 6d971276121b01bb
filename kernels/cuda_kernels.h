/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Launchers of the CUDA kernels (kernels/elementwise.cu, kernels/reduce.cu), plain C, for
 * the CUDA backend's glue. Built into the static library invcsi_cuda only where nvcc is
 * present (kernels/CMakeLists.txt); never called from the CPU build.
 *
 * Conventions of every launcher:
 *  - every pointer is a DEVICE pointer (the c_list of the MMD kernels too); the
 *    arguments mean what they mean in the lib/ function the kernel mirrors (named below);
 *  - stream is a cudaStream_t (NULL: the legacy default stream);
 *  - the launch is asynchronous; the return value is the cudaError_t of the launch
 *    (cudaGetLastError() right after it) as an int: 0 = cudaSuccess. A launch with no
 *    items is skipped and returns 0;
 *  - geometry: INVCSI_BLOCK (256) threads, invcsi_grid_1d(items) blocks (at most 2048),
 *    grid-stride loop (kernels/launch.h). The per-item code is kb_<name> in
 *    kernels/kernel_bodies.h, the same text the host emulator runs in the tests;
 *  - "+=" outputs accumulate like the CPU functions do; "may be NULL" as there.
 */
#ifndef INVCSI_CUDA_KERNELS_H
#define INVCSI_CUDA_KERNELS_H

#include <stdint.h>

#include "launch.h"

#ifdef __cplusplus
extern "C" {
#endif

/* activations (lib/nn_activation.c): forward y =, backward dx += dy f'(x or saved y) */
int invcsi_cuda_leaky_relu_forward(const float *x, float *y, long n, float slope, void *stream);
int invcsi_cuda_leaky_relu_backward(float *dx, const float *dy, const float *x, long n,
                                    float slope, void *stream);
int invcsi_cuda_sigmoid_forward(const float *x, float *y, long n, void *stream);
int invcsi_cuda_sigmoid_backward(float *dx, const float *dy, const float *y, long n,
                                 void *stream);
int invcsi_cuda_tanh_forward(const float *x, float *y, long n, void *stream);
int invcsi_cuda_tanh_backward(float *dx, const float *dy, const float *y, long n, void *stream);
int invcsi_cuda_soft_clamp_forward(const float *x, float *y, long n, float clamp, void *stream);
int invcsi_cuda_soft_clamp_backward(float *dx, const float *dy, const float *x, long n,
                                    float clamp, void *stream);

/* affine coupling (lib/inn_coupling.c, kernels/inn_math.h); r, e: rho's and eta's outputs */
int invcsi_cuda_affine_forward(const float *x2, const float *r, const float *e, float *y2,
                               long n, float clamp, void *stream);
int invcsi_cuda_affine_inverse(const float *y2, const float *r, const float *e, float *x2,
                               long n, float clamp, void *stream);
/* dx2 += (may be NULL), dr = */
int invcsi_cuda_affine_forward_grad(const float *dy2, const float *x2, const float *r,
                                    float *dx2, float *dr, long n, float clamp, void *stream);
/* dy2 += (may be NULL), dr =, de = (de may be dx2 itself) */
int invcsi_cuda_affine_inverse_grad(const float *dx2, const float *x2, const float *r,
                                    float *dy2, float *dr, float *de, long n, float clamp,
                                    void *stream);

/* data movement: invcsi_patchify/unpatchify (lib/inn_front.c; h, w multiples of p), and the
 * im2col / col2im (+=) of one chunk of cn samples of a stride-1 'same' conv (lib/nn_conv.c) */
int invcsi_cuda_patchify(const float *in, float *out, int batch, int planes, int h, int w,
                         int p, void *stream);
int invcsi_cuda_unpatchify(const float *in, float *out, int batch, int planes, int h, int w,
                           int p, void *stream);
int invcsi_cuda_im2col(const float *in, float *col, int cn, int cin, int H, int W, int kh,
                       int kw, void *stream);
int invcsi_cuda_col2im_add(const float *col, float *din, int cn, int cin, int H, int W, int kh,
                           int kw, void *stream);

/* DAQ (lib/daq.c): nk = 2^bits - 1; tables thr[dims][nk], step[dims][nk], lev[dims][nk+1];
 * n = batch * dims values. daq_backward needs work = 2 * dims * nk doubles. */
int invcsi_cuda_daq_derive(const float *thr_raw, const float *step_raw, int dims, int nk,
                           float range, float *thr, float *step, float *lev, void *stream);
int invcsi_cuda_daq_forward(const float *y, const float *thr, const float *step,
                            const float *lev, long n, int dims, int nk, float range, float beta,
                            float *q_hard, float *q_soft, int *indices, void *stream);
/* The backward is two launches (sums over the batch, then the chain rule to the raw
 * parameters); invcsi_cuda_daq_backward runs both, with the meaning of invcsi_daq_backward. */
int invcsi_cuda_daq_backward_sums(const float *thr, const float *step, const float *y,
                                  const float *dq, int batch, int dims, int nk, float beta,
                                  float *dy, double *work, void *stream);
int invcsi_cuda_daq_backward_raw(const float *thr_raw, const float *step_raw,
                                 const double *work, const float *dlevels, int dims, int nk,
                                 float *dthr_raw, float *dstep_raw, void *stream);
int invcsi_cuda_daq_backward(const float *thr_raw, const float *step_raw, const float *thr,
                             const float *step, const float *y, const float *dq,
                             const float *dlevels, int batch, int dims, int nk, float beta,
                             float *dy, float *dthr_raw, float *dstep_raw, double *work,
                             void *stream);
int invcsi_cuda_daq_quantize(const float *y, const float *thr, long n, int dims, int nk,
                             int *indices, void *stream);
int invcsi_cuda_daq_dequantize(const float *levels, const int *indices, long n, int dims, int L,
                               float *out, void *stream);

/* D-BCD (lib/dbcd.c): L = 2^bits, save[n][3L]; dbcd_backward needs work_dc = dims * L
 * doubles and work_u = dims * L floats. */
int invcsi_cuda_dbcd_forward(const float *q, const float *levels, const float *P,
                             const float *gumbel, long n, int dims, int L, float delta,
                             float tau, float *y, int *detected, float *y_soft, float *save,
                             void *stream);
int invcsi_cuda_dbcd_backward(const float *dy, const float *q, const float *levels,
                              const float *P, const float *save, int batch, int dims, int L,
                              float delta, float tau, float *dq, float *dlevels,
                              double *work_dc, float *work_u, void *stream);

/* BPSK (lib/bitlink.c): sqrt_es = sqrtf(Es); scale = 4 sqrt(Es) / N0 */
int invcsi_cuda_bpsk_map(const uint8_t *bits, float *sym, long n, float sqrt_es, void *stream);
int invcsi_cuda_bpsk_hard(const float *rx, uint8_t *bits, long n, int stride, void *stream);
int invcsi_cuda_bpsk_llr(const float *rx, float *llr, long n, int stride, float scale,
                         void *stream);

/* losses (lib/nn_loss.c): n x n matrices of the MMD; MSE = sum(sq_err) / n */
int invcsi_cuda_sq_dist_finish(float *d2, const float *nx, const float *ny, int n, int same_set,
                               void *stream);
int invcsi_cuda_mmd_kernel(const float *d2, float *kval, int n, float coef, const float *c_list,
                           int n_c, float c_default, int zero_diag, void *stream);
int invcsi_cuda_mmd_weight(const float *d2, float *w, int n, float coef, const float *c_list,
                           int n_c, float c_default, int zero_diag, void *stream);
int invcsi_cuda_sq_err(const float *pred, const float *target, float *err, long n, void *stream);
int invcsi_cuda_mse_backward(const float *pred, const float *target, float *dpred,
                             float *dtarget, long n, float k, void *stream);

/* Adam (lib/nn_adam.c): the scalars as invcsi_adam_step computes them for step t */
int invcsi_cuda_adam(float *param, const float *grad, float *m, float *v, long n, float beta1,
                     float one_minus_b1, float beta2, float one_minus_b2, float eps,
                     float weight_decay, float step_size, float inv_sqrt_bc2, void *stream);

/* batchnorm2d (lib/nn_batchnorm.c), per-channel vectors from the statistics */
int invcsi_cuda_bn_apply(const float *x, float *y, const float *scale, const float *shift,
                         int batch, int channels, int spatial, void *stream);
int invcsi_cuda_bn_backward_dx(float *dx, const float *dy, const float *x, const float *mean,
                               const float *invstd, const float *k, const float *mean_dy,
                               const float *mean_dy_xhat, int batch, int channels, int spatial,
                               void *stream);

/* IC prior (lib/ic.c): z = mu + exp(log_sigma) noise (noise may be NULL: z = mu) */
int invcsi_cuda_zprior_sample(const float *mu, const float *log_sigma, const float *noise,
                              float *z, int batch, int zdims, void *stream);

/* Every kernel of the list, the ones above and those of the device-resident INN step
 * (fill, copy_rows, add_scaled, scale, gather/scatter_perm, channel_perm, im2col_planes,
 * col2im_planes_add, nchw_to_rows, rows_to_nchw, mirror_weight, unmirror_add, plane_fill,
 * channel_sums, row_sums, row_sumsq, row_scale_add, mmd_loss, report_sse, sse_finish:
 * parameters and meaning in kernels/kernel_bodies.h), declared from the list itself. */
#include "kernel_list.h"
#define INVCSI_CUDA_LAUNCHER_DECL(name, n_expr, params, args)                                 \
    int invcsi_cuda_##name(INVCSI_UNPAREN params, void *stream);
INVCSI_ELEMENTWISE_KERNELS(INVCSI_CUDA_LAUNCHER_DECL)
#undef INVCSI_CUDA_LAUNCHER_DECL

/* Sum of x[0..n) (kernels/reduce.cu): the documented block reduction of
 * kernels/kernel_bodies.h, two launches. partial: invcsi_cuda_sum_partials(n) floats of
 * device scratch; *result (device) = the float sum. Fixed order: the same bits every run. */
static inline long invcsi_cuda_sum_partials(long n) { return (long)invcsi_grid_1d(n); }
int invcsi_cuda_sum(const float *x, long n, float *partial, float *result, void *stream);

#ifdef __cplusplus
}
#endif

#endif
