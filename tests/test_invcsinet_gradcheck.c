/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Gradient check of the whole InvCSINet training loss (lib/invcsinet.c train_step):
 *   L = mmd_weight MMD([y_n, z], [y^, z^]) + lambda MSE(f^-1(y(y^), z_bwd), x)
 * through the INN, the latent normalisation, the DAQ, D-BCD (or the AWGN ablation), the IC
 * (LAN + learned z prior) and the inverse INN, against central finite differences of the
 * loss value train_step reports, with every noise held fixed (train_step draws the Gumbel,
 * AWGN and prior noise from the rng it is given; each evaluation gets a fresh rng of the
 * same seed, so all draws repeat exactly).
 *
 * Why the soft test mode (invcsi_invcsinet_set_soft_forward). The TRAINING forward is
 * straight-through: the DAQ passes the hard level c_j(y) forward but the gradient of its
 * soft value q(y) = c_0 + sum_k s_k sigmoid(beta (y - b_k)) backward, and D-BCD passes the
 * one-hot level c_j* forward but the gradient of sum_j g_j c_j backward. The finite
 * difference of that forward value is zero almost everywhere (piecewise constant in y) and
 * says nothing about the gradient. In the test mode the forward uses those same soft
 * values, so the loss is one smooth function whose exact gradient is what the (unchanged)
 * backward computes; every other piece (normalisation, LAN, prior, MMD, MSE, INN both ways)
 * is the same code as in training. What this does NOT check is the straight-through
 * substitution itself (by definition not a gradient): tests/test_invcsinet_learn.sh checks
 * that training with it improves the real-bit NMSE.
 *
 * The D-BCD backward is checked in its "surrogate" form (dbcd_grad, the paper's: the
 * gradient w.r.t. the sent value q flows through p, pi and g, the exact gradient of the
 * soft surrogate). The default "straight" form replaces only that dq by dy~ (not a
 * derivative of anything, by design); straight_vs_surrogate checks that every gradient
 * downstream of the channel is bit-identical between the two and the upstream ones differ.
 *
 * Configurations: (A) D-BCD at 3 dB, IC, z_bwd = mu; (B) z_bwd = the
 * sample z^, D-BCD replaced by AWGN on the levels (no_dbcd), Gray labels; (C) no_ic with
 * z_bwd = 0 and the DAQ frozen (no_daq: its tensors must get no gradient), INN frozen
 * (freeze_inn: likewise).
 * Every tensor of the model gets a random sample of entries plus one directional
 * derivative along its own gradient. Weights are randomised (the LAN's and the INN subnets'
 * last convs are not zero) so every path carries gradient; beta and delta are moderate
 * (beta x spacing = 2, delta = 0.5 spacing^2) so the soft DAQ and the soft index are not
 * saturated.
 *
 * Differences: steps 1e-2, 3e-3, 1e-3, 3e-4 (applied step = the float difference); an
 * entry passes when one of them gives |g - fd| <= RTOL max(|g|, |fd|, scale), scale = the
 * rms of the tensor's gradient (LeakyReLU kinks in the subnets and the LAN spoil some
 * steps; a wrong gradient is wrong at every step), after forgiving the round-off of the
 * float loss (8 ulp(L) / (2 h): the INN subnets' entries have gradients ~1e-5 against a
 * loss ~0.1, where a float loss cannot resolve more; their tensors' directional
 * derivatives are checked without that allowance). RTOL = 3e-2. Measured worst errors are
 * printed.
 */
#include "check.h"
#include "invcsi/invcsinet.h"
#include "invcsi/model.h"
#include "invcsi/params.h"
#include "invcsi/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RTOL 3e-2
#define BATCH 8
#define SAMPLES_PER_TENSOR 6
#define NOISE_SEED 4242
#define NOISE_ULPS 8.0

typedef struct ctx {
    invcsi_model *m;
    const float *x;
} ctx;

