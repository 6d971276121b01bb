/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Gradient check of the D-BCD backward (include/invcsi/dbcd.h) against central finite
 * differences of the library's own forward, with the Gumbel noise held fixed.
 *
 * The forward value is one-hot (y~ = c_{j*}), piecewise constant in q; the backward is the
 * gradient of the soft surrogate y~_soft = sum_j g_j c_j (straight-through). So the checked
 * function is L = sum_e r_e y~_soft_e (fixed random r), w.r.t. q [batch][M] and the levels
 * [M][L] (each level enters p, the soft index, and the direct sum). The one-hot forward is
 * checked separately in test_dbcd. Then the assembled chain y -> DAQ soft value -> D-BCD
 * (dq and dlevels fed to invcsi_daq_backward) w.r.t. y and the DAQ raw parameters.
 *
 * Settings put every term to work: q near, not on, the levels; delta about the squared
 * level spacing so p is soft; tau 0.7; SNRs 0 and 5 dB (eps 0.079, 0.006) and 20 dB (eps
 * ~1e-45: P is the identity in float), and 30 dB with delta = spacing^2 / 4 (far levels
 * underflow to p_i = 0 and pi_j = 0: the zero paths of the forward and backward).
 * Tolerance and method as test_nn_gradcheck: |g - fd| / max(|g|, |fd|, rms(g)) < 1e-2 with
 * eps = 1e-3, L summed in double. The forward's float round-off (log-sum-exps over values of
 * size (q - c)^2 / delta ~ 10) is ~1e-6 per term, ~1e-4 relative after dividing by 2h.
 * Seen to fail: using 1/delta for the 2/delta factor of the soft-index backward, or
 * dropping the direct dy g_j term of dc, in kernels/dbcd_math.h makes it report errors of
 * 0.3 to 1.8 and exit 1. (Dropping the "- p_i S" term does not: S = sum_j dlogpi_j is zero
 * in exact arithmetic, because the softmax gradient sums to zero.)
 */
#include "check.h"
#include "invcsi/bitlink.h"
#include "invcsi/daq.h"
#include "invcsi/dbcd.h"
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
    printf("  %-10s %5ld entries, rms grad %.3g, max rel err %.2e (at %ld)\n", what, n, rms,
           worst, worst_k);
    CHECK(worst < GRAD_RTOL, "%s: max relative error %.3e at entry %ld", what, worst, worst_k);
}

struct ctx {
    invcsi_dbcd_config cfg;
    int batch;
    float *q, *levels, *Ptab, *G, *r, *y, *ys, *save;
};

static double loss(void *p)
{
    struct ctx *c = p;
    int rc = invcsi_dbcd_forward(&c->cfg, c->q, c->levels, c->Ptab, c->G, c->batch, c->y, NULL,
                                 c->ys, c->save, NULL);
    CHECK(rc == 0, "forward failed");
    double acc = 0.0;
    for (long e = 0; e < (long)c->batch * c->cfg.dims; e++)
        acc += (double)c->r[e] * c->ys[e];
    return acc;
}

