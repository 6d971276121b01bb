/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The backend table (include/invcsi/backend.h) on this machine:
 *  - selection: cpu, auto (falls back to the CPU and logs one line), cuda (an error that
 *    names the CUDA error string, or "built without CUDA"), unknown names;
 *  - the CPU table: sgemm in all four transpose combinations on odd sizes with padded
 *    leading dimensions, k = 0, strided-batched GEMM, memory entries;
 *  - the sum: bit for bit the order of the CUDA block reduction, run here by the host
 *    launch emulator on the kernel's own text (kernels/launch_emu.h, kblock_sum).
 * GEMM tolerance: |c - c_ref| <= 2 K eps sum_k |a_ik b_kj| + 1e-30 (the worst-case float
 * dot-product bound, for any summation order, with a factor 4 of margin); c_ref in double.
 */
#include "check.h"

#include "invcsi/backend.h"
/* the emulator defines a function per kernel; this test uses only the sum */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "launch_emu.h"
#pragma GCC diagnostic pop

#include <float.h>
#include <stdint.h>
#include <string.h>

static uint64_t g_state = 0x9e3779b97f4a7c15ull;
static float uniform_pm1(void)
{
    g_state = g_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((g_state >> 40) / (double)(1 << 24)) * 2.0f - 1.0f;
}

/* element (i, j) of op(X) for a row-major X with leading dimension ld */
static double at(const float *x, int ld, int trans, int i, int j)
{
    return trans ? x[(long)j * ld + i] : x[(long)i * ld + j];
}

/* Checks c (m x n, ldc) = alpha op(A) op(B) + beta c0 against a double reference. */
static int check_gemm_result(const char *what, int ta, int tb, int m, int n, int k, float alpha,
                             const float *a, int lda, const float *b, int ldb, float beta,
                             const float *c0, const float *c, int ldc)
{
    int bad = 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double ref = 0, mag = 0;
            for (int p = 0; p < k; p++) {
                double t = at(a, lda, ta, i, p) * at(b, ldb, tb, p, j);
                ref += t;
                mag += fabs(t);
            }
            ref = alpha * ref + (beta == 0.0f ? 0.0 : beta * (double)c0[(long)i * ldc + j]);
            mag = fabs(alpha) * mag + fabs(beta * (double)c0[(long)i * ldc + j]);
            double tol = 2.0 * (k + 1) * FLT_EPSILON * mag + 1e-30;
            double got = c[(long)i * ldc + j];
            if (!(fabs(got - ref) <= tol)) {
                if (bad++ < 3)
                    fprintf(stderr, "%s ta %d tb %d %dx%dx%d: c[%d][%d] = %.9g, ref %.9g (tol %.3g)\n",
                            what, ta, tb, m, n, k, i, j, got, ref, tol);
            }
        }
    return bad;
}

static float *random_buffer(long n)
{
    float *x = malloc(sizeof(float) * (size_t)(n ? n : 1));
    for (long i = 0; i < n; i++)
        x[i] = uniform_pm1();
    return x;
}

