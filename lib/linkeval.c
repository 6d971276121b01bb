/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The real-bit feedback link for any model (include/invcsi/linkeval.h): quantizer (an
 * InvCSINet's DAQ, or a fitted per-dimension uniform quantizer), bit labels, BPSK over
 * complex AWGN (bitlink.h), detection, and the decoder with its choice of z.
 */
#include "invcsi/linkeval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "invcsi/bitlink.h"
#include "invcsi/inn.h"
#include "invcsi/invcsinet.h"
#include "invcsi/metrics.h"
#include "invcsi/rng.h"

struct invcsi_link {
    invcsi_model *m;
    invcsi_link_config cfg;
    int icsi;               /* the model is an InvCSINet (its own DAQ, IC, z prior) */
    int M, dim, aux, B, L, mapping;
    long nbits;             /* M * B per report */
    int fitted;
    float *center, *half;   /* [M] uniform quantizer of models without a DAQ */
    int max_batch;
    float *mem;
    float *y, *lev, *tab, *zbuf;
    int *idx;
    uint8_t *bits, *rbits;
    float *llr, *scratch;
};

invcsi_link_config invcsi_link_config_default(void)
{
    invcsi_link_config c;
    memset(&c, 0, sizeof c);
    c.bits = 4;
    c.mapping = INVCSI_BITMAP_NATURAL;
    c.z_mode = INVCSI_Z_MEAN;
    c.detect = INVCSI_DETECT_HARD;
    c.seed = 1;
    return c;
}

void invcsi_link_destroy(invcsi_link *l)
{
    if (!l)
        return;
    free(l->mem);
    free(l->idx);
    free(l->bits);
    free(l->center);
    free(l);
}

int invcsi_link_create(invcsi_link **out, invcsi_model *m, const invcsi_link_config *cfg,
                       invcsi_error *err)
{
    *out = NULL;
    if (!m || !cfg)
        return invcsi_error_set(err, INVCSI_EINVAL, "link: no model or config");
    const int icsi = invcsi_is_invcsinet(m);
    int B = cfg->bits, mapping = cfg->mapping;
    if (icsi) {
        if (B != 0 && B != invcsi_invcsinet_bits(m))
            return invcsi_error_set(err, INVCSI_EINVAL,
                                    "link: %d bits asked, but the InvCSINet model quantizes its "
                                    "latent to %d bits (its DAQ is learned for them)",
                                    B, invcsi_invcsinet_bits(m));
        B = invcsi_invcsinet_bits(m);
        mapping = invcsi_invcsinet_mapping(m);
    }
    if (B < 1 || B > 8)
        return invcsi_error_set(err, INVCSI_EINVAL, "link: bits %d must be in 1..8", B);
    if (mapping != INVCSI_BITMAP_NATURAL && mapping != INVCSI_BITMAP_GRAY)
        return invcsi_error_set(err, INVCSI_EINVAL, "link: unknown bit mapping %d", mapping);
    if (cfg->z_mode != INVCSI_Z_MEAN && cfg->z_mode != INVCSI_Z_SAMPLE)
        return invcsi_error_set(err, INVCSI_EINVAL, "link: unknown z mode %d", cfg->z_mode);
    if (cfg->detect != INVCSI_DETECT_HARD && cfg->detect != INVCSI_DETECT_MMSE)
        return invcsi_error_set(err, INVCSI_EINVAL, "link: unknown detection %d", cfg->detect);
    invcsi_link *l = calloc(1, sizeof *l);
    if (!l)
        return invcsi_error_set(err, INVCSI_ENOMEM, "link: out of memory");
    l->m = m;
    l->cfg = *cfg;
    l->cfg.bits = B;
    l->cfg.mapping = mapping;
    l->icsi = icsi;
    l->M = m->cfg.m;
    l->dim = m->cfg.dim;
    l->aux = m->cfg.dim - m->cfg.m;
    l->B = B;
    l->L = 1 << B;
    l->mapping = mapping;
    l->nbits = (long)l->M * B;
    l->fitted = icsi;
    l->max_batch = m->max_batch;
    const long nb = l->max_batch, M = l->M;
    const long floats = 2 * nb * M + M * l->L + nb * l->aux + nb * l->nbits + 2 * nb * l->nbits;
    l->mem = malloc(sizeof(float) * (size_t)floats);
    l->idx = malloc(sizeof(int) * (size_t)(nb * M));
    l->bits = malloc((size_t)(2 * nb * l->nbits));
    l->center = malloc(sizeof(float) * (size_t)(2 * M));
    if (!l->mem || !l->idx || !l->bits || !l->center) {
        invcsi_link_destroy(l);
        return invcsi_error_set(err, INVCSI_ENOMEM, "link: out of memory for %ld reports", nb);
    }
    float *at = l->mem;
    l->y = at;       at += nb * M;
    l->lev = at;     at += nb * M;
    l->tab = at;     at += M * l->L;
    l->zbuf = at;    at += nb * l->aux;
    l->llr = at;     at += nb * l->nbits;
    l->scratch = at;
    l->rbits = l->bits + nb * l->nbits;
    l->half = l->center + M;
    *out = l;
    return INVCSI_OK;
}

int invcsi_link_needs_fit(const invcsi_link *l) { return !l->fitted; }
int invcsi_link_bits(const invcsi_link *l) { return l->B; }
int invcsi_link_latent(const invcsi_link *l) { return l->M; }
long invcsi_link_payload_bits(const invcsi_link *l) { return l->nbits; }

/* ---- uniform quantizer ------------------------------------------------------------------ */

/* Index of v on the uniform quantizer with levels -1 + j * 2/(L-1) (normalised units). */
static inline int uniform_index(float v, int L)
{
    const float t = (v + 1.0f) * 0.5f * (float)(L - 1);
    if (!(t > 0.0f))
        return 0; /* also NaN */
    const int j = (int)floorf(t + 0.5f);
    return j > L - 1 ? L - 1 : j;
}

static inline float uniform_level(int j, int L) { return -1.0f + 2.0f * j / (float)(L - 1); }

int invcsi_uniform_range_fit(const float *y, long n, int dims, int bits, float *center,
                             float *half, invcsi_error *err)
{
    if (!y || n < 1 || dims < 1)
        return invcsi_error_set(err, INVCSI_EINVAL, "uniform range fit: no values (%ld x %d)", n,
                                dims);
    if (bits < 1 || bits > 16)
        return invcsi_error_set(err, INVCSI_EINVAL, "uniform range fit: bits %d not in 1..16",
                                bits);
    const int L = 1 << bits;
    /* at most 16384 values per dimension (evenly spread): the MSE curve is smooth in k */
    const long stride = n > 16384 ? (n + 16383) / 16384 : 1;
#pragma omp parallel for schedule(dynamic, 4)
    for (int d = 0; d < dims; d++) {
        double s1 = 0.0, s2 = 0.0;
        long cnt = 0;
        for (long i = 0; i < n; i += stride) {
            const double v = y[i * dims + d];
            s1 += v;
            s2 += v * v;
            cnt++;
        }
        const double mean = s1 / cnt;
        const double var = s2 / cnt - mean * mean;
        const double sd = var > 0.0 ? sqrt(var) : 0.0;
        center[d] = (float)mean;
        if (!(sd > 1e-12 * (fabs(mean) + 1e-30)) || !isfinite(sd)) {
            half[d] = 1.0f;
            continue;
        }
        double best = INFINITY, best_h = sd;
        for (int g = 1; g <= 120; g++) {
            const double h = 0.05 * g * sd;
            double e = 0.0;
            for (long i = 0; i < n; i += stride) {
                const double v = y[i * dims + d];
                const float vn = (float)((v - mean) / h);
                const double q = mean + h * uniform_level(uniform_index(vn, L), L);
                e += (v - q) * (v - q);
            }
            if (e < best) {
                best = e;
                best_h = h;
            }
        }
        half[d] = (float)best_h;
    }
    return INVCSI_OK;
}

int invcsi_link_set_range(invcsi_link *l, const float *center, const float *half,
                          invcsi_error *err)
{
    for (int d = 0; d < l->M; d++)
        if (!(half[d] > 0.0f) || !isfinite(half[d]) || !isfinite(center[d]))
            return invcsi_error_set(err, INVCSI_EINVAL,
                                    "link: quantizer range of dimension %d (center %g, half %g) "
                                    "is not valid",
                                    d, center[d], half[d]);
    memcpy(l->center, center, sizeof(float) * (size_t)l->M);
    memcpy(l->half, half, sizeof(float) * (size_t)l->M);
    l->fitted = 1;
    return INVCSI_OK;
}

int invcsi_link_fit(invcsi_link *l, const float *x, long n, invcsi_error *err)
{
    if (l->icsi)
        return INVCSI_OK;
    if (n < 1)
        return invcsi_error_set(err, INVCSI_EINVAL, "link fit: no training reports");
    float *ys = malloc(sizeof(float) * (size_t)n * l->M);
    if (!ys)
        return invcsi_error_set(err, INVCSI_ENOMEM, "link fit: out of memory for %ld latents", n);
    int rc = invcsi_model_encode(l->m, x, n, ys, err);
    if (rc == INVCSI_OK)
        rc = invcsi_uniform_range_fit(ys, n, l->M, l->B, l->center, l->half, err);
    free(ys);
    if (rc == INVCSI_OK)
        l->fitted = 1;
    return rc;
}

/* Level table [M][L] in the model's latent units. */
static int level_table(invcsi_link *l, invcsi_error *err)
{
    if (l->icsi)
        return invcsi_invcsinet_tables(l->m, l->tab, NULL, err);
    for (int d = 0; d < l->M; d++)
        for (int j = 0; j < l->L; j++)
            l->tab[(long)d * l->L + j] = l->center[d] + l->half[d] * uniform_level(j, l->L);
    return INVCSI_OK;
}

/* ---- pieces ----------------------------------------------------------------------------- */

static int check(const invcsi_link *l, int batch, invcsi_error *err)
{
    if (batch < 1 || batch > l->max_batch)
        return invcsi_error_set(err, INVCSI_EINVAL, "link: batch %d outside [1, %d]", batch,
                                l->max_batch);
    if (!l->fitted)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "link: the uniform quantizer of this %s model is not fitted "
                                "(invcsi_link_fit on training reports first)",
                                l->m->cfg.kind);
    return INVCSI_OK;
}