static void check_dbcd(int bits, int mapping, double snr_db, int dims, int batch, uint64_t seed,
                       double delta_scale)
{
    struct ctx c;
    const int L = 1 << bits;
    const double spacing = 2.0 / (L - 1);
    c.cfg = (invcsi_dbcd_config){dims, bits, (float)(delta_scale * spacing * spacing), 0.7f};
    c.batch = batch;
    const long n = (long)batch * dims, nl = (long)dims * L;
    c.q = alloc_f(n), c.levels = alloc_f(nl), c.Ptab = alloc_f((long)L * L);
    c.G = alloc_f(n * L), c.r = alloc_f(n), c.y = alloc_f(n), c.ys = alloc_f(n);
    c.save = alloc_f(invcsi_dbcd_save_floats(&c.cfg, batch));
    invcsi_error err;
    CHECK(invcsi_dbcd_transition_float(c.Ptab, bits, invcsi_db_to_linear(snr_db), mapping, &err) ==
              0, "%s", err.msg);
    invcsi_rng rng;
    invcsi_rng_init(&rng, seed, (uint64_t)bits);
    for (int d = 0; d < dims; d++)
        for (int j = 0; j < L; j++)
            c.levels[d * L + j] =
                (float)(-1.0 + j * spacing + 0.15 * spacing * invcsi_rng_normal(&rng));
    for (long e = 0; e < n; e++) {
        const int d = (int)(e % dims), j = (int)invcsi_rng_below(&rng, L);
        c.q[e] = (float)(c.levels[d * L + j] + 0.3 * spacing * invcsi_rng_normal(&rng));
        c.r[e] = (float)invcsi_rng_normal(&rng);
    }
    invcsi_gumbel_fill(c.G, n * L, &rng);
    float *dq = alloc_f(n), *dl = alloc_f(nl);
    loss(&c);
    CHECK(invcsi_dbcd_backward(&c.cfg, c.r, c.q, c.levels, c.Ptab, c.save, batch, dq, dl, &err) ==
              0, "%s", err.msg);
    printf("D-BCD B=%d %s %g dB delta %.3g tau %.2g M=%d batch %d\n", bits,
           invcsi_bitmap_name(mapping), snr_db, c.cfg.delta, c.cfg.tau, dims, batch);
    gradcheck("dq", loss, &c, c.q, n, dq, 1e-3f);
    gradcheck("dlevels", loss, &c, c.levels, nl, dl, 1e-3f);

    /* Accumulation, and NULL gradients skipped. */
    loss(&c);
    float *dq2 = alloc_f(n);
    memcpy(dq2, dq, sizeof(float) * n);
    invcsi_dbcd_backward(&c.cfg, c.r, c.q, c.levels, c.Ptab, c.save, batch, dq2, NULL, NULL);
    double worst = 0.0;
    for (long e = 0; e < n; e++)
        worst = fmax(worst, fabs(dq2[e] - 2.0f * dq[e]) / (1e-6 + fabs(dq[e])));
    CHECK(worst < 1e-5, "backward does not accumulate: %g", worst);
    free(c.q), free(c.levels), free(c.Ptab), free(c.G), free(c.r), free(c.y), free(c.ys);
    free(c.save), free(dq), free(dl), free(dq2);
}

/* ---- the assembled chain: y -> DAQ soft value -> D-BCD -> y~_soft ---------------------------
 * L = sum r . y~_soft(q_soft(y; thr, step), levels(step)); the gradient is D-BCD's backward
 * (dq, dlevels) fed to the DAQ backward (dq through the soft path, dlevels through the
 * steps). Checks the contract between the two modules w.r.t. y and every raw parameter. */
struct chain_ctx {
    invcsi_daq_config dcfg;
    invcsi_dbcd_config bcfg;
    int batch;
    float beta;
    float *thr_raw, *step_raw, *tbuf, *y, *qh, *qs, *Ptab, *G, *r, *yt, *ys, *save;
    invcsi_daq_tables t;
};

static double chain_loss(void *p)
{
    struct chain_ctx *c = p;
    int rc = invcsi_daq_forward_train(&c->dcfg, c->thr_raw, c->step_raw, &c->t, c->y, c->batch,
                                      c->beta, c->qh, c->qs, NULL, NULL);
    rc |= invcsi_dbcd_forward(&c->bcfg, c->qs, c->t.levels, c->Ptab, c->G, c->batch, c->yt,
                              NULL, c->ys, c->save, NULL);
    CHECK(rc == 0, "chain forward failed");
    double acc = 0.0;
    for (long e = 0; e < (long)c->batch * c->dcfg.dims; e++)
        acc += (double)c->r[e] * c->ys[e];
    return acc;
}