static void test_sgemm(const invcsi_backend *be)
{
    static const int SIZES[][3] = {{1, 1, 1}, {7, 5, 3}, {37, 29, 53}, {64, 1, 17},
                                   {1, 33, 65}, {129, 67, 31}};
    for (size_t s = 0; s < sizeof SIZES / sizeof SIZES[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                const int m = SIZES[s][0], n = SIZES[s][1], k = SIZES[s][2];
                /* stored shapes, each with 3 columns of padding in the leading dimension */
                const int ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
                const int lda = ac + 3, ldb = bc + 3, ldc = n + 3;
                float *a = random_buffer((long)ar * lda), *b = random_buffer((long)br * ldb);
                float *c0 = random_buffer((long)m * ldc), *c = malloc(sizeof(float) * m * ldc);
                memcpy(c, c0, sizeof(float) * m * ldc);
                be->sgemm(ta, tb, m, n, k, 0.75f, a, lda, b, ldb, -0.5f, c, ldc);
                CHECK(check_gemm_result("sgemm", ta, tb, m, n, k, 0.75f, a, lda, b, ldb, -0.5f,
                                        c0, c, ldc) == 0,
                      "sgemm ta %d tb %d %dx%dx%d", ta, tb, m, n, k);
                /* the padding columns of C are not touched */
                int pad_ok = 1;
                for (int i = 0; i < m; i++)
                    for (int j = n; j < ldc; j++)
                        pad_ok &= c[(long)i * ldc + j] == c0[(long)i * ldc + j];
                CHECK(pad_ok, "sgemm wrote outside the %d x %d result", m, n);
                free(a);
                free(b);
                free(c0);
                free(c);
            }

    /* k = 0: C = beta C, and beta = 0 overwrites NaNs */
    float c[6] = {1, 2, 3, NAN, 5, 6};
    be->sgemm(0, 0, 2, 3, 0, 1.0f, NULL, 1, NULL, 3, 2.0f, c, 3);
    CHECK(c[0] == 2 && c[2] == 6 && isnan(c[3]) && c[5] == 12, "k = 0 with beta 2");
    be->sgemm(0, 0, 2, 3, 0, 1.0f, NULL, 1, NULL, 3, 0.0f, c, 3);
    int zero = 1;
    for (int i = 0; i < 6; i++)
        zero &= c[i] == 0.0f;
    CHECK(zero, "k = 0 with beta 0 zeroes C (NaN included)");
}

static void test_batched(const invcsi_backend *be)
{
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            const int m = 13, n = 9, k = 21, batch = 3;
            const int lda = (ta ? m : k) + 1, ldb = (tb ? k : n) + 2, ldc = n + 1;
            const long sa = (long)(ta ? k : m) * lda + 5, sb = (long)(tb ? n : k) * ldb + 7,
                       sc = (long)m * ldc + 2;
            float *a = random_buffer(sa * batch), *b = random_buffer(sb * batch);
            float *c0 = random_buffer(sc * batch), *c = malloc(sizeof(float) * sc * batch);
            memcpy(c, c0, sizeof(float) * sc * batch);
            be->sgemm_strided_batched(ta, tb, m, n, k, 1.25f, a, lda, sa, b, ldb, sb, 0.5f, c,
                                      ldc, sc, batch);
            int bad = 0;
            for (int p = 0; p < batch; p++)
                bad += check_gemm_result("batched", ta, tb, m, n, k, 1.25f, a + p * sa, lda,
                                         b + p * sb, ldb, 0.5f, c0 + p * sc, c + p * sc, ldc);
            CHECK(bad == 0, "strided batched ta %d tb %d: %d elements off", ta, tb, bad);
            free(a);
            free(b);
            free(c0);
            free(c);
        }
}

/* Sizes around every edge of the reduction's geometry: one partial block, one full block,
 * the grid growing, the grid saturating at INVCSI_MAX_GRID blocks and threads looping. */
static void test_sum(const invcsi_backend *be)
{
    const long B = INVCSI_BLOCK, G = INVCSI_MAX_GRID;
    const long SIZES[] = {0, 1, 2, 255, 256, 257, 1000, 4097, B * G - 1, B * G, B * G + 1,
                          3 * B * G + 77};
    float *partial = malloc(sizeof(float) * G);
    for (size_t s = 0; s < sizeof SIZES / sizeof SIZES[0]; s++) {
        const long n = SIZES[s];
        float *x = random_buffer(n);
        /* a few large values so a different order would show in the last bits */
        for (long i = 0; i < n; i += 97)
            x[i] *= 1000.0f;
        float got = be->sum(x, n), emu = 0.0f;
        invcsi_emu_sum(x, n, partial, &emu);
        CHECK(memcmp(&got, &emu, sizeof got) == 0,
              "n %ld: cpu sum %.9g, emulated CUDA kernel %.9g: not bit-identical", n, got, emu);
        double ref = 0, mag = 0;
        for (long i = 0; i < n; i++) {
            ref += x[i];
            mag += fabs(x[i]);
        }
        double tol = ((double)n / ((double)invcsi_grid_1d(n) * B) + 20) * FLT_EPSILON * mag;
        CHECK_CLOSE(got, ref, tol, "sum vs double");
        free(x);
    }
    free(partial);
    /* a different order does give different bits here, so the comparison above has teeth */
    float y[3] = {1.0f, 1e8f, -1e8f};
    CHECK(((y[0] + y[1]) + y[2]) != (y[0] + (y[1] + y[2])), "order-sensitive example");
}

static void test_memory(const invcsi_backend *be)
{
    invcsi_error err;
    invcsi_error_clear(&err);
    float host[5] = {1, 2, 3, 4, 5}, back[5] = {0};
    void *dev = NULL;
    CHECK(be->alloc(&dev, sizeof host, &err) == INVCSI_OK && dev, "alloc: %s", err.msg);
    CHECK(be->copy_to_device(dev, host, sizeof host, &err) == INVCSI_OK, "to device");
    CHECK(be->copy_to_host(back, dev, sizeof back, &err) == INVCSI_OK, "to host");
    CHECK(!memcmp(host, back, sizeof host), "round trip");
    CHECK(be->sum(dev, 5) == 15.0f, "sum of device buffer");
    CHECK(be->synchronize(&err) == INVCSI_OK, "synchronize: %s", err.msg);
    be->free(dev);
    be->free(NULL);
    CHECK(be->describe() && *be->describe(), "describe");
}

