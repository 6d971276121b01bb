/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The device-resident INN training step (include/invcsi/backend.h, "WHAT IS WIRED UP"),
 * proven on the CPU: the same small INN is built twice with the same seed and trained for
 * three steps (zero grad, forward, losses, backward, Adam; invcsi_train_one_step)
 *   (a) on the plain CPU table (host-resident parameters, kernels run as plain loops), and
 *   (b) on a test table "emu" whose kernel entries are the HOST LAUNCH EMULATOR of the CUDA
 *       kernels (kernels/launch_emu.h: each kernel's own grid-stride wrapper body run over
 *       its whole grid, blockIdx/threadIdx as loop variables), whose memory is a separate
 *       arena (a bump allocator over its own block), and which COUNTS host<->device copies,
 *       kernel launches and GEMMs.
 * Asserted:
 *   - after every step the parameters, gradients and both Adam moments of (b), copied back
 *     to the host, equal (a)'s BIT FOR BIT, and so do the three loss values: both tables
 *     run the same kb_<name> bodies in the same item order and the same GEMMs (the
 *     emulator's grid loops visit items in a different order, but every element-wise kernel
 *     writes each output from its own item only, and the one serial/ordered reductions
 *     (row sums, the MMD and SSE sums, which are single-item or per-row kernels) have a fixed
 *     order inside the item), so no tolerance is needed;
 *   - the emulated step made exactly ONE host->device copy (the batch and the step's noise,
 *     staged together) and ONE device->host copy (the loss scalars), i.e. none inside the
 *     layers, and no allocation;
 *   - the host mirror of (b) is poisoned with NaN right after the upload: any layer that
 *     read weights from the host instead of the device arena would make (b) differ;
 *   - step 1 captured (run_step with a new handle), steps 2 and 3 replayed the same handle.
 * Printed: kernel launches, GEMMs and bytes copied per step.
 * Configurations: patch front with channel permutations and sampled z_bwd; KLT front;
 * energy front (gather/scatter kernels) with an odd batch of 7.
 */
#include "check.h"
#include "invcsi/backend.h"
#include "invcsi/inn.h"
#include "invcsi/model.h"
#include "invcsi/rng.h"
#include "invcsi/train.h"
#include "launch_emu.h" /* kernels/: invcsi_emu_<name> */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the counting emulator table --------------------------------------------------------- */

static struct {
    long launches, gemms, up, down, allocs;
    size_t up_bytes, down_bytes;
    long captures, replays;
} g_count;

#define ARENA_BYTES ((size_t)96 << 20)
static unsigned char *g_arena;
static size_t g_arena_used;

#define EMU_TABLE_FN(name, n_expr, params, args)                                               \
    static void emu_k_##name(INVCSI_UNPAREN params)                                            \
    {                                                                                          \
        g_count.launches++;                                                                    \
        invcsi_emu_##name(INVCSI_UNPAREN args);                                                \
    }
INVCSI_ELEMENTWISE_KERNELS(EMU_TABLE_FN)

static void emu_k_sum(const float *x, long n, float *partial, float *result)
{
    g_count.launches += 2; /* the two passes of invcsi_cuda_sum */
    invcsi_emu_sum(x, n, partial, result);
}

#define EMU_TABLE_ENTRY(name, n_expr, params, args) .name = emu_k_##name,
static const invcsi_kernels EMU_KERNELS = {
    INVCSI_ELEMENTWISE_KERNELS(EMU_TABLE_ENTRY).sum = emu_k_sum,
};

