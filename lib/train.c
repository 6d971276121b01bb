/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The training loop shared by invcsi-train, the tests and the benchmarks
 * (include/invcsi/train.h): data split and preprocessing, the optimiser step over the
 * trainable tensors, held-out NMSE, epochs of shuffled batches, and checkpoints from
 * which a run resumes bit-exactly.
 */
#include "invcsi/train.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "invcsi/backend.h"
#include "invcsi/gemm.h"
#include "invcsi/json.h"
#include "invcsi/metrics.h"
#include "invcsi/transform.h"

/* RNG stream tags (high bits), so the shuffle of epoch e and the noise of step s never
 * share a stream with each other or with weight initialisation (small stream numbers). */
#define STREAM_SHUFFLE (0x53485546ULL << 32) /* "SHUF" */
#define STREAM_STEP (0x53544550ULL << 32)    /* "STEP" */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

void invcsi_set_threads(int n)
{
    if (n <= 0)
        return;
    omp_set_num_threads(n);
    invcsi_gemm_set_threads(n);
}

int invcsi_get_threads(void) { return omp_get_max_threads(); }

/* ---------------------------------------------------------------------------------- */
/* Data                                                                               */
/* ---------------------------------------------------------------------------------- */

void invcsi_dataset_free(invcsi_dataset *d)
{
    if (!d)
        return;
    free(d->train_idx);
    free(d->test_idx);
    free(d->x_train);
    free(d->x_test);
    memset(d, 0, sizeof *d);
}

int invcsi_dataset_prepare(invcsi_dataset *d, const invcsi_channels *c, uint64_t split_seed,
                           double train_frac, long max_train, double *scale, invcsi_error *err)
{
    memset(d, 0, sizeof *d);
    if (!c || !c->h || c->n < 1)
        return invcsi_error_set(err, INVCSI_EINVAL, "data set is empty");
    if (!(train_frac >= 0.0 && train_frac <= 1.0))
        return invcsi_error_set(err, INVCSI_EINVAL, "training fraction %g is not in [0, 1]",
                                train_frac);
    d->dim = 2L * c->nr * c->nt * c->nc;
    d->train_idx = malloc(sizeof(int) * (size_t)c->n);
    d->test_idx = malloc(sizeof(int) * (size_t)c->n);
    if (!d->train_idx || !d->test_idx) {
        invcsi_dataset_free(d);
        return invcsi_error_set(err, INVCSI_ENOMEM, "out of memory splitting %d reports", c->n);
    }
    int n_train = 0, n_test = 0;
    invcsi_split(c->n, train_frac, (unsigned long long)split_seed, d->train_idx, &n_train,
                 d->test_idx, &n_test);
    d->n_train = n_train;
    d->n_test = n_test;
    if (max_train > 0 && d->n_train > max_train)
        d->n_train = max_train;
    if (d->n_train < 1) {
        invcsi_dataset_free(d);
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "the split leaves no training report (%d reports, training "
                                "fraction %g)",
                                c->n, train_frac);
    }
    d->x_train = malloc(sizeof(float) * (size_t)(d->n_train * d->dim));
    d->x_test = d->n_test ? malloc(sizeof(float) * (size_t)(d->n_test * d->dim)) : NULL;
    if (!d->x_train || (d->n_test && !d->x_test)) {
        long n = d->n_train + d->n_test;
        invcsi_dataset_free(d);
        return invcsi_error_set(err, INVCSI_ENOMEM,
                                "cannot allocate %.1f MB for %ld preprocessed reports",
                                4.0 * n * (2.0 * c->nr * c->nt * c->nc) / (1 << 20), n);
    }
    double s = *scale > 0.0 ? *scale : 1.0;
    int rc = invcsi_preprocess(c, d->train_idx, d->n_train, s, d->x_train, err);
    if (rc == INVCSI_OK && !(*scale > 0.0)) {
        s = invcsi_power_scale(d->x_train, d->n_train, d->dim);
        if (!(s > 0.0) || !isfinite(s))
            rc = invcsi_error_set(err, INVCSI_EINVAL,
                                  "the training reports have no power: cannot normalise");
        else
            invcsi_scale(d->x_train, d->n_train, d->dim, s);
    }
    if (rc == INVCSI_OK && d->n_test)
        rc = invcsi_preprocess(c, d->test_idx, d->n_test, s, d->x_test, err);
    if (rc != INVCSI_OK) {
        invcsi_dataset_free(d);
        return rc;
    }
    d->scale = s;
    *scale = s;
    return INVCSI_OK;
}

