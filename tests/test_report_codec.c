/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Coded-report PDU (lib/report_codec.c): pack/unpack round trip and byte layout, and every
 * corruption case rejected with its own fault code: each byte XORed with every one of
 * the 255 non-zero values, truncation to every shorter length, every wrong length
 * prefix, every CRC bit, trailing bytes, a forged frame with a valid CRC around a
 * shortened stream, other tables / M at the decoder, random garbage. Every PDU is
 * unpacked from an exactly sized heap copy, so ASan/valgrind would flag a read past it.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "invcsi/cdf_table.h"
#include "invcsi/crc.h"
#include "invcsi/rans.h"
#include "invcsi/report_codec.h"
#include "invcsi/rng.h"

static void make_tables(invcsi_cdf_table *tables, int m, int n, double sigma, invcsi_rng *rng)
{
    float pmf[INVCSI_CDF_MAX_SYMBOLS], edges[INVCSI_CDF_MAX_SYMBOLS];
    invcsi_error err;
    for (int d = 0; d < m; d++) {
        const double centre = (n - 1) / 2.0 + (invcsi_rng_uniform(rng) - 0.5) * 4;
        for (int e = 0; e < n - 1; e++)
            edges[e] = (float)(0.5 * erfc(-((e + 0.5) - centre) / (sigma * sqrt(2.0))));
        invcsi_cdf_pmf_from_edges(edges, n, pmf);
        if (invcsi_cdf_table_from_pmf(&tables[d], n, pmf, "report test", &err))
            fprintf(stderr, "%s\n", err.msg);
    }
}

static uint16_t draw(const invcsi_cdf_table *t, invcsi_rng *rng)
{
    const uint32_t u = (uint32_t)invcsi_rng_below(rng, INVCSI_CDF_TOTAL);
    int s = 0;
    while (t->cum[s + 1] <= u)
        s++;
    return (uint16_t)s;
}

static long fault_counts[INVCSI_REPORT_N_FAULTS];

/* Unpacks a heap copy of exactly len bytes; returns the fault. */
static invcsi_report_fault unpack_exact(const uint8_t *pdu, size_t len, int m,
                                        const invcsi_cdf_table *tables, uint16_t *out,
                                        invcsi_error *err)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (len)
        memcpy(copy, pdu, len);
    invcsi_report_fault fault = INVCSI_REPORT_N_FAULTS;
    err->msg[0] = 0;
    int rc = invcsi_report_unpack(copy, len, m, tables, out, &fault, err);
    free(copy);
    if ((rc == 0) != (fault == INVCSI_REPORT_OK) || (rc && rc != INVCSI_EFORMAT) ||
        (rc && !err->msg[0])) {
        fprintf(stderr, "inconsistent unpack: rc %d fault %d msg '%s'\n", rc, (int)fault, err->msg);
        return INVCSI_REPORT_N_FAULTS;
    }
    if (fault < INVCSI_REPORT_N_FAULTS)
        fault_counts[fault]++;
    return fault;
}

