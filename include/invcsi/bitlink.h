/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The bit link of InvCSINet's evaluation (DESIGN.md section 4): the ONE implementation that
 * the evaluator, the D-BCD transition matrix and the GNU Radio blocks call.
 *
 *   indices [n] --(natural or Gray label, B bits, MSB first)--> bits [n*B]
 *   bits --BPSK--> symbols --AWGN at Eb/N0--> received --hard (sign) / LLR--> bits
 *   bits [n*B] --> indices [n]
 *
 * Conventions:
 *   - Bits are unpacked, one per byte (GNU Radio's "unpacked" convention): the value is the
 *     byte's least significant bit (bits & 1), writers store 0 or 1. Index e's label goes to
 *     bits[e*B .. e*B+B), most significant bit first.
 *   - BPSK: bit b -> (1 - 2b) sqrt(Es), so bit 0 -> +sqrt(Es). Complex symbols are
 *     interleaved float pairs (re, im) = the memory layout of gr_complex / float complex,
 *     with im = 0; real symbols are one float each.
 *   - One bit per symbol, so Es = Eb. N0 = Eb / (Eb/N0). AWGN has variance N0/2 per real
 *     dimension (complex noise of total variance N0); the real-valued link adds the same
 *     N0/2 to its one dimension, so both have BER = Q(sqrt(2 Eb/N0)).
 *   - LLR = log P(b=0|r) / P(b=1|r) = 2 sqrt(Es) Re(r) / (N0/2) = 4 sqrt(Es) Re(r) / N0:
 *     positive means bit 0, and sign(LLR) agrees with the hard decision (bit = LLR < 0).
 *   - Randomness comes from an invcsi_rng the caller seeds (one stream per item keeps
 *     results independent of the thread count).
 */
#ifndef INVCSI_BITLINK_H
#define INVCSI_BITLINK_H

#include <stdint.h>

#include "invcsi/error.h"
#include "invcsi/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { INVCSI_BITMAP_NATURAL = 0, INVCSI_BITMAP_GRAY = 1 };

/* "natural" | "gray" -> enum, INVCSI_EINVAL with a message otherwise. */
int invcsi_bitmap_parse(const char *name, int *mapping, invcsi_error *err);
const char *invcsi_bitmap_name(int mapping);

/* Label of index j (natural: j, Gray: j ^ (j >> 1)) and back. */
uint32_t invcsi_index_to_label(uint32_t j, int mapping);
uint32_t invcsi_label_to_index(uint32_t label, int mapping);

/* indices[n] (each in 0..2^bits - 1; higher bits are ignored) -> bits[n*bits]. bits 1..16. */
int invcsi_indices_to_bits(uint8_t *bits, const int *indices, long n, int bits_per_index,
                           int mapping, invcsi_error *err);
/* bits[n*bits] -> indices[n] (each byte's LSB is the bit). */
int invcsi_bits_to_indices(int *indices, const uint8_t *bits, long n, int bits_per_index,
                           int mapping, invcsi_error *err);

/* ---- BPSK over AWGN ------------------------------------------------------------------------ */

/* 10^(db/10). */
double invcsi_db_to_linear(double db);
/* Q(x) = P(N(0,1) > x) = erfc(x / sqrt 2) / 2. */
double invcsi_qfunc(double x);
/* log Q(x), accurate where Q underflows (x > 37: asymptotic series). */
double invcsi_log_qfunc(double x);
/* BPSK bit error probability over AWGN: Q(sqrt(2 Eb/N0)), ebn0 linear >= 0. */
double invcsi_bpsk_ber(double ebn0);
/* N0 for BPSK at symbol energy es and linear Eb/N0 (> 0): N0 = es / ebn0. */
double invcsi_bpsk_n0(double es, double ebn0);

/* sym[n] real symbols. */
void invcsi_bpsk_map_real(float *sym, const uint8_t *bits, long n, float es);
/* iq[2n] interleaved complex symbols (im = 0). */
void invcsi_bpsk_map_complex(float *iq, const uint8_t *bits, long n, float es);
/* Adds N(0, N0/2) to each of x[0..n_reals) (for complex symbols n_reals = 2 n). */
void invcsi_awgn_add(float *x, long n_reals, double n0, invcsi_rng *r);
/* Hard decisions from the real parts: stride 1 for real symbols, 2 for interleaved complex. */
void invcsi_bpsk_hard(uint8_t *bits, const float *rx, long n, int stride);
/* LLRs 4 sqrt(es) Re(r) / n0 (see above); same stride convention. */
void invcsi_bpsk_llr(float *llr, const float *rx, long n, int stride, float es, double n0);

/* The whole link on n bits: BPSK (complex, Es = 1) -> AWGN at ebn0_db -> hard decisions into
 * bits_out (may equal bits_in) and, when llr is not NULL, LLRs. scratch holds 2 n floats.
 * Returns the number of bit errors in *errors (may be NULL). */
int invcsi_bitlink_awgn(uint8_t *bits_out, float *llr, const uint8_t *bits_in, long n,
                        double ebn0_db, invcsi_rng *r, float *scratch, long *errors,
                        invcsi_error *err);

/* Bits that differ (by LSB) between a and b. */
long invcsi_bit_errors(const uint8_t *a, const uint8_t *b, long n);

#ifdef __cplusplus
}
#endif
#endif
