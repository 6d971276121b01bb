/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Forward values of the layer library against naive double-precision references:
 * conv2d (direct convolution, odd sizes, every kernel shape and both GEMM paths), dense,
 * batchnorm (training statistics, running update, folding into the conv), MMD (naive
 * O(N^2) loop; same-distribution sets small, shifted sets large), MSE, Adam (a 2-step
 * update computed by hand), the lr schedule, gradient clipping, the accumulate-into-
 * gradient convention, and the error paths. (Backward passes: test_nn_gradcheck.)
 */
#include "check.h"
#include "test_buffers.h"
#include "invcsi/gemm.h"
#include "invcsi/nn.h"
#include "invcsi/rng.h"
#include "nn_math.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* ---- conv2d against a direct convolution ----------------------------------------------- */

/* ref = direct 'same' convolution in double; abssum = sum of |terms| (round-off scale). */
static void conv_naive(double *ref, double *abssum, const float *in, const float *w,
                       const float *b, const invcsi_conv2d_shape *s)
{
    const int H = s->height, W = s->width, ph = s->kh / 2, pw = s->kw / 2;
    for (int n = 0; n < s->batch; n++)
        for (int co = 0; co < s->out_ch; co++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    double acc = b ? b[co] : 0.0, aa = b ? fabs(b[co]) : 0.0;
                    for (int ci = 0; ci < s->in_ch; ci++)
                        for (int i = 0; i < s->kh; i++)
                            for (int j = 0; j < s->kw; j++) {
                                const int yy = y + i - ph, xx = x + j - pw;
                                if (yy < 0 || yy >= H || xx < 0 || xx >= W)
                                    continue;
                                const double t =
                                    (double)w[((co * s->in_ch + ci) * s->kh + i) * s->kw + j] *
                                    in[(((long)n * s->in_ch + ci) * H + yy) * W + xx];
                                acc += t;
                                aa += fabs(t);
                            }
                    const long o = (((long)n * s->out_ch + co) * H + y) * W + x;
                    ref[o] = acc;
                    abssum[o] = aa;
                }
}

static void test_conv_forward(int batch, int cin, int cout, int h, int w, int kh, int kw,
                              int with_bias)
{
    invcsi_conv2d_shape s = {batch, cin, cout, h, w, kh, kw};
    invcsi_error err;
    const long n_in = (long)batch * cin * h * w, n_out = (long)batch * cout * h * w;
    const long n_w = invcsi_conv2d_weight_floats(&s);
    float *in = alloc_f(n_in), *wt = alloc_f(n_w), *b = alloc_f(cout), *out = alloc_f(n_out);
    float *scratch = alloc_f(invcsi_conv2d_scratch_floats(&s));
    double *ref = malloc(sizeof(double) * n_out), *abssum = malloc(sizeof(double) * n_out);
    fill_normal(in, n_in, 1.0);
    fill_normal(wt, n_w, 1.0 / sqrt((double)cin * kh * kw));
    fill_normal(b, cout, 1.0);
    for (long i = 0; i < n_out; i++)
        out[i] = NAN; /* the forward must overwrite every output */
    int rc = invcsi_conv2d_forward(out, in, wt, with_bias ? b : NULL, &s, scratch, &err);
    CHECK(rc == 0, "conv2d_forward: %s", err.msg);
    conv_naive(ref, abssum, in, wt, with_bias ? b : NULL, &s);
    double worst = 0.0;
    int bad = 0;
    for (long i = 0; i < n_out; i++) {
        /* float GEMM round-off is ~sqrt(K) * 6e-8 * sum|terms|; 1e-5 leaves a wide margin */
        const double tol = 1e-5 * abssum[i] + 1e-7;
        const double e = fabs(out[i] - ref[i]);
        if (!(e <= tol))
            bad++;
        if (e / (abssum[i] + 1e-7) > worst)
            worst = e / (abssum[i] + 1e-7);
    }
    printf("conv2d forward B%d %d->%d %dx%d k%dx%d%s: max err / sum|terms| %.2e\n", batch, cin,
           cout, h, w, kh, kw, with_bias ? "" : " (no bias)", worst);
    CHECK(bad == 0, "conv2d forward %dx%d k%dx%d: %d outputs off the direct convolution", h, w,
          kh, kw, bad);
    free(in), free(wt), free(b), free(out), free(scratch), free(ref), free(abssum);
}

