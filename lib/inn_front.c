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

#include "invcsi/gemm.h"
#include "invcsi/pca.h"
#include "index_math.h"

/* Both are gathers through the index maps of kernels/index_math.h, the same functions the
 * CUDA patchify/unpatchify kernels call (h and w are multiples of p: inn_model.c checks). */
void invcsi_patchify(float *out, const float *in, int batch, int planes, int h, int w, int p)
{
    const long n = (long)batch * planes * h * w;
    for (long o = 0; o < n; o++)
        out[o] = in[invcsi_patchify_src(o, planes, h, w, p)];
}

void invcsi_unpatchify(float *out, const float *in, int batch, int planes, int h, int w, int p)
{
    const long n = (long)batch * planes * h * w;
    for (long o = 0; o < n; o++)
        out[o] = in[invcsi_unpatchify_src(o, planes, h, w, p)];
}

void invcsi_gather(float *out, const float *in, const float *perm, int batch, int dim)
{
    for (int b = 0; b < batch; b++) {
        const float *src = in + (long)b * dim;
        float *dst = out + (long)b * dim;
        for (int k = 0; k < dim; k++)
            dst[k] = src[(int)perm[k]];
    }
}

void invcsi_scatter(float *out, const float *in, const float *perm, int batch, int dim)
{
    for (int b = 0; b < batch; b++) {
        const float *src = in + (long)b * dim;
        float *dst = out + (long)b * dim;
        for (int k = 0; k < dim; k++)
            dst[(int)perm[k]] = src[k];
    }
}

void invcsi_rotate(float *out, const float *in, const float *rot, int batch, int dim)
{
    /* out[b][j] = sum_k rot[j][k] in[b][k]:  OUT = IN ROT^T */
    invcsi_sgemm(INVCSI_NOTRANS, INVCSI_TRANS, batch, dim, dim, 1.0f, in, dim, rot, dim, 0.0f,
                 out, dim);
}

void invcsi_rotate_inverse(float *out, const float *in, const float *rot, int batch, int dim)
{
    /* out[b][k] = sum_j rot[j][k] in[b][j]:  OUT = IN ROT */
    invcsi_sgemm(INVCSI_NOTRANS, INVCSI_NOTRANS, batch, dim, dim, 1.0f, in, dim, rot, dim, 0.0f,
                 out, dim);
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

void invcsi_concat_rows(float *out, const float *h1, int n1, const float *h2, int n2, int batch)
{
    for (int b = 0; b < batch; b++) {
        memcpy(out + (long)b * (n1 + n2), h1 + (long)b * n1, sizeof(float) * n1);
        memcpy(out + (long)b * (n1 + n2) + n1, h2 + (long)b * n2, sizeof(float) * n2);
    }
}
