/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A set of frequency-domain MIMO channels H[n][r][t][k] and the configuration that
 * produced it. Every data source (CDL generator, ray tracer, .mat loaders) fills
 * this one struct, so every later stage takes any kind of data unchanged.
 */
#ifndef INVCSI_CHANNELS_H
#define INVCSI_CHANNELS_H

#include <stdint.h>

#include "invcsi/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct invcsi_channel_config {
    char model[32];     /* "cdl-a".."cdl-e", "street", "deepmimo", "cost2100", ... */
    int nr, nt, nc;     /* receive antennas, transmit (BS) antennas, subcarriers */
    double fc_ghz;      /* carrier, GHz (0 if unknown) */
    double bw_mhz;      /* bandwidth spanned by the nc subcarriers, MHz (0 if unknown) */
    double ds_ns;       /* (median) delay spread, ns (0 if not applicable) */
    double ds_lgstd;    /* std of log10(DS) across samples (0: every sample at ds_ns) */
    double k_factor_db; /* LOS K-factor, dB (NAN if NLOS or unknown) */
    uint64_t seed;      /* generator seed (0 if unknown) */
} invcsi_channel_config;

typedef struct invcsi_channels {
    int n, nr, nt, nc;
    /* n*nr*nt*nc complex values, interleaved (re, im):
     * element (i, r, t, k) at h[2 * (((i * nr + r) * nt + t) * nc + k)]. */
    float *h;
    /* optional user positions, n*3 floats (x, y, z in metres); NULL when absent */
    float *pos;
    invcsi_channel_config cfg;
} invcsi_channels;

/* Allocates h (zeroed) for n samples; pos stays NULL. cfg.nr/nt/nc are set. */
int invcsi_channels_alloc(invcsi_channels *c, int n, int nr, int nt, int nc, invcsi_error *err);
void invcsi_channels_free(invcsi_channels *c);

/* Scales every sample to unit mean power per entry (||H_i||^2 = nr*nt*nc), the
 * "normalized" data of the InvCSINet paper: ray-traced users span 40+ dB of path gain,
 * and a codec trained on data-set-wide power spends its range on the strong users.
 * NMSE per sample is scale-free, so only the codec's operating point changes.
 * gain_db (may be NULL) receives n values: 10 log10 of each sample's mean power before
 * scaling. A sample with zero or non-finite power is an error naming its index. */
int invcsi_channels_normalize_samples(invcsi_channels *c, double *gain_db, invcsi_error *err);

/* Number of complex values per sample (nr*nt*nc). */
static inline long invcsi_channels_sample_len(const invcsi_channels *c)
{
    return (long)c->nr * c->nt * c->nc;
}

/* Progress report for long operations: done of total units. May be NULL. */
typedef void (*invcsi_progress_fn)(void *ctx, long done, long total);

#ifdef __cplusplus
}
#endif
#endif
