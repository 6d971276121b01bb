/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * D-BCD (differentiable bit-channel distortion), CPU loops over kernels/dbcd_math.h, and
 * the transition matrix of B-bit labels over a binary symmetric channel.
 *
 * Saved state per value e = b*M + d: save[e*3L + (0..L)] = p, [L..2L) = pi, [2L..3L) = g.
 * The backward loops over dimensions (parallel) and the batch inside, so the level
 * gradients of a dimension are summed by one thread in a fixed order. The loop bodies are
 * the per-item functions of the CUDA kernels (kb_dbcd_* in kernels/kernel_bodies.h).
 */
#include "invcsi/dbcd.h"

#include <math.h>
#include <stddef.h>

#include "daq_math.h"
#include "dbcd_math.h"
#include "invcsi/bitlink.h"
#include "kernel_bodies.h"

#define DBCD_MAX_BITS 8

int invcsi_dbcd_check(const invcsi_dbcd_config *cfg, invcsi_error *err)
{
    if (!cfg)
        return invcsi_error_set(err, INVCSI_EINVAL, "D-BCD: no config");
    if (cfg->dims < 1)
        return invcsi_error_set(err, INVCSI_EINVAL, "D-BCD: dims %d must be >= 1", cfg->dims);
    if (cfg->bits < 1 || cfg->bits > DBCD_MAX_BITS)
        return invcsi_error_set(err, INVCSI_EINVAL, "D-BCD: bits %d must be in 1..%d",
                                cfg->bits, DBCD_MAX_BITS);
    if (!(cfg->delta > 0.0f) || !isfinite(cfg->delta))
        return invcsi_error_set(err, INVCSI_EINVAL, "D-BCD: delta %g must be positive",
                                cfg->delta);
    if (!(cfg->tau > 0.0f) || !isfinite(cfg->tau))
        return invcsi_error_set(err, INVCSI_EINVAL, "D-BCD: tau %g must be positive", cfg->tau);
    return INVCSI_OK;
}

static int check_table_args(int bits, int mapping, invcsi_error *err)
{
    if (bits < 1 || bits > DBCD_MAX_BITS)
        return invcsi_error_set(err, INVCSI_EINVAL, "transition matrix: bits %d must be in 1..%d",
                                bits, DBCD_MAX_BITS);
    if (mapping != INVCSI_BITMAP_NATURAL && mapping != INVCSI_BITMAP_GRAY)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "transition matrix: bit mapping %d: expected natural (0) or "
                                "gray (1)", mapping);
    return INVCSI_OK;
}

static int check_snr(double snr, invcsi_error *err)
{
    if (!(snr >= 0.0) || !isfinite(snr))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "transition matrix: Eb/N0 %g (linear) must be finite and >= 0",
                                snr);
    return INVCSI_OK;
}

/* P[i][j] = eps^d (1 - eps)^(B - d) into a double (Pd) or float (Pf) table. */
static void fill_transition(double *Pd, float *Pf, int bits, double eps, int mapping)
{
    const int L = 1 << bits, gray = mapping == INVCSI_BITMAP_GRAY;
    double pw_e[DBCD_MAX_BITS + 1], pw_c[DBCD_MAX_BITS + 1]; /* eps^k, (1-eps)^k */
    pw_e[0] = pw_c[0] = 1.0;
    for (int k = 1; k <= bits; k++) {
        pw_e[k] = pw_e[k - 1] * eps;
        pw_c[k] = pw_c[k - 1] * (1.0 - eps);
    }
    for (int i = 0; i < L; i++)
        for (int j = 0; j < L; j++) {
            const int d = daq_label_distance((uint32_t)i, (uint32_t)j, gray);
            const double v = pw_e[d] * pw_c[bits - d];
            if (Pd)
                Pd[(long)i * L + j] = v;
            if (Pf)
                Pf[(long)i * L + j] = (float)v;
        }
}

int invcsi_dbcd_transition_eps(double *P, int bits, double eps, int mapping, invcsi_error *err)
{
    int rc = check_table_args(bits, mapping, err);
    if (rc)
        return rc;
    if (!(eps >= 0.0 && eps <= 1.0))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "transition matrix: bit error probability %g not in [0, 1]", eps);
    fill_transition(P, NULL, bits, eps, mapping);
    return INVCSI_OK;
}