int invcsi_link_encode(invcsi_link *l, const float *x, int batch, int *indices, uint8_t *bits,
                       invcsi_error *err)
{
    int rc = check(l, batch, err);
    if (rc != INVCSI_OK)
        return rc;
    int *idx = indices ? indices : l->idx;
    const long n = (long)batch * l->M;
    if (l->icsi) {
        rc = invcsi_invcsinet_encode_latent(l->m, x, batch, l->y, err);
        if (rc == INVCSI_OK)
            rc = invcsi_invcsinet_quantize(l->m, l->y, batch, idx, err);
    } else {
        rc = l->m->ops->encode(l->m, x, batch, l->y, err);
        for (long e = 0; rc == INVCSI_OK && e < n; e++) {
            const int d = (int)(e % l->M);
            idx[e] = uniform_index((l->y[e] - l->center[d]) / l->half[d], l->L);
        }
    }
    if (rc == INVCSI_OK && bits)
        rc = invcsi_indices_to_bits(bits, idx, n, l->B, l->mapping, err);
    return rc;
}

int invcsi_link_dequantize(invcsi_link *l, const int *indices, int batch, float *levels,
                           invcsi_error *err)
{
    int rc = check(l, batch, err);
    if (rc != INVCSI_OK)
        return rc;
    if (l->icsi)
        return invcsi_invcsinet_dequantize(l->m, indices, batch, levels, err);
    const long n = (long)batch * l->M;
    for (long e = 0; e < n; e++) {
        const int d = (int)(e % l->M);
        int j = indices[e];
        j = j < 0 ? 0 : j >= l->L ? l->L - 1 : j;
        levels[e] = l->center[d] + l->half[d] * uniform_level(j, l->L);
    }
    return INVCSI_OK;
}

