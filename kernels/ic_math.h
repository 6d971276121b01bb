/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Per-element math of the IC module's learned Gaussian prior of z (lib/ic.c), for the CPU
 * loops and the CUDA kernels (the LAN itself is conv2d + LeakyReLU + a residual add,
 * whose math lives in index_math.h and nn_math.h):
 *   z = mu + exp(log_sigma) * noise        (reparameterised sample; z = mu without noise)
 *   dz/dmu = 1,  dz/dlog_sigma = exp(log_sigma) * noise
 */
#ifndef INVCSI_IC_MATH_H
#define INVCSI_IC_MATH_H

#include "invcsi_hd.h"

#if !defined(__CUDACC__)
#include <math.h>
#endif

INVCSI_HD float ic_zprior_sample(float mu, float log_sigma, float noise)
{
    return mu + expf(log_sigma) * noise;
}

#endif
