/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Timing of conv2d forward/backward (im2col + GEMM) on the shapes the models use:
 * the INN subnet convs on the 4 x 4 patch grid, CsiNet's 3x3 convs and a CRNet-style 1x9
 * on the 32 x 32 map. Prints milliseconds per call and GFLOP/s (2 * B * Cout * K * H * W
 * flops for the forward, twice that for a backward with dinput and dweight).
 */
#include "cli.h"
#include "invcsi/gemm.h"
#include "invcsi/nn.h"
#include "invcsi/backend.h"
#include "invcsi/rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Process CPU time: the machine is shared, so wall time would measure the neighbours. */
static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_conv [--batch B] [--iters N] [--threads T]\n"
            "Times conv2d forward and backward (CPU, OpenBLAS) on model shapes.\n"
            "  --batch B    samples per call (default 128)\n"
            "  --iters N    timed calls per shape after one warm-up (default 20)\n"
            "  --threads T  BLAS threads (default: the BLAS default)\n"
            "  --help       this text\n");
}

struct shape {
    const char *what;
    int cin, cout, h, w, kh, kw;
};

int main(int argc, char **argv)
{
    int batch = 128, iters = 20, threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
            if (cli_parse_int("bench_conv", "--batch", argv[++i], 1, 65536, &batch))
                return 2;
        } else if (!strcmp(argv[i], "--iters") && i + 1 < argc) {
            if (cli_parse_int("bench_conv", "--iters", argv[++i], 1, 1000000, &iters))
                return 2;
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            if (cli_parse_int("bench_conv", "--threads", argv[++i], 1, 1024, &threads))
                return 2;
        } else {
            fprintf(stderr, "bench_conv: unknown or incomplete option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (threads)
        invcsi_gemm_set_threads(threads);
    printf("BLAS: %s\n", invcsi_gemm_backend_name());

    const struct shape shapes[] = {
        {"INN subnet in  (x2 120 -> 24, 4x4)", 120, 24, 4, 4, 3, 3},
        {"INN subnet mid (24 -> 24, 4x4)", 24, 24, 4, 4, 3, 3},
        {"INN subnet out (24 -> 120, 4x4)", 24, 120, 4, 4, 3, 3},
        {"CsiNet enc (2 -> 2, 32x32)", 2, 2, 32, 32, 3, 3},
        {"CsiNet RefineNet (8 -> 16, 32x32)", 8, 16, 32, 32, 3, 3},
        {"CRNet 1x9 (7 -> 7, 32x32)", 7, 7, 32, 32, 1, 9},
    };
    invcsi_rng rng;
    invcsi_rng_init(&rng, 1, 0);
    printf("batch %d, %d timed calls per shape\n", batch, iters);
    printf("%-38s %10s %8s %10s %8s %10s %10s\n", "shape", "fwd ms", "GFLOP/s", "bwd ms", "GFLOP/s",
           "be fwd ms", "be bwd ms");
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        const struct shape *sh = &shapes[t];
        invcsi_conv2d_shape s = {batch, sh->cin, sh->cout, sh->h, sh->w, sh->kh, sh->kw};
        invcsi_error err;
        if (invcsi_conv2d_check(&s, &err)) {
            fprintf(stderr, "bench_conv: %s\n", err.msg);
            return 1;
        }
        const long n_in = (long)batch * sh->cin * sh->h * sh->w;
        const long n_out = (long)batch * sh->cout * sh->h * sh->w;
        const long n_w = invcsi_conv2d_weight_floats(&s);
        float *in = malloc(sizeof(float) * n_in), *out = malloc(sizeof(float) * n_out);
        float *w = malloc(sizeof(float) * n_w), *b = calloc(sh->cout, sizeof(float));
        float *din = calloc(n_in, sizeof(float)), *dw = calloc(n_w, sizeof(float));
        float *db = calloc(sh->cout, sizeof(float));
        float *scratch = malloc(sizeof(float) * invcsi_conv2d_scratch_floats(&s));
        float *be_scratch = malloc(sizeof(float) * invcsi_conv2d_be_scratch_floats(&s));
        if (!in || !out || !w || !b || !din || !dw || !db || !scratch || !be_scratch) {
            fprintf(stderr, "bench_conv: out of memory\n");
            return 1;
        }
        for (long i = 0; i < n_in; i++)
            in[i] = (float)invcsi_rng_normal(&rng);
        for (long i = 0; i < n_w; i++)
            w[i] = (float)(0.1 * invcsi_rng_normal(&rng));
        invcsi_conv2d_forward(out, in, w, b, &s, scratch, NULL); /* warm-up */
        double t0 = cpu_now();
        for (int it = 0; it < iters; it++)
            invcsi_conv2d_forward(out, in, w, b, &s, scratch, NULL);
        const double fwd = (cpu_now() - t0) / iters;
        invcsi_conv2d_backward(din, dw, db, out, in, w, &s, scratch, NULL);
        t0 = cpu_now();
        for (int it = 0; it < iters; it++)
            invcsi_conv2d_backward(din, dw, db, out, in, w, &s, scratch, NULL);
        const double bwd = (cpu_now() - t0) / iters;
        const invcsi_backend *cpu = invcsi_backend_cpu();
        invcsi_conv2d_forward_be(cpu, out, in, w, b, &s, be_scratch, NULL);
        t0 = cpu_now();
        for (int it = 0; it < iters; it++)
            invcsi_conv2d_forward_be(cpu, out, in, w, b, &s, be_scratch, NULL);
        const double be_fwd = (cpu_now() - t0) / iters;
        t0 = cpu_now();
        for (int it = 0; it < iters; it++)
            invcsi_conv2d_backward_be(cpu, din, dw, db, out, in, w, &s, be_scratch, NULL);
        const double be_bwd = (cpu_now() - t0) / iters;
        const double flops = 2.0 * batch * (double)n_w * sh->h * sh->w; /* n_w = Cout * K */
        printf("%-38s %10.3f %8.2f %10.3f %8.2f %10.3f %10.3f\n", sh->what, 1e3 * fwd,
               flops / fwd * 1e-9, 1e3 * bwd, 2.0 * flops / bwd * 1e-9, 1e3 * be_fwd,
               1e3 * be_bwd);
        free(in), free(out), free(w), free(b), free(din), free(dw), free(db), free(scratch);
        free(be_scratch);
    }
    return 0;
}