/* The backward accumulates: two calls give twice one call, for every gradient. */
static void test_conv_accumulates(void)
{
    invcsi_conv2d_shape s = {5, 3, 2, 6, 7, 3, 3};
    const long n_in = 5L * 3 * 42, n_out = 5L * 2 * 42, n_w = invcsi_conv2d_weight_floats(&s);
    float *in = alloc_f(n_in), *wt = alloc_f(n_w), *dout = alloc_f(n_out);
    float *scratch = alloc_f(invcsi_conv2d_scratch_floats(&s));
    float *din1 = alloc_f(n_in), *dw1 = alloc_f(n_w), *db1 = alloc_f(2);
    float *din2 = alloc_f(n_in), *dw2 = alloc_f(n_w), *db2 = alloc_f(2);
    fill_normal(in, n_in, 1.0);
    fill_normal(wt, n_w, 0.3);
    fill_normal(dout, n_out, 1.0);
    invcsi_conv2d_backward(din1, dw1, db1, dout, in, wt, &s, scratch, NULL);
    invcsi_conv2d_backward(din2, dw2, db2, dout, in, wt, &s, scratch, NULL);
    invcsi_conv2d_backward(din2, dw2, db2, dout, in, wt, &s, scratch, NULL);
    double e = 0.0;
    for (long i = 0; i < n_in; i++)
        e = fmax(e, fabs(din2[i] - 2 * din1[i]));
    for (long i = 0; i < n_w; i++)
        e = fmax(e, fabs(dw2[i] - 2 * dw1[i]));
    for (int i = 0; i < 2; i++)
        e = fmax(e, fabs(db2[i] - 2 * db1[i]));
    CHECK(e < 1e-5, "conv2d backward does not accumulate: off by %g", e);
    /* NULL gradients are skipped, the others unchanged */
    float *din3 = alloc_f(n_in);
    invcsi_conv2d_backward(din3, NULL, NULL, dout, in, wt, &s, scratch, NULL);
    e = 0.0;
    for (long i = 0; i < n_in; i++)
        e = fmax(e, fabs(din3[i] - din1[i]));
    CHECK(e == 0.0, "conv2d backward with NULL dweight/dbias changes dinput by %g", e);
    printf("conv2d backward accumulates (+=) and skips NULL gradients\n");
    free(in), free(wt), free(dout), free(scratch), free(din1), free(dw1), free(db1);
    free(din2), free(dw2), free(db2), free(din3);
}

/* ---- dense --------------------------------------------------------------------------- */

