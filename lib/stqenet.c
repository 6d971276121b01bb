/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * STQENet (include/invcsi/stqenet.h): parameter table, initialisation, buffers, the
 * training step (rate + distortion), the inference passes and the coded report.
 * The layers are those of stqe_layers.h / entropy_model.h / nn.h; this file only wires
 * them together and keeps their buffers.
 *
 * Buffers are sized for max_batch reports at reserve time; train_step, encode and decode
 * never allocate. The decoder's BN is folded at inference into separate copies of the
 * conv weights (recomputed from the current weights on every decode call: ~2.8 K floats),
 * so the parameter table always holds the unfolded, trainable values and a saved file
 * resumes training as it is.
 */
#include "invcsi/stqenet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "invcsi/cdf_table.h"
#include "invcsi/entropy_model.h"
#include "invcsi/metrics.h"
#include "invcsi/nn.h"
#include "invcsi/rans.h"
#include "invcsi/report_codec.h"
#include "invcsi/stqe_layers.h"

#define ENC_WIDE 16          /* channels of the encoder's 1x1 conv */
#define ENC_K 5              /* the encoder's 5x5 conv and the decoder's head conv */
#define HEADS 4
#define WINDOW 8             /* LSA window (tokens) */
#define PATCH 8              /* GSA summary conv side */
#define CR_WIDTH 7           /* CR block branch width */
#define SLOPE 0.3f           /* decoder LeakyReLU */
#define INIT_STREAM_BASE 0x5354514500000000ull /* "STQE\0\0\0\0" */
#define NOISE_SEED_XOR 0x4e4f495345ull        /* "NOISE" */

/* One decoder conv+BN unit: the parameter offsets and the folded inference copy. */
typedef struct unit_off {
    size_t w, gamma, beta, rmean, rvar;
} unit_off;

typedef struct stqenet {
    int H, W;             /* map: nr*nt x nc (tokens x embedding of the block) */
    long S;               /* H * W */
    int dim, m, bits, levels;
    float lambda;
    float lambda_eff;     /* lambda after the warm-up ramp (begin_epoch) */
    int max_batch;
    int fold;
    int soft_round;       /* test switch: decoder path takes u, not round(u) */
    invcsi_attn_shape shape;   /* for max_batch (seqs is set per call) */

    /* parameter offsets */
    size_t c1_w, c1_b, c2_w, c2_b, efc_w, efc_b, efc_scale, dfc_w, dfc_b, ent_raw, ent_cdf;
    size_t blk[44];       /* block tensors in table order (see block_names) */
    int n_blk;
    unit_off head_off, cr_off[2][6];

    /* decoder units: trainable (pointers into params, refreshed per call) and folded */
    invcsi_convbn head, head_f;
    invcsi_crblock cr[2], cr_f[2];
    float *fold_store;    /* folded weights and biases of all 13 units */

    /* activations [B][...] */
    float *a1;            /* [B][16][S] */
    float *X;             /* [B][2][S] skip */
    float *blk_out;       /* [B][2][S] block output, then (+ X) x in_scale (the FC input) */
    float *blk_saved;
    float *z, *u, *noise, *ut, *uh, *th;   /* [B][m] */
    float *dfc;           /* [B][dim] */
    float *h0pre, *h0;    /* [B][2][S] head convbn output and its LeakyReLU */
    float *c1;            /* [B][2][S] first CR block output */
    float *xhat;          /* [B][dim] */
    float *head_saved, *cr_saved[2];
    /* gradients */
    float *gA, *gB, *gC;  /* [B][dim] each */
    float *g_wide;        /* [B][16][S] */
    float *g_m, *g_m2;    /* [B][m] */
    float *scratch;       /* the largest scratch any layer needs */
    float *ent_scratch;
    float *pmf;           /* [m][levels] */
    invcsi_cdf_table *tables; /* [m] */
    int tables_ready;
    uint16_t *sym;        /* [B][m] */
    void *block;
} stqenet;

static stqenet *impl_of(const invcsi_model *m)
{
    return (m && m->ops == &invcsi_stqenet_ops) ? (stqenet *)m->impl : NULL;
}

/* ---------------------------------------------------------------------------------- */
/* Config                                                                             */
/* ---------------------------------------------------------------------------------- */

static void stqe_config_default(invcsi_model_config *cfg, double cr)
{
    (void)cr;
    cfg->bits = INVCSI_STQENET_BITS_DEFAULT;
    cfg->mse_weight = INVCSI_STQENET_LAMBDA_DEFAULT;
    cfg->leaky_slope = SLOPE;
}

static int stqe_check(const invcsi_model_config *cfg, invcsi_error *err)
{
    const int H = cfg->nr * cfg->nt, W = cfg->nc;
    if (cfg->nr < 1 || cfg->nt < 1 || cfg->nc < 1 || cfg->dim != 2 * H * W)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "stqenet: sizes nr %d, nt %d, nc %d, dim %d do not fit together",
                                cfg->nr, cfg->nt, cfg->nc, cfg->dim);
    if (H % WINDOW || H % PATCH || W % PATCH || W % HEADS)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "stqenet: the map %d x %d (nr*nt x nc) must have both sides "
                                "multiples of %d (attention windows and summary patches)",
                                H, W, PATCH);
    if (cfg->m < 1 || cfg->m > cfg->dim)
        return invcsi_error_set(err, INVCSI_EINVAL, "stqenet: latent size m %d must be in [1, %d]",
                                cfg->m, cfg->dim);
    if (cfg->bits < 1 || cfg->bits > 8)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "stqenet: bits %d must be in [1, 8] (16-bit coder tables of at "
                                "most 256 symbols)", cfg->bits);
    if (!(cfg->mse_weight >= 0.0f) || !isfinite(cfg->mse_weight))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "stqenet: lambda (mse_weight) %g must be finite and >= 0",
                                cfg->mse_weight);
    return INVCSI_OK;
}

/* ---------------------------------------------------------------------------------- */
/* Parameter table                                                                    */
/* ---------------------------------------------------------------------------------- */

