/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The model registry and everything every kind shares (include/invcsi/model.h):
 * config defaults, config <-> JSON, create/destroy, the weights file, parameter
 * counts and the chunked encode/decode wrappers. The kinds themselves live in their
 * own files (lib/inn_*.c, lib/csinet.c, lib/invcsinet.c) behind invcsi_model_ops.
 */
#include "invcsi/model.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "invcsi/backend.h"
#include "invcsi/json.h"
#include "invcsi/stqenet.h"
#include "invcsi/train.h"

#define WEIGHTS_FORMAT "gr-invcsi-weights-1"

/* Every registered kind; a new model is one more entry. */
static const invcsi_model_ops *const KINDS[] = {
    &invcsi_inn_ops,
    &invcsi_csinet_ops,
    &invcsi_invcsinet_ops,
    &invcsi_stqenet_ops,
};
#define N_KINDS ((int)(sizeof KINDS / sizeof KINDS[0]))

const invcsi_model_ops *invcsi_model_ops_find(const char *kind)
{
    if (!kind)
        return NULL;
    for (int i = 0; i < N_KINDS; i++)
        if (strcmp(KINDS[i]->kind, kind) == 0)
            return KINDS[i];
    return NULL;
}

/* "inn, csinet" for messages. */
static const char *kind_list(void)
{
    static char buf[128];
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < N_KINDS && used < sizeof buf; i++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, i ? ", %s" : "%s",
                                 KINDS[i]->kind);
    return buf;
}

/* ---------------------------------------------------------------------------------- */
/* Config                                                                             */
/* ---------------------------------------------------------------------------------- */

/* Largest real values per report accepted (2^24 floats = 64 MB per report). */
#define MAX_DIM (1L << 24)

int invcsi_model_config_default(invcsi_model_config *cfg, const char *kind, int nr, int nt,
                                int nc, double cr, invcsi_error *err)
{
    const invcsi_model_ops *ops = invcsi_model_ops_find(kind);
    if (!ops)
        return invcsi_error_set(err, INVCSI_EINVAL, "unknown model kind '%s' (known: %s)",
                                kind ? kind : "(null)", kind_list());
    if (nr < 1 || nt < 1 || nc < 1 || (double)nr * nt * nc * 2 > (double)MAX_DIM)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "model sizes nr %d, nt %d, nc %d: each must be >= 1 and "
                                "2*nr*nt*nc at most %ld",
                                nr, nt, nc, MAX_DIM);
    if (!(cr > 0.0 && cr <= 1.0))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "compression ratio %g must be in (0, 1]", cr);
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->kind, sizeof cfg->kind, "%s", ops->kind);
    cfg->nr = nr;
    cfg->nt = nt;
    cfg->nc = nc;
    cfg->dim = 2 * nr * nt * nc;
    cfg->m = (int)floor(cfg->dim * cr + 0.5);
    if (cfg->m < 1)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "compression ratio %g of %d values leaves no latent value", cr,
                                cfg->dim);
    cfg->seed = 1;
    cfg->patch = 8;
    cfg->blocks = 3;
    cfg->width = 24;
    cfg->clamp = 2.0f;
    cfg->leaky_slope = 0.01f;
    cfg->permute = 0;
    snprintf(cfg->front, sizeof cfg->front, "patch");
    cfg->z_bwd_sample = 0;
    cfg->mmd_weight = 1.0f;
    cfg->mse_weight = 1.0f;
    cfg->bits = 4;
    snprintf(cfg->bit_map, sizeof cfg->bit_map, "natural");
    cfg->snr_db_min = cfg->snr_db_max = 10.0f;
    cfg->delta = 0.0f;
    cfg->tau = 1.0f;
    snprintf(cfg->dbcd_grad, sizeof cfg->dbcd_grad, "straight");
    cfg->beta_start = 5.0f;
    cfg->beta_end = 50.0f;
    cfg->lan_width = 16;
    cfg->no_daq = cfg->no_dbcd = cfg->no_ic = cfg->freeze_inn = 0;
    cfg->refine_blocks = 2;
    cfg->norm_scale = 1.0;
    cfg->split_seed = 1;
    cfg->train_frac = 0.7;
    if (ops->config_default)
        ops->config_default(cfg, cr);
    return INVCSI_OK;
}

/* Seeds are uint64: written as a JSON integer when they fit int64, else as a decimal
 * string (JSON readers lose precision beyond 2^53 anyway; this keeps them exact here). */