static uint64_t fnv1a(uint64_t h, const void *bytes, size_t n)
{
    const unsigned char *p = bytes;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint64_t invcsi_channels_fingerprint(const invcsi_channels *c)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    int32_t sizes[4] = {c->n, c->nr, c->nt, c->nc};
    h = fnv1a(h, sizes, sizeof sizes);
    if (c->h)
        h = fnv1a(h, c->h, sizeof(float) * 2 * (size_t)c->n * (size_t)invcsi_channels_sample_len(c));
    return h;
}

/* ---------------------------------------------------------------------------------- */
/* Steps                                                                              */
/* ---------------------------------------------------------------------------------- */

int invcsi_train_adam_step(invcsi_model *m, double lr, long t, invcsi_error *err)
{
    invcsi_params *p = &m->params;
    if (!p->grad || !p->adam_m || !p->adam_v)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "the model has no gradient buffers (created for inference)");
    if (t < 1 || !(lr >= 0.0))
        return invcsi_error_set(err, INVCSI_EINVAL, "adam: step %ld must be >= 1, lr %g >= 0",
                                t, lr);
    invcsi_adam_config ac = invcsi_adam_default();
    ac.lr = lr;
    /* The update runs as the `adam` kernel of the parameters' backend (kernels/nn_math.h
     * nn_adam_element, the function invcsi_adam_step loops over) on the compute-side
     * buffers, so a device arena is updated where it lives. The per-step scalars are
     * invcsi_adam_step's, in double as there (bias corrections for step t). */
    const double bc1 = 1.0 - pow(ac.beta1, (double)t);
    const double bc2 = 1.0 - pow(ac.beta2, (double)t);
    const float step_size = (float)(ac.lr / bc1);
    const float inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    const float b1 = (float)ac.beta1, omb1 = (float)(1.0 - ac.beta1);
    const float b2 = (float)ac.beta2, omb2 = (float)(1.0 - ac.beta2);
    const float eps = (float)ac.eps, wd = (float)ac.weight_decay;
    const invcsi_kernels *k = (p->be ? p->be : invcsi_backend_cpu())->kern;
    float *data = invcsi_params_cdata(p), *grad = invcsi_params_cgrad(p);
    float *mm = invcsi_params_cadam_m(p), *vv = invcsi_params_cadam_v(p);
    /* Adam over maximal runs of consecutive trainable tensors: a run includes the zero
     * padding between its tensors, whose gradient and moments stay zero, so their update
     * is zero too. Frozen tensors lie outside every run: untouched. */
    int i = 0;
    while (i < p->n_tensors) {
        if (p->tensors[i].frozen) {
            i++;
            continue;
        }
        int j = i;
        while (j + 1 < p->n_tensors && !p->tensors[j + 1].frozen)
            j++;
        size_t begin = p->tensors[i].offset;
        size_t end = p->tensors[j].offset + p->tensors[j].count;
        k->adam(data + begin, grad + begin, mm + begin, vv + begin, (long)(end - begin), b1, omb1,
                b2, omb2, eps, wd, step_size, inv_sqrt_bc2);
        i = j + 1;
    }
    return INVCSI_OK;
}

int invcsi_train_one_step(invcsi_model *m, const float *x, int batch, invcsi_rng *rng,
                          double lr, long step, invcsi_losses *losses, invcsi_error *err)
{
    invcsi_params_zero_grad(&m->params);
    memset(losses, 0, sizeof *losses);
    int rc = m->ops->train_step(m, x, batch, rng, losses, err);
    if (rc != INVCSI_OK)
        return rc;
    if (!isfinite(losses->total))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "training diverged at step %ld: the loss is %g (mmd %g, mse %g); "
                                "try a lower learning rate",
                                step + 1, losses->total, losses->mmd, losses->mse);
    return invcsi_train_adam_step(m, lr, step + 1, err);
}

