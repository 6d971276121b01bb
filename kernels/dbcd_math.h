/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Per-element math of the bit channel: the differentiable bit-channel distortion (D-BCD,
 * DESIGN.md section 4, training only) and the BPSK symbol map / detectors of the real bit
 * link (lib/bitlink.c). Written once for the CPU loops and later CUDA kernels (one thread
 * per latent value; the per-level vectors live in the caller's buffers: the saved state,
 * and one scratch vector of L floats for the backward).
 *
 * D-BCD for one latent value q with levels c[L], the transition matrix
 * P[i*L + j] = P(detect j | sent i) and Gumbel noise G[L]:
 *   a_i  = -(q - c_i)^2 / delta
 *   p    = softmax(a)                          soft index of the sent level
 *   pi   = P^T p                               distribution of the detected index
 *   g    = softmax((log pi + G) / tau)         Gumbel-softmax sample
 *   forward value: one-hot argmax(g), so y~ = c_{j*} exactly (straight-through);
 *   soft surrogate (whose exact gradient the backward returns): y~_soft = sum_j g_j c_j.
 * pi is summed in the linear domain (L^2 multiply-adds, no L^2 exponentials). At high SNR
 * or for far levels a pi_j may underflow to 0 (P entries ~eps^d are 0 or subnormal in float
 * above ~20 dB): log pi_j = -inf then gives g_j = 0, the exact limit, and the level with
 * the largest p always keeps pi >= (1 - eps)^B / L > 0, so the softmax is well defined.
 *
 * Backward from dy = dL/dy~, with u_j = dlogpi_j / pi_j and w_ij = P_ij p_i / pi_j (the
 * posterior of "sent i" given "detected j"; sum_i w_ij = 1):
 *   dc_j    += dy g_j
 *   dlogpi_j = g_j dy (c_j - y~_soft) / tau
 *   dlogp_i  = sum_j dlogpi_j w_ij = p_i sum_j P_ij u_j
 *   da_i     = dlogp_i - p_i S,  S = sum_i dlogp_i = sum_j dlogpi_j (from sum_i w_ij = 1);
 *              with the Gumbel-softmax above S is 0 in exact arithmetic (a softmax gradient
 *              sums to 0), kept so the function stays right if the upstream ever changes
 *   dq      += sum_i da_i (-2 (q - c_i) / delta);   dc_i += da_i 2 (q - c_i) / delta
 * u_j divides by max(pi_j, FLT_MIN): where pi_j underflowed, g_j = 0 and u_j = 0; where it
 * is subnormal, g_j ~ pi_j^(1/tau) is negligible for tau <= ~2 (keep tau there).
 */
#ifndef INVCSI_DBCD_MATH_H
#define INVCSI_DBCD_MATH_H

#include "invcsi_hd.h"

#include <float.h>  /* FLT_MIN; host headers nvcc also accepts */
#include <stdint.h>
#if !defined(__CUDACC__)
#include <math.h>
#endif

/* D-BCD forward of one value. Writes p[L], pi[L], g[L] (the saved state of the backward),
 * returns the detected index j* = argmax_j (log pi_j + G_j) (lowest index on a tie) and
 * stores y~_soft = sum_j g_j c_j in *ysoft. The forward value is c[j*]. */
