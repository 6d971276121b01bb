/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Multi-head self-attention over row tokens, local-window (LSA) and global sub-sampled
 * (GSA) forms; see include/invcsi/stqe_layers.h for what a token is and why.
 *
 * One attention group (a window of one sequence for LSA, a whole sequence for GSA) and
 * one head, with queries q_i (nq of them), keys k_j and values v_j (nk), hd features:
 *   S_ij = scale q_i . k_j,   P_i = softmax(S_i),   ctx_i = sum_j P_ij v_j
 * Backward, from dctx:
 *   dP_ij = dctx_i . v_j,   dv_j += sum_i P_ij dctx_i,
 *   dS_ij = P_ij (dP_ij - sum_j' P_ij' dP_ij'),
 *   dq_i += scale sum_j dS_ij k_j,   dk_j += scale sum_i dS_ij q_i
 * The groups are tiny (8 x 8 x 8 for LSA, 32 x 16 x 8 for GSA), so they run as plain
 * loops; the projections, which carry the FLOPs, are GEMMs through the dense layer.
 */
#include "invcsi/gemm.h"
#include "invcsi/nn.h"
#include "invcsi/stqe_layers.h"
#include "stqe_math.h"

#include <limits.h>
#include <math.h>
#include <string.h>

/* ---- one group, one head --------------------------------------------------------------- */

static void group_forward(float *ctx, int ldc, float *probs, const float *q, int ldq,
                          const float *k, int ldk, const float *v, int ldv, int nq, int nk,
                          int hd, float scale)
{
    for (int i = 0; i < nq; i++) {
        float *p = probs + (long)i * nk;
        const float *qi = q + (long)i * ldq;
        for (int j = 0; j < nk; j++) {
            const float *kj = k + (long)j * ldk;
            float acc = 0.0f;
            for (int d = 0; d < hd; d++)
                acc += qi[d] * kj[d];
            p[j] = scale * acc;
        }
        stqe_softmax_row(p, p, nk);
        float *ci = ctx + (long)i * ldc;
        for (int d = 0; d < hd; d++)
            ci[d] = 0.0f;
        for (int j = 0; j < nk; j++) {
            const float *vj = v + (long)j * ldv;
            for (int d = 0; d < hd; d++)
                ci[d] += p[j] * vj[d];
        }
    }
}

/* dq, dk, dv accumulate (they point into zeroed scratch with the same strides as q, k, v).
 * tmp holds nk floats. */
static void group_backward(float *dq, float *dk, float *dv, const float *dctx, int ldc,
                           const float *probs, const float *q, int ldq, const float *k, int ldk,
                           const float *v, int ldv, int nq, int nk, int hd, float scale,
                           float *tmp)
{
    for (int i = 0; i < nq; i++) {
        const float *p = probs + (long)i * nk;
        const float *dci = dctx + (long)i * ldc;
        float dot = 0.0f;
        for (int j = 0; j < nk; j++) {
            const float *vj = v + (long)j * ldv;
            float *dvj = dv + (long)j * ldv;
            float acc = 0.0f;
            for (int d = 0; d < hd; d++) {
                acc += dci[d] * vj[d];
                dvj[d] += p[j] * dci[d];
            }
            tmp[j] = acc;
            dot += p[j] * acc;
        }
        const float *qi = q + (long)i * ldq;
        float *dqi = dq + (long)i * ldq;
        for (int j = 0; j < nk; j++) {
            const float ds = scale * p[j] * (tmp[j] - dot);
            const float *kj = k + (long)j * ldk;
            float *dkj = dk + (long)j * ldk;
            for (int d = 0; d < hd; d++) {
                dqi[d] += ds * kj[d];
                dkj[d] += ds * qi[d];
            }
        }
    }
}

/* ---- shape checks and sizes ---------------------------------------------------------- */

static int attn_check_common(const char *fn, const invcsi_attn_shape *s, invcsi_error *err)
{
    if (!s)
        return invcsi_error_set(err, INVCSI_EINVAL, "%s: shape is NULL", fn);
    if (s->seqs < 1 || s->tokens < 1 || s->dim < 1 || s->heads < 1)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "%s: seqs %d, tokens %d, dim %d, heads %d: all must be >= 1", fn,
                                s->seqs, s->tokens, s->dim, s->heads);
    if (s->dim % s->heads)
        return invcsi_error_set(err, INVCSI_EINVAL, "%s: dim %d is not a multiple of heads %d",
                                fn, s->dim, s->heads);
    /* the dense GEMMs take int rows and 3*dim columns */
    if ((long)s->seqs * s->tokens > INT_MAX / 4 || s->dim > INT_MAX / 4)
        return invcsi_error_set(err, INVCSI_EINVAL, "%s: sizes too large for int indexing",
                                fn);
    return INVCSI_OK;
}

