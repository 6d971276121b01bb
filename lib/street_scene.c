/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Street scenes: the built-in default, checks, the JSON file format (parse and print), the
 * user grid, materials, and the tracer parameters.
 */
#include "street_internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "invcsi/json.h"

#define EPS0 8.8541878128e-12   /* vacuum permittivity, F/m */

/* ------------------------------------------------------------------ default scene */

/*
 * The default scene: a DeepMIMO-O1-like intersection at 28 GHz. Origin at the centre of
 * the intersection, x east along the main street, y north along the side street.
 *
 * - Main street: 600 m long (x in [-300, 300], O1's main street is 600 m), 40 m from
 *   facade to facade (y in [-20, 20], O1's is 40 m wide).
 * - Side street: 25 m wide (x in [-12.5, 12.5]), 400 m long (y in [-200, 200]), crossing
 *   the main street in the middle.
 * - Buildings on the four corners: per corner a corner block, a row along the main street
 *   split by an 8 m alley, and a row along the side street (behind an 8 m alley from the
 *   corner block). Heights 12-45 m and depths 25-50 m are varied so that no two facades or
 *   roof lines coincide (a symmetric scene would give coincident paths). Facades are
 *   concrete, three of the sixteen buildings are glass towers. Every facing facade lies
 *   exactly on a street edge (y = +-20 or x = +-12.5).
 * - Materials: ITU-R P.2040 Table 3 (valid 1-100 GHz for concrete, 0.1-100 GHz for glass).
 *   At 28 GHz: concrete eps = 5.24 - 0.40j, glass eps = 6.31 - 0.20j.
 * - Ground: concrete (a paved street). P.2040's ground models (very dry, medium dry, wet
 *   ground) are given for 1-10 GHz only; medium dry ground extrapolated to 28 GHz would be
 *   eps = 11.3 - 5.3j, outside its range.
 * - BS: on the south sidewalk of the main street, x = -30 (17.5 m west of the side street's
 *   west edge, so it sees part of the side street), y = -17 (3 m from the facades at
 *   y = -20), z = 6 m (a lamp-post mount, as O1's BSs); ULA axis along the main street
 *   (azimuth 180 deg: boresight 90 deg, across the street, north); downtilt 0 and
 *   isotropic elements (as DeepMIMO and the CDL generator; downtilt acts through the
 *   tr38901 pattern only).
 * - Users: 1.5 m high (a handset), on a 1.5 m grid over both streets: the main street
 *   region (the intersection included) and the two side-street arms beyond its edges:
 *   400 x 26 + 2 x 16 x 120 = 14240 users (the InvCSINet paper used 18,100 O1 users).
 *   UE ULA axis along the street the user is in (0 deg in the main street, 90 deg in the
 *   side street).
 */
static const invcsi_street_building DEFAULT_BUILDINGS[] = {
    /* x0, y0, x1, y1, height, material (0 concrete, 1 glass) */
    /* north-east corner (x > 12.5, y > 20) */
    {12.5, 20, 62.5, 70, 45, 1},     /* corner glass tower 50 x 50 m */
    {70.5, 20, 170.5, 55, 20, 0},    /* main-street row behind an 8 m alley */
    {178.5, 20, 300, 50, 15, 0},     /* main-street row to the end of the street */
    {12.5, 78, 52.5, 200, 25, 0},    /* side-street row to the end of the side street */
    /* north-west corner (x < -12.5, y > 20) */
    {-62.5, 20, -12.5, 60, 30, 0},
    {-160, 20, -70.5, 50, 18, 0},
    {-300, 20, -168, 55, 24, 1},
    {-47.5, 68, -12.5, 200, 15, 0},
    /* south-east corner (x > 12.5, y < -20) */
    {12.5, -65, 57.5, -20, 35, 0},
    {65.5, -50, 185.5, -20, 22, 0},
    {193.5, -55, 300, -20, 12, 0},
    {12.5, -200, 47.5, -73, 20, 1},
    /* south-west corner (x < -12.5, y < -20): the BS stands in front of the first one */
    {-57.5, -60, -12.5, -20, 28, 0},
    {-150.5, -50, -65.5, -20, 16, 0},
    {-300, -45, -158.5, -20, 20, 0},
    {-42.5, -200, -12.5, -68, 22, 0},
};

void invcsi_street_scene_default(invcsi_street_scene *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "street-default");
    s->n_materials = 2;
    s->materials[0] = (invcsi_street_material){"concrete", 5.24, 0.0, 0.0462, 0.7822};
    s->materials[1] = (invcsi_street_material){"glass", 6.31, 0.0, 0.0036, 1.3394};
    s->ground_material = 0;
    s->n_buildings = (int)(sizeof DEFAULT_BUILDINGS / sizeof DEFAULT_BUILDINGS[0]);
    memcpy(s->buildings, DEFAULT_BUILDINGS, sizeof DEFAULT_BUILDINGS);
    s->bs = (invcsi_street_bs){.x = -30.0,
                               .y = -17.0,
                               .z = 6.0,
                               .array_axis_deg = 180.0,
                               .downtilt_deg = 0.0,
                               .pattern = INVCSI_STREET_PATTERN_ISOTROPIC};
    s->user_z = 1.5;
    s->user_spacing = 1.5;
    s->n_regions = 3;
    s->regions[0] = (invcsi_street_region){-300, -20, 300, 20, 0};     /* main street */
    s->regions[1] = (invcsi_street_region){-12.5, 20, 12.5, 200, 90};  /* side street, north */
    s->regions[2] = (invcsi_street_region){-12.5, -200, 12.5, -20, 90};/* side street, south */
}

