/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * STQENet as a codec (lib/stqenet.c): a small model (16 x 16 map, M 32, B 6) trained for
 * 40 steps on sparse synthetic angular-delay maps (a few complex taps per report, the
 * structure of the CDL data), so that the BN running statistics and the entropy model are
 * no longer at their init, then:
 *   1. folded-BN inference == conv + BN (running statistics) inference (1e-4 relative);
 *   2. save -> invcsi_stqenet_load: the loaded model reproduces the original's symbols
 *      exactly and its reconstruction to 1e-5, and the coder tables stored in the file
 *      are the ones quantised from the trained pmf;
 *   3. every report: encode_report -> decode_report gives back exactly the model's own
 *      symbols (decoded x^ identical to decode_symbols on them), and the coded size
 *      (8 x payload bytes, rANS flush included) is within 0.5 % + 4 bytes of the model's
 *      bits estimate, per report and summed over the set;
 *   4. every single-bit flip, every truncation and an appended byte of a PDU are dropped
 *      with INVCSI_STQENET_EDROPPED (x^ untouched), with the fault named;
 *   5. invcsi_stqenet_load refuses a weights file of another kind (EFORMAT).
 */
#include "check.h"
#include "invcsi/cdf_table.h"
#include "invcsi/model.h"
#include "invcsi/nn.h"
#include "invcsi/report_codec.h"
#include "invcsi/rng.h"
#include "invcsi/stqenet.h"
#include "invcsi/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_TRAIN 256
#define N_TEST 64
#define BATCH 32
#define STEPS 40

/* Sparse maps: 3 taps with random complex gains at random (angle, delay) cells, spread
 * over a 3 x 3 neighbourhood; unit mean power per value. */
static void make_data(float *x, int n, int H, int W, uint64_t seed)
{
    const long S = (long)H * W;
    for (int i = 0; i < n; i++) {
        invcsi_rng r;
        invcsi_rng_init(&r, seed, (uint64_t)i);
        float *v = x + (long)i * 2 * S;
        memset(v, 0, sizeof(float) * 2 * S);
        for (int t = 0; t < 3; t++) {
            const int a = (int)invcsi_rng_below(&r, H), dl = (int)invcsi_rng_below(&r, W / 2);
            const double gr = invcsi_rng_normal(&r), gi = invcsi_rng_normal(&r);
            for (int da = -1; da <= 1; da++)
                for (int dd = -1; dd <= 1; dd++) {
                    const int aa = (a + da + H) % H, d2 = (dl + dd + W) % W;
                    const double w = (da == 0 && dd == 0) ? 1.0 : 0.3;
                    v[aa * W + d2] += (float)(w * gr);
                    v[S + aa * W + d2] += (float)(w * gi);
                }
        }
        double p = 0;
        for (long k = 0; k < 2 * S; k++)
            p += (double)v[k] * v[k];
        const float sc = (float)(1.0 / sqrt(p / (2 * S) + 1e-12));
        for (long k = 0; k < 2 * S; k++)
            v[k] *= sc;
    }
}

static double max_rel_diff(const float *a, const float *b, long n)
{
    double num = 0, den = 0;
    for (long i = 0; i < n; i++) {
        const double d = fabs((double)a[i] - b[i]);
        if (d > num) num = d;
        if (fabs(a[i]) > den) den = fabs(a[i]);
    }
    return num / (den > 0 ? den : 1);
}

