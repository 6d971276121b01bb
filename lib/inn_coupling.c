/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * One invertible block of the INN (DESIGN.md section 3), affine coupling with a
 * soft-clamped scale in the phi/rho/eta form of HiNet:
 *   forward:  y1 = x1 + phi(x2);   y2 = x2 * exp(s(rho(y1))) + eta(y1)
 *   inverse:  x2 = (y2 - eta(y1)) * exp(-s(rho(y1)));   x1 = y1 - phi(x2)
 * The per-element part lives in kernels/inn_math.h (shared with the CUDA kernels).
 *
 * Scratch layout (invcsi_inn_coupling_scratch_floats): subnet scratch, then
 *   t1 [batch][c1][G]   gradient at y1 (forward) / -dx1 (inverse)
 *   t2 [batch][c2][G]   gradient at x2 through phi, then d eta (inverse)
 *   dr [batch][c2][G]   gradient at rho's output
 */
#include "invcsi/inn.h"

#include <stdio.h>
#include <string.h>

#include "invcsi/backend.h"

/* Every element-wise step runs through the kernels of the parameter table's backend (the
 * affine_* kernels call kernels/inn_math.h), on its compute-side buffers. */
static const invcsi_kernels *kern(const invcsi_params *p)
{
    return (p->be ? p->be : invcsi_backend_cpu())->kern;
}

static long half_floats(const invcsi_inn_coupling *c, int batch, int ch)
{
    return (long)batch * ch * c->gh * c->gw;
}

