/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The INN as a whole (front + K coupling blocks, include/invcsi/inn.h) and its entry in
 * the model interface (invcsi_inn_ops, model.h): config defaults and checks, building the
 * parameter table, activations, and the bi-directional training loss of DESIGN.md
 * section 3:
 *   (y, z) = f(x)
 *   L_fwd  = MMD_imq([y, z], [sg(y), n]),  n ~ N(0, I)      (gradient into [y, z] only)
 *   L_bwd  = MSE(f^-1(y, z_bwd), x),       z_bwd = 0 or a fresh N(0, I) sample
 *   total  = mmd_weight L_fwd + mse_weight L_bwd
 * The gradient of L_bwd flows through the inverse pass into the weights and into y, and
 * from there (with L_fwd's) back through the forward pass.
 *
 * Both passes keep their own activations (the inverse sees (y, z_bwd), not (y, z), so its
 * intermediate values differ from the forward's), allocated once by reserve.
 */
#include "invcsi/inn.h"
#include "invcsi/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "invcsi/backend.h"
#include "invcsi/nn.h"
#include "invcsi/rng.h"

#define INN_PREFIX_MAX 24
#define INN_MAX_BLOCKS 64
#define INN_PLANES 2 /* real and imaginary planes of the input tensor */

struct invcsi_inn {
    invcsi_params *p;
    char prefix[INN_PREFIX_MAX];
    int front;               /* INVCSI_INN_FRONT_* */
    int h, w, patch;         /* input planes are h = nr*nt by w = nc */
    int gh, gw, g;           /* patch grid, g = gh*gw positions */
    int channels, c1, c2;    /* 2p^2 = c1 + c2 */
    int dim, m, aux;         /* dim = m + aux; m = c1*g, aux = c2*g */
    int k;                   /* blocks */
    invcsi_inn_coupling blocks[INN_MAX_BLOCKS];
    int perm[INN_MAX_BLOCKS]; /* tensor index of the permutation after block k, or -1 */
    int front_tensor;         /* energy permutation / KLT rotation, or -1 */

    int max_batch;
    const invcsi_backend *be; /* the parameter table's backend at reserve time */
    int owns_mem;             /* mem is this INN's own be->alloc (else a caller's piece) */
    float *mem; /* the one allocation of reserve (backend memory); buffers sized for
                   max_batch, a smaller batch uses the first batch*... floats of each */
    invcsi_inn_coupling_acts fwd[INN_MAX_BLOCKS], inv[INN_MAX_BLOCKS];
    float *v;                                  /* [max_batch][dim] front-side staging */
    float *ga1, *ga2, *gb1, *gb2;              /* gradients at two block sides */
    float *scratch;
};

/* ------------------------------------------------------------------------------------- */
/* Config                                                                                */
/* ------------------------------------------------------------------------------------- */

int invcsi_inn_default_width(int dim, int m)
{
    if (dim == 2048)
        switch (m) {
        case 32: return 21;   /* CR 1/64 */
        case 64: return 22;   /* CR 1/32 */
        case 128: return 24;  /* CR 1/16 */
        case 256: return 30;  /* CR 1/8 */
        case 512: return 44;  /* CR 1/4 */
        default: break;
        }
    return INVCSI_INN_WIDTH_DEFAULT;
}

int invcsi_inn_front_parse(const char *name, int *front, invcsi_error *err)
{
    if (name && !strcmp(name, "patch"))
        *front = INVCSI_INN_FRONT_PATCH;
    else if (name && !strcmp(name, "energy"))
        *front = INVCSI_INN_FRONT_ENERGY;
    else if (name && !strcmp(name, "klt"))
        *front = INVCSI_INN_FRONT_KLT;
    else
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "INN front \"%s\" is unknown (known: patch, energy, klt)",
                                name ? name : "(null)");
    return INVCSI_OK;
}

int invcsi_inn_check_config(const invcsi_model_config *cfg, invcsi_error *err)
{
    int front;
    int rc = invcsi_inn_front_parse(cfg->front, &front, err);
    if (rc != INVCSI_OK)
        return rc;
    const int h = cfg->nr * cfg->nt, w = cfg->nc, p = cfg->patch;
    if (cfg->nr < 1 || cfg->nt < 1 || cfg->nc < 1 || cfg->dim != INN_PLANES * h * w)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "INN config: dim %d does not match 2 x nr %d x nt %d x nc %d",
                                cfg->dim, cfg->nr, cfg->nt, cfg->nc);
    if (p < 1 || h % p || w % p)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "INN config: patch size %d must divide nr*nt = %d and nc = %d",
                                p, h, w);
    const int g = (h / p) * (w / p), channels = INN_PLANES * p * p;
    if (cfg->m < 1 || cfg->m % g)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "INN config: latent size M = %d must be a positive multiple of "
                                "the %d x %d = %d patch positions (dim %d, patch %d): choose a "
                                "compression ratio or patch size that fits",
                                cfg->m, h / p, w / p, g, cfg->dim, p);
    if (cfg->m / g >= channels)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "INN config: latent size M = %d leaves no auxiliary part "
                                "(needs M < dim = %d)",
                                cfg->m, cfg->dim);
    if (cfg->blocks < 1 || cfg->blocks > INN_MAX_BLOCKS)
        return invcsi_error_set(err, INVCSI_EINVAL, "INN config: blocks %d must be in [1, %d]",
                                cfg->blocks, INN_MAX_BLOCKS);
    if (cfg->width < 1 || cfg->width > 4096)
        return invcsi_error_set(err, INVCSI_EINVAL, "INN config: width %d must be in [1, 4096]",
                                cfg->width);
    if (!(cfg->clamp > 0.0f && isfinite(cfg->clamp)))
        return invcsi_error_set(err, INVCSI_EINVAL, "INN config: clamp %g must be > 0",
                                cfg->clamp);
    if (!(cfg->leaky_slope >= 0.0f && cfg->leaky_slope < 1.0f))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "INN config: leaky_slope %g must be in [0, 1)", cfg->leaky_slope);
    if (cfg->permute != 0 && cfg->permute != 1)
        return invcsi_error_set(err, INVCSI_EINVAL, "INN config: permute %d must be 0 or 1",
                                cfg->permute);
    if (cfg->z_bwd_sample != 0 && cfg->z_bwd_sample != 1)
        return invcsi_error_set(err, INVCSI_EINVAL, "INN config: z_bwd_sample %d must be 0 or 1",
                                cfg->z_bwd_sample);
    if (!(cfg->mmd_weight >= 0.0f && isfinite(cfg->mmd_weight)) ||
        !(cfg->mse_weight >= 0.0f && isfinite(cfg->mse_weight)))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "INN config: mmd_weight %g and mse_weight %g must be >= 0",
                                cfg->mmd_weight, cfg->mse_weight);
    return INVCSI_OK;
}