/* ------------------------------------------------------------------ materials */

void invcsi_street_permittivity(const invcsi_street_material *m, double fc_ghz, double *eps_re,
                                double *eps_im)
{
    const double eta = m->eta_a * pow(fc_ghz, m->eta_b);
    const double sigma = m->sigma_c * pow(fc_ghz, m->sigma_d);
    *eps_re = eta;
    *eps_im = -sigma / (2.0 * M_PI * fc_ghz * 1e9 * EPS0);
}

/* ------------------------------------------------------------------ checks */

static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= INVCSI_STREET_NAME_LEN)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return 0;
    return 1;
}

#define COORD_MAX 1e5   /* |coordinate| limit, m: a city, not a continent */

static int coord_ok(double v) { return isfinite(v) && fabs(v) <= COORD_MAX; }

/* 1 when point p lies inside or on building b below its roof. */
static int inside_building(const invcsi_street_building *b, double x, double y, double z)
{
    return x >= b->x0 && x <= b->x1 && y >= b->y0 && y <= b->y1 && z <= b->height;
}

/* Grid columns of one axis of a region: max(1, floor(w / spacing)). */
static long grid_count(double w, double spacing)
{
    double n = floor(w / spacing * (1.0 + 1e-12));
    return n < 1.0 ? 1 : (long)n;
}

