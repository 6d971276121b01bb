/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * 16-bit frequency tables: quantisation of a pmf (every frequency >= 1, sum 65536,
 * deterministic, close to optimal), the tails-folded pmf of a CDF, validation of bad
 * tables, and storage as a float32 "entropy.cdf" tensor in a safetensors file.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "invcsi/cdf_table.h"
#include "invcsi/rng.h"
#include "invcsi/safetensors.h"

/* Cross entropy (bits) of pmf p (normalised) coded with the table. */
static double cross_entropy(const float *pmf, int n, const invcsi_cdf_table *t)
{
    double total = 0, h = 0;
    for (int s = 0; s < n; s++)
        total += pmf[s];
    for (int s = 0; s < n; s++)
        h += pmf[s] / total * invcsi_cdf_table_bits(t, s);
    return h;
}

static double entropy(const float *pmf, int n)
{
    double total = 0, h = 0;
    for (int s = 0; s < n; s++)
        total += pmf[s];
    for (int s = 0; s < n; s++)
        if (pmf[s] > 0)
            h -= pmf[s] / total * log2(pmf[s] / total);
    return h;
}

/* Discretised Gaussian of the given centre and width over n symbols, tails folded. */
static void gaussian_pmf(float *pmf, int n, double centre, double sigma)
{
    float edges[INVCSI_CDF_MAX_SYMBOLS];
    for (int k = 0; k < n - 1; k++)
        edges[k] = (float)(0.5 * erfc(-((k + 0.5) - centre) / (sigma * sqrt(2.0))));
    invcsi_cdf_pmf_from_edges(edges, n, pmf);
}

static void check_valid(const invcsi_cdf_table *t, int n, const char *what)
{
    invcsi_error err;
    CHECK(t->n_symbols == n, "%s: n %d", what, t->n_symbols);
    CHECK(invcsi_cdf_table_check(t, what, &err) == 0, "%s: %s", what, err.msg);
    uint32_t sum = 0;
    for (int s = 0; s < n; s++) {
        CHECK(invcsi_cdf_freq(t, s) >= 1, "%s: symbol %d frequency 0", what, s);
        sum += invcsi_cdf_freq(t, s);
    }
    CHECK(sum == 65536u, "%s: sum %u", what, sum);
}

/* Optimal integer frequencies for small n by exhaustive unit moves: no single unit moved
 * from one symbol to another lowers the cross entropy by more than a tiny amount. */
static double best_single_move_gain(const float *pmf, int n, const invcsi_cdf_table *t)
{
    double total = 0;
    for (int s = 0; s < n; s++)
        total += pmf[s];
    double best = 0;
    for (int a = 0; a < n; a++) {
        const double fa = invcsi_cdf_freq(t, a);
        if (fa <= 1)
            continue;
        for (int b = 0; b < n; b++) {
            if (b == a)
                continue;
            const double fb = invcsi_cdf_freq(t, b);
            /* change in expected bits when a unit moves from a to b */
            const double d = pmf[a] / total * (log2(fa) - log2(fa - 1)) -
                             pmf[b] / total * (log2(fb + 1) - log2(fb));
            if (-d > best)
                best = -d;
        }
    }
    return best;
}

