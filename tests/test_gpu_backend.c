/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * CPU-vs-CUDA agreement of the backend tables (include/invcsi/backend.h), for whoever has
 * an NVIDIA GPU (ctest label gpu, `make test-gpu`). Skips (77) with one line without one,
 * which is every machine this project has run it on: IT HAS NOT BEEN RUN ON A GPU.
 *
 * Stated tolerances:
 *  - sgemm, all four transpose combinations, odd sizes, padded leading dimensions, and
 *    strided-batched GEMM: each of the CUDA and CPU results within 2 (K+1) eps sum_k
 *    |alpha a_ik b_kj| + |beta c_ij| of the double-precision product (the worst-case float
 *    bound for any summation order, x4 margin; cuBLAS is set to plain FP32, no TF32); the
 *    largest CUDA-CPU difference is printed.
 *  - k = 0: C = beta C exactly, beta = 0 overwrites NaN (gemm.h contract), bit for bit.
 *  - sum: bit-identical to the CPU table (both follow the documented block-reduction order
 *    with plain float additions).
 *  - memory: copies round-trip bit for bit; synchronize reports no error at the end.
 */
#include "check.h"

#include "invcsi/backend.h"

#include <float.h>
#include <stdint.h>
#include <string.h>

static const invcsi_backend *g_cpu, *g_gpu;
static double g_max_diff;

static uint64_t g_state = 0x243f6a8885a308d3ull;
static float uniform_pm1(void)
{
    g_state = g_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((g_state >> 40) / (double)(1 << 24)) * 2.0f - 1.0f;
}

static float *random_buffer(long n)
{
    float *x = malloc(sizeof(float) * (size_t)(n ? n : 1));
    for (long i = 0; i < n; i++)
        x[i] = uniform_pm1();
    return x;
}

/* A device copy of n host floats (aborts the test on failure: nothing else can run). */
static float *to_device(const float *x, long n)
{
    void *d = NULL;
    invcsi_error err;
    if (g_gpu->alloc(&d, sizeof(float) * (size_t)n, &err) != INVCSI_OK ||
        g_gpu->copy_to_device(d, x, sizeof(float) * (size_t)n, &err) != INVCSI_OK) {
        fprintf(stderr, "FAIL: device buffer of %ld floats: %s\n", n, err.msg);
        exit(1);
    }
    return d;
}

static void to_host(float *x, const float *d, long n)
{
    invcsi_error err;
    if (g_gpu->copy_to_host(x, d, sizeof(float) * (size_t)n, &err) != INVCSI_OK) {
        fprintf(stderr, "FAIL: copy back: %s\n", err.msg);
        exit(1);
    }
}

static double at(const float *x, int ld, int trans, int i, int j)
{
    return trans ? x[(long)j * ld + i] : x[(long)i * ld + j];
}

/* Elements of gpu or cpu (m x n, ldc) outside the stated bound of the exact result. */
static int compare(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                   const float *b, int ldb, float beta, const float *c0, const float *cpu,
                   const float *gpu, int ldc)
{
    int bad = 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            long o = (long)i * ldc + j;
            double ref = 0, mag = 0;
            for (int p = 0; p < k; p++) {
                double t = at(a, lda, ta, i, p) * at(b, ldb, tb, p, j);
                ref += t;
                mag += fabs(t);
            }
            ref = alpha * ref + (beta == 0.0f ? 0.0 : beta * (double)c0[o]);
            mag = fabs(alpha) * mag + fabs(beta * (double)c0[o]);
            double tol = 2.0 * (k + 1) * FLT_EPSILON * mag + 1e-30;
            if (!(fabs(gpu[o] - ref) <= tol) || !(fabs(cpu[o] - ref) <= tol)) {
                if (bad++ < 3)
                    fprintf(stderr, "ta %d tb %d %dx%dx%d c[%d][%d]: cuda %.9g cpu %.9g ref %.9g "
                            "(tol %.3g)\n", ta, tb, m, n, k, i, j, gpu[o], cpu[o], ref, tol);
            }
            if (fabs(gpu[o] - cpu[o]) > g_max_diff)
                g_max_diff = fabs(gpu[o] - cpu[o]);
        }
    return bad;
}

