/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Image-method path finder of the street ray tracer (see include/invcsi/street.h).
 *
 * Reflector sequences are enumerated depth-first: the image of the tx in the first
 * reflector, the image of that image in the second, ... A sequence can only give a path
 * when each image is in front of the next reflector (the real ray reaches that reflector
 * from its front side, and the image lies on the backward extension of that ray), which
 * prunes most sequences before any geometry. For a surviving sequence the reflection
 * points are found backwards from the rx (the line rx -> last image crosses the last
 * reflector at the last point, and so on), then checked: on the face, both neighbours in
 * front, every segment clear of every building.
 */
#include "street_internal.h"

#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "invcsi/json.h"

#define DEG (180.0 / M_PI)
#define FRONT_TOL 1e-9   /* m: a point this close to a plane is not in front of it */
#define FACE_TOL 1e-9    /* m: a reflection point may lie this far outside its face */
#define BOX_SHRINK 1e-6  /* m: blockage boxes are this much smaller than the buildings, so a
                            segment that ends on a facade (its reflection point) or runs along
                            one is not blocked by it */

/* ------------------------------------------------------------------ Fresnel */

void invcsi_street_fresnel(double eps_re, double eps_im, double cos_t, int tm, double *re,
                           double *im)
{
    const double c = fmin(fmax(cos_t, 0.0), 1.0);
    const double complex eps = eps_re + I * eps_im;
    /* principal root: Re >= 0, the transmitted wave decays into the material */
    const double complex root = csqrt(eps - (1.0 - c * c));
    const double complex r = tm ? (eps * c - root) / (eps * c + root) : (c - root) / (c + root);
    *re = creal(r);
    *im = cimag(r);
}

/* ------------------------------------------------------------------ set-up */

void street_tracer_init(street_tracer *t, const invcsi_street_scene *s,
                        const invcsi_street_params *p)
{
    memset(t, 0, sizeof *t);
    t->lambda = STREET_C0 / (p->fc_ghz * 1e9);
    t->max_order = p->max_order;
    t->min_rel = pow(10.0, -p->min_rel_db / 10.0);
    int n = 0;
    if (p->ground) {
        street_reflector *g = &t->refl[n++];
        g->id = INVCSI_STREET_GROUND;
        g->axis = 2;
        g->c = 0.0;
        g->side = 1.0;
        g->tm = 1;
        invcsi_street_permittivity(&s->materials[s->ground_material], p->fc_ghz, &g->eps_re,
                                   &g->eps_im);
    }
    for (int b = 0; b < s->n_buildings; b++) {
        const invcsi_street_building *bd = &s->buildings[b];
        double er, ei;
        invcsi_street_permittivity(&s->materials[bd->material], p->fc_ghz, &er, &ei);
        for (int f = 0; f < 4; f++) {
            street_reflector *w = &t->refl[n++];
            w->id = 4 * b + f;
            w->axis = f < 2 ? 0 : 1;
            w->u_axis = f < 2 ? 1 : 0;
            w->c = f == 0 ? bd->x0 : f == 1 ? bd->x1 : f == 2 ? bd->y0 : bd->y1;
            w->side = (f & 1) ? 1.0 : -1.0;
            w->u0 = f < 2 ? bd->y0 : bd->x0;
            w->u1 = f < 2 ? bd->y1 : bd->x1;
            w->top = bd->height;
            w->tm = 0;
            w->eps_re = er;
            w->eps_im = ei;
        }
        double *box = t->box[b];
        box[0] = bd->x0 + BOX_SHRINK;
        box[1] = bd->y0 + BOX_SHRINK;
        box[2] = BOX_SHRINK;
        box[3] = bd->x1 - BOX_SHRINK;
        box[4] = bd->y1 - BOX_SHRINK;
        box[5] = bd->height - BOX_SHRINK;
    }
    t->n_refl = n;
    t->n_boxes = s->n_buildings;
}

/* ------------------------------------------------------------------ geometry */

static inline int in_front(const street_reflector *f, const double p[3])
{
    return f->side * (p[f->axis] - f->c) > FRONT_TOL;
}

static inline void mirror(const street_reflector *f, const double p[3], double q[3])
{
    q[0] = p[0];
    q[1] = p[1];
    q[2] = p[2];
    q[f->axis] = 2.0 * f->c - p[f->axis];
}