int main(void)
{
    invcsi_error err;
    invcsi_cdf_table t, t2;
    float pmf[INVCSI_CDF_MAX_SYMBOLS];
    const int sizes[] = {16, 32, 64, 256, 2, 3, 100};

    /* --- quantisation of many shapes --- */
    invcsi_rng rng;
    invcsi_rng_init(&rng, 7, 0);
    double worst_excess = 0, worst_move = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        const int n = sizes[si];
        for (int trial = 0; trial < 40; trial++) {
            const int kind = trial % 5;
            if (kind == 0) { /* flat */
                for (int s = 0; s < n; s++)
                    pmf[s] = 1.0f;
            } else if (kind == 1) { /* narrow Gaussian: near-deterministic, tails tiny */
                gaussian_pmf(pmf, n, n / 2.0 + invcsi_rng_uniform(&rng) - 0.5,
                             0.05 + 0.5 * invcsi_rng_uniform(&rng));
            } else if (kind == 2) { /* wide Gaussian */
                gaussian_pmf(pmf, n, n * invcsi_rng_uniform(&rng), 1 + n * invcsi_rng_uniform(&rng));
            } else if (kind == 3) { /* random with zeros, unnormalised */
                for (int s = 0; s < n; s++)
                    pmf[s] = invcsi_rng_uniform(&rng) < 0.5 ? 0.0f
                                                            : (float)(1e3 * invcsi_rng_uniform(&rng));
                pmf[invcsi_rng_below(&rng, (uint64_t)n)] = 1.0f;
            } else { /* one symbol only */
                for (int s = 0; s < n; s++)
                    pmf[s] = 0.0f;
                pmf[invcsi_rng_below(&rng, (uint64_t)n)] = 0.25f;
            }
            char what[64];
            snprintf(what, sizeof what, "n %d trial %d", n, trial);
            int rc = invcsi_cdf_table_from_pmf(&t, n, pmf, what, &err);
            CHECK(rc == 0, "%s: %s", what, err.msg);
            if (rc)
                continue;
            check_valid(&t, n, what);
            /* deterministic: same input, same table */
            CHECK(invcsi_cdf_table_from_pmf(&t2, n, pmf, what, &err) == 0 &&
                      !memcmp(&t, &t2, sizeof t), "%s: not deterministic", what);
            /* close to the entropy: excess only from the >= 1 floor and 16-bit rounding */
            const double h = entropy(pmf, n), ce = cross_entropy(pmf, n, &t);
            CHECK(ce >= h - 1e-9, "%s: cross entropy %.6f below entropy %.6f", what, ce, h);
            if (kind != 1 && kind != 4 && ce - h > worst_excess)
                worst_excess = ce - h;
            if (kind == 0)
                for (int s = 0; s + 1 < n; s++)
                    CHECK(abs((int)invcsi_cdf_freq(&t, s) - (int)invcsi_cdf_freq(&t, s + 1)) <= 1,
                          "%s: flat pmf gives uneven frequencies", what);
            if (kind == 4)
                CHECK(invcsi_cdf_freq(&t, 0) + invcsi_cdf_freq(&t, n - 1) >= 2 &&
                          invcsi_cdf_table_entropy(&t) < 0.01 * (n / 16.0 + 1),
                      "%s: one-symbol pmf entropy %.4f", what, invcsi_cdf_table_entropy(&t));
            if (n <= 64) {
                const double g = best_single_move_gain(pmf, n, &t);
                if (g > worst_move)
                    worst_move = g;
            }
        }
    }
    printf("worst cross-entropy excess over the pmf entropy (flat/wide/random): %.3g bits\n",
           worst_excess);
    printf("largest gain of any single unit move (n <= 64): %.3g bits/symbol\n", worst_move);
    CHECK(worst_excess < 0.01, "quantisation loses %.4f bits/symbol", worst_excess);
    CHECK(worst_move < 1e-6, "a single unit move still gains %.3g bits", worst_move);

    /* A known table: pmf 1:2:1 over 3 symbols, then 16 symbols with one impossible tail. */
    float p3[3] = {1, 2, 1};
    CHECK(invcsi_cdf_table_from_pmf(&t, 3, p3, "1:2:1", &err) == 0, "%s", err.msg);
    CHECK(t.cum[1] == 16384 && t.cum[2] == 49152 && t.cum[3] == 65536, "1:2:1 -> %u %u %u",
          t.cum[1], t.cum[2], t.cum[3]);
    CHECK(fabs(invcsi_cdf_table_bits(&t, 1) - 1.0) < 1e-12, "1 bit for p = 1/2");

    /* pmf from CDF edges: tails folded, negative steps clamped */
    float edges[3] = {0.1f, 0.05f, 0.7f}, p4[4];
    invcsi_cdf_pmf_from_edges(edges, 4, p4);
    CHECK(p4[0] == 0.1f && p4[1] == 0.0f && fabsf(p4[2] - 0.65f) < 1e-6f &&
              fabsf(p4[3] - 0.3f) < 1e-6f, "pmf from edges %g %g %g %g", p4[0], p4[1], p4[2],
          p4[3]);

    /* --- bad input is refused with a message --- */
    float bad[4] = {1, -1, 1, 1};
    CHECK(invcsi_cdf_table_from_pmf(&t, 4, bad, "neg", &err) == INVCSI_EINVAL &&
              strstr(err.msg, "symbol 1"), "negative pmf: %s", err.msg);
    bad[1] = NAN;
    CHECK(invcsi_cdf_table_from_pmf(&t, 4, bad, "nan", &err) == INVCSI_EINVAL, "NaN pmf");
    float zeros[4] = {0, 0, 0, 0};
    CHECK(invcsi_cdf_table_from_pmf(&t, 4, zeros, "zero", &err) == INVCSI_EINVAL, "zero pmf");
    CHECK(invcsi_cdf_table_from_pmf(&t, 1, zeros, "one", &err) == INVCSI_EINVAL, "n = 1");
    CHECK(invcsi_cdf_table_from_pmf(&t, 257, pmf, "big", &err) == INVCSI_EINVAL, "n = 257");
    uint32_t cum_bad[5] = {0, 100, 100, 200, 65536};
    CHECK(invcsi_cdf_table_from_cum(&t, 4, cum_bad, "dup", &err) == INVCSI_EFORMAT &&
              strstr(err.msg, "symbol 1"), "zero frequency: %s", err.msg);
    uint32_t cum_sum[5] = {0, 100, 200, 300, 65535};
    CHECK(invcsi_cdf_table_from_cum(&t, 4, cum_sum, "sum", &err) == INVCSI_EFORMAT, "sum");
    uint32_t cum_start[5] = {1, 100, 200, 300, 65536};
    CHECK(invcsi_cdf_table_from_cum(&t, 4, cum_start, "start", &err) == INVCSI_EFORMAT, "start");
    uint32_t freq_bad[4] = {65533, 1, 1, 2};
    CHECK(invcsi_cdf_table_from_freq(&t, 4, freq_bad, "freq", &err) == INVCSI_EFORMAT, "freq sum");
    freq_bad[3] = 1;
    CHECK(invcsi_cdf_table_from_freq(&t, 4, freq_bad, "freq", &err) == 0, "freq ok: %s", err.msg);
    t.lut[200] ^= 1;
    CHECK(invcsi_cdf_table_check(&t, "lut", &err) == INVCSI_EINVAL, "edited lut not caught");

    /* --- storage as float32 in a safetensors file --- */
    const int m = 37, n = 64;
    invcsi_cdf_table *tables = malloc(m * sizeof *tables);
    float *vals = malloc((size_t)m * (n + 1) * sizeof *vals);
    for (int d = 0; d < m; d++) {
        gaussian_pmf(pmf, n, 31.5 + d % 7, 0.2 + d * 0.3);
        CHECK(invcsi_cdf_table_from_pmf(&tables[d], n, pmf, "store", &err) == 0, "%s", err.msg);
    }
    CHECK(invcsi_cdf_tables_to_floats(tables, m, vals, &err) == 0, "%s", err.msg);
    const int64_t shape[2] = {m, n + 1};
    const invcsi_st_tensor_in tin[2] = {
        {INVCSI_CDF_TENSOR_NAME, 2, shape, vals},
        {"other.weight", 1, (const int64_t[]){3}, (const float[]){1, 2, 3}},
    };
    const char *path = "cdf_tables.safetensors";
    CHECK(invcsi_safetensors_write(path, tin, 2, NULL, 0, &err) == 0, "%s", err.msg);
    invcsi_safetensors file;
    CHECK(invcsi_safetensors_load(path, &file, &err) == 0, "%s", err.msg);
    invcsi_cdf_table *loaded = NULL;
    int lm = 0, ln = 0;
    CHECK(invcsi_cdf_tables_from_safetensors(&file, NULL, m, n, &loaded, &lm, &ln, &err) == 0,
          "%s", err.msg);
    CHECK(loaded && lm == m && ln == n && !memcmp(loaded, tables, m * sizeof *tables),
          "tables differ after a file round trip");
    free(loaded);
    CHECK(invcsi_cdf_tables_from_safetensors(&file, NULL, m + 1, n, &loaded, &lm, &ln, &err) ==
                  INVCSI_EFORMAT && strstr(err.msg, "M = 38") && !loaded,
          "wrong M: %s", err.msg);
    CHECK(invcsi_cdf_tables_from_safetensors(&file, NULL, 0, 32, &loaded, &lm, &ln, &err) ==
              INVCSI_EFORMAT, "wrong n: %s", err.msg);
    CHECK(invcsi_cdf_tables_from_safetensors(&file, "entropy.nope", 0, 0, &loaded, &lm, &ln,
                                             &err) == INVCSI_EFORMAT &&
              strstr(err.msg, "entropy.nope"), "missing tensor: %s", err.msg);
    CHECK(invcsi_cdf_tables_from_safetensors(&file, "other.weight", 0, 0, &loaded, &lm, &ln,
                                             &err) == INVCSI_EFORMAT, "rank 1 accepted");
    invcsi_safetensors_free(&file);

    /* a non-integer and a non-monotone row are refused, naming the row */
    vals[5 * (n + 1) + 3] += 0.5f;
    CHECK(invcsi_cdf_tables_from_floats(tables, m, n, vals, "f", &err) == INVCSI_EFORMAT &&
              strstr(err.msg, "row 5"), "non-integer: %s", err.msg);
    vals[5 * (n + 1) + 3] -= 0.5f;
    vals[9 * (n + 1) + 10] = vals[9 * (n + 1) + 11];
    CHECK(invcsi_cdf_tables_from_floats(tables, m, n, vals, "f", &err) == INVCSI_EFORMAT &&
              strstr(err.msg, "row 9"), "zero frequency row: %s", err.msg);
    free(vals);
    free(tables);
    unlink(path);
    return check_done("test_cdf_table");
}
