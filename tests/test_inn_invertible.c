/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The INN is invertible to float round-off (DESIGN.md section 3): f^-1(f(x)) == x with
 * max abs error < 1e-4 on unit-power data, for the identity start and for a randomised
 * INN (every last conv random too, sized so the coupling log-scale s is far from 0), for
 * each front (patch, energy, klt) at CR 1/4 and 1/64 of the default 2 x 32 x 32 tensor.
 * Also: parameter counts (analytic, and the default width table against the paper's
 * budget), the identity start, and batch independence of encode/decode.
 */
#include "check.h"
#include "invcsi/inn.h"
#include "invcsi/model.h"
#include "invcsi/rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INV_TOL 1e-4
#define N_TRAIN 256 /* reports the energy/klt fronts are fitted on */
#define BATCH 16
/* Gain of the randomised last convs (the others are He-uniform): the log-scale s of
 * block 0 then has an rms of 0.28 .. 0.38 (the test checks > 0.2), with tails towards
 * the clamp, so exp(s) spans about e^-1.5 .. e^1.5 and every block really moves values.
 * Gain 1 makes a random 3-block INN blow z up to ~500 (no trained INN looks like that),
 * where float round-off alone exceeds the 1e-4 bound. Measured errors at gain 0.5: 5e-6 ..
 * 7e-5, the largest with the KLT front at CR 1/64, whose 32 latent values carry 99.8 %
 * of the power (rms ~8 each). */
#define RANDOM_GAIN 0.5f

static void *xmalloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

/* Unit-power reports with CSI-like structure: a few strong random directions with
 * decaying power, plus weak noise, scaled so mean ||x||^2 / dim == 1. */
static void make_data(float *x, long n, int dim, uint64_t seed)
{
    enum { R = 12 };
    invcsi_rng r;
    invcsi_rng_init(&r, seed, 0);
    float *dirs = xmalloc(sizeof(float) * R * (size_t)dim);
    for (long i = 0; i < (long)R * dim; i++)
        dirs[i] = (float)invcsi_rng_normal(&r);
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

static double max_abs_diff(const float *a, const float *b, long n)
{
    double m = 0.0;
    for (long i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > m || d != d)
            m = d;
    }
    return m;
}

/* RMS of the soft-clamped log-scale s of block 0 on patchified x (a measure of the
 * weights' scale, whatever the front). */
static double block0_scale_rms(invcsi_model *m, const float *x, int batch)
{
    invcsi_inn *inn = invcsi_inn_of_model(m);
    const invcsi_inn_coupling *c = invcsi_inn_block(inn, 0);
    invcsi_inn_coupling_acts a;
    float *buf = xmalloc(sizeof(float) * invcsi_inn_coupling_act_floats(c, batch));
    float *ws = xmalloc(sizeof(float) * invcsi_inn_coupling_scratch_floats(c, batch));
    invcsi_inn_coupling_acts_bind(&a, c, batch, buf);
    const long g = (long)c->gh * c->gw, n1 = c->c1 * g, n2 = c->c2 * g;
    float *v = xmalloc(sizeof(float) * batch * (n1 + n2));
    invcsi_patchify(v, x, batch, 2, 32, 32, m->cfg.patch);
    for (int b = 0; b < batch; b++) {
        memcpy(a.x1 + b * n1, v + b * (n1 + n2), sizeof(float) * n1);
        memcpy(a.x2 + b * n2, v + b * (n1 + n2) + n1, sizeof(float) * n2);
    }
    free(v);
    invcsi_error err;
    double ss = 0.0;
    if (invcsi_inn_coupling_forward(c, &m->params, &a, batch, ws, &err) == INVCSI_OK)
        for (long i = 0; i < batch * n2; i++) {
            double s = c->clamp * (2.0 / (1.0 + exp(-(double)a.rho.out[i])) - 1.0);
            ss += s * s;
        }
    free(buf);
    free(ws);
    return sqrt(ss / (batch * n2));
}