/* The block's tensors in table order: name and shape (D = embedding, p = patch). */
typedef struct btensor {
    const char *name;
    int rank, s0, s1; /* s = multiples: s0 in units of D (negative: p*p), s1 likewise */
} btensor;
enum { UD = -1, U2D = -2, U3D = -3, UPP = -4 };
static const btensor BLOCK_TENSORS[] = {
    {"norm1.weight", 1, UD, 0},     {"norm1.bias", 1, UD, 0},
    {"attn1.qkv.weight", 2, U3D, UD}, {"attn1.qkv.bias", 1, U3D, 0},
    {"attn1.proj.weight", 2, UD, UD}, {"attn1.proj.bias", 1, UD, 0},
    {"norm2.weight", 1, UD, 0},     {"norm2.bias", 1, UD, 0},
    {"mlp1.fc1.weight", 2, UD, UD}, {"mlp1.fc1.bias", 1, UD, 0},
    {"mlp1.fc2.weight", 2, UD, UD}, {"mlp1.fc2.bias", 1, UD, 0},
    {"norm3.weight", 1, UD, 0},     {"norm3.bias", 1, UD, 0},
    {"attn2.q.weight", 2, UD, UD},  {"attn2.q.bias", 1, UD, 0},
    {"attn2.kv.weight", 2, U2D, UD}, {"attn2.kv.bias", 1, U2D, 0},
    {"attn2.sr.weight", 2, UD, UPP}, {"attn2.sr.bias", 1, UD, 0},
    {"attn2.norm.weight", 1, UD, 0}, {"attn2.norm.bias", 1, UD, 0},
    {"attn2.proj.weight", 2, UD, UD}, {"attn2.proj.bias", 1, UD, 0},
    {"norm4.weight", 1, UD, 0},     {"norm4.bias", 1, UD, 0},
    {"mlp2.fc1.weight", 2, UD, UD}, {"mlp2.fc1.bias", 1, UD, 0},
    {"mlp2.fc2.weight", 2, UD, UD}, {"mlp2.fc2.bias", 1, UD, 0},
    {"norm5.weight", 1, UD, 0},     {"norm5.bias", 1, UD, 0},
};
#define N_BLOCK_TENSORS ((int)(sizeof BLOCK_TENSORS / sizeof BLOCK_TENSORS[0]))

static int bdim(int code, int D)
{
    switch (code) {
    case UD: return D;
    case U2D: return 2 * D;
    case U3D: return 3 * D;
    case UPP: return PATCH * PATCH;
    default: return 1;
    }
}

/* CR block unit names and kernel sizes, in invcsi_crblock field order. */
static const char *const CR_UNITS[6] = {"path1.conv3x3", "path1.conv1x9", "path1.conv9x1",
                                        "path2.conv1x5", "path2.conv5x1", "conv1x1"};

static int add_t(invcsi_params *p, const char *name, int rank, const int *shape, int frozen,
                 size_t *off, invcsi_error *err)
{
    int rc = invcsi_params_add(p, name, rank, shape, off, err);
    if (rc == INVCSI_OK)
        p->tensors[p->n_tensors - 1].frozen = frozen;
    return rc;
}

static int add_convbn(invcsi_params *p, const char *prefix, const invcsi_convbn *u,
                      invcsi_error *err)
{
    char n[INVCSI_PARAM_NAME_MAX];
    const int ws[4] = {u->out_ch, u->in_ch, u->kh, u->kw}, cs[1] = {u->out_ch};
    int rc;
    snprintf(n, sizeof n, "%s.conv.weight", prefix);
    if ((rc = add_t(p, n, 4, ws, 0, NULL, err))) return rc;
    snprintf(n, sizeof n, "%s.bn.weight", prefix);
    if ((rc = add_t(p, n, 1, cs, 0, NULL, err))) return rc;
    snprintf(n, sizeof n, "%s.bn.bias", prefix);
    if ((rc = add_t(p, n, 1, cs, 0, NULL, err))) return rc;
    snprintf(n, sizeof n, "%s.bn.running_mean", prefix);
    if ((rc = add_t(p, n, 1, cs, 1, NULL, err))) return rc;
    snprintf(n, sizeof n, "%s.bn.running_var", prefix);
    return add_t(p, n, 1, cs, 1, NULL, err);
}

static void head_shape(invcsi_convbn *u)
{
    memset(u, 0, sizeof *u);
    u->in_ch = 2, u->out_ch = 2, u->kh = ENC_K, u->kw = ENC_K;
}

static invcsi_convbn *cr_unit(invcsi_crblock *b, int i)
{
    invcsi_convbn *u[6] = {&b->p1a, &b->p1b, &b->p1c, &b->p2a, &b->p2b, &b->fuse};
    return u[i];
}

static int stqe_build(invcsi_model *model, invcsi_error *err)
{
    const invcsi_model_config *cfg = &model->cfg;
    int rc = stqe_check(cfg, err);
    if (rc != INVCSI_OK)
        return rc;
    invcsi_params *p = &model->params;
    const int D = cfg->nc, dim = cfg->dim, M = cfg->m, L = 1 << cfg->bits;
#define ADD(name, rank, ...)                                                               \
    do {                                                                                   \
        const int sh_[] = {__VA_ARGS__};                                                   \
        if ((rc = add_t(p, name, rank, sh_, 0, NULL, err)) != INVCSI_OK)                   \
            return rc;                                                                     \
    } while (0)
    ADD("enc.conv1.weight", 4, ENC_WIDE, 2, 1, 1);
    ADD("enc.conv1.bias", 1, ENC_WIDE);
    ADD("enc.conv2.weight", 4, 2, ENC_WIDE, ENC_K, ENC_K);
    ADD("enc.conv2.bias", 1, 2);
    for (int i = 0; i < N_BLOCK_TENSORS; i++) {
        const btensor *t = &BLOCK_TENSORS[i];
        char n[INVCSI_PARAM_NAME_MAX];
        snprintf(n, sizeof n, "enc.block.%s", t->name);
        const int sh[2] = {bdim(t->s0, D), bdim(t->s1, D)};
        if ((rc = add_t(p, n, t->rank, sh, 0, NULL, err)) != INVCSI_OK)
            return rc;
    }
    ADD("enc.fc.weight", 2, M, dim);
    ADD("enc.fc.bias", 1, M);
    {
        const int sh1[1] = {1};
        if ((rc = add_t(p, "enc.fc.in_scale", 1, sh1, 1, NULL, err)) != INVCSI_OK)
            return rc;
    }
    {
        const int sh[2] = {M, INVCSI_ENTROPY_PARAMS_PER_DIM};
        if ((rc = add_t(p, "entropy.raw", 2, sh, 0, NULL, err)) != INVCSI_OK)
            return rc;
        const int shc[2] = {M, L + 1};
        if ((rc = add_t(p, INVCSI_CDF_TENSOR_NAME, 2, shc, 1, NULL, err)) != INVCSI_OK)
            return rc;
    }
    ADD("dec.fc.weight", 2, dim, M);
    ADD("dec.fc.bias", 1, dim);
#undef ADD
    invcsi_convbn u;
    head_shape(&u);
    if ((rc = add_convbn(p, "dec.head", &u, err)) != INVCSI_OK)
        return rc;
    for (int b = 0; b < 2; b++) {
        invcsi_crblock cb;
        memset(&cb, 0, sizeof cb);
        invcsi_crblock_set_shapes(&cb, 2, CR_WIDTH);
        for (int i = 0; i < 6; i++) {
            char n[INVCSI_PARAM_NAME_MAX];
            snprintf(n, sizeof n, "dec.cr%d.%s", b, CR_UNITS[i]);
            if ((rc = add_convbn(p, n, cr_unit(&cb, i), err)) != INVCSI_OK)
                return rc;
        }
    }
    return INVCSI_OK;
}

/* ---------------------------------------------------------------------------------- */
/* Buffers                                                                            */
/* ---------------------------------------------------------------------------------- */

typedef struct carver {
    float *base;
    size_t used;
} carver;

