// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * The CUDA backend table (include/invcsi/backend.h): cuBLAS GEMMs, the one documented
 * block reduction for sums (invcsi_cuda_sum of kernels/reduce.cu), cudaMalloc/cudaMemcpy,
 * the kernel table (every launcher of kernels/elementwise.cu) and captured steps (CUDA
 * graphs, cuda_run_step), all on one stream.
 *
 * Built whenever nvcc is found (kernels/CMakeLists.txt -> static lib invcsi_cuda, wrapped
 * by lib/CMakeLists.txt into the module libinvcsi_cuda_backend.so that lib/backend.c loads
 * on demand). NOT RUN BY THIS PROJECT ON A GPU: the machine it was written on has none.
 * tests/test_gpu_backend.c (ctest label gpu) checks this table against the CPU one wherever
 * a GPU is present; here only the "no device" path runs.
 *
 * Use from one host thread at a time (one cuBLAS handle, one stream, one sum scratch).
 */
#define INVCSI_BACKEND_INTERNAL
#include "invcsi/backend.h"

#include "cuda_kernels.h" /* invcsi_cuda_sum, INVCSI_MAX_GRID */
#include "kernel_list.h"  /* INVCSI_ELEMENTWISE_KERNELS */

// Every launcher of kernels/elementwise.cu, declared from the list (the hand-written
// declarations of cuda_kernels.h must agree with these, or this file does not compile).
#define INVCSI_CUDA_DECLARE(name, n_expr, params, args)                                       \
    extern "C" int invcsi_cuda_##name(INVCSI_UNPAREN params, void *stream);
INVCSI_ELEMENTWISE_KERNELS(INVCSI_CUDA_DECLARE)

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace {

struct cuda_state {
    int rc = INVCSI_OK;                 // result of the one-time probe
    char why[INVCSI_ERROR_MSG_LEN] = "";
    char description[256] = "";
    int device = 0;
    cudaStream_t stream = nullptr;
    cublasHandle_t cublas = nullptr;
    float *sum_scratch = nullptr;       // INVCSI_MAX_GRID partials + 1 result
    void *cublas_workspace = nullptr;   // fixed cuBLAS workspace: no allocation inside a
                                        // captured step
    std::mutex sticky_lock;             // first asynchronous failure, for synchronize()
    int sticky_rc = INVCSI_OK;
    char sticky_msg[INVCSI_ERROR_MSG_LEN] = "";
};

cuda_state g_cuda;
std::once_flag g_probe_once;

void record(const char *what, const char *detail)
{
    std::lock_guard<std::mutex> lock(g_cuda.sticky_lock);
    if (g_cuda.sticky_rc != INVCSI_OK)
        return;
    g_cuda.sticky_rc = INVCSI_EDEVICE;
    snprintf(g_cuda.sticky_msg, sizeof g_cuda.sticky_msg, "cuda backend: %s failed: %s", what,
             detail);
}

void check_cuda(const char *what, cudaError_t e)
{
    if (e != cudaSuccess) {
        char detail[256];
        snprintf(detail, sizeof detail, "%s (%s)", cudaGetErrorString(e), cudaGetErrorName(e));
        record(what, detail);
    }
}

void check_cublas(const char *what, cublasStatus_t s)
{
    if (s != CUBLAS_STATUS_SUCCESS)
        record(what, cublasGetStatusString(s));
}

int fail_now(invcsi_error *err, const char *what, cudaError_t e)
{
    return invcsi_error_set(err, INVCSI_EDEVICE, "cuda backend: %s failed: %s (%s)", what,
                            cudaGetErrorString(e), cudaGetErrorName(e));
}

/* ---- kernels ---- */

// C = beta * C over an m x n row-major matrix (the k == 0 case of a GEMM: nothing to
// multiply, and cuBLAS implementations need not agree on it). beta == 0 overwrites, as in
// gemm.h, so NaNs in C do not survive.
__global__ void scale_matrix_kernel(int m, int n, float beta, float *c, int ldc)
{
    long total = (long)m * n;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < total;
         i += (long)gridDim.x * blockDim.x) {
        long r = i / n, col = i % n;
        float *p = c + r * ldc + col;
        *p = beta == 0.0f ? 0.0f : beta * *p;
    }
}

void scale_matrix(int m, int n, float beta, float *c, int ldc)
{
    long total = (long)m * n;
    int blocks = (int)((total + 255) / 256 < 4096 ? (total + 255) / 256 : 4096);
    scale_matrix_kernel<<<blocks, 256, 0, g_cuda.stream>>>(m, n, beta, c, ldc);
    check_cuda("scale kernel launch", cudaGetLastError());
}

