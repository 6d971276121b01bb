/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * 3GPP TR 38.901 CDL channel generator (section 7.7.1 steps 1-4, 7.7.5.1, 7.7.6).
 *
 * One sample, in the order the random numbers are drawn from stream `index` of the seed
 * (one stream per sample, so the output does not depend on the thread count):
 *   1. delay spread DS = 10^(log10(ds_ns) + ds_lgstd * N(0,1))  (always drawn);
 *   2. UE array azimuth orientation, uniform in [0, 360) deg;
 *   3. per table entry: the LOS ray (CDL-D/E entry 0) gets one phase; every cluster gets three
 *      random permutations of the 20 ray offsets (AoA, ZoD, ZoA, coupled against AoD in
 *      table order: step 2 of 7.7.1) and 20 ray phases uniform in (-pi, pi).
 * Ray angles (step 1): cluster angle + c_* * alpha_m, alpha_m of Table 7.5-3.
 * Channel (step 4 with 7.5 step 11): isotropic single-polarised elements, so the 2x2
 * polarisation matrix of eq. 7.5-28 reduces to one random phase per ray and the XPR of the
 * tables is not used:
 *   H[r][t][k] = sum_n exp(-j 2 pi f_k tau_n) sum_m sqrt(P_nm) e^{j Phi_nm} a_UE,r a_BS,t,
 * computed separably: per cluster the nr x nt ray sum G_n, then G_n times the cluster's
 * frequency response over k. That makes a sample cost O(rays * nr * nt + clusters * nr *
 * nt * nc) instead of O(rays * nr * nt * nc).
 */
#include "cdl_internal.h"

#include <complex.h>
#include <ctype.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "invcsi/rng.h"

/* Table 7.5-3, in pairs +-a (unit RMS: sum a^2 / 20 = 1.0000). */
const double invcsi_cdl_ray_offsets[INVCSI_CDL_RAYS_PER_CLUSTER] = {
    0.0447, -0.0447, 0.1413, -0.1413, 0.2492, -0.2492, 0.3715, -0.3715, 0.5129, -0.5129,
    0.6797, -0.6797, 0.8844, -0.8844, 1.1481, -1.1481, 1.5195, -1.5195, 2.1551, -2.1551};

#define DEG (M_PI / 180.0)
#define M_RAYS INVCSI_CDL_RAYS_PER_CLUSTER

/* Largest nr*nt*nc accepted: 2^24 complex values (128 MB of float) per sample. */
#define CDL_MAX_SAMPLE_LEN (1L << 24)
#define CDL_MAX_NC_FULL (1 << 22)

/* ---------------------------------------------------------------- names, defaults */

static const char *const model_names[] = {"cdl-a", "cdl-b", "cdl-c", "cdl-d", "cdl-e"};

const char *invcsi_cdl_model_name(invcsi_cdl_model model)
{
    if ((int)model < 0 || (int)model > INVCSI_CDL_E)
        return "cdl-?";
    return model_names[model];
}

int invcsi_cdl_model_parse(const char *name, invcsi_cdl_model *model, invcsi_error *err)
{
    if (name) {
        /* Accept "cdl-c", "CDL-C", "cdl_c", "cdlc" and "c". */
        char buf[8];
        size_t j = 0;
        for (const char *s = name; *s && j < sizeof buf - 1; s++)
            if (*s != '-' && *s != '_')
                buf[j++] = (char)tolower((unsigned char)*s);
        buf[j] = '\0';
        const char *letter = NULL;
        if (strlen(name) < 8 && j == 4 && strncmp(buf, "cdl", 3) == 0)
            letter = buf + 3;
        else if (strlen(name) == 1)
            letter = buf;
        if (letter && *letter >= 'a' && *letter <= 'e') {
            *model = (invcsi_cdl_model)(*letter - 'a');
            return INVCSI_OK;
        }
    }
    return invcsi_error_set(err, INVCSI_EINVAL,
                            "unknown CDL model '%s' (expected cdl-a, cdl-b, cdl-c, cdl-d or cdl-e)",
                            name ? name : "(null)");
}

