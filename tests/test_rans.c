/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * rANS coder (lib/rans.c):
 *   - round trip bit-exact on symbols drawn from the tables: B = 4, 5, 6, 8, flat, skewed
 *     and random tables, one table per dimension, many M, symbols of frequency 1 forced in;
 *   - a fixed stream (hash of the bytes) so that another platform or compiler that codes
 *     differently fails here;
 *   - coded size against the ideal -sum log2 p of the quantised tables over 2000 reports
 *     (M = 128 and 512, B = 6, rates from a few bits to ~5 bits per symbol): every report
 *     within 0.5 % + 4 bytes;
 *   - the decoder alone (no CRC): every truncation of a stream refused, trailing bytes
 *     refused, every single-byte corruption either refused or a valid encoding of other
 *     symbols (re-encodes to the same bytes), each stream in an exactly sized heap
 *     buffer so that ASan/valgrind would see a read past its end;
 *   - encoder errors: symbol out of range, every too small output buffer, worst case
 *     (all symbols of frequency 1) within invcsi_rans_max_bytes.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "invcsi/cdf_table.h"
#include "invcsi/rans.h"
#include "invcsi/rng.h"

enum { KIND_FLAT, KIND_SKEWED, KIND_RANDOM, KIND_MIXED, N_KINDS };
static const char *KIND_NAMES[N_KINDS] = {"flat", "skewed", "random", "mixed"};

/* Tables for m dimensions over n symbols. skewed: narrow discretised Gaussians (most
 * symbols at frequency 1); random: random positive weights with zeros; mixed: a
 * different shape per dimension with widths spanning 0.05 .. n / 2 symbols. */
static void make_tables(invcsi_cdf_table *tables, int m, int n, int kind, invcsi_rng *rng)
{
    float pmf[INVCSI_CDF_MAX_SYMBOLS], edges[INVCSI_CDF_MAX_SYMBOLS];
    invcsi_error err;
    for (int d = 0; d < m; d++) {
        int k = kind == KIND_MIXED ? (int)invcsi_rng_below(rng, 3) : kind;
        if (k == KIND_FLAT) {
            for (int s = 0; s < n; s++)
                pmf[s] = 1.0f;
        } else if (k == KIND_SKEWED || kind == KIND_MIXED) {
            const double centre = (n - 1) / 2.0 + (invcsi_rng_uniform(rng) - 0.5) * n / 4.0;
            const double sigma = kind == KIND_MIXED
                                     ? 0.05 * pow(n * 10.0, invcsi_rng_uniform(rng))
                                     : 0.05 + 0.6 * invcsi_rng_uniform(rng);
            for (int e = 0; e < n - 1; e++)
                edges[e] = (float)(0.5 * erfc(-((e + 0.5) - centre) / (sigma * sqrt(2.0))));
            invcsi_cdf_pmf_from_edges(edges, n, pmf);
        } else {
            for (int s = 0; s < n; s++)
                pmf[s] = invcsi_rng_uniform(rng) < 0.3 ? 0.0f : (float)invcsi_rng_uniform(rng);
            pmf[invcsi_rng_below(rng, (uint64_t)n)] += 1.0f;
        }
        if (invcsi_cdf_table_from_pmf(&tables[d], n, pmf, "test", &err))
            fprintf(stderr, "make_tables: %s\n", err.msg);
    }
}

/* A symbol drawn from the table's own distribution. */
static uint16_t draw(const invcsi_cdf_table *t, invcsi_rng *rng)
{
    const uint32_t u = (uint32_t)invcsi_rng_below(rng, INVCSI_CDF_TOTAL);
    int s = 0;
    while (t->cum[s + 1] <= u)
        s++;
    return (uint16_t)s;
}

/* A symbol of minimum frequency in the table (first one). */
static uint16_t rarest(const invcsi_cdf_table *t)
{
    int best = 0;
    for (int s = 1; s < t->n_symbols; s++)
        if (invcsi_cdf_freq(t, s) < invcsi_cdf_freq(t, best))
            best = s;
    return (uint16_t)best;
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Decodes a copy of in[0..len) held in an exactly sized heap block. */
static int decode_exact(const uint8_t *in, size_t len, int m, const invcsi_cdf_table *tables,
                        uint16_t *out, invcsi_error *err)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (len)
        memcpy(copy, in, len);
    int rc = invcsi_rans_decode(copy, len, m, tables, out, err);
    free(copy);
    return rc;
}

