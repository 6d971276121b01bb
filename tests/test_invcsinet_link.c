/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The real-bit link (lib/linkeval.c) and InvCSINet's encoder/decoder API
 * (lib/invcsinet.c), on small randomised models (no training):
 *   1. error-free link (Eb/N0 = inf) == the model's quantization-only reconstruction
 *      (ops encode + decode) == encode_bits -> decode_bits, bit for bit; at 40 dB the link
 *      sees no bit error and gives the same floats;
 *   2. results do not depend on the batch split (reports keep their noise and z streams;
 *      the same bit errors, floats equal up to the ~1 ulp the model's GEMM blocking
 *      changes with the batch size);
 *   3. the measured BER of the link equals Q(sqrt(2 Eb/N0)) within 4 sigma (binomial) at
 *      0, 3, 6 dB;
 *   4. the sampled-z decoder is deterministic and differs from the mean decoder;
 *   5. MMSE detection from LLRs equals hard detection at 40 dB, and at 0 dB has lower
 *      latent MSE (it is the conditional mean);
 *   6. invcsi_uniform_range_fit finds the known MSE-optimal uniform ranges of a Gaussian
 *      (half-range 0.798 sigma at 1 bit, 1.494 sigma at 2 bits, within the 0.05 grid);
 *      the INN link (uniform quantizer) at inf equals decode(dequantized levels);
 *   7. an InvCSINet config (bits, mapping, SNR range, ablation flags ...) survives the
 *      weights file, and the loaded model decodes identically.
 */
#include "check.h"
#include "invcsi/bitlink.h"
#include "invcsi/inn.h"
#include "invcsi/invcsinet.h"
#include "invcsi/linkeval.h"
#include "invcsi/metrics.h"
#include "invcsi/model.h"
#include "invcsi/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 64      /* reports */
#define MAXB 16   /* model max_batch */

