/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Gradient check of the whole STQENet training loss (lib/stqenet.c): the analytic
 * gradient of the training step (rate + distortion, batch-statistics BN in the decoder)
 * against central finite differences of the loss the same step reports, for a sample of
 * entries of EVERY trainable tensor (encoder convs, the transformer block, the FCs, the
 * entropy model, the decoder's conv+BN units) and of the input x.
 *
 * Size: nr 1, nt 16, nc 16 (a 16 x 16 map: 2 LSA windows of 8 rows, a 2 x 2 GSA summary),
 * dim 512, m 32, B 4, lambda 2 (so the rate term weighs about as much as the MSE), batch 4.
 * Two things are held fixed so that the loss is a differentiable function:
 *   - the noise of the rate proxy (u~ = u + noise) is given (train_step_ex);
 *   - the decoder path takes u instead of round(u) (invcsi_stqenet_set_soft_round): the
 *     straight-through backward is the identity in both cases, so this checks exactly
 *     the backward the real training runs; with the rounding the loss is piecewise
 *     constant in the encoder and no finite difference can see the gradient.
 * Error measure and the several steps as in test_csinet_gradcheck.c (float network: the
 * smallest error over h in {1e-4 .. 1e-2}); tolerance 3e-2.
 */
#include "check.h"
#include "invcsi/model.h"
#include "invcsi/rng.h"
#include "invcsi/stqe_layers.h"
#include "invcsi/stqenet.h"
#include "invcsi/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 3e-2
#define SAMPLES_PER_TENSOR 3
#define BATCH 4

static invcsi_model *model;
static float *x, *noise;

static double loss_now(void)
{
    invcsi_losses l;
    invcsi_error err;
    int rc = invcsi_stqenet_train_step_ex(model, x, BATCH, noise, &l, NULL, &err);
    CHECK(rc == 0, "train_step: %s", err.msg);
    return l.total;
}

#define GOOD_ENOUGH (TOL / 4)
#include "model_gradcheck.h"

int main(void)
{
    invcsi_error err;
    invcsi_model_config cfg;
    invcsi_set_threads(1); /* small sizes: threads only add contention on a shared machine */
    int rc = invcsi_model_config_default(&cfg, "stqenet", 1, 16, 16, 1.0 / 16, &err);
    CHECK(rc == 0, "config: %s", err.msg);
    cfg.seed = 7;
    cfg.bits = 4;
    cfg.mse_weight = 2.0f; /* lambda */
    rc = invcsi_model_create(&model, &cfg, BATCH, &err);
    if (rc != 0) {
        fprintf(stderr, "create: %s\n", err.msg);
        return 1;
    }
    invcsi_stqenet_set_soft_round(model, 1);
    invcsi_params *p = &model->params;
    invcsi_rng r;
    invcsi_rng_init(&r, 12345, 0);
    /* Move biases, LN/BN affine parameters off their init (weights are random already). */
    for (int i = 0; i < p->n_tensors; i++) {
        const invcsi_tensor *t = &p->tensors[i];
        if (t->frozen || t->rank > 1 || !strncmp(t->name, "entropy", 7))
            continue;
        float *v = invcsi_tensor_data(p, t);
        const size_t len = strlen(t->name);
        const int is_gamma = len > 7 && !strcmp(t->name + len - 7, ".weight");
        for (size_t k = 0; k < t->count; k++)
            v[k] = (float)((is_gamma ? 1.0 : 0.0) + 0.2 * invcsi_rng_normal(&r));
    }
    const long n_x = (long)BATCH * cfg.dim, n_u = (long)BATCH * cfg.m;
    x = malloc(sizeof(float) * n_x);
    noise = malloc(sizeof(float) * n_u);
    float *dx = calloc(n_x, sizeof(float));
    float *grad = malloc(sizeof(float) * p->total);
    for (long i = 0; i < n_x; i++)
        x[i] = (float)invcsi_rng_normal(&r);
    invcsi_uniform_noise_fill(noise, BATCH, cfg.m, 99, 0);

    invcsi_params_zero_grad(p);
    invcsi_losses l0;
    rc = invcsi_stqenet_train_step_ex(model, x, BATCH, noise, &l0, dx, &err);
    CHECK(rc == 0, "train_step: %s", err.msg);
    memcpy(grad, p->grad, sizeof(float) * p->total);
    printf("stqenet gradcheck: 16 x 16 map, dim %d, m %d, B %d, batch %d, loss %.6f "
           "(mse %.4f, rate %.1f bits/report)\n", cfg.dim, cfg.m, cfg.bits, BATCH, l0.total,
           l0.mse, l0.mmd);
    CHECK(l0.mmd > 0 && l0.mmd < cfg.m * 30.0, "rate %g bits", l0.mmd);

    double ss = 0.0;
    long n_train = 0;
    for (int i = 0; i < p->n_tensors; i++) {
        const invcsi_tensor *t = &p->tensors[i];
        if (t->frozen)
            continue;
        for (size_t k = 0; k < t->count; k++)
            ss += (double)grad[t->offset + k] * grad[t->offset + k];
        n_train += (long)t->count;
    }
    const double floor = 5e-2 * sqrt(ss / n_train);
    int n_checked = 0;
    for (int i = 0; i < p->n_tensors; i++) {
        const invcsi_tensor *t = &p->tensors[i];
        if (t->frozen)
            continue;
        check_entries(t->name, invcsi_tensor_data(p, t), grad + t->offset, (long)t->count,
                      floor, &r);
        n_checked++;
    }
    /* 4 encoder conv + 32 block + 2 FC + 1 entropy + 2 FC + 13 units x 3 */
    CHECK(n_checked == 80, "%d trainable tensors checked, expected 80", n_checked);
    check_entries("input x", x, dx, n_x, floor, &r);
    CHECK_CLOSE(loss_now(), l0.total, 1e-9, "loss after the checks");
    invcsi_model_destroy(model);
    free(x), free(noise), free(dx), free(grad);
    return check_done("test_stqenet_gradcheck");
}
