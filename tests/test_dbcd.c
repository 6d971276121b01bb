/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * D-BCD forward and the transition matrix (include/invcsi/dbcd.h):
 *   1. P rows sum to 1 (1e-12, double), P symmetric, for B = 1..8, several eps.
 *   2. P matches a Monte Carlo simulation of the REAL bit link (bitlink.h: index -> label
 *      bits -> BPSK -> complex AWGN -> sign detection -> bits -> index), 2e5 trials per
 *      case, B = 1..4, natural and Gray, Eb/N0 = -5, 0, 5, 10 dB. Per entry the count N_ij
 *      out of n_i = trials/L is Binomial(n_i, P_ij); the entry passes when it lies within
 *      4 sigma, taken exactly: two-sided binomial tail probability >= 2 Q(4) = 6.3e-5 (the
 *      Gaussian "4 sigma" rule misjudges the many entries with expected counts < 1).
 *   3. The float table equals P where P is representable, rows sum to 1 (1e-6), finite up
 *      to 40 dB; log Q's asymptotic branch joins the direct one.
 *   4. One-hot forward: detected = argmax(log pi + G) recomputed independently in double,
 *      y = levels[detected] exactly, y_soft = sum g c, and y_soft -> y as tau -> 0.
 *   5. Gumbel-max sampling: with G ~ Gumbel, the detected index is distributed as pi
 *      (2e5 draws, 4 sigma per level).
 *   6. At 30 dB a q on a level is always detected as that level; backward stays finite;
 *      argument checks; the per-item Gumbel streams.
 */
#include "check.h"
#include "invcsi/bitlink.h"
#include "invcsi/dbcd.h"
#include "invcsi/rng.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void *xcalloc(long n, size_t size)
{
    void *p = calloc(n > 0 ? (size_t)n : 1, size);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

/* ---- 1. rows sum to 1 ------------------------------------------------------------------ */

static void test_rows(void)
{
    const double eps_list[] = {0.0, 1e-9, 0.01, 0.2, 0.5, 1.0};
    double worst = 0.0;
    for (int B = 1; B <= 8; B++) {
        const int L = 1 << B;
        double *P = xcalloc((long)L * L, sizeof(double));
        for (int map = 0; map < 2; map++)
            for (size_t k = 0; k < sizeof eps_list / sizeof eps_list[0]; k++) {
                invcsi_error err;
                CHECK(invcsi_dbcd_transition_eps(P, B, eps_list[k], map, &err) == 0, "%s",
                      err.msg);
                int sym = 1;
                for (int i = 0; i < L; i++) {
                    double s = 0.0;
                    for (int j = 0; j < L; j++) {
                        s += P[i * L + j];
                        sym &= P[i * L + j] == P[j * L + i];
                    }
                    worst = fmax(worst, fabs(s - 1.0));
                }
                CHECK(sym, "P not symmetric (B=%d eps %g)", B, eps_list[k]);
                if (eps_list[k] == 0.0)
                    CHECK(P[0] == 1.0 && P[1] == 0.0, "eps 0 must give the identity");
            }
        free(P);
    }
    CHECK(worst < 1e-12, "row sums differ from 1 by %.3g", worst);
    printf("transition rows: max |row sum - 1| = %.2e (B = 1..8, natural/Gray, 6 eps)\n", worst);
    /* At 0 dB via snr: eps = Q(sqrt 2) = 0.0786496 */
    double P2[4];
    invcsi_dbcd_transition(P2, 1, 1.0, INVCSI_BITMAP_NATURAL, NULL);
    CHECK_CLOSE(P2[1], 0.0786496035251426, 1e-12, "eps at 0 dB");
}

/* ---- 2. Monte Carlo of the bit link ---------------------------------------------------- */

static double log_binom_pmf(long n, long k, double p)
{
    if (p <= 0.0)
        return k == 0 ? 0.0 : -INFINITY;
    if (p >= 1.0)
        return k == n ? 0.0 : -INFINITY;
    return lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0) + k * log(p) +
           (n - k) * log1p(-p);
}

