/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * IC module: the LAN residual CNN (three 3x3 convs from nn.h) and the learned Gaussian
 * prior of z.
 *
 * The hidden maps are kept AFTER their LeakyReLU only (as in the INN subnet): with a slope
 * >= 0 the output has the sign of the input (0 stays 0), so the backward reads f' off the
 * saved output.
 */
#include "invcsi/ic.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ic_math.h"
#include "invcsi/nn.h"
#include "invcsi/rng.h"

#define LAN_K 3

int invcsi_lan_check(const invcsi_lan_shape *s, invcsi_error *err)
{
    if (!s)
        return invcsi_error_set(err, INVCSI_EINVAL, "LAN: no shape");
    if (s->c1 < 1 || s->gh < 1 || s->gw < 1 || s->width < 1)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "LAN: channels %d, grid %dx%d, width %d: all must be >= 1",
                                s->c1, s->gh, s->gw, s->width);
    if (!(s->slope >= 0.0f && s->slope < 1.0f))
        return invcsi_error_set(err, INVCSI_EINVAL, "LAN: LeakyReLU slope %g must be in [0, 1)",
                                s->slope);
    return INVCSI_OK;
}

long invcsi_lan_dims(const invcsi_lan_shape *s) { return (long)s->c1 * s->gh * s->gw; }

void invcsi_lan_conv_channels(const invcsi_lan_shape *s, int k, int *in_ch, int *out_ch)
{
    *in_ch = k == 0 ? s->c1 : s->width;
    *out_ch = k == INVCSI_LAN_CONVS - 1 ? s->c1 : s->width;
}

long invcsi_lan_param_count(const invcsi_lan_shape *s)
{
    long total = 0;
    for (int k = 0; k < INVCSI_LAN_CONVS; k++) {
        int ci, co;
        invcsi_lan_conv_channels(s, k, &ci, &co);
        total += (long)co * ci * LAN_K * LAN_K + co;
    }
    return total;
}

static void conv_shape(const invcsi_lan_shape *s, int k, int batch, invcsi_conv2d_shape *cs)
{
    cs->batch = batch;
    invcsi_lan_conv_channels(s, k, &cs->in_ch, &cs->out_ch);
    cs->height = s->gh;
    cs->width = s->gw;
    cs->kh = LAN_K;
    cs->kw = LAN_K;
}

static int tensor_name(char *buf, size_t n, const char *prefix, int k, const char *what,
                       invcsi_error *err)
{
    if (snprintf(buf, n, "%s.conv%d.%s", prefix, k, what) >= (int)n)
        return invcsi_error_set(err, INVCSI_EINVAL, "LAN: prefix '%s' too long", prefix);
    return INVCSI_OK;
}

int invcsi_lan_add_params(invcsi_params *p, const char *prefix, const invcsi_lan_shape *s,
                          invcsi_error *err)
{
    int rc = invcsi_lan_check(s, err);
    if (rc)
        return rc;
    char name[INVCSI_PARAM_NAME_MAX];
    for (int k = 0; k < INVCSI_LAN_CONVS; k++) {
        int ci, co;
        invcsi_lan_conv_channels(s, k, &ci, &co);
        const int wshape[4] = {co, ci, LAN_K, LAN_K}, bshape[1] = {co};
        if ((rc = tensor_name(name, sizeof name, prefix, k, "weight", err)) ||
            (rc = invcsi_params_add(p, name, 4, wshape, NULL, err)) ||
            (rc = tensor_name(name, sizeof name, prefix, k, "bias", err)) ||
            (rc = invcsi_params_add(p, name, 1, bshape, NULL, err)))
            return rc;
    }
    return INVCSI_OK;
}

static int bind_one(float **data, float **grad, const invcsi_params *p, const char *name,
                    invcsi_error *err)
{
    const invcsi_tensor *t = invcsi_params_find(p, name);
    if (!t || !p->data)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "LAN: tensor '%s' missing from the parameter table (or table "
                                "not finalized)", name);
    *data = invcsi_tensor_data(p, t);
    if (grad)
        *grad = t->frozen ? NULL : invcsi_tensor_grad(p, t);
    return INVCSI_OK;
}

