/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Buffers of the C layer tests: zeroed float arrays that end the test on out-of-memory,
 * normal fills from the test's own seeded stream `rng` (each test seeds it in main), and
 * the projection <out, r> the gradient checks use as a scalar loss.
 */
#ifndef INVCSI_TEST_BUFFERS_H
#define INVCSI_TEST_BUFFERS_H

#include <stdio.h>
#include <stdlib.h>

#include "invcsi/rng.h"

static invcsi_rng rng __attribute__((unused));

static inline float *alloc_f(long n)
{
    float *p = calloc(n > 0 ? n : 1, sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

static inline void fill_normal(float *x, long n, double scale)
{
    for (long i = 0; i < n; i++)
        x[i] = (float)(scale * invcsi_rng_normal(&rng));
}

static inline double project(const float *out, const float *r, long n)
{
    double acc = 0.0;
    for (long i = 0; i < n; i++)
        acc += (double)r[i] * out[i];
    return acc;
}

#endif
