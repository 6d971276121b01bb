/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * One INN training step on CUDA against the same step on the CPU (ctest label gpu,
 * `make test-gpu`). NOT RUN BY THIS PROJECT: the machine it was written on has no GPU; here
 * it skips (77) with one line. On a GPU:
 *   1. The same INN (CR 1/16 of a 1 x 32 x 32 channel, patch 8, 3 blocks, width 24, the
 *      default config; batch 64) is built twice from one seed and given one
 *      invcsi_train_one_step on the same batch and noise: on the CPU table, and on CUDA
 *      (invcsi_model_use_backend: parameters/gradients/Adam state in one cudaMalloc,
 *      activations in another, the step captured as a CUDA graph).
 *      Tolerances, and why: the CUDA kernels contract a*b+c into FMA, use the device
 *      expf, and cuBLAS sums the GEMMs in another order than OpenBLAS, so values agree to
 *      float rounding amplified by the depth of the network (3 blocks x 3 subnets x 4
 *      convs, forward, inverse and both backwards), not bit for bit:
 *        losses (MMD, MSE, NMSE sum):                relative 1e-3
 *        every parameter tensor after Adam:          max |cuda - cpu| <= 1e-5 + 1e-3 |cpu|
 *                                                    (Adam moves each weight by <= lr =
 *                                                    1e-3; this is 1 % of that step)
 *        every gradient tensor:                      max |d| <= 1e-3 max|g_cpu| + 1e-7
 *   2. Graph replay: a second CUDA model takes step 1 (captured), then step 2 replayed from
 *      the graph; a third takes both steps on a copy of the CUDA table whose run_step runs
 *      the step eagerly (same kernels, same stream, no graph). Step 2 of both must agree
 *      BIT FOR BIT (the graph replays exactly the launches it recorded; cuBLAS is
 *      deterministic for one handle, stream and shape).
 */
#include "check.h"
#include "invcsi/backend.h"
#include "invcsi/model.h"
#include "invcsi/params.h"
#include "invcsi/rng.h"
#include "invcsi/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { BATCH = 64 };

static int eager(void **graph, long key, invcsi_step_fn fn, void *ctx, invcsi_error *err)
{
    (void)graph;
    (void)key;
    return fn(ctx, err);
}

static invcsi_model *make(const invcsi_model_config *cfg, const invcsi_backend *be)
{
    invcsi_error err;
    invcsi_model *m = NULL;
    int rc = invcsi_model_create(&m, cfg, BATCH, &err);
    CHECK(rc == INVCSI_OK, "create: %s", err.msg);
    if (rc != INVCSI_OK)
        return NULL;
    rc = invcsi_model_use_backend(m, be, &err);
    CHECK(rc == INVCSI_OK, "use backend %s: %s", be->name, err.msg);
    return m;
}

static int step(invcsi_model *m, const float *x, long s, invcsi_losses *l)
{
    invcsi_error err;
    invcsi_rng r;
    invcsi_rng_init(&r, m->cfg.seed, 5000 + (uint64_t)s);
    int rc = invcsi_train_one_step(m, x, BATCH, &r, 1e-3, s, l, &err);
    CHECK(rc == INVCSI_OK, "step %ld on %s: %s", s + 1,
          m->params.be ? m->params.be->name : "cpu", err.msg);
    if (rc == INVCSI_OK && m->params.dev) {
        rc = invcsi_params_to_host(&m->params, &err);
        CHECK(rc == INVCSI_OK, "to_host: %s", err.msg);
    }
    return rc;
}

static void rel_close(double a, double b, double tol, const char *what)
{
    CHECK(fabs(a - b) <= tol * fmax(fabs(a), 1e-30), "%s: cpu %.9g cuda %.9g (rel tol %g)",
          what, a, b, tol);
}

