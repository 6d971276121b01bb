/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Structure figures of street channels against CDL-C at the same sizes (32 BS antennas,
 * 1 UE antenna, 32 subcarriers, 50 MHz at 28 GHz): the share of channel energy in the
 * strongest 5 % of angular-delay coefficients (invcsi_dft_forward), mean over samples, for
 * all street users, the LOS and the NLOS ones; and how many street users have paths
 * beyond the delay window nc / bw (they wrap around in the delay domain).
 * Checks only what must hold for any sane tracer: shares in (0, 1], a few specular paths
 * are more compact than CDL-C's 13 clusters x 20 rays. (NLOS users come out more compact
 * than LOS ones: without diffraction or scattering they keep one to three reflections from
 * similar directions, while a LOS user adds the ground and wall reflections to the LOS.)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "invcsi/cdl.h"
#include "invcsi/street.h"
#include "invcsi/transform.h"

/* Energy share of the strongest `frac` of the complex angular-delay coefficients of
 * sample i. */
static double top_share(const invcsi_dft *d, const float *h, long m, double frac, float *x,
                        double *e)
{
    invcsi_dft_forward(d, h, x, 1);
    double total = 0;
    for (long j = 0; j < m; j++) {
        e[j] = (double)x[j] * x[j] + (double)x[m + j] * x[m + j];
        total += e[j];
    }
    const long keep = (long)ceil(frac * m);
    double top = 0;
    for (long k = 0; k < keep; k++) {
        long best = 0;
        for (long j = 1; j < m; j++)
            if (e[j] > e[best])
                best = j;
        top += e[best];
        e[best] = -1;
    }
    return total > 0 ? top / total : 0;
}

int main(void)
{
    const int n = 1500;
    invcsi_error err;
    invcsi_street_scene s;
    invcsi_street_scene_default(&s);
    invcsi_street_params p;
    invcsi_street_params_default(&p);
    invcsi_channels st, cdl;
    int rc = invcsi_street_generate(&s, &p, n, &st, NULL, NULL, NULL, &err);
    CHECK(rc == 0, "street: %s", err.msg);
    invcsi_cdl_params cp;
    invcsi_cdl_params_default(&cp, INVCSI_CDL_C);
    int rc2 = invcsi_cdl_generate(&cp, n, &cdl, NULL, NULL, &err);
    CHECK(rc2 == 0, "cdl: %s", err.msg);
    if (rc || rc2)
        return check_done("test_street_structure");

    invcsi_dft *d;
    CHECK(invcsi_dft_create(&d, 1, 32, 32, &err) == 0, "dft: %s", err.msg);
    const long m = 32 * 32;
    float *x = malloc(2 * m * sizeof *x);
    double *e = malloc(m * sizeof *e);
    const long maxp = invcsi_street_max_paths(&s, &p);
    invcsi_street_path *paths = malloc(maxp * sizeof *paths);
    const double window_ns = 1e3 * p.nc / p.bw_mhz;
    double share_all = 0, share_los = 0, share_nlos = 0, share_cdl = 0;
    int n_los = 0, n_nlos = 0, n_wrap = 0;
    double max_excess = 0;
    for (int i = 0; i < n; i++) {
        const double sh = top_share(d, st.h + 2 * m * i, m, 0.05, x, e);
        share_all += sh;
        const double bs[3] = {s.bs.x, s.bs.y, s.bs.z};
        const double ue[3] = {st.pos[3 * i], st.pos[3 * i + 1], st.pos[3 * i + 2]};
        int np = 0;
        invcsi_street_trace(&s, &p, bs, ue, paths, maxp, &np, &err);
        const int los = np > 0 && paths[0].order == 0;
        if (los) {
            share_los += sh;
            n_los++;
        } else {
            share_nlos += sh;
            n_nlos++;
        }
        double excess = np > 0 ? paths[np - 1].delay_ns - paths[0].delay_ns : 0;
        max_excess = fmax(max_excess, excess);
        n_wrap += excess >= window_ns;
        share_cdl += top_share(d, cdl.h + 2 * m * i, m, 0.05, x, e);
    }
    share_all /= n;
    share_cdl /= n;
    share_los /= n_los > 0 ? n_los : 1;
    share_nlos /= n_nlos > 0 ? n_nlos : 1;
    printf("energy in the strongest 5 %% of angular-delay coefficients (32x1x32, 28 GHz, "
           "50 MHz, mean over %d samples):\n"
           "  street %.4f (LOS users %.4f: %d, NLOS users %.4f: %d)\n"
           "  CDL-C  %.4f (generator defaults: median DS %g ns, std of log10 DS %g)\n",
           n, share_all, share_los, n_los, share_nlos, n_nlos, share_cdl, cp.ds_ns, cp.ds_lgstd);
    printf("street excess delays: largest %.0f ns; %d of %d users have a path beyond the "
           "%.0f ns window (wraps around)\n",
           max_excess, n_wrap, n, window_ns);
    CHECK(share_all > 0 && share_all <= 1 && share_cdl > 0 && share_cdl <= 1, "shares in (0, 1]");
    CHECK(share_all > share_cdl, "street (%.3f) more compact than CDL-C (%.3f)", share_all,
          share_cdl);
    CHECK(n_los > 0 && n_nlos > 0, "both LOS (%d) and NLOS (%d) users", n_los, n_nlos);
    free(x);
    free(e);
    free(paths);
    invcsi_dft_destroy(d);
    invcsi_channels_free(&st);
    invcsi_channels_free(&cdl);
    return check_done("test_street_structure");
}
