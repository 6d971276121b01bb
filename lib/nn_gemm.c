/* SPDX-License-Identifier: GPL-3.0-or-later */
/* CPU GEMM backend: a thin row-major wrapper around cblas_sgemm (OpenBLAS). */
#include "invcsi/gemm.h"

#include <cblas.h>
#include <dlfcn.h>

void invcsi_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                  int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) {
        /* Nothing to multiply: C = beta * C (BLAS implementations disagree on k == 0). */
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                c[(long)i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[(long)i * ldc + j];
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c,
                ldc);
}

/* The OpenBLAS extensions are looked up at run time: the reference BLAS (a possible
 * Debian alternative for libblas.so) does not have them, and linking must not depend on it. */
void invcsi_gemm_set_threads(int n)
{
    void (*set_threads)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
    if (set_threads && n > 0)
        set_threads(n);
}

const char *invcsi_gemm_backend_name(void)
{
    char *(*get_config)(void) = (char *(*)(void))dlsym(RTLD_DEFAULT, "openblas_get_config");
    return get_config ? get_config() : "CBLAS (not OpenBLAS)";
}
