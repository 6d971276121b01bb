/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Model files (include/invcsi/model.h, lib/model.c) and checkpoints (train.h), for every
 * registered kind:
 *   - config <-> JSON round trip, defaults for absent keys, bad configs refused;
 *   - save -> load gives identical config, tensors (bit for bit), frozen flags and
 *     encode/decode outputs; the metadata holds format, config, normalisation, extras;
 *   - damaged files are refused with messages naming the file and the problem: missing,
 *     truncated, corrupt header, missing tensor, extra tensor, shape mismatch, no config,
 *     bad config, normalisation disagreeing, a checkpoint given as weights;
 *   - checkpoint round trip (weights, Adam moments, options, state);
 *   - the optimiser never changes a frozen tensor; chunked encode/decode equals per-batch.
 *
 * With --write DIR it only writes DIR/<kind>.safetensors and DIR/<kind>.txt (one line per
 * tensor: name, shape, sum of values in double) for tests/test_model_io_numpy.py.
 */
#include "check.h"

#include "invcsi/model.h"
#include "invcsi/safetensors.h"
#include "invcsi/train.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *KINDS[] = {"inn", "csinet"};
#define N_KINDS 2

/* A config that differs from the defaults in every shared field that can vary freely. */
static int make_config(invcsi_model_config *cfg, const char *kind, invcsi_error *err)
{
    int rc = invcsi_model_config_default(cfg, kind, 1, 32, 32, 1.0 / 16, err);
    if (rc != INVCSI_OK)
        return rc;
    cfg->seed = 0xFEDCBA9876543210ULL; /* beyond INT64_MAX: written as a string */
    cfg->mse_weight = 0.37f;
    cfg->mmd_weight = 1.5f;
    cfg->norm_scale = 1.2345678901234567;
    cfg->split_seed = 99;
    cfg->train_frac = 0.625;
    return INVCSI_OK;
}

/* Fills every parameter with seeded random values (a trained-looking model, and frozen
 * tables that are not the identity). Integer tables (permutations) keep their init. */
static void randomise(invcsi_model *m, uint64_t seed)
{
    invcsi_rng r;
    invcsi_rng_init(&r, seed, 0);
    for (int i = 0; i < m->params.n_tensors; i++) {
        const invcsi_tensor *t = &m->params.tensors[i];
        if (strstr(t->name, "perm"))
            continue;
        float *d = invcsi_tensor_data(&m->params, t);
        for (size_t k = 0; k < t->count; k++)
            d[k] = (float)(0.05 * invcsi_rng_normal(&r));
        if (strstr(t->name, "running_var"))
            for (size_t k = 0; k < t->count; k++)
                d[k] = 1.0f + fabsf(d[k]);
    }
}

static void random_reports(float *x, long n, long dim, uint64_t seed)
{
    invcsi_rng r;
    invcsi_rng_init(&r, seed, 1);
    for (long i = 0; i < n * dim; i++)
        x[i] = (float)invcsi_rng_normal(&r);
}

static int same_tensors(const invcsi_model *a, const invcsi_model *b)
{
    if (a->params.n_tensors != b->params.n_tensors)
        return 0;
    for (int i = 0; i < a->params.n_tensors; i++) {
        const invcsi_tensor *ta = &a->params.tensors[i], *tb = &b->params.tensors[i];
        if (strcmp(ta->name, tb->name) || ta->count != tb->count || ta->rank != tb->rank ||
            ta->frozen != tb->frozen ||
            memcmp(invcsi_tensor_data(&a->params, ta), invcsi_tensor_data(&b->params, tb),
                   ta->count * sizeof(float)))
            return 0;
    }
    return 1;
}

static int contains(const char *s, const char *sub) { return s && sub && strstr(s, sub); }

/* Writes a variant of a model's weights file: tensors from m, with tensor `drop` left out,
 * tensor `reshape` given shape [count] (rank 1), an extra tensor when extra is set, and
 * the given metadata. */
