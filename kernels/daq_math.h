/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Per-element math of the differentiable adaptive quantizer (DAQ, DESIGN.md section 4) and
 * of the index <-> bit-label mapping, written once for the CPU loops of lib/daq.c and
 * lib/bitlink.c and for later CUDA kernels (one thread per latent value).
 *
 * One latent dimension has L = 2^B levels, nk = L - 1 thresholds b_1 < ... < b_nk and
 * nk positive steps s_1..s_nk (arrays indexed from 0 here: thr[k-1] = b_k,
 * step[k-1] = s_k). Levels: c_0 = -R, c_j = c_0 + s_1 + ... + s_j.
 *
 *   soft:  q(y) = c_0 + sum_k s_k sigmoid(beta (y - b_k))
 *   hard:  j(y) = #{k : y > b_k},  q = c_j          (the limit beta -> infinity)
 *
 * Gradients of the soft value, with sg_k = sigmoid(beta (y - b_k)), g_k = beta sg_k (1 - sg_k):
 *   dq/dy = sum_k s_k g_k,   dq/db_k = -s_k g_k,   dq/ds_k = sg_k.
 *
 * Parameterisation (raw, unconstrained -> ordered/positive, "daq_derive" below), with
 * gap = INVCSI_DAQ_MIN_GAP * R and softplus(x) = log(1 + e^x):
 *   b_1     = t_0
 *   b_{k+1} = b_k + softplus(t_k) + gap        k = 1 .. nk-1
 *   s_k     = softplus(u_k) + gap              k = 1 .. nk
 * so every raw vector gives strictly increasing thresholds and levels, even in float (the
 * gap keeps consecutive values at least 1e-4 R apart, where a bare softplus of a very
 * negative raw value would underflow below one ulp).
 */
#ifndef INVCSI_DAQ_MATH_H
#define INVCSI_DAQ_MATH_H

#include "invcsi_hd.h"
#include "nn_math.h"

#include <stdint.h>
#if !defined(__CUDACC__)
#include <math.h>
#endif

/* Smallest spacing of consecutive thresholds and levels, as a fraction of R. */
#define INVCSI_DAQ_MIN_GAP 1e-4f

/* softplus(x) = log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|)). */
INVCSI_HD float daq_softplus(float x)
{
    const float ax = x < 0.0f ? -x : x;
    return (x > 0.0f ? x : 0.0f) + log1pf(expf(-ax));
}

/* Inverse of softplus for v > 0: log(exp(v) - 1) = v + log(1 - exp(-v)). */
INVCSI_HD float daq_softplus_inv(float v) { return v + logf(-expm1f(-v)); }

/* Raw parameters of one dimension -> thresholds thr[nk], steps step[nk], levels lev[nk+1]. */
INVCSI_HD void daq_derive(const float *thr_raw, const float *step_raw, int nk, float range,
                          float *thr, float *step, float *lev)
{
    const float gap = INVCSI_DAQ_MIN_GAP * range;
    float b = thr_raw[0];
    thr[0] = b;
    for (int k = 1; k < nk; k++) {
        b += daq_softplus(thr_raw[k]) + gap;
        thr[k] = b;
    }
    float c = -range;
    lev[0] = c;
    for (int k = 0; k < nk; k++) {
        const float s = daq_softplus(step_raw[k]) + gap;
        step[k] = s;
        c += s;
        lev[k + 1] = c;
    }
}

