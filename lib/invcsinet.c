/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * InvCSINet (DESIGN.md section 4, include/invcsi/invcsinet.h): the INN of inn.h, a learned
 * per-dimension latent normalisation, the DAQ (daq.h), D-BCD (dbcd.h) in training, the IC
 * (ic.h: LAN + learned z prior), assembled into one model kind with its training loss, and
 * the encoder/decoder halves the GNU Radio blocks and lib/linkeval.c call.
 *
 * Data flow of one training step (names of the impl buffers):
 *   x -> INN -> y, z ;  yn = (y - shift) e^-ls
 *   yn -> DAQ -> qh (hard level), qs (soft value), tab (thresholds/steps/levels)
 *   qs -> D-BCD (P at this step's Eb/N0, Gumbel G) -> yt      [no_dbcd: qh + AWGN]
 *   yt -> LAN -> yh ;  n -> zh = mu + e^lsig n                [no_ic: yh = yt, zh = n]
 *   MMD([yn, z], [yh, zh]) ;  ydec = shift + e^ls yh ;  xhat = INN^-1(ydec, zbwd)
 * and the backward retraces it (see train_step).
 */
#include "invcsi/invcsinet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "invcsi/bitlink.h"
#include "invcsi/daq.h"
#include "invcsi/dbcd.h"
#include "invcsi/ic.h"
#include "invcsi/inn.h"
#include "invcsi/metrics.h"
#include "invcsi/linkeval.h"
#include "invcsi/nn.h"
#include "invcsi/rng.h"
#include "invcsi/safetensors.h"

#define DAQ_RANGE INVCSI_DAQ_RANGE_DEFAULT /* R = 1: the latent is normalised to it */

typedef struct icsi {
    invcsi_inn *inn;
    invcsi_daq_config daq;
    invcsi_dbcd_config dbcd;
    invcsi_lan_shape lan;
    invcsi_lan_params lanw, lang;
    int mapping;
    int M, aux, dim, L;
    int max_batch;
    /* tensor indices (-1: absent) */
    int t_shift, t_lscale, t_thr, t_step, t_mu, t_lsig;
    float beta;           /* absolute */
    int soft_forward;     /* test mode */
    int surrogate_q;      /* dbcd_grad "surrogate" */
    float P_snr_db;       /* Eb/N0 the cached transition table P was made for */
    int P_valid;

    float *mem;
    float *tables;        /* DAQ tables (tab points into it) */
    invcsi_daq_tables tab;
    float *P;             /* [L][L] */
    float *dlevels;       /* [M][L] */
    /* [B][M] */
    float *y, *yn, *qh, *qs, *yt, *yh, *ydec, *dydec, *dyh, *dyt, *dq, *dyn, *dy;
    int *idx;
    /* [B][aux] */
    float *z, *noise, *zh, *zbwd, *dz, *dzh, *dzbwd;
    /* [B][dim] */
    float *a, *b, *da, *db, *xhat, *dxhat;
    float *gumbel;        /* [B][M][L] (no_dbcd: the AWGN, [B][M]) */
    float *dsave;         /* D-BCD saved state */
    float *lan_acts, *lan_scratch;
    float *mmd_scratch;
} icsi;

static icsi *impl_of(const invcsi_model *m) { return (icsi *)m->impl; }

int invcsi_is_invcsinet(const invcsi_model *m)
{
    return m && m->ops == &invcsi_invcsinet_ops && m->impl;
}

static float *tdata(const invcsi_model *m, int idx)
{
    return idx < 0 ? NULL : m->params.data + m->params.tensors[idx].offset;
}

/* Gradient of a tensor, NULL when frozen, absent, or the model has no gradient buffers. */
static float *tgrad(const invcsi_model *m, int idx)
{
    if (idx < 0 || !m->params.grad || m->params.tensors[idx].frozen)
        return NULL;
    return m->params.grad + m->params.tensors[idx].offset;
}

static float spacing(const icsi *s) { return 2.0f * DAQ_RANGE / (float)(s->L - 1); }

/* ------------------------------------------------------------------------------------- */
/* Config                                                                                */
/* ------------------------------------------------------------------------------------- */

static void icsi_config_default(invcsi_model_config *cfg, double cr)
{
    /* the INN part exactly as an "inn" model of the same size, so ideal-INN weights fit */
    invcsi_inn_ops.config_default(cfg, cr);
    cfg->mse_weight = INVCSI_INVCSINET_LAMBDA_DEFAULT;
    cfg->bits = INVCSI_INVCSINET_BITS_DEFAULT;
    snprintf(cfg->bit_map, sizeof cfg->bit_map, "natural");
    cfg->snr_db_min = cfg->snr_db_max = INVCSI_INVCSINET_SNR_DB_DEFAULT;
    cfg->delta = 0.0f;
    cfg->tau = INVCSI_DBCD_TAU_DEFAULT;
    snprintf(cfg->dbcd_grad, sizeof cfg->dbcd_grad, "straight");
    cfg->beta_start = INVCSI_INVCSINET_BETA_START;
    cfg->beta_end = INVCSI_INVCSINET_BETA_END;
    cfg->lan_width = INVCSI_LAN_WIDTH_DEFAULT;
    cfg->no_daq = cfg->no_dbcd = cfg->no_ic = cfg->freeze_inn = 0;
}

static int flag_ok(int v) { return v == 0 || v == 1; }

static int icsi_check(const invcsi_model_config *cfg, invcsi_error *err)
{
    int rc = invcsi_inn_check_config(cfg, err);
    if (rc != INVCSI_OK)
        return rc;
    int mapping;
    if (cfg->bits < 1 || cfg->bits > INVCSI_DAQ_MAX_BITS)
        return invcsi_error_set(err, INVCSI_EINVAL, "InvCSINet config: bits %d must be in 1..%d",
                                cfg->bits, INVCSI_DAQ_MAX_BITS);
    if ((rc = invcsi_bitmap_parse(cfg->bit_map, &mapping, err)) != INVCSI_OK)
        return rc;
    if (!isfinite(cfg->snr_db_min) || !isfinite(cfg->snr_db_max) ||
        cfg->snr_db_min > cfg->snr_db_max || cfg->snr_db_min < -30.0f ||
        cfg->snr_db_max > 60.0f)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "InvCSINet config: training Eb/N0 range [%g, %g] dB must be "
                                "finite, ordered and within [-30, 60] dB",
                                cfg->snr_db_min, cfg->snr_db_max);
    if (!(cfg->delta >= 0.0f && isfinite(cfg->delta)))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "InvCSINet config: delta %g must be >= 0 (0 = default)",
                                cfg->delta);
    if (!(cfg->tau > 0.0f && cfg->tau <= 10.0f))
        return invcsi_error_set(err, INVCSI_EINVAL, "InvCSINet config: tau %g must be in (0, 10]",
                                cfg->tau);
    if (!(cfg->beta_start > 0.0f && isfinite(cfg->beta_start)) ||
        !(cfg->beta_end > 0.0f && isfinite(cfg->beta_end)))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "InvCSINet config: beta schedule %g -> %g must be positive",
                                cfg->beta_start, cfg->beta_end);
    if (strcmp(cfg->dbcd_grad, "straight") != 0 && strcmp(cfg->dbcd_grad, "surrogate") != 0)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "InvCSINet config: dbcd_grad \"%s\" is unknown (straight or "
                                "surrogate)",
                                cfg->dbcd_grad);
    if (cfg->lan_width < 1 || cfg->lan_width > 4096)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "InvCSINet config: lan_width %d must be in [1, 4096]",
                                cfg->lan_width);
    if (!flag_ok(cfg->no_daq) || !flag_ok(cfg->no_dbcd) || !flag_ok(cfg->no_ic) ||
        !flag_ok(cfg->freeze_inn))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "InvCSINet config: no_daq, no_dbcd, no_ic, freeze_inn are 0 or 1");
    return INVCSI_OK;
}

