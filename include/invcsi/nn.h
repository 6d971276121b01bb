/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Neural-network layer library of the C core (CPU backend), in the style of
 * karpathy/llm.c: plain functions over flat float buffers that the caller owns.
 *
 *   name_forward(out, in, params..., sizes)
 *   name_backward(dinput, dparams..., dout, saved inputs/outputs..., sizes)
 *
 * Layouts are batch-first NCHW: a tensor [B][C][H][W] is B*C*H*W contiguous floats;
 * dense layers use [B][features]. Weights follow PyTorch (conv [Cout][Cin][kh][kw],
 * dense [out][in]) so trained weights can be compared with or moved to PyTorch as they are.
 *
 * GRADIENT CONVENTION (every backward function in this header):
 *   - every gradient output, the input gradient AND the parameter gradients, is
 *     ACCUMULATED (+=), never overwritten. The caller zeroes gradient buffers once (per
 *     step, per activation). This makes a tensor that feeds several consumers (residual
 *     connections, x1' feeding rho and eta in a coupling block) correct without extra code.
 *   - a gradient pointer may be NULL when that gradient is not wanted (the first layer's
 *     input, a frozen layer's weights, the stop-gradient side of a loss): it is skipped.
 *   - gradient outputs must not alias dout or any saved tensor.
 * Forward functions of element-wise layers may run in place (out == in); the others may not.
 *
 * Errors: functions whose sizes can be wrong return INVCSI_OK or INVCSI_EINVAL and fill
 * err (may be NULL); pure element-wise kernels are void (n <= 0 does nothing).
 * Hot paths never allocate: functions that need temporary memory take a caller-provided
 * scratch buffer whose size the matching *_scratch_floats function returns.
 */
#ifndef INVCSI_NN_H
#define INVCSI_NN_H

#include "invcsi/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ===== conv2d: stride 1, 'same' zero padding, odd kernel kh x kw, optional bias ========== */

typedef struct invcsi_conv2d_shape {
    int batch;        /* B */
    int in_ch;        /* Cin */
    int out_ch;       /* Cout */
    int height;       /* H (output has the same H, W) */
    int width;        /* W */
    int kh, kw;       /* kernel size, each odd >= 1 (3x3, 1x1, 1x9, 9x1, ...) */
} invcsi_conv2d_shape;

/* Validates the shape (all positive, kh and kw odd, sizes fit the int indexing of BLAS). */
int invcsi_conv2d_check(const invcsi_conv2d_shape *s, invcsi_error *err);
/* Floats in the weight tensor [Cout][Cin][kh][kw]. */
long invcsi_conv2d_weight_floats(const invcsi_conv2d_shape *s);
/* Scratch floats for conv2d_forward and conv2d_backward (one buffer serves both; nothing
 * is kept in it between the calls). Small maps are processed a chunk of samples at a time
 * so the GEMM has >= 256 columns (a chunk's matrices stay in L2); the scratch holds that
 * chunk's unrolled (im2col) matrix. */
long invcsi_conv2d_scratch_floats(const invcsi_conv2d_shape *s);

/* out[B][Cout][H][W] = conv(in[B][Cin][H][W], weight) + bias[Cout] (bias may be NULL). */
int invcsi_conv2d_forward(float *out, const float *in, const float *weight, const float *bias,
                          const invcsi_conv2d_shape *s, float *scratch, invcsi_error *err);
/* Accumulates dinput[B][Cin][H][W], dweight[Cout][Cin][kh][kw], dbias[Cout] (each may be
 * NULL) from dout[B][Cout][H][W] and the forward's input in and weight. */
int invcsi_conv2d_backward(float *dinput, float *dweight, float *dbias, const float *dout,
                           const float *in, const float *weight, const invcsi_conv2d_shape *s,
                           float *scratch, invcsi_error *err);

/* The same layer through a backend table (include/invcsi/backend.h), every pointer in that
 * backend's memory (lib/nn_conv.c, "the backend version"): used by the device-resident INN.
 * Scratch: invcsi_conv2d_be_scratch_floats (the whole batch is one GEMM). */
struct invcsi_backend;
long invcsi_conv2d_be_scratch_floats(const invcsi_conv2d_shape *s);
int invcsi_conv2d_forward_be(const struct invcsi_backend *be, float *out, const float *in,
                             const float *weight, const float *bias,
                             const invcsi_conv2d_shape *s, float *scratch, invcsi_error *err);
int invcsi_conv2d_backward_be(const struct invcsi_backend *be, float *dinput, float *dweight,
                              float *dbias, const float *dout, const float *in,
                              const float *weight, const invcsi_conv2d_shape *s, float *scratch,
                              invcsi_error *err);

/* ===== dense (fully connected): out = in W^T + b ========================================= */

/* out[B][out_dim] = in[B][in_dim] weight[out_dim][in_dim]^T + bias[out_dim] (bias may be NULL). */
int invcsi_dense_forward(float *out, const float *in, const float *weight, const float *bias,
                         int batch, int in_dim, int out_dim, invcsi_error *err);
/* Accumulates dinput[B][in_dim], dweight[out_dim][in_dim], dbias[out_dim] (each may be NULL). */
int invcsi_dense_backward(float *dinput, float *dweight, float *dbias, const float *dout,
                          const float *in, const float *weight, int batch, int in_dim,
                          int out_dim, invcsi_error *err);

/* ===== element-wise activations (n values; forward may run in place) ===================== */

#define INVCSI_LEAKY_SLOPE_INN 0.01f    /* INN / LAN subnets (PyTorch default) */
#define INVCSI_LEAKY_SLOPE_CSINET 0.3f  /* CsiNet family (Keras LeakyReLU default) */
#define INVCSI_SOFT_CLAMP_DEFAULT 2.0f  /* clamp of the coupling scale, DESIGN.md section 3 */

void invcsi_leaky_relu_forward(float *out, const float *in, long n, float slope);
/* dinput += dout * f'(in); needs the forward's INPUT. */
void invcsi_leaky_relu_backward(float *dinput, const float *dout, const float *in, long n,
                                float slope);

void invcsi_sigmoid_forward(float *out, const float *in, long n);
/* dinput += dout * y (1 - y); needs the forward's OUTPUT y. */
void invcsi_sigmoid_backward(float *dinput, const float *dout, const float *out, long n);

void invcsi_tanh_forward(float *out, const float *in, long n);
/* dinput += dout * (1 - y^2); needs the forward's OUTPUT y. */
void invcsi_tanh_backward(float *dinput, const float *dout, const float *out, long n);

/* s(u) = clamp * (2 sigmoid(u) - 1), the coupling's soft-clamped log-scale. */
void invcsi_soft_clamp_forward(float *out, const float *in, long n, float clamp);
/* dinput += dout * s'(u); needs the forward's INPUT u. */
void invcsi_soft_clamp_backward(float *dinput, const float *dout, const float *in, long n,
                                float clamp);

/* ===== batchnorm2d over [B][C][H*W] (statistics per channel over B*H*W values) =========== */

#define INVCSI_BN_EPS 1e-5f         /* PyTorch defaults; Keras (CsiNet) uses eps 1e-3 and */
#define INVCSI_BN_MOMENTUM 0.1f     /* momentum 0.99, which is 0.01 in this convention    */

/* Training mode: normalises with the batch statistics (biased variance), writes
 * save_mean[C] and save_invstd[C] = 1/sqrt(var + eps) for the backward pass, and, when
 * running_mean/running_var are not NULL, updates them as PyTorch does:
 *   running = (1 - momentum) * running + momentum * batch_stat  (variance: unbiased).
 * Needs batch * spatial >= 2. spatial = H * W. */
int invcsi_batchnorm2d_forward_train(float *out, float *save_mean, float *save_invstd,
                                     float *running_mean, float *running_var, const float *in,
                                     const float *gamma, const float *beta, int batch,
                                     int channels, int spatial, float momentum, float eps,
                                     invcsi_error *err);
/* Inference mode: out = gamma (in - running_mean) / sqrt(running_var + eps) + beta. */
int invcsi_batchnorm2d_forward_infer(float *out, const float *in, const float *gamma,
                                     const float *beta, const float *running_mean,
                                     const float *running_var, int batch, int channels,
                                     int spatial, float eps, invcsi_error *err);
/* Backward of the training mode (batch statistics). Accumulates dinput[B][C][spatial],
 * dgamma[C], dbeta[C] (each may be NULL) from dout, the forward's input and the saved
 * mean/invstd. */
int invcsi_batchnorm2d_backward(float *dinput, float *dgamma, float *dbeta, const float *dout,
                                const float *in, const float *gamma, const float *save_mean,
                                const float *save_invstd, int batch, int channels, int spatial,
                                invcsi_error *err);
/* Folds an inference-mode BN into the layer before it (conv or dense), in place:
 *   weight[o][*] *= g_o,  bias[o] = (bias[o] - running_mean[o]) * g_o + beta[o],
 *   g_o = gamma[o] / sqrt(running_var[o] + eps).
 * weight holds out_ch rows of per_out floats (Cin*kh*kw for a conv); bias must exist
 * (a layer without bias passes a zeroed buffer of out_ch floats, which receives the bias). */
int invcsi_batchnorm_fold(float *weight, float *bias, int out_ch, long per_out,
                          const float *gamma, const float *beta, const float *running_mean,
                          const float *running_var, float eps, invcsi_error *err);

/* ===== losses ============================================================================ */

/* loss = mean over n of (pred - target)^2, summed in double. */
int invcsi_mse_forward(float *loss, const float *pred, const float *target, long n,
                       invcsi_error *err);
/* dpred += dloss * 2 (pred - target) / n;  dtarget -= the same (each may be NULL).
 * dloss is the upstream gradient of the loss (1, or the loss weight such as lambda). */
int invcsi_mse_backward(float *dpred, float *dtarget, float dloss, const float *pred,
                        const float *target, long n, invcsi_error *err);

/* Unbiased MMD^2 estimate with the inverse multiquadric kernel (DESIGN.md section 3):
 *   MMD^2 = 1/(N(N-1)) sum_{i!=j} [k(a_i,a_j) + k(b_i,b_j)] - 2/N^2 sum_{i,j} k(a_i,b_j)
 *   k(x, y) = sum_c C_c / (C_c + ||x - y||^2)
 * a and b are [n][dim] (n samples of dim features; n >= 2). c_list holds n_c kernel
 * constants; c_list == NULL (or n_c == 0) means the single default C = 2 * dim.
 * Squared distances come from GEMMs (|x|^2 + |y|^2 - 2 x.y, clamped at 0), so they carry
 * an absolute float error of ~1e-7 * |x|^2: keep every C well above it (the default
 * 2 * dim is; a C << 1 on coincident points would see it).
 * The result can be slightly negative (an unbiased estimate of a non-negative value). */
long invcsi_mmd_scratch_floats(int n);
/* Writes *loss and keeps the three n x n distance matrices in scratch for the backward. */
int invcsi_mmd_imq_forward(float *loss, const float *a, const float *b, int n, int dim,
                           const float *c_list, int n_c, float *scratch, invcsi_error *err);
/* Accumulates da[n][dim] and db[n][dim] (either may be NULL: the stop-gradient side), times
 * dloss. scratch must be the one the forward filled with these a, b (unchanged since). */
int invcsi_mmd_imq_backward(float *da, float *db, float dloss, const float *a, const float *b,
                            int n, int dim, const float *c_list, int n_c, float *scratch,
                            invcsi_error *err);

/* The MMD through a backend table, every pointer (c_list too) in its memory: loss is ONE
 * double in backend memory receiving the float loss (kernel mmd_loss: the host version's
 * double sum, serial), scratch as above. The host functions above are these on the CPU
 * table. */
int invcsi_mmd_imq_forward_be(const struct invcsi_backend *be, double *loss, const float *a,
                              const float *b, int n, int dim, const float *c_list, int n_c,
                              float *scratch, invcsi_error *err);
int invcsi_mmd_imq_backward_be(const struct invcsi_backend *be, float *da, float *db,
                               float dloss, const float *a, const float *b, int n, int dim,
                               const float *c_list, int n_c, float *scratch,
                               invcsi_error *err);
/* invcsi_mse_backward through a backend table. */
int invcsi_mse_backward_be(const struct invcsi_backend *be, float *dpred, float *dtarget,
                           float dloss, const float *pred, const float *target, long n,
                           invcsi_error *err);

/* ===== Adam and the learning-rate schedule =============================================== */

typedef struct invcsi_adam_config {
    double lr;            /* 1e-3 (DESIGN.md section 4) */
    double beta1;         /* 0.9 */
    double beta2;         /* 0.999 */
    double eps;           /* 1e-8 */
    double weight_decay;  /* 0: L2 term added to the gradient (torch.optim.Adam semantics) */
} invcsi_adam_config;

invcsi_adam_config invcsi_adam_default(void);

/* One Adam step over a flat parameter buffer with its moment buffers m and v (zeroed
 * before the first step). t is the 1-based count of steps taken including this one (it
 * drives the bias correction). */
int invcsi_adam_step(float *param, const float *grad, float *m, float *v, long n,
                     const invcsi_adam_config *cfg, long t, invcsi_error *err);

#define INVCSI_LR_DECAY_GAMMA 0.9     /* DESIGN.md section 4: lr x 0.9 ... */
#define INVCSI_LR_DECAY_EPOCHS 20     /* ... every 20 epochs */
/* Step decay: lr0 * gamma^floor(epoch / step_epochs), epoch counted from 0.
 * step_epochs <= 0 means no decay. */
double invcsi_lr_step_decay(double lr0, double gamma, int step_epochs, int epoch);

/* Sum of squares of g[0..n), in double. */
double invcsi_grad_sumsq(const float *g, long n);
/* Global-norm clipping over count gradient buffers (grads[i] has lens[i] floats): when
 * the joint L2 norm exceeds max_norm > 0, every buffer is scaled by max_norm / norm.
 * Returns the norm before clipping (to log). */
double invcsi_clip_grad_norm(float *const *grads, const long *lens, int count, double max_norm);

#ifdef __cplusplus
}
#endif
#endif