/* log P(bit = 0 | llr) and log P(bit = 1 | llr), stable for large |llr|. */
static inline double log_p0(double llr) { return llr > 0 ? -log1p(exp(-llr)) : llr - log1p(exp(llr)); }
static inline double log_p1(double llr) { return log_p0(-llr); }

int invcsi_link_llr_to_levels(invcsi_link *l, const float *llr, int batch, float *levels,
                              invcsi_error *err)
{
    int rc = check(l, batch, err);
    if (rc != INVCSI_OK)
        return rc;
    const long n = (long)batch * l->M;
    if (l->cfg.detect == INVCSI_DETECT_HARD) {
        for (long i = 0; i < n * l->B; i++)
            l->rbits[i] = llr[i] < 0.0f;
        rc = invcsi_bits_to_indices(l->idx, l->rbits, n, l->B, l->mapping, err);
        return rc == INVCSI_OK ? invcsi_link_dequantize(l, l->idx, batch, levels, err) : rc;
    }
    if ((rc = level_table(l, err)) != INVCSI_OK)
        return rc;
    const int L = l->L, B = l->B;
#pragma omp parallel for schedule(static) if (n * L >= 65536)
    for (long e = 0; e < n; e++) {
        const float *lam = llr + e * B, *c = l->tab + (e % l->M) * L;
        double lp[256], top = -INFINITY;
        for (int j = 0; j < L; j++) {
            const uint32_t lab = invcsi_index_to_label((uint32_t)j, l->mapping);
            double s = 0.0;
            for (int k = 0; k < B; k++) /* bit k of the label, MSB first */
                s += (lab >> (B - 1 - k)) & 1u ? log_p1(lam[k]) : log_p0(lam[k]);
            lp[j] = s;
            top = s > top ? s : top;
        }
        double num = 0.0, den = 0.0;
        for (int j = 0; j < L; j++) {
            const double w = exp(lp[j] - top);
            num += w * c[j];
            den += w;
        }
        levels[e] = (float)(num / den);
    }
    return INVCSI_OK;
}