/* ------------------------------------------------------------------------------------- */
/* Building                                                                              */
/* ------------------------------------------------------------------------------------- */

static void icsi_release(invcsi_model *m)
{
    icsi *s = impl_of(m);
    if (!s)
        return;
    invcsi_inn_free(s->inn);
    free(s->mem);
    free(s);
    m->impl = NULL;
}

static int add_vec(invcsi_params *p, const char *name, int n, invcsi_error *err)
{
    int rc = invcsi_params_add(p, name, 1, (int[]){n}, NULL, err);
    return rc != INVCSI_OK ? rc : p->n_tensors - 1;
}

static int icsi_build(invcsi_model *m, invcsi_error *err)
{
    const invcsi_model_config *cfg = &m->cfg;
    icsi *s = calloc(1, sizeof *s);
    if (!s)
        return invcsi_error_set(err, INVCSI_ENOMEM, "InvCSINet: out of memory");
    m->impl = s;
    s->t_shift = s->t_lscale = s->t_thr = s->t_step = s->t_mu = s->t_lsig = -1;
    s->M = cfg->m;
    s->dim = cfg->dim;
    s->aux = cfg->dim - cfg->m;
    s->L = 1 << cfg->bits;
    invcsi_bitmap_parse(cfg->bit_map, &s->mapping, NULL);
    s->surrogate_q = !strcmp(cfg->dbcd_grad, "surrogate");
    invcsi_params *p = &m->params;
    int rc = invcsi_inn_create(&s->inn, cfg, p, "inn", err);
    if (rc != INVCSI_OK)
        return rc;
    if ((s->t_shift = add_vec(p, "latent.shift", s->M, err)) < 0)
        return s->t_shift;
    if ((s->t_lscale = add_vec(p, "latent.log_scale", s->M, err)) < 0)
        return s->t_lscale;
    s->daq = (invcsi_daq_config){.dims = s->M, .bits = cfg->bits, .range = DAQ_RANGE};
    if ((rc = invcsi_daq_add_params(p, "daq", &s->daq, NULL, NULL, err)) != INVCSI_OK)
        return rc;
    s->t_thr = p->n_tensors - 2;
    s->t_step = p->n_tensors - 1;
    s->dbcd = (invcsi_dbcd_config){
        .dims = s->M,
        .bits = cfg->bits,
        .delta = cfg->delta > 0.0f ? cfg->delta : invcsi_dbcd_delta_default(cfg->bits, DAQ_RANGE),
        .tau = cfg->tau};
    const int p8 = cfg->patch, gh = cfg->nr * cfg->nt / p8, gw = cfg->nc / p8;
    s->lan = (invcsi_lan_shape){.c1 = s->M / (gh * gw), .gh = gh, .gw = gw,
                                .width = cfg->lan_width, .slope = INVCSI_LEAKY_SLOPE_INN};
    if (!cfg->no_ic) {
        if ((rc = invcsi_lan_add_params(p, "ic.lan", &s->lan, err)) != INVCSI_OK)
            return rc;
        size_t off;
        if ((rc = invcsi_zprior_add_params(p, "ic.z", s->aux, &off, NULL, err)) != INVCSI_OK)
            return rc;
        s->t_mu = p->n_tensors - 2;
        s->t_lsig = p->n_tensors - 1;
    }
    if (cfg->freeze_inn)
        invcsi_params_set_frozen(p, "inn.", 1);
    if (cfg->no_daq)
        invcsi_params_set_frozen(p, "daq.", 1);
    s->beta = cfg->beta_start / spacing(s);
    return INVCSI_OK;
}

