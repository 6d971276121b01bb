/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Deterministic random numbers (xoshiro256** seeded through splitmix64).
 *
 * Reproducibility independent of thread count comes from streams: work item i
 * (a sample, a batch) draws from invcsi_rng_init(&r, seed, i), never from a shared
 * generator, so the numbers do not depend on which thread runs which item.
 */
#ifndef INVCSI_RNG_H
#define INVCSI_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct invcsi_rng {
    uint64_t s[4];
    int has_spare;      /* Box-Muller produces normals in pairs */
    double spare;
} invcsi_rng;

void invcsi_rng_init(invcsi_rng *r, uint64_t seed, uint64_t stream);
uint64_t invcsi_rng_u64(invcsi_rng *r);
/* Uniform in the open interval (0, 1). */
double invcsi_rng_uniform(invcsi_rng *r);
/* Standard normal N(0, 1). */
double invcsi_rng_normal(invcsi_rng *r);
/* Standard Gumbel(0, 1): -log(-log(U)). */
double invcsi_rng_gumbel(invcsi_rng *r);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t invcsi_rng_below(invcsi_rng *r, uint64_t n);
/* Fisher-Yates shuffle of idx[0..n). */
void invcsi_rng_shuffle(invcsi_rng *r, int *idx, int n);

#ifdef __cplusplus
}
#endif
#endif
