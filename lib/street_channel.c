/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Street ray tracer, paths -> channels: one user's H from its paths through the CDL
 * generator's own ray-to-H code (invcsi_cdl_rays_to_h: same arrays, same subcarriers), and
 * the data set over the user grid.
 */
#include "street_internal.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "invcsi/cdl.h"
#include "invcsi/rng.h"

#define DEG (M_PI / 180.0)
#define USERS_PER_BLOCK 512   /* users traced in parallel between two selection steps */

/* ------------------------------------------------------------------ one user */

/* Power gain of the BS element towards (az, zen), degrees: 1 for isotropic elements, else
 * TR 38.901 Table 7.3-1 in the local frame of eq. 7.1-7/7.1-8 (bearing = boresight
 * azimuth = array axis - 90 deg, downtilt beta, no slant). */
static double bs_element_gain(const invcsi_street_bs *bs, double az_deg, double zen_deg)
{
    if (bs->pattern != INVCSI_STREET_PATTERN_TR38901)
        return 1.0;
    const double beta = bs->downtilt_deg * DEG;
    const double th = zen_deg * DEG, ph = (az_deg - (bs->array_axis_deg - 90.0)) * DEG;
    const double ct = cos(beta) * cos(th) + sin(beta) * cos(ph) * sin(th);
    const double th_l = acos(fmin(fmax(ct, -1.0), 1.0)) / DEG;
    const double ph_l =
        atan2(sin(ph) * sin(th), cos(beta) * sin(th) * cos(ph) - sin(beta) * cos(th)) / DEG;
    const double a_v = -fmin(12.0 * pow((th_l - 90.0) / 65.0, 2), 30.0);
    const double a_h = -fmin(12.0 * pow(ph_l / 65.0, 2), 30.0);
    const double a_db = 8.0 - fmin(-(a_v + a_h), 30.0);
    return pow(10.0, a_db / 10.0);
}

/* The CDL parameters invcsi_cdl_rays_to_h reads: arrays, subcarriers, remedy. */
static void cdl_view(const invcsi_street_params *p, invcsi_cdl_params *cp)
{
    invcsi_cdl_params_default(cp, INVCSI_CDL_A);
    cp->nt = p->nt;
    cp->nr = p->nr;
    cp->nc = p->nc;
    cp->fc_ghz = p->fc_ghz;
    cp->bw_mhz = p->bw_mhz;
    cp->nc_full = p->nc_full;
}

/* Paths -> rays in the CDL generator's conventions -> H. rays holds n_paths entries.
 * *ds_ns (may be NULL) receives the power-weighted RMS delay spread. */
static int paths_to_h(const invcsi_street_scene *s, const invcsi_street_params *p,
                      const invcsi_cdl_params *cp, const invcsi_street_path *paths, int n_paths,
                      double ue_axis_deg, invcsi_cdl_ray *rays, float *h, double *ds_ns,
                      invcsi_error *err)
{
    const double lambda = STREET_C0 / (p->fc_ghz * 1e9);
    double tau0 = 0.0;
    if (p->timing == INVCSI_STREET_TIMING_FIRST_PATH && n_paths > 0) {
        tau0 = paths[0].delay_ns;
        for (int i = 1; i < n_paths; i++)
            tau0 = fmin(tau0, paths[i].delay_ns);
    }
    double sp = 0.0, s1 = 0.0, s2 = 0.0;
    for (int i = 0; i < n_paths; i++) {
        const invcsi_street_path *q = &paths[i];
        const double g2 = q->gain_re * q->gain_re + q->gain_im * q->gain_im;
        const double power = g2 * bs_element_gain(&s->bs, q->aod_deg, q->zod_deg);
        /* carrier phase e^{-j 2 pi d / lambda}, reduced to one wavelength first so the
         * phase keeps its precision at any distance */
        const double cycles = fmod(q->length_m / lambda, 1.0);
        const double tau = q->delay_ns - tau0;
        rays[i] = (invcsi_cdl_ray){
            .delay_ns = tau,
            .power = power,
            /* the CDL BS array lies along y: azimuths relative to orientation axis - 90 */
            .aod_deg = q->aod_deg - (s->bs.array_axis_deg - 90.0),
            .aoa_deg = q->aoa_deg,
            .zod_deg = q->zod_deg,
            .zoa_deg = q->zoa_deg,
            .phase_rad = atan2(q->gain_im, q->gain_re) - 2.0 * M_PI * cycles,
            .cluster = i,
        };
        sp += power;
        s1 += power * tau;
        s2 += power * tau * tau;
    }
    if (ds_ns)
        *ds_ns = sp > 0 ? sqrt(fmax(s2 / sp - (s1 / sp) * (s1 / sp), 0.0)) : 0.0;
    if (n_paths == 0) {
        memset(h, 0, 2 * sizeof(float) * (size_t)p->nr * p->nt * p->nc);
        return INVCSI_OK;
    }
    /* the UE array (along its local y) has orientation axis - 90 in the CDL form */
    return invcsi_cdl_rays_to_h(cp, rays, n_paths, ue_axis_deg - 90.0, h, err);
}