static int decode_with(invcsi_link *l, const float *levels, int batch, uint64_t first_report,
                       int z_mode, float *xhat, invcsi_error *err)
{
    invcsi_model *m = l->m;
    if (l->icsi) {
        const invcsi_zchoice z = {z_mode, l->cfg.seed, first_report};
        return invcsi_invcsinet_decode_levels(m, levels, batch, &z, xhat, err);
    }
    invcsi_inn *inn = invcsi_inn_of_model(m);
    if (z_mode == INVCSI_Z_SAMPLE && inn) {
        const long aux = l->aux;
#pragma omp parallel for schedule(static) if ((long)batch * aux >= 65536)
        for (int b = 0; b < batch; b++) {
            invcsi_rng r;
            invcsi_rng_init(&r, l->cfg.seed, INVCSI_ZSAMPLE_STREAM | (first_report + (uint64_t)b));
            for (long k = 0; k < aux; k++)
                l->zbuf[b * aux + k] = (float)invcsi_rng_normal(&r);
        }
        return invcsi_inn_inverse(inn, levels, l->zbuf, batch, xhat, err);
    }
    return m->ops->decode(m, levels, batch, xhat, err);
}

int invcsi_link_decode_levels(invcsi_link *l, const float *levels, int batch,
                              uint64_t first_report, float *xhat, invcsi_error *err)
{
    int rc = check(l, batch, err);
    return rc == INVCSI_OK ? decode_with(l, levels, batch, first_report, l->cfg.z_mode, xhat, err)
                           : rc;
}

int invcsi_link_decode_bits(invcsi_link *l, const uint8_t *bits, int batch,
                            uint64_t first_report, float *xhat, invcsi_error *err)
{
    int rc = check(l, batch, err);
    if (rc == INVCSI_OK)
        rc = invcsi_bits_to_indices(l->idx, bits, (long)batch * l->M, l->B, l->mapping, err);
    if (rc == INVCSI_OK)
        rc = invcsi_link_dequantize(l, l->idx, batch, l->lev, err);
    if (rc == INVCSI_OK)
        rc = decode_with(l, l->lev, batch, first_report, l->cfg.z_mode, xhat, err);
    return rc;
}

/* ---- the whole link --------------------------------------------------------------------- */