long invcsi_inn_param_count(const invcsi_model_config *cfg)
{
    if (invcsi_inn_check_config(cfg, NULL) != INVCSI_OK)
        return -1;
    const int p = cfg->patch, g = (cfg->nr * cfg->nt / p) * (cfg->nc / p);
    const int c1 = cfg->m / g, c2 = INN_PLANES * p * p - c1;
    const long block = invcsi_inn_subnet_param_count(c2, c1, cfg->width) +
                       2 * invcsi_inn_subnet_param_count(c1, c2, cfg->width);
    return block * cfg->blocks;
}

/* ------------------------------------------------------------------------------------- */
/* Building                                                                              */
/* ------------------------------------------------------------------------------------- */

static int add_frozen(invcsi_params *p, const char *name, int rank, const int shape[],
                      invcsi_error *err)
{
    int rc = invcsi_params_add(p, name, rank, shape, NULL, err);
    if (rc != INVCSI_OK)
        return rc;
    p->tensors[p->n_tensors - 1].frozen = 1;
    return p->n_tensors - 1;
}

int invcsi_inn_create(invcsi_inn **out, const invcsi_model_config *cfg, invcsi_params *p,
                      const char *prefix, invcsi_error *err)
{
    *out = NULL;
    int rc = invcsi_inn_check_config(cfg, err);
    if (rc != INVCSI_OK)
        return rc;
    if (!prefix || strlen(prefix) >= INN_PREFIX_MAX)
        return invcsi_error_set(err, INVCSI_EINVAL, "INN: tensor prefix must be 1..%d chars",
                                INN_PREFIX_MAX - 1);
    invcsi_inn *inn = calloc(1, sizeof *inn);
    if (!inn)
        return invcsi_error_set(err, INVCSI_ENOMEM, "INN: out of memory");
    inn->p = p;
    snprintf(inn->prefix, sizeof inn->prefix, "%s", prefix);
    invcsi_inn_front_parse(cfg->front, &inn->front, NULL);
    inn->h = cfg->nr * cfg->nt;
    inn->w = cfg->nc;
    inn->patch = cfg->patch;
    inn->gh = inn->h / inn->patch;
    inn->gw = inn->w / inn->patch;
    inn->g = inn->gh * inn->gw;
    inn->channels = INN_PLANES * inn->patch * inn->patch;
    inn->c1 = cfg->m / inn->g;
    inn->c2 = inn->channels - inn->c1;
    inn->dim = cfg->dim;
    inn->m = cfg->m;
    inn->aux = cfg->dim - cfg->m;
    inn->k = cfg->blocks;
    inn->front_tensor = -1;

    char name[INVCSI_PARAM_NAME_MAX];
    for (int k = 0; k < inn->k && rc == INVCSI_OK; k++) {
        snprintf(name, sizeof name, "%s.%d", prefix, k);
        rc = invcsi_inn_coupling_build(&inn->blocks[k], p, name, inn->c1, inn->c2, inn->gh,
                                       inn->gw, cfg->width, cfg->clamp, cfg->leaky_slope, err);
        inn->perm[k] = -1;
        if (rc == INVCSI_OK && cfg->permute && k < inn->k - 1) {
            snprintf(name, sizeof name, "%s.perm.%d", prefix, k);
            int idx = add_frozen(p, name, 1, (int[]){inn->channels}, err);
            if (idx < 0)
                rc = idx;
            else
                inn->perm[k] = idx;
        }
    }
    if (rc == INVCSI_OK && inn->front != INVCSI_INN_FRONT_PATCH) {
        const int klt = inn->front == INVCSI_INN_FRONT_KLT;
        snprintf(name, sizeof name, "%s.front.%s", prefix, klt ? "klt" : "perm");
        int idx = klt ? add_frozen(p, name, 2, (int[]){inn->dim, inn->dim}, err)
                      : add_frozen(p, name, 1, (int[]){inn->dim}, err);
        if (idx < 0)
            rc = idx;
        else
            inn->front_tensor = idx;
    }
    if (rc != INVCSI_OK) {
        free(inn);
        return rc;
    }
    *out = inn;
    return INVCSI_OK;
}

