/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Gradient check of every backward pass in include/invcsi/nn.h against central finite
 * differences of the library's own forward pass.
 *
 * Method. A layer's output is reduced to a scalar L = sum_i r_i out_i with a fixed random
 * projection r (losses are scalars already), so the analytic gradients are the backward
 * pass run with dout = r. Each checked entry x_k is perturbed by +-eps in float, the
 * actually applied step h = fl(x_k + eps) - x_k is used, and L is summed in double:
 *   fd_k = (L(x_k + h) - L(x_k - h)) / (2 h).
 * Error measure: |g_k - fd_k| / max(|g_k|, |fd_k|, rms(g)) must be < 1e-2 (GRAD_RTOL).
 * Why 1e-2 is sound: the forward runs in float, so L carries a relative round-off of
 * ~1e-7 * sqrt(#terms); divided by 2h (h = 1e-2 for the linear layers, whose FD has no
 * truncation error, and 1e-3 for the smooth nonlinear ones, where the truncation error
 * ~h^2 |f'''| / 6 is ~1e-7) this is < 1e-3 of the gradient scale, ten times below the
 * threshold, while any real mistake (a wrong sign, a missing factor, a wrong index)
 * gives errors of order 1. Entries far below the typical gradient size are compared
 * against rms(g) rather than their own size, where only absolute round-off is meaningful.
 * Inputs sit away from the LeakyReLU kink (|x| >= 0.05 > eps).
 * All input-gradient entries are checked (a regular sample for the two larger maps that
 * exercise the one-sample-per-GEMM path), and all parameter entries.
 *
 * The test was seen to fail: flipping a sign in a backward pass makes it report errors
 * of ~1 and exit 1.
 */
#include "check.h"
#include "test_buffers.h"
#include "invcsi/nn.h"
#include "invcsi/rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRAD_RTOL 1e-2


typedef double (*loss_fn)(void *ctx);

/* Compares g[k] with the central difference of f over x[k], for k = 0, stride, 2*stride ... */
static void gradcheck(const char *what, loss_fn f, void *ctx, float *x, long n, const float *g,
                      float eps, long stride)
{
    double ss = 0.0;
    for (long k = 0; k < n; k++)
        ss += (double)g[k] * g[k];
    const double rms = sqrt(ss / n);
    double worst = 0.0;
    long worst_k = -1, checked = 0;
    for (long k = 0; k < n; k += stride) {
        const float x0 = x[k];
        const float xp = x0 + eps, xm = x0 - eps;
        x[k] = xp;
        const double lp = f(ctx);
        x[k] = xm;
        const double lm = f(ctx);
        x[k] = x0;
        const double fd = (lp - lm) / ((double)xp - (double)xm);
        double den = fabs(fd);
        if (fabs(g[k]) > den)
            den = fabs(g[k]);
        if (rms > den)
            den = rms;
        const double e = den > 0.0 ? fabs(g[k] - fd) / den : 0.0;
        if (e > worst || worst_k < 0) {
            worst = e;
            worst_k = k;
        }
        checked++;
    }
    printf("  %-34s %6ld entries checked, max rel err %.2e (at %ld)\n", what, checked, worst,
           worst_k);
    CHECK(worst < GRAD_RTOL, "%s: max relative error %.3e at entry %ld", what, worst, worst_k);
}

/* ---- conv2d ------------------------------------------------------------------------- */

struct conv_ctx {
    invcsi_conv2d_shape s;
    float *in, *w, *b, *out, *r, *scratch;
    long n_in, n_w, n_out;
};

static double conv_loss(void *p)
{
    struct conv_ctx *c = p;
    int rc = invcsi_conv2d_forward(c->out, c->in, c->w, c->b, &c->s, c->scratch, NULL);
    CHECK(rc == 0, "conv2d_forward failed");
    return project(c->out, c->r, c->n_out);
}

static void check_conv(int batch, int cin, int cout, int h, int w, int kh, int kw, long in_stride)
{
    struct conv_ctx c;
    c.s = (invcsi_conv2d_shape){batch, cin, cout, h, w, kh, kw};
    invcsi_error err;
    CHECK(invcsi_conv2d_check(&c.s, &err) == 0, "%s", err.msg);
    c.n_in = (long)batch * cin * h * w;
    c.n_out = (long)batch * cout * h * w;
    c.n_w = invcsi_conv2d_weight_floats(&c.s);
    c.in = alloc_f(c.n_in);
    c.w = alloc_f(c.n_w);
    c.b = alloc_f(cout);
    c.out = alloc_f(c.n_out);
    c.r = alloc_f(c.n_out);
    c.scratch = alloc_f(invcsi_conv2d_scratch_floats(&c.s));
    fill_normal(c.in, c.n_in, 1.0);
    fill_normal(c.w, c.n_w, 1.0 / sqrt((double)cin * kh * kw));
    fill_normal(c.b, cout, 0.5);
    fill_normal(c.r, c.n_out, 1.0);
    float *din = alloc_f(c.n_in), *dw = alloc_f(c.n_w), *db = alloc_f(cout);
    int rc = invcsi_conv2d_backward(din, dw, db, c.r, c.in, c.w, &c.s, c.scratch, &err);
    CHECK(rc == 0, "conv2d_backward: %s", err.msg);

    char label[96];
    printf("conv2d B%d %d->%d %dx%d kernel %dx%d\n", batch, cin, cout, h, w, kh, kw);
    snprintf(label, sizeof label, "dinput");
    gradcheck(label, conv_loss, &c, c.in, c.n_in, din, 1e-2f, in_stride);
    gradcheck("dweight", conv_loss, &c, c.w, c.n_w, dw, 1e-2f, 1);
    gradcheck("dbias", conv_loss, &c, c.b, cout, db, 1e-2f, 1);
    free(c.in), free(c.w), free(c.b), free(c.out), free(c.r), free(c.scratch);
    free(din), free(dw), free(db);
}

/* ---- dense ----------------------------------------------------------------------------- */

struct dense_ctx {
    int batch, in_dim, out_dim;
    float *in, *w, *b, *out, *r;
};

static double dense_loss(void *p)
{
    struct dense_ctx *c = p;
    int rc = invcsi_dense_forward(c->out, c->in, c->w, c->b, c->batch, c->in_dim, c->out_dim,
                                  NULL);
    CHECK(rc == 0, "dense_forward failed");
    return project(c->out, c->r, (long)c->batch * c->out_dim);
}

static void check_dense(int batch, int in_dim, int out_dim)
{
    struct dense_ctx c = {batch, in_dim, out_dim, NULL, NULL, NULL, NULL, NULL};
    const long n_in = (long)batch * in_dim, n_w = (long)in_dim * out_dim,
               n_out = (long)batch * out_dim;
    c.in = alloc_f(n_in), c.w = alloc_f(n_w), c.b = alloc_f(out_dim);
    c.out = alloc_f(n_out), c.r = alloc_f(n_out);
    fill_normal(c.in, n_in, 1.0);
    fill_normal(c.w, n_w, 1.0 / sqrt(in_dim));
    fill_normal(c.b, out_dim, 0.5);
    fill_normal(c.r, n_out, 1.0);
    float *din = alloc_f(n_in), *dw = alloc_f(n_w), *db = alloc_f(out_dim);
    invcsi_error err;
    int rc = invcsi_dense_backward(din, dw, db, c.r, c.in, c.w, batch, in_dim, out_dim, &err);
    CHECK(rc == 0, "dense_backward: %s", err.msg);
    printf("dense B%d %d->%d\n", batch, in_dim, out_dim);
    gradcheck("dinput", dense_loss, &c, c.in, n_in, din, 1e-2f, 1);
    gradcheck("dweight", dense_loss, &c, c.w, n_w, dw, 1e-2f, 1);
    gradcheck("dbias", dense_loss, &c, c.b, out_dim, db, 1e-2f, 1);
    free(c.in), free(c.w), free(c.b), free(c.out), free(c.r), free(din), free(dw), free(db);
}

/* ---- element-wise activations ---------------------------------------------------------- */

enum act_kind { ACT_LEAKY, ACT_SIGMOID, ACT_TANH, ACT_SOFT_CLAMP };

struct act_ctx {
    enum act_kind kind;
    float param;
    long n;
    float *in, *out, *r;
};

static void act_forward(struct act_ctx *c)
{
    switch (c->kind) {
    case ACT_LEAKY: invcsi_leaky_relu_forward(c->out, c->in, c->n, c->param); break;
    case ACT_SIGMOID: invcsi_sigmoid_forward(c->out, c->in, c->n); break;
    case ACT_TANH: invcsi_tanh_forward(c->out, c->in, c->n); break;
    case ACT_SOFT_CLAMP: invcsi_soft_clamp_forward(c->out, c->in, c->n, c->param); break;
    }
}

static double act_loss(void *p)
{
    struct act_ctx *c = p;
    act_forward(c);
    return project(c->out, c->r, c->n);
}

static void check_activation(const char *name, enum act_kind kind, float param)
{
    struct act_ctx c = {kind, param, 64, NULL, NULL, NULL};
    c.in = alloc_f(c.n), c.out = alloc_f(c.n), c.r = alloc_f(c.n);
    for (long i = 0; i < c.n; i++) {
        /* O(1) values, kept >= 0.05 away from 0 (the LeakyReLU kink), both signs */
        double u = 0.05 + fabs(1.5 * invcsi_rng_normal(&rng));
        c.in[i] = (float)(i % 2 ? -u : u);
    }
    fill_normal(c.r, c.n, 1.0);
    act_forward(&c); /* the backward of sigmoid/tanh needs the output */
    float *din = alloc_f(c.n);
    switch (kind) {
    case ACT_LEAKY: invcsi_leaky_relu_backward(din, c.r, c.in, c.n, param); break;
    case ACT_SIGMOID: invcsi_sigmoid_backward(din, c.r, c.out, c.n); break;
    case ACT_TANH: invcsi_tanh_backward(din, c.r, c.out, c.n); break;
    case ACT_SOFT_CLAMP: invcsi_soft_clamp_backward(din, c.r, c.in, c.n, param); break;
    }
    printf("%s\n", name);
    gradcheck("dinput", act_loss, &c, c.in, c.n, din, 1e-3f, 1);
    free(c.in), free(c.out), free(c.r), free(din);
}

/* ---- batchnorm2d, training mode --------------------------------------------------------- */

struct bn_ctx {
    int batch, channels, spatial;
    float *in, *gamma, *beta, *out, *r, *mean, *invstd;
};

static double bn_loss(void *p)
{
    struct bn_ctx *c = p;
    int rc = invcsi_batchnorm2d_forward_train(c->out, c->mean, c->invstd, NULL, NULL, c->in,
                                              c->gamma, c->beta, c->batch, c->channels,
                                              c->spatial, INVCSI_BN_MOMENTUM, INVCSI_BN_EPS,
                                              NULL);
    CHECK(rc == 0, "batchnorm2d_forward_train failed");
    return project(c->out, c->r, (long)c->batch * c->channels * c->spatial);
}

static void check_batchnorm(int batch, int channels, int spatial)
{
    struct bn_ctx c = {batch, channels, spatial, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    const long n = (long)batch * channels * spatial;
    c.in = alloc_f(n), c.out = alloc_f(n), c.r = alloc_f(n);
    c.gamma = alloc_f(channels), c.beta = alloc_f(channels);
    c.mean = alloc_f(channels), c.invstd = alloc_f(channels);
    fill_normal(c.in, n, 1.0);
    for (long i = 0; i < n; i++)
        c.in[i] += 0.5f * (float)((i / spatial) % channels); /* per-channel offsets */
    for (int k = 0; k < channels; k++) {
        c.gamma[k] = (float)(1.0 + 0.5 * invcsi_rng_normal(&rng));
        c.beta[k] = (float)(0.5 * invcsi_rng_normal(&rng));
    }
    fill_normal(c.r, n, 1.0);
    bn_loss(&c); /* fills the saved mean/invstd */
    float *din = alloc_f(n), *dg = alloc_f(channels), *dbeta = alloc_f(channels);
    invcsi_error err;
    int rc = invcsi_batchnorm2d_backward(din, dg, dbeta, c.r, c.in, c.gamma, c.mean, c.invstd,
                                         batch, channels, spatial, &err);
    CHECK(rc == 0, "batchnorm2d_backward: %s", err.msg);
    printf("batchnorm2d train B%d C%d S%d\n", batch, channels, spatial);
    gradcheck("dinput", bn_loss, &c, c.in, n, din, 1e-3f, 1);
    gradcheck("dgamma", bn_loss, &c, c.gamma, channels, dg, 1e-3f, 1);
    gradcheck("dbeta", bn_loss, &c, c.beta, channels, dbeta, 1e-3f, 1);
    free(c.in), free(c.out), free(c.r), free(c.gamma), free(c.beta), free(c.mean);
    free(c.invstd), free(din), free(dg), free(dbeta);
}

/* ---- MSE ---------------------------------------------------------------------------------- */

struct mse_ctx {
    long n;
    float dloss;
    float *pred, *target;
};

static double mse_loss(void *p)
{
    struct mse_ctx *c = p;
    float l = 0.0f;
    CHECK(invcsi_mse_forward(&l, c->pred, c->target, c->n, NULL) == 0, "mse_forward failed");
    return (double)c->dloss * l;
}

static void check_mse(void)
{
    struct mse_ctx c = {40, 0.7f, NULL, NULL};
    c.pred = alloc_f(c.n), c.target = alloc_f(c.n);
    fill_normal(c.pred, c.n, 1.0);
    fill_normal(c.target, c.n, 1.0);
    float *dp = alloc_f(c.n), *dt = alloc_f(c.n);
    invcsi_error err;
    CHECK(invcsi_mse_backward(dp, dt, c.dloss, c.pred, c.target, c.n, &err) == 0, "%s", err.msg);
    printf("mse n%ld, loss weight %.1f\n", c.n, c.dloss);
    gradcheck("dpred", mse_loss, &c, c.pred, c.n, dp, 1e-2f, 1); /* quadratic: FD exact */
    gradcheck("dtarget", mse_loss, &c, c.target, c.n, dt, 1e-2f, 1);
    free(c.pred), free(c.target), free(dp), free(dt);
}

/* ---- MMD ---------------------------------------------------------------------------------- */

struct mmd_ctx {
    int n, dim, n_c;
    const float *c_list;
    float dloss;
    float *a, *b, *scratch;
};

static double mmd_loss(void *p)
{
    struct mmd_ctx *c = p;
    float l = 0.0f;
    int rc = invcsi_mmd_imq_forward(&l, c->a, c->b, c->n, c->dim, c->c_list, c->n_c, c->scratch,
                                    NULL);
    CHECK(rc == 0, "mmd_imq_forward failed");
    return (double)c->dloss * l;
}

static void check_mmd(int n, int dim, const float *c_list, int n_c, double shift)
{
    struct mmd_ctx c = {n, dim, n_c, c_list, 1.3f, NULL, NULL, NULL};
    const long len = (long)n * dim;
    c.a = alloc_f(len), c.b = alloc_f(len);
    c.scratch = alloc_f(invcsi_mmd_scratch_floats(n));
    fill_normal(c.a, len, 1.0);
    fill_normal(c.b, len, 1.0);
    for (long i = 0; i < len; i++)
        c.b[i] += (float)shift;
    float *da = alloc_f(len), *db = alloc_f(len), *da_only = alloc_f(len);
    invcsi_error err;
    mmd_loss(&c); /* the backward reads the distances the forward kept */
    CHECK(invcsi_mmd_imq_backward(da, db, c.dloss, c.a, c.b, n, dim, c_list, n_c, c.scratch,
                                  &err) == 0,
          "%s", err.msg);
    /* NULL for the stop-gradient side gives the same gradient on the other side */
    CHECK(invcsi_mmd_imq_backward(da_only, NULL, c.dloss, c.a, c.b, n, dim, c_list, n_c,
                                  c.scratch, &err) == 0,
          "%s", err.msg);
    double diff = 0.0;
    for (long i = 0; i < len; i++)
        diff = fmax(diff, fabs(da[i] - da_only[i]));
    CHECK(diff == 0.0, "mmd: da with db == NULL differs by %g", diff);
    printf("mmd imq N%d D%d, %d kernel constant(s)%s, loss weight %.1f\n", n, dim,
           n_c ? n_c : 1, n_c ? "" : " (default 2*dim)", c.dloss);
    /* eps 1e-2: MMD gradients are ~1e-2 and the float distance GEMM adds ~1e-7 absolute
     * noise to L; the truncation error (~eps^2) stays below 1e-4 relative. */
    gradcheck("d/da", mmd_loss, &c, c.a, len, da, 1e-2f, 1);
    gradcheck("d/db", mmd_loss, &c, c.b, len, db, 1e-2f, 1);
    free(c.a), free(c.b), free(c.scratch), free(da), free(db), free(da_only);
}

int main(void)
{
    invcsi_rng_init(&rng, 20240611, 0);

    /* conv: small maps (several samples per GEMM, incl. a partial last chunk: 67 = 4 x 16 + 3
     * for 4x4 maps), large maps (one sample per GEMM), 1x1 (both paths), 1x9, 9x1, and a
     * 5x5 kernel larger than its 3x4 map */
    check_conv(3, 3, 4, 5, 6, 3, 3, 1);
    check_conv(67, 2, 3, 4, 4, 3, 3, 7);
    check_conv(2, 2, 2, 32, 33, 3, 3, 13);
    check_conv(3, 4, 3, 5, 5, 1, 1, 1);
    check_conv(2, 3, 2, 32, 32, 1, 1, 11);
    check_conv(2, 2, 3, 6, 11, 1, 9, 1);
    check_conv(2, 2, 2, 11, 5, 9, 1, 1);
    check_conv(2, 2, 2, 3, 4, 5, 5, 1);

    check_dense(4, 7, 5);
    check_dense(1, 13, 3);

    check_activation("leaky_relu slope 0.01", ACT_LEAKY, INVCSI_LEAKY_SLOPE_INN);
    check_activation("leaky_relu slope 0.3", ACT_LEAKY, INVCSI_LEAKY_SLOPE_CSINET);
    check_activation("sigmoid", ACT_SIGMOID, 0.0f);
    check_activation("tanh", ACT_TANH, 0.0f);
    check_activation("soft clamp 2", ACT_SOFT_CLAMP, INVCSI_SOFT_CLAMP_DEFAULT);

    check_batchnorm(3, 2, 5);
    check_batchnorm(4, 3, 1); /* dense-style BN: one value per sample and channel */

    check_mse();

    const float c_multi[3] = {0.5f, 2.0f, 10.0f};
    check_mmd(6, 5, NULL, 0, 0.0);
    check_mmd(7, 4, c_multi, 3, 0.7);

    return check_done("test_nn_gradcheck");
}
