/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * bench_train: speed of the models of include/invcsi/model.h on the CPU backend.
 *   - training samples/s (invcsi_train_one_step: zero grad, forward + backward, Adam) at
 *     the given batch on 1 and on 2 threads (OpenMP and OpenBLAS);
 *   - encoder and decoder latency per CSI report on one thread: median of single-report
 *     calls (the UE encodes and the BS decodes one report at a time);
 *   - batched inference throughput (reports/s) at the batch size, on 1 and 2 threads.
 * Random unit-power reports: speed does not depend on the data.
 * A program that prints figures, never a timed test.
 */
#include "cli.h"

#include "invcsi/model.h"
#include "invcsi/rng.h"
#include "invcsi/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *PROG = "bench_train";

typedef struct bench_opts {
    const char *models[8];
    int n_models;
    double cr;
    int batch, steps, calls, nr, nt, nc;
} bench_opts;

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: %s [options]\n"
            "\n"
            "Training and inference speed of the model kinds on the CPU backend.\n"
            "\n"
            "Options (default in brackets):\n"
            "  --model K      inn, csinet or all; may be repeated [all]\n"
            "  --cr R         compression ratio [1/16]\n"
            "  --batch B      training and batched-inference batch size [128]\n"
            "  --steps N      timed training steps per thread count (after 2 warm-up) [6]\n"
            "  --calls N      single-report calls for each latency median (>= 200) [300]\n"
            "  --nr/--nt/--nc report size [1 x 32 x 32]\n"
            "  -h, --help     this text\n"
            "\n"
            "Columns: train/s = training samples per second (1 and 2 threads, and their\n"
            "ratio); enc/dec us = median latency of one report on one thread, microseconds;\n"
            "enc/dec batch/s = reports per second encoding/decoding batches of B on 1 and 2\n"
            "threads; batch gain = batched reports/s over 1/latency (1 thread).\n",
            PROG);
}