static const invcsi_backend *params_backend(const invcsi_params *p)
{
    return p->be ? p->be : invcsi_backend_cpu();
}

long invcsi_inn_mem_floats(const invcsi_inn *inn, int max_batch)
{
    const long bd = (long)max_batch * inn->dim;
    const long acts = invcsi_inn_coupling_act_floats(&inn->blocks[0], max_batch);
    const long scratch = invcsi_inn_coupling_scratch_floats(&inn->blocks[0], max_batch);
    return 2L * inn->k * acts + 3 * bd + scratch;
}

static void release_mem(invcsi_inn *inn)
{
    if (inn->owns_mem && inn->mem)
        inn->be->free(inn->mem);
    inn->mem = NULL;
    inn->owns_mem = 0;
    inn->max_batch = 0;
}

int invcsi_inn_reserve_in(invcsi_inn *inn, int max_batch, float *buf, invcsi_error *err)
{
    if (max_batch < 1)
        return invcsi_error_set(err, INVCSI_EINVAL, "INN: max_batch %d must be >= 1", max_batch);
    release_mem(inn);
    inn->be = params_backend(inn->p);
    const long bd = (long)max_batch * inn->dim;
    const long acts = invcsi_inn_coupling_act_floats(&inn->blocks[0], max_batch);
    inn->mem = buf;
    float *at = inn->mem;
    for (int k = 0; k < inn->k; k++) {
        invcsi_inn_coupling_acts_bind(&inn->fwd[k], &inn->blocks[k], max_batch, at);
        at += acts;
        invcsi_inn_coupling_acts_bind(&inn->inv[k], &inn->blocks[k], max_batch, at);
        at += acts;
    }
    const long n1 = (long)max_batch * inn->m;
    inn->v = at;
    at += bd;
    inn->ga1 = at;
    inn->ga2 = at + n1;
    at += bd;
    inn->gb1 = at;
    inn->gb2 = at + n1;
    at += bd;
    inn->scratch = at;
    inn->max_batch = max_batch;
    return INVCSI_OK;
}

int invcsi_inn_reserve(invcsi_inn *inn, int max_batch, invcsi_error *err)
{
    if (max_batch < 1)
        return invcsi_error_set(err, INVCSI_EINVAL, "INN: max_batch %d must be >= 1", max_batch);
    release_mem(inn);
    const invcsi_backend *be = params_backend(inn->p);
    const long total = invcsi_inn_mem_floats(inn, max_batch);
    void *mem = NULL;
    invcsi_error why;
    if (be->alloc(&mem, sizeof(float) * (size_t)total, &why) != INVCSI_OK)
        return invcsi_error_set(err, INVCSI_ENOMEM,
                                "INN: out of memory for the activations of %d reports (%.1f MB): "
                                "%s",
                                max_batch, total * 4.0 / 1e6, why.msg);
    invcsi_inn_reserve_in(inn, max_batch, mem, NULL);
    inn->owns_mem = 1;
    return INVCSI_OK;
}

void invcsi_inn_init(invcsi_inn *inn, uint64_t seed, float last_gain)
{
    invcsi_params *p = inn->p;
    for (int k = 0; k < inn->k; k++) {
        invcsi_inn_coupling_init(&inn->blocks[k], p, seed, last_gain);
        if (inn->perm[k] >= 0) {
            /* a seeded Fisher-Yates shuffle, in place in the (float) table */
            float *perm = invcsi_tensor_data(p, &p->tensors[inn->perm[k]]);
            const int c = inn->channels;
            for (int i = 0; i < c; i++)
                perm[i] = (float)i;
            invcsi_rng r;
            invcsi_rng_init(&r, seed, 0x5045524d00000000ULL | (uint64_t)k); /* "PERM" | k */
            for (int i = c - 1; i > 0; i--) {
                const int j = (int)invcsi_rng_below(&r, (uint64_t)i + 1);
                const float t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
            }
        }
    }
}

void invcsi_inn_reset_front(invcsi_inn *inn)
{
    if (inn->front_tensor < 0)
        return;
    /* identity until fit_front: a plain channel-major view of the input */
    float *t = invcsi_tensor_data(inn->p, &inn->p->tensors[inn->front_tensor]);
    if (inn->front == INVCSI_INN_FRONT_ENERGY) {
        for (int i = 0; i < inn->dim; i++)
            t[i] = (float)i;
    } else {
        memset(t, 0, sizeof(float) * (size_t)inn->dim * inn->dim);
        for (int i = 0; i < inn->dim; i++)
            t[(long)i * inn->dim + i] = 1.0f;
    }
}

int invcsi_inn_fit_front(invcsi_inn *inn, const float *x, long n, invcsi_error *err)
{
    if (inn->front_tensor < 0)
        return INVCSI_OK;
    float *t = invcsi_tensor_data(inn->p, &inn->p->tensors[inn->front_tensor]);
    if (inn->front == INVCSI_INN_FRONT_ENERGY)
        return invcsi_energy_order(t, x, n, inn->dim, err);
    return invcsi_klt_fit(t, x, n, inn->dim, err);
}

