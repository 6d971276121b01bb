/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Factorised entropy model (include/invcsi/entropy_model.h): rate term, its gradient with
 * respect to the latent and the model parameters, the CDF and the full pmf per dimension.
 *
 * Every entry costs two network evaluations (the two bin ends), ~100 flops and a dozen
 * tanh each; the loops run dimension-major so that the OpenMP threads own disjoint
 * dimensions (no atomics on the parameter gradient) and the total is summed in a fixed
 * order from per-dimension partial sums: the result does not depend on the thread count.
 *
 * Backward of one entry, p = sigmoid(l_hi) - sigmoid(l_lo), R = -log2 p:
 *   dR/dl_hi = -sigmoid'(l_hi) / (p ln 2),  dR/dl_lo = +sigmoid'(l_lo) / (p ln 2)
 * (a folded end drops its term), then each logit's backward through the network (from the
 * trace its forward kept: no second evaluation, no tanh recomputed) gives
 * d/dv (= d/du, v = u - c +- 1/2) and the effective-parameter gradients, which the chain
 * rule through softplus / tanh turns into raw-parameter gradients at the end.
 */
#include "invcsi/entropy_model.h"
#include "invcsi/rng.h"
#include "stqe_math.h"

#include <math.h>
#include <string.h>

#define EM_P INVCSI_ENTROPY_PARAMS_PER_DIM

long invcsi_entropy_param_floats(int dims) { return (long)dims * EM_P; }

long invcsi_entropy_scratch_floats(int dims)
{
    /* effective params, their gradients, per-dimension partial sums */
    return (long)dims * (2 * EM_P + 1);
}

static int em_check(const char *fn, int batch, int dims, int levels, invcsi_error *err)
{
    if (batch < 1 || dims < 1)
        return invcsi_error_set(err, INVCSI_EINVAL, "%s: batch %d, dims %d: both must be >= 1",
                                fn, batch, dims);
    if (levels < 2 || levels > 65536)
        return invcsi_error_set(err, INVCSI_EINVAL, "%s: levels %d: must be in [2, 65536]",
                                fn, levels);
    return INVCSI_OK;
}

int invcsi_entropy_init(float *raw, int dims, float init_scale, uint64_t seed,
                        invcsi_error *err)
{
    if (dims < 1 || !(init_scale > 0.0f) || !raw)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "entropy_init: dims %d must be >= 1 and init_scale %g > 0", dims,
                                init_scale);
    /* CompressAI EntropyBottleneck: filters (1, 3, 3, 3, 1), scale = init_scale^(1/4),
     * matrix i filled with log(expm1(1 / scale / filters[i+1])), so the product of the
     * four layers has slope 1 / init_scale. */
    const double scale = pow(init_scale, 0.25);
    const float h_hidden = (float)log(expm1(1.0 / scale / 3.0));
    const float h_last = (float)log(expm1(1.0 / scale));
    invcsi_rng rng;
    invcsi_rng_init(&rng, seed, 0);
    for (int d = 0; d < dims; d++) {
        float *r = raw + (long)d * EM_P;
        for (int i = 0; i < 3; i++)
            r[STQE_EM_H1 + i] = h_hidden;
        for (int i = 0; i < 9; i++) {
            r[STQE_EM_H2 + i] = h_hidden;
            r[STQE_EM_H3 + i] = h_hidden;
        }
        for (int i = 0; i < 3; i++) {
            r[STQE_EM_H4 + i] = h_last;
            r[STQE_EM_A1 + i] = r[STQE_EM_A2 + i] = r[STQE_EM_A3 + i] = 0.0f;
            r[STQE_EM_B1 + i] = (float)(invcsi_rng_uniform(&rng) - 0.5);
            r[STQE_EM_B2 + i] = (float)(invcsi_rng_uniform(&rng) - 0.5);
            r[STQE_EM_B3 + i] = (float)(invcsi_rng_uniform(&rng) - 0.5);
        }
        r[STQE_EM_B4] = (float)(invcsi_rng_uniform(&rng) - 0.5);
    }
    return INVCSI_OK;
}

/* The bin of one entry: network inputs of its two ends and which ends are folded. */
struct em_bin {
    float v_lo, v_hi;
    int lo_open, hi_open;
};

static struct em_bin em_bin_of(float u, int levels)
{
    const float c = 0.5f * (float)(levels - 1);
    const float r = floorf(u + 0.5f);
    struct em_bin b;
    b.v_lo = u - 0.5f - c;
    b.v_hi = u + 0.5f - c;
    b.lo_open = !(r > 0.0f);                 /* symbol 0 (and anything below) */
    b.hi_open = r >= (float)(levels - 1);    /* symbol L-1 (and anything above) */
    return b;
}

/* p of one bin; the traces (may be NULL) keep what the backward needs. */
static float em_prob(const float *eff, struct em_bin b, float *l_lo, float *l_hi,
                     stqe_em_trace *tr_lo, stqe_em_trace *tr_hi)
{
    *l_lo = b.lo_open ? 0.0f : stqe_em_logit_traced(eff, b.v_lo, tr_lo);
    *l_hi = b.hi_open ? 0.0f : stqe_em_logit_traced(eff, b.v_hi, tr_hi);
    return stqe_bin_prob(*l_lo, *l_hi, b.lo_open, b.hi_open);
}

static void em_effective_all(float *eff, const float *raw, int dims)
{
    for (int d = 0; d < dims; d++)
        stqe_em_effective(eff + (long)d * EM_P, raw + (long)d * EM_P);
}

