/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * FLOP and byte counts per layer (include/invcsi/flops.h). The layer list is walked from
 * the core's own structures: a scratch INN built with invcsi_inn_create from the model's
 * config (its coupling and subnet structs and tensor names), the LAN shape of ic.h, and
 * the model's parameter table (tensor shapes of CsiNet and of the InvCSINet extras). The
 * sequence of calls follows lib/inn_model.c, lib/inn_coupling.c, lib/inn_subnet.c,
 * lib/csinet.c and lib/invcsinet.c: when those change, this file must follow (the tests
 * check the parameter totals against the model's own count).
 *
 * Element-wise op counts (FLOPs per element, a transcendental counted as 1) are read off
 * kernels/ headers and rounded; they matter little: those rows are memory-bound everywhere.
 */
#include "invcsi/flops.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "invcsi/ic.h"
#include "invcsi/inn.h"
#include "invcsi/params.h"

#define F 4.0 /* bytes per float */
#define K3 3  /* every conv of the models is 3x3 */

/* FLOPs per element of the element-wise kernels (see the file comment). */
#define OPS_LRELU_FWD 1.0
#define OPS_LRELU_BWD 2.0
#define OPS_AFFINE_FWD 9.0      /* soft clamp (sigmoid 3, 2x-1 2, *clamp 1), exp, fma 2 */
#define OPS_AFFINE_INV 9.0
#define OPS_AFFINE_FWD_GRAD 14.0
#define OPS_AFFINE_INV_GRAD 16.0
#define OPS_BN_FWD_TRAIN 7.0    /* stats (sum, sum of squares) + normalise/affine */
#define OPS_BN_BWD 11.0
#define OPS_NORMAL 10.0         /* one N(0,1) draw: xoshiro + Box-Muller */
#define OPS_GUMBEL 8.0          /* -log(-log u) */
#define OPS_ADAM 13.0           /* nn_adam_element */
#define OPS_SSE 5.0             /* invcsi_batch_sse: error, square, sum, power */
#define OPS_MSE_BWD 3.0
#define OPS_IMQ 3.0             /* C / (C + d2) and its sum */
#define OPS_IMQ_GRAD 5.0

/* ------------------------------------------------------------------------------------- */
/* Closed forms                                                                          */
/* ------------------------------------------------------------------------------------- */

static double conv_macs(const invcsi_conv2d_shape *s)
{
    return (double)s->batch * s->height * s->width * s->out_ch * s->in_ch * s->kh * s->kw;
}

double invcsi_conv2d_flops_forward(const invcsi_conv2d_shape *s, int bias)
{
    return 2.0 * conv_macs(s) +
           (bias ? (double)s->batch * s->height * s->width * s->out_ch : 0.0);
}

double invcsi_conv2d_flops_backward(const invcsi_conv2d_shape *s, int want_dinput,
                                    int want_dweight, int bias)
{
    double f = 0.0;
    if (want_dinput)
        f += 2.0 * conv_macs(s);
    if (want_dweight) {
        f += 2.0 * conv_macs(s);
        if (bias)
            f += (double)s->batch * s->height * s->width * s->out_ch;
    }
    return f;
}

double invcsi_dense_flops_forward(int batch, int in_dim, int out_dim, int bias)
{
    return 2.0 * batch * in_dim * (double)out_dim + (bias ? (double)batch * out_dim : 0.0);
}

double invcsi_dense_flops_backward(int batch, int in_dim, int out_dim, int want_dinput,
                                   int want_dweight, int bias)
{
    double f = 0.0;
    if (want_dinput)
        f += 2.0 * batch * in_dim * (double)out_dim;
    if (want_dweight)
        f += 2.0 * batch * in_dim * (double)out_dim + (bias ? (double)batch * out_dim : 0.0);
    return f;
}

/* ------------------------------------------------------------------------------------- */
/* Rows                                                                                  */
/* ------------------------------------------------------------------------------------- */

typedef struct walk {
    invcsi_cost *c;
    int B;
    int oom;
} walk;

static void add_row(walk *w, int phase, const char *op, double flops, double pb, double ab,
                    double gb, double ob, const char *fmt, ...)
{
    invcsi_cost *c = w->c;
    if (w->oom)
        return;
    if (c->n_rows == c->cap_rows) {
        int cap = c->cap_rows ? 2 * c->cap_rows : 256;
        invcsi_cost_row *r = realloc(c->rows, sizeof *r * (size_t)cap);
        if (!r) {
            w->oom = 1;
            return;
        }
        c->rows = r;
        c->cap_rows = cap;
    }
    invcsi_cost_row *r = &c->rows[c->n_rows++];
    memset(r, 0, sizeof *r);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->name, sizeof r->name, fmt, ap);
    va_end(ap);
    r->op = op;
    r->phase = phase;
    r->flops = flops;
    r->param_bytes = pb;
    r->act_bytes = ab;
    r->grad_bytes = gb;
    r->opt_bytes = ob;
    r->bytes = pb + ab + gb + ob;
    c->flops[phase] += flops;
    c->bytes[phase] += r->bytes;
    c->param_bytes[phase] += pb;
}

/* Marks the last row's GEMM part (2 M N K of its GEMM calls). */
static void last_gemm(walk *w, double gemm_flops)
{
    if (w->oom || w->c->n_rows == 0)
        return;
    invcsi_cost_row *r = &w->c->rows[w->c->n_rows - 1];
    r->gemm_flops = gemm_flops;
    w->c->gemm_flops[r->phase] += gemm_flops;
}

/* An element-wise kernel over n values: ops FLOPs, `reads` and `writes` floats each. */
static void ew(walk *w, int phase, const char *op, double n, double ops, double reads,
               double writes, const char *name)
{
    add_row(w, phase, op, n * ops, 0.0, F * n * (reads + writes), 0.0, 0.0, "%s", name);
}

/* Pure data movement (copies, splits, concatenations): n floats read and written. */
static void copy_row(walk *w, int phase, double n, const char *name)
{
    add_row(w, phase, "copy", 0.0, 0.0, 2.0 * F * n, 0.0, 0.0, "%s", name);
}

static void conv_fwd(walk *w, int phase, const char *name, int cin, int cout, int h, int wd)
{
    const invcsi_conv2d_shape s = {w->B, cin, cout, h, wd, K3, K3};
    const double params = (double)cout * cin * K3 * K3 + cout;
    add_row(w, phase, "conv3x3", invcsi_conv2d_flops_forward(&s, 1), F * params,
            F * (double)w->B * h * wd * (cin + cout), 0.0, 0.0, "%s", name);
    last_gemm(w, 2.0 * conv_macs(&s));
}