void invcsi_inn_free(invcsi_inn *inn)
{
    if (!inn)
        return;
    release_mem(inn);
    free(inn);
}

int invcsi_inn_dim(const invcsi_inn *inn) { return inn->dim; }
int invcsi_inn_latent(const invcsi_inn *inn) { return inn->m; }
int invcsi_inn_aux(const invcsi_inn *inn) { return inn->aux; }
int invcsi_inn_max_batch(const invcsi_inn *inn) { return inn->max_batch; }
int invcsi_inn_blocks(const invcsi_inn *inn) { return inn->k; }
const invcsi_inn_coupling *invcsi_inn_block(const invcsi_inn *inn, int k)
{
    return k >= 0 && k < inn->k ? &inn->blocks[k] : NULL;
}

const invcsi_inn_coupling_acts *invcsi_inn_pass_acts(const invcsi_inn *inn, int inverse, int k)
{
    if (!inn->mem || k < 0 || k >= inn->k)
        return NULL;
    return inverse ? &inn->inv[k] : &inn->fwd[k];
}

/* ------------------------------------------------------------------------------------- */
/* Passes                                                                                */
/* ------------------------------------------------------------------------------------- */

/* Every pass below runs through the backend of the parameter table (inn->be, fixed at
 * reserve) on buffers in its memory: the weights are the table's compute-side buffers, the
 * activations live in mem, and x, y, z, xhat given by the caller must be backend memory too
 * (host memory for the CPU table, which is what the host callers use). */

static const float *tensor_ro(const invcsi_inn *inn, int idx)
{
    return invcsi_params_cdata(inn->p) + inn->p->tensors[idx].offset;
}

/* out = front(in), [batch][dim] each. */
static void front_forward(const invcsi_inn *inn, float *out, const float *in, int batch)
{
    switch (inn->front) {
    case INVCSI_INN_FRONT_ENERGY:
        invcsi_gather_be(inn->be, out, in, tensor_ro(inn, inn->front_tensor), batch, inn->dim);
        break;
    case INVCSI_INN_FRONT_KLT:
        invcsi_rotate_be(inn->be, out, in, tensor_ro(inn, inn->front_tensor), batch, inn->dim);
        break;
    default:
        invcsi_patchify_be(inn->be, out, in, batch, INN_PLANES, inn->h, inn->w, inn->patch);
    }
}

/* out = front^-1(in). */
static void front_inverse(const invcsi_inn *inn, float *out, const float *in, int batch)
{
    switch (inn->front) {
    case INVCSI_INN_FRONT_ENERGY:
        invcsi_scatter_be(inn->be, out, in, tensor_ro(inn, inn->front_tensor), batch, inn->dim);
        break;
    case INVCSI_INN_FRONT_KLT:
        invcsi_rotate_inverse_be(inn->be, out, in, tensor_ro(inn, inn->front_tensor), batch,
                                 inn->dim);
        break;
    default:
        invcsi_unpatchify_be(inn->be, out, in, batch, INN_PLANES, inn->h, inn->w, inn->patch);
    }
}

/* v [batch][dim] (channel-major [C][G] per report) -> halves [batch][m], [batch][aux]. */
static void split(const invcsi_inn *inn, const float *v, float *h1, float *h2, int batch)
{
    invcsi_split_rows_be(inn->be, v, h1, inn->m, h2, inn->aux, batch);
}

static void merge(const invcsi_inn *inn, float *v, const float *h1, const float *h2, int batch)
{
    invcsi_concat_rows_be(inn->be, v, h1, inn->m, h2, inn->aux, batch);
}

static void copy_floats(const invcsi_inn *inn, float *dst, const float *src, long n)
{
    inn->be->kern->copy_rows(dst, src, 1, n, 0, 0);
}

/* Moves a state between blocks: with perm (tensor index >= 0) dst channel j = src
 * channel perm[j] (forward) or dst channel perm[j] = src channel j (inverse); without,
 * a copy. */
static void transfer(const invcsi_inn *inn, int perm_idx, int inverse, const float *s1,
                     const float *s2, float *d1, float *d2, int batch)
{
    if (perm_idx < 0) {
        copy_floats(inn, d1, s1, (long)batch * inn->m);
        copy_floats(inn, d2, s2, (long)batch * inn->aux);
        return;
    }
    inn->be->kern->channel_perm(s1, s2, d1, d2, tensor_ro(inn, perm_idx), batch, inn->channels,
                                inn->c1, inn->g, inverse);
}

static int check_batch(const invcsi_inn *inn, const char *fn, int batch, invcsi_error *err)
{
    if (!inn->mem)
        return invcsi_error_set(err, INVCSI_EINVAL, "INN %s: no activations (reserve first)", fn);
    if (inn->be != params_backend(inn->p))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "INN %s: the parameters moved to backend %s after reserve (%s): "
                                "reserve again",
                                fn, params_backend(inn->p)->name, inn->be->name);
    if (batch < 1 || batch > inn->max_batch)
        return invcsi_error_set(err, INVCSI_EINVAL, "INN %s: batch %d outside [1, %d]", fn,
                                batch, inn->max_batch);
    return INVCSI_OK;
}

