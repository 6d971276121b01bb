/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Gradient check of the DAQ backward (include/invcsi/daq.h) against central finite
 * differences of the library's own forward.
 *
 * The training forward outputs the hard value, whose derivative is zero almost everywhere;
 * the backward is the gradient of the SOFT value (straight-through). So the checked
 * function is the soft value, plus the levels table (whose gradient the D-BCD backward
 * sends back through dlevels):
 *   L = sum_e r_e q_soft_e + sum_{d,j} s_dj levels_dj
 * with fixed random projections r, s; the analytic gradient is invcsi_daq_backward with
 * dq = r and dlevels = s, w.r.t. y and every raw parameter (thresholds and steps).
 * (test_daq checks separately that the train forward returns exactly the hard value.)
 *
 * Method and tolerance as in test_nn_gradcheck: step h = fl(x + eps) - x actually applied,
 * L summed in double, error |g - fd| / max(|g|, |fd|, rms(g)) < 1e-2. With eps = 1e-3 and
 * beta = 4 the truncation error h^2 |f'''| / 6 ~ 1e-6 beta^3 s / 6 ~ 1e-5 and the float
 * round-off of L (~1e-7 * sqrt(#terms) * |terms| / 2h) ~ 1e-4 relative: both far below
 * 1e-2, while a real mistake (sign, factor, index, a missed chain term) gives O(1).
 * Seen to fail: flipping the sign of dthr in daq_soft_grad, or dropping the sigmoid of the
 * step chain in daq_raw_grad, makes it report errors of 0.1 to 2 and exit 1.
 */
#include "check.h"
#include "invcsi/daq.h"
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

static void gradcheck(const char *what, loss_fn f, void *ctx, float *x, long n, const float *g,
                      float eps)
{
    double ss = 0.0;
    for (long k = 0; k < n; k++)
        ss += (double)g[k] * g[k];
    const double rms = sqrt(ss / n);
    double worst = 0.0;
    long worst_k = 0;
    for (long k = 0; k < n; k++) {
        const float x0 = x[k], xp = x0 + eps, xm = x0 - eps;
        x[k] = xp;
        const double lp = f(ctx);
        x[k] = xm;
        const double lm = f(ctx);
        x[k] = x0;
        const double fd = (lp - lm) / ((double)xp - (double)xm);
        const double den = fmax(fmax(fabs(fd), fabs(g[k])), rms);
        const double e = den > 0.0 ? fabs(g[k] - fd) / den : 0.0;
        if (e > worst) {
            worst = e;
            worst_k = k;
        }
    }
    printf("  %-22s %5ld entries, rms grad %.3g, max rel err %.2e (at %ld)\n", what, n, rms,
           worst, worst_k);
    CHECK(worst < GRAD_RTOL, "%s: max relative error %.3e at entry %ld", what, worst, worst_k);
}

struct ctx {
    invcsi_daq_config cfg;
    int batch;
    float beta;
    float *thr_raw, *step_raw, *y, *r, *s, *tbuf, *qh, *qs;
    invcsi_daq_tables t;
};

static double loss(void *p)
{
    struct ctx *c = p;
    int rc = invcsi_daq_forward_train(&c->cfg, c->thr_raw, c->step_raw, &c->t, c->y, c->batch,
                                      c->beta, c->qh, c->qs, NULL, NULL);
    CHECK(rc == 0, "forward failed");
    const long n = (long)c->batch * c->cfg.dims;
    const long nl = (long)c->cfg.dims * invcsi_daq_levels_count(&c->cfg);
    double acc = 0.0;
    for (long e = 0; e < n; e++)
        acc += (double)c->r[e] * c->qs[e];
    for (long i = 0; i < nl; i++)
        acc += (double)c->s[i] * c->t.levels[i];
    return acc;
}

static void check_daq(int bits, int dims, int batch, float beta, uint64_t seed)
{
    struct ctx c;
    memset(&c, 0, sizeof c);
    c.cfg = (invcsi_daq_config){dims, bits, 1.0f};
    c.batch = batch;
    c.beta = beta;
    const int L = invcsi_daq_levels_count(&c.cfg), nk = L - 1;
    const long np = (long)dims * nk, n = (long)batch * dims, nl = (long)dims * L;
    c.thr_raw = alloc_f(np), c.step_raw = alloc_f(np), c.y = alloc_f(n), c.r = alloc_f(n);
    c.s = alloc_f(nl), c.tbuf = alloc_f(invcsi_daq_tables_floats(&c.cfg));
    c.qh = alloc_f(n), c.qs = alloc_f(n);
    invcsi_daq_tables_bind(&c.t, &c.cfg, c.tbuf);
    invcsi_error err;
    CHECK(invcsi_daq_init_uniform(&c.cfg, c.thr_raw, c.step_raw, &err) == 0, "%s", err.msg);
    invcsi_rng rng;
    invcsi_rng_init(&rng, seed, (uint64_t)bits);
    /* Move the quantizer off the uniform init so every chain term matters. */
    for (long i = 0; i < np; i++) {
        c.thr_raw[i] += (float)(0.4 * invcsi_rng_normal(&rng));
        c.step_raw[i] += (float)(0.4 * invcsi_rng_normal(&rng));
    }
    for (long e = 0; e < n; e++) {
        c.y[e] = (float)(0.7 * invcsi_rng_normal(&rng));
        c.r[e] = (float)invcsi_rng_normal(&rng);
    }
    for (long i = 0; i < nl; i++)
        c.s[i] = (float)invcsi_rng_normal(&rng);

    float *dy = alloc_f(n), *dthr = alloc_f(np), *dstep = alloc_f(np);
    loss(&c); /* fills the tables */
    CHECK(invcsi_daq_backward(&c.cfg, c.thr_raw, c.step_raw, &c.t, c.y, c.r, c.s, batch, beta,
                              dy, dthr, dstep, &err) == 0, "%s", err.msg);
    printf("DAQ B=%d M=%d batch %d beta %g\n", bits, dims, batch, beta);
    gradcheck("dy", loss, &c, c.y, n, dy, 1e-3f);
    gradcheck("dthreshold_raw", loss, &c, c.thr_raw, np, dthr, 1e-3f);
    gradcheck("dstep_raw", loss, &c, c.step_raw, np, dstep, 1e-3f);

    /* Accumulation: a second backward adds the same amount again. */
    float *dthr2 = alloc_f(np);
    loss(&c); /* the tables must come from the unperturbed parameters again */
    memcpy(dthr2, dthr, sizeof(float) * np);
    invcsi_daq_backward(&c.cfg, c.thr_raw, c.step_raw, &c.t, c.y, c.r, c.s, batch, beta, NULL,
                        dthr2, NULL, NULL);
    double worst = 0.0;
    for (long i = 0; i < np; i++)
        worst = fmax(worst, fabs(dthr2[i] - 2.0f * dthr[i]) / (1e-6 + fabs(dthr[i])));
    CHECK(worst < 1e-5, "backward does not accumulate: %g", worst);

    /* The levels-only chain equals the dlevels part of the full backward. */
    float *a = alloc_f(np), *b = alloc_f(np), *zero = alloc_f(n);
    invcsi_daq_backward(&c.cfg, c.thr_raw, c.step_raw, &c.t, c.y, zero, c.s, batch, beta, NULL,
                        NULL, a, NULL);
    invcsi_daq_levels_backward(&c.cfg, c.step_raw, c.s, b, NULL);
    CHECK(memcmp(a, b, sizeof(float) * np) == 0, "levels_backward != backward with dq = 0");
    free(c.thr_raw), free(c.step_raw), free(c.y), free(c.r), free(c.s), free(c.tbuf);
    free(c.qh), free(c.qs), free(dy), free(dthr), free(dstep), free(dthr2), free(a), free(b);
    free(zero);
}

int main(void)
{
    check_daq(1, 3, 6, 4.0f, 1);
    check_daq(2, 3, 6, 4.0f, 2);
    check_daq(3, 2, 8, 4.0f, 3);
    check_daq(4, 2, 8, 3.0f, 4);
    return check_done("test_daq_gradcheck");
}