/* ---- the table ---- */

const char *cuda_describe(void)
{
    return g_cuda.description;
}

cublasOperation_t op(int trans)
{
    return trans ? CUBLAS_OP_T : CUBLAS_OP_N;
}

/*
 * Row-major GEMM on the column-major cuBLAS, by swapping the operands.
 * A row-major matrix X (r x c, leading dimension ld) occupies memory exactly as the
 * column-major matrix X^T (c x r, same ld). We want row-major C = op(A) op(B); read as
 * column-major, that buffer is C^T = (op(A) op(B))^T = op(B)^T op(A)^T. And the buffers of
 * A and B, read as column-major, already hold A^T and B^T. So ask cuBLAS for the
 * column-major product  C^T (n x m) = op'(B^T) op'(A^T)  with op' = the same transpose flag
 * as op (op(B)^T = op(B^T) whether or not op transposes): i.e. cublasSgemm(opB, opA, n, m, k,
 * B, ldb, A, lda, C, ldc). No data move, and the leading dimensions stay as given.
 */
void cuda_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) {
        scale_matrix(m, n, beta, c, ldc);
        return;
    }
    check_cublas("cublasSgemm",
                 cublasSgemm(g_cuda.cublas, op(trans_b), op(trans_a), n, m, k, &alpha, b, ldb,
                             a, lda, &beta, c, ldc));
}

// The same operand swap, per matrix of the batch.
void cuda_sgemm_strided_batched(int trans_a, int trans_b, int m, int n, int k, float alpha,
                                const float *a, int lda, long long stride_a, const float *b,
                                int ldb, long long stride_b, float beta, float *c, int ldc,
                                long long stride_c, int batch)
{
    if (m <= 0 || n <= 0 || batch <= 0)
        return;
    if (k <= 0) {
        for (int p = 0; p < batch; p++)
            scale_matrix(m, n, beta, c + p * stride_c, ldc);
        return;
    }
    check_cublas("cublasSgemmStridedBatched",
                 cublasSgemmStridedBatched(g_cuda.cublas, op(trans_b), op(trans_a), n, m, k,
                                           &alpha, b, ldb, stride_b, a, lda, stride_a, &beta, c,
                                           ldc, stride_c, batch));
}

// The documented block reduction (backend.h): the kernel and its launcher are the cuda
// kernels' invcsi_cuda_sum (kernels/reduce.cu); this adds the scratch and the copy back.
float cuda_sum(const float *x, long n)
{
    if (n <= 0)
        return 0.0f;
    float *partial = g_cuda.sum_scratch, *result = g_cuda.sum_scratch + INVCSI_MAX_GRID;
    check_cuda("sum kernel launch", (cudaError_t)invcsi_cuda_sum(x, n, partial, result,
                                                                 g_cuda.stream));
    float host = NAN;
    cudaError_t e = cudaMemcpyAsync(&host, result, sizeof host, cudaMemcpyDeviceToHost,
                                    g_cuda.stream);
    if (e == cudaSuccess)
        e = cudaStreamSynchronize(g_cuda.stream);
    if (e != cudaSuccess) {
        check_cuda("sum result copy", e);
        return NAN;
    }
    return host;
}

int cuda_alloc(void **ptr, size_t bytes, invcsi_error *err)
{
    *ptr = nullptr;
    if (!bytes)
        return INVCSI_OK;
    cudaError_t e = cudaMalloc(ptr, bytes);
    if (e != cudaSuccess) {
        *ptr = nullptr;
        char what[64];
        snprintf(what, sizeof what, "cudaMalloc of %zu bytes", bytes);
        return fail_now(err, what, e);
    }
    return INVCSI_OK;
}

void cuda_free(void *ptr)
{
    if (ptr)
        check_cuda("cudaFree", cudaFree(ptr));
}

// Synchronous copies, ordered after the work queued on the backend's stream.
int cuda_copy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, const char *what,
              invcsi_error *err)
{
    if (!bytes)
        return INVCSI_OK;
    cudaError_t e = cudaMemcpyAsync(dst, src, bytes, kind, g_cuda.stream);
    if (e == cudaSuccess)
        e = cudaStreamSynchronize(g_cuda.stream);
    return e == cudaSuccess ? INVCSI_OK : fail_now(err, what, e);
}

int cuda_copy_to_device(void *dst, const void *src, size_t bytes, invcsi_error *err)
{
    return cuda_copy(dst, src, bytes, cudaMemcpyHostToDevice, "host-to-device copy", err);
}