static void check_roundtrip(const char *front, double cr, const float *train)
{
    invcsi_error err;
    invcsi_model_config cfg;
    int rc = invcsi_model_config_default(&cfg, "inn", 1, 32, 32, cr, &err);
    CHECK(rc == INVCSI_OK, "config: %s", err.msg);
    snprintf(cfg.front, sizeof cfg.front, "%s", front);
    invcsi_model *m = NULL;
    rc = invcsi_model_create(&m, &cfg, BATCH, &err);
    CHECK(rc == INVCSI_OK, "create %s cr %g: %s", front, cr, err.msg);
    if (rc)
        return;
    /* the KLT (a 2048 x 2048 eigenproblem, seconds) is fitted once and reused */
    static float *klt_cache = NULL;
    float *rot = invcsi_params_data(&m->params, "inn.front.klt");
    if (rot && klt_cache) {
        memcpy(rot, klt_cache, sizeof(float) * cfg.dim * cfg.dim);
    } else {
        rc = m->ops->fit_front(m, train, N_TRAIN, &err);
        CHECK(rc == INVCSI_OK, "fit_front %s: %s", front, err.msg);
        if (rot) {
            klt_cache = xmalloc(sizeof(float) * cfg.dim * cfg.dim);
            memcpy(klt_cache, rot, sizeof(float) * cfg.dim * cfg.dim);
        }
    }

    const int dim = cfg.dim, mm = cfg.m, aux = dim - mm;
    const float *x = train; /* first BATCH training reports */
    float *y = xmalloc(sizeof(float) * BATCH * mm), *z = xmalloc(sizeof(float) * BATCH * aux);
    float *xr = xmalloc(sizeof(float) * BATCH * dim);
    invcsi_inn *inn = invcsi_inn_of_model(m);
    CHECK(inn != NULL, "invcsi_inn_of_model");

    for (int variant = 0; variant < 2; variant++) {
        if (variant == 1)
            invcsi_inn_init(inn, 77, RANDOM_GAIN);
        rc = invcsi_inn_forward(inn, x, BATCH, y, z, &err);
        CHECK(rc == INVCSI_OK, "forward: %s", err.msg);
        rc = invcsi_inn_inverse(inn, y, z, BATCH, xr, &err);
        CHECK(rc == INVCSI_OK, "inverse: %s", err.msg);
        const double e = max_abs_diff(x, xr, (long)BATCH * dim);
        const double srms = variant ? block0_scale_rms(m, x, BATCH) : 0.0;
        printf("front %-6s CR 1/%-3.0f %-10s: max |f^-1(f(x)) - x| = %.3g%s", front, 1.0 / cr,
               variant ? "randomised" : "identity", e, variant ? "" : "\n");
        if (variant)
            printf("  (rms of s in block 0: %.3f)\n", srms);
        CHECK(e < INV_TOL, "%s cr %g variant %d: inverse error %g", front, cr, variant, e);
        if (variant == 1)
            CHECK(srms > 0.2, "randomised INN: rms(s) %.3f is too small to test anything", srms);
        if (variant == 0 && !strcmp(front, "patch")) {
            /* identity start: the latent is the first M patch channels, unchanged */
            float *v = xmalloc(sizeof(float) * BATCH * dim);
            invcsi_patchify(v, x, BATCH, 2, 32, 32, cfg.patch);
            double d = 0.0;
            for (int b = 0; b < BATCH; b++)
                d = fmax(d, max_abs_diff(y + (long)b * mm, v + (long)b * dim, mm));
            CHECK(d == 0.0, "identity start: y differs from x1 by %g", d);
            free(v);
        }
        if (variant == 0 && strcmp(front, "patch")) {
            /* fitted fronts put the high-energy part first: y carries most of the power */
            double py = 0.0, px = 0.0;
            for (long i = 0; i < (long)BATCH * mm; i++)
                py += (double)y[i] * y[i];
            for (long i = 0; i < (long)BATCH * dim; i++)
                px += (double)x[i] * x[i];
            printf("  fitted %s front: y holds %.1f %% of the power in %.1f %% of the values\n",
                   front, 100.0 * py / px, 100.0 * cr);
            CHECK(py / px > 2.0 * cr, "%s front: latent power fraction %.3f not above %g",
                  front, py / px, 2.0 * cr);
        }
    }
    free(y);
    free(z);
    free(xr);
    invcsi_model_destroy(m);
}

