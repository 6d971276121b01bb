/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The real-bit feedback link of DESIGN.md section 4, for ANY model kind: the one pipeline
 * that invcsi-eval, the tests and the GNU Radio blocks share.
 *
 *   x --encode--> latent --quantizer--> indices [M] --labels--> bits [M*B]
 *     --BPSK (complex, Es = 1)--> + complex AWGN at Eb/N0 --> hard ML (sign) detection
 *     --> bits --> indices --> levels --> (InvCSINet: IC) --> decode --> x^
 *
 * Quantizer: an InvCSINet model uses its own learned DAQ, bits and mapping (invcsinet.h).
 * Any other model (inn, csinet) gets a per-dimension UNIFORM B-bit quantizer whose range
 * is fitted on the training reports (invcsi_link_fit: the MSE-best range per dimension,
 * invcsi_uniform_range_fit), levels at both range ends and thresholds at the midpoints,
 * with the mapping of the config. D-BCD is never used here.
 *
 * Decoder's auxiliary variable: z = its prior mean (InvCSINet: mu; ideal INN: 0), or a
 * sample (InvCSINet: mu + sigma n; INN: n ~ N(0, I)); a model without one (CsiNet)
 * ignores the choice.
 *
 * Randomness: report r (the global index first_report + i of a batch's i-th report) takes
 * its channel noise from the stream (seed, INVCSI_LINK_NOISE_STREAM | r) and its z sample
 * from (seed, INVCSI_ZSAMPLE_STREAM | r), so the bit errors and z samples do not depend on
 * the batch size or the thread count (the floats only up to the ~1 ulp rounding the models'
 * GEMMs change with the batch size), and the mean-z and sampled-z decoders see the SAME
 * bit errors.
 *
 * Eb/N0: the per-bit SNR of BPSK (bitlink.h); INFINITY means an error-free link (the
 * quantization-only reconstruction; no noise is drawn).
 */
#ifndef INVCSI_LINKEVAL_H
#define INVCSI_LINKEVAL_H

#include <stdint.h>

#include "invcsi/error.h"
#include "invcsi/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define INVCSI_LINK_NOISE_STREAM (0x4c4e4f49ULL << 32) /* "LNOI" */

/* How received bits become latent values. */
enum {
    INVCSI_DETECT_HARD = 0, /* ML (sign) decisions -> bits -> index -> its level: default */
    INVCSI_DETECT_MMSE = 1  /* from LLRs: E[c_j | LLRs] = sum_j P(j | LLRs) c_j per value
                               (bits independent), a soft estimate off the level grid */
};

typedef struct invcsi_link_config {
    int bits;         /* B of the uniform quantizer (models without a DAQ), 1..8; for an
                         InvCSINet 0 or its own B (another value is an error) */
    int mapping;      /* INVCSI_BITMAP_NATURAL | GRAY (bitlink.h); an InvCSINet uses its own */
    int z_mode;       /* INVCSI_Z_MEAN | INVCSI_Z_SAMPLE (invcsinet.h) */
    int detect;       /* INVCSI_DETECT_HARD | INVCSI_DETECT_MMSE */
    uint64_t seed;    /* channel noise and z samples */
} invcsi_link_config;

/* bits 4, natural, z mean, hard, seed 1. */
invcsi_link_config invcsi_link_config_default(void);

typedef struct invcsi_link invcsi_link;

/* A link around model m (not owned; must outlive the link), buffers for m->max_batch
 * reports. Models without a DAQ need invcsi_link_fit before encoding. */
int invcsi_link_create(invcsi_link **l, invcsi_model *m, const invcsi_link_config *cfg,
                       invcsi_error *err);
void invcsi_link_destroy(invcsi_link *l);

/* 1 if the link still needs invcsi_link_fit (uniform quantizer not fitted yet). */
int invcsi_link_needs_fit(const invcsi_link *l);
/* Fits the uniform quantizer's per-dimension range on training reports x [n][dim]
 * (no-op for an InvCSINet). */
int invcsi_link_fit(invcsi_link *l, const float *x, long n, invcsi_error *err);
/* Or sets it directly: the quantizer of dimension d spans [center[d] - half[d],
 * center[d] + half[d]] (half > 0). */
int invcsi_link_set_range(invcsi_link *l, const float *center, const float *half,
                          invcsi_error *err);

int invcsi_link_bits(const invcsi_link *l);      /* B */
int invcsi_link_latent(const invcsi_link *l);    /* M */
long invcsi_link_payload_bits(const invcsi_link *l); /* M * B per report */

/* ---- the pieces (batch <= the model's max_batch) ------------------------------------- */

/* x [batch][dim] -> indices [batch][M] and/or bits [batch][M*B] (either may be NULL). */
int invcsi_link_encode(invcsi_link *l, const float *x, int batch, int *indices,
                       uint8_t *bits, invcsi_error *err);
/* indices [batch][M] -> levels (in the model's latent units, before any IC) [batch][M]. */
int invcsi_link_dequantize(invcsi_link *l, const int *indices, int batch, float *levels,
                           invcsi_error *err);
/* LLRs [batch][M*B] (bitlink.h sign convention: > 0 means bit 0) -> latent values
 * [batch][M] with the link's detect mode (HARD: the level of the sign decisions). */
int invcsi_link_llr_to_levels(invcsi_link *l, const float *llr, int batch, float *levels,
                              invcsi_error *err);
/* Latent values [batch][M] -> x^ [batch][dim] (InvCSINet: IC + f^-1; others: decode),
 * z per the link's z_mode for reports first_report .. first_report + batch - 1. */
int invcsi_link_decode_levels(invcsi_link *l, const float *levels, int batch,
                              uint64_t first_report, float *xhat, invcsi_error *err);
/* bits [batch][M*B] -> indices -> levels -> decode_levels. */
int invcsi_link_decode_bits(invcsi_link *l, const uint8_t *bits, int batch,
                            uint64_t first_report, float *xhat, invcsi_error *err);

/* ---- the whole link ------------------------------------------------------------------ */

/* x [batch][dim] through the link at ebn0_db (INFINITY: error-free) -> xhat [batch][dim],
 * and, when not NULL, xhat_zs [batch][dim] = the same received bits decoded with the
 * OTHER z choice (sampled when the link uses the mean and vice versa), bit errors of the
 * batch in *bit_errors (may be NULL). */
int invcsi_link_run(invcsi_link *l, const float *x, int batch, double ebn0_db,
                    uint64_t first_report, float *xhat, float *xhat_zs, long *bit_errors,
                    invcsi_error *err);

/* Summary over a set of reports (NMSE in the preprocessed domain, which equals the
 * frequency-domain NMSE: the DFT is unitary and the scale cancels). */
typedef struct invcsi_link_result {
    long reports;
    long bits;            /* bits sent */
    long bit_errors;
    double ber;           /* bit_errors / bits */
    double ber_theory;    /* Q(sqrt(2 Eb/N0)); 0 for INFINITY */
    double nmse;          /* mean ||x - x^||^2 / ||x||^2, linear, z per the link */
    double nmse_zs;       /* the same with the other z choice */
} invcsi_link_result;

/* Runs x [n][dim] (reports 0..n-1) through the link at ebn0_db in chunks of max_batch. */
int invcsi_link_eval(invcsi_link *l, const float *x, long n, double ebn0_db,
                     invcsi_link_result *res, invcsi_error *err);

/* ---- uniform quantizer range ---------------------------------------------------------- */

/* Per dimension d of y [n][dims]: the symmetric range [center - half, center + half]
 * (center = the dimension's mean; half = k * its standard deviation, k on a grid from 0.05
 * to 6) of the uniform 2^bits-level quantizer (levels at the range ends and evenly between,
 * thresholds at the midpoints, values beyond the range clipped to the end levels) with the
 * smallest mean squared error over the n values. A dimension with zero spread gets
 * half = 1. center, half [dims]. */
int invcsi_uniform_range_fit(const float *y, long n, int dims, int bits, float *center,
                             float *half, invcsi_error *err);

#ifdef __cplusplus
}
#endif
#endif