void invcsi_cdl_params_default(invcsi_cdl_params *p, invcsi_cdl_model model)
{
    memset(p, 0, sizeof *p);
    p->model = model;
    p->nt = 32;
    p->nr = 1;
    p->nc = 32;
    p->fc_ghz = 28.0;
    p->bw_mhz = 50.0;
    /* TR 38.901 Table 7.5-6, UMi street canyon NLOS at 28 GHz: median
     * lgDS = -0.24 log10(1 + fc) - 6.83 -> 66 ns, and std of lgDS
     * 0.16 log10(1 + fc) + 0.28 = 0.51. Drawing DS per sample makes a data set a
     * population: at a fixed DS every CDL sample lies in the span of the same ~460
     * fixed rays and a linear PCA code at CR 1/16 reaches -35 dB (measured), which
     * no CSI-feedback comparison can learn anything from. */
    p->ds_ns = 66.0;
    p->ds_lgstd = 0.51;
    p->asd_deg = NAN;
    p->asa_deg = NAN;
    p->k_factor_db = NAN;
    p->nc_full = 0;
    p->seed = 1;
    p->threads = 0;
}

double invcsi_cdl_max_delay_ns(invcsi_cdl_model model, double ds_ns)
{
    const invcsi_cdl_table *t = invcsi_cdl_table_get(model);
    if (!t)
        return NAN;
    double m = 0.0;
    for (int n = 0; n < t->n; n++)
        m = fmax(m, t->delay[n]);
    return m * ds_ns;
}

double invcsi_delay_window_ns(int nc, double bw_mhz)
{
    return 1e3 * nc / bw_mhz;   /* nc / (bw_mhz * 1e6 Hz) seconds, in ns */
}

double invcsi_cdl_model_k_factor_db(invcsi_cdl_model model)
{
    const invcsi_cdl_table *t = invcsi_cdl_table_get(model);
    if (!t || !t->los)
        return NAN;
    double nlos = 0.0;
    for (int n = 1; n < t->n; n++)
        nlos += pow(10.0, t->power_db[n] / 10.0);
    return t->power_db[0] - 10.0 * log10(nlos);
}

/* ---------------------------------------------------------------- parameter check */

int invcsi_cdl_params_check(const invcsi_cdl_params *p, invcsi_error *err)
{
    if (!p)
        return invcsi_error_set(err, INVCSI_EINVAL, "cdl: no parameters given");
    if ((int)p->model < 0 || (int)p->model > INVCSI_CDL_E)
        return invcsi_error_set(err, INVCSI_EINVAL, "cdl: unknown model number %d (0..4 = A..E)",
                                (int)p->model);
    if (p->nt < 1 || p->nr < 1 || p->nc < 1)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "cdl: nt, nr and nc must be >= 1 (got nt=%d nr=%d nc=%d)", p->nt,
                                p->nr, p->nc);
    if ((double)p->nt * p->nr * p->nc > (double)CDL_MAX_SAMPLE_LEN)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "cdl: nt*nr*nc = %.0f complex values per sample is more than the "
                                "limit of %ld",
                                (double)p->nt * p->nr * p->nc, CDL_MAX_SAMPLE_LEN);
    if (!(isfinite(p->fc_ghz) && p->fc_ghz > 0.0))
        return invcsi_error_set(err, INVCSI_EINVAL, "cdl: carrier fc_ghz must be > 0 (got %g)",
                                p->fc_ghz);
    if (!(isfinite(p->bw_mhz) && p->bw_mhz > 0.0))
        return invcsi_error_set(err, INVCSI_EINVAL, "cdl: bandwidth bw_mhz must be > 0 (got %g)",
                                p->bw_mhz);
    if (!(isfinite(p->ds_ns) && p->ds_ns > 0.0))
        return invcsi_error_set(err, INVCSI_EINVAL, "cdl: delay spread ds_ns must be > 0 (got %g)",
                                p->ds_ns);
    if (!(isfinite(p->ds_lgstd) && p->ds_lgstd >= 0.0 && p->ds_lgstd <= 2.0))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "cdl: ds_lgstd (std of log10 DS) must be in [0, 2] (got %g)",
                                p->ds_lgstd);
    if (p->nc_full != 0 && (p->nc_full <= p->nc || p->nc_full > CDL_MAX_NC_FULL))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "cdl: nc_full must be 0 (off) or in (nc=%d, %d] (got %d)", p->nc,
                                CDL_MAX_NC_FULL, p->nc_full);
    if (!isnan(p->asd_deg) && !(p->asd_deg > 0.0 && p->asd_deg < 180.0))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "cdl: asd_deg must be NAN (table's own) or in (0, 180) (got %g)",
                                p->asd_deg);
    if (!isnan(p->asa_deg) && !(p->asa_deg > 0.0 && p->asa_deg < 180.0))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "cdl: asa_deg must be NAN (table's own) or in (0, 180) (got %g)",
                                p->asa_deg);
    if (!isnan(p->k_factor_db)) {
        if (!invcsi_cdl_table_get(p->model)->los)
            return invcsi_error_set(err, INVCSI_EINVAL,
                                    "cdl: k_factor_db=%g given, but %s has no LOS path (K-factor "
                                    "applies to cdl-d and cdl-e only)",
                                    p->k_factor_db, invcsi_cdl_model_name(p->model));
        if (!(p->k_factor_db >= -50.0 && p->k_factor_db <= 100.0))
            return invcsi_error_set(err, INVCSI_EINVAL,
                                    "cdl: k_factor_db must be in [-50, 100] dB (got %g)",
                                    p->k_factor_db);
    }
    if (p->threads < 0)
        return invcsi_error_set(err, INVCSI_EINVAL, "cdl: threads must be >= 0 (got %d)",
                                p->threads);
    return INVCSI_OK;
}