/* Two-sided tail probability of observing k out of n, min(1, 2 min(P(X <= k), P(X >= k))). */
static double binom_two_sided(long n, long k, double p)
{
    const double mean = n * p;
    double tail = 0.0;
    if (k >= mean) {
        for (long x = k; x <= n; x++) {
            const double t = exp(log_binom_pmf(n, x, p));
            tail += t;
            if (x > mean + 1 && t < 1e-18 * tail)
                break;
        }
    } else {
        for (long x = k; x >= 0; x--) {
            const double t = exp(log_binom_pmf(n, x, p));
            tail += t;
            if (x < mean - 1 && t < 1e-18 * tail)
                break;
        }
    }
    return fmin(1.0, 2.0 * tail);
}

static void test_monte_carlo(void)
{
    const long trials = 200000;
    const double snrs_db[] = {-5.0, 0.0, 5.0, 10.0};
    const double p_floor = 2.0 * 3.167124183311992e-05; /* 2 Q(4) */
    int *idx = xcalloc(trials, sizeof(int)), *back = xcalloc(trials, sizeof(int));
    uint8_t *bits = xcalloc(trials * 4, 1);
    float *iq = xcalloc(trials * 4 * 2, sizeof(float));
    long *counts = xcalloc(16 * 16, sizeof(long));
    double *P = xcalloc(16 * 16, sizeof(double));
    double min_p = 1.0, max_z = 0.0;
    int cases = 0;
    for (int B = 1; B <= 4; B++) {
        const int L = 1 << B;
        for (int map = 0; map < 2; map++)
            for (size_t s = 0; s < sizeof snrs_db / sizeof snrs_db[0]; s++) {
                const double snr = invcsi_db_to_linear(snrs_db[s]);
                invcsi_error err;
                CHECK(invcsi_dbcd_transition(P, B, snr, map, &err) == 0, "%s", err.msg);
                invcsi_rng r;
                invcsi_rng_init(&r, 2024, (uint64_t)(B * 100 + map * 10 + (int)s));
                for (long t = 0; t < trials; t++)
                    idx[t] = (int)(t % L);
                const long nb = trials * B;
                invcsi_indices_to_bits(bits, idx, trials, B, map, NULL);
                invcsi_bpsk_map_complex(iq, bits, nb, 1.0f);
                invcsi_awgn_add(iq, 2 * nb, invcsi_bpsk_n0(1.0, snr), &r);
                invcsi_bpsk_hard(bits, iq, nb, 2);
                invcsi_bits_to_indices(back, bits, trials, B, map, NULL);
                memset(counts, 0, sizeof(long) * L * L);
                for (long t = 0; t < trials; t++)
                    counts[idx[t] * L + back[t]]++;
                const long n_i = trials / L;
                double case_min = 1.0;
                for (int i = 0; i < L; i++)
                    for (int j = 0; j < L; j++) {
                        const double p = P[i * L + j];
                        const long k = counts[i * L + j];
                        const double pv = binom_two_sided(n_i, k, p);
                        case_min = fmin(case_min, pv);
                        const double var = n_i * p * (1.0 - p);
                        if (var >= 10.0) /* where the Gaussian z means something */
                            max_z = fmax(max_z, fabs(k - n_i * p) / sqrt(var));
                        CHECK(pv >= p_floor,
                              "B=%d %s %g dB: P[%d][%d] = %.4g, Monte Carlo %ld/%ld (tail "
                              "probability %.3g)", B, invcsi_bitmap_name(map), snrs_db[s], i, j,
                              p, k, n_i, pv);
                    }
                min_p = fmin(min_p, case_min);
                cases++;
            }
    }
    printf("Monte Carlo (%d cases, %ld trials each): smallest two-sided tail probability %.3g "
           "(limit %.3g), largest |z| where var >= 10: %.2f\n", cases, trials, min_p, p_floor,
           max_z);
    free(idx), free(back), free(bits), free(iq), free(counts), free(P);
}