static int parse(int argc, char **argv, bench_opts *o)
{
    memset(o, 0, sizeof *o);
    o->cr = 1.0 / 16;
    o->batch = 128;
    o->steps = 6;
    o->calls = 300;
    o->nr = 1;
    o->nt = 32;
    o->nc = 32;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        }
        if (!v) {
            fprintf(stderr, "%s: %s: unknown option or missing value (see --help)\n", PROG, a);
            return -1;
        }
        if (!strcmp(a, "--model")) {
            if (!strcmp(v, "all")) {
                o->n_models = 0;
            } else if (!invcsi_model_ops_find(v)) {
                fprintf(stderr, "%s: unknown model '%s'\n", PROG, v);
                return -1;
            } else if (o->n_models < 8) {
                o->models[o->n_models++] = v;
            }
        } else if (!strcmp(a, "--cr"))
            bad = cli_parse_ratio(PROG, a, v, &o->cr);
        else if (!strcmp(a, "--batch"))
            bad = cli_parse_int(PROG, a, v, 2, 65536, &o->batch);
        else if (!strcmp(a, "--steps"))
            bad = cli_parse_int(PROG, a, v, 1, 100000, &o->steps);
        else if (!strcmp(a, "--calls"))
            bad = cli_parse_int(PROG, a, v, 200, 10000000, &o->calls);
        else if (!strcmp(a, "--nr"))
            bad = cli_parse_int(PROG, a, v, 1, 4096, &o->nr);
        else if (!strcmp(a, "--nt"))
            bad = cli_parse_int(PROG, a, v, 1, 4096, &o->nt);
        else if (!strcmp(a, "--nc"))
            bad = cli_parse_int(PROG, a, v, 1, 4096, &o->nc);
        else {
            fprintf(stderr, "%s: unknown option '%s' (see --help)\n", PROG, a);
            return -1;
        }
        if (bad)
            return -1;
        i++;
    }
    if (o->n_models == 0) {
        o->models[o->n_models++] = "inn";
        o->models[o->n_models++] = "csinet";
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct bench_result {
    long params;
    int m;
    double train_sps[2];          /* 1, 2 threads */
    double enc_us, dec_us;        /* median latency, 1 thread */
    double enc_bps[2], dec_bps[2];/* batched reports/s, 1 and 2 threads */
} bench_result;

/* Training samples/s with the given thread count. */
static int bench_training(invcsi_model *m, const bench_opts *o, const float *x, int threads,
                          double *sps, invcsi_error *err)
{
    invcsi_set_threads(threads);
    invcsi_losses l;
    double t0 = 0;
    for (int s = 0; s < o->steps + 2; s++) {
        if (s == 2)
            t0 = cli_now();
        invcsi_rng rng;
        invcsi_rng_init(&rng, 7, (uint64_t)s);
        int rc = invcsi_train_one_step(m, x, o->batch, &rng, 1e-4, s, &l, err);
        if (rc != INVCSI_OK)
            return rc;
    }
    *sps = (double)o->steps * o->batch / (cli_now() - t0);
    return INVCSI_OK;
}

/* Median microseconds of one-report calls (1 thread). */
static int bench_latency(invcsi_model *m, const bench_opts *o, const float *x, float *y,
                         float *xh, int decode, double *us, invcsi_error *err)
{
    invcsi_set_threads(1);
    double *t = malloc(sizeof(double) * (size_t)o->calls);
    if (!t)
        return invcsi_error_set(err, INVCSI_ENOMEM, "out of memory");
    int rc = INVCSI_OK;
    for (int i = -10; i < o->calls && rc == INVCSI_OK; i++) {
        const float *xi = x + (long)((i + 10) % o->batch) * m->cfg.dim;
        double t0 = cli_now();
        rc = decode ? m->ops->decode(m, y, 1, xh, err) : m->ops->encode(m, xi, 1, y, err);
        if (i >= 0)
            t[i] = (cli_now() - t0) * 1e6;
    }
    qsort(t, (size_t)o->calls, sizeof *t, cmp_double);
    *us = t[o->calls / 2];
    free(t);
    return rc;
}

/* Reports/s of full-batch calls, repeated for at least 0.3 s. */
static int bench_batched(invcsi_model *m, const bench_opts *o, const float *x, float *y,
                         float *xh, int decode, int threads, double *rps, invcsi_error *err)
{
    invcsi_set_threads(threads);
    int rc = decode ? m->ops->decode(m, y, o->batch, xh, err)
                    : m->ops->encode(m, x, o->batch, y, err); /* warm-up */
    double t0 = cli_now(), el = 0;
    long reps = 0;
    while (rc == INVCSI_OK && (reps < 3 || el < 0.3)) {
        rc = decode ? m->ops->decode(m, y, o->batch, xh, err)
                    : m->ops->encode(m, x, o->batch, y, err);
        reps++;
        el = cli_now() - t0;
    }
    *rps = (double)reps * o->batch / el;
    return rc;
}

static int bench_model(const char *kind, const bench_opts *o, bench_result *r,
                       invcsi_error *err)
{
    invcsi_model_config cfg;
    int rc = invcsi_model_config_default(&cfg, kind, o->nr, o->nt, o->nc, o->cr, err);
    if (rc != INVCSI_OK)
        return rc;
    invcsi_model *m = NULL;
    rc = invcsi_model_create(&m, &cfg, o->batch, err);
    if (rc != INVCSI_OK)
        return rc;
    const long dim = cfg.dim;
    float *x = malloc(sizeof(float) * (size_t)(o->batch * dim));
    float *y = malloc(sizeof(float) * (size_t)(o->batch * cfg.m));
    float *xh = malloc(sizeof(float) * (size_t)(o->batch * dim));
    if (!x || !y || !xh) {
        rc = invcsi_error_set(err, INVCSI_ENOMEM, "out of memory");
        goto done;
    }
    invcsi_rng rng;
    invcsi_rng_init(&rng, 1, 0);
    for (long i = 0; i < o->batch * dim; i++)
        x[i] = (float)invcsi_rng_normal(&rng);
    r->params = invcsi_model_param_count(m, 1);
    r->m = cfg.m;
    fprintf(stderr, "%s: %s: training ...\n", PROG, kind);
    for (int t = 0; t < 2 && rc == INVCSI_OK; t++)
        rc = bench_training(m, o, x, t + 1, &r->train_sps[t], err);
    fprintf(stderr, "%s: %s: inference ...\n", PROG, kind);
    if (rc == INVCSI_OK)
        rc = m->ops->encode(m, x, o->batch, y, err);
    if (rc == INVCSI_OK)
        rc = bench_latency(m, o, x, y, xh, 0, &r->enc_us, err);
    if (rc == INVCSI_OK)
        rc = bench_latency(m, o, x, y, xh, 1, &r->dec_us, err);
    for (int t = 0; t < 2 && rc == INVCSI_OK; t++) {
        rc = bench_batched(m, o, x, y, xh, 0, t + 1, &r->enc_bps[t], err);
        if (rc == INVCSI_OK)
            rc = bench_batched(m, o, x, y, xh, 1, t + 1, &r->dec_bps[t], err);
    }
done:
    free(x);
    free(y);
    free(xh);
    invcsi_model_destroy(m);
    return rc;
}

int main(int argc, char **argv)
{
    bench_opts o;
    if (parse(argc, argv, &o) != 0)
        return 2;
    bench_result res[8];
    invcsi_error err;
    for (int i = 0; i < o.n_models; i++) {
        memset(&res[i], 0, sizeof res[i]);
        if (bench_model(o.models[i], &o, &res[i], &err) != INVCSI_OK) {
            fprintf(stderr, "%s: %s: %s\n", PROG, o.models[i], err.msg);
            return 1;
        }
    }
    printf("bench_train: reports %d x %d x %d (dim %d), CR %.4g, batch %d, %d timed steps\n",
           o.nr, o.nt, o.nc, 2 * o.nr * o.nt * o.nc, o.cr, o.batch, o.steps);
    printf("\nTraining (samples/s, invcsi_train_one_step: forward, backward, Adam)\n");
    printf("%-8s %5s %9s %10s %10s %7s\n", "model", "M", "params", "1 thread", "2 threads",
           "2T/1T");
    for (int i = 0; i < o.n_models; i++)
        printf("%-8s %5d %9ld %10.1f %10.1f %7.2f\n", o.models[i], res[i].m, res[i].params,
               res[i].train_sps[0], res[i].train_sps[1],
               res[i].train_sps[1] / res[i].train_sps[0]);
    printf("\nInference: latency of one report on 1 thread (median of %d calls, us) and\n"
           "batched throughput (reports/s at batch %d)\n", o.calls, o.batch);
    printf("%-8s %9s %9s %12s %12s %12s %12s %10s %10s\n", "model", "enc us", "dec us",
           "enc/s 1T", "enc/s 2T", "dec/s 1T", "dec/s 2T", "enc gain", "dec gain");
    for (int i = 0; i < o.n_models; i++)
        printf("%-8s %9.1f %9.1f %12.0f %12.0f %12.0f %12.0f %10.2f %10.2f\n", o.models[i],
               res[i].enc_us, res[i].dec_us, res[i].enc_bps[0], res[i].enc_bps[1],
               res[i].dec_bps[0], res[i].dec_bps[1], res[i].enc_bps[0] * res[i].enc_us * 1e-6,
               res[i].dec_bps[0] * res[i].dec_us * 1e-6);
    printf("(gain = batched reports/s on 1 thread over single-report calls: 1e6 / latency)\n");
    return 0;
}