int invcsi_street_paths_to_h(const invcsi_street_scene *s, const invcsi_street_params *p,
                             const invcsi_street_path *paths, int n_paths, double ue_axis_deg,
                             float *h, invcsi_error *err)
{
    int rc = street_check_all(s, p, err);
    if (rc)
        return rc;
    if (n_paths < 0 || (n_paths > 0 && !paths) || !h || !isfinite(ue_axis_deg))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "street: bad path list (n_paths=%d), UE axis or no output",
                                n_paths);
    invcsi_cdl_params cp;
    cdl_view(p, &cp);
    invcsi_cdl_ray *rays = malloc((size_t)(n_paths > 0 ? n_paths : 1) * sizeof *rays);
    if (!rays)
        return invcsi_error_set(err, INVCSI_ENOMEM, "street: out of memory for %d rays", n_paths);
    rc = paths_to_h(s, p, &cp, paths, n_paths, ue_axis_deg, rays, h, NULL, err);
    free(rays);
    return rc;
}

/* ------------------------------------------------------------------ data set */

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, long n)
{
    if (n <= 0)
        return 0.0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Per-thread scratch. */
typedef struct worker {
    invcsi_street_path *paths;
    invcsi_cdl_ray *rays;
} worker;

/* One block's per-user results. */
typedef struct block {
    float *h;            /* USERS_PER_BLOCK samples */
    int *n_paths;        /* 0: no path */
    int *los;
    double *ds_ns, *power_db;
} block;

int invcsi_street_generate(const invcsi_street_scene *s, const invcsi_street_params *p, long n,
                           invcsi_channels *out, invcsi_street_stats *stats,
                           invcsi_progress_fn progress, void *progress_ctx, invcsi_error *err)
{
    int rc = street_check_all(s, p, err);
    if (rc)
        return rc;
    if (!out)
        return invcsi_error_set(err, INVCSI_EINVAL, "street: no output channel set given");
    if (n < 0)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "street: number of samples must be >= 0 (0 = every user with a "
                                "path; got %ld)",
                                n);
    memset(out, 0, sizeof *out);

    double *upos = NULL;
    int *ureg = NULL;
    long n_users = 0, n_inside = 0;
    rc = invcsi_street_users(s, &upos, &ureg, &n_users, &n_inside, err);
    if (rc)
        return rc;
    if (n_users == 0) {
        free(upos);
        free(ureg);
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "street: no user grid point lies outside the buildings (%ld "
                                "inside)",
                                n_inside);
    }
    if (n > n_users) {
        free(upos);
        free(ureg);
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "street: %ld samples asked for, but the scene's user grid has "
                                "only %ld users (use a smaller --samples, or 0 for all)",
                                n, n_users);
    }

    const int nthreads = p->threads > 0 ? p->threads : omp_get_max_threads();
    const long len = (long)p->nr * p->nt * p->nc;
    const long max_paths = invcsi_street_max_paths(s, p);
    const long target = n > 0 ? n : n_users;
    long cap = n > 0 ? n : (n_users < 4096 ? n_users : 4096);

    int *perm = malloc((size_t)n_users * sizeof *perm);
    street_tracer *tracer = malloc(sizeof *tracer);
    worker *wk = calloc((size_t)nthreads, sizeof *wk);
    block bl = {0};
    bl.h = malloc((size_t)USERS_PER_BLOCK * 2 * len * sizeof(float));
    bl.n_paths = malloc(USERS_PER_BLOCK * sizeof(int));
    bl.los = malloc(USERS_PER_BLOCK * sizeof(int));
    bl.ds_ns = malloc(USERS_PER_BLOCK * sizeof(double));
    bl.power_db = malloc(USERS_PER_BLOCK * sizeof(double));
    float *h = malloc((size_t)cap * 2 * len * sizeof(float));
    float *pos = malloc((size_t)cap * 3 * sizeof(float));
    double *ds = malloc((size_t)cap * sizeof(double));
    double *pw = malloc((size_t)cap * sizeof(double));
    int ok = perm && tracer && wk && bl.h && bl.n_paths && bl.los && bl.ds_ns && bl.power_db &&
             h && pos && ds && pw;
    for (int i = 0; ok && i < nthreads; i++) {
        wk[i].paths = malloc((size_t)max_paths * sizeof *wk[i].paths);
        wk[i].rays = malloc((size_t)max_paths * sizeof *wk[i].rays);
        ok = wk[i].paths && wk[i].rays;
    }
    long collected = 0, consumed = 0, no_path = 0, los = 0;
    double path_sum = 0.0;
    if (!ok) {
        rc = invcsi_error_set(err, INVCSI_ENOMEM,
                              "street: out of memory (%ld users, %d threads, %ld paths per user "
                              "at most)",
                              n_users, nthreads, max_paths);
        goto done;
    }

    /* the seeded user order: stream 0 of the seed */
    for (long i = 0; i < n_users; i++)
        perm[i] = (int)i;
    invcsi_rng rng;
    invcsi_rng_init(&rng, p->seed, 0);
    invcsi_rng_shuffle(&rng, perm, (int)n_users);
    street_tracer_init(tracer, s, p);
    invcsi_cdl_params cp;
    cdl_view(p, &cp);

    for (long start = 0; start < n_users && collected < target; start += USERS_PER_BLOCK) {
        const int count = (int)(n_users - start < USERS_PER_BLOCK ? n_users - start : USERS_PER_BLOCK);
        int failed = 0;
        invcsi_error werr;
        invcsi_error_clear(&werr);
#pragma omp parallel for num_threads(nthreads) schedule(dynamic, 4)
        for (int i = 0; i < count; i++) {
            int stop;
#pragma omp atomic read
            stop = failed;
            if (stop)
                continue;
            worker *w = &wk[omp_get_thread_num()];
            const long u = perm[start + i];
            const double *rx = upos + 3 * u;
            const double tx[3] = {s->bs.x, s->bs.y, s->bs.z};
            int np = street_trace_pair(tracer, tx, rx, w->paths, max_paths);
            bl.n_paths[i] = np > 0 ? np : 0;
            bl.los[i] = np > 0 && w->paths[0].order == 0;
            if (np <= 0)   /* np < 0 cannot happen: max_paths bounds every sequence */
                continue;
            float *hu = bl.h + 2 * len * i;
            invcsi_error e;
            if (paths_to_h(s, p, &cp, w->paths, np, s->regions[ureg[u]].array_axis_deg, w->rays,
                           hu, &bl.ds_ns[i], &e) != INVCSI_OK) {
#pragma omp critical(street_fail)
                if (!failed) {
                    werr = e;
#pragma omp atomic write
                    failed = 1;
                }
                continue;
            }
            double e2 = 0.0;
            for (long q = 0; q < 2 * len; q++)
                e2 += (double)hu[q] * hu[q];
            bl.power_db[i] = 10.0 * log10(e2 / len);
        }
        if (failed) {
            rc = err ? (*err = werr, werr.code) : werr.code;
            goto done;
        }
        /* selection in permutation order: independent of the threads */
        for (int i = 0; i < count && collected < target; i++) {
            consumed++;
            if (bl.n_paths[i] == 0) {
                no_path++;
                continue;
            }
            if (collected == cap) {
                long ncap = cap * 2 < n_users ? cap * 2 : n_users;
                float *nh = realloc(h, (size_t)ncap * 2 * len * sizeof(float));
                if (nh)
                    h = nh;
                float *npos = realloc(pos, (size_t)ncap * 3 * sizeof(float));
                if (npos)
                    pos = npos;
                double *nds = realloc(ds, (size_t)ncap * sizeof(double));
                if (nds)
                    ds = nds;
                double *npw = realloc(pw, (size_t)ncap * sizeof(double));
                if (npw)
                    pw = npw;
                if (!nh || !npos || !nds || !npw) {
                    rc = invcsi_error_set(err, INVCSI_ENOMEM,
                                          "street: out of memory for %ld samples", ncap);
                    goto done;
                }
                cap = ncap;
            }
            memcpy(h + 2 * len * collected, bl.h + 2 * len * i, 2 * len * sizeof(float));
            const long u = perm[start + i];
            for (int a = 0; a < 3; a++)
                pos[3 * collected + a] = (float)upos[3 * u + a];
            ds[collected] = bl.ds_ns[i];
            pw[collected] = bl.power_db[i];
            los += bl.los[i];
            path_sum += bl.n_paths[i];
            collected++;
        }
        if (progress)
            progress(progress_ctx, n > 0 ? collected : start + count, n > 0 ? n : n_users);
    }
    if (collected < target && n > 0) {
        rc = invcsi_error_set(err, INVCSI_EINVAL,
                              "street: only %ld of the %ld grid users have a path (%ld have none), "
                              "fewer than the %ld samples asked for",
                              collected, n_users, no_path, n);
        goto done;
    }
    if (collected == 0) {
        rc = invcsi_error_set(err, INVCSI_EINVAL,
                              "street: none of the %ld grid users has a path to the BS", n_users);
        goto done;
    }

    /* hand the buffers to out, shrunk to size */
    out->n = (int)collected;
    out->nr = out->cfg.nr = p->nr;
    out->nt = out->cfg.nt = p->nt;
    out->nc = out->cfg.nc = p->nc;
    if (collected < cap) {   /* shrink; on failure the larger block is kept */
        float *nh = realloc(h, (size_t)collected * 2 * len * sizeof(float));
        if (nh)
            h = nh;
        float *npos = realloc(pos, (size_t)collected * 3 * sizeof(float));
        if (npos)
            pos = npos;
    }
    out->h = h;
    out->pos = pos;
    h = NULL;
    pos = NULL;
    snprintf(out->cfg.model, sizeof out->cfg.model, "street");
    out->cfg.fc_ghz = p->fc_ghz;
    out->cfg.bw_mhz = p->bw_mhz;
    out->cfg.k_factor_db = NAN;
    out->cfg.seed = p->seed;
    /* delay spread: median and std of log10 over the samples with DS > 0 (a lone path has
     * none) */
    {
        long m = 0;
        double l1 = 0.0, l2 = 0.0;
        for (long i = 0; i < collected; i++)
            if (ds[i] > 0) {
                const double l = log10(ds[i]);
                l1 += l;
                l2 += l * l;
                ds[m++] = ds[i];
            }
        out->cfg.ds_lgstd = m > 1 ? sqrt(fmax(l2 / m - (l1 / m) * (l1 / m), 0.0)) : 0.0;
        out->cfg.ds_ns = median(ds, m);
    }
    if (stats) {
        memset(stats, 0, sizeof *stats);
        stats->grid_users = n_users + n_inside;
        stats->inside_buildings = n_inside;
        stats->traced = consumed;
        stats->no_path = no_path;
        stats->samples = collected;
        stats->los = los;
        stats->mean_paths = path_sum / (double)collected;
        stats->median_ds_ns = out->cfg.ds_ns;
        stats->median_power_db = median(pw, collected);
    }
    rc = INVCSI_OK;

done:
    if (wk)
        for (int i = 0; i < nthreads; i++) {
            free(wk[i].paths);
            free(wk[i].rays);
        }
    free(wk);
    free(tracer);
    free(perm);
    free(upos);
    free(ureg);
    free(bl.h);
    free(bl.n_paths);
    free(bl.los);
    free(bl.ds_ns);
    free(bl.power_db);
    free(h);
    free(pos);
    free(ds);
    free(pw);
    if (rc != INVCSI_OK)
        invcsi_channels_free(out);
    return rc;
}