int invcsi_lsa_check(const invcsi_attn_shape *s, invcsi_error *err)
{
    int rc = attn_check_common("lsa", s, err);
    if (rc)
        return rc;
    if (s->window < 1 || s->tokens % s->window)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "lsa: window %d must be >= 1 and divide tokens %d", s->window,
                                s->tokens);
    return INVCSI_OK;
}

int invcsi_gsa_check(const invcsi_attn_shape *s, invcsi_error *err)
{
    int rc = attn_check_common("gsa", s, err);
    if (rc)
        return rc;
    if (s->patch < 1 || s->tokens % s->patch || s->dim % s->patch)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "gsa: patch %d must be >= 1 and divide tokens %d and dim %d",
                                s->patch, s->tokens, s->dim);
    return INVCSI_OK;
}

/* ---- LSA ------------------------------------------------------------------------------ */

static long lsa_rows(const invcsi_attn_shape *s) { return (long)s->seqs * s->tokens; }

long invcsi_lsa_saved_floats(const invcsi_attn_shape *s)
{
    /* qkv [rows][3D], probs [seqs][T/ws][H][ws][ws] = rows*H*ws, ctx [rows][D] */
    return lsa_rows(s) * (4L * s->dim + (long)s->heads * s->window);
}

long invcsi_lsa_scratch_floats(const invcsi_attn_shape *s)
{
    /* dctx [rows][D], dqkv [rows][3D], one row of dP */
    return lsa_rows(s) * 4L * s->dim + s->window;
}

int invcsi_lsa_forward(float *out, float *saved, const float *in, const invcsi_lsa_weights *w,
                       const invcsi_attn_shape *s, invcsi_error *err)
{
    int rc = invcsi_lsa_check(s, err);
    if (rc)
        return rc;
    if (!out || !saved || !in || !w || !w->qkv_w || !w->proj_w)
        return invcsi_error_set(err, INVCSI_EINVAL, "lsa_forward: NULL buffer");
    const int D = s->dim, H = s->heads, hd = D / H, ws = s->window, T = s->tokens;
    const int nw = T / ws;
    const long rows = lsa_rows(s);
    float *qkv = saved, *probs = saved + rows * 3 * D, *ctx = probs + rows * H * ws;
    const float scale = 1.0f / sqrtf((float)hd);

    rc = invcsi_dense_forward(qkv, in, w->qkv_w, w->qkv_b, (int)rows, D, 3 * D, err);
    if (rc)
        return rc;
    for (int q = 0; q < s->seqs; q++)
        for (int win = 0; win < nw; win++) {
            const long r0 = (long)q * T + (long)win * ws;
            for (int h = 0; h < H; h++) {
                const float *qb = qkv + r0 * 3 * D + h * hd;
                float *p = probs + (((long)q * nw + win) * H + h) * ws * ws;
                group_forward(ctx + r0 * D + h * hd, D, p, qb, 3 * D, qb + D, 3 * D,
                              qb + 2 * D, 3 * D, ws, ws, hd, scale);
            }
        }
    return invcsi_dense_forward(out, ctx, w->proj_w, w->proj_b, (int)rows, D, D, err);
}

int invcsi_lsa_backward(float *dinput, const invcsi_lsa_grads *g, const float *dout,
                        const float *in, const float *saved, const invcsi_lsa_weights *w,
                        const invcsi_attn_shape *s, float *scratch, invcsi_error *err)
{
    int rc = invcsi_lsa_check(s, err);
    if (rc)
        return rc;
    if (!dout || !in || !saved || !w || !w->qkv_w || !w->proj_w || !scratch)
        return invcsi_error_set(err, INVCSI_EINVAL, "lsa_backward: NULL buffer");
    const invcsi_lsa_grads none = {0};
    if (!g)
        g = &none;
    const int D = s->dim, H = s->heads, hd = D / H, ws = s->window, T = s->tokens;
    const int nw = T / ws;
    const long rows = lsa_rows(s);
    const float *qkv = saved, *probs = saved + rows * 3 * D, *ctx = probs + rows * H * ws;
    float *dctx = scratch, *dqkv = scratch + rows * D, *tmp = dqkv + rows * 3 * D;
    const float scale = 1.0f / sqrtf((float)hd);

    memset(dctx, 0, sizeof(float) * rows * D);
    memset(dqkv, 0, sizeof(float) * rows * 3 * D);
    rc = invcsi_dense_backward(dctx, g->proj_w, g->proj_b, dout, ctx, w->proj_w, (int)rows, D,
                               D, err);
    if (rc)
        return rc;
    for (int q = 0; q < s->seqs; q++)
        for (int win = 0; win < nw; win++) {
            const long r0 = (long)q * T + (long)win * ws;
            for (int h = 0; h < H; h++) {
                const long off = r0 * 3 * D + h * hd;
                const float *p = probs + (((long)q * nw + win) * H + h) * ws * ws;
                group_backward(dqkv + off, dqkv + off + D, dqkv + off + 2 * D,
                               dctx + r0 * D + h * hd, D, p, qkv + off, 3 * D, qkv + off + D,
                               3 * D, qkv + off + 2 * D, 3 * D, ws, ws, hd, scale, tmp);
            }
        }
    return invcsi_dense_backward(dinput, g->qkv_w, g->qkv_b, dqkv, in, w->qkv_w, (int)rows, D,
                                 3 * D, err);
}

