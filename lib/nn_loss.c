/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Losses: mean squared error and the unbiased MMD^2 with the inverse multiquadric kernel
 * (DESIGN.md section 3).
 *
 * MMD gradients, with K(d2) = sum_c C_c / (C_c + d2) and K' its derivative in d2:
 *   d/da_i = 4/(N(N-1)) sum_{j!=i} K'(|a_i-a_j|^2) (a_i - a_j)
 *          - 4/N^2      sum_j      K'(|a_i-b_j|^2) (a_i - b_j)
 *   d/db_j = 4/(N(N-1)) sum_{i!=j} K'(|b_j-b_i|^2) (b_j - b_i)
 *          - 4/N^2      sum_i      K'(|a_i-b_j|^2) (b_j - a_i)
 * (the first sums count each unordered pair twice, hence 4 and not 2). Each line is
 *   rowsum(Wt)_i x_i - (Wt y)_i
 * for a weight matrix Wt[i][j] = coefficient * K'(d2_ij): one more GEMM per term.
 *
 * Scratch layout (invcsi_mmd_scratch_floats): d2_aa, d2_bb, d2_ab (n*n each, kept from the
 * forward for the backward), a weight matrix (n*n), row norms of a and b (n each).
 */
#include "invcsi/backend.h"
#include "invcsi/gemm.h"
#include "invcsi/nn.h"
#include "loss_math.h"
#include "nn_math.h"

#include <limits.h>
#include <math.h>

/* ---- MSE ----------------------------------------------------------------------------- */

int invcsi_mse_forward(float *loss, const float *pred, const float *target, long n,
                       invcsi_error *err)
{
    if (n < 1)
        return invcsi_error_set(err, INVCSI_EINVAL, "mse_forward: n = %ld must be >= 1", n);
    if (!loss || !pred || !target)
        return invcsi_error_set(err, INVCSI_EINVAL, "mse_forward: NULL buffer");
    double acc = 0.0;
    for (long i = 0; i < n; i++)
        acc += nn_sq_err(pred[i], target[i]);
    *loss = (float)(acc / n);
    return INVCSI_OK;
}

int invcsi_mse_backward(float *dpred, float *dtarget, float dloss, const float *pred,
                        const float *target, long n, invcsi_error *err)
{
    if (n < 1)
        return invcsi_error_set(err, INVCSI_EINVAL, "mse_backward: n = %ld must be >= 1", n);
    if (!pred || !target)
        return invcsi_error_set(err, INVCSI_EINVAL, "mse_backward: NULL buffer");
    return invcsi_mse_backward_be(invcsi_backend_cpu(), dpred, dtarget, dloss, pred, target, n,
                                  err);
}

int invcsi_mse_backward_be(const invcsi_backend *be, float *dpred, float *dtarget, float dloss,
                           const float *pred, const float *target, long n, invcsi_error *err)
{
    if (n < 1)
        return invcsi_error_set(err, INVCSI_EINVAL, "mse_backward: n = %ld must be >= 1", n);
    if (!pred || !target)
        return invcsi_error_set(err, INVCSI_EINVAL, "mse_backward: NULL buffer");
    be->kern->mse_backward(pred, target, dpred, dtarget, n, dloss / (float)n);
    return INVCSI_OK;
}

/* ---- MMD ----------------------------------------------------------------------------- */

long invcsi_mmd_scratch_floats(int n) { return 4L * n * n + 2L * n; }

/* Sizes and pointers; the kernel constants' values only when they are host memory
 * (host_constants: the host entry points; the _be ones may get a device list). */
static int mmd_check(const char *fn, const float *a, const float *b, int n, int dim,
                     const float *c_list, int n_c, const float *scratch, int host_constants,
                     invcsi_error *err)
{
    if (n < 2 || dim < 1)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "%s: n = %d samples (need >= 2 for the unbiased estimate), "
                                "dim = %d (need >= 1)",
                                fn, n, dim);
    if ((long)n * n > INT_MAX)
        return invcsi_error_set(err, INVCSI_EINVAL, "%s: n = %d too large", fn, n);
    if (n_c < 0 || (n_c > 0 && !c_list))
        return invcsi_error_set(err, INVCSI_EINVAL, "%s: %d kernel constants but no list", fn,
                                n_c);
    for (int i = 0; host_constants && i < n_c; i++)
        if (!(c_list[i] > 0.0f))
            return invcsi_error_set(err, INVCSI_EINVAL,
                                    "%s: kernel constant C[%d] = %g must be > 0", fn, i,
                                    c_list[i]);
    if (!a || !b || !scratch)
        return invcsi_error_set(err, INVCSI_EINVAL, "%s: NULL buffer", fn);
    return INVCSI_OK;
}

/* The MMD through a backend table: row norms, distance matrices (GEMM + finishing kernel),
 * the loss (one serial kernel: the double sum in row-major order), and in the backward the
 * weight matrices, their row sums (double) and one GEMM per term. The host functions are
 * these on the CPU table, so there is one implementation. */

/* d2 = |x_i|^2 + |y_j|^2 - 2 x_i.y_j, clamped at 0 (nn_sq_dist_finish of
 * kernels/loss_math.h); same_set: x == y, whose diagonal is exactly 0. */