static void conv_bwd(walk *w, int phase, const char *name, int cin, int cout, int h, int wd,
                     int want_din, int want_dw)
{
    const invcsi_conv2d_shape s = {w->B, cin, cout, h, wd, K3, K3};
    const double wcount = (double)cout * cin * K3 * K3;
    const double map_in = (double)w->B * h * wd * cin, map_out = (double)w->B * h * wd * cout;
    add_row(w, phase, "conv3x3_bwd", invcsi_conv2d_flops_backward(&s, want_din, want_dw, 1),
            want_din ? F * wcount : 0.0,
            F * (map_out + (want_dw ? map_in : 0.0) + (want_din ? 2.0 * map_in : 0.0)),
            want_dw ? 2.0 * F * (wcount + cout) : 0.0, 0.0, "%s", name);
    last_gemm(w, 2.0 * conv_macs(&s) * ((want_din ? 1 : 0) + (want_dw ? 1 : 0)));
}

static void dense_fwd(walk *w, int phase, const char *name, int in, int out)
{
    add_row(w, phase, "dense", invcsi_dense_flops_forward(w->B, in, out, 1),
            F * ((double)in * out + out), F * (double)w->B * (in + out), 0.0, 0.0, "%s", name);
    last_gemm(w, 2.0 * w->B * (double)in * out);
}

static void dense_bwd(walk *w, int phase, const char *name, int in, int out, int want_din,
                      int want_dw)
{
    add_row(w, phase, "dense_bwd", invcsi_dense_flops_backward(w->B, in, out, want_din, want_dw, 1),
            want_din ? F * (double)in * out : 0.0,
            F * (double)w->B * (out + (want_dw ? in : 0) + (want_din ? 2 * in : 0)),
            want_dw ? 2.0 * F * ((double)in * out + out) : 0.0, 0.0, "%s", name);
    last_gemm(w, 2.0 * w->B * (double)in * out * ((want_din ? 1 : 0) + (want_dw ? 1 : 0)));
}

/* ------------------------------------------------------------------------------------- */
/* INN (lib/inn_model.c, inn_coupling.c, inn_subnet.c)                                   */
/* ------------------------------------------------------------------------------------- */

typedef struct inn_walk {
    invcsi_params p;    /* scratch table the INN was built into (names, shapes) */
    invcsi_inn *inn;
    int front;
    int has_perm;
    int dim, m, aux, k;
    int frozen;         /* inn.* frozen in the model: no weight gradients */
} inn_walk;

/* "inn.0.phi.conv1" from the tensor "inn.0.phi.conv1.weight". */
static void conv_name(const inn_walk *iw, int tensor, const char *pass, char *out, size_t n)
{
    const char *full = iw->p.tensors[tensor].name;
    size_t len = strlen(full);
    if (len > 7 && !strcmp(full + len - 7, ".weight"))
        len -= 7;
    snprintf(out, n, "%s %.*s", pass, (int)len, full);
}

static long subnet_params(const inn_walk *iw, const invcsi_inn_subnet *s)
{
    long n = 0;
    for (int i = 0; i < INVCSI_INN_SUBNET_CONVS; i++)
        n += (long)iw->p.tensors[s->weight[i]].count + (long)iw->p.tensors[s->bias[i]].count;
    return n;
}

/* Conv i of a subnet: channels from its weight tensor [Cout][Cin][3][3]. */
static void subnet_conv(const inn_walk *iw, const invcsi_inn_subnet *s, int i, int *cin,
                        int *cout)
{
    const invcsi_tensor *t = &iw->p.tensors[s->weight[i]];
    *cout = t->shape[0];
    *cin = t->shape[1];
}

static void subnet_forward(walk *w, const inn_walk *iw, const invcsi_inn_subnet *s,
                           const char *pass)
{
    char name[INVCSI_COST_NAME_MAX];
    for (int i = 0; i < INVCSI_INN_SUBNET_CONVS; i++) {
        int cin, cout;
        subnet_conv(iw, s, i, &cin, &cout);
        conv_name(iw, s->weight[i], pass, name, sizeof name);
        conv_fwd(w, INVCSI_COST_FORWARD, name, cin, cout, s->gh, s->gw);
        if (i < INVCSI_INN_SUBNET_CONVS - 1) {
            strncat(name, " lrelu", sizeof name - strlen(name) - 1);
            ew(w, INVCSI_COST_FORWARD, "lrelu", (double)w->B * cout * s->gh * s->gw,
               OPS_LRELU_FWD, 1, 1, name);
        }
    }
}

static void subnet_backward(walk *w, const inn_walk *iw, const invcsi_inn_subnet *s,
                            const char *pass, int want_din)
{
    char name[INVCSI_COST_NAME_MAX];
    for (int i = INVCSI_INN_SUBNET_CONVS - 1; i >= 0; i--) {
        int cin, cout;
        subnet_conv(iw, s, i, &cin, &cout);
        conv_name(iw, s->weight[i], pass, name, sizeof name);
        conv_bwd(w, INVCSI_COST_BACKWARD, name, cin, cout, s->gh, s->gw, i > 0 || want_din,
                 !iw->frozen);
        if (i > 0) {
            char lname[INVCSI_COST_NAME_MAX + 8];
            conv_name(iw, s->weight[i - 1], pass, name, sizeof name);
            snprintf(lname, sizeof lname, "%s lrelu", name);
            ew(w, INVCSI_COST_BACKWARD, "lrelu_bwd", (double)w->B * cin * s->gh * s->gw,
               OPS_LRELU_BWD, 3, 1, lname);
        }
    }
}

static double half(const walk *w, const invcsi_inn_coupling *c, int ch)
{
    return (double)w->B * ch * c->gh * c->gw;
}

static void block_label(char *out, size_t n, const char *pass, int k, const char *what)
{
    snprintf(out, n, "%s inn.%d %s", pass, k, what);
}

static void coupling_forward(walk *w, const inn_walk *iw, const invcsi_inn_coupling *c, int k,
                             const char *pass)
{
    char name[INVCSI_COST_NAME_MAX];
    subnet_forward(w, iw, &c->phi, pass);
    block_label(name, sizeof name, pass, k, "y1 = x1 + phi");
    ew(w, INVCSI_COST_FORWARD, "add", half(w, c, c->c1), 1, 2, 1, name);
    subnet_forward(w, iw, &c->rho, pass);
    subnet_forward(w, iw, &c->eta, pass);
    block_label(name, sizeof name, pass, k, "affine");
    ew(w, INVCSI_COST_FORWARD, "affine", half(w, c, c->c2), OPS_AFFINE_FWD, 3, 1, name);
}

static void coupling_inverse(walk *w, const inn_walk *iw, const invcsi_inn_coupling *c, int k,
                             const char *pass)
{
    char name[INVCSI_COST_NAME_MAX];
    subnet_forward(w, iw, &c->rho, pass);
    subnet_forward(w, iw, &c->eta, pass);
    block_label(name, sizeof name, pass, k, "affine inverse");
    ew(w, INVCSI_COST_FORWARD, "affine", half(w, c, c->c2), OPS_AFFINE_INV, 3, 1, name);
    subnet_forward(w, iw, &c->phi, pass);
    block_label(name, sizeof name, pass, k, "x1 = y1 - phi");
    ew(w, INVCSI_COST_FORWARD, "add", half(w, c, c->c1), 1, 2, 1, name);
}

