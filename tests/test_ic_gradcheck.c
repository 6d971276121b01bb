/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Gradient check of the IC module (include/invcsi/ic.h): the LAN residual CNN w.r.t. its
 * input and all six tensors, and the learned prior of z w.r.t. mu and log_sigma (sampled
 * and deterministic forms), against central finite differences of the library's forward.
 *
 * L = sum r . out with a fixed random projection r. The LAN's last conv is given random
 * (not zero) weights so every path carries gradient. Method and tolerance as in
 * test_nn_gradcheck: |g - fd| / max(|g|, |fd|, rms(g)) < 1e-2, L summed in double.
 * eps = 1e-3: the LAN is piecewise linear, so the only FD error besides round-off
 * (~1e-7 sqrt(#outputs) / 2h ~ 1e-3 relative) is a LeakyReLU kink crossed within +-h.
 * The input is drawn so that every hidden pre-activation is >= 5e-3 from the kink, and
 * entries that still straddle one are detected (a hidden map changes sign between the +h
 * and -h evaluations) and skipped, at most 5 % of them (fixed seed: reproducible).
 * Seen to fail: swapping h0 for h1 as the saved input of conv1's backward in lib/ic.c, or
 * dropping the residual dout in din, makes it report errors of order 1 and exit 1.
 */
#include "check.h"
#include "invcsi/ic.h"
#include "invcsi/nn.h"
#include "invcsi/rng.h"

#include <stdlib.h>
#include <string.h>

#define GRAD_RTOL 1e-2

static float *alloc_f(long n)
{
    float *p = calloc(n > 0 ? (size_t)n : 1, sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

typedef double (*loss_fn)(void *ctx);
/* Optional: after the +h evaluation (phase 0) records the LeakyReLU sign pattern; after the
 * -h evaluation (phase 1) returns 1 when a pre-activation changed sign in between (the
 * central difference then straddles a kink and says nothing about the gradient). */
typedef int (*kink_fn)(void *ctx, int phase);

static void gradcheck(const char *what, loss_fn f, kink_fn kink, void *ctx, float *x, long n,
                      const float *g, float eps)
{
    double ss = 0.0;
    for (long k = 0; k < n; k++)
        ss += (double)g[k] * g[k];
    const double rms = sqrt(ss / n);
    double worst = 0.0;
    long worst_k = 0, skipped = 0;
    for (long k = 0; k < n; k++) {
        const float x0 = x[k], xp = x0 + eps, xm = x0 - eps;
        x[k] = xp;
        const double lp = f(ctx);
        if (kink)
            kink(ctx, 0);
        x[k] = xm;
        const double lm = f(ctx);
        const int crossed = kink ? kink(ctx, 1) : 0;
        x[k] = x0;
        if (crossed) {
            skipped++;
            continue;
        }
        const double fd = (lp - lm) / ((double)xp - (double)xm);
        const double den = fmax(fmax(fabs(fd), fabs(g[k])), rms);
        const double e = den > 0.0 ? fabs(g[k] - fd) / den : 0.0;
        if (e > worst) {
            worst = e;
            worst_k = k;
        }
    }
    printf("  %-14s %5ld entries (%ld skipped: kink crossed), rms grad %.3g, max rel err %.2e "
           "(at %ld)\n", what, n, skipped, rms, worst, worst_k);
    CHECK(worst < GRAD_RTOL, "%s: max relative error %.3e at entry %ld", what, worst, worst_k);
    CHECK(skipped * 20 <= n, "%s: %ld of %ld entries straddle a kink", what, skipped, n);
}

static void fill_normal(float *x, long n, double scale, invcsi_rng *r)
{
    for (long i = 0; i < n; i++)
        x[i] = (float)(scale * invcsi_rng_normal(r));
}

/* ---- LAN ------------------------------------------------------------------------------------- */

struct lan_ctx {
    invcsi_lan_shape s;
    int batch;
    invcsi_lan_params w;
    float *in, *out, *acts, *scratch, *r;
    unsigned char *signs; /* sign pattern of the hidden maps at +h */
    long n, nh;
};

static int lan_kink(void *p, int phase)
{
    struct lan_ctx *c = p;
    int changed = 0;
    for (long i = 0; i < c->nh; i++) {
        const unsigned char sgn = c->acts[i] > 0.0f;
        if (phase == 0)
            c->signs[i] = sgn;
        else
            changed |= c->signs[i] != sgn;
    }
    return changed;
}

static double lan_loss(void *p)
{
    struct lan_ctx *c = p;
    int rc = invcsi_lan_forward(&c->s, &c->w, c->out, c->in, c->acts, c->batch, c->scratch, NULL);
    CHECK(rc == 0, "LAN forward failed");
    double acc = 0.0;
    for (long i = 0; i < c->n; i++)
        acc += (double)c->r[i] * c->out[i];
    return acc;
}

static void check_lan(int c1, int gh, int gw, int width, int batch, uint64_t seed)
{
    struct lan_ctx c;
    memset(&c, 0, sizeof c);
    c.s = (invcsi_lan_shape){c1, gh, gw, width, INVCSI_LEAKY_SLOPE_INN};
    c.batch = batch;
    c.n = (long)batch * invcsi_lan_dims(&c.s);
    invcsi_lan_params g;
    long nw[INVCSI_LAN_CONVS], nb[INVCSI_LAN_CONVS];
    for (int k = 0; k < INVCSI_LAN_CONVS; k++) {
        int ci, co;
        invcsi_lan_conv_channels(&c.s, k, &ci, &co);
        nw[k] = (long)co * ci * 9;
        nb[k] = co;
        c.w.weight[k] = alloc_f(nw[k]), c.w.bias[k] = alloc_f(nb[k]);
        g.weight[k] = alloc_f(nw[k]), g.bias[k] = alloc_f(nb[k]);
    }
    invcsi_lan_init(&c.s, &c.w, seed, 1.0f); /* non-zero last conv */
    invcsi_rng r;
    invcsi_rng_init(&r, seed, 1000);
    for (int k = 0; k < INVCSI_LAN_CONVS; k++)
        fill_normal(c.w.bias[k], nb[k], 0.3, &r);
    c.in = alloc_f(c.n), c.out = alloc_f(c.n), c.r = alloc_f(c.n);
    c.nh = invcsi_lan_act_floats(&c.s, batch);
    c.acts = alloc_f(c.nh);
    c.signs = calloc((size_t)c.nh, 1);
    c.scratch = alloc_f(invcsi_lan_scratch_floats(&c.s, batch));
    fill_normal(c.r, c.n, 1.0, &r);
    /* Keep every hidden pre-activation at least 5e-3 from the kink (a perturbation of 1e-3
     * moves it by ~1e-3 x an activation of unit size): redraw the input until it is. */
    double min_pre = 0.0;
    int attempts = 0;
    while (min_pre < 5e-3 && attempts < 200) {
        fill_normal(c.in, c.n, 1.0, &r);
        lan_loss(&c);
        min_pre = INFINITY;
        for (long i = 0; i < c.nh; i++) {
            const double pre = c.acts[i] > 0.0f ? c.acts[i] : c.acts[i] / c.s.slope;
            min_pre = fmin(min_pre, fabs(pre));
        }
        attempts++;
    }
    CHECK(min_pre >= 5e-3, "no input with pre-activations away from the kink");
    float *din = alloc_f(c.n);
    lan_loss(&c);
    invcsi_error err;
    CHECK(invcsi_lan_backward(&c.s, &c.w, &g, din, c.r, c.in, c.acts, batch, c.scratch, &err) == 0,
          "%s", err.msg);
    printf("LAN c1=%d grid %dx%d width %d batch %d\n", c1, gh, gw, width, batch);
    gradcheck("dinput", lan_loss, lan_kink, &c, c.in, c.n, din, 1e-3f);
    char label[32];
    for (int k = 0; k < INVCSI_LAN_CONVS; k++) {
        snprintf(label, sizeof label, "conv%d.weight", k);
        gradcheck(label, lan_loss, lan_kink, &c, c.w.weight[k], nw[k], g.weight[k], 1e-3f);
        snprintf(label, sizeof label, "conv%d.bias", k);
        gradcheck(label, lan_loss, lan_kink, &c, c.w.bias[k], nb[k], g.bias[k], 1e-3f);
    }
    /* NULL gradient set and NULL din are accepted. */
    lan_loss(&c);
    CHECK(invcsi_lan_backward(&c.s, &c.w, NULL, NULL, c.r, c.in, c.acts, batch, c.scratch, &err) ==
              0, "%s", err.msg);
    for (int k = 0; k < INVCSI_LAN_CONVS; k++) {
        free(c.w.weight[k]), free(c.w.bias[k]), free(g.weight[k]), free(g.bias[k]);
    }
    free(c.in), free(c.out), free(c.r), free(c.acts), free(c.scratch), free(din), free(c.signs);
}

/* ---- prior of z --------------------------------------------------------------------------------- */

struct prior_ctx {
    int batch, zdims;
    float *mu, *ls, *noise, *z, *r;
};

static double prior_loss(void *p)
{
    struct prior_ctx *c = p;
    invcsi_zprior_forward(c->z, c->mu, c->ls, c->noise, c->batch, c->zdims);
    double acc = 0.0;
    for (long i = 0; i < (long)c->batch * c->zdims; i++)
        acc += (double)c->r[i] * c->z[i];
    return acc;
}

static void check_prior(int zdims, int batch, int sampled)
{
    struct prior_ctx c = {batch, zdims, NULL, NULL, NULL, NULL, NULL};
    const long n = (long)batch * zdims;
    c.mu = alloc_f(zdims), c.ls = alloc_f(zdims), c.z = alloc_f(n), c.r = alloc_f(n);
    c.noise = sampled ? alloc_f(n) : NULL;
    invcsi_rng r;
    invcsi_rng_init(&r, 8, (uint64_t)sampled);
    fill_normal(c.mu, zdims, 0.5, &r);
    fill_normal(c.ls, zdims, 0.5, &r);
    fill_normal(c.r, n, 1.0, &r);
    if (sampled)
        fill_normal(c.noise, n, 1.0, &r);
    float *dmu = alloc_f(zdims), *dls = alloc_f(zdims);
    invcsi_zprior_backward(dmu, dls, c.r, c.mu, c.ls, c.noise, batch, zdims);
    printf("z prior %s, Z=%d batch %d\n", sampled ? "sampled" : "deterministic (mu)", zdims,
           batch);
    gradcheck("dmu", prior_loss, NULL, &c, c.mu, zdims, dmu, 1e-3f);
    if (sampled)
        gradcheck("dlog_sigma", prior_loss, NULL, &c, c.ls, zdims, dls, 1e-3f);
    else {
        int zero = 1;
        for (int k = 0; k < zdims; k++)
            zero &= dls[k] == 0.0f;
        CHECK(zero, "deterministic z = mu must not touch dlog_sigma");
    }
    free(c.mu), free(c.ls), free(c.z), free(c.r), free(c.noise), free(dmu), free(dls);
}

int main(void)
{
    check_lan(2, 4, 4, 5, 3, 1);
    check_lan(3, 3, 5, 4, 2, 2);
    check_prior(24, 5, 1);
    check_prior(24, 5, 0);
    return check_done("test_ic_gradcheck");
}