int invcsi_entropy_rate_forward(float *total_bits, float *bits, const float *u,
                                const float *raw, int batch, int dims, int levels,
                                float *scratch, invcsi_error *err)
{
    int rc = em_check("entropy_rate_forward", batch, dims, levels, err);
    if (rc)
        return rc;
    if (!total_bits || !u || !raw || !scratch)
        return invcsi_error_set(err, INVCSI_EINVAL, "entropy_rate_forward: NULL buffer");
    float *eff = scratch, *partial = scratch + 2L * dims * EM_P;
    em_effective_all(eff, raw, dims);
    const float inv_ln2 = (float)(1.0 / M_LN2);
#pragma omp parallel for schedule(static)
    for (int d = 0; d < dims; d++) {
        const float *e = eff + (long)d * EM_P;
        double acc = 0.0;
        for (int b = 0; b < batch; b++) {
            const long idx = (long)b * dims + d;
            float l_lo, l_hi;
            float p = em_prob(e, em_bin_of(u[idx], levels), &l_lo, &l_hi, NULL, NULL);
            if (!(p > INVCSI_ENTROPY_P_MIN))
                p = INVCSI_ENTROPY_P_MIN;
            const float nb = -logf(p) * inv_ln2;
            if (bits)
                bits[idx] = nb;
            acc += nb;
        }
        partial[d] = (float)acc;
    }
    double total = 0.0;
    for (int d = 0; d < dims; d++)
        total += partial[d];
    *total_bits = (float)total;
    return INVCSI_OK;
}

int invcsi_entropy_rate_backward(float *du, float *draw, float dloss, const float *u,
                                 const float *raw, int batch, int dims, int levels,
                                 float *scratch, invcsi_error *err)
{
    int rc = em_check("entropy_rate_backward", batch, dims, levels, err);
    if (rc)
        return rc;
    if (!u || !raw || !scratch)
        return invcsi_error_set(err, INVCSI_EINVAL, "entropy_rate_backward: NULL buffer");
    if (!du && !draw)
        return INVCSI_OK;
    float *eff = scratch, *deff = scratch + (long)dims * EM_P;
    em_effective_all(eff, raw, dims);
    memset(deff, 0, sizeof(float) * dims * EM_P);
    const float inv_ln2 = (float)(1.0 / M_LN2);
#pragma omp parallel for schedule(static)
    for (int d = 0; d < dims; d++) {
        const float *e = eff + (long)d * EM_P;
        float *de = deff + (long)d * EM_P;
        for (int b = 0; b < batch; b++) {
            const long idx = (long)b * dims + d;
            const struct em_bin bin = em_bin_of(u[idx], levels);
            float l_lo, l_hi;
            stqe_em_trace tr_lo = {0}, tr_hi = {0}; /* set when the end is not folded */
            const float p = em_prob(e, bin, &l_lo, &l_hi, &tr_lo, &tr_hi);
            if (!(p > INVCSI_ENTROPY_P_MIN))
                continue; /* the floor is active: no gradient */
            const float dp = -dloss * inv_ln2 / p; /* dR/dp */
            float dv = 0.0f;
            if (!bin.hi_open)
                dv += stqe_em_logit_backward(e, &tr_hi, dp * stqe_sigmoid_grad(l_hi), de);
            if (!bin.lo_open)
                dv += stqe_em_logit_backward(e, &tr_lo, -dp * stqe_sigmoid_grad(l_lo), de);
            if (du)
                du[idx] += dv;
        }
        if (draw) {
            const float *r = raw + (long)d * EM_P;
            float *dr = draw + (long)d * EM_P;
            for (int i = 0; i < EM_P; i++)
                dr[i] += de[i] * stqe_em_effective_grad(i, r[i]);
        }
    }
    return INVCSI_OK;
}

int invcsi_entropy_cdf(float *cdf, const float *u, long n, const float *raw, int d, int levels,
                       invcsi_error *err)
{
    if (!cdf || !u || !raw || d < 0 || n < 0 || levels < 2)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "entropy_cdf: bad argument (d %d, n %ld, levels %d)", d, n,
                                levels);
    float eff[EM_P];
    stqe_em_effective(eff, raw + (long)d * EM_P);
    const float c = 0.5f * (float)(levels - 1);
    for (long i = 0; i < n; i++)
        cdf[i] = stqe_sigmoid(stqe_em_logit(eff, u[i] - c));
    return INVCSI_OK;
}

int invcsi_entropy_pmf(float *pmf, const float *raw, int dims, int levels, float *scratch,
                       invcsi_error *err)
{
    int rc = em_check("entropy_pmf", 1, dims, levels, err);
    if (rc)
        return rc;
    if (!pmf || !raw || !scratch)
        return invcsi_error_set(err, INVCSI_EINVAL, "entropy_pmf: NULL buffer");
    float *eff = scratch;
    em_effective_all(eff, raw, dims);
#pragma omp parallel for schedule(static)
    for (int d = 0; d < dims; d++) {
        const float *e = eff + (long)d * EM_P;
        float *row = pmf + (long)d * levels;
        for (int s = 0; s < levels; s++) {
            float l_lo, l_hi;
            row[s] = em_prob(e, em_bin_of((float)s, levels), &l_lo, &l_hi, NULL, NULL);
        }
    }
    return INVCSI_OK;
}