/* invcsi_inn_coupling_backward; want_dx: the block's input gradients are wanted (not
 * block 0 of the forward pass, whose input is the data). */
static void coupling_backward(walk *w, const inn_walk *iw, const invcsi_inn_coupling *c, int k,
                              int want_dx)
{
    const char *pass = "f(x)";
    char name[INVCSI_COST_NAME_MAX];
    block_label(name, sizeof name, pass, k, "affine grad");
    ew(w, INVCSI_COST_BACKWARD, "affine_bwd", half(w, c, c->c2), OPS_AFFINE_FWD_GRAD,
       3 + want_dx, 1 + want_dx, name);
    subnet_backward(w, iw, &c->rho, pass, 1);
    subnet_backward(w, iw, &c->eta, pass, 1);
    if (want_dx) {
        block_label(name, sizeof name, pass, k, "dx1 += dy1'");
        ew(w, INVCSI_COST_BACKWARD, "add", half(w, c, c->c1), 1, 2, 1, name);
    }
    subnet_backward(w, iw, &c->phi, pass, want_dx);
}

/* invcsi_inn_coupling_inverse_backward (every gradient wanted). */
static void coupling_inverse_backward(walk *w, const inn_walk *iw, const invcsi_inn_coupling *c,
                                      int k)
{
    const char *pass = "f^-1";
    char name[INVCSI_COST_NAME_MAX];
    block_label(name, sizeof name, pass, k, "dy1 += dx1, t1 = -dx1");
    ew(w, INVCSI_COST_BACKWARD, "add", half(w, c, c->c1), 2, 3, 2, name);
    subnet_backward(w, iw, &c->phi, pass, 1);
    block_label(name, sizeof name, pass, k, "affine inverse grad");
    ew(w, INVCSI_COST_BACKWARD, "affine_bwd", half(w, c, c->c2), OPS_AFFINE_INV_GRAD, 4, 3,
       name);
    subnet_backward(w, iw, &c->eta, pass, 1);
    subnet_backward(w, iw, &c->rho, pass, 1);
}

/* The front (patchify / energy gather / KLT rotation) or its inverse on B reports. */
static void front_row(walk *w, const inn_walk *iw, int phase, const char *name)
{
    const double n = (double)w->B * iw->dim;
    if (iw->front == INVCSI_INN_FRONT_KLT) {
        add_row(w, phase, "dense", 2.0 * n * iw->dim, F * (double)iw->dim * iw->dim, 2.0 * F * n,
                0.0, 0.0, "%s", name);
        last_gemm(w, 2.0 * n * iw->dim);
    } else if (iw->front == INVCSI_INN_FRONT_ENERGY) {
        add_row(w, phase, "gather", 0.0, F * iw->dim, 2.0 * F * n, 0.0, 0.0, "%s", name);
    } else {
        copy_row(w, phase, n, name);
    }
}

static int inn_walk_open(inn_walk *iw, const invcsi_model *m, invcsi_error *err)
{
    memset(iw, 0, sizeof *iw);
    invcsi_params_init(&iw->p);
    int rc = invcsi_inn_create(&iw->inn, &m->cfg, &iw->p, "inn", err);
    if (rc != INVCSI_OK) {
        invcsi_params_free(&iw->p);
        return rc;
    }
    invcsi_inn_front_parse(m->cfg.front, &iw->front, NULL);
    iw->has_perm = m->cfg.permute;
    iw->dim = invcsi_inn_dim(iw->inn);
    iw->m = invcsi_inn_latent(iw->inn);
    iw->aux = invcsi_inn_aux(iw->inn);
    iw->k = invcsi_inn_blocks(iw->inn);
    /* frozen as the MODEL has it (freeze_inn), by the first subnet tensor's name */
    const invcsi_inn_coupling *c0 = invcsi_inn_block(iw->inn, 0);
    const invcsi_tensor *t = invcsi_params_find(&m->params, iw->p.tensors[c0->phi.weight[0]].name);
    if (!t) {
        invcsi_inn_free(iw->inn);
        invcsi_params_free(&iw->p);
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "flops: the model's parameter table has no INN tensor \"%s\"",
                                iw->p.tensors[c0->phi.weight[0]].name);
    }
    iw->frozen = t->frozen;
    return INVCSI_OK;
}

static void inn_walk_close(inn_walk *iw)
{
    invcsi_inn_free(iw->inn);
    invcsi_params_free(&iw->p);
}

static long inn_params(const inn_walk *iw)
{
    long n = 0;
    for (int k = 0; k < iw->k; k++) {
        const invcsi_inn_coupling *c = invcsi_inn_block(iw->inn, k);
        n += subnet_params(iw, &c->phi) + subnet_params(iw, &c->rho) + subnet_params(iw, &c->eta);
    }
    return n;
}

/* (y, z) = f(x) */
static void inn_forward(walk *w, const inn_walk *iw)
{
    const double n = (double)w->B * iw->dim;
    front_row(w, iw, INVCSI_COST_FORWARD, "f(x) inn.front");
    copy_row(w, INVCSI_COST_FORWARD, n, "f(x) inn split");
    for (int k = 0; k < iw->k; k++) {
        coupling_forward(w, iw, invcsi_inn_block(iw->inn, k), k, "f(x)");
        if (k + 1 < iw->k) {
            char name[INVCSI_COST_NAME_MAX];
            snprintf(name, sizeof name, "f(x) inn.%d -> %d transfer", k, k + 1);
            copy_row(w, INVCSI_COST_FORWARD, n, name);
        }
    }
    copy_row(w, INVCSI_COST_FORWARD, n, "f(x) inn y, z out");
}

/* xhat = f^-1(y, z) */
static void inn_inverse(walk *w, const inn_walk *iw)
{
    const double n = (double)w->B * iw->dim;
    copy_row(w, INVCSI_COST_FORWARD, n, "f^-1 inn y, z in");
    for (int k = iw->k - 1; k >= 0; k--) {
        coupling_inverse(w, iw, invcsi_inn_block(iw->inn, k), k, "f^-1");
        if (k > 0) {
            char name[INVCSI_COST_NAME_MAX];
            snprintf(name, sizeof name, "f^-1 inn.%d -> %d transfer", k, k - 1);
            copy_row(w, INVCSI_COST_FORWARD, n, name);
        }
    }
    copy_row(w, INVCSI_COST_FORWARD, n, "f^-1 inn merge");
    front_row(w, iw, INVCSI_COST_FORWARD, "f^-1 inn.front inverse");
}