int cuda_copy_to_host(void *dst, const void *src, size_t bytes, invcsi_error *err)
{
    return cuda_copy(dst, src, bytes, cudaMemcpyDeviceToHost, "device-to-host copy", err);
}

int cuda_synchronize(invcsi_error *err)
{
    check_cuda("cudaStreamSynchronize", cudaStreamSynchronize(g_cuda.stream));
    std::lock_guard<std::mutex> lock(g_cuda.sticky_lock);
    int rc = g_cuda.sticky_rc;
    if (rc != INVCSI_OK)
        invcsi_error_set(err, rc, "%s", g_cuda.sticky_msg);
    g_cuda.sticky_rc = INVCSI_OK;
    g_cuda.sticky_msg[0] = '\0';
    return rc;
}

/* ---- the kernel table: the launchers of kernels/elementwise.cu on the backend's stream;
 * a failed launch is recorded for synchronize() ---- */
#define INVCSI_CUDA_TABLE_FN(name, n_expr, params, args)                                      \
    void cuda_k_##name(INVCSI_UNPAREN params)                                                 \
    {                                                                                         \
        check_cuda(#name " kernel launch",                                                    \
                   (cudaError_t)invcsi_cuda_##name(INVCSI_UNPAREN args, g_cuda.stream));      \
    }
INVCSI_ELEMENTWISE_KERNELS(INVCSI_CUDA_TABLE_FN)

void cuda_k_sum(const float *x, long n, float *partial, float *result)
{
    check_cuda("sum kernel launch",
               (cudaError_t)invcsi_cuda_sum(x, n, partial, result, g_cuda.stream));
}

#define INVCSI_CUDA_TABLE_ENTRY(name, n_expr, params, args) cuda_k_##name,
const invcsi_kernels CUDA_KERNELS = {INVCSI_ELEMENTWISE_KERNELS(INVCSI_CUDA_TABLE_ENTRY) cuda_k_sum};

/* ---- captured steps (backend.h, "Capture") ---- */
struct cuda_step_graph {
    long key;
    cudaGraphExec_t exec;
};

void cuda_graph_free(void *graph)
{
    cuda_step_graph *g = static_cast<cuda_step_graph *>(graph);
    if (!g)
        return;
    if (g->exec)
        check_cuda("cudaGraphExecDestroy", cudaGraphExecDestroy(g->exec));
    delete g;
}

// First call for a handle (or a new key): capture fn's work on the stream into a graph,
// instantiate it and launch it. Later calls: launch the instantiated graph again. fn may
// queue kernels and cuBLAS calls only (a copy, allocation or synchronisation inside a
// capture fails the capture, reported here).
int cuda_run_step(void **graph, long key, invcsi_step_fn fn, void *ctx, invcsi_error *err)
{
    cuda_step_graph *g = static_cast<cuda_step_graph *>(*graph);
    if (g && g->key == key) {
        cudaError_t e = cudaGraphLaunch(g->exec, g_cuda.stream);
        return e == cudaSuccess ? INVCSI_OK : fail_now(err, "cudaGraphLaunch", e);
    }
    cuda_graph_free(g);
    *graph = nullptr;
    cudaError_t e = cudaStreamBeginCapture(g_cuda.stream, cudaStreamCaptureModeThreadLocal);
    if (e != cudaSuccess)
        return fail_now(err, "cudaStreamBeginCapture", e);
    int rc = fn(ctx, err);
    cudaGraph_t captured = nullptr;
    e = cudaStreamEndCapture(g_cuda.stream, &captured);
    if (rc != INVCSI_OK || e != cudaSuccess) {
        if (captured)
            cudaGraphDestroy(captured);
        return rc != INVCSI_OK ? rc : fail_now(err, "cudaStreamEndCapture", e);
    }
    cudaGraphExec_t exec = nullptr;
    e = cudaGraphInstantiate(&exec, captured, 0);
    cudaGraphDestroy(captured);
    if (e != cudaSuccess)
        return fail_now(err, "cudaGraphInstantiate", e);
    g = new cuda_step_graph{key, exec};
    *graph = g;
    e = cudaGraphLaunch(exec, g_cuda.stream);
    return e == cudaSuccess ? INVCSI_OK : fail_now(err, "cudaGraphLaunch", e);
}

const invcsi_backend CUDA_BACKEND = {
    "cuda",
    INVCSI_BACKEND_CAP_INN, // the INN model only: the other kinds compute on host buffers
    cuda_describe,
    cuda_sgemm,
    cuda_sgemm_strided_batched,
    cuda_sum,
    cuda_alloc,
    cuda_free,
    cuda_copy_to_device,
    cuda_copy_to_host,
    cuda_synchronize,
    0, // conv_chunk_columns: the whole batch in one GEMM
    &CUDA_KERNELS,
    cuda_run_step,
    cuda_graph_free,
};

// Device 0 (of those CUDA_VISIBLE_DEVICES shows), its stream, the cuBLAS handle and the sum
// scratch. Without a GPU or driver, cudaGetDeviceCount is where it fails; without a usable
// cuBLAS, cublasCreate. Either error string ends up in the user's message.
void probe(void)
{
    cuda_state &s = g_cuda;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        s.rc = INVCSI_EDEVICE;
        snprintf(s.why, sizeof s.why, "cudaGetDeviceCount failed: %s (%s)",
                 cudaGetErrorString(e), cudaGetErrorName(e));
        return;
    }
    if (count < 1) {
        s.rc = INVCSI_EDEVICE;
        snprintf(s.why, sizeof s.why, "cudaGetDeviceCount found no CUDA device");
        return;
    }
    cudaDeviceProp prop;
    if ((e = cudaSetDevice(s.device)) != cudaSuccess ||
        (e = cudaGetDeviceProperties(&prop, s.device)) != cudaSuccess ||
        (e = cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking)) != cudaSuccess ||
        (e = cudaMalloc((void **)&s.sum_scratch,
                        (INVCSI_MAX_GRID + 1) * sizeof(float))) != cudaSuccess) {
        s.rc = INVCSI_EDEVICE;
        snprintf(s.why, sizeof s.why, "CUDA device %d setup failed: %s (%s)", s.device,
                 cudaGetErrorString(e), cudaGetErrorName(e));
        return;
    }
    cublasStatus_t st = cublasCreate(&s.cublas);
    if (st != CUBLAS_STATUS_SUCCESS) {
        s.rc = INVCSI_EDEVICE;
        snprintf(s.why, sizeof s.why, "cublasCreate failed: %s (status %d)",
                 cublasGetStatusString(st), (int)st);
        s.cublas = nullptr;
        return;
    }
    // Plain FP32 (no TF32 tensor-core rounding): the results must agree with OpenBLAS to the
    // float error bounds tests/test_gpu_backend.c states.
    if ((st = cublasSetStream(s.cublas, s.stream)) != CUBLAS_STATUS_SUCCESS ||
        (st = cublasSetMathMode(s.cublas, CUBLAS_DEFAULT_MATH)) != CUBLAS_STATUS_SUCCESS ||
        (st = cublasSetPointerMode(s.cublas, CUBLAS_POINTER_MODE_HOST)) !=
            CUBLAS_STATUS_SUCCESS) {
        s.rc = INVCSI_EDEVICE;
        snprintf(s.why, sizeof s.why, "cuBLAS setup failed: %s", cublasGetStatusString(st));
        return;
    }
    // A fixed workspace, so that no cuBLAS call allocates while a step is being captured.
    const size_t workspace = (size_t)32 << 20;
    if ((e = cudaMalloc(&s.cublas_workspace, workspace)) != cudaSuccess) {
        s.rc = INVCSI_EDEVICE;
        snprintf(s.why, sizeof s.why, "cuBLAS workspace: cudaMalloc failed: %s (%s)",
                 cudaGetErrorString(e), cudaGetErrorName(e));
        return;
    }
    if ((st = cublasSetWorkspace(s.cublas, s.cublas_workspace, workspace)) !=
        CUBLAS_STATUS_SUCCESS) {
        s.rc = INVCSI_EDEVICE;
        snprintf(s.why, sizeof s.why, "cublasSetWorkspace failed: %s", cublasGetStatusString(st));
        return;
    }
    int cublas_version = 0;
    cublasGetVersion(s.cublas, &cublas_version);
    snprintf(s.description, sizeof s.description,
             "CUDA device %d: %s (compute %d.%d, %.1f GB), cuBLAS %d", s.device, prop.name,
             prop.major, prop.minor, (double)prop.totalGlobalMem / 1e9, cublas_version);
    s.rc = INVCSI_OK;
}

} // namespace

extern "C" int invcsi_cuda_backend_open(const invcsi_backend **out, invcsi_error *err)
{
    std::call_once(g_probe_once, probe);
    if (g_cuda.rc != INVCSI_OK) {
        *out = nullptr;
        return invcsi_error_set(err, g_cuda.rc, "%s", g_cuda.why);
    }
    *out = &CUDA_BACKEND;
    return INVCSI_OK;
}