static char g_log[4][INVCSI_ERROR_MSG_LEN + 200];
static int g_log_lines;
static void capture(void *ctx, const char *line)
{
    (void)ctx;
    if (g_log_lines < 4)
        snprintf(g_log[g_log_lines], sizeof g_log[0], "%s", line);
    g_log_lines++;
}

static void test_select(void)
{
    const invcsi_backend *be = NULL;
    invcsi_error err;
    invcsi_error_clear(&err);
    invcsi_backend_set_log(capture, NULL);

    CHECK(invcsi_backend_select("cpu", &be, &err) == INVCSI_OK && be == invcsi_backend_cpu(),
          "cpu");
    CHECK(g_log_lines == 0, "cpu logs nothing");
    CHECK(!strcmp(be->name, "cpu") && (be->caps & INVCSI_BACKEND_CAP_MODELS), "cpu table");

    CHECK(invcsi_backend_select("gpu", &be, &err) == INVCSI_EINVAL && be == NULL,
          "unknown device");
    CHECK(strstr(err.msg, "'gpu'") && strstr(err.msg, "cpu, cuda or auto"), "msg: %s", err.msg);

    /* cuda: here (no GPU) an error naming the CUDA error; with a GPU, the table exists but
     * lacks the models capability */
    invcsi_error_clear(&err);
    int rc = invcsi_backend_select("cuda", &be, &err);
    int have_gpu = rc == INVCSI_OK;
    if (!invcsi_backend_have_cuda()) {
        CHECK(rc == INVCSI_EUNSUPPORTED && strstr(err.msg, "built without CUDA"),
              "no-CUDA build: rc %d, %s", rc, err.msg);
    } else if (!have_gpu) {
        CHECK(rc == INVCSI_EDEVICE, "cuda without a GPU: rc %d", rc);
        CHECK(strstr(err.msg, "device 'cuda' is not available") &&
                  (strstr(err.msg, "cudaGetDeviceCount") || strstr(err.msg, "cublasCreate") ||
                   strstr(err.msg, "cannot load the CUDA backend module")),
              "message names the CUDA error: %s", err.msg);
        printf("cuda here: %s\n", err.msg);
    } else {
        CHECK(!strcmp(be->name, "cuda") && !(be->caps & INVCSI_BACKEND_CAP_MODELS),
              "cuda table");
    }
    CHECK(g_log_lines == 0, "cuda logs nothing (it fails or succeeds)");

    /* the models' capability: cuda is an error whenever it is not the CPU */
    invcsi_error_clear(&err);
    rc = invcsi_backend_select_caps("cuda", INVCSI_BACKEND_CAP_MODELS, &be, &err);
    CHECK(rc != INVCSI_OK && be == NULL, "cuda for the models fails in this version");
    if (have_gpu)
        CHECK(rc == INVCSI_EUNSUPPORTED && strstr(err.msg, "do not run on CUDA"), "%s", err.msg);

    /* auto: one log line saying which */
    g_log_lines = 0;
    CHECK(invcsi_backend_select_caps("auto", INVCSI_BACKEND_CAP_MODELS, &be, &err) ==
              INVCSI_OK && be == invcsi_backend_cpu(),
          "auto for the models is the CPU");
    CHECK(g_log_lines == 1 && strstr(g_log[0], "device auto: using cpu"), "auto log: %d, %s",
          g_log_lines, g_log[0]);
    printf("auto: %s\n", g_log[0]);
    g_log_lines = 0;
    CHECK(invcsi_backend_select(NULL, &be, &err) == INVCSI_OK && be &&
              !strcmp(be->name, have_gpu ? "cuda" : "cpu"),
          "NULL means auto");
    CHECK(g_log_lines == 1 && strstr(g_log[0], have_gpu ? "using cuda" : "using cpu"),
          "auto log: %s", g_log[0]);
    invcsi_backend_set_log(NULL, NULL);
}

int main(void)
{
    const invcsi_backend *cpu = invcsi_backend_cpu();
    test_select();
    test_sgemm(cpu);
    test_batched(cpu);
    test_sum(cpu);
    test_memory(cpu);
    return check_done("test_backend");
}