static void inn_backward(walk *w, const inn_walk *iw)
{
    const double n = (double)w->B * iw->dim;
    copy_row(w, INVCSI_COST_BACKWARD, n, "f(x) inn dy, dz in");
    for (int k = iw->k - 1; k >= 0; k--) {
        coupling_backward(w, iw, invcsi_inn_block(iw->inn, k), k, k > 0);
        if (k > 0 && iw->has_perm) {
            char name[INVCSI_COST_NAME_MAX];
            snprintf(name, sizeof name, "f(x) inn.%d -> %d transfer grad", k, k - 1);
            copy_row(w, INVCSI_COST_BACKWARD, n, name);
        }
    }
}

/* want_dz: the gradient at z is wanted (the final dz += runs). */
static void inn_inverse_backward(walk *w, const inn_walk *iw, int want_dz)
{
    const double n = (double)w->B * iw->dim;
    front_row(w, iw, INVCSI_COST_BACKWARD, "f^-1 inn.front adjoint");
    copy_row(w, INVCSI_COST_BACKWARD, n, "f^-1 inn split grad");
    for (int k = 0; k < iw->k; k++) {
        coupling_inverse_backward(w, iw, invcsi_inn_block(iw->inn, k), k);
        if (k + 1 < iw->k && iw->has_perm) {
            char name[INVCSI_COST_NAME_MAX];
            snprintf(name, sizeof name, "f^-1 inn.%d -> %d transfer grad", k, k + 1);
            copy_row(w, INVCSI_COST_BACKWARD, n, name);
        }
    }
    ew(w, INVCSI_COST_BACKWARD, "add", (double)w->B * (want_dz ? iw->dim : iw->m), 1, 2, 1,
       want_dz ? "f^-1 inn dy, dz +=" : "f^-1 inn dy +=");
}

/* ------------------------------------------------------------------------------------- */
/* Losses and the update                                                                 */
/* ------------------------------------------------------------------------------------- */

static void mmd_forward(walk *w, int dim)
{
    const double B = w->B, bd = B * dim, bb = B * B;
    /* row norms (2 B dim MACs), three B x B Gram GEMMs, distance assembly, kernel sums */
    const double flops = 4.0 * bd + 3.0 * 2.0 * bb * dim + 3.0 * bb * (3.0 + OPS_IMQ);
    /* a, b read by the norms and the GEMMs (aa: a, bb: b, ab: a and b); d2 written,
     * re-read and re-written by the assembly, read by the kernel sums */
    const double floats = 6.0 * bd + 3.0 * bb * 4.0;
    add_row(w, INVCSI_COST_FORWARD, "mmd", flops, 0.0, F * floats, 0.0, 0.0, "%s",
            "mmd_imq forward (3 Gram GEMMs)");
    last_gemm(w, 3.0 * 2.0 * bb * dim);
}

/* n_weights weight matrices from d2, n_diffs weighted_diff_add calls (nn_loss.c). */
static void mmd_backward(walk *w, int dim, int n_weights, int n_diffs)
{
    const double B = w->B, bd = B * dim, bb = B * B;
    const double flops = n_weights * bb * (OPS_IMQ_GRAD + 1.0) +
                         n_diffs * (bb + 2.0 * bd + 2.0 * bb * dim);
    const double floats = n_weights * 2.0 * bb + n_diffs * (2.0 * bb + 2.0 * bd + 2.0 * bd);
    add_row(w, INVCSI_COST_BACKWARD, "mmd_bwd", flops, 0.0, F * floats, 0.0, 0.0, "%s",
            "mmd_imq backward (GEMMs)");
    last_gemm(w, n_diffs * 2.0 * bb * dim);
}

static void update_rows(walk *w, const invcsi_model *m)
{
    const double total = (double)m->params.total;
    const double n = (double)invcsi_model_param_count(m, 1);
    add_row(w, INVCSI_COST_UPDATE, "memset", 0.0, 0.0, 0.0, F * total, 0.0, "%s",
            "zero grad (whole gradient buffer)");
    /* read p, g, m, v; write p, m, v */
    add_row(w, INVCSI_COST_UPDATE, "adam", OPS_ADAM * n, 2.0 * F * n, 0.0, F * n, 4.0 * F * n,
            "%s", "adam (trainable parameters)");
    w->c->params_trainable = (long)n;
}

/* ------------------------------------------------------------------------------------- */
/* Parameter-table helpers                                                               */
/* ------------------------------------------------------------------------------------- */

