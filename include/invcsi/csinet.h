/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * CsiNet, the baseline autoencoder of DESIGN.md section 6 (C.-K. Wen, W.-T. Shih, S. Jin,
 * "Deep learning for massive MIMO CSI feedback", IEEE WCL 2018, and its public Keras code),
 * as a model kind of include/invcsi/model.h: kind "csinet", ops table invcsi_csinet_ops.
 *
 * x is one report as a [2][nr*nt][nc] map (real/imag planes, channels first), S = nr*nt*nc
 * pixels per plane, dim = 2 S values:
 *
 *   encoder  conv 3x3 2->2 (bias) -> BN -> LeakyReLU -> flatten (dim) -> dense dim -> m
 *            (linear); y = the m outputs.
 *   decoder  dense m -> dim (linear) -> reshape [2][nr*nt][nc]
 *            -> refine_blocks x RefineNet:   t = LReLU(BN(conv 2->8 (in)))
 *                                            t = LReLU(BN(conv 8->16 (t)))
 *                                            out = LReLU(BN(conv 16->2 (t)) + in)
 *            -> conv 3x3 2->2 (bias), LINEAR output.
 *   All convs are 3x3, stride 1, 'same' zero padding, with bias (Keras Conv2D default).
 *   LeakyReLU slope cfg.leaky_slope (0.3, the Keras default the published code uses).
 *
 * Loss of train_step: MSE(x^, x), the mean over all batch * dim values; total = mse.
 *
 * Deviations from the published model, on purpose:
 *   - Output activation: the published final conv has a sigmoid because COST2100 data are
 *     scaled into [0, 1] around 0.5. Our x is the zero-mean, unit-power angular-delay tensor
 *     (transform.h), which a sigmoid cannot reach, so the final conv is linear.
 *   - BatchNorm axis: the published code calls Keras BatchNormalization() with its default
 *     axis = -1 on channels_first tensors, i.e. it normalises over the WIDTH (delay) axis with
 *     one gamma/beta per delay tap, an accident of the Keras defaults. Here BN is per channel
 *     (the axis a channels_first BN means), statistics over batch x height x width.
 *   - BN epsilon 1e-3 (Keras); momentum INVCSI_BN_MOMENTUM = 0.1 in nn.h's convention
 *     (Keras' 0.99 would be 0.01: the faster average suits our shorter training runs).
 * Everything else (layer sizes, biases, LeakyReLU 0.3, Glorot-uniform kernels, zero biases,
 * BN gamma 1 / beta 0 / running mean 0 / running var 1) follows the Keras code.
 *
 * Parameter count (dim 2048, m 512, CR 1/4): 2,103,116 trainable values (conv and dense
 * weights and biases 2,103,008, BN gamma/beta 108) plus 108 BN running statistics, stored
 * as frozen tensors. The published-table figure 2,103,120 is 4 more: see
 * tests/test_csinet.c for the accounting.
 *
 * BatchNorm modes: train_step uses batch statistics and updates the running mean/var
 * (tensors "<layer>.running_mean", "<layer>.running_var", frozen, saved with the weights);
 * encode and decode use the running statistics, so a report's output does not depend on
 * the rest of the batch. By default inference folds each BN into the conv before it (the
 * folded copies are recomputed on every call from the current weights, a few thousand
 * floats, so loading or training never leaves them stale).
 *
 * Tensor names (PyTorch conventions: BN gamma is "weight", beta "bias"):
 *   enc.conv.{weight,bias}  enc.bn.{weight,bias,running_mean,running_var}
 *   enc.fc.{weight,bias}    dec.fc.{weight,bias}
 *   dec.refine.<r>.conv<k>.{weight,bias}  dec.refine.<r>.bn<k>.{...}   (k = 1, 2, 3)
 *   dec.out.{weight,bias}
 *
 * Memory: reserve(max_batch) allocates every activation and scratch buffer; train_step,
 * encode and decode never allocate. They share those buffers: one call at a time per model
 * (two threads need two models, e.g. two loads of the same weights file).
 */
#ifndef INVCSI_CSINET_H
#define INVCSI_CSINET_H

#include "invcsi/error.h"
#include "invcsi/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define INVCSI_CSINET_BN_EPS 1e-3f /* Keras BatchNormalization default */

/* Trainable parameters of a CsiNet config (conv/dense weights and biases, BN gamma and
 * beta), computed from the sizes without building the model; with_running_stats adds
 * the BN running mean/var (the frozen tensors). -1 when cfg is not a valid CsiNet. */
long invcsi_csinet_param_count(const invcsi_model_config *cfg, int with_running_stats);

/* The training step of invcsi_csinet_ops.train_step, which in addition ACCUMULATES the
 * gradient of the loss with respect to the input x into dx[batch * dim] when dx is not
 * NULL (both paths: through the encoder and as the MSE target). For gradient checks and
 * input-sensitivity studies. */
int invcsi_csinet_train_step_dx(invcsi_model *m, const float *x, int batch,
                                invcsi_losses *out, float *dx, invcsi_error *err);

/* Inference path of encode/decode: 1 (default) folds every BN into its conv, 0 runs the
 * conv and the BN (running statistics) as separate passes. Both compute the same function
 * up to float rounding. No-op on a model that is not a CsiNet. */
void invcsi_csinet_set_bn_fold(invcsi_model *m, int fold);

#ifdef __cplusplus
}
#endif
#endif
