/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Street ray tracer geometry against closed forms: the two-ray (LOS + ground) and
 * three-ray (LOS + ground + wall) models, Fresnel coefficients at normal and grazing
 * incidence, ground + wall second order, blockage, reciprocity (swapping the ends), and
 * second-order paths between two parallel walls.
 */
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "invcsi/street.h"

#define C0 299792458.0
#define EPS0 8.8541878128e-12
#define DEG (180.0 / M_PI)

static invcsi_street_path paths[20000];

/* An empty scene: concrete and glass, concrete ground, one user region (unused here). */
static void empty_scene(invcsi_street_scene *s)
{
    invcsi_street_scene_default(s);
    s->n_buildings = 0;
    s->bs = (invcsi_street_bs){0, 0, 6, 90, 0, INVCSI_STREET_PATTERN_ISOTROPIC};
}

static void add_building(invcsi_street_scene *s, double x0, double y0, double x1, double y1,
                         double h, int material)
{
    s->buildings[s->n_buildings++] = (invcsi_street_building){x0, y0, x1, y1, h, material};
}

static int trace(const invcsi_street_scene *s, const invcsi_street_params *p, const double tx[3],
                 const double rx[3])
{
    invcsi_error err;
    int n = -1;
    int rc = invcsi_street_trace(s, p, tx, rx, paths, sizeof paths / sizeof paths[0], &n, &err);
    CHECK(rc == INVCSI_OK, "trace failed: %s", err.msg);
    return n;
}

static double complex material_eps(const invcsi_street_material *m, double fc_ghz)
{
    double eta = m->eta_a * pow(fc_ghz, m->eta_b);
    double sigma = m->sigma_c * pow(fc_ghz, m->sigma_d);
    return eta - I * sigma / (2 * M_PI * fc_ghz * 1e9 * EPS0);
}

/* Closed-form Fresnel coefficients, written out independently of the library. */
static double complex r_te(double complex eps, double c)
{
    double complex root = csqrt(eps - (1 - c * c));
    return (c - root) / (c + root);
}
static double complex r_tm(double complex eps, double c)
{
    double complex root = csqrt(eps - (1 - c * c));
    return (eps * c - root) / (eps * c + root);
}

static const invcsi_street_path *find_order(int n, int order, int k)
{
    for (int i = 0; i < n; i++)
        if (paths[i].order == order && k-- == 0)
            return &paths[i];
    return NULL;
}

static void check_gain(const invcsi_street_path *p, double complex want, const char *what)
{
    double complex got = p->gain_re + I * p->gain_im;
    CHECK(cabs(got - want) <= 1e-12 * cabs(want) + 1e-300, "%s gain (%.12g, %.12g) vs (%.12g, %.12g)",
          what, creal(got), cimag(got), creal(want), cimag(want));
}

static void test_fresnel(void)
{
    double complex eps = 5.24 - 0.4 * I;
    double re, im;
    /* normal incidence: TE = (1 - sqrt(eps)) / (1 + sqrt(eps)), TM = -TE */
    double complex want = (1 - csqrt(eps)) / (1 + csqrt(eps));
    invcsi_street_fresnel(creal(eps), cimag(eps), 1.0, 0, &re, &im);
    CHECK(cabs(re + I * im - want) < 1e-14, "TE normal (%g, %g)", re, im);
    invcsi_street_fresnel(creal(eps), cimag(eps), 1.0, 1, &re, &im);
    CHECK(cabs(re + I * im + want) < 1e-14, "TM normal (%g, %g)", re, im);
    /* grazing: both -> -1 */
    for (int tm = 0; tm < 2; tm++) {
        invcsi_street_fresnel(creal(eps), cimag(eps), 0.0, tm, &re, &im);
        CHECK(cabs(re + I * im + 1) < 1e-15, "grazing exact tm=%d (%g, %g)", tm, re, im);
        invcsi_street_fresnel(creal(eps), cimag(eps), 1e-5, tm, &re, &im);
        CHECK(cabs(re + I * im + 1) < 1e-3, "near grazing tm=%d (%g, %g)", tm, re, im);
    }
    /* a lossless dielectric has a Brewster angle for TM: tan t_B = sqrt(eps) */
    const double tb = atan(sqrt(5.24));
    invcsi_street_fresnel(5.24, 0.0, cos(tb), 1, &re, &im);
    CHECK(fabs(re) < 1e-12 && fabs(im) < 1e-12, "Brewster (%g, %g)", re, im);
    /* the library's permittivity: P.2040 concrete at 28 GHz */
    invcsi_street_scene s;
    invcsi_street_scene_default(&s);
    double er, ei;
    invcsi_street_permittivity(&s.materials[0], 28.0, &er, &ei);
    double complex e = material_eps(&s.materials[0], 28.0);
    CHECK_CLOSE(er, 5.24, 1e-12, "concrete eta'");
    CHECK_CLOSE(ei, cimag(e), 1e-12, "concrete eps''");
    CHECK_CLOSE(ei, -17.98 * 0.0462 * pow(28, 0.7822) / 28, 2e-4, "concrete eps'' (P.2040 17.98 sigma/f)");
}