static float *carve(carver *c, size_t n)
{
    float *p = c->base ? c->base + c->used : NULL;
    c->used += (n + 15) & ~(size_t)15;
    return p;
}

static long lmax(long a, long b) { return a > b ? a : b; }

static void carve_all(stqenet *c, carver *cv, int B)
{
    const size_t BS = (size_t)B * c->S, Bm = (size_t)B * c->m, Bd = (size_t)B * c->dim;
    c->a1 = carve(cv, BS * ENC_WIDE);
    c->X = carve(cv, Bd);
    c->blk_out = carve(cv, Bd);
    invcsi_attn_shape s = c->shape;
    s.seqs = 2 * B;
    c->blk_saved = carve(cv, (size_t)invcsi_stqe_block_saved_floats(&s));
    c->z = carve(cv, Bm);
    c->u = carve(cv, Bm);
    c->noise = carve(cv, Bm);
    c->ut = carve(cv, Bm);
    c->uh = carve(cv, Bm);
    c->th = carve(cv, Bm);
    c->dfc = carve(cv, Bd);
    c->h0pre = carve(cv, Bd);
    c->h0 = carve(cv, Bd);
    c->c1 = carve(cv, Bd);
    c->xhat = carve(cv, Bd);
    c->head_saved = carve(cv, (size_t)invcsi_convbn_saved_floats(&c->head, B, c->H, c->W));
    for (int b = 0; b < 2; b++)
        c->cr_saved[b] = carve(cv, (size_t)invcsi_crblock_saved_floats(&c->cr[b], B, c->H, c->W));
    c->gA = carve(cv, Bd);
    c->gB = carve(cv, Bd);
    c->gC = carve(cv, Bd);
    c->g_wide = carve(cv, BS * ENC_WIDE);
    c->g_m = carve(cv, Bm);
    c->g_m2 = carve(cv, Bm);
    long sc = invcsi_stqe_block_scratch_floats(&s);
    const invcsi_conv2d_shape s1 = {B, 2, ENC_WIDE, c->H, c->W, 1, 1};
    const invcsi_conv2d_shape s2 = {B, ENC_WIDE, 2, c->H, c->W, ENC_K, ENC_K};
    sc = lmax(sc, invcsi_conv2d_scratch_floats(&s1));
    sc = lmax(sc, invcsi_conv2d_scratch_floats(&s2));
    sc = lmax(sc, invcsi_convbn_scratch_floats(&c->head, B, c->H, c->W));
    sc = lmax(sc, invcsi_crblock_scratch_floats(&c->cr[0], B, c->H, c->W));
    c->scratch = carve(cv, (size_t)sc);
    c->ent_scratch = carve(cv, (size_t)invcsi_entropy_scratch_floats(c->m));
    c->pmf = carve(cv, (size_t)c->m * c->levels);
    /* folded copies: weight + bias of the head and 12 CR units */
    size_t nf = (size_t)2 * 2 * ENC_K * ENC_K + 2;
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < 6; i++) {
            const invcsi_convbn *u = cr_unit(&c->cr[b], i);
            nf += (size_t)u->out_ch * u->in_ch * u->kh * u->kw + u->out_ch + 16;
        }
    c->fold_store = carve(cv, nf + 16);
}

static void stqe_release(invcsi_model *model)
{
    stqenet *c = model->impl;
    if (!c)
        return;
    free(c->block);
    free(c->tables);
    free(c->sym);
    free(c);
    model->impl = NULL;
}

static int off_of(const invcsi_params *p, const char *name, size_t *off, invcsi_error *err)
{
    const invcsi_tensor *t = invcsi_params_find(p, name);
    if (!t)
        return invcsi_error_set(err, INVCSI_EINVAL, "stqenet: parameter table has no '%s'",
                                name);
    *off = t->offset;
    return INVCSI_OK;
}

static int unit_offsets(const invcsi_params *p, const char *prefix, unit_off *o,
                        invcsi_error *err)
{
    char n[INVCSI_PARAM_NAME_MAX];
    int rc;
    snprintf(n, sizeof n, "%s.conv.weight", prefix);
    if ((rc = off_of(p, n, &o->w, err))) return rc;
    snprintf(n, sizeof n, "%s.bn.weight", prefix);
    if ((rc = off_of(p, n, &o->gamma, err))) return rc;
    snprintf(n, sizeof n, "%s.bn.bias", prefix);
    if ((rc = off_of(p, n, &o->beta, err))) return rc;
    snprintf(n, sizeof n, "%s.bn.running_mean", prefix);
    if ((rc = off_of(p, n, &o->rmean, err))) return rc;
    snprintf(n, sizeof n, "%s.bn.running_var", prefix);
    return off_of(p, n, &o->rvar, err);
}

static int stqe_reserve(invcsi_model *model, int max_batch, invcsi_error *err)
{
    const invcsi_model_config *cfg = &model->cfg;
    if (max_batch < 1)
        return invcsi_error_set(err, INVCSI_EINVAL, "stqenet: max_batch %d must be >= 1",
                                max_batch);
    stqe_release(model);
    stqenet *c = calloc(1, sizeof *c);
    if (!c)
        return invcsi_error_set(err, INVCSI_ENOMEM, "stqenet: out of memory");
    model->impl = c;
    c->max_batch = max_batch;
    c->H = cfg->nr * cfg->nt;
    c->W = cfg->nc;
    c->S = (long)c->H * c->W;
    c->dim = cfg->dim;
    c->m = cfg->m;
    c->bits = cfg->bits;
    c->levels = 1 << cfg->bits;
    c->lambda = cfg->mse_weight;
    c->lambda_eff = c->lambda;
    c->fold = 1;
    c->shape = (invcsi_attn_shape){2, c->H, c->W, HEADS, WINDOW, PATCH};
    head_shape(&c->head);
    for (int b = 0; b < 2; b++)
        invcsi_crblock_set_shapes(&c->cr[b], 2, CR_WIDTH);
    const invcsi_params *p = &model->params;
    int rc = INVCSI_OK;
    if (!rc) rc = off_of(p, "enc.conv1.weight", &c->c1_w, err);
    if (!rc) rc = off_of(p, "enc.conv1.bias", &c->c1_b, err);
    if (!rc) rc = off_of(p, "enc.conv2.weight", &c->c2_w, err);
    if (!rc) rc = off_of(p, "enc.conv2.bias", &c->c2_b, err);
    for (int i = 0; !rc && i < N_BLOCK_TENSORS; i++) {
        char n[INVCSI_PARAM_NAME_MAX];
        snprintf(n, sizeof n, "enc.block.%s", BLOCK_TENSORS[i].name);
        rc = off_of(p, n, &c->blk[i], err);
    }
    c->n_blk = N_BLOCK_TENSORS;
    if (!rc) rc = off_of(p, "enc.fc.weight", &c->efc_w, err);
    if (!rc) rc = off_of(p, "enc.fc.bias", &c->efc_b, err);
    if (!rc) rc = off_of(p, "enc.fc.in_scale", &c->efc_scale, err);
    if (!rc) rc = off_of(p, "entropy.raw", &c->ent_raw, err);
    if (!rc) rc = off_of(p, INVCSI_CDF_TENSOR_NAME, &c->ent_cdf, err);
    if (!rc) rc = off_of(p, "dec.fc.weight", &c->dfc_w, err);
    if (!rc) rc = off_of(p, "dec.fc.bias", &c->dfc_b, err);
    if (!rc) rc = unit_offsets(p, "dec.head", &c->head_off, err);
    for (int b = 0; !rc && b < 2; b++)
        for (int i = 0; !rc && i < 6; i++) {
            char n[INVCSI_PARAM_NAME_MAX];
            snprintf(n, sizeof n, "dec.cr%d.%s", b, CR_UNITS[i]);
            rc = unit_offsets(p, n, &c->cr_off[b][i], err);
        }
    if (rc != INVCSI_OK) {
        stqe_release(model);
        return rc;
    }
    carver cv = {NULL, 0};
    carve_all(c, &cv, max_batch);
    const size_t floats = cv.used;
    c->block = aligned_alloc(64, floats * sizeof(float));
    c->tables = calloc((size_t)c->m, sizeof *c->tables);
    c->sym = calloc((size_t)max_batch * c->m, sizeof *c->sym);
    if (!c->block || !c->tables || !c->sym) {
        stqe_release(model);
        return invcsi_error_set(err, INVCSI_ENOMEM,
                                "stqenet: out of memory for the buffers of batch %d (%.1f MB)",
                                max_batch, floats * 4.0 / 1e6);
    }
    memset(c->block, 0, floats * sizeof(float));
    cv = (carver){c->block, 0};
    carve_all(c, &cv, max_batch);
    return INVCSI_OK;
}

