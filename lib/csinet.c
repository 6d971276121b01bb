/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * CsiNet baseline (include/invcsi/csinet.h): parameter table, Keras initialisation,
 * buffers, the training step (forward with batch-statistics BN, MSE, backward) and the
 * inference passes (running-statistics BN, folded into the convs by default).
 *
 * Every 3x3 conv of the network is a "unit": conv, optionally BN, optionally LeakyReLU
 * (applied by the caller, after the residual add for the last conv of a RefineNet block).
 * Units in order: 0 = encoder conv, 1 .. 3R = RefineNet convs (3 per block), 3R + 1 = the
 * output conv. A unit keeps its conv output (the BN input, `pre`) and its final output
 * (`out`, which the next layer reads): these are what the backward pass needs.
 *
 * LeakyReLU runs in place on `out`, and its backward reads the OUTPUT instead of the
 * input: with a slope >= 0 the output is > 0 exactly where the input is, so
 * nn_leaky_relu_grad(out) == nn_leaky_relu_grad(in) (PyTorch's in-place LeakyReLU does
 * the same). That saves one activation map per layer; check() rejects negative slopes.
 */
#include "invcsi/csinet.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "invcsi/metrics.h"
#include "invcsi/nn.h"

#define KSIZE 3                 /* every conv is 3x3 'same' */
#define REFINE_CH1 8            /* RefineNet widths of the published model */
#define REFINE_CH2 16
#define MAX_REFINE_BLOCKS 64
#define INIT_STREAM_BASE 0x4353494e45540000ull /* "CSINET\0\0": init RNG streams */

typedef struct conv_unit {
    int cin, cout;
    int has_bn;
    char conv_name[48], bn_name[48];
    size_t w, b;                       /* parameter offsets */
    size_t gamma, beta, rmean, rvar;   /* when has_bn */
    float *save_mean, *save_invstd;    /* [cout]: batch statistics of the last train step */
    float *fold_w, *fold_b;            /* inference copies with the BN folded in */
    float *pre;                        /* [B][cout][S] conv output = BN input (has_bn) */
    float *out;                        /* [B][cout][S] unit output (not the output unit) */
} conv_unit;

typedef struct csinet {
    int R;              /* RefineNet blocks */
    int H, W;           /* map: nr*nt x nc */
    long S;             /* H * W */
    int dim, m;
    float slope;
    int max_batch;      /* the buffers' capacity */
    int fold;           /* inference folds BN into the convs */
    int n_units;        /* 3R + 2 */
    conv_unit *units;
    size_t enc_fc_w, enc_fc_b, dec_fc_w, dec_fc_b;
    float *y;           /* [B][m]   latent of the training step */
    float *dfc;         /* [B][dim] decoder dense output = input of the first block */
    float *xhat;        /* [B][dim] reconstruction of the training step */
    float *g_map[2];    /* [B][dim] gradients of 2-channel maps (ping-pong) */
    float *g_wide[2];   /* [B][16][S] gradients inside a block (ping-pong) */
    float *g_y;         /* [B][m] */
    float *scratch;     /* conv im2col scratch, the largest any unit needs */
    void *block;        /* the one allocation behind every buffer above */
} csinet;

/* ---------------------------------------------------------------------------------- */
/* Config                                                                             */
/* ---------------------------------------------------------------------------------- */

static void csinet_config_default(invcsi_model_config *cfg, double cr)
{
    (void)cr;
    cfg->refine_blocks = 2;
    cfg->leaky_slope = INVCSI_LEAKY_SLOPE_CSINET;
}

static int csinet_check(const invcsi_model_config *cfg, invcsi_error *err)
{
    if (cfg->nr < 1 || cfg->nt < 1 || cfg->nc < 1 || cfg->dim != 2 * cfg->nr * cfg->nt * cfg->nc)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "csinet: sizes nr %d, nt %d, nc %d, dim %d do not fit together",
                                cfg->nr, cfg->nt, cfg->nc, cfg->dim);
    if (cfg->m < 1 || cfg->m > cfg->dim)
        return invcsi_error_set(err, INVCSI_EINVAL, "csinet: latent size m %d must be in [1, %d]",
                                cfg->m, cfg->dim);
    if ((double)cfg->m * cfg->dim > (double)INT_MAX)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "csinet: dense layer %d x %d is too large (over 2^31 weights)",
                                cfg->dim, cfg->m);
    if (cfg->refine_blocks < 0 || cfg->refine_blocks > MAX_REFINE_BLOCKS)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "csinet: refine_blocks %d must be in [0, %d]", cfg->refine_blocks,
                                MAX_REFINE_BLOCKS);
    /* >= 0: the in-place LeakyReLU backward reads the output's sign (see the top). */
    if (!(cfg->leaky_slope >= 0.0f) || !isfinite(cfg->leaky_slope))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "csinet: leaky_slope %g must be a finite value >= 0",
                                cfg->leaky_slope);
    return INVCSI_OK;
}

