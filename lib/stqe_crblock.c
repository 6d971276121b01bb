/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * conv + BN unit and the CR block of the STQENet decoder (include/invcsi/stqe_layers.h),
 * built on nn.h's conv2d and batchnorm2d: no new arithmetic here, only their composition,
 * the bookkeeping of saved tensors, and the fold of the running statistics into the conv
 * for deployment (invcsi_batchnorm_fold).
 */
#include "invcsi/nn.h"
#include "invcsi/stqe_layers.h"

#include <string.h>

/* ---- conv + BN ---------------------------------------------------------------------------- */

static invcsi_conv2d_shape cb_shape(const invcsi_convbn *u, int batch, int h, int w)
{
    return (invcsi_conv2d_shape){batch, u->in_ch, u->out_ch, h, w, u->kh, u->kw};
}

static long cb_out(const invcsi_convbn *u, int batch, int h, int w)
{
    return (long)batch * u->out_ch * h * w;
}

long invcsi_convbn_saved_floats(const invcsi_convbn *u, int batch, int height, int width)
{
    return cb_out(u, batch, height, width) + 2L * u->out_ch;
}

long invcsi_convbn_scratch_floats(const invcsi_convbn *u, int batch, int height, int width)
{
    invcsi_conv2d_shape s = cb_shape(u, batch, height, width);
    return invcsi_conv2d_scratch_floats(&s) + cb_out(u, batch, height, width);
}

int invcsi_convbn_forward(float *out, float *saved, const float *in, invcsi_convbn *u,
                          int batch, int height, int width, int mode, float momentum,
                          float *scratch, invcsi_error *err)
{
    if (!u || !out || !in || !scratch || !u->weight || (!u->folded && !saved))
        return invcsi_error_set(err, INVCSI_EINVAL, "convbn_forward: NULL buffer");
    invcsi_conv2d_shape s = cb_shape(u, batch, height, width);
    int rc = invcsi_conv2d_check(&s, err);
    if (rc)
        return rc;
    if (u->folded) {
        if (!u->bias)
            return invcsi_error_set(err, INVCSI_EINVAL, "convbn_forward: folded without bias");
        return invcsi_conv2d_forward(out, in, u->weight, u->bias, &s, scratch, err);
    }
    if (!u->gamma || !u->beta || !u->running_mean || !u->running_var)
        return invcsi_error_set(err, INVCSI_EINVAL, "convbn_forward: NULL BN buffer");
    float *conv = saved;
    float *mean = saved + cb_out(u, batch, height, width), *invstd = mean + u->out_ch;
    if ((rc = invcsi_conv2d_forward(conv, in, u->weight, NULL, &s, scratch, err)))
        return rc;
    const int spatial = height * width;
    if (mode == INVCSI_BN_TRAIN)
        return invcsi_batchnorm2d_forward_train(out, mean, invstd, u->running_mean,
                                                u->running_var, conv, u->gamma, u->beta, batch,
                                                u->out_ch, spatial, momentum, INVCSI_BN_EPS, err);
    if (mode == INVCSI_BN_INFER)
        return invcsi_batchnorm2d_forward_infer(out, conv, u->gamma, u->beta, u->running_mean,
                                                u->running_var, batch, u->out_ch, spatial,
                                                INVCSI_BN_EPS, err);
    return invcsi_error_set(err, INVCSI_EINVAL, "convbn_forward: mode %d is neither "
                            "INVCSI_BN_TRAIN nor INVCSI_BN_INFER", mode);
}

int invcsi_convbn_backward(float *dinput, const invcsi_convbn_grads *g, const float *dout,
                           const float *in, const float *saved, const invcsi_convbn *u,
                           int batch, int height, int width, float *scratch, invcsi_error *err)
{
    if (!u || !dout || !in || !saved || !scratch || !u->weight || !u->gamma)
        return invcsi_error_set(err, INVCSI_EINVAL, "convbn_backward: NULL buffer");
    if (u->folded)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "convbn_backward: the unit is folded (inference only)");
    const invcsi_convbn_grads none = {0};
    if (!g)
        g = &none;
    invcsi_conv2d_shape s = cb_shape(u, batch, height, width);
    int rc = invcsi_conv2d_check(&s, err);
    if (rc)
        return rc;
    const long n = cb_out(u, batch, height, width);
    const float *conv = saved, *mean = saved + n, *invstd = mean + u->out_ch;
    float *dconv = scratch, *conv_scratch = scratch + n;
    memset(dconv, 0, sizeof(float) * n);
    if ((rc = invcsi_batchnorm2d_backward(dconv, g->gamma, g->beta, dout, conv, u->gamma, mean,
                                          invstd, batch, u->out_ch, height * width, err)))
        return rc;
    return invcsi_conv2d_backward(dinput, g->weight, NULL, dconv, in, u->weight, &s,
                                  conv_scratch, err);
}