/* Points the decoder units at the current parameter data (and gradients). */
static void bind_unit(invcsi_convbn *u, float *d, const unit_off *o)
{
    u->weight = d + o->w;
    u->bias = NULL;
    u->gamma = d + o->gamma;
    u->beta = d + o->beta;
    u->running_mean = d + o->rmean;
    u->running_var = d + o->rvar;
    u->folded = 0;
}

static void bind_grads(invcsi_convbn_grads *g, float *gr, const unit_off *o)
{
    g->weight = gr ? gr + o->w : NULL;
    g->gamma = gr ? gr + o->gamma : NULL;
    g->beta = gr ? gr + o->beta : NULL;
}

static void bind_decoder(stqenet *c, float *d)
{
    bind_unit(&c->head, d, &c->head_off);
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < 6; i++)
            bind_unit(cr_unit(&c->cr[b], i), d, &c->cr_off[b][i]);
}

/* Folded copies of every decoder unit from the current weights. */
static int fold_decoder(stqenet *c, float *d, invcsi_error *err)
{
    bind_decoder(c, d);
    float *store = c->fold_store;
    invcsi_convbn *src[13], *dst[13];
    src[0] = &c->head, dst[0] = &c->head_f;
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < 6; i++)
            src[1 + 6 * b + i] = cr_unit(&c->cr[b], i), dst[1 + 6 * b + i] = cr_unit(&c->cr_f[b], i);
    for (int k = 0; k < 13; k++) {
        *dst[k] = *src[k];
        const size_t nw = (size_t)src[k]->out_ch * src[k]->in_ch * src[k]->kh * src[k]->kw;
        dst[k]->weight = store;
        memcpy(store, src[k]->weight, nw * sizeof(float));
        store += (nw + 15) & ~(size_t)15;
        dst[k]->bias = store;
        store += ((size_t)src[k]->out_ch + 15) & ~(size_t)15;
        dst[k]->folded = 0;
        int rc = invcsi_convbn_fold(dst[k], err);
        if (rc != INVCSI_OK)
            return rc;
    }
    return INVCSI_OK;
}

/* ---------------------------------------------------------------------------------- */
/* Initialisation                                                                     */
/* ---------------------------------------------------------------------------------- */

/* PyTorch's default for Linear/Conv: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform
 * with a = sqrt 5). */
static void uniform_init(float *w, long n, long fan_in, uint64_t seed, uint64_t stream)
{
    invcsi_rng r;
    invcsi_rng_init(&r, seed, INIT_STREAM_BASE + stream);
    const double a = 1.0 / sqrt((double)fan_in);
    for (long i = 0; i < n; i++)
        w[i] = (float)(a * (2.0 * invcsi_rng_uniform(&r) - 1.0));
}

static void fill(float *x, long n, float v)
{
    for (long i = 0; i < n; i++)
        x[i] = v;
}

static void init_convbn(float *d, const invcsi_convbn *shape, const unit_off *o, uint64_t seed,
                        uint64_t stream)
{
    const long fan = (long)shape->in_ch * shape->kh * shape->kw;
    uniform_init(d + o->w, fan * shape->out_ch, fan, seed, stream);
    fill(d + o->gamma, shape->out_ch, 1.0f);
    fill(d + o->beta, shape->out_ch, 0.0f);
    fill(d + o->rmean, shape->out_ch, 0.0f);
    fill(d + o->rvar, shape->out_ch, 1.0f);
}

static void stqe_init(invcsi_model *model)
{
    stqenet *c = model->impl;
    float *d = model->params.data;
    const uint64_t seed = model->cfg.seed;
    const int D = c->W;
    uniform_init(d + c->c1_w, ENC_WIDE * 2, 2, seed, 0);
    uniform_init(d + c->c1_b, ENC_WIDE, 2, seed, 1);
    uniform_init(d + c->c2_w, 2L * ENC_WIDE * ENC_K * ENC_K, ENC_WIDE * ENC_K * ENC_K, seed, 2);
    uniform_init(d + c->c2_b, 2, ENC_WIDE * ENC_K * ENC_K, seed, 3);
    for (int i = 0; i < N_BLOCK_TENSORS; i++) {
        const btensor *t = &BLOCK_TENSORS[i];
        const long rows = bdim(t->s0, D), cols = t->rank == 2 ? bdim(t->s1, D) : 1;
        float *w = d + c->blk[i];
        if (strstr(t->name, "norm") && strstr(t->name, ".weight"))
            fill(w, rows, 1.0f);
        else if (t->rank == 1)
            fill(w, rows, 0.0f);
        else
            uniform_init(w, rows * cols, cols, seed, 16 + (uint64_t)i);
    }
    /* enc.fc sees its input times in_scale = 1/sqrt(dim) (frozen), so its stored weights
     * start at U(-1, 1): the same function at init as U(-1/sqrt(dim), 1/sqrt(dim)), but
     * Adam's per-weight step of ~lr now moves z by ~lr sum|f|/sqrt(dim) instead of
     * ~lr sum|f|, 45x less at dim 2048 (the "equalised learning rate" of ProGAN).
     * Measured on CDL-C, CR 1/16, lr 1e-3: symbols at 0 or 2^B - 1 (tanh saturated) after
     * 25 / 100 steps: 97 / 97 % without it, 50 / 67 % with it; the rest of the early
     * saturation comes from the unnormalised skip X growing (freezing the conv and block
     * leaves 9 / 12 % after 25 / 50 steps). Saturation is a symptom of the first epochs'
     * plateau at the all-zero reconstruction, not its cause: once the decoder leaves it
     * (about epoch 7) the symbols spread out (0.1 % at the ends after 20 epochs). A higher
     * lr (2e-3, 3e-3) kept the plateau longer. */
    fill(d + c->efc_scale, 1, (float)(1.0 / sqrt((double)c->dim)));
    uniform_init(d + c->efc_w, (long)c->m * c->dim, 1, seed, 4);
    fill(d + c->efc_b, c->m, 0.0f);
    invcsi_entropy_init(d + c->ent_raw, c->m, (float)c->levels / 4.0f, seed ^ 0x454e54ull, NULL);
    fill(d + c->ent_cdf, (long)c->m * (c->levels + 1), 0.0f);
    uniform_init(d + c->dfc_w, (long)c->dim * c->m, c->m, seed, 5);
    fill(d + c->dfc_b, c->dim, 0.0f);
    init_convbn(d, &c->head, &c->head_off, seed, 6);
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < 6; i++)
            init_convbn(d, cr_unit(&c->cr[b], i), &c->cr_off[b][i], seed, 8 + 6 * b + i);
    c->tables_ready = 0;
}

