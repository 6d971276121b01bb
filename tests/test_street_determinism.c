/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Street data sets are deterministic: the same seed gives the same bytes, 1 and 2 threads
 * give the same bytes, a smaller n is a prefix of a larger one, another seed picks other
 * users; pos and cfg are filled; the whole default grid is accounted for (samples + users
 * without a path = grid users); asking for more samples than users is a clear error.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "invcsi/street.h"

static long progress_calls, progress_last_done, progress_last_total;

static void progress(void *ctx, long done, long total)
{
    (void)ctx;
    progress_calls++;
    progress_last_done = done;
    progress_last_total = total;
}

static int generate(const invcsi_street_scene *s, uint64_t seed, int threads, long n,
                    invcsi_channels *c, invcsi_street_stats *st)
{
    invcsi_street_params p;
    invcsi_street_params_default(&p);
    p.seed = seed;
    p.threads = threads;
    invcsi_error err;
    int rc = invcsi_street_generate(s, &p, n, c, st, progress, NULL, &err);
    CHECK(rc == 0, "generate seed %llu threads %d n %ld: %s", (unsigned long long)seed, threads,
          n, err.msg);
    return rc;
}

static int same_bytes(const invcsi_channels *a, const invcsi_channels *b, long count)
{
    const long len = invcsi_channels_sample_len(a);
    return !memcmp(a->h, b->h, sizeof(float) * 2 * len * count) &&
           !memcmp(a->pos, b->pos, sizeof(float) * 3 * count);
}

int main(void)
{
    invcsi_street_scene s;
    invcsi_street_scene_default(&s);
    invcsi_channels a, b, c, d, e;
    invcsi_street_stats st;
    const long n = 800;
    if (generate(&s, 7, 1, n, &a, &st) || generate(&s, 7, 2, n, &b, NULL) ||
        generate(&s, 7, 2, n / 2, &c, NULL) || generate(&s, 8, 2, n, &d, NULL))
        return check_done("test_street_determinism");
    CHECK(a.n == n && b.n == n && c.n == n / 2, "sizes %d %d %d", a.n, b.n, c.n);
    CHECK(same_bytes(&a, &b, n), "1 thread == 2 threads");
    CHECK(same_bytes(&a, &c, n / 2), "n/2 samples are a prefix of n samples");
    CHECK(!same_bytes(&a, &d, n), "another seed picks other users");
    CHECK(progress_calls > 0 && progress_last_done == n && progress_last_total == n,
          "progress %ld calls, last %ld/%ld", progress_calls, progress_last_done,
          progress_last_total);

    /* repeat: same bytes */
    invcsi_channels a2;
    if (generate(&s, 7, 2, n, &a2, NULL) == 0) {
        CHECK(same_bytes(&a, &a2, n), "same seed, same bytes");
        invcsi_channels_free(&a2);
    }

    CHECK(!strcmp(a.cfg.model, "street") && a.cfg.seed == 7 && a.cfg.nt == 32 && a.cfg.nr == 1 &&
              a.cfg.nc == 32 && a.cfg.fc_ghz == 28 && a.cfg.bw_mhz == 50 && isnan(a.cfg.k_factor_db),
          "cfg");
    CHECK(a.cfg.ds_ns > 0 && a.cfg.ds_ns < 1000, "median delay spread %g ns", a.cfg.ds_ns);
    CHECK(st.traced == st.samples + st.no_path && st.samples == n, "stats %ld = %ld + %ld",
          st.traced, st.samples, st.no_path);
    /* positions on the grid, in a street, at 1.5 m; H finite and non-zero */
    int pos_ok = a.pos != NULL, h_ok = 1;
    const long len = invcsi_channels_sample_len(&a);
    for (int i = 0; i < a.n && pos_ok; i++) {
        const float *q = a.pos + 3 * i;
        int in_main = fabsf(q[1]) < 20 && fabsf(q[0]) < 300;
        int in_side = fabsf(q[0]) < 12.5f && fabsf(q[1]) < 200;
        pos_ok = (in_main || in_side) && q[2] == 1.5f;
        double e2 = 0;
        for (long j = 0; j < 2 * len; j++) {
            h_ok &= isfinite(a.h[2 * len * i + j]);
            e2 += (double)a.h[2 * len * i + j] * a.h[2 * len * i + j];
        }
        h_ok &= e2 > 0;
    }
    CHECK(pos_ok, "positions in the streets at 1.5 m");
    CHECK(h_ok, "H finite, every sample non-zero");

    /* the whole grid */
    if (generate(&s, 1, 2, 0, &e, &st) == 0) {
        printf("default scene: %ld grid users, %ld without a path (%.2f %%), %ld LOS (%.1f %%), "
               "%.2f paths per user, median DS %.1f ns, median power %.1f dB\n",
               st.grid_users, st.no_path, 100.0 * st.no_path / st.grid_users, st.los,
               100.0 * st.los / st.samples, st.mean_paths, st.median_ds_ns, st.median_power_db);
        CHECK(st.grid_users == 14240 && st.inside_buildings == 0, "grid %ld", st.grid_users);
        CHECK(st.samples + st.no_path == st.grid_users && e.n == st.samples, "all accounted");
        CHECK(st.no_path < st.grid_users / 5, "most users have a path (%ld without)", st.no_path);
        CHECK(progress_last_done == st.grid_users, "progress ends at the grid size");
        /* n = 800 of seed 1 is a prefix of the whole set of seed 1 */
        invcsi_channels f;
        if (generate(&s, 1, 1, n, &f, NULL) == 0) {
            CHECK(same_bytes(&e, &f, n), "n = 800 is a prefix of n = 0");
            invcsi_channels_free(&f);
        }
        /* more samples than users with a path, fewer than grid users */
        invcsi_street_params p;
        invcsi_street_params_default(&p);
        invcsi_error err;
        invcsi_channels g;
        int rc = invcsi_street_generate(&s, &p, st.samples + 1, &g, NULL, NULL, NULL, &err);
        CHECK(rc == INVCSI_EINVAL && strstr(err.msg, "have a path"), "too many: %s", err.msg);
        CHECK(g.h == NULL && g.pos == NULL && g.n == 0, "failed output empty");
        rc = invcsi_street_generate(&s, &p, 20000, &g, NULL, NULL, NULL, &err);
        CHECK(rc == INVCSI_EINVAL && strstr(err.msg, "only 14240 users"), "beyond grid: %s",
              err.msg);
        invcsi_channels_free(&e);
    }
    invcsi_channels_free(&a);
    invcsi_channels_free(&b);
    invcsi_channels_free(&c);
    invcsi_channels_free(&d);
    return check_done("test_street_determinism");
}
