/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Finite-difference check of a whole model's gradient, shared by the model gradchecks
 * (test_csinet_gradcheck, test_stqenet_gradcheck). Before including, a test defines
 *   TOL                 the largest relative error allowed,
 *   SAMPLES_PER_TENSOR  entries checked per tensor (all of a smaller tensor),
 *   GOOD_ENOUGH         (optional) stop trying step sizes for an entry once its error is
 *                       below this (default 0: try them all),
 * and `static double loss_now(void)`: the model's loss at the current parameter values.
 * An entry's error is the smallest over the step sizes in STEPS: a large step beats the
 * float round-off of the loss, a small one the kinks of the LeakyReLUs; a correct gradient
 * matches at some step, a wrong one is off by order 1 at every step.
 */
#ifndef INVCSI_TEST_MODEL_GRADCHECK_H
#define INVCSI_TEST_MODEL_GRADCHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "check.h"
#include "invcsi/rng.h"

#ifndef GOOD_ENOUGH
#define GOOD_ENOUGH 0.0
#endif

static double loss_now(void);

static double rms(const float *g, long n)
{
    double ss = 0.0;
    for (long i = 0; i < n; i++)
        ss += (double)g[i] * g[i];
    return n ? sqrt(ss / n) : 0.0;
}

static const float STEPS[] = {1e-4f, 3e-4f, 1e-3f, 3e-3f, 1e-2f};
#define N_STEPS ((int)(sizeof STEPS / sizeof STEPS[0]))

/* Relative error of g at v[k] against the central difference with step h. */
static double entry_error(float *v, long k, double g, float h, double scale_t, double floor)
{
    const float v0 = v[k];
    const float vp = v0 + h, vm = v0 - h;
    v[k] = vp;
    const double lp = loss_now();
    v[k] = vm;
    const double lm = loss_now();
    v[k] = v0;
    const double fd = (lp - lm) / ((double)vp - (double)vm);
    double den = fabs(fd);
    if (fabs(g) > den) den = fabs(g);
    if (scale_t > den) den = scale_t;
    if (floor > den) den = floor;
    return fabs(g - fd) / den;
}

/* Checks a sample of entries of v[0..n) against g (the analytic gradient). */
static double check_entries(const char *what, float *v, const float *g, long n, double floor,
                            invcsi_rng *r)
{
    const double scale_t = rms(g, n);
    const int all = n <= SAMPLES_PER_TENSOR;
    const long count = all ? n : SAMPLES_PER_TENSOR;
    double worst = 0.0;
    long worst_k = -1;
    for (long j = 0; j < count; j++) {
        const long k = all ? j : (long)invcsi_rng_below(r, (uint64_t)n);
        double e = INFINITY;
        for (int s = 0; s < N_STEPS && !(e < GOOD_ENOUGH); s++) {
            const double es = entry_error(v, k, g[k], STEPS[s], scale_t, floor);
            if (es < e)
                e = es;
        }
        if (e > worst || worst_k < 0)
            worst = e, worst_k = k;
    }
    printf("  %-36s %6ld values, %3ld checked, rms grad %.2e, max rel err %.2e (at %ld)\n",
           what, n, count, scale_t, worst, worst_k);
    CHECK(worst < TOL, "%s: max relative error %.3e at entry %ld", what, worst, worst_k);
    return worst;
}

#endif