static void write_u64(invcsi_json_writer *w, const char *key, uint64_t v)
{
    invcsi_jw_key(w, key);
    if (v <= (uint64_t)INT64_MAX) {
        invcsi_jw_integer(w, (int64_t)v);
    } else {
        char buf[32];
        snprintf(buf, sizeof buf, "%" PRIu64, v);
        invcsi_jw_string(w, buf);
    }
}

/* The double closest to the shortest decimal that reads back as f, so 0.01f is written
 * "0.01", not "0.009999999776482582" (both read back to the same float). snprintf and
 * strtod run in the same locale, so the round trip holds in any locale. */
static double short_float(float f)
{
    char buf[40];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        double d = strtod(buf, NULL);
        if ((float)d == f)
            return d;
    }
    return (double)f;
}

char *invcsi_model_config_to_json(const invcsi_model_config *cfg)
{
    invcsi_json_writer w;
    invcsi_jw_init(&w);
    invcsi_jw_object_begin(&w);
    invcsi_jw_key(&w, "kind");          invcsi_jw_string(&w, cfg->kind);
    invcsi_jw_key(&w, "nr");            invcsi_jw_integer(&w, cfg->nr);
    invcsi_jw_key(&w, "nt");            invcsi_jw_integer(&w, cfg->nt);
    invcsi_jw_key(&w, "nc");            invcsi_jw_integer(&w, cfg->nc);
    invcsi_jw_key(&w, "dim");           invcsi_jw_integer(&w, cfg->dim);
    invcsi_jw_key(&w, "m");             invcsi_jw_integer(&w, cfg->m);
    write_u64(&w, "seed", cfg->seed);
    invcsi_jw_key(&w, "patch");         invcsi_jw_integer(&w, cfg->patch);
    invcsi_jw_key(&w, "blocks");        invcsi_jw_integer(&w, cfg->blocks);
    invcsi_jw_key(&w, "width");         invcsi_jw_integer(&w, cfg->width);
    invcsi_jw_key(&w, "clamp");         invcsi_jw_number(&w, short_float(cfg->clamp));
    invcsi_jw_key(&w, "leaky_slope");   invcsi_jw_number(&w, short_float(cfg->leaky_slope));
    invcsi_jw_key(&w, "permute");       invcsi_jw_integer(&w, cfg->permute);
    invcsi_jw_key(&w, "front");         invcsi_jw_string(&w, cfg->front);
    invcsi_jw_key(&w, "z_bwd_sample");  invcsi_jw_integer(&w, cfg->z_bwd_sample);
    invcsi_jw_key(&w, "mmd_weight");    invcsi_jw_number(&w, short_float(cfg->mmd_weight));
    invcsi_jw_key(&w, "mse_weight");    invcsi_jw_number(&w, short_float(cfg->mse_weight));
    invcsi_jw_key(&w, "refine_blocks"); invcsi_jw_integer(&w, cfg->refine_blocks);
    if (!strcmp(cfg->kind, "invcsinet")) { /* other kinds' files stay as they were */
        invcsi_jw_key(&w, "bits");       invcsi_jw_integer(&w, cfg->bits);
        invcsi_jw_key(&w, "bit_map");    invcsi_jw_string(&w, cfg->bit_map);
        invcsi_jw_key(&w, "snr_db_min"); invcsi_jw_number(&w, short_float(cfg->snr_db_min));
        invcsi_jw_key(&w, "snr_db_max"); invcsi_jw_number(&w, short_float(cfg->snr_db_max));
        invcsi_jw_key(&w, "delta");      invcsi_jw_number(&w, short_float(cfg->delta));
        invcsi_jw_key(&w, "tau");        invcsi_jw_number(&w, short_float(cfg->tau));
        invcsi_jw_key(&w, "dbcd_grad");  invcsi_jw_string(&w, cfg->dbcd_grad);
        invcsi_jw_key(&w, "beta_start"); invcsi_jw_number(&w, short_float(cfg->beta_start));
        invcsi_jw_key(&w, "beta_end");   invcsi_jw_number(&w, short_float(cfg->beta_end));
        invcsi_jw_key(&w, "lan_width");  invcsi_jw_integer(&w, cfg->lan_width);
        invcsi_jw_key(&w, "no_daq");     invcsi_jw_integer(&w, cfg->no_daq);
        invcsi_jw_key(&w, "no_dbcd");    invcsi_jw_integer(&w, cfg->no_dbcd);
        invcsi_jw_key(&w, "no_ic");      invcsi_jw_integer(&w, cfg->no_ic);
        invcsi_jw_key(&w, "freeze_inn"); invcsi_jw_integer(&w, cfg->freeze_inn);
    }
    if (!strcmp(cfg->kind, "stqenet")) { /* B sizes its coder tables (lambda = mse_weight) */
        invcsi_jw_key(&w, "bits");       invcsi_jw_integer(&w, cfg->bits);
    }
    invcsi_jw_key(&w, "norm_scale");    invcsi_jw_number(&w, cfg->norm_scale);
    write_u64(&w, "split_seed", cfg->split_seed);
    invcsi_jw_key(&w, "train_frac");    invcsi_jw_number(&w, cfg->train_frac);
    invcsi_jw_object_end(&w);
    const char *text;
    size_t len;
    char *out = NULL;
    if (invcsi_jw_finish(&w, &text, &len, NULL) == INVCSI_OK) {
        out = malloc(len + 1);
        if (out)
            memcpy(out, text, len + 1);
    }
    invcsi_jw_free(&w);
    return out;
}

