/* SPDX-License-Identifier: GPL-3.0-or-later */
/* 16-bit frequency tables for the rANS coder: building, quantising, storing. */
#include "invcsi/cdf_table.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *name_or(const char *what)
{
    return what && what[0] ? what : "cdf table";
}

/* lut[k] = symbol whose interval [cum[s], cum[s+1]) holds slot k * 256. */
static void build_lut(invcsi_cdf_table *t)
{
    int s = 0;
    for (int k = 0; k < 256; k++) {
        const uint32_t slot = (uint32_t)k << 8;
        while (t->cum[s + 1] <= slot)
            s++;
        t->lut[k] = (uint8_t)s;
    }
}

static int check_n(int n, const char *what, invcsi_error *err)
{
    if (n < INVCSI_CDF_MIN_SYMBOLS || n > INVCSI_CDF_MAX_SYMBOLS)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "%s: %d symbols; a table has between %d and %d", name_or(what),
                                n, INVCSI_CDF_MIN_SYMBOLS, INVCSI_CDF_MAX_SYMBOLS);
    return INVCSI_OK;
}

int invcsi_cdf_table_from_cum(invcsi_cdf_table *t, int n, const uint32_t *cum,
                              const char *what, invcsi_error *err)
{
    int rc = check_n(n, what, err);
    if (rc)
        return rc;
    if (cum[0] != 0)
        return invcsi_error_set(err, INVCSI_EFORMAT,
                                "%s: cumulative table starts at %u instead of 0", name_or(what),
                                (unsigned)cum[0]);
    for (int s = 0; s < n; s++)
        if (cum[s + 1] <= cum[s])
            return invcsi_error_set(err, INVCSI_EFORMAT,
                                    "%s: symbol %d has frequency %ld (cum %u -> %u); every "
                                    "symbol needs a frequency of at least 1",
                                    name_or(what), s, (long)cum[s + 1] - (long)cum[s],
                                    (unsigned)cum[s], (unsigned)cum[s + 1]);
    if (cum[n] != INVCSI_CDF_TOTAL)
        return invcsi_error_set(err, INVCSI_EFORMAT,
                                "%s: frequencies sum to %u instead of %u", name_or(what),
                                (unsigned)cum[n], (unsigned)INVCSI_CDF_TOTAL);
    memset(t, 0, sizeof *t);
    t->n_symbols = n;
    memcpy(t->cum, cum, (size_t)(n + 1) * sizeof cum[0]);
    build_lut(t);
    return INVCSI_OK;
}

int invcsi_cdf_table_from_freq(invcsi_cdf_table *t, int n, const uint32_t *freq,
                               const char *what, invcsi_error *err)
{
    int rc = check_n(n, what, err);
    if (rc)
        return rc;
    uint32_t cum[INVCSI_CDF_MAX_SYMBOLS + 1];
    uint64_t acc = 0;
    cum[0] = 0;
    for (int s = 0; s < n; s++) {
        if (freq[s] < 1)
            return invcsi_error_set(err, INVCSI_EFORMAT,
                                    "%s: symbol %d has frequency 0; every symbol needs at "
                                    "least 1", name_or(what), s);
        acc += freq[s];
        if (acc > INVCSI_CDF_TOTAL)
            break;
        cum[s + 1] = (uint32_t)acc;
    }
    if (acc != INVCSI_CDF_TOTAL) {
        /* finish the sum for the message */
        acc = 0;
        for (int s = 0; s < n; s++)
            acc += freq[s];
        return invcsi_error_set(err, INVCSI_EFORMAT, "%s: frequencies sum to %llu instead of %u",
                                name_or(what), (unsigned long long)acc,
                                (unsigned)INVCSI_CDF_TOTAL);
    }
    return invcsi_cdf_table_from_cum(t, n, cum, what, err);
}