int invcsi_inn_forward(invcsi_inn *inn, const float *x, int batch, float *y, float *z,
                       invcsi_error *err)
{
    int rc = check_batch(inn, "forward", batch, err);
    if (rc != INVCSI_OK)
        return rc;
    front_forward(inn, inn->v, x, batch);
    split(inn, inn->v, inn->fwd[0].x1, inn->fwd[0].x2, batch);
    for (int k = 0; k < inn->k; k++) {
        invcsi_inn_coupling_acts *a = &inn->fwd[k];
        rc = invcsi_inn_coupling_forward(&inn->blocks[k], inn->p, a, batch, inn->scratch, err);
        if (rc != INVCSI_OK)
            return rc;
        if (k + 1 < inn->k)
            transfer(inn, inn->perm[k], 0, a->y1, a->y2, inn->fwd[k + 1].x1, inn->fwd[k + 1].x2,
                     batch);
    }
    const invcsi_inn_coupling_acts *last = &inn->fwd[inn->k - 1];
    if (y)
        copy_floats(inn, y, last->y1, (long)batch * inn->m);
    if (z)
        copy_floats(inn, z, last->y2, (long)batch * inn->aux);
    return INVCSI_OK;
}

int invcsi_inn_backward(invcsi_inn *inn, int batch, const float *dy, const float *dz,
                        invcsi_error *err)
{
    int rc = check_batch(inn, "backward", batch, err);
    if (rc != INVCSI_OK)
        return rc;
    const invcsi_kernels *kn = inn->be->kern;
    const long n1 = (long)batch * inn->m, n2 = (long)batch * inn->aux;
    float *g1 = inn->ga1, *g2 = inn->ga2, *h1 = inn->gb1, *h2 = inn->gb2;
    if (dy)
        copy_floats(inn, g1, dy, n1);
    else
        kn->fill(g1, n1, 0.0f);
    if (dz)
        copy_floats(inn, g2, dz, n2);
    else
        kn->fill(g2, n2, 0.0f);
    for (int k = inn->k - 1; k >= 0; k--) {
        /* block 0's input is the data: no gradient wanted there */
        if (k > 0) {
            kn->fill(h1, n1, 0.0f);
            kn->fill(h2, n2, 0.0f);
        }
        rc = invcsi_inn_coupling_backward(&inn->blocks[k], inn->p, &inn->fwd[k], batch, g1, g2,
                                          k > 0 ? h1 : NULL, k > 0 ? h2 : NULL, inn->scratch,
                                          err);
        if (rc != INVCSI_OK)
            return rc;
        if (k > 0) {
            /* x_k = P y_{k-1}  =>  d y_{k-1} = P^T d x_k, the inverse move */
            if (inn->perm[k - 1] >= 0) {
                transfer(inn, inn->perm[k - 1], 1, h1, h2, g1, g2, batch);
            } else {
                float *t = g1; g1 = h1; h1 = t;
                t = g2; g2 = h2; h2 = t;
            }
        }
    }
    return INVCSI_OK;
}

int invcsi_inn_inverse(invcsi_inn *inn, const float *y, const float *z, int batch, float *xhat,
                       invcsi_error *err)
{
    int rc = check_batch(inn, "inverse", batch, err);
    if (rc != INVCSI_OK)
        return rc;
    invcsi_inn_coupling_acts *last = &inn->inv[inn->k - 1];
    copy_floats(inn, last->y1, y, (long)batch * inn->m);
    if (z)
        copy_floats(inn, last->y2, z, (long)batch * inn->aux);
    else
        inn->be->kern->fill(last->y2, (long)batch * inn->aux, 0.0f);
    for (int k = inn->k - 1; k >= 0; k--) {
        invcsi_inn_coupling_acts *a = &inn->inv[k];
        rc = invcsi_inn_coupling_inverse(&inn->blocks[k], inn->p, a, batch, inn->scratch, err);
        if (rc != INVCSI_OK)
            return rc;
        if (k > 0)
            transfer(inn, inn->perm[k - 1], 1, a->x1, a->x2, inn->inv[k - 1].y1,
                     inn->inv[k - 1].y2, batch);
    }
    merge(inn, inn->v, inn->inv[0].x1, inn->inv[0].x2, batch);
    front_inverse(inn, xhat, inn->v, batch);
    return INVCSI_OK;
}

int invcsi_inn_inverse_backward(invcsi_inn *inn, int batch, const float *dxhat, float *dy,
                                float *dz, invcsi_error *err)
{
    int rc = check_batch(inn, "inverse_backward", batch, err);
    if (rc != INVCSI_OK)
        return rc;
    const invcsi_kernels *kn = inn->be->kern;
    const long n1 = (long)batch * inn->m, n2 = (long)batch * inn->aux;
    float *g1 = inn->ga1, *g2 = inn->ga2, *h1 = inn->gb1, *h2 = inn->gb2;
    /* the front is orthogonal: the adjoint of its inverse is the front itself */
    front_forward(inn, inn->v, dxhat, batch);
    split(inn, inn->v, g1, g2, batch);
    for (int k = 0; k < inn->k; k++) {
        kn->fill(h1, n1, 0.0f);
        kn->fill(h2, n2, 0.0f);
        rc = invcsi_inn_coupling_inverse_backward(&inn->blocks[k], inn->p, &inn->inv[k], batch,
                                                  g1, g2, h1, h2, inn->scratch, err);
        if (rc != INVCSI_OK)
            return rc;
        if (k + 1 < inn->k) {
            /* y_k = P^-1 x_{k+1}  =>  d x_{k+1} = P d y_k, the forward move */
            if (inn->perm[k] >= 0) {
                transfer(inn, inn->perm[k], 0, h1, h2, g1, g2, batch);
            } else {
                float *t = g1; g1 = h1; h1 = t;
                t = g2; g2 = h2; h2 = t;
            }
        }
    }
    if (dy)
        kn->add_scaled(dy, dy, h1, n1, 1.0f);
    if (dz)
        kn->add_scaled(dz, dz, h2, n2, 1.0f);
    return INVCSI_OK;
}

