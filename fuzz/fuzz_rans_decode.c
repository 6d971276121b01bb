/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fuzz target for the rANS decoder and the coded-report PDU parser (lib/rans.c,
 * lib/report_codec.c). See fuzz/README.md; fuzz/run.sh builds and runs it.
 *
 * Input: byte 0 picks the configuration (bits 0-1: B = 4, 5, 6, 8; bits 2-3: tables
 * flat / skewed / mixed / skewed; bits 4-5: M = 1, 7, 128, 512); the remaining bytes are
 * fed, as they are and ending exactly where the input ends, to
 *   1. invcsi_rans_decode (a raw rANS stream) and
 *   2. invcsi_report_unpack and invcsi_report_check (a PDU).
 * Besides memory errors (ASan), a finding is any accepted input that does not re-encode
 * to exactly the same bytes: the decoder must accept only streams the encoder can
 * produce, so decode-then-encode is the identity on everything it accepts.
 *
 * INVCSI_FUZZ_MAKE_CORPUS=DIR fuzz_rans_decode -runs=0 writes the seeds (valid streams and
 * PDUs) and exits. Built with -DINVCSI_FUZZ_STANDALONE (any compiler, no libFuzzer) the
 * file has its own main():
 *   fuzz_rans_decode --make-corpus DIR   writes valid streams and PDUs as seeds
 *   fuzz_rans_decode --mutate N SEED F.. runs N deterministic mutations (flips, cuts,
 *                                        splices, random bytes) of the given seed files
 *   fuzz_rans_decode FILE|DIR ...        runs each file once (a corpus or a crash)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "invcsi/cdf_table.h"
#include "invcsi/rans.h"
#include "invcsi/report_codec.h"

#define N_CONFIGS 64
static const int BITS[4] = {4, 5, 6, 8};
static const int MS[4] = {1, 7, 128, 512};
#define MAX_M 512

static invcsi_cdf_table *g_tables[16]; /* by (B, table kind); M only selects a prefix */

/* Deterministic tables without the RNG module: a tiny LCG is enough here. */
static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static const invcsi_cdf_table *tables_for(int config)
{
    const int key = config & 15;
    if (g_tables[key])
        return g_tables[key];
    const int n = 1 << BITS[key & 3];
    const int kind = (key >> 2) & 3;
    invcsi_cdf_table *t = malloc(MAX_M * sizeof *t);
    if (!t)
        abort();
    uint32_t seed = 12345u + (uint32_t)key;
    float pmf[INVCSI_CDF_MAX_SYMBOLS], edges[INVCSI_CDF_MAX_SYMBOLS];
    for (int d = 0; d < MAX_M; d++) {
        if (kind == 0) {
            for (int s = 0; s < n; s++)
                pmf[s] = 1.0f;
        } else {
            const double centre = (n - 1) / 2.0 + ((double)(lcg(&seed) % 1000) / 1000 - 0.5) * 4;
            const double sigma = kind == 2 ? 0.05 * pow(10.0 * n, (double)(lcg(&seed) % 1000) / 1000)
                                           : 0.1 + (double)(lcg(&seed) % 1000) / 1000;
            for (int e = 0; e < n - 1; e++)
                edges[e] = (float)(0.5 * erfc(-((e + 0.5) - centre) / (sigma * sqrt(2.0))));
            invcsi_cdf_pmf_from_edges(edges, n, pmf);
        }
        invcsi_error err;
        if (invcsi_cdf_table_from_pmf(&t[d], n, pmf, "fuzz", &err)) {
            fprintf(stderr, "fuzz: %s\n", err.msg);
            abort();
        }
    }
    g_tables[key] = t;
    return t;
}