static void test_dense(int batch, int in_dim, int out_dim)
{
    const long n_in = (long)batch * in_dim, n_w = (long)in_dim * out_dim;
    const long n_out = (long)batch * out_dim;
    float *in = alloc_f(n_in), *w = alloc_f(n_w), *b = alloc_f(out_dim), *out = alloc_f(n_out);
    fill_normal(in, n_in, 1.0);
    fill_normal(w, n_w, 1.0 / sqrt(in_dim));
    fill_normal(b, out_dim, 1.0);
    invcsi_error err;
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        for (long i = 0; i < n_out; i++)
            out[i] = NAN;
        int rc = invcsi_dense_forward(out, in, w, with_bias ? b : NULL, batch, in_dim, out_dim,
                                      &err);
        CHECK(rc == 0, "dense_forward: %s", err.msg);
        int bad = 0;
        for (int n = 0; n < batch; n++)
            for (int o = 0; o < out_dim; o++) {
                double acc = with_bias ? b[o] : 0.0, aa = fabs(acc);
                for (int i = 0; i < in_dim; i++) {
                    const double t = (double)in[(long)n * in_dim + i] * w[(long)o * in_dim + i];
                    acc += t;
                    aa += fabs(t);
                }
                if (!(fabs(out[(long)n * out_dim + o] - acc) <= 1e-5 * aa + 1e-7))
                    bad++;
            }
        CHECK(bad == 0, "dense forward B%d %d->%d: %d outputs off the naive product", batch,
              in_dim, out_dim, bad);
    }
    /* accumulation */
    float *dout = alloc_f(n_out), *d1 = alloc_f(n_in), *d2 = alloc_f(n_in);
    float *dw1 = alloc_f(n_w), *dw2 = alloc_f(n_w), *db1 = alloc_f(out_dim),
          *db2 = alloc_f(out_dim);
    fill_normal(dout, n_out, 1.0);
    invcsi_dense_backward(d1, dw1, db1, dout, in, w, batch, in_dim, out_dim, NULL);
    invcsi_dense_backward(d2, dw2, db2, dout, in, w, batch, in_dim, out_dim, NULL);
    invcsi_dense_backward(d2, dw2, db2, dout, in, w, batch, in_dim, out_dim, NULL);
    double e = 0.0;
    for (long i = 0; i < n_in; i++)
        e = fmax(e, fabs(d2[i] - 2 * d1[i]));
    for (long i = 0; i < n_w; i++)
        e = fmax(e, fabs(dw2[i] - 2 * dw1[i]));
    for (int i = 0; i < out_dim; i++)
        e = fmax(e, fabs(db2[i] - 2 * db1[i]));
    CHECK(e < 1e-5, "dense backward does not accumulate: off by %g", e);
    printf("dense B%d %d->%d: forward matches the naive product, backward accumulates\n", batch,
           in_dim, out_dim);
    free(in), free(w), free(b), free(out), free(dout), free(d1), free(d2), free(dw1), free(dw2);
    free(db1), free(db2);
}

/* ---- batchnorm --------------------------------------------------------------------------- */

static void test_batchnorm_train(void)
{
    const int B = 6, C = 3, S = 10;
    const long n = (long)B * C * S;
    float *in = alloc_f(n), *out = alloc_f(n), gamma[3] = {1.5f, 0.5f, 2.0f},
          beta[3] = {0.1f, -1.0f, 0.3f};
    float mean[3], invstd[3], rm[3] = {0.2f, 0.0f, -0.1f}, rv[3] = {1.0f, 2.0f, 0.5f};
    float rm0[3], rv0[3];
    memcpy(rm0, rm, sizeof rm), memcpy(rv0, rv, sizeof rv);
    fill_normal(in, n, 2.0);
    for (long i = 0; i < n; i++)
        in[i] += 3.0f * (float)((i / S) % C) - 1.0f;
    invcsi_error err;
    const float mom = 0.1f, eps = 1e-5f;
    int rc = invcsi_batchnorm2d_forward_train(out, mean, invstd, rm, rv, in, gamma, beta, B, C,
                                              S, mom, eps, &err);
    CHECK(rc == 0, "batchnorm2d_forward_train: %s", err.msg);
    for (int c = 0; c < C; c++) {
        double sx = 0, sy = 0, syy = 0;
        for (int b = 0; b < B; b++)
            for (int p = 0; p < S; p++)
                sx += in[((long)b * C + c) * S + p];
        const double m = sx / (B * S);
        double ss = 0;
        for (int b = 0; b < B; b++)
            for (int p = 0; p < S; p++) {
                const double x = in[((long)b * C + c) * S + p], y = out[((long)b * C + c) * S + p];
                ss += (x - m) * (x - m);
                sy += y;
                syy += y * y;
            }
        const double ym = sy / (B * S), yv = syy / (B * S) - ym * ym;
        CHECK_CLOSE(ym, beta[c], 1e-5, "BN output mean == beta");
        CHECK_CLOSE(yv, gamma[c] * gamma[c] * (ss / (B * S)) / (ss / (B * S) + eps), 1e-4,
                    "BN output variance == gamma^2");
        CHECK_CLOSE(mean[c], m, 1e-5, "saved mean");
        CHECK_CLOSE(invstd[c], 1.0 / sqrt(ss / (B * S) + eps), 1e-5, "saved invstd");
        CHECK_CLOSE(rm[c], 0.9 * rm0[c] + 0.1 * m, 1e-5, "running mean update");
        CHECK_CLOSE(rv[c], 0.9 * rv0[c] + 0.1 * ss / (B * S - 1), 1e-5,
                    "running variance update (unbiased)");
    }
    /* inference with the batch statistics (biased variance) reproduces the training output */
    float var_b[3], *out2 = alloc_f(n);
    for (int c = 0; c < C; c++)
        var_b[c] = (float)(1.0 / ((double)invstd[c] * invstd[c]) - eps);
    invcsi_batchnorm2d_forward_infer(out2, in, gamma, beta, mean, var_b, B, C, S, eps, NULL);
    double e = 0.0;
    for (long i = 0; i < n; i++)
        e = fmax(e, fabs(out2[i] - out[i]));
    CHECK(e < 1e-4, "BN inference with batch stats vs training output: %g", e);
    printf("batchnorm2d train: output mean/var, saved stats, running update, inference ok\n");
    free(in), free(out), free(out2);
}