int main(void)
{
    invcsi_rng rng;
    invcsi_rng_init(&rng, 31, 0);
    const int max_m = 512;
    invcsi_cdf_table *tables = malloc(max_m * sizeof *tables);
    invcsi_cdf_table *other = malloc(max_m * sizeof *other);
    uint16_t sym[512], dec[512];
    const size_t cap = invcsi_report_max_bytes(max_m);
    uint8_t *pdu = malloc(cap + 16);
    invcsi_error err;

    /* --- round trips and layout --- */
    const int bits_list[] = {4, 5, 6, 8};
    const int ms[] = {1, 2, 16, 128, 512};
    for (int bi = 0; bi < 4; bi++) {
        for (int mi = 0; mi < 5; mi++) {
            const int n = 1 << bits_list[bi], m = ms[mi];
            make_tables(tables, m, n, 0.3 + 3.0 * bi, &rng);
            for (int i = 0; i < m; i++)
                sym[i] = draw(&tables[i], &rng);
            size_t len = 0;
            CHECK(invcsi_report_pack(sym, m, tables, pdu, cap, &len, &err) == 0, "pack: %s",
                  err.msg);
            const size_t payload = (size_t)pdu[0] | (size_t)pdu[1] << 8;
            CHECK(payload + INVCSI_REPORT_OVERHEAD == len, "prefix %zu for a %zu-byte PDU",
                  payload, len);
            const uint32_t crc = (uint32_t)pdu[len - 4] | (uint32_t)pdu[len - 3] << 8 |
                                 (uint32_t)pdu[len - 2] << 16 | (uint32_t)pdu[len - 1] << 24;
            CHECK(crc == invcsi_crc32(pdu, len - 4), "CRC field");
            uint8_t stream[1200];
            size_t slen = 0;
            CHECK(invcsi_rans_encode(sym, m, tables, stream, sizeof stream, &slen, &err) == 0 &&
                      slen == payload && !memcmp(stream, pdu + 2, slen),
                  "payload is not the rANS stream");
            CHECK(unpack_exact(pdu, len, m, tables, dec, &err) == INVCSI_REPORT_OK, "unpack: %s",
                  err.msg);
            CHECK(!memcmp(sym, dec, (size_t)m * sizeof *sym), "B=%d m=%d symbols differ",
                  bits_list[bi], m);
        }
    }

    /* --- every corruption of one report (M = 128, B = 6) --- */
    const int m = 128, n = 64;
    make_tables(tables, m, n, 1.5, &rng);
    for (int i = 0; i < m; i++)
        sym[i] = draw(&tables[i], &rng);
    size_t len = 0;
    CHECK(invcsi_report_pack(sym, m, tables, pdu, cap, &len, &err) == 0, "pack: %s", err.msg);
    printf("report under test: M = %d, B = 6, PDU %zu bytes (payload %zu)\n", m, len, len - 6);
    memset(fault_counts, 0, sizeof fault_counts);

    long byte_cases = 0, wrong_fault = 0;
    for (size_t at = 0; at < len; at++) {
        for (int x = 1; x < 256; x++) {
            pdu[at] ^= (uint8_t)x;
            invcsi_report_fault f = unpack_exact(pdu, len, m, tables, dec, &err);
            pdu[at] ^= (uint8_t)x;
            byte_cases++;
            /* prefix bytes: a larger length reads as truncated, a smaller one as bad
             * length; everything else breaks the CRC */
            invcsi_report_fault want;
            if (at < 2) {
                const size_t forged = ((size_t)pdu[0] | (size_t)pdu[1] << 8) ^
                                      ((size_t)x << (8 * at));
                want = forged > len - 6 ? INVCSI_REPORT_TRUNCATED : INVCSI_REPORT_BAD_LENGTH;
            } else {
                want = INVCSI_REPORT_CRC;
            }
            if (f != want) {
                wrong_fault++;
                if (wrong_fault < 5)
                    fprintf(stderr, "byte %zu ^ 0x%02x: fault '%s', expected '%s' (%s)\n", at, x,
                            invcsi_report_fault_name(f), invcsi_report_fault_name(want), err.msg);
            }
        }
    }
    CHECK(wrong_fault == 0, "%ld of %ld byte corruptions not rejected as expected", wrong_fault,
          byte_cases);

    long trunc_cases = 0, trunc_bad = 0;
    for (size_t cut = 0; cut < len; cut++) {
        invcsi_report_fault f = unpack_exact(pdu, cut, m, tables, dec, &err);
        trunc_cases++;
        if (!(f == INVCSI_REPORT_TOO_SHORT && cut < 10) &&
            !(f == INVCSI_REPORT_TRUNCATED && cut >= 10))
            trunc_bad++;
    }
    CHECK(trunc_bad == 0, "%ld truncations not rejected as too short / truncated", trunc_bad);
    CHECK(unpack_exact(pdu, 0, m, tables, dec, &err) == INVCSI_REPORT_TOO_SHORT &&
              strstr(err.msg, "too short"), "empty PDU: %s", err.msg);
    {
        invcsi_report_fault f;
        CHECK(invcsi_report_unpack(NULL, 0, m, tables, dec, &f, &err) == INVCSI_EFORMAT &&
                  f == INVCSI_REPORT_TOO_SHORT, "NULL PDU");
    }

    long prefix_cases = 0, prefix_bad = 0;
    const uint8_t p0 = pdu[0], p1 = pdu[1];
    for (uint32_t v = 0; v < 65536; v++) {
        if (v == len - 6)
            continue;
        pdu[0] = (uint8_t)v;
        pdu[1] = (uint8_t)(v >> 8);
        invcsi_report_fault f = unpack_exact(pdu, len, m, tables, dec, &err);
        prefix_cases++;
        if (f != (v > len - 6 ? INVCSI_REPORT_TRUNCATED : INVCSI_REPORT_BAD_LENGTH))
            prefix_bad++;
    }
    pdu[0] = p0;
    pdu[1] = p1;
    CHECK(prefix_bad == 0, "%ld wrong length prefixes not rejected", prefix_bad);

    long crc_cases = 0, crc_bad = 0;
    for (size_t at = len - 4; at < len; at++)
        for (int b = 0; b < 8; b++) {
            pdu[at] ^= (uint8_t)(1u << b);
            invcsi_report_fault f = unpack_exact(pdu, len, m, tables, dec, &err);
            pdu[at] ^= (uint8_t)(1u << b);
            crc_cases++;
            if (f != INVCSI_REPORT_CRC || !strstr(err.msg, "CRC"))
                crc_bad++;
        }
    CHECK(crc_bad == 0, "%ld wrong CRCs accepted", crc_bad);

    /* trailing bytes: a PDU longer than its prefix says */
    pdu[len] = 0;
    CHECK(unpack_exact(pdu, len + 1, m, tables, dec, &err) == INVCSI_REPORT_BAD_LENGTH &&
              strstr(err.msg, "trailing"), "trailing byte: %s", err.msg);

    /* forged frames with valid CRCs: the payload cut short (every length), and the
     * payload bytes of a valid report XORed. The rANS decoder's own checks catch the
     * shortened ones always (a stream that ends early is an error). */
    long forged_short = 0, forged_short_bad = 0;
    uint8_t *frame = malloc(len + 16);
    for (size_t keep = 1; keep < len - 6; keep++) {
        size_t flen = 0;
        CHECK(invcsi_report_frame(pdu + 2, keep, frame, len + 16, &flen, &err) == 0, "%s",
              err.msg);
        invcsi_report_fault f = unpack_exact(frame, flen, m, tables, dec, &err);
        forged_short++;
        if (f != (keep < 4 ? INVCSI_REPORT_TOO_SHORT : INVCSI_REPORT_STREAM))
            forged_short_bad++;
    }
    CHECK(forged_short_bad == 0, "%ld CRC-valid shortened payloads accepted", forged_short_bad);

    /* the decoder with other tables or another M */
    make_tables(other, m, n, 0.7, &rng);
    invcsi_report_fault fo = unpack_exact(pdu, len, m, other, dec, &err);
    CHECK(fo == INVCSI_REPORT_STREAM && strstr(err.msg, "different weights"),
          "other tables: fault '%s' (%s)", invcsi_report_fault_name(fo), err.msg);
    fo = unpack_exact(pdu, len, m - 1, tables, dec, &err);
    CHECK(fo == INVCSI_REPORT_STREAM, "M - 1: fault '%s' (%s)", invcsi_report_fault_name(fo),
          err.msg);

    /* random garbage of random sizes */
    long garbage = 0, garbage_ok = 0;
    for (int trial = 0; trial < 20000; trial++) {
        const size_t glen = (size_t)invcsi_rng_below(&rng, 80);
        uint8_t g[80];
        for (size_t i = 0; i < glen; i++)
            g[i] = (uint8_t)invcsi_rng_u64(&rng);
        if (glen >= 2 && trial % 2) { /* consistent length prefix, so the CRC is reached */
            g[0] = (uint8_t)(glen >= 6 ? glen - 6 : 0);
            g[1] = 0;
        }
        garbage++;
        garbage_ok += unpack_exact(g, glen, m, tables, dec, &err) == INVCSI_REPORT_OK;
    }
    CHECK(garbage_ok == 0, "%ld of %ld random PDUs accepted", garbage_ok, garbage);

    /* packing errors */
    size_t plen = 0;
    CHECK(invcsi_report_pack(sym, m, tables, pdu, 9, &plen, &err) == INVCSI_EINVAL && plen == 0,
          "tiny buffer");
    CHECK(invcsi_report_pack(sym, m, tables, pdu, len - 1, &plen, &err) == INVCSI_EINVAL,
          "buffer one byte short");
    CHECK(invcsi_report_pack(sym, m, tables, pdu, len, &plen, &err) == 0 && plen == len,
          "exact buffer: %s", err.msg);
    CHECK(invcsi_report_frame(pdu, 0, frame, 100, &plen, &err) == INVCSI_EINVAL, "empty payload");
    CHECK(invcsi_report_frame(pdu, 65536, frame, 100, &plen, &err) == INVCSI_EINVAL,
          "payload over 65535");

    /* fault names are distinct */
    for (int a = 0; a < INVCSI_REPORT_N_FAULTS; a++)
        for (int b = a + 1; b < INVCSI_REPORT_N_FAULTS; b++)
            CHECK(strcmp(invcsi_report_fault_name(a), invcsi_report_fault_name(b)),
                  "faults %d and %d share a name", a, b);

    printf("rejected: %ld byte corruptions (every byte ^ every value), %ld truncations, %ld "
           "wrong length prefixes, %ld CRC bit flips, %ld CRC-valid shortened payloads, %ld "
           "random PDUs\n",
           byte_cases, trunc_cases, prefix_cases, crc_cases, forged_short, garbage - garbage_ok);
    printf("fault counts:");
    for (int f = 0; f < INVCSI_REPORT_N_FAULTS; f++)
        printf(" %s %ld%s", invcsi_report_fault_name(f), fault_counts[f],
               f + 1 < INVCSI_REPORT_N_FAULTS ? "," : "\n");
    free(frame);
    free(pdu);
    free(tables);
    free(other);
    return check_done("test_report_codec");
}