/* ---------------------------------------------------------------- model setup */

static double wrap180(double deg)
{
    return deg - 360.0 * floor((deg + 180.0) / 360.0);
}

/* 7.5 step 7: a zenith angle outside [0, 180] is folded back into it. */
static double fold_zenith(double deg)
{
    deg = fmod(deg, 360.0);
    if (deg < 0.0)
        deg += 360.0;
    return deg > 180.0 ? 360.0 - deg : deg;
}

static double scale_azimuth(double deg, double mean, double scale)
{
    if (scale == 1.0)
        return deg;
    return wrap180(mean + scale * wrap180(deg - mean));
}

/* Circular azimuth spread (TR 38.901 Annex A) in degrees of all rays of the setup,
 * departure (arrival = 0) or arrival (1), with the angles scaled by `scale` about `mean`;
 * mean_deg (may be NULL) receives the power-weighted circular mean. */
static double azimuth_spread_scaled(const cdl_setup *s, int arrival, double mean, double scale,
                                    double *mean_deg)
{
    const invcsi_cdl_table *t = s->tab;
    const double *centre = arrival ? t->aoa : t->aod;
    const double c = arrival ? t->c_asa : t->c_asd;
    double re = 0.0, im = 0.0;
    for (int n = 0; n < s->n; n++) {
        if (s->los && n == 0) {
            double phi = scale_azimuth(centre[n], mean, scale) * DEG;
            re += s->power[n] * cos(phi);
            im += s->power[n] * sin(phi);
            continue;
        }
        for (int m = 0; m < M_RAYS; m++) {
            double phi =
                scale_azimuth(centre[n] + c * invcsi_cdl_ray_offsets[m], mean, scale) * DEG;
            re += s->power[n] / M_RAYS * cos(phi);
            im += s->power[n] / M_RAYS * sin(phi);
        }
    }
    if (mean_deg)
        *mean_deg = atan2(im, re) / DEG;
    double r = fmin(hypot(re, im), 1.0);   /* powers sum to 1 */
    if (r <= 0.0)
        return INFINITY;
    return sqrt(-2.0 * log(r)) / DEG;
}

/* Finds the scale factor that gives the ray azimuths the circular spread `want` (degrees).
 * The spread grows with the factor from 0 (all rays on the mean) until the rays wrap
 * around the circle, continuously, so: bracket (growing the factor by 1.5x from the
 * standard's AS_desired / AS_model), then bisect to a crossing. */
static int solve_angle_scale(const cdl_setup *s, int arrival, double want, double *mean_out,
                             double *scale_out, invcsi_error *err)
{
    double mean;
    double as_model = azimuth_spread_scaled(s, arrival, 0.0, 1.0, &mean);
    double lo = 0.0, hi = want / as_model, best = 0.0;
    for (int i = 0;; i++) {
        double as = azimuth_spread_scaled(s, arrival, mean, hi, NULL);
        if (as >= want)
            break;
        best = fmax(best, as);
        lo = hi;
        hi *= 1.5;
        if (i > 40)
            return invcsi_error_set(err, INVCSI_EINVAL,
                                    "cdl: %s=%g deg is wider than %s can be scaled to (its "
                                    "circular spread saturates near %.1f deg)",
                                    arrival ? "asa_deg" : "asd_deg", want, s->tab->name, best);
    }
    for (int i = 0; i < 200 && hi - lo > 1e-13 * hi; i++) {
        double mid = 0.5 * (lo + hi);
        if (azimuth_spread_scaled(s, arrival, mean, mid, NULL) < want)
            lo = mid;
        else
            hi = mid;
    }
    *mean_out = mean;
    *scale_out = 0.5 * (lo + hi);
    return INVCSI_OK;
}