/* Two-ray: LOS + ground over a flat concrete ground, nothing else. */
static void test_two_ray(void)
{
    invcsi_street_scene s;
    empty_scene(&s);
    invcsi_street_params p;
    invcsi_street_params_default(&p);
    p.min_rel_db = 400;
    const double lambda = C0 / 28e9;
    const double tx[3] = {0, 0, 6}, rx[3] = {50, 0, 1.5};
    int n = trace(&s, &p, tx, rx);
    CHECK(n == 2, "two-ray: %d paths", n);
    const double l0 = sqrt(50 * 50 + 4.5 * 4.5), l1 = sqrt(50 * 50 + 7.5 * 7.5);
    const invcsi_street_path *los = find_order(n, 0, 0), *gnd = find_order(n, 1, 0);
    CHECK(los && gnd, "LOS and ground present");
    if (!los || !gnd)
        return;
    CHECK_CLOSE(los->length_m, l0, 1e-12, "LOS length");
    CHECK_CLOSE(los->delay_ns, l0 / C0 * 1e9, 1e-9, "LOS delay");
    check_gain(los, lambda / (4 * M_PI * l0), "LOS");
    CHECK_CLOSE(los->aod_deg, 0, 1e-12, "LOS AoD");
    CHECK_CLOSE(los->zod_deg, acos(-4.5 / l0) * DEG, 1e-10, "LOS ZoD");
    CHECK_CLOSE(los->aoa_deg, 180, 1e-12, "LOS AoA");
    CHECK_CLOSE(los->zoa_deg, acos(4.5 / l0) * DEG, 1e-10, "LOS ZoA");

    CHECK(gnd->via[0] == INVCSI_STREET_GROUND, "ground path via %d", gnd->via[0]);
    CHECK_CLOSE(gnd->length_m, l1, 1e-12, "ground length");
    CHECK_CLOSE(gnd->delay_ns, l1 / C0 * 1e9, 1e-9, "ground delay");
    CHECK_CLOSE(gnd->point[0][0], 40, 1e-12, "ground point x = d h_t / (h_t + h_r)");
    CHECK_CLOSE(gnd->point[0][2], 0, 0, "ground point z");
    double complex eps = material_eps(&s.materials[s.ground_material], 28.0);
    check_gain(gnd, lambda / (4 * M_PI * l1) * r_tm(eps, 7.5 / l1), "ground");
    CHECK_CLOSE(gnd->zod_deg, acos(-7.5 / l1) * DEG, 1e-10, "ground ZoD");
    CHECK_CLOSE(gnd->zoa_deg, acos(-7.5 / l1) * DEG, 1e-10, "ground ZoA (from below)");
    CHECK_CLOSE(gnd->aoa_deg, 180, 1e-12, "ground AoA");

    /* the classic two-ray field: lambda/(4 pi) (e^{-jk l0}/l0 + R e^{-jk l1}/l1), through H
     * at one antenna pair and one subcarrier (f_0 = fc) */
    p.nt = p.nr = p.nc = 1;
    float h[2];
    invcsi_error err;
    s.bs.x = tx[0];
    s.bs.y = tx[1];
    s.bs.z = tx[2];
    int rc = invcsi_street_paths_to_h(&s, &p, paths, n, 0.0, h, &err);
    CHECK(rc == 0, "paths_to_h: %s", err.msg);
    const double k = 2 * M_PI / lambda;
    double complex want = lambda / (4 * M_PI) *
                          (cexp(-I * k * l0) / l0 + r_tm(eps, 7.5 / l1) * cexp(-I * k * l1) / l1);
    CHECK(cabs(h[0] + I * h[1] - want) < 2e-6 * cabs(want), "two-ray field (%g, %g) vs (%g, %g)",
          h[0], h[1], creal(want), cimag(want));
}

