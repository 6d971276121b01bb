/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The CPU backend table and the run-time choice between it and the CUDA table
 * (include/invcsi/backend.h). The CUDA table itself is kernels/backend_cuda.cu, linked in
 * when the build found nvcc (INVCSI_HAVE_CUDA).
 */
#define INVCSI_BACKEND_INTERNAL
#include "invcsi/backend.h"

#include "launch_emu.h" /* kernels/: the reduction kernel run by the host launch emulator */

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- CPU table ---- */

static const char *cpu_describe(void)
{
    return invcsi_gemm_backend_name();
}

/* One cblas_sgemm per matrix: OpenBLAS threads inside each call, which is what the batched
 * shapes of the layers (a few large matrices) want. */
static void cpu_sgemm_strided_batched(int trans_a, int trans_b, int m, int n, int k,
                                      float alpha, const float *a, int lda, long long stride_a,
                                      const float *b, int ldb, long long stride_b, float beta,
                                      float *c, int ldc, long long stride_c, int batch)
{
    for (int p = 0; p < batch; p++)
        invcsi_sgemm(trans_a, trans_b, m, n, k, alpha, a + p * stride_a, lda, b + p * stride_b,
                     ldb, beta, c + p * stride_c, ldc);
}

/* The documented reduction (backend.h) is the CUDA kernel's own text, kblock_sum in
 * kernels/kernel_bodies.h, run over its grid by the host launch emulator: one definition of
 * the order, so the CPU and CUDA sums agree bit for bit by construction. */
static float cpu_sum(const float *x, long n)
{
    float partial[INVCSI_MAX_GRID], result = 0.0f;
    invcsi_emu_sum(x, n, partial, &result);
    return result;
}

static int cpu_alloc(void **ptr, size_t bytes, invcsi_error *err)
{
    *ptr = malloc(bytes ? bytes : 1);
    if (!*ptr)
        return invcsi_error_set(err, INVCSI_ENOMEM, "cpu backend: cannot allocate %zu bytes",
                                bytes);
    return INVCSI_OK;
}

static void cpu_free(void *ptr)
{
    free(ptr);
}

static int cpu_copy(void *dst, const void *src, size_t bytes, invcsi_error *err)
{
    if (bytes)
        memcpy(dst, src, bytes);
    return INVCSI_OK;
}

static int cpu_synchronize(invcsi_error *err)
{
    return INVCSI_OK;
}

/* The kernel table: each entry runs the kernel's per-item body kb_<name>
 * (kernels/kernel_bodies.h, the text the CUDA wrapper runs) over its items in a plain loop,
 * in increasing item order. One call through the table per launch. */
#define CPU_KERNEL_DEFINE(name, n_expr, params, args)                                          \
    static void cpu_k_##name(INVCSI_UNPAREN params)                                            \
    {                                                                                          \
        const long items = (n_expr);                                                           \
        for (long i = 0; i < items; i++)                                                       \
            kb_##name(i, INVCSI_UNPAREN args);                                                 \
    }
INVCSI_ELEMENTWISE_KERNELS(CPU_KERNEL_DEFINE)

static void cpu_k_sum(const float *x, long n, float *partial, float *result)
{
    invcsi_emu_sum(x, n, partial, result);
}

#define CPU_KERNEL_ENTRY(name, n_expr, params, args) .name = cpu_k_##name,
static const invcsi_kernels CPU_KERNELS = {
    INVCSI_ELEMENTWISE_KERNELS(CPU_KERNEL_ENTRY).sum = cpu_k_sum,
};

/* No capture on the CPU: the step runs eagerly, every time. */
static int cpu_run_step(void **graph, long key, invcsi_step_fn fn, void *ctx, invcsi_error *err)
{
    (void)graph;
    (void)key;
    return fn(ctx, err);
}

static void cpu_graph_free(void *graph) { (void)graph; }

static const invcsi_backend CPU_BACKEND = {
    .name = "cpu",
    .caps = INVCSI_BACKEND_CAP_MODELS | INVCSI_BACKEND_CAP_INN,
    .describe = cpu_describe,
    .sgemm = invcsi_sgemm,
    .sgemm_strided_batched = cpu_sgemm_strided_batched,
    .sum = cpu_sum,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .copy_to_device = cpu_copy,
    .copy_to_host = cpu_copy,
    .synchronize = cpu_synchronize,
    .conv_chunk_columns = 256,
    .kern = &CPU_KERNELS,
    .run_step = cpu_run_step,
    .graph_free = cpu_graph_free,
};

const invcsi_backend *invcsi_backend_cpu(void)
{
    return &CPU_BACKEND;
}

unsigned invcsi_backend_caps_for_kind(const char *kind)
{
    return kind && !strcmp(kind, "inn") ? INVCSI_BACKEND_CAP_INN : INVCSI_BACKEND_CAP_MODELS;
}

/* ---- selection ---- */

static invcsi_backend_log_fn g_log_fn;
static void *g_log_ctx;
static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;

