/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Reconstruction metrics (lib/metrics.c) against hand-computed values. */
#include "check.h"

#include <complex.h>

#include "invcsi/metrics.h"
#include "invcsi/rng.h"
#include "invcsi/transform.h"

enum { NR = 1, NT = 4, NC = 3, NA = NR * NT, N = NA * NC };

static void fill_random(float *h, long n_complex, uint64_t seed)
{
    invcsi_rng r;
    invcsi_rng_init(&r, seed, 0);
    for (long i = 0; i < 2 * n_complex; i++)
        h[i] = (float)invcsi_rng_normal(&r);
}

static void test_nmse(void)
{
    float h[2 * N], hhat[2 * N];
    fill_random(h, N, 1);

    for (int i = 0; i < 2 * N; i++)
        hhat[i] = 0;
    CHECK_CLOSE(invcsi_nmse_sample(h, hhat, N), 1.0, 1e-12, "NMSE of zero estimate");
    CHECK_CLOSE(invcsi_db(invcsi_nmse_sample(h, hhat, N)), 0.0, 1e-9, "NMSE of zero estimate in dB");

    const double eps = 0.03;
    for (int i = 0; i < 2 * N; i++)
        hhat[i] = (float)(h[i] * (1 + eps));
    CHECK_CLOSE(invcsi_nmse_sample(h, hhat, N), eps * eps, 1e-6 * eps * eps, "NMSE of h(1+eps)");
    CHECK_CLOSE(invcsi_nmse_real(h, hhat, 2 * N), eps * eps, 1e-6 * eps * eps, "real NMSE of h(1+eps)");

    for (int i = 0; i < 2 * N; i++)
        hhat[i] = h[i];
    CHECK(invcsi_nmse_sample(h, hhat, N) == 0.0, "NMSE of exact estimate");

    /* hand example: h = (1, 2j), hhat = (1, j): ||err||^2 = 1, ||h||^2 = 5 */
    const float h2[4] = {1, 0, 0, 2}, g2[4] = {1, 0, 0, 1};
    CHECK_CLOSE(invcsi_nmse_sample(h2, g2, 2), 0.2, 1e-12, "hand NMSE");
    CHECK_CLOSE(invcsi_db(0.2), -6.98970004336, 1e-9, "dB of 0.2");

    /* degenerate reference */
    const float z[4] = {0, 0, 0, 0};
    CHECK(invcsi_nmse_sample(z, z, 2) == 0.0, "zero vs zero");
    CHECK(isinf(invcsi_nmse_sample(z, h2, 2)), "zero reference, nonzero estimate");

    /* the unitary DFT leaves NMSE unchanged (DESIGN.md section 2) */
    float hb[2 * 32 * 32], gb[2 * 32 * 32], xb[2 * 32 * 32], xg[2 * 32 * 32];
    fill_random(hb, 32 * 32, 2);
    fill_random(gb, 32 * 32, 3);
    for (int i = 0; i < 2 * 32 * 32; i++)
        gb[i] = hb[i] + 0.3f * gb[i];
    invcsi_dft *d = NULL;
    invcsi_dft_create(&d, 1, 32, 32, NULL);
    invcsi_dft_forward(d, hb, xb, 1);
    invcsi_dft_forward(d, gb, xg, 1);
    double nf = invcsi_nmse_sample(hb, gb, 32 * 32), na = invcsi_nmse_real(xb, xg, 2 * 32 * 32);
    CHECK_CLOSE(na, nf, 1e-5 * nf, "NMSE frequency vs angular-delay domain");
    invcsi_dft_destroy(d);
}