static int icsi_reserve(invcsi_model *m, int max_batch, invcsi_error *err)
{
    icsi *s = impl_of(m);
    int rc = invcsi_inn_reserve(s->inn, max_batch, err);
    if (rc != INVCSI_OK)
        return rc;
    if (!m->cfg.no_ic) {
        rc = invcsi_lan_bind(&s->lanw, &s->lang, &m->params, "ic.lan", err);
        if (rc != INVCSI_OK)
            return rc;
    }
    free(s->mem);
    s->mem = NULL;
    const long B = max_batch, M = s->M, aux = s->aux, dim = s->dim, L = s->L;
    const long n_bm = 13 * B * M + B * M /* idx as ints */;
    const long n_aux = 7 * B * aux;
    const long n_dim = 6 * B * dim;
    const long n_tab = invcsi_daq_tables_floats(&s->daq);
    const long n_g = B * M * L > B * M ? B * M * L : B * M;
    const long n_save = invcsi_dbcd_save_floats(&s->dbcd, max_batch);
    const long n_lan = m->cfg.no_ic ? 0
                                    : invcsi_lan_act_floats(&s->lan, max_batch) +
                                          invcsi_lan_scratch_floats(&s->lan, max_batch);
    const long n_mmd = B >= 2 ? invcsi_mmd_scratch_floats(max_batch) : 0;
    const long total = n_bm + n_aux + n_dim + n_tab + L * L + M * L + n_g + n_save + n_lan +
                       n_mmd + 16;
    s->mem = calloc((size_t)total, sizeof(float));
    if (!s->mem)
        return invcsi_error_set(err, INVCSI_ENOMEM,
                                "InvCSINet: out of memory for %d reports (%.1f MB)", max_batch,
                                total * 4.0 / 1e6);
    float *at = s->mem;
#define TAKE(ptr, n) do { ptr = at; at += (n); } while (0)
    TAKE(s->y, B * M);    TAKE(s->yn, B * M);   TAKE(s->qh, B * M);   TAKE(s->qs, B * M);
    TAKE(s->yt, B * M);   TAKE(s->yh, B * M);   TAKE(s->ydec, B * M); TAKE(s->dydec, B * M);
    TAKE(s->dyh, B * M);  TAKE(s->dyt, B * M);  TAKE(s->dq, B * M);   TAKE(s->dyn, B * M);
    TAKE(s->dy, B * M);
    s->idx = (int *)at;   at += B * M;
    TAKE(s->z, B * aux);  TAKE(s->noise, B * aux); TAKE(s->zh, B * aux); TAKE(s->zbwd, B * aux);
    TAKE(s->dz, B * aux); TAKE(s->dzh, B * aux);   TAKE(s->dzbwd, B * aux);
    TAKE(s->a, B * dim);  TAKE(s->b, B * dim);  TAKE(s->da, B * dim); TAKE(s->db, B * dim);
    TAKE(s->xhat, B * dim); TAKE(s->dxhat, B * dim);
    TAKE(s->tables, n_tab);
    TAKE(s->P, L * L);
    TAKE(s->dlevels, M * L);
    TAKE(s->gumbel, n_g);
    TAKE(s->dsave, n_save);
    if (!m->cfg.no_ic) {
        TAKE(s->lan_acts, invcsi_lan_act_floats(&s->lan, max_batch));
        TAKE(s->lan_scratch, invcsi_lan_scratch_floats(&s->lan, max_batch));
    }
    TAKE(s->mmd_scratch, n_mmd);
#undef TAKE
    invcsi_daq_tables_bind(&s->tab, &s->daq, s->tables);
    s->max_batch = max_batch;
    s->P_valid = 0;
    return INVCSI_OK;
}

static void icsi_init(invcsi_model *m)
{
    icsi *s = impl_of(m);
    invcsi_inn_init(s->inn, m->cfg.seed, 0.0f);
    invcsi_inn_reset_front(s->inn);
    memset(tdata(m, s->t_shift), 0, sizeof(float) * s->M);
    memset(tdata(m, s->t_lscale), 0, sizeof(float) * s->M);
    invcsi_daq_init_uniform(&s->daq, tdata(m, s->t_thr), tdata(m, s->t_step), NULL);
    if (!m->cfg.no_ic) {
        invcsi_lan_init(&s->lan, &s->lanw, m->cfg.seed, 0.0f);
        invcsi_zprior_init(tdata(m, s->t_mu), tdata(m, s->t_lsig), s->aux);
    }
}

/* ------------------------------------------------------------------------------------- */
/* Pieces shared by training and inference                                               */
/* ------------------------------------------------------------------------------------- */

static int check_batch(const icsi *s, const char *fn, int batch, invcsi_error *err)
{
    if (!s || !s->mem)
        return invcsi_error_set(err, INVCSI_EINVAL, "InvCSINet %s: not an InvCSINet model", fn);
    if (batch < 1 || batch > s->max_batch)
        return invcsi_error_set(err, INVCSI_EINVAL, "InvCSINet %s: batch %d outside [1, %d]", fn,
                                batch, s->max_batch);
    return INVCSI_OK;
}