/* 1 when the segment a -> b runs through the inside of a building (slab test against the
 * shrunk boxes; the part inside must have positive length). */
static int segment_blocked(const street_tracer *t, const double a[3], const double b[3])
{
    const double d[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]};
    for (int i = 0; i < t->n_boxes; i++) {
        const double *box = t->box[i];
        double t0 = 0.0, t1 = 1.0;
        int miss = 0;
        for (int k = 0; k < 3 && !miss; k++) {
            if (d[k] == 0.0) {
                miss = a[k] <= box[k] || a[k] >= box[k + 3];
                continue;
            }
            double ta = (box[k] - a[k]) / d[k], tb = (box[k + 3] - a[k]) / d[k];
            if (ta > tb) {
                double tmp = ta;
                ta = tb;
                tb = tmp;
            }
            if (ta > t0)
                t0 = ta;
            if (tb < t1)
                t1 = tb;
            miss = t0 >= t1;
        }
        if (!miss)
            return 1;
    }
    return 0;
}

static void direction_angles(const double d[3], double *az_deg, double *zen_deg)
{
    const double r = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    *az_deg = atan2(d[1], d[0]) * DEG;
    *zen_deg = acos(fmin(fmax(d[2] / r, -1.0), 1.0)) * DEG;
}

/* ------------------------------------------------------------------ search */

typedef struct search {
    const street_tracer *t;
    const double *tx, *rx;
    invcsi_street_path *paths;
    long max;
    int n;
    int overflow;
    int seq[INVCSI_STREET_MAX_ORDER];
    double img[INVCSI_STREET_MAX_ORDER + 1][3];   /* img[0] = tx */
} search;

/* Checks the path of reflector sequence seq[0..k) and appends it when valid. */
static void try_path(search *st, int k)
{
    const street_tracer *t = st->t;
    double pts[INVCSI_STREET_MAX_ORDER + 2][3];
    memcpy(pts[0], st->tx, sizeof pts[0]);
    memcpy(pts[k + 1], st->rx, sizeof pts[0]);
    /* reflection points, backwards from the rx */
    for (int j = k; j >= 1; j--) {
        const street_reflector *f = &t->refl[st->seq[j - 1]];
        const double *from = pts[j + 1], *img = st->img[j];
        const double den = img[f->axis] - from[f->axis];
        if (den == 0.0)
            return;
        const double u = (f->c - from[f->axis]) / den;
        if (!(u > 0.0 && u < 1.0))
            return;
        for (int a = 0; a < 3; a++)
            pts[j][a] = from[a] + u * (img[a] - from[a]);
        pts[j][f->axis] = f->c;
        if (f->axis != 2) {
            const double v = pts[j][f->u_axis], z = pts[j][2];
            if (v < f->u0 - FACE_TOL || v > f->u1 + FACE_TOL || z < -FACE_TOL ||
                z > f->top + FACE_TOL)
                return;
        }
    }
    for (int j = 1; j <= k; j++) {
        const street_reflector *f = &t->refl[st->seq[j - 1]];
        if (!in_front(f, pts[j - 1]) || !in_front(f, pts[j + 1]))
            return;
    }
    for (int j = 0; j <= k; j++)
        if (segment_blocked(t, pts[j], pts[j + 1]))
            return;
    if (st->n >= st->max) {
        st->overflow = 1;
        return;
    }
    invcsi_street_path *p = &st->paths[st->n++];
    memset(p, 0, sizeof *p);
    p->order = k;
    double len = 0.0;
    double complex g = 1.0;
    for (int j = 0; j <= k; j++) {
        const double d[3] = {pts[j + 1][0] - pts[j][0], pts[j + 1][1] - pts[j][1],
                             pts[j + 1][2] - pts[j][2]};
        const double seg = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
        len += seg;
        if (j < k) {   /* the segment arriving at reflection point j+1 */
            const street_reflector *f = &t->refl[st->seq[j]];
            double re, im;
            invcsi_street_fresnel(f->eps_re, f->eps_im, fabs(d[f->axis]) / seg, f->tm, &re, &im);
            g *= re + I * im;
            p->via[j] = f->id;
            memcpy(p->point[j], pts[j + 1], sizeof p->point[j]);
        }
    }
    g *= t->lambda / (4.0 * M_PI * len);
    p->length_m = len;
    p->delay_ns = len / STREET_C0 * 1e9;
    p->gain_re = creal(g);
    p->gain_im = cimag(g);
    p->power_db = 10.0 * log10(p->gain_re * p->gain_re + p->gain_im * p->gain_im);
    const double dep[3] = {pts[1][0] - pts[0][0], pts[1][1] - pts[0][1], pts[1][2] - pts[0][2]};
    const double arr[3] = {pts[k][0] - pts[k + 1][0], pts[k][1] - pts[k + 1][1],
                           pts[k][2] - pts[k + 1][2]};
    direction_angles(dep, &p->aod_deg, &p->zod_deg);
    direction_angles(arr, &p->aoa_deg, &p->zoa_deg);
}