int invcsi_lan_bind(invcsi_lan_params *w, invcsi_lan_params *g, const invcsi_params *p,
                    const char *prefix, invcsi_error *err)
{
    char name[INVCSI_PARAM_NAME_MAX];
    int rc;
    for (int k = 0; k < INVCSI_LAN_CONVS; k++) {
        if ((rc = tensor_name(name, sizeof name, prefix, k, "weight", err)) ||
            (rc = bind_one(&w->weight[k], g ? &g->weight[k] : NULL, p, name, err)) ||
            (rc = tensor_name(name, sizeof name, prefix, k, "bias", err)) ||
            (rc = bind_one(&w->bias[k], g ? &g->bias[k] : NULL, p, name, err)))
            return rc;
    }
    return INVCSI_OK;
}

void invcsi_lan_init(const invcsi_lan_shape *s, const invcsi_lan_params *w, uint64_t seed,
                     float last_gain)
{
    for (int k = 0; k < INVCSI_LAN_CONVS; k++) {
        int ci, co;
        invcsi_lan_conv_channels(s, k, &ci, &co);
        const long nw = (long)co * ci * LAN_K * LAN_K;
        memset(w->bias[k], 0, sizeof(float) * co);
        const float gain = k == INVCSI_LAN_CONVS - 1 ? last_gain : 1.0f;
        if (gain == 0.0f) {
            memset(w->weight[k], 0, sizeof(float) * nw);
            continue;
        }
        const double fan_in = (double)ci * LAN_K * LAN_K;
        const double bound = gain * sqrt(6.0 / ((1.0 + (double)s->slope * s->slope) * fan_in));
        invcsi_rng r;
        invcsi_rng_init(&r, seed, 0x4c414e00u + (uint64_t)k); /* "LAN" k */
        for (long i = 0; i < nw; i++)
            w->weight[k][i] = (float)((2.0 * invcsi_rng_uniform(&r) - 1.0) * bound);
    }
}

static long hidden_floats(const invcsi_lan_shape *s, int batch)
{
    return (long)batch * s->width * s->gh * s->gw;
}

long invcsi_lan_act_floats(const invcsi_lan_shape *s, int batch)
{
    return 2 * hidden_floats(s, batch);
}

static long conv_scratch(const invcsi_lan_shape *s, int batch)
{
    long most = 0;
    for (int k = 0; k < INVCSI_LAN_CONVS; k++) {
        invcsi_conv2d_shape cs;
        conv_shape(s, k, batch, &cs);
        const long f = invcsi_conv2d_scratch_floats(&cs);
        most = f > most ? f : most;
    }
    return most;
}

long invcsi_lan_scratch_floats(const invcsi_lan_shape *s, int batch)
{
    return conv_scratch(s, batch) + 2 * hidden_floats(s, batch);
}

static int lan_check_batch(const invcsi_lan_shape *s, int batch, invcsi_error *err)
{
    int rc = invcsi_lan_check(s, err);
    if (rc)
        return rc;
    if (batch < 1)
        return invcsi_error_set(err, INVCSI_EINVAL, "LAN: batch %d must be >= 1", batch);
    return INVCSI_OK;
}

int invcsi_lan_forward(const invcsi_lan_shape *s, const invcsi_lan_params *w, float *out,
                       const float *in, float *acts, int batch, float *scratch,
                       invcsi_error *err)
{
    int rc = lan_check_batch(s, batch, err);
    if (rc)
        return rc;
    const long nh = hidden_floats(s, batch), n = (long)batch * invcsi_lan_dims(s);
    float *h0 = acts, *h1 = acts + nh;
    invcsi_conv2d_shape cs;
    conv_shape(s, 0, batch, &cs);
    if ((rc = invcsi_conv2d_forward(h0, in, w->weight[0], w->bias[0], &cs, scratch, err)))
        return rc;
    invcsi_leaky_relu_forward(h0, h0, nh, s->slope);
    conv_shape(s, 1, batch, &cs);
    if ((rc = invcsi_conv2d_forward(h1, h0, w->weight[1], w->bias[1], &cs, scratch, err)))
        return rc;
    invcsi_leaky_relu_forward(h1, h1, nh, s->slope);
    conv_shape(s, 2, batch, &cs);
    if ((rc = invcsi_conv2d_forward(out, h1, w->weight[2], w->bias[2], &cs, scratch, err)))
        return rc;
    for (long i = 0; i < n; i++)
        out[i] += in[i];
    return INVCSI_OK;
}

