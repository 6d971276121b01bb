/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Front ends of the INN (include/invcsi/inn.h): they decide which values start in x1
 * (and so become the latent). All three are orthogonal maps (a permutation or a
 * rotation), so each one's inverse is also its adjoint: the backward of the inverse
 * front is the forward front applied to the gradient.
 */
#include "invcsi/inn.h"

#include <stdlib.h>
#include <string.h>

#include "invcsi/backend.h"
#include "invcsi/gemm.h"
#include "invcsi/pca.h"
#include "index_math.h"

/* Every map runs through a backend table (the _be functions, pointers in its memory); the
 * host functions are them on the CPU table. Patchify/unpatchify are gathers through the
 * index maps of kernels/index_math.h (h and w are multiples of p: inn_model.c checks). */
void invcsi_patchify_be(const invcsi_backend *be, float *out, const float *in, int batch,
                        int planes, int h, int w, int p)
{
    be->kern->patchify(in, out, batch, planes, h, w, p);
}

void invcsi_unpatchify_be(const invcsi_backend *be, float *out, const float *in, int batch,
                          int planes, int h, int w, int p)
{
    be->kern->unpatchify(in, out, batch, planes, h, w, p);
}

void invcsi_gather_be(const invcsi_backend *be, float *out, const float *in, const float *perm,
                      int batch, int dim)
{
    be->kern->gather_perm(out, in, perm, batch, dim);
}

void invcsi_scatter_be(const invcsi_backend *be, float *out, const float *in, const float *perm,
                       int batch, int dim)
{
    be->kern->scatter_perm(out, in, perm, batch, dim);
}

void invcsi_rotate_be(const invcsi_backend *be, float *out, const float *in, const float *rot,
                      int batch, int dim)
{
    /* out[b][j] = sum_k rot[j][k] in[b][k]:  OUT = IN ROT^T */
    be->sgemm(INVCSI_NOTRANS, INVCSI_TRANS, batch, dim, dim, 1.0f, in, dim, rot, dim, 0.0f, out,
              dim);
}

void invcsi_rotate_inverse_be(const invcsi_backend *be, float *out, const float *in,
                              const float *rot, int batch, int dim)
{
    /* out[b][k] = sum_j rot[j][k] in[b][j]:  OUT = IN ROT */
    be->sgemm(INVCSI_NOTRANS, INVCSI_NOTRANS, batch, dim, dim, 1.0f, in, dim, rot, dim, 0.0f,
              out, dim);
}

void invcsi_patchify(float *out, const float *in, int batch, int planes, int h, int w, int p)
{
    invcsi_patchify_be(invcsi_backend_cpu(), out, in, batch, planes, h, w, p);
}

void invcsi_unpatchify(float *out, const float *in, int batch, int planes, int h, int w, int p)
{
    invcsi_unpatchify_be(invcsi_backend_cpu(), out, in, batch, planes, h, w, p);
}

void invcsi_gather(float *out, const float *in, const float *perm, int batch, int dim)
{
    invcsi_gather_be(invcsi_backend_cpu(), out, in, perm, batch, dim);
}

void invcsi_scatter(float *out, const float *in, const float *perm, int batch, int dim)
{
    invcsi_scatter_be(invcsi_backend_cpu(), out, in, perm, batch, dim);
}

void invcsi_rotate(float *out, const float *in, const float *rot, int batch, int dim)
{
    invcsi_rotate_be(invcsi_backend_cpu(), out, in, rot, batch, dim);
}

void invcsi_rotate_inverse(float *out, const float *in, const float *rot, int batch, int dim)
{
    invcsi_rotate_inverse_be(invcsi_backend_cpu(), out, in, rot, batch, dim);
}

typedef struct {
    double energy;
    int index;
} energy_item;

static int by_energy_desc(const void *a, const void *b)
{
    const energy_item *x = a, *y = b;
    if (x->energy != y->energy)
        return x->energy > y->energy ? -1 : 1;
    return x->index - y->index;
}

int invcsi_energy_order(float *perm, const float *x, long n, int dim, invcsi_error *err)
{
    if (n < 1 || dim < 1 || dim > (1 << 24))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "energy front: %ld samples of %d values (need n >= 1, "
                                "1 <= dim <= 2^24)",
                                n, dim);
    energy_item *it = calloc((size_t)dim, sizeof *it);
    if (!it)
        return invcsi_error_set(err, INVCSI_ENOMEM, "energy front: out of memory");
    for (int k = 0; k < dim; k++)
        it[k].index = k;
    for (long i = 0; i < n; i++) {
        const float *xi = x + i * (long)dim;
        for (int k = 0; k < dim; k++)
            it[k].energy += (double)xi[k] * xi[k];
    }
    qsort(it, (size_t)dim, sizeof *it, by_energy_desc);
    for (int k = 0; k < dim; k++)
        perm[k] = (float)it[k].index;
    free(it);
    return INVCSI_OK;
}

int invcsi_klt_fit(float *rot, const float *x, long n, int dim, invcsi_error *err)
{
    invcsi_pca p;
    int rc = invcsi_pca_fit(&p, x, n, dim, dim, 0, err);
    if (rc != INVCSI_OK)
        return rc;
    memcpy(rot, p.axes, sizeof(float) * (size_t)dim * dim);
    invcsi_pca_free(&p);
    return INVCSI_OK;
}

void invcsi_concat_rows_be(const invcsi_backend *be, float *out, const float *h1, int n1,
                           const float *h2, int n2, int batch)
{
    be->kern->copy_rows(out, h1, batch, n1, n1 + n2, n1);
    be->kern->copy_rows(out + n1, h2, batch, n2, n1 + n2, n2);
}

void invcsi_split_rows_be(const invcsi_backend *be, const float *in, float *h1, int n1,
                          float *h2, int n2, int batch)
{
    be->kern->copy_rows(h1, in, batch, n1, n1, n1 + n2);
    be->kern->copy_rows(h2, in + n1, batch, n2, n2, n1 + n2);
}

void invcsi_concat_rows(float *out, const float *h1, int n1, const float *h2, int n2, int batch)
{
    invcsi_concat_rows_be(invcsi_backend_cpu(), out, h1, n1, h2, n2, batch);
}
