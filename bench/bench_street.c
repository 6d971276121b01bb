/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * bench_street: street ray tracer speed (users/s with 1 and 2 threads, identical bytes
 * checked), the data set's figures (users, users without a path, LOS share, paths per
 * user, delay spread, power), and the angular-delay compactness of street vs CDL-C
 * channels: the share of channel energy in the strongest 5 % of angular-delay
 * coefficients (invcsi_dft_forward), mean over samples.
 * Side modes for the coverage figure (apps/street_plot.py): --mat writes the data set,
 * --paths-json one user's paths, --print-scene the scene.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "invcsi/cdl.h"
#include "invcsi/matfile.h"
#include "invcsi/street.h"
#include "invcsi/transform.h"

static const char *PROG = "bench_street";

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: bench_street [options]\n"
            "Measures invcsi_street_generate (users/s, 1 and 2 threads) on the default street\n"
            "scene or a scene file, prints the data set's figures and the energy share of the\n"
            "strongest 5 %% angular-delay coefficients, street vs CDL-C.\n"
            "  -n, --samples N      users per timed run; 0 = every grid user with a path [0]\n"
            "      --scene FILE     scene JSON [the built-in default]\n"
            "      --max-order K    reflections per path [2]\n"
            "      --repeat R       runs per thread count, best kept [2]\n"
            "      --mat FILE       also write the whole data set (every user with a path) as\n"
            "                       FILE.mat (H, config, pos) for apps/street_plot.py\n"
            "      --paths-json F   also write the paths of the user at --user as JSON\n"
            "      --user X,Y       that user's position (z = the scene's user height) [0,100]\n"
            "      --print-scene    print the scene JSON and exit\n"
            "  -h, --help           this text\n");
}

/* Mean over samples of the energy share of the strongest `frac` of the angular-delay
 * coefficients (complex entries of the 2D DFT image). */
static double top_energy_share(const invcsi_channels *c, double frac)
{
    invcsi_dft *d;
    invcsi_error err;
    if (invcsi_dft_create(&d, c->nr, c->nt, c->nc, &err)) {
        fprintf(stderr, "%s: %s\n", PROG, err.msg);
        exit(1);
    }
    const long m = (long)c->nr * c->nt * c->nc, len = invcsi_dft_real_len(d);
    const long keep = (long)ceil(frac * m);
    float *x = malloc(len * sizeof *x);
    double *e = malloc(m * sizeof *e);
    double sum_share = 0;
    for (int i = 0; i < c->n; i++) {
        invcsi_dft_forward(d, c->h + 2 * m * i, x, 1);
        double total = 0;
        for (long j = 0; j < m; j++) {
            e[j] = (double)x[j] * x[j] + (double)x[m + j] * x[m + j];
            total += e[j];
        }
        /* partial selection: the keep largest (keep is small, so repeated max) */
        double top = 0;
        for (long k = 0; k < keep; k++) {
            long best = 0;
            for (long j = 1; j < m; j++)
                if (e[j] > e[best])
                    best = j;
            top += e[best];
            e[best] = -1;
        }
        sum_share += total > 0 ? top / total : 0;
    }
    free(x);
    free(e);
    invcsi_dft_destroy(d);
    return sum_share / c->n;
}

static double timed_run(const invcsi_street_scene *s, invcsi_street_params *p, long n, int threads,
                        int repeat, invcsi_channels *keep, invcsi_street_stats *st)
{
    double best = 1e300;
    p->threads = threads;
    for (int r = 0; r < repeat; r++) {
        invcsi_channels c;
        invcsi_error err;
        double t0 = cli_now();
        if (invcsi_street_generate(s, p, n, &c, st, NULL, NULL, &err)) {
            fprintf(stderr, "%s: %s\n", PROG, err.msg);
            exit(1);
        }
        double dt = cli_now() - t0;
        if (dt < best)
            best = dt;
        if (keep && r == 0)
            *keep = c;
        else
            invcsi_channels_free(&c);
    }
    return (double)st->traced / best;
}

