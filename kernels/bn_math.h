/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Per-element math of batchnorm2d (lib/nn_batchnorm.c, PyTorch semantics), for the CPU
 * loops and the CUDA kernels. The per-channel statistics are reductions (computed in
 * double on the CPU); these are the element-wise steps once they are known:
 *   forward:   y = x * scale + shift,   scale = gamma invstd, shift = beta - mean gamma invstd
 *   backward:  dx = k (dy - mean(dy) - xhat mean(dy xhat)),  k = gamma invstd,
 *              xhat = (x - mean) invstd
 */
#ifndef INVCSI_BN_MATH_H
#define INVCSI_BN_MATH_H

#include "invcsi_hd.h"

INVCSI_HD float nn_bn_apply(float x, float scale, float shift) { return x * scale + shift; }

/* Contribution to dx of one element (the caller adds it). */
INVCSI_HD float nn_bn_backward_element(float dy, float x, float mean, float invstd, float k,
                                       float mean_dy, float mean_dy_xhat)
{
    const float xhat = (x - mean) * invstd;
    return k * (dy - mean_dy - xhat * mean_dy_xhat);
}

#endif
