/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The INN learns: a few dozen Adam steps of ops.train_step (through the trainer's
 * invcsi_train_one_step) on synthetic low-rank unit-power reports lower the held-out
 * NMSE of the deterministic decoder f^-1(y, 0) below where the identity start leaves it
 * (the energy outside the first M patch channels), and the losses reported are finite
 * and consistent (total = mmd + mse, nmse_sum of the batch in [0, batch * a few]).
 */
#include "check.h"
#include "invcsi/inn.h"
#include "invcsi/model.h"
#include "invcsi/rng.h"
#include "invcsi/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *xmalloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

/* Reports built from R fixed random directions with decaying power plus weak noise,
 * scaled to unit power: a structure a linear code of M >= R values captures. */
static void make_data(float *x, long n, int dim, uint64_t seed)
{
    enum { R = 8 };
    invcsi_rng r;
    invcsi_rng_init(&r, seed, 0);
    float *dirs = xmalloc(sizeof(float) * R * (size_t)dim);
    invcsi_rng rd;
    invcsi_rng_init(&rd, 1234, 0); /* the same directions for train and test */
    for (long i = 0; i < (long)R * dim; i++)
        dirs[i] = (float)invcsi_rng_normal(&rd);
    double power = 0.0;
    for (long i = 0; i < n; i++) {
        float *xi = x + i * dim;
        for (int k = 0; k < dim; k++)
            xi[k] = (float)(0.05 * invcsi_rng_normal(&r));
        for (int q = 0; q < R; q++) {
            const float a = (float)(invcsi_rng_normal(&r) / (1.0 + q));
            for (int k = 0; k < dim; k++)
                xi[k] += a * dirs[(long)q * dim + k];
        }
        for (int k = 0; k < dim; k++)
            power += (double)xi[k] * xi[k];
    }
    const float s = (float)(1.0 / sqrt(power / ((double)n * dim)));
    for (long i = 0; i < n * dim; i++)
        x[i] *= s;
    free(dirs);
}

int main(void)
{
    enum { BATCH = 32, STEPS = 60, NTRAIN = 512, NTEST = 64 };
    invcsi_error err;
    invcsi_model_config cfg;
    invcsi_model_config_default(&cfg, "inn", 1, 32, 32, 1.0 / 16, &err);
    cfg.width = 16; /* smaller than the default: this is a smoke test of learning */
    invcsi_model *m = NULL;
    int rc = invcsi_model_create(&m, &cfg, BATCH, &err);
    CHECK(rc == INVCSI_OK, "create: %s", err.msg);
    if (rc)
        return check_done("test_inn_train");
    const int dim = cfg.dim;
    float *train = xmalloc(sizeof(float) * NTRAIN * dim);
    float *test = xmalloc(sizeof(float) * NTEST * dim);
    make_data(train, NTRAIN, dim, 1);
    make_data(test, NTEST, dim, 2);

    double nmse0, nmse1;
    rc = invcsi_model_nmse(m, test, NTEST, &nmse0, &err);
    CHECK(rc == INVCSI_OK, "nmse: %s", err.msg);
    invcsi_rng rng;
    invcsi_rng_init(&rng, 5, 0);
    double first_mse = 0.0, last_mse = 0.0;
    for (int s = 0; s < STEPS; s++) {
        const float *x = train + (long)((s * BATCH) % NTRAIN) * dim;
        invcsi_losses l;
        rc = invcsi_train_one_step(m, x, BATCH, &rng, 1e-3, s, &l, &err);
        CHECK(rc == INVCSI_OK, "step %d: %s", s, err.msg);
        if (rc)
            break;
        CHECK(isfinite(l.total) && fabs(l.total - (l.mmd + l.mse)) < 1e-6 * (1 + fabs(l.total)),
              "step %d: total %g != mmd %g + mse %g", s, l.total, l.mmd, l.mse);
        CHECK(l.nmse_sum >= 0.0 && l.nmse_sum < 4.0 * BATCH, "step %d: nmse_sum %g", s,
              l.nmse_sum);
        if (s == 0)
            first_mse = l.mse;
        last_mse = l.mse;
        if (s % 20 == 0 || s == STEPS - 1)
            printf("step %2d: total %.4f  mmd %.4f  mse %.4f  batch nmse %.2f dB\n", s, l.total,
                   l.mmd, l.mse, 10.0 * log10(l.nmse_sum / BATCH));
    }
    rc = invcsi_model_nmse(m, test, NTEST, &nmse1, &err);
    CHECK(rc == INVCSI_OK, "nmse: %s", err.msg);
    printf("held-out NMSE (decoder z = 0): %.2f dB at the identity start, %.2f dB after %d "
           "steps\n",
           10.0 * log10(nmse0), 10.0 * log10(nmse1), STEPS);
    CHECK(last_mse < 0.8 * first_mse, "training MSE %g -> %g: not learning", first_mse,
          last_mse);
    CHECK(10.0 * log10(nmse1) < 10.0 * log10(nmse0) - 1.0, "held-out NMSE %g -> %g", nmse0,
          nmse1);
    free(train);
    free(test);
    invcsi_model_destroy(m);
    return check_done("test_inn_train");
}
