/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Angular-delay transform (lib/transform.c): round trip, Parseval, agreement with the
 * defining double sum, a single path landing in the expected (angle, delay) cell (this
 * pins the sign conventions), thread safety, preprocessing and power normalisation.
 */
#include "check.h"

#include <complex.h>
#include <pthread.h>
#include <string.h>

#include "invcsi/rng.h"
#include "invcsi/transform.h"

/* Complex Gaussian with unit power per complex entry (variance 1/2 per real part). */
static void fill_random(float *h, long n_complex, uint64_t seed)
{
    invcsi_rng r;
    invcsi_rng_init(&r, seed, 0);
    for (long i = 0; i < 2 * n_complex; i++)
        h[i] = (float)(invcsi_rng_normal(&r) * M_SQRT1_2);
}

static double sumsq(const float *v, long n)
{
    double s = 0;
    for (long i = 0; i < n; i++)
        s += (double)v[i] * v[i];
    return s;
}

/* Round trip and Parseval on `count` random samples of nr x nt x nc. */
static void test_round_trip(int nr, int nt, int nc, long count)
{
    invcsi_dft *d = NULL;
    invcsi_error err;
    CHECK(invcsi_dft_create(&d, nr, nt, nc, &err) == INVCSI_OK, "create: %s", err.msg);
    if (!d)
        return;
    long n = (long)nr * nt * nc, len = invcsi_dft_real_len(d);
    CHECK(len == 2 * n, "real_len %ld", len);
    float *h = malloc(sizeof(float) * 2 * n * count);
    float *x = malloc(sizeof(float) * len * count);
    float *h2 = malloc(sizeof(float) * 2 * n * count);
    fill_random(h, n * count, 1000 + nr * 100 + nt * 10 + nc);
    invcsi_dft_forward(d, h, x, count);
    invcsi_dft_inverse(d, x, h2, count);

    double maxerr = 0, worst_parseval = 0;
    for (long i = 0; i < 2 * n * count; i++)
        maxerr = fmax(maxerr, fabs((double)h[i] - h2[i]));
    for (long s = 0; s < count; s++) {
        double eh = sumsq(h + 2 * n * s, 2 * n), ex = sumsq(x + len * s, len);
        worst_parseval = fmax(worst_parseval, fabs(eh - ex) / eh);
    }
    printf("round trip %dx%dx%d (%ld samples): max abs err %.3g, Parseval rel err %.3g\n",
           nr, nt, nc, count, maxerr, worst_parseval);
    CHECK(maxerr < 1e-5, "round trip %dx%dx%d max abs error %g", nr, nt, nc, maxerr);
    CHECK(worst_parseval < 1e-5, "Parseval %dx%dx%d relative error %g", nr, nt, nc, worst_parseval);
    free(h);
    free(x);
    free(h2);
    invcsi_dft_destroy(d);
}

/* forward == the defining double sum of transform.h on random data (odd sizes). */
static void test_against_definition(int nr, int nt, int nc)
{
    invcsi_dft *d = NULL;
    CHECK(invcsi_dft_create(&d, nr, nt, nc, NULL) == INVCSI_OK, "create %dx%dx%d", nr, nt, nc);
    if (!d)
        return;
    long n = (long)nr * nt * nc;
    float *h = malloc(sizeof(float) * 2 * n), *x = malloc(sizeof(float) * 2 * n);
    fill_random(h, n, 7);
    invcsi_dft_forward(d, h, x, 1);
    double maxerr = 0;
    for (int r = 0; r < nr; r++)
        for (int p = 0; p < nt; p++)
            for (int q = 0; q < nc; q++) {
                double complex acc = 0;
                for (int t = 0; t < nt; t++)
                    for (int k = 0; k < nc; k++) {
                        long j = 2 * (((long)r * nt + t) * nc + k);
                        double complex v = h[j] + I * h[j + 1];
                        acc += v * cexp(-2 * M_PI * I * p * t / nt) * cexp(2 * M_PI * I * q * k / nc);
                    }
                acc /= sqrt((double)nt * nc);
                long a = (long)r * nt + p;
                double complex got = x[a * nc + q] + I * x[n + a * nc + q];
                maxerr = fmax(maxerr, cabs(got - acc));
            }
    printf("definition %dx%dx%d: max abs err %.3g\n", nr, nt, nc, maxerr);
    CHECK(maxerr < 1e-5, "forward vs definition %dx%dx%d: %g", nr, nt, nc, maxerr);
    free(h);
    free(x);
    invcsi_dft_destroy(d);
}

/* One path: H[r][t][k] = g_r * exp(+j 2pi t p0 / nt) * exp(-j 2pi f_k tau), tau = d / bw.
 * Subcarrier frequencies f_k = (k - nc/2) * bw / nc (centred on the carrier, as a
 * generator spreads them across the band): the offset only adds a constant phase.
 * Expect all energy of receive antenna r in cell (r*nt + p0, d). */