int invcsi_convbn_fold(invcsi_convbn *u, invcsi_error *err)
{
    if (!u || !u->weight || !u->bias || !u->gamma || !u->beta || !u->running_mean ||
        !u->running_var)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "convbn_fold: weight, bias, gamma, beta and running statistics "
                                "must all be set");
    if (u->folded)
        return invcsi_error_set(err, INVCSI_EINVAL, "convbn_fold: already folded");
    memset(u->bias, 0, sizeof(float) * u->out_ch);
    int rc = invcsi_batchnorm_fold(u->weight, u->bias, u->out_ch, (long)u->in_ch * u->kh * u->kw,
                                   u->gamma, u->beta, u->running_mean, u->running_var,
                                   INVCSI_BN_EPS, err);
    if (!rc)
        u->folded = 1;
    return rc;
}

/* ---- CR block -------------------------------------------------------------------------------- */

#define CR_SLOPE INVCSI_LEAKY_SLOPE_CSINET

void invcsi_crblock_set_shapes(invcsi_crblock *b, int channels, int width)
{
    const int shapes[6][4] = {{channels, width, 3, 3}, {width, width, 1, 9},
                              {width, width, 9, 1},    {channels, width, 1, 5},
                              {width, width, 5, 1},    {2 * width, channels, 1, 1}};
    invcsi_convbn *u[6] = {&b->p1a, &b->p1b, &b->p1c, &b->p2a, &b->p2b, &b->fuse};
    for (int i = 0; i < 6; i++) {
        u[i]->in_ch = shapes[i][0];
        u[i]->out_ch = shapes[i][1];
        u[i]->kh = shapes[i][2];
        u[i]->kw = shapes[i][3];
    }
}

long invcsi_crblock_param_count(const invcsi_crblock *b)
{
    const invcsi_convbn *u[6] = {&b->p1a, &b->p1b, &b->p1c, &b->p2a, &b->p2b, &b->fuse};
    long n = 0;
    for (int i = 0; i < 6; i++)
        n += (long)u[i]->out_ch * u[i]->in_ch * u[i]->kh * u[i]->kw + 2L * u[i]->out_ch;
    return n;
}

/* Saved layout (n7 = B*width*HW, nc = B*C*HW): for each unit its convbn saved; a1 l1 a2 l2
 * o1 a3 l3 o2 (n7 each), cat lcat (2 n7 each), f sum (nc each). */
struct cr_saved {
    float *s[6];
    float *a1, *l1, *a2, *l2, *o1, *a3, *l3, *o2, *cat, *lcat, *f, *sum;
};

static struct cr_saved cr_carve(float *p, const invcsi_crblock *b, int batch, int h, int w)
{
    const invcsi_convbn *u[6] = {&b->p1a, &b->p1b, &b->p1c, &b->p2a, &b->p2b, &b->fuse};
    const long n7 = (long)batch * b->p1a.out_ch * h * w, nc = (long)batch * b->p1a.in_ch * h * w;
    struct cr_saved v;
    for (int i = 0; i < 6; i++) {
        v.s[i] = p;
        p += invcsi_convbn_saved_floats(u[i], batch, h, w);
    }
    float **a[8] = {&v.a1, &v.l1, &v.a2, &v.l2, &v.o1, &v.a3, &v.l3, &v.o2};
    for (int i = 0; i < 8; i++, p += n7)
        *a[i] = p;
    v.cat = p, p += 2 * n7;
    v.lcat = p, p += 2 * n7;
    v.f = p, p += nc;
    v.sum = p;
    return v;
}