/* ---------------------------------------------------------------------------------- */
/* Layer table (shared by build, reserve and the parameter count)                     */
/* ---------------------------------------------------------------------------------- */

/* Fills the sizes and names of unit i of a network with R blocks. */
static void unit_describe(conv_unit *u, int i, int R)
{
    memset(u, 0, sizeof *u);
    if (i == 0) {
        u->cin = 2, u->cout = 2, u->has_bn = 1;
        snprintf(u->conv_name, sizeof u->conv_name, "enc.conv");
        snprintf(u->bn_name, sizeof u->bn_name, "enc.bn");
    } else if (i <= 3 * R) {
        static const int cin[3] = {2, REFINE_CH1, REFINE_CH2};
        static const int cout[3] = {REFINE_CH1, REFINE_CH2, 2};
        const int r = (i - 1) / 3, k = (i - 1) % 3;
        u->cin = cin[k], u->cout = cout[k], u->has_bn = 1;
        snprintf(u->conv_name, sizeof u->conv_name, "dec.refine.%d.conv%d", r, k + 1);
        snprintf(u->bn_name, sizeof u->bn_name, "dec.refine.%d.bn%d", r, k + 1);
    } else {
        u->cin = 2, u->cout = 2, u->has_bn = 0;
        snprintf(u->conv_name, sizeof u->conv_name, "dec.out");
    }
}

long invcsi_csinet_param_count(const invcsi_model_config *cfg, int with_running_stats)
{
    if (!cfg || csinet_check(cfg, NULL) != INVCSI_OK)
        return -1;
    const long dim = cfg->dim, m = cfg->m;
    long n = (dim * m + m) + (m * dim + dim); /* the two dense layers */
    const int R = cfg->refine_blocks;
    for (int i = 0; i < 3 * R + 2; i++) {
        conv_unit u;
        unit_describe(&u, i, R);
        n += (long)u.cout * u.cin * KSIZE * KSIZE + u.cout;
        if (u.has_bn)
            n += (with_running_stats ? 4L : 2L) * u.cout;
    }
    return n;
}