int invcsi_cdl_setup_init(cdl_setup *s, const invcsi_cdl_params *p, invcsi_error *err)
{
    memset(s, 0, sizeof *s);
    const invcsi_cdl_table *t = invcsi_cdl_table_get(p->model);
    s->tab = t;
    s->n = t->n;
    s->los = t->los;
    for (int n = 0; n < t->n; n++) {
        s->power[n] = pow(10.0, t->power_db[n] / 10.0);
        s->delay[n] = t->delay[n];
    }
    s->k_factor_db = NAN;
    if (t->los) {
        double k_model = invcsi_cdl_model_k_factor_db(p->model);
        s->k_factor_db = k_model;
        if (!isnan(p->k_factor_db)) {
            /* 7.7.6: P_n,scaled = P_n,model - K_desired + K_model for the NLOS clusters, the
             * LOS ray unchanged; then the delays are re-normalised so the K-scaled profile
             * has unit RMS delay spread again (the K change moves the spread). */
            double g = pow(10.0, (k_model - p->k_factor_db) / 10.0);
            for (int n = 1; n < t->n; n++)
                s->power[n] *= g;
            s->k_factor_db = p->k_factor_db;
            double sp = 0.0, m1 = 0.0, m2 = 0.0;
            for (int n = 0; n < t->n; n++) {
                sp += s->power[n];
                m1 += s->power[n] * s->delay[n];
                m2 += s->power[n] * s->delay[n] * s->delay[n];
            }
            m1 /= sp;
            double rms = sqrt(fmax(m2 / sp - m1 * m1, 0.0));
            if (rms > 0.0)
                for (int n = 0; n < t->n; n++)
                    s->delay[n] /= rms;
        }
    }
    double total = 0.0;
    for (int n = 0; n < t->n; n++)
        total += s->power[n];
    for (int n = 0; n < t->n; n++)
        s->power[n] /= total;

    s->aod_scale = s->aoa_scale = 1.0;
    if (!isnan(p->asd_deg)) {
        int rc = solve_angle_scale(s, 0, p->asd_deg, &s->aod_mean, &s->aod_scale, err);
        if (rc)
            return rc;
    }
    if (!isnan(p->asa_deg)) {
        int rc = solve_angle_scale(s, 1, p->asa_deg, &s->aoa_mean, &s->aoa_scale, err);
        if (rc)
            return rc;
    }

    /* 7.7.1 step 1: ray angles = cluster angle + c_* alpha_m (the LOS ray has no offsets). */
    for (int n = 0; n < t->n; n++) {
        const int single = s->los && n == 0;
        for (int m = 0; m < (single ? 1 : M_RAYS); m++) {
            const double a = single ? 0.0 : invcsi_cdl_ray_offsets[m];
            s->aod[n][m] = scale_azimuth(t->aod[n] + t->c_asd * a, s->aod_mean, s->aod_scale);
            s->aoa[n][m] = scale_azimuth(t->aoa[n] + t->c_asa * a, s->aoa_mean, s->aoa_scale);
            s->zod[n][m] = single ? t->zod[n] : fold_zenith(t->zod[n] + t->c_zsd * a);
            s->zoa[n][m] = single ? t->zoa[n] : fold_zenith(t->zoa[n] + t->c_zsa * a);
            s->sin_aod[n][m] = sin(s->aod[n][m] * DEG);
            s->sin_aoa[n][m] = sin(s->aoa[n][m] * DEG);
            s->cos_aoa[n][m] = cos(s->aoa[n][m] * DEG);
            s->sin_zod[n][m] = sin(s->zod[n][m] * DEG);
            s->sin_zoa[n][m] = sin(s->zoa[n][m] * DEG);
        }
    }
    return INVCSI_OK;
}

/* ---------------------------------------------------------------- one sample's rays */

/* A ray reduced to what the channel sum needs: delay, complex amplitude
 * sqrt(P) e^{j Phi}, and the direction cosines along the two arrays, so that the element
 * phases are pi * e * u_bs and pi * e * u_ue. */
typedef struct prep_ray {
    double tau_ns, amp_re, amp_im, u_bs, u_ue;
} prep_ray;

/* The one formula from angles to u's (both the generator and invcsi_cdl_rays_to_h use it,
 * so they agree to the last bit): a ULA along the local y axis rotated by azimuth o sees
 * sin(theta) sin(phi - o) = sin(theta) (sin(phi) cos(o) - cos(phi) sin(o)). */
static void prepare_ray(prep_ray *q, double tau_ns, double power, double phase, double sin_zod,
                        double sin_aod, double sin_zoa, double sin_aoa, double cos_aoa,
                        double cos_o, double sin_o)
{
    const double amp = sqrt(power);
    q->tau_ns = tau_ns;
    q->amp_re = amp * cos(phase);
    q->amp_im = amp * sin(phase);
    q->u_bs = sin_zod * sin_aod;
    q->u_ue = sin_zoa * (sin_aoa * cos_o - cos_aoa * sin_o);
}