/* Optional int member: keeps *out when the key is absent. */
static int get_int_opt(const invcsi_json *o, const char *key, int *out, long min, long max,
                       invcsi_error *err)
{
    if (!invcsi_json_get(o, key))
        return INVCSI_OK;
    int64_t v;
    int rc = invcsi_json_get_int(o, key, &v, err);
    if (rc != INVCSI_OK)
        return rc;
    if (v < min || v > max)
        return invcsi_error_set(err, INVCSI_EFORMAT,
                                "key \"%s\": %" PRId64 " is outside [%ld, %ld]", key, v, min,
                                max);
    *out = (int)v;
    return INVCSI_OK;
}

static int get_double_opt(const invcsi_json *o, const char *key, double *out,
                          invcsi_error *err)
{
    if (!invcsi_json_get(o, key))
        return INVCSI_OK;
    return invcsi_json_get_double(o, key, out, err);
}

static int get_float_opt(const invcsi_json *o, const char *key, float *out, invcsi_error *err)
{
    double v = *out;
    int rc = get_double_opt(o, key, &v, err);
    if (rc == INVCSI_OK)
        *out = (float)v;
    return rc;
}

static int get_u64_opt(const invcsi_json *o, const char *key, uint64_t *out, invcsi_error *err)
{
    const invcsi_json *v = invcsi_json_get(o, key);
    if (!v)
        return INVCSI_OK;
    if (v->type == INVCSI_JSON_NUMBER && v->is_integer && v->integer >= 0) {
        *out = (uint64_t)v->integer;
        return INVCSI_OK;
    }
    if (v->type == INVCSI_JSON_STRING) {
        char *end;
        unsigned long long u = strtoull(v->string, &end, 10);
        if (end != v->string && !*end && v->string[0] != '-') {
            *out = (uint64_t)u;
            return INVCSI_OK;
        }
    }
    return invcsi_error_set(err, INVCSI_EFORMAT,
                            "key \"%s\": expected a non-negative integer", key);
}

static int get_name_opt(const invcsi_json *o, const char *key, char *out, size_t n,
                        invcsi_error *err)
{
    if (!invcsi_json_get(o, key))
        return INVCSI_OK;
    const char *s;
    int rc = invcsi_json_get_string(o, key, &s, err);
    if (rc != INVCSI_OK)
        return rc;
    if (strlen(s) >= n)
        return invcsi_error_set(err, INVCSI_EFORMAT, "key \"%s\": \"%s\" is too long", key, s);
    snprintf(out, n, "%s", s);
    return INVCSI_OK;
}