int invcsi_street_scene_check(const invcsi_street_scene *s, invcsi_error *err)
{
    if (!s)
        return invcsi_error_set(err, INVCSI_EINVAL, "street: no scene given");
    if (!name_ok(s->name))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "street scene: name '%s' must be 1-%d letters, digits, '-', '_' "
                                "or '.'",
                                s->name, INVCSI_STREET_NAME_LEN - 1);
    if (s->n_materials < 1 || s->n_materials > INVCSI_STREET_MAX_MATERIALS)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "street scene: needs 1 to %d materials (has %d)",
                                INVCSI_STREET_MAX_MATERIALS, s->n_materials);
    for (int i = 0; i < s->n_materials; i++) {
        const invcsi_street_material *m = &s->materials[i];
        if (!name_ok(m->name))
            return invcsi_error_set(err, INVCSI_EINVAL,
                                    "street scene: materials[%d]: name '%s' must be 1-%d letters, "
                                    "digits, '-', '_' or '.'",
                                    i, m->name, INVCSI_STREET_NAME_LEN - 1);
        for (int j = 0; j < i; j++)
            if (!strcmp(s->materials[j].name, m->name))
                return invcsi_error_set(err, INVCSI_EINVAL,
                                        "street scene: material '%s' is defined twice", m->name);
        if (!(isfinite(m->eta_a) && m->eta_a > 0 && isfinite(m->eta_b) && fabs(m->eta_b) <= 10 &&
              isfinite(m->sigma_c) && m->sigma_c >= 0 && isfinite(m->sigma_d) &&
              fabs(m->sigma_d) <= 10))
            return invcsi_error_set(err, INVCSI_EINVAL,
                                    "street scene: material '%s': need eta_a > 0, sigma_c >= 0 and "
                                    "|eta_b|, |sigma_d| <= 10 (got %g, %g, %g, %g)",
                                    m->name, m->eta_a, m->eta_b, m->sigma_c, m->sigma_d);
    }
    if (s->ground_material < 0 || s->ground_material >= s->n_materials)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "street scene: ground material index %d is not one of the %d "
                                "materials",
                                s->ground_material, s->n_materials);
    if (s->n_buildings < 0 || s->n_buildings > INVCSI_STREET_MAX_BUILDINGS)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "street scene: at most %d buildings (has %d)",
                                INVCSI_STREET_MAX_BUILDINGS, s->n_buildings);
    for (int i = 0; i < s->n_buildings; i++) {
        const invcsi_street_building *b = &s->buildings[i];
        if (!(coord_ok(b->x0) && coord_ok(b->x1) && coord_ok(b->y0) && coord_ok(b->y1)))
            return invcsi_error_set(err, INVCSI_EINVAL,
                                    "street scene: buildings[%d]: coordinates must be finite and "
                                    "within +-%g m",
                                    i, COORD_MAX);
        if (!(b->x1 > b->x0 && b->y1 > b->y0))
            return invcsi_error_set(err, INVCSI_EINVAL,
                                    "street scene: buildings[%d]: size must be positive (x0 %g < "
                                    "x1 %g and y0 %g < y1 %g)",
                                    i, b->x0, b->x1, b->y0, b->y1);
        if (!(isfinite(b->height) && b->height > 0 && b->height <= 1e4))
            return invcsi_error_set(err, INVCSI_EINVAL,
                                    "street scene: buildings[%d]: height must be in (0, 10000] m "
                                    "(got %g)",
                                    i, b->height);
        if (b->material < 0 || b->material >= s->n_materials)
            return invcsi_error_set(err, INVCSI_EINVAL,
                                    "street scene: buildings[%d]: material index %d is not one of "
                                    "the %d materials",
                                    i, b->material, s->n_materials);
    }
    const invcsi_street_bs *bs = &s->bs;
    if (!(coord_ok(bs->x) && coord_ok(bs->y) && isfinite(bs->z) && bs->z > 0 && bs->z <= 1e4))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "street scene: bs position (%g, %g, %g) must be finite, within "
                                "+-%g m, with 0 < z <= 10000",
                                bs->x, bs->y, bs->z, COORD_MAX);
    if (!(isfinite(bs->array_axis_deg) && fabs(bs->array_axis_deg) <= 360))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "street scene: bs array_axis_deg must be in [-360, 360] (got %g)",
                                bs->array_axis_deg);
    if (!(isfinite(bs->downtilt_deg) && fabs(bs->downtilt_deg) <= 90))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "street scene: bs downtilt_deg must be in [-90, 90] (got %g)",
                                bs->downtilt_deg);
    if (bs->pattern != INVCSI_STREET_PATTERN_ISOTROPIC &&
        bs->pattern != INVCSI_STREET_PATTERN_TR38901)
        return invcsi_error_set(err, INVCSI_EINVAL, "street scene: unknown bs pattern %d",
                                (int)bs->pattern);
    for (int i = 0; i < s->n_buildings; i++)
        if (inside_building(&s->buildings[i], bs->x, bs->y, bs->z))
            return invcsi_error_set(err, INVCSI_EINVAL,
                                    "street scene: the bs at (%g, %g, %g) is inside (or on) "
                                    "buildings[%d] (x %g..%g, y %g..%g, height %g)",
                                    bs->x, bs->y, bs->z, i, s->buildings[i].x0,
                                    s->buildings[i].x1, s->buildings[i].y0, s->buildings[i].y1,
                                    s->buildings[i].height);
    if (!(isfinite(s->user_z) && s->user_z > 0 && s->user_z <= 1e4))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "street scene: users.z must be in (0, 10000] m (got %g)",
                                s->user_z);
    if (!(isfinite(s->user_spacing) && s->user_spacing >= 0.01 && s->user_spacing <= 1e4))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "street scene: users.spacing must be in [0.01, 10000] m (got %g)",
                                s->user_spacing);
    if (s->n_regions < 1 || s->n_regions > INVCSI_STREET_MAX_REGIONS)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "street scene: needs 1 to %d user regions (has %d)",
                                INVCSI_STREET_MAX_REGIONS, s->n_regions);
    double total = 0;
    for (int i = 0; i < s->n_regions; i++) {
        const invcsi_street_region *r = &s->regions[i];
        if (!(coord_ok(r->x0) && coord_ok(r->x1) && coord_ok(r->y0) && coord_ok(r->y1)))
            return invcsi_error_set(err, INVCSI_EINVAL,
                                    "street scene: users.regions[%d]: coordinates must be finite "
                                    "and within +-%g m",
                                    i, COORD_MAX);
        if (!(r->x1 >= r->x0 && r->y1 >= r->y0))
            return invcsi_error_set(err, INVCSI_EINVAL,
                                    "street scene: users.regions[%d]: size must not be negative "
                                    "(x0 %g <= x1 %g and y0 %g <= y1 %g)",
                                    i, r->x0, r->x1, r->y0, r->y1);
        if (!(isfinite(r->array_axis_deg) && fabs(r->array_axis_deg) <= 360))
            return invcsi_error_set(err, INVCSI_EINVAL,
                                    "street scene: users.regions[%d]: array_axis_deg must be in "
                                    "[-360, 360] (got %g)",
                                    i, r->array_axis_deg);
        total += (double)grid_count(r->x1 - r->x0, s->user_spacing) *
                 (double)grid_count(r->y1 - r->y0, s->user_spacing);
    }
    if (total > (double)INVCSI_STREET_MAX_USERS)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "street scene: the user grid has %.0f points, more than the limit "
                                "of %ld (use a larger spacing)",
                                total, INVCSI_STREET_MAX_USERS);
    return INVCSI_OK;
}

/* ------------------------------------------------------------------ user grid */

