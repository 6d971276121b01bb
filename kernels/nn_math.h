/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Per-element math of the neural-network layers, written once: the CPU loops in
 * lib/nn_<layer>.c and the CUDA kernels (kernels/<name>.cu) both call these functions,
 * so the two backends compute the same equation with the same numerical guards.
 *
 * Only single-precision float math (expf, tanhf, sqrtf) so that nvcc maps every call to
 * its device intrinsic. "_grad" functions return the derivative of the matching function;
 * the comment says which argument they take (the input or the saved output).
 */
#ifndef INVCSI_NN_MATH_H
#define INVCSI_NN_MATH_H

#include "invcsi_hd.h"

#if !defined(__CUDACC__)
#include <math.h>
#endif

/* ---- activations -------------------------------------------------------------------- */

/* LeakyReLU: x for x > 0, slope * x otherwise (0.01 in the INN subnets, 0.3 in CsiNet). */
INVCSI_HD float nn_leaky_relu(float x, float slope) { return x > 0.0f ? x : slope * x; }
/* d/dx from the input x (the kink at 0 takes the slope, as PyTorch does). */
INVCSI_HD float nn_leaky_relu_grad(float x, float slope) { return x > 0.0f ? 1.0f : slope; }

/* Logistic sigmoid, evaluated so that expf never overflows (exp of a non-positive value). */
INVCSI_HD float nn_sigmoid(float x)
{
    if (x >= 0.0f)
        return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}
/* d/dx from the saved output y = sigmoid(x). */
INVCSI_HD float nn_sigmoid_grad_from_output(float y) { return y * (1.0f - y); }

INVCSI_HD float nn_tanh(float x) { return tanhf(x); }
/* d/dx from the saved output y = tanh(x). */
INVCSI_HD float nn_tanh_grad_from_output(float y) { return 1.0f - y * y; }

/* Soft clamp of the coupling scale (DESIGN.md section 3):
 *   s(u) = clamp * (2 * sigmoid(u) - 1)   (== clamp * tanh(u / 2)), range (-clamp, clamp). */
INVCSI_HD float nn_soft_clamp(float u, float clamp)
{
    return clamp * (2.0f * nn_sigmoid(u) - 1.0f);
}
/* ds/du from the input u: 2 * clamp * sigmoid(u) * (1 - sigmoid(u)). */
INVCSI_HD float nn_soft_clamp_grad(float u, float clamp)
{
    float sg = nn_sigmoid(u);
    return 2.0f * clamp * sg * (1.0f - sg);
}

/* ---- kernels and losses -------------------------------------------------------------- */

/* Inverse multiquadric kernel as a function of the squared distance d2 >= 0:
 *   k = C / (C + d2), in (0, 1]. */
INVCSI_HD float nn_imq(float d2, float c) { return c / (c + d2); }
/* dk/d(d2) = -C / (C + d2)^2. */
INVCSI_HD float nn_imq_grad(float d2, float c)
{
    float den = c + d2;
    return -c / (den * den);
}

/* Squared error of one element and its derivative in pred. */
INVCSI_HD float nn_sq_err(float pred, float target)
{
    float d = pred - target;
    return d * d;
}
INVCSI_HD float nn_sq_err_grad(float pred, float target) { return 2.0f * (pred - target); }

/* ---- optimiser ---------------------------------------------------------------------------- */

/* One Adam update of one parameter (PyTorch torch.optim.Adam semantics, L2 weight decay
 * added to the gradient when weight_decay > 0):
 *   g' = g + wd * p;  m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2
 *   p -= step_size * m / (sqrt(v) * inv_sqrt_bc2 + eps)
 * The caller precomputes, in double, once per step:
 *   one_minus_b1 = 1 - b1, one_minus_b2 = 1 - b2 (1 - 0.999f in float is off by 1.3e-5),
 *   step_size = lr / (1 - b1^t),  inv_sqrt_bc2 = 1 / sqrt(1 - b2^t). */
INVCSI_HD void nn_adam_element(float *p, float *m, float *v, float g, float beta1,
                               float one_minus_b1, float beta2, float one_minus_b2, float eps,
                               float weight_decay, float step_size, float inv_sqrt_bc2)
{
    if (weight_decay != 0.0f)
        g += weight_decay * *p;
    float mm = beta1 * *m + one_minus_b1 * g;
    float vv = beta2 * *v + one_minus_b2 * g * g;
    *m = mm;
    *v = vv;
    *p -= step_size * mm / (sqrtf(vv) * inv_sqrt_bc2 + eps);
}

#endif