/* yn = (y - shift) e^-ls */
static void normalise(const invcsi_model *m, const float *y, float *yn, int batch)
{
    const icsi *s = impl_of(m);
    const float *sh = tdata(m, s->t_shift), *ls = tdata(m, s->t_lscale);
    for (int d = 0; d < s->M; d++) {
        const float inv = expf(-ls[d]);
        for (int b = 0; b < batch; b++) {
            const long e = (long)b * s->M + d;
            yn[e] = (y[e] - sh[d]) * inv;
        }
    }
}

/* y = shift + e^ls yh */
static void denormalise(const invcsi_model *m, const float *yh, float *y, int batch)
{
    const icsi *s = impl_of(m);
    const float *sh = tdata(m, s->t_shift), *ls = tdata(m, s->t_lscale);
    for (int d = 0; d < s->M; d++) {
        const float sc = expf(ls[d]);
        for (int b = 0; b < batch; b++) {
            const long e = (long)b * s->M + d;
            y[e] = sh[d] + sc * yh[e];
        }
    }
}

static void derive_tables(const invcsi_model *m)
{
    const icsi *s = impl_of(m);
    invcsi_daq_derive(&s->daq, tdata(m, s->t_thr), tdata(m, s->t_step), &s->tab);
}

/* IC on received values: yh = yt + LAN(yt) (copy with no_ic). */
static int ic_forward(invcsi_model *m, const float *yt, float *yh, int batch, invcsi_error *err)
{
    icsi *s = impl_of(m);
    if (m->cfg.no_ic) {
        memcpy(yh, yt, sizeof(float) * (size_t)batch * s->M);
        return INVCSI_OK;
    }
    return invcsi_lan_forward(&s->lan, &s->lanw, yh, yt, s->lan_acts, batch, s->lan_scratch,
                              err);
}

/* Fills z [batch][aux] for the decoder; returns the pointer to pass to the inverse (NULL
 * for z = 0). */
static const float *decoder_z(invcsi_model *m, const invcsi_zchoice *zc, int batch, float *z)
{
    icsi *s = impl_of(m);
    const int sample = zc && zc->mode == INVCSI_Z_SAMPLE;
    if (!sample && m->cfg.no_ic)
        return NULL; /* the INN's prior mean */
    if (sample) {
        const long aux = s->aux;
#pragma omp parallel for schedule(static) if ((long)batch * aux >= 65536)
        for (int b = 0; b < batch; b++) {
            invcsi_rng r;
            invcsi_rng_init(&r, zc->seed, INVCSI_ZSAMPLE_STREAM | (zc->first_report + (uint64_t)b));
            for (long k = 0; k < aux; k++)
                z[b * aux + k] = (float)invcsi_rng_normal(&r);
        }
        if (m->cfg.no_ic)
            return z;
        /* in place: z = mu + e^lsig n */
        const float *mu = tdata(m, s->t_mu), *ls = tdata(m, s->t_lsig);
        for (int b = 0; b < batch; b++)
            for (long k = 0; k < aux; k++)
                z[b * aux + k] = mu[k] + expf(ls[k]) * z[b * aux + k];
        return z;
    }
    invcsi_zprior_forward(z, tdata(m, s->t_mu), tdata(m, s->t_lsig), NULL, batch, s->aux);
    return z;
}

/* ------------------------------------------------------------------------------------- */
/* Public encoder / decoder                                                              */
/* ------------------------------------------------------------------------------------- */

int invcsi_invcsinet_bits(const invcsi_model *m) { return m->cfg.bits; }
int invcsi_invcsinet_levels_count(const invcsi_model *m) { return 1 << m->cfg.bits; }
long invcsi_invcsinet_payload_bits(const invcsi_model *m) { return (long)m->cfg.m * m->cfg.bits; }
int invcsi_invcsinet_mapping(const invcsi_model *m)
{
    int mapping = INVCSI_BITMAP_NATURAL;
    invcsi_bitmap_parse(m->cfg.bit_map, &mapping, NULL);
    return mapping;
}

int invcsi_invcsinet_tables(const invcsi_model *m, float *levels, float *thresholds,
                            invcsi_error *err)
{
    if (!invcsi_is_invcsinet(m))
        return invcsi_error_set(err, INVCSI_EINVAL, "InvCSINet tables: not an InvCSINet model");
    const icsi *s = impl_of(m);
    derive_tables(m);
    if (levels)
        memcpy(levels, s->tab.levels, sizeof(float) * (size_t)s->M * s->L);
    if (thresholds)
        memcpy(thresholds, s->tab.thresholds, sizeof(float) * (size_t)s->M * (s->L - 1));
    return INVCSI_OK;
}

int invcsi_invcsinet_encode_latent(invcsi_model *m, const float *x, int batch, float *y,
                                   invcsi_error *err)
{
    icsi *s = invcsi_is_invcsinet(m) ? impl_of(m) : NULL;
    int rc = check_batch(s, "encode", batch, err);
    if (rc != INVCSI_OK)
        return rc;
    rc = invcsi_inn_forward(s->inn, x, batch, s->y, NULL, err);
    if (rc == INVCSI_OK)
        normalise(m, s->y, y, batch);
    return rc;
}

int invcsi_invcsinet_quantize(invcsi_model *m, const float *y, int batch, int *indices,
                              invcsi_error *err)
{
    icsi *s = invcsi_is_invcsinet(m) ? impl_of(m) : NULL;
    int rc = check_batch(s, "quantize", batch, err);
    if (rc != INVCSI_OK)
        return rc;
    derive_tables(m);
    invcsi_daq_quantize(&s->daq, &s->tab, y, batch, indices);
    return INVCSI_OK;
}