static double loss_at(ctx *c)
{
    invcsi_rng r;
    invcsi_rng_init(&r, NOISE_SEED, 7);
    invcsi_losses l;
    invcsi_error err;
    invcsi_params_zero_grad(&c->m->params);
    if (c->m->ops->train_step(c->m, c->x, BATCH, &r, &l, &err) != INVCSI_OK) {
        fprintf(stderr, "train_step: %s\n", err.msg);
        exit(1);
    }
    return l.total;
}

static double rel_err(double g, double fd, double scale)
{
    double d = fmax(fmax(fabs(g), fabs(fd)), scale);
    return d > 0 ? fabs(g - fd) / d : 0.0;
}

/* Best relative error over the step ladder of a perturbation of v along dir (n floats). */
static double fd_check(ctx *c, float *v, const float *dir, long n, double g, double scale,
                       double noise_ulps)
{
    static const double steps[] = {1e-2, 3e-3, 1e-3, 3e-4};
    float *save = malloc(sizeof(float) * (size_t)n);
    memcpy(save, v, sizeof(float) * (size_t)n);
    double best = INFINITY;
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        for (long i = 0; i < n; i++)
            v[i] = save[i] + (float)(steps[k] * dir[i]);
        const double lp = loss_at(c);
        double hp = 0.0; /* the applied step along dir */
        for (long i = 0; i < n; i++)
            if (dir[i] != 0.0f) {
                hp = ((double)v[i] - save[i]) / dir[i];
                break;
            }
        for (long i = 0; i < n; i++)
            v[i] = save[i] - (float)(steps[k] * dir[i]);
        const double lm = loss_at(c);
        double hm = 0.0;
        for (long i = 0; i < n; i++)
            if (dir[i] != 0.0f) {
                hm = (save[i] - (double)v[i]) / dir[i];
                break;
            }
        memcpy(v, save, sizeof(float) * (size_t)n);
        const double fd = (lp - lm) / (hp + hm);
        /* the float loss carries round-off of a few ulps: its difference quotient an
         * uncertainty of NOISE_ULPS ulp(L) / (2 h), forgiven on top of the tolerance */
        const double noise = noise_ulps * 1.1920929e-7 * fabs(lp + lm) / 2 / (hp + hm);
        const double diff = fabs(g - fd) > noise ? fabs(g - fd) - noise : 0.0;
        const double e = rel_err(g, g + (fd > g ? diff : -diff), scale);
        best = e < best ? e : best;
        if (best <= RTOL / 4)
            break;
    }
    free(save);
    return best;
}

static void randomise(invcsi_model *m, invcsi_rng *r)
{
    invcsi_params *p = &m->params;
    for (int i = 0; i < p->n_tensors; i++) {
        invcsi_tensor *t = &p->tensors[i];
        float *v = invcsi_tensor_data(p, t);
        const char *nm = t->name;
        if (strstr(nm, ".front."))
            continue;
        if ((!strncmp(nm, "inn.", 4) && strstr(nm, "conv3.weight")) ||
            (!strncmp(nm, "ic.lan.", 7) && strstr(nm, "conv2.weight")))
            for (size_t k = 0; k < t->count; k++)
                v[k] = (float)(0.05 * invcsi_rng_normal(r));
        else if (!strcmp(nm, "latent.shift") || !strcmp(nm, "ic.z.mu"))
            for (size_t k = 0; k < t->count; k++)
                v[k] = (float)(0.2 * invcsi_rng_normal(r));
        else if (!strcmp(nm, "latent.log_scale") || !strcmp(nm, "ic.z.log_sigma"))
            for (size_t k = 0; k < t->count; k++)
                v[k] = (float)(0.2 * invcsi_rng_normal(r));
        else if (!strncmp(nm, "daq.", 4))
            for (size_t k = 0; k < t->count; k++)
                v[k] += (float)(0.1 * invcsi_rng_normal(r));
        else if (strstr(nm, ".bias"))
            for (size_t k = 0; k < t->count; k++)
                v[k] = (float)(0.1 * invcsi_rng_normal(r));
    }
}