static void emu_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                      const float *b, int ldb, float beta, float *c, int ldc)
{
    g_count.gemms++;
    invcsi_backend_cpu()->sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static int emu_alloc(void **ptr, size_t bytes, invcsi_error *err)
{
    const size_t at = (g_arena_used + 63) / 64 * 64;
    if (at + bytes > ARENA_BYTES)
        return invcsi_error_set(err, INVCSI_ENOMEM, "emu arena: %zu bytes do not fit", bytes);
    *ptr = g_arena + at;
    g_arena_used = at + bytes;
    g_count.allocs++;
    return INVCSI_OK;
}

static void emu_free(void *ptr) { (void)ptr; /* bump arena: freed as a whole */ }

static int emu_to_device(void *dst, const void *src, size_t bytes, invcsi_error *err)
{
    (void)err;
    g_count.up++;
    g_count.up_bytes += bytes;
    memcpy(dst, src, bytes);
    return INVCSI_OK;
}

static int emu_to_host(void *dst, const void *src, size_t bytes, invcsi_error *err)
{
    (void)err;
    g_count.down++;
    g_count.down_bytes += bytes;
    memcpy(dst, src, bytes);
    return INVCSI_OK;
}

static int g_graph_token;
static long g_graph_key;

/* Capture emulated: the first call for a handle "captures" (runs fn), later calls with the
 * same key "replay" (run fn again, as a graph launch re-runs the recorded launches). */
static int emu_run_step(void **graph, long key, invcsi_step_fn fn, void *ctx, invcsi_error *err)
{
    if (*graph == &g_graph_token && key == g_graph_key)
        g_count.replays++;
    else
        g_count.captures++;
    *graph = &g_graph_token;
    g_graph_key = key;
    return fn(ctx, err);
}

static void emu_graph_free(void *graph) { (void)graph; }

static invcsi_backend make_emu(void)
{
    invcsi_backend b = *invcsi_backend_cpu();
    b.name = "emu";
    b.caps = INVCSI_BACKEND_CAP_INN;
    b.sgemm = emu_sgemm;
    b.alloc = emu_alloc;
    b.free = emu_free;
    b.copy_to_device = emu_to_device;
    b.copy_to_host = emu_to_host;
    b.kern = &EMU_KERNELS;
    b.run_step = emu_run_step;
    b.graph_free = emu_graph_free;
    return b; /* conv_chunk_columns: the CPU's, so both take the same GEMM shapes */
}

/* ---- the test ---------------------------------------------------------------------------- */

static void fill_data(float *x, long n, uint64_t seed)
{
    invcsi_rng r;
    invcsi_rng_init(&r, seed, 7);
    for (long i = 0; i < n; i++)
        x[i] = (float)(0.7 * invcsi_rng_normal(&r));
}

static void poison(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = NAN;
}

static int same_bits(const float *a, const float *b, size_t n, size_t *first)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0) {
            *first = i;
            return 0;
        }
    return 1;
}