int invcsi_invcsinet_encode_bits(invcsi_model *m, const float *x, int batch, uint8_t *bits,
                                 int *indices, invcsi_error *err)
{
    icsi *s = invcsi_is_invcsinet(m) ? impl_of(m) : NULL;
    int rc = check_batch(s, "encode_bits", batch, err);
    if (rc != INVCSI_OK)
        return rc;
    rc = invcsi_invcsinet_encode_latent(m, x, batch, s->yn, err);
    if (rc == INVCSI_OK)
        rc = invcsi_invcsinet_quantize(m, s->yn, batch, s->idx, err);
    if (rc == INVCSI_OK && bits)
        rc = invcsi_indices_to_bits(bits, s->idx, (long)batch * s->M, m->cfg.bits, s->mapping,
                                    err);
    if (rc == INVCSI_OK && indices)
        memcpy(indices, s->idx, sizeof(int) * (size_t)batch * s->M);
    return rc;
}

int invcsi_invcsinet_dequantize(invcsi_model *m, const int *indices, int batch, float *levels,
                                invcsi_error *err)
{
    icsi *s = invcsi_is_invcsinet(m) ? impl_of(m) : NULL;
    int rc = check_batch(s, "dequantize", batch, err);
    if (rc != INVCSI_OK)
        return rc;
    derive_tables(m);
    invcsi_daq_dequantize(&s->daq, s->tab.levels, indices, batch, levels);
    return INVCSI_OK;
}

int invcsi_invcsinet_decode_levels(invcsi_model *m, const float *ytilde, int batch,
                                   const invcsi_zchoice *z, float *xhat, invcsi_error *err)
{
    icsi *s = invcsi_is_invcsinet(m) ? impl_of(m) : NULL;
    int rc = check_batch(s, "decode", batch, err);
    if (rc != INVCSI_OK)
        return rc;
    if (z && z->mode != INVCSI_Z_MEAN && z->mode != INVCSI_Z_SAMPLE)
        return invcsi_error_set(err, INVCSI_EINVAL, "InvCSINet decode: unknown z mode %d",
                                z->mode);
    /* ytilde may alias the caller's buffer, never ours: copy it in first */
    memcpy(s->yt, ytilde, sizeof(float) * (size_t)batch * s->M);
    rc = ic_forward(m, s->yt, s->yh, batch, err);
    if (rc != INVCSI_OK)
        return rc;
    denormalise(m, s->yh, s->ydec, batch);
    const float *zp = decoder_z(m, z, batch, s->zbwd);
    return invcsi_inn_inverse(s->inn, s->ydec, zp, batch, xhat, err);
}

int invcsi_invcsinet_decode_bits(invcsi_model *m, const uint8_t *bits, int batch,
                                 const invcsi_zchoice *z, float *xhat, invcsi_error *err)
{
    icsi *s = invcsi_is_invcsinet(m) ? impl_of(m) : NULL;
    int rc = check_batch(s, "decode_bits", batch, err);
    if (rc != INVCSI_OK)
        return rc;
    rc = invcsi_bits_to_indices(s->idx, bits, (long)batch * s->M, m->cfg.bits, s->mapping, err);
    if (rc == INVCSI_OK)
        rc = invcsi_invcsinet_dequantize(m, s->idx, batch, s->qh, err);
    if (rc == INVCSI_OK)
        rc = invcsi_invcsinet_decode_levels(m, s->qh, batch, z, xhat, err);
    return rc;
}

/* ------------------------------------------------------------------------------------- */
/* Model interface: encode / decode / fit / schedule                                     */
/* ------------------------------------------------------------------------------------- */

static int icsi_encode(invcsi_model *m, const float *x, int batch, float *y, invcsi_error *err)
{
    return invcsi_invcsinet_encode_latent(m, x, batch, y, err);
}

/* The error-free link: quantize, dequantize, IC, f^-1 with z = mu. */
static int icsi_decode(invcsi_model *m, const float *y, int batch, float *xhat,
                       invcsi_error *err)
{
    icsi *s = impl_of(m);
    int rc = invcsi_invcsinet_quantize(m, y, batch, s->idx, err);
    if (rc == INVCSI_OK)
        rc = invcsi_invcsinet_dequantize(m, s->idx, batch, s->qh, err);
    if (rc == INVCSI_OK)
        rc = invcsi_invcsinet_decode_levels(m, s->qh, batch, NULL, xhat, err);
    return rc;
}

int invcsi_invcsinet_fit_latent(invcsi_model *m, const float *x, long n, invcsi_error *err)
{
    if (!invcsi_is_invcsinet(m))
        return invcsi_error_set(err, INVCSI_EINVAL, "InvCSINet fit: not an InvCSINet model");
    if (n < 1)
        return invcsi_error_set(err, INVCSI_EINVAL, "InvCSINet fit: no training reports");
    icsi *s = impl_of(m);
    float *ys = malloc(sizeof(float) * (size_t)n * s->M);
    float *center = malloc(sizeof(float) * (size_t)s->M);
    float *half = malloc(sizeof(float) * (size_t)s->M);
    int rc = INVCSI_OK;
    if (!ys || !center || !half)
        rc = invcsi_error_set(err, INVCSI_ENOMEM, "InvCSINet fit: out of memory for %ld latents",
                              n);
    for (long at = 0; rc == INVCSI_OK && at < n; at += s->max_batch) {
        const int b = (int)(n - at < s->max_batch ? n - at : s->max_batch);
        rc = invcsi_inn_forward(s->inn, x + at * s->dim, b, ys + at * s->M, NULL, err);
    }
    if (rc == INVCSI_OK)
        rc = invcsi_uniform_range_fit(ys, n, s->M, m->cfg.bits, center, half, err);
    if (rc == INVCSI_OK) {
        float *sh = tdata(m, s->t_shift), *ls = tdata(m, s->t_lscale);
        for (int d = 0; d < s->M; d++) {
            sh[d] = center[d];
            ls[d] = logf(half[d] / DAQ_RANGE);
        }
    }
    free(ys);
    free(center);
    free(half);
    return rc;
}