/* ---------------------------------------------------------------------------------- */
/* Forward                                                                            */
/* ---------------------------------------------------------------------------------- */

static void block_weights(const stqenet *c, const float *d, invcsi_stqe_block_weights *w)
{
    const float *t[N_BLOCK_TENSORS];
    for (int i = 0; i < N_BLOCK_TENSORS; i++)
        t[i] = d + c->blk[i];
    *w = (invcsi_stqe_block_weights){
        .ln1_w = t[0], .ln1_b = t[1],
        .lsa = {t[2], t[3], t[4], t[5]},
        .ln2_w = t[6], .ln2_b = t[7],
        .mlp1_fc1_w = t[8], .mlp1_fc1_b = t[9], .mlp1_fc2_w = t[10], .mlp1_fc2_b = t[11],
        .ln3_w = t[12], .ln3_b = t[13],
        .gsa = {t[14], t[15], t[16], t[17], t[18], t[19], t[20], t[21], t[22], t[23]},
        .ln4_w = t[24], .ln4_b = t[25],
        .mlp2_fc1_w = t[26], .mlp2_fc1_b = t[27], .mlp2_fc2_w = t[28], .mlp2_fc2_b = t[29],
        .ln5_w = t[30], .ln5_b = t[31],
    };
}

static void block_grads(const stqenet *c, float *g, invcsi_stqe_block_grads *w)
{
    float *t[N_BLOCK_TENSORS];
    for (int i = 0; i < N_BLOCK_TENSORS; i++)
        t[i] = g + c->blk[i];
    *w = (invcsi_stqe_block_grads){
        .ln1_w = t[0], .ln1_b = t[1],
        .lsa = {t[2], t[3], t[4], t[5]},
        .ln2_w = t[6], .ln2_b = t[7],
        .mlp1_fc1_w = t[8], .mlp1_fc1_b = t[9], .mlp1_fc2_w = t[10], .mlp1_fc2_b = t[11],
        .ln3_w = t[12], .ln3_b = t[13],
        .gsa = {t[14], t[15], t[16], t[17], t[18], t[19], t[20], t[21], t[22], t[23]},
        .ln4_w = t[24], .ln4_b = t[25],
        .mlp2_fc1_w = t[26], .mlp2_fc1_b = t[27], .mlp2_fc2_w = t[28], .mlp2_fc2_b = t[29],
        .ln5_w = t[30], .ln5_b = t[31],
    };
}

/* x[B][dim] -> c->z, c->u (compander output). */
static int encoder_forward(stqenet *c, const float *d, const float *x, int batch,
                           invcsi_error *err)
{
    const invcsi_conv2d_shape s1 = {batch, 2, ENC_WIDE, c->H, c->W, 1, 1};
    const invcsi_conv2d_shape s2 = {batch, ENC_WIDE, 2, c->H, c->W, ENC_K, ENC_K};
    int rc = invcsi_conv2d_forward(c->a1, x, d + c->c1_w, d + c->c1_b, &s1, c->scratch, err);
    if (!rc)
        rc = invcsi_conv2d_forward(c->X, c->a1, d + c->c2_w, d + c->c2_b, &s2, c->scratch, err);
    if (rc)
        return rc;
    invcsi_attn_shape s = c->shape;
    s.seqs = 2 * batch;
    invcsi_stqe_block_weights w;
    block_weights(c, d, &w);
    rc = invcsi_stqe_block_forward(c->blk_out, c->blk_saved, c->X, &w, &s, err);
    if (rc)
        return rc;
    const long n = (long)batch * c->dim;
    const float in_scale = d[c->efc_scale];
    for (long i = 0; i < n; i++)
        c->blk_out[i] = (c->blk_out[i] + c->X[i]) * in_scale;
    rc = invcsi_dense_forward(c->z, c->blk_out, d + c->efc_w, d + c->efc_b, batch, c->dim, c->m,
                              err);
    if (!rc)
        rc = invcsi_compander_forward(c->u, c->z, (long)batch * c->m, INVCSI_STQE_MU, c->bits,
                                      err);
    return rc;
}

/* uh[B][m] (integer-valued symbols or their straight-through stand-ins) -> xhat. */
static int decoder_forward(stqenet *c, float *d, const float *uh, int batch, int mode,
                           float *xhat, invcsi_error *err)
{
    int rc = invcsi_compander_inverse_forward(c->th, uh, (long)batch * c->m, INVCSI_STQE_MU,
                                              c->bits, err);
    if (!rc)
        rc = invcsi_dense_forward(c->dfc, c->th, d + c->dfc_w, d + c->dfc_b, batch, c->m,
                                  c->dim, err);
    if (rc)
        return rc;
    const int folded = mode == INVCSI_BN_INFER && c->fold;
    if (folded)
        rc = fold_decoder(c, d, err);
    else
        bind_decoder(c, d);
    if (rc)
        return rc;
    invcsi_convbn *head = folded ? &c->head_f : &c->head;
    invcsi_crblock *cr = folded ? c->cr_f : c->cr;
    rc = invcsi_convbn_forward(c->h0pre, c->head_saved, c->dfc, head, batch, c->H, c->W, mode,
                               INVCSI_BN_MOMENTUM, c->scratch, err);
    if (rc)
        return rc;
    const long n = (long)batch * c->dim;
    invcsi_leaky_relu_forward(c->h0, c->h0pre, n, SLOPE);
    rc = invcsi_crblock_forward(c->c1, c->cr_saved[0], c->h0, &cr[0], batch, c->H, c->W, mode,
                                INVCSI_BN_MOMENTUM, c->scratch, err);
    if (!rc)
        rc = invcsi_crblock_forward(xhat, c->cr_saved[1], c->c1, &cr[1], batch, c->H, c->W, mode,
                                    INVCSI_BN_MOMENTUM, c->scratch, err);
    return rc;
}