int invcsi_cdf_table_from_pmf(invcsi_cdf_table *t, int n, const float *pmf, const char *what,
                              invcsi_error *err)
{
    int rc = check_n(n, what, err);
    if (rc)
        return rc;
    double total = 0.0;
    for (int s = 0; s < n; s++) {
        if (!isfinite(pmf[s]) || pmf[s] < 0.0f)
            return invcsi_error_set(err, INVCSI_EINVAL,
                                    "%s: probability of symbol %d is %g; each must be finite "
                                    "and >= 0", name_or(what), s, (double)pmf[s]);
        total += (double)pmf[s];
    }
    if (!(total > 0.0) || !isfinite(total))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "%s: probabilities sum to %g; need a finite positive sum",
                                name_or(what), total);
    const double scale = (double)INVCSI_CDF_TOTAL / total;

    /* Nearest integer, at least 1. The product goes through a volatile so that no
     * compiler fuses it with the +0.5 into an FMA on some platforms and not others. */
    uint32_t f[INVCSI_CDF_MAX_SYMBOLS];
    int64_t sum = 0;
    for (int s = 0; s < n; s++) {
        volatile double scaled = (double)pmf[s] * scale;
        double r = floor(scaled + 0.5);
        if (r < 1.0)
            r = 1.0;
        if (r > (double)INVCSI_CDF_TOTAL)
            r = (double)INVCSI_CDF_TOTAL;
        f[s] = (uint32_t)r;
        sum += f[s];
    }

    /* Unit corrections. Removing a unit from symbol s costs about p_s / (f_s - 1/2) nats
     * of expected code length, adding one saves about p_s / (f_s + 1/2); the products
     * compared below are exact in double (24-bit float times an integer < 2^18), so the
     * choice does not depend on rounding. |sum - 65536| <= 3n/2, so this is O(n^2). */
    while (sum > (int64_t)INVCSI_CDF_TOTAL) {
        int best = -1;
        for (int s = 0; s < n; s++) {
            if (f[s] <= 1)
                continue;
            if (best < 0 ||
                (double)pmf[s] * (2.0 * f[best] - 1.0) < (double)pmf[best] * (2.0 * f[s] - 1.0))
                best = s;
        }
        f[best]--; /* best exists: sum > 65536 >= n means some f > 1 */
        sum--;
    }
    while (sum < (int64_t)INVCSI_CDF_TOTAL) {
        int best = 0;
        for (int s = 1; s < n; s++)
            if ((double)pmf[s] * (2.0 * f[best] + 1.0) > (double)pmf[best] * (2.0 * f[s] + 1.0))
                best = s;
        f[best]++;
        sum++;
    }
    return invcsi_cdf_table_from_freq(t, n, f, what, err);
}

void invcsi_cdf_pmf_from_edges(const float *cdf_edges, int n, float *pmf)
{
    float prev = 0.0f;
    for (int u = 0; u < n; u++) {
        const float next = u < n - 1 ? cdf_edges[u] : 1.0f;
        const float p = next - prev;
        pmf[u] = p > 0.0f ? p : 0.0f;
        prev = next;
    }
}

int invcsi_cdf_table_check(const invcsi_cdf_table *t, const char *what, invcsi_error *err)
{
    invcsi_cdf_table copy;
    int rc = invcsi_cdf_table_from_cum(&copy, t->n_symbols, t->cum, what, err);
    if (rc)
        return rc;
    if (memcmp(copy.lut, t->lut, sizeof copy.lut))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "%s: decoder lookup does not match the cumulative table (build "
                                "tables with invcsi_cdf_table_from_cum)", name_or(what));
    return INVCSI_OK;
}

double invcsi_cdf_table_bits(const invcsi_cdf_table *t, int s)
{
    return (double)INVCSI_CDF_PRECISION - log2((double)invcsi_cdf_freq(t, s));
}

double invcsi_cdf_ideal_bits(const uint16_t *symbols, int m, const invcsi_cdf_table *tables)
{
    double bits = 0.0;
    for (int i = 0; i < m; i++) {
        if ((int)symbols[i] >= tables[i].n_symbols)
            return INFINITY;
        bits += invcsi_cdf_table_bits(&tables[i], symbols[i]);
    }
    return bits;
}

double invcsi_cdf_table_entropy(const invcsi_cdf_table *t)
{
    double h = 0.0;
    for (int s = 0; s < t->n_symbols; s++) {
        const double p = (double)invcsi_cdf_freq(t, s) / (double)INVCSI_CDF_TOTAL;
        h -= p * log2(p);
    }
    return h;
}

int invcsi_cdf_tables_to_floats(const invcsi_cdf_table *tables, int m, float *dst,
                                invcsi_error *err)
{
    if (m < 1)
        return invcsi_error_set(err, INVCSI_EINVAL, "cdf tables: %d tables; need at least 1", m);
    const int n = tables[0].n_symbols;
    for (int d = 0; d < m; d++) {
        if (tables[d].n_symbols != n)
            return invcsi_error_set(err, INVCSI_EINVAL,
                                    "cdf tables: table %d has %d symbols but table 0 has %d; "
                                    "one tensor stores tables of one size",
                                    d, tables[d].n_symbols, n);
        for (int s = 0; s <= n; s++)
            dst[(size_t)d * (size_t)(n + 1) + (size_t)s] = (float)tables[d].cum[s];
    }
    return INVCSI_OK;
}

