/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The INN's subnet (phi, rho, eta of a coupling block): four 3x3 'same' convs with bias,
 *   in -> width -> LReLU -> width -> LReLU -> width -> LReLU -> out,
 * the last conv zero-initialised so a fresh block is the identity (HiNet).
 *
 * The hidden maps are kept AFTER their LeakyReLU only: with slope >= 0 a LeakyReLU keeps
 * the sign of its input (0 stays 0), so f'(pre) == f'(post) and the backward reads the
 * derivative off the saved output; that halves the activation memory.
 *
 * Forward and backward run through the backend of the parameter table (p->be, the CPU
 * table when NULL) on its compute-side buffers (params.h: invcsi_params_cdata): with a
 * device arena every pointer given here is device memory and nothing is read on the host.
 * init works on the host buffers (the mirror, when there is a device arena).
 */
#include "invcsi/inn.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "invcsi/backend.h"
#include "invcsi/nn.h"
#include "invcsi/rng.h"

#define SUBNET_K 3 /* kernel size */

static void conv_shape(const invcsi_inn_subnet *s, int i, int batch, invcsi_conv2d_shape *cs)
{
    cs->batch = batch;
    cs->in_ch = i == 0 ? s->in_ch : s->width;
    cs->out_ch = i == INVCSI_INN_SUBNET_CONVS - 1 ? s->out_ch : s->width;
    cs->height = s->gh;
    cs->width = s->gw;
    cs->kh = SUBNET_K;
    cs->kw = SUBNET_K;
}

long invcsi_inn_subnet_param_count(int in_ch, int out_ch, int width)
{
    const long k2 = SUBNET_K * SUBNET_K;
    return ((long)in_ch * k2 + 1) * width + 2 * ((long)width * k2 + 1) * width +
           ((long)width * k2 + 1) * out_ch;
}

int invcsi_inn_subnet_build(invcsi_inn_subnet *s, invcsi_params *p, const char *prefix,
                            int in_ch, int out_ch, int width, int gh, int gw, float slope,
                            invcsi_error *err)
{
    if (in_ch < 1 || out_ch < 1 || width < 1 || gh < 1 || gw < 1)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "subnet %s: in %d, out %d, width %d, map %dx%d: all must be "
                                ">= 1",
                                prefix, in_ch, out_ch, width, gh, gw);
    if (!(slope >= 0.0f && slope < 1.0f))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "subnet %s: LeakyReLU slope %g must be in [0, 1)", prefix, slope);
    memset(s, 0, sizeof *s);
    s->in_ch = in_ch;
    s->out_ch = out_ch;
    s->width = width;
    s->gh = gh;
    s->gw = gw;
    s->slope = slope;
    for (int i = 0; i < INVCSI_INN_SUBNET_CONVS; i++) {
        invcsi_conv2d_shape cs;
        conv_shape(s, i, 1, &cs);
        char name[INVCSI_PARAM_NAME_MAX];
        int shape[4] = {cs.out_ch, cs.in_ch, cs.kh, cs.kw};
        snprintf(name, sizeof name, "%s.conv%d.weight", prefix, i);
        int rc = invcsi_params_add(p, name, 4, shape, NULL, err);
        if (rc != INVCSI_OK)
            return rc;
        s->weight[i] = p->n_tensors - 1;
        snprintf(name, sizeof name, "%s.conv%d.bias", prefix, i);
        rc = invcsi_params_add(p, name, 1, shape, NULL, err);
        if (rc != INVCSI_OK)
            return rc;
        s->bias[i] = p->n_tensors - 1;
    }
    return INVCSI_OK;
}

/* FNV-1a 64 of a tensor name: each tensor draws from its own RNG stream, so its initial
 * values do not depend on which other tensors the model has or their order. */
static uint64_t name_stream(const char *name)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
        h ^= *c;
        h *= 1099511628211ULL;
    }
    return h;
}

void invcsi_inn_subnet_init(const invcsi_inn_subnet *s, invcsi_params *p, uint64_t seed,
                            float last_gain)
{
    for (int i = 0; i < INVCSI_INN_SUBNET_CONVS; i++) {
        const invcsi_tensor *tw = &p->tensors[s->weight[i]];
        const invcsi_tensor *tb = &p->tensors[s->bias[i]];
        float *w = invcsi_tensor_data(p, tw);
        memset(invcsi_tensor_data(p, tb), 0, sizeof(float) * tb->count);
        const float gain = i == INVCSI_INN_SUBNET_CONVS - 1 ? last_gain : 1.0f;
        if (gain == 0.0f) {
            memset(w, 0, sizeof(float) * tw->count);
            continue;
        }
        /* He (Kaiming) uniform for a LeakyReLU of this slope:
         *   bound = sqrt(6 / ((1 + slope^2) fan_in)). */
        const double fan_in = (double)tw->shape[1] * tw->shape[2] * tw->shape[3];
        const double bound = gain * sqrt(6.0 / ((1.0 + (double)s->slope * s->slope) * fan_in));
        invcsi_rng r;
        invcsi_rng_init(&r, seed, name_stream(tw->name));
        for (size_t k = 0; k < tw->count; k++)
            w[k] = (float)((2.0 * invcsi_rng_uniform(&r) - 1.0) * bound);
    }
}