static const invcsi_tensor *tensor(const invcsi_model *m, const char *prefix,
                                   const char *suffix, invcsi_error *err)
{
    char name[INVCSI_PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%s.%s", prefix, suffix);
    const invcsi_tensor *t = invcsi_params_find(&m->params, name);
    if (!t)
        invcsi_error_set(err, INVCSI_EINVAL, "flops: the %s model has no tensor \"%s\"",
                         m->cfg.kind, name);
    return t;
}

/* ------------------------------------------------------------------------------------- */
/* INN model                                                                             */
/* ------------------------------------------------------------------------------------- */

static int inn_train(walk *w, const invcsi_model *m, invcsi_error *err)
{
    inn_walk iw;
    int rc = inn_walk_open(&iw, m, err);
    if (rc != INVCSI_OK)
        return rc;
    const invcsi_model_config *cfg = &m->cfg;
    const double bd = (double)w->B * iw.dim, bz = (double)w->B * iw.aux;
    w->c->params_walked = inn_params(&iw);

    inn_forward(w, &iw);
    add_row(w, INVCSI_COST_FORWARD, "rng", OPS_NORMAL * bz * (cfg->z_bwd_sample ? 2 : 1), 0.0,
            F * bz * (cfg->z_bwd_sample ? 2 : 1), 0.0, 0.0, "%s", "noise n (and z_bwd) ~ N(0, I)");
    copy_row(w, INVCSI_COST_FORWARD, 2.0 * bd, "concat [y, z], [y, n]");
    mmd_forward(w, iw.dim);
    inn_inverse(w, &iw);
    ew(w, INVCSI_COST_FORWARD, "mse", bd, OPS_SSE, 2, 0, "mse + nmse (sse)");

    if (cfg->mmd_weight != 0.0f)
        mmd_backward(w, iw.dim, 2, 2); /* within-a and cross, da only */
    copy_row(w, INVCSI_COST_BACKWARD, bd, "unconcat d[y, z]");
    if (cfg->mse_weight != 0.0f) {
        ew(w, INVCSI_COST_BACKWARD, "mse_bwd", bd, OPS_MSE_BWD, 3, 1, "mse backward");
        inn_inverse_backward(w, &iw, 0); /* dz NULL in inn_model.c */
    }
    inn_backward(w, &iw);
    update_rows(w, m);
    inn_walk_close(&iw);
    return INVCSI_OK;
}

static int inn_decode(walk *w, const invcsi_model *m, invcsi_error *err)
{
    inn_walk iw;
    int rc = inn_walk_open(&iw, m, err);
    if (rc != INVCSI_OK)
        return rc;
    w->c->params_walked = inn_params(&iw);
    inn_inverse(w, &iw);
    inn_walk_close(&iw);
    return INVCSI_OK;
}

/* ------------------------------------------------------------------------------------- */
/* CsiNet (lib/csinet.c)                                                                 */
/* ------------------------------------------------------------------------------------- */

typedef struct cs_unit {
    char conv[40], bn[40];
    int cin, cout, has_bn;
} cs_unit;

/* Unit i (0 = encoder conv, 1..3R = RefineNet convs, 3R+1 = output conv), its sizes from
 * the parameter table. */
static int cs_unit_get(const invcsi_model *m, int i, cs_unit *u, long *params,
                       invcsi_error *err)
{
    const int R = m->cfg.refine_blocks;
    memset(u, 0, sizeof *u);
    if (i == 0) {
        snprintf(u->conv, sizeof u->conv, "enc.conv");
        snprintf(u->bn, sizeof u->bn, "enc.bn");
    } else if (i <= 3 * R) {
        snprintf(u->conv, sizeof u->conv, "dec.refine.%d.conv%d", (i - 1) / 3, (i - 1) % 3 + 1);
        snprintf(u->bn, sizeof u->bn, "dec.refine.%d.bn%d", (i - 1) / 3, (i - 1) % 3 + 1);
    } else {
        snprintf(u->conv, sizeof u->conv, "dec.out");
    }
    const invcsi_tensor *tw = tensor(m, u->conv, "weight", err);
    const invcsi_tensor *tb = tw ? tensor(m, u->conv, "bias", err) : NULL;
    if (!tw || !tb)
        return INVCSI_EINVAL;
    u->cout = tw->shape[0];
    u->cin = tw->shape[1];
    *params += (long)tw->count + (long)tb->count;
    if (u->bn[0]) {
        const invcsi_tensor *g = tensor(m, u->bn, "weight", err);
        const invcsi_tensor *b = g ? tensor(m, u->bn, "bias", err) : NULL;
        if (!g || !b)
            return INVCSI_EINVAL;
        u->has_bn = 1;
        *params += (long)g->count + (long)b->count;
    }
    return INVCSI_OK;
}

static int cs_dense(const invcsi_model *m, const char *name, int *in, int *out, long *params,
                    invcsi_error *err)
{
    const invcsi_tensor *tw = tensor(m, name, "weight", err);
    const invcsi_tensor *tb = tw ? tensor(m, name, "bias", err) : NULL;
    if (!tw || !tb)
        return INVCSI_EINVAL;
    *out = tw->shape[0];
    *in = tw->shape[1];
    *params += (long)tw->count + (long)tb->count;
    return INVCSI_OK;
}

static void bn_fwd(walk *w, const cs_unit *u, double n)
{
    /* batch statistics, normalise + affine, running statistics (2 C read and written) */
    add_row(w, INVCSI_COST_FORWARD, "bn", OPS_BN_FWD_TRAIN * n, F * 2.0 * u->cout,
            F * (3.0 * n + 4.0 * u->cout), 0.0, 0.0, "%s (train)", u->bn);
}

static void bn_bwd(walk *w, const cs_unit *u, double n)
{
    add_row(w, INVCSI_COST_BACKWARD, "bn_bwd", OPS_BN_BWD * n, F * u->cout, F * 6.0 * n,
            2.0 * F * 2.0 * u->cout, 0.0, "%s", u->bn);
}

static int csinet_train(walk *w, const invcsi_model *m, invcsi_error *err)
{
    const invcsi_model_config *cfg = &m->cfg;
    const int R = cfg->refine_blocks, H = cfg->nr * cfg->nt, W = cfg->nc, nu = 3 * R + 2;
    const double S = (double)H * W, B = w->B;
    long params = 0;
    cs_unit *u = calloc((size_t)nu, sizeof *u);
    if (!u)
        return invcsi_error_set(err, INVCSI_ENOMEM, "flops: out of memory");
    int rc = INVCSI_OK;
    for (int i = 0; i < nu && rc == INVCSI_OK; i++)
        rc = cs_unit_get(m, i, &u[i], &params, err);
    int e_in = 0, e_out = 0, d_in = 0, d_out = 0;
    if (rc == INVCSI_OK)
        rc = cs_dense(m, "enc.fc", &e_in, &e_out, &params, err);
    if (rc == INVCSI_OK)
        rc = cs_dense(m, "dec.fc", &d_in, &d_out, &params, err);
    if (rc != INVCSI_OK) {
        free(u);
        return rc;
    }
    w->c->params_walked = params;
    char name[INVCSI_COST_NAME_MAX];
    const int P = INVCSI_COST_FORWARD, Q = INVCSI_COST_BACKWARD;

    /* forward: encoder */
    snprintf(name, sizeof name, "%s", u[0].conv);
    conv_fwd(w, P, name, u[0].cin, u[0].cout, H, W);
    bn_fwd(w, &u[0], B * u[0].cout * S);
    ew(w, P, "lrelu", B * u[0].cout * S, OPS_LRELU_FWD, 1, 1, "enc lrelu");
    dense_fwd(w, P, "enc.fc", e_in, e_out);
    /* decoder */
    dense_fwd(w, P, "dec.fc", d_in, d_out);
    for (int r = 0; r < R; r++)
        for (int k = 0; k < 3; k++) {
            const cs_unit *v = &u[3 * r + 1 + k];
            const double n = B * v->cout * S;
            snprintf(name, sizeof name, "%s", v->conv);
            conv_fwd(w, P, name, v->cin, v->cout, H, W);
            bn_fwd(w, v, n);
            if (k == 2)
                ew(w, P, "add", n, 1, 2, 1, "dec.refine shortcut");
            snprintf(name, sizeof name, "%s lrelu", v->conv);
            ew(w, P, "lrelu", n, OPS_LRELU_FWD, 1, 1, name);
        }
    snprintf(name, sizeof name, "%s", u[nu - 1].conv);
    conv_fwd(w, P, name, u[nu - 1].cin, u[nu - 1].cout, H, W);
    ew(w, P, "mse", B * cfg->dim, OPS_SSE + 4.0, 2, 0, "mse + nmse");

    /* backward */
    ew(w, Q, "mse_bwd", B * cfg->dim, OPS_MSE_BWD, 3, 1, "mse backward");
    snprintf(name, sizeof name, "%s", u[nu - 1].conv);
    conv_bwd(w, Q, name, u[nu - 1].cin, u[nu - 1].cout, H, W, 1, 1);
    for (int r = R - 1; r >= 0; r--)
        for (int k = 2; k >= 0; k--) {
            const cs_unit *v = &u[3 * r + 1 + k];
            const double n = B * v->cout * S;
            snprintf(name, sizeof name, "%s lrelu", v->conv);
            ew(w, Q, "lrelu_bwd", n, OPS_LRELU_BWD, 3, 1, name);
            if (k == 2)
                ew(w, Q, "add", n, 1, 2, 1, "dec.refine shortcut");
            bn_bwd(w, v, n);
            snprintf(name, sizeof name, "%s", v->conv);
            conv_bwd(w, Q, name, v->cin, v->cout, H, W, 1, 1);
        }
    dense_bwd(w, Q, "dec.fc", d_in, d_out, 1, 1);
    dense_bwd(w, Q, "enc.fc", e_in, e_out, 1, 1);
    ew(w, Q, "lrelu_bwd", B * u[0].cout * S, OPS_LRELU_BWD, 3, 1, "enc lrelu");
    bn_bwd(w, &u[0], B * u[0].cout * S);
    snprintf(name, sizeof name, "%s", u[0].conv);
    conv_bwd(w, Q, name, u[0].cin, u[0].cout, H, W, 0, 1); /* no gradient for the data */
    update_rows(w, m);
    free(u);
    return INVCSI_OK;
}

static int csinet_decode(walk *w, const invcsi_model *m, invcsi_error *err)
{
    const invcsi_model_config *cfg = &m->cfg;
    const int R = cfg->refine_blocks, H = cfg->nr * cfg->nt, W = cfg->nc, nu = 3 * R + 2;
    const double S = (double)H * W, B = w->B;
    long params = 0, enc_params = 0;
    cs_unit *u = calloc((size_t)nu, sizeof *u);
    if (!u)
        return invcsi_error_set(err, INVCSI_ENOMEM, "flops: out of memory");
    int rc = cs_unit_get(m, 0, &u[0], &enc_params, err);
    for (int i = 1; i < nu && rc == INVCSI_OK; i++)
        rc = cs_unit_get(m, i, &u[i], &params, err);
    int d_in = 0, d_out = 0;
    if (rc == INVCSI_OK)
        rc = cs_dense(m, "dec.fc", &d_in, &d_out, &params, err);
    if (rc != INVCSI_OK) {
        free(u);
        return rc;
    }
    w->c->params_walked = params;
    const int P = INVCSI_COST_FORWARD;
    char name[INVCSI_COST_NAME_MAX];
    /* fold_units: every decoder BN folded into its conv on each call (copy + scale) */
    double fold_w = 0.0, fold_c = 0.0;
    for (int i = 1; i < nu; i++)
        if (u[i].has_bn) {
            fold_w += (double)u[i].cout * u[i].cin * K3 * K3 + u[i].cout;
            fold_c += u[i].cout;
        }
    add_row(w, P, "bn_fold", 2.0 * fold_w + 4.0 * fold_c, F * (fold_w + 4.0 * fold_c),
            F * fold_w, 0.0, 0.0, "%s", "dec bn fold into convs");
    dense_fwd(w, P, "dec.fc", d_in, d_out);
    for (int r = 0; r < R; r++)
        for (int k = 0; k < 3; k++) {
            const cs_unit *v = &u[3 * r + 1 + k];
            const double n = B * v->cout * S;
            snprintf(name, sizeof name, "%s (bn folded)", v->conv);
            conv_fwd(w, P, name, v->cin, v->cout, H, W);
            if (k == 2)
                ew(w, P, "add", n, 1, 2, 1, "dec.refine shortcut");
            snprintf(name, sizeof name, "%s lrelu", v->conv);
            ew(w, P, "lrelu", n, OPS_LRELU_FWD, 1, 1, name);
        }
    conv_fwd(w, P, u[nu - 1].conv, u[nu - 1].cin, u[nu - 1].cout, H, W);
    free(u);
    return INVCSI_OK;
}

/* ------------------------------------------------------------------------------------- */
/* InvCSINet (lib/invcsinet.c)                                                           */
/* ------------------------------------------------------------------------------------- */

typedef struct icsi_walk {
    int M, aux, dim, L, bits, no_ic, no_dbcd;
    invcsi_lan_shape lan;
    long latent_params, daq_params, lan_params, mu_params, lsig_params;
} icsi_walk;

static int icsi_open(const invcsi_model *m, const inn_walk *iw, icsi_walk *s, invcsi_error *err)
{
    const invcsi_model_config *cfg = &m->cfg;
    memset(s, 0, sizeof *s);
    s->M = iw->m;
    s->aux = iw->aux;
    s->dim = iw->dim;
    s->bits = cfg->bits;
    s->L = 1 << cfg->bits;
    s->no_ic = cfg->no_ic;
    s->no_dbcd = cfg->no_dbcd;
    const invcsi_tensor *t;
    if (!(t = tensor(m, "latent", "shift", err)))
        return INVCSI_EINVAL;
    s->latent_params += (long)t->count;
    if (!(t = tensor(m, "latent", "log_scale", err)))
        return INVCSI_EINVAL;
    s->latent_params += (long)t->count;
    if (!(t = tensor(m, "daq", "threshold_raw", err)))
        return INVCSI_EINVAL;
    s->daq_params += (long)t->count;
    if (!(t = tensor(m, "daq", "step_raw", err)))
        return INVCSI_EINVAL;
    s->daq_params += (long)t->count;
    if (!s->no_ic) {
        /* the LAN on the INN's latent grid: c1 from conv0's input channels */
        const invcsi_inn_coupling *c = invcsi_inn_block(iw->inn, 0);
        if (!(t = tensor(m, "ic.lan.conv0", "weight", err)))
            return INVCSI_EINVAL;
        s->lan = (invcsi_lan_shape){.c1 = t->shape[1], .gh = c->gh, .gw = c->gw,
                                    .width = t->shape[0], .slope = cfg->leaky_slope};
        for (int k = 0; k < INVCSI_LAN_CONVS; k++) {
            char prefix[32];
            snprintf(prefix, sizeof prefix, "ic.lan.conv%d", k);
            const invcsi_tensor *tw = tensor(m, prefix, "weight", err);
            const invcsi_tensor *tb = tw ? tensor(m, prefix, "bias", err) : NULL;
            if (!tw || !tb)
                return INVCSI_EINVAL;
            s->lan_params += (long)tw->count + (long)tb->count;
        }
        if (s->lan_params != invcsi_lan_param_count(&s->lan))
            return invcsi_error_set(err, INVCSI_EINVAL,
                                    "flops: ic.lan tensors hold %ld values, the LAN shape "
                                    "(c1 %d, %dx%d, width %d) %ld",
                                    s->lan_params, s->lan.c1, s->lan.gh, s->lan.gw, s->lan.width,
                                    invcsi_lan_param_count(&s->lan));
        if (!(t = tensor(m, "ic.z", "mu", err)))
            return INVCSI_EINVAL;
        s->mu_params = (long)t->count;
        if (!(t = tensor(m, "ic.z", "log_sigma", err)))
            return INVCSI_EINVAL;
        s->lsig_params = (long)t->count;
    }
    return INVCSI_OK;
}

static void lan_conv_rows(walk *w, const icsi_walk *s, int backward)
{
    char name[INVCSI_COST_NAME_MAX];
    const invcsi_lan_shape *l = &s->lan;
    const double nh = (double)w->B * l->width * l->gh * l->gw, n = (double)w->B * s->M;
    if (!backward) {
        for (int k = 0; k < INVCSI_LAN_CONVS; k++) {
            int cin, cout;
            invcsi_lan_conv_channels(l, k, &cin, &cout);
            snprintf(name, sizeof name, "ic.lan.conv%d", k);
            conv_fwd(w, INVCSI_COST_FORWARD, name, cin, cout, l->gh, l->gw);
            if (k < INVCSI_LAN_CONVS - 1) {
                strncat(name, " lrelu", sizeof name - strlen(name) - 1);
                ew(w, INVCSI_COST_FORWARD, "lrelu", nh, OPS_LRELU_FWD, 1, 1, name);
            }
        }
        ew(w, INVCSI_COST_FORWARD, "add", n, 1, 2, 1, "ic.lan residual y^ = y~ + LAN");
        return;
    }
    ew(w, INVCSI_COST_BACKWARD, "add", n, 1, 2, 1, "ic.lan residual grad");
    for (int k = INVCSI_LAN_CONVS - 1; k >= 0; k--) {
        int cin, cout;
        invcsi_lan_conv_channels(l, k, &cin, &cout);
        snprintf(name, sizeof name, "ic.lan.conv%d", k);
        conv_bwd(w, INVCSI_COST_BACKWARD, name, cin, cout, l->gh, l->gw, 1, 1);
        if (k > 0) {
            snprintf(name, sizeof name, "ic.lan.conv%d lrelu", k - 1);
            ew(w, INVCSI_COST_BACKWARD, "lrelu_bwd", nh, OPS_LRELU_BWD, 3, 1, name);
        }
    }
}

/* DAQ tables from the raw parameters (daq_derive: softplus chains), per call. */
static void daq_derive_row(walk *w, const icsi_walk *s, int phase)
{
    const double nk = (double)s->M * (s->L - 1);
    add_row(w, phase, "daq_derive", 8.0 * nk, F * 2.0 * nk, F * (2.0 * nk + (double)s->M * s->L),
            0.0, 0.0, "%s", "daq tables (thresholds, steps, levels)");
}

static int icsi_train(walk *w, const invcsi_model *m, invcsi_error *err)
{
    inn_walk iw;
    int rc = inn_walk_open(&iw, m, err);
    if (rc != INVCSI_OK)
        return rc;
    icsi_walk s;
    rc = icsi_open(m, &iw, &s, err);
    if (rc != INVCSI_OK) {
        inn_walk_close(&iw);
        return rc;
    }
    const invcsi_model_config *cfg = &m->cfg;
    const int P = INVCSI_COST_FORWARD, Q = INVCSI_COST_BACKWARD;
    const double B = w->B, nm = B * s.M, nz = B * s.aux, nx = B * s.dim, L = s.L;
    w->c->params_walked = inn_params(&iw) + s.latent_params + s.daq_params + s.lan_params +
                          s.mu_params + s.lsig_params;
    const int zb = cfg->z_bwd_sample || !cfg->no_ic; /* z_bwd given to the inverse */

    /* ---- forward ---- */
    inn_forward(w, &iw);
    add_row(w, P, "affine", 2.0 * nm + s.M, F * 2.0 * s.M, F * 2.0 * nm, 0.0, 0.0, "%s",
            "latent normalise yn = (y - shift) e^-ls");
    daq_derive_row(w, &s, P);
    add_row(w, P, "daq", nm * (s.bits + 7.0 * (L - 1)), 0.0,
            F * (4.0 * nm + 2.0 * s.M * (L - 1)), 0.0, 0.0, "%s",
            "daq forward (hard index + soft value)");
    if (s.no_dbcd) {
        add_row(w, P, "rng", (OPS_NORMAL + 1.0) * nm, 0.0, F * 3.0 * nm, 0.0, 0.0, "%s",
                "awgn on the levels (no_dbcd)");
    } else {
        add_row(w, P, "rng", OPS_GUMBEL * nm * L, 0.0, F * nm * L, 0.0, 0.0, "%s",
                "gumbel noise [B][M][L]");
        add_row(w, P, "dbcd", nm * (2.0 * L * L + 17.0 * L), 0.0,
                F * (nm * (2.0 + L + 3.0 * L) + L * L + (double)s.M * L), 0.0, 0.0, "%s",
                "d-bcd forward (soft index, P^T p, gumbel-softmax)");
    }
    if (!s.no_ic)
        lan_conv_rows(w, &s, 0);
    else
        copy_row(w, P, nm, "y^ = y~ (no_ic)");
    add_row(w, P, "rng", OPS_NORMAL * nz, 0.0, F * nz, 0.0, 0.0, "%s", "noise n ~ N(0, I)");
    if (!s.no_ic)
        add_row(w, P, "affine", 2.0 * nz + s.aux, F * 2.0 * s.aux, F * 2.0 * nz, 0.0, 0.0, "%s",
                "z prior z^ = mu + e^lsig n");
    else
        copy_row(w, P, nz, "z^ = n (no_ic)");
    copy_row(w, P, 2.0 * nx, "concat [yn, z], [y^, z^]");
    mmd_forward(w, s.dim);
    add_row(w, P, "affine", 2.0 * nm + s.M, F * 2.0 * s.M, F * 2.0 * nm, 0.0, 0.0, "%s",
            "latent denormalise y = shift + e^ls y^");
    if (!cfg->z_bwd_sample && !s.no_ic)
        add_row(w, P, "copy", 0.0, F * s.aux, F * nz, 0.0, 0.0, "%s", "z_bwd = mu");
    inn_inverse(w, &iw);
    ew(w, P, "mse", nx, OPS_SSE, 2, 0, "mse + nmse (sse)");

    /* ---- backward ---- */
    if (cfg->mse_weight != 0.0f) {
        ew(w, Q, "mse_bwd", nx, OPS_MSE_BWD, 3, 1, "mse backward");
        inn_inverse_backward(w, &iw, zb);
    }
    if (cfg->mmd_weight != 0.0f) {
        mmd_backward(w, s.dim, 3, 4); /* within-a, within-b, cross (da and db) */
        ew(w, Q, "add", 2.0 * nx, 1, 2, 1, "unconcat d[yn, z], d[y^, z^]");
    }
    add_row(w, Q, "affine_bwd", 5.0 * nm, 0.0, F * 4.0 * nm, 2.0 * F * 2.0 * s.M, 0.0, "%s",
            "latent denormalise grad");
    if (!s.no_ic) {
        add_row(w, Q, "add", 2.0 * nz, 0.0, F * 3.0 * nz, 2.0 * F * s.aux, 0.0, "%s",
                "z_bwd grad (into mu or z^)");
        add_row(w, Q, "affine_bwd", 4.0 * nz, 0.0, F * 2.0 * nz, 2.0 * F * 2.0 * s.aux, 0.0,
                "%s", "z prior grad (mu, log_sigma)");
        lan_conv_rows(w, &s, 1);
    } else {
        copy_row(w, Q, nm, "dy~ = dy^ (no_ic)");
    }
    if (s.no_dbcd) {
        copy_row(w, Q, nm, "dq = dy~ (no_dbcd)");
    } else {
        add_row(w, Q, "dbcd_bwd", nm * (2.0 * L * L + 12.0 * L), 0.0,
                F * (nm * (3.0 + 3.0 * L) + L * L + 2.0 * (double)s.M * L), 0.0, 0.0, "%s",
                "d-bcd backward");
        if (strcmp(cfg->dbcd_grad, "surrogate") != 0)
            copy_row(w, Q, nm, "dq = dy~ (straight)");
    }
    add_row(w, Q, "daq_bwd", nm * 11.0 * (L - 1) + 6.0 * s.M * (L - 1), F * 2.0 * s.M * (L - 1),
            F * (4.0 * nm + (double)s.M * L), 2.0 * F * 2.0 * s.M * (L - 1), 0.0, "%s",
            "daq backward (soft value, raw-parameter chain)");
    add_row(w, Q, "affine_bwd", 6.0 * nm, 0.0, F * 3.0 * nm, 2.0 * F * 2.0 * s.M, 0.0, "%s",
            "latent normalise grad");
    if (!cfg->freeze_inn)
        inn_backward(w, &iw);
    update_rows(w, m);
    inn_walk_close(&iw);
    return INVCSI_OK;
}

/* invcsi_invcsinet_decode_bits with z = mu. */
static int icsi_decode(walk *w, const invcsi_model *m, invcsi_error *err)
{
    inn_walk iw;
    int rc = inn_walk_open(&iw, m, err);
    if (rc != INVCSI_OK)
        return rc;
    icsi_walk s;
    rc = icsi_open(m, &iw, &s, err);
    if (rc != INVCSI_OK) {
        inn_walk_close(&iw);
        return rc;
    }
    const int P = INVCSI_COST_FORWARD;
    const double B = w->B, nm = B * s.M, nz = B * s.aux;
    /* z = mu needs mu only; log_sigma is not read */
    w->c->params_walked = inn_params(&iw) + s.latent_params + s.daq_params + s.lan_params +
                          s.mu_params;
    /* bits (one byte each) -> indices */
    add_row(w, P, "bits", nm * s.bits, 0.0, nm * s.bits + F * nm, 0.0, 0.0, "%s",
            "bits -> indices");
    daq_derive_row(w, &s, P);
    add_row(w, P, "gather", 0.0, 0.0, F * (3.0 * nm), 0.0, 0.0, "%s", "indices -> levels y~");
    copy_row(w, P, nm, "y~ copy in");
    if (!s.no_ic)
        lan_conv_rows(w, &s, 0);
    else
        copy_row(w, P, nm, "y^ = y~ (no_ic)");
    add_row(w, P, "affine", 2.0 * nm + s.M, F * 2.0 * s.M, F * 2.0 * nm, 0.0, 0.0, "%s",
            "latent denormalise y = shift + e^ls y^");
    if (!s.no_ic)
        add_row(w, P, "copy", 0.0, F * s.aux, F * nz, 0.0, 0.0, "%s", "z = mu");
    inn_inverse(w, &iw);
    inn_walk_close(&iw);
    return INVCSI_OK;
}

/* ------------------------------------------------------------------------------------- */
/* Entry points                                                                          */
/* ------------------------------------------------------------------------------------- */

static int run(const invcsi_model *m, int batch, int train, invcsi_cost *out, invcsi_error *err)
{
    memset(out, 0, sizeof *out);
    if (!m || !m->ops)
        return invcsi_error_set(err, INVCSI_EINVAL, "flops: no model");
    if (batch < (train ? 2 : 1))
        return invcsi_error_set(err, INVCSI_EINVAL, "flops: batch %d must be >= %d", batch,
                                train ? 2 : 1);
    out->batch = batch;
    walk w = {out, batch, 0};
    int rc;
    const char *kind = m->cfg.kind;
    if (!strcmp(kind, "inn"))
        rc = train ? inn_train(&w, m, err) : inn_decode(&w, m, err);
    else if (!strcmp(kind, "csinet"))
        rc = train ? csinet_train(&w, m, err) : csinet_decode(&w, m, err);
    else if (!strcmp(kind, "invcsinet"))
        rc = train ? icsi_train(&w, m, err) : icsi_decode(&w, m, err);
    else
        rc = invcsi_error_set(err, INVCSI_EINVAL, "flops: no cost model for kind \"%s\"", kind);
    if (rc == INVCSI_OK && w.oom)
        rc = invcsi_error_set(err, INVCSI_ENOMEM, "flops: out of memory for the layer table");
    if (rc != INVCSI_OK)
        invcsi_cost_free(out);
    return rc;
}

int invcsi_cost_train_step(const invcsi_model *m, int batch, invcsi_cost *out,
                           invcsi_error *err)
{
    return run(m, batch, 1, out, err);
}

int invcsi_cost_decode(const invcsi_model *m, int batch, invcsi_cost *out, invcsi_error *err)
{
    return run(m, batch, 0, out, err);
}

void invcsi_cost_free(invcsi_cost *c)
{
    if (!c)
        return;
    free(c->rows);
    memset(c, 0, sizeof *c);
}

double invcsi_roofline_row_time(const invcsi_cost_row *r, double peak_flops, double bandwidth,
                                int *compute_bound)
{
    const double tc = r->flops / peak_flops, tm = r->bytes / bandwidth;
    if (compute_bound)
        *compute_bound = tc > tm;
    return tc > tm ? tc : tm;
}

double invcsi_roofline_time(const invcsi_cost *c, int phase_mask, double peak_flops,
                            double bandwidth, double *compute_share)
{
    double t = 0.0, tc = 0.0;
    for (int i = 0; i < c->n_rows; i++) {
        const invcsi_cost_row *r = &c->rows[i];
        if (!(phase_mask & (1 << r->phase)))
            continue;
        int cb;
        const double ti = invcsi_roofline_row_time(r, peak_flops, bandwidth, &cb);
        t += ti;
        if (cb)
            tc += ti;
    }
    if (compute_share)
        *compute_share = t > 0.0 ? tc / t : 0.0;
    return t;
}
