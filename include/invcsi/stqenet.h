/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * STQENet (DESIGN.md section 5) as the model kind "stqenet" (model.h), and the C API of
 * its coded report, which the GNU Radio stqe_encoder / stqe_decoder blocks call.
 *
 *   UE:  x [2][32][32] -> conv 1x1 2->16 (bias) -> conv 5x5 16->2 (bias) = X (skip)
 *        -> transformer block over row tokens (stqe_layers.h, ends with LayerNorm)
 *        -> + X -> flatten (2048) -> x in_scale (1/sqrt 2048, frozen) -> FC 2048 -> M = z
 *        u = compander(z) (tanh + mu-law, mu 255, in [0, 2^B - 1]); symbols = round(u)
 *        symbols --rANS with the per-dimension 16-bit tables--> length + stream + CRC-32 PDU
 *   BS:  PDU --checks, rANS decode--> symbols -> t^ = mulaw^-1(symbols) in [-1, 1]
 *        -> FC M -> 2048 -> reshape [2][32][32] -> convbn 5x5 2->2 + LeakyReLU(0.3)
 *        -> CR block -> CR block -> x^   (BN folded into the convs at inference)
 *
 * Training loss (the model's train_step):
 *   L = MSE(x^, x) + lambda * R / 2048,   MSE the mean over batch x 2048 values,
 *   R = the entropy model's bits per report (entropy_model.h) of u + U(-1/2, 1/2),
 *   x^ decoded from round_ste(u) (straight-through). lambda = cfg.mse_weight for this
 *   kind (model.h has no separate field; "--lambda L" of invcsi-train sets it), B =
 *   cfg.bits (default 6). losses: total = L, mse = MSE, mmd = R (bits per report, the
 *   rate estimate of the noisy proxy, so the trainer's log shows the rate next to the MSE).
 *   Rate warm-up (ops->begin_epoch, which the trainer calls before every epoch): the
 *   encoder sees lambda * epoch / W in the first W = max(1, round(epochs / 4)) epochs
 *   (0 in the first), the entropy model the full lambda throughout (it did not remove
 *   the slow start of short runs: see lib/stqenet.c).
 *
 * The model interface's encode/decode: encode = x -> u (M floats in [0, 2^B - 1], the
 * compander output before rounding); decode = u -> round -> x^ (the error-free-link
 * reconstruction: what the trainer's held-out NMSE shows).
 *
 * Coder tables: "entropy.cdf" (cdf_table.h), a frozen [M][2^B + 1] tensor of the weights
 * file, quantised from the learned pmf by invcsi_stqenet_prepare_coder (invcsi-train calls
 * it before every save; a file whose table is all zero, e.g. from an older run, gets its
 * tables computed at load). Both ends of a link must use the same weights file.
 *
 * Threads: a model holds activation buffers, so one model serves one thread at a time
 * (an encoder block and a decoder block each load their own copy).
 */
#ifndef INVCSI_STQENET_H
#define INVCSI_STQENET_H

#include <stddef.h>
#include <stdint.h>

#include "invcsi/error.h"
#include "invcsi/model.h"
#include "invcsi/report_codec.h"

#ifdef __cplusplus
extern "C" {
#endif

#define INVCSI_STQENET_KIND "stqenet"
#define INVCSI_STQENET_BITS_DEFAULT 6
#define INVCSI_STQENET_LAMBDA_DEFAULT 0.01f  /* rate weight: L = MSE + lambda R / 2048 */

/* Returned by invcsi_stqenet_decode_report (and set in err->code) when the PDU is
 * rejected: too short, truncated, wrong length, CRC mismatch, or a payload that is not a
 * stream of this model (invcsi_report_fault says which). Distinct from the INVCSI_E*
 * codes of error.h, so a block can count dropped reports apart from real errors. */
#define INVCSI_STQENET_EDROPPED (-20)

extern const invcsi_model_ops invcsi_stqenet_ops;

/* Loads a weights file of kind "stqenet" for inference (one report at a time, batch up
 * to max_batch; max_batch <= 0 means 1), checks the kind, builds the coder tables.
 * INVCSI_EFORMAT if the file is another kind of model. */
int invcsi_stqenet_load(invcsi_model **m, const char *path, int max_batch, invcsi_error *err);

/* Sizes of a loaded/created STQENet: values per report (2048), latent M, bits B, and
 * the largest PDU a report can take (invcsi_report_max_bytes(M)). 0 if m is not one. */
int invcsi_stqenet_dim(const invcsi_model *m);
int invcsi_stqenet_latent(const invcsi_model *m);
int invcsi_stqenet_bits(const invcsi_model *m);
size_t invcsi_stqenet_max_pdu_bytes(const invcsi_model *m);

/* UE side, one report: x (dim preprocessed values, transform.h) -> symbols -> PDU in
 * pdu[0..cap) (cap >= invcsi_stqenet_max_pdu_bytes always suffices); *len receives the
 * PDU size (coded bits of the report = 8 * (*len - INVCSI_REPORT_OVERHEAD), the framing
 * adds 48 bits). */
int invcsi_stqenet_encode_report(invcsi_model *m, const float *x, uint8_t *pdu, size_t cap,
                                 size_t *len, invcsi_error *err);

/* BS side, one report: checks and decodes pdu[0..len) into x_hat (dim values).
 * INVCSI_STQENET_EDROPPED when the PDU is rejected (x_hat then untouched), another
 * negative code for a real error (bad arguments). Never reads outside pdu[0..len). */
int invcsi_stqenet_decode_report(invcsi_model *m, const uint8_t *pdu, size_t len,
                                 float *x_hat, invcsi_error *err);
/* Same, and *fault (may be NULL) receives why a PDU was dropped (INVCSI_REPORT_OK when
 * it was decoded), for per-fault counters. */
int invcsi_stqenet_decode_report_fault(invcsi_model *m, const uint8_t *pdu, size_t len,
                                       float *x_hat, invcsi_report_fault *fault,
                                       invcsi_error *err);

/* ---- the pieces, for the evaluator, tests and benchmarks ---- */

/* x[count][dim] -> symbols[count][M] (what the coder sends). */
int invcsi_stqenet_symbols(invcsi_model *m, const float *x, long count, uint16_t *symbols,
                           invcsi_error *err);
/* symbols[count][M] -> x_hat[count][dim]. */
int invcsi_stqenet_decode_symbols(invcsi_model *m, const uint16_t *symbols, long count,
                                  float *x_hat, invcsi_error *err);
/* The model's bits estimate of one report's symbols[M]: sum of -log2 p under the learned
 * (float) pmf. */
double invcsi_stqenet_estimate_bits(invcsi_model *m, const uint16_t *symbols);
/* Ideal bits of one report under the quantised 16-bit tables (what rANS approaches). */
double invcsi_stqenet_table_bits(invcsi_model *m, const uint16_t *symbols);

/* (Re)computes the coder tables from the current entropy parameters and writes them into
 * the "entropy.cdf" tensor (call after training, before saving). */
int invcsi_stqenet_prepare_coder(invcsi_model *m, invcsi_error *err);
/* The M coder tables (valid after create/load + prepare_coder; owned by the model). */
const invcsi_cdf_table *invcsi_stqenet_tables(const invcsi_model *m);

/* Inference path: 1 (default) runs the decoder with every BN folded into its conv
 * (recomputed from the current weights when they may have changed), 0 runs conv + BN
 * with the running statistics. Same function up to float rounding. */
void invcsi_stqenet_set_bn_fold(invcsi_model *m, int fold);

/* Test switch: 1 makes the training step's decoder path take u itself instead of
 * round(u) (the straight-through backward is the identity either way, so a finite-
 * difference check of the whole step sees the gradient the backward computes); 0 (default)
 * is the real training. */
void invcsi_stqenet_set_soft_round(invcsi_model *m, int soft);

/* Training step (BN in training mode) that also ACCUMULATES dL/dx into dx (may be NULL)
 * and uses the given noise (u~ = u + noise[batch][M]); with noise NULL it draws the noise
 * from the fixed seed cfg.seed ^ a constant, so every such call sees the same noise. For
 * gradient checks and the PyTorch twin. */
int invcsi_stqenet_train_step_ex(invcsi_model *m, const float *x, int batch,
                                 const float *noise, invcsi_losses *out, float *dx,
                                 invcsi_error *err);

#ifdef __cplusplus
}
#endif
#endif