static double uniform_phase(invcsi_rng *r)
{
    return M_PI * (2.0 * invcsi_rng_uniform(r) - 1.0);
}

/* Draws sample `index`: fills rays (public form, may be NULL) and/or prep (may be NULL);
 * returns the number of rays. */
static int draw_sample(const cdl_setup *s, const invcsi_cdl_params *p, long index,
                       invcsi_cdl_ray *rays, prep_ray *prep, invcsi_cdl_sample_info *info)
{
    invcsi_rng r;
    invcsi_rng_init(&r, p->seed, (uint64_t)index);
    const double ds = p->ds_ns * pow(10.0, p->ds_lgstd * invcsi_rng_normal(&r));
    const double orientation = 360.0 * invcsi_rng_uniform(&r);
    const double cos_o = cos(orientation * DEG), sin_o = sin(orientation * DEG);
    int k = 0;
    for (int n = 0; n < s->n; n++) {
        const double tau = s->delay[n] * ds;
        const int single = s->los && n == 0;
        int m_aod[M_RAYS], m_aoa[M_RAYS], m_zod[M_RAYS], m_zoa[M_RAYS];
        int count = single ? 1 : M_RAYS;
        for (int m = 0; m < count; m++)
            m_aod[m] = m_aoa[m] = m_zod[m] = m_zoa[m] = m;
        if (!single) {
            /* 7.7.1 step 2: random coupling of AoA, ZoD, ZoA offsets to the AoD ones. */
            invcsi_rng_shuffle(&r, m_aoa, M_RAYS);
            invcsi_rng_shuffle(&r, m_zod, M_RAYS);
            invcsi_rng_shuffle(&r, m_zoa, M_RAYS);
        }
        const double power = single ? s->power[n] : s->power[n] / M_RAYS;
        for (int m = 0; m < count; m++, k++) {
            const double phase = uniform_phase(&r);
            const int a = m_aod[m], b = m_aoa[m], c = m_zod[m], d = m_zoa[m];
            if (rays)
                rays[k] = (invcsi_cdl_ray){.delay_ns = tau,
                                           .power = power,
                                           .aod_deg = s->aod[n][a],
                                           .aoa_deg = s->aoa[n][b],
                                           .zod_deg = s->zod[n][c],
                                           .zoa_deg = s->zoa[n][d],
                                           .phase_rad = phase,
                                           .cluster = n};
            if (prep)
                prepare_ray(&prep[k], tau, power, phase, s->sin_zod[n][c], s->sin_aod[n][a],
                            s->sin_zoa[n][d], s->sin_aoa[n][b], s->cos_aoa[n][b], cos_o, sin_o);
        }
    }
    info->ds_ns = ds;
    info->ue_orientation_deg = orientation;
    info->n_rays = k;
    return k;
}

/* ---------------------------------------------------------------- rays -> H */

/* Per-thread scratch space for one sample. The hot loops work on separate real and
 * imaginary arrays of doubles: C complex multiplication carries NaN/Inf checks that stop
 * the compiler from vectorising them (2.5x slower at the default sizes). */
typedef struct h_work {
    int nr, nt, nc, nc_full;
    double bw_hz;
    double *g_re, *g_im;       /* nr*nt: one cluster's ray sum */
    double *e_re, *e_im;       /* nc: one cluster's frequency response */
    double *acc_re, *acc_im;   /* nr*nt*nc: the sample */
    double *ue_re, *ue_im;     /* nr: UE steering vector times the ray amplitude */
    double *bs_re, *bs_im;     /* nt: BS steering vector */
    double complex *tw;        /* nc twiddles e^{-j 2 pi m / nc} (remedy only) */
    double complex *taps;      /* nc kept delay taps (remedy only) */
    double complex *ramp;      /* nc phase ramp e^{j pi l (1 - 1/nc)} (remedy only) */
} h_work;

static void h_work_free(h_work *w)
{
    if (!w)
        return;
    free(w->g_re);
    free(w->e_re);
    free(w->acc_re);
    free(w->ue_re);
    free(w->bs_re);
    free(w->tw);
    free(w->taps);
    free(w->ramp);
    memset(w, 0, sizeof *w);
}