int invcsi_lan_backward(const invcsi_lan_shape *s, const invcsi_lan_params *w,
                        const invcsi_lan_params *g, float *din, const float *dout,
                        const float *in, const float *acts, int batch, float *scratch,
                        invcsi_error *err)
{
    int rc = lan_check_batch(s, batch, err);
    if (rc)
        return rc;
    const long nh = hidden_floats(s, batch), n = (long)batch * invcsi_lan_dims(s);
    const float *h0 = acts, *h1 = acts + nh;
    float *dh = scratch + conv_scratch(s, batch); /* gradient at a LeakyReLU's output */
    float *dpre = dh + nh;                        /* ... and at its input */
    const invcsi_lan_params none = {{NULL, NULL, NULL}, {NULL, NULL, NULL}};
    if (!g)
        g = &none;
    if (din)
        for (long i = 0; i < n; i++)
            din[i] += dout[i]; /* residual path */
    invcsi_conv2d_shape cs;
    conv_shape(s, 2, batch, &cs);
    memset(dh, 0, sizeof(float) * nh);
    if ((rc = invcsi_conv2d_backward(dh, g->weight[2], g->bias[2], dout, h1, w->weight[2], &cs,
                                     scratch, err)))
        return rc;
    memset(dpre, 0, sizeof(float) * nh);
    invcsi_leaky_relu_backward(dpre, dh, h1, nh, s->slope);
    conv_shape(s, 1, batch, &cs);
    memset(dh, 0, sizeof(float) * nh);
    if ((rc = invcsi_conv2d_backward(dh, g->weight[1], g->bias[1], dpre, h0, w->weight[1], &cs,
                                     scratch, err)))
        return rc;
    memset(dpre, 0, sizeof(float) * nh);
    invcsi_leaky_relu_backward(dpre, dh, h0, nh, s->slope);
    conv_shape(s, 0, batch, &cs);
    return invcsi_conv2d_backward(din, g->weight[0], g->bias[0], dpre, in, w->weight[0], &cs,
                                  scratch, err);
}

/* ---- learned prior of z -------------------------------------------------------------------- */

int invcsi_zprior_add_params(invcsi_params *p, const char *prefix, int zdims, size_t *mu_offset,
                             size_t *log_sigma_offset, invcsi_error *err)
{
    if (zdims < 1)
        return invcsi_error_set(err, INVCSI_EINVAL, "z prior: %d dimensions, must be >= 1",
                                zdims);
    char name[INVCSI_PARAM_NAME_MAX];
    const int shape[1] = {zdims};
    if (snprintf(name, sizeof name, "%s.log_sigma", prefix) >= (int)sizeof name)
        return invcsi_error_set(err, INVCSI_EINVAL, "z prior: prefix '%s' too long", prefix);
    snprintf(name, sizeof name, "%s.mu", prefix);
    int rc = invcsi_params_add(p, name, 1, shape, mu_offset, err);
    if (rc)
        return rc;
    snprintf(name, sizeof name, "%s.log_sigma", prefix);
    return invcsi_params_add(p, name, 1, shape, log_sigma_offset, err);
}

long invcsi_zprior_param_count(int zdims) { return 2L * zdims; }

void invcsi_zprior_init(float *mu, float *log_sigma, int zdims)
{
    memset(mu, 0, sizeof(float) * zdims);
    memset(log_sigma, 0, sizeof(float) * zdims);
}

void invcsi_zprior_forward(float *z, const float *mu, const float *log_sigma,
                           const float *noise, int batch, int zdims)
{
    for (int b = 0; b < batch; b++) {
        float *zb = z + (long)b * zdims;
        if (!noise) {
            memcpy(zb, mu, sizeof(float) * zdims);
            continue;
        }
        const float *nb = noise + (long)b * zdims;
        for (int k = 0; k < zdims; k++)
            zb[k] = ic_zprior_sample(mu[k], log_sigma[k], nb[k]);
    }
}

void invcsi_zprior_backward(float *dmu, float *dlog_sigma, const float *dz, const float *mu,
                            const float *log_sigma, const float *noise, int batch, int zdims)
{
    for (int k = 0; k < zdims; k++) {
        double gm = 0.0, gs = 0.0;
        for (int b = 0; b < batch; b++) {
            const long e = (long)b * zdims + k;
            gm += dz[e];
            if (noise)
                gs += (double)dz[e] * noise[e];
        }
        if (dmu)
            dmu[k] += (float)gm;
        if (dlog_sigma && noise)
            dlog_sigma[k] += (float)(gs * expf(log_sigma[k]));
    }
}