static int write_variant(const invcsi_model *m, const char *path, int drop, int reshape,
                         int extra, const invcsi_st_kv *meta, int n_meta)
{
    const invcsi_params *p = &m->params;
    invcsi_st_tensor_in *t = calloc((size_t)p->n_tensors + 1, sizeof *t);
    int64_t *shapes = calloc((size_t)p->n_tensors * 4 + 4, sizeof *shapes);
    int n = 0;
    for (int i = 0; i < p->n_tensors; i++) {
        const invcsi_tensor *pt = &p->tensors[i];
        if (i == drop)
            continue;
        int64_t *sh = shapes + 4 * i;
        int rank = pt->rank;
        for (int d = 0; d < rank; d++)
            sh[d] = pt->shape[d];
        if (i == reshape) {
            rank = 1;
            sh[0] = (int64_t)pt->count;
            if (pt->rank == 1) { /* make it a different shape for sure */
                rank = 2;
                sh[0] = 1;
                sh[1] = (int64_t)pt->count;
            }
        }
        t[n++] = (invcsi_st_tensor_in){pt->name, rank, sh, p->data + pt->offset};
    }
    static const float one = 1.0f;
    static const int64_t one_shape[1] = {1};
    if (extra)
        t[n++] = (invcsi_st_tensor_in){"not.in.the.model", 1, one_shape, &one};
    invcsi_error err;
    int rc = invcsi_safetensors_write(path, t, n, meta, n_meta, &err);
    if (rc != INVCSI_OK)
        fprintf(stderr, "write_variant: %s\n", err.msg);
    free(t);
    free(shapes);
    return rc;
}

