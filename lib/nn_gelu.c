/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * GELU (exact erf form, as PyTorch's nn.GELU() default): CPU loops over the per-element
 * functions of kernels/stqe_math.h. The backward accumulates into dinput.
 */
#include "invcsi/stqe_layers.h"
#include "stqe_math.h"

void invcsi_gelu_forward(float *out, const float *in, long n)
{
    for (long i = 0; i < n; i++)
        out[i] = stqe_gelu(in[i]);
}

void invcsi_gelu_backward(float *dinput, const float *dout, const float *in, long n)
{
    for (long i = 0; i < n; i++)
        dinput[i] += dout[i] * stqe_gelu_grad(in[i]);
}