/* ---------------------------------------------------------------------------------- */
/* Training step                                                                      */
/* ---------------------------------------------------------------------------------- */

static void zero(float *x, long n) { memset(x, 0, sizeof(float) * (size_t)n); }

static int step(invcsi_model *model, const float *x, int batch, const float *noise,
                uint64_t noise_seed, invcsi_losses *out, float *dx, invcsi_error *err)
{
    stqenet *c = impl_of(model);
    if (!c)
        return invcsi_error_set(err, INVCSI_EINVAL, "stqenet train_step: not an STQENet model");
    if (batch < 1 || batch > c->max_batch || !x || !out)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "stqenet train_step: batch %d must be in [1, %d], buffers non-NULL",
                                batch, c->max_batch);
    invcsi_params *p = &model->params;
    if (!p->grad)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "stqenet train_step: the model has no gradient buffers");
    float *d = p->data, *g = p->grad;
    c->tables_ready = 0; /* the weights are about to change */
    const long nm = (long)batch * c->m, n = (long)batch * c->dim;
    int rc = encoder_forward(c, d, x, batch, err);
    if (rc)
        return rc;
    /* rate path: u~ = u + U(-1/2, 1/2) */
    if (noise)
        memcpy(c->noise, noise, sizeof(float) * (size_t)nm);
    else
        invcsi_uniform_noise_fill(c->noise, batch, c->m, noise_seed, 0);
    invcsi_add_noise_forward(c->ut, c->u, c->noise, nm);
    float total_bits = 0.0f;
    rc = invcsi_entropy_rate_forward(&total_bits, NULL, c->ut, d + c->ent_raw, batch, c->m,
                                     c->levels, c->ent_scratch, err);
    if (rc)
        return rc;
    /* decoder path: straight-through rounding */
    if (c->soft_round)
        memcpy(c->uh, c->u, sizeof(float) * (size_t)nm);
    else
        invcsi_round_ste_forward(c->uh, c->u, nm);
    rc = decoder_forward(c, d, c->uh, batch, INVCSI_BN_TRAIN, c->xhat, err);
    if (rc)
        return rc;

    double nmse_sum = 0.0;
    const double sse = invcsi_batch_sse(x, c->xhat, batch, c->dim, &nmse_sum);
    memset(out, 0, sizeof *out);
    out->mse = sse / (double)n;
    out->mmd = (double)total_bits / batch;
    out->total = out->mse + (double)c->lambda_eff * out->mmd / c->dim;
    out->nmse_sum = nmse_sum;

    /* backward: decoder */
    float *gx = c->gA, *gt = c->gB, *gt2 = c->gC;
    zero(gx, n);
    rc = invcsi_mse_backward(gx, dx, 1.0f, c->xhat, x, n, err);
    if (rc)
        return rc;
    invcsi_crblock_grads crg[2];
    for (int b = 0; b < 2; b++) {
        invcsi_convbn_grads *gu[6] = {&crg[b].p1a, &crg[b].p1b, &crg[b].p1c, &crg[b].p2a,
                                      &crg[b].p2b, &crg[b].fuse};
        for (int i = 0; i < 6; i++)
            bind_grads(gu[i], g, &c->cr_off[b][i]);
    }
    zero(gt, n);
    rc = invcsi_crblock_backward(gt, &crg[1], gx, c->c1, c->cr_saved[1], &c->cr[1], batch, c->H,
                                 c->W, c->scratch, err);
    if (rc)
        return rc;
    zero(gt2, n);
    rc = invcsi_crblock_backward(gt2, &crg[0], gt, c->h0, c->cr_saved[0], &c->cr[0], batch, c->H,
                                 c->W, c->scratch, err);
    if (rc)
        return rc;
    zero(gx, n);
    invcsi_leaky_relu_backward(gx, gt2, c->h0pre, n, SLOPE);
    invcsi_convbn_grads hg;
    bind_grads(&hg, g, &c->head_off);
    zero(gt, n);
    rc = invcsi_convbn_backward(gt, &hg, gx, c->dfc, c->head_saved, &c->head, batch, c->H, c->W,
                                c->scratch, err);
    if (rc)
        return rc;
    zero(c->g_m, nm);
    rc = invcsi_dense_backward(c->g_m, g + c->dfc_w, g + c->dfc_b, gt, c->th, d + c->dfc_w,
                               batch, c->m, c->dim, err);
    if (rc)
        return rc;
    /* t^ = inverse compander(u^), u^ = round_ste(u): du = dt dt/du^ (straight through) */
    zero(c->g_m2, nm);
    rc = invcsi_compander_inverse_backward(c->g_m2, c->g_m, c->uh, nm, INVCSI_STQE_MU, c->bits,
                                           err);
    if (rc)
        return rc;
    /* rate path: du~ = du (additive noise) with the ramped lambda; the entropy model
     * fits the density of u~ with the full lambda from the first step (a density fit
     * that does not move the encoder, so it needs no warm-up) */
    const float dloss = c->lambda / ((float)c->dim * (float)batch);
    const float dloss_eff = c->lambda_eff / ((float)c->dim * (float)batch);
    if (dloss_eff == dloss) {
        rc = invcsi_entropy_rate_backward(c->g_m2, g + c->ent_raw, dloss, c->ut, d + c->ent_raw,
                                          batch, c->m, c->levels, c->ent_scratch, err);
    } else {
        rc = invcsi_entropy_rate_backward(NULL, g + c->ent_raw, dloss, c->ut, d + c->ent_raw,
                                          batch, c->m, c->levels, c->ent_scratch, err);
        if (!rc && dloss_eff > 0.0f)
            rc = invcsi_entropy_rate_backward(c->g_m2, NULL, dloss_eff, c->ut, d + c->ent_raw,
                                              batch, c->m, c->levels, c->ent_scratch, err);
    }
    if (rc)
        return rc;
    zero(c->g_m, nm);
    rc = invcsi_compander_backward(c->g_m, c->g_m2, c->z, nm, INVCSI_STQE_MU, c->bits, err);
    if (rc)
        return rc;
    /* encoder */
    float *gs = gx; /* gradient at blk_out + X */
    zero(gs, n);
    rc = invcsi_dense_backward(gs, g + c->efc_w, g + c->efc_b, c->g_m, c->blk_out, d + c->efc_w,
                               batch, c->dim, c->m, err);
    if (rc)
        return rc;
    const float in_scale = d[c->efc_scale];
    for (long i = 0; i < n; i++)
        gs[i] *= in_scale;
    float *gX = gt;
    memcpy(gX, gs, sizeof(float) * (size_t)n); /* the skip */
    invcsi_attn_shape s = c->shape;
    s.seqs = 2 * batch;
    invcsi_stqe_block_weights w;
    invcsi_stqe_block_grads bg;
    block_weights(c, d, &w);
    block_grads(c, g, &bg);
    rc = invcsi_stqe_block_backward(gX, &bg, gs, c->X, c->blk_saved, &w, &s, c->scratch, err);
    if (rc)
        return rc;
    const invcsi_conv2d_shape s1 = {batch, 2, ENC_WIDE, c->H, c->W, 1, 1};
    const invcsi_conv2d_shape s2 = {batch, ENC_WIDE, 2, c->H, c->W, ENC_K, ENC_K};
    zero(c->g_wide, n / 2 * ENC_WIDE);
    rc = invcsi_conv2d_backward(c->g_wide, g + c->c2_w, g + c->c2_b, gX, c->a1, d + c->c2_w, &s2,
                                c->scratch, err);
    if (rc)
        return rc;
    return invcsi_conv2d_backward(dx, g + c->c1_w, g + c->c1_b, c->g_wide, x, d + c->c1_w, &s1,
                                  c->scratch, err);
}