void invcsi_backend_set_log(invcsi_backend_log_fn fn, void *ctx)
{
    pthread_mutex_lock(&g_log_lock);
    g_log_fn = fn;
    g_log_ctx = ctx;
    pthread_mutex_unlock(&g_log_lock);
}

static void log_line(const char *fmt, const char *a, const char *b)
{
    char line[INVCSI_ERROR_MSG_LEN + 128];
    snprintf(line, sizeof line, fmt, a, b);
    pthread_mutex_lock(&g_log_lock);
    invcsi_backend_log_fn fn = g_log_fn;
    void *ctx = g_log_ctx;
    pthread_mutex_unlock(&g_log_lock);
    if (fn)
        fn(ctx, line);
    else
        fprintf(stderr, "invcsi: %s\n", line);
}

int invcsi_backend_have_cuda(void)
{
#ifdef INVCSI_HAVE_CUDA
    return 1;
#else
    return 0;
#endif
}

#ifdef INVCSI_HAVE_CUDA
/* The CUDA table lives in the module INVCSI_CUDA_MODULE (lib/CMakeLists.txt explains why it
 * is not linked in), next to this library in the build tree and after installation. It is
 * loaded once, on the first request; its own probe of the GPU is cached too. */
static pthread_once_t g_cuda_once = PTHREAD_ONCE_INIT;
static int (*g_cuda_open)(const invcsi_backend **, invcsi_error *);
static char g_cuda_load_error[INVCSI_ERROR_MSG_LEN];

static void load_cuda_module(void)
{
    char path[4096] = INVCSI_CUDA_MODULE;
    Dl_info self;
    if (dladdr((void *)invcsi_backend_cpu, &self) && self.dli_fname) {
        const char *slash = strrchr(self.dli_fname, '/');
        if (slash)
            snprintf(path, sizeof path, "%.*s/%s", (int)(slash - self.dli_fname),
                     self.dli_fname, INVCSI_CUDA_MODULE);
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        /* typically "libcudart.so.13: cannot open shared object file" on a machine without
         * the CUDA runtime: that text is the useful part of the message */
        snprintf(g_cuda_load_error, sizeof g_cuda_load_error,
                 "cannot load the CUDA backend module: %s", dlerror());
        return;
    }
    *(void **)&g_cuda_open = dlsym(h, "invcsi_cuda_backend_open");
    if (!g_cuda_open)
        snprintf(g_cuda_load_error, sizeof g_cuda_load_error,
                 "%s has no invcsi_cuda_backend_open: %s", path, dlerror());
}
#endif

/* The CUDA table, or why there is none (err without a "device 'cuda'" prefix). */
static int open_cuda(const invcsi_backend **out, invcsi_error *err)
{
    *out = NULL;
#ifdef INVCSI_HAVE_CUDA
    pthread_once(&g_cuda_once, load_cuda_module);
    if (!g_cuda_open)
        return invcsi_error_set(err, INVCSI_EDEVICE, "%s", g_cuda_load_error);
    return g_cuda_open(out, err);
#else
    return invcsi_error_set(err, INVCSI_EUNSUPPORTED,
                            "this libinvcsi was built without CUDA (no nvcc and CUDA toolkit "
                            "at build time, or -DENABLE_CUDA=OFF)");
#endif
}

int invcsi_backend_select_caps(const char *device, unsigned need, const invcsi_backend **out,
                               invcsi_error *err)
{
    *out = NULL;
    if (!device || !*device)
        device = "auto";
    if (!strcmp(device, "cpu")) {
        *out = &CPU_BACKEND;
        return INVCSI_OK;
    }
    int is_auto = !strcmp(device, "auto");
    if (!is_auto && strcmp(device, "cuda") != 0)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "unknown device '%s': expected cpu, cuda or auto", device);

    const invcsi_backend *cuda = NULL;
    invcsi_error why;
    invcsi_error_clear(&why);
    int rc = open_cuda(&cuda, &why);
    if (rc == INVCSI_OK && (cuda->caps & need) != need) {
        /* a GPU is there, but the caller's work cannot run on it in this version */
        const char *what = (need & ~cuda->caps & INVCSI_BACKEND_CAP_MODELS)
                               ? "only the INN model (kind \"inn\") runs on CUDA in this "
                                 "version; the other kinds (csinet, invcsinet, stqenet) compute "
                                 "on host buffers and need --device cpu"
                               : "the CUDA backend lacks a capability the caller needs";
        rc = invcsi_error_set(&why, INVCSI_EUNSUPPORTED, "%s found, but %s",
                              cuda->describe(), what);
    }
    if (rc == INVCSI_OK) {
        if (is_auto)
            log_line("device auto: using cuda (%s)%s", cuda->describe(), "");
        *out = cuda;
        return INVCSI_OK;
    }
    if (is_auto) {
        log_line("device auto: using cpu (cuda: %s)%s", why.msg, "");
        *out = &CPU_BACKEND;
        return INVCSI_OK;
    }
    return invcsi_error_set(err, rc, "device 'cuda' is not available: %s", why.msg);
}

int invcsi_backend_select(const char *device, const invcsi_backend **out, invcsi_error *err)
{
    return invcsi_backend_select_caps(device, 0, out, err);
}
