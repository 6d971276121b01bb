/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Gradient check of the whole CsiNet training loss (lib/csinet.c): the analytic gradient
 * of train_step (batch-statistics BatchNorm included: batch 4) against central finite
 * differences of the loss the same train_step reports, for a random sample of entries of
 * EVERY trainable tensor (conv and dense weights and biases, BN gamma and beta) and of
 * the input x (through the encoder and as the MSE target).
 *
 * Size: nr 1, nt 8, nc 8 (dim 128), m 32 (CR 1/4), two RefineNet blocks, LeakyReLU 0.3,
 * batch 4. The weights are moved away from the Keras init (random biases, gamma, beta) so
 * that no gradient is special by construction, except one that is zero by the maths: a
 * conv bias directly followed by a training-mode BN cannot change the loss (the batch mean
 * removes it). Those gradients must be at round-off level (checked separately), and their
 * finite differences are noise, compared on the model's gradient scale (the floor below).
 *
 * Measure per entry k: err = |g_k - fd_k| / max(|g_k|, |fd_k|, rms_t, 0.05 rms_all), with
 * rms_t the RMS of the tensor's gradient and rms_all that of all parameter gradients,
 * taken as the SMALLEST over the steps h in {1e-4, 3e-4, 1e-3, 3e-3, 1e-2}; tolerance 2e-2.
 * Why several steps: the network runs in float, so the loss (summed in double) carries a
 * round-off noise of ~1e-7 (correlated through the BN statistics), i.e. ~5e-5 absolute on
 * a difference quotient at h = 1e-3, which favours a large h; but a LeakyReLU (slope 0.3)
 * input within h of its kink bends the difference quotient, which favours a small h
 * (measured: entry 5 of dec.refine.0.conv1.weight matches to 3e-4 for h <= 3e-4 and is
 * 10 % off at h >= 1e-3, a kink 4e-4 away). A correct gradient matches at some step; a
 * wrong one (a sign, a missing term, a wrong index) is off by order 1 at every step.
 * Largest errors seen: 6e-3 (1.3e-2 for the noise-only biases against the floor).
 * Seen to fail: removing the RefineNet shortcut from the backward pass gives errors of
 * 0.65 ... 1.8 on every tensor before the last block and on the input (checked once,
 * then reverted).
 */
#include "check.h"
#include "invcsi/csinet.h"
#include "invcsi/model.h"
#include "invcsi/nn.h"
#include "invcsi/rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 2e-2
#define SAMPLES_PER_TENSOR 24
#define BATCH 4

static invcsi_model *model;
static float *x;

static double loss_now(void)
{
    invcsi_losses l;
    invcsi_error err;
    int rc = invcsi_csinet_train_step_dx(model, x, BATCH, &l, NULL, &err);
    CHECK(rc == 0, "train_step: %s", err.msg);
    return l.total;
}

#include "model_gradcheck.h"

int main(void)
{
    invcsi_error err;
    invcsi_model_config cfg;
    int rc = invcsi_model_config_default(&cfg, "csinet", 1, 8, 8, 0.25, &err);
    CHECK(rc == 0, "config: %s", err.msg);
    cfg.seed = 7;
    rc = invcsi_model_create(&model, &cfg, BATCH, &err);
    if (rc != 0) {
        fprintf(stderr, "create: %s\n", err.msg);
        return 1;
    }
    invcsi_params *p = &model->params;
    invcsi_rng r;
    invcsi_rng_init(&r, 12345, 0);

    /* Move every non-weight tensor off its init value (weights are random already). */
    for (int i = 0; i < p->n_tensors; i++) {
        const invcsi_tensor *t = &p->tensors[i];
        float *v = invcsi_tensor_data(p, t);
        const char *name = t->name;
        const size_t len = strlen(name);
        if (t->frozen || (len > 7 && !strcmp(name + len - 7, ".weight") && t->rank > 1))
            continue;
        const int is_gamma = len > 7 && !strcmp(name + len - 7, ".weight");
        for (size_t k = 0; k < t->count; k++)
            v[k] = (float)((is_gamma ? 1.0 : 0.0) + 0.3 * invcsi_rng_normal(&r));
    }
    const long n_x = (long)BATCH * cfg.dim;
    x = malloc(sizeof(float) * n_x);
    float *dx = calloc(n_x, sizeof(float));
    float *grad = malloc(sizeof(float) * p->total);
    for (long i = 0; i < n_x; i++)
        x[i] = (float)invcsi_rng_normal(&r);

    /* Analytic gradients, once. */
    invcsi_params_zero_grad(p);
    invcsi_losses l0;
    rc = invcsi_csinet_train_step_dx(model, x, BATCH, &l0, dx, &err);
    CHECK(rc == 0, "train_step: %s", err.msg);
    memcpy(grad, p->grad, sizeof(float) * p->total);
    printf("csinet gradcheck: nt 8, nc 8, dim %d, m %d, batch %d, loss %.6f\n", cfg.dim, cfg.m,
           BATCH, l0.total);

    /* Global gradient scale over the trainable parameters. */
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
    printf("  rms of all %ld parameter gradients: %.3e\n", n_train, sqrt(ss / n_train));

    /* Conv biases in front of a training-mode BN: zero gradient by the maths, so the
     * analytic one must be at round-off level. */
    for (int i = 0; i < p->n_tensors; i++) {
        const invcsi_tensor *t = &p->tensors[i];
        const size_t len = strlen(t->name);
        if (strncmp(t->name, "dec.out", 7) == 0 || len < 5 || strcmp(t->name + len - 5, ".bias") ||
            !strstr(t->name, "conv"))
            continue;
        const double g_rms = rms(grad + t->offset, (long)t->count);
        CHECK(g_rms < 1e-5 * sqrt(ss / n_train), "%s (before a BN) has gradient rms %.3e",
              t->name, g_rms);
    }

    int n_checked_tensors = 0;
    for (int i = 0; i < p->n_tensors; i++) {
        const invcsi_tensor *t = &p->tensors[i];
        if (t->frozen)
            continue;
        check_entries(t->name, invcsi_tensor_data(p, t), grad + t->offset, (long)t->count,
                      floor, &r);
        n_checked_tensors++;
    }
    /* The 4 + 2 + 2 + 6*4 + 2 trainable tensors of a 2-block CsiNet. */
    CHECK(n_checked_tensors == 34, "%d trainable tensors checked, expected 34",
          n_checked_tensors);
    check_entries("input x", x, dx, n_x, floor, &r);

    /* The loss must be unchanged by the checks (every entry was restored). */
    CHECK_CLOSE(loss_now(), l0.total, 1e-12, "loss after the checks");

    free(x), free(dx), free(grad);
    invcsi_model_destroy(model);
    return check_done("test_csinet_gradcheck");
}