static int h_work_init(h_work *w, const invcsi_cdl_params *p)
{
    memset(w, 0, sizeof *w);
    w->nr = p->nr;
    w->nt = p->nt;
    w->nc = p->nc;
    w->nc_full = p->nc_full;
    w->bw_hz = p->bw_mhz * 1e6;
    size_t rt = (size_t)p->nr * p->nt;
    /* Each pair (re, im) is one allocation: im is the second half. */
    w->g_re = malloc(2 * rt * sizeof(double));
    w->e_re = malloc(2 * (size_t)p->nc * sizeof(double));
    w->acc_re = malloc(2 * rt * p->nc * sizeof(double));
    w->ue_re = malloc(2 * (size_t)p->nr * sizeof(double));
    w->bs_re = malloc(2 * (size_t)p->nt * sizeof(double));
    int ok = w->g_re && w->e_re && w->acc_re && w->ue_re && w->bs_re;
    if (ok) {
        w->g_im = w->g_re + rt;
        w->e_im = w->e_re + p->nc;
        w->acc_im = w->acc_re + rt * p->nc;
        w->ue_im = w->ue_re + p->nr;
        w->bs_im = w->bs_re + p->nt;
    }
    if (ok && p->nc_full) {
        w->tw = malloc((size_t)p->nc * sizeof *w->tw);
        w->taps = malloc((size_t)p->nc * sizeof *w->taps);
        w->ramp = malloc((size_t)p->nc * sizeof *w->ramp);
        ok = w->tw && w->taps && w->ramp;
        if (ok)
            for (int m = 0; m < p->nc; m++) {
                w->tw[m] = cexp(-2.0 * M_PI * I * m / p->nc);
                w->ramp[m] = cexp(I * M_PI * m * (1.0 - 1.0 / p->nc));
            }
    }
    if (!ok) {
        h_work_free(w);
        return INVCSI_ENOMEM;
    }
    return INVCSI_OK;
}

/* v[i] = (c0 + j s0) * exp(j i x), i = 0..n-1, in blocks of 64 that start from an exact
 * exponential (so round-off cannot build up): within a block the first 8 values by
 * rotation, then v[i] = v[i-8] * exp(j 8 x), eight independent recurrences instead of one
 * long serial chain (whose latency dominated a sample). */
static void phase_ramp(double *restrict v_re, double *restrict v_im, int n, double c0, double s0,
                       double x)
{
    if (n == 1) {   /* a single element (nr = 1): no trigonometry needed */
        v_re[0] = c0;
        v_im[0] = s0;
        return;
    }
    const double c1 = cos(x), s1 = sin(x);
    double c8 = c1, s8 = s1;   /* exp(j 8 x) by three squarings */
    for (int i = 0; i < 3; i++) {
        double t = c8 * c8 - s8 * s8;
        s8 = 2.0 * c8 * s8;
        c8 = t;
    }
    for (int blk = 0; blk < n; blk += 64) {
        double a = c0, b = s0;
        if (blk) {
            double c = cos(x * blk), s = sin(x * blk);
            a = c0 * c - s0 * s;
            b = c0 * s + s0 * c;
        }
        const int m = n - blk < 64 ? n - blk : 64;
        double *restrict re = v_re + blk, *restrict im = v_im + blk;
        for (int i = 0; i < m && i < 8; i++) {
            re[i] = a;
            im[i] = b;
            double t = a * c1 - b * s1;
            b = a * s1 + b * c1;
            a = t;
        }
        for (int i = 8; i < m; i++) {
            re[i] = re[i - 8] * c8 - im[i - 8] * s8;
            im[i] = re[i - 8] * s8 + im[i - 8] * c8;
        }
    }
}

/* e[k] = exp(-j 2 pi f_k tau), f_k = (k - (nc-1)/2) * bw/nc. */
static void cluster_response_plain(h_work *w, double tau_s)
{
    const double x = -2.0 * M_PI * (w->bw_hz / w->nc) * tau_s;
    const double x0 = -0.5 * (w->nc - 1) * x;
    phase_ramp(w->e_re, w->e_im, w->nc, cos(x0), sin(x0), x);
}

/* The remedy's response of one path at delay tau, at the nc output points:
 * generate F = nc_full subcarriers f'_k = (k - (F-1)/2) bw/F, inverse DFT
 *   x[l] = 1/F sum_k e^{-j 2 pi f'_k tau} e^{j 2 pi k l / F}
 *        = 1/F e^{j pi l (F-1)/F} D(l - bw tau),   D(nu) = sin(pi nu) / sin(pi nu / F)
 * (the Dirichlet kernel: the sum over the F subcarriers behind one delay tap), keep l < nc,
 * and evaluate sum_l x[l] e^{-j 2 pi l (k/nc + d)} with d = (1/nc - 1/F) / 2 (the shift
 * from the first fine subcarrier to the first centred coarse one). The two phase ramps
 * combine to e^{j pi l (1 - 1/nc)} (w->ramp). sin(pi (l - nu0)) = -(-1)^l sin(pi nu0), so
 * the numerator costs one sine per cluster.
 * Cost O(nc^2) per cluster; nothing of size nc_full is ever formed. */
