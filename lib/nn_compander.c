/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * STQENet's quantizer front end (DESIGN.md section 5): tanh + mu-law compander onto
 * [0, 2^B - 1], its inverse at the BS, straight-through rounding and the additive
 * uniform-noise proxy of rounding used by the rate term in training.
 *
 *   u = (mulaw(tanh z) + 1) / 2 * (L - 1),   L = 2^B
 *   du/dz = (L - 1)/2 * mulaw'(t) * (1 - t^2)
 *   t^ = mulaw^-1(2 u / (L - 1) - 1),        dt^/du = mulaw^-1'(c) * 2 / (L - 1)
 */
#include "invcsi/rng.h"
#include "invcsi/stqe_layers.h"
#include "stqe_math.h"

#include <math.h>

static int compander_check(const char *fn, long n, float mu, int bits, invcsi_error *err)
{
    if (bits < 1 || bits > 16)
        return invcsi_error_set(err, INVCSI_EINVAL, "%s: bits %d: must be in [1, 16]", fn,
                                bits);
    if (!(mu > 0.0f) || !isfinite(mu))
        return invcsi_error_set(err, INVCSI_EINVAL, "%s: mu %g: must be a positive number", fn,
                                mu);
    if (n < 0)
        return invcsi_error_set(err, INVCSI_EINVAL, "%s: n %ld < 0", fn, n);
    return INVCSI_OK;
}

static float levels_minus_one(int bits) { return (float)((1L << bits) - 1); }

int invcsi_compander_forward(float *u, const float *z, long n, float mu, int bits,
                             invcsi_error *err)
{
    int rc = compander_check("compander_forward", n, mu, bits, err);
    if (rc)
        return rc;
    const float half_span = 0.5f * levels_minus_one(bits);
    for (long i = 0; i < n; i++)
        u[i] = (stqe_mulaw(tanhf(z[i]), mu) + 1.0f) * half_span;
    return INVCSI_OK;
}

int invcsi_compander_backward(float *dz, const float *du, const float *z, long n, float mu,
                              int bits, invcsi_error *err)
{
    int rc = compander_check("compander_backward", n, mu, bits, err);
    if (rc)
        return rc;
    const float half_span = 0.5f * levels_minus_one(bits);
    for (long i = 0; i < n; i++) {
        const float t = tanhf(z[i]);
        dz[i] += du[i] * half_span * stqe_mulaw_grad(t, mu) * (1.0f - t * t);
    }
    return INVCSI_OK;
}

int invcsi_compander_inverse_forward(float *t, const float *u, long n, float mu, int bits,
                                     invcsi_error *err)
{
    int rc = compander_check("compander_inverse_forward", n, mu, bits, err);
    if (rc)
        return rc;
    const float scale = 2.0f / levels_minus_one(bits);
    for (long i = 0; i < n; i++)
        t[i] = stqe_mulaw_inv(u[i] * scale - 1.0f, mu);
    return INVCSI_OK;
}

int invcsi_compander_inverse_backward(float *du, const float *dt, const float *u, long n,
                                      float mu, int bits, invcsi_error *err)
{
    int rc = compander_check("compander_inverse_backward", n, mu, bits, err);
    if (rc)
        return rc;
    const float scale = 2.0f / levels_minus_one(bits);
    for (long i = 0; i < n; i++)
        du[i] += dt[i] * stqe_mulaw_inv_grad(u[i] * scale - 1.0f, mu) * scale;
    return INVCSI_OK;
}

void invcsi_round_ste_forward(float *out, const float *in, long n)
{
    for (long i = 0; i < n; i++)
        out[i] = floorf(in[i] + 0.5f);
}

void invcsi_round_ste_backward(float *dinput, const float *dout, long n)
{
    for (long i = 0; i < n; i++)
        dinput[i] += dout[i];
}

int invcsi_quantize_symbols(uint16_t *sym, const float *u, long n, int bits, invcsi_error *err)
{
    if (bits < 1 || bits > 16)
        return invcsi_error_set(err, INVCSI_EINVAL, "quantize_symbols: bits %d: must be in "
                                "[1, 16]", bits);
    const float top = levels_minus_one(bits);
    for (long i = 0; i < n; i++) {
        float r = floorf(u[i] + 0.5f);
        if (!(r > 0.0f)) /* also maps NaN to 0: a symbol is always valid for the coder */
            r = 0.0f;
        if (r > top)
            r = top;
        sym[i] = (uint16_t)r;
    }
    return INVCSI_OK;
}

void invcsi_uniform_noise_fill(float *noise, long rows, int cols, uint64_t seed,
                               uint64_t first_stream)
{
    for (long r = 0; r < rows; r++) {
        invcsi_rng rng;
        invcsi_rng_init(&rng, seed, first_stream + (uint64_t)r);
        float *row = noise + r * cols;
        for (int c = 0; c < cols; c++)
            row[c] = (float)(invcsi_rng_uniform(&rng) - 0.5);
    }
}

void invcsi_add_noise_forward(float *out, const float *in, const float *noise, long n)
{
    for (long i = 0; i < n; i++)
        out[i] = in[i] + noise[i];
}
