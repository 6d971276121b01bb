/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Dense (fully connected) layer, out[B][O] = in[B][I] W[O][I]^T + b[O], with PyTorch's
 * nn.Linear weight layout. Three GEMMs:
 *   forward   out  = in W^T
 *   backward  din += dout W,   dW += dout^T in,   db += column sums of dout
 */
#include "invcsi/gemm.h"
#include "invcsi/nn.h"

static int dense_check(const char *fn, int batch, int in_dim, int out_dim, invcsi_error *err)
{
    if (batch < 1 || in_dim < 1 || out_dim < 1)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "%s: batch %d, in_dim %d, out_dim %d: all must be >= 1", fn,
                                batch, in_dim, out_dim);
    return INVCSI_OK;
}

int invcsi_dense_forward(float *out, const float *in, const float *weight, const float *bias,
                         int batch, int in_dim, int out_dim, invcsi_error *err)
{
    int rc = dense_check("dense_forward", batch, in_dim, out_dim, err);
    if (rc)
        return rc;
    if (!out || !in || !weight)
        return invcsi_error_set(err, INVCSI_EINVAL, "dense_forward: NULL buffer");
    if (bias) {
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < out_dim; o++)
                out[(long)b * out_dim + o] = bias[o];
    }
    invcsi_sgemm(INVCSI_NOTRANS, INVCSI_TRANS, batch, out_dim, in_dim, 1.0f, in, in_dim, weight,
                 in_dim, bias ? 1.0f : 0.0f, out, out_dim);
    return INVCSI_OK;
}

int invcsi_dense_backward(float *dinput, float *dweight, float *dbias, const float *dout,
                          const float *in, const float *weight, int batch, int in_dim,
                          int out_dim, invcsi_error *err)
{
    int rc = dense_check("dense_backward", batch, in_dim, out_dim, err);
    if (rc)
        return rc;
    if (!dout || (dweight && !in) || (dinput && !weight))
        return invcsi_error_set(err, INVCSI_EINVAL, "dense_backward: NULL buffer");
    if (dinput)
        invcsi_sgemm(INVCSI_NOTRANS, INVCSI_NOTRANS, batch, in_dim, out_dim, 1.0f, dout, out_dim,
                     weight, in_dim, 1.0f, dinput, in_dim);
    if (dweight)
        invcsi_sgemm(INVCSI_TRANS, INVCSI_NOTRANS, out_dim, in_dim, batch, 1.0f, dout, out_dim,
                     in, in_dim, 1.0f, dweight, in_dim);
    if (dbias)
        for (int o = 0; o < out_dim; o++) {
            double acc = 0.0;
            for (int b = 0; b < batch; b++)
                acc += dout[(long)b * out_dim + o];
            dbias[o] += (float)acc;
        }
    return INVCSI_OK;
}