/* ------------------------------------------------------------------------------------- */
/* The model interface                                                                   */
/* ------------------------------------------------------------------------------------- */

/* The model's buffers. All but `stage` and `host_losses` live in ONE allocation of the
 * parameter table's backend together with the INN's activations (inn_reserve), so with a
 * device arena the whole step stays on the device. */
typedef struct inn_model {
    invcsi_inn *inn;
    int max_batch;
    const invcsi_backend *be;
    float *mem;          /* backend memory: the INN's part, then the pieces below */
    float *x;            /* [batch][dim] the step's batch   } contiguous: the step's one */
    float *noise;        /* n, the MMD's target for z       } upload from `stage`      */
    float *zbwd;         /* z_bwd when sampled              }                          */
    float *y, *z;        /* forward outputs */
    float *dz;           /* shares zbwd: dz is needed only after z_bwd has been used */
    float *a, *b, *da;   /* [y|z], [y|n], d[y|z]: [batch][dim] */
    float *dy;
    float *xhat, *dxhat; /* [batch][dim] */
    float *mmd_scratch;
    double *sse_e, *sse_p; /* per report, for L_bwd and the NMSE */
    double *losses;      /* [0] L_fwd (MMD), [1] sum of squared errors, [2] NMSE sum */
    float *stage;        /* host: x, noise, z_bwd as they go up */
    void *graph;         /* run_step handle of the step */
} inn_model;

invcsi_inn *invcsi_inn_of_model(invcsi_model *m)
{
    if (!m || m->ops != &invcsi_inn_ops || !m->impl)
        return NULL;
    return ((inn_model *)m->impl)->inn;
}

static void inn_config_default(invcsi_model_config *cfg, double cr)
{
    (void)cr; /* m = round(dim * cr) is already in cfg */
    cfg->patch = 8;
    cfg->blocks = 3;
    cfg->width = invcsi_inn_default_width(cfg->dim, cfg->m);
    cfg->clamp = INVCSI_SOFT_CLAMP_DEFAULT;
    cfg->leaky_slope = INVCSI_LEAKY_SLOPE_INN;
    snprintf(cfg->front, sizeof cfg->front, "patch");
    cfg->permute = 0;
    cfg->z_bwd_sample = 0;
    cfg->mmd_weight = 1.0f;
    cfg->mse_weight = 1.0f;
}

static int inn_check(const invcsi_model_config *cfg, invcsi_error *err)
{
    return invcsi_inn_check_config(cfg, err);
}

static void free_buffers(inn_model *im)
{
    if (im->graph)
        im->be->graph_free(im->graph);
    im->graph = NULL;
    if (im->mem)
        im->be->free(im->mem);
    im->mem = NULL;
    free(im->stage);
    im->stage = NULL;
}

static void inn_release(invcsi_model *m)
{
    inn_model *im = m->impl;
    if (!im)
        return;
    invcsi_inn_free(im->inn); /* its activations are a piece of im->mem: not its to free */
    free_buffers(im);
    free(im);
    m->impl = NULL;
}

static int inn_build(invcsi_model *m, invcsi_error *err)
{
    inn_model *im = calloc(1, sizeof *im);
    if (!im)
        return invcsi_error_set(err, INVCSI_ENOMEM, "INN: out of memory");
    m->impl = im;
    return invcsi_inn_create(&im->inn, &m->cfg, &m->params, "inn", err);
}

/* Pieces are rounded to 16 floats (64 bytes): aligned for vector loads and for the
 * doubles. */
static long piece(long floats) { return (floats + 15) / 16 * 16; }