static void run_config(const char *label, const char *front, int permute, int z_bwd_sample,
                       int batch, const invcsi_backend *emu)
{
    enum { STEPS = 3 };
    invcsi_error err;
    invcsi_model_config cfg;
    int rc = invcsi_model_config_default(&cfg, "inn", 1, 16, 16, 1.0 / 16, &err);
    CHECK(rc == INVCSI_OK, "config: %s", err.msg);
    cfg.patch = 4; /* 4 x 4 grid of 4 x 4 patches: 32 channels, M = 32 -> c1 = 2 */
    cfg.blocks = 2;
    cfg.width = 8;
    cfg.permute = permute;
    cfg.z_bwd_sample = z_bwd_sample;
    snprintf(cfg.front, sizeof cfg.front, "%s", front);
    cfg.seed = 11;

    invcsi_model *a = NULL, *b = NULL;
    rc = invcsi_model_create(&a, &cfg, batch, &err);
    CHECK(rc == INVCSI_OK, "%s: create a: %s", label, err.msg);
    rc = invcsi_model_create(&b, &cfg, batch, &err);
    CHECK(rc == INVCSI_OK, "%s: create b: %s", label, err.msg);
    if (!a || !b)
        return;
    const long dim = cfg.dim;
    float *x = malloc(sizeof(float) * (size_t)(batch * dim) * 8);
    fill_data(x, 8L * batch * dim, 3);
    /* randomised weights (the zero-init last convs would hide most of the step) */
    invcsi_inn_init(invcsi_inn_of_model(a), cfg.seed, 0.5f);
    invcsi_inn_init(invcsi_inn_of_model(b), cfg.seed, 0.5f);
    if (a->ops->fit_front) {
        rc = a->ops->fit_front(a, x, 8L * batch, &err);
        CHECK(rc == INVCSI_OK, "%s: fit a: %s", label, err.msg);
        rc = b->ops->fit_front(b, x, 8L * batch, &err);
        CHECK(rc == INVCSI_OK, "%s: fit b: %s", label, err.msg);
    }

    memset(&g_count, 0, sizeof g_count);
    rc = invcsi_model_use_backend(b, emu, &err);
    CHECK(rc == INVCSI_OK, "%s: use emu: %s", label, err.msg);
    if (rc != INVCSI_OK)
        return;
    CHECK(b->params.dev != NULL && b->params.be == emu, "%s: parameters on the emu arena",
          label);
    CHECK(g_count.allocs == 2, "%s: %ld allocations (want 2: parameter arena, activations)",
          label, g_count.allocs);
    CHECK(g_count.up == 1, "%s: %ld uploads of the parameters (want 1)", label, g_count.up);
    invcsi_params *pb = &b->params, *pa = &a->params;
    const size_t total = pa->total;
    /* from here on the host mirror must not be read: poison it */
    poison(pb->data, 4 * total);

    for (int step = 0; step < STEPS; step++) {
        const float *xb = x + (long)(step % 8) * batch * dim;
        invcsi_rng ra, rb;
        invcsi_rng_init(&ra, cfg.seed, 1000 + (uint64_t)step);
        invcsi_rng_init(&rb, cfg.seed, 1000 + (uint64_t)step);
        invcsi_losses la, lb;
        rc = invcsi_train_one_step(a, xb, batch, &ra, 1e-3, step, &la, &err);
        CHECK(rc == INVCSI_OK, "%s step %d: cpu: %s", label, step + 1, err.msg);
        memset(&g_count, 0, sizeof g_count);
        rc = invcsi_train_one_step(b, xb, batch, &rb, 1e-3, step, &lb, &err);
        CHECK(rc == INVCSI_OK, "%s step %d: emu: %s", label, step + 1, err.msg);
        const long launches = g_count.launches, gemms = g_count.gemms;
        CHECK(g_count.up == 1 && g_count.down == 1,
              "%s step %d: %ld uploads, %ld downloads (want 1 and 1)", label, step + 1,
              g_count.up, g_count.down);
        CHECK(g_count.allocs == 0, "%s step %d: %ld allocations in a step", label, step + 1,
              g_count.allocs);
        CHECK(step == 0 ? g_count.captures == 1 : g_count.replays == 1,
              "%s step %d: captures %ld, replays %ld", label, step + 1, g_count.captures,
              g_count.replays);
        printf("%s step %d: %ld kernel launches + %ld GEMMs; copies: 1 up (%zu bytes: batch + "
               "noise), 1 down (%zu bytes: losses); loss %.9g (mmd %.9g, mse %.9g)\n",
               label, step + 1, launches, gemms, g_count.up_bytes, g_count.down_bytes, lb.total,
               lb.mmd, lb.mse);
        CHECK(memcmp(&la.mmd, &lb.mmd, sizeof la.mmd) == 0 &&
                  memcmp(&la.mse, &lb.mse, sizeof la.mse) == 0 &&
                  memcmp(&la.nmse_sum, &lb.nmse_sum, sizeof la.nmse_sum) == 0 &&
                  memcmp(&la.total, &lb.total, sizeof la.total) == 0,
              "%s step %d: losses differ: mmd %.17g / %.17g, mse %.17g / %.17g", label,
              step + 1, la.mmd, lb.mmd, la.mse, lb.mse);
        CHECK(isfinite(lb.total), "%s step %d: loss %g", label, step + 1, lb.total);

        /* compare every buffer of the arena, bit for bit */
        rc = invcsi_params_to_host(pb, &err);
        CHECK(rc == INVCSI_OK, "to_host: %s", err.msg);
        const char *what[4] = {"weights", "gradients", "Adam m", "Adam v"};
        for (int k = 0; k < 4; k++) {
            size_t first = 0;
            const int same = same_bits(pa->data + k * total, pb->data + k * total, total, &first);
            CHECK(same, "%s step %d: %s differ first at float %zu: %.9g vs %.9g", label,
                  step + 1, what[k], first, pa->data[k * total + first],
                  pb->data[k * total + first]);
        }
        poison(pb->data, 4 * total);
    }
    /* the optimiser moved the weights (the comparison is not of two untouched copies) */
    invcsi_params_to_host(pb, &err);
    invcsi_model *fresh = NULL;
    invcsi_model_create(&fresh, &cfg, batch, &err);
    invcsi_inn_init(invcsi_inn_of_model(fresh), cfg.seed, 0.5f);
    size_t first;
    CHECK(!same_bits(fresh->params.data, pb->data, total, &first),
          "%s: the weights did not change in %d steps", label, STEPS);
    invcsi_model_destroy(fresh);
    invcsi_model_destroy(a);
    invcsi_model_destroy(b);
    free(x);
    g_arena_used = 0; /* the bump arena is reused by the next configuration */
}