static void cluster_response_remedy(h_work *w, double tau_s)
{
    const int nc = w->nc, F = w->nc_full;
    const double nu0 = w->bw_hz * tau_s;
    const double s0 = sin(M_PI * nu0), c0 = cos(M_PI * nu0);
    for (int l = 0; l < nc; l++) {
        const double sign = (l & 1) ? -1.0 : 1.0;
        const double den = sin(M_PI * (l - nu0) / F);
        double d;
        if (fabs(den) < 1e-9)   /* l - nu0 at a multiple of F: the limit */
            d = F * sign * c0 / cos(M_PI * (l - nu0) / F);
        else
            d = -sign * s0 / den;
        w->taps[l] = d / F * w->ramp[l];
    }
    for (int k = 0; k < nc; k++) {
        double complex s = 0.0;
        long idx = 0;   /* (l * k) mod nc, updated incrementally */
        for (int l = 0; l < nc; l++) {
            s += w->taps[l] * w->tw[idx];
            idx += k;
            if (idx >= nc)
                idx -= nc;
        }
        w->e_re[k] = creal(s);
        w->e_im[k] = cimag(s);
    }
}

static void rays_to_h_work(h_work *w, const prep_ray *rays, int n_rays, float *h)
{
    const int nr = w->nr, nt = w->nt, nc = w->nc;
    const size_t rt = (size_t)nr * nt;
    memset(w->acc_re, 0, 2 * rt * nc * sizeof(double));
    for (int i = 0; i < n_rays;) {
        const double tau_ns = rays[i].tau_ns;
        memset(w->g_re, 0, 2 * rt * sizeof(double));
        int j = i;
        for (; j < n_rays && rays[j].tau_ns == tau_ns; j++) {
            /* One ray: G[r][t] += sqrt(P) e^{j Phi} a_UE[r] a_BS[t]. */
            const prep_ray *ray = &rays[j];
            phase_ramp(w->ue_re, w->ue_im, nr, ray->amp_re, ray->amp_im, M_PI * ray->u_ue);
            phase_ramp(w->bs_re, w->bs_im, nt, 1.0, 0.0, M_PI * ray->u_bs);
            for (int r = 0; r < nr; r++) {
                double *restrict g_re = w->g_re + (size_t)r * nt;
                double *restrict g_im = w->g_im + (size_t)r * nt;
                const double *restrict b_re = w->bs_re, *restrict b_im = w->bs_im;
                const double x = w->ue_re[r], y = w->ue_im[r];
                for (int t = 0; t < nt; t++) {
                    g_re[t] += x * b_re[t] - y * b_im[t];
                    g_im[t] += x * b_im[t] + y * b_re[t];
                }
            }
        }
        if (w->nc_full)
            cluster_response_remedy(w, tau_ns * 1e-9);
        else
            cluster_response_plain(w, tau_ns * 1e-9);
        /* H[r][t][k] += G[r][t] * e[k]. */
        const double *restrict e_re = w->e_re, *restrict e_im = w->e_im;
        for (size_t q = 0; q < rt; q++) {
            const double gr = w->g_re[q], gi = w->g_im[q];
            double *restrict a_re = w->acc_re + q * nc;
            double *restrict a_im = w->acc_im + q * nc;
            for (int k = 0; k < nc; k++) {
                a_re[k] += gr * e_re[k] - gi * e_im[k];
                a_im[k] += gr * e_im[k] + gi * e_re[k];
            }
        }
        i = j;
    }
    for (size_t q = 0; q < rt * nc; q++) {
        h[2 * q] = (float)w->acc_re[q];
        h[2 * q + 1] = (float)w->acc_im[q];
    }
}

/* ---------------------------------------------------------------- public entry points */

int invcsi_cdl_sample_rays(const invcsi_cdl_params *p, long index, invcsi_cdl_ray *rays,
                           invcsi_cdl_sample_info *info, invcsi_error *err)
{
    int rc = invcsi_cdl_params_check(p, err);
    if (rc)
        return rc;
    if (index < 0)
        return invcsi_error_set(err, INVCSI_EINVAL, "cdl: sample index must be >= 0 (got %ld)",
                                index);
    cdl_setup s;
    rc = invcsi_cdl_setup_init(&s, p, err);
    if (rc)
        return rc;
    invcsi_cdl_sample_info tmp;
    draw_sample(&s, p, index, rays, NULL, info ? info : &tmp);
    return INVCSI_OK;
}

