/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * batchnorm2d over [B][C][S] (S = H*W): per-channel statistics over the B*S values of a
 * channel, PyTorch semantics (biased variance to normalise, unbiased variance in the
 * running estimate). Statistics are accumulated in double: a channel of a 128 x 32 x 32
 * batch has 131072 values, where float sums lose digits.
 *
 * Training backward, with xhat = (x - mean) * invstd and dxhat = dout * gamma, M = B*S:
 *   dx = invstd / M * (M dxhat - sum(dxhat) - xhat sum(dxhat xhat))
 */
#include "invcsi/nn.h"

#include <math.h>

#include "bn_math.h"

static int bn_check(const char *fn, int batch, int channels, int spatial, invcsi_error *err)
{
    if (batch < 1 || channels < 1 || spatial < 1)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "%s: batch %d, channels %d, spatial %d: all must be >= 1", fn,
                                batch, channels, spatial);
    return INVCSI_OK;
}

int invcsi_batchnorm2d_forward_train(float *out, float *save_mean, float *save_invstd,
                                     float *running_mean, float *running_var, const float *in,
                                     const float *gamma, const float *beta, int batch,
                                     int channels, int spatial, float momentum, float eps,
                                     invcsi_error *err)
{
    int rc = bn_check("batchnorm2d_forward_train", batch, channels, spatial, err);
    if (rc)
        return rc;
    const long count = (long)batch * spatial;
    if (count < 2)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "batchnorm2d_forward_train: batch * spatial = %ld: training "
                                "statistics need at least 2 values per channel",
                                count);
    if (!(eps > 0.0f) || !(momentum >= 0.0f && momentum <= 1.0f))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "batchnorm2d_forward_train: eps %g must be > 0 and momentum %g "
                                "in [0, 1]",
                                eps, momentum);
    if (!out || !in || !gamma || !beta || !save_mean || !save_invstd)
        return invcsi_error_set(err, INVCSI_EINVAL, "batchnorm2d_forward_train: NULL buffer");

    for (int c = 0; c < channels; c++) {
        double sum = 0.0;
        for (int b = 0; b < batch; b++) {
            const float *x = in + ((long)b * channels + c) * spatial;
            for (int p = 0; p < spatial; p++)
                sum += x[p];
        }
        const double mean = sum / count;
        double ss = 0.0; /* two-pass variance: no cancellation for large means */
        for (int b = 0; b < batch; b++) {
            const float *x = in + ((long)b * channels + c) * spatial;
            for (int p = 0; p < spatial; p++) {
                double d = x[p] - mean;
                ss += d * d;
            }
        }
        const double var = ss / count;
        const double invstd = 1.0 / sqrt(var + eps);
        save_mean[c] = (float)mean;
        save_invstd[c] = (float)invstd;
        const float scale = (float)(gamma[c] * invstd);
        const float shift = (float)(beta[c] - mean * gamma[c] * invstd);
        for (int b = 0; b < batch; b++) {
            const float *x = in + ((long)b * channels + c) * spatial;
            float *y = out + ((long)b * channels + c) * spatial;
            for (int p = 0; p < spatial; p++)
                y[p] = nn_bn_apply(x[p], scale, shift);
        }
        if (running_mean)
            running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * (float)mean;
        if (running_var)
            running_var[c] =
                (1.0f - momentum) * running_var[c] + momentum * (float)(ss / (count - 1));
    }
    return INVCSI_OK;
}

int invcsi_batchnorm2d_forward_infer(float *out, const float *in, const float *gamma,
                                     const float *beta, const float *running_mean,
                                     const float *running_var, int batch, int channels,
                                     int spatial, float eps, invcsi_error *err)
{
    int rc = bn_check("batchnorm2d_forward_infer", batch, channels, spatial, err);
    if (rc)
        return rc;
    if (!out || !in || !gamma || !beta || !running_mean || !running_var)
        return invcsi_error_set(err, INVCSI_EINVAL, "batchnorm2d_forward_infer: NULL buffer");
    for (int c = 0; c < channels; c++) {
        const double invstd = 1.0 / sqrt((double)running_var[c] + eps);
        const float scale = (float)(gamma[c] * invstd);
        const float shift = (float)(beta[c] - running_mean[c] * gamma[c] * invstd);
        for (int b = 0; b < batch; b++) {
            const float *x = in + ((long)b * channels + c) * spatial;
            float *y = out + ((long)b * channels + c) * spatial;
            for (int p = 0; p < spatial; p++)
                y[p] = nn_bn_apply(x[p], scale, shift);
        }
    }
    return INVCSI_OK;
}

int invcsi_batchnorm2d_backward(float *dinput, float *dgamma, float *dbeta, const float *dout,
                                const float *in, const float *gamma, const float *save_mean,
                                const float *save_invstd, int batch, int channels, int spatial,
                                invcsi_error *err)
{
    int rc = bn_check("batchnorm2d_backward", batch, channels, spatial, err);
    if (rc)
        return rc;
    if (!dout || !in || !save_mean || !save_invstd || (dinput && !gamma))
        return invcsi_error_set(err, INVCSI_EINVAL, "batchnorm2d_backward: NULL buffer");
    const long count = (long)batch * spatial;
    for (int c = 0; c < channels; c++) {
        const float mean = save_mean[c], invstd = save_invstd[c];
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        for (int b = 0; b < batch; b++) {
            const float *x = in + ((long)b * channels + c) * spatial;
            const float *dy = dout + ((long)b * channels + c) * spatial;
            for (int p = 0; p < spatial; p++) {
                sum_dy += dy[p];
                sum_dy_xhat += (double)dy[p] * ((x[p] - mean) * invstd);
            }
        }
        if (dgamma)
            dgamma[c] += (float)sum_dy_xhat;
        if (dbeta)
            dbeta[c] += (float)sum_dy;
        if (!dinput)
            continue;
        /* dx = gamma invstd (dy - mean(dy) - xhat mean(dy xhat)) */
        const float k = gamma[c] * invstd;
        const float mean_dy = (float)(sum_dy / count);
        const float mean_dy_xhat = (float)(sum_dy_xhat / count);
        for (int b = 0; b < batch; b++) {
            const float *x = in + ((long)b * channels + c) * spatial;
            const float *dy = dout + ((long)b * channels + c) * spatial;
            float *dx = dinput + ((long)b * channels + c) * spatial;
            for (int p = 0; p < spatial; p++)
                dx[p] += nn_bn_backward_element(dy[p], x[p], mean, invstd, k, mean_dy,
                                                mean_dy_xhat);
        }
    }
    return INVCSI_OK;
}

int invcsi_batchnorm_fold(float *weight, float *bias, int out_ch, long per_out,
                          const float *gamma, const float *beta, const float *running_mean,
                          const float *running_var, float eps, invcsi_error *err)
{
    if (out_ch < 1 || per_out < 1)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "batchnorm_fold: out_ch %d, per_out %ld: both must be >= 1",
                                out_ch, per_out);
    if (!weight || !bias || !gamma || !beta || !running_mean || !running_var)
        return invcsi_error_set(err, INVCSI_EINVAL, "batchnorm_fold: NULL buffer");
    for (int o = 0; o < out_ch; o++) {
        const double g = gamma[o] / sqrt((double)running_var[o] + eps);
        float *w = weight + (long)o * per_out;
        for (long i = 0; i < per_out; i++)
            w[i] = (float)(w[i] * g);
        bias[o] = (float)((bias[o] - (double)running_mean[o]) * g + beta[o]);
    }
    return INVCSI_OK;
}