/* ---- 3. float table ----------------------------------------------------------------------- */

static void test_float_table(void)
{
    const double snrs_db[] = {-10.0, 0.0, 10.0, 20.0, 30.0, 40.0};
    double worst = 0.0, worst_row = 0.0;
    for (int B = 1; B <= 4; B++) {
        const int L = 1 << B;
        double *P = xcalloc((long)L * L, sizeof(double));
        float *pf = xcalloc((long)L * L, sizeof(float));
        for (size_t s = 0; s < sizeof snrs_db / sizeof snrs_db[0]; s++) {
            const double snr = invcsi_db_to_linear(snrs_db[s]);
            CHECK(invcsi_dbcd_transition_float(pf, B, snr, INVCSI_BITMAP_GRAY, NULL) == 0, "P");
            invcsi_dbcd_transition(P, B, snr, INVCSI_BITMAP_GRAY, NULL);
            for (int i = 0; i < L; i++) {
                double row = 0.0;
                for (int j = 0; j < L; j++) {
                    const int k = i * L + j;
                    CHECK(isfinite(pf[k]) && pf[k] >= 0.0f, "P not finite at %g dB", snrs_db[s]);
                    if (P[k] > FLT_MIN)
                        worst = fmax(worst, fabs(pf[k] - P[k]) / P[k]);
                    row += pf[k];
                }
                worst_row = fmax(worst_row, fabs(row - 1.0));
            }
        }
        free(P), free(pf);
    }
    CHECK(worst < 1e-7, "float table differs from P by %.3g (relative)", worst);
    CHECK(worst_row < 1e-6, "float rows sum to 1 within %.3g", worst_row);
    /* The asymptotic branch of log Q joins the direct one. */
    const double direct = log(invcsi_qfunc(37.0)), series = invcsi_log_qfunc(37.0);
    CHECK(fabs(direct - series) < 1e-9 * fabs(direct), "log Q series %.15g vs %.15g", series,
          direct);
    CHECK(isfinite(invcsi_log_qfunc(100.0)) && invcsi_log_qfunc(100.0) < -5000.0, "log Q(100)");
    printf("float table: max relative deviation from P %.2e, rows sum to 1 within %.2e "
           "(-10 .. 40 dB)\n", worst, worst_row);
}

/* ---- 4. one-hot forward ------------------------------------------------------------------- */