int invcsi_model_nmse(invcsi_model *m, const float *x, long n, double *nmse, invcsi_error *err)
{
    *nmse = NAN;
    if (n <= 0)
        return invcsi_error_set(err, INVCSI_EINVAL, "NMSE of %ld reports", n);
    const long dim = m->cfg.dim, mm = m->cfg.m, b = m->max_batch;
    float *y = malloc(sizeof(float) * (size_t)(b * mm));
    float *xh = malloc(sizeof(float) * (size_t)(b * dim));
    if (!y || !xh) {
        free(y);
        free(xh);
        return invcsi_error_set(err, INVCSI_ENOMEM, "out of memory evaluating the model");
    }
    double sum = 0.0;
    int rc = INVCSI_OK;
    for (long at = 0; at < n && rc == INVCSI_OK; at += b) {
        int cnt = (int)(n - at < b ? n - at : b);
        rc = m->ops->encode(m, x + at * dim, cnt, y, err);
        if (rc == INVCSI_OK)
            rc = m->ops->decode(m, y, cnt, xh, err);
        for (int i = 0; rc == INVCSI_OK && i < cnt; i++)
            sum += invcsi_nmse_real(x + (at + i) * dim, xh + (long)i * dim, dim);
    }
    free(y);
    free(xh);
    if (rc == INVCSI_OK)
        *nmse = sum / (double)n;
    return rc;
}

/* ---------------------------------------------------------------------------------- */
/* The loop                                                                           */
/* ---------------------------------------------------------------------------------- */

invcsi_train_options invcsi_train_options_default(void)
{
    invcsi_train_options o;
    memset(&o, 0, sizeof o);
    o.epochs = 1;
    o.batch = 128;
    o.lr = 1e-3;
    o.lr_decay = INVCSI_LR_DECAY_GAMMA;
    o.lr_step = INVCSI_LR_DECAY_EPOCHS;
    o.eval_every = 1;
    o.checkpoint_every = 0;
    return o;
}

static int check_options(const invcsi_model *m, const invcsi_train_options *o,
                         const invcsi_train_state *st, long n_train, invcsi_error *err)
{
    if (o->epochs < 0)
        return invcsi_error_set(err, INVCSI_EINVAL, "epochs %d must be >= 0", o->epochs);
    if (o->batch < 2)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "batch %d: a batch needs at least 2 reports (MMD, batch "
                                "statistics)",
                                o->batch);
    if (o->batch > m->max_batch)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "batch %d exceeds the model's max_batch %d", o->batch,
                                m->max_batch);
    if (!(o->lr > 0.0) || !isfinite(o->lr) || !(o->lr_decay > 0.0) || !isfinite(o->lr_decay))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "learning rate %g and decay %g must be positive", o->lr,
                                o->lr_decay);
    if (n_train < o->batch)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "the training set has %ld reports, fewer than one batch of %d: "
                                "lower the batch size or use more data",
                                n_train, o->batch);
    long batches = n_train / o->batch;
    if (st->epoch < 0 || st->epoch > o->epochs || st->batch < 0 || st->batch > batches ||
        st->step < 0)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "cannot continue from epoch %d, batch %d, step %ld with %d "
                                "epochs of %ld batches",
                                st->epoch, st->batch, st->step, o->epochs, batches);
    return INVCSI_OK;
}

static double nmse_db_or_nan(double lin) { return isfinite(lin) ? invcsi_db(lin) : NAN; }