static void *xcalloc(size_t n, size_t s)
{
    void *p = calloc(n ? n : 1, s);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

static void die(const char *what, const invcsi_error *err)
{
    fprintf(stderr, "%s: %s\n", what, err->msg);
    exit(1);
}

/* Randomise every subnet's last conv (else the INN and the LAN start as identities) and
 * the z prior. */
static void randomise(invcsi_model *m, uint64_t seed)
{
    invcsi_rng r;
    invcsi_rng_init(&r, seed, 3);
    invcsi_params *p = &m->params;
    for (int i = 0; i < p->n_tensors; i++) {
        invcsi_tensor *t = &p->tensors[i];
        float *v = invcsi_tensor_data(p, t);
        if (strstr(t->name, "conv3.weight") || strstr(t->name, "lan.conv2.weight"))
            for (size_t k = 0; k < t->count; k++)
                v[k] = (float)(0.05 * invcsi_rng_normal(&r));
        else if (!strcmp(t->name, "ic.z.mu") || !strcmp(t->name, "ic.z.log_sigma"))
            for (size_t k = 0; k < t->count; k++)
                v[k] = (float)(0.1 * invcsi_rng_normal(&r));
        else if (!strcmp(t->name, "daq.threshold_raw"))
            for (size_t k = 0; k < t->count; k++)
                v[k] += (float)(0.05 * invcsi_rng_normal(&r));
    }
}

static invcsi_model *make_model(const char *kind, int bits, const char *map, const float *x)
{
    invcsi_error err;
    invcsi_model_config cfg;
    if (invcsi_model_config_default(&cfg, kind, 1, 8, 8, 1.0 / 8, &err) != INVCSI_OK)
        die("config", &err);
    cfg.patch = 4;
    cfg.blocks = 2;
    cfg.width = 8;
    cfg.lan_width = 8;
    cfg.bits = bits;
    cfg.snr_db_min = 0.0f;
    cfg.snr_db_max = 6.0f;
    cfg.no_dbcd = 1;
    snprintf(cfg.bit_map, sizeof cfg.bit_map, "%s", map);
    invcsi_model *m;
    if (invcsi_model_create(&m, &cfg, MAXB, &err) != INVCSI_OK)
        die("create", &err);
    randomise(m, 5);
    if (m->ops->fit_front && m->ops->fit_front(m, x, N, &err) != INVCSI_OK)
        die("fit", &err);
    return m;
}

static int same(const float *a, const float *b, long n)
{
    return memcmp(a, b, sizeof(float) * (size_t)n) == 0;
}

static double maxdiff(const float *a, const float *b, long n)
{
    double d = 0;
    for (long i = 0; i < n; i++)
        d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

static double mse(const float *a, const float *b, long n)
{
    double s = 0;
    for (long i = 0; i < n; i++)
        s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return s / n;
}

static void test_invcsinet(const float *x, int dim, const char *map)
{
    invcsi_error err;
    invcsi_model *m = make_model("invcsinet", 2, map, x);
    const int M = m->cfg.m;
    const long nb = invcsi_invcsinet_payload_bits(m);
    CHECK(nb == (long)M * 2, "payload %ld", nb);
    float *ref = xcalloc((size_t)N * dim, sizeof(float));
    float *y = xcalloc((size_t)MAXB * M, sizeof(float));
    float *a = xcalloc((size_t)N * dim, sizeof(float)), *a2 = xcalloc((size_t)N * dim, 4);
    float *b = xcalloc((size_t)N * dim, sizeof(float)), *bz = xcalloc((size_t)N * dim, 4);
    uint8_t *bits = xcalloc((size_t)MAXB * nb, 1);
    /* reference: the model interface (quantization only) */
    for (int at = 0; at < N; at += MAXB)
        if (m->ops->encode(m, x + (long)at * dim, MAXB, y, &err) != INVCSI_OK ||
            m->ops->decode(m, y, MAXB, ref + (long)at * dim, &err) != INVCSI_OK)
            die("model codec", &err);
    /* the bit API */
    for (int at = 0; at < N; at += MAXB)
        if (invcsi_invcsinet_encode_bits(m, x + (long)at * dim, MAXB, bits, NULL, &err) ||
            invcsi_invcsinet_decode_bits(m, bits, MAXB, NULL, a + (long)at * dim, &err))
            die("bit api", &err);
    CHECK(same(a, ref, (long)N * dim), "[%s] encode_bits/decode_bits != model decode", map);
    for (int i = 0; i < (int)nb; i++)
        CHECK(bits[i] <= 1, "bit %d is %d", i, bits[i]);

    invcsi_link_config lc = invcsi_link_config_default();
    lc.bits = 0;
    lc.seed = 77;
    invcsi_link *l;
    if (invcsi_link_create(&l, m, &lc, &err) != INVCSI_OK)
        die("link", &err);
    CHECK(!invcsi_link_needs_fit(l), "an InvCSINet link needs no fit");
    CHECK(invcsi_link_bits(l) == 2, "link bits %d", invcsi_link_bits(l));
    lc.bits = 3;
    invcsi_link *bad = NULL;
    CHECK(invcsi_link_create(&bad, m, &lc, NULL) != INVCSI_OK, "3 bits on a 2-bit DAQ accepted");
    long e_inf = -1, e_40 = -1, e;
    for (int at = 0; at < N; at += MAXB) {
        if (invcsi_link_run(l, x + (long)at * dim, MAXB, INFINITY, at, a + (long)at * dim,
                            NULL, &e, &err))
            die("link inf", &err);
        e_inf = at ? e_inf + e : e;
        if (invcsi_link_run(l, x + (long)at * dim, MAXB, 40.0, at, b + (long)at * dim,
                            bz + (long)at * dim, &e, &err))
            die("link 40", &err);
        e_40 = at ? e_40 + e : e;
    }
    CHECK(e_inf == 0 && e_40 == 0, "bit errors at inf %ld, 40 dB %ld", e_inf, e_40);
    CHECK(same(a, ref, (long)N * dim), "[%s] link at inf != quantization-only", map);
    CHECK(same(b, ref, (long)N * dim), "[%s] link at 40 dB != quantization-only", map);
    CHECK(!same(bz, ref, (long)N * dim), "sampled z decodes like the mean");

    /* 2. batch split: 16 at once vs 5 + 11 at 2 dB, both z choices */
    if (invcsi_link_run(l, x, 16, 2.0, 0, a, a2, &e, &err))
        die("link 2 dB", &err);
    long e1, e2;
    if (invcsi_link_run(l, x, 5, 2.0, 0, b, bz, &e1, &err) ||
        invcsi_link_run(l, x + 5L * dim, 11, 2.0, 5, b + 5L * dim, bz + 5L * dim, &e2, &err))
        die("link split", &err);
    CHECK(e > 0 && e == e1 + e2, "errors %ld vs %ld + %ld", e, e1, e2);
    /* the noise and z streams follow the report; the model's convs round differently
     * for another batch size (GEMM blocking, ~1 ulp), nothing more */
    CHECK(maxdiff(a, b, 16L * dim) <= 1e-4 && maxdiff(a2, bz, 16L * dim) <= 1e-4,
          "result depends on the batch split: %g, %g", maxdiff(a, b, 16L * dim),
          maxdiff(a2, bz, 16L * dim));
    /* 4. sampled z deterministic */
    if (invcsi_link_run(l, x, 16, 2.0, 0, b, bz, &e1, &err))
        die("link again", &err);
    CHECK(same(a2, bz, 16L * dim), "sampled-z decoder not deterministic");

    /* 3. BER against theory */
    for (double db = 0.0; db <= 6.0; db += 3.0) {
        invcsi_link_result res;
        double n_bits = 0, errors = 0;
        for (int rep = 0; rep < 20; rep++) { /* 20 x N reports, distinct report indices */
            for (int at = 0; at < N; at += MAXB) {
                if (invcsi_link_run(l, x + (long)at * dim, MAXB, db,
                                    (uint64_t)(rep * N + at), a, NULL, &e, &err))
                    die("ber", &err);
                errors += e;
                n_bits += (double)MAXB * nb;
            }
        }
        const double p = invcsi_bpsk_ber(invcsi_db_to_linear(db));
        const double sd = sqrt(n_bits * p * (1 - p));
        CHECK(fabs(errors - n_bits * p) <= 4 * sd,
              "[%s] %g dB: %.0f errors in %.0f bits, expected %.1f +- %.1f", map, db, errors,
              n_bits, n_bits * p, sd);
        printf("[%s] Eb/N0 %g dB: BER %.4e measured (%.0f bits), %.4e theory (%+.2f sigma)\n",
               map, db, errors / n_bits, n_bits, p, (errors - n_bits * p) / sd);
        if (invcsi_link_eval(l, x, N, db, &res, &err))
            die("eval", &err);
        CHECK(res.bits == (long)N * nb && res.ber_theory == p, "link_eval bookkeeping");
    }
    invcsi_link_destroy(l);

    /* 5. MMSE detection */
    lc.bits = 0;
    lc.detect = INVCSI_DETECT_MMSE;
    invcsi_link *ls;
    if (invcsi_link_create(&ls, m, &lc, &err) != INVCSI_OK)
        die("link mmse", &err);
    for (int at = 0; at < N; at += MAXB)
        if (invcsi_link_run(ls, x + (long)at * dim, MAXB, 40.0, at, b + (long)at * dim, NULL,
                            &e, &err))
            die("mmse 40", &err);
    CHECK(same(b, ref, (long)N * dim), "MMSE detection at 40 dB != hard");
    /* at 0 dB: latent-domain MSE of MMSE levels vs hard levels, against the sent levels */
    {
        const long nl = (long)MAXB * M;
        float *sent = xcalloc((size_t)nl, 4), *hard = xcalloc((size_t)nl, 4),
              *soft = xcalloc((size_t)nl, 4), *llr = xcalloc((size_t)MAXB * nb, 4);
        uint8_t *rx = xcalloc((size_t)MAXB * nb, 1);
        int *idx = xcalloc((size_t)nl, sizeof(int));
        double e_hard = 0, e_soft = 0;
        float *scratch = xcalloc((size_t)2 * MAXB * nb, 4);
        invcsi_rng r;
        invcsi_rng_init(&r, 8, 8);
        for (int at = 0; at < N; at += MAXB) {
            if (invcsi_link_encode(ls, x + (long)at * dim, MAXB, idx, bits, &err) ||
                invcsi_link_dequantize(ls, idx, MAXB, sent, &err) ||
                invcsi_bitlink_awgn(rx, llr, bits, MAXB * nb, 0.0, &r, scratch, NULL, &err) ||
                invcsi_link_llr_to_levels(ls, llr, MAXB, soft, &err) ||
                invcsi_bits_to_indices(idx, rx, nl, 2,
                                       invcsi_invcsinet_mapping(m), &err) ||
                invcsi_link_dequantize(ls, idx, MAXB, hard, &err))
                die("mmse 0 dB", &err);
            e_hard += mse(hard, sent, nl);
            e_soft += mse(soft, sent, nl);
        }
        CHECK(e_soft < e_hard, "MMSE levels (%g) not better than hard (%g)", e_soft, e_hard);
        printf("[%s] 0 dB latent MSE: hard %.4f, MMSE %.4f\n", map, e_hard / (N / MAXB),
               e_soft / (N / MAXB));
        free(sent); free(hard); free(soft); free(llr); free(rx); free(idx); free(scratch);
    }
    invcsi_link_destroy(ls);

    /* 7. weights file round trip */
    if (invcsi_model_save(m, "icsi.safetensors", NULL, 0, &err) != INVCSI_OK)
        die("save", &err);
    invcsi_model *m2;
    if (invcsi_model_load(&m2, "icsi.safetensors", MAXB, &err) != INVCSI_OK)
        die("load", &err);
    CHECK(m2->cfg.bits == 2 && !strcmp(m2->cfg.bit_map, map) && m2->cfg.snr_db_min == 0.0f &&
              m2->cfg.snr_db_max == 6.0f && m2->cfg.no_dbcd == 1 && m2->cfg.no_ic == 0 &&
              m2->cfg.lan_width == 8 && m2->cfg.mse_weight == m->cfg.mse_weight &&
              m2->cfg.beta_end == m->cfg.beta_end && m2->cfg.tau == m->cfg.tau,
          "config did not survive the weights file");
    for (int at = 0; at < N; at += MAXB)
        if (m2->ops->encode(m2, x + (long)at * dim, MAXB, y, &err) != INVCSI_OK ||
            m2->ops->decode(m2, y, MAXB, b + (long)at * dim, &err) != INVCSI_OK)
            die("loaded codec", &err);
    CHECK(same(b, ref, (long)N * dim), "the loaded model decodes differently");
    invcsi_model_destroy(m2);

    free(ref); free(y); free(a); free(a2); free(b); free(bz); free(bits);
    invcsi_model_destroy(m);
}

static void test_uniform(const float *x, int dim)
{
    invcsi_error err;
    /* Gaussian ranges */
    const long n = 20000;
    float *g = xcalloc((size_t)n * 2, sizeof(float));
    invcsi_rng r;
    invcsi_rng_init(&r, 1, 1);
    for (long i = 0; i < n; i++) {
        g[2 * i] = (float)invcsi_rng_normal(&r);          /* N(0, 1) */
        g[2 * i + 1] = (float)(3.0 + 2.0 * invcsi_rng_normal(&r)); /* N(3, 4) */
    }
    float c[2], h[2];
    const double want[3] = {0, 0.7979, 1.4936};
    for (int bits = 1; bits <= 2; bits++) {
        if (invcsi_uniform_range_fit(g, n, 2, bits, c, h, &err))
            die("range fit", &err);
        CHECK(fabs(c[0]) < 0.03 && fabs(c[1] - 3.0) < 0.06, "centers %g %g", c[0], c[1]);
        CHECK(fabs(h[0] - want[bits]) < 0.06 && fabs(h[1] / 2 - want[bits]) < 0.06,
              "%d bits: half ranges %g, %g/2 (want %g sigma)", bits, h[0], h[1], want[bits]);
        printf("uniform %d bits: half-range %.3f sigma (MSE-optimal %.3f)\n", bits, h[0],
               want[bits]);
    }
    free(g);

    /* INN + uniform quantizer: link at inf == decode(levels) */
    invcsi_model *m = make_model("inn", 3, "natural", x);
    const int M = m->cfg.m;
    invcsi_link_config lc = invcsi_link_config_default();
    lc.bits = 3;
    lc.mapping = INVCSI_BITMAP_GRAY;
    invcsi_link *l;
    if (invcsi_link_create(&l, m, &lc, &err))
        die("inn link", &err);
    CHECK(invcsi_link_needs_fit(l), "INN link must need a fit");
    float *xh = xcalloc((size_t)MAXB * dim, 4), *ref = xcalloc((size_t)MAXB * dim, 4);
    float *lev = xcalloc((size_t)MAXB * M, 4), *y = xcalloc((size_t)MAXB * M, 4);
    int *idx = xcalloc((size_t)MAXB * M, sizeof(int));
    CHECK(invcsi_link_run(l, x, MAXB, INFINITY, 0, xh, NULL, NULL, NULL) != INVCSI_OK,
          "unfitted link ran");
    if (invcsi_link_fit(l, x, N, &err))
        die("inn fit", &err);
    long e;
    if (invcsi_link_run(l, x, MAXB, INFINITY, 0, xh, NULL, &e, &err) ||
        invcsi_link_encode(l, x, MAXB, idx, NULL, &err) ||
        invcsi_link_dequantize(l, idx, MAXB, lev, &err) ||
        m->ops->decode(m, lev, MAXB, ref, &err) || m->ops->encode(m, x, MAXB, y, &err))
        die("inn link run", &err);
    CHECK(same(xh, ref, (long)MAXB * dim), "INN link at inf != decode(levels)");
    /* 3 bits: the quantization error is well below the latent's spread */
    double vy = 0;
    for (long i = 0; i < (long)MAXB * M; i++)
        vy += (double)y[i] * y[i];
    const double q = mse(lev, y, (long)MAXB * M);
    CHECK(q < 0.1 * vy / (MAXB * M), "3-bit uniform quantization MSE %g vs power %g", q,
          vy / (MAXB * M));
    invcsi_link_destroy(l);
    invcsi_model_destroy(m);
    free(xh); free(ref); free(lev); free(y); free(idx);
}

int main(void)
{
    const int dim = 2 * 8 * 8;
    float *x = xcalloc((size_t)N * dim, sizeof(float));
    invcsi_rng r;
    invcsi_rng_init(&r, 42, 0);
    for (long i = 0; i < (long)N * dim; i++)
        x[i] = (float)invcsi_rng_normal(&r);
    test_invcsinet(x, dim, "natural");
    test_invcsinet(x, dim, "gray");
    test_uniform(x, dim);
    free(x);
    return check_done("test_invcsinet_link");
}
