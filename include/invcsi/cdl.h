/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * 3GPP TR 38.901 clustered delay line (CDL-A..E) channel generator, section 7.7.1.
 *
 * Per sample: cluster delays scaled by a delay spread (drawn log-normally around the
 * median when ds_lgstd > 0), 20 rays per NLOS cluster with the Table 7.5-3 offsets
 * scaled by the cluster spreads, random ray coupling, random ray phases, a random UE
 * orientation, the LOS path of CDL-D/E with its K-factor, optional angle scaling
 * (7.7.5.1), ULAs with half-wavelength spacing at BS (nt) and UE (nr).
 * Output H[n][r][t][k] on nc subcarriers spread evenly across bw_mhz.
 */
#ifndef INVCSI_CDL_H
#define INVCSI_CDL_H

#include <stdint.h>

#include "invcsi/channels.h"
#include "invcsi/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { INVCSI_CDL_A = 0, INVCSI_CDL_B, INVCSI_CDL_C, INVCSI_CDL_D, INVCSI_CDL_E } invcsi_cdl_model;

typedef struct invcsi_cdl_params {
    invcsi_cdl_model model;
    int nt, nr, nc;
    double fc_ghz;      /* default 28 */
    double bw_mhz;      /* default 50 */
    double ds_ns;       /* median delay spread, default 66 (UMi street canyon at 28 GHz) */
    double ds_lgstd;    /* std of log10(DS) across samples; 0 = every sample at ds_ns */
    double asd_deg;     /* desired azimuth spread of departure (7.7.5.1); NAN = table's own */
    double asa_deg;     /* desired azimuth spread of arrival; NAN = table's own */
    double k_factor_db; /* LOS K-factor for CDL-D/E; NAN = table's own */
    int nc_full;        /* CsiNet remedy against delay wrap-around: 0 = off; else generate
                           nc_full > nc subcarriers across bw_mhz, go to the delay domain,
                           keep the first nc taps, and return to nc frequency points */
    uint64_t seed;
    int threads;        /* 0 = OpenMP default; results do not depend on it */
} invcsi_cdl_params;

/* Fills p with the defaults above for the given model (ds_lgstd default: 0). */
void invcsi_cdl_params_default(invcsi_cdl_params *p, invcsi_cdl_model model);

/* "cdl-a".."cdl-e" (case-insensitive) -> model; INVCSI_EINVAL with a message otherwise. */
int invcsi_cdl_model_parse(const char *name, invcsi_cdl_model *model, invcsi_error *err);
const char *invcsi_cdl_model_name(invcsi_cdl_model model);

/* Generates n samples into out (allocated here; free with invcsi_channels_free).
 * progress (may be NULL) is called with samples done. Deterministic for a given seed,
 * independent of the thread count. */
int invcsi_cdl_generate(const invcsi_cdl_params *p, int n, invcsi_channels *out,
                        invcsi_progress_fn progress, void *progress_ctx, invcsi_error *err);

/* Largest scaled cluster delay of the model at delay spread ds_ns, in ns, and the
 * delay window of the angular-delay image nc / bw, in ns: a delay beyond the window
 * wraps around in the delay domain. */
double invcsi_cdl_max_delay_ns(invcsi_cdl_model model, double ds_ns);
double invcsi_delay_window_ns(int nc, double bw_mhz);

#ifdef __cplusplus
}
#endif
#endif
