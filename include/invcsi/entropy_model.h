/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Factorised entropy model of STQENet (DESIGN.md section 5; Balle et al. 2018, "Variational
 * image compression with a scale hyperprior", appendix 6.1): per latent dimension d a
 * learned monotone CDF over the compander output u in [0, L-1] (L = 2^B symbols).
 *
 *   v = u - (L - 1)/2                       (the network sees centred values)
 *   CDF_d(v) = sigmoid(logit_d(v)),  logit_d = a 1-3-3-3-1 network, softplus-positive
 *              weights and gates x + tanh(a) tanh(x) (kernels/stqe_math.h has the equations)
 *   p_d(s)  = CDF_d(s + 1/2 - c) - CDF_d(s - 1/2 - c), c = (L-1)/2, with the tails folded into
 *             the end symbols: CDF(lower end of symbol 0) = 0, CDF(upper end of L-1) = 1, so
 *             sum_s p_d(s) = 1 exactly in exact arithmetic
 *   bits    = -log2 max(p, INVCSI_ENTROPY_P_MIN)
 *
 * A non-integer u (the training proxy u + U(-1/2, 1/2)) uses the same formula with the bin
 * [u - 1/2, u + 1/2]; it is folded when round(u) is an end symbol, so at integer u the rate
 * term equals the discrete model the coder uses.
 *
 * Parameters: raw[dims][INVCSI_ENTROPY_PARAMS_PER_DIM] (43 per dimension, order in
 * kernels/stqe_math.h: H1[3] b1[3] a1[3] H2[3][3] b2[3] a2[3] H3[3][3] b3[3] a3[3] H4[3] b4),
 * the H entries pre-softplus and the a entries pre-tanh (CompressAI's _matrices, _biases,
 * _factors of EntropyBottleneck, per channel, in this order). Store it as one tensor
 * "entropy.raw" of shape [dims][43]. Gradients accumulate (+=) as in nn.h.
 */
#ifndef INVCSI_ENTROPY_MODEL_H
#define INVCSI_ENTROPY_MODEL_H

#include <stdint.h>

#include "invcsi/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define INVCSI_ENTROPY_PARAMS_PER_DIM 43
#define INVCSI_ENTROPY_P_MIN 1e-9f   /* likelihood floor (CompressAI's likelihood_bound) */

long invcsi_entropy_param_floats(int dims);

/* CompressAI's initialisation: logit(v) ~ v / init_scale at the start (a logistic CDF of
 * scale init_scale), biases U(-1/2, 1/2) from seed, gates 0. init_scale = L/4 spans the
 * symbol range; must be > 0. */
int invcsi_entropy_init(float *raw, int dims, float init_scale, uint64_t seed,
                        invcsi_error *err);

/* Scratch floats for rate_forward / rate_backward / cdf / pmf (one buffer serves all). */
long invcsi_entropy_scratch_floats(int dims);

/* Rate of u[batch][dims] (L = levels = 2^B, 2 <= levels <= 65536):
 *   *total_bits = sum over all entries of -log2 p (summed in double),
 *   bits[batch][dims] (may be NULL) the per-entry bits. */
int invcsi_entropy_rate_forward(float *total_bits, float *bits, const float *u,
                                const float *raw, int batch, int dims, int levels,
                                float *scratch, invcsi_error *err);
/* Accumulates du[batch][dims] and draw[dims][43] (either may be NULL) of
 * dloss * total_bits (e.g. dloss = lambda / 2048 / batch for the DESIGN loss). */
int invcsi_entropy_rate_backward(float *du, float *draw, float dloss, const float *u,
                                 const float *raw, int batch, int dims, int levels,
                                 float *scratch, invcsi_error *err);

/* CDF of dimension d at n points u (in the same symbol units as rate_forward; no folding:
 * the learned function itself, for inspection and tests). */
int invcsi_entropy_cdf(float *cdf, const float *u, long n, const float *raw, int d, int levels,
                       invcsi_error *err);

/* pmf[dims][levels]: p_d(s) for every symbol s = 0 .. levels-1, folded tails included,
 * each row summing to 1 up to float round-off (~levels * 1e-7). This is what the coder's
 * 16-bit CDF tables are quantised from. */
int invcsi_entropy_pmf(float *pmf, const float *raw, int dims, int levels, float *scratch,
                       invcsi_error *err);

#ifdef __cplusplus
}
#endif
#endif