/* ---- GSA ------------------------------------------------------------------------------ */

int invcsi_gsa_summary_tokens(const invcsi_attn_shape *s)
{
    return (s->tokens / s->patch) * (s->dim / s->patch);
}

long invcsi_gsa_saved_floats(const invcsi_attn_shape *s)
{
    const long ns = invcsi_gsa_summary_tokens(s), sn = (long)s->seqs * ns;
    const long rows = lsa_rows(s), D = s->dim, pp = (long)s->patch * s->patch;
    /* patches, summary, mean, rstd, normed summary, kv, q, probs, ctx */
    return sn * pp + sn * D + 2 * sn + sn * D + sn * 2 * D + rows * D + rows * s->heads * ns +
           rows * D;
}

long invcsi_gsa_scratch_floats(const invcsi_attn_shape *s)
{
    const long ns = invcsi_gsa_summary_tokens(s), sn = (long)s->seqs * ns;
    const long rows = lsa_rows(s), D = s->dim, pp = (long)s->patch * s->patch;
    /* dctx, dq, dkv, dsn, dsumm, dpatches, one row of dP */
    return rows * D * 2 + sn * 2 * D + sn * D * 2 + sn * pp + ns;
}

/* Pointers into the saved buffer of GSA. */
struct gsa_saved {
    float *patches, *summ, *mean, *rstd, *sn, *kv, *q, *probs, *ctx;
};

static struct gsa_saved gsa_carve(float *saved, const invcsi_attn_shape *s)
{
    const long ns = invcsi_gsa_summary_tokens(s), sn = (long)s->seqs * ns;
    const long rows = lsa_rows(s), D = s->dim, pp = (long)s->patch * s->patch;
    struct gsa_saved v;
    v.patches = saved;
    v.summ = v.patches + sn * pp;
    v.mean = v.summ + sn * D;
    v.rstd = v.mean + sn;
    v.sn = v.rstd + sn;
    v.kv = v.sn + sn * D;
    v.q = v.kv + sn * 2 * D;
    v.probs = v.q + rows * D;
    v.ctx = v.probs + rows * s->heads * ns;
    return v;
}

/* patches[seq][a*(D/p)+b][i*p+j] = map[seq][a*p+i][b*p+j]: the im2col of the stride-p conv
 * (non-overlapping p x p patches), so the conv is one dense layer over the patches. */
static void patchify(float *patches, const float *in, const invcsi_attn_shape *s)
{
    const int T = s->tokens, D = s->dim, p = s->patch, na = T / p, nb = D / p;
    for (int q = 0; q < s->seqs; q++)
        for (int a = 0; a < na; a++)
            for (int b = 0; b < nb; b++) {
                float *dst = patches + (((long)q * na + a) * nb + b) * p * p;
                for (int i = 0; i < p; i++)
                    memcpy(dst + i * p, in + ((long)q * T + a * p + i) * D + b * p,
                           sizeof(float) * p);
            }
}

/* dinput += the adjoint of patchify applied to dpatches. */
static void unpatchify_add(float *dinput, const float *dpatches, const invcsi_attn_shape *s)
{
    const int T = s->tokens, D = s->dim, p = s->patch, na = T / p, nb = D / p;
    for (int q = 0; q < s->seqs; q++)
        for (int a = 0; a < na; a++)
            for (int b = 0; b < nb; b++) {
                const float *src = dpatches + (((long)q * na + a) * nb + b) * p * p;
                for (int i = 0; i < p; i++) {
                    float *d = dinput + ((long)q * T + a * p + i) * D + b * p;
                    for (int j = 0; j < p; j++)
                        d[j] += src[i * p + j];
                }
            }
}