static int add_tensor(invcsi_params *p, const char *prefix, const char *suffix, int rank,
                      const int *shape, int frozen, invcsi_error *err)
{
    char name[INVCSI_PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%s.%s", prefix, suffix);
    int rc = invcsi_params_add(p, name, rank, shape, NULL, err);
    if (rc == INVCSI_OK)
        p->tensors[p->n_tensors - 1].frozen = frozen;
    return rc;
}

static int add_conv_unit(invcsi_params *p, const conv_unit *u, invcsi_error *err)
{
    const int wshape[4] = {u->cout, u->cin, KSIZE, KSIZE}, cshape[1] = {u->cout};
    int rc = add_tensor(p, u->conv_name, "weight", 4, wshape, 0, err);
    if (rc == INVCSI_OK)
        rc = add_tensor(p, u->conv_name, "bias", 1, cshape, 0, err);
    if (rc == INVCSI_OK && u->has_bn) {
        rc = add_tensor(p, u->bn_name, "weight", 1, cshape, 0, err);
        if (rc == INVCSI_OK)
            rc = add_tensor(p, u->bn_name, "bias", 1, cshape, 0, err);
        /* Running statistics: saved with the weights, never touched by the optimiser. */
        if (rc == INVCSI_OK)
            rc = add_tensor(p, u->bn_name, "running_mean", 1, cshape, 1, err);
        if (rc == INVCSI_OK)
            rc = add_tensor(p, u->bn_name, "running_var", 1, cshape, 1, err);
    }
    return rc;
}

static int add_dense(invcsi_params *p, const char *prefix, int in_dim, int out_dim,
                     invcsi_error *err)
{
    const int wshape[2] = {out_dim, in_dim}, bshape[1] = {out_dim};
    int rc = add_tensor(p, prefix, "weight", 2, wshape, 0, err);
    if (rc == INVCSI_OK)
        rc = add_tensor(p, prefix, "bias", 1, bshape, 0, err);
    return rc;
}

/* Table order follows the data flow: encoder conv/BN, encoder dense, decoder dense,
 * RefineNet blocks, output conv. */
static int csinet_build(invcsi_model *model, invcsi_error *err)
{
    const invcsi_model_config *cfg = &model->cfg;
    int rc = csinet_check(cfg, err);
    if (rc != INVCSI_OK)
        return rc;
    invcsi_params *p = &model->params;
    const int R = cfg->refine_blocks;
    conv_unit u;
    unit_describe(&u, 0, R);
    rc = add_conv_unit(p, &u, err);
    if (rc == INVCSI_OK)
        rc = add_dense(p, "enc.fc", cfg->dim, cfg->m, err);
    if (rc == INVCSI_OK)
        rc = add_dense(p, "dec.fc", cfg->m, cfg->dim, err);
    for (int i = 1; rc == INVCSI_OK && i < 3 * R + 2; i++) {
        unit_describe(&u, i, R);
        rc = add_conv_unit(p, &u, err);
    }
    return rc;
}

/* ---------------------------------------------------------------------------------- */
/* Buffers                                                                            */
/* ---------------------------------------------------------------------------------- */

static int offset_of(const invcsi_params *p, const char *prefix, const char *suffix,
                     size_t *off, invcsi_error *err)
{
    char name[INVCSI_PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%s.%s", prefix, suffix);
    const invcsi_tensor *t = invcsi_params_find(p, name);
    if (!t)
        return invcsi_error_set(err, INVCSI_EINVAL, "csinet: parameter table has no '%s'",
                                name);
    *off = t->offset;
    return INVCSI_OK;
}

/* Hands out 64-byte aligned pieces of one block; with base == NULL it only counts. */
typedef struct carver {
    float *base;
    size_t used; /* floats */
} carver;

static float *carve(carver *c, size_t n)
{
    float *p = c->base ? c->base + c->used : NULL;
    c->used += (n + 15) & ~(size_t)15;
    return p;
}

static void carve_all(csinet *c, carver *cv, int B)
{
    const size_t BS = (size_t)B * c->S;
    for (int i = 0; i < c->n_units; i++) {
        conv_unit *u = &c->units[i];
        if (u->has_bn) {
            u->save_mean = carve(cv, u->cout);
            u->save_invstd = carve(cv, u->cout);
            u->fold_w = carve(cv, (size_t)u->cout * u->cin * KSIZE * KSIZE);
            u->fold_b = carve(cv, u->cout);
            u->pre = carve(cv, BS * u->cout);
        }
        u->out = i == c->n_units - 1 ? NULL : carve(cv, BS * u->cout);
    }
    c->y = carve(cv, (size_t)B * c->m);
    c->dfc = carve(cv, (size_t)B * c->dim);
    c->xhat = carve(cv, (size_t)B * c->dim);
    c->g_map[0] = carve(cv, (size_t)B * c->dim);
    c->g_map[1] = carve(cv, (size_t)B * c->dim);
    c->g_wide[0] = carve(cv, BS * REFINE_CH2);
    c->g_wide[1] = carve(cv, BS * REFINE_CH2);
    c->g_y = carve(cv, (size_t)B * c->m);
    long scratch = 0;
    for (int i = 0; i < c->n_units; i++) {
        const invcsi_conv2d_shape s = {B, c->units[i].cin, c->units[i].cout, c->H, c->W,
                                       KSIZE, KSIZE};
        long n = invcsi_conv2d_scratch_floats(&s);
        if (n > scratch)
            scratch = n;
    }
    c->scratch = carve(cv, (size_t)scratch);
}

static void csinet_release(invcsi_model *model)
{
    csinet *c = model->impl;
    if (!c)
        return;
    free(c->block);
    free(c->units);
    free(c);
    model->impl = NULL;
}

static int csinet_reserve(invcsi_model *model, int max_batch, invcsi_error *err)
{
    const invcsi_model_config *cfg = &model->cfg;
    if (max_batch < 1)
        return invcsi_error_set(err, INVCSI_EINVAL, "csinet: max_batch %d must be >= 1",
                                max_batch);
    csinet_release(model);
    csinet *c = calloc(1, sizeof *c);
    if (!c)
        return invcsi_error_set(err, INVCSI_ENOMEM, "csinet: out of memory");
    model->impl = c;
    c->max_batch = max_batch;
    c->R = cfg->refine_blocks;
    c->H = cfg->nr * cfg->nt;
    c->W = cfg->nc;
    c->S = (long)c->H * c->W;
    c->dim = cfg->dim;
    c->m = cfg->m;
    c->slope = cfg->leaky_slope;
    c->fold = 1;
    c->n_units = 3 * c->R + 2;
    c->units = calloc((size_t)c->n_units, sizeof *c->units);
    if (!c->units) {
        csinet_release(model);
        return invcsi_error_set(err, INVCSI_ENOMEM, "csinet: out of memory");
    }
    const invcsi_params *p = &model->params;
    int rc = INVCSI_OK;
    for (int i = 0; rc == INVCSI_OK && i < c->n_units; i++) {
        conv_unit *u = &c->units[i];
        unit_describe(u, i, c->R);
        rc = offset_of(p, u->conv_name, "weight", &u->w, err);
        if (rc == INVCSI_OK) rc = offset_of(p, u->conv_name, "bias", &u->b, err);
        if (rc == INVCSI_OK && u->has_bn) {
            rc = offset_of(p, u->bn_name, "weight", &u->gamma, err);
            if (rc == INVCSI_OK) rc = offset_of(p, u->bn_name, "bias", &u->beta, err);
            if (rc == INVCSI_OK) rc = offset_of(p, u->bn_name, "running_mean", &u->rmean, err);
            if (rc == INVCSI_OK) rc = offset_of(p, u->bn_name, "running_var", &u->rvar, err);
        }
    }
    if (rc == INVCSI_OK) rc = offset_of(p, "enc.fc", "weight", &c->enc_fc_w, err);
    if (rc == INVCSI_OK) rc = offset_of(p, "enc.fc", "bias", &c->enc_fc_b, err);
    if (rc == INVCSI_OK) rc = offset_of(p, "dec.fc", "weight", &c->dec_fc_w, err);
    if (rc == INVCSI_OK) rc = offset_of(p, "dec.fc", "bias", &c->dec_fc_b, err);
    if (rc != INVCSI_OK) {
        csinet_release(model);
        return rc;
    }
    carver cv = {NULL, 0};
    carve_all(c, &cv, max_batch);
    const size_t floats = cv.used;
    c->block = aligned_alloc(64, floats * sizeof(float));
    if (!c->block) {
        csinet_release(model);
        return invcsi_error_set(err, INVCSI_ENOMEM,
                                "csinet: out of memory for the buffers of batch %d (%.1f MB)",
                                max_batch, floats * 4.0 / 1e6);
    }
    memset(c->block, 0, floats * sizeof(float));
    cv = (carver){c->block, 0};
    carve_all(c, &cv, max_batch);
    return INVCSI_OK;
}

/* ---------------------------------------------------------------------------------- */
/* Initialisation (Keras defaults)                                                    */
/* ---------------------------------------------------------------------------------- */

/* Glorot uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)); for a conv the fans count
 * the kernel window (Keras: kh*kw*Cin and kh*kw*Cout). */
static void glorot_uniform(float *w, long n, long fan_in, long fan_out, uint64_t seed,
                           uint64_t stream)
{
    invcsi_rng r;
    invcsi_rng_init(&r, seed, INIT_STREAM_BASE + stream);
    const double a = sqrt(6.0 / (double)(fan_in + fan_out));
    for (long i = 0; i < n; i++)
        w[i] = (float)(a * (2.0 * invcsi_rng_uniform(&r) - 1.0));
}

static void fill(float *x, long n, float v)
{
    for (long i = 0; i < n; i++)
        x[i] = v;
}

/* Each weight tensor draws from its own RNG stream (numbered in table order), so the
 * values of one layer do not depend on the sizes of the others. */
static void csinet_init(invcsi_model *model)
{
    csinet *c = model->impl;
    float *d = model->params.data;
    const uint64_t seed = model->cfg.seed;
    for (int i = 0; i < c->n_units; i++) {
        const conv_unit *u = &c->units[i];
        const long k2 = KSIZE * KSIZE;
        glorot_uniform(d + u->w, (long)u->cout * u->cin * k2, u->cin * k2, u->cout * k2, seed,
                       (uint64_t)i + 2);
        fill(d + u->b, u->cout, 0.0f);
        if (u->has_bn) {
            fill(d + u->gamma, u->cout, 1.0f);
            fill(d + u->beta, u->cout, 0.0f);
            fill(d + u->rmean, u->cout, 0.0f);
            fill(d + u->rvar, u->cout, 1.0f);
        }
    }
    glorot_uniform(d + c->enc_fc_w, (long)c->dim * c->m, c->dim, c->m, seed, 0);
    fill(d + c->enc_fc_b, c->m, 0.0f);
    glorot_uniform(d + c->dec_fc_w, (long)c->m * c->dim, c->m, c->dim, seed, 1);
    fill(d + c->dec_fc_b, c->dim, 0.0f);
}

/* ---------------------------------------------------------------------------------- */
/* Forward                                                                            */
/* ---------------------------------------------------------------------------------- */

enum pass { PASS_TRAIN, PASS_INFER, PASS_INFER_FOLDED };

static invcsi_conv2d_shape unit_shape(const csinet *c, const conv_unit *u, int batch)
{
    return (invcsi_conv2d_shape){batch, u->cin, u->cout, c->H, c->W, KSIZE, KSIZE};
}

/* out = BN(conv(in)) (or conv(in) for a unit without BN), the BN in the pass's mode.
 * Training updates the running statistics in the parameter data. */
static int unit_forward(csinet *c, float *d, conv_unit *u, const float *in, float *out,
                        int batch, enum pass pass, invcsi_error *err)
{
    const invcsi_conv2d_shape s = unit_shape(c, u, batch);
    if (!u->has_bn)
        return invcsi_conv2d_forward(out, in, d + u->w, d + u->b, &s, c->scratch, err);
    if (pass == PASS_INFER_FOLDED)
        return invcsi_conv2d_forward(out, in, u->fold_w, u->fold_b, &s, c->scratch, err);
    int rc = invcsi_conv2d_forward(u->pre, in, d + u->w, d + u->b, &s, c->scratch, err);
    if (rc != INVCSI_OK)
        return rc;
    if (pass == PASS_TRAIN)
        return invcsi_batchnorm2d_forward_train(out, u->save_mean, u->save_invstd,
                                                d + u->rmean, d + u->rvar, u->pre,
                                                d + u->gamma, d + u->beta, batch, u->cout,
                                                (int)c->S, INVCSI_BN_MOMENTUM,
                                                INVCSI_CSINET_BN_EPS, err);
    return invcsi_batchnorm2d_forward_infer(out, u->pre, d + u->gamma, d + u->beta,
                                            d + u->rmean, d + u->rvar, batch, u->cout,
                                            (int)c->S, INVCSI_CSINET_BN_EPS, err);
}

/* Folded copies of units [first, last) from the current weights and running statistics. */
static int fold_units(csinet *c, const float *d, int first, int last, invcsi_error *err)
{
    for (int i = first; i < last; i++) {
        conv_unit *u = &c->units[i];
        if (!u->has_bn)
            continue;
        const long per_out = (long)u->cin * KSIZE * KSIZE;
        memcpy(u->fold_w, d + u->w, sizeof(float) * (size_t)(u->cout * per_out));
        memcpy(u->fold_b, d + u->b, sizeof(float) * (size_t)u->cout);
        int rc = invcsi_batchnorm_fold(u->fold_w, u->fold_b, u->cout, per_out, d + u->gamma,
                                       d + u->beta, d + u->rmean, d + u->rvar,
                                       INVCSI_CSINET_BN_EPS, err);
        if (rc != INVCSI_OK)
            return rc;
    }
    return INVCSI_OK;
}

/* y[B][m] from x[B][dim]. */
static int encoder_forward(csinet *c, float *d, const float *x, int batch, enum pass pass,
                           float *y, invcsi_error *err)
{
    conv_unit *u = &c->units[0];
    int rc = unit_forward(c, d, u, x, u->out, batch, pass, err);
    if (rc != INVCSI_OK)
        return rc;
    invcsi_leaky_relu_forward(u->out, u->out, (long)batch * 2 * c->S, c->slope);
    return invcsi_dense_forward(y, u->out, d + c->enc_fc_w, d + c->enc_fc_b, batch, c->dim,
                                c->m, err);
}

/* xhat[B][dim] from y[B][m]. */
static int decoder_forward(csinet *c, float *d, const float *y, int batch, enum pass pass,
                           float *xhat, invcsi_error *err)
{
    int rc = invcsi_dense_forward(c->dfc, y, d + c->dec_fc_w, d + c->dec_fc_b, batch, c->m,
                                  c->dim, err);
    const float *in = c->dfc;
    for (int r = 0; rc == INVCSI_OK && r < c->R; r++) {
        conv_unit *u1 = &c->units[3 * r + 1], *u2 = u1 + 1, *u3 = u1 + 2;
        rc = unit_forward(c, d, u1, in, u1->out, batch, pass, err);
        if (rc != INVCSI_OK)
            break;
        invcsi_leaky_relu_forward(u1->out, u1->out, (long)batch * u1->cout * c->S, c->slope);
        rc = unit_forward(c, d, u2, u1->out, u2->out, batch, pass, err);
        if (rc != INVCSI_OK)
            break;
        invcsi_leaky_relu_forward(u2->out, u2->out, (long)batch * u2->cout * c->S, c->slope);
        rc = unit_forward(c, d, u3, u2->out, u3->out, batch, pass, err);
        if (rc != INVCSI_OK)
            break;
        const long n = (long)batch * 2 * c->S;
        for (long i = 0; i < n; i++)
            u3->out[i] += in[i]; /* the shortcut */
        invcsi_leaky_relu_forward(u3->out, u3->out, n, c->slope);
        in = u3->out;
    }
    if (rc == INVCSI_OK)
        rc = unit_forward(c, d, &c->units[c->n_units - 1], in, xhat, batch, pass, err);
    return rc;
}

/* ---------------------------------------------------------------------------------- */
/* Backward                                                                           */
/* ---------------------------------------------------------------------------------- */

static void zero(float *x, long n) { memset(x, 0, sizeof(float) * (size_t)n); }

/* Gradient of the parameter tensor at offset off. */
#define GRAD(g, off) ((g) + (off))

/* Backward of conv + BN of a unit with BN: from dpost (gradient at the BN output) to
 * din (accumulated; NULL skips it). tmp holds batch * cout * S floats. */
static int unit_backward_bn(csinet *c, const float *d, float *g, const conv_unit *u,
                            const float *in, const float *dpost, float *din, float *tmp,
                            int batch, invcsi_error *err)
{
    zero(tmp, (long)batch * u->cout * c->S);
    int rc = invcsi_batchnorm2d_backward(tmp, GRAD(g, u->gamma), GRAD(g, u->beta), dpost,
                                         u->pre, d + u->gamma, u->save_mean, u->save_invstd,
                                         batch, u->cout, (int)c->S, err);
    if (rc != INVCSI_OK)
        return rc;
    const invcsi_conv2d_shape s = unit_shape(c, u, batch);
    return invcsi_conv2d_backward(din, GRAD(g, u->w), GRAD(g, u->b), tmp, in, d + u->w, &s,
                                  c->scratch, err);
}

/* One RefineNet block r: dout is the gradient at the block output, din (accumulated)
 * at its input `in`. The two wide buffers ga, gb (16 channels each) alternate; each
 * step reads one and writes the other:
 *   ga[0:2ch]  = d sum          (sum = BN3 + shortcut, out = LReLU(sum)); din += it
 *   gb         = d u2->out      (BN3 and conv3 backward; BN3's 2-channel temporary in
 *                                the free upper channels of ga)
 *   ga         = d BN2 output   (LReLU2)
 *   gb         = d conv2 output (BN2)
 *   ga         = d u1->out      (conv2)
 *   gb         = d BN1 output   (LReLU1)
 *   din       += conv1/BN1 backward of gb (temporary in ga) */
static int block_backward(csinet *c, const float *d, float *g, int r, const float *in,
                          const float *dout, float *din, int batch, invcsi_error *err)
{
    const conv_unit *u1 = &c->units[3 * r + 1], *u2 = u1 + 1, *u3 = u1 + 2;
    float *ga = c->g_wide[0], *gb = c->g_wide[1];
    const long n2 = (long)batch * 2 * c->S;
    const long n8 = (long)batch * u1->cout * c->S;
    const long n16 = (long)batch * u2->cout * c->S;

    zero(ga, n2);
    invcsi_leaky_relu_backward(ga, dout, u3->out, n2, c->slope);
    for (long i = 0; i < n2; i++)
        din[i] += ga[i]; /* the shortcut */

    zero(gb, n16);
    int rc = unit_backward_bn(c, d, g, u3, u2->out, ga, gb, ga + n2, batch, err);
    if (rc != INVCSI_OK)
        return rc;

    zero(ga, n16);
    invcsi_leaky_relu_backward(ga, gb, u2->out, n16, c->slope);

    zero(gb, n16);
    rc = invcsi_batchnorm2d_backward(gb, GRAD(g, u2->gamma), GRAD(g, u2->beta), ga, u2->pre,
                                     d + u2->gamma, u2->save_mean, u2->save_invstd, batch,
                                     u2->cout, (int)c->S, err);
    if (rc != INVCSI_OK)
        return rc;

    const invcsi_conv2d_shape s2 = unit_shape(c, u2, batch);
    zero(ga, n8);
    rc = invcsi_conv2d_backward(ga, GRAD(g, u2->w), GRAD(g, u2->b), gb, u1->out, d + u2->w,
                                &s2, c->scratch, err);
    if (rc != INVCSI_OK)
        return rc;

    zero(gb, n8);
    invcsi_leaky_relu_backward(gb, ga, u1->out, n8, c->slope);
    return unit_backward_bn(c, d, g, u1, in, gb, din, ga, batch, err);
}

/* Gradient of the loss, from dxhat (in c->g_map[0], already filled) down to the
 * parameters and, when dx is not NULL, to the input (accumulated). */
static int backward(csinet *c, const float *d, float *g, const float *x, int batch, float *dx,
                    invcsi_error *err)
{
    const long n2 = (long)batch * c->dim;
    float *gcur = c->g_map[0], *gother = c->g_map[1];
    /* Output conv (no BN). */
    const conv_unit *uo = &c->units[c->n_units - 1];
    const float *in_last = c->R ? c->units[3 * c->R].out : c->dfc;
    const invcsi_conv2d_shape so = unit_shape(c, uo, batch);
    zero(gother, n2);
    int rc = invcsi_conv2d_backward(gother, GRAD(g, uo->w), GRAD(g, uo->b), gcur, in_last,
                                    d + uo->w, &so, c->scratch, err);
    if (rc != INVCSI_OK)
        return rc;
    float *t = gcur;
    gcur = gother, gother = t;
    /* RefineNet blocks, last to first. */
    for (int r = c->R - 1; r >= 0; r--) {
        const float *in = r ? c->units[3 * r].out : c->dfc;
        zero(gother, n2);
        rc = block_backward(c, d, g, r, in, gcur, gother, batch, err);
        if (rc != INVCSI_OK)
            return rc;
        t = gcur, gcur = gother, gother = t;
    }
    /* Decoder dense, encoder dense. */
    zero(c->g_y, (long)batch * c->m);
    rc = invcsi_dense_backward(c->g_y, GRAD(g, c->dec_fc_w), GRAD(g, c->dec_fc_b), gcur, c->y,
                               d + c->dec_fc_w, batch, c->m, c->dim, err);
    if (rc != INVCSI_OK)
        return rc;
    const conv_unit *ue = &c->units[0];
    zero(gother, n2);
    rc = invcsi_dense_backward(gother, GRAD(g, c->enc_fc_w), GRAD(g, c->enc_fc_b), c->g_y,
                               ue->out, d + c->enc_fc_w, batch, c->dim, c->m, err);
    if (rc != INVCSI_OK)
        return rc;
    /* Encoder LeakyReLU, BN, conv (the input gradient only when asked for). */
    float *gpost = c->g_wide[0];
    zero(gpost, n2);
    invcsi_leaky_relu_backward(gpost, gother, ue->out, n2, c->slope);
    return unit_backward_bn(c, d, g, ue, x, gpost, dx, c->g_wide[1], batch, err);
}

/* ---------------------------------------------------------------------------------- */
/* Ops                                                                                */
/* ---------------------------------------------------------------------------------- */

static int check_batch(const invcsi_model *model, const char *fn, int batch, const void *a,
                       const void *b, invcsi_error *err)
{
    const csinet *c = model->impl;
    if (!c)
        return invcsi_error_set(err, INVCSI_EINVAL, "csinet %s: model has no buffers", fn);
    if (batch < 1 || batch > c->max_batch)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "csinet %s: batch %d must be in [1, %d] (the model's max_batch)",
                                fn, batch, c->max_batch);
    if (!a || !b)
        return invcsi_error_set(err, INVCSI_EINVAL, "csinet %s: NULL buffer", fn);
    return INVCSI_OK;
}

int invcsi_csinet_train_step_dx(invcsi_model *model, const float *x, int batch,
                                invcsi_losses *out, float *dx, invcsi_error *err)
{
    if (!model || model->ops != &invcsi_csinet_ops)
        return invcsi_error_set(err, INVCSI_EINVAL, "csinet train_step: not a CsiNet model");
    int rc = check_batch(model, "train_step", batch, x, out, err);
    if (rc != INVCSI_OK)
        return rc;
    invcsi_params *p = &model->params;
    if (!p->grad)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "csinet train_step: the model has no gradient buffers "
                                "(created for inference)");
    csinet *c = model->impl;
    if ((long)batch * c->S < 2)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "csinet train_step: batch normalisation needs at least 2 values "
                                "per channel (batch %d of %ld-pixel maps)",
                                batch, c->S);
    float *d = p->data;
    rc = encoder_forward(c, d, x, batch, PASS_TRAIN, c->y, err);
    if (rc == INVCSI_OK)
        rc = decoder_forward(c, d, c->y, batch, PASS_TRAIN, c->xhat, err);
    if (rc != INVCSI_OK)
        return rc;

    /* Loss in double (the gradient check differentiates it numerically). */
    const long n = (long)batch * c->dim;
    double sse = 0.0, nmse_sum = 0.0;
    for (long i = 0; i < n; i++) {
        const double e = (double)c->xhat[i] - x[i];
        sse += e * e;
    }
    for (int b = 0; b < batch; b++)
        nmse_sum += invcsi_nmse_real(x + (long)b * c->dim, c->xhat + (long)b * c->dim, c->dim);
    memset(out, 0, sizeof *out);
    out->mse = sse / (double)n;
    out->total = out->mse;
    out->nmse_sum = nmse_sum;

    /* dL/dxhat = 2 (xhat - x) / n; the target side goes straight into dx. */
    zero(c->g_map[0], n);
    rc = invcsi_mse_backward(c->g_map[0], dx, 1.0f, c->xhat, x, n, err);
    if (rc == INVCSI_OK)
        rc = backward(c, d, p->grad, x, batch, dx, err);
    return rc;
}