int invcsi_street_users(const invcsi_street_scene *s, double **pos, int **region, long *n,
                        long *n_inside, invcsi_error *err)
{
    int rc = invcsi_street_scene_check(s, err);
    if (rc)
        return rc;
    long total = 0;
    for (int i = 0; i < s->n_regions; i++)
        total += grid_count(s->regions[i].x1 - s->regions[i].x0, s->user_spacing) *
                 grid_count(s->regions[i].y1 - s->regions[i].y0, s->user_spacing);
    double *p = malloc(3 * (size_t)(total > 0 ? total : 1) * sizeof *p);
    int *g = malloc((size_t)(total > 0 ? total : 1) * sizeof *g);
    if (!p || !g) {
        free(p);
        free(g);
        return invcsi_error_set(err, INVCSI_ENOMEM, "street: out of memory for %ld users", total);
    }
    long k = 0, inside = 0;
    const double sp = s->user_spacing;
    for (int i = 0; i < s->n_regions; i++) {
        const invcsi_street_region *r = &s->regions[i];
        const long nx = grid_count(r->x1 - r->x0, sp), ny = grid_count(r->y1 - r->y0, sp);
        /* centred: equal margins on both sides */
        const double x_first = 0.5 * (r->x0 + r->x1) - 0.5 * (double)(nx - 1) * sp;
        const double y_first = 0.5 * (r->y0 + r->y1) - 0.5 * (double)(ny - 1) * sp;
        for (long iy = 0; iy < ny; iy++)
            for (long ix = 0; ix < nx; ix++) {
                const double x = x_first + (double)ix * sp, y = y_first + (double)iy * sp;
                int in = 0;
                for (int b = 0; b < s->n_buildings && !in; b++)
                    in = inside_building(&s->buildings[b], x, y, s->user_z);
                if (in) {
                    inside++;
                    continue;
                }
                p[3 * k] = x;
                p[3 * k + 1] = y;
                p[3 * k + 2] = s->user_z;
                g[k] = i;
                k++;
            }
    }
    *n = k;
    if (n_inside)
        *n_inside = inside;
    if (pos)
        *pos = p;
    else
        free(p);
    if (region)
        *region = g;
    else
        free(g);
    return INVCSI_OK;
}

/* ------------------------------------------------------------------ parameters */

void invcsi_street_params_default(invcsi_street_params *p)
{
    memset(p, 0, sizeof *p);
    p->nt = 32;
    p->nr = 1;
    p->nc = 32;
    p->fc_ghz = 28.0;
    p->bw_mhz = 50.0;
    p->nc_full = 0;
    p->max_order = 2;
    p->ground = 1;
    p->min_rel_db = 40.0;
    p->timing = INVCSI_STREET_TIMING_FIRST_PATH;
    p->seed = 1;
    p->threads = 0;
}

int invcsi_street_params_check(const invcsi_street_params *p, invcsi_error *err)
{
    if (!p)
        return invcsi_error_set(err, INVCSI_EINVAL, "street: no parameters given");
    if (p->nt < 1 || p->nr < 1 || p->nc < 1 || (double)p->nt * p->nr * p->nc > (double)(1L << 24))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "street: nt, nr, nc must be >= 1 with nt*nr*nc <= 2^24 (got nt=%d "
                                "nr=%d nc=%d)",
                                p->nt, p->nr, p->nc);
    if (!(isfinite(p->fc_ghz) && p->fc_ghz > 0 && p->fc_ghz <= 1e4))
        return invcsi_error_set(err, INVCSI_EINVAL, "street: fc_ghz must be in (0, 10000] (got %g)",
                                p->fc_ghz);
    if (!(isfinite(p->bw_mhz) && p->bw_mhz > 0))
        return invcsi_error_set(err, INVCSI_EINVAL, "street: bw_mhz must be > 0 (got %g)",
                                p->bw_mhz);
    if (p->nc_full != 0 && (p->nc_full <= p->nc || p->nc_full > (1 << 22)))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "street: nc_full must be 0 (off) or in (nc=%d, %d] (got %d)", p->nc,
                                1 << 22, p->nc_full);
    if (p->max_order < 0 || p->max_order > INVCSI_STREET_MAX_ORDER)
        return invcsi_error_set(err, INVCSI_EINVAL, "street: max_order must be in 0..%d (got %d)",
                                INVCSI_STREET_MAX_ORDER, p->max_order);
    if (p->ground != 0 && p->ground != 1)
        return invcsi_error_set(err, INVCSI_EINVAL, "street: ground must be 0 or 1 (got %d)",
                                p->ground);
    if (!(p->min_rel_db > 0 && p->min_rel_db <= 400))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "street: min_rel_db (path threshold below the strongest) must be "
                                "in (0, 400] dB (got %g)",
                                p->min_rel_db);
    if (p->timing != INVCSI_STREET_TIMING_FIRST_PATH && p->timing != INVCSI_STREET_TIMING_ABSOLUTE)
        return invcsi_error_set(err, INVCSI_EINVAL, "street: unknown timing %d", (int)p->timing);
    if (p->threads < 0)
        return invcsi_error_set(err, INVCSI_EINVAL, "street: threads must be >= 0 (got %d)",
                                p->threads);
    return INVCSI_OK;
}

