/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The STQENet encoder's transformer block (include/invcsi/stqe_layers.h): four pre-LN
 * residual sub-layers (LSA, MLP, GSA, MLP) and a final LayerNorm, over row tokens.
 *
 * The forward keeps every intermediate tensor in `saved` (12 activations of the block's
 * size plus the row statistics and the two attention layers' own saved data, ~80 KB per
 * CSI sample). The backward walks the sub-layers in reverse with ONE running residual
 * gradient dx: each sub-layer's branch gradient is added into dx by its LayerNorm's
 * accumulating backward, which is exactly d/dx_{k-1} = d/dx_k + LN_k^T(branch_k^T d/dx_k).
 */
#include "invcsi/nn.h"
#include "invcsi/stqe_layers.h"

#include <string.h>

static long block_n(const invcsi_attn_shape *s) { return (long)s->seqs * s->tokens * s->dim; }
static long block_rows(const invcsi_attn_shape *s) { return (long)s->seqs * s->tokens; }

long invcsi_stqe_block_param_count(const invcsi_attn_shape *s)
{
    const long D = s->dim, pp = (long)s->patch * s->patch;
    const long ln = 2 * D, mlp = 2 * (D * D + D);
    const long lsa = 3 * D * D + 3 * D + D * D + D;
    const long gsa = (D * D + D) + (2 * D * D + 2 * D) + (D * pp + D) + 2 * D + (D * D + D);
    return 5 * ln + lsa + gsa + 2 * mlp;
}

/* Pointers into saved. a_k: LN_k output; h/g: MLP fc1 output and its GELU; x_k: residual
 * stream after sub-layer k; m/r: LN row mean and rstd (5 LNs). */
struct block_saved {
    float *a1, *x1, *a2, *h1, *g1, *x2, *a3, *x3, *a4, *h2, *g2, *x4;
    float *m[5], *r[5];
    float *lsa, *gsa;
};

static struct block_saved block_carve(float *p, const invcsi_attn_shape *s)
{
    const long n = block_n(s), rows = block_rows(s);
    struct block_saved v;
    float **acts[12] = {&v.a1, &v.x1, &v.a2, &v.h1, &v.g1, &v.x2,
                        &v.a3, &v.x3, &v.a4, &v.h2, &v.g2, &v.x4};
    for (int i = 0; i < 12; i++, p += n)
        *acts[i] = p;
    for (int i = 0; i < 5; i++) {
        v.m[i] = p, p += rows;
        v.r[i] = p, p += rows;
    }
    v.lsa = p;
    v.gsa = p + invcsi_lsa_saved_floats(s);
    return v;
}

long invcsi_stqe_block_saved_floats(const invcsi_attn_shape *s)
{
    return 12 * block_n(s) + 10 * block_rows(s) + invcsi_lsa_saved_floats(s) +
           invcsi_gsa_saved_floats(s);
}

long invcsi_stqe_block_scratch_floats(const invcsi_attn_shape *s)
{
    const long a = invcsi_lsa_scratch_floats(s), b = invcsi_gsa_scratch_floats(s);
    return 4 * block_n(s) + (a > b ? a : b);
}

static int block_check(const char *fn, const invcsi_attn_shape *s, invcsi_error *err)
{
    /* the layer checks name the field at fault ("lsa: window ...", "gsa: patch ...") */
    (void)fn;
    int rc = invcsi_lsa_check(s, err);
    return rc ? rc : invcsi_gsa_check(s, err);
}

/* MLP forward: h = fc1(a), g = gelu(h), out = fc2(g) */
static int mlp_forward(float *out, float *h, float *g, const float *a, const float *w1,
                       const float *b1, const float *w2, const float *b2, long rows, int D,
                       invcsi_error *err)
{
    int rc = invcsi_dense_forward(h, a, w1, b1, (int)rows, D, D, err);
    if (rc)
        return rc;
    invcsi_gelu_forward(g, h, rows * D);
    return invcsi_dense_forward(out, g, w2, b2, (int)rows, D, D, err);
}

int invcsi_stqe_block_forward(float *out, float *saved, const float *in,
                              const invcsi_stqe_block_weights *w, const invcsi_attn_shape *s,
                              invcsi_error *err)
{
    int rc = block_check("stqe_block_forward", s, err);
    if (rc)
        return rc;
    if (!out || !saved || !in || !w)
        return invcsi_error_set(err, INVCSI_EINVAL, "stqe_block_forward: NULL buffer");
    const long n = block_n(s), rows = block_rows(s);
    const int D = s->dim;
    struct block_saved v = block_carve(saved, s);
    const float eps = INVCSI_STQE_LN_EPS;
#define TRY(call)                                                                              \
    do {                                                                                       \
        if ((rc = (call)))                                                                     \
            return rc;                                                                         \
    } while (0)
    /* the branch outputs go to `out` as a temporary (it is written last by LN5) */
    TRY(invcsi_layernorm_forward(v.a1, v.m[0], v.r[0], in, w->ln1_w, w->ln1_b, rows, D, eps,
                                 err));
    TRY(invcsi_lsa_forward(out, v.lsa, v.a1, &w->lsa, s, err));
    for (long i = 0; i < n; i++)
        v.x1[i] = in[i] + out[i];
    TRY(invcsi_layernorm_forward(v.a2, v.m[1], v.r[1], v.x1, w->ln2_w, w->ln2_b, rows, D, eps,
                                 err));
    TRY(mlp_forward(out, v.h1, v.g1, v.a2, w->mlp1_fc1_w, w->mlp1_fc1_b, w->mlp1_fc2_w,
                    w->mlp1_fc2_b, rows, D, err));
    for (long i = 0; i < n; i++)
        v.x2[i] = v.x1[i] + out[i];
    TRY(invcsi_layernorm_forward(v.a3, v.m[2], v.r[2], v.x2, w->ln3_w, w->ln3_b, rows, D, eps,
                                 err));
    TRY(invcsi_gsa_forward(out, v.gsa, v.a3, &w->gsa, s, err));
    for (long i = 0; i < n; i++)
        v.x3[i] = v.x2[i] + out[i];
    TRY(invcsi_layernorm_forward(v.a4, v.m[3], v.r[3], v.x3, w->ln4_w, w->ln4_b, rows, D, eps,
                                 err));
    TRY(mlp_forward(out, v.h2, v.g2, v.a4, w->mlp2_fc1_w, w->mlp2_fc1_b, w->mlp2_fc2_w,
                    w->mlp2_fc2_b, rows, D, err));
    for (long i = 0; i < n; i++)
        v.x4[i] = v.x3[i] + out[i];
    TRY(invcsi_layernorm_forward(out, v.m[4], v.r[4], v.x4, w->ln5_w, w->ln5_b, rows, D, eps,
                                 err));
    return INVCSI_OK;
}

