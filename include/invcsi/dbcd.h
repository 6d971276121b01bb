/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * D-BCD: the differentiable bit-channel distortion of InvCSINet's training (DESIGN.md
 * section 4), CPU backend; per-element math in kernels/dbcd_math.h.
 *
 * Per latent value q (the DAQ's training output, soft or hard: see below) of dimension d, with its
 * levels c_0..c_{L-1} (the DAQ tables' levels [M][L]):
 *   p_j   = softmax_j(-(q - c_j)^2 / delta)           soft index of the sent level
 *   P_ij  = eps^d(i,j) (1 - eps)^(B - d(i,j))          eps = Q(sqrt(2 snr)), d = Hamming
 *                                                      distance of the B-bit labels
 *   pi    = P^T p                                      distribution of the detected index
 *   g     = softmax((log pi + G) / tau),  G ~ Gumbel(0, 1)
 *   forward: y~ = c_{j*}, j* = argmax g (one-hot, straight-through)
 *   backward: the exact gradient of the soft surrogate y~_soft = sum_j g_j c_j, w.r.t. q
 *             and the levels c (G held fixed).
 * On the levels: in the PyTorch idiom (onehot - g.detach() + g) . c the direct term of
 * dL/dc_j is onehot_j; here it is g_j, so that the whole backward is the gradient of one
 * function (y~_soft) and can be checked against finite differences. The two agree as
 * tau -> 0. The levels' gradient reaches the DAQ raw parameters through the dlevels
 * argument of invcsi_daq_backward.
 *
 * The transition matrix depends only on B, the mapping and snr (linear Eb/N0); the
 * forward takes it as a float table (invcsi_dbcd_transition_float) computed once per SNR.
 * The Gumbel noise is an INPUT [batch][M][L] (invcsi_gumbel_fill fills it from an rng), so
 * a test or a reproducible run can hold it fixed.
 * Gradients accumulate (+=), NULL gradient pointers are skipped (nn.h convention).
 */
#ifndef INVCSI_DBCD_H
#define INVCSI_DBCD_H

#include <stdint.h>

#include "invcsi/error.h"
#include "invcsi/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Which q to feed, and delta. p is a softmax over -(q - c_j)^2 / delta:
 *   - q = the DAQ's HARD training output sits exactly on a level, so p is one-hot unless
 *     delta is comparable to the squared level spacing; but then the forward also sends a
 *     neighbour level by mistake (about 2 exp(-spacing^2 / delta) when small; 25 % at B = 4,
 *     R = 1, delta = 0.01) on top of the channel's bit errors, and with a small delta the
 *     gradient w.r.t. q vanishes (p saturated), so nothing reaches the DAQ thresholds or the
 *     encoder through D-BCD (the levels still get dlevels).
 *   - q = the DAQ's SOFT value (invcsi_daq_forward_train's q_soft; the paper's "due to soft
 *     quantization, q may not lie exactly on the quantization points") lies, once beta is
 *     large (beta x spacing >> 1), on a level inside a quantization cell and between two
 *     levels only near a threshold: a small delta
 *     then gives a one-hot p inside cells (no artificial errors) and a soft one near the
 *     thresholds, where the gradient carries the information "which level would be sent".
 *     The forward value y~ is still a level (one-hot g), and the DAQ backward is then the
 *     exact gradient of q_soft.
 * invcsi_dbcd_delta_default: 0.1 x the squared uniform spacing (2R/(L-1))^2, so a neighbour
 * at one spacing has weight exp(-10) = 4.5e-5 and the soft zone around a threshold is
 * ~0.1 spacing wide. tau does not change the forward value (argmax is scale-free), only the
 * gradient; 1 is the usual Gumbel-softmax start. Both are arguments: tune in the trainer. */
float invcsi_dbcd_delta_default(int bits, float range);
#define INVCSI_DBCD_TAU_DEFAULT 1.0f /* keep tau <= ~2 (see kernels/dbcd_math.h) */

typedef struct invcsi_dbcd_config {
    int dims;    /* M */
    int bits;    /* B in 1..8, L = 2^B */
    float delta; /* > 0: sharpness of the soft index */
    float tau;   /* > 0: Gumbel-softmax temperature */
} invcsi_dbcd_config;

int invcsi_dbcd_check(const invcsi_dbcd_config *cfg, invcsi_error *err);

/* Transition matrix P [L][L] in double, row i = distribution of the detected index given
 * sent index i, for a per-bit crossover probability eps in [0, 1] (binary symmetric channel
 * on the B-bit label under the mapping). Rows sum to 1. */
int invcsi_dbcd_transition_eps(double *P, int bits, double eps, int mapping, invcsi_error *err);
/* Same with eps = Q(sqrt(2 snr)) (BPSK over AWGN, snr = linear Eb/N0 >= 0, finite). */
int invcsi_dbcd_transition(double *P, int bits, double snr, int mapping, invcsi_error *err);
/* The same matrix in float (the forward's input); entries below float range are 0 or
 * subnormal, which is harmless (dbcd_math.h). */
int invcsi_dbcd_transition_float(float *P, int bits, double snr, int mapping,
                                 invcsi_error *err);

/* Floats the forward saves for the backward: batch * M * 3L (p, pi, g). */
long invcsi_dbcd_save_floats(const invcsi_dbcd_config *cfg, int batch);

/* Fills n standard Gumbel values (-log(-log U)) from r. */
void invcsi_gumbel_fill(float *G, long n, invcsi_rng *r);
/* Fills G [items][per_item], item b from its own stream (seed, first_stream + b), in
 * parallel: the values do not depend on the thread count (e.g. items = batch, per_item =
 * M L, first_stream = a global sample counter). */
void invcsi_gumbel_fill_streams(float *G, int items, long per_item, uint64_t seed,
                                uint64_t first_stream);

/* Forward over [batch][M]:
 *   q [batch][M], levels [M][L], P [L][L] (float transition), gumbel [batch][M][L]
 *   -> y [batch][M] = c_{j*} (one-hot forward value),
 *      detected [batch][M] = j* (may be NULL),
 *      y_soft [batch][M] = sum_j g_j c_j (may be NULL; for diagnostics and tests),
 *      save [save_floats] (for the backward). */
int invcsi_dbcd_forward(const invcsi_dbcd_config *cfg, const float *q, const float *levels,
                        const float *P, const float *gumbel, int batch, float *y,
                        int *detected, float *y_soft, float *save, invcsi_error *err);

/* Backward from dy [batch][M]: accumulates dq [batch][M] and dlevels [M][L] (each may be
 * NULL). Needs the forward's q, levels, P and save. Parallel over dimensions; the
 * result does not depend on the thread count. */
int invcsi_dbcd_backward(const invcsi_dbcd_config *cfg, const float *dy, const float *q,
                         const float *levels, const float *P, const float *save, int batch,
                         float *dq, float *dlevels, invcsi_error *err);

#ifdef __cplusplus
}
#endif
#endif