static void test_single_path(int nr, int nt, int nc, int p0, int d_bins)
{
    const double bw = 50e6, tau = d_bins / bw;
    invcsi_dft *d = NULL;
    CHECK(invcsi_dft_create(&d, nr, nt, nc, NULL) == INVCSI_OK, "create");
    if (!d)
        return;
    long n = (long)nr * nt * nc;
    float *h = malloc(sizeof(float) * 2 * n), *x = malloc(sizeof(float) * 2 * n);
    for (int r = 0; r < nr; r++) {
        double complex g = cexp(I * 0.7 * r); /* arbitrary per-receive-antenna phase */
        for (int t = 0; t < nt; t++)
            for (int k = 0; k < nc; k++) {
                double fk = (k - nc / 2.0) * bw / nc;
                double complex v = g * cexp(2 * M_PI * I * t * p0 / nt) * cexp(-2 * M_PI * I * fk * tau);
                long j = 2 * (((long)r * nt + t) * nc + k);
                h[j] = (float)creal(v);
                h[j + 1] = (float)cimag(v);
            }
    }
    invcsi_dft_forward(d, h, x, 1);
    double total = 0, in_cell = 0;
    for (int a = 0; a < nr * nt; a++)
        for (int q = 0; q < nc; q++) {
            double e = (double)x[a * nc + q] * x[a * nc + q] + (double)x[n + a * nc + q] * x[n + a * nc + q];
            total += e;
            if (a % nt == p0 && q == d_bins)
                in_cell += e;
        }
    /* each receive antenna: nt*nc unit-modulus entries -> |X| = sqrt(nt*nc) in its cell */
    double peak = hypot(x[p0 * nc + d_bins], x[n + p0 * nc + d_bins]);
    printf("single path %dx%dx%d at (angle %d, delay %d): %.8f of the energy in the cell, |X| %.5f\n",
           nr, nt, nc, p0, d_bins, in_cell / total, peak);
    CHECK(fabs(in_cell / total - 1.0) < 1e-6, "energy fraction in (angle %d, delay %d): %.9f",
          p0, d_bins, in_cell / total);
    CHECK_CLOSE(peak, sqrt((double)nt * nc), 1e-4 * sqrt((double)nt * nc), "peak magnitude");
    CHECK_CLOSE(total, (double)n, 1e-5 * n, "total energy");
    free(h);
    free(x);
    invcsi_dft_destroy(d);
}

/* Plans made and executed from several threads at once give the single-thread result. */
struct thread_job {
    const float *h;
    float *x;
    long count;
    int ok;
};

static void *thread_run(void *arg)
{
    struct thread_job *j = arg;
    for (int rep = 0; rep < 20; rep++) {
        invcsi_dft *d = NULL;
        if (invcsi_dft_create(&d, 1, 32, 32, NULL) != INVCSI_OK) {
            j->ok = 0;
            return NULL;
        }
        invcsi_dft_forward(d, j->h, j->x, j->count);
        invcsi_dft_destroy(d);
    }
    j->ok = 1;
    return NULL;
}

static void test_threads(void)
{
    enum { NT = 4, COUNT = 8 };
    long len = 2 * 32 * 32;
    float *h = malloc(sizeof(float) * len * COUNT), *ref = malloc(sizeof(float) * len * COUNT);
    fill_random(h, len / 2 * COUNT, 99);
    invcsi_dft *d = NULL;
    invcsi_dft_create(&d, 1, 32, 32, NULL);
    invcsi_dft_forward(d, h, ref, COUNT);
    pthread_t th[NT];
    struct thread_job jobs[NT];
    for (int i = 0; i < NT; i++) {
        jobs[i].h = h;
        jobs[i].x = malloc(sizeof(float) * len * COUNT);
        jobs[i].count = COUNT;
        jobs[i].ok = 0;
        pthread_create(&th[i], NULL, thread_run, &jobs[i]);
    }
    for (int i = 0; i < NT; i++) {
        pthread_join(th[i], NULL);
        CHECK(jobs[i].ok, "thread %d failed to create a plan", i);
        CHECK(memcmp(jobs[i].x, ref, sizeof(float) * len * COUNT) == 0,
              "thread %d result differs from single-thread result", i);
        free(jobs[i].x);
    }
    /* the OpenMP path (count >= 64) is bit-identical to one-sample calls */
    long big = 100;
    float *hb = malloc(sizeof(float) * len * big), *xb = malloc(sizeof(float) * len * big);
    float *x1 = malloc(sizeof(float) * len);
    fill_random(hb, len / 2 * big, 5);
    invcsi_dft_forward(d, hb, xb, big);
    int same = 1;
    for (long s = 0; s < big; s++) {
        invcsi_dft_forward(d, hb + len * s, x1, 1);
        same &= memcmp(x1, xb + len * s, sizeof(float) * len) == 0;
    }
    CHECK(same, "batched forward differs from one-sample calls");
    free(hb);
    free(xb);
    free(x1);
    invcsi_dft_destroy(d);
    free(h);
    free(ref);
}