static void test_round_trips(void)
{
    const int bits_list[] = {4, 5, 6, 8};
    const int ms[] = {0, 1, 2, 3, 5, 17, 64, 128, 333, 512, 2048};
    invcsi_rng rng;
    invcsi_rng_init(&rng, 2026, 1);
    const int max_m = 2048;
    invcsi_cdf_table *tables = malloc(max_m * sizeof *tables);
    uint16_t *sym = malloc(max_m * sizeof *sym), *dec = malloc(max_m * sizeof *dec);
    const size_t cap = invcsi_rans_max_bytes(max_m);
    uint8_t *buf = malloc(cap);
    long trips = 0, rare_symbols = 0;
    for (size_t bi = 0; bi < sizeof bits_list / sizeof bits_list[0]; bi++) {
        const int n = 1 << bits_list[bi];
        for (int kind = 0; kind < N_KINDS; kind++) {
            make_tables(tables, max_m, n, kind, &rng);
            for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++) {
                const int m = ms[mi];
                for (int rep = 0; rep < 3; rep++) {
                    for (int i = 0; i < m; i++) {
                        sym[i] = draw(&tables[i], &rng);
                        /* force symbols of minimum frequency (1 in skewed tables) in */
                        if (invcsi_rng_below(&rng, 10) == 0 || rep == 2) {
                            sym[i] = rep == 2 && i % 2 ? (uint16_t)(n - 1) : rarest(&tables[i]);
                            rare_symbols += invcsi_cdf_freq(&tables[i], sym[i]) == 1;
                        }
                    }
                    invcsi_error err;
                    size_t len = 0;
                    int rc = invcsi_rans_encode(sym, m, tables, buf, cap, &len, &err);
                    CHECK(rc == 0, "B=%d %s m=%d: encode: %s", bits_list[bi], KIND_NAMES[kind], m,
                          err.msg);
                    CHECK(len <= invcsi_rans_max_bytes(m), "len %zu over bound", len);
                    memset(dec, 0xff, max_m * sizeof *dec);
                    rc = decode_exact(buf, len, m, tables, dec, &err);
                    CHECK(rc == 0, "B=%d %s m=%d: decode: %s", bits_list[bi], KIND_NAMES[kind], m,
                          err.msg);
                    CHECK(!memcmp(sym, dec, (size_t)m * sizeof *sym),
                          "B=%d %s m=%d rep %d: symbols differ after the round trip", bits_list[bi],
                          KIND_NAMES[kind], m, rep);
                    trips++;
                }
            }
        }
    }
    printf("round trips: %ld reports bit-exact (B 4/5/6/8, flat/skewed/random/mixed tables, "
           "M 0..2048), %ld symbols of frequency 1 among them\n", trips, rare_symbols);
    CHECK(rare_symbols > 1000, "too few frequency-1 symbols tested (%ld)", rare_symbols);
    free(tables);
    free(sym);
    free(dec);
    free(buf);
}

/* Streams that must be identical on every platform. If this fails after a deliberate
 * format change, update the constants (and say so: old weights/reports are affected). */