int invcsi_model_config_from_json(invcsi_model_config *cfg, const char *json, invcsi_error *err)
{
    if (!json)
        return invcsi_error_set(err, INVCSI_EINVAL, "model config: no JSON text");
    invcsi_json_doc doc;
    invcsi_error jerr;
    int rc = invcsi_json_parse(json, strlen(json), &doc, &jerr);
    if (rc != INVCSI_OK)
        return invcsi_error_set(err, rc, "model config: %s", jerr.msg);
    const invcsi_json *o = doc.root;
    if (o->type != INVCSI_JSON_OBJECT) {
        invcsi_json_doc_free(&doc);
        return invcsi_error_set(err, INVCSI_EFORMAT, "model config: expected a JSON object");
    }
    /* The sizes and the kind are required; every other key falls back to the kind's
     * default, so files written before a key existed still load. Unknown keys are
     * ignored (a newer writer); anything that changes the architecture also changes
     * the tensor shapes, which the loader checks. */
    const char *kind = NULL;
    int64_t nr = 0, nt = 0, nc = 0, m = 0;
    invcsi_error e;
    invcsi_error_clear(&e);
    rc = invcsi_json_get_string(o, "kind", &kind, &e);
    if (rc == INVCSI_OK) rc = invcsi_json_get_int(o, "nr", &nr, &e);
    if (rc == INVCSI_OK) rc = invcsi_json_get_int(o, "nt", &nt, &e);
    if (rc == INVCSI_OK) rc = invcsi_json_get_int(o, "nc", &nc, &e);
    if (rc == INVCSI_OK) rc = invcsi_json_get_int(o, "m", &m, &e);
    invcsi_model_config c;
    if (rc == INVCSI_OK) {
        if (nr < 1 || nt < 1 || nc < 1 || nr > 65536 || nt > 65536 || nc > 65536 || m < 1 ||
            m > 2 * nr * nt * nc)
            rc = invcsi_error_set(&e, INVCSI_EFORMAT,
                                  "sizes nr %" PRId64 ", nt %" PRId64 ", nc %" PRId64
                                  ", m %" PRId64 " are not valid",
                                  nr, nt, nc, m);
        else
            rc = invcsi_model_config_default(&c, kind, (int)nr, (int)nt, (int)nc,
                                             (double)m / (2.0 * nr * nt * nc), &e);
    }
    if (rc == INVCSI_OK) {
        c.m = (int)m; /* exact, whatever rounding the ratio went through */
        int dim = c.dim;
        rc = get_int_opt(o, "dim", &dim, 1, MAX_DIM, &e);
        if (rc == INVCSI_OK && dim != c.dim)
            rc = invcsi_error_set(&e, INVCSI_EFORMAT,
                                  "key \"dim\" is %d but 2*nr*nt*nc is %d", dim, c.dim);
    }
    if (rc == INVCSI_OK) rc = get_u64_opt(o, "seed", &c.seed, &e);
    if (rc == INVCSI_OK) rc = get_int_opt(o, "patch", &c.patch, 1, 65536, &e);
    if (rc == INVCSI_OK) rc = get_int_opt(o, "blocks", &c.blocks, 0, 4096, &e);
    if (rc == INVCSI_OK) rc = get_int_opt(o, "width", &c.width, 1, 65536, &e);
    if (rc == INVCSI_OK) rc = get_float_opt(o, "clamp", &c.clamp, &e);
    if (rc == INVCSI_OK) rc = get_float_opt(o, "leaky_slope", &c.leaky_slope, &e);
    if (rc == INVCSI_OK) rc = get_int_opt(o, "permute", &c.permute, 0, 1, &e);
    if (rc == INVCSI_OK) rc = get_name_opt(o, "front", c.front, sizeof c.front, &e);
    if (rc == INVCSI_OK) rc = get_int_opt(o, "z_bwd_sample", &c.z_bwd_sample, 0, 1, &e);
    if (rc == INVCSI_OK) rc = get_float_opt(o, "mmd_weight", &c.mmd_weight, &e);
    if (rc == INVCSI_OK) rc = get_float_opt(o, "mse_weight", &c.mse_weight, &e);
    if (rc == INVCSI_OK) rc = get_int_opt(o, "refine_blocks", &c.refine_blocks, 0, 4096, &e);
    if (rc == INVCSI_OK) rc = get_int_opt(o, "bits", &c.bits, 1, 8, &e);
    if (rc == INVCSI_OK) rc = get_name_opt(o, "bit_map", c.bit_map, sizeof c.bit_map, &e);
    if (rc == INVCSI_OK) rc = get_float_opt(o, "snr_db_min", &c.snr_db_min, &e);
    if (rc == INVCSI_OK) rc = get_float_opt(o, "snr_db_max", &c.snr_db_max, &e);
    if (rc == INVCSI_OK) rc = get_float_opt(o, "delta", &c.delta, &e);
    if (rc == INVCSI_OK) rc = get_float_opt(o, "tau", &c.tau, &e);
    if (rc == INVCSI_OK) rc = get_name_opt(o, "dbcd_grad", c.dbcd_grad, sizeof c.dbcd_grad, &e);
    if (rc == INVCSI_OK) rc = get_float_opt(o, "beta_start", &c.beta_start, &e);
    if (rc == INVCSI_OK) rc = get_float_opt(o, "beta_end", &c.beta_end, &e);
    if (rc == INVCSI_OK) rc = get_int_opt(o, "lan_width", &c.lan_width, 1, 4096, &e);
    if (rc == INVCSI_OK) rc = get_int_opt(o, "no_daq", &c.no_daq, 0, 1, &e);
    if (rc == INVCSI_OK) rc = get_int_opt(o, "no_dbcd", &c.no_dbcd, 0, 1, &e);
    if (rc == INVCSI_OK) rc = get_int_opt(o, "no_ic", &c.no_ic, 0, 1, &e);
    if (rc == INVCSI_OK) rc = get_int_opt(o, "freeze_inn", &c.freeze_inn, 0, 1, &e);
    if (rc == INVCSI_OK) rc = get_double_opt(o, "norm_scale", &c.norm_scale, &e);
    if (rc == INVCSI_OK) rc = get_u64_opt(o, "split_seed", &c.split_seed, &e);
    if (rc == INVCSI_OK) rc = get_double_opt(o, "train_frac", &c.train_frac, &e);
    if (rc == INVCSI_OK && !(c.norm_scale > 0.0 && isfinite(c.norm_scale)))
        rc = invcsi_error_set(&e, INVCSI_EFORMAT, "key \"norm_scale\": %g must be > 0",
                              c.norm_scale);
    if (rc == INVCSI_OK && !(c.train_frac >= 0.0 && c.train_frac <= 1.0))
        rc = invcsi_error_set(&e, INVCSI_EFORMAT, "key \"train_frac\": %g must be in [0, 1]",
                              c.train_frac);
    invcsi_json_doc_free(&doc);
    if (rc != INVCSI_OK)
        return invcsi_error_set(err, rc, "model config: %s", e.msg);
    *cfg = c;
    return INVCSI_OK;
}