static int icsi_fit_front(invcsi_model *m, const float *x, long n, invcsi_error *err)
{
    icsi *s = impl_of(m);
    int rc = invcsi_inn_fit_front(s->inn, x, n, err);
    return rc == INVCSI_OK ? invcsi_invcsinet_fit_latent(m, x, n, err) : rc;
}

static void icsi_begin_epoch(invcsi_model *m, int epoch, int epochs)
{
    icsi *s = impl_of(m);
    const double t = epochs > 1 ? (double)epoch / (epochs - 1) : 0.0;
    const double rel = m->cfg.beta_start * pow((double)m->cfg.beta_end / m->cfg.beta_start, t);
    s->beta = (float)(rel / spacing(s));
}

float invcsi_invcsinet_beta(const invcsi_model *m)
{
    return invcsi_is_invcsinet(m) ? impl_of(m)->beta : NAN;
}

void invcsi_invcsinet_set_beta(invcsi_model *m, float beta)
{
    if (invcsi_is_invcsinet(m) && beta > 0.0f)
        impl_of(m)->beta = beta;
}

void invcsi_invcsinet_set_soft_forward(invcsi_model *m, int soft_forward)
{
    if (invcsi_is_invcsinet(m))
        impl_of(m)->soft_forward = soft_forward != 0;
}

int invcsi_invcsinet_load_inn(invcsi_model *m, const char *path, invcsi_error *err)
{
    if (!invcsi_is_invcsinet(m))
        return invcsi_error_set(err, INVCSI_EINVAL, "--init: not an InvCSINet model");
    invcsi_safetensors f;
    int rc = invcsi_safetensors_load(path, &f, err);
    if (rc != INVCSI_OK)
        return rc;
    invcsi_params *p = &m->params;
    int copied = 0;
    /* every inn.* tensor of the file must exist here with the same shape, and back */
    for (int i = 0; i < f.n_tensors && rc == INVCSI_OK; i++) {
        const invcsi_st_tensor *ft = &f.tensors[i];
        if (strncmp(ft->name, "inn.", 4) != 0)
            continue;
        const invcsi_tensor *t = invcsi_params_find(p, ft->name);
        if (!t)
            rc = invcsi_error_set(err, INVCSI_EFORMAT,
                                  "%s: tensor \"%s\" has no place in this model (another INN "
                                  "architecture: blocks, permute or front differ)",
                                  path, ft->name);
    }
    for (int pass = 0; pass < 2 && rc == INVCSI_OK; pass++)
        for (int i = 0; i < p->n_tensors && rc == INVCSI_OK; i++) {
            const invcsi_tensor *t = &p->tensors[i];
            if (strncmp(t->name, "inn.", 4) != 0)
                continue;
            const invcsi_st_tensor *ft = invcsi_safetensors_find(&f, t->name);
            int same = ft && ft->rank == t->rank;
            for (int d = 0; same && d < t->rank; d++)
                same = ft->shape[d] == t->shape[d];
            if (!same) {
                rc = invcsi_error_set(err, INVCSI_EFORMAT,
                                      "%s: tensor \"%s\" is %s (the INN sizes must match: CR, "
                                      "patch, blocks, width, front)",
                                      path, t->name, ft ? "of another shape" : "missing");
            } else if (pass == 1) {
                invcsi_safetensors_copy(ft, p->data + t->offset);
                copied++;
            }
        }
    invcsi_safetensors_free(&f);
    if (rc == INVCSI_OK && copied == 0)
        rc = invcsi_error_set(err, INVCSI_EFORMAT, "%s: no inn.* tensor to copy", path);
    return rc;
}

/* ------------------------------------------------------------------------------------- */
/* Training step                                                                         */
/* ------------------------------------------------------------------------------------- */

/* Accumulates the two halves of din [batch][n1 + n2] into d1, d2. */
static void unconcat_add(const float *din, float *d1, int n1, float *d2, int n2, int batch)
{
    for (int b = 0; b < batch; b++) {
        const float *r = din + (long)b * (n1 + n2);
        float *o1 = d1 + (long)b * n1, *o2 = d2 + (long)b * n2;
        for (int i = 0; i < n1; i++)
            o1[i] += r[i];
        for (int i = 0; i < n2; i++)
            o2[i] += r[n1 + i];
    }
}

/* Transition table for this step: fixed Eb/N0 (cached) or one drawn from the range. */
static int step_channel(invcsi_model *m, invcsi_rng *rng, double *snr_db, invcsi_error *err)
{
    icsi *s = impl_of(m);
    const invcsi_model_config *cfg = &m->cfg;
    double db = cfg->snr_db_min;
    if (cfg->snr_db_max > cfg->snr_db_min)
        db = cfg->snr_db_min + (cfg->snr_db_max - cfg->snr_db_min) * invcsi_rng_uniform(rng);
    *snr_db = db;
    if (cfg->no_dbcd)
        return INVCSI_OK;
    if (s->P_valid && (double)s->P_snr_db == db)
        return INVCSI_OK;
    int rc = invcsi_dbcd_transition_float(s->P, cfg->bits, invcsi_db_to_linear(db), s->mapping,
                                          err);
    s->P_valid = rc == INVCSI_OK;
    s->P_snr_db = (float)db;
    if ((double)s->P_snr_db != db)
        s->P_valid = 0; /* a drawn value that float cannot hold: recompute next time */
    return rc;
}

