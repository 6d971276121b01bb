/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The FLOP/byte counting of include/invcsi/flops.h:
 *   - a conv's and a dense layer's FLOPs equal their closed forms (and a brute-force count
 *     of the multiply-adds a direct 'same' convolution executes, padding taps included);
 *   - the layer walk visits exactly the model's parameters: for a training step the
 *     total equals invcsi_model_param_count(m, 1) (inn, csinet, invcsinet); for a decode,
 *     the decoder's own tensors (CsiNet dec.*, everything but log_sigma for InvCSINet);
 *   - parameter bytes: CsiNet's forward reads every parameter once (4 bytes each), the
 *     INN's twice (its forward and inverse passes), Adam reads and writes each trainable
 *     one (8 bytes);
 *   - the INN decoder's conv FLOPs equal sum over its convs of G (2 weights + biases),
 *     G = the patch grid, from the parameter table alone;
 *   - counts scale linearly in the batch where they must; freeze_inn removes weight
 *     gradients; the roofline time of a row is max(FLOP time, byte time);
 *   - against the real execution: this program defines cblas_sgemm (the executable's
 *     definition interposes on OpenBLAS's for libinvcsi, and forwards to it), counts
 *     2 M N K of every GEMM one real training step and one real decode make, and checks
 *     the walk's GEMM FLOPs equal them exactly (inn with patch, klt and permutations,
 *     csinet, invcsinet, freeze_inn).
 */
#include "check.h"

#include <cblas.h>
#include <dlfcn.h>
#include <string.h>

#include "invcsi/flops.h"
#include "invcsi/model.h"
#include "invcsi/nn.h"
#include "invcsi/rng.h"
#include "invcsi/train.h"

/* ---- GEMM counter (interposes cblas_sgemm, forwards to the next definition) ---------- */

static long long gemm_macs;  /* sum of M N K; atomic: GEMMs may run in OpenMP regions */
static long long gemm_calls;

typedef void (*sgemm_fn)(const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE,
                         const enum CBLAS_TRANSPOSE, const blasint, const blasint, const blasint,
                         const float, const float *, const blasint, const float *, const blasint,
                         const float, float *, const blasint);