static int config_m(int config)
{
    return MS[(config >> 4) & 3];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const int config = data[0] & (N_CONFIGS - 1);
    const uint8_t *in = data + 1;
    const size_t len = size - 1;
    const int m = config_m(config);
    const invcsi_cdf_table *tables = tables_for(config);
    static uint16_t sym[MAX_M];
    static uint8_t re[2 * MAX_M + 64 + 16];
    invcsi_error err;

    /* 1. raw rANS stream */
    if (invcsi_rans_decode(in, len, m, tables, sym, &err) == INVCSI_OK) {
        size_t rlen = 0;
        if (invcsi_rans_encode(sym, m, tables, re, sizeof re, &rlen, &err) != INVCSI_OK ||
            rlen != len || memcmp(re, in, len) != 0) {
            fprintf(stderr, "fuzz: accepted stream of %zu bytes re-encodes to %zu other bytes\n",
                    len, rlen);
            abort();
        }
    }

    /* 2. PDU */
    invcsi_report_fault fault;
    if (invcsi_report_unpack(in, len, m, tables, sym, &fault, &err) == INVCSI_OK) {
        size_t rlen = 0;
        if (fault != INVCSI_REPORT_OK ||
            invcsi_report_pack(sym, m, tables, re, sizeof re, &rlen, &err) != INVCSI_OK ||
            rlen != len || memcmp(re, in, len) != 0) {
            fprintf(stderr, "fuzz: accepted PDU of %zu bytes re-packs to %zu other bytes\n", len,
                    rlen);
            abort();
        }
    } else if (fault == INVCSI_REPORT_OK || fault >= INVCSI_REPORT_N_FAULTS) {
        fprintf(stderr, "fuzz: refused PDU without a fault code: %s\n", err.msg);
        abort();
    }
    const uint8_t *payload;
    size_t payload_len;
    if (invcsi_report_check(in, len, 0, &payload, &payload_len, &fault, &err) == INVCSI_OK &&
        (payload != in + 2 || payload_len + INVCSI_REPORT_OVERHEAD != len))
        abort();
    return 0;
}

/* ---- seeds ---- */

static int write_seed(const char *dir, int k, const uint8_t *data, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/seed-%03d", dir, k);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        fprintf(stderr, "fuzz_rans_decode: cannot write %s\n", path);
        if (f)
            fclose(f);
        return 1;
    }
    return fclose(f) ? 1 : 0;
}

/* Valid inputs for every configuration: a raw stream and a PDU each. */
static int make_corpus(const char *dir)
{
    static uint8_t buf[1 + 2 * MAX_M + 64 + 16];
    static uint16_t sym[MAX_M];
    uint32_t seed = 99;
    int k = 0;
    for (int config = 0; config < N_CONFIGS; config++) {
        const invcsi_cdf_table *t = tables_for(config);
        const int m = config_m(config);
        for (int i = 0; i < m; i++) {
            const uint32_t u = lcg(&seed) % INVCSI_CDF_TOTAL;
            int s = 0;
            while (t[i].cum[s + 1] <= u)
                s++;
            sym[i] = (uint16_t)s;
        }
        invcsi_error err;
        size_t len = 0;
        buf[0] = (uint8_t)config;
        if (invcsi_rans_encode(sym, m, t, buf + 1, sizeof buf - 1, &len, &err) ||
            write_seed(dir, k++, buf, len + 1))
            return 1;
        if (invcsi_report_pack(sym, m, t, buf + 1, sizeof buf - 1, &len, &err) ||
            write_seed(dir, k++, buf, len + 1))
            return 1;
    }
    printf("fuzz_rans_decode: %d seeds written to %s\n", k, dir);
    return 0;
}

/* INVCSI_FUZZ_MAKE_CORPUS=DIR fuzz_rans_decode -runs=0 writes the seeds and exits, so the
 * libFuzzer build needs no second (standalone) build for them. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("INVCSI_FUZZ_MAKE_CORPUS");
    if (dir && dir[0])
        exit(make_corpus(dir));
    return 0;
}

/* lib/cdf_table.c refers to the weights-file reader for its table loader, which is not
 * what this target fuzzes; these stand-ins keep lib/safetensors.c (and the JSON parser)
 * out of the build. */
const invcsi_st_tensor *invcsi_safetensors_find(const invcsi_safetensors *file,
                                                const char *name)
{
    (void)file;
    (void)name;
    return NULL;
}