/* conv + BN(inference) == the conv with BN folded in */
static void test_batchnorm_fold(int kh, int kw)
{
    invcsi_conv2d_shape s = {3, 4, 5, 7, 9, kh, kw};
    const long n_in = 3L * 4 * 63, n_out = 3L * 5 * 63, n_w = invcsi_conv2d_weight_floats(&s);
    float *in = alloc_f(n_in), *w = alloc_f(n_w), *b = alloc_f(5), *out = alloc_f(n_out);
    float *bn_out = alloc_f(n_out), *folded = alloc_f(n_out);
    float *scratch = alloc_f(invcsi_conv2d_scratch_floats(&s));
    float gamma[5], beta[5], rm[5], rv[5];
    fill_normal(in, n_in, 1.0);
    fill_normal(w, n_w, 0.3);
    fill_normal(b, 5, 0.5);
    for (int c = 0; c < 5; c++) {
        gamma[c] = (float)(1.0 + 0.5 * invcsi_rng_normal(&rng));
        beta[c] = (float)(0.5 * invcsi_rng_normal(&rng));
        rm[c] = (float)(0.5 * invcsi_rng_normal(&rng));
        rv[c] = (float)(0.2 + fabs(invcsi_rng_normal(&rng)));
    }
    invcsi_error err;
    invcsi_conv2d_forward(out, in, w, b, &s, scratch, NULL);
    invcsi_batchnorm2d_forward_infer(bn_out, out, gamma, beta, rm, rv, 3, 5, 63, INVCSI_BN_EPS,
                                     NULL);
    int rc = invcsi_batchnorm_fold(w, b, 5, n_w / 5, gamma, beta, rm, rv, INVCSI_BN_EPS, &err);
    CHECK(rc == 0, "batchnorm_fold: %s", err.msg);
    invcsi_conv2d_forward(folded, in, w, b, &s, scratch, NULL);
    double e = 0.0, mx = 0.0;
    for (long i = 0; i < n_out; i++) {
        e = fmax(e, fabs(folded[i] - bn_out[i]));
        mx = fmax(mx, fabs(bn_out[i]));
    }
    printf("BN fold into conv k%dx%d: max |folded - conv+BN| = %.2e (outputs up to %.2f)\n", kh,
           kw, e, mx);
    CHECK(e < 1e-5 * (1.0 + mx) * 10, "folded conv differs from conv + BN by %g", e);
    free(in), free(w), free(b), free(out), free(bn_out), free(folded), free(scratch);
}

/* ---- MMD ----------------------------------------------------------------------------------- */