static void check_param_counts(void)
{
    static const struct {
        int denom, width;
        long budget;
    } table[] = {{64, 21, 292000}, {32, 22, 310000}, {16, 24, 352000}, {8, 30, 464000},
                 {4, 44, 799000}};
    invcsi_error err;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        invcsi_model_config cfg;
        invcsi_model_config_default(&cfg, "inn", 1, 32, 32, 1.0 / table[i].denom, &err);
        CHECK(cfg.width == table[i].width, "CR 1/%d: default width %d, expected %d",
              table[i].denom, cfg.width, table[i].width);
        /* independent analytic count: per block phi (c2 -> c1) + rho, eta (c1 -> c2),
         * each 4 convs 3x3 with bias: in->w, w->w, w->w, w->out */
        const long w = cfg.width, c1 = cfg.m / 16, c2 = 128 - c1;
        const long phi = (c2 * 9 + 1) * w + 2 * (w * 9 + 1) * w + (w * 9 + 1) * c1;
        const long rho = (c1 * 9 + 1) * w + 2 * (w * 9 + 1) * w + (w * 9 + 1) * c2;
        const long expect = 3 * (phi + 2 * rho);
        invcsi_model *m = NULL;
        int rc = invcsi_model_create(&m, &cfg, 2, &err);
        CHECK(rc == INVCSI_OK, "create: %s", err.msg);
        if (rc)
            continue;
        const long got = invcsi_model_param_count(m, 1);
        printf("CR 1/%-2d width %d: %ld parameters (budget %ld)\n", table[i].denom, cfg.width,
               got, table[i].budget);
        CHECK(got == expect, "CR 1/%d: %ld parameters, analytic %ld", table[i].denom, got,
              expect);
        CHECK(got == invcsi_inn_param_count(&cfg), "invcsi_inn_param_count disagrees");
        CHECK(got <= table[i].budget, "CR 1/%d: %ld over the budget %ld", table[i].denom, got,
              table[i].budget);
        if (table[i].denom == 16)
            CHECK(got == 343536, "CR 1/16 width 24: %ld parameters, expected 343,536", got);
        /* no frozen tensors for the default patch front without permutation */
        CHECK(invcsi_model_param_count(m, 0) == got, "unexpected frozen tensors");
        invcsi_model_destroy(m);
    }
}

static void check_config_errors(void)
{
    invcsi_error err;
    invcsi_model_config cfg;
    invcsi_model *m = NULL;
    /* M = 40 is not a multiple of the 16 patch positions */
    invcsi_model_config_default(&cfg, "inn", 1, 32, 32, 40.0 / 2048, &err);
    int rc = invcsi_model_create(&m, &cfg, 4, &err);
    CHECK(rc == INVCSI_EINVAL && strstr(err.msg, "multiple"), "M %% G: rc %d '%s'", rc,
          err.msg);
    invcsi_model_config_default(&cfg, "inn", 1, 30, 32, 1.0 / 16, &err);
    rc = invcsi_model_create(&m, &cfg, 4, &err);
    CHECK(rc == INVCSI_EINVAL && strstr(err.msg, "patch size"), "patch: rc %d '%s'", rc,
          err.msg);
    invcsi_model_config_default(&cfg, "inn", 1, 32, 32, 1.0 / 16, &err);
    snprintf(cfg.front, sizeof cfg.front, "fft");
    rc = invcsi_model_create(&m, &cfg, 4, &err);
    CHECK(rc == INVCSI_EINVAL && strstr(err.msg, "front"), "front: rc %d '%s'", rc, err.msg);
}

/* A report encodes (and decodes) to the same values alone or inside a batch of 37, to
 * float round-off: the conv GEMMs see a different number of columns, and OpenBLAS picks
 * kernels (and so summation orders) by matrix size, so bit equality is not promised;
 * relative differences of a few 1e-7 are. */