int main(void)
{
    invcsi_set_threads(1);
    g_arena = malloc(ARENA_BYTES);
    if (!g_arena)
        SKIP("cannot allocate the %zu MB emulator arena", ARENA_BYTES >> 20);
    const invcsi_backend emu = make_emu();

    /* the sum kept in backend memory: the emulated two-pass kernel equals the CPU table's */
    {
        enum { N = 70001 };
        float *v = malloc(sizeof(float) * N), part[INVCSI_MAX_GRID], r1, r2;
        fill_data(v, N, 5);
        invcsi_backend_cpu()->kern->sum(v, N, part, &r1);
        emu.kern->sum(v, N, part, &r2);
        CHECK(memcmp(&r1, &r2, sizeof r1) == 0, "sum: %.9g vs %.9g", r1, r2);
        free(v);
    }

    /* capabilities: only the INN moves to a table with INVCSI_BACKEND_CAP_INN alone */
    CHECK(invcsi_backend_caps_for_kind("inn") == INVCSI_BACKEND_CAP_INN &&
              invcsi_backend_caps_for_kind("csinet") == INVCSI_BACKEND_CAP_MODELS &&
              invcsi_backend_caps_for_kind("invcsinet") == INVCSI_BACKEND_CAP_MODELS,
          "caps_for_kind");
    {
        invcsi_error err;
        invcsi_model_config cfg;
        invcsi_model *cs = NULL;
        if (invcsi_model_config_default(&cfg, "csinet", 1, 32, 32, 1.0 / 16, &err) ==
                INVCSI_OK &&
            invcsi_model_create(&cs, &cfg, 4, &err) == INVCSI_OK) {
            const int rc = invcsi_model_use_backend(cs, &emu, &err);
            CHECK(rc == INVCSI_EUNSUPPORTED && strstr(err.msg, "csinet") &&
                      strstr(err.msg, "does not run"),
                  "csinet on a CAP_INN-only table: rc %d, %s", rc, err.msg);
            CHECK(cs->params.dev == NULL, "csinet parameters stayed on the host");
            invcsi_model_destroy(cs);
        } else {
            CHECK(0, "csinet model: %s", err.msg);
        }
    }

    run_config("patch+perm+zbwd", "patch", 1, 1, 16, &emu);
    run_config("klt", "klt", 0, 0, 16, &emu);
    /* odd batch (tails of every grid, a conv chunk that is not a whole block) */
    run_config("energy,batch 7", "energy", 1, 0, 7, &emu);
    free(g_arena);
    return check_done("test_device_step");
}