static double mmd_naive(const float *a, const float *b, int n, int dim, const float *c_list,
                        int n_c)
{
    const double c_def = 2.0 * dim;
    double s_same = 0.0, s_cross = 0.0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double daa = 0, dbb = 0, dab = 0;
            for (int k = 0; k < dim; k++) {
                const double x = a[(long)i * dim + k], y = a[(long)j * dim + k];
                const double u = b[(long)i * dim + k], v = b[(long)j * dim + k];
                daa += (x - y) * (x - y);
                dbb += (u - v) * (u - v);
                dab += (x - v) * (x - v);
            }
            for (int c = 0; c < (n_c ? n_c : 1); c++) {
                const double C = n_c ? c_list[c] : c_def;
                if (i != j)
                    s_same += C / (C + daa) + C / (C + dbb);
                s_cross += C / (C + dab);
            }
        }
    return s_same / ((double)n * (n - 1)) - 2.0 * s_cross / ((double)n * n);
}

static double mmd_lib(const float *a, const float *b, int n, int dim, const float *c_list,
                      int n_c)
{
    float *scratch = alloc_f(invcsi_mmd_scratch_floats(n));
    float l = NAN;
    invcsi_error err;
    int rc = invcsi_mmd_imq_forward(&l, a, b, n, dim, c_list, n_c, scratch, &err);
    CHECK(rc == 0, "mmd_imq_forward: %s", err.msg);
    free(scratch);
    return l;
}

static void test_mmd(void)
{
    /* value against the naive double loop: small and realistic (dim 2048) sizes */
    const float c_multi[4] = {0.2f, 1.0f, 5.0f, 50.0f};
    struct {
        int n, dim;
        const float *c;
        int n_c;
        double shift;
    } cases[] = {{5, 3, NULL, 0, 0.3}, {9, 6, c_multi, 4, 0.0}, {64, 2048, NULL, 0, 0.1},
                 {32, 512, c_multi, 4, 0.5}};
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const int n = cases[t].n, dim = cases[t].dim;
        float *a = alloc_f((long)n * dim), *b = alloc_f((long)n * dim);
        fill_normal(a, (long)n * dim, 1.0);
        fill_normal(b, (long)n * dim, 1.0);
        for (long i = 0; i < (long)n * dim; i++)
            b[i] += (float)cases[t].shift;
        const double ref = mmd_naive(a, b, n, dim, cases[t].c, cases[t].n_c);
        const double got = mmd_lib(a, b, n, dim, cases[t].c, cases[t].n_c);
        printf("mmd N%d D%d %d constant(s): %.8f, naive double %.8f, diff %.1e\n", n, dim,
               cases[t].n_c ? cases[t].n_c : 1, got, ref, fabs(got - ref));
        /* each kernel value is <= 1 per constant; float distances give ~1e-7 relative */
        CHECK_CLOSE(got, ref, 2e-6 * (cases[t].n_c ? cases[t].n_c : 1), "mmd vs naive double");
        /* identical sets: the naive value too (it is 2S/(N^2(N-1)) - 2/N <= 0, not 0). Only
         * with the default C: the cross distances |a_i - a_i|^2 = 0 come out of the GEMM as
         * ~1e-7 |a|^2, which a tiny C (0.2 in c_multi) turns into a visible kernel error. */
        if (cases[t].n_c) {
            free(a), free(b);
            continue;
        }
        const double ref_same = mmd_naive(a, a, n, dim, cases[t].c, cases[t].n_c);
        const double got_same = mmd_lib(a, a, n, dim, cases[t].c, cases[t].n_c);
        CHECK_CLOSE(got_same, ref_same, 2e-6, "mmd(a, a) vs naive double");
        CHECK(got_same <= 1e-6, "mmd(a, a) = %g should be <= 0", got_same);
        free(a), free(b);
    }

    /* two samples of one distribution: ~0 (O(1/N)); a shifted distribution: clearly > 0 */
    const int n = 256, dim = 16;
    float *a = alloc_f((long)n * dim), *b = alloc_f((long)n * dim), *c = alloc_f((long)n * dim);
    fill_normal(a, (long)n * dim, 1.0);
    fill_normal(b, (long)n * dim, 1.0);
    fill_normal(c, (long)n * dim, 1.0);
    for (long i = 0; i < (long)n * dim; i++)
        c[i] += 1.0f;
    const double same = mmd_lib(a, b, n, dim, NULL, 0);
    const double shifted = mmd_lib(a, c, n, dim, NULL, 0);
    printf("mmd N%d D%d: same distribution %.5f, mean shifted by 1 per dim %.5f\n", n, dim, same,
           shifted);
    CHECK(fabs(same) < 0.01, "mmd of two samples of N(0, I) = %g, expected ~0", same);
    CHECK(shifted > 0.05 && shifted > 20 * fabs(same), "mmd of shifted sets %g not large",
          shifted);
    free(a), free(b), free(c);
}