int invcsi_train_run(invcsi_model *m, const invcsi_train_options *o, invcsi_train_state *st,
                     const float *x_train, long n_train, const float *x_test, long n_test,
                     const volatile sig_atomic_t *stop, invcsi_epoch_fn on_epoch, void *ctx,
                     invcsi_error *err)
{
    int rc = check_options(m, o, st, n_train, err);
    if (rc != INVCSI_OK)
        return rc;
    const long dim = m->cfg.dim;
    const int batch = o->batch;
    const long batches = n_train / batch;
    int *perm = malloc(sizeof(int) * (size_t)n_train);
    float *xb = malloc(sizeof(float) * (size_t)(batch * dim));
    if (!perm || !xb) {
        free(perm);
        free(xb);
        return invcsi_error_set(err, INVCSI_ENOMEM, "out of memory for the training batch");
    }
    const double t_start = now_s();
    long batches_run = 0; /* in this call, for the ETA */
    int interrupted = 0;

    while (rc == INVCSI_OK && st->epoch < o->epochs) {
        const int epoch = st->epoch;
        invcsi_rng shuffle;
        for (long i = 0; i < n_train; i++)
            perm[i] = (int)i;
        invcsi_rng_init(&shuffle, m->cfg.seed, STREAM_SHUFFLE | (uint64_t)epoch);
        invcsi_rng_shuffle(&shuffle, perm, (int)n_train);
        const double lr = invcsi_lr_step_decay(o->lr, o->lr_decay, o->lr_step, epoch);
        /* epoch-driven schedules (InvCSINet's beta): also on a mid-epoch resume */
        if (m->ops->begin_epoch)
            m->ops->begin_epoch(m, epoch, o->epochs);

        double t_train = 0.0;
        long samples = 0;
        for (long b = st->batch; b < batches; b++) {
            if (stop && *stop) {
                interrupted = 1;
                break;
            }
            double t0 = now_s();
            for (int i = 0; i < batch; i++)
                memcpy(xb + (long)i * dim, x_train + (long)perm[b * batch + i] * dim,
                       sizeof(float) * (size_t)dim);
            invcsi_rng rng;
            invcsi_rng_init(&rng, m->cfg.seed, STREAM_STEP | (uint64_t)st->step);
            invcsi_losses l;
            rc = invcsi_train_one_step(m, xb, batch, &rng, lr, st->step, &l, err);
            if (rc != INVCSI_OK)
                break;
            st->sum_total += l.total;
            st->sum_mmd += l.mmd;
            st->sum_mse += l.mse;
            st->sum_nmse += l.nmse_sum;
            st->batch = (int)(b + 1);
            st->step++;
            samples += batch;
            batches_run++;
            t_train += now_s() - t0;
        }
        if (rc != INVCSI_OK)
            break;
        if (interrupted)
            break;

        /* the epoch is complete */
        invcsi_epoch_report r;
        memset(&r, 0, sizeof r);
        r.epoch = epoch + 1;
        r.epochs = o->epochs;
        r.batches = (int)batches;
        r.lr = lr;
        r.loss_total = st->sum_total / batches;
        r.loss_mmd = st->sum_mmd / batches;
        r.loss_mse = st->sum_mse / batches;
        r.train_nmse_db = nmse_db_or_nan(st->sum_nmse / ((double)batches * batch));
        r.test_nmse_db = NAN;
        r.samples_per_s = t_train > 0 ? samples / t_train : 0.0;
        st->epoch = epoch + 1;
        st->batch = 0;
        st->sum_total = st->sum_mmd = st->sum_mse = st->sum_nmse = 0.0;
        r.step = st->step;

        if (o->eval_every > 0 && n_test > 0 && x_test &&
            (st->epoch % o->eval_every == 0 || st->epoch == o->epochs)) {
            double nmse;
            rc = invcsi_model_nmse(m, x_test, n_test, &nmse, err);
            if (rc != INVCSI_OK)
                break;
            r.test_nmse_db = nmse_db_or_nan(nmse);
        }
        if (o->checkpoint_path && o->checkpoint_every > 0 &&
            st->epoch % o->checkpoint_every == 0) {
            rc = invcsi_checkpoint_save(m, o, st, o->checkpoint_path, err);
            if (rc != INVCSI_OK)
                break;
            r.checkpointed = 1;
        }
        r.elapsed_s = now_s() - t_start;
        long left = (long)(o->epochs - st->epoch) * batches;
        r.eta_s = batches_run > 0 ? r.elapsed_s / batches_run * left : 0.0;
        if (on_epoch)
            on_epoch(ctx, &r);
    }
    free(perm);
    free(xb);
    if (rc != INVCSI_OK)
        return rc;
    if (interrupted) {
        if (!o->checkpoint_path)
            return invcsi_error_set(err, INVCSI_EINTERRUPTED,
                                    "stopped at epoch %d, batch %d (no checkpoint path given)",
                                    st->epoch + 1, st->batch);
        rc = invcsi_checkpoint_save(m, o, st, o->checkpoint_path, err);
        if (rc != INVCSI_OK)
            return rc;
        return invcsi_error_set(err, INVCSI_EINTERRUPTED,
                                "stopped at epoch %d, batch %d of %ld (step %ld); checkpoint "
                                "written to %s",
                                st->epoch + 1, st->batch, batches, st->step, o->checkpoint_path);
    }
    return INVCSI_OK;
}

/* ---------------------------------------------------------------------------------- */
/* Checkpoints                                                                        */
/* ---------------------------------------------------------------------------------- */

static const char *const RESERVED_META[] = {"format", "config", "normalisation", "train",
                                            "state"};