static int stqe_train_step(invcsi_model *model, const float *x, int batch, invcsi_rng *rng,
                           invcsi_losses *out, invcsi_error *err)
{
    /* One noise seed per step from the trainer's rng; row r of the batch uses stream r. */
    const uint64_t seed = (rng ? invcsi_rng_u64(rng) : model->cfg.seed) ^ NOISE_SEED_XOR;
    return step(model, x, batch, NULL, seed, out, NULL, err);
}

int invcsi_stqenet_train_step_ex(invcsi_model *model, const float *x, int batch,
                                 const float *noise, invcsi_losses *out, float *dx,
                                 invcsi_error *err)
{
    return step(model, x, batch, noise, model ? model->cfg.seed ^ NOISE_SEED_XOR : 0, out, dx,
                err);
}

/* ---------------------------------------------------------------------------------- */
/* Inference                                                                          */
/* ---------------------------------------------------------------------------------- */

static int check_io(const invcsi_model *model, const char *fn, int batch, const void *a,
                    const void *b, invcsi_error *err)
{
    const stqenet *c = impl_of(model);
    if (!c)
        return invcsi_error_set(err, INVCSI_EINVAL, "stqenet %s: not an STQENet model", fn);
    if (batch < 1 || batch > c->max_batch)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "stqenet %s: batch %d must be in [1, %d] (the model's max_batch)",
                                fn, batch, c->max_batch);
    if (!a || !b)
        return invcsi_error_set(err, INVCSI_EINVAL, "stqenet %s: NULL buffer", fn);
    return INVCSI_OK;
}

static int stqe_encode(invcsi_model *model, const float *x, int batch, float *y,
                       invcsi_error *err)
{
    int rc = check_io(model, "encode", batch, x, y, err);
    if (rc)
        return rc;
    stqenet *c = model->impl;
    rc = encoder_forward(c, model->params.data, x, batch, err);
    if (!rc)
        memcpy(y, c->u, sizeof(float) * (size_t)batch * c->m);
    return rc;
}

static int stqe_decode(invcsi_model *model, const float *y, int batch, float *xhat,
                       invcsi_error *err)
{
    int rc = check_io(model, "decode", batch, y, xhat, err);
    if (rc)
        return rc;
    stqenet *c = model->impl;
    const long nm = (long)batch * c->m;
    /* the coder's symbols: round and clamp to [0, L-1] */
    rc = invcsi_quantize_symbols(c->sym, y, nm, c->bits, err);
    if (rc)
        return rc;
    for (long i = 0; i < nm; i++)
        c->uh[i] = (float)c->sym[i];
    return decoder_forward(c, model->params.data, c->uh, batch, INVCSI_BN_INFER, xhat, err);
}

void invcsi_stqenet_set_soft_round(invcsi_model *model, int soft)
{
    stqenet *c = impl_of(model);
    if (c)
        c->soft_round = soft ? 1 : 0;
}

void invcsi_stqenet_set_bn_fold(invcsi_model *model, int fold)
{
    stqenet *c = impl_of(model);
    if (c)
        c->fold = fold ? 1 : 0;
}

/* Rate warm-up: the encoder feels lambda_eff = lambda * epoch / W over the first W =
 * max(1, round(epochs / 4)) epochs (0 in the first), then lambda. Added against the
 * plateau at the all-zero reconstruction of short runs (CDL-C: 0.0 dB after 4 epochs at
 * lambda 4 where lambda 0.5 was at -1.1 dB), but measured it does NOT remove it: with the
 * warm-up, 7-epoch runs still sat at ~0 dB until epoch 5. The plateau comes with the
 * compander saturating (most symbols at 0 or 2^B - 1, where tanh' ~ 0), even at
 * lambda_eff = 0; it ends when the decoder starts to use the latent (see stqe_init on
 * enc.fc.in_scale). Harmless otherwise. */
static void stqe_begin_epoch(invcsi_model *model, int epoch, int epochs)
{
    stqenet *c = impl_of(model);
    if (!c)
        return;
    int warm = (epochs + 2) / 4;
    if (warm < 1)
        warm = 1;
    c->lambda_eff = epoch >= warm ? c->lambda : c->lambda * (float)epoch / (float)warm;
}

const invcsi_model_ops invcsi_stqenet_ops = {
    .kind = INVCSI_STQENET_KIND,
    .config_default = stqe_config_default,
    .check = stqe_check,
    .build = stqe_build,
    .reserve = stqe_reserve,
    .init = stqe_init,
    .fit_front = NULL,
    .train_step = stqe_train_step,
    .encode = stqe_encode,
    .decode = stqe_decode,
    .release = stqe_release,
    .begin_epoch = stqe_begin_epoch,
};

/* ---------------------------------------------------------------------------------- */
/* Coder                                                                              */
/* ---------------------------------------------------------------------------------- */

int invcsi_stqenet_prepare_coder(invcsi_model *model, invcsi_error *err)
{
    stqenet *c = impl_of(model);
    if (!c)
        return invcsi_error_set(err, INVCSI_EINVAL, "stqenet prepare_coder: not an STQENet model");
    float *d = model->params.data;
    int rc = invcsi_entropy_pmf(c->pmf, d + c->ent_raw, c->m, c->levels, c->ent_scratch, err);
    for (int i = 0; !rc && i < c->m; i++) {
        char what[48];
        snprintf(what, sizeof what, "stqenet latent %d", i);
        rc = invcsi_cdf_table_from_pmf(&c->tables[i], c->levels, c->pmf + (size_t)i * c->levels,
                                       what, err);
    }
    if (!rc)
        rc = invcsi_cdf_tables_to_floats(c->tables, c->m, d + c->ent_cdf, err);
    c->tables_ready = rc == INVCSI_OK;
    return rc;
}

/* Tables from the stored tensor (or computed when it is still all zero). */
static int ensure_tables(invcsi_model *model, invcsi_error *err)
{
    stqenet *c = model->impl;
    if (c->tables_ready)
        return INVCSI_OK;
    const float *src = model->params.data + c->ent_cdf;
    const long n = (long)c->m * (c->levels + 1);
    int any = 0;
    for (long i = 0; i < n && !any; i++)
        any = src[i] != 0.0f;
    if (!any)
        return invcsi_stqenet_prepare_coder(model, err);
    int rc = invcsi_cdf_tables_from_floats(c->tables, c->m, c->levels, src,
                                           "stqenet " INVCSI_CDF_TENSOR_NAME, err);
    c->tables_ready = rc == INVCSI_OK;
    return rc;
}