static void test_onehot(int B, int map, double snr_db)
{
    const int L = 1 << B, m = 3, batch = 200;
    const long n = (long)batch * m;
    const double spacing = 2.0 / (L - 1);
    invcsi_dbcd_config cfg = {m, B, (float)(spacing * spacing), 0.8f};
    float *q = xcalloc(n, sizeof(float)), *lev = xcalloc((long)m * L, sizeof(float));
    float *Ptab = xcalloc((long)L * L, sizeof(float)), *G = xcalloc(n * L, sizeof(float));
    float *y = xcalloc(n, sizeof(float)), *ys = xcalloc(n, sizeof(float));
    float *save = xcalloc(invcsi_dbcd_save_floats(&cfg, batch), sizeof(float));
    int *det = xcalloc(n, sizeof(int));
    double *P = xcalloc((long)L * L, sizeof(double));
    const double snr = invcsi_db_to_linear(snr_db);
    invcsi_dbcd_transition_float(Ptab, B, snr, map, NULL);
    invcsi_dbcd_transition(P, B, snr, map, NULL);
    invcsi_rng r;
    invcsi_rng_init(&r, 99, (uint64_t)B);
    for (int d = 0; d < m; d++)
        for (int j = 0; j < L; j++)
            lev[d * L + j] = (float)(-1.0 + j * spacing * (1.0 + 0.1 * d));
    for (long e = 0; e < n; e++)
        q[e] = (float)(-1.2 + 2.4 * invcsi_rng_uniform(&r));
    invcsi_gumbel_fill(G, n * L, &r);
    invcsi_error err;
    CHECK(invcsi_dbcd_forward(&cfg, q, lev, Ptab, G, batch, y, det, ys, save, &err) == 0, "%s",
          err.msg);
    int agree = 0, called = 0, exact = 1;
    double worst_soft = 0.0;
    for (long e = 0; e < n; e++) {
        const float *c = lev + (e % m) * L;
        double a[256], pi[256], z[256], amax = -INFINITY, zmax = -INFINITY, s = 0.0;
        for (int i = 0; i < L; i++) {
            a[i] = -((double)q[e] - c[i]) * ((double)q[e] - c[i]) / cfg.delta;
            amax = fmax(amax, a[i]);
        }
        for (int i = 0; i < L; i++)
            s += exp(a[i] - amax);
        int best = 0;
        for (int j = 0; j < L; j++) {
            pi[j] = 0.0;
            for (int i = 0; i < L; i++)
                pi[j] += P[i * L + j] * exp(a[i] - amax) / s;
            z[j] = log(pi[j]) + G[e * L + j];
            if (z[j] > zmax) {
                zmax = z[j];
                best = j;
            }
        }
        double second = -INFINITY, gs = 0.0, soft = 0.0;
        for (int j = 0; j < L; j++)
            if (j != best)
                second = fmax(second, z[j]);
        for (int j = 0; j < L; j++)
            gs += exp((z[j] - zmax) / cfg.tau);
        for (int j = 0; j < L; j++)
            soft += exp((z[j] - zmax) / cfg.tau) / gs * c[j];
        worst_soft = fmax(worst_soft, fabs(soft - ys[e]));
        exact &= y[e] == c[det[e]];
        if (zmax - second > 1e-3) { /* a clear winner: float and double must agree */
            called++;
            agree += det[e] == best;
        }
    }
    CHECK(exact, "forward value is not levels[detected]");
    CHECK(agree == called && called > n / 2, "argmax disagrees with double: %d of %d", agree,
          called);
    CHECK(worst_soft < 1e-5, "y_soft differs from the double recomputation by %.3g", worst_soft);
    /* tau -> 0: y_soft -> y */
    cfg.tau = 1e-3f;
    invcsi_dbcd_forward(&cfg, q, lev, Ptab, G, batch, y, det, ys, save, NULL);
    double worst_tau = 0.0;
    for (long e = 0; e < n; e++)
        worst_tau = fmax(worst_tau, fabs(ys[e] - y[e]));
    /* a pair of logits within ~0.01 of each other keeps g soft even at tau 1e-3: allow a few */
    int far = 0;
    for (long e = 0; e < n; e++)
        far += fabs(ys[e] - y[e]) > 1e-3;
    CHECK(far <= n / 100, "tau 1e-3: %d of %ld soft values away from the one-hot value", far, n);
    printf("one-hot forward B=%d %s %g dB: %d/%d clear argmaxes agree with double, |y_soft - "
           "double| %.2e, tau 1e-3: %d of %ld soft values > 1e-3 from one-hot\n", B,
           invcsi_bitmap_name(map), snr_db, agree, called, worst_soft, far, n);
    free(q), free(lev), free(Ptab), free(G), free(y), free(ys), free(save), free(det), free(P);
}

/* ---- 5. Gumbel-max sampling ----------------------------------------------------------------- */