static char *finish_json(invcsi_json_writer *w)
{
    const char *text;
    size_t len;
    char *out = NULL;
    if (invcsi_jw_finish(w, &text, &len, NULL) == INVCSI_OK) {
        out = malloc(len + 1);
        if (out)
            memcpy(out, text, len + 1);
    }
    invcsi_jw_free(w);
    return out;
}

static char *options_json(const invcsi_train_options *o)
{
    invcsi_json_writer w;
    invcsi_jw_init(&w);
    invcsi_jw_object_begin(&w);
    invcsi_jw_key(&w, "epochs");           invcsi_jw_integer(&w, o->epochs);
    invcsi_jw_key(&w, "batch");            invcsi_jw_integer(&w, o->batch);
    invcsi_jw_key(&w, "lr");               invcsi_jw_number(&w, o->lr);
    invcsi_jw_key(&w, "lr_decay");         invcsi_jw_number(&w, o->lr_decay);
    invcsi_jw_key(&w, "lr_step");          invcsi_jw_integer(&w, o->lr_step);
    invcsi_jw_key(&w, "eval_every");       invcsi_jw_integer(&w, o->eval_every);
    invcsi_jw_key(&w, "checkpoint_every"); invcsi_jw_integer(&w, o->checkpoint_every);
    invcsi_jw_object_end(&w);
    return finish_json(&w);
}

static char *state_json(const invcsi_train_state *st)
{
    invcsi_json_writer w;
    invcsi_jw_init(&w);
    invcsi_jw_object_begin(&w);
    invcsi_jw_key(&w, "epoch");     invcsi_jw_integer(&w, st->epoch);
    invcsi_jw_key(&w, "batch");     invcsi_jw_integer(&w, st->batch);
    invcsi_jw_key(&w, "step");      invcsi_jw_integer(&w, st->step);
    invcsi_jw_key(&w, "sum_total"); invcsi_jw_number(&w, st->sum_total);
    invcsi_jw_key(&w, "sum_mmd");   invcsi_jw_number(&w, st->sum_mmd);
    invcsi_jw_key(&w, "sum_mse");   invcsi_jw_number(&w, st->sum_mse);
    invcsi_jw_key(&w, "sum_nmse");  invcsi_jw_number(&w, st->sum_nmse);
    invcsi_jw_object_end(&w);
    return finish_json(&w);
}

int invcsi_checkpoint_save(const invcsi_model *m, const invcsi_train_options *o,
                           const invcsi_train_state *st, const char *path, invcsi_error *err)
{
    const invcsi_params *p = &m->params;
    if (!p->adam_m || !p->adam_v)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "%s: the model has no optimiser state to checkpoint", path);
    /* weights and moments of a device arena: into the host mirror, which is what is saved */
    int sync_rc = invcsi_params_to_host(p, err);
    if (sync_rc != INVCSI_OK)
        return sync_rc;
    for (int i = 0; i < o->n_meta; i++)
        for (size_t k = 0; k < sizeof RESERVED_META / sizeof RESERVED_META[0]; k++)
            if (!o->meta[i].key || !strcmp(o->meta[i].key, RESERVED_META[k]))
                return invcsi_error_set(err, INVCSI_EINVAL,
                                        "%s: metadata key \"%s\" is reserved for checkpoints",
                                        path, o->meta[i].key ? o->meta[i].key : "(null)");
    const int n = p->n_tensors;
    invcsi_st_tensor_in *t = calloc((size_t)n * 3, sizeof *t);
    int64_t *shapes = calloc((size_t)n * INVCSI_PARAM_MAX_RANK, sizeof *shapes);
    char *names = malloc((size_t)n * 2 * (INVCSI_PARAM_NAME_MAX + 8));
    invcsi_st_kv *meta = calloc((size_t)o->n_meta + 5, sizeof *meta);
    char *cfg = invcsi_model_config_to_json(&m->cfg), *opts = options_json(o),
         *state = state_json(st);
    int rc = INVCSI_OK;
    if (!t || !shapes || !names || !meta || !cfg || !opts || !state) {
        rc = invcsi_error_set(err, INVCSI_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        const invcsi_tensor *pt = &p->tensors[i];
        for (int d = 0; d < pt->rank; d++)
            shapes[i * INVCSI_PARAM_MAX_RANK + d] = pt->shape[d];
        char *nm = names + (size_t)i * 2 * (INVCSI_PARAM_NAME_MAX + 8);
        char *nv = nm + INVCSI_PARAM_NAME_MAX + 8;
        snprintf(nm, INVCSI_PARAM_NAME_MAX + 8, "adam_m/%s", pt->name);
        snprintf(nv, INVCSI_PARAM_NAME_MAX + 8, "adam_v/%s", pt->name);
        const int64_t *sh = shapes + i * INVCSI_PARAM_MAX_RANK;
        t[i] = (invcsi_st_tensor_in){pt->name, pt->rank, sh, p->data + pt->offset};
        t[n + i] = (invcsi_st_tensor_in){nm, pt->rank, sh, p->adam_m + pt->offset};
        t[2 * n + i] = (invcsi_st_tensor_in){nv, pt->rank, sh, p->adam_v + pt->offset};
    }
    char scale[40];
    invcsi_model_format_scale(m->cfg.norm_scale, scale, sizeof scale);
    meta[0] = (invcsi_st_kv){"format", INVCSI_CHECKPOINT_FORMAT};
    meta[1] = (invcsi_st_kv){"config", cfg};
    meta[2] = (invcsi_st_kv){"normalisation", scale};
    meta[3] = (invcsi_st_kv){"train", opts};
    meta[4] = (invcsi_st_kv){"state", state};
    for (int i = 0; i < o->n_meta; i++)
        meta[5 + i] = o->meta[i];
    rc = invcsi_safetensors_write(path, t, 3 * n, meta, o->n_meta + 5, err);
done:
    free(t);
    free(shapes);
    free(names);
    free(meta);
    free(cfg);
    free(opts);
    free(state);
    return rc;
}

