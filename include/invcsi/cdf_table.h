/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * 16-bit frequency tables for the rANS coder (include/invcsi/rans.h), one per latent
 * dimension of STQENet (DESIGN.md section 5).
 *
 * A table quantises a probability mass function over the n = 2^B symbols of one latent
 * dimension into integer frequencies f[s] >= 1 with sum f[s] = 2^16, stored as the
 * cumulative table cum[0] = 0 < cum[1] < ... < cum[n] = 65536 (f[s] = cum[s+1] - cum[s]).
 * Every symbol keeps a frequency of at least 1 so that any symbol the quantiser emits,
 * however unlikely the model thinks it is, can be coded (at most 16 bits).
 *
 * Quantisation (invcsi_cdf_table_from_pmf) is deterministic and platform independent:
 * it uses only IEEE additions, multiplications and one division per symbol (no libm),
 * and breaks ties towards the lower symbol. Rounding each scaled probability to the
 * nearest integer (at least 1) is followed by unit corrections chosen greedily by their
 * first-order effect on the expected code length: take a unit from the symbol with the
 * smallest p/(f - 1/2), give one to the symbol with the largest p/(f + 1/2).
 *
 * Storage in a weights file: the cumulative tables of all M dimensions as one float32
 * tensor named INVCSI_CDF_TENSOR_NAME ("entropy.cdf") of shape [M][n + 1], row d being
 * cum[0..n] of dimension d. Every value is an integer in [0, 65536], exactly
 * representable in float32 (24-bit significand), so the float-only safetensors API of
 * this project stores the integer tables without loss; the loaders check that every
 * value is such an integer and that each row is a valid table. A model that keeps the
 * tables in its parameter table adds "entropy.cdf" as a frozen [M][n + 1] tensor and
 * fills it with invcsi_cdf_tables_to_floats before saving.
 */
#ifndef INVCSI_CDF_TABLE_H
#define INVCSI_CDF_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "invcsi/error.h"
#include "invcsi/safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

#define INVCSI_CDF_PRECISION 16                        /* bits of the frequency total */
#define INVCSI_CDF_TOTAL (1u << INVCSI_CDF_PRECISION)  /* 65536 */
#define INVCSI_CDF_MIN_SYMBOLS 2
#define INVCSI_CDF_MAX_SYMBOLS 256                     /* B <= 8 */
#define INVCSI_CDF_TENSOR_NAME "entropy.cdf"

typedef struct invcsi_cdf_table {
    int n_symbols;                               /* n = 2^B, 2..256 (any n in range works) */
    uint32_t cum[INVCSI_CDF_MAX_SYMBOLS + 1];    /* cum[0..n], see above */
    /* Decoder search start: lut[k] = the symbol whose interval holds slot k * 256
     * (derived from cum by invcsi_cdf_table_from_cum; do not edit by hand). */
    uint8_t lut[256];
} invcsi_cdf_table;

/* Frequency of symbol s (no range check). */
static inline uint32_t invcsi_cdf_freq(const invcsi_cdf_table *t, int s)
{
    return t->cum[s + 1] - t->cum[s];
}

/* Builds a table from cum[0..n] (n + 1 values): n in [2, 256], cum[0] == 0,
 * cum[n] == 65536, strictly increasing. what names the table in messages. */
int invcsi_cdf_table_from_cum(invcsi_cdf_table *t, int n, const uint32_t *cum,
                              const char *what, invcsi_error *err);
/* Builds a table from frequencies f[0..n): each >= 1, summing to 65536. */
int invcsi_cdf_table_from_freq(invcsi_cdf_table *t, int n, const uint32_t *freq,
                               const char *what, invcsi_error *err);

/* Quantises pmf[0..n) (finite, >= 0, positive sum; need not be normalised) into t as
 * described above. */
int invcsi_cdf_table_from_pmf(invcsi_cdf_table *t, int n, const float *pmf,
                              const char *what, invcsi_error *err);

/* The pmf of a learned CDF with its tails folded into the end symbols: given the CDF at
 * the n - 1 inner edges, cdf_edges[k] = CDF(k + 1/2) for k = 0..n-2,
 *   pmf[0] = CDF(1/2), pmf[u] = CDF(u + 1/2) - CDF(u - 1/2), pmf[n-1] = 1 - CDF(n - 3/2),
 * each clamped at 0 (a slightly non-monotone float CDF must not give negative mass). */
void invcsi_cdf_pmf_from_edges(const float *cdf_edges, int n, float *pmf);

/* Checks that t is a valid table (n in range, cum consistent, lut matches cum). */
int invcsi_cdf_table_check(const invcsi_cdf_table *t, const char *what, invcsi_error *err);

/* Ideal code length of symbol s under t: 16 - log2 f[s] bits. */
double invcsi_cdf_table_bits(const invcsi_cdf_table *t, int s);
/* Ideal code length of m symbols, symbol i under tables[i]: sum of the above. Symbols
 * out of range count as +infinity. */
double invcsi_cdf_ideal_bits(const uint16_t *symbols, int m, const invcsi_cdf_table *tables);
/* Entropy of the quantised table, sum -p log2 p with p = f / 65536 (bits per symbol). */
double invcsi_cdf_table_entropy(const invcsi_cdf_table *t);

/* ---- storage as float32 (see above) ---- */

/* Writes the m tables (all with the same n) as m rows of n + 1 floats to dst. */
int invcsi_cdf_tables_to_floats(const invcsi_cdf_table *tables, int m, float *dst,
                                invcsi_error *err);
/* Reads m rows of n + 1 floats (integers in [0, 65536], each row a valid cumulative
 * table) into tables[0..m). what names the source in messages (e.g. "w.safetensors:
 * entropy.cdf"). */
int invcsi_cdf_tables_from_floats(invcsi_cdf_table *tables, int m, int n, const float *src,
                                  const char *what, invcsi_error *err);
/* Loads the tables tensor `name` (NULL = INVCSI_CDF_TENSOR_NAME) of a loaded weights
 * file: rank 2 [M][n + 1] with n in [2, 256]. On success *tables is malloc'd (free with
 * free()), *m = M and *n_symbols = n; on error *tables is NULL and the message names
 * the file, the tensor and what is wrong. expect_m / expect_n > 0 also require that M /
 * n (the model's M and 2^B); 0 accepts any. */
int invcsi_cdf_tables_from_safetensors(const invcsi_safetensors *file, const char *name,
                                       int expect_m, int expect_n, invcsi_cdf_table **tables,
                                       int *m, int *n_symbols, invcsi_error *err);

#ifdef __cplusplus
}
#endif
#endif