INVCSI_HD int dbcd_forward_element(float q, const float *c, const float *P, const float *G,
                                   int L, float delta, float tau, float *p, float *pi,
                                   float *g, float *ysoft)
{
    const float inv_delta = 1.0f / delta, inv_tau = 1.0f / tau;
    /* p = softmax(-(q - c)^2 / delta), max-shifted */
    float amax = -INFINITY;
    for (int i = 0; i < L; i++) {
        const float d = q - c[i];
        const float a = -d * d * inv_delta;
        p[i] = a;
        amax = a > amax ? a : amax;
    }
    float s = 0.0f;
    for (int i = 0; i < L; i++) {
        p[i] = expf(p[i] - amax);
        s += p[i];
    }
    const float inv_s = 1.0f / s;
    for (int i = 0; i < L; i++)
        p[i] *= inv_s;
    /* pi = P^T p */
    for (int j = 0; j < L; j++)
        pi[j] = 0.0f;
    for (int i = 0; i < L; i++) {
        const float pv = p[i];
        if (pv == 0.0f)
            continue;
        const float *row = P + i * L;
        for (int j = 0; j < L; j++)
            pi[j] += row[j] * pv;
    }
    /* g = softmax((log pi + G) / tau); the argmax of the logits is the one-hot index */
    int best = 0;
    float zmax = -INFINITY;
    for (int j = 0; j < L; j++) {
        const float z = (logf(pi[j]) + G[j]) * inv_tau; /* -inf where pi_j == 0 */
        g[j] = z;
        if (z > zmax) {
            zmax = z;
            best = j;
        }
    }
    float gs = 0.0f;
    for (int j = 0; j < L; j++) {
        const float e = expf(g[j] - zmax);
        g[j] = e;
        gs += e;
    }
    const float inv_gs = 1.0f / gs;
    float ys = 0.0f;
    for (int j = 0; j < L; j++) {
        g[j] *= inv_gs;
        ys += g[j] * c[j];
    }
    *ysoft = ys;
    return best;
}

/* D-BCD backward of one value: returns dL/dq and ADDS dL/dc_j to dc[j] (double: a
 * dimension sums over the whole batch). Reads the forward's saved p, pi, g; u is scratch
 * for L floats. */
INVCSI_HD float dbcd_backward_element(float dy, float q, const float *c, const float *P,
                                      const float *p, const float *pi, const float *g, int L,
                                      float delta, float tau, double *dc, float *u)
{
    const float inv_tau = 1.0f / tau, two_over_delta = 2.0f / delta;
    float ys = 0.0f;
    for (int j = 0; j < L; j++)
        ys += g[j] * c[j];
    float S = 0.0f;
    for (int j = 0; j < L; j++) {
        const float dlogpi = g[j] * dy * (c[j] - ys) * inv_tau;
        S += dlogpi;
        u[j] = g[j] > 0.0f ? dlogpi / fmaxf(pi[j], FLT_MIN) : 0.0f;
        dc[j] += (double)(dy * g[j]);
    }
    float dq = 0.0f;
    for (int i = 0; i < L; i++) {
        if (p[i] == 0.0f)
            continue; /* da_i = 0: no gradient through an underflowed soft index */
        const float *row = P + i * L;
        float acc = 0.0f;
        for (int j = 0; j < L; j++)
            acc += row[j] * u[j];
        const float da = p[i] * (acc - S);
        const float t = da * two_over_delta * (q - c[i]);
        dq -= t;
        dc[i] += (double)t;
    }
    return dq;
}

/* ---- BPSK over AWGN -------------------------------------------------------------------------
 * Bit b -> symbol (1 - 2b) sqrt(Es): bit 0 -> +sqrt(Es), bit 1 -> -sqrt(Es) (the real part
 * of a complex symbol; the imaginary part is 0). */
INVCSI_HD float bpsk_symbol(uint8_t bit, float sqrt_es) { return (bit & 1u) ? -sqrt_es : sqrt_es; }

/* ML (minimum-distance) hard decision on the real part: bit 1 when Re(r) < 0, else 0
 * (Re(r) == 0, probability zero, decides 0). */
INVCSI_HD uint8_t bpsk_hard(float re) { return re < 0.0f ? 1u : 0u; }

/* Bit LLR = log P(b = 0 | r) / P(b = 1 | r) with equiprobable bits, complex AWGN of
 * variance N0/2 per real dimension:
 *   LLR = 2 sqrt(Es) Re(r) / (N0 / 2) = 4 sqrt(Es) Re(r) / N0,
 * positive for bit 0 (the sign matches bpsk_hard: bit = LLR < 0). llr_scale = 4 sqrt(Es)/N0. */
INVCSI_HD float bpsk_llr(float re, float llr_scale) { return llr_scale * re; }

#endif
