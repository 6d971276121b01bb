/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Flat entry points for the PyTorch twin's ctypes binding (include/invcsi/twin_dump.h). */
#include "invcsi/twin_dump.h"

#include <stdio.h>
#include <string.h>

#include "invcsi/rng.h"

int invcsi_twin_create(invcsi_model **m, const char *kind, int nr, int nt, int nc, double cr,
                       int bits, const char *front, uint64_t seed, int max_batch,
                       invcsi_error *err)
{
    *m = NULL;
    invcsi_model_config cfg;
    int rc = invcsi_model_config_default(&cfg, kind, nr, nt, nc, cr, err);
    if (rc != INVCSI_OK)
        return rc;
    if (bits > 0)
        cfg.bits = bits;
    if (front) {
        if (strlen(front) >= sizeof cfg.front)
            return invcsi_error_set(err, INVCSI_EINVAL, "twin: front \"%s\" too long", front);
        snprintf(cfg.front, sizeof cfg.front, "%s", front);
    }
    cfg.seed = seed;
    return invcsi_model_create(m, &cfg, max_batch, err);
}

int invcsi_twin_create_json(invcsi_model **m, const char *config_json, int max_batch,
                            invcsi_error *err)
{
    *m = NULL;
    invcsi_model_config cfg;
    int rc = invcsi_model_config_from_json(&cfg, config_json, err);
    if (rc != INVCSI_OK)
        return rc;
    return invcsi_model_create(m, &cfg, max_batch, err);
}

void invcsi_twin_begin_epoch(invcsi_model *m, int epoch, int epochs)
{
    if (m && m->ops->begin_epoch)
        m->ops->begin_epoch(m, epoch, epochs);
}

int invcsi_twin_tensor_count(const invcsi_model *m) { return m ? m->params.n_tensors : 0; }

int invcsi_twin_tensor(const invcsi_model *m, int i, const char **name, int *rank, int *shape,
                       float **data, float **grad, int *frozen)
{
    if (!m || i < 0 || i >= m->params.n_tensors)
        return INVCSI_EINVAL;
    const invcsi_tensor *t = &m->params.tensors[i];
    if (name)
        *name = t->name;
    if (rank)
        *rank = t->rank;
    if (shape)
        for (int d = 0; d < INVCSI_PARAM_MAX_RANK; d++)
            shape[d] = t->shape[d];
    if (data)
        *data = invcsi_tensor_data(&m->params, t);
    if (grad)
        *grad = invcsi_tensor_grad(&m->params, t);
    if (frozen)
        *frozen = t->frozen;
    return INVCSI_OK;
}

int invcsi_twin_train_step(invcsi_model *m, const float *x, int batch, uint64_t seed,
                           uint64_t stream, double *losses, invcsi_error *err)
{
    if (!m || !x)
        return invcsi_error_set(err, INVCSI_EINVAL, "twin train_step: NULL model or data");
    invcsi_params_zero_grad(&m->params);
    invcsi_rng rng;
    invcsi_rng_init(&rng, seed, stream);
    invcsi_losses l;
    memset(&l, 0, sizeof l);
    int rc = m->ops->train_step(m, x, batch, &rng, &l, err);
    if (rc == INVCSI_OK && losses) {
        losses[0] = l.total;
        losses[1] = l.mmd;
        losses[2] = l.mse;
        losses[3] = l.nmse_sum;
    }
    return rc;
}