static void search_from(search *st, int depth)
{
    const street_tracer *t = st->t;
    if (depth >= INVCSI_STREET_MAX_ORDER)   /* max_order is checked; this tells the compiler */
        return;
    for (int r = 0; r < t->n_refl && !st->overflow; r++) {
        if (depth > 0 && st->seq[depth - 1] == r)
            continue;
        const street_reflector *f = &t->refl[r];
        if (!in_front(f, st->img[depth]))
            continue;
        st->seq[depth] = r;
        mirror(f, st->img[depth], st->img[depth + 1]);
        if (in_front(f, st->rx))
            try_path(st, depth + 1);
        if (depth + 1 < t->max_order)
            search_from(st, depth + 1);
    }
}

/* Path order for the output: by length, ties by order and reflector ids. */
static int path_before(const invcsi_street_path *a, const invcsi_street_path *b)
{
    if (a->length_m != b->length_m)
        return a->length_m < b->length_m;
    if (a->order != b->order)
        return a->order < b->order;
    for (int j = 0; j < a->order; j++)
        if (a->via[j] != b->via[j])
            return a->via[j] < b->via[j];
    return 0;
}

int street_trace_pair(const street_tracer *t, const double tx[3], const double rx[3],
                      invcsi_street_path *paths, long max)
{
    search st;
    memset(&st, 0, sizeof st);
    st.t = t;
    st.tx = tx;
    st.rx = rx;
    st.paths = paths;
    st.max = max;
    memcpy(st.img[0], tx, sizeof st.img[0]);
    try_path(&st, 0);   /* LOS */
    if (t->max_order > 0)
        search_from(&st, 0);
    if (st.overflow)
        return -1;
    /* threshold relative to the strongest path */
    double best = 0.0;
    for (int i = 0; i < st.n; i++)
        best = fmax(best, paths[i].gain_re * paths[i].gain_re + paths[i].gain_im * paths[i].gain_im);
    int n = 0;
    for (int i = 0; i < st.n; i++) {
        const double pw = paths[i].gain_re * paths[i].gain_re + paths[i].gain_im * paths[i].gain_im;
        if (pw >= best * t->min_rel)
            paths[n++] = paths[i];
    }
    /* insertion sort: a handful of paths */
    for (int i = 1; i < n; i++) {
        invcsi_street_path key = paths[i];
        int j = i - 1;
        while (j >= 0 && path_before(&key, &paths[j])) {
            paths[j + 1] = paths[j];
            j--;
        }
        paths[j + 1] = key;
    }
    return n;
}

/* ------------------------------------------------------------------ public */

long invcsi_street_max_paths(const invcsi_street_scene *s, const invcsi_street_params *p)
{
    if (!s || !p)
        return 0;
    const long r = 4L * s->n_buildings + (p->ground ? 1 : 0);
    long total = 1, level = 1;
    for (int k = 1; k <= p->max_order; k++) {
        level *= (k == 1 ? r : r - 1);
        total += level;
    }
    return total;
}