void cblas_sgemm(const enum CBLAS_ORDER Order, const enum CBLAS_TRANSPOSE TransA,
                 const enum CBLAS_TRANSPOSE TransB, const blasint M, const blasint N,
                 const blasint K, const float alpha, const float *A, const blasint lda,
                 const float *B, const blasint ldb, const float beta, float *C,
                 const blasint ldc)
{
    static sgemm_fn next;
    if (!next)
        next = (sgemm_fn)dlsym(RTLD_NEXT, "cblas_sgemm");
    __atomic_fetch_add(&gemm_macs, (long long)M * N * K, __ATOMIC_RELAXED);
    __atomic_fetch_add(&gemm_calls, 1, __ATOMIC_RELAXED);
    next(Order, TransA, TransB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* Multiply-adds of a direct stride-1 'same' conv, counted tap by tap (zero taps too). */
static double brute_force_macs(const invcsi_conv2d_shape *s)
{
    double macs = 0;
    for (int b = 0; b < s->batch; b++)
        for (int co = 0; co < s->out_ch; co++)
            for (int y = 0; y < s->height; y++)
                for (int x = 0; x < s->width; x++)
                    for (int ci = 0; ci < s->in_ch; ci++)
                        for (int i = 0; i < s->kh; i++)
                            for (int j = 0; j < s->kw; j++)
                                macs += 1.0;
    return macs;
}

static void test_closed_forms(void)
{
    const invcsi_conv2d_shape s = {3, 5, 7, 4, 6, 3, 3};
    /* 2 B H W Cout Cin kh kw + B H W Cout */
    const double fwd = 2.0 * 3 * 4 * 6 * 7 * 5 * 9 + 3 * 4 * 6 * 7;
    CHECK_CLOSE(invcsi_conv2d_flops_forward(&s, 1), fwd, 0, "conv forward with bias");
    CHECK_CLOSE(invcsi_conv2d_flops_forward(&s, 1), 45864.0, 0, "conv forward, by hand");
    CHECK_CLOSE(invcsi_conv2d_flops_forward(&s, 0), 2.0 * brute_force_macs(&s), 0,
                "conv forward = 2 x brute-force multiply-adds");
    CHECK_CLOSE(invcsi_conv2d_flops_backward(&s, 1, 1, 1), 2.0 * (fwd - 504) + 504, 0,
                "conv backward: dinput + dweight + dbias");
    CHECK_CLOSE(invcsi_conv2d_flops_backward(&s, 0, 1, 1), fwd, 0, "conv backward dweight only");
    CHECK_CLOSE(invcsi_conv2d_flops_backward(&s, 1, 0, 1), fwd - 504, 0,
                "conv backward dinput only");
    const invcsi_conv2d_shape t = {2, 3, 4, 5, 9, 1, 9}; /* a 1x9 kernel */
    CHECK_CLOSE(invcsi_conv2d_flops_forward(&t, 0), 2.0 * brute_force_macs(&t), 0, "1x9 conv");

    /* dense: 2 B in out + B out */
    CHECK_CLOSE(invcsi_dense_flops_forward(8, 2048, 512, 1), 2.0 * 8 * 2048 * 512 + 8 * 512, 0,
                "dense forward");
    CHECK_CLOSE(invcsi_dense_flops_backward(8, 2048, 512, 1, 1, 1),
                4.0 * 8 * 2048 * 512 + 8 * 512, 0, "dense backward");
}

static invcsi_model *make(const char *kind, double cr, int freeze)
{
    invcsi_model_config cfg;
    invcsi_error err;
    invcsi_error_clear(&err);
    invcsi_model *m = NULL;
    int rc = invcsi_model_config_default(&cfg, kind, 1, 32, 32, cr, &err);
    if (rc == INVCSI_OK && freeze)
        cfg.freeze_inn = 1;
    if (rc == INVCSI_OK && !strcmp(kind, "invcsinet"))
        cfg.bits = 3;
    if (rc == INVCSI_OK)
        rc = invcsi_model_create(&m, &cfg, 2, &err);
    CHECK(rc == INVCSI_OK && m, "create %s: %s", kind, err.msg);
    return m;
}

static double phase_sum(const invcsi_cost *c, const char *op, int phase)
{
    double f = 0;
    for (int i = 0; i < c->n_rows; i++)
        if (c->rows[i].phase == phase && !strcmp(c->rows[i].op, op))
            f += c->rows[i].flops;
    return f;
}

/* Sum of the counts of the tensors whose name starts with prefix (frozen ones skipped). */
static long tensors_with_prefix(const invcsi_model *m, const char *prefix, const char *except)
{
    long n = 0;
    for (int i = 0; i < m->params.n_tensors; i++) {
        const invcsi_tensor *t = &m->params.tensors[i];
        if (t->frozen || strncmp(t->name, prefix, strlen(prefix)) != 0)
            continue;
        if (except && strstr(t->name, except))
            continue;
        n += (long)t->count;
    }
    return n;
}

static void test_model(const char *kind, double cr)
{
    invcsi_model *m = make(kind, cr, 0);
    if (!m)
        return;
    invcsi_error err;
    invcsi_error_clear(&err);
    const long n = invcsi_model_param_count(m, 1);
    invcsi_cost c, d1, d8;
    int rc = invcsi_cost_train_step(m, 16, &c, &err);
    CHECK(rc == INVCSI_OK, "%s train cost: %s", kind, err.msg);
    rc = invcsi_cost_decode(m, 1, &d1, &err);
    CHECK(rc == INVCSI_OK, "%s decode cost: %s", kind, err.msg);
    rc = invcsi_cost_decode(m, 8, &d8, &err);
    CHECK(rc == INVCSI_OK, "%s decode cost b8: %s", kind, err.msg);
    if (rc != INVCSI_OK) {
        invcsi_model_destroy(m);
        return;
    }
    CHECK(c.params_walked == n, "%s cr %g: walk visits %ld parameters, the model has %ld", kind,
          cr, c.params_walked, n);
    CHECK(c.params_trainable == n, "%s: Adam sweeps %ld, trainable %ld", kind,
          c.params_trainable, n);
    CHECK_CLOSE(c.param_bytes[INVCSI_COST_UPDATE], 8.0 * n, 0, "Adam reads + writes each parameter");
    CHECK(c.flops[INVCSI_COST_BACKWARD] > c.flops[INVCSI_COST_FORWARD],
          "%s: backward %g FLOPs not above forward %g", kind, c.flops[INVCSI_COST_BACKWARD],
          c.flops[INVCSI_COST_FORWARD]);
    for (int i = 0; i < c.n_rows; i++) {
        const invcsi_cost_row *r = &c.rows[i];
        CHECK(r->flops >= 0 && r->bytes > 0 &&
                  fabs(r->bytes - (r->param_bytes + r->act_bytes + r->grad_bytes + r->opt_bytes)) <
                      1e-6 * r->bytes,
              "%s row %s: flops %g bytes %g", kind, r->name, r->flops, r->bytes);
    }
    /* conv/dense FLOPs are linear in the batch */
    CHECK_CLOSE(phase_sum(&d8, "conv3x3", 0) + phase_sum(&d8, "dense", 0),
                8.0 * (phase_sum(&d1, "conv3x3", 0) + phase_sum(&d1, "dense", 0)),
                1e-9 * d8.flops[0], "decode conv+dense FLOPs linear in the batch");

    if (!strcmp(kind, "csinet")) {
        CHECK_CLOSE(c.param_bytes[INVCSI_COST_FORWARD], 4.0 * n, 0,
                    "csinet forward reads every parameter once");
        const long dec = tensors_with_prefix(m, "dec.", NULL);
        CHECK(d1.params_walked == dec, "csinet decoder walk %ld vs dec.* tensors %ld",
              d1.params_walked, dec);
    } else if (!strcmp(kind, "inn")) {
        CHECK_CLOSE(c.param_bytes[INVCSI_COST_FORWARD], 8.0 * n, 0,
                    "inn forward + inverse read every parameter twice");
        CHECK(d1.params_walked == n, "inn decoder walk %ld vs %ld", d1.params_walked, n);
        /* every conv applies each weight at G grid positions and adds its bias there */
        const double G = (32.0 / m->cfg.patch) * (32.0 / m->cfg.patch);
        double w = 0, b = 0;
        for (int i = 0; i < m->params.n_tensors; i++) {
            const invcsi_tensor *t = &m->params.tensors[i];
            if (t->rank == 4)
                w += (double)t->count;
            else if (strstr(t->name, ".bias"))
                b += (double)t->count;
        }
        CHECK_CLOSE(phase_sum(&d1, "conv3x3", 0), G * (2.0 * w + b), 0,
                    "inn decoder conv FLOPs = G (2 weights + biases)");
    } else {
        const long aux = m->cfg.dim - m->cfg.m;
        CHECK(d1.params_walked == n - aux,
              "invcsinet decoder walk %ld vs %ld - log_sigma %ld", d1.params_walked, n, aux);
        CHECK(tensors_with_prefix(m, "ic.z.log_sigma", NULL) == aux, "log_sigma has aux values");
    }
    invcsi_cost_free(&c);
    invcsi_cost_free(&d1);
    invcsi_cost_free(&d8);
    invcsi_model_destroy(m);
}

static void test_freeze(void)
{
    invcsi_model *a = make("invcsinet", 1.0 / 16, 0), *b = make("invcsinet", 1.0 / 16, 1);
    if (!a || !b)
        return;
    invcsi_cost ca, cb;
    int rc = invcsi_cost_train_step(a, 8, &ca, NULL);
    rc |= invcsi_cost_train_step(b, 8, &cb, NULL);
    CHECK(rc == INVCSI_OK, "freeze costs");
    if (rc == INVCSI_OK) {
        CHECK(cb.params_walked == ca.params_walked, "same layers walked");
        CHECK(cb.params_trainable == invcsi_model_param_count(b, 1) &&
                  cb.params_trainable < ca.params_trainable,
              "frozen INN: Adam sweeps %ld of %ld", cb.params_trainable, ca.params_trainable);
        CHECK(cb.flops[INVCSI_COST_BACKWARD] < 0.5 * ca.flops[INVCSI_COST_BACKWARD],
              "frozen INN: backward %g vs %g FLOPs (no INN backward pass, no weight grads)",
              cb.flops[INVCSI_COST_BACKWARD], ca.flops[INVCSI_COST_BACKWARD]);
        CHECK_CLOSE(cb.flops[INVCSI_COST_FORWARD], ca.flops[INVCSI_COST_FORWARD], 0,
                    "forward unchanged by freezing");
    }
    invcsi_cost_free(&ca);
    invcsi_cost_free(&cb);
    invcsi_model_destroy(a);
    invcsi_model_destroy(b);
}

static void test_roofline(void)
{
    invcsi_cost_row r;
    memset(&r, 0, sizeof r);
    r.flops = 4e9;
    r.bytes = 1e6;
    int cb = -1;
    /* 1 TFLOP/s, 1 GB/s: 4 ms of compute vs 1 ms of memory */
    CHECK_CLOSE(invcsi_roofline_row_time(&r, 1e12, 1e9, &cb), 4e-3, 1e-15, "compute-bound row");
    CHECK(cb == 1, "compute-bound flag");
    r.bytes = 1e7;
    CHECK_CLOSE(invcsi_roofline_row_time(&r, 1e12, 1e9, &cb), 1e-2, 1e-15, "memory-bound row");
    CHECK(cb == 0, "memory-bound flag");

    invcsi_error err;
    invcsi_error_clear(&err);
    invcsi_model *m = make("inn", 1.0 / 16, 0);
    if (!m)
        return;
    invcsi_cost c;
    CHECK(invcsi_cost_train_step(m, 1, &c, &err) == INVCSI_EINVAL && strstr(err.msg, "batch"),
          "batch 1 training refused: %s", err.msg);
    CHECK(invcsi_cost_train_step(m, 32, &c, &err) == INVCSI_OK, "cost: %s", err.msg);
    double share;
    const double t1 = invcsi_roofline_time(&c, 7, 8.1e12, 320e9, &share);
    const double t2 = invcsi_roofline_time(&c, 7, 0.5 * 8.1e12, 0.5 * 320e9, NULL);
    CHECK_CLOSE(t2, 2.0 * t1, 1e-12 * t1, "half the rates, twice the time");
    CHECK(share > 0.0 && share < 1.0, "mixed compute/memory-bound step (share %g)", share);
    const double tp = invcsi_roofline_time(&c, 1, 8.1e12, 320e9, NULL) +
                      invcsi_roofline_time(&c, 2, 8.1e12, 320e9, NULL) +
                      invcsi_roofline_time(&c, 4, 8.1e12, 320e9, NULL);
    CHECK_CLOSE(tp, t1, 1e-12 * t1, "phase times add up");
    CHECK(t1 * 8.1e12 >= c.flops[0] + c.flops[1] + c.flops[2] - 1.0,
          "roofline time is at least the FLOP time");
    invcsi_cost_free(&c);
    invcsi_model_destroy(m);
}

/* One real training step and one real decode of a model of this config; their GEMM
 * FLOPs against the counted ones. */
static void test_execution(const char *kind, const char *front, int permute, int freeze,
                           int z_sample)
{
    const int B = 6;
    invcsi_model_config cfg;
    invcsi_error err;
    invcsi_error_clear(&err);
    invcsi_model *m = NULL;
    int rc = invcsi_model_config_default(&cfg, kind, 1, 16, 16, 1.0 / 16, &err);
    if (rc == INVCSI_OK && front)
        snprintf(cfg.front, sizeof cfg.front, "%s", front);
    cfg.permute = permute;
    cfg.freeze_inn = freeze;
    cfg.z_bwd_sample = z_sample;
    if (rc == INVCSI_OK)
        rc = invcsi_model_create(&m, &cfg, B, &err);
    CHECK(rc == INVCSI_OK, "create %s: %s", kind, err.msg);
    if (rc != INVCSI_OK)
        return;
    const int dim = m->cfg.dim, M = m->cfg.m;
    float *x = malloc(sizeof(float) * (size_t)B * dim), *y = malloc(sizeof(float) * (size_t)B * M);
    float *xh = malloc(sizeof(float) * (size_t)B * dim);
    invcsi_rng r;
    invcsi_rng_init(&r, 5, 0);
    for (long i = 0; i < (long)B * dim; i++)
        x[i] = (float)invcsi_rng_normal(&r);

    invcsi_cost c, d;
    rc = invcsi_cost_train_step(m, B, &c, &err);
    CHECK(rc == INVCSI_OK, "count %s: %s", kind, err.msg);
    rc |= invcsi_cost_decode(m, B, &d, &err);
    if (rc == INVCSI_OK) {
        invcsi_losses l;
        gemm_macs = gemm_calls = 0;
        rc = invcsi_train_one_step(m, x, B, &r, 1e-4, 0, &l, &err);
        CHECK(rc == INVCSI_OK, "%s train step: %s", kind, err.msg);
        const double counted = c.gemm_flops[0] + c.gemm_flops[1] + c.gemm_flops[2];
        CHECK(gemm_calls > 0 && 2.0 * (double)gemm_macs == counted,
              "%s front %s permute %d freeze %d z_sample %d: training step executed %lld GEMMs "
              "of %.0f FLOPs, the walk counts %.0f",
              kind, front ? front : "-", permute, freeze, z_sample, gemm_calls,
              2.0 * (double)gemm_macs, counted);
        for (long i = 0; i < (long)B * M; i++)
            y[i] = 0.3f * (float)invcsi_rng_normal(&r);
        gemm_macs = gemm_calls = 0;
        rc = m->ops->decode(m, y, B, xh, &err);
        CHECK(rc == INVCSI_OK, "%s decode: %s", kind, err.msg);
        CHECK(gemm_calls > 0 && 2.0 * (double)gemm_macs == d.gemm_flops[0],
              "%s decode executed %.0f GEMM FLOPs, the walk counts %.0f", kind,
              2.0 * (double)gemm_macs, d.gemm_flops[0]);
    }
    invcsi_cost_free(&c);
    invcsi_cost_free(&d);
    free(x);
    free(y);
    free(xh);
    invcsi_model_destroy(m);
}

int main(void)
{
    test_closed_forms();
    test_model("inn", 1.0 / 16);
    test_model("inn", 1.0 / 4);
    test_model("csinet", 1.0 / 4);
    test_model("csinet", 1.0 / 16);
    test_model("invcsinet", 1.0 / 16);
    test_model("invcsinet", 1.0 / 64);
    test_freeze();
    test_roofline();
    test_execution("inn", NULL, 0, 0, 0);
    test_execution("inn", "klt", 1, 0, 1);
    test_execution("inn", "energy", 1, 0, 0);
    test_execution("csinet", NULL, 0, 0, 0);
    test_execution("invcsinet", NULL, 0, 0, 0);
    test_execution("invcsinet", NULL, 1, 1, 1);
    return check_done("test_flops");
}