static void test_config_json(const char *kind)
{
    invcsi_error err;
    invcsi_model_config a, b;
    CHECK(make_config(&a, kind, &err) == INVCSI_OK, "%s config: %s", kind, err.msg);
    char *j1 = invcsi_model_config_to_json(&a);
    CHECK(j1 != NULL, "to_json");
    CHECK(invcsi_model_config_from_json(&b, j1, &err) == INVCSI_OK, "from_json: %s", err.msg);
    char *j2 = invcsi_model_config_to_json(&b);
    CHECK(j1 && j2 && !strcmp(j1, j2), "JSON round trip:\n%s\n%s", j1, j2);
    CHECK(b.seed == a.seed && b.norm_scale == a.norm_scale && b.mse_weight == a.mse_weight &&
              b.train_frac == a.train_frac && b.split_seed == a.split_seed && b.m == a.m &&
              b.width == a.width && b.leaky_slope == a.leaky_slope &&
              !strcmp(b.kind, a.kind) && !strcmp(b.front, a.front),
          "%s: config fields survive the round trip", kind);
    CHECK(contains(j1, "\"seed\":\"18364758544493064720\""), "big seed as a string: %s", j1);
    free(j1);
    free(j2);

    /* only the required keys: the rest are the kind's defaults */
    char text[256];
    snprintf(text, sizeof text, "{\"kind\": \"%s\", \"nr\": 1, \"nt\": 32, \"nc\": 32, \"m\": 128}",
             kind);
    invcsi_model_config d;
    invcsi_model_config_default(&d, kind, 1, 32, 32, 1.0 / 16, NULL);
    CHECK(invcsi_model_config_from_json(&b, text, &err) == INVCSI_OK, "minimal: %s", err.msg);
    j1 = invcsi_model_config_to_json(&b);
    j2 = invcsi_model_config_to_json(&d);
    CHECK(j1 && j2 && !strcmp(j1, j2), "minimal config = defaults:\n%s\n%s", j1, j2);
    free(j1);
    free(j2);

    /* refusals */
    struct {
        const char *json, *want;
    } bad[] = {
        {"{\"kind\": \"nope\", \"nr\": 1, \"nt\": 32, \"nc\": 32, \"m\": 128}", "unknown model kind"},
        {"{\"kind\": \"inn\", \"nt\": 32, \"nc\": 32, \"m\": 128}", "nr"},
        {"{\"kind\": \"inn\", \"nr\": 1, \"nt\": 32, \"nc\": 32, \"m\": 5000}", "not valid"},
        {"{\"kind\": \"inn\", \"nr\": 1, \"nt\": 32, \"nc\": 32, \"m\": 128, \"dim\": 7}", "dim"},
        {"{\"kind\": \"inn\", \"nr\": 1, \"nt\": 32, \"nc\": 32, \"m\": 128, \"width\": \"x\"}", "width"},
        {"{\"kind\": \"inn\", \"nr\": 1, \"nt\": 32, \"nc\": 32, \"m\": 128, \"norm_scale\": -1}", "norm_scale"},
        {"{\"kind\": \"inn\", \"nr\": 1, ", "JSON"},
        {"[1, 2]", "object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        invcsi_error_clear(&err);
        int rc = invcsi_model_config_from_json(&b, bad[i].json, &err);
        CHECK(rc != INVCSI_OK && contains(err.msg, bad[i].want) &&
                  contains(err.msg, "model config"),
              "bad config %zu refused naming '%s': rc %d, '%s'", i, bad[i].want, rc, err.msg);
    }
    CHECK(invcsi_model_config_default(&b, "nope", 1, 32, 32, 0.1, &err) == INVCSI_EINVAL &&
              contains(err.msg, "inn") && contains(err.msg, "csinet"),
          "unknown kind lists the known ones: %s", err.msg);
    CHECK(invcsi_model_config_default(&b, kind, 1, 32, 32, 0.0, &err) == INVCSI_EINVAL,
          "cr 0 refused");
    CHECK(invcsi_model_ops_find(kind) != NULL && invcsi_model_ops_find("x") == NULL, "registry");
}

static void test_save_load(const char *kind)
{
    invcsi_error err;
    invcsi_model_config cfg;
    make_config(&cfg, kind, &err);
    invcsi_model *m = NULL, *l = NULL;
    int rc = invcsi_model_create(&m, &cfg, 4, &err);
    CHECK(rc == INVCSI_OK, "%s create: %s", kind, err.msg);
    if (rc != INVCSI_OK)
        return;
    randomise(m, 11);
    long total = invcsi_model_param_count(m, 0), trainable = invcsi_model_param_count(m, 1);
    CHECK(total == (long)m->params.n_values && trainable <= total && trainable > 0,
          "%s param counts %ld / %ld / n_values %zu", kind, trainable, total, m->params.n_values);

    char path[64];
    snprintf(path, sizeof path, "%s.safetensors", kind);
    invcsi_st_kv extra[] = {{"command", "invcsi-train --cr 1/16 -o 'a b'"}, {"note", "\xe2\x9c\x93"}};
    rc = invcsi_model_save(m, path, extra, 2, &err);
    CHECK(rc == INVCSI_OK, "%s save: %s", kind, err.msg);
    rc = invcsi_model_load(&l, path, 3, &err);
    CHECK(rc == INVCSI_OK, "%s load: %s", kind, err.msg);
    if (rc == INVCSI_OK) {
        char *ja = invcsi_model_config_to_json(&m->cfg), *jb = invcsi_model_config_to_json(&l->cfg);
        CHECK(ja && jb && !strcmp(ja, jb), "%s: loaded config identical", kind);
        free(ja);
        free(jb);
        CHECK(l->max_batch == 3, "max_batch from the caller");
        CHECK(same_tensors(m, l), "%s: every tensor bit-identical after the round trip", kind);
        /* same outputs */
        const int dim = cfg.dim, mm = cfg.m;
        float x[3 * 2048], y1[3 * 512], y2[3 * 512], x1[3 * 2048], x2[3 * 2048];
        if (dim <= 2048 && mm <= 512) {
            random_reports(x, 3, dim, 5);
            int ok = m->ops->encode(m, x, 3, y1, &err) == INVCSI_OK &&
                     l->ops->encode(l, x, 3, y2, &err) == INVCSI_OK &&
                     m->ops->decode(m, y1, 3, x1, &err) == INVCSI_OK &&
                     l->ops->decode(l, y1, 3, x2, &err) == INVCSI_OK;
            CHECK(ok, "%s encode/decode: %s", kind, err.msg);
            CHECK(ok && !memcmp(y1, y2, sizeof(float) * 3 * mm) &&
                      !memcmp(x1, x2, sizeof(float) * 3 * dim),
                  "%s: loaded model encodes and decodes identically", kind);
        }
    }
    invcsi_model_destroy(l);
    l = NULL;

    /* metadata */
    invcsi_safetensors f;
    rc = invcsi_safetensors_load(path, &f, &err);
    CHECK(rc == INVCSI_OK, "reload: %s", err.msg);
    if (rc == INVCSI_OK) {
        CHECK(contains(invcsi_safetensors_meta(&f, "format"), "gr-invcsi-weights-1"), "format");
        CHECK(!strcmp(invcsi_safetensors_meta(&f, "normalisation"), "1.2345678901234567"),
              "normalisation text: %s", invcsi_safetensors_meta(&f, "normalisation"));
        CHECK(contains(invcsi_safetensors_meta(&f, "config"), "\"kind\":"), "config JSON");
        CHECK(!strcmp(invcsi_safetensors_meta(&f, "command"), extra[0].value), "command");
        CHECK(!strcmp(invcsi_safetensors_meta(&f, "note"), extra[1].value), "note");
        CHECK(f.n_tensors == m->params.n_tensors, "every tensor stored");
    }
    invcsi_safetensors_free(&f);
    invcsi_st_kv reserved[] = {{"config", "{}"}};
    CHECK(invcsi_model_save(m, "r.safetensors", reserved, 1, &err) == INVCSI_EINVAL &&
              contains(err.msg, "reserved"),
          "extra metadata cannot override config: %s", err.msg);

    /* damaged and foreign files */
    char cfg_json_buf[4096];
    char *cj = invcsi_model_config_to_json(&m->cfg);
    snprintf(cfg_json_buf, sizeof cfg_json_buf, "%s", cj ? cj : "");
    free(cj);
    invcsi_st_kv good_meta[] = {{"format", "gr-invcsi-weights-1"}, {"config", cfg_json_buf},
                                {"normalisation", "1.2345678901234567"}};
    struct {
        const char *file, *want1, *want2;
    } cases[] = {
        {"missing.safetensors", "cannot open", NULL},
        {"truncated.safetensors", "truncated", NULL},
        {"corrupt.safetensors", "JSON", NULL},
        {"drop.safetensors", "missing", m->params.tensors[m->params.n_tensors - 1].name},
        {"reshape.safetensors", "shape", m->params.tensors[0].name},
        {"extra.safetensors", "not.in.the.model", NULL},
        {"noconfig.safetensors", "not a gr-invcsi weights file", NULL},
        {"badconfig.safetensors", "model config", NULL},
        {"badnorm.safetensors", "normalisation", NULL},
        {"otherkind.safetensors", NULL, NULL},
    };
    /* truncated: first half of the good file */
    FILE *in = fopen(path, "rb");
    if (in) {
        fseek(in, 0, SEEK_END);
        long len = ftell(in);
        fseek(in, 0, SEEK_SET);
        unsigned char *buf = malloc((size_t)len);
        if (buf && fread(buf, 1, (size_t)len, in) == (size_t)len) {
            FILE *o = fopen("truncated.safetensors", "wb");
            fwrite(buf, 1, (size_t)len / 2, o);
            fclose(o);
            buf[8 + 1] = '#'; /* inside the JSON header */
            o = fopen("corrupt.safetensors", "wb");
            fwrite(buf, 1, (size_t)len, o);
            fclose(o);
        }
        free(buf);
        fclose(in);
    }
    write_variant(m, "drop.safetensors", m->params.n_tensors - 1, -1, 0, good_meta, 3);
    write_variant(m, "reshape.safetensors", -1, 0, 0, good_meta, 3);
    write_variant(m, "extra.safetensors", -1, -1, 1, good_meta, 3);
    write_variant(m, "noconfig.safetensors", -1, -1, 0, good_meta, 1);
    invcsi_st_kv bad_cfg[] = {{"format", "gr-invcsi-weights-1"}, {"config", "{\"kind\": 3}"}};
    write_variant(m, "badconfig.safetensors", -1, -1, 0, bad_cfg, 2);
    invcsi_st_kv bad_norm[] = {{"format", "gr-invcsi-weights-1"}, {"config", cfg_json_buf},
                               {"normalisation", "2.5"}};
    write_variant(m, "badnorm.safetensors", -1, -1, 0, bad_norm, 3);
    /* the weights of this kind under another kind's config */
    invcsi_model_config other;
    make_config(&other, strcmp(kind, "inn") ? "inn" : "csinet", &err);
    char *oj = invcsi_model_config_to_json(&other);
    invcsi_st_kv other_meta[] = {{"format", "gr-invcsi-weights-1"}, {"config", oj},
                                 {"normalisation", "1.2345678901234567"}};
    write_variant(m, "otherkind.safetensors", -1, -1, 0, other_meta, 3);
    free(oj);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        invcsi_error_clear(&err);
        rc = invcsi_model_load(&l, cases[i].file, 2, &err);
        CHECK(rc != INVCSI_OK && l == NULL, "%s: %s refused (rc %d)", kind, cases[i].file, rc);
        CHECK(contains(err.msg, cases[i].file), "%s: message names the file: %s", kind, err.msg);
        if (cases[i].want1)
            CHECK(contains(err.msg, cases[i].want1), "%s: %s: message says '%s': %s", kind,
                  cases[i].file, cases[i].want1, err.msg);
        if (cases[i].want2)
            CHECK(contains(err.msg, cases[i].want2), "%s: %s: message names '%s': %s", kind,
                  cases[i].file, cases[i].want2, err.msg);
        invcsi_model_destroy(l);
        l = NULL;
    }

    /* checkpoints */
    randomise(m, 12);
    for (size_t k = 0; k < m->params.total; k++) {
        m->params.adam_m[k] = 0.001f * (float)(k % 17);
        m->params.adam_v[k] = 0.002f * (float)(k % 13);
    }
    invcsi_train_options o = invcsi_train_options_default(), o2;
    o.epochs = 7;
    o.batch = 3;
    o.lr = 3e-4;
    o.lr_step = 5;
    o.eval_every = 2;
    o.checkpoint_every = 3;
    invcsi_st_kv ck_extra[] = {{"command", "x"}};
    o.meta = ck_extra;
    o.n_meta = 1;
    invcsi_train_state st = {4, 2, 123, 1.25, 0.5, 0.75, 0.1}, st2;
    rc = invcsi_checkpoint_save(m, &o, &st, "ck.ckpt", &err);
    CHECK(rc == INVCSI_OK, "%s checkpoint save: %s", kind, err.msg);
    invcsi_safetensors cf;
    rc = invcsi_checkpoint_load("ck.ckpt", 0, &l, &o2, &st2, &cf, &err);
    CHECK(rc == INVCSI_OK, "%s checkpoint load: %s", kind, err.msg);
    if (rc == INVCSI_OK) {
        CHECK(same_tensors(m, l), "%s: checkpoint weights identical", kind);
        int moments_same = 1;
        for (int i = 0; i < m->params.n_tensors; i++) {
            const invcsi_tensor *t = &m->params.tensors[i];
            moments_same &= !memcmp(m->params.adam_m + t->offset, l->params.adam_m + t->offset,
                                    t->count * sizeof(float)) &&
                            !memcmp(m->params.adam_v + t->offset, l->params.adam_v + t->offset,
                                    t->count * sizeof(float));
        }
        CHECK(moments_same, "%s: Adam moments identical", kind);
        CHECK(l->max_batch == 3, "max_batch 0 = the recorded batch");
        CHECK(o2.epochs == 7 && o2.batch == 3 && o2.lr == 3e-4 && o2.lr_step == 5 &&
                  o2.lr_decay == o.lr_decay && o2.eval_every == 2 && o2.checkpoint_every == 3,
              "options restored");
        CHECK(st2.epoch == 4 && st2.batch == 2 && st2.step == 123 && st2.sum_total == 1.25 &&
                  st2.sum_mmd == 0.5 && st2.sum_mse == 0.75 && st2.sum_nmse == 0.1,
              "state restored");
        CHECK(!strcmp(invcsi_safetensors_meta(&cf, "command"), "x"), "checkpoint extras kept");
        invcsi_safetensors_free(&cf);
    }
    invcsi_model_destroy(l);
    l = NULL;
    rc = invcsi_model_load(&l, "ck.ckpt", 2, &err);
    CHECK(rc == INVCSI_EFORMAT && contains(err.msg, "checkpoint"),
          "a checkpoint is not a weights file: %s", err.msg);
    rc = invcsi_checkpoint_load(path, 0, &l, &o2, &st2, NULL, &err);
    CHECK(rc == INVCSI_EFORMAT && contains(err.msg, "not a training checkpoint"),
          "a weights file is not a checkpoint: %s", err.msg);
    invcsi_model_destroy(m);
}