static int get_int_key(const invcsi_json *o, const char *key, long min, long max, long *out,
                       invcsi_error *err)
{
    int64_t v;
    int rc = invcsi_json_get_int(o, key, &v, err);
    if (rc != INVCSI_OK)
        return rc;
    if (v < min || v > max)
        return invcsi_error_set(err, INVCSI_EFORMAT, "key \"%s\": %" PRId64 " out of range",
                                key, v);
    *out = (long)v;
    return INVCSI_OK;
}

static int parse_train_meta(const char *opts_text, const char *state_text,
                            invcsi_train_options *o, invcsi_train_state *st, invcsi_error *err)
{
    invcsi_json_doc a, b;
    int rc = invcsi_json_parse(opts_text, strlen(opts_text), &a, err);
    if (rc != INVCSI_OK)
        return rc;
    rc = invcsi_json_parse(state_text, strlen(state_text), &b, err);
    if (rc != INVCSI_OK) {
        invcsi_json_doc_free(&a);
        return rc;
    }
    long v = 0;
    *o = invcsi_train_options_default();
    memset(st, 0, sizeof *st);
    const invcsi_json *oj = a.root, *sj = b.root;
    if (rc == INVCSI_OK && (rc = get_int_key(oj, "epochs", 0, 1 << 30, &v, err)) == 0) o->epochs = (int)v;
    if (rc == INVCSI_OK && (rc = get_int_key(oj, "batch", 1, 1 << 30, &v, err)) == 0) o->batch = (int)v;
    if (rc == INVCSI_OK) rc = invcsi_json_get_double(oj, "lr", &o->lr, err);
    if (rc == INVCSI_OK) rc = invcsi_json_get_double(oj, "lr_decay", &o->lr_decay, err);
    if (rc == INVCSI_OK && (rc = get_int_key(oj, "lr_step", -(1L << 30), 1 << 30, &v, err)) == 0) o->lr_step = (int)v;
    if (rc == INVCSI_OK && (rc = get_int_key(oj, "eval_every", 0, 1 << 30, &v, err)) == 0) o->eval_every = (int)v;
    if (rc == INVCSI_OK && (rc = get_int_key(oj, "checkpoint_every", 0, 1 << 30, &v, err)) == 0) o->checkpoint_every = (int)v;
    if (rc == INVCSI_OK && (rc = get_int_key(sj, "epoch", 0, 1 << 30, &v, err)) == 0) st->epoch = (int)v;
    if (rc == INVCSI_OK && (rc = get_int_key(sj, "batch", 0, 1 << 30, &v, err)) == 0) st->batch = (int)v;
    if (rc == INVCSI_OK && (rc = get_int_key(sj, "step", 0, LONG_MAX, &v, err)) == 0) st->step = v;
    if (rc == INVCSI_OK) rc = invcsi_json_get_double(sj, "sum_total", &st->sum_total, err);
    if (rc == INVCSI_OK) rc = invcsi_json_get_double(sj, "sum_mmd", &st->sum_mmd, err);
    if (rc == INVCSI_OK) rc = invcsi_json_get_double(sj, "sum_mse", &st->sum_mse, err);
    if (rc == INVCSI_OK) rc = invcsi_json_get_double(sj, "sum_nmse", &st->sum_nmse, err);
    invcsi_json_doc_free(&a);
    invcsi_json_doc_free(&b);
    return rc;
}

