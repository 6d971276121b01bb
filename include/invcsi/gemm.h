/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The one matrix-multiply entry point of the layer library. Every layer that needs a
 * GEMM calls invcsi_sgemm, so the CPU backend (OpenBLAS cblas_sgemm) can later sit in a
 * function table beside cuBLAS without touching the layers.
 *
 * Convention: ROW-MAJOR, as C arrays are laid out (cblas with CblasRowMajor):
 *   C[M][N] = alpha * op(A) op(B) + beta * C
 *   op(A) is M x K: A itself (lda >= K) or, with trans_a, the transpose of a K x M A (lda >= M)
 *   op(B) is K x N: B itself (ldb >= N) or, with trans_b, the transpose of an N x K B (ldb >= K)
 *   ldc >= N. beta == 0 overwrites C (NaNs in C are not propagated).
 * M, N or K == 0 are valid (K == 0 scales C by beta).
 */
#ifndef INVCSI_GEMM_H
#define INVCSI_GEMM_H

#ifdef __cplusplus
extern "C" {
#endif

enum { INVCSI_NOTRANS = 0, INVCSI_TRANS = 1 };

/* Signature shared by every backend's GEMM (the CPU one below; cuBLAS later). */
typedef void (*invcsi_sgemm_fn)(int trans_a, int trans_b, int m, int n, int k, float alpha,
                                const float *a, int lda, const float *b, int ldb, float beta,
                                float *c, int ldc);

/* CPU backend: OpenBLAS cblas_sgemm. Call it outside OpenMP parallel regions (OpenBLAS
 * threads itself; the pthread build is not meant to be entered from many threads at once). */
void invcsi_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                  int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* Thread count of the BLAS (no-op when the BLAS is not OpenBLAS). */
void invcsi_gemm_set_threads(int n);
/* Human-readable name of the BLAS in use, e.g. "OpenBLAS 0.3.21 ... Haswell MAX_THREADS=64". */
const char *invcsi_gemm_backend_name(void);

#ifdef __cplusplus
}
#endif
#endif
