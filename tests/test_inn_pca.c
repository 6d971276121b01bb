/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PCA / KLT (include/invcsi/pca.h) and the fitted INN fronts (inn.h):
 *   - the symmetric eigen-decomposition on a matrix with known eigenpairs (order, signs);
 *   - on synthetic data with a known rank-4 structure (+ a mean offset and weak noise),
 *     the fitted axes span the true subspace, the eigenvalues are the true variances, the
 *     projection keeps everything but the noise;
 *   - the KLT rotation is orthogonal with descending energy, the energy permutation sorts
 *     by mean square.
 */
#include "check.h"
#include "invcsi/inn.h"
#include "invcsi/pca.h"
#include "invcsi/rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *xmalloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

static void check_known_eig(void)
{
    /* eigenpairs: 5 (0,0,1); 3 (1,1,0)/sqrt2; 1 (1,-1,0)/sqrt2 (tie in magnitude: the first
     * entry is made positive) */
    double a[9] = {2, 1, 0, 1, 2, 0, 0, 0, 5}, w[3];
    invcsi_error err;
    int rc = invcsi_sym_eig(a, w, 3, &err);
    CHECK(rc == INVCSI_OK, "sym_eig: %s", err.msg);
    CHECK_CLOSE(w[0], 5.0, 1e-12, "eigenvalue 0");
    CHECK_CLOSE(w[1], 3.0, 1e-12, "eigenvalue 1");
    CHECK_CLOSE(w[2], 1.0, 1e-12, "eigenvalue 2");
    const double r = sqrt(0.5);
    const double expect[9] = {0, 0, 1, r, r, 0, r, -r, 0};
    for (int i = 0; i < 9; i++)
        CHECK_CLOSE(a[i], expect[i], 1e-12, "eigenvector entry");
}

/* x = mean + U diag(sd) g + noise, U a random orthonormal dim x 4 basis. */
static void check_low_rank(void)
{
    enum { DIM = 64, RANK = 4, N = 4000 };
    const double sd[RANK] = {5.0, 3.0, 2.0, 1.0}, noise = 0.01;
    invcsi_rng r;
    invcsi_rng_init(&r, 99, 0);
    double u[RANK][DIM];
    for (int q = 0; q < RANK; q++) { /* Gram-Schmidt */
        for (int k = 0; k < DIM; k++)
            u[q][k] = invcsi_rng_normal(&r);
        for (int p = 0; p < q; p++) {
            double d = 0.0;
            for (int k = 0; k < DIM; k++)
                d += u[q][k] * u[p][k];
            for (int k = 0; k < DIM; k++)
                u[q][k] -= d * u[p][k];
        }
        double nn = 0.0;
        for (int k = 0; k < DIM; k++)
            nn += u[q][k] * u[q][k];
        for (int k = 0; k < DIM; k++)
            u[q][k] /= sqrt(nn);
    }
    double mean[DIM];
    for (int k = 0; k < DIM; k++)
        mean[k] = 2.0 * invcsi_rng_normal(&r);
    float *x = xmalloc(sizeof(float) * N * DIM);
    for (long i = 0; i < N; i++) {
        double g[RANK];
        for (int q = 0; q < RANK; q++)
            g[q] = sd[q] * invcsi_rng_normal(&r);
        for (int k = 0; k < DIM; k++) {
            double v = mean[k] + noise * invcsi_rng_normal(&r);
            for (int q = 0; q < RANK; q++)
                v += g[q] * u[q][k];
            x[i * DIM + k] = (float)v;
        }
    }

    invcsi_pca p;
    invcsi_error err;
    int rc = invcsi_pca_fit(&p, x, N, DIM, RANK, 1, &err);
    CHECK(rc == INVCSI_OK, "pca_fit: %s", err.msg);
    if (rc)
        return;
    /* eigenvalues: the true variances, to sampling error (~sqrt(2/N) = 2.2 %) */
    for (int q = 0; q < RANK; q++) {
        printf("eigenvalue %d: %.4f (true %.4f)\n", q, p.eigval[q], sd[q] * sd[q]);
        CHECK(fabs(p.eigval[q] / (sd[q] * sd[q]) - 1.0) < 0.1, "eigenvalue %d: %g vs %g", q,
              p.eigval[q], sd[q] * sd[q]);
    }
    CHECK(p.eigval[RANK] < 2.0 * noise * noise, "eigenvalue %d: %g is not noise", RANK,
          p.eigval[RANK]);
    for (int k = 1; k < DIM; k++)
        CHECK(p.eigval[k] <= p.eigval[k - 1], "eigenvalues not descending at %d", k);
    /* each axis lies in span(U) and they are orthonormal */
    double worst_out = 0.0, worst_orth = 0.0;
    for (int a = 0; a < RANK; a++) {
        const float *ax = p.axes + a * DIM;
        double in = 0.0;
        for (int q = 0; q < RANK; q++) {
            double d = 0.0;
            for (int k = 0; k < DIM; k++)
                d += ax[k] * u[q][k];
            in += d * d;
        }
        worst_out = fmax(worst_out, 1.0 - in);
        for (int b = 0; b < RANK; b++) {
            double d = 0.0;
            for (int k = 0; k < DIM; k++)
                d += (double)ax[k] * p.axes[b * DIM + k];
            worst_orth = fmax(worst_orth, fabs(d - (a == b)));
        }
    }
    printf("axes: largest energy outside the true subspace %.2e, orthonormality error %.2e\n",
           worst_out, worst_orth);
    CHECK(worst_out < 1e-4, "axes leave the true subspace: %g", worst_out);
    CHECK(worst_orth < 1e-5, "axes not orthonormal: %g", worst_orth);
    /* project + reconstruct keeps everything but the noise */
    float *y = xmalloc(sizeof(float) * N * RANK), *xr = xmalloc(sizeof(float) * N * DIM);
    invcsi_pca_project(&p, x, N, y);
    invcsi_pca_reconstruct(&p, y, N, xr);
    double se = 0.0;
    for (long i = 0; i < (long)N * DIM; i++)
        se += ((double)xr[i] - x[i]) * ((double)xr[i] - x[i]);
    const double per_value = se / ((double)N * DIM);
    printf("reconstruction error per value %.3e (noise variance %.3e x %d/%d discarded axes)\n",
           per_value, noise * noise, DIM - RANK, DIM);
    CHECK(per_value < 1.2 * noise * noise && per_value > 0.5 * noise * noise,
          "reconstruction error %g vs noise %g", per_value, noise * noise);
    /* latent variances are the eigenvalues (the projection is centred) */
    for (int q = 0; q < RANK; q++) {
        double m = 0.0, v = 0.0;
        for (long i = 0; i < N; i++)
            m += y[i * RANK + q];
        m /= N;
        for (long i = 0; i < N; i++)
            v += (y[i * RANK + q] - m) * (y[i * RANK + q] - m);
        CHECK(fabs(m) < 1e-3 * sd[0], "latent %d mean %g", q, m);
        CHECK(fabs(v / N / p.eigval[q] - 1.0) < 1e-3, "latent %d variance %g vs %g", q, v / N,
              p.eigval[q]);
    }
    CHECK(invcsi_pca_energy_fraction(&p) > 0.999, "energy fraction %g",
          invcsi_pca_energy_fraction(&p));
    invcsi_pca_free(&p);

    /* bad arguments */
    rc = invcsi_pca_fit(&p, x, N, DIM, DIM + 1, 1, &err);
    CHECK(rc == INVCSI_EINVAL, "keep > dim accepted");
    free(x);
    free(y);
    free(xr);
}