static int inn_reserve(invcsi_model *m, int max_batch, invcsi_error *err)
{
    inn_model *im = m->impl;
    free_buffers(im);
    im->be = m->params.be ? m->params.be : invcsi_backend_cpu();
    const long dim = m->cfg.dim, mm = m->cfg.m, aux = dim - mm, B = max_batch;
    const long mmd = B >= 2 ? invcsi_mmd_scratch_floats(max_batch) : 0;
    const long inn_floats = piece(invcsi_inn_mem_floats(im->inn, max_batch));
    const long up = piece(B * dim + 2 * B * aux); /* x, noise, z_bwd */
    const long total = inn_floats + up + piece(B * mm) * 2 + piece(B * aux) +
                       5 * piece(B * dim) + piece(mmd) + 2 * piece(2 * B) + piece(2 * 4);
    void *mem = NULL;
    invcsi_error why;
    if (im->be->alloc(&mem, sizeof(float) * (size_t)total, &why) != INVCSI_OK)
        return invcsi_error_set(err, INVCSI_ENOMEM,
                                "INN: out of memory for %d reports (%.1f MB on %s): %s",
                                max_batch, total * 4.0 / 1e6, im->be->name, why.msg);
    im->mem = mem;
    im->stage = calloc((size_t)up, sizeof(float)); /* rows past a short batch go up as 0 */
    if (!im->stage)
        return invcsi_error_set(err, INVCSI_ENOMEM, "INN: out of memory for %d reports",
                                max_batch);
    int rc = invcsi_inn_reserve_in(im->inn, max_batch, im->mem, err);
    if (rc != INVCSI_OK)
        return rc;
    float *at = im->mem + inn_floats;
    im->x = at;
    im->noise = at + B * dim;
    im->zbwd = im->noise + B * aux;
    at += up;
    im->dz = im->zbwd;
    im->y = at;      at += piece(B * mm);
    im->dy = at;     at += piece(B * mm);
    im->z = at;      at += piece(B * aux);
    im->a = at;      at += piece(B * dim);
    im->b = at;      at += piece(B * dim);
    im->da = at;     at += piece(B * dim);
    im->xhat = at;   at += piece(B * dim);
    im->dxhat = at;  at += piece(B * dim);
    im->mmd_scratch = at; at += piece(mmd);
    im->sse_e = (double *)at; at += piece(2 * B);
    im->sse_p = (double *)at; at += piece(2 * B);
    im->losses = (double *)at;
    im->max_batch = max_batch;
    return INVCSI_OK;
}

static void inn_init(invcsi_model *m)
{
    inn_model *im = m->impl;
    invcsi_inn_init(im->inn, m->cfg.seed, 0.0f);
    invcsi_inn_reset_front(im->inn);
    /* the host buffers are the ones written: a device arena takes them (init is void; a
     * failure shows in the next synchronize) */
    invcsi_params_from_host(&m->params, NULL);
}

static int inn_fit_front(invcsi_model *m, const float *x, long n, invcsi_error *err)
{
    inn_model *im = m->impl;
    int rc = invcsi_params_to_host(&m->params, err);
    if (rc == INVCSI_OK)
        rc = invcsi_inn_fit_front(im->inn, x, n, err);
    if (rc == INVCSI_OK)
        rc = invcsi_params_from_host(&m->params, err);
    return rc;
}

/* The device part of a training step: everything between the upload of (x, noise, z_bwd)
 * and the download of the loss scalars, queued on the backend with arguments that are the
 * same every step of a batch size (so run_step may capture it once and replay it). */
typedef struct {
    invcsi_model *m;
    int batch;
} inn_step_ctx;

static int inn_step_device(void *ctx, invcsi_error *err)
{
    const inn_step_ctx *c = ctx;
    invcsi_model *m = c->m;
    inn_model *im = m->impl;
    const invcsi_backend *be = im->be;
    const invcsi_model_config *cfg = &m->cfg;
    const int batch = c->batch, dim = cfg->dim, mm = cfg->m, aux = dim - mm;
    const long nx = (long)batch * dim;

    /* forward */
    int rc = invcsi_inn_forward(im->inn, im->x, batch, im->y, im->z, err);
    if (rc != INVCSI_OK)
        return rc;

    /* L_fwd = MMD([y, z], [sg(y), n]) */
    invcsi_concat_rows_be(be, im->a, im->y, mm, im->z, aux, batch);
    invcsi_concat_rows_be(be, im->b, im->y, mm, im->noise, aux, batch);
    rc = invcsi_mmd_imq_forward_be(be, &im->losses[0], im->a, im->b, batch, dim, NULL, 0,
                                   im->mmd_scratch, err);
    if (rc != INVCSI_OK)
        return rc;

    /* L_bwd = MSE(f^-1(y, z_bwd), x), and the batch's NMSE sum, in double */
    rc = invcsi_inn_inverse(im->inn, im->y, cfg->z_bwd_sample ? im->zbwd : NULL, batch,
                            im->xhat, err);
    if (rc != INVCSI_OK)
        return rc;
    be->kern->report_sse(im->x, im->xhat, batch, dim, im->sse_e, im->sse_p);
    be->kern->sse_finish(im->sse_e, im->sse_p, batch, &im->losses[1]);

    /* gradients: d[y, z] from the MMD (y's copy in b is the stop-gradient side) ... */
    be->kern->fill(im->da, nx, 0.0f);
    if (cfg->mmd_weight != 0.0f) {
        rc = invcsi_mmd_imq_backward_be(be, im->da, NULL, cfg->mmd_weight, im->a, im->b, batch,
                                        dim, NULL, 0, im->mmd_scratch, err);
        if (rc != INVCSI_OK)
            return rc;
    }
    /* dz overwrites z_bwd: used already */
    invcsi_split_rows_be(be, im->da, im->dy, mm, im->dz, aux, batch);

    /* ... plus the MSE's, through the inverse pass into the weights and y ... */
    if (cfg->mse_weight != 0.0f) {
        be->kern->fill(im->dxhat, nx, 0.0f);
        rc = invcsi_mse_backward_be(be, im->dxhat, NULL, cfg->mse_weight, im->xhat, im->x, nx,
                                    err);
        if (rc == INVCSI_OK)
            rc = invcsi_inn_inverse_backward(im->inn, batch, im->dxhat, im->dy, NULL, err);
        if (rc != INVCSI_OK)
            return rc;
    }
    /* ... and all of it back through the forward pass */
    return invcsi_inn_backward(im->inn, batch, im->dy, im->dz, err);
}