static void run_config(const char *label, int no_dbcd, int no_ic, int no_daq, int freeze,
                       int zsample, int gray)
{
    invcsi_error err;
    invcsi_model_config cfg;
    if (invcsi_model_config_default(&cfg, "invcsinet", 1, 8, 8, 1.0 / 8, &err) != INVCSI_OK) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    cfg.patch = 4;
    cfg.blocks = 2;
    cfg.width = 8;
    cfg.lan_width = 8;
    cfg.bits = 2;
    cfg.snr_db_min = cfg.snr_db_max = 3.0f;
    const float sp = 2.0f / 3.0f; /* uniform spacing at B = 2, R = 1 */
    cfg.delta = 0.5f * sp * sp;
    cfg.no_dbcd = no_dbcd;
    cfg.no_ic = no_ic;
    cfg.no_daq = no_daq;
    cfg.freeze_inn = freeze;
    cfg.z_bwd_sample = zsample;
    /* the exact gradient of the soft forward; "straight" is compared in straight_vs_surrogate */
    snprintf(cfg.dbcd_grad, sizeof cfg.dbcd_grad, "surrogate");
    snprintf(cfg.bit_map, sizeof cfg.bit_map, "%s", gray ? "gray" : "natural");
    invcsi_model *m;
    if (invcsi_model_create(&m, &cfg, BATCH, &err) != INVCSI_OK) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    invcsi_invcsinet_set_soft_forward(m, 1);
    invcsi_invcsinet_set_beta(m, 2.0f / sp);
    invcsi_rng r;
    invcsi_rng_init(&r, 99, 1);
    randomise(m, &r);
    float *x = malloc(sizeof(float) * BATCH * cfg.dim);
    for (long i = 0; i < (long)BATCH * cfg.dim; i++)
        x[i] = (float)invcsi_rng_normal(&r);
    ctx c = {m, x};

    invcsi_params *p = &m->params;
    const double l0 = loss_at(&c);
    float *grad = malloc(sizeof(float) * p->total);
    memcpy(grad, p->grad, sizeof(float) * p->total);
    /* the loss is deterministic given the rng */
    CHECK(loss_at(&c) == l0, "%s: loss not reproducible", label);
    printf("%s: loss %.6f\n", label, l0);

    double worst_entry = 0.0, worst_dir = 0.0;
    int tensors = 0;
    for (int i = 0; i < p->n_tensors; i++) {
        const invcsi_tensor *t = &p->tensors[i];
        float *v = invcsi_tensor_data(p, t);
        const float *g = grad + t->offset;
        double ss = 0.0;
        for (size_t k = 0; k < t->count; k++)
            ss += (double)g[k] * g[k];
        const double rms = sqrt(ss / t->count);
        if (t->frozen) {
            CHECK(ss == 0.0, "%s: frozen tensor %s has gradient (rms %g)", label, t->name, rms);
            continue;
        }
        tensors++;
        CHECK(ss > 0.0, "%s: tensor %s gets no gradient", label, t->name);
        if (!(ss > 0.0))
            continue;
        /* sampled entries */
        for (int s = 0; s < SAMPLES_PER_TENSOR && s < (int)t->count; s++) {
            const long k = (long)invcsi_rng_below(&r, t->count);
            const float one = 1.0f;
            const double e = fd_check(&c, v + k, &one, 1, g[k], rms, NOISE_ULPS);
            worst_entry = e > worst_entry ? e : worst_entry;
            CHECK(e <= RTOL, "%s: %s[%ld]: gradient %.6g, error %.3g", label, t->name, k, g[k],
                  e);
        }
        /* directional derivative along the tensor's own (normalised) gradient */
        float *dir = malloc(sizeof(float) * t->count);
        double gmax = 0.0;
        for (size_t k = 0; k < t->count; k++)
            gmax = fmax(gmax, fabs(g[k]));
        for (size_t k = 0; k < t->count; k++)
            dir[k] = (float)(g[k] / gmax);
        double gd = 0.0;
        for (size_t k = 0; k < t->count; k++)
            gd += (double)g[k] * dir[k];
        /* the first nonzero dir entry defines the applied step: make it the largest */
        const double e = fd_check(&c, v, dir, (long)t->count, gd, 0.0, 0.0);
        free(dir);
        worst_dir = e > worst_dir ? e : worst_dir;
        CHECK(e <= RTOL, "%s: %s directional: %.6g, error %.3g", label, t->name, gd, e);
    }
    printf("%s: %d trainable tensors, worst entry error %.2e, worst directional %.2e\n", label,
           tensors, worst_entry, worst_dir);
    free(grad);
    free(x);
    invcsi_model_destroy(m);
}

