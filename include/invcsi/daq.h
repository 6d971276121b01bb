/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * DAQ: the differentiable adaptive quantizer of InvCSINet (DESIGN.md section 4), CPU
 * backend; the per-element math is kernels/daq_math.h.
 *
 * Per latent dimension d (M = dims of them), L = 2^B levels (B = bits, 1..8):
 *   thresholds b_1 < ... < b_{L-1},  steps s_1..s_{L-1} > 0,
 *   levels c_0 = -R, c_j = c_0 + s_1 + ... + s_j            (R = range, 1 by default)
 *   soft:  q(y) = c_0 + sum_k s_k sigmoid(beta (y - b_k))
 *   hard:  j(y) = #{k : y > b_k},  q = c_j
 * Training forward: the HARD value with the gradient of the soft one (straight-through).
 * The soft value is returned too: it is the better input for D-BCD (dbcd.h explains why);
 * the backward is the same either way (the gradient of the soft value).
 *
 * Parameters (2 (L-1) raw floats per dimension, two tensors the caller owns):
 *   thr_raw  [M][L-1]   b_1 = t_0,  b_{k+1} = b_k + softplus(t_k) + gap
 *   step_raw [M][L-1]   s_k = softplus(u_k) + gap,        gap = INVCSI_DAQ_MIN_GAP * R
 * so any raw values give strictly increasing thresholds and levels (see daq_math.h).
 * Suggested tensor names: "daq.threshold_raw", "daq.step_raw" (invcsi_daq_add_params).
 *
 * Layouts are batch-first: y, q [batch][M]; indices [batch][M] (int, 0..L-1).
 * Gradients follow nn.h: every backward ACCUMULATES (+=) into the buffers it is given; a
 * NULL gradient pointer is skipped.
 */
#ifndef INVCSI_DAQ_H
#define INVCSI_DAQ_H

#include "invcsi/error.h"
#include "invcsi/params.h"

#ifdef __cplusplus
extern "C" {
#endif

#define INVCSI_DAQ_MAX_BITS 8
#define INVCSI_DAQ_RANGE_DEFAULT 1.0f

typedef struct invcsi_daq_config {
    int dims;    /* M, latent values per report */
    int bits;    /* B in 1..8: L = 2^B levels */
    float range; /* R > 0: the lowest level is -R, the uniform init spans [-R, R] */
} invcsi_daq_config;

/* Validates dims >= 1, bits in 1..8, range > 0 and finite. */
int invcsi_daq_check(const invcsi_daq_config *cfg, invcsi_error *err);
/* L = 2^bits. */
int invcsi_daq_levels_count(const invcsi_daq_config *cfg);
/* Parameters: 2 (L - 1) M. */
long invcsi_daq_param_count(const invcsi_daq_config *cfg);

/* Adds <prefix>.threshold_raw and <prefix>.step_raw, each [M][L-1], to p (before finalize);
 * offsets may be NULL. */
int invcsi_daq_add_params(invcsi_params *p, const char *prefix, const invcsi_daq_config *cfg,
                          size_t *thr_offset, size_t *step_offset, invcsi_error *err);

/* Uniform quantizer on [-R, R]: levels -R + j 2R/(L-1), thresholds at the midpoints
 * (b_k = -R + (k - 1/2) 2R/(L-1)), steps 2R/(L-1). Writes thr_raw and step_raw [M][L-1]. */
int invcsi_daq_init_uniform(const invcsi_daq_config *cfg, float *thr_raw, float *step_raw,
                            invcsi_error *err);

/* Derived tables, the values the parameters stand for (filled by invcsi_daq_derive and by
 * invcsi_daq_forward_train, read by the backward, the quantizer and D-BCD). */
typedef struct invcsi_daq_tables {
    float *thresholds; /* [M][L-1] */
    float *steps;      /* [M][L-1] */
    float *levels;     /* [M][L]   levels[d][j] = c_j of dimension d */
} invcsi_daq_tables;

/* Floats of the tables: M (3L - 2). */
long invcsi_daq_tables_floats(const invcsi_daq_config *cfg);
/* Points t at buf (tables_floats floats). */
void invcsi_daq_tables_bind(invcsi_daq_tables *t, const invcsi_daq_config *cfg, float *buf);
/* Raw parameters -> thresholds, steps, levels. */
void invcsi_daq_derive(const invcsi_daq_config *cfg, const float *thr_raw, const float *step_raw,
                       const invcsi_daq_tables *t);

/* Training forward over [batch][M]: derives the tables into t (saved for the backward and
 * for D-BCD: t->levels), then q_hard = c_{j(y)} (the straight-through value), and when not
 * NULL: q_soft = the soft value at this beta, indices = j(y). beta > 0. */
int invcsi_daq_forward_train(const invcsi_daq_config *cfg, const float *thr_raw,
                             const float *step_raw, const invcsi_daq_tables *t, const float *y,
                             int batch, float beta, float *q_hard, float *q_soft, int *indices,
                             invcsi_error *err);

/* Backward through the SOFT value (straight-through) from dq [batch][M], plus optionally
 * the gradient of the levels dlevels [M][L] (from D-BCD; NULL if none: c_0 is fixed, so
 * dlevels[d][0] is ignored). Needs the forward's y, beta and tables t (the raw parameters
 * unchanged since). Accumulates dy [batch][M], dthr_raw and dstep_raw [M][L-1] (each may
 * be NULL). Parallel over dimensions; the result does not depend on the thread count. */
int invcsi_daq_backward(const invcsi_daq_config *cfg, const float *thr_raw, const float *step_raw,
                        const invcsi_daq_tables *t, const float *y, const float *dq,
                        const float *dlevels, int batch, float beta, float *dy,
                        float *dthr_raw, float *dstep_raw, invcsi_error *err);

/* Only the levels' chain (no soft path): accumulates dstep_raw [M][L-1] from dlevels [M][L]. */
int invcsi_daq_levels_backward(const invcsi_daq_config *cfg, const float *step_raw,
                               const float *dlevels, float *dstep_raw, invcsi_error *err);

/* Inference: indices [batch][M] = j(y) from the derived thresholds (t filled by derive). */
void invcsi_daq_quantize(const invcsi_daq_config *cfg, const invcsi_daq_tables *t,
                         const float *y, int batch, int *indices);
/* Indices -> levels: out [batch][M] = levels[d][indices] (levels [M][L]; an index outside
 * 0..L-1 is clamped into it, so corrupt input never reads out of bounds). */
void invcsi_daq_dequantize(const invcsi_daq_config *cfg, const float *levels,
                           const int *indices, int batch, float *out);

#ifdef __cplusplus
}
#endif
#endif