long invcsi_crblock_saved_floats(const invcsi_crblock *b, int batch, int height, int width)
{
    const invcsi_convbn *u[6] = {&b->p1a, &b->p1b, &b->p1c, &b->p2a, &b->p2b, &b->fuse};
    const long hw = (long)height * width;
    const long n7 = (long)batch * b->p1a.out_ch * hw, nc = (long)batch * b->p1a.in_ch * hw;
    long n = 12 * n7 + 2 * nc;
    for (int i = 0; i < 6; i++)
        n += invcsi_convbn_saved_floats(u[i], batch, height, width);
    return n;
}

long invcsi_crblock_scratch_floats(const invcsi_crblock *b, int batch, int height, int width)
{
    const invcsi_convbn *u[6] = {&b->p1a, &b->p1b, &b->p1c, &b->p2a, &b->p2b, &b->fuse};
    const long hw = (long)height * width;
    const long n7 = (long)batch * b->p1a.out_ch * hw, nc = (long)batch * b->p1a.in_ch * hw;
    long mx = 0;
    for (int i = 0; i < 6; i++) {
        long k = invcsi_convbn_scratch_floats(u[i], batch, height, width);
        mx = k > mx ? k : mx;
    }
    /* dsum, dlcat, dcat, do1, do2, t1, t2 */
    return nc + 8 * n7 + mx;
}

static int cr_check(const char *fn, const invcsi_crblock *b, invcsi_error *err)
{
    const int c = b->p1a.in_ch, w = b->p1a.out_ch;
    if (c < 1 || w < 1 || b->p2a.in_ch != c || b->p2a.out_ch != w || b->p1c.out_ch != w ||
        b->p2b.out_ch != w || b->fuse.in_ch != 2 * w || b->fuse.out_ch != c)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "%s: inconsistent unit shapes (use invcsi_crblock_set_shapes)",
                                fn);
    return INVCSI_OK;
}

int invcsi_crblock_forward(float *out, float *saved, const float *in, invcsi_crblock *b,
                           int batch, int height, int width, int mode, float momentum,
                           float *scratch, invcsi_error *err)
{
    int rc = b ? cr_check("crblock_forward", b, err)
               : invcsi_error_set(err, INVCSI_EINVAL, "crblock_forward: NULL block");
    if (rc)
        return rc;
    if (!out || !saved || !in || !scratch)
        return invcsi_error_set(err, INVCSI_EINVAL, "crblock_forward: NULL buffer");
    struct cr_saved v = cr_carve(saved, b, batch, height, width);
    const long hw = (long)height * width, n7 = (long)batch * b->p1a.out_ch * hw;
    const long nc = (long)batch * b->p1a.in_ch * hw, per7 = b->p1a.out_ch * hw;
#define TRY(call)                                                                              \
    do {                                                                                       \
        if ((rc = (call)))                                                                     \
            return rc;                                                                         \
    } while (0)
#define CB(unit, o, sv, i)                                                                     \
    TRY(invcsi_convbn_forward(o, sv, i, &b->unit, batch, height, width, mode, momentum,       \
                              scratch, err))
    CB(p1a, v.a1, v.s[0], in);
    invcsi_leaky_relu_forward(v.l1, v.a1, n7, CR_SLOPE);
    CB(p1b, v.a2, v.s[1], v.l1);
    invcsi_leaky_relu_forward(v.l2, v.a2, n7, CR_SLOPE);
    CB(p1c, v.o1, v.s[2], v.l2);
    CB(p2a, v.a3, v.s[3], in);
    invcsi_leaky_relu_forward(v.l3, v.a3, n7, CR_SLOPE);
    CB(p2b, v.o2, v.s[4], v.l3);
    for (int s = 0; s < batch; s++) {
        memcpy(v.cat + 2 * s * per7, v.o1 + s * per7, sizeof(float) * per7);
        memcpy(v.cat + (2 * s + 1) * per7, v.o2 + s * per7, sizeof(float) * per7);
    }
    invcsi_leaky_relu_forward(v.lcat, v.cat, 2 * n7, CR_SLOPE);
    CB(fuse, v.f, v.s[5], v.lcat);
    for (long i = 0; i < nc; i++)
        v.sum[i] = v.f[i] + in[i];
    invcsi_leaky_relu_forward(out, v.sum, nc, CR_SLOPE);
    return INVCSI_OK;
#undef CB
}