/* ---------------------------------------------------------------------------------- */
/* Life cycle                                                                         */
/* ---------------------------------------------------------------------------------- */

int invcsi_model_create(invcsi_model **out, const invcsi_model_config *cfg, int max_batch,
                        invcsi_error *err)
{
    *out = NULL;
    const invcsi_model_ops *ops = invcsi_model_ops_find(cfg->kind);
    if (!ops)
        return invcsi_error_set(err, INVCSI_EINVAL, "unknown model kind '%s' (known: %s)",
                                cfg->kind, kind_list());
    if (max_batch < 1)
        return invcsi_error_set(err, INVCSI_EINVAL, "model: max_batch %d must be >= 1",
                                max_batch);
    if (cfg->dim != 2 * cfg->nr * cfg->nt * cfg->nc || cfg->m < 1 || cfg->m > cfg->dim)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "model config: dim %d / m %d do not fit nr %d, nt %d, nc %d",
                                cfg->dim, cfg->m, cfg->nr, cfg->nt, cfg->nc);
    int rc = ops->check ? ops->check(cfg, err) : INVCSI_OK;
    if (rc != INVCSI_OK)
        return rc;
    invcsi_model *m = calloc(1, sizeof *m);
    if (!m)
        return invcsi_error_set(err, INVCSI_ENOMEM, "model: out of memory");
    m->cfg = *cfg;
    m->ops = ops;
    m->max_batch = max_batch;
    invcsi_params_init(&m->params);
    rc = ops->build(m, err);
    if (rc == INVCSI_OK)
        rc = invcsi_params_finalize(&m->params, err);
    if (rc == INVCSI_OK)
        rc = ops->reserve(m, max_batch, err);
    if (rc != INVCSI_OK) {
        invcsi_model_destroy(m);
        return rc;
    }
    ops->init(m);
    *out = m;
    return INVCSI_OK;
}

void invcsi_model_destroy(invcsi_model *m)
{
    if (!m)
        return;
    if (m->ops && m->ops->release)
        m->ops->release(m);
    invcsi_params_free(&m->params);
    free(m);
}

