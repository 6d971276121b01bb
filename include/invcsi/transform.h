/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Preprocessing of DESIGN.md section 2: unitary 2D DFT of each (antenna x subcarrier)
 * matrix to the angular-delay domain, real/imag stacked as 2 channels, and a data-set
 * power normalisation; plus the exact inverse of all of it.
 *
 * Layouts (one sample):
 *   h: complex interleaved, [r][t][k] (nr*nt*nc complex values, as invcsi_channels)
 *   x: real, [2][nr*nt][nc] (plane 0 = real parts, plane 1 = imaginary parts),
 *      row a = r*nt + angle bin, column = delay bin.
 * Angle: DFT over the nt BS antennas of each receive antenna r; delay: inverse DFT over
 * subcarriers (so a positive delay lands in a positive delay bin); both unitary
 * (1/sqrt(N)), so ||x||^2 == ||h||^2 and NMSE is the same in either domain.
 */
#ifndef INVCSI_TRANSFORM_H
#define INVCSI_TRANSFORM_H

#include "invcsi/channels.h"
#include "invcsi/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct invcsi_dft invcsi_dft;

/* Creates plans for nr x nt x nc samples (FFTW, created under a lock, so this may be
 * called from several threads). */
int invcsi_dft_create(invcsi_dft **d, int nr, int nt, int nc, invcsi_error *err);
void invcsi_dft_destroy(invcsi_dft *d);

/* The one process-wide lock around FFTW planning (FFTW's planner is not thread-safe):
 * every core file that creates or destroys FFTW plans takes it. */
void invcsi_fftw_lock(void);
void invcsi_fftw_unlock(void);

/* Thread-safe for concurrent calls on one plan. count samples, contiguous. */
void invcsi_dft_forward(const invcsi_dft *d, const float *h, float *x, long count);
void invcsi_dft_inverse(const invcsi_dft *d, const float *x, float *h, long count);

/* Real values per sample: 2 * nr * nt * nc. */
long invcsi_dft_real_len(const invcsi_dft *d);

/* Scale s such that s^2 * mean_i(||x_i||^2) / len == 1 over the given samples (unit power
 * per real entry). x holds count samples of len values. */
double invcsi_power_scale(const float *x, long count, long len);
/* x *= s for count*len values (inverse: apply 1/s). */
void invcsi_scale(float *x, long count, long len, double s);

/* Whole-set preprocessing: H (all samples, or the rows listed in idx when idx != NULL)
 * -> DFT -> x (caller-allocated, count * real_len floats) * scale. */
int invcsi_preprocess(const invcsi_channels *c, const int *idx, long count, double scale,
                      float *x, invcsi_error *err);

/* Deterministic train/test split by seed: a seeded permutation of 0..n-1, the first
 * round(train_frac * n) go to train (in permuted order), the rest to test.
 * train and test are caller-allocated with n entries each. */
void invcsi_split(int n, double train_frac, unsigned long long seed, int *train, int *n_train,
                  int *test, int *n_test);

#ifdef __cplusplus
}
#endif
#endif