static void sq_distances(const invcsi_backend *be, float *d2, const float *x, const float *nx,
                         const float *y, const float *ny, int n, int dim, int same_set)
{
    be->sgemm(INVCSI_NOTRANS, INVCSI_TRANS, n, n, dim, -2.0f, x, dim, y, dim, 0.0f, d2, n);
    be->kern->sq_dist_finish(d2, nx, ny, n, same_set);
}

int invcsi_mmd_imq_forward_be(const invcsi_backend *be, double *loss, const float *a,
                              const float *b, int n, int dim, const float *c_list, int n_c,
                              float *scratch, invcsi_error *err)
{
    int rc = mmd_check("mmd_imq_forward", a, b, n, dim, c_list, n_c, scratch, 0, err);
    if (rc)
        return rc;
    if (!loss)
        return invcsi_error_set(err, INVCSI_EINVAL, "mmd_imq_forward: NULL loss");
    const long nn = (long)n * n;
    float *d2_aa = scratch, *d2_bb = scratch + nn, *d2_ab = scratch + 2 * nn;
    float *na = scratch + 4 * nn, *nb = na + n;
    const float c_def = 2.0f * dim; /* the kernel constant when the list is empty */

    be->kern->row_sumsq(na, a, n, dim);
    be->kern->row_sumsq(nb, b, n, dim);
    sq_distances(be, d2_aa, a, na, a, na, n, dim, 1);
    sq_distances(be, d2_bb, b, nb, b, nb, n, dim, 1);
    sq_distances(be, d2_ab, a, na, b, nb, n, dim, 0);
    be->kern->mmd_loss(d2_aa, d2_bb, d2_ab, n, c_list, n_c, c_def, loss);
    return INVCSI_OK;
}

int invcsi_mmd_imq_forward(float *loss, const float *a, const float *b, int n, int dim,
                           const float *c_list, int n_c, float *scratch, invcsi_error *err)
{
    int rc = mmd_check("mmd_imq_forward", a, b, n, dim, c_list, n_c, scratch, 1, err);
    if (rc)
        return rc;
    if (!loss)
        return invcsi_error_set(err, INVCSI_EINVAL, "mmd_imq_forward: NULL loss");
    double l = 0.0;
    rc = invcsi_mmd_imq_forward_be(invcsi_backend_cpu(), &l, a, b, n, dim, c_list, n_c, scratch,
                                   err);
    *loss = (float)l;
    return rc;
}

/* dx += rowsum(w) .* x - w y  (w is n x n, x and y are n x dim); transposed: w^T.
 * The row sums go to rs (n floats of scratch). */
static void weighted_diff_add(const invcsi_backend *be, float *dx, const float *w, int trans_w,
                              const float *x, const float *y, int n, int dim, float *rs)
{
    be->kern->row_sums(rs, w, n, n, trans_w ? 1 : n, trans_w ? n : 1, 0);
    be->kern->row_scale_add(dx, rs, x, n, dim);
    be->sgemm(trans_w ? INVCSI_TRANS : INVCSI_NOTRANS, INVCSI_NOTRANS, n, dim, n, -1.0f, w, n,
              y, dim, 1.0f, dx, dim);
}

int invcsi_mmd_imq_backward_be(const invcsi_backend *be, float *da, float *db, float dloss,
                               const float *a, const float *b, int n, int dim,
                               const float *c_list, int n_c, float *scratch, invcsi_error *err)
{
    int rc = mmd_check("mmd_imq_backward", a, b, n, dim, c_list, n_c, scratch, 0, err);
    if (rc)
        return rc;
    if (!da && !db)
        return INVCSI_OK;
    const long nn = (long)n * n;
    const float *d2_aa = scratch, *d2_bb = scratch + nn, *d2_ab = scratch + 2 * nn;
    float *w = scratch + 3 * nn;
    float *rs = scratch + 4 * nn; /* the row norms' place: the forward is done with them */
    const float c_def = 2.0f * dim;
    const float coef_same = (float)(4.0 * dloss / ((double)n * (n - 1)));
    const float coef_cross = (float)(-4.0 * dloss / ((double)n * n));

    /* within-set terms: the same form for a (from d2_aa) and for b (from d2_bb); i == j is
     * not in the unbiased sum (zero diagonal) */
    for (int set = 0; set < 2; set++) {
        float *dx = set == 0 ? da : db;
        const float *x = set == 0 ? a : b;
        const float *d2 = set == 0 ? d2_aa : d2_bb;
        if (!dx)
            continue;
        be->kern->mmd_weight(d2, w, n, coef_same, c_list, n_c, c_def, 1);
        weighted_diff_add(be, dx, w, 0, x, x, n, dim, rs);
    }

    /* cross term: one weight matrix serves both sides */
    be->kern->mmd_weight(d2_ab, w, n, coef_cross, c_list, n_c, c_def, 0);
    if (da)
        weighted_diff_add(be, da, w, 0, a, b, n, dim, rs);
    if (db)
        weighted_diff_add(be, db, w, 1, b, a, n, dim, rs);
    return INVCSI_OK;
}

int invcsi_mmd_imq_backward(float *da, float *db, float dloss, const float *a, const float *b,
                            int n, int dim, const float *c_list, int n_c, float *scratch,
                            invcsi_error *err)
{
    int rc = mmd_check("mmd_imq_backward", a, b, n, dim, c_list, n_c, scratch, 1, err);
    if (rc)
        return rc;
    return invcsi_mmd_imq_backward_be(invcsi_backend_cpu(), da, db, dloss, a, b, n, dim, c_list,
                                      n_c, scratch, err);
}
