/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * InvCSINet (DESIGN.md section 4) as the model kind "invcsinet" (model.h), and the C API
 * of its two halves, which the GNU Radio encoder/quantizer/decoder blocks call.
 *
 *   UE:  x --INN f--> (y, z)          z dropped
 *        y_n = (y - shift) * exp(-log_scale)   per-dimension latent normalisation
 *        y_n --DAQ (hard)--> indices [M] --labels (natural|Gray, B bits, MSB first)--> bits
 *   BS:  bits --> indices --> levels y~ = c_j (DAQ level table)
 *        y^ = y~ + LAN(y~)                       IC (absent with no_ic)
 *        y  = shift + exp(log_scale) * y^
 *        z  = mu (default) or mu + exp(log_sigma) * n, n ~ N(0, I) from a seeded stream
 *        x^ = f^-1(y, z)
 *
 * The latent normalisation ("latent.shift", "latent.log_scale", [M] each) is the answer to
 * DESIGN.md's "R = 1 after the latent is normalised": PER DIMENSION, INITIALISED AT FIT
 * TIME from the training reports (the uniform B-bit quantizer on [shift - s, shift + s]
 * with the smallest mean squared error on the training latents, linkeval.h
 * invcsi_uniform_range_fit, so the untrained InvCSINet is exactly "the INN + the best
 * per-dimension uniform quantizer") and then LEARNED with the DAQ and the IC (also with
 * freeze_inn). The DAQ works on y_n with range R = 1: its uniform init maps to that
 * fitted quantizer.
 *
 * Tensors: inn.* (the INN of inn.h, prefix "inn": same names as an "inn" model, so
 * trained ideal-INN weights load into it), latent.shift, latent.log_scale,
 * daq.threshold_raw, daq.step_raw [M][L-1] (daq.h), and unless no_ic:
 * ic.lan.conv{0,1,2}.{weight,bias} (ic.h LAN on the c1 x gh x gw latent grid), ic.z.mu,
 * ic.z.log_sigma [dim - M].
 *
 * Training loss (the model's train_step; D-BCD from dbcd.h at the training Eb/N0):
 *   q       = DAQ(y_n): forward value the hard level, gradient of the soft value at beta
 *   y~      = D-BCD(q_soft)  (one-hot forward, Gumbel noise from the step's rng; backward:
 *             the levels get D-BCD's gradient; the sent value gets dy~ itself with
 *             dbcd_grad "straight" (default), or the surrogate's gradient through p, pi, g
 *             with "surrogate" (the paper's; it trained worse here, README))
 *             no_dbcd: y~ = q_hard + N(0, P / (2 B Eb/N0)), P = the batch's mean q_hard^2
 *             (an analogue link with the same energy per report; straight-through)
 *   y^      = y~ + LAN(y~),  z^ = mu + sigma n       no_ic: y^ = y~, z^ = n (the INN's prior)
 *   L       = mmd_weight MMD([y_n, z], [y^, z^]) + lambda MSE(f^-1(y(y^), z_bwd), x)
 *   z_bwd   = mu (default; no_ic: 0) or z^ (cfg.z_bwd_sample)
 *   lambda  = cfg.mse_weight (default 0.1 for this kind)
 * Both MMD sides carry gradients (y^ and z^ depend on the DAQ, IC and prior parameters).
 * no_daq freezes the DAQ tensors at the uniform quantizer; freeze_inn freezes inn.*.
 * beta follows a geometric schedule from beta_start to beta_end over the run's epochs
 * (the trainer calls ops->begin_epoch); both are in units of 1 / (the uniform level
 * spacing 2R/(L-1)), so one setting suits every B.
 *
 * The model interface's encode/decode: encode = x -> y_n (the DAQ's input, M floats);
 * decode = y_n -> hard DAQ -> levels -> IC -> f^-1 with z = mu: the error-free-link
 * (quantization only) reconstruction, which is what the trainer's held-out NMSE shows.
 *
 * Threads: a model holds activation buffers, so one model serves one thread at a time
 * (a GNU Radio encoder block and a decoder block each load their own copy). A sampled z
 * for report r comes from the RNG stream (seed, INVCSI_ZSAMPLE_STREAM | r), whatever the
 * batch split; the floats are reproducible for a given batch size and thread count (the
 * convs' GEMM blocking changes their rounding by ~1 ulp with the batch size).
 */
#ifndef INVCSI_INVCSINET_H
#define INVCSI_INVCSINET_H

#include <stdint.h>

#include "invcsi/error.h"
#include "invcsi/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define INVCSI_INVCSINET_KIND "invcsinet"
#define INVCSI_INVCSINET_BITS_DEFAULT 4
#define INVCSI_INVCSINET_SNR_DB_DEFAULT 10.0f  /* training Eb/N0 */
#define INVCSI_INVCSINET_LAMBDA_DEFAULT 0.1f   /* weight of the MSE term (paper) */
#define INVCSI_INVCSINET_BETA_START 5.0f       /* x 1/spacing: sigmoid slope of the soft DAQ */
#define INVCSI_INVCSINET_BETA_END 50.0f

/* Which auxiliary value the decoder feeds f^-1. */
enum {
    INVCSI_Z_MEAN = 0,   /* z = mu (the learned prior mean; 0 for an ideal INN): default */
    INVCSI_Z_SAMPLE = 1  /* z = mu + sigma n, n from stream (seed, INVCSI_ZSAMPLE_STREAM | r) */
};
#define INVCSI_ZSAMPLE_STREAM (0x5a53414dULL << 32) /* "ZSAM" */

typedef struct invcsi_zchoice {
    int mode;              /* INVCSI_Z_MEAN or INVCSI_Z_SAMPLE */
    uint64_t seed;         /* INVCSI_Z_SAMPLE: the seed ... */
    uint64_t first_report; /* ... and the global index of the batch's first report */
} invcsi_zchoice;

/* The model of kind "invcsinet" (also declared in model.h). */
extern const invcsi_model_ops invcsi_invcsinet_ops;

/* 1 if m is an InvCSINet model. */
int invcsi_is_invcsinet(const invcsi_model *m);

/* Sizes: M latent values, B bits each, L = 2^B levels, payload M*B bits per report. */
int invcsi_invcsinet_bits(const invcsi_model *m);
int invcsi_invcsinet_levels_count(const invcsi_model *m);
long invcsi_invcsinet_payload_bits(const invcsi_model *m);
/* INVCSI_BITMAP_NATURAL or INVCSI_BITMAP_GRAY (bitlink.h). */
int invcsi_invcsinet_mapping(const invcsi_model *m);

/* Current DAQ level table levels[M][L] (normalised latent units; levels[d][j] is what
 * index j of dimension d decodes to before the IC) and thresholds[M][L-1] (either may be
 * NULL). */
int invcsi_invcsinet_tables(const invcsi_model *m, float *levels, float *thresholds,
                            invcsi_error *err);

/* ---- UE side ---------------------------------------------------------------------- */

/* x [batch][dim] (preprocessed, transform.h) -> y_n [batch][M], the normalised latent. */
int invcsi_invcsinet_encode_latent(invcsi_model *m, const float *x, int batch, float *y,
                                   invcsi_error *err);
/* Hard DAQ: y_n [batch][M] -> indices [batch][M] in 0..L-1. */
int invcsi_invcsinet_quantize(invcsi_model *m, const float *y, int batch, int *indices,
                              invcsi_error *err);
/* x -> bits [batch][M*B] (unpacked, one bit per byte, bitlink.h label convention); the
 * indices are also written when indices is not NULL ([batch][M]). */
int invcsi_invcsinet_encode_bits(invcsi_model *m, const float *x, int batch, uint8_t *bits,
                                 int *indices, invcsi_error *err);

/* ---- BS side ---------------------------------------------------------------------- */

/* indices [batch][M] -> levels y~ [batch][M] (an out-of-range index is clamped). */
int invcsi_invcsinet_dequantize(invcsi_model *m, const int *indices, int batch, float *levels,
                                invcsi_error *err);
/* Received latent values y~ [batch][M] (levels, or any soft estimate in the same units)
 * -> IC -> f^-1 with the chosen z (NULL = INVCSI_Z_MEAN) -> x^ [batch][dim]. */
int invcsi_invcsinet_decode_levels(invcsi_model *m, const float *ytilde, int batch,
                                   const invcsi_zchoice *z, float *xhat, invcsi_error *err);
/* bits [batch][M*B] -> indices -> levels -> decode_levels. */
int invcsi_invcsinet_decode_bits(invcsi_model *m, const uint8_t *bits, int batch,
                                 const invcsi_zchoice *z, float *xhat, invcsi_error *err);

/* ---- training helpers -------------------------------------------------------------- */

/* Initialises latent.shift/log_scale from the training reports x [n][dim] (the MSE-best
 * uniform B-bit range per dimension of the INN's latent, see above). Part of
 * ops->fit_front (after the INN's own front fit); call it directly after
 * invcsi_invcsinet_load_inn. */
int invcsi_invcsinet_fit_latent(invcsi_model *m, const float *x, long n, invcsi_error *err);

/* Copies every inn.* tensor of a weights file (an "inn" or "invcsinet" model with the same
 * INN architecture) into m; fails naming the first tensor that is missing or of another
 * shape. Does not touch the other tensors or the config. */
int invcsi_invcsinet_load_inn(invcsi_model *m, const char *path, invcsi_error *err);

/* Current beta (absolute) and training Eb/N0 range, for progress lines. */
float invcsi_invcsinet_beta(const invcsi_model *m);

/* Test mode (not saved): soft_forward = 1 makes train_step's FORWARD values the soft
 * ones (the DAQ's soft q instead of the hard level, D-BCD's sum_j g_j c_j instead of the
 * one-hot level), so the whole loss is one differentiable function of the parameters and
 * the backward its exact gradient (checked against finite differences with the noise
 * held fixed). 0 (default) = the straight-through training forward. */
void invcsi_invcsinet_set_soft_forward(invcsi_model *m, int soft_forward);
/* Sets beta directly (absolute units), overriding the schedule until the next epoch. */
void invcsi_invcsinet_set_beta(invcsi_model *m, float beta);

#ifdef __cplusplus
}
#endif
#endif