static void test_sampling(int B, int map, double snr_db, double q_pos)
{
    const int L = 1 << B, batch = 200000;
    const double spacing = 2.0 / (L - 1);
    invcsi_dbcd_config cfg = {1, B, (float)(spacing * spacing), 1.0f};
    float lev[256], *Ptab = xcalloc((long)L * L, sizeof(float));
    float *q = xcalloc(batch, sizeof(float)), *G = xcalloc((long)batch * L, sizeof(float));
    float *y = xcalloc(batch, sizeof(float)), *save = xcalloc(invcsi_dbcd_save_floats(&cfg, batch),
                                                            sizeof(float));
    int *det = xcalloc(batch, sizeof(int));
    double *P = xcalloc((long)L * L, sizeof(double));
    const double snr = invcsi_db_to_linear(snr_db);
    invcsi_dbcd_transition_float(Ptab, B, snr, map, NULL);
    invcsi_dbcd_transition(P, B, snr, map, NULL);
    for (int j = 0; j < L; j++)
        lev[j] = (float)(-1.0 + j * spacing);
    for (int b = 0; b < batch; b++)
        q[b] = (float)q_pos;
    invcsi_rng r;
    invcsi_rng_init(&r, 5, (uint64_t)(B * 10 + map));
    invcsi_gumbel_fill(G, (long)batch * L, &r);
    invcsi_dbcd_forward(&cfg, q, lev, Ptab, G, batch, y, det, NULL, save, NULL);
    double a[256], s = 0.0, amax = -INFINITY;
    for (int i = 0; i < L; i++) {
        a[i] = -(q_pos - lev[i]) * (q_pos - lev[i]) / cfg.delta;
        amax = fmax(amax, a[i]);
    }
    for (int i = 0; i < L; i++)
        s += exp(a[i] - amax);
    long counts[256] = {0};
    for (int b = 0; b < batch; b++)
        counts[det[b]]++;
    double worst_z = 0.0;
    for (int j = 0; j < L; j++) {
        double pi = 0.0;
        for (int i = 0; i < L; i++)
            pi += P[i * L + j] * exp(a[i] - amax) / s;
        const double sd = sqrt(batch * pi * (1.0 - pi));
        const double z = sd > 0.0 ? fabs(counts[j] - batch * pi) / sd : 0.0;
        worst_z = fmax(worst_z, z);
        CHECK(z < 4.0, "B=%d: level %d detected %ld times, expected %.1f (pi %.4g), z %.2f", B,
              j, counts[j], batch * pi, pi, z);
    }
    printf("Gumbel-max sampling B=%d %s %g dB q=%g: %d draws, max |z| %.2f over %d levels\n", B,
           invcsi_bitmap_name(map), snr_db, q_pos, batch, worst_z, L);
    free(Ptab), free(q), free(G), free(y), free(save), free(det), free(P);
}

/* ---- 6. high SNR ---------------------------------------------------------------------------- */

