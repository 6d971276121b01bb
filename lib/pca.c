/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PCA / KLT of a training set (include/invcsi/pca.h): double-precision scatter matrix
 * (cblas_dsyrk over chunks of reports), LAPACK dsyevd, axes kept in float.
 */
#include "invcsi/pca.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "invcsi/gemm.h"

/* LAPACK (Fortran) symmetric eigensolver, divide and conquer, from OpenBLAS. The two
 * trailing size_t are the hidden lengths of the CHARACTER arguments (gfortran ABI). */
extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
                    double *w, double *work, const int *lwork, int *iwork, const int *liwork,
                    int *info, size_t jobz_len, size_t uplo_len);

#define SCATTER_CHUNK 256 /* reports converted to double per dsyrk call */

int invcsi_scatter_matrix(double *s, const float *x, long n, int dim, const double *mean,
                          invcsi_error *err)
{
    if (n < 1 || dim < 1)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "scatter matrix: %ld samples of %d values (need >= 1 each)", n,
                                dim);
    double *buf = malloc(sizeof(double) * SCATTER_CHUNK * (size_t)dim);
    if (!buf)
        return invcsi_error_set(err, INVCSI_ENOMEM, "scatter matrix: out of memory");
    memset(s, 0, sizeof(double) * (size_t)dim * dim);
    for (long at = 0; at < n; at += SCATTER_CHUNK) {
        const int cn = (int)(n - at < SCATTER_CHUNK ? n - at : SCATTER_CHUNK);
        for (int i = 0; i < cn; i++) {
            const float *xi = x + (at + i) * (long)dim;
            double *bi = buf + (long)i * dim;
            for (int k = 0; k < dim; k++)
                bi[k] = (double)xi[k] - (mean ? mean[k] : 0.0);
        }
        /* upper triangle of S += B^T B */
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, dim, cn, 1.0, buf, dim, 1.0, s, dim);
    }
    free(buf);
    const double inv_n = 1.0 / (double)n;
    for (int i = 0; i < dim; i++)
        for (int j = i; j < dim; j++) {
            const double v = s[(long)i * dim + j] * inv_n;
            s[(long)i * dim + j] = v;
            s[(long)j * dim + i] = v;
        }
    return INVCSI_OK;
}

int invcsi_sym_eig(double *a, double *w, int n, invcsi_error *err)
{
    if (n < 1)
        return invcsi_error_set(err, INVCSI_EINVAL, "eigen-decomposition: size %d < 1", n);
    /* A symmetric row-major matrix is its own column-major transpose, so LAPACK sees the
     * same matrix; on return column j (column-major) = row j of the C array = eigenvector
     * j, eigenvalues ascending. */
    int info = 0, lwork = -1, liwork = -1, iwork_q = 0;
    double work_q = 0.0;
    dsyevd_("V", "U", &n, a, &n, w, &work_q, &lwork, &iwork_q, &liwork, &info, 1, 1);
    if (info != 0)
        return invcsi_error_set(err, INVCSI_EINVAL, "dsyevd workspace query failed (info %d)",
                                info);
    lwork = (int)work_q + 1;
    liwork = iwork_q;
    double *work = malloc(sizeof(double) * (size_t)lwork);
    int *iwork = malloc(sizeof(int) * (size_t)(liwork > 1 ? liwork : 1));
    if (!work || !iwork) {
        free(work);
        free(iwork);
        return invcsi_error_set(err, INVCSI_ENOMEM,
                                "eigen-decomposition of %dx%d: out of memory", n, n);
    }
    dsyevd_("V", "U", &n, a, &n, w, work, &lwork, iwork, &liwork, &info, 1, 1);
    free(work);
    free(iwork);
    if (info != 0)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "dsyevd failed on the %dx%d matrix (info %d%s)", n, n, info,
                                info > 0 ? ": did not converge" : ": bad argument");
    /* descending order: reverse the rows and the eigenvalues */
    for (int i = 0, j = n - 1; i < j; i++, j--) {
        double t = w[i];
        w[i] = w[j];
        w[j] = t;
        double *ri = a + (long)i * n, *rj = a + (long)j * n;
        for (int k = 0; k < n; k++) {
            t = ri[k];
            ri[k] = rj[k];
            rj[k] = t;
        }
    }
    /* sign convention: largest-magnitude entry positive (first one on ties) */
    for (int i = 0; i < n; i++) {
        double *r = a + (long)i * n;
        int kmax = 0;
        for (int k = 1; k < n; k++)
            if (fabs(r[k]) > fabs(r[kmax]))
                kmax = k;
        if (r[kmax] < 0.0)
            for (int k = 0; k < n; k++)
                r[k] = -r[k];
    }
    return INVCSI_OK;
}