void invcsi_safetensors_copy(const invcsi_st_tensor *t, float *dst)
{
    (void)t;
    (void)dst;
}

#ifdef INVCSI_FUZZ_STANDALONE
#include <dirent.h>
#include <sys/stat.h>

static long g_execs;

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz_rans_decode: cannot open %s\n", path);
        return 1;
    }
    uint8_t *buf = malloc(1 << 20);
    const size_t n = fread(buf, 1, 1 << 20, f);
    fclose(f);
    /* exact-size copy so that ASan sees a read past the end */
    uint8_t *exact = malloc(n ? n : 1);
    memcpy(exact, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    g_execs++;
    return 0;
}

static int run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st)) {
        fprintf(stderr, "fuzz_rans_decode: no such file or directory: %s\n", path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode))
        return run_file(path);
    DIR *d = opendir(path);
    if (!d)
        return 1;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        rc |= run_path(sub);
    }
    closedir(d);
    return rc;
}

/* N mutations of the seeds, deterministic in SEED. */
static int mutate(long n, uint32_t seed, int n_files, char **files)
{
    static uint8_t seeds[256][1 + 2 * MAX_M + 64 + 16];
    static size_t seed_len[256];
    int n_seeds = 0;
    for (int i = 0; i < n_files && n_seeds < 256; i++) {
        FILE *f = fopen(files[i], "rb");
        if (!f)
            continue;
        seed_len[n_seeds] = fread(seeds[n_seeds], 1, sizeof seeds[0], f);
        fclose(f);
        n_seeds++;
    }
    if (!n_seeds) {
        fprintf(stderr, "fuzz_rans_decode: --mutate needs seed files\n");
        return 1;
    }
    uint8_t work[sizeof seeds[0] + 64];
    for (long it = 0; it < n; it++) {
        const int s = (int)(lcg(&seed) % (uint32_t)n_seeds);
        size_t len = seed_len[s];
        memcpy(work, seeds[s], len);
        const int n_mut = 1 + (int)(lcg(&seed) % 4);
        for (int k = 0; k < n_mut; k++) {
            const uint32_t r = lcg(&seed);
            switch (r % 5) {
            case 0: /* flip a bit */
                if (len > 1)
                    work[1 + lcg(&seed) % (len - 1)] ^= (uint8_t)(1u << (lcg(&seed) % 8));
                break;
            case 1: /* random byte */
                if (len > 1)
                    work[1 + lcg(&seed) % (len - 1)] = (uint8_t)lcg(&seed);
                break;
            case 2: /* cut */
                len = 1 + lcg(&seed) % len;
                break;
            case 3: /* append */
                if (len < sizeof work)
                    work[len++] = (uint8_t)lcg(&seed);
                break;
            default: /* another configuration */
                work[0] = (uint8_t)lcg(&seed);
                break;
            }
        }
        uint8_t *exact = malloc(len);
        memcpy(exact, work, len);
        LLVMFuzzerTestOneInput(exact, len);
        free(exact);
        g_execs++;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        printf("usage: fuzz_rans_decode --make-corpus DIR\n"
               "       fuzz_rans_decode --mutate N SEED FILE...\n"
               "       fuzz_rans_decode FILE|DIR...\n"
               "Runs the rANS decoder / report PDU fuzz target without libFuzzer.\n");
        return argc < 2 ? 2 : 0;
    }
    int rc = 0;
    if (!strcmp(argv[1], "--make-corpus") && argc == 3) {
        rc = make_corpus(argv[2]);
    } else if (!strcmp(argv[1], "--mutate") && argc >= 5) {
        rc = mutate(atol(argv[2]), (uint32_t)strtoul(argv[3], NULL, 10), argc - 4, argv + 4);
    } else {
        for (int i = 1; i < argc; i++)
            rc |= run_path(argv[i]);
    }
    if (!rc && strcmp(argv[1], "--make-corpus"))
        printf("fuzz_rans_decode: %ld inputs, no crash\n", g_execs);
    for (int k = 0; k < 16; k++)
        free(g_tables[k]);
    return rc;
}
#endif
