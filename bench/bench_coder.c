/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Throughput and per-report latency of the rANS coder and the report PDU (one thread,
 * one core): encode and decode of M-symbol reports (default M = 128 and 512, B = 6) at
 * three rates (tables from discretised Gaussians of width 0.3, 2 and 12 symbols, about
 * 0.5, 2.4 and 5 bits per symbol), plus pack/unpack with the CRC-32 framing.
 *
 * Figures: microseconds per report, Msymbols/s (= MB/s of symbols at one byte each) and
 * MB/s of coded bytes, for the encoder and the decoder; a pool of 256 different reports
 * per case is cycled so the figures are not those of one cached report. Times are the
 * thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so a busy machine does not inflate them.
 */
#include "cli.h"
#include "invcsi/cdf_table.h"
#include "invcsi/rans.h"
#include "invcsi/report_codec.h"
#include "invcsi/rng.h"

#include <math.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#define POOL 256

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_coder [--bits B] [--m M] [--seconds S]\n"
            "Times the rANS coder and the report PDU on one core.\n"
            "  --bits B     bits per symbol, 2^B symbols (default 6)\n"
            "  --m M        symbols per report (default: 128 and 512)\n"
            "  --seconds S  minimum timed seconds per figure (default 0.3)\n"
            "  --help       this text\n");
}

static void make_tables(invcsi_cdf_table *t, int m, int n, double sigma, invcsi_rng *rng)
{
    float pmf[INVCSI_CDF_MAX_SYMBOLS], edges[INVCSI_CDF_MAX_SYMBOLS];
    for (int d = 0; d < m; d++) {
        const double centre = (n - 1) / 2.0 + (invcsi_rng_uniform(rng) - 0.5) * 2;
        const double sd = sigma * (0.8 + 0.4 * invcsi_rng_uniform(rng));
        for (int e = 0; e < n - 1; e++)
            edges[e] = (float)(0.5 * erfc(-((e + 0.5) - centre) / (sd * sqrt(2.0))));
        invcsi_cdf_pmf_from_edges(edges, n, pmf);
        invcsi_error err;
        if (invcsi_cdf_table_from_pmf(&t[d], n, pmf, "bench", &err)) {
            fprintf(stderr, "bench_coder: %s\n", err.msg);
            exit(1);
        }
    }
}

/* CPU time of this thread: the figure for "one core" that other processes sharing the
 * machine do not inflate (wall time would count the time slices they take). */
static double thread_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Runs fn over the pool until at least `seconds` of thread CPU time passed; returns CPU
 * seconds per report. */
typedef int (*run_fn)(void *ctx, int k);
static double time_it(run_fn fn, void *ctx, double seconds)
{
    long reps = 0;
    const double t0 = thread_seconds();
    double t;
    do {
        for (int k = 0; k < POOL; k++)
            if (fn(ctx, k)) {
                fprintf(stderr, "bench_coder: coder failed\n");
                exit(1);
            }
        reps += POOL;
        t = thread_seconds() - t0;
    } while (t < seconds);
    return t / (double)reps;
}

struct ctx {
    int m;
    const invcsi_cdf_table *tables;
    uint16_t *sym;      /* POOL x m */
    uint16_t *dec;      /* m */
    uint8_t *streams;   /* POOL x cap */
    size_t *lens;
    uint8_t *pdus;      /* POOL x pcap */
    size_t *pdu_lens;
    size_t cap, pcap;
};

static int do_encode(void *p, int k)
{
    struct ctx *c = p;
    size_t len;
    return invcsi_rans_encode(c->sym + (size_t)k * c->m, c->m, c->tables,
                              c->streams + (size_t)k * c->cap, c->cap, &len, NULL);
}

static int do_decode(void *p, int k)
{
    struct ctx *c = p;
    return invcsi_rans_decode(c->streams + (size_t)k * c->cap, c->lens[k], c->m, c->tables,
                              c->dec, NULL);
}

static int do_pack(void *p, int k)
{
    struct ctx *c = p;
    size_t len;
    return invcsi_report_pack(c->sym + (size_t)k * c->m, c->m, c->tables,
                              c->pdus + (size_t)k * c->pcap, c->pcap, &len, NULL);
}

static int do_unpack(void *p, int k)
{
    struct ctx *c = p;
    return invcsi_report_unpack(c->pdus + (size_t)k * c->pcap, c->pdu_lens[k], c->m, c->tables,
                                c->dec, NULL, NULL);
}