/* The INN's fitted fronts on data whose per-index power is known. */
static void check_fronts(void)
{
    enum { DIM = 48, N = 3000 };
    invcsi_rng r;
    invcsi_rng_init(&r, 7, 0);
    float *x = xmalloc(sizeof(float) * N * DIM);
    /* index k has standard deviation 1.1^((k * 7) % DIM): a scrambled order, neighbours
     * 21 % apart in power (8 times the sampling error of N = 3000) */
    for (long i = 0; i < N; i++)
        for (int k = 0; k < DIM; k++)
            x[i * DIM + k] = (float)(pow(1.1, (k * 7) % DIM) * invcsi_rng_normal(&r));
    float perm[DIM];
    invcsi_error err;
    int rc = invcsi_energy_order(perm, x, N, DIM, &err);
    CHECK(rc == INVCSI_OK, "energy_order: %s", err.msg);
    for (int j = 0; j < DIM; j++)
        CHECK(((int)perm[j] * 7) % DIM == DIM - 1 - j, "energy order position %d: %g", j,
              perm[j]);

    float *rot = xmalloc(sizeof(float) * DIM * DIM);
    rc = invcsi_klt_fit(rot, x, N, DIM, &err);
    CHECK(rc == INVCSI_OK, "klt_fit: %s", err.msg);
    double worst = 0.0;
    for (int a = 0; a < DIM; a++)
        for (int b = 0; b < DIM; b++) {
            double d = 0.0;
            for (int k = 0; k < DIM; k++)
                d += (double)rot[a * DIM + k] * rot[b * DIM + k];
            worst = fmax(worst, fabs(d - (a == b)));
        }
    CHECK(worst < 1e-5, "KLT rotation not orthogonal: %g", worst);
    float *v = xmalloc(sizeof(float) * N * DIM), *back = xmalloc(sizeof(float) * N * DIM);
    invcsi_rotate(v, x, rot, N, DIM);
    invcsi_rotate_inverse(back, v, rot, N, DIM);
    double e = 0.0, prev = INFINITY, xmax = 0.0;
    int descending = 1;
    for (int k = 0; k < DIM; k++) {
        double p = 0.0;
        for (long i = 0; i < N; i++)
            p += (double)v[i * DIM + k] * v[i * DIM + k];
        if (p > prev * (1 + 1e-6))
            descending = 0;
        prev = p;
    }
    for (long i = 0; i < (long)N * DIM; i++) {
        e = fmax(e, fabs((double)back[i] - x[i]));
        xmax = fmax(xmax, fabs(x[i]));
    }
    e /= xmax;
    CHECK(descending, "rotated energies not descending");
    CHECK(e < 1e-6, "rotate_inverse(rotate(x)) error %g of max |x|", e);
    printf("KLT front: orthogonality error %.2e, round trip error %.2e of max |x|\n", worst, e);
    free(x);
    free(rot);
    free(v);
    free(back);
}

int main(void)
{
    check_known_eig();
    check_low_rank();
    check_fronts();
    return check_done("test_inn_pca");
}