int invcsi_crblock_backward(float *dinput, const invcsi_crblock_grads *g, const float *dout,
                            const float *in, const float *saved, const invcsi_crblock *b,
                            int batch, int height, int width, float *scratch,
                            invcsi_error *err)
{
    int rc = b ? cr_check("crblock_backward", b, err)
               : invcsi_error_set(err, INVCSI_EINVAL, "crblock_backward: NULL block");
    if (rc)
        return rc;
    if (!dout || !saved || !in || !scratch)
        return invcsi_error_set(err, INVCSI_EINVAL, "crblock_backward: NULL buffer");
    if (b->p1a.folded || b->p1b.folded || b->p1c.folded || b->p2a.folded || b->p2b.folded ||
        b->fuse.folded) /* refused before anything is accumulated */
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "crblock_backward: the block is folded (inference only)");
    static const invcsi_crblock_grads none; /* all NULL */
    if (!g)
        g = &none;
    struct cr_saved v = cr_carve((float *)saved, b, batch, height, width);
    const long hw = (long)height * width, n7 = (long)batch * b->p1a.out_ch * hw;
    const long nc = (long)batch * b->p1a.in_ch * hw, per7 = b->p1a.out_ch * hw;
    float *dsum = scratch, *dlcat = dsum + nc, *dcat = dlcat + 2 * n7, *do1 = dcat + 2 * n7;
    float *do2 = do1 + n7, *t1 = do2 + n7, *t2 = t1 + n7, *cbs = t2 + n7;
    memset(scratch, 0, sizeof(float) * (cbs - scratch));
#define CBB(unit, din, d, i, sv)                                                              \
    TRY(invcsi_convbn_backward(din, &g->unit, d, i, sv, &b->unit, batch, height, width, cbs,  \
                               err))
    /* out = lrelu(f + x): the residual gradient goes straight to dinput */
    invcsi_leaky_relu_backward(dsum, dout, v.sum, nc, CR_SLOPE);
    if (dinput)
        for (long i = 0; i < nc; i++)
            dinput[i] += dsum[i];
    CBB(fuse, dlcat, dsum, v.lcat, v.s[5]);
    invcsi_leaky_relu_backward(dcat, dlcat, v.cat, 2 * n7, CR_SLOPE);
    for (int s = 0; s < batch; s++) {
        memcpy(do1 + s * per7, dcat + 2 * s * per7, sizeof(float) * per7);
        memcpy(do2 + s * per7, dcat + (2 * s + 1) * per7, sizeof(float) * per7);
    }
    /* path 1: 9x1 <- lrelu <- 1x9 <- lrelu <- 3x3 */
    CBB(p1c, t1, do1, v.l2, v.s[2]);
    invcsi_leaky_relu_backward(t2, t1, v.a2, n7, CR_SLOPE);
    memset(t1, 0, sizeof(float) * n7);
    CBB(p1b, t1, t2, v.l1, v.s[1]);
    memset(t2, 0, sizeof(float) * n7);
    invcsi_leaky_relu_backward(t2, t1, v.a1, n7, CR_SLOPE);
    CBB(p1a, dinput, t2, in, v.s[0]);
    /* path 2: 5x1 <- lrelu <- 1x5 */
    memset(t1, 0, sizeof(float) * n7);
    memset(t2, 0, sizeof(float) * n7);
    CBB(p2b, t1, do2, v.l3, v.s[4]);
    invcsi_leaky_relu_backward(t2, t1, v.a3, n7, CR_SLOPE);
    CBB(p2a, dinput, t2, in, v.s[3]);
    return INVCSI_OK;
#undef CBB
#undef TRY
}

int invcsi_crblock_fold(invcsi_crblock *b, invcsi_error *err)
{
    invcsi_convbn *u[6] = {&b->p1a, &b->p1b, &b->p1c, &b->p2a, &b->p2b, &b->fuse};
    for (int i = 0; i < 6; i++) {
        int rc = invcsi_convbn_fold(u[i], err);
        if (rc)
            return rc;
    }
    return INVCSI_OK;
}