int main(int argc, char **argv)
{
    int bits = 6, m_only = 0;
    double seconds = 0.3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--bits") && i + 1 < argc) {
            if (cli_parse_int("bench_coder", "--bits", argv[++i], 1, 8, &bits))
                return 2;
        } else if (!strcmp(argv[i], "--m") && i + 1 < argc) {
            if (cli_parse_int("bench_coder", "--m", argv[++i], 1, 30000, &m_only))
                return 2;
        } else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            if (cli_parse_double("bench_coder", "--seconds", argv[++i], 0.001, 100, &seconds))
                return 2;
        } else {
            fprintf(stderr, "bench_coder: unknown or incomplete option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    const int n = 1 << bits;
    const int ms_default[2] = {128, 512};
    const int n_m = m_only ? 1 : 2;
    const double sigmas[3] = {0.3, 2.0, 12.0};
    invcsi_rng rng;
    invcsi_rng_init(&rng, 4, 0);

    printf("rANS coder, B = %d (%d symbols), 16-bit tables, one thread (thread CPU time); pool of "
           "%d reports\n", bits, n, POOL);
    printf("%5s %6s %8s %7s | %9s %9s %9s | %9s %9s %9s | %8s %8s\n", "M", "sigma", "bits/sym",
           "bytes", "enc us", "enc Msym/s", "enc MB/s", "dec us", "dec Msym/s", "dec MB/s",
           "pack us", "unpack us");
    for (int mi = 0; mi < n_m; mi++) {
        const int m = m_only ? m_only : ms_default[mi];
        for (int si = 0; si < 3; si++) {
            struct ctx c;
            memset(&c, 0, sizeof c);
            c.m = m;
            c.cap = invcsi_rans_max_bytes(m);
            c.pcap = invcsi_report_max_bytes(m);
            invcsi_cdf_table *tables = malloc((size_t)m * sizeof *tables);
            c.sym = malloc((size_t)POOL * m * sizeof *c.sym);
            c.dec = malloc((size_t)m * sizeof *c.dec);
            c.streams = malloc((size_t)POOL * c.cap);
            c.lens = malloc(POOL * sizeof *c.lens);
            c.pdus = malloc((size_t)POOL * c.pcap);
            c.pdu_lens = malloc(POOL * sizeof *c.pdu_lens);
            if (!tables || !c.sym || !c.dec || !c.streams || !c.lens || !c.pdus || !c.pdu_lens) {
                fprintf(stderr, "bench_coder: out of memory\n");
                return 1;
            }
            make_tables(tables, m, n, sigmas[si], &rng);
            c.tables = tables;
            double total_bytes = 0, ideal = 0;
            for (int k = 0; k < POOL; k++) {
                uint16_t *s = c.sym + (size_t)k * m;
                for (int i = 0; i < m; i++) {
                    const uint32_t u = (uint32_t)invcsi_rng_below(&rng, INVCSI_CDF_TOTAL);
                    int v = 0;
                    while (tables[i].cum[v + 1] <= u)
                        v++;
                    s[i] = (uint16_t)v;
                }
                invcsi_error err;
                if (invcsi_rans_encode(s, m, tables, c.streams + (size_t)k * c.cap, c.cap,
                                       &c.lens[k], &err) ||
                    invcsi_report_pack(s, m, tables, c.pdus + (size_t)k * c.pcap, c.pcap,
                                       &c.pdu_lens[k], &err)) {
                    fprintf(stderr, "bench_coder: %s\n", err.msg);
                    return 1;
                }
                total_bytes += (double)c.lens[k];
                ideal += invcsi_cdf_ideal_bits(s, m, tables);
            }
            const double bytes = total_bytes / POOL;
            const double t_enc = time_it(do_encode, &c, seconds);
            const double t_dec = time_it(do_decode, &c, seconds);
            const double t_pack = time_it(do_pack, &c, seconds);
            const double t_unpack = time_it(do_unpack, &c, seconds);
            printf("%5d %6.1f %8.3f %7.1f | %9.2f %9.1f %9.2f | %9.2f %9.1f %9.2f | %8.2f %8.2f\n",
                   m, sigmas[si], ideal / POOL / m, bytes, 1e6 * t_enc, m / t_enc / 1e6,
                   bytes / t_enc / 1e6, 1e6 * t_dec, m / t_dec / 1e6, bytes / t_dec / 1e6,
                   1e6 * t_pack, 1e6 * t_unpack);
            fflush(stdout);
            free(tables);
            free(c.sym);
            free(c.dec);
            free(c.streams);
            free(c.lens);
            free(c.pdus);
            free(c.pdu_lens);
        }
    }
    printf("bits/sym: ideal code length of the drawn symbols; bytes: mean rANS stream per report "
           "(PDU adds %d); Msym/s = MB/s of symbols at one byte each; MB/s: coded bytes\n",
           INVCSI_REPORT_OVERHEAD);
    return 0;
}
