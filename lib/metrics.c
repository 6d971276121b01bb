/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * NMSE and generalised cosine similarity (include/invcsi/metrics.h). All sums in
 * double: a 2048-value sample in float would lose digits that -30 dB results need.
 */
#include "invcsi/metrics.h"

#include <math.h>

/* ||err||^2 / ||ref||^2 with the degenerate cases spelled out: a zero reference is
 * reproduced exactly (0) or not at all (+inf, which makes a mean visibly wrong rather
 * than silently good). */
static double ratio_or_degenerate(double err2, double ref2)
{
    if (ref2 > 0.0)
        return err2 / ref2;
    return err2 > 0.0 ? INFINITY : 0.0;
}

double invcsi_nmse_real(const float *x, const float *xhat, long n)
{
    double err2 = 0.0, ref2 = 0.0;
    for (long i = 0; i < n; i++) {
        double e = (double)x[i] - xhat[i];
        err2 += e * e;
        ref2 += (double)x[i] * x[i];
    }
    return ratio_or_degenerate(err2, ref2);
}

double invcsi_nmse_sample(const float *h, const float *hhat, long n_complex)
{
    /* interleaved (re, im): the complex squared norm is the real one of 2n values */
    return invcsi_nmse_real(h, hhat, 2 * n_complex);
}

double invcsi_rho_sample(const float *h, const float *hhat, int n_ant, int nc)
{
    if (nc <= 0)
        return NAN;
    double sum = 0.0;
    for (int k = 0; k < nc; k++) {
        /* h_k^H hhat_k, ||h_k||^2, ||hhat_k||^2; element (a, k) at 2*(a*nc + k) */
        double ip_re = 0.0, ip_im = 0.0, nh = 0.0, nhh = 0.0;
        for (int a = 0; a < n_ant; a++) {
            long j = 2 * ((long)a * nc + k);
            double hr = h[j], hi = h[j + 1], gr = hhat[j], gi = hhat[j + 1];
            ip_re += hr * gr + hi * gi; /* conj(h) * g */
            ip_im += hr * gi - hi * gr;
            nh += hr * hr + hi * hi;
            nhh += gr * gr + gi * gi;
        }
        double den = sqrt(nh) * sqrt(nhh);
        if (den > 0.0)
            sum += hypot(ip_re, ip_im) / den;
        else if (nh == 0.0 && nhh == 0.0)
            sum += 1.0; /* both zero: reproduced exactly */
        /* one of them zero: no alignment, adds 0 */
    }
    return sum / nc;
}

void invcsi_metrics_reset(invcsi_metrics_acc *a)
{
    a->nmse_sum = 0.0;
    a->rho_sum = 0.0;
    a->count = 0;
}

void invcsi_metrics_add(invcsi_metrics_acc *a, const float *h, const float *hhat, int n_ant, int nc)
{
    a->nmse_sum += invcsi_nmse_sample(h, hhat, (long)n_ant * nc);
    a->rho_sum += invcsi_rho_sample(h, hhat, n_ant, nc);
    a->count++;
}

double invcsi_metrics_nmse_db(const invcsi_metrics_acc *a)
{
    if (a->count <= 0)
        return NAN;
    return invcsi_db(a->nmse_sum / (double)a->count);
}

double invcsi_metrics_rho(const invcsi_metrics_acc *a)
{
    if (a->count <= 0)
        return NAN;
    return a->rho_sum / (double)a->count;
}

double invcsi_db(double x)
{
    if (x == 0.0)
        return -INFINITY;
    return 10.0 * log10(x); /* NaN for negative input, as log10 */
}

double invcsi_batch_sse(const float *x, const float *xhat, int batch, int dim, double *nmse_sum)
{
    double sse = 0.0;
    for (int b = 0; b < batch; b++) {
        const float *xb = x + (long)b * dim, *hb = xhat + (long)b * dim;
        double e = 0.0, p = 0.0;
        for (int i = 0; i < dim; i++) {
            const double d = (double)hb[i] - xb[i];
            e += d * d;
            p += (double)xb[i] * xb[i];
        }
        sse += e;
        if (p > 0.0)
            *nmse_sum += e / p;
    }
    return sse;
}