/* ---- MSE ----------------------------------------------------------------------------------- */

static void test_mse(void)
{
    const float p[4] = {1.0f, -2.0f, 0.5f, 3.0f}, t[4] = {0.0f, -1.0f, 0.5f, 1.0f};
    float l = 0.0f, dp[4] = {0}, dt[4] = {0};
    CHECK(invcsi_mse_forward(&l, p, t, 4, NULL) == 0, "mse_forward");
    CHECK_CLOSE(l, (1.0 + 1.0 + 0.0 + 4.0) / 4.0, 1e-7, "mse value");
    invcsi_mse_backward(dp, dt, 2.0f, p, t, 4, NULL);
    /* 2 * 2 (p - t) / 4 = p - t */
    for (int i = 0; i < 4; i++) {
        CHECK_CLOSE(dp[i], p[i] - t[i], 1e-7, "mse dpred");
        CHECK_CLOSE(dt[i], -(p[i] - t[i]), 1e-7, "mse dtarget");
    }
}

/* ---- Adam, schedule, clipping ------------------------------------------------------------ */

static void test_adam(void)
{
    /* Hand computation, lr 0.1, beta1 0.9, beta2 0.999, eps 1e-8, p0 = 1, g = 0.5 then -0.25:
     * step 1: m = 0.05, v = 2.5e-4, bc1 = 0.1, bc2 = 1e-3
     *         p1 = 1 - 0.1 * (0.05/0.1) / (sqrt(2.5e-4)/sqrt(1e-3) + 1e-8)
     *            = 1 - 0.1 * 0.5 / 0.50000001 = 0.900000002
     * step 2: m = 0.9*0.05 + 0.1*(-0.25) = 0.02,  v = 0.999*2.5e-4 + 0.001*0.0625 = 3.1225e-4
     *         bc1 = 1 - 0.81 = 0.19, bc2 = 1 - 0.998001 = 1.999e-3
     *         p2 = p1 - 0.1 * (0.02/0.19) / (sqrt(3.1225e-4/1.999e-3) + 1e-8)
     *            = 0.900000002 - 0.1 * 0.105263158 / 0.395225381 = 0.873366299
     * Second parameter p0 = -2, g = -3 then 1e-3: p1 = -1.900000000333, p2 = -1.833018996
     * (torch.optim.Adam gives 0.8733664 and -1.8330190 in float32). */
    float p[2] = {1.0f, -2.0f}, m[2] = {0, 0}, v[2] = {0, 0};
    const float g1[2] = {0.5f, -3.0f}, g2[2] = {-0.25f, 1e-3f};
    invcsi_adam_config cfg = invcsi_adam_default();
    CHECK(cfg.lr == 1e-3 && cfg.beta1 == 0.9 && cfg.beta2 == 0.999 && cfg.eps == 1e-8 &&
              cfg.weight_decay == 0.0,
          "adam defaults");
    cfg.lr = 0.1;
    invcsi_error err;
    CHECK(invcsi_adam_step(p, g1, m, v, 2, &cfg, 1, &err) == 0, "adam_step: %s", err.msg);
    CHECK_CLOSE(p[0], 0.900000002, 2e-7, "adam p after step 1");
    CHECK_CLOSE(p[1], -1.9000000003333, 2e-7, "adam p[1] after step 1");
    CHECK(invcsi_adam_step(p, g2, m, v, 2, &cfg, 2, &err) == 0, "adam_step: %s", err.msg);
    CHECK_CLOSE(m[0], 0.02, 1e-8, "adam m after step 2");
    CHECK_CLOSE(v[0], 3.1225e-4, 1e-10, "adam v after step 2");
    CHECK_CLOSE(p[0], 0.873366299, 3e-7, "adam p after step 2");
    CHECK_CLOSE(p[1], -1.833018996, 3e-7, "adam p[1] after step 2");
    CHECK(invcsi_adam_step(p, g2, m, v, 2, &cfg, 0, &err) == INVCSI_EINVAL,
          "adam step t = 0 must be rejected");
    printf("adam 2-step update: p = %.9f, %.9f (hand: 0.873366299, -1.833018996)\n", p[0], p[1]);

    /* schedule: x0.9 every 20 epochs */
    CHECK_CLOSE(invcsi_lr_step_decay(1e-3, INVCSI_LR_DECAY_GAMMA, INVCSI_LR_DECAY_EPOCHS, 0),
                1e-3, 1e-15, "lr epoch 0");
    CHECK_CLOSE(invcsi_lr_step_decay(1e-3, 0.9, 20, 19), 1e-3, 1e-15, "lr epoch 19");
    CHECK_CLOSE(invcsi_lr_step_decay(1e-3, 0.9, 20, 20), 9e-4, 1e-15, "lr epoch 20");
    CHECK_CLOSE(invcsi_lr_step_decay(1e-3, 0.9, 20, 45), 8.1e-4, 1e-15, "lr epoch 45");
    CHECK_CLOSE(invcsi_lr_step_decay(1e-3, 0.9, 0, 45), 1e-3, 1e-15, "lr without decay");

    /* clipping: joint norm of (3, 4) and (12) is 13 */
    float g_a[2] = {3.0f, 4.0f}, g_b[1] = {12.0f};
    float *bufs[2] = {g_a, g_b};
    const long lens[2] = {2, 1};
    CHECK_CLOSE(invcsi_clip_grad_norm(bufs, lens, 2, 100.0), 13.0, 1e-9, "norm, no clipping");
    CHECK(g_a[0] == 3.0f && g_b[0] == 12.0f, "no clipping below max_norm");
    CHECK_CLOSE(invcsi_clip_grad_norm(bufs, lens, 2, 6.5), 13.0, 1e-9, "norm before clipping");
    CHECK_CLOSE(g_a[0], 1.5, 1e-6, "clipped");
    CHECK_CLOSE(g_b[0], 6.0, 1e-6, "clipped");
    CHECK_CLOSE(sqrt(invcsi_grad_sumsq(g_a, 2) + invcsi_grad_sumsq(g_b, 1)), 6.5, 1e-6,
                "clipped norm");
}