static void check_chain(int bits, int dims, int batch, double snr_db, uint64_t seed)
{
    struct chain_ctx c;
    memset(&c, 0, sizeof c);
    const int L = 1 << bits, nk = L - 1;
    c.dcfg = (invcsi_daq_config){dims, bits, 1.0f};
    c.bcfg = (invcsi_dbcd_config){dims, bits, 4.0f * invcsi_dbcd_delta_default(bits, 1.0f),
                                  0.7f};
    c.batch = batch;
    c.beta = 6.0f;
    const long n = (long)batch * dims, np = (long)dims * nk;
    c.thr_raw = alloc_f(np), c.step_raw = alloc_f(np);
    c.tbuf = alloc_f(invcsi_daq_tables_floats(&c.dcfg));
    c.y = alloc_f(n), c.qh = alloc_f(n), c.qs = alloc_f(n), c.r = alloc_f(n), c.yt = alloc_f(n);
    c.ys = alloc_f(n), c.Ptab = alloc_f((long)L * L), c.G = alloc_f(n * L);
    c.save = alloc_f(invcsi_dbcd_save_floats(&c.bcfg, batch));
    invcsi_daq_tables_bind(&c.t, &c.dcfg, c.tbuf);
    invcsi_daq_init_uniform(&c.dcfg, c.thr_raw, c.step_raw, NULL);
    invcsi_dbcd_transition_float(c.Ptab, bits, invcsi_db_to_linear(snr_db), INVCSI_BITMAP_GRAY,
                               NULL);
    invcsi_rng rng;
    invcsi_rng_init(&rng, seed, 77);
    for (long i = 0; i < np; i++) {
        c.thr_raw[i] += (float)(0.3 * invcsi_rng_normal(&rng));
        c.step_raw[i] += (float)(0.3 * invcsi_rng_normal(&rng));
    }
    for (long e = 0; e < n; e++) {
        c.y[e] = (float)(0.6 * invcsi_rng_normal(&rng));
        c.r[e] = (float)invcsi_rng_normal(&rng);
    }
    invcsi_gumbel_fill(c.G, n * L, &rng);
    chain_loss(&c);
    float *dq = alloc_f(n), *dlev = alloc_f((long)dims * L), *dy = alloc_f(n);
    float *dthr = alloc_f(np), *dstep = alloc_f(np);
    invcsi_error err;
    CHECK(invcsi_dbcd_backward(&c.bcfg, c.r, c.qs, c.t.levels, c.Ptab, c.save, batch, dq, dlev,
                               &err) == 0, "%s", err.msg);
    CHECK(invcsi_daq_backward(&c.dcfg, c.thr_raw, c.step_raw, &c.t, c.y, dq, dlev, batch, c.beta,
                              dy, dthr, dstep, &err) == 0, "%s", err.msg);
    printf("chain DAQ(soft, beta %g) -> D-BCD, B=%d gray %g dB, M=%d batch %d\n", c.beta, bits,
           snr_db, dims, batch);
    gradcheck("dy", chain_loss, &c, c.y, n, dy, 1e-3f);
    gradcheck("dthr_raw", chain_loss, &c, c.thr_raw, np, dthr, 1e-3f);
    gradcheck("dstep_raw", chain_loss, &c, c.step_raw, np, dstep, 1e-3f);
    free(c.thr_raw), free(c.step_raw), free(c.tbuf), free(c.y), free(c.qh), free(c.qs);
    free(c.r), free(c.yt), free(c.ys), free(c.Ptab), free(c.G), free(c.save), free(dq);
    free(dlev), free(dy), free(dthr), free(dstep);
}

int main(void)
{
    check_dbcd(1, INVCSI_BITMAP_NATURAL, 0.0, 3, 5, 1, 1.0);
    check_dbcd(2, INVCSI_BITMAP_NATURAL, 0.0, 3, 5, 2, 1.0);
    check_dbcd(2, INVCSI_BITMAP_GRAY, 5.0, 3, 5, 3, 1.0);
    check_dbcd(3, INVCSI_BITMAP_GRAY, 0.0, 2, 6, 4, 1.0);
    check_dbcd(4, INVCSI_BITMAP_NATURAL, 5.0, 2, 4, 5, 1.0);
    check_dbcd(3, INVCSI_BITMAP_NATURAL, 20.0, 2, 6, 6, 1.0);
    /* 30 dB, delta = 0.25 spacing^2: far levels underflow in p and pi (the 0 paths) */
    check_dbcd(4, INVCSI_BITMAP_GRAY, 30.0, 2, 6, 9, 0.25);
    check_chain(2, 3, 6, 0.0, 7);
    check_chain(3, 2, 6, 5.0, 8);
    return check_done("test_dbcd_gradcheck");
}
