/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Per-element math of the INN's affine coupling (DESIGN.md section 3), written once for
 * the CPU loops of lib/inn_coupling.c and the later CUDA kernels.
 *
 * Per element of the x2 half, with r = rho(x1') and e = eta(x1') (subnet outputs):
 *   s      = clamp * (2 sigmoid(r) - 1)              soft-clamped log-scale, |s| < clamp
 *   fwd:   y2 = x2 * exp(s) + e
 *   inv:   x2 = (y2 - e) * exp(-s)
 * The x1 half (x1' = x1 + phi(x2)) is a plain add/subtract done by the caller.
 *
 * Gradients, with ds/dr = 2 clamp sigmoid(r) (1 - sigmoid(r)):
 *   fwd:   dx2 = dy2 exp(s);   dr = dy2 x2 exp(s) ds/dr;   de = dy2
 *   inv:   dy2 = dx2 exp(-s);  dr = -dx2 x2 ds/dr;          de = -dx2 exp(-s)
 * (in the inverse, x2 is the inverse's OUTPUT (y2 - e) exp(-s), saved by the caller).
 * The "_grad" functions return the contributions; the caller accumulates them.
 */
#ifndef INVCSI_INN_MATH_H
#define INVCSI_INN_MATH_H

#include "invcsi_hd.h"
#include "nn_math.h"

/* Soft-clamped log-scale s and its derivative ds/dr, from one sigmoid evaluation. */
INVCSI_HD void inn_log_scale(float r, float clamp, float *s, float *ds_dr)
{
    const float sg = nn_sigmoid(r);
    *s = clamp * (2.0f * sg - 1.0f);
    *ds_dr = 2.0f * clamp * sg * (1.0f - sg);
}

/* y2 = x2 * exp(s(r)) + e */
INVCSI_HD float inn_affine_forward(float x2, float r, float e, float clamp)
{
    return x2 * expf(nn_soft_clamp(r, clamp)) + e;
}

/* x2 = (y2 - e) * exp(-s(r)) */
INVCSI_HD float inn_affine_inverse(float y2, float r, float e, float clamp)
{
    return (y2 - e) * expf(-nn_soft_clamp(r, clamp));
}

/* Backward of inn_affine_forward: from dy2 and the forward's x2 and r, the contributions
 * to dx2 and dr (de is dy2 itself). */
INVCSI_HD void inn_affine_forward_grad(float dy2, float x2, float r, float clamp, float *dx2,
                                       float *dr)
{
    float s, ds;
    inn_log_scale(r, clamp, &s, &ds);
    const float g = dy2 * expf(s);
    *dx2 = g;
    *dr = g * x2 * ds;
}

/* Backward of inn_affine_inverse: from dx2 (gradient at the inverse's output x2), the
 * saved output x2 and r, the contributions to dy2, dr and de. */
INVCSI_HD void inn_affine_inverse_grad(float dx2, float x2, float r, float clamp, float *dy2,
                                       float *dr, float *de)
{
    float s, ds;
    inn_log_scale(r, clamp, &s, &ds);
    const float g = dx2 * expf(-s);
    *dy2 = g;
    *de = -g;
    *dr = -dx2 * x2 * ds;
}

#endif