/* ---- element-wise values ------------------------------------------------------------------ */

static void test_elementwise(void)
{
    const float x[6] = {-100.0f, -2.0f, -0.0f, 0.5f, 3.0f, 100.0f};
    float y[6];
    invcsi_sigmoid_forward(y, x, 6);
    for (int i = 0; i < 6; i++) {
        CHECK(isfinite(y[i]) && y[i] >= 0.0f && y[i] <= 1.0f, "sigmoid(%g) = %g", x[i], y[i]);
        CHECK_CLOSE(y[i], 1.0 / (1.0 + exp(-(double)x[i])), 1e-7, "sigmoid value");
    }
    invcsi_soft_clamp_forward(y, x, 6, 2.0f);
    for (int i = 0; i < 6; i++)
        CHECK_CLOSE(y[i], 2.0 * tanh(x[i] / 2.0), 1e-6, "soft clamp == clamp * tanh(u/2)");
    CHECK(nn_soft_clamp(0.0f, 2.0f) == 0.0f && nn_soft_clamp_grad(0.0f, 2.0f) == 1.0f,
          "soft clamp is the identity near 0 (slope clamp/2 = 1 for clamp 2)");
    invcsi_tanh_forward(y, x, 6);
    for (int i = 0; i < 6; i++)
        CHECK_CLOSE(y[i], tanh(x[i]), 1e-7, "tanh value");
    invcsi_leaky_relu_forward(y, x, 6, 0.3f);
    CHECK(y[1] == -0.6f && y[4] == 3.0f, "leaky_relu values");
    /* in place */
    float z[6];
    memcpy(z, x, sizeof z);
    invcsi_leaky_relu_forward(z, z, 6, 0.01f);
    CHECK(z[0] == -1.0f && z[5] == 100.0f, "leaky_relu in place");
    CHECK_CLOSE(nn_imq(3.0f, 1.0f), 0.25, 1e-7, "imq kernel");
    CHECK_CLOSE(nn_imq_grad(3.0f, 1.0f), -1.0 / 16.0, 1e-7, "imq derivative");
}