long invcsi_model_param_count(const invcsi_model *m, int exclude_frozen)
{
    long n = 0;
    for (int i = 0; i < m->params.n_tensors; i++)
        if (!(exclude_frozen && m->params.tensors[i].frozen))
            n += (long)m->params.tensors[i].count;
    return n;
}

/* ---------------------------------------------------------------------------------- */
/* Weights file                                                                       */
/* ---------------------------------------------------------------------------------- */

/* The scale as exact, locale-independent text (a JSON number: the shortest of %.15g ..
 * %.17g that reads back to the same double), so a GNU Radio GUI that set LC_NUMERIC
 * neither writes "0,5" nor misreads "0.5". */
void invcsi_model_format_scale(double scale, char *buf, size_t n)
{
    invcsi_json_writer w;
    invcsi_jw_init(&w);
    invcsi_jw_number(&w, scale);
    const char *text;
    size_t len;
    if (invcsi_jw_finish(&w, &text, &len, NULL) == INVCSI_OK)
        snprintf(buf, n, "%s", text);
    else
        snprintf(buf, n, "nan");
    invcsi_jw_free(&w);
}

static int reserved_key(const char *k)
{
    return !strcmp(k, "format") || !strcmp(k, "config") || !strcmp(k, "normalisation");
}

int invcsi_model_save(const invcsi_model *m, const char *path, const invcsi_st_kv *extra,
                      int n_extra, invcsi_error *err)
{
    if (n_extra < 0 || (n_extra && !extra))
        return invcsi_error_set(err, INVCSI_EINVAL, "%s: bad metadata list", path);
    for (int i = 0; i < n_extra; i++)
        if (!extra[i].key || reserved_key(extra[i].key))
            return invcsi_error_set(err, INVCSI_EINVAL,
                                    "%s: metadata key \"%s\" is reserved for the model", path,
                                    extra[i].key ? extra[i].key : "(null)");
    /* the weights of a device arena: into the host mirror, which is what is written */
    int sync_rc = invcsi_params_to_host(&m->params, err);
    if (sync_rc != INVCSI_OK)
        return sync_rc;
    char *cfg_json = invcsi_model_config_to_json(&m->cfg);
    invcsi_st_kv *meta = calloc((size_t)n_extra + 3, sizeof *meta);
    if (!cfg_json || !meta) {
        free(cfg_json);
        free(meta);
        return invcsi_error_set(err, INVCSI_ENOMEM, "%s: out of memory", path);
    }
    char scale[40];
    invcsi_model_format_scale(m->cfg.norm_scale, scale, sizeof scale);
    meta[0] = (invcsi_st_kv){"format", WEIGHTS_FORMAT};
    meta[1] = (invcsi_st_kv){"config", cfg_json};
    meta[2] = (invcsi_st_kv){"normalisation", scale};
    for (int i = 0; i < n_extra; i++)
        meta[3 + i] = extra[i];
    int rc = invcsi_params_save(&m->params, path, meta, n_extra + 3, err);
    free(meta);
    free(cfg_json);
    return rc;
}

/* Config of a loaded weights (or checkpoint) file, with the normalisation entry checked
 * against the config's copy. Declared in train.h: the trainer's checkpoints use it too. */
int invcsi_model_config_from_file(const invcsi_safetensors *f, invcsi_model_config *cfg,
                                  invcsi_error *err)
{
    const char *format = invcsi_safetensors_meta(f, "format");
    const char *json = invcsi_safetensors_meta(f, "config");
    if (!format || !json)
        return invcsi_error_set(err, INVCSI_EFORMAT,
                                "%s: not a gr-invcsi weights file (no \"%s\" entry in "
                                "__metadata__)",
                                f->path, format ? "config" : "format");
    if (strncmp(format, "gr-invcsi-", 10) != 0)
        return invcsi_error_set(err, INVCSI_EFORMAT,
                                "%s: format \"%s\" is not a gr-invcsi weights format", f->path,
                                format);
    invcsi_error e;
    int rc = invcsi_model_config_from_json(cfg, json, &e);
    if (rc != INVCSI_OK)
        return invcsi_error_set(err, rc, "%s: %s", f->path, e.msg);
    const char *norm = invcsi_safetensors_meta(f, "normalisation");
    if (norm) {
        double s = 0.0;
        invcsi_json_doc doc;
        if (invcsi_json_parse(norm, strlen(norm), &doc, NULL) == INVCSI_OK) {
            if (doc.root->type == INVCSI_JSON_NUMBER)
                s = doc.root->number;
            invcsi_json_doc_free(&doc);
        }
        if (!(s > 0.0) || !isfinite(s))
            return invcsi_error_set(err, INVCSI_EFORMAT,
                                    "%s: normalisation \"%s\" is not a positive number", f->path,
                                    norm);
        if (s != cfg->norm_scale)
            return invcsi_error_set(err, INVCSI_EFORMAT,
                                    "%s: normalisation %.17g disagrees with the config's "
                                    "norm_scale %.17g",
                                    f->path, s, cfg->norm_scale);
    }
    return INVCSI_OK;
}