static long map_floats(const invcsi_inn_subnet *s, int batch, int ch)
{
    return (long)batch * ch * s->gh * s->gw;
}

long invcsi_inn_subnet_act_floats(const invcsi_inn_subnet *s, int batch)
{
    return 3 * map_floats(s, batch, s->width) + map_floats(s, batch, s->out_ch);
}

void invcsi_inn_subnet_acts_bind(invcsi_inn_subnet_acts *a, const invcsi_inn_subnet *s,
                                 int batch, float *buf)
{
    const long h = map_floats(s, batch, s->width);
    for (int i = 0; i < 3; i++)
        a->hidden[i] = buf + i * h;
    a->out = buf + 3 * h;
}

static long conv_scratch(const invcsi_inn_subnet *s, int batch)
{
    long mx = 0;
    for (int i = 0; i < INVCSI_INN_SUBNET_CONVS; i++) {
        invcsi_conv2d_shape cs;
        conv_shape(s, i, batch, &cs);
        long n = invcsi_conv2d_be_scratch_floats(&cs);
        if (n > mx)
            mx = n;
    }
    return mx;
}

long invcsi_inn_subnet_scratch_floats(const invcsi_inn_subnet *s, int batch)
{
    return conv_scratch(s, batch) + 2 * map_floats(s, batch, s->width);
}

static const invcsi_backend *pbe(const invcsi_params *p)
{
    return p->be ? p->be : invcsi_backend_cpu();
}

static const float *wdata(const invcsi_params *p, int idx)
{
    return invcsi_params_cdata(p) + p->tensors[idx].offset;
}

/* Gradient buffer of a tensor, NULL when frozen or when there is no gradient buffer. */
static float *wgrad(invcsi_params *p, int idx)
{
    if (!p->grad || p->tensors[idx].frozen)
        return NULL;
    return invcsi_params_cgrad(p) + p->tensors[idx].offset;
}

int invcsi_inn_subnet_forward(const invcsi_inn_subnet *s, const invcsi_params *p,
                              const float *in, invcsi_inn_subnet_acts *a, int batch,
                              float *scratch, invcsi_error *err)
{
    const invcsi_backend *be = pbe(p);
    const float *cur = in;
    for (int i = 0; i < INVCSI_INN_SUBNET_CONVS; i++) {
        invcsi_conv2d_shape cs;
        conv_shape(s, i, batch, &cs);
        float *out = i < 3 ? a->hidden[i] : a->out;
        int rc = invcsi_conv2d_forward_be(be, out, cur, wdata(p, s->weight[i]),
                                          wdata(p, s->bias[i]), &cs, scratch, err);
        if (rc != INVCSI_OK)
            return rc;
        if (i < 3)
            be->kern->leaky_relu_forward(out, out, map_floats(s, batch, s->width), s->slope);
        cur = out;
    }
    return INVCSI_OK;
}

int invcsi_inn_subnet_backward(const invcsi_inn_subnet *s, invcsi_params *p, const float *dout,
                               const float *in, const invcsi_inn_subnet_acts *a, float *din,
                               int batch, float *scratch, invcsi_error *err)
{
    const invcsi_backend *be = pbe(p);
    const long hn = map_floats(s, batch, s->width);
    float *conv_ws = scratch;
    float *dpost = scratch + conv_scratch(s, batch); /* d(hidden after LReLU) */
    float *dpre = dpost + hn;                        /* d(hidden before LReLU) */
    const float *g = dout;                           /* gradient at the current conv's output */
    for (int i = INVCSI_INN_SUBNET_CONVS - 1; i >= 0; i--) {
        invcsi_conv2d_shape cs;
        conv_shape(s, i, batch, &cs);
        const float *conv_in = i == 0 ? in : a->hidden[i - 1];
        float *dconv_in = din;
        if (i > 0) {
            be->kern->fill(dpost, hn, 0.0f);
            dconv_in = dpost;
        }
        int rc = invcsi_conv2d_backward_be(be, dconv_in, wgrad(p, s->weight[i]),
                                           wgrad(p, s->bias[i]), g, conv_in,
                                           wdata(p, s->weight[i]), &cs, conv_ws, err);
        if (rc != INVCSI_OK)
            return rc;
        if (i > 0) {
            /* through the LeakyReLU that produced hidden[i-1] (its output stands in for its
             * input: same sign, see the file comment) */
            be->kern->fill(dpre, hn, 0.0f);
            be->kern->leaky_relu_backward(dpre, dpost, a->hidden[i - 1], hn, s->slope);
            g = dpre; /* the next conv reads dpre and writes dpost: no aliasing */
        }
    }
    return INVCSI_OK;
}