/* ---- errors ------------------------------------------------------------------------------- */

static void test_errors(void)
{
    invcsi_error err;
    invcsi_conv2d_shape even = {1, 1, 1, 4, 4, 2, 2};
    CHECK(invcsi_conv2d_check(&even, &err) == INVCSI_EINVAL && strstr(err.msg, "odd"),
          "even kernel rejected: %s", err.msg);
    invcsi_conv2d_shape zero = {0, 1, 1, 4, 4, 3, 3};
    CHECK(invcsi_conv2d_check(&zero, &err) == INVCSI_EINVAL, "batch 0 rejected");
    float buf[8] = {0}, l;
    CHECK(invcsi_mmd_imq_forward(&l, buf, buf, 1, 4, NULL, 0, buf, &err) == INVCSI_EINVAL,
          "mmd n = 1 rejected");
    const float bad_c = -1.0f;
    CHECK(invcsi_mmd_imq_forward(&l, buf, buf, 2, 2, &bad_c, 1, buf, &err) == INVCSI_EINVAL,
          "mmd C <= 0 rejected");
    float m, s;
    CHECK(invcsi_batchnorm2d_forward_train(buf, &m, &s, NULL, NULL, buf, buf, buf, 1, 1, 1, 0.1f,
                                           1e-5f, &err) == INVCSI_EINVAL,
          "BN training with one value per channel rejected");
    CHECK(invcsi_dense_forward(buf, buf, buf, NULL, 1, 0, 1, &err) == INVCSI_EINVAL,
          "dense in_dim 0 rejected");
    CHECK(invcsi_mse_forward(&l, buf, buf, 0, &err) == INVCSI_EINVAL, "mse n 0 rejected");
}

int main(void)
{
    invcsi_rng_init(&rng, 77, 1);
    printf("BLAS: %s\n", invcsi_gemm_backend_name());

    test_conv_forward(3, 3, 5, 7, 9, 3, 3, 1);     /* several samples per GEMM */
    test_conv_forward(70, 2, 3, 3, 5, 3, 3, 1);    /* chunks of 18 + 18 + 18 + 16 samples */
    test_conv_forward(2, 3, 4, 33, 35, 3, 3, 1);   /* one sample per GEMM */
    test_conv_forward(3, 2, 3, 9, 7, 5, 5, 0);     /* no bias */
    test_conv_forward(2, 3, 2, 11, 13, 7, 7, 1);
    test_conv_forward(3, 5, 4, 7, 5, 1, 1, 1);     /* 1x1, chunked */
    test_conv_forward(2, 5, 3, 31, 37, 1, 1, 1);   /* 1x1 on the input itself */
    test_conv_forward(2, 3, 4, 9, 13, 1, 9, 1);    /* CRNet-style */
    test_conv_forward(2, 3, 4, 13, 9, 9, 1, 1);
    test_conv_forward(2, 2, 2, 5, 3, 9, 9, 1);     /* kernel larger than the map */
    test_conv_forward(4, 128, 24, 4, 4, 3, 3, 1);  /* INN subnet shape */
    test_conv_accumulates();

    test_dense(5, 17, 9);
    test_dense(1, 2048, 32);

    test_batchnorm_train();
    test_batchnorm_fold(3, 3);
    test_batchnorm_fold(1, 9);

    test_mmd();
    test_mse();
    test_adam();
    test_elementwise();
    test_errors();

    return check_done("test_nn_layers");
}