int invcsi_link_run(invcsi_link *l, const float *x, int batch, double ebn0_db,
                    uint64_t first_report, float *xhat, float *xhat_zs, long *bit_errors,
                    invcsi_error *err)
{
    int rc = check(l, batch, err);
    if (rc != INVCSI_OK)
        return rc;
    if (isnan(ebn0_db) || ebn0_db == -INFINITY)
        return invcsi_error_set(err, INVCSI_EINVAL, "link: Eb/N0 %g dB is not valid", ebn0_db);
    rc = invcsi_link_encode(l, x, batch, l->idx, l->bits, err);
    if (rc != INVCSI_OK)
        return rc;
    const long nb = l->nbits;
    long errors = 0;
    const int soft = l->cfg.detect == INVCSI_DETECT_MMSE && isfinite(ebn0_db);
    if (!isfinite(ebn0_db)) {
        memcpy(l->rbits, l->bits, (size_t)(batch * nb));
    } else {
        int bad = 0;
#pragma omp parallel for schedule(static) reduction(+ : errors, bad)
        for (int b = 0; b < batch; b++) {
            invcsi_rng r;
            invcsi_rng_init(&r, l->cfg.seed, INVCSI_LINK_NOISE_STREAM | (first_report + (uint64_t)b));
            long e = 0;
            if (invcsi_bitlink_awgn(l->rbits + b * nb, soft ? l->llr + b * nb : NULL,
                                    l->bits + b * nb, nb, ebn0_db, &r, l->scratch + 2 * b * nb,
                                    &e, NULL) != INVCSI_OK)
                bad++;
            errors += e;
        }
        if (bad)
            return invcsi_error_set(err, INVCSI_EINVAL, "link: the bit channel failed at %g dB",
                                    ebn0_db);
    }
    if (soft) {
        rc = invcsi_link_llr_to_levels(l, l->llr, batch, l->lev, err);
    } else {
        rc = invcsi_bits_to_indices(l->idx, l->rbits, (long)batch * l->M, l->B, l->mapping, err);
        if (rc == INVCSI_OK)
            rc = invcsi_link_dequantize(l, l->idx, batch, l->lev, err);
    }
    if (rc == INVCSI_OK)
        rc = decode_with(l, l->lev, batch, first_report, l->cfg.z_mode, xhat, err);
    if (rc == INVCSI_OK && xhat_zs)
        rc = decode_with(l, l->lev, batch, first_report,
                         l->cfg.z_mode == INVCSI_Z_MEAN ? INVCSI_Z_SAMPLE : INVCSI_Z_MEAN,
                         xhat_zs, err);
    if (rc == INVCSI_OK && bit_errors)
        *bit_errors = errors;
    return rc;
}

int invcsi_link_eval(invcsi_link *l, const float *x, long n, double ebn0_db,
                     invcsi_link_result *res, invcsi_error *err)
{
    memset(res, 0, sizeof *res);
    if (n < 1)
        return invcsi_error_set(err, INVCSI_EINVAL, "link eval: no reports");
    const long dim = l->dim, nb = l->max_batch;
    float *xh = malloc(sizeof(float) * (size_t)(2 * nb * dim));
    if (!xh)
        return invcsi_error_set(err, INVCSI_ENOMEM, "link eval: out of memory");
    float *xz = xh + nb * dim;
    double s1 = 0.0, s2 = 0.0;
    int rc = INVCSI_OK;
    for (long at = 0; at < n && rc == INVCSI_OK; at += nb) {
        const int b = (int)(n - at < nb ? n - at : nb);
        long e = 0;
        rc = invcsi_link_run(l, x + at * dim, b, ebn0_db, (uint64_t)at, xh, xz, &e, err);
        if (rc != INVCSI_OK)
            break;
        res->bit_errors += e;
        for (int i = 0; i < b; i++) {
            s1 += invcsi_nmse_real(x + (at + i) * dim, xh + (long)i * dim, dim);
            s2 += invcsi_nmse_real(x + (at + i) * dim, xz + (long)i * dim, dim);
        }
    }
    free(xh);
    if (rc != INVCSI_OK)
        return rc;
    res->reports = n;
    res->bits = n * l->nbits;
    res->ber = (double)res->bit_errors / (double)res->bits;
    res->ber_theory = isfinite(ebn0_db) ? invcsi_bpsk_ber(invcsi_db_to_linear(ebn0_db)) : 0.0;
    res->nmse = s1 / n;
    res->nmse_zs = s2 / n;
    return INVCSI_OK;
}