/* Hard index j(y) = #{k : y > thr[k]} by binary search (thr non-decreasing). A NaN y gives 0. */
INVCSI_HD int daq_hard_index(float y, const float *thr, int nk)
{
    int lo = 0, hi = nk; /* answer in [lo, hi]: thr[0..lo) < y, thr[hi..nk) >= y */
    while (lo < hi) {
        const int mid = (lo + hi) >> 1;
        if (y > thr[mid])
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Soft value q(y). */
INVCSI_HD float daq_soft_value(float y, const float *thr, const float *step, int nk,
                               float range, float beta)
{
    float q = -range;
    for (int k = 0; k < nk; k++)
        q += step[k] * nn_sigmoid(beta * (y - thr[k]));
    return q;
}

/* Backward of the soft value for one element: returns dL/dy and ADDS dL/db_k, dL/ds_k to
 * dthr[k], dstep[k] (double accumulators: a dimension sums over the whole batch). */
INVCSI_HD float daq_soft_grad(float dq, float y, const float *thr, const float *step, int nk,
                              float beta, double *dthr, double *dstep)
{
    float dy = 0.0f;
    for (int k = 0; k < nk; k++) {
        const float sg = nn_sigmoid(beta * (y - thr[k]));
        const float g = beta * sg * (1.0f - sg);
        const float t = dq * step[k] * g;
        dy += t;
        dthr[k] -= t;
        dstep[k] += dq * sg;
    }
    return dy;
}

/* Chain rule of daq_derive for one dimension: from dL/d(thresholds) dthr[nk], dL/d(steps)
 * dstep[nk] and dL/d(levels) dlev[nk+1] (may be NULL), ADDS dL/d(raw) to dthr_raw[nk] and
 * dstep_raw[nk] (either may be NULL). c_0 = -R is fixed, so dlev[0] is not used.
 *   dL/dt_0 = sum_k dL/db_k;  dL/dt_i = sigmoid(t_i) sum_{k >= i} dL/db_k  (0-based, i >= 1)
 *   dL/ds_k += sum_{j > k} dL/dc_j (0-based step k feeds levels k+1..nk);
 *   dL/du_k = sigmoid(u_k) dL/ds_k. */
INVCSI_HD void daq_raw_grad(const float *thr_raw, const float *step_raw, int nk,
                            const double *dthr, const double *dstep, const float *dlev,
                            float *dthr_raw, float *dstep_raw)
{
    if (dthr_raw) {
        double tail = 0.0; /* sum of dthr[k] for k >= i */
        for (int i = nk - 1; i >= 1; i--) {
            tail += dthr[i];
            dthr_raw[i] += (float)(tail * nn_sigmoid(thr_raw[i]));
        }
        tail += dthr[0];
        dthr_raw[0] += (float)tail;
    }
    if (dstep_raw) {
        double tail = 0.0; /* sum of dlev[j] for j >= k + 1 (level index) */
        for (int k = nk - 1; k >= 0; k--) {
            if (dlev)
                tail += dlev[k + 1];
            dstep_raw[k] += (float)((dstep[k] + tail) * nn_sigmoid(step_raw[k]));
        }
    }
}

/* ---- index <-> B-bit label ----------------------------------------------------------------
 * Natural binary: label = index. Gray (reflected binary): label = j ^ (j >> 1), so levels
 * next to each other differ in one bit and the most likely bit error moves the value by one
 * level. */
INVCSI_HD uint32_t daq_gray_encode(uint32_t j) { return j ^ (j >> 1); }
INVCSI_HD uint32_t daq_gray_decode(uint32_t g)
{
    uint32_t j = g;
    for (uint32_t s = g >> 1; s; s >>= 1)
        j ^= s;
    return j;
}
INVCSI_HD uint32_t daq_index_to_label(uint32_t j, int gray) { return gray ? daq_gray_encode(j) : j; }
INVCSI_HD uint32_t daq_label_to_index(uint32_t l, int gray) { return gray ? daq_gray_decode(l) : l; }

/* Hamming distance of the labels of indices i and j under the mapping. */
INVCSI_HD int daq_label_distance(uint32_t i, uint32_t j, int gray)
{
    uint32_t x = daq_index_to_label(i, gray) ^ daq_index_to_label(j, gray);
    int d = 0;
    while (x) {
        x &= x - 1;
        d++;
    }
    return d;
}

#endif
