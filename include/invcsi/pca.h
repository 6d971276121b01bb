/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Principal component analysis (Karhunen-Loeve transform) of a training set: the one
 * implementation behind the INN's "--front klt" rotation and the evaluator's linear PCA
 * baseline (DESIGN.md section 6: the floor every learned codec must beat).
 *
 *   invcsi_pca p;
 *   invcsi_pca_fit(&p, x_train, n, dim, M, 1, err);   centred, keep the top M axes
 *   invcsi_pca_project(&p, x, count, y);               y = A (x - mean)   [count][M]
 *   invcsi_pca_reconstruct(&p, y, count, xhat);        xhat = mean + A^T y
 *   invcsi_pca_free(&p);
 *
 * The scatter matrix is accumulated in double (dsyrk over chunks) and decomposed with
 * LAPACK dsyevd (OpenBLAS ships LAPACK); the axes are then stored in float.
 * Axis signs are fixed (largest-magnitude entry positive) so results are reproducible.
 */
#ifndef INVCSI_PCA_H
#define INVCSI_PCA_H

#include "invcsi/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct invcsi_pca {
    int dim;         /* input size */
    int keep;        /* axes kept (1..dim) */
    int centered;    /* 1: axes of the covariance about the mean; 0: of E[x x^T] */
    float *mean;     /* [dim] (all zero when not centred) */
    float *axes;     /* [keep][dim], row j = unit axis of the j-th largest eigenvalue */
    double *eigval;  /* [dim] every eigenvalue, descending (variance along each axis) */
} invcsi_pca;

/* Fits p to x[0..n) ([n][dim], n >= 1). Needs dim*dim doubles of working memory. */
int invcsi_pca_fit(invcsi_pca *p, const float *x, long n, int dim, int keep, int centered,
                   invcsi_error *err);
/* y[count][keep] = axes (x - mean). */
void invcsi_pca_project(const invcsi_pca *p, const float *x, long count, float *y);
/* x[count][dim] = mean + axes^T y. */
void invcsi_pca_reconstruct(const invcsi_pca *p, const float *y, long count, float *x);
/* Fraction of the total variance captured by the kept axes. */
double invcsi_pca_energy_fraction(const invcsi_pca *p);
void invcsi_pca_free(invcsi_pca *p);

/* ---- building blocks ---------------------------------------------------------------- */

/* s[dim][dim] = 1/n sum_i (x_i - mean)(x_i - mean)^T (mean may be NULL = 0), full
 * symmetric matrix, accumulated in double. */
int invcsi_scatter_matrix(double *s, const float *x, long n, int dim, const double *mean,
                          invcsi_error *err);
/* Eigen-decomposition of the symmetric a[n][n] (LAPACK dsyevd), in place: on return
 * w[0..n) holds the eigenvalues in DESCENDING order and row j of a the unit eigenvector
 * of w[j], signed so that its largest-magnitude entry is positive. */
int invcsi_sym_eig(double *a, double *w, int n, invcsi_error *err);

#ifdef __cplusplus
}
#endif
#endif