int invcsi_inn_coupling_build(invcsi_inn_coupling *c, invcsi_params *p, const char *prefix,
                              int c1, int c2, int gh, int gw, int width, float clamp,
                              float slope, invcsi_error *err)
{
    if (!(clamp > 0.0f))
        return invcsi_error_set(err, INVCSI_EINVAL, "coupling %s: clamp %g must be > 0",
                                prefix, clamp);
    memset(c, 0, sizeof *c);
    c->c1 = c1;
    c->c2 = c2;
    c->gh = gh;
    c->gw = gw;
    c->clamp = clamp;
    char name[INVCSI_PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%s.phi", prefix);
    int rc = invcsi_inn_subnet_build(&c->phi, p, name, c2, c1, width, gh, gw, slope, err);
    if (rc != INVCSI_OK)
        return rc;
    snprintf(name, sizeof name, "%s.rho", prefix);
    rc = invcsi_inn_subnet_build(&c->rho, p, name, c1, c2, width, gh, gw, slope, err);
    if (rc != INVCSI_OK)
        return rc;
    snprintf(name, sizeof name, "%s.eta", prefix);
    return invcsi_inn_subnet_build(&c->eta, p, name, c1, c2, width, gh, gw, slope, err);
}

void invcsi_inn_coupling_init(const invcsi_inn_coupling *c, invcsi_params *p, uint64_t seed,
                              float last_gain)
{
    invcsi_inn_subnet_init(&c->phi, p, seed, last_gain);
    invcsi_inn_subnet_init(&c->rho, p, seed, last_gain);
    invcsi_inn_subnet_init(&c->eta, p, seed, last_gain);
}

long invcsi_inn_coupling_act_floats(const invcsi_inn_coupling *c, int batch)
{
    return 2 * half_floats(c, batch, c->c1) + 2 * half_floats(c, batch, c->c2) +
           invcsi_inn_subnet_act_floats(&c->phi, batch) +
           invcsi_inn_subnet_act_floats(&c->rho, batch) +
           invcsi_inn_subnet_act_floats(&c->eta, batch);
}

void invcsi_inn_coupling_acts_bind(invcsi_inn_coupling_acts *a, const invcsi_inn_coupling *c,
                                   int batch, float *buf)
{
    const long n1 = half_floats(c, batch, c->c1), n2 = half_floats(c, batch, c->c2);
    a->x1 = buf;
    a->x2 = a->x1 + n1;
    a->y1 = a->x2 + n2;
    a->y2 = a->y1 + n1;
    float *at = a->y2 + n2;
    invcsi_inn_subnet_acts_bind(&a->phi, &c->phi, batch, at);
    at += invcsi_inn_subnet_act_floats(&c->phi, batch);
    invcsi_inn_subnet_acts_bind(&a->rho, &c->rho, batch, at);
    at += invcsi_inn_subnet_act_floats(&c->rho, batch);
    invcsi_inn_subnet_acts_bind(&a->eta, &c->eta, batch, at);
}

static long subnet_scratch(const invcsi_inn_coupling *c, int batch)
{
    long a = invcsi_inn_subnet_scratch_floats(&c->phi, batch);
    long b = invcsi_inn_subnet_scratch_floats(&c->rho, batch);
    long e = invcsi_inn_subnet_scratch_floats(&c->eta, batch);
    long m = a > b ? a : b;
    return m > e ? m : e;
}

long invcsi_inn_coupling_scratch_floats(const invcsi_inn_coupling *c, int batch)
{
    return subnet_scratch(c, batch) + half_floats(c, batch, c->c1) +
           2 * half_floats(c, batch, c->c2);
}

int invcsi_inn_coupling_forward(const invcsi_inn_coupling *c, const invcsi_params *p,
                                invcsi_inn_coupling_acts *a, int batch, float *scratch,
                                invcsi_error *err)
{
    const long n1 = half_floats(c, batch, c->c1), n2 = half_floats(c, batch, c->c2);
    int rc = invcsi_inn_subnet_forward(&c->phi, p, a->x2, &a->phi, batch, scratch, err);
    if (rc != INVCSI_OK)
        return rc;
    kern(p)->add_scaled(a->y1, a->x1, a->phi.out, n1, 1.0f);
    rc = invcsi_inn_subnet_forward(&c->rho, p, a->y1, &a->rho, batch, scratch, err);
    if (rc == INVCSI_OK)
        rc = invcsi_inn_subnet_forward(&c->eta, p, a->y1, &a->eta, batch, scratch, err);
    if (rc != INVCSI_OK)
        return rc;
    kern(p)->affine_forward(a->x2, a->rho.out, a->eta.out, a->y2, n2, c->clamp);
    return INVCSI_OK;
}

int invcsi_inn_coupling_inverse(const invcsi_inn_coupling *c, const invcsi_params *p,
                                invcsi_inn_coupling_acts *a, int batch, float *scratch,
                                invcsi_error *err)
{
    const long n1 = half_floats(c, batch, c->c1), n2 = half_floats(c, batch, c->c2);
    int rc = invcsi_inn_subnet_forward(&c->rho, p, a->y1, &a->rho, batch, scratch, err);
    if (rc == INVCSI_OK)
        rc = invcsi_inn_subnet_forward(&c->eta, p, a->y1, &a->eta, batch, scratch, err);
    if (rc != INVCSI_OK)
        return rc;
    kern(p)->affine_inverse(a->y2, a->rho.out, a->eta.out, a->x2, n2, c->clamp);
    rc = invcsi_inn_subnet_forward(&c->phi, p, a->x2, &a->phi, batch, scratch, err);
    if (rc != INVCSI_OK)
        return rc;
    kern(p)->add_scaled(a->x1, a->y1, a->phi.out, n1, -1.0f);
    return INVCSI_OK;
}

int invcsi_inn_coupling_backward(const invcsi_inn_coupling *c, invcsi_params *p,
                                 const invcsi_inn_coupling_acts *a, int batch, const float *dy1,
                                 const float *dy2, float *dx1, float *dx2, float *scratch,
                                 invcsi_error *err)
{
    const long n1 = half_floats(c, batch, c->c1), n2 = half_floats(c, batch, c->c2);
    float *sub_ws = scratch;
    float *t1 = scratch + subnet_scratch(c, batch); /* total gradient at y1 */
    float *dr = t1 + n1 + n2;
    int rc = INVCSI_OK;

    const invcsi_kernels *k = kern(p);
    if (dy1)
        k->copy_rows(t1, dy1, 1, n1, 0, 0);
    else
        k->fill(t1, n1, 0.0f);

    if (dy2) {
        /* y2 = x2 exp(s(r)) + e: into x2 directly, into rho's and eta's outputs */
        k->affine_forward_grad(dy2, a->x2, a->rho.out, dx2, dr, n2, c->clamp);
        rc = invcsi_inn_subnet_backward(&c->rho, p, dr, a->y1, &a->rho, t1, batch, sub_ws, err);
        if (rc == INVCSI_OK) /* d eta_out = dy2 */
            rc = invcsi_inn_subnet_backward(&c->eta, p, dy2, a->y1, &a->eta, t1, batch, sub_ws,
                                            err);
        if (rc != INVCSI_OK)
            return rc;
    }
    /* y1 = x1 + phi(x2) */
    if (dx1)
        k->add_scaled(dx1, dx1, t1, n1, 1.0f);
    return invcsi_inn_subnet_backward(&c->phi, p, t1, a->x2, &a->phi, dx2, batch, sub_ws, err);
}

int invcsi_inn_coupling_inverse_backward(const invcsi_inn_coupling *c, invcsi_params *p,
                                         const invcsi_inn_coupling_acts *a, int batch,
                                         const float *dx1, const float *dx2, float *dy1,
                                         float *dy2, float *scratch, invcsi_error *err)
{
    const long n1 = half_floats(c, batch, c->c1), n2 = half_floats(c, batch, c->c2);
    float *sub_ws = scratch;
    float *t1 = scratch + subnet_scratch(c, batch);
    float *t2 = t1 + n1; /* total gradient at x2, then (in place) at eta's output */
    float *dr = t2 + n2;
    int rc;

    const invcsi_kernels *k = kern(p);
    if (dx2)
        k->copy_rows(t2, dx2, 1, n2, 0, 0);
    else
        k->fill(t2, n2, 0.0f);

    if (dx1) {
        /* x1 = y1 - phi(x2) */
        if (dy1)
            k->add_scaled(dy1, dy1, dx1, n1, 1.0f);
        k->scale(t1, dx1, n1, -1.0f);
        rc = invcsi_inn_subnet_backward(&c->phi, p, t1, a->x2, &a->phi, t2, batch, sub_ws, err);
        if (rc != INVCSI_OK)
            return rc;
    }
    /* x2 = (y2 - e) exp(-s(r)) */
    k->affine_inverse_grad(t2, a->x2, a->rho.out, dy2, dr, t2, n2, c->clamp);
    rc = invcsi_inn_subnet_backward(&c->eta, p, t2, a->y1, &a->eta, dy1, batch, sub_ws, err);
    if (rc != INVCSI_OK)
        return rc;
    return invcsi_inn_subnet_backward(&c->rho, p, dr, a->y1, &a->rho, dy1, batch, sub_ws, err);
}