static int icsi_train_step(invcsi_model *m, const float *x, int batch, invcsi_rng *rng,
                           invcsi_losses *out, invcsi_error *err)
{
    icsi *s = impl_of(m);
    const invcsi_model_config *cfg = &m->cfg;
    const int M = s->M, aux = s->aux, dim = s->dim, L = s->L;
    if (batch < 2 || batch > s->max_batch)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "InvCSINet train_step: batch %d outside [2, %d] (the MMD "
                                "estimate needs two reports)",
                                batch, s->max_batch);
    if (!m->params.grad)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "InvCSINet train_step: the model has no gradient buffers");
    const long nm = (long)batch * M, nz = (long)batch * aux, nx = (long)batch * dim;
    const float beta = s->beta;
    const float *shift = tdata(m, s->t_shift), *lscale = tdata(m, s->t_lscale);
    const float *thr_raw = tdata(m, s->t_thr), *step_raw = tdata(m, s->t_step);

    /* ---- forward ---- */
    double snr_db;
    int rc = step_channel(m, rng, &snr_db, err);
    if (rc == INVCSI_OK)
        rc = invcsi_inn_forward(s->inn, x, batch, s->y, s->z, err);
    if (rc != INVCSI_OK)
        return rc;
    normalise(m, s->y, s->yn, batch);
    rc = invcsi_daq_forward_train(&s->daq, thr_raw, step_raw, &s->tab, s->yn, batch, beta, s->qh,
                                  s->qs, s->idx, err);
    if (rc != INVCSI_OK)
        return rc;
    const float *q_sent = s->soft_forward ? s->qs : s->qh;
    if (cfg->no_dbcd) {
        /* an analogue link with the energy of B bits per value: Eb = P / B with P the mean
         * square of uniformly used levels on [-R, R] (a constant, so the noise does not
         * depend on the parameters); noise variance N0/2 per real value */
        const double P = (double)DAQ_RANGE * DAQ_RANGE * (L + 1) / (3.0 * (L - 1));
        const double sigma = sqrt(P / (2.0 * cfg->bits * invcsi_db_to_linear(snr_db)));
        for (long e = 0; e < nm; e++) {
            s->gumbel[e] = (float)(sigma * invcsi_rng_normal(rng));
            s->yt[e] = q_sent[e] + s->gumbel[e];
        }
    } else {
        invcsi_gumbel_fill(s->gumbel, nm * L, rng);
        rc = invcsi_dbcd_forward(&s->dbcd, s->qs, s->tab.levels, s->P, s->gumbel, batch, s->yt,
                                 NULL, s->soft_forward ? s->yh : NULL, s->dsave, err);
        if (rc != INVCSI_OK)
            return rc;
        if (s->soft_forward)
            memcpy(s->yt, s->yh, sizeof(float) * (size_t)nm);
    }
    rc = ic_forward(m, s->yt, s->yh, batch, err);
    if (rc != INVCSI_OK)
        return rc;
    for (long i = 0; i < nz; i++)
        s->noise[i] = (float)invcsi_rng_normal(rng);
    if (cfg->no_ic)
        memcpy(s->zh, s->noise, sizeof(float) * (size_t)nz);
    else
        invcsi_zprior_forward(s->zh, tdata(m, s->t_mu), tdata(m, s->t_lsig), s->noise, batch,
                              aux);

    float mmd = 0.0f;
    invcsi_concat_rows(s->a, s->yn, M, s->z, aux, batch);
    invcsi_concat_rows(s->b, s->yh, M, s->zh, aux, batch);
    rc = invcsi_mmd_imq_forward(&mmd, s->a, s->b, batch, dim, NULL, 0, s->mmd_scratch, err);
    if (rc != INVCSI_OK)
        return rc;

    denormalise(m, s->yh, s->ydec, batch);
    const float *zb = NULL; /* z_bwd: 0 with no_ic and the mean */
    if (cfg->z_bwd_sample)
        zb = s->zh;
    else if (!cfg->no_ic) {
        invcsi_zprior_forward(s->zbwd, tdata(m, s->t_mu), NULL, NULL, batch, aux);
        zb = s->zbwd;
    }
    rc = invcsi_inn_inverse(s->inn, s->ydec, zb, batch, s->xhat, err);
    if (rc != INVCSI_OK)
        return rc;
    double nmse_sum = 0.0;
    const double sse = invcsi_batch_sse(x, s->xhat, batch, dim, &nmse_sum);
    const double mse = sse / (double)nx;

    /* ---- backward ---- */
    memset(s->dydec, 0, sizeof(float) * (size_t)nm);
    memset(s->dzbwd, 0, sizeof(float) * (size_t)nz);
    if (cfg->mse_weight != 0.0f) {
        memset(s->dxhat, 0, sizeof(float) * (size_t)nx);
        rc = invcsi_mse_backward(s->dxhat, NULL, cfg->mse_weight, s->xhat, x, nx, err);
        if (rc == INVCSI_OK)
            rc = invcsi_inn_inverse_backward(s->inn, batch, s->dxhat, s->dydec,
                                             zb ? s->dzbwd : NULL, err);
        if (rc != INVCSI_OK)
            return rc;
    }
    memset(s->dyn, 0, sizeof(float) * (size_t)nm);
    memset(s->dz, 0, sizeof(float) * (size_t)nz);
    memset(s->dyh, 0, sizeof(float) * (size_t)nm);
    memset(s->dzh, 0, sizeof(float) * (size_t)nz);
    if (cfg->mmd_weight != 0.0f) {
        memset(s->da, 0, sizeof(float) * (size_t)nx);
        memset(s->db, 0, sizeof(float) * (size_t)nx);
        rc = invcsi_mmd_imq_backward(s->da, s->db, cfg->mmd_weight, s->a, s->b, batch, dim, NULL,
                                     0, s->mmd_scratch, err);
        if (rc != INVCSI_OK)
            return rc;
        unconcat_add(s->da, s->dyn, M, s->dz, aux, batch);
        unconcat_add(s->db, s->dyh, M, s->dzh, aux, batch);
    }
    /* ydec = shift + e^ls yh */
    float *g_shift = tgrad(m, s->t_shift), *g_lscale = tgrad(m, s->t_lscale);
    for (int d = 0; d < M; d++) {
        const float sc = expf(lscale[d]);
        double gs = 0.0, gl = 0.0;
        for (int b = 0; b < batch; b++) {
            const long e = (long)b * M + d;
            gs += s->dydec[e];
            gl += (double)s->dydec[e] * sc * s->yh[e];
            s->dyh[e] += s->dydec[e] * sc;
        }
        if (g_shift)
            g_shift[d] += (float)gs;
        if (g_lscale)
            g_lscale[d] += (float)gl;
    }
    /* z^ and z_bwd */
    if (!cfg->no_ic) {
        float *g_mu = tgrad(m, s->t_mu), *g_lsig = tgrad(m, s->t_lsig);
        if (cfg->z_bwd_sample)
            for (long i = 0; i < nz; i++)
                s->dzh[i] += s->dzbwd[i];
        else
            invcsi_zprior_backward(g_mu, NULL, s->dzbwd, tdata(m, s->t_mu), NULL, NULL, batch,
                                   aux);
        invcsi_zprior_backward(g_mu, g_lsig, s->dzh, tdata(m, s->t_mu), tdata(m, s->t_lsig),
                               s->noise, batch, aux);
    }
    /* IC */
    memset(s->dyt, 0, sizeof(float) * (size_t)nm);
    if (cfg->no_ic) {
        memcpy(s->dyt, s->dyh, sizeof(float) * (size_t)nm);
    } else {
        rc = invcsi_lan_backward(&s->lan, &s->lanw, &s->lang, s->dyt, s->dyh, s->yt, s->lan_acts,
                                 batch, s->lan_scratch, err);
        if (rc != INVCSI_OK)
            return rc;
    }
    /* channel, then the DAQ (through its soft value) */
    float *dlev = NULL;
    if (cfg->no_dbcd) {
        memcpy(s->dq, s->dyt, sizeof(float) * (size_t)nm); /* y~ = q + noise */
    } else {
        memset(s->dq, 0, sizeof(float) * (size_t)nm);
        memset(s->dlevels, 0, sizeof(float) * (size_t)M * L);
        rc = invcsi_dbcd_backward(&s->dbcd, s->dyt, s->qs, s->tab.levels, s->P, s->dsave, batch,
                                  s->dq, s->dlevels, err);
        if (rc != INVCSI_OK)
            return rc;
        dlev = s->dlevels;
        /* "straight": the sent value's gradient is dy~ itself (measured better: the
         * surrogate's dq lives only near the DAQ thresholds, where p is soft, and it
         * trained worse than no D-BCD at all; README) */
        if (!s->surrogate_q)
            memcpy(s->dq, s->dyt, sizeof(float) * (size_t)nm);
    }
    float *g_thr = tgrad(m, s->t_thr), *g_step = tgrad(m, s->t_step);
    rc = invcsi_daq_backward(&s->daq, thr_raw, step_raw, &s->tab, s->yn, s->dq, dlev, batch, beta,
                             s->dyn, g_thr, g_step, err);
    if (rc != INVCSI_OK)
        return rc;
    /* yn = (y - shift) e^-ls */
    for (int d = 0; d < M; d++) {
        const float inv = expf(-lscale[d]);
        double gs = 0.0, gl = 0.0;
        for (int b = 0; b < batch; b++) {
            const long e = (long)b * M + d;
            gs -= (double)s->dyn[e] * inv;
            gl -= (double)s->dyn[e] * s->yn[e];
            s->dy[e] = s->dyn[e] * inv;
        }
        if (g_shift)
            g_shift[d] += (float)gs;
        if (g_lscale)
            g_lscale[d] += (float)gl;
    }
    if (!cfg->freeze_inn) {
        rc = invcsi_inn_backward(s->inn, batch, s->dy, s->dz, err);
        if (rc != INVCSI_OK)
            return rc;
    }
    (void)shift;
    if (out) {
        out->mmd = mmd;
        out->mse = mse;
        out->total = (double)cfg->mmd_weight * mmd + (double)cfg->mse_weight * mse;
        out->nmse_sum = nmse_sum;
    }
    return INVCSI_OK;
}

const invcsi_model_ops invcsi_invcsinet_ops = {
    .kind = INVCSI_INVCSINET_KIND,
    .config_default = icsi_config_default,
    .check = icsi_check,
    .build = icsi_build,
    .reserve = icsi_reserve,
    .init = icsi_init,
    .fit_front = icsi_fit_front,
    .train_step = icsi_train_step,
    .encode = icsi_encode,
    .decode = icsi_decode,
    .release = icsi_release,
    .begin_epoch = icsi_begin_epoch,
};