/* The default D-BCD backward ("straight": dq = dy~) differs from the surrogate's only in
 * what reaches the sent value q: every gradient downstream of the channel (LAN, z prior)
 * must be bit-identical between the two, and the upstream ones must differ. */
static void straight_vs_surrogate(void)
{
    invcsi_error err;
    float *g[2] = {NULL, NULL};
    invcsi_model *ms[2];
    float *x = NULL;
    for (int k = 0; k < 2; k++) {
        invcsi_model_config cfg;
        invcsi_model_config_default(&cfg, "invcsinet", 1, 8, 8, 1.0 / 8, &err);
        cfg.patch = 4;
        cfg.blocks = 2;
        cfg.width = 8;
        cfg.lan_width = 8;
        cfg.bits = 2;
        cfg.snr_db_min = cfg.snr_db_max = 3.0f;
        cfg.delta = 0.5f * (2.0f / 3) * (2.0f / 3);
        snprintf(cfg.dbcd_grad, sizeof cfg.dbcd_grad, "%s", k ? "surrogate" : "straight");
        if (invcsi_model_create(&ms[k], &cfg, BATCH, &err) != INVCSI_OK) {
            fprintf(stderr, "%s\n", err.msg);
            exit(1);
        }
        invcsi_invcsinet_set_beta(ms[k], 3.0f);
        invcsi_rng r;
        invcsi_rng_init(&r, 99, 1);
        randomise(ms[k], &r);
        if (!x) {
            x = malloc(sizeof(float) * BATCH * cfg.dim);
            for (long i = 0; i < (long)BATCH * cfg.dim; i++)
                x[i] = (float)invcsi_rng_normal(&r);
        }
        ctx c = {ms[k], x};
        loss_at(&c);
        g[k] = malloc(sizeof(float) * ms[k]->params.total);
        memcpy(g[k], ms[k]->params.grad, sizeof(float) * ms[k]->params.total);
    }
    const invcsi_params *p = &ms[0]->params;
    for (int i = 0; i < p->n_tensors; i++) {
        const invcsi_tensor *t = &p->tensors[i];
        const int same = !memcmp(g[0] + t->offset, g[1] + t->offset, sizeof(float) * t->count);
        if (!strncmp(t->name, "ic.", 3))
            CHECK(same, "straight vs surrogate: downstream tensor %s differs", t->name);
        else if (!strcmp(t->name, "latent.shift") || !strcmp(t->name, "daq.threshold_raw"))
            CHECK(!same, "straight vs surrogate: upstream tensor %s is the same", t->name);
    }
    printf("straight vs surrogate D-BCD backward: downstream gradients identical\n");
    for (int k = 0; k < 2; k++) {
        free(g[k]);
        invcsi_model_destroy(ms[k]);
    }
    free(x);
}

int main(void)
{
    straight_vs_surrogate();
    run_config("A d-bcd", 0, 0, 0, 0, 0, 0);
    run_config("B zsample+no_dbcd+gray", 1, 0, 0, 0, 1, 1);
    run_config("C no_ic+no_daq+freeze", 0, 1, 1, 1, 0, 0);
    return check_done("test_invcsinet_gradcheck");
}