/* Three-ray: a wall parallel to the tx-rx line adds one reflection; with order 2 the
 * wall -> ground path appears too (ground -> wall hits the wall below ground: invalid). */
static void test_three_ray(void)
{
    invcsi_street_scene s;
    empty_scene(&s);
    add_building(&s, -100, 10, 200, 30, 30, 1);   /* glass, face y = 10 towards -y */
    invcsi_street_params p;
    invcsi_street_params_default(&p);
    p.min_rel_db = 400;
    p.max_order = 1;
    const double lambda = C0 / 28e9;
    const double tx[3] = {0, 0, 6}, rx[3] = {50, 0, 1.5};
    int n = trace(&s, &p, tx, rx);
    CHECK(n == 3, "three-ray: %d paths", n);
    double complex eps_w = material_eps(&s.materials[1], 28.0);
    double complex eps_g = material_eps(&s.materials[0], 28.0);
    const invcsi_street_path *wall = NULL;
    for (int i = 0; i < n; i++)
        if (paths[i].order == 1 && paths[i].via[0] == 2)   /* building 0, face y0 */
            wall = &paths[i];
    CHECK(wall != NULL, "wall path present");
    if (wall) {
        const double l2 = sqrt(50 * 50 + 20 * 20 + 4.5 * 4.5);
        CHECK_CLOSE(wall->length_m, l2, 1e-12, "wall length");
        CHECK_CLOSE(wall->delay_ns, l2 / C0 * 1e9, 1e-9, "wall delay");
        check_gain(wall, lambda / (4 * M_PI * l2) * r_te(eps_w, 20 / l2), "wall");
        CHECK_CLOSE(wall->point[0][0], 25, 1e-12, "wall point x");
        CHECK_CLOSE(wall->point[0][1], 10, 0, "wall point y");
        CHECK_CLOSE(wall->point[0][2], 3.75, 1e-12, "wall point z");
        CHECK_CLOSE(wall->aod_deg, atan2(20, 50) * DEG, 1e-10, "wall AoD");
        CHECK_CLOSE(wall->zod_deg, acos(-4.5 / l2) * DEG, 1e-10, "wall ZoD");
        CHECK_CLOSE(wall->aoa_deg, atan2(10, -25) * DEG, 1e-10, "wall AoA");
        CHECK_CLOSE(wall->zoa_deg, acos(4.5 / l2) * DEG, 1e-10, "wall ZoA");
    }
    CHECK(find_order(n, 0, 0) && find_order(n, 1, 0), "LOS and ground still there");

    p.max_order = 2;
    n = trace(&s, &p, tx, rx);
    CHECK(n == 4, "order 2: %d paths (LOS, ground, wall, wall+ground)", n);
    const invcsi_street_path *wg = find_order(n, 2, 0);
    CHECK(wg && !find_order(n, 2, 1), "exactly one second-order path");
    if (wg) {
        const double l3 = sqrt(50 * 50 + 20 * 20 + 7.5 * 7.5);
        CHECK(wg->via[0] == 2 && wg->via[1] == INVCSI_STREET_GROUND, "wall then ground (%d, %d)",
              wg->via[0], wg->via[1]);
        CHECK_CLOSE(wg->length_m, l3, 1e-12, "wall+ground length");
        check_gain(wg, lambda / (4 * M_PI * l3) * r_te(eps_w, 20 / l3) * r_tm(eps_g, 7.5 / l3),
                   "wall+ground");
        CHECK_CLOSE(wg->point[1][0], 40, 1e-12, "ground point x");
        CHECK_CLOSE(wg->point[1][1], 4, 1e-12, "ground point y");
    }
}

