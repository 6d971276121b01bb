/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The INN training step through the backend kernel table (the device-resident path of
 * include/invcsi/backend.h) on the CPU: samples/s (process CPU time and wall clock), and
 * per step the kernel launches, GEMMs and bytes copied between host and backend memory,
 * counted by a wrapper table around the CPU one (same kernels, so the same speed).
 *
 * The host-only library before this path (commit 7aa5b5f) is the comparison: build it and
 * run `bench_train --model inn` there on the same machine (README, "CUDA").
 *
 * Usage: bench_device_step [--batch B] [--steps N] [--threads T] [--cr 1/16] [--chunk C]
 * --chunk 0 runs the convs as one GEMM per batch, as the CUDA table does: its launch
 * count is the one a GPU step records into its graph.
 */
#include "invcsi/backend.h"
#include "invcsi/model.h"
#include "invcsi/rng.h"
#include "invcsi/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long g_launches, g_gemms, g_copies;
static size_t g_bytes;
static const invcsi_backend *g_cpu;

#define COUNT_FN(name, n_expr, params, args)                                                   \
    static void count_##name(INVCSI_UNPAREN params)                                            \
    {                                                                                          \
        g_launches++;                                                                          \
        g_cpu->kern->name(INVCSI_UNPAREN args);                                                \
    }
#define INVCSI_UNPAREN(...) __VA_ARGS__
INVCSI_ELEMENTWISE_KERNELS(COUNT_FN)
static void count_sum(const float *x, long n, float *partial, float *result)
{
    g_launches += 2;
    g_cpu->kern->sum(x, n, partial, result);
}
#define COUNT_ENTRY(name, n_expr, params, args) .name = count_##name,
static const invcsi_kernels COUNT_KERNELS = {
    INVCSI_ELEMENTWISE_KERNELS(COUNT_ENTRY).sum = count_sum,
};

static void count_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a,
                        int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    g_gemms++;
    g_cpu->sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static int count_copy(void *dst, const void *src, size_t bytes, invcsi_error *err)
{
    g_copies++;
    g_bytes += bytes;
    return g_cpu->copy_to_device(dst, src, bytes, err);
}

static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static double wall_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char **argv)
{
    int batch = 128, steps = 8, threads = 1, chunk = -1;
    double cr = 1.0 / 16;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("Usage: %s [--batch B (128)] [--steps N (8)] [--threads T (1)] "
                   "[--cr 1/K (1/16)] [--chunk C (the CPU's 256; 0: whole batch, as CUDA)]\n"
                   "INN training samples/s through the backend kernel table on the CPU, and "
                   "launches, GEMMs and bytes copied per step.\n",
                   argv[0]);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "%s: %s needs a value\n", argv[0], argv[i]);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(argv[i - 1], "--batch"))
            batch = atoi(v);
        else if (!strcmp(argv[i - 1], "--steps"))
            steps = atoi(v);
        else if (!strcmp(argv[i - 1], "--threads"))
            threads = atoi(v);
        else if (!strcmp(argv[i - 1], "--chunk"))
            chunk = atoi(v);
        else if (!strcmp(argv[i - 1], "--cr"))
            cr = !strncmp(v, "1/", 2) ? 1.0 / atof(v + 2) : atof(v);
        else {
            fprintf(stderr, "%s: unknown option %s\n", argv[0], argv[i - 1]);
            return 2;
        }
    }
    if (batch < 2 || steps < 1 || !(cr > 0.0 && cr < 1.0)) {
        fprintf(stderr, "%s: need --batch >= 2, --steps >= 1, 0 < --cr < 1\n", argv[0]);
        return 2;
    }
    invcsi_set_threads(threads);
    g_cpu = invcsi_backend_cpu();
    invcsi_backend counted = *g_cpu;
    counted.name = "cpu-counted";
    counted.kern = &COUNT_KERNELS;
    counted.sgemm = count_sgemm;
    counted.copy_to_device = count_copy;
    counted.copy_to_host = count_copy;
    if (chunk >= 0)
        counted.conv_chunk_columns = chunk;

    invcsi_error err;
    invcsi_model_config cfg;
    invcsi_model_config_default(&cfg, "inn", 1, 32, 32, cr, &err);
    invcsi_model *m = NULL;
    if (invcsi_model_create(&m, &cfg, batch, &err) != INVCSI_OK ||
        invcsi_model_use_backend(m, &counted, &err) != INVCSI_OK) {
        fprintf(stderr, "%s: %s\n", argv[0], err.msg);
        return 1;
    }
    float *x = malloc(sizeof(float) * (size_t)batch * cfg.dim);
    invcsi_rng r;
    invcsi_rng_init(&r, 1, 0);
    for (long i = 0; i < (long)batch * cfg.dim; i++)
        x[i] = (float)invcsi_rng_normal(&r);
    invcsi_losses l;
    invcsi_rng_init(&r, 2, 0);
    if (invcsi_train_one_step(m, x, batch, &r, 1e-3, 0, &l, &err) != INVCSI_OK) { /* warm-up */
        fprintf(stderr, "%s: %s\n", argv[0], err.msg);
        return 1;
    }
    g_launches = g_gemms = g_copies = 0;
    g_bytes = 0;
    const double c0 = cpu_s(), w0 = wall_s();
    for (int s = 1; s <= steps; s++)
        if (invcsi_train_one_step(m, x, batch, &r, 1e-3, s, &l, &err) != INVCSI_OK) {
            fprintf(stderr, "%s: %s\n", argv[0], err.msg);
            return 1;
        }
    const double c = cpu_s() - c0, w = wall_s() - w0;
    printf("INN CR %g (M %d), batch %d, %d threads, %d steps, CPU backend kernel table, conv "
           "chunks of %d GEMM columns%s:\n",
           cr, cfg.m, batch, threads, steps, counted.conv_chunk_columns,
           counted.conv_chunk_columns ? "" : " (whole batch, as CUDA)");
    printf("  %.1f samples/s (CPU time), %.1f samples/s (wall)\n", batch * steps / c,
           batch * steps / w);
    printf("  per step: %.0f kernel launches, %.0f GEMMs, %.0f host<->backend copies, %.0f "
           "bytes copied\n",
           (double)g_launches / steps, (double)g_gemms / steps, (double)g_copies / steps,
           (double)g_bytes / steps);
    invcsi_model_destroy(m);
    free(x);
    return 0;
}