/* Adam never changes a frozen tensor; chunked inference equals one call per batch. */
static void test_frozen_and_chunks(const char *kind)
{
    invcsi_error err;
    invcsi_model_config cfg;
    invcsi_model_config_default(&cfg, kind, 1, 32, 32, 1.0 / 16, &err);
    invcsi_model *m = NULL;
    if (invcsi_model_create(&m, &cfg, 4, &err) != INVCSI_OK) {
        CHECK(0, "%s create: %s", kind, err.msg);
        return;
    }
    randomise(m, 3);
    invcsi_params *p = &m->params;
    /* freeze the first and the last trainable tensor; only these are checked (a model
     * may update its own frozen buffers, e.g. BN running statistics, in train_step) */
    int first = 0, last = p->n_tensors - 1;
    while (first < p->n_tensors && p->tensors[first].frozen)
        first++;
    while (last > first && p->tensors[last].frozen)
        last--;
    CHECK(first < last, "%s: two trainable tensors", kind);
    if (first >= last) {
        invcsi_model_destroy(m);
        return;
    }
    p->tensors[first].frozen = 1;
    p->tensors[last].frozen = 1;
    float *before = malloc(p->total * sizeof(float));
    memcpy(before, p->data, p->total * sizeof(float));
    float x[4 * 2048];
    random_reports(x, 4, cfg.dim, 9);
    invcsi_losses l;
    int rc = INVCSI_OK;
    for (int s = 0; s < 3 && rc == INVCSI_OK; s++) {
        invcsi_rng rng;
        invcsi_rng_init(&rng, 1, (uint64_t)s);
        rc = invcsi_train_one_step(m, x, 4, &rng, 1e-2, s, &l, &err);
    }
    CHECK(rc == INVCSI_OK, "%s steps: %s", kind, err.msg);
    int frozen_same = 1, others_moved = 0;
    for (int i = 0; i < p->n_tensors; i++) {
        const invcsi_tensor *t = &p->tensors[i];
        int same = !memcmp(before + t->offset, p->data + t->offset, t->count * sizeof(float));
        if (i == first || i == last)
            frozen_same &= same;
        else if (t->frozen)
            continue;
        else
            others_moved += !same;
    }
    CHECK(frozen_same, "%s: frozen tensors unchanged by 3 optimiser steps", kind);
    CHECK(others_moved > 0, "%s: trainable tensors moved (%d)", kind, others_moved);
    /* padding between tensors stays zero */
    int pad_zero = 1;
    size_t at = 0;
    for (int i = 0; i < p->n_tensors; i++) {
        for (size_t k = at; k < p->tensors[i].offset; k++)
            pad_zero &= p->data[k] == 0.0f;
        at = p->tensors[i].offset + p->tensors[i].count;
    }
    CHECK(pad_zero, "%s: padding floats stay zero", kind);
    free(before);

    /* chunked: 7 reports through max_batch 4 vs one call of 3 and one of 4 */
    float x7[7 * 2048], y_a[7 * 512], y_b[7 * 512], xh_a[7 * 2048], xh_b[7 * 2048];
    random_reports(x7, 7, cfg.dim, 10);
    rc = invcsi_model_encode(m, x7, 7, y_a, &err);
    if (rc == INVCSI_OK)
        rc = m->ops->encode(m, x7, 4, y_b, &err);
    if (rc == INVCSI_OK)
        rc = m->ops->encode(m, x7 + 4 * cfg.dim, 3, y_b + 4 * cfg.m, &err);
    if (rc == INVCSI_OK)
        rc = invcsi_model_decode(m, y_a, 7, xh_a, &err);
    if (rc == INVCSI_OK)
        rc = m->ops->decode(m, y_a, 4, xh_b, &err);
    if (rc == INVCSI_OK)
        rc = m->ops->decode(m, y_a + 4 * cfg.m, 3, xh_b + 4 * cfg.dim, &err);
    CHECK(rc == INVCSI_OK, "%s chunked: %s", kind, err.msg);
    CHECK(!memcmp(y_a, y_b, sizeof(float) * 7 * cfg.m) &&
              !memcmp(xh_a, xh_b, sizeof(float) * 7 * cfg.dim),
          "%s: chunked encode/decode = per-chunk calls", kind);
    CHECK(invcsi_model_encode(m, x7, -1, y_a, &err) == INVCSI_EINVAL, "negative count");
    double nmse = 0;
    CHECK(invcsi_model_nmse(m, x7, 7, &nmse, &err) == INVCSI_OK && nmse > 0 && isfinite(nmse),
          "%s: model NMSE %g", kind, nmse);
    invcsi_model_destroy(m);
}

