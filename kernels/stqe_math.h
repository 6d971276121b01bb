/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Per-element math of the STQENet layers (DESIGN.md section 5), written once for the CPU
 * loops in lib/nn_layernorm.c, nn_gelu.c, nn_attention.c, nn_compander.c,
 * entropy_model.c and for CUDA kernels later (same role as kernels/nn_math.h).
 *
 * Float math only (expf, log1pf, erff, tanhf, powf) so nvcc maps each call to an intrinsic.
 * "_grad" functions return a derivative; the comment says which argument they take.
 */
#ifndef INVCSI_STQE_MATH_H
#define INVCSI_STQE_MATH_H

#include "invcsi_hd.h"

#if !defined(__CUDACC__)
#include <math.h>
#endif

/* ---- GELU, exact (erf) form: PyTorch nn.GELU() default ------------------------------- */

#define STQE_INV_SQRT2 0.70710678118654752440f
#define STQE_INV_SQRT_2PI 0.39894228040143267794f

/* gelu(x) = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)). */
INVCSI_HD float stqe_gelu(float x) { return 0.5f * x * (1.0f + erff(x * STQE_INV_SQRT2)); }
/* d/dx from the input x: Phi(x) + x phi(x). */
INVCSI_HD float stqe_gelu_grad(float x)
{
    return 0.5f * (1.0f + erff(x * STQE_INV_SQRT2)) + x * STQE_INV_SQRT_2PI * expf(-0.5f * x * x);
}

/* ---- softplus and the logistic function (entropy model) ------------------------------ */

/* softplus(x) = ln(1 + e^x), without overflow for large x. */
INVCSI_HD float stqe_softplus(float x)
{
    return x > 0.0f ? x + log1pf(expf(-x)) : log1pf(expf(x));
}
/* d softplus / dx = sigmoid(x), from the input x. */
INVCSI_HD float stqe_sigmoid(float x)
{
    if (x >= 0.0f)
        return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}
/* sigmoid'(x) = sigmoid(x) sigmoid(-x): both factors computed directly, so the product
 * keeps its relative precision in both tails (1 - sigmoid(x) would round to 0). */
INVCSI_HD float stqe_sigmoid_grad(float x) { return stqe_sigmoid(x) * stqe_sigmoid(-x); }

/* ---- softmax over one row (attention) ------------------------------------------------- */

/* p[j] = exp(s[j] - max) / sum, j < n; in place allowed (p == s). */
INVCSI_HD void stqe_softmax_row(float *p, const float *s, int n)
{
    float mx = s[0];
    for (int j = 1; j < n; j++)
        mx = s[j] > mx ? s[j] : mx;
    float sum = 0.0f;
    for (int j = 0; j < n; j++) {
        p[j] = expf(s[j] - mx);
        sum += p[j];
    }
    float inv = 1.0f / sum;
    for (int j = 0; j < n; j++)
        p[j] *= inv;
}

/* ---- mu-law compander (the quantizer's front end) ------------------------------------- */

/* c = sgn(t) ln(1 + mu |t|) / ln(1 + mu), t in [-1, 1] -> c in [-1, 1]. */
INVCSI_HD float stqe_mulaw(float t, float mu)
{
    float c = log1pf(mu * fabsf(t)) / log1pf(mu);
    return t < 0.0f ? -c : c;
}
/* dc/dt from the input t: mu / ((1 + mu |t|) ln(1 + mu)). */
INVCSI_HD float stqe_mulaw_grad(float t, float mu)
{
    return mu / ((1.0f + mu * fabsf(t)) * log1pf(mu));
}
/* Inverse: t = sgn(c) ((1 + mu)^|c| - 1) / mu. */
INVCSI_HD float stqe_mulaw_inv(float c, float mu)
{
    float t = expm1f(fabsf(c) * log1pf(mu)) / mu;
    return c < 0.0f ? -t : t;
}
/* dt/dc from the input c: ln(1 + mu) (1 + mu)^|c| / mu. */
INVCSI_HD float stqe_mulaw_inv_grad(float c, float mu)
{
    float l = log1pf(mu);
    return l * expf(fabsf(c) * l) / mu;
}