static void test_high_snr(void)
{
    const int B = 4, L = 16, m = 2, batch = 500;
    const long n = (long)batch * m;
    invcsi_dbcd_config cfg = {m, B, 1e-4f, 1.0f}; /* p one-hot: neighbours at -178 */
    float lev[32], *Ptab = xcalloc(L * L, sizeof(float)), *q = xcalloc(n, sizeof(float));
    float *G = xcalloc(n * L, sizeof(float)), *y = xcalloc(n, sizeof(float));
    float *save = xcalloc(invcsi_dbcd_save_floats(&cfg, batch), sizeof(float));
    float *dq = xcalloc(n, sizeof(float)), *dl = xcalloc(m * L, sizeof(float));
    float *dy = xcalloc(n, sizeof(float));
    for (int d = 0; d < m; d++)
        for (int j = 0; j < L; j++)
            lev[d * L + j] = (float)(-1.0 + j * 2.0 / 15.0);
    invcsi_rng r;
    invcsi_rng_init(&r, 3, 3);
    for (long e = 0; e < n; e++) {
        q[e] = lev[(e % m) * L + invcsi_rng_below(&r, L)];
        dy[e] = (float)invcsi_rng_normal(&r);
    }
    invcsi_gumbel_fill(G, n * L, &r);
    int same = 1, finite = 1;
    for (int s = 0; s < 2; s++) {
        const double snr_db = s ? 40.0 : 30.0;
        invcsi_dbcd_transition_float(Ptab, B, invcsi_db_to_linear(snr_db), INVCSI_BITMAP_NATURAL,
                                   NULL);
        CHECK(invcsi_dbcd_forward(&cfg, q, lev, Ptab, G, batch, y, NULL, NULL, save, NULL) == 0,
              "forward at %g dB", snr_db);
        for (long e = 0; e < n; e++)
            same &= y[e] == q[e];
        invcsi_dbcd_backward(&cfg, dy, q, lev, Ptab, save, batch, dq, dl, NULL);
        for (long e = 0; e < n; e++)
            finite &= isfinite(dq[e]);
        for (int i = 0; i < m * L; i++)
            finite &= isfinite(dl[i]);
    }
    CHECK(same, "at 30/40 dB a level must be detected as itself");
    CHECK(finite, "backward not finite at 30/40 dB");
    printf("high SNR (30, 40 dB): every level detected as itself, gradients finite\n");

    invcsi_error err;
    invcsi_dbcd_config bad = {m, B, 0.0f, 1.0f};
    CHECK(invcsi_dbcd_check(&bad, &err) == INVCSI_EINVAL && strstr(err.msg, "delta"), "delta 0");
    bad = (invcsi_dbcd_config){m, B, 0.1f, -1.0f};
    CHECK(invcsi_dbcd_check(&bad, &err) == INVCSI_EINVAL && strstr(err.msg, "tau"), "tau < 0");
    CHECK(invcsi_dbcd_transition_eps(NULL, 2, 1.5, 0, &err) == INVCSI_EINVAL, "eps 1.5");
    CHECK(invcsi_dbcd_transition_float(Ptab, 2, -1.0, 0, &err) == INVCSI_EINVAL, "snr < 0");
    CHECK(invcsi_dbcd_transition_float(Ptab, 2, INFINITY, 0, &err) == INVCSI_EINVAL, "snr inf");

    /* Per-item streams: item b of gumbel_fill_streams == a sequential fill from stream
     * first + b (so the result cannot depend on the thread count). */
    const int items = 64;
    const long per = 2000;
    float *ga = xcalloc(items * per, sizeof(float)), *gb = xcalloc(per, sizeof(float));
    invcsi_gumbel_fill_streams(ga, items, per, 17, 1000);
    int same_streams = 1;
    for (int b = 0; b < items; b++) {
        invcsi_rng rs;
        invcsi_rng_init(&rs, 17, 1000 + (uint64_t)b);
        invcsi_gumbel_fill(gb, per, &rs);
        same_streams &= memcmp(ga + b * per, gb, sizeof(float) * per) == 0;
    }
    CHECK(same_streams, "gumbel_fill_streams item != its own stream");
    double mean = 0.0;
    for (long i = 0; i < items * per; i++)
        mean += ga[i];
    mean /= items * per; /* Euler-Mascheroni 0.5772, sd pi/sqrt(6) / sqrt(n) = 0.0036 */
    CHECK(fabs(mean - 0.5772156649) < 4.0 * 1.2825498 / sqrt((double)items * per),
          "Gumbel mean %g", mean);
    free(ga), free(gb);
    free(Ptab), free(q), free(G), free(y), free(save), free(dq), free(dl), free(dy);
}

int main(void)
{
    test_rows();
    test_monte_carlo();
    test_float_table();
    test_onehot(2, INVCSI_BITMAP_NATURAL, 0.0);
    test_onehot(3, INVCSI_BITMAP_GRAY, 3.0);
    test_onehot(4, INVCSI_BITMAP_NATURAL, 10.0);
    test_sampling(2, INVCSI_BITMAP_NATURAL, 0.0, -0.5);
    test_sampling(3, INVCSI_BITMAP_GRAY, -3.0, 0.1);
    test_high_snr();
    return check_done("test_dbcd");
}
