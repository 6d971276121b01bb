/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * DAQ (differentiable adaptive quantizer), CPU loops over the per-item functions of the CUDA
 * kernels (kb_daq_* in kernels/kernel_bodies.h, over kernels/daq_math.h): the loop body
 * here is the body of the device thread, so the two cannot drift apart.
 *
 * Loops run over dimensions in the outer (parallel) loop and over the batch inside: a
 * dimension's parameter gradient is then summed by one thread in a fixed order, so results
 * do not depend on the thread count, and no atomics or per-thread copies are needed.
 */
#include "invcsi/daq.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "daq_math.h"
#include "kernel_bodies.h"

int invcsi_daq_check(const invcsi_daq_config *cfg, invcsi_error *err)
{
    if (!cfg)
        return invcsi_error_set(err, INVCSI_EINVAL, "DAQ: no config");
    if (cfg->dims < 1)
        return invcsi_error_set(err, INVCSI_EINVAL, "DAQ: dims %d must be >= 1", cfg->dims);
    if (cfg->bits < 1 || cfg->bits > INVCSI_DAQ_MAX_BITS)
        return invcsi_error_set(err, INVCSI_EINVAL, "DAQ: bits %d must be in 1..%d", cfg->bits,
                                INVCSI_DAQ_MAX_BITS);
    if (!(cfg->range > 0.0f) || !isfinite(cfg->range))
        return invcsi_error_set(err, INVCSI_EINVAL, "DAQ: range %g must be positive and finite",
                                cfg->range);
    return INVCSI_OK;
}

int invcsi_daq_levels_count(const invcsi_daq_config *cfg) { return 1 << cfg->bits; }

long invcsi_daq_param_count(const invcsi_daq_config *cfg)
{
    return 2L * ((1L << cfg->bits) - 1) * cfg->dims;
}

int invcsi_daq_add_params(invcsi_params *p, const char *prefix, const invcsi_daq_config *cfg,
                          size_t *thr_offset, size_t *step_offset, invcsi_error *err)
{
    int rc = invcsi_daq_check(cfg, err);
    if (rc)
        return rc;
    char name[INVCSI_PARAM_NAME_MAX];
    const int shape[2] = {cfg->dims, invcsi_daq_levels_count(cfg) - 1};
    if (snprintf(name, sizeof name, "%s.threshold_raw", prefix) >= (int)sizeof name)
        return invcsi_error_set(err, INVCSI_EINVAL, "DAQ: prefix '%s' too long", prefix);
    rc = invcsi_params_add(p, name, 2, shape, thr_offset, err);
    if (rc)
        return rc;
    snprintf(name, sizeof name, "%s.step_raw", prefix);
    return invcsi_params_add(p, name, 2, shape, step_offset, err);
}

int invcsi_daq_init_uniform(const invcsi_daq_config *cfg, float *thr_raw, float *step_raw,
                            invcsi_error *err)
{
    int rc = invcsi_daq_check(cfg, err);
    if (rc)
        return rc;
    const int nk = invcsi_daq_levels_count(cfg) - 1;
    const double delta = 2.0 * cfg->range / nk;            /* uniform level spacing */
    const double gap = (double)INVCSI_DAQ_MIN_GAP * cfg->range;
    const float inc_raw = daq_softplus_inv((float)(delta - gap));
    for (int d = 0; d < cfg->dims; d++) {
        float *t = thr_raw + (long)d * nk, *u = step_raw + (long)d * nk;
        t[0] = (float)(-cfg->range + 0.5 * delta);
        for (int k = 1; k < nk; k++)
            t[k] = inc_raw;
        for (int k = 0; k < nk; k++)
            u[k] = inc_raw;
    }
    return INVCSI_OK;
}

long invcsi_daq_tables_floats(const invcsi_daq_config *cfg)
{
    const long L = 1L << cfg->bits;
    return (long)cfg->dims * (3 * L - 2);
}

void invcsi_daq_tables_bind(invcsi_daq_tables *t, const invcsi_daq_config *cfg, float *buf)
{
    const long L = 1L << cfg->bits, m = cfg->dims;
    t->thresholds = buf;
    t->steps = buf + m * (L - 1);
    t->levels = buf + 2 * m * (L - 1);
}

void invcsi_daq_derive(const invcsi_daq_config *cfg, const float *thr_raw, const float *step_raw,
                       const invcsi_daq_tables *t)
{
    const int nk = invcsi_daq_levels_count(cfg) - 1;
    for (long d = 0; d < cfg->dims; d++)
        kb_daq_derive(d, thr_raw, step_raw, cfg->dims, nk, cfg->range, t->thresholds, t->steps,
                      t->levels);
}