/* --write DIR: files for the numpy reader. */
static int write_for_numpy(const char *dir)
{
    for (int k = 0; k < N_KINDS; k++) {
        invcsi_error err;
        invcsi_model_config cfg;
        invcsi_model *m = NULL;
        if (make_config(&cfg, KINDS[k], &err) != INVCSI_OK ||
            invcsi_model_create(&m, &cfg, 2, &err) != INVCSI_OK) {
            fprintf(stderr, "%s: %s\n", KINDS[k], err.msg);
            return 1;
        }
        randomise(m, 21 + k);
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.safetensors", dir, KINDS[k]);
        invcsi_st_kv extra[] = {{"command", "test_model_io --write"}};
        if (invcsi_model_save(m, path, extra, 1, &err) != INVCSI_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        snprintf(path, sizeof path, "%s/%s.txt", dir, KINDS[k]);
        FILE *f = fopen(path, "w");
        if (!f)
            return 1;
        for (int i = 0; i < m->params.n_tensors; i++) {
            const invcsi_tensor *t = &m->params.tensors[i];
            const float *d = invcsi_tensor_data(&m->params, t);
            double sum = 0;
            for (size_t j = 0; j < t->count; j++)
                sum += d[j];
            fprintf(f, "%s %d", t->name, t->rank);
            for (int r = 0; r < t->rank; r++)
                fprintf(f, " %d", t->shape[r]);
            fprintf(f, " %.17g\n", sum);
        }
        fclose(f);
        invcsi_model_destroy(m);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--write"))
        return write_for_numpy(argv[2]);
    for (int k = 0; k < N_KINDS; k++) {
        test_config_json(KINDS[k]);
        test_save_load(KINDS[k]);
        test_frozen_and_chunks(KINDS[k]);
    }
    return check_done("test_model_io");
}
