/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Per-element math of the MMD loss with the inverse multiquadric kernel (DESIGN.md
 * section 3) beyond the single-constant nn_imq/nn_imq_grad of nn_math.h: the sum over the
 * kernel constants and the finishing step of a squared-distance matrix computed by GEMM.
 * Written once for the CPU loops and the CUDA kernels (one thread per matrix entry).
 */
#ifndef INVCSI_LOSS_MATH_H
#define INVCSI_LOSS_MATH_H

#include "invcsi_hd.h"
#include "nn_math.h"

/* K(d2) = sum_c C_c / (C_c + d2); one default constant when the list is empty. */
INVCSI_HD float nn_imq_sum(float d2, const float *c_list, int n_c, float c_default)
{
    if (n_c == 0)
        return nn_imq(d2, c_default);
    float k = 0.0f;
    for (int c = 0; c < n_c; c++)
        k += nn_imq(d2, c_list[c]);
    return k;
}

/* K'(d2) = dK/d(d2), same constants. */
INVCSI_HD float nn_imq_sum_grad(float d2, const float *c_list, int n_c, float c_default)
{
    if (n_c == 0)
        return nn_imq_grad(d2, c_default);
    float k = 0.0f;
    for (int c = 0; c < n_c; c++)
        k += nn_imq_grad(d2, c_list[c]);
    return k;
}

/* |x_i - y_j|^2 from the GEMM term -2 x_i.y_j and the squared row norms, clamped at 0
 * (round-off can make it slightly negative). Summed in this order: (g + nx) + ny. */
INVCSI_HD float nn_sq_dist_finish(float gemm_term, float nx, float ny)
{
    const float v = gemm_term + nx + ny;
    return v > 0.0f ? v : 0.0f;
}

#endif