static void test_golden(void)
{
    const int m = 48, n = 16;
    invcsi_cdf_table tables[48];
    uint16_t sym[48], dec[48];
    for (int d = 0; d < m; d++) {
        float pmf[16];
        for (int s = 0; s < n; s++)
            pmf[s] = (float)(1.0 / (1.0 + (s - d % 16) * (s - d % 16) * (1 + d % 3)));
        invcsi_error err;
        CHECK(invcsi_cdf_table_from_pmf(&tables[d], n, pmf, "golden", &err) == 0, "%s", err.msg);
        sym[d] = (uint16_t)((d * 7 + d / 5) % n);
    }
    uint64_t th = 1469598103934665603ull;
    for (int d = 0; d < m; d++)
        for (int s = 0; s <= n; s++) {
            const uint8_t b[4] = {(uint8_t)tables[d].cum[s], (uint8_t)(tables[d].cum[s] >> 8),
                                  (uint8_t)(tables[d].cum[s] >> 16), 0};
            for (int k = 0; k < 4; k++) {
                th ^= b[k];
                th *= 1099511628211ull;
            }
        }
    uint8_t buf[200];
    size_t len = 0;
    invcsi_error err;
    CHECK(invcsi_rans_encode(sym, m, tables, buf, sizeof buf, &len, &err) == 0, "%s", err.msg);
    const uint64_t sh = fnv1a(buf, len);
    printf("golden: tables hash %016llx, stream %zu bytes hash %016llx\n", (unsigned long long)th,
           len, (unsigned long long)sh);
    CHECK(th == 0x83cbcb92d5dad7f9ull, "quantised tables changed: hash %016llx",
          (unsigned long long)th);
    CHECK(len == 38 && sh == 0xc8504f372611f46bull, "stream changed: %zu bytes, hash %016llx", len,
          (unsigned long long)sh);
    CHECK(invcsi_rans_decode(buf, len, m, tables, dec, &err) == 0 && !memcmp(sym, dec, sizeof sym),
          "golden decode");

    /* M = 0: the stream is the initial state alone, 00 00 00 01 */
    CHECK(invcsi_rans_encode(sym, 0, tables, buf, sizeof buf, &len, &err) == 0 && len == 4 &&
              buf[0] == 0 && buf[1] == 0 && buf[2] == 0 && buf[3] == 1, "empty stream");
    CHECK(invcsi_rans_decode(buf, 4, 0, tables, dec, &err) == 0, "empty decode: %s", err.msg);
}

static void test_size_vs_ideal(void)
{
    const int n = 64; /* B = 6 */
    const int reports = 2000;
    invcsi_rng rng;
    invcsi_rng_init(&rng, 99, 2);
    invcsi_cdf_table *tables = malloc(512 * sizeof *tables);
    uint16_t sym[512];
    uint8_t buf[2048];
    double sum_over = 0, max_over = -1e9, min_over = 1e9, worst_margin = -1e9, sum_ideal = 0;
    double sum_bytes = 0, min_ideal = 1e9, max_ideal = 0;
    int fails = 0;
    for (int r = 0; r < reports; r++) {
        const int m = r % 2 ? 512 : 128;
        if (r % 50 == 0 || r % 50 == 1) {
            /* new tables every 50 reports: one common width for all dimensions, from
             * 0.05 symbols (near-deterministic) to 20 symbols (~5.9 bits/symbol) */
            const double sigma = 0.05 * pow(400.0, invcsi_rng_uniform(&rng));
            float pmf[64], edges[63];
            for (int d = 0; d < m; d++) {
                const double centre = 31.5 + (invcsi_rng_uniform(&rng) - 0.5) * 8;
                const double sd = sigma * (0.7 + 0.6 * invcsi_rng_uniform(&rng));
                for (int e = 0; e < n - 1; e++)
                    edges[e] = (float)(0.5 * erfc(-((e + 0.5) - centre) / (sd * sqrt(2.0))));
                invcsi_cdf_pmf_from_edges(edges, n, pmf);
                invcsi_error err;
                if (invcsi_cdf_table_from_pmf(&tables[d], n, pmf, "size", &err))
                    fprintf(stderr, "%s\n", err.msg);
            }
        }
        for (int i = 0; i < m; i++)
            sym[i] = draw(&tables[i], &rng);
        size_t len = 0;
        invcsi_error err;
        CHECK(invcsi_rans_encode(sym, m, tables, buf, sizeof buf, &len, &err) == 0, "%s", err.msg);
        const double ideal = invcsi_cdf_ideal_bits(sym, m, tables);
        const double bits = 8.0 * (double)len;
        const double over = bits - ideal;
        if (bits > 1.005 * ideal + 32.0) /* 0.5 % + 4 bytes */
            fails++;
        if (bits - (1.005 * ideal + 32.0) > worst_margin)
            worst_margin = bits - (1.005 * ideal + 32.0);
        sum_over += over;
        sum_ideal += ideal;
        sum_bytes += (double)len;
        if (over > max_over)
            max_over = over;
        if (over < min_over)
            min_over = over;
        if (ideal < min_ideal)
            min_ideal = ideal;
        if (ideal > max_ideal)
            max_ideal = ideal;
    }
    printf("coded size vs ideal over %d reports (M = 128 and 512, B = 6, ideal %.1f .. %.1f "
           "bits/report):\n  overhead 8*bytes - ideal: mean %.2f bits, min %.2f, max %.2f; "
           "total %.0f coded vs %.0f ideal bits (+%.3f %%)\n  reports over 0.5 %% + 4 bytes: %d; "
           "closest approach to that bound: %.2f bits\n",
           reports, min_ideal, max_ideal, sum_over / reports, min_over, max_over, 8 * sum_bytes,
           sum_ideal, 100.0 * (8 * sum_bytes - sum_ideal) / sum_ideal, fails, worst_margin);
    CHECK(fails == 0, "%d reports larger than 0.5 %% + 4 bytes over the ideal", fails);
    CHECK(min_over > 0.0 - 1.0, "a report beat the ideal by %.2f bits", -min_over);
    CHECK(min_ideal < 20 && max_ideal > 2500, "rates not spread enough: %.1f .. %.1f", min_ideal,
          max_ideal);
    free(tables);
}