int main(void)
{
    const invcsi_backend *cuda = NULL;
    invcsi_error err;
    if (invcsi_backend_select("cuda", &cuda, &err) != INVCSI_OK)
        SKIP("no usable CUDA device, the CUDA INN training step was not run: %s", err.msg);
    invcsi_set_threads(1);

    invcsi_model_config cfg;
    invcsi_model_config_default(&cfg, "inn", 1, 32, 32, 1.0 / 16, &err);
    cfg.seed = 3;
    float *x = malloc(sizeof(float) * (size_t)BATCH * cfg.dim * 2);
    invcsi_rng r;
    invcsi_rng_init(&r, 9, 0);
    for (long i = 0; i < (long)BATCH * cfg.dim * 2; i++)
        x[i] = (float)invcsi_rng_normal(&r);

    /* 1. CUDA vs CPU, one step */
    invcsi_model *c = make(&cfg, invcsi_backend_cpu()), *g = make(&cfg, cuda);
    if (!c || !g)
        return check_done("test_gpu_train_step");
    invcsi_losses lc, lg;
    if (step(c, x, 0, &lc) == INVCSI_OK && step(g, x, 0, &lg) == INVCSI_OK) {
        rel_close(lc.mmd, lg.mmd, 1e-3, "MMD");
        rel_close(lc.mse, lg.mse, 1e-3, "MSE");
        rel_close(lc.nmse_sum, lg.nmse_sum, 1e-3, "NMSE sum");
        const invcsi_params *pc = &c->params, *pg = &g->params;
        int bad = 0;
        for (int t = 0; t < pc->n_tensors; t++) {
            const invcsi_tensor *tt = &pc->tensors[t];
            double dmax = 0.0, gmax = 0.0, gdiff = 0.0;
            int ok = 1;
            for (size_t i = 0; i < tt->count; i++) {
                const double a = pc->data[tt->offset + i], b = pg->data[tt->offset + i];
                if (!(fabs(a - b) <= 1e-5 + 1e-3 * fabs(a)))
                    ok = 0;
                dmax = fmax(dmax, fabs(a - b));
                gmax = fmax(gmax, fabs(pc->grad[tt->offset + i]));
                gdiff = fmax(gdiff, fabs(pc->grad[tt->offset + i] - pg->grad[tt->offset + i]));
            }
            CHECK(ok, "tensor %s after Adam: max |cuda - cpu| %.3g", tt->name, dmax);
            CHECK(gdiff <= 1e-3 * gmax + 1e-7, "gradient of %s: max diff %.3g of max %.3g",
                  tt->name, gdiff, gmax);
            bad += !ok;
        }
        printf("step 1: losses cpu %.9g / cuda %.9g; %d of %d tensors outside tolerance\n",
               lc.total, lg.total, bad, pc->n_tensors);
    }
    invcsi_model_destroy(c);
    invcsi_model_destroy(g);

    /* 2. graph replay of step 2 == eager step 2, bit for bit */
    invcsi_backend cuda_eager = *cuda;
    cuda_eager.run_step = eager;
    invcsi_model *gr = make(&cfg, cuda), *ge = make(&cfg, &cuda_eager);
    if (gr && ge) {
        invcsi_losses a1, a2, b1, b2;
        step(gr, x, 0, &a1);
        step(gr, x + (long)BATCH * cfg.dim, 1, &a2); /* replayed graph */
        step(ge, x, 0, &b1);
        step(ge, x + (long)BATCH * cfg.dim, 1, &b2); /* eager */
        CHECK(a2.total == b2.total, "step 2 loss: graph %.17g, eager %.17g", a2.total,
              b2.total);
        CHECK(memcmp(gr->params.data, ge->params.data,
                     sizeof(float) * 4 * gr->params.total) == 0,
              "step 2: graph replay and eager step differ in the parameters or Adam state");
    }
    invcsi_model_destroy(gr);
    invcsi_model_destroy(ge);
    free(x);
    return check_done("test_gpu_train_step");
}