static void check_batch_independence(const float *data)
{
    enum { NB = 37 };
    invcsi_error err;
    invcsi_model_config cfg;
    invcsi_model_config_default(&cfg, "inn", 1, 32, 32, 1.0 / 16, &err);
    cfg.permute = 1;
    invcsi_model *m = NULL;
    int rc = invcsi_model_create(&m, &cfg, NB, &err);
    CHECK(rc == INVCSI_OK, "create: %s", err.msg);
    if (rc)
        return;
    invcsi_inn_init(invcsi_inn_of_model(m), 5, RANDOM_GAIN);
    const int dim = cfg.dim, mm = cfg.m;
    float *yb = xmalloc(sizeof(float) * NB * mm), *y1 = xmalloc(sizeof(float) * mm);
    float *xb = xmalloc(sizeof(float) * NB * dim), *x1 = xmalloc(sizeof(float) * dim);
    rc = m->ops->encode(m, data, NB, yb, &err);
    CHECK(rc == INVCSI_OK, "encode: %s", err.msg);
    rc = m->ops->decode(m, yb, NB, xb, &err);
    CHECK(rc == INVCSI_OK, "decode: %s", err.msg);
    double dy = 0.0, dx = 0.0, ymax = 0.0, xmax = 0.0;
    for (long i = 0; i < (long)NB * mm; i++)
        ymax = fmax(ymax, fabs(yb[i]));
    for (long i = 0; i < (long)NB * dim; i++)
        xmax = fmax(xmax, fabs(xb[i]));
    for (int i = 0; i < NB; i += 6) {
        m->ops->encode(m, data + (long)i * dim, 1, y1, &err);
        dy = fmax(dy, max_abs_diff(y1, yb + (long)i * mm, mm));
        m->ops->decode(m, yb + (long)i * mm, 1, x1, &err);
        dx = fmax(dx, max_abs_diff(x1, xb + (long)i * dim, dim));
    }
    printf("batch independence (alone vs batch of %d): max |dy| = %.3g (max |y| %.3g), "
           "max |dx^| = %.3g (max |x^| %.3g)\n",
           NB, dy, ymax, dx, xmax);
    CHECK(dy <= 1e-5 * ymax && dx <= 1e-5 * xmax, "batch dependence: dy %g dx %g", dy, dx);
    free(yb);
    free(y1);
    free(xb);
    free(x1);
    invcsi_model_destroy(m);
}

/* The fitted front table and the weights survive save + load: the loaded model encodes
 * bit-identically. */
static void check_save_load(const float *train)
{
    invcsi_error err;
    invcsi_model_config cfg;
    invcsi_model_config_default(&cfg, "inn", 1, 32, 32, 1.0 / 32, &err);
    snprintf(cfg.front, sizeof cfg.front, "energy");
    cfg.permute = 1;
    invcsi_model *m = NULL, *l = NULL;
    int rc = invcsi_model_create(&m, &cfg, BATCH, &err);
    CHECK(rc == INVCSI_OK, "create: %s", err.msg);
    if (rc)
        return;
    invcsi_inn_init(invcsi_inn_of_model(m), 9, RANDOM_GAIN);
    m->ops->fit_front(m, train, N_TRAIN, &err);
    rc = invcsi_model_save(m, "inn_energy.safetensors", NULL, 0, &err);
    CHECK(rc == INVCSI_OK, "save: %s", err.msg);
    rc = invcsi_model_load(&l, "inn_energy.safetensors", BATCH, &err);
    CHECK(rc == INVCSI_OK, "load: %s", err.msg);
    if (rc == INVCSI_OK) {
        float *y1 = xmalloc(sizeof(float) * BATCH * cfg.m);
        float *y2 = xmalloc(sizeof(float) * BATCH * cfg.m);
        m->ops->encode(m, train, BATCH, y1, &err);
        l->ops->encode(l, train, BATCH, y2, &err);
        CHECK(memcmp(y1, y2, sizeof(float) * BATCH * cfg.m) == 0,
              "loaded model encodes differently");
        const float *p1 = invcsi_params_data(&m->params, "inn.front.perm");
        const float *p2 = invcsi_params_data(&l->params, "inn.front.perm");
        CHECK(p1 && p2 && memcmp(p1, p2, sizeof(float) * cfg.dim) == 0,
              "front permutation not restored");
        const invcsi_tensor *t = invcsi_params_find(&l->params, "inn.front.perm");
        CHECK(t && t->frozen, "front permutation not frozen after load");
        CHECK(invcsi_params_find(&l->params, "inn.perm.0") &&
                  invcsi_params_find(&l->params, "inn.perm.1") &&
                  !invcsi_params_find(&l->params, "inn.perm.2"),
              "channel permutations: expected inn.perm.0 and inn.perm.1 only");
        printf("save/load (energy front, permutations): encode identical\n");
        free(y1);
        free(y2);
    }
    invcsi_model_destroy(m);
    invcsi_model_destroy(l);
}

int main(void)
{
    const int dim = 2048;
    float *train = xmalloc(sizeof(float) * N_TRAIN * (size_t)dim);
    make_data(train, N_TRAIN, dim, 2024);

    check_param_counts();
    check_config_errors();
    const char *fronts[] = {"patch", "energy", "klt"};
    const double crs[] = {1.0 / 4, 1.0 / 64};
    for (int f = 0; f < 3; f++)
        for (int c = 0; c < 2; c++)
            check_roundtrip(fronts[f], crs[c], train);
    check_batch_independence(train);
    check_save_load(train);
    free(train);
    return check_done("test_inn_invertible");
}