static void test_decoder_robustness(void)
{
    invcsi_rng rng;
    invcsi_rng_init(&rng, 5, 3);
    const int bits_list[] = {4, 6, 8};
    invcsi_cdf_table *tables = malloc(512 * sizeof *tables);
    uint16_t sym[512], dec[512];
    uint8_t *buf = malloc(invcsi_rans_max_bytes(512) + 8);
    long truncations = 0, flips = 0, flips_refused = 0, flips_valid = 0, bad_reencode = 0;
    for (size_t bi = 0; bi < 3; bi++) {
        const int n = 1 << bits_list[bi];
        for (int kind = 0; kind < N_KINDS; kind++) {
            const int m = kind % 2 ? 128 : 37;
            make_tables(tables, m + 1, n, kind, &rng); /* one spare for the M + 1 check */
            for (int i = 0; i < m; i++)
                sym[i] = draw(&tables[i], &rng);
            size_t len = 0;
            invcsi_error err;
            CHECK(invcsi_rans_encode(sym, m, tables, buf, invcsi_rans_max_bytes(512), &len, &err) ==
                      0, "%s", err.msg);
            /* every truncation */
            for (size_t cut = 0; cut < len; cut++) {
                int rc = decode_exact(buf, cut, m, tables, dec, &err);
                CHECK(rc == INVCSI_EFORMAT, "B=%d %s: stream cut to %zu of %zu bytes accepted",
                      bits_list[bi], KIND_NAMES[kind], cut, len);
                truncations++;
            }
            /* trailing bytes */
            for (int extra = 1; extra <= 3; extra++) {
                buf[len + extra - 1] = (uint8_t)invcsi_rng_u64(&rng);
                CHECK(decode_exact(buf, len + extra, m, tables, dec, &err) == INVCSI_EFORMAT,
                      "%d trailing bytes accepted", extra);
            }
            /* every single-byte corruption: refused, or a valid stream of other symbols */
            uint8_t *re = malloc(len + 16);
            for (size_t at = 0; at < len; at++) {
                for (int v = 0; v < 3; v++) {
                    const uint8_t keep = buf[at];
                    buf[at] ^= v == 0 ? 0x01 : v == 1 ? 0x80 : (uint8_t)(1 + invcsi_rng_below(&rng, 255));
                    int rc = decode_exact(buf, len, m, tables, dec, &err);
                    flips++;
                    if (rc) {
                        CHECK(rc == INVCSI_EFORMAT, "corruption gave %d", rc);
                        flips_refused++;
                    } else {
                        size_t len2 = 0;
                        flips_valid++;
                        if (invcsi_rans_encode(dec, m, tables, re, len + 16, &len2, &err) ||
                            len2 != len || memcmp(re, buf, len))
                            bad_reencode++;
                    }
                    buf[at] = keep;
                }
            }
            free(re);
            /* other M, other tables */
            CHECK(decode_exact(buf, len, m + 1, tables, dec, &err) == INVCSI_EFORMAT,
                  "M + 1 accepted: %s", err.msg);
            CHECK(decode_exact(buf, len, m - 1, tables, dec, &err) == INVCSI_EFORMAT,
                  "M - 1 accepted: %s", err.msg);
        }
    }
    printf("decoder alone: %ld truncations all refused; %ld single-byte corruptions: %ld refused "
           "by the coder's own checks, %ld decode to other symbols (left to the CRC), all of "
           "which re-encode to the same bytes: %s\n",
           truncations, flips, flips_refused, flips_valid, bad_reencode ? "NO" : "yes");
    CHECK(bad_reencode == 0, "%ld accepted corruptions do not re-encode to themselves",
          bad_reencode);
    free(tables);
    free(buf);
}