int invcsi_street_trace(const invcsi_street_scene *s, const invcsi_street_params *p,
                        const double tx[3], const double rx[3], invcsi_street_path *paths,
                        long max_paths, int *n_paths, invcsi_error *err)
{
    int rc = street_check_all(s, p, err);
    if (rc)
        return rc;
    if (!tx || !rx || !paths || !n_paths)
        return invcsi_error_set(err, INVCSI_EINVAL, "street: trace needs tx, rx and outputs");
    for (int a = 0; a < 3; a++)
        if (!isfinite(tx[a]) || !isfinite(rx[a]))
            return invcsi_error_set(err, INVCSI_EINVAL, "street: tx/rx coordinates must be finite");
    street_tracer *t = malloc(sizeof *t);
    if (!t)
        return invcsi_error_set(err, INVCSI_ENOMEM, "street: out of memory for the tracer");
    street_tracer_init(t, s, p);
    int n = street_trace_pair(t, tx, rx, paths, max_paths);
    free(t);
    if (n < 0)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "street: more than %ld paths; give a buffer of "
                                "invcsi_street_max_paths() = %ld",
                                max_paths, invcsi_street_max_paths(s, p));
    *n_paths = n;
    return INVCSI_OK;
}

static void jw_point(invcsi_json_writer *w, const double p[3])
{
    invcsi_jw_array_begin(w);
    for (int a = 0; a < 3; a++)
        invcsi_jw_number(w, p[a]);
    invcsi_jw_array_end(w);
}

int invcsi_street_paths_to_json(const invcsi_street_path *paths, int n, const double tx[3],
                                const double rx[3], char **text, invcsi_error *err)
{
    invcsi_json_writer w;
    invcsi_jw_init(&w);
    invcsi_jw_object_begin(&w);
    invcsi_jw_key(&w, "tx");
    jw_point(&w, tx);
    invcsi_jw_key(&w, "rx");
    jw_point(&w, rx);
    invcsi_jw_key(&w, "paths");
    invcsi_jw_array_begin(&w);
    for (int i = 0; i < n; i++) {
        const invcsi_street_path *p = &paths[i];
        invcsi_jw_object_begin(&w);
        invcsi_jw_key(&w, "order");
        invcsi_jw_integer(&w, p->order);
        invcsi_jw_key(&w, "via");
        invcsi_jw_array_begin(&w);
        for (int j = 0; j < p->order; j++) {
            if (p->via[j] == INVCSI_STREET_GROUND)
                invcsi_jw_string(&w, "ground");
            else {
                char name[48];
                snprintf(name, sizeof name, "building %d face %s", p->via[j] / 4,
                         (const char *[]){"x0", "x1", "y0", "y1"}[p->via[j] % 4]);
                invcsi_jw_string(&w, name);
            }
        }
        invcsi_jw_array_end(&w);
        invcsi_jw_key(&w, "points");
        invcsi_jw_array_begin(&w);
        for (int j = 0; j < p->order; j++)
            jw_point(&w, p->point[j]);
        invcsi_jw_array_end(&w);
        invcsi_jw_key(&w, "length_m");
        invcsi_jw_number(&w, p->length_m);
        invcsi_jw_key(&w, "delay_ns");
        invcsi_jw_number(&w, p->delay_ns);
        invcsi_jw_key(&w, "power_db");
        invcsi_jw_number(&w, p->power_db);
        invcsi_jw_key(&w, "gain_phase_deg");
        invcsi_jw_number(&w, atan2(p->gain_im, p->gain_re) * DEG);
        invcsi_jw_key(&w, "aod_deg");
        invcsi_jw_number(&w, p->aod_deg);
        invcsi_jw_key(&w, "zod_deg");
        invcsi_jw_number(&w, p->zod_deg);
        invcsi_jw_key(&w, "aoa_deg");
        invcsi_jw_number(&w, p->aoa_deg);
        invcsi_jw_key(&w, "zoa_deg");
        invcsi_jw_number(&w, p->zoa_deg);
        invcsi_jw_object_end(&w);
    }
    invcsi_jw_array_end(&w);
    invcsi_jw_object_end(&w);
    const char *t;
    size_t len;
    int rc = invcsi_jw_finish(&w, &t, &len, err);
    if (rc == INVCSI_OK) {
        *text = malloc(len + 1);
        if (*text)
            memcpy(*text, t, len + 1);
        else
            rc = invcsi_error_set(err, INVCSI_ENOMEM, "street: out of memory for the path JSON");
    }
    invcsi_jw_free(&w);
    return rc;
}
