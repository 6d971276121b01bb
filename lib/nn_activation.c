/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Element-wise activations: CPU loops over the per-element functions of kernels/nn_math.h
 * (the CUDA kernels call the same functions). Backward passes accumulate into dinput.
 */
#include "invcsi/nn.h"
#include "nn_math.h"

void invcsi_leaky_relu_forward(float *out, const float *in, long n, float slope)
{
    for (long i = 0; i < n; i++)
        out[i] = nn_leaky_relu(in[i], slope);
}

void invcsi_leaky_relu_backward(float *dinput, const float *dout, const float *in, long n,
                                float slope)
{
    for (long i = 0; i < n; i++)
        dinput[i] += dout[i] * nn_leaky_relu_grad(in[i], slope);
}

void invcsi_sigmoid_forward(float *out, const float *in, long n)
{
    for (long i = 0; i < n; i++)
        out[i] = nn_sigmoid(in[i]);
}

void invcsi_sigmoid_backward(float *dinput, const float *dout, const float *out, long n)
{
    for (long i = 0; i < n; i++)
        dinput[i] += dout[i] * nn_sigmoid_grad_from_output(out[i]);
}

void invcsi_tanh_forward(float *out, const float *in, long n)
{
    for (long i = 0; i < n; i++)
        out[i] = nn_tanh(in[i]);
}

void invcsi_tanh_backward(float *dinput, const float *dout, const float *out, long n)
{
    for (long i = 0; i < n; i++)
        dinput[i] += dout[i] * nn_tanh_grad_from_output(out[i]);
}

void invcsi_soft_clamp_forward(float *out, const float *in, long n, float clamp)
{
    for (long i = 0; i < n; i++)
        out[i] = nn_soft_clamp(in[i], clamp);
}

void invcsi_soft_clamp_backward(float *dinput, const float *dout, const float *in, long n,
                                float clamp)
{
    for (long i = 0; i < n; i++)
        dinput[i] += dout[i] * nn_soft_clamp_grad(in[i], clamp);
}