int invcsi_gsa_forward(float *out, float *saved, const float *in, const invcsi_gsa_weights *w,
                       const invcsi_attn_shape *s, invcsi_error *err)
{
    int rc = invcsi_gsa_check(s, err);
    if (rc)
        return rc;
    if (!out || !saved || !in || !w || !w->q_w || !w->kv_w || !w->sr_w || !w->norm_w ||
        !w->norm_b || !w->proj_w)
        return invcsi_error_set(err, INVCSI_EINVAL, "gsa_forward: NULL buffer");
    const int D = s->dim, H = s->heads, hd = D / H, T = s->tokens, pp = s->patch * s->patch;
    const int ns = invcsi_gsa_summary_tokens(s);
    const long rows = lsa_rows(s), sn = (long)s->seqs * ns;
    struct gsa_saved v = gsa_carve(saved, s);
    const float scale = 1.0f / sqrtf((float)hd);

    patchify(v.patches, in, s);
    if ((rc = invcsi_dense_forward(v.summ, v.patches, w->sr_w, w->sr_b, (int)sn, pp, D, err)))
        return rc;
    if ((rc = invcsi_layernorm_forward(v.sn, v.mean, v.rstd, v.summ, w->norm_w, w->norm_b, sn,
                                       D, INVCSI_STQE_LN_EPS, err)))
        return rc;
    if ((rc = invcsi_dense_forward(v.kv, v.sn, w->kv_w, w->kv_b, (int)sn, D, 2 * D, err)))
        return rc;
    if ((rc = invcsi_dense_forward(v.q, in, w->q_w, w->q_b, (int)rows, D, D, err)))
        return rc;
    for (int q = 0; q < s->seqs; q++)
        for (int h = 0; h < H; h++) {
            const float *kb = v.kv + (long)q * ns * 2 * D + h * hd;
            group_forward(v.ctx + (long)q * T * D + h * hd, D,
                          v.probs + ((long)q * H + h) * T * ns, v.q + (long)q * T * D + h * hd,
                          D, kb, 2 * D, kb + D, 2 * D, T, ns, hd, scale);
        }
    return invcsi_dense_forward(out, v.ctx, w->proj_w, w->proj_b, (int)rows, D, D, err);
}

int invcsi_gsa_backward(float *dinput, const invcsi_gsa_grads *g, const float *dout,
                        const float *in, const float *saved, const invcsi_gsa_weights *w,
                        const invcsi_attn_shape *s, float *scratch, invcsi_error *err)
{
    int rc = invcsi_gsa_check(s, err);
    if (rc)
        return rc;
    if (!dout || !in || !saved || !scratch || !w || !w->q_w || !w->kv_w || !w->sr_w ||
        !w->norm_w || !w->proj_w)
        return invcsi_error_set(err, INVCSI_EINVAL, "gsa_backward: NULL buffer");
    const invcsi_gsa_grads none = {0};
    if (!g)
        g = &none;
    const int D = s->dim, H = s->heads, hd = D / H, T = s->tokens, pp = s->patch * s->patch;
    const int ns = invcsi_gsa_summary_tokens(s);
    const long rows = lsa_rows(s), sn = (long)s->seqs * ns;
    struct gsa_saved v = gsa_carve((float *)saved, s);
    const float scale = 1.0f / sqrtf((float)hd);
    float *dctx = scratch, *dq = dctx + rows * D, *dkv = dq + rows * D, *dsn = dkv + sn * 2 * D;
    float *dsumm = dsn + sn * D, *dpatches = dsumm + sn * D, *tmp = dpatches + sn * pp;

    memset(scratch, 0, sizeof(float) * (tmp - scratch));
    if ((rc = invcsi_dense_backward(dctx, g->proj_w, g->proj_b, dout, v.ctx, w->proj_w,
                                    (int)rows, D, D, err)))
        return rc;
    for (int q = 0; q < s->seqs; q++)
        for (int h = 0; h < H; h++) {
            const long koff = (long)q * ns * 2 * D + h * hd, qoff = (long)q * T * D + h * hd;
            group_backward(dq + qoff, dkv + koff, dkv + koff + D, dctx + qoff, D,
                           v.probs + ((long)q * H + h) * T * ns, v.q + qoff, D, v.kv + koff,
                           2 * D, v.kv + koff + D, 2 * D, T, ns, hd, scale, tmp);
        }
    if ((rc = invcsi_dense_backward(dinput, g->q_w, g->q_b, dq, in, w->q_w, (int)rows, D, D,
                                    err)))
        return rc;
    /* the summary branch: kv <- LayerNorm <- stride-p conv (dense over patches) <- in */
    if ((rc = invcsi_dense_backward(dsn, g->kv_w, g->kv_b, dkv, v.sn, w->kv_w, (int)sn, D,
                                    2 * D, err)))
        return rc;
    if ((rc = invcsi_layernorm_backward(dsumm, g->norm_w, g->norm_b, dsn, v.summ, w->norm_w,
                                        v.mean, v.rstd, sn, D, err)))
        return rc;
    if ((rc = invcsi_dense_backward(dinput ? dpatches : NULL, g->sr_w, g->sr_b, dsumm,
                                    v.patches, w->sr_w, (int)sn, pp, D, err)))
        return rc;
    if (dinput)
        unpatchify_add(dinput, dpatches, s);
    return INVCSI_OK;
}