static int csinet_train_step(invcsi_model *model, const float *x, int batch, invcsi_rng *rng,
                             invcsi_losses *out, invcsi_error *err)
{
    (void)rng; /* CsiNet's step is deterministic */
    return invcsi_csinet_train_step_dx(model, x, batch, out, NULL, err);
}

static int csinet_encode(invcsi_model *model, const float *x, int batch, float *y,
                         invcsi_error *err)
{
    int rc = check_batch(model, "encode", batch, x, y, err);
    if (rc != INVCSI_OK)
        return rc;
    csinet *c = model->impl;
    float *d = model->params.data;
    if (c->fold && (rc = fold_units(c, d, 0, 1, err)) != INVCSI_OK)
        return rc;
    return encoder_forward(c, d, x, batch, c->fold ? PASS_INFER_FOLDED : PASS_INFER, y, err);
}

static int csinet_decode(invcsi_model *model, const float *y, int batch, float *xhat,
                         invcsi_error *err)
{
    int rc = check_batch(model, "decode", batch, y, xhat, err);
    if (rc != INVCSI_OK)
        return rc;
    csinet *c = model->impl;
    float *d = model->params.data;
    if (c->fold && (rc = fold_units(c, d, 1, c->n_units, err)) != INVCSI_OK)
        return rc;
    return decoder_forward(c, d, y, batch, c->fold ? PASS_INFER_FOLDED : PASS_INFER, xhat,
                           err);
}

void invcsi_csinet_set_bn_fold(invcsi_model *model, int fold)
{
    if (model && model->ops == &invcsi_csinet_ops && model->impl)
        ((csinet *)model->impl)->fold = fold ? 1 : 0;
}

const invcsi_model_ops invcsi_csinet_ops = {
    .kind = "csinet",
    .config_default = csinet_config_default,
    .check = csinet_check,
    .build = csinet_build,
    .reserve = csinet_reserve,
    .init = csinet_init,
    .fit_front = NULL,
    .train_step = csinet_train_step,
    .encode = csinet_encode,
    .decode = csinet_decode,
    .release = csinet_release,
};