static int check_batch(const invcsi_daq_config *cfg, int batch, invcsi_error *err)
{
    int rc = invcsi_daq_check(cfg, err);
    if (rc)
        return rc;
    if (batch < 1)
        return invcsi_error_set(err, INVCSI_EINVAL, "DAQ: batch %d must be >= 1", batch);
    return INVCSI_OK;
}

int invcsi_daq_forward_train(const invcsi_daq_config *cfg, const float *thr_raw,
                             const float *step_raw, const invcsi_daq_tables *t, const float *y,
                             int batch, float beta, float *q_hard, float *q_soft, int *indices,
                             invcsi_error *err)
{
    int rc = check_batch(cfg, batch, err);
    if (rc)
        return rc;
    if (!(beta > 0.0f))
        return invcsi_error_set(err, INVCSI_EINVAL, "DAQ: beta %g must be > 0", beta);
    invcsi_daq_derive(cfg, thr_raw, step_raw, t);
    const int m = cfg->dims, nk = invcsi_daq_levels_count(cfg) - 1;
    const long n = (long)batch * m;
#pragma omp parallel for schedule(static) if (n * nk >= 65536)
    for (long e = 0; e < n; e++)
        kb_daq_forward(e, y, t->thresholds, t->steps, t->levels, n, m, nk, cfg->range, beta,
                       q_hard, q_soft, indices);
    return INVCSI_OK;
}

int invcsi_daq_backward(const invcsi_daq_config *cfg, const float *thr_raw, const float *step_raw,
                        const invcsi_daq_tables *t, const float *y, const float *dq,
                        const float *dlevels, int batch, float beta, float *dy,
                        float *dthr_raw, float *dstep_raw, invcsi_error *err)
{
    int rc = check_batch(cfg, batch, err);
    if (rc)
        return rc;
    if (!(beta > 0.0f))
        return invcsi_error_set(err, INVCSI_EINVAL, "DAQ: beta %g must be > 0", beta);
    const int m = cfg->dims, nk = invcsi_daq_levels_count(cfg) - 1;
#pragma omp parallel for schedule(static) if ((long)batch * m * nk >= 65536)
    for (int d = 0; d < m; d++) {
        /* The sums of dimension d: item 0 of kb_daq_backward_sums on the arguments shifted
         * to dimension d (its inputs keep their stride m), so that its work buffer (dthr
         * then dstep) can be this thread's stack array rather than a global one. */
        double work[2 * ((1 << INVCSI_DAQ_MAX_BITS) - 1)];
        const double *dthr = work, *dstep = work + nk;
        kb_daq_backward_sums(0, t->thresholds + (long)d * nk, t->steps + (long)d * nk, y + d,
                             dq + d, batch, m, nk, beta, dy ? dy + d : NULL, work);
        daq_raw_grad(thr_raw + (long)d * nk, step_raw + (long)d * nk, nk, dthr, dstep,
                     dlevels ? dlevels + (long)d * (nk + 1) : NULL,
                     dthr_raw ? dthr_raw + (long)d * nk : NULL,
                     dstep_raw ? dstep_raw + (long)d * nk : NULL);
    }
    return INVCSI_OK;
}

int invcsi_daq_levels_backward(const invcsi_daq_config *cfg, const float *step_raw,
                               const float *dlevels, float *dstep_raw, invcsi_error *err)
{
    int rc = invcsi_daq_check(cfg, err);
    if (rc)
        return rc;
    if (!dlevels || !dstep_raw)
        return INVCSI_OK;
    const int nk = invcsi_daq_levels_count(cfg) - 1;
    double zero[(1 << INVCSI_DAQ_MAX_BITS) - 1];
    memset(zero, 0, sizeof(double) * nk);
    for (int d = 0; d < cfg->dims; d++)
        daq_raw_grad(NULL, step_raw + (long)d * nk, nk, zero, zero,
                     dlevels + (long)d * (nk + 1), NULL, dstep_raw + (long)d * nk);
    return INVCSI_OK;
}

void invcsi_daq_quantize(const invcsi_daq_config *cfg, const invcsi_daq_tables *t,
                         const float *y, int batch, int *indices)
{
    const int m = cfg->dims, nk = invcsi_daq_levels_count(cfg) - 1;
    const long n = (long)batch * m;
    for (long e = 0; e < n; e++)
        kb_daq_quantize(e, y, t->thresholds, n, m, nk, indices);
}

void invcsi_daq_dequantize(const invcsi_daq_config *cfg, const float *levels,
                           const int *indices, int batch, float *out)
{
    const int m = cfg->dims, L = invcsi_daq_levels_count(cfg);
    const long n = (long)batch * m;
    for (long e = 0; e < n; e++)
        kb_daq_dequantize(e, levels, indices, n, m, L, out);
}