int main(void)
{
    invcsi_error err;
    invcsi_model_config cfg;
    invcsi_set_threads(1); /* small sizes: threads only add contention on a shared machine */
    const int H = 16, W = 16;
    int rc = invcsi_model_config_default(&cfg, "stqenet", 1, H, W, 1.0 / 16, &err);
    CHECK(rc == 0, "config: %s", err.msg);
    cfg.seed = 3;
    cfg.mse_weight = 0.5f;
    CHECK(cfg.bits == 6, "default bits %d", cfg.bits);
    invcsi_model *m = NULL;
    rc = invcsi_model_create(&m, &cfg, BATCH, &err);
    if (rc) {
        fprintf(stderr, "create: %s\n", err.msg);
        return 1;
    }
    const int dim = cfg.dim, M = cfg.m;
    float *xtr = malloc(sizeof(float) * N_TRAIN * dim), *xte = malloc(sizeof(float) * N_TEST * dim);
    make_data(xtr, N_TRAIN, H, W, 1);
    make_data(xte, N_TEST, H, W, 2);

    /* a short training run (Adam) */
    invcsi_params *p = &m->params;
    invcsi_rng rng;
    invcsi_rng_init(&rng, 5, 0);
    double first = 0, last = 0;
    invcsi_adam_config ac = invcsi_adam_default();
    ac.lr = 2e-3;
    for (int s = 0; s < STEPS; s++) {
        invcsi_params_zero_grad(p);
        invcsi_losses l;
        rc = m->ops->train_step(m, xtr + (long)(s % (N_TRAIN / BATCH)) * BATCH * dim, BATCH, &rng,
                                &l, &err);
        CHECK(rc == 0, "train_step: %s", err.msg);
        if (s == 0) first = l.total;
        last = l.total;
        for (int i = 0; i < p->n_tensors; i++) {
            const invcsi_tensor *t = &p->tensors[i];
            if (!t->frozen)
                invcsi_adam_step(p->data + t->offset, p->grad + t->offset, p->adam_m + t->offset,
                                 p->adam_v + t->offset, (long)t->count, &ac, s + 1, NULL);
        }
    }
    printf("trained %d steps: loss %.4f -> %.4f\n", STEPS, first, last);

    /* 1. folded == unfolded (running statistics) */
    float *u = malloc(sizeof(float) * N_TEST * M);
    float *xa = malloc(sizeof(float) * N_TEST * dim), *xb = malloc(sizeof(float) * N_TEST * dim);
    CHECK(invcsi_model_encode(m, xte, N_TEST, u, &err) == 0, "encode: %s", err.msg);
    invcsi_stqenet_set_bn_fold(m, 0);
    CHECK(invcsi_model_decode(m, u, N_TEST, xa, &err) == 0, "decode: %s", err.msg);
    invcsi_stqenet_set_bn_fold(m, 1);
    CHECK(invcsi_model_decode(m, u, N_TEST, xb, &err) == 0, "decode: %s", err.msg);
    const double dfold = max_rel_diff(xa, xb, (long)N_TEST * dim);
    printf("folded vs running-stats decoder: max rel diff %.2e\n", dfold);
    CHECK(dfold < 1e-4, "folded BN differs by %.3e", dfold);
    float *rm = invcsi_params_data(p, "dec.cr0.path1.conv1x9.bn.running_var");
    CHECK(rm && fabsf(rm[0] - 1.0f) > 1e-3f, "running statistics still at their init");

    /* 2. save, load */
    CHECK(invcsi_stqenet_prepare_coder(m, &err) == 0, "prepare_coder: %s", err.msg);
    CHECK(invcsi_model_save(m, "stqe.safetensors", NULL, 0, &err) == 0, "save: %s", err.msg);
    invcsi_model *l = NULL;
    rc = invcsi_stqenet_load(&l, "stqe.safetensors", 1, &err);
    CHECK(rc == 0, "load: %s", err.msg);
    if (rc)
        return check_done("test_stqenet_codec");
    CHECK(invcsi_stqenet_dim(l) == dim && invcsi_stqenet_latent(l) == M &&
          invcsi_stqenet_bits(l) == 6, "sizes of the loaded model");
    uint16_t *sa = malloc(sizeof(uint16_t) * N_TEST * M), *sb = malloc(sizeof(uint16_t) * N_TEST * M);
    CHECK(invcsi_stqenet_symbols(m, xte, N_TEST, sa, &err) == 0, "symbols: %s", err.msg);
    CHECK(invcsi_stqenet_symbols(l, xte, N_TEST, sb, &err) == 0, "symbols: %s", err.msg);
    CHECK(!memcmp(sa, sb, sizeof(uint16_t) * N_TEST * M), "loaded model's symbols differ");
    CHECK(invcsi_stqenet_decode_symbols(l, sb, N_TEST, xa, &err) == 0, "dec: %s", err.msg);
    const double dload = max_rel_diff(xb, xa, (long)N_TEST * dim);
    printf("loaded vs original reconstruction: max rel diff %.2e\n", dload);
    CHECK(dload < 1e-5, "loaded model reconstructs %.3e apart", dload);
    const invcsi_cdf_table *ta = invcsi_stqenet_tables(m), *tb = invcsi_stqenet_tables(l);
    CHECK(ta && tb && !memcmp(ta[0].cum, tb[0].cum, sizeof ta[0].cum) &&
          !memcmp(ta[M - 1].cum, tb[M - 1].cum, sizeof ta[0].cum), "stored tables differ");
    int distinct = 0;
    for (int i = 0; i < N_TEST * M; i++)
        distinct |= 1 << (sa[i] & 31);
    CHECK(distinct != 1, "every symbol is the same: a degenerate test");

    /* 3. reports */
    const size_t cap = invcsi_stqenet_max_pdu_bytes(l);
    uint8_t *pdu = malloc(cap + 8);
    float *xr = malloc(sizeof(float) * dim), *xs = malloc(sizeof(float) * dim);
    double sum_est = 0, sum_coded = 0, worst = 0;
    size_t keep_len = 0;
    uint8_t *keep = malloc(cap + 8);
    for (int i = 0; i < N_TEST; i++) {
        size_t len = 0;
        rc = invcsi_stqenet_encode_report(l, xte + (long)i * dim, pdu, cap, &len, &err);
        CHECK(rc == 0, "encode_report %d: %s", i, err.msg);
        invcsi_report_fault f;
        rc = invcsi_stqenet_decode_report_fault(l, pdu, len, xr, &f, &err);
        CHECK(rc == 0 && f == INVCSI_REPORT_OK, "decode_report %d: %s", i, err.msg);
        CHECK(invcsi_stqenet_decode_symbols(l, sb + (long)i * M, 1, xs, &err) == 0, "dec");
        CHECK(!memcmp(xr, xs, sizeof(float) * dim), "report %d: decoded x^ differs from the "
              "model's own symbols' reconstruction", i);
        const double est = invcsi_stqenet_estimate_bits(l, sb + (long)i * M);
        const double coded = 8.0 * (double)(len - INVCSI_REPORT_OVERHEAD);
        sum_est += est, sum_coded += coded;
        const double excess = coded - (1.005 * est + 32.0);
        if (coded - est > worst) worst = coded - est;
        CHECK(excess <= 0 && coded >= 0.995 * est - 32.0,
              "report %d: %.0f coded bits vs estimate %.1f", i, coded, est);
        if (i == 0)
            memcpy(keep, pdu, len), keep_len = len;
    }
    printf("%d reports: estimate %.1f bits/report, coded %.1f bits/report (largest excess "
           "%.1f bits), PDU overhead %d bytes\n", N_TEST, sum_est / N_TEST, sum_coded / N_TEST,
           worst, INVCSI_REPORT_OVERHEAD);
    CHECK(sum_coded <= 1.005 * sum_est + 32.0 * N_TEST, "coded total %.0f vs estimate %.0f",
          sum_coded, sum_est);

    /* 4. corruption and truncation */
    int dropped = 0, tried = 0;
    for (size_t b = 0; b < keep_len; b++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(pdu, keep, keep_len);
            pdu[b] ^= (uint8_t)(1u << bit);
            for (int k = 0; k < dim; k++) xr[k] = 12345.0f;
            invcsi_report_fault f = INVCSI_REPORT_OK;
            rc = invcsi_stqenet_decode_report_fault(l, pdu, keep_len, xr, &f, &err);
            tried++;
            if (rc == INVCSI_STQENET_EDROPPED && f != INVCSI_REPORT_OK && xr[0] == 12345.0f &&
                err.code == INVCSI_STQENET_EDROPPED)
                dropped++;
        }
    CHECK(dropped == tried, "%d of %d bit flips dropped", dropped, tried);
    int tdrop = 0;
    for (size_t len = 0; len < keep_len; len++)
        tdrop += invcsi_stqenet_decode_report(l, keep, len, xr, &err) == INVCSI_STQENET_EDROPPED;
    CHECK(tdrop == (int)keep_len, "%d of %zu truncations dropped", tdrop, keep_len);
    memcpy(pdu, keep, keep_len);
    pdu[keep_len] = 0;
    invcsi_report_fault f;
    rc = invcsi_stqenet_decode_report_fault(l, pdu, keep_len + 1, xr, &f, &err);
    CHECK(rc == INVCSI_STQENET_EDROPPED && f == INVCSI_REPORT_BAD_LENGTH, "appended byte: rc %d, "
          "fault %d", rc, (int)f);
    CHECK(invcsi_stqenet_decode_report(l, NULL, 0, xr, &err) == INVCSI_STQENET_EDROPPED,
          "empty PDU");
    printf("corruption: %d/%d bit flips and %d/%zu truncations dropped (%s)\n", dropped, tried,
           tdrop, keep_len, err.msg);

    /* 5. another kind */
    invcsi_model_config cc;
    invcsi_model *cm = NULL;
    invcsi_model_config_default(&cc, "csinet", 1, 8, 8, 0.25, &err);
    CHECK(invcsi_model_create(&cm, &cc, 2, &err) == 0, "csinet: %s", err.msg);
    CHECK(invcsi_model_save(cm, "csinet.safetensors", NULL, 0, &err) == 0, "save: %s", err.msg);
    invcsi_model *bad = NULL;
    rc = invcsi_stqenet_load(&bad, "csinet.safetensors", 1, &err);
    CHECK(rc == INVCSI_EFORMAT && !bad, "loading a csinet file as stqenet: rc %d", rc);
    printf("other kind: %s\n", err.msg);

    invcsi_model_destroy(cm);
    invcsi_model_destroy(l);
    invcsi_model_destroy(m);
    free(xtr), free(xte), free(u), free(xa), free(xb), free(sa), free(sb), free(pdu), free(keep);
    free(xr), free(xs);
    return check_done("test_stqenet_codec");
}