static void test_errors(void)
{
    invcsi_dft *d = (invcsi_dft *)&d;
    invcsi_error err;
    CHECK(invcsi_dft_create(&d, 0, 32, 32, &err) == INVCSI_EINVAL, "nr = 0 accepted");
    CHECK(d == NULL, "output not cleared on error");
    CHECK(strstr(err.msg, "nr=0") != NULL, "message does not name the size: %s", err.msg);
    CHECK(invcsi_dft_create(&d, 1, -3, 32, NULL) == INVCSI_EINVAL, "nt < 0 accepted");
    invcsi_dft_destroy(NULL); /* no-op */
}

static void test_power_scale(void)
{
    long count = 50, len = 2048;
    float *x = malloc(sizeof(float) * count * len);
    invcsi_rng r;
    invcsi_rng_init(&r, 3, 0);
    for (long i = 0; i < count * len; i++)
        x[i] = (float)(0.01 * invcsi_rng_normal(&r) + 0.002);
    double s = invcsi_power_scale(x, count, len);
    invcsi_scale(x, count, len, s);
    double p = sumsq(x, count * len) / (count * len);
    printf("power scale %.4f -> power per real entry %.8f\n", s, p);
    CHECK_CLOSE(p, 1.0, 1e-5, "power per real entry after scaling");
    invcsi_scale(x, count, len, 1.0 / s);
    CHECK_CLOSE(sumsq(x, count * len) / (count * len), 1.0 / (s * s), 1e-5 / (s * s), "inverse scaling");
    memset(x, 0, sizeof(float) * count * len);
    CHECK(invcsi_power_scale(x, count, len) == 1.0, "all-zero data must give scale 1");
    CHECK(invcsi_power_scale(x, 0, len) == 1.0, "empty set must give scale 1");
    free(x);
}

static void test_preprocess(void)
{
    invcsi_channels c;
    invcsi_error err;
    CHECK(invcsi_channels_alloc(&c, 10, 2, 5, 7, &err) == INVCSI_OK, "alloc: %s", err.msg);
    long n = invcsi_channels_sample_len(&c), len = 2 * n;
    fill_random(c.h, n * c.n, 11);
    invcsi_dft *d = NULL;
    invcsi_dft_create(&d, 2, 5, 7, NULL);

    const int idx[4] = {7, 2, 2, 9};
    const double scale = 3.5;
    float *x = malloc(sizeof(float) * len * 10), *ref = malloc(sizeof(float) * len);
    CHECK(invcsi_preprocess(&c, idx, 4, scale, x, &err) == INVCSI_OK, "preprocess: %s", err.msg);
    double maxerr = 0;
    for (int i = 0; i < 4; i++) {
        invcsi_dft_forward(d, c.h + 2 * n * idx[i], ref, 1);
        for (long j = 0; j < len; j++)
            maxerr = fmax(maxerr, fabs(x[len * i + j] - scale * ref[j]));
    }
    CHECK(maxerr < 1e-5, "preprocess with idx and scale: max error %g", maxerr);

    /* idx == NULL: all rows in order, scale 1 */
    CHECK(invcsi_preprocess(&c, NULL, c.n, 1.0, x, &err) == INVCSI_OK, "preprocess all: %s", err.msg);
    invcsi_dft_forward(d, c.h + 2 * n * 6, ref, 1);
    CHECK(memcmp(ref, x + len * 6, sizeof(float) * len) == 0, "preprocess(NULL) row 6 differs");

    /* the power scale computed on preprocessed data gives unit power per real entry */
    double s = invcsi_power_scale(x, c.n, len);
    CHECK(invcsi_preprocess(&c, NULL, c.n, s, x, &err) == INVCSI_OK, "preprocess scaled");
    CHECK_CLOSE(sumsq(x, len * c.n) / (len * c.n), 1.0, 1e-5, "unit power after preprocess");

    const int bad[2] = {1, 10};
    CHECK(invcsi_preprocess(&c, bad, 2, 1.0, x, &err) == INVCSI_EINVAL, "out-of-range idx accepted");
    CHECK(strstr(err.msg, "idx[1] = 10") != NULL, "message: %s", err.msg);
    CHECK(invcsi_preprocess(&c, NULL, 11, 1.0, x, &err) == INVCSI_EINVAL, "count > n accepted");
    CHECK(invcsi_preprocess(&c, NULL, 0, 1.0, x, &err) == INVCSI_OK, "count 0 must be a no-op");

    free(x);
    free(ref);
    invcsi_dft_destroy(d);
    invcsi_channels_free(&c);
}

int main(void)
{
    test_round_trip(1, 32, 32, 16);
    test_round_trip(2, 5, 7, 9);
    test_round_trip(1, 32, 32, 100); /* OpenMP path */
    test_against_definition(2, 5, 7);
    test_against_definition(1, 8, 4);
    test_single_path(1, 32, 32, 5, 3);
    test_single_path(1, 32, 32, 0, 0);
    test_single_path(1, 32, 32, 31, 17);
    test_single_path(2, 5, 7, 2, 4);
    test_threads();
    test_errors();
    test_power_scale();
    test_preprocess();
    return check_done("test_transform");
}