static void test_encoder_errors(void)
{
    invcsi_rng rng;
    invcsi_rng_init(&rng, 8, 4);
    const int m = 300, n = 256;
    invcsi_cdf_table *tables = malloc(m * sizeof *tables);
    make_tables(tables, m, n, KIND_SKEWED, &rng);
    uint16_t sym[300];
    for (int i = 0; i < m; i++)
        sym[i] = rarest(&tables[i]); /* all frequency 1: 16 bits each, the worst case */
    uint8_t buf[1024];
    size_t len = 0;
    invcsi_error err;
    CHECK(invcsi_rans_encode(sym, m, tables, buf, sizeof buf, &len, &err) == 0, "%s", err.msg);
    printf("worst case: %d symbols of frequency 1 -> %zu bytes (bound %zu)\n", m, len,
           invcsi_rans_max_bytes(m));
    CHECK(len <= invcsi_rans_max_bytes(m) && len >= 2 * (size_t)m, "worst case %zu bytes", len);
    for (size_t cap = 0; cap < len; cap++) {
        uint8_t *small = malloc(cap ? cap : 1);
        size_t l2 = 99;
        CHECK(invcsi_rans_encode(sym, m, tables, small, cap, &l2, &err) == INVCSI_EINVAL &&
                  l2 == 0 && strstr(err.msg, "too small"), "cap %zu of %zu accepted", cap, len);
        free(small);
    }
    uint8_t *exact = malloc(len);
    size_t l3 = 0;
    CHECK(invcsi_rans_encode(sym, m, tables, exact, len, &l3, &err) == 0 && l3 == len &&
              !memcmp(exact, buf, len), "exact cap: %s", err.msg);
    free(exact);
    sym[7] = (uint16_t)n;
    CHECK(invcsi_rans_encode(sym, m, tables, buf, sizeof buf, &len, &err) == INVCSI_EINVAL &&
              strstr(err.msg, "index 7"), "symbol out of range: %s", err.msg);
    sym[7] = 0;
    const uint32_t keep = tables[5].cum[sym[5] + 1];
    tables[5].cum[sym[5] + 1] = tables[5].cum[sym[5]]; /* hand-edited: frequency 0 */
    CHECK(invcsi_rans_encode(sym, m, tables, buf, sizeof buf, &len, &err) == INVCSI_EINVAL &&
              strstr(err.msg, "table 5"), "zero frequency: %s", err.msg);
    tables[5].cum[sym[5] + 1] = keep;
    tables[3].n_symbols = 1;
    CHECK(invcsi_rans_decode(buf, 10, m, tables, sym, &err) == INVCSI_EINVAL, "bad table");
    CHECK(invcsi_rans_encode(sym, -1, tables, buf, sizeof buf, &len, &err) == INVCSI_EINVAL,
          "m < 0");
    free(tables);
}

int main(void)
{
    test_round_trips();
    test_golden();
    test_size_vs_ideal();
    test_decoder_robustness();
    test_encoder_errors();
    return check_done("test_rans");
}