/* ---- factorised entropy model, one latent dimension (Balle 2018, appendix 6.1) --------
 *
 * A 1-3-3-3-1 network maps a value v (in symbol units, centred) to the LOGIT of its CDF:
 *   f_k(x) = g_k(H_k x + b_k),  g_k(x) = x + a_k * tanh(x) (k = 1..3),  logit = H_4 x + b_4
 *   CDF(v) = sigmoid(logit(v))
 * with H_k = softplus(raw) > 0 and a_k = tanh(raw) > -1, so every stage is increasing and
 * the CDF is monotone. The 43 raw parameters of a dimension sit in this order: */
enum {
    STQE_EM_H1 = 0,   /* [3][1] */
    STQE_EM_B1 = 3,   /* [3] */
    STQE_EM_A1 = 6,   /* [3] */
    STQE_EM_H2 = 9,   /* [3][3], row-major (out, in) */
    STQE_EM_B2 = 18,
    STQE_EM_A2 = 21,
    STQE_EM_H3 = 24,
    STQE_EM_B3 = 33,
    STQE_EM_A3 = 36,
    STQE_EM_H4 = 39,  /* [1][3] */
    STQE_EM_B4 = 42,  /* [1] */
    STQE_EM_PARAMS = 43
};

/* The "effective" parameters (softplus / tanh applied) of one dimension from its raw ones. */
INVCSI_HD void stqe_em_effective(float *eff, const float *raw)
{
    for (int i = 0; i < STQE_EM_PARAMS; i++) {
        const int is_h = i < 3 || (i >= 9 && i < 18) || (i >= 24 && i < 33) || (i >= 39 && i < 42);
        const int is_a = (i >= 6 && i < 9) || (i >= 21 && i < 24) || (i >= 36 && i < 39);
        eff[i] = is_h ? stqe_softplus(raw[i]) : is_a ? tanhf(raw[i]) : raw[i];
    }
}
/* d eff / d raw (from the raw value): sigmoid for H, 1 - tanh^2 for a, 1 for biases. */
INVCSI_HD float stqe_em_effective_grad(int i, float raw)
{
    const int is_h = i < 3 || (i >= 9 && i < 18) || (i >= 24 && i < 33) || (i >= 39 && i < 42);
    const int is_a = (i >= 6 && i < 9) || (i >= 21 && i < 24) || (i >= 36 && i < 39);
    if (is_h)
        return stqe_sigmoid(raw);
    if (is_a) {
        float t = tanhf(raw);
        return 1.0f - t * t;
    }
    return 1.0f;
}

/* What the backward of one logit evaluation needs: the input, each stage's output x_k and
 * t_k = tanh(pre-activation) (so the backward calls no tanh again). */
typedef struct stqe_em_trace {
    float v;
    float t1[3], x1[3], t2[3], x2[3], t3[3], x3[3];
} stqe_em_trace;

/* Logit of the CDF at v, from the effective parameters; fills tr (may be NULL). */
INVCSI_HD float stqe_em_logit_traced(const float *e, float v, stqe_em_trace *tr)
{
    float t1[3], x1[3], t2[3], x2[3], t3[3], x3[3];
    for (int i = 0; i < 3; i++) {
        float h = e[STQE_EM_H1 + i] * v + e[STQE_EM_B1 + i];
        t1[i] = tanhf(h);
        x1[i] = h + e[STQE_EM_A1 + i] * t1[i];
    }
    for (int i = 0; i < 3; i++) {
        float h = e[STQE_EM_B2 + i];
        for (int j = 0; j < 3; j++)
            h += e[STQE_EM_H2 + 3 * i + j] * x1[j];
        t2[i] = tanhf(h);
        x2[i] = h + e[STQE_EM_A2 + i] * t2[i];
    }
    for (int i = 0; i < 3; i++) {
        float h = e[STQE_EM_B3 + i];
        for (int j = 0; j < 3; j++)
            h += e[STQE_EM_H3 + 3 * i + j] * x2[j];
        t3[i] = tanhf(h);
        x3[i] = h + e[STQE_EM_A3 + i] * t3[i];
    }
    if (tr) {
        tr->v = v;
        for (int i = 0; i < 3; i++) {
            tr->t1[i] = t1[i], tr->x1[i] = x1[i];
            tr->t2[i] = t2[i], tr->x2[i] = x2[i];
            tr->t3[i] = t3[i], tr->x3[i] = x3[i];
        }
    }
    return e[STQE_EM_H4] * x3[0] + e[STQE_EM_H4 + 1] * x3[1] + e[STQE_EM_H4 + 2] * x3[2] +
           e[STQE_EM_B4];
}