static void test_sgemm(void)
{
    static const int SIZES[][3] = {{1, 1, 1}, {7, 5, 3}, {37, 29, 53}, {64, 1, 17},
                                   {1, 33, 65}, {129, 67, 31}, {257, 130, 301}};
    for (size_t s = 0; s < sizeof SIZES / sizeof SIZES[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                const int m = SIZES[s][0], n = SIZES[s][1], k = SIZES[s][2];
                const int ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
                const int lda = ac + 3, ldb = bc + 1, ldc = n + 2;
                const long na = (long)ar * lda, nb = (long)br * ldb, nc = (long)m * ldc;
                float *a = random_buffer(na), *b = random_buffer(nb), *c0 = random_buffer(nc);
                float *cpu = malloc(sizeof(float) * nc), *gpu = malloc(sizeof(float) * nc);
                memcpy(cpu, c0, sizeof(float) * nc);
                float *da = to_device(a, na), *db = to_device(b, nb), *dc = to_device(c0, nc);
                g_cpu->sgemm(ta, tb, m, n, k, 0.75f, a, lda, b, ldb, -0.5f, cpu, ldc);
                g_gpu->sgemm(ta, tb, m, n, k, 0.75f, da, lda, db, ldb, -0.5f, dc, ldc);
                to_host(gpu, dc, nc);
                CHECK(compare(ta, tb, m, n, k, 0.75f, a, lda, b, ldb, -0.5f, c0, cpu, gpu, ldc) ==
                          0,
                      "sgemm ta %d tb %d %dx%dx%d", ta, tb, m, n, k);
                int pad_ok = 1;
                for (int i = 0; i < m; i++)
                    for (int j = n; j < ldc; j++)
                        pad_ok &= gpu[(long)i * ldc + j] == c0[(long)i * ldc + j];
                CHECK(pad_ok, "cuda sgemm wrote outside the %d x %d result", m, n);
                g_gpu->free(da);
                g_gpu->free(db);
                g_gpu->free(dc);
                free(a);
                free(b);
                free(c0);
                free(cpu);
                free(gpu);
            }

    /* k = 0 */
    float c[6] = {1, 2, 3, NAN, 5, 6}, back[6];
    float *dc = to_device(c, 6);
    g_gpu->sgemm(0, 0, 2, 3, 0, 1.0f, NULL, 1, NULL, 3, 2.0f, dc, 3);
    to_host(back, dc, 6);
    CHECK(back[0] == 2 && back[2] == 6 && isnan(back[3]) && back[5] == 12, "k = 0, beta 2");
    g_gpu->sgemm(0, 0, 2, 3, 0, 1.0f, NULL, 1, NULL, 3, 0.0f, dc, 3);
    to_host(back, dc, 6);
    int zero = 1;
    for (int i = 0; i < 6; i++)
        zero &= back[i] == 0.0f;
    CHECK(zero, "k = 0, beta 0 zeroes C (NaN included)");
    g_gpu->free(dc);
}

static void test_batched(void)
{
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            const int m = 13, n = 9, k = 21, batch = 5;
            const int lda = (ta ? m : k) + 1, ldb = (tb ? k : n) + 2, ldc = n + 1;
            const long sa = (long)(ta ? k : m) * lda + 5, sb = (long)(tb ? n : k) * ldb + 7,
                       sc = (long)m * ldc + 2;
            float *a = random_buffer(sa * batch), *b = random_buffer(sb * batch);
            float *c0 = random_buffer(sc * batch);
            float *cpu = malloc(sizeof(float) * sc * batch), *gpu = malloc(sizeof(float) * sc * batch);
            memcpy(cpu, c0, sizeof(float) * sc * batch);
            float *da = to_device(a, sa * batch), *db = to_device(b, sb * batch),
                  *dc = to_device(c0, sc * batch);
            g_cpu->sgemm_strided_batched(ta, tb, m, n, k, 1.25f, a, lda, sa, b, ldb, sb, 0.5f, cpu,
                                         ldc, sc, batch);
            g_gpu->sgemm_strided_batched(ta, tb, m, n, k, 1.25f, da, lda, sa, db, ldb, sb, 0.5f,
                                         dc, ldc, sc, batch);
            to_host(gpu, dc, sc * batch);
            int bad = 0;
            for (int p = 0; p < batch; p++)
                bad += compare(ta, tb, m, n, k, 1.25f, a + p * sa, lda, b + p * sb, ldb, 0.5f,
                               c0 + p * sc, cpu + p * sc, gpu + p * sc, ldc);
            CHECK(bad == 0, "strided batched ta %d tb %d", ta, tb);
            g_gpu->free(da);
            g_gpu->free(db);
            g_gpu->free(dc);
            free(a);
            free(b);
            free(c0);
            free(cpu);
            free(gpu);
        }
}

static void test_sum(void)
{
    const long B = 256, G = 2048; /* kernels/launch.h: INVCSI_BLOCK, INVCSI_MAX_GRID */
    const long SIZES[] = {0, 1, 2, 255, 256, 257, 1000, 4097, B * G - 1, B * G, B * G + 1,
                          3 * B * G + 77};
    for (size_t s = 0; s < sizeof SIZES / sizeof SIZES[0]; s++) {
        const long n = SIZES[s];
        float *x = random_buffer(n);
        for (long i = 0; i < n; i += 97)
            x[i] *= 1000.0f;
        float *dx = to_device(x, n ? n : 1);
        float cpu = g_cpu->sum(x, n), gpu = g_gpu->sum(dx, n);
        CHECK(memcmp(&cpu, &gpu, sizeof cpu) == 0, "sum n %ld: cuda %.9g, cpu %.9g", n, gpu, cpu);
        g_gpu->free(dx);
        free(x);
    }
}

static void test_memory(void)
{
    float host[7] = {1, -2, 3.5f, NAN, INFINITY, -0.0f, 1e-40f}, back[7];
    float *d = to_device(host, 7);
    to_host(back, d, 7);
    CHECK(!memcmp(host, back, sizeof host), "copy round trip");
    void *empty = NULL;
    invcsi_error err;
    CHECK(g_gpu->alloc(&empty, 0, &err) == INVCSI_OK, "alloc of 0 bytes");
    g_gpu->free(empty);
    g_gpu->free(d);
}

int main(void)
{
    invcsi_error err;
    invcsi_error_clear(&err);
    g_cpu = invcsi_backend_cpu();
    if (invcsi_backend_select("cuda", &g_gpu, &err) != INVCSI_OK)
        SKIP("no usable CUDA device, CPU-vs-CUDA checks not run: %s", err.msg);
    printf("cuda: %s\ncpu: %s\n", g_gpu->describe(), g_cpu->describe());
    test_memory();
    test_sgemm();
    test_batched();
    test_sum();
    CHECK(g_gpu->synchronize(&err) == INVCSI_OK, "no CUDA error recorded: %s", err.msg);
    printf("largest |cuda - cpu| of a GEMM element: %.3g\n", g_max_diff);
    return check_done("test_gpu_backend");
}