int invcsi_pca_fit(invcsi_pca *p, const float *x, long n, int dim, int keep, int centered,
                   invcsi_error *err)
{
    memset(p, 0, sizeof *p);
    if (n < 1 || dim < 1 || keep < 1 || keep > dim)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "PCA: %ld samples of %d values keeping %d axes (need n >= 1, "
                                "1 <= keep <= dim)",
                                n, dim, keep);
    if ((double)dim * dim > 1e9)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "PCA: dimension %d too large for a dense %d x %d eigenproblem",
                                dim, dim, dim);
    double *s = malloc(sizeof(double) * (size_t)dim * dim);
    double *mean = calloc((size_t)dim, sizeof(double));
    p->mean = calloc((size_t)dim, sizeof(float));
    p->axes = malloc(sizeof(float) * (size_t)keep * dim);
    p->eigval = malloc(sizeof(double) * (size_t)dim);
    int rc = INVCSI_OK;
    if (!s || !mean || !p->mean || !p->axes || !p->eigval) {
        rc = invcsi_error_set(err, INVCSI_ENOMEM, "PCA of dimension %d: out of memory", dim);
        goto done;
    }
    p->dim = dim;
    p->keep = keep;
    p->centered = centered ? 1 : 0;
    if (centered) {
        for (long i = 0; i < n; i++)
            for (int k = 0; k < dim; k++)
                mean[k] += x[i * (long)dim + k];
        for (int k = 0; k < dim; k++) {
            mean[k] /= (double)n;
            p->mean[k] = (float)mean[k];
        }
    }
    rc = invcsi_scatter_matrix(s, x, n, dim, centered ? mean : NULL, err);
    if (rc == INVCSI_OK)
        rc = invcsi_sym_eig(s, p->eigval, dim, err);
    if (rc == INVCSI_OK)
        for (long i = 0; i < (long)keep * dim; i++)
            p->axes[i] = (float)s[i];
done:
    free(s);
    free(mean);
    if (rc != INVCSI_OK)
        invcsi_pca_free(p);
    return rc;
}

void invcsi_pca_project(const invcsi_pca *p, const float *x, long count, float *y)
{
    if (count < 1)
        return;
    /* y = x A^T - mean A^T (the offset per axis computed once) */
    invcsi_sgemm(INVCSI_NOTRANS, INVCSI_TRANS, (int)count, p->keep, p->dim, 1.0f, x, p->dim,
                 p->axes, p->dim, 0.0f, y, p->keep);
    if (!p->centered)
        return;
    for (int j = 0; j < p->keep; j++) {
        double off = 0.0;
        const float *a = p->axes + (long)j * p->dim;
        for (int k = 0; k < p->dim; k++)
            off += (double)a[k] * p->mean[k];
        const float o = (float)off;
        for (long i = 0; i < count; i++)
            y[i * p->keep + j] -= o;
    }
}

void invcsi_pca_reconstruct(const invcsi_pca *p, const float *y, long count, float *x)
{
    if (count < 1)
        return;
    invcsi_sgemm(INVCSI_NOTRANS, INVCSI_NOTRANS, (int)count, p->dim, p->keep, 1.0f, y, p->keep,
                 p->axes, p->dim, 0.0f, x, p->dim);
    if (!p->centered)
        return;
    for (long i = 0; i < count; i++)
        for (int k = 0; k < p->dim; k++)
            x[i * p->dim + k] += p->mean[k];
}

double invcsi_pca_energy_fraction(const invcsi_pca *p)
{
    double kept = 0.0, total = 0.0;
    for (int k = 0; k < p->dim; k++) {
        const double v = p->eigval[k] > 0.0 ? p->eigval[k] : 0.0;
        total += v;
        if (k < p->keep)
            kept += v;
    }
    return total > 0.0 ? kept / total : 1.0;
}

void invcsi_pca_free(invcsi_pca *p)
{
    free(p->mean);
    free(p->axes);
    free(p->eigval);
    memset(p, 0, sizeof *p);
}