/* Scene and parameters together: every material must have eta' >= 1 at the carrier. */
int street_check_all(const invcsi_street_scene *s, const invcsi_street_params *p,
                     invcsi_error *err)
{
    int rc = invcsi_street_scene_check(s, err);
    if (!rc)
        rc = invcsi_street_params_check(p, err);
    if (rc)
        return rc;
    for (int i = 0; i < s->n_materials; i++) {
        double re, im;
        invcsi_street_permittivity(&s->materials[i], p->fc_ghz, &re, &im);
        if (!(isfinite(re) && isfinite(im) && re >= 1.0))
            return invcsi_error_set(err, INVCSI_EINVAL,
                                    "street scene: material '%s' has relative permittivity %g at "
                                    "%g GHz (must be finite and >= 1)",
                                    s->materials[i].name, re, p->fc_ghz);
    }
    return INVCSI_OK;
}

/* ------------------------------------------------------------------ JSON parsing */

typedef struct parse_ctx {
    const char *src;
    invcsi_error *err;
} parse_ctx;

static int perr(const parse_ctx *c, const invcsi_json *v, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int perr(const parse_ctx *c, const invcsi_json *v, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (v)
        return invcsi_error_set(c->err, INVCSI_EFORMAT, "%s: at byte %zu: %s", c->src, v->offset,
                                msg);
    return invcsi_error_set(c->err, INVCSI_EFORMAT, "%s: %s", c->src, msg);
}

/* Every member key of obj must be one of keys (NULL-terminated list). */
static int only_keys(const parse_ctx *c, const invcsi_json *obj, const char *where,
                     const char *const *keys)
{
    for (const invcsi_json *m = obj->child; m; m = m->next) {
        int known = 0;
        for (const char *const *k = keys; *k && !known; k++)
            known = !strcmp(m->key, *k);
        if (!known) {
            char list[256] = "";
            for (const char *const *k = keys; *k; k++) {
                strncat(list, *k, sizeof list - strlen(list) - 1);
                if (k[1])
                    strncat(list, ", ", sizeof list - strlen(list) - 1);
            }
            return perr(c, m, "%s: unknown key \"%s\" (known: %s)", where, m->key, list);
        }
    }
    return INVCSI_OK;
}

static const invcsi_json *need(const parse_ctx *c, const invcsi_json *obj, const char *where,
                               const char *key, invcsi_json_type type, int *rc)
{
    const invcsi_json *v = invcsi_json_get(obj, key);
    if (!v) {
        *rc = perr(c, obj, "%s: missing \"%s\"", where, key);
        return NULL;
    }
    if (v->type != type) {
        *rc = perr(c, v, "%s.%s: expected %s, found %s", where, key,
                   type == INVCSI_JSON_NUMBER ? "a number" :
                   type == INVCSI_JSON_STRING ? "a string" :
                   type == INVCSI_JSON_ARRAY ? "an array" : "an object",
                   invcsi_json_type_name(v->type));
        return NULL;
    }
    *rc = INVCSI_OK;
    return v;
}

static int need_num(const parse_ctx *c, const invcsi_json *obj, const char *where,
                    const char *key, double *out)
{
    int rc;
    const invcsi_json *v = need(c, obj, where, key, INVCSI_JSON_NUMBER, &rc);
    if (v)
        *out = v->number;
    return rc;
}

static int need_str(const parse_ctx *c, const invcsi_json *obj, const char *where,
                    const char *key, const char **out)
{
    int rc;
    const invcsi_json *v = need(c, obj, where, key, INVCSI_JSON_STRING, &rc);
    if (v) {
        if (strlen(v->string) != v->string_len)
            return perr(c, v, "%s.%s: contains a NUL character", where, key);
        *out = v->string;
    }
    return rc;
}

static int copy_name(const parse_ctx *c, const invcsi_json *obj, const char *where,
                     const char *key, char *dst)
{
    const char *s = "";
    int rc = need_str(c, obj, where, key, &s);
    if (rc)
        return rc;
    if (!name_ok(s))
        return perr(c, invcsi_json_get(obj, key),
                    "%s.%s: \"%.40s\" must be 1-%d letters, digits, '-', '_' or '.'", where, key, s,
                    INVCSI_STREET_NAME_LEN - 1);
    snprintf(dst, INVCSI_STREET_NAME_LEN, "%s", s);
    return INVCSI_OK;
}

static int material_index(const parse_ctx *c, const invcsi_street_scene *s,
                          const invcsi_json *obj, const char *where, const char *key, int *out)
{
    const char *name = "";
    int rc = need_str(c, obj, where, key, &name);
    if (rc)
        return rc;
    for (int i = 0; i < s->n_materials; i++)
        if (!strcmp(s->materials[i].name, name)) {
            *out = i;
            return INVCSI_OK;
        }
    return perr(c, invcsi_json_get(obj, key), "%s.%s: unknown material \"%.40s\"", where, key,
                name);
}

static int parse_tree(const parse_ctx *c, const invcsi_json *root, invcsi_street_scene *s)
{
    int rc;
    if (root->type != INVCSI_JSON_OBJECT)
        return perr(c, root, "a scene must be a JSON object, found %s",
                    invcsi_json_type_name(root->type));
    static const char *const top_keys[] = {"format", "version", "name", "materials",
                                           "ground_material", "buildings", "bs", "users", NULL};
    if ((rc = only_keys(c, root, "scene", top_keys)))
        return rc;
    const invcsi_json *v;
    if ((v = invcsi_json_get(root, "format"))) {
        if (v->type != INVCSI_JSON_STRING || strcmp(v->string, INVCSI_STREET_FORMAT))
            return perr(c, v, "scene.format: expected \"%s\"", INVCSI_STREET_FORMAT);
    }
    if ((v = invcsi_json_get(root, "version"))) {
        if (v->type != INVCSI_JSON_NUMBER || !v->is_integer || v->integer != 1)
            return perr(c, v, "scene.version: this reader knows version 1 only");
    }
    snprintf(s->name, sizeof s->name, "scene");
    if (invcsi_json_get(root, "name") && (rc = copy_name(c, root, "scene", "name", s->name)))
        return rc;

    const invcsi_json *mats = need(c, root, "scene", "materials", INVCSI_JSON_ARRAY, &rc);
    if (!mats)
        return rc;
    if (mats->count < 1 || mats->count > INVCSI_STREET_MAX_MATERIALS)
        return perr(c, mats, "scene.materials: needs 1 to %d materials (has %zu)",
                    INVCSI_STREET_MAX_MATERIALS, mats->count);
    static const char *const mat_keys[] = {"name", "eta_a", "eta_b", "sigma_c", "sigma_d", NULL};
    int i = 0;
    for (const invcsi_json *m = mats->child; m; m = m->next, i++) {
        char where[48];
        snprintf(where, sizeof where, "materials[%d]", i);
        if (m->type != INVCSI_JSON_OBJECT)
            return perr(c, m, "%s: expected an object", where);
        invcsi_street_material *mt = &s->materials[i];
        if ((rc = only_keys(c, m, where, mat_keys)) || (rc = copy_name(c, m, where, "name", mt->name)) ||
            (rc = need_num(c, m, where, "eta_a", &mt->eta_a)) ||
            (rc = need_num(c, m, where, "eta_b", &mt->eta_b)) ||
            (rc = need_num(c, m, where, "sigma_c", &mt->sigma_c)) ||
            (rc = need_num(c, m, where, "sigma_d", &mt->sigma_d)))
            return rc;
        for (int j = 0; j < i; j++)
            if (!strcmp(s->materials[j].name, mt->name))
                return perr(c, m, "%s: material \"%s\" is defined twice", where, mt->name);
        s->n_materials = i + 1;
    }
    if ((rc = material_index(c, s, root, "scene", "ground_material", &s->ground_material)))
        return rc;

    const invcsi_json *blds = need(c, root, "scene", "buildings", INVCSI_JSON_ARRAY, &rc);
    if (!blds)
        return rc;
    if (blds->count > INVCSI_STREET_MAX_BUILDINGS)
        return perr(c, blds, "scene.buildings: at most %d buildings (has %zu)",
                    INVCSI_STREET_MAX_BUILDINGS, blds->count);
    static const char *const bld_keys[] = {"x0", "y0", "x1", "y1", "height", "material", NULL};
    i = 0;
    for (const invcsi_json *b = blds->child; b; b = b->next, i++) {
        char where[48];
        snprintf(where, sizeof where, "buildings[%d]", i);
        if (b->type != INVCSI_JSON_OBJECT)
            return perr(c, b, "%s: expected an object", where);
        invcsi_street_building *bd = &s->buildings[i];
        if ((rc = only_keys(c, b, where, bld_keys)) || (rc = need_num(c, b, where, "x0", &bd->x0)) ||
            (rc = need_num(c, b, where, "y0", &bd->y0)) ||
            (rc = need_num(c, b, where, "x1", &bd->x1)) ||
            (rc = need_num(c, b, where, "y1", &bd->y1)) ||
            (rc = need_num(c, b, where, "height", &bd->height)) ||
            (rc = material_index(c, s, b, where, "material", &bd->material)))
            return rc;
        s->n_buildings = i + 1;
    }

    const invcsi_json *bs = need(c, root, "scene", "bs", INVCSI_JSON_OBJECT, &rc);
    if (!bs)
        return rc;
    static const char *const bs_keys[] = {"x", "y", "z", "array_axis_deg", "downtilt_deg",
                                          "pattern", NULL};
    const char *pattern = "";
    if ((rc = only_keys(c, bs, "bs", bs_keys)) || (rc = need_num(c, bs, "bs", "x", &s->bs.x)) ||
        (rc = need_num(c, bs, "bs", "y", &s->bs.y)) || (rc = need_num(c, bs, "bs", "z", &s->bs.z)) ||
        (rc = need_num(c, bs, "bs", "array_axis_deg", &s->bs.array_axis_deg)) ||
        (rc = need_num(c, bs, "bs", "downtilt_deg", &s->bs.downtilt_deg)) ||
        (rc = need_str(c, bs, "bs", "pattern", &pattern)))
        return rc;
    if (!strcmp(pattern, "isotropic"))
        s->bs.pattern = INVCSI_STREET_PATTERN_ISOTROPIC;
    else if (!strcmp(pattern, "tr38901"))
        s->bs.pattern = INVCSI_STREET_PATTERN_TR38901;
    else
        return perr(c, invcsi_json_get(bs, "pattern"),
                    "bs.pattern: \"%.40s\" is not \"isotropic\" or \"tr38901\"", pattern);

    const invcsi_json *us = need(c, root, "scene", "users", INVCSI_JSON_OBJECT, &rc);
    if (!us)
        return rc;
    static const char *const us_keys[] = {"z", "spacing", "regions", NULL};
    if ((rc = only_keys(c, us, "users", us_keys)) || (rc = need_num(c, us, "users", "z", &s->user_z)) ||
        (rc = need_num(c, us, "users", "spacing", &s->user_spacing)))
        return rc;
    const invcsi_json *regs = need(c, us, "users", "regions", INVCSI_JSON_ARRAY, &rc);
    if (!regs)
        return rc;
    if (regs->count < 1 || regs->count > INVCSI_STREET_MAX_REGIONS)
        return perr(c, regs, "users.regions: needs 1 to %d regions (has %zu)",
                    INVCSI_STREET_MAX_REGIONS, regs->count);
    static const char *const reg_keys[] = {"x0", "y0", "x1", "y1", "array_axis_deg", NULL};
    i = 0;
    for (const invcsi_json *r = regs->child; r; r = r->next, i++) {
        char where[48];
        snprintf(where, sizeof where, "users.regions[%d]", i);
        if (r->type != INVCSI_JSON_OBJECT)
            return perr(c, r, "%s: expected an object", where);
        invcsi_street_region *rg = &s->regions[i];
        if ((rc = only_keys(c, r, where, reg_keys)) || (rc = need_num(c, r, where, "x0", &rg->x0)) ||
            (rc = need_num(c, r, where, "y0", &rg->y0)) ||
            (rc = need_num(c, r, where, "x1", &rg->x1)) ||
            (rc = need_num(c, r, where, "y1", &rg->y1)) ||
            (rc = need_num(c, r, where, "array_axis_deg", &rg->array_axis_deg)))
            return rc;
        s->n_regions = i + 1;
    }
    return INVCSI_OK;
}

int invcsi_street_scene_parse(const char *text, size_t len, const char *source,
                              invcsi_street_scene *s, invcsi_error *err)
{
    parse_ctx c = {source ? source : "scene", err};
    if (!text || !s)
        return invcsi_error_set(err, INVCSI_EINVAL, "street: no scene text or output given");
    invcsi_json_doc doc;
    invcsi_error jerr;
    int rc = invcsi_json_parse(text, len, &doc, &jerr);
    if (rc)
        return invcsi_error_set(err, rc, "%s: %s", c.src, jerr.msg);
    invcsi_street_scene tmp;
    memset(&tmp, 0, sizeof tmp);
    rc = parse_tree(&c, doc.root, &tmp);
    invcsi_json_doc_free(&doc);
    if (rc)
        return rc;
    invcsi_error cerr;
    rc = invcsi_street_scene_check(&tmp, &cerr);
    if (rc) {
        /* "street scene: ..." -> "FILE: ..." */
        const char *msg = cerr.msg;
        if (!strncmp(msg, "street scene: ", 14))
            msg += 14;
        return invcsi_error_set(err, rc, "%s: %s", c.src, msg);
    }
    *s = tmp;
    return INVCSI_OK;
}

int invcsi_street_scene_load(const char *path, invcsi_street_scene *s, invcsi_error *err)
{
    if (!path)
        return invcsi_error_set(err, INVCSI_EINVAL, "street: no scene file name given");
    FILE *f = fopen(path, "rb");
    if (!f)
        return invcsi_error_set(err, INVCSI_EIO, "%s: cannot open scene file: %s", path,
                                strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    int rc = INVCSI_OK;
    while (buf) {
        if (len == cap) {
            if (cap >= INVCSI_JSON_MAX_BYTES) {
                rc = invcsi_error_set(err, INVCSI_EFORMAT, "%s: scene file larger than %zu MB",
                                      path, INVCSI_JSON_MAX_BYTES >> 20);
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f))
                rc = invcsi_error_set(err, INVCSI_EIO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (!buf)
        return invcsi_error_set(err, INVCSI_ENOMEM, "%s: out of memory reading the scene", path);
    if (rc == INVCSI_OK)
        rc = invcsi_street_scene_parse(buf, len, path, s, err);
    free(buf);
    return rc;
}

/* ------------------------------------------------------------------ JSON printing */

typedef struct sbuf {
    char *s;
    size_t len, cap;
    int failed;
} sbuf;

static void sb_put(sbuf *b, const char *t)
{
    size_t n = strlen(t);
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) {
            b->failed = 1;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->len, t, n + 1);
    b->len += n;
}

/* Shortest exact, locale-independent number text: the JSON writer's own formatting. */
static void sb_num(sbuf *b, double x)
{
    invcsi_json_writer w;
    invcsi_jw_init(&w);
    invcsi_jw_number(&w, x);
    const char *t;
    size_t n;
    if (invcsi_jw_finish(&w, &t, &n, NULL) == INVCSI_OK)
        sb_put(b, t);
    else
        b->failed = 1;
    invcsi_jw_free(&w);
}

/* "key": number, with a separator before it */
static void sb_kv(sbuf *b, const char *sep, const char *key, double x)
{
    sb_put(b, sep);
    sb_put(b, "\"");
    sb_put(b, key);
    sb_put(b, "\": ");
    sb_num(b, x);
}

/* "key": "string" (names are checked to need no escaping) */
static void sb_ks(sbuf *b, const char *sep, const char *key, const char *s)
{
    sb_put(b, sep);
    sb_put(b, "\"");
    sb_put(b, key);
    sb_put(b, "\": \"");
    sb_put(b, s);
    sb_put(b, "\"");
}

int invcsi_street_scene_to_json(const invcsi_street_scene *s, char **text, invcsi_error *err)
{
    int rc = invcsi_street_scene_check(s, err);
    if (rc)
        return rc;
    sbuf b = {0};
    sb_put(&b, "{\n");
    sb_ks(&b, "  ", "format", INVCSI_STREET_FORMAT);
    sb_kv(&b, ",\n  ", "version", 1);
    sb_ks(&b, ",\n  ", "name", s->name);
    sb_put(&b, ",\n  \"materials\": [");
    for (int i = 0; i < s->n_materials; i++) {
        const invcsi_street_material *m = &s->materials[i];
        sb_ks(&b, i ? ",\n    {" : "\n    {", "name", m->name);
        sb_kv(&b, ", ", "eta_a", m->eta_a);
        sb_kv(&b, ", ", "eta_b", m->eta_b);
        sb_kv(&b, ", ", "sigma_c", m->sigma_c);
        sb_kv(&b, ", ", "sigma_d", m->sigma_d);
        sb_put(&b, "}");
    }
    sb_put(&b, "\n  ]");
    sb_ks(&b, ",\n  ", "ground_material", s->materials[s->ground_material].name);
    sb_put(&b, ",\n  \"buildings\": [");
    for (int i = 0; i < s->n_buildings; i++) {
        const invcsi_street_building *bd = &s->buildings[i];
        sb_kv(&b, i ? ",\n    {" : "\n    {", "x0", bd->x0);
        sb_kv(&b, ", ", "y0", bd->y0);
        sb_kv(&b, ", ", "x1", bd->x1);
        sb_kv(&b, ", ", "y1", bd->y1);
        sb_kv(&b, ", ", "height", bd->height);
        sb_ks(&b, ", ", "material", s->materials[bd->material].name);
        sb_put(&b, "}");
    }
    sb_put(&b, s->n_buildings ? "\n  ]" : "]");
    sb_put(&b, ",\n  \"bs\": {");
    sb_kv(&b, "", "x", s->bs.x);
    sb_kv(&b, ", ", "y", s->bs.y);
    sb_kv(&b, ", ", "z", s->bs.z);
    sb_kv(&b, ", ", "array_axis_deg", s->bs.array_axis_deg);
    sb_kv(&b, ", ", "downtilt_deg", s->bs.downtilt_deg);
    sb_ks(&b, ", ", "pattern",
          s->bs.pattern == INVCSI_STREET_PATTERN_TR38901 ? "tr38901" : "isotropic");
    sb_put(&b, "}");
    sb_put(&b, ",\n  \"users\": {");
    sb_kv(&b, "\n    ", "z", s->user_z);
    sb_kv(&b, ",\n    ", "spacing", s->user_spacing);
    sb_put(&b, ",\n    \"regions\": [");
    for (int i = 0; i < s->n_regions; i++) {
        const invcsi_street_region *r = &s->regions[i];
        sb_kv(&b, i ? ",\n      {" : "\n      {", "x0", r->x0);
        sb_kv(&b, ", ", "y0", r->y0);
        sb_kv(&b, ", ", "x1", r->x1);
        sb_kv(&b, ", ", "y1", r->y1);
        sb_kv(&b, ", ", "array_axis_deg", r->array_axis_deg);
        sb_put(&b, "}");
    }
    sb_put(&b, "\n    ]\n  }\n}\n");
    if (b.failed) {
        free(b.s);
        return invcsi_error_set(err, INVCSI_ENOMEM, "street: out of memory printing the scene");
    }
    *text = b.s;
    return INVCSI_OK;
}