/* Normal incidence on a wall: R = (1 - sqrt(eps)) / (1 + sqrt(eps)). */
static void test_normal_incidence(void)
{
    invcsi_street_scene s;
    empty_scene(&s);
    add_building(&s, -20, 10, 20, 30, 20, 0);
    invcsi_street_params p;
    invcsi_street_params_default(&p);
    p.ground = 0;
    p.max_order = 1;
    p.min_rel_db = 400;
    const double tx[3] = {0, 0, 1.5}, rx[3] = {0, -10, 1.5};
    int n = trace(&s, &p, tx, rx);
    CHECK(n == 2, "normal incidence: %d paths", n);
    const invcsi_street_path *w = find_order(n, 1, 0);
    CHECK(w != NULL, "wall path");
    if (w) {
        double complex eps = material_eps(&s.materials[0], 28.0);
        CHECK_CLOSE(w->length_m, 30, 1e-12, "normal length 10 + 20");
        check_gain(w, C0 / 28e9 / (4 * M_PI * 30) * (1 - csqrt(eps)) / (1 + csqrt(eps)), "normal");
        CHECK_CLOSE(w->aod_deg, 90, 1e-12, "AoD");
        CHECK_CLOSE(w->aoa_deg, 90, 1e-12, "AoA");
        CHECK_CLOSE(w->zod_deg, 90, 1e-12, "ZoD");
    }
    /* near grazing along a long wall: R -> -1 */
    invcsi_street_scene g;
    empty_scene(&g);
    add_building(&g, -10, 1, 5000, 20, 20, 0);
    const double tx2[3] = {0, 0, 1.5}, rx2[3] = {4000, 0, 1.5};
    n = trace(&g, &p, tx2, rx2);
    w = find_order(n, 1, 0);
    CHECK(w != NULL, "grazing wall path");
    if (w) {
        double complex r = (w->gain_re + I * w->gain_im) / (C0 / 28e9 / (4 * M_PI * w->length_m));
        CHECK(cabs(r + 1) < 0.01, "grazing R = (%g, %g) ~ -1", creal(r), cimag(r));
    }
}

static void test_blockage(void)
{
    invcsi_street_params p;
    invcsi_street_params_default(&p);
    p.min_rel_db = 400;
    const double tx[3] = {0, 0, 6}, rx[3] = {50, 0, 1.5};
    for (int tall = 0; tall < 2; tall++) {
        invcsi_street_scene s;
        empty_scene(&s);
        /* LOS passes x = 20..30 at z = 4.2..3.3 m: a 3 m building lets it over, 10 m not */
        add_building(&s, 20, -5, 30, 5, tall ? 10 : 3, 0);
        int n = trace(&s, &p, tx, rx);
        int has_los = find_order(n, 0, 0) != NULL;
        CHECK(has_los == !tall, "building %s m: LOS %s", tall ? "10" : "3",
              has_los ? "present" : "absent");
        int has_ground = 0;
        for (int i = 0; i < n; i++)
            has_ground |= paths[i].order == 1 && paths[i].via[0] == INVCSI_STREET_GROUND;
        CHECK(!has_ground, "the ground path (x = 40, below 6 m) is blocked either way");
    }
}

