/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Reconstruction metrics of DESIGN.md section 2:
 *   NMSE = E[ ||H - H^||^2 / ||H||^2 ]  (reported in dB)
 *   rho  = E[ mean_k |h_k^H h^_k| / (||h_k|| ||h^_k||) ]  over subcarriers k
 * h and hhat are complex interleaved (re, im), one sample laid out [r][t][k] as in
 * invcsi_channels (so h_k is the nr*nt vector at subcarrier k).
 */
#ifndef INVCSI_METRICS_H
#define INVCSI_METRICS_H

#ifdef __cplusplus
extern "C" {
#endif

/* ||h - hhat||^2 / ||h||^2 of one sample of n_complex values (linear, not dB). */
double invcsi_nmse_sample(const float *h, const float *hhat, long n_complex);

/* Same on real vectors of length n (e.g. the 2 x (nr*nt) x nc real tensor, where the
 * unitary DFT makes the value equal to the frequency-domain one). */
double invcsi_nmse_real(const float *x, const float *xhat, long n);

/* Training-loss helper over a batch of real reports (dim values each): returns the sum of
 * squared errors and adds each report's ||x - xhat||^2 / ||x||^2 to *nmse_sum (reports
 * with zero power are skipped), both accumulated in double. */
double invcsi_batch_sse(const float *x, const float *xhat, int batch, int dim, double *nmse_sum);

/* Generalised cosine similarity of one sample: n_ant = nr*nt, nc subcarriers. */
double invcsi_rho_sample(const float *h, const float *hhat, int n_ant, int nc);

/* Running mean of per-sample NMSE and rho. */
typedef struct invcsi_metrics_acc {
    double nmse_sum;
    double rho_sum;
    long count;
} invcsi_metrics_acc;

void invcsi_metrics_reset(invcsi_metrics_acc *a);
void invcsi_metrics_add(invcsi_metrics_acc *a, const float *h, const float *hhat, int n_ant, int nc);
double invcsi_metrics_nmse_db(const invcsi_metrics_acc *a); /* 10 log10(mean NMSE) */
double invcsi_metrics_rho(const invcsi_metrics_acc *a);

/* 10 log10(x), -inf for 0. */
double invcsi_db(double x);

#ifdef __cplusplus
}
#endif
#endif