static int same_shape(const invcsi_st_tensor *ft, const invcsi_tensor *t)
{
    if (ft->rank != t->rank)
        return 0;
    for (int d = 0; d < t->rank; d++)
        if (ft->shape[d] != t->shape[d])
            return 0;
    return 1;
}

int invcsi_checkpoint_load(const char *path, int max_batch, invcsi_model **out,
                           invcsi_train_options *o, invcsi_train_state *st,
                           invcsi_safetensors *file, invcsi_error *err)
{
    *out = NULL;
    invcsi_safetensors f;
    int rc = invcsi_safetensors_load(path, &f, err);
    if (rc != INVCSI_OK)
        return rc;
    const char *format = invcsi_safetensors_meta(&f, "format");
    const char *opts = invcsi_safetensors_meta(&f, "train");
    const char *state = invcsi_safetensors_meta(&f, "state");
    invcsi_model *m = NULL;
    invcsi_model_config cfg;
    invcsi_error e;
    if (!format || strcmp(format, INVCSI_CHECKPOINT_FORMAT) != 0 || !opts || !state) {
        rc = invcsi_error_set(err, INVCSI_EFORMAT, "%s: not a training checkpoint (format \"%s\"%s)",
                              path, format ? format : "none",
                              format && strstr(format, "weights")
                                  ? ": a finished weights file; checkpoints are OUTPUT.ckpt"
                                  : "");
        goto fail;
    }
    rc = invcsi_model_config_from_file(&f, &cfg, err);
    if (rc != INVCSI_OK)
        goto fail;
    rc = parse_train_meta(opts, state, o, st, &e);
    if (rc != INVCSI_OK) {
        invcsi_error_set(err, rc, "%s: training state: %s", path, e.msg);
        goto fail;
    }
    if (max_batch <= 0)
        max_batch = o->batch;
    rc = invcsi_model_create(&m, &cfg, max_batch, &e);
    if (rc != INVCSI_OK) {
        invcsi_error_set(err, rc, "%s: cannot build the model it describes: %s", path, e.msg);
        goto fail;
    }
    invcsi_params *p = &m->params;
    if (f.n_tensors != 3 * p->n_tensors) {
        rc = invcsi_error_set(err, INVCSI_EFORMAT,
                              "%s: %d tensors, expected %d (weights and two Adam moments of %d "
                              "model tensors)",
                              path, f.n_tensors, 3 * p->n_tensors, p->n_tensors);
        goto fail;
    }
    for (int pass = 0; pass < 2; pass++) { /* check all, then copy */
        for (int i = 0; i < p->n_tensors; i++) {
            const invcsi_tensor *t = &p->tensors[i];
            char nm[INVCSI_PARAM_NAME_MAX + 8];
            for (int k = 0; k < 3; k++) {
                const char *prefix = k == 0 ? "" : k == 1 ? "adam_m/" : "adam_v/";
                float *dst = k == 0 ? p->data : k == 1 ? p->adam_m : p->adam_v;
                snprintf(nm, sizeof nm, "%s%s", prefix, t->name);
                const invcsi_st_tensor *ft = invcsi_safetensors_find(&f, nm);
                if (pass == 0 && (!ft || !same_shape(ft, t))) {
                    rc = invcsi_error_set(err, INVCSI_EFORMAT,
                                          "%s: tensor \"%s\" is %s", path, nm,
                                          ft ? "of the wrong shape" : "missing");
                    goto fail;
                }
                if (pass == 1)
                    invcsi_safetensors_copy(ft, dst + t->offset);
            }
        }
    }
    if (file)
        *file = f;
    else
        invcsi_safetensors_free(&f);
    *out = m;
    return INVCSI_OK;
fail:
    invcsi_model_destroy(m);
    invcsi_safetensors_free(&f);
    return rc;
}