/* MLP backward: accumulates da from dout (tmp_g, tmp_h: n floats of scratch each) */
static int mlp_backward(float *da, float *dw1, float *db1, float *dw2, float *db2,
                        const float *dout, const float *a, const float *h, const float *g,
                        const float *w1, const float *w2, long rows, int D, float *tmp_g,
                        float *tmp_h, invcsi_error *err)
{
    const long n = rows * D;
    memset(tmp_g, 0, sizeof(float) * n);
    memset(tmp_h, 0, sizeof(float) * n);
    int rc = invcsi_dense_backward(tmp_g, dw2, db2, dout, g, w2, (int)rows, D, D, err);
    if (rc)
        return rc;
    invcsi_gelu_backward(tmp_h, tmp_g, h, n);
    return invcsi_dense_backward(da, dw1, db1, tmp_h, a, w1, (int)rows, D, D, err);
}

int invcsi_stqe_block_backward(float *dinput, const invcsi_stqe_block_grads *g,
                               const float *dout, const float *in, const float *saved,
                               const invcsi_stqe_block_weights *w, const invcsi_attn_shape *s,
                               float *scratch, invcsi_error *err)
{
    int rc = block_check("stqe_block_backward", s, err);
    if (rc)
        return rc;
    if (!dout || !in || !saved || !w || !scratch)
        return invcsi_error_set(err, INVCSI_EINVAL, "stqe_block_backward: NULL buffer");
    const invcsi_stqe_block_grads none = {0};
    if (!g)
        g = &none;
    const long n = block_n(s), rows = block_rows(s);
    const int D = s->dim;
    struct block_saved v = block_carve((float *)saved, s);
    float *dx = scratch, *da = dx + n, *t1 = da + n, *t2 = t1 + n, *sub = t2 + n;

    /* LN5: dx = d/dx4 */
    memset(dx, 0, sizeof(float) * n);
    TRY(invcsi_layernorm_backward(dx, g->ln5_w, g->ln5_b, dout, v.x4, w->ln5_w, v.m[4], v.r[4],
                                  rows, D, err));
    /* x4 = x3 + MLP2(LN4 x3) */
    memset(da, 0, sizeof(float) * n);
    TRY(mlp_backward(da, g->mlp2_fc1_w, g->mlp2_fc1_b, g->mlp2_fc2_w, g->mlp2_fc2_b, dx, v.a4,
                     v.h2, v.g2, w->mlp2_fc1_w, w->mlp2_fc2_w, rows, D, t1, t2, err));
    TRY(invcsi_layernorm_backward(dx, g->ln4_w, g->ln4_b, da, v.x3, w->ln4_w, v.m[3], v.r[3],
                                  rows, D, err));
    /* x3 = x2 + GSA(LN3 x2) */
    memset(da, 0, sizeof(float) * n);
    TRY(invcsi_gsa_backward(da, &g->gsa, dx, v.a3, v.gsa, &w->gsa, s, sub, err));
    TRY(invcsi_layernorm_backward(dx, g->ln3_w, g->ln3_b, da, v.x2, w->ln3_w, v.m[2], v.r[2],
                                  rows, D, err));
    /* x2 = x1 + MLP1(LN2 x1) */
    memset(da, 0, sizeof(float) * n);
    TRY(mlp_backward(da, g->mlp1_fc1_w, g->mlp1_fc1_b, g->mlp1_fc2_w, g->mlp1_fc2_b, dx, v.a2,
                     v.h1, v.g1, w->mlp1_fc1_w, w->mlp1_fc2_w, rows, D, t1, t2, err));
    TRY(invcsi_layernorm_backward(dx, g->ln2_w, g->ln2_b, da, v.x1, w->ln2_w, v.m[1], v.r[1],
                                  rows, D, err));
    /* x1 = x + LSA(LN1 x) */
    memset(da, 0, sizeof(float) * n);
    TRY(invcsi_lsa_backward(da, &g->lsa, dx, v.a1, v.lsa, &w->lsa, s, sub, err));
    TRY(invcsi_layernorm_backward(dx, g->ln1_w, g->ln1_b, da, in, w->ln1_w, v.m[0], v.r[0],
                                  rows, D, err));
    if (dinput)
        for (long i = 0; i < n; i++)
            dinput[i] += dx[i];
    return INVCSI_OK;
#undef TRY
}