int invcsi_cdf_tables_from_floats(invcsi_cdf_table *tables, int m, int n, const float *src,
                                  const char *what, invcsi_error *err)
{
    int rc = check_n(n, what, err);
    if (rc)
        return rc;
    if (m < 1)
        return invcsi_error_set(err, INVCSI_EINVAL, "%s: %d tables; need at least 1",
                                name_or(what), m);
    uint32_t cum[INVCSI_CDF_MAX_SYMBOLS + 1];
    char row_what[600];
    for (int d = 0; d < m; d++) {
        const float *row = src + (size_t)d * (size_t)(n + 1);
        for (int s = 0; s <= n; s++) {
            const float v = row[s];
            if (!(v >= 0.0f && v <= (float)INVCSI_CDF_TOTAL) || v != floorf(v))
                return invcsi_error_set(err, INVCSI_EFORMAT,
                                        "%s: row %d (latent dimension %d), entry %d is %g; "
                                        "entries are integers in [0, %u]",
                                        name_or(what), d, d, s, (double)v,
                                        (unsigned)INVCSI_CDF_TOTAL);
            cum[s] = (uint32_t)v;
        }
        snprintf(row_what, sizeof row_what, "%s: row %d (latent dimension %d)", name_or(what),
                 d, d);
        rc = invcsi_cdf_table_from_cum(&tables[d], n, cum, row_what, err);
        if (rc)
            return rc;
    }
    return INVCSI_OK;
}

int invcsi_cdf_tables_from_safetensors(const invcsi_safetensors *file, const char *name,
                                       int expect_m, int expect_n, invcsi_cdf_table **tables,
                                       int *m, int *n_symbols, invcsi_error *err)
{
    *tables = NULL;
    if (!name)
        name = INVCSI_CDF_TENSOR_NAME;
    const invcsi_st_tensor *t = invcsi_safetensors_find(file, name);
    if (!t)
        return invcsi_error_set(err, INVCSI_EFORMAT,
                                "%s: no tensor '%s' (the entropy coder's frequency tables)",
                                file->path, name);
    if (t->rank != 2 || t->shape[0] < 1 || t->shape[1] < INVCSI_CDF_MIN_SYMBOLS + 1 ||
        t->shape[1] > INVCSI_CDF_MAX_SYMBOLS + 1 || t->shape[0] > (1 << 24))
        return invcsi_error_set(err, INVCSI_EFORMAT,
                                "%s: tensor '%s' must have shape [M][n + 1] with n between %d "
                                "and %d symbols (rank %d here)",
                                file->path, name, INVCSI_CDF_MIN_SYMBOLS, INVCSI_CDF_MAX_SYMBOLS,
                                t->rank);
    const int rows = (int)t->shape[0];
    const int n = (int)t->shape[1] - 1;
    if (expect_m > 0 && rows != expect_m)
        return invcsi_error_set(err, INVCSI_EFORMAT,
                                "%s: tensor '%s' holds %d tables but the model has M = %d "
                                "latent dimensions", file->path, name, rows, expect_m);
    if (expect_n > 0 && n != expect_n)
        return invcsi_error_set(err, INVCSI_EFORMAT,
                                "%s: tensor '%s' tables have %d symbols but the model "
                                "quantises to %d", file->path, name, n, expect_n);
    float *vals = malloc((size_t)t->count * sizeof *vals);
    invcsi_cdf_table *out = malloc((size_t)rows * sizeof *out);
    if (!vals || !out) {
        free(vals);
        free(out);
        return invcsi_error_set(err, INVCSI_ENOMEM, "%s: no memory for %d cdf tables",
                                file->path, rows);
    }
    invcsi_safetensors_copy(t, vals);
    char what[600];
    snprintf(what, sizeof what, "%s: tensor '%s'", file->path, name);
    int rc = invcsi_cdf_tables_from_floats(out, rows, n, vals, what, err);
    free(vals);
    if (rc) {
        free(out);
        return rc;
    }
    *tables = out;
    *m = rows;
    *n_symbols = n;
    return INVCSI_OK;
}
