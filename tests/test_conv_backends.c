/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The two conv2d paths of lib/nn_conv.c compute the same layer:
 *   - the host version (invcsi_conv2d_forward/_backward: zero-bordered frames, the CPU-fast
 *     path of CsiNet, STQENet and the IC LAN; 2.3-4.9x faster than the backend version on the
 *     32 x 32 maps, bench_conv), and
 *   - the backend version (invcsi_conv2d_forward_be/_backward_be: the kernels of the
 *     kernel table + the table's GEMM, used by the device-resident INN), run on the CPU
 *     table here.
 * Both use the tap offsets of kernels/index_math.h and differ in rounding only (GEMM
 * shapes and chunking). For every shape the models use (both GEMM sides, 1x1, 1x9/9x1,
 * 5x5, odd batches that leave a partial chunk) the forward output and the accumulated
 * dinput, dweight and dbias must agree within 1e-6 x max|value| (measured worst 1.2e-7).
 */
#include "check.h"
#include "invcsi/backend.h"
#include "invcsi/nn.h"
#include "invcsi/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-6

static invcsi_rng g_rng;

static float *alloc_normal(long n, double sd)
{
    float *p = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (long i = 0; i < n; i++)
        p[i] = (float)(sd * invcsi_rng_normal(&g_rng));
    return p;
}

static float *copy_of(const float *x, long n)
{
    float *p = malloc(sizeof(float) * (size_t)n);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    memcpy(p, x, sizeof(float) * (size_t)n);
    return p;
}

/* max |a - b| / max |b| */
static double rel_diff(const float *a, const float *b, long n)
{
    double d = 0.0, m = 0.0;
    for (long i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        m = fmax(m, fabs((double)b[i]));
    }
    return m > 0.0 ? d / m : d;
}

static double g_worst;

static void same(const char *what, const char *shape, const float *be, const float *host,
                 long n)
{
    const double r = rel_diff(be, host, n);
    g_worst = fmax(g_worst, r);
    CHECK(r <= TOL, "%s %s: backend vs host differ by %.3g of max|value| (tol %.1g)", shape,
          what, r, TOL);
}

static void compare(int batch, int cin, int cout, int h, int w, int kh, int kw)
{
    const invcsi_backend *cpu = invcsi_backend_cpu();
    invcsi_conv2d_shape s = {batch, cin, cout, h, w, kh, kw};
    invcsi_error err;
    char shape[96];
    snprintf(shape, sizeof shape, "B%d %d->%d %dx%d k%dx%d", batch, cin, cout, h, w, kh, kw);
    CHECK(invcsi_conv2d_check(&s, &err) == 0, "%s: %s", shape, err.msg);
    const long n_in = (long)batch * cin * h * w, n_out = (long)batch * cout * h * w;
    const long n_w = invcsi_conv2d_weight_floats(&s);
    float *in = alloc_normal(n_in, 1.0), *wt = alloc_normal(n_w, 1.0 / sqrt((double)n_w / cout));
    float *bias = alloc_normal(cout, 0.5), *dout = alloc_normal(n_out, 1.0);
    float *out_h = alloc_normal(n_out, 1.0), *out_b = alloc_normal(n_out, 1.0);
    /* the backward accumulates: start both from the same non-zero values */
    float *din_h = alloc_normal(n_in, 0.1), *dw_h = alloc_normal(n_w, 0.1);
    float *db_h = alloc_normal(cout, 0.1);
    float *din_b = copy_of(din_h, n_in), *dw_b = copy_of(dw_h, n_w), *db_b = copy_of(db_h, cout);
    float *scr_h = alloc_normal(invcsi_conv2d_scratch_floats(&s), 1.0);
    float *scr_b = alloc_normal(invcsi_conv2d_be_scratch_floats(&s), 1.0);

    CHECK(invcsi_conv2d_forward(out_h, in, wt, bias, &s, scr_h, &err) == 0, "%s", err.msg);
    CHECK(invcsi_conv2d_forward_be(cpu, out_b, in, wt, bias, &s, scr_b, &err) == 0, "%s",
          err.msg);
    same("forward", shape, out_b, out_h, n_out);
    CHECK(invcsi_conv2d_backward(din_h, dw_h, db_h, dout, in, wt, &s, scr_h, &err) == 0, "%s",
          err.msg);
    CHECK(invcsi_conv2d_backward_be(cpu, din_b, dw_b, db_b, dout, in, wt, &s, scr_b, &err) == 0,
          "%s", err.msg);
    same("dinput", shape, din_b, din_h, n_in);
    same("dweight", shape, dw_b, dw_h, n_w);
    same("dbias", shape, db_b, db_h, cout);
    free(in), free(wt), free(bias), free(dout), free(out_h), free(out_b);
    free(din_h), free(dw_h), free(db_h), free(din_b), free(dw_b), free(db_b);
    free(scr_h), free(scr_b);
}

int main(void)
{
    invcsi_rng_init(&g_rng, 7, 0);
    /* the INN subnet on the 4 x 4 patch grid (both GEMM sides), an odd batch */
    compare(7, 120, 24, 4, 4, 3, 3);
    compare(7, 24, 24, 4, 4, 3, 3);
    compare(7, 24, 120, 4, 4, 3, 3);
    /* CsiNet and STQENet on the 32 x 32 map: 3x3, 1x1, 5x5, the CR block's 1x9 / 9x1 */
    compare(3, 2, 2, 32, 32, 3, 3);
    compare(3, 8, 16, 32, 32, 3, 3);
    compare(3, 2, 16, 32, 32, 1, 1);
    compare(3, 16, 2, 32, 32, 5, 5);
    compare(3, 7, 7, 32, 32, 1, 9);
    compare(3, 7, 7, 32, 32, 9, 1);
    /* a non-square map whose chunk does not divide the batch */
    compare(5, 3, 4, 6, 7, 3, 3);
    printf("worst backend-vs-host difference: %.3g of max|value|\n", g_worst);
    return check_done("test_conv_backends");
}