int invcsi_model_load(invcsi_model **out, const char *path, int max_batch, invcsi_error *err)
{
    *out = NULL;
    invcsi_safetensors f;
    int rc = invcsi_safetensors_load(path, &f, err);
    if (rc != INVCSI_OK)
        return rc;
    const char *format = invcsi_safetensors_meta(&f, "format");
    invcsi_model_config cfg;
    if (format && strcmp(format, WEIGHTS_FORMAT) != 0)
        rc = invcsi_error_set(err, INVCSI_EFORMAT,
                              "%s: format \"%s\" is not \"%s\"%s", path, format, WEIGHTS_FORMAT,
                              strstr(format, "checkpoint")
                                  ? " (a training checkpoint: resume it with invcsi-train "
                                    "--resume)"
                                  : "");
    if (rc == INVCSI_OK)
        rc = invcsi_model_config_from_file(&f, &cfg, err);
    invcsi_model *m = NULL;
    if (rc == INVCSI_OK) {
        invcsi_error e;
        rc = invcsi_model_create(&m, &cfg, max_batch, &e);
        if (rc != INVCSI_OK)
            invcsi_error_set(err, rc, "%s: cannot build the model it describes: %s", path,
                             e.msg);
    }
    if (rc == INVCSI_OK)
        rc = invcsi_params_load_from(&m->params, &f, err);
    invcsi_safetensors_free(&f);
    if (rc != INVCSI_OK) {
        invcsi_model_destroy(m);
        return rc;
    }
    *out = m;
    return INVCSI_OK;
}

/* ---------------------------------------------------------------------------------- */
/* Chunked inference                                                                  */
/* ---------------------------------------------------------------------------------- */

int invcsi_model_encode(invcsi_model *m, const float *x, long count, float *y, invcsi_error *err)
{
    if (count < 0)
        return invcsi_error_set(err, INVCSI_EINVAL, "encode: count %ld < 0", count);
    for (long at = 0; at < count; at += m->max_batch) {
        int b = (int)(count - at < m->max_batch ? count - at : m->max_batch);
        int rc = m->ops->encode(m, x + at * m->cfg.dim, b, y + at * m->cfg.m, err);
        if (rc != INVCSI_OK)
            return rc;
    }
    return INVCSI_OK;
}

int invcsi_model_decode(invcsi_model *m, const float *y, long count, float *xhat,
                        invcsi_error *err)
{
    if (count < 0)
        return invcsi_error_set(err, INVCSI_EINVAL, "decode: count %ld < 0", count);
    for (long at = 0; at < count; at += m->max_batch) {
        int b = (int)(count - at < m->max_batch ? count - at : m->max_batch);
        int rc = m->ops->decode(m, y + at * m->cfg.m, b, xhat + at * m->cfg.dim, err);
        if (rc != INVCSI_OK)
            return rc;
    }
    return INVCSI_OK;
}

int invcsi_model_use_backend(invcsi_model *m, const invcsi_backend *be, invcsi_error *err)
{
    if (!be)
        be = invcsi_backend_cpu();
    const unsigned need = invcsi_backend_caps_for_kind(m->cfg.kind);
    if ((be->caps & need) != need)
        return invcsi_error_set(err, INVCSI_EUNSUPPORTED,
                                "model kind \"%s\" does not run on the %s backend in this "
                                "version (only the INN model runs on CUDA)",
                                m->cfg.kind, be->name);
    const invcsi_backend *cur = m->params.be ? m->params.be : invcsi_backend_cpu();
    if (cur == be)
        return INVCSI_OK;
    int rc = invcsi_params_attach(&m->params, be, err);
    if (rc == INVCSI_OK)
        rc = m->ops->reserve(m, m->max_batch, err);
    return rc;
}
