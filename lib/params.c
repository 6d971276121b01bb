/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Parameter table: named tensors in one aligned float block (see invcsi/params.h). */
#include "invcsi/params.h"
#include "invcsi/backend.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN_FLOATS (INVCSI_PARAM_ALIGN / sizeof(float))
/* Per-buffer limit that keeps 4 * total * sizeof(float) far from overflow. */
#define MAX_TOTAL_FLOATS ((size_t)1 << 36)

void invcsi_params_init(invcsi_params *p)
{
    memset(p, 0, sizeof *p);
}

char *invcsi_shape_str(char *buf, size_t n, int rank, const int shape[])
{
    size_t used = 0;
    if (!n)
        return buf;
    buf[0] = '\0';
    used += (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < rank && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, d ? ", %d" : "%d", shape[d]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
    return buf;
}

static int valid_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == ':' || c == '/' || c == '-';
}

int invcsi_params_add(invcsi_params *p, const char *name, int rank, const int shape[],
                      size_t *offset_out, invcsi_error *err)
{
    if (p->finalized)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "parameter \"%.63s\": cannot add after the table was finalized",
                                name ? name : "(null)");
    if (!name || !name[0])
        return invcsi_error_set(err, INVCSI_EINVAL, "parameter name is empty");
    size_t len = strlen(name);
    if (len >= INVCSI_PARAM_NAME_MAX)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "parameter name \"%.80s...\" is %zu characters, limit %d", name,
                                len, INVCSI_PARAM_NAME_MAX - 1);
    for (size_t i = 0; i < len; i++)
        if (!valid_name_char(name[i]))
            return invcsi_error_set(err, INVCSI_EINVAL,
                                    "parameter name \"%s\": character %zu is not one of "
                                    "A-Z a-z 0-9 _ . : / -",
                                    name, i + 1);
    if (strcmp(name, "__metadata__") == 0)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "parameter name \"__metadata__\" is reserved by safetensors");
    if (invcsi_params_index(p, name) >= 0)
        return invcsi_error_set(err, INVCSI_EINVAL, "parameter \"%s\" is added twice", name);
    if (rank < 0 || rank > INVCSI_PARAM_MAX_RANK)
        return invcsi_error_set(err, INVCSI_EINVAL, "parameter \"%s\": rank %d not in 0..%d",
                                name, rank, INVCSI_PARAM_MAX_RANK);
    if (rank > 0 && !shape)
        return invcsi_error_set(err, INVCSI_EINVAL, "parameter \"%s\": shape is NULL", name);
    size_t count = 1;
    for (int d = 0; d < rank; d++) {
        if (shape[d] < 1)
            return invcsi_error_set(err, INVCSI_EINVAL,
                                    "parameter \"%s\": dimension %d is %d, must be >= 1", name,
                                    d, shape[d]);
        if (count > MAX_TOTAL_FLOATS / (size_t)shape[d])
            return invcsi_error_set(err, INVCSI_EINVAL, "parameter \"%s\" is too large", name);
        count *= (size_t)shape[d];
    }
    size_t offset = (p->total + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
    if (offset > MAX_TOTAL_FLOATS - count)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "parameter \"%s\": table exceeds %zu floats", name,
                                MAX_TOTAL_FLOATS);
    if (p->n_tensors == p->cap_tensors) {
        int cap = p->cap_tensors ? 2 * p->cap_tensors : 32;
        invcsi_tensor *t = realloc(p->tensors, (size_t)cap * sizeof *t);
        if (!t)
            return invcsi_error_set(err, INVCSI_ENOMEM, "out of memory growing the parameter table");
        p->tensors = t;
        p->cap_tensors = cap;
    }
    invcsi_tensor *t = &p->tensors[p->n_tensors++];
    memset(t, 0, sizeof *t);
    memcpy(t->name, name, len + 1);
    t->rank = rank;
    for (int d = 0; d < INVCSI_PARAM_MAX_RANK; d++)
        t->shape[d] = d < rank ? shape[d] : 1;
    t->offset = offset;
    t->count = count;
    p->total = offset + count;
    p->n_values += count;
    if (offset_out)
        *offset_out = offset;
    return INVCSI_OK;
}