const invcsi_cdf_table *invcsi_stqenet_tables(const invcsi_model *model)
{
    stqenet *c = impl_of(model);
    if (!c || ensure_tables((invcsi_model *)model, NULL) != INVCSI_OK)
        return NULL;
    return c->tables;
}

int invcsi_stqenet_load(invcsi_model **out, const char *path, int max_batch, invcsi_error *err)
{
    if (!out)
        return invcsi_error_set(err, INVCSI_EINVAL, "stqenet load: NULL output");
    *out = NULL;
    invcsi_model *m = NULL;
    int rc = invcsi_model_load(&m, path, max_batch > 0 ? max_batch : 1, err);
    if (rc)
        return rc;
    if (m->ops != &invcsi_stqenet_ops) {
        rc = invcsi_error_set(err, INVCSI_EFORMAT,
                              "%s holds a '%s' model, not an STQENet ('stqenet')", path,
                              m->cfg.kind);
        invcsi_model_destroy(m);
        return rc;
    }
    rc = ensure_tables(m, err);
    if (rc) {
        invcsi_model_destroy(m);
        return rc;
    }
    *out = m;
    return INVCSI_OK;
}

int invcsi_stqenet_dim(const invcsi_model *m) { return impl_of(m) ? m->cfg.dim : 0; }
int invcsi_stqenet_latent(const invcsi_model *m) { return impl_of(m) ? m->cfg.m : 0; }
int invcsi_stqenet_bits(const invcsi_model *m) { return impl_of(m) ? m->cfg.bits : 0; }
size_t invcsi_stqenet_max_pdu_bytes(const invcsi_model *m)
{
    return impl_of(m) ? invcsi_report_max_bytes(m->cfg.m) : 0;
}

int invcsi_stqenet_symbols(invcsi_model *model, const float *x, long count, uint16_t *symbols,
                           invcsi_error *err)
{
    stqenet *c = impl_of(model);
    if (!c || !x || !symbols || count < 0)
        return invcsi_error_set(err, INVCSI_EINVAL, "stqenet symbols: bad arguments");
    for (long done = 0; done < count;) {
        const int b = (int)((count - done) < c->max_batch ? (count - done) : c->max_batch);
        int rc = encoder_forward(c, model->params.data, x + done * c->dim, b, err);
        if (!rc)
            rc = invcsi_quantize_symbols(symbols + done * c->m, c->u, (long)b * c->m, c->bits,
                                         err);
        if (rc)
            return rc;
        done += b;
    }
    return INVCSI_OK;
}

int invcsi_stqenet_decode_symbols(invcsi_model *model, const uint16_t *symbols, long count,
                                  float *x_hat, invcsi_error *err)
{
    stqenet *c = impl_of(model);
    if (!c || !x_hat || !symbols || count < 0)
        return invcsi_error_set(err, INVCSI_EINVAL, "stqenet decode_symbols: bad arguments");
    for (long done = 0; done < count;) {
        const int b = (int)((count - done) < c->max_batch ? (count - done) : c->max_batch);
        const long nm = (long)b * c->m;
        for (long i = 0; i < nm; i++) {
            const uint16_t s = symbols[done * c->m + i];
            if (s >= c->levels)
                return invcsi_error_set(err, INVCSI_EINVAL,
                                        "stqenet decode_symbols: symbol %u out of [0, %d)", s,
                                        c->levels);
            c->uh[i] = (float)s;
        }
        int rc = decoder_forward(c, model->params.data, c->uh, b, INVCSI_BN_INFER,
                                 x_hat + done * c->dim, err);
        if (rc)
            return rc;
        done += b;
    }
    return INVCSI_OK;
}

double invcsi_stqenet_estimate_bits(invcsi_model *model, const uint16_t *symbols)
{
    stqenet *c = impl_of(model);
    if (!c || !symbols)
        return NAN;
    for (int i = 0; i < c->m; i++)
        c->ut[i] = (float)symbols[i];
    float bits = 0.0f;
    if (invcsi_entropy_rate_forward(&bits, NULL, c->ut, model->params.data + c->ent_raw, 1,
                                    c->m, c->levels, c->ent_scratch, NULL) != INVCSI_OK)
        return NAN;
    return bits;
}

double invcsi_stqenet_table_bits(invcsi_model *model, const uint16_t *symbols)
{
    stqenet *c = impl_of(model);
    if (!c || !symbols || ensure_tables(model, NULL) != INVCSI_OK)
        return NAN;
    return invcsi_cdf_ideal_bits(symbols, c->m, c->tables);
}

int invcsi_stqenet_encode_report(invcsi_model *model, const float *x, uint8_t *pdu, size_t cap,
                                 size_t *len, invcsi_error *err)
{
    stqenet *c = impl_of(model);
    if (!c)
        return invcsi_error_set(err, INVCSI_EINVAL, "stqenet encode_report: not an STQENet model");
    if (!x || !pdu || !len)
        return invcsi_error_set(err, INVCSI_EINVAL, "stqenet encode_report: NULL buffer");
    int rc = ensure_tables(model, err);
    if (!rc)
        rc = invcsi_stqenet_symbols(model, x, 1, c->sym, err);
    if (!rc)
        rc = invcsi_report_pack(c->sym, c->m, c->tables, pdu, cap, len, err);
    return rc;
}

int invcsi_stqenet_decode_report_fault(invcsi_model *model, const uint8_t *pdu, size_t len,
                                       float *x_hat, invcsi_report_fault *fault,
                                       invcsi_error *err)
{
    if (fault)
        *fault = INVCSI_REPORT_OK;
    stqenet *c = impl_of(model);
    if (!c)
        return invcsi_error_set(err, INVCSI_EINVAL, "stqenet decode_report: not an STQENet model");
    if ((!pdu && len) || !x_hat)
        return invcsi_error_set(err, INVCSI_EINVAL, "stqenet decode_report: NULL buffer");
    int rc = ensure_tables(model, err);
    if (rc)
        return rc;
    invcsi_report_fault f = INVCSI_REPORT_OK;
    static const uint8_t empty[1] = {0};
    rc = invcsi_report_unpack(pdu ? pdu : empty, len, c->m, c->tables, c->sym, &f, err);
    if (fault)
        *fault = f;
    if (rc) {
        if (f != INVCSI_REPORT_OK) {
            if (err)
                err->code = INVCSI_STQENET_EDROPPED;
            return INVCSI_STQENET_EDROPPED;
        }
        return rc;
    }
    return invcsi_stqenet_decode_symbols(model, c->sym, 1, x_hat, err);
}

int invcsi_stqenet_decode_report(invcsi_model *model, const uint8_t *pdu, size_t len,
                                 float *x_hat, invcsi_error *err)
{
    return invcsi_stqenet_decode_report_fault(model, pdu, len, x_hat, NULL, err);
}