/* Swapping tx and rx gives the same paths, departure and arrival swapped. */
static void test_reciprocity(void)
{
    invcsi_street_scene s;
    invcsi_street_scene_default(&s);
    invcsi_street_params p;
    invcsi_street_params_default(&p);
    static invcsi_street_path fwd[4000];
    const double users[][3] = {{40, 5, 1.5}, {5, 60, 1.5}, {-200, 10, 1.5}, {5, -80, 1.5},
                               {0, 0, 1.5},  {250, -15, 1.5}};
    const double bs[3] = {s.bs.x, s.bs.y, s.bs.z};
    int total = 0;
    for (size_t u = 0; u < sizeof users / sizeof users[0]; u++) {
        int n = trace(&s, &p, bs, users[u]);
        memcpy(fwd, paths, n * sizeof *fwd);
        int m = trace(&s, &p, users[u], bs);
        CHECK(n == m, "user %zu: %d paths forward, %d backward", u, n, m);
        total += n;
        for (int i = 0; i < n && n == m; i++) {
            const invcsi_street_path *a = &fwd[i], *b = NULL;
            for (int j = 0; j < m && !b; j++) {
                if (paths[j].order != a->order)
                    continue;
                int same = fabs(paths[j].length_m - a->length_m) < 1e-9;
                for (int k = 0; k < a->order; k++)
                    same &= paths[j].via[k] == a->via[a->order - 1 - k];
                if (same)
                    b = &paths[j];
            }
            CHECK(b != NULL, "user %zu path %d (order %d) has a reverse", u, i, a->order);
            if (!b)
                continue;
            CHECK_CLOSE(b->delay_ns, a->delay_ns, 1e-9, "reverse delay");
            CHECK_CLOSE(b->power_db, a->power_db, 1e-9, "reverse power");
            CHECK_CLOSE(b->gain_re, a->gain_re, 1e-12 * fabs(a->gain_re) + 1e-20, "reverse gain re");
            CHECK_CLOSE(b->gain_im, a->gain_im, 1e-12 * fabs(a->gain_im) + 1e-20, "reverse gain im");
            CHECK_CLOSE(b->aod_deg, a->aoa_deg, 1e-9, "AoD <- AoA");
            CHECK_CLOSE(b->aoa_deg, a->aod_deg, 1e-9, "AoA <- AoD");
            CHECK_CLOSE(b->zod_deg, a->zoa_deg, 1e-9, "ZoD <- ZoA");
            CHECK_CLOSE(b->zoa_deg, a->zod_deg, 1e-9, "ZoA <- ZoD");
        }
    }
    CHECK(total >= 15, "reciprocity compared %d paths", total);
}

/* Two parallel walls y = +-W: second-order paths have images at y_t -+ 4W. */
static void test_parallel_walls(void)
{
    invcsi_street_scene s;
    empty_scene(&s);
    const double W = 20;
    add_building(&s, -500, W, 500, W + 20, 50, 0);    /* A: face y0 = +W towards -y */
    add_building(&s, -500, -W - 20, 500, -W, 50, 1); /* B: face y1 = -W towards +y */
    s.bs.y = -5;
    invcsi_street_params p;
    invcsi_street_params_default(&p);
    p.ground = 0;
    p.min_rel_db = 400;
    const double yt = -5, yr = 3, d = 100;
    const double tx[3] = {0, yt, 6}, rx[3] = {d, yr, 1.5};
    int n = trace(&s, &p, tx, rx);
    CHECK(n == 5, "parallel walls: %d paths (LOS, 2 single, 2 double)", n);
    double complex ea = material_eps(&s.materials[0], 28.0), eb = material_eps(&s.materials[1], 28.0);
    const double lambda = C0 / 28e9;
    int found = 0;
    for (int i = 0; i < n; i++) {
        const invcsi_street_path *q = &paths[i];
        if (q->order != 2)
            continue;
        const int a_first = q->via[0] == 2;   /* building 0 face y0 */
        const double dy = a_first ? yr - (yt - 4 * W) : (4 * W + yt) - yr;
        const double l = sqrt(d * d + dy * dy + 4.5 * 4.5);
        CHECK_CLOSE(q->length_m, l, 1e-11, a_first ? "A then B length" : "B then A length");
        CHECK_CLOSE(q->delay_ns, l / C0 * 1e9, 1e-9, "double bounce delay");
        check_gain(q, lambda / (4 * M_PI * l) * r_te(ea, fabs(dy) / l) * r_te(eb, fabs(dy) / l),
                   "double bounce");
        found += a_first ? 1 : 10;
    }
    CHECK(found == 11, "one A->B and one B->A path (code %d)", found);
    /* first order off A: image at 2W - y_t */
    for (int i = 0; i < n; i++)
        if (paths[i].order == 1 && paths[i].via[0] == 2) {
            const double l = sqrt(d * d + pow(2 * W - yt - yr, 2) + 4.5 * 4.5);
            CHECK_CLOSE(paths[i].length_m, l, 1e-11, "single bounce off A");
        }
    /* the threshold: at 40 dB every path here stays; at 0.5 dB only the LOS */
    p.min_rel_db = 0.5;
    n = trace(&s, &p, tx, rx);
    CHECK(n == 1 && paths[0].order == 0, "threshold 0.5 dB keeps the LOS only (%d)", n);
}

int main(void)
{
    test_fresnel();
    test_two_ray();
    test_three_ray();
    test_normal_incidence();
    test_blockage();
    test_reciprocity();
    test_parallel_walls();
    return check_done("test_street_geometry");
}
