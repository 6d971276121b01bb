/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Compute backends: one small table of function pointers per device, picked at run time
 * (`--device cpu|cuda|auto` on the programs). The table holds what differs between a CPU
 * with OpenBLAS and an NVIDIA GPU with cuBLAS: GEMM, strided-batched GEMM, the sum
 * reduction, device memory and synchronisation. The per-element math is NOT here: it lives
 * once in the INVCSI_HD headers under kernels/, called in loops on the CPU and from thin
 * grid-stride kernels on the GPU.
 *
 * Pointers: every buffer given to a table's functions lives where that backend computes:
 * host memory for "cpu", device memory (from its alloc) for "cuda". The CPU table's
 * alloc/copy functions are malloc/memcpy, so code written against the table runs on both.
 *
 * WHAT IS WIRED UP IN THIS VERSION (be clear about it):
 * - The kernel table (invcsi_kernels below, `kern`): one function pointer per element-wise
 *   kernel of kernels/kernel_list.h. The CPU table runs each kernel's per-item body
 *   kb_<name> (kernels/kernel_bodies.h) in a plain loop (one pointer call per launch, never
 *   per element); the CUDA table launches the __global__ wrapper of the same body
 *   (kernels/elementwise.cu) on the backend's stream. Tests may build a third table from the
 *   host launch emulator (kernels/launch_emu.h, invcsi_emu_<name>).
 * - The INN model (lib/inn_*.c, nn_conv/nn_loss backend variants) does every per-element
 *   loop, copy, GEMM and reduction of its training step and of encode/decode through a
 *   table, on buffers in that table's memory: parameters, gradients and Adam moments in one
 *   alloc (invcsi_params_attach, params.h), activations + scratch in another (inn_model.c).
 *   Per training step (invcsi_train_one_step -> the INN's train_step): the gradient is
 *   zeroed by the fill kernel, the batch and the step's noise (drawn on the host from the
 *   step's RNG stream, as before) go up in ONE copy, the step runs, the three loss scalars
 *   come down in ONE copy, and Adam runs as the adam kernel over the arena: nothing else
 *   crosses between host and device (tests/test_device_step counts it). The host conv of
 *   nn_conv.c (frame-based, CPU-fast) stays for the host-resident kinds; the INN uses the
 *   backend conv there (invcsi_conv2d_*_be).
 * - Capture: run_step(graph, key, fn, ctx) runs fn, which may only queue table work (no
 *   copies, allocations or synchronisation). CPU: fn runs eagerly every time. CUDA: the
 *   first call for a handle (or a new key) captures fn on the backend's stream
 *   (cudaStreamBeginCapture / EndCapture, cudaGraphInstantiate) and launches the graph;
 *   later calls with the same key only cudaGraphLaunch it. The graph replays the SAME
 *   pointers and scalar arguments, so only work whose arguments do not change between
 *   steps goes into it: the INN's forward, losses and backward (key = batch). Adam's
 *   scalars change every step (lr, bias corrections), so the Adam launches run eagerly
 *   after the graph.
 * - Other model kinds (csinet, invcsinet, stqenet) still compute on host buffers with the
 *   CPU library: hence two capabilities, INVCSI_BACKEND_CAP_MODELS (every kind) and
 *   INVCSI_BACKEND_CAP_INN (the "inn" kind only); the CUDA table has only the latter.
 * - The CUDA table is compiled with nvcc here and checked against the CPU one by
 *   tests/test_gpu_backend and tests/test_gpu_train_step (ctest label gpu), which this
 *   project has NOT run on a GPU: they skip without one.
 *
 * Errors: the GEMM entries keep the gemm.h signature (void), as cuBLAS calls are
 * asynchronous anyway. A backend records the first failure of such a call ("sticky", as
 * CUDA does) and reports it from the next synchronize(). The CPU table never fails there.
 */
#ifndef INVCSI_BACKEND_H
#define INVCSI_BACKEND_H

#include <stddef.h>

#include "invcsi/error.h"
#include "invcsi/gemm.h"
#include "kernel_list.h" /* kernels/: INVCSI_ELEMENTWISE_KERNELS */

#ifdef __cplusplus
extern "C" {
#endif

/* Capabilities a caller may require of a backend (invcsi_backend_select_caps). */
enum {
    /* Every model kind's train_step/encode/decode (model.h) runs on this backend. Only
     * "cpu" in this version (see above). */
    INVCSI_BACKEND_CAP_MODELS = 1u << 0,
    /* The "inn" model kind runs on this backend (its training step device-resident and,
     * on CUDA, captured in a graph): "cpu" and "cuda". A caller training kind K asks for
     * invcsi_backend_caps_for_kind(K). */
    INVCSI_BACKEND_CAP_INN = 1u << 1,
};

/* The capabilities a model of kind `kind` needs: INVCSI_BACKEND_CAP_INN for "inn",
 * INVCSI_BACKEND_CAP_MODELS for every other kind. */
unsigned invcsi_backend_caps_for_kind(const char *kind);

/*
 * The sum reduction's order is the CUDA block reduction's (kblock_sum in
 * kernels/kernel_bodies.h, launched by invcsi_cuda_sum in kernels/reduce.cu), on every
 * backend, so CPU and CUDA sums agree bit for bit (float additions, round to nearest, no FMA
 * involved). With B = 256 threads per block and G = min(ceil(n / B), 2048) blocks
 * (kernels/launch.h: INVCSI_BLOCK, invcsi_grid_1d):
 *   pass 1: thread t of block b adds, in float from 0 and in increasing i, the elements
 *           x[b*B + t + j*G*B], j = 0, 1, ... (the grid-stride loop); then the block's B
 *           values s[] fold as a tree: for (w = B/2; w >= 1; w /= 2) s[t] += s[t + w] for
 *           every t < w; partial[b] = s[0].
 *   pass 2: the same with G = 1 over the G partials; the result is that block's s[0].
 * The CPU table runs the kernel's own text (kblock_sum) through the host launch emulator
 * (kernels/launch_emu.h), so there is one definition of this order; tests/test_cuda_emulator
 * checks it against an independent rebuild of the tree, bit for bit. Error bound about
 * (n/(G*B) + 19) * eps * sum|x|.
 */

/* Strided-batched GEMM, row-major like invcsi_sgemm (gemm.h): for p in [0, batch)
 *   C_p = alpha op(A_p) op(B_p) + beta C_p,  A_p = a + p*stride_a, B_p = b + p*stride_b,
 *   C_p = c + p*stride_c  (strides in floats). */
typedef void (*invcsi_sgemm_strided_batched_fn)(int trans_a, int trans_b, int m, int n, int k,
                                                float alpha, const float *a, int lda,
                                                long long stride_a, const float *b, int ldb,
                                                long long stride_b, float beta, float *c,
                                                int ldc, long long stride_c, int batch);

/* The kernel table: one entry per kernel of INVCSI_ELEMENTWISE_KERNELS, with that kernel's
 * parameters (kernels/cuda_kernels.h documents each; every pointer is in the backend's
 * memory). Launches are asynchronous on CUDA; a failed launch is recorded and reported by
 * synchronize(). A launch with no items does nothing. */
#define INVCSI_KERNEL_TABLE_MEMBER(name, n_expr, params, args) void (*name)(INVCSI_KL_UNPAREN params);
#define INVCSI_KL_UNPAREN(...) __VA_ARGS__
typedef struct invcsi_kernels {
    INVCSI_ELEMENTWISE_KERNELS(INVCSI_KERNEL_TABLE_MEMBER)
    /* *result = the sum of x[0..n) in the documented order above, left in backend memory
     * (partial: invcsi_grid_1d(n) <= 2048 floats of backend scratch). */
    void (*sum)(const float *x, long n, float *partial, float *result);
} invcsi_kernels;

/* A step for run_step: queues table work only; returns INVCSI_OK or an error. */
typedef int (*invcsi_step_fn)(void *ctx, invcsi_error *err);

typedef struct invcsi_backend {
    const char *name;    /* "cpu" or "cuda" */
    unsigned caps;       /* INVCSI_BACKEND_CAP_* */
    /* One line on the device, e.g. "OpenBLAS 0.3.21 ..." or
     * "CUDA device 0: NVIDIA A100 (compute 8.0, 40 GB), cuBLAS 130000". */
    const char *(*describe)(void);

    invcsi_sgemm_fn sgemm;                              /* gemm.h contract */
    invcsi_sgemm_strided_batched_fn sgemm_strided_batched;
    /* Sum of x[0..n) in the documented order above; n == 0 gives 0. Blocks until the result
     * is on the host. On a failure: NaN, and the error is reported by synchronize(). */
    float (*sum)(const float *x, long n);

    /* Backend memory. alloc of 0 bytes gives a valid unique pointer or NULL (free accepts
     * NULL). Copies are synchronous and may be given 0 bytes. */
    int (*alloc)(void **ptr, size_t bytes, invcsi_error *err);
    void (*free)(void *ptr);
    int (*copy_to_device)(void *dst_device, const void *src_host, size_t bytes,
                          invcsi_error *err);
    int (*copy_to_host)(void *dst_host, const void *src_device, size_t bytes,
                        invcsi_error *err);
    /* Waits for all queued work; returns (and clears) the first error any entry recorded
     * since the last call. */
    int (*synchronize)(invcsi_error *err);

    /* Preferred GEMM width of the backend conv (nn_conv.c "backend version"): a batch of
     * small maps is processed in chunks of about this many GEMM columns (CPU: 256, so a
     * chunk's unrolled matrix stays in L2); 0 = the whole batch in one GEMM (CUDA: fewer,
     * larger launches). */
    int conv_chunk_columns;
    /* The element-wise kernels (never NULL). */
    const invcsi_kernels *kern;
    /* Runs fn(ctx) as a captured step (see "Capture" above). *graph: the caller's handle,
     * NULL before the first call; key: what the captured work depends on besides the
     * pointers (e.g. the batch size): a new key captures anew. */
    int (*run_step)(void **graph, long key, invcsi_step_fn fn, void *ctx, invcsi_error *err);
    /* Frees a handle of run_step (NULL accepted). */
    void (*graph_free)(void *graph);
} invcsi_backend;

/* The CPU table (always available): OpenBLAS through invcsi_sgemm, batched GEMM as a
 * loop, sum in the documented order, malloc/memcpy. */
const invcsi_backend *invcsi_backend_cpu(void);

/*
 * Picks a backend by name. device: "cpu", "cuda" or "auto" (NULL or "" = "auto").
 *   cpu   the CPU table.
 *   cuda  the CUDA table if this build has CUDA and a GPU with a working driver and cuBLAS is
 *         found; otherwise INVCSI_EDEVICE with the CUDA error string in err ("cudaGetDeviceCount
 *         failed: ... (cudaErrorNoDevice)", "cublasCreate failed: ...", or "cannot load the
 *         CUDA backend module: libcudart.so.13: cannot open ..." without a CUDA runtime), or
 *         INVCSI_EUNSUPPORTED "... built without CUDA ..." when the build has none.
 *   auto  the CUDA table when `cuda` would succeed, else the CPU table; logs one line saying
 *         which and why (invcsi_backend_set_log).
 * Anything else: INVCSI_EINVAL. The CUDA probe runs once per process and is cached.
 */
int invcsi_backend_select(const char *device, const invcsi_backend **out, invcsi_error *err);

/*
 * The same, for a caller that needs capabilities `need` (INVCSI_BACKEND_CAP_*):
 *   cuda  fails with INVCSI_EUNSUPPORTED, naming the device found, when the CUDA table lacks
 *         them (in this version: any caller needing INVCSI_BACKEND_CAP_MODELS);
 *   auto  takes the CPU when the CUDA table lacks them, and says so in its log line.
 * This is what the programs call with INVCSI_BACKEND_CAP_MODELS, and what a GNU Radio block
 * with a `device` parameter would call in its constructor:
 *     const invcsi_backend *be; invcsi_error e;
 *     if (invcsi_backend_select_caps(device.c_str(), INVCSI_BACKEND_CAP_MODELS, &be, &e))
 *         throw std::runtime_error(e.msg);
 * (with invcsi_backend_set_log routing the `auto` line to the block's d_logger).
 */
int invcsi_backend_select_caps(const char *device, unsigned need, const invcsi_backend **out,
                               invcsi_error *err);

/* Where the `auto` line goes: fn(ctx, line) with line without a trailing newline. Default
 * (fn == NULL): "invcsi: <line>\n" on stderr. Process-wide; set it before selecting. */
typedef void (*invcsi_backend_log_fn)(void *ctx, const char *line);
void invcsi_backend_set_log(invcsi_backend_log_fn fn, void *ctx);

/* 1 when this library was built with the CUDA backend (INVCSI_HAVE_CUDA), else 0. */
int invcsi_backend_have_cuda(void);

#ifdef INVCSI_BACKEND_INTERNAL
/* Implemented in kernels/backend_cuda.cu (builds with CUDA only), exported by the module
 * libinvcsi_cuda_backend.so that lib/backend.c dlopen()s on the first `cuda`/`auto`
 * request: probes the device and cuBLAS once, returns the CUDA table or INVCSI_EDEVICE with
 * the CUDA error string. */
int invcsi_cuda_backend_open(const invcsi_backend **out, invcsi_error *err);
#endif

#ifdef __cplusplus
}
#endif
#endif
