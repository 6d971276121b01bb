/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Adam over a flat parameter buffer (the per-element update is nn_adam_element in
 * kernels/nn_math.h, shared with CUDA), the step-decay learning-rate schedule of
 * DESIGN.md section 4, and global gradient-norm clipping.
 */
#include "invcsi/nn.h"
#include "nn_math.h"

#include <math.h>

invcsi_adam_config invcsi_adam_default(void)
{
    invcsi_adam_config c = {1e-3, 0.9, 0.999, 1e-8, 0.0};
    return c;
}

int invcsi_adam_step(float *param, const float *grad, float *m, float *v, long n,
                     const invcsi_adam_config *cfg, long t, invcsi_error *err)
{
    if (!cfg)
        return invcsi_error_set(err, INVCSI_EINVAL, "adam_step: NULL config");
    if (n < 0 || t < 1)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "adam_step: n = %ld must be >= 0 and step t = %ld >= 1", n, t);
    if (!(cfg->lr >= 0.0) || !(cfg->beta1 >= 0.0 && cfg->beta1 < 1.0) ||
        !(cfg->beta2 >= 0.0 && cfg->beta2 < 1.0) || !(cfg->eps > 0.0) ||
        !(cfg->weight_decay >= 0.0))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "adam_step: lr %g >= 0, beta1 %g and beta2 %g in [0, 1), eps %g "
                                "> 0, weight_decay %g >= 0 required",
                                cfg->lr, cfg->beta1, cfg->beta2, cfg->eps, cfg->weight_decay);
    if (n > 0 && (!param || !grad || !m || !v))
        return invcsi_error_set(err, INVCSI_EINVAL, "adam_step: NULL buffer");
    /* bias corrections in double: 1 - beta2^t is ~1e-3 * t early on */
    const double bc1 = 1.0 - pow(cfg->beta1, (double)t);
    const double bc2 = 1.0 - pow(cfg->beta2, (double)t);
    const float step_size = (float)(cfg->lr / bc1);
    const float inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    const float b1 = (float)cfg->beta1, omb1 = (float)(1.0 - cfg->beta1);
    const float b2 = (float)cfg->beta2, omb2 = (float)(1.0 - cfg->beta2);
    const float eps = (float)cfg->eps, wd = (float)cfg->weight_decay;
    for (long i = 0; i < n; i++)
        nn_adam_element(&param[i], &m[i], &v[i], grad[i], b1, omb1, b2, omb2, eps, wd,
                        step_size, inv_sqrt_bc2);
    return INVCSI_OK;
}

double invcsi_lr_step_decay(double lr0, double gamma, int step_epochs, int epoch)
{
    if (step_epochs <= 0 || epoch <= 0)
        return lr0;
    return lr0 * pow(gamma, (double)(epoch / step_epochs));
}

double invcsi_grad_sumsq(const float *g, long n)
{
    double acc = 0.0;
    for (long i = 0; i < n; i++)
        acc += (double)g[i] * g[i];
    return acc;
}

double invcsi_clip_grad_norm(float *const *grads, const long *lens, int count, double max_norm)
{
    double ss = 0.0;
    for (int b = 0; b < count; b++)
        ss += invcsi_grad_sumsq(grads[b], lens[b]);
    const double norm = sqrt(ss);
    if (max_norm > 0.0 && norm > max_norm) {
        const float s = (float)(max_norm / norm);
        for (int b = 0; b < count; b++)
            for (long i = 0; i < lens[b]; i++)
                grads[b][i] *= s;
    }
    return norm;
}