/* One step: ONE upload (the batch and the step's noise, staged contiguously), the device
 * part (captured as a graph on CUDA), ONE download (the three loss scalars). */
static int inn_train_step(invcsi_model *m, const float *x, int batch, invcsi_rng *rng,
                          invcsi_losses *out, invcsi_error *err)
{
    inn_model *im = m->impl;
    const invcsi_model_config *cfg = &m->cfg;
    const int dim = cfg->dim, mm = cfg->m, aux = dim - mm;
    if (batch < 2 || batch > im->max_batch)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "INN train_step: batch %d outside [2, %d] (the MMD estimate "
                                "needs two reports)",
                                batch, im->max_batch);
    if (!m->params.grad)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "INN train_step: the model has no gradient buffers (finalized "
                                "for inference)");
    if (im->be != (m->params.be ? m->params.be : invcsi_backend_cpu()))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "INN train_step: the parameters changed backend after reserve");
    const long nz = (long)batch * aux, nx = (long)batch * dim;
    const long B = im->max_batch;

    /* the step's noise: n first, then z_bwd (when sampled), sample-major; staged with x in
     * the device layout (x [B][dim] | n [B][aux] | z_bwd [B][aux]) */
    float *sx = im->stage, *sn = sx + B * dim, *sz = sn + B * aux;
    memcpy(sx, x, sizeof(float) * (size_t)nx);
    for (long i = 0; i < nz; i++)
        sn[i] = (float)invcsi_rng_normal(rng);
    if (cfg->z_bwd_sample)
        for (long i = 0; i < nz; i++)
            sz[i] = (float)invcsi_rng_normal(rng);
    const long up = cfg->z_bwd_sample ? B * dim + B * aux + nz : B * dim + nz;
    int rc = im->be->copy_to_device(im->x, im->stage, sizeof(float) * (size_t)up, err);
    if (rc != INVCSI_OK)
        return rc;

    inn_step_ctx ctx = {m, batch};
    rc = im->be->run_step(&im->graph, batch, inn_step_device, &ctx, err);
    if (rc != INVCSI_OK)
        return rc;

    double l[3];
    rc = im->be->copy_to_host(l, im->losses, sizeof l, err);
    if (rc == INVCSI_OK)
        rc = im->be->synchronize(err);
    if (rc != INVCSI_OK)
        return rc;
    const double mmd = l[0], mse = l[1] / (double)nx;
    if (out) {
        out->mmd = mmd;
        out->mse = mse;
        out->total = (double)cfg->mmd_weight * mmd + (double)cfg->mse_weight * mse;
        out->nmse_sum = l[2];
    }
    return INVCSI_OK;
}

/* Inference: host buffers in and out. With a device arena the reports go up into the step's
 * buffers and the result comes down (one copy each way per call); on the CPU table the
 * INN works on the caller's buffers directly. */
static int inn_encode(invcsi_model *m, const float *x, int batch, float *y, invcsi_error *err)
{
    inn_model *im = m->impl;
    if (!m->params.dev)
        return invcsi_inn_forward(im->inn, x, batch, y, NULL, err);
    if (batch < 1 || batch > im->max_batch)
        return invcsi_error_set(err, INVCSI_EINVAL, "INN encode: batch %d outside [1, %d]",
                                batch, im->max_batch);
    const size_t nx = (size_t)batch * m->cfg.dim, ny = (size_t)batch * m->cfg.m;
    int rc = im->be->copy_to_device(im->x, x, sizeof(float) * nx, err);
    if (rc == INVCSI_OK)
        rc = invcsi_inn_forward(im->inn, im->x, batch, im->y, NULL, err);
    if (rc == INVCSI_OK)
        rc = im->be->copy_to_host(y, im->y, sizeof(float) * ny, err);
    return rc == INVCSI_OK ? im->be->synchronize(err) : rc;
}

static int inn_decode(invcsi_model *m, const float *y, int batch, float *xhat,
                      invcsi_error *err)
{
    inn_model *im = m->impl;
    if (!m->params.dev)
        return invcsi_inn_inverse(im->inn, y, NULL, batch, xhat, err);
    if (batch < 1 || batch > im->max_batch)
        return invcsi_error_set(err, INVCSI_EINVAL, "INN decode: batch %d outside [1, %d]",
                                batch, im->max_batch);
    const size_t nx = (size_t)batch * m->cfg.dim, ny = (size_t)batch * m->cfg.m;
    int rc = im->be->copy_to_device(im->dy, y, sizeof(float) * ny, err);
    if (rc == INVCSI_OK)
        rc = invcsi_inn_inverse(im->inn, im->dy, NULL, batch, im->xhat, err);
    if (rc == INVCSI_OK)
        rc = im->be->copy_to_host(xhat, im->xhat, sizeof(float) * nx, err);
    return rc == INVCSI_OK ? im->be->synchronize(err) : rc;
}

const invcsi_model_ops invcsi_inn_ops = {
    .kind = "inn",
    .config_default = inn_config_default,
    .check = inn_check,
    .build = inn_build,
    .reserve = inn_reserve,
    .init = inn_init,
    .fit_front = inn_fit_front,
    .train_step = inn_train_step,
    .encode = inn_encode,
    .decode = inn_decode,
    .release = inn_release,
};