static void test_rho(void)
{
    float h[2 * N], hhat[2 * N];
    fill_random(h, N, 4);

    CHECK_CLOSE(invcsi_rho_sample(h, h, NA, NC), 1.0, 1e-12, "rho of exact estimate");

    /* a complex gain per subcarrier (phase and amplitude) leaves rho at 1 */
    for (int k = 0; k < NC; k++) {
        double complex g = 0.5 * (k + 1) * cexp(I * (1.3 * k - 0.4));
        for (int a = 0; a < NA; a++) {
            int j = 2 * (a * NC + k);
            double complex v = (h[j] + I * h[j + 1]) * g;
            hhat[j] = (float)creal(v);
            hhat[j + 1] = (float)cimag(v);
        }
    }
    CHECK_CLOSE(invcsi_rho_sample(h, hhat, NA, NC), 1.0, 1e-6, "rho under per-subcarrier rotation");
    /* ... but NMSE sees it */
    CHECK(invcsi_nmse_sample(h, hhat, N) > 0.1, "NMSE should see the rotation");

    /* hand example, n_ant = 2, nc = 2 (layout [a][k]):
     *   k = 0: h = (1, 0), hhat = (1, 1): |h^H hhat| = 1, norms 1 and sqrt 2 -> 1/sqrt2
     *   k = 1: h = (1, j), hhat = (j, 1): h^H hhat = 1*j + (-j)*1 = 0          -> 0
     *   rho = (1/sqrt2 + 0) / 2 */
    const float hh[8] = {
        1, 0, /* a0 k0 */ 1, 0, /* a0 k1 */
        0, 0, /* a1 k0 */ 0, 1, /* a1 k1 */
    };
    const float gh[8] = {
        1, 0, /* a0 k0 */ 0, 1, /* a0 k1 */
        1, 0, /* a1 k0 */ 1, 0, /* a1 k1 */
    };
    CHECK_CLOSE(invcsi_rho_sample(hh, gh, 2, 2), 0.5 * M_SQRT1_2, 1e-12, "hand rho");

    /* hand example 2: one subcarrier, h = (1, 1), hhat = (1, -1)*j + (1, 1) = (1+j, 1-j):
     * h^H hhat = (1+j) + (1-j) = 2; ||h|| = sqrt2, ||hhat|| = 2 -> 2 / (2 sqrt2) */
    const float h3[4] = {1, 0, 1, 0}, g3[4] = {1, 1, 1, -1};
    CHECK_CLOSE(invcsi_rho_sample(h3, g3, 2, 1), M_SQRT1_2, 1e-12, "hand rho 2");

    /* zero estimate: no alignment */
    const float z[8] = {0};
    CHECK(invcsi_rho_sample(hh, z, 2, 2) == 0.0, "rho of zero estimate");
}

static void test_accumulator(void)
{
    invcsi_metrics_acc a;
    invcsi_metrics_reset(&a);
    CHECK(isnan(invcsi_metrics_nmse_db(&a)), "empty accumulator NMSE must be NaN");
    CHECK(isnan(invcsi_metrics_rho(&a)), "empty accumulator rho must be NaN");

    /* sample 1: hhat = 0 -> NMSE 1, rho 0; sample 2: hhat = h*(1.1) -> NMSE 0.01, rho 1 */
    float h[2 * N], g0[2 * N] = {0}, g1[2 * N];
    fill_random(h, N, 8);
    for (int i = 0; i < 2 * N; i++)
        g1[i] = 1.1f * h[i];
    invcsi_metrics_add(&a, h, g0, NA, NC);
    invcsi_metrics_add(&a, h, g1, NA, NC);
    CHECK(a.count == 2, "count %ld", a.count);
    CHECK_CLOSE(a.nmse_sum, 1.01, 1e-6, "NMSE sum");
    CHECK_CLOSE(invcsi_metrics_nmse_db(&a), 10 * log10(0.505), 1e-5, "mean NMSE in dB");
    CHECK_CLOSE(invcsi_metrics_rho(&a), 0.5, 1e-6, "mean rho");
    invcsi_metrics_reset(&a);
    CHECK(a.count == 0 && a.nmse_sum == 0 && a.rho_sum == 0, "reset");
}

static void test_db(void)
{
    CHECK_CLOSE(invcsi_db(1.0), 0.0, 0, "db(1)");
    CHECK_CLOSE(invcsi_db(0.1), -10.0, 1e-12, "db(0.1)");
    CHECK_CLOSE(invcsi_db(1000.0), 30.0, 1e-12, "db(1000)");
    CHECK(isinf(invcsi_db(0.0)) && invcsi_db(0.0) < 0, "db(0) must be -inf");
    CHECK(isnan(invcsi_db(-1.0)), "db(-1) must be NaN");
}

int main(void)
{
    test_nmse();
    test_rho();
    test_accumulator();
    test_db();
    return check_done("test_metrics");
}