int main(int argc, char **argv)
{
    invcsi_street_scene scene;
    invcsi_street_scene_default(&scene);
    invcsi_street_params p;
    invcsi_street_params_default(&p);
    int n = 0, repeat = 2, print_scene = 0;
    const char *mat = NULL, *paths_json = NULL;
    double ux = 0, uy = 100;
    static const struct option opts[] = {
        {"samples", required_argument, 0, 'n'}, {"scene", required_argument, 0, 1},
        {"max-order", required_argument, 0, 2}, {"repeat", required_argument, 0, 3},
        {"mat", required_argument, 0, 4},       {"paths-json", required_argument, 0, 5},
        {"user", required_argument, 0, 6},      {"print-scene", no_argument, 0, 7},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
        int bad = 0;
        invcsi_error err;
        switch (o) {
        case 'n': bad = cli_parse_int(PROG, "--samples", optarg, 0, 100000000, &n); break;
        case 1:
            if (invcsi_street_scene_load(optarg, &scene, &err)) {
                fprintf(stderr, "%s: %s\n", PROG, err.msg);
                return 2;
            }
            break;
        case 2: bad = cli_parse_int(PROG, "--max-order", optarg, 0, 3, &p.max_order); break;
        case 3: bad = cli_parse_int(PROG, "--repeat", optarg, 1, 100, &repeat); break;
        case 4: mat = optarg; break;
        case 5: paths_json = optarg; break;
        case 6:
            if (sscanf(optarg, "%lf,%lf", &ux, &uy) != 2) {
                fprintf(stderr, "%s: --user wants X,Y (got '%s')\n", PROG, optarg);
                return 2;
            }
            break;
        case 7: print_scene = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (bad)
            return 2;
    }
    invcsi_error err;
    if (print_scene) {
        char *text;
        if (invcsi_street_scene_to_json(&scene, &text, &err)) {
            fprintf(stderr, "%s: %s\n", PROG, err.msg);
            return 1;
        }
        fputs(text, stdout);
        free(text);
        return 0;
    }

    /* speed, 1 and 2 threads, same bytes */
    invcsi_channels c1, c2;
    invcsi_street_stats st;
    double r1 = timed_run(&scene, &p, n, 1, repeat, &c1, &st);
    double r2 = timed_run(&scene, &p, n, 2, repeat, &c2, &st);
    long len = invcsi_channels_sample_len(&c1);
    int same = c1.n == c2.n && !memcmp(c1.h, c2.h, 2 * sizeof(float) * len * c1.n) &&
               !memcmp(c1.pos, c2.pos, 3 * sizeof(float) * c1.n);
    printf("scene:             %s, %d buildings, max order %d, threshold %g dB\n", scene.name,
           scene.n_buildings, p.max_order, p.min_rel_db);
    printf("grid users:        %ld (%ld more inside buildings, left out)\n",
           st.grid_users - st.inside_buildings, st.inside_buildings);
    printf("traced users:      %ld, without any path: %ld (%.2f %%)\n", st.traced, st.no_path,
           100.0 * st.no_path / st.traced);
    printf("samples:           %ld, LOS %.1f %%, %.2f paths per user\n", st.samples,
           100.0 * st.los / st.samples, st.mean_paths);
    printf("delay spread:      median %.1f ns (std of log10 %.2f); median power per entry "
           "%.1f dB\n",
           st.median_ds_ns, c1.cfg.ds_lgstd, st.median_power_db);
    printf("speed:             %.0f users/s (1 thread), %.0f users/s (2 threads), x%.2f, "
           "identical bytes: %s\n",
           r1, r2, r2 / r1, same ? "yes" : "NO");

    /* angular-delay compactness, street vs CDL-C at the same sizes: CDL-C with every
     * sample at the median delay spread, and with the generator's default spread of DS */
    printf("energy in the strongest 5 %% of angular-delay coefficients (%dx%dx%d, %g GHz, %g "
           "MHz): street %.3f (%d users)\n",
           p.nt, p.nr, p.nc, p.fc_ghz, p.bw_mhz, top_energy_share(&c1, 0.05), c1.n);
    invcsi_cdl_params cp;
    invcsi_cdl_params_default(&cp, INVCSI_CDL_C);
    const double lgstd_default = cp.ds_lgstd;
    for (int v = 0; v < (lgstd_default > 0 ? 2 : 1); v++) {
        cp.nt = p.nt;
        cp.nr = p.nr;
        cp.nc = p.nc;
        cp.fc_ghz = p.fc_ghz;
        cp.bw_mhz = p.bw_mhz;
        cp.ds_lgstd = v == 0 ? 0.0 : lgstd_default;
        invcsi_channels cdl;
        if (invcsi_cdl_generate(&cp, c1.n < 5000 ? c1.n : 5000, &cdl, NULL, NULL, &err)) {
            fprintf(stderr, "%s: %s\n", PROG, err.msg);
            return 1;
        }
        printf("                   CDL-C %.3f (%d samples, DS %g ns, std of log10 DS %g)\n",
               top_energy_share(&cdl, 0.05), cdl.n, cp.ds_ns, cp.ds_lgstd);
        invcsi_channels_free(&cdl);
    }

    if (mat) {
        if (invcsi_mat_write_channels(mat, &c1, "bench_street --mat", &err)) {
            fprintf(stderr, "%s: %s\n", PROG, err.msg);
            return 1;
        }
        printf("wrote:             %s\n", mat);
    }
    if (paths_json) {
        long maxp = invcsi_street_max_paths(&scene, &p);
        invcsi_street_path *paths = malloc(maxp * sizeof *paths);
        const double tx[3] = {scene.bs.x, scene.bs.y, scene.bs.z};
        const double rx[3] = {ux, uy, scene.user_z};
        int np;
        char *text;
        if (!paths || invcsi_street_trace(&scene, &p, tx, rx, paths, maxp, &np, &err) ||
            invcsi_street_paths_to_json(paths, np, tx, rx, &text, &err)) {
            fprintf(stderr, "%s: %s\n", PROG, paths ? err.msg : "out of memory");
            return 1;
        }
        FILE *f = fopen(paths_json, "w");
        if (!f || fputs(text, f) < 0 || fclose(f)) {
            fprintf(stderr, "%s: cannot write %s\n", PROG, paths_json);
            return 1;
        }
        printf("wrote:             %s (%d paths of the user at %g, %g)\n", paths_json, np, ux, uy);
        free(text);
        free(paths);
    }
    invcsi_channels_free(&c1);
    invcsi_channels_free(&c2);
    return same ? 0 : 1;
}
