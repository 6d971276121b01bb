/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Parameter storage: every parameter of a model lives in ONE float buffer addressed by
 * a table of named tensors (llm.c style), so saving, loading, the optimiser and a GPU
 * copy each touch one contiguous buffer.
 *
 * Life cycle:
 *   invcsi_params p; invcsi_params_init(&p);
 *   invcsi_params_add(&p, "inn.0.phi.conv0.weight", 4, (int[]){24, 64, 3, 3}, &off, err);
 *   ...                                    (build phase: names unique and validated)
 *   invcsi_params_finalize(&p, err);       (allocates data, grad, adam_m, adam_v, zeroed)
 *   float *w = p.data + off;               (or invcsi_params_data(&p, name))
 *   invcsi_params_free(&p);
 *
 * Layout: tensors sit in table order, each starting on a 64-byte boundary (offset a
 * multiple of 16 floats) so every tensor is aligned for SIMD and GPU loads. The few
 * padding floats between tensors stay zero: their gradient is never written, so the
 * optimiser may sweep the whole buffer (total floats) without special cases.
 */
#ifndef INVCSI_PARAMS_H
#define INVCSI_PARAMS_H

#include <stddef.h>

#include "invcsi/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define INVCSI_PARAM_NAME_MAX 64  /* bytes including the NUL: names up to 63 chars */
#define INVCSI_PARAM_MAX_RANK 4
#define INVCSI_PARAM_ALIGN 64     /* bytes: buffers and every tensor offset */

typedef struct invcsi_tensor {
    char name[INVCSI_PARAM_NAME_MAX];
    int rank;                         /* 0 (scalar) .. 4 */
    int shape[INVCSI_PARAM_MAX_RANK]; /* shape[0..rank), each >= 1; unused dims are 1 */
    size_t offset;                    /* floats from the start of data (and grad, m, v) */
    size_t count;                     /* product of the shape */
    int frozen;                       /* stored and loaded, never updated by the optimiser
                                         (fixed front ends, frozen INN, ...) */
} invcsi_tensor;

typedef struct invcsi_params {
    invcsi_tensor *tensors;  /* table, in the order tensors were added */
    int n_tensors;
    int cap_tensors;
    size_t total;            /* floats per buffer, padding included */
    size_t n_values;         /* parameters proper: sum of tensor counts */
    int finalized;
    /* Allocated by invcsi_params_finalize as one 64-byte aligned block, each `total`
     * floats and zeroed; grad/adam_m/adam_v are NULL after finalize_inference. */
    float *data;
    float *grad;
    float *adam_m;
    float *adam_v;
    /* Where the model computes (invcsi_params_attach). be == NULL or the CPU table: the
     * buffers above ARE the compute buffers and dev is NULL. Another backend: dev is ONE
     * allocation of that backend holding data, grad, adam_m, adam_v (`total` floats each,
     * same offsets; only data after finalize_inference), and the buffers above are the
     * HOST MIRROR, synchronised explicitly (invcsi_params_to_host / _from_host): host code
     * that reads or writes weights (init, save, load, fit_front, twin_dump) works on the
     * mirror. */
    const struct invcsi_backend *be;
    float *dev;
} invcsi_params;

void invcsi_params_init(invcsi_params *p);

/* Appends a tensor of the given rank (0..4) and shape (each dim >= 1). Names are 1..63
 * characters from [A-Za-z0-9_.:/-], unique, not "__metadata__". *offset_out (may be
 * NULL) receives its offset in floats. Only before finalize. */
int invcsi_params_add(invcsi_params *p, const char *name, int rank, const int shape[],
                      size_t *offset_out, invcsi_error *err);

/* Allocates data, grad, adam_m and adam_v (zeroed, 64-byte aligned, one allocation). */
int invcsi_params_finalize(invcsi_params *p, invcsi_error *err);
/* Same, but data only (inference: decoders in GNU Radio blocks); grad, m, v stay NULL. */
int invcsi_params_finalize_inference(invcsi_params *p, invcsi_error *err);

/* Table entry by name, NULL if absent. */
const invcsi_tensor *invcsi_params_find(const invcsi_params *p, const char *name);
/* Index in the table by name, -1 if absent. */
int invcsi_params_index(const invcsi_params *p, const char *name);

/* Pointer to a tensor's values (or gradient); NULL if absent or not finalized. */
float *invcsi_params_data(const invcsi_params *p, const char *name);
float *invcsi_params_grad(const invcsi_params *p, const char *name);

static inline float *invcsi_tensor_data(const invcsi_params *p, const invcsi_tensor *t)
{
    return p->data + t->offset;
}
static inline float *invcsi_tensor_grad(const invcsi_params *p, const invcsi_tensor *t)
{
    return p->grad ? p->grad + t->offset : NULL;
}

/* Moves the compute buffers to backend be (NULL or the CPU table: back to the host
 * buffers): one be->alloc for data, grad, m and v, filled from the host buffers. A
 * previous device arena is copied back to the host first and freed. */
int invcsi_params_attach(invcsi_params *p, const struct invcsi_backend *be, invcsi_error *err);
/* Host mirror <- device arena (all four buffers), and the other way. No-ops when the
 * parameters are host-resident. */
int invcsi_params_to_host(const invcsi_params *p, invcsi_error *err);
int invcsi_params_from_host(invcsi_params *p, invcsi_error *err);
/* The compute-side buffers: the device arena's when attached, else the host buffers
 * (NULL where the host one is NULL). */
static inline float *invcsi_params_cdata(const invcsi_params *p)
{
    return p->dev ? p->dev : p->data;
}
static inline float *invcsi_params_cgrad(const invcsi_params *p)
{
    return p->dev ? (p->grad ? p->dev + p->total : NULL) : p->grad;
}
static inline float *invcsi_params_cadam_m(const invcsi_params *p)
{
    return p->dev ? (p->adam_m ? p->dev + 2 * p->total : NULL) : p->adam_m;
}
static inline float *invcsi_params_cadam_v(const invcsi_params *p)
{
    return p->dev ? (p->adam_v ? p->dev + 3 * p->total : NULL) : p->adam_v;
}

/* Sets frozen on every tensor whose name starts with prefix ("" = all); returns how
 * many tensors matched. */
int invcsi_params_set_frozen(invcsi_params *p, const char *prefix, int frozen);

/* Zeroes the (compute-side) gradient buffer (no-op when there is none); on a device arena
 * with the backend's fill kernel. */
void invcsi_params_zero_grad(invcsi_params *p);
/* Zeroes the Adam moments (e.g. when training restarts from loaded weights). */
void invcsi_params_zero_adam(invcsi_params *p);

/* Formats a shape as "[24, 64, 3, 3]" ("[]" for a scalar) into buf; returns buf. */
char *invcsi_shape_str(char *buf, size_t n, int rank, const int shape[]);

/* Frees the table and the buffers; p is left initialised (empty) and reusable. */
void invcsi_params_free(invcsi_params *p);

#ifdef __cplusplus
}
#endif
#endif