int invcsi_cdl_rays_to_h(const invcsi_cdl_params *p, const invcsi_cdl_ray *rays, int n_rays,
                         double ue_orientation_deg, float *h, invcsi_error *err)
{
    int rc = invcsi_cdl_params_check(p, err);
    if (rc)
        return rc;
    if (n_rays < 0 || (n_rays > 0 && !rays) || !h)
        return invcsi_error_set(err, INVCSI_EINVAL, "cdl: bad ray list (n_rays=%d) or no output",
                                n_rays);
    h_work w;
    prep_ray *prep = malloc((n_rays > 0 ? n_rays : 1) * sizeof *prep);
    if (!prep || h_work_init(&w, p)) {
        free(prep);
        return invcsi_error_set(err, INVCSI_ENOMEM, "cdl: out of memory for the work space");
    }
    const double cos_o = cos(ue_orientation_deg * DEG), sin_o = sin(ue_orientation_deg * DEG);
    for (int i = 0; i < n_rays; i++) {
        const invcsi_cdl_ray *a = &rays[i];
        prepare_ray(&prep[i], a->delay_ns, a->power, a->phase_rad, sin(a->zod_deg * DEG),
                    sin(a->aod_deg * DEG), sin(a->zoa_deg * DEG), sin(a->aoa_deg * DEG),
                    cos(a->aoa_deg * DEG), cos_o, sin_o);
    }
    rays_to_h_work(&w, prep, n_rays, h);
    h_work_free(&w);
    free(prep);
    return INVCSI_OK;
}

int invcsi_cdl_generate(const invcsi_cdl_params *p, int n, invcsi_channels *out,
                        invcsi_progress_fn progress, void *progress_ctx, invcsi_error *err)
{
    int rc = invcsi_cdl_params_check(p, err);
    if (rc)
        return rc;
    if (n < 1)
        return invcsi_error_set(err, INVCSI_EINVAL, "cdl: number of samples must be >= 1 (got %d)",
                                n);
    if (!out)
        return invcsi_error_set(err, INVCSI_EINVAL, "cdl: no output channel set given");
    cdl_setup s;
    rc = invcsi_cdl_setup_init(&s, p, err);
    if (rc)
        return rc;
    rc = invcsi_channels_alloc(out, n, p->nr, p->nt, p->nc, err);
    if (rc)
        return rc;
    snprintf(out->cfg.model, sizeof out->cfg.model, "%s", invcsi_cdl_model_name(p->model));
    out->cfg.fc_ghz = p->fc_ghz;
    out->cfg.bw_mhz = p->bw_mhz;
    out->cfg.ds_ns = p->ds_ns;
    out->cfg.ds_lgstd = p->ds_lgstd;
    out->cfg.k_factor_db = s.k_factor_db;
    out->cfg.seed = p->seed;

    const long len = invcsi_channels_sample_len(out);
    const int nthreads = p->threads > 0 ? p->threads : omp_get_max_threads();
    const long report_every = n / 200 > 1 ? n / 200 : 1;
    long done = 0, reported = 0;
    int failed = 0;

#pragma omp parallel num_threads(nthreads)
    {
        h_work w;
        prep_ray *rays = malloc(INVCSI_CDL_MAX_RAYS * sizeof *rays);
        int ok = rays && h_work_init(&w, p) == INVCSI_OK;
        if (!ok) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 8)
        for (long i = 0; i < n; i++) {
            int stop;
#pragma omp atomic read
            stop = failed;
            if (stop)
                continue;
            invcsi_cdl_sample_info info;
            draw_sample(&s, p, i, NULL, rays, &info);
            rays_to_h_work(&w, rays, info.n_rays, out->h + 2 * len * i);
            long d;
#pragma omp atomic capture
            d = ++done;
            /* The callback runs on the calling (master) thread only. */
            if (progress && omp_get_thread_num() == 0 && d - reported >= report_every) {
                reported = d;
                progress(progress_ctx, d, n);
            }
        }
        if (ok)
            h_work_free(&w);
        free(rays);
    }
    if (failed) {
        invcsi_channels_free(out);
        return invcsi_error_set(err, INVCSI_ENOMEM,
                                "cdl: out of memory for the per-thread work space (%d threads, "
                                "nr*nt*nc = %ld)",
                                nthreads, len);
    }
    if (progress)
        progress(progress_ctx, n, n);
    return INVCSI_OK;
}
