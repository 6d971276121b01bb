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

#include "inn_math.h"

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
    for (long i = 0; i < n1; i++)
        a->y1[i] = a->x1[i] + a->phi.out[i];
    rc = invcsi_inn_subnet_forward(&c->rho, p, a->y1, &a->rho, batch, scratch, err);
    if (rc == INVCSI_OK)
        rc = invcsi_inn_subnet_forward(&c->eta, p, a->y1, &a->eta, batch, scratch, err);
    if (rc != INVCSI_OK)
        return rc;
    const float *r = a->rho.out, *e = a->eta.out;
    for (long i = 0; i < n2; i++)
        a->y2[i] = inn_affine_forward(a->x2[i], r[i], e[i], c->clamp);
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
    const float *r = a->rho.out, *e = a->eta.out;
    for (long i = 0; i < n2; i++)
        a->x2[i] = inn_affine_inverse(a->y2[i], r[i], e[i], c->clamp);
    rc = invcsi_inn_subnet_forward(&c->phi, p, a->x2, &a->phi, batch, scratch, err);
    if (rc != INVCSI_OK)
        return rc;
    for (long i = 0; i < n1; i++)
        a->x1[i] = a->y1[i] - a->phi.out[i];
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

    if (dy1)
        memcpy(t1, dy1, sizeof(float) * n1);
    else
        memset(t1, 0, sizeof(float) * n1);

    if (dy2) {
        /* y2 = x2 exp(s(r)) + e: into x2 directly, into rho's and eta's outputs */
        const float *r = a->rho.out;
        for (long i = 0; i < n2; i++) {
            float gx, gr;
            inn_affine_forward_grad(dy2[i], a->x2[i], r[i], c->clamp, &gx, &gr);
            if (dx2)
                dx2[i] += gx;
            dr[i] = gr;
        }
        rc = invcsi_inn_subnet_backward(&c->rho, p, dr, a->y1, &a->rho, t1, batch, sub_ws, err);
        if (rc == INVCSI_OK) /* d eta_out = dy2 */
            rc = invcsi_inn_subnet_backward(&c->eta, p, dy2, a->y1, &a->eta, t1, batch, sub_ws,
                                            err);
        if (rc != INVCSI_OK)
            return rc;
    }
    /* y1 = x1 + phi(x2) */
    if (dx1)
        for (long i = 0; i < n1; i++)
            dx1[i] += t1[i];
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

    if (dx2)
        memcpy(t2, dx2, sizeof(float) * n2);
    else
        memset(t2, 0, sizeof(float) * n2);

    if (dx1) {
        /* x1 = y1 - phi(x2) */
        if (dy1)
            for (long i = 0; i < n1; i++)
                dy1[i] += dx1[i];
        for (long i = 0; i < n1; i++)
            t1[i] = -dx1[i];
        rc = invcsi_inn_subnet_backward(&c->phi, p, t1, a->x2, &a->phi, t2, batch, sub_ws, err);
        if (rc != INVCSI_OK)
            return rc;
    }
    /* x2 = (y2 - e) exp(-s(r)) */
    const float *r = a->rho.out;
    for (long i = 0; i < n2; i++) {
        float gy, gr, ge;
        inn_affine_inverse_grad(t2[i], a->x2[i], r[i], c->clamp, &gy, &gr, &ge);
        if (dy2)
            dy2[i] += gy;
        dr[i] = gr;
        t2[i] = ge;
    }
    rc = invcsi_inn_subnet_backward(&c->eta, p, t2, a->y1, &a->eta, dy1, batch, sub_ws, err);
    if (rc != INVCSI_OK)
        return rc;
    return invcsi_inn_subnet_backward(&c->rho, p, dr, a->y1, &a->rho, dy1, batch, sub_ws, err);
}
