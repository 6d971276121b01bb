/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Street channel: H from a single LOS path equals the closed form (free-space amplitude,
 * carrier phase, delay across the subcarriers, BS and UE steering vectors) for both timing
 * references; the TR 38.901 element pattern's boresight gain and front-back ratio;
 * invcsi_street_generate for a one-user scene equals trace + paths_to_h.
 */
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "invcsi/street.h"

#define C0 299792458.0
#define DEG (M_PI / 180.0)

static invcsi_street_path paths[64];

/* Open field, no ground reflection: the LOS path only. */
static void open_scene(invcsi_street_scene *s, const double bs[3], double bs_axis)
{
    invcsi_street_scene_default(s);
    s->n_buildings = 0;
    s->bs = (invcsi_street_bs){bs[0], bs[1], bs[2], bs_axis, 0, INVCSI_STREET_PATTERN_ISOTROPIC};
}

static void test_los_closed_form(int timing)
{
    const double bs[3] = {3, -2, 10}, ue[3] = {33, 38, 1.5};
    const double bs_axis = 30, ue_axis = 70;
    invcsi_street_scene s;
    open_scene(&s, bs, bs_axis);
    invcsi_street_params p;
    invcsi_street_params_default(&p);
    p.nt = 8;
    p.nr = 4;
    p.nc = 16;
    p.ground = 0;
    p.timing = timing;
    invcsi_error err;
    int n = 0;
    int rc = invcsi_street_trace(&s, &p, bs, ue, paths, 64, &n, &err);
    CHECK(rc == 0 && n == 1 && paths[0].order == 0, "one LOS path (rc %d, n %d)", rc, n);
    float *h = malloc(2 * sizeof(float) * p.nr * p.nt * p.nc);
    rc = invcsi_street_paths_to_h(&s, &p, paths, n, ue_axis, h, &err);
    CHECK(rc == 0, "paths_to_h: %s", err.msg);

    const double dx = ue[0] - bs[0], dy = ue[1] - bs[1], dz = ue[2] - bs[2];
    const double d = sqrt(dx * dx + dy * dy + dz * dz), tau = d / C0;
    const double fc = 28e9, bw = 50e6, lambda = C0 / fc;
    const double phi_d = atan2(dy, dx), th_d = acos(dz / d);
    const double phi_a = phi_d + M_PI, th_a = M_PI - th_d;
    const double tau0 = timing == INVCSI_STREET_TIMING_FIRST_PATH ? tau : 0.0;
    double max_err = 0, scale = lambda / (4 * M_PI * d);
    for (int r = 0; r < p.nr; r++)
        for (int t = 0; t < p.nt; t++)
            for (int k = 0; k < p.nc; k++) {
                const double fk = (k - (p.nc - 1) / 2.0) * bw / p.nc;
                double complex want =
                    scale * cexp(-2 * M_PI * I * fc * tau) * cexp(-2 * M_PI * I * fk * (tau - tau0)) *
                    cexp(I * M_PI * t * sin(th_d) * cos(phi_d - bs_axis * DEG)) *
                    cexp(I * M_PI * r * sin(th_a) * cos(phi_a - ue_axis * DEG));
                const long q = ((long)r * p.nt + t) * p.nc + k;
                double complex got = h[2 * q] + I * h[2 * q + 1];
                max_err = fmax(max_err, cabs(got - want) / scale);
            }
    CHECK(max_err < 2e-5, "timing %d: LOS H vs closed form, max relative error %.3g", timing,
          max_err);
    free(h);
}

static void test_pattern(void)
{
    /* BS facing +y (axis 180), tilted 10 deg down; a user at that depression angle straight
     * ahead sees 8 dBi, one behind it 8 - 30 dBi */
    const double bs[3] = {0, 0, 20};
    invcsi_street_scene s;
    open_scene(&s, bs, 180);
    s.bs.downtilt_deg = 10;
    invcsi_street_params p;
    invcsi_street_params_default(&p);
    p.nt = p.nr = p.nc = 1;
    p.ground = 0;
    invcsi_error err;
    const double dist = 100, drop = dist * tan(10 * DEG);
    for (int behind = 0; behind < 2; behind++) {
        const double ue[3] = {0, behind ? -dist : dist, bs[2] - drop};
        int n = 0;
        invcsi_street_trace(&s, &p, bs, ue, paths, 64, &n, &err);
        float hi[2], hp[2];
        s.bs.pattern = INVCSI_STREET_PATTERN_ISOTROPIC;
        invcsi_street_paths_to_h(&s, &p, paths, n, 0, hi, &err);
        s.bs.pattern = INVCSI_STREET_PATTERN_TR38901;
        int rc = invcsi_street_paths_to_h(&s, &p, paths, n, 0, hp, &err);
        CHECK(rc == 0, "pattern: %s", err.msg);
        double g_db = 10 * log10((hp[0] * hp[0] + hp[1] * hp[1]) / (hi[0] * hi[0] + hi[1] * hi[1]));
        /* behind: vertical angle off boresight by 20 deg in the local frame adds
         * 12 (20/65)^2, then the 30 dB floor */
        CHECK_CLOSE(g_db, behind ? 8 - 30 : 8, 1e-3, behind ? "back gain dBi" : "boresight dBi");
    }
}

/* A scene whose grid holds one user: generate() gives trace + paths_to_h. */
static void test_generate_one_user(void)
{
    invcsi_street_scene s;
    invcsi_street_scene_default(&s);
    s.n_regions = 1;
    s.regions[0] = (invcsi_street_region){40, 5, 40, 5, 0};   /* one point */
    invcsi_street_params p;
    invcsi_street_params_default(&p);
    p.nt = 16;
    p.nc = 8;
    invcsi_channels c;
    invcsi_street_stats st;
    invcsi_error err;
    int rc = invcsi_street_generate(&s, &p, 0, &c, &st, NULL, NULL, &err);
    CHECK(rc == 0, "generate: %s", err.msg);
    if (rc)
        return;
    CHECK(c.n == 1 && st.samples == 1 && st.grid_users == 1, "one sample (%d)", c.n);
    CHECK(c.pos && c.pos[0] == 40.0f && c.pos[1] == 5.0f && c.pos[2] == 1.5f, "pos");
    CHECK(!strcmp(c.cfg.model, "street"), "model '%s'", c.cfg.model);
    const double bs[3] = {s.bs.x, s.bs.y, s.bs.z}, ue[3] = {40, 5, 1.5};
    static invcsi_street_path many[5000];
    int n = 0;
    invcsi_street_trace(&s, &p, bs, ue, many, 5000, &n, &err);
    CHECK(n >= 3 && many[0].order == 0, "LOS user with reflections (%d paths)", n);
    CHECK(st.los == 1 && fabs(st.mean_paths - n) < 1e-12, "stats los %ld paths %g", st.los,
          st.mean_paths);
    float h[2 * 16 * 8];
    invcsi_street_paths_to_h(&s, &p, many, n, 0, h, &err);
    CHECK(!memcmp(h, c.h, sizeof h), "generate == trace + paths_to_h");
    invcsi_channels_free(&c);
}

int main(void)
{
    test_los_closed_form(INVCSI_STREET_TIMING_FIRST_PATH);
    test_los_closed_form(INVCSI_STREET_TIMING_ABSOLUTE);
    test_pattern();
    test_generate_one_user();
    return check_done("test_street_channel");
}