INVCSI_HD float stqe_em_logit(const float *e, float v) { return stqe_em_logit_traced(e, v, 0); }

/* Backward of one traced logit evaluation: with g = dL/dlogit, accumulates dL/d(effective
 * params) into de[43] and returns dL/dv. */
INVCSI_HD float stqe_em_logit_backward(const float *e, const stqe_em_trace *tr, float g,
                                       float *de)
{
    float dx[3], dh[3];
    /* logit = H4 x3 + b4 */
    de[STQE_EM_B4] += g;
    for (int i = 0; i < 3; i++) {
        de[STQE_EM_H4 + i] += g * tr->x3[i];
        dx[i] = g * e[STQE_EM_H4 + i];
    }
    /* stage 3: x3 = h3 + a3 tanh(h3), h3 = H3 x2 + b3 */
    for (int i = 0; i < 3; i++) {
        const float t = tr->t3[i];
        de[STQE_EM_A3 + i] += dx[i] * t;
        dh[i] = dx[i] * (1.0f + e[STQE_EM_A3 + i] * (1.0f - t * t));
        de[STQE_EM_B3 + i] += dh[i];
    }
    for (int j = 0; j < 3; j++) {
        float acc = 0.0f;
        for (int i = 0; i < 3; i++) {
            de[STQE_EM_H3 + 3 * i + j] += dh[i] * tr->x2[j];
            acc += dh[i] * e[STQE_EM_H3 + 3 * i + j];
        }
        dx[j] = acc;
    }
    /* stage 2: x2 = h2 + a2 tanh(h2), h2 = H2 x1 + b2 */
    for (int i = 0; i < 3; i++) {
        const float t = tr->t2[i];
        de[STQE_EM_A2 + i] += dx[i] * t;
        dh[i] = dx[i] * (1.0f + e[STQE_EM_A2 + i] * (1.0f - t * t));
        de[STQE_EM_B2 + i] += dh[i];
    }
    for (int j = 0; j < 3; j++) {
        float acc = 0.0f;
        for (int i = 0; i < 3; i++) {
            de[STQE_EM_H2 + 3 * i + j] += dh[i] * tr->x1[j];
            acc += dh[i] * e[STQE_EM_H2 + 3 * i + j];
        }
        dx[j] = acc;
    }
    /* stage 1: x1 = h1 + a1 tanh(h1), h1 = H1 v + b1 */
    float dv = 0.0f;
    for (int i = 0; i < 3; i++) {
        const float t = tr->t1[i];
        de[STQE_EM_A1 + i] += dx[i] * t;
        const float d = dx[i] * (1.0f + e[STQE_EM_A1 + i] * (1.0f - t * t));
        de[STQE_EM_B1 + i] += d;
        de[STQE_EM_H1 + i] += d * tr->v;
        dv += d * e[STQE_EM_H1 + i];
    }
    return dv;
}

/* Probability of the bin [lo, hi] from the logits of its ends, lo_open/hi_open marking a
 * folded tail (the end symbol takes all mass below/above): p = CDF(hi) - CDF(lo) with
 * CDF(-inf) = 0, CDF(+inf) = 1. Written as in CompressAI: when both logits are large and
 * positive, the difference is taken on the mirrored side, sigmoid(-lo) - sigmoid(-hi),
 * where it does not cancel. */
INVCSI_HD float stqe_bin_prob(float logit_lo, float logit_hi, int lo_open, int hi_open)
{
    if (lo_open && hi_open)
        return 1.0f;
    if (lo_open)
        return stqe_sigmoid(logit_hi);
    if (hi_open)
        return stqe_sigmoid(-logit_lo);
    float s = (logit_lo + logit_hi) > 0.0f ? -1.0f : 1.0f;
    return fabsf(stqe_sigmoid(s * logit_hi) - stqe_sigmoid(s * logit_lo));
}

#endif
