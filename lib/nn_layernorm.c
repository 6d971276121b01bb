/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * LayerNorm over the last axis (rows of `dim` values), PyTorch nn.LayerNorm semantics
 * (biased variance inside the square root). Row statistics in double: a row is short
 * (32 values) but its mean can be large against its spread after a residual add.
 *
 * Backward, with xhat = (x - mean) rstd and dxhat = dout * gamma, per row of D values:
 *   dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat))
 *   dgamma += sum over rows of dout xhat,   dbeta += sum over rows of dout
 */
#include "invcsi/stqe_layers.h"

#include <math.h>

static int ln_check(const char *fn, long rows, int dim, invcsi_error *err)
{
    if (rows < 1 || dim < 1)
        return invcsi_error_set(err, INVCSI_EINVAL, "%s: rows %ld, dim %d: both must be >= 1",
                                fn, rows, dim);
    return INVCSI_OK;
}

int invcsi_layernorm_forward(float *out, float *save_mean, float *save_rstd, const float *in,
                             const float *gamma, const float *beta, long rows, int dim,
                             float eps, invcsi_error *err)
{
    int rc = ln_check("layernorm_forward", rows, dim, err);
    if (rc)
        return rc;
    if (!(eps > 0.0f))
        return invcsi_error_set(err, INVCSI_EINVAL, "layernorm_forward: eps %g must be > 0",
                                eps);
    if (!out || !in || !gamma || !beta || !save_mean || !save_rstd)
        return invcsi_error_set(err, INVCSI_EINVAL, "layernorm_forward: NULL buffer");
    for (long r = 0; r < rows; r++) {
        const float *x = in + r * dim;
        float *y = out + r * dim;
        double sum = 0.0;
        for (int i = 0; i < dim; i++)
            sum += x[i];
        const double mean = sum / dim;
        double ss = 0.0;
        for (int i = 0; i < dim; i++) {
            double d = x[i] - mean;
            ss += d * d;
        }
        const float m = (float)mean;
        const float rstd = (float)(1.0 / sqrt(ss / dim + eps));
        save_mean[r] = m;
        save_rstd[r] = rstd;
        for (int i = 0; i < dim; i++)
            y[i] = (x[i] - m) * rstd * gamma[i] + beta[i];
    }
    return INVCSI_OK;
}

int invcsi_layernorm_backward(float *dinput, float *dgamma, float *dbeta, const float *dout,
                              const float *in, const float *gamma, const float *save_mean,
                              const float *save_rstd, long rows, int dim, invcsi_error *err)
{
    int rc = ln_check("layernorm_backward", rows, dim, err);
    if (rc)
        return rc;
    if (!dout || !in || !save_mean || !save_rstd || (dinput && !gamma))
        return invcsi_error_set(err, INVCSI_EINVAL, "layernorm_backward: NULL buffer");
    for (long r = 0; r < rows; r++) {
        const float *x = in + r * dim;
        const float *dy = dout + r * dim;
        const float m = save_mean[r], rstd = save_rstd[r];
        double s_dxhat = 0.0, s_dxhat_xhat = 0.0;
        for (int i = 0; i < dim; i++) {
            const float xhat = (x[i] - m) * rstd;
            if (dgamma)
                dgamma[i] += dy[i] * xhat;
            if (dbeta)
                dbeta[i] += dy[i];
            if (dinput) {
                const double dxhat = (double)dy[i] * gamma[i];
                s_dxhat += dxhat;
                s_dxhat_xhat += dxhat * xhat;
            }
        }
        if (!dinput)
            continue;
        const float mean_dxhat = (float)(s_dxhat / dim);
        const float mean_dxhat_xhat = (float)(s_dxhat_xhat / dim);
        float *dx = dinput + r * dim;
        for (int i = 0; i < dim; i++) {
            const float xhat = (x[i] - m) * rstd;
            dx[i] += rstd * (dy[i] * gamma[i] - mean_dxhat - xhat * mean_dxhat_xhat);
        }
    }
    return INVCSI_OK;
}
