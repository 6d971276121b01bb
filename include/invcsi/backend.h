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
 * WHAT IS AND IS NOT WIRED UP IN THIS VERSION (be clear about it):
 * - The layer library (nn_dense.c, nn_conv.c, ...) works on host buffers and calls
 *   invcsi_sgemm (gemm.h), which IS the CPU table's sgemm entry: the models run on the CPU
 *   backend, whatever was selected. The training step on the device (parameters, gradients
 *   and Adam state in one device allocation, activations in another, no host round trip per
 *   layer, captured in a CUDA graph) is NOT built yet. The CUDA table therefore lacks
 *   INVCSI_BACKEND_CAP_MODELS, and programs/blocks that select with that capability get a
 *   clear error for `cuda` and the CPU for `auto` (see invcsi_backend_select_caps).
 * - The CUDA table's GEMM/batched GEMM/sum/memory entries are complete (cuBLAS and one
 *   block-reduction kernel) and are checked against the CPU table by tests/test_gpu_backend
 *   (ctest label gpu), which this project has NOT run on a GPU: it skips without one.
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

#ifdef __cplusplus
extern "C" {
#endif

/* Capabilities a caller may require of a backend (invcsi_backend_select_caps). */
enum {
    /* The models' train_step/encode/decode (model.h) run on this backend. Only "cpu" in this
     * version (see above). */
    INVCSI_BACKEND_CAP_MODELS = 1u << 0,
};

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