static int finalize(invcsi_params *p, int buffers, invcsi_error *err)
{
    if (p->finalized)
        return invcsi_error_set(err, INVCSI_EINVAL, "parameter table is already finalized");
    if (p->n_tensors == 0)
        return invcsi_error_set(err, INVCSI_EINVAL, "parameter table is empty");
    /* round up so each of the buffers starts 64-byte aligned inside the block */
    p->total = (p->total + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
    size_t bytes = (size_t)buffers * p->total * sizeof(float);
    void *block = NULL;
    if (posix_memalign(&block, INVCSI_PARAM_ALIGN, bytes) != 0)
        return invcsi_error_set(err, INVCSI_ENOMEM,
                                "cannot allocate %.1f MB for %zu parameters",
                                (double)bytes / (1 << 20), p->n_values);
    memset(block, 0, bytes);
    p->data = block;
    if (buffers == 4) {
        p->grad = p->data + p->total;
        p->adam_m = p->grad + p->total;
        p->adam_v = p->adam_m + p->total;
    }
    p->finalized = 1;
    return INVCSI_OK;
}

int invcsi_params_finalize(invcsi_params *p, invcsi_error *err) { return finalize(p, 4, err); }

int invcsi_params_finalize_inference(invcsi_params *p, invcsi_error *err)
{
    return finalize(p, 1, err);
}

int invcsi_params_index(const invcsi_params *p, const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < p->n_tensors; i++)
        if (strcmp(p->tensors[i].name, name) == 0)
            return i;
    return -1;
}

const invcsi_tensor *invcsi_params_find(const invcsi_params *p, const char *name)
{
    int i = invcsi_params_index(p, name);
    return i >= 0 ? &p->tensors[i] : NULL;
}

float *invcsi_params_data(const invcsi_params *p, const char *name)
{
    const invcsi_tensor *t = invcsi_params_find(p, name);
    return t && p->data ? p->data + t->offset : NULL;
}

float *invcsi_params_grad(const invcsi_params *p, const char *name)
{
    const invcsi_tensor *t = invcsi_params_find(p, name);
    return t && p->grad ? p->grad + t->offset : NULL;
}

int invcsi_params_set_frozen(invcsi_params *p, const char *prefix, int frozen)
{
    size_t n = prefix ? strlen(prefix) : 0;
    int matched = 0;
    for (int i = 0; i < p->n_tensors; i++)
        if (n == 0 || strncmp(p->tensors[i].name, prefix, n) == 0) {
            p->tensors[i].frozen = frozen ? 1 : 0;
            matched++;
        }
    return matched;
}

void invcsi_params_zero_grad(invcsi_params *p)
{
    if (!p->grad)
        return;
    if (p->dev)
        p->be->kern->fill(invcsi_params_cgrad(p), (long)p->total, 0.0f);
    else
        memset(p->grad, 0, p->total * sizeof(float));
}

void invcsi_params_zero_adam(invcsi_params *p)
{
    if (p->adam_m)
        memset(p->adam_m, 0, p->total * sizeof(float));
    if (p->adam_v)
        memset(p->adam_v, 0, p->total * sizeof(float));
    if (p->dev && p->adam_m) {
        p->be->kern->fill(invcsi_params_cadam_m(p), (long)(2 * p->total), 0.0f);
    }
}

/* Buffers in the arena: 4 with gradient/Adam state, 1 for inference. */
static int arena_buffers(const invcsi_params *p) { return p->grad ? 4 : 1; }

int invcsi_params_to_host(const invcsi_params *p, invcsi_error *err)
{
    if (!p->dev)
        return INVCSI_OK;
    /* the host buffers are one block too (finalize): one copy */
    int rc = p->be->copy_to_host(p->data, p->dev,
                                 (size_t)arena_buffers(p) * p->total * sizeof(float), err);
    return rc == INVCSI_OK ? p->be->synchronize(err) : rc;
}

int invcsi_params_from_host(invcsi_params *p, invcsi_error *err)
{
    if (!p->dev)
        return INVCSI_OK;
    return p->be->copy_to_device(p->dev, p->data,
                                 (size_t)arena_buffers(p) * p->total * sizeof(float), err);
}

static void detach(invcsi_params *p)
{
    if (p->dev)
        p->be->free(p->dev);
    p->dev = NULL;
    p->be = NULL;
}

int invcsi_params_attach(invcsi_params *p, const invcsi_backend *be, invcsi_error *err)
{
    if (!p->finalized)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "parameter table: attach a backend after finalize");
    int rc = invcsi_params_to_host(p, err);
    if (rc != INVCSI_OK)
        return rc;
    detach(p);
    if (!be || be == invcsi_backend_cpu())
        return INVCSI_OK;
    void *dev = NULL;
    rc = be->alloc(&dev, (size_t)arena_buffers(p) * p->total * sizeof(float), err);
    if (rc != INVCSI_OK)
        return rc;
    p->be = be;
    p->dev = dev;
    rc = invcsi_params_from_host(p, err);
    if (rc != INVCSI_OK)
        detach(p);
    return rc;
}

void invcsi_params_free(invcsi_params *p)
{
    if (!p)
        return;
    detach(p);
    free(p->data); /* the one block; grad, m and v point into it */
    free(p->tensors);
    invcsi_params_init(p);
}
