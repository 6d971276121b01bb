/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * STQENet per-report latency on one core and the coder's throughput (include/invcsi/
 * stqenet.h): what the GNU Radio stqe_encoder / stqe_decoder blocks spend per report.
 *
 *   encoder net     x -> symbols (conv, transformer block, FC, compander, rounding)
 *   encode_report   the above + rANS + length prefix + CRC-32 (the UE's whole job)
 *   decode_report   CRC/length checks + rANS decode + decoder net (the BS's whole job)
 *   decoder net     symbols -> x^ (inverse compander, FC, conv+BN folded, 2 CR blocks)
 *   pack / unpack   the coder alone on the model's real symbols: microseconds per report,
 *                   Msymbols/s and MB/s of coded bytes
 *
 * Reports: the test split of --data (the model's own split and normalisation), or
 * synthetic sparse maps without --data. Times are the thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID) with one OpenMP/BLAS thread, so a busy machine does not
 * inflate them; each figure cycles over a pool of different reports.
 */
#include "cli.h"
#include "invcsi/channels.h"
#include "invcsi/matfile.h"
#include "invcsi/model.h"
#include "invcsi/report_codec.h"
#include "invcsi/rng.h"
#include "invcsi/stqenet.h"
#include "invcsi/train.h"
#include "invcsi/transform.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POOL 64

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_stqenet [--weights W.safetensors] [--data FILE.mat] [--cr C] [--bits B]\n"
            "                     [--seconds S]\n"
            "Per-report latency of the STQENet encoder and decoder on one core, and the\n"
            "throughput of its rANS coder on the model's real symbols.\n"
            "  --weights W  trained STQENet weights (default: a fresh model, random weights)\n"
            "  --data FILE  reports from the model's test split of FILE (default: synthetic)\n"
            "  --cr C       compression ratio of the fresh model (default 1/16)\n"
            "  --bits B     compander bits of the fresh model (default 6)\n"
            "  --seconds S  minimum timed seconds per figure (default 0.5)\n"
            "  --help       this text\n");
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void synthetic(float *x, int n, int dim, uint64_t seed)
{
    for (int i = 0; i < n; i++) {
        invcsi_rng r;
        invcsi_rng_init(&r, seed, (uint64_t)i);
        float *v = x + (long)i * dim;
        memset(v, 0, sizeof(float) * dim);
        for (int t = 0; t < 4; t++) {
            const long k = (long)invcsi_rng_below(&r, (uint64_t)dim / 2);
            v[k] = (float)(4.0 * invcsi_rng_normal(&r));
            v[k + dim / 2] = (float)(4.0 * invcsi_rng_normal(&r));
        }
    }
}

int main(int argc, char **argv)
{
    const char *weights = NULL, *data = NULL;
    double cr = 1.0 / 16, seconds = 0.5;
    int bits = 6;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--weights") && i + 1 < argc) {
            weights = argv[++i];
        } else if (!strcmp(argv[i], "--data") && i + 1 < argc) {
            data = argv[++i];
        } else if (!strcmp(argv[i], "--cr") && i + 1 < argc) {
            if (cli_parse_ratio("bench_stqenet", "--cr", argv[++i], &cr))
                return 2;
        } else if (!strcmp(argv[i], "--bits") && i + 1 < argc) {
            if (cli_parse_int("bench_stqenet", "--bits", argv[++i], 1, 8, &bits))
                return 2;
        } else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            if (cli_parse_double("bench_stqenet", "--seconds", argv[++i], 0.01, 1000, &seconds))
                return 2;
        } else {
            fprintf(stderr, "bench_stqenet: unknown or incomplete option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    invcsi_set_threads(1);
    invcsi_error err;
    invcsi_error_clear(&err);
    invcsi_model *m = NULL;
    if (weights) {
        if (invcsi_stqenet_load(&m, weights, 1, &err) != INVCSI_OK) {
            fprintf(stderr, "bench_stqenet: %s\n", err.msg);
            return 1;
        }
    } else {
        invcsi_model_config cfg;
        if (invcsi_model_config_default(&cfg, "stqenet", 1, 32, 32, cr, &err) != INVCSI_OK) {
            fprintf(stderr, "bench_stqenet: %s\n", err.msg);
            return 1;
        }
        cfg.bits = bits;
        if (invcsi_model_create(&m, &cfg, 1, &err) != INVCSI_OK ||
            invcsi_stqenet_prepare_coder(m, &err) != INVCSI_OK) {
            fprintf(stderr, "bench_stqenet: %s\n", err.msg);
            return 1;
        }
    }
    const int dim = invcsi_stqenet_dim(m), M = invcsi_stqenet_latent(m);
    float *x = malloc(sizeof(float) * POOL * dim), *xh = malloc(sizeof(float) * dim);
    uint16_t *sym = malloc(sizeof(uint16_t) * POOL * M), *srx = malloc(sizeof(uint16_t) * M);
    const size_t cap = invcsi_stqenet_max_pdu_bytes(m);
    uint8_t *pdus = malloc(cap * POOL);
    size_t *lens = malloc(sizeof(size_t) * POOL);
    if (!x || !xh || !sym || !srx || !pdus || !lens) {
        fprintf(stderr, "bench_stqenet: out of memory\n");
        return 1;
    }
    const char *source = "synthetic sparse maps";
    if (data) {
        invcsi_channels c;
        if (invcsi_mat_read_channels(data, &c, &err) != INVCSI_OK) {
            fprintf(stderr, "bench_stqenet: %s\n", err.msg);
            return 1;
        }
        int *tr = malloc(sizeof(int) * c.n), *te = malloc(sizeof(int) * c.n), ntr = 0, nte = 0;
        invcsi_split(c.n, m->cfg.train_frac, (unsigned long long)m->cfg.split_seed, tr, &ntr, te,
                     &nte);
        if (nte < POOL || c.nr != m->cfg.nr || c.nt != m->cfg.nt || c.nc != m->cfg.nc ||
            invcsi_preprocess(&c, te, POOL, m->cfg.norm_scale, x, &err) != INVCSI_OK) {
            fprintf(stderr, "bench_stqenet: %s: not usable with this model (%s)\n", data,
                    err.msg);
            return 1;
        }
        free(tr), free(te);
        invcsi_channels_free(&c);
        source = "test split of the data";
    } else {
        synthetic(x, POOL, dim, 7);
    }
    if (invcsi_stqenet_symbols(m, x, POOL, sym, &err) != INVCSI_OK) {
        fprintf(stderr, "bench_stqenet: %s\n", err.msg);
        return 1;
    }
    const invcsi_cdf_table *tables = invcsi_stqenet_tables(m);
    double coded = 0;
    for (int i = 0; i < POOL; i++) {
        if (invcsi_report_pack(sym + (long)i * M, M, tables, pdus + cap * i, cap, &lens[i], &err)) {
            fprintf(stderr, "bench_stqenet: %s\n", err.msg);
            return 1;
        }
        coded += (double)lens[i];
    }
    printf("bench_stqenet: %s, M = %d, B = %d, %s; mean PDU %.1f bytes (payload %.1f); one "
           "thread, thread CPU time\n",
           weights ? weights : "fresh model", M, invcsi_stqenet_bits(m), source, coded / POOL,
           coded / POOL - INVCSI_REPORT_OVERHEAD);
    printf("%-16s %12s %12s %14s\n", "stage", "us/report", "reports/s", "coded MB/s");

    for (int stage = 0; stage < 6; stage++) {
        static const char *const NAMES[] = {"encoder net", "encode_report", "decoder net",
                                            "decode_report", "pack (coder)", "unpack (coder)"};
        long reps = 0;
        double bytes = 0;
        const double t0 = cpu_now();
        double t = t0;
        int rc = INVCSI_OK;
        while (rc == INVCSI_OK && (t - t0 < seconds || reps < 4)) {
            const int i = (int)(reps % POOL);
            uint8_t *pdu = pdus + cap * i;
            size_t len = lens[i];
            switch (stage) {
            case 0: rc = invcsi_stqenet_symbols(m, x + (long)i * dim, 1, srx, &err); break;
            case 1: rc = invcsi_stqenet_encode_report(m, x + (long)i * dim, pdu, cap, &len, &err);
                    break;
            case 2: rc = invcsi_stqenet_decode_symbols(m, sym + (long)i * M, 1, xh, &err); break;
            case 3: rc = invcsi_stqenet_decode_report(m, pdu, len, xh, &err); break;
            case 4: rc = invcsi_report_pack(sym + (long)i * M, M, tables, pdu, cap, &len, &err);
                    break;
            default: rc = invcsi_report_unpack(pdu, len, M, tables, srx, NULL, &err); break;
            }
            bytes += (double)len;
            reps++;
            if ((reps & 3) == 0)
                t = cpu_now();
        }
        t = cpu_now();
        if (rc != INVCSI_OK) {
            fprintf(stderr, "bench_stqenet: %s: %s\n", NAMES[stage], err.msg);
            return 1;
        }
        const double per = (t - t0) / reps;
        char mbs[32] = "-";
        if (stage >= 4)
            snprintf(mbs, sizeof mbs, "%.1f (%.1f Msym/s)", bytes / (t - t0) / 1e6,
                     (double)reps * M / (t - t0) / 1e6);
        printf("%-16s %12.1f %12.0f %14s\n", NAMES[stage], per * 1e6, 1.0 / per, mbs);
    }
    invcsi_model_destroy(m);
    free(x), free(xh), free(sym), free(srx), free(pdus), free(lens);
    return 0;
}