int invcsi_dbcd_transition(double *P, int bits, double snr, int mapping, invcsi_error *err)
{
    int rc = check_snr(snr, err);
    if (rc)
        return rc;
    return invcsi_dbcd_transition_eps(P, bits, invcsi_bpsk_ber(snr), mapping, err);
}

int invcsi_dbcd_transition_float(float *P, int bits, double snr, int mapping,
                                 invcsi_error *err)
{
    int rc = check_table_args(bits, mapping, err);
    if (!rc)
        rc = check_snr(snr, err);
    if (rc)
        return rc;
    fill_transition(NULL, P, bits, invcsi_bpsk_ber(snr), mapping);
    return INVCSI_OK;
}

float invcsi_dbcd_delta_default(int bits, float range)
{
    const double spacing = 2.0 * range / ((1 << bits) - 1);
    return (float)(0.1 * spacing * spacing);
}

long invcsi_dbcd_save_floats(const invcsi_dbcd_config *cfg, int batch)
{
    return (long)batch * cfg->dims * 3L * (1L << cfg->bits);
}

void invcsi_gumbel_fill(float *G, long n, invcsi_rng *r)
{
    for (long i = 0; i < n; i++)
        G[i] = (float)invcsi_rng_gumbel(r);
}

void invcsi_gumbel_fill_streams(float *G, int items, long per_item, uint64_t seed,
                                uint64_t first_stream)
{
#pragma omp parallel for schedule(static) if ((long)items * per_item >= 65536)
    for (int b = 0; b < items; b++) {
        invcsi_rng r;
        invcsi_rng_init(&r, seed, first_stream + (uint64_t)b);
        invcsi_gumbel_fill(G + (long)b * per_item, per_item, &r);
    }
}

static int check_batch(const invcsi_dbcd_config *cfg, int batch, invcsi_error *err)
{
    int rc = invcsi_dbcd_check(cfg, err);
    if (rc)
        return rc;
    if (batch < 1)
        return invcsi_error_set(err, INVCSI_EINVAL, "D-BCD: batch %d must be >= 1", batch);
    return INVCSI_OK;
}

int invcsi_dbcd_forward(const invcsi_dbcd_config *cfg, const float *q, const float *levels,
                        const float *P, const float *gumbel, int batch, float *y,
                        int *detected, float *y_soft, float *save, invcsi_error *err)
{
    int rc = check_batch(cfg, batch, err);
    if (rc)
        return rc;
    const int m = cfg->dims, L = 1 << cfg->bits;
    const long n = (long)batch * m;
#pragma omp parallel for schedule(static) if (n * L * L >= 262144)
    for (long e = 0; e < n; e++)
        kb_dbcd_forward(e, q, levels, P, gumbel, n, m, L, cfg->delta, cfg->tau, y, detected,
                        y_soft, save);
    return INVCSI_OK;
}

int invcsi_dbcd_backward(const invcsi_dbcd_config *cfg, const float *dy, const float *q,
                         const float *levels, const float *P, const float *save, int batch,
                         float *dq, float *dlevels, invcsi_error *err)
{
    int rc = check_batch(cfg, batch, err);
    if (rc)
        return rc;
    const int m = cfg->dims, L = 1 << cfg->bits;
#pragma omp parallel for schedule(static) if ((long)batch * m * L * L >= 262144)
    for (int d = 0; d < m; d++) {
        /* Item 0 of kb_dbcd_backward on the arguments shifted to dimension d (the per-value
         * inputs keep their stride m), so that its scratch can be this thread's stack
         * arrays rather than global ones. */
        double dc[1 << DBCD_MAX_BITS];
        float u[1 << DBCD_MAX_BITS];
        kb_dbcd_backward(0, dy + d, q + d, levels + (long)d * L, P, save + (long)d * 3 * L, batch,
                         m, L, cfg->delta, cfg->tau, dq ? dq + d : NULL,
                         dlevels ? dlevels + (long)d * L : NULL, dc, u);
    }
    return INVCSI_OK;
}
