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
 *
 * Conventions (see lib/cdl.c for the reasons):
 * - Subcarrier k sits at f_k = fc + (k - (nc-1)/2) * bw/nc: spacing bw/nc, centred on fc,
 *   so a delay tau appears in delay bin tau * bw of the angular-delay image and the delay
 *   window is nc/bw.
 * - Antennas are isotropic and single-polarised (so the model's XPR is not used). Both
 *   arrays are ULAs along their local y axis; the BS array is fixed, the UE array gets a
 *   random azimuth orientation per sample (uniform in [0, 360) deg). Element e of an array
 *   with orientation o sees a ray (zenith theta, azimuth phi) with phase
 *   pi * e * sin(theta) * sin(phi - o), at every subcarrier (the array response is taken
 *   at fc; fc itself is only recorded).
 * - Every sample has unit average power per antenna pair and subcarrier:
 *   E[|H[r][t][k]|^2] = 1, so E[||H_i||^2] = nr*nt*nc (before any data-set normalisation).
 * - K-factor (CDL-D/E), as TR 38.901 eq. 7.7.6-2 defines it: the power of the specular LOS
 *   ray over the total power of all NLOS clusters. The tables' own values are 8.98 dB
 *   (CDL-D) and 9.27 dB (CDL-E). (The often quoted 13.3 dB / 22 dB are the ratios of the LOS
 *   ray to the Laplacian cluster that shares its zero delay, the TDL "K1".) A requested K
 *   rescales all NLOS powers by one factor (eq. 7.7.6-1) and re-normalises the delays to unit
 *   RMS delay spread, so the delay spread stays the requested one.
 * - Angle scaling (7.7.5.1, asd_deg/asa_deg not NAN): every ray azimuth (cluster angle plus
 *   its offset, the LOS ray included) is scaled about the power-weighted circular mean by a
 *   factor solved for (bisection) so that the circular spread of TR 38.901 Annex A,
 *   sqrt(-2 ln |sum_i P_i e^{j phi_i}|) with sum_i P_i = 1, equals the requested value
 *   exactly. The standard's factor AS_desired / AS_model misses it by a few percent because
 *   that spread is not linear in the angles (CDL-C to 10 deg: 0.267 would give 10.4 deg, the
 *   solved 0.256 gives 10.0). Scaling the offsets too (eq. 7.7-5 scales the tabulated
 *   cluster angles only) is what lets a requested spread below the intra-cluster one be met.
 *   The ray set is the same for every sample (a sample only permutes the offsets), so the
 *   spread holds per sample.
 * - nc_full > nc (CsiNet remedy against delay wrap-around): the result equals generating
 *   nc_full subcarriers across bw (spacing bw/nc_full), an inverse DFT to nc_full delay taps
 *   of 1/bw each, keeping taps 0..nc-1 (delays [0, nc/bw)), and a DFT back to nc points. The
 *   nc output points are then the coarser grid of spacing bw/nc; a linear phase ramp over the
 *   kept taps (a frequency shift of (bw/nc - bw/nc_full)/2, from the first fine subcarrier to
 *   the first coarse one) puts them at exactly the same frequencies f_k as without the
 *   remedy (centred on fc), so the
 *   remedy only removes the paths beyond the window instead of folding them back. It is
 *   computed in closed form per cluster (Dirichlet kernel), not with a large FFT. Power that
 *   lies beyond the kept taps is dropped, including the sinc leakage of off-grid paths into
 *   negative delays, so E[|H|^2] is a little below 1 with the remedy (measured at 32x1x32,
 *   nc_full = 1024, DS 66 ns: 0.976 for CDL-C, 0.995 for CDL-E).
 * - Limits (invcsi_cdl_params_check): nt, nr, nc >= 1 with nt*nr*nc <= 2^24; fc, bw, ds > 0;
 *   0 <= ds_lgstd <= 2; nc_full 0 or in (nc, 2^22]; asd/asa NAN or in (0, 180) deg; K NAN
 *   or in [-50, 100] dB and only for CDL-D/E; threads >= 0.
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

/* Fills p with the defaults above for the given model (ds_lgstd default 0.51: the
 * 38.901 UMi street-canyon NLOS spread at 28 GHz; 0 puts every sample at ds_ns). */
void invcsi_cdl_params_default(invcsi_cdl_params *p, invcsi_cdl_model model);

/* "cdl-a".."cdl-e" (case-insensitive) -> model; INVCSI_EINVAL with a message otherwise. */
int invcsi_cdl_model_parse(const char *name, invcsi_cdl_model *model, invcsi_error *err);
const char *invcsi_cdl_model_name(invcsi_cdl_model model);

/* Generates n samples into out (allocated here; free with invcsi_channels_free).
 * progress (may be NULL) is called with samples done. Deterministic for a given seed,
 * independent of the thread count. */
int invcsi_cdl_generate(const invcsi_cdl_params *p, int n, invcsi_channels *out,
                        invcsi_progress_fn progress, void *progress_ctx, invcsi_error *err);

/* Largest scaled cluster delay of the model at delay spread ds_ns, in ns (table delays,
 * i.e. without the small re-normalisation a requested K-factor brings), and the
 * delay window of the angular-delay image nc / bw, in ns: a delay beyond the window
 * wraps around in the delay domain. */
double invcsi_cdl_max_delay_ns(invcsi_cdl_model model, double ds_ns);
double invcsi_delay_window_ns(int nc, double bw_mhz);

/* ---- Tables and rays (for tests, tools and the CLI's information output) ---- */

#define INVCSI_CDL_MAX_ENTRIES 25   /* table rows, LOS ray included */
#define INVCSI_CDL_RAYS_PER_CLUSTER 20
#define INVCSI_CDL_MAX_RAYS (INVCSI_CDL_MAX_ENTRIES * INVCSI_CDL_RAYS_PER_CLUSTER)

/* One CDL table of TR 38.901 7.7.1 as printed (angles in degrees, powers in dB). */
typedef struct invcsi_cdl_table {
    const char *name;   /* "cdl-a" .. "cdl-e" */
    int los;            /* 1: entry 0 is the specular LOS ray (CDL-D, CDL-E) */
    int n;              /* number of entries (LOS ray included) */
    double c_asd, c_asa, c_zsd, c_zsa;  /* cluster RMS angle spreads, degrees */
    double xpr_db;      /* cross-polarisation ratio (unused: single-polarised arrays) */
    double delay[INVCSI_CDL_MAX_ENTRIES];    /* normalised delays (unit RMS delay spread) */
    double power_db[INVCSI_CDL_MAX_ENTRIES];
    double aod[INVCSI_CDL_MAX_ENTRIES], aoa[INVCSI_CDL_MAX_ENTRIES];
    double zod[INVCSI_CDL_MAX_ENTRIES], zoa[INVCSI_CDL_MAX_ENTRIES];
} invcsi_cdl_table;

/* The table of a model; NULL for an unknown model. */
const invcsi_cdl_table *invcsi_cdl_table_get(invcsi_cdl_model model);

/* The model's own K-factor in dB (eq. 7.7.6-2: LOS ray over all NLOS power); NAN for
 * CDL-A/B/C. */
double invcsi_cdl_model_k_factor_db(invcsi_cdl_model model);

/* Checks p (sizes, frequencies, spreads, K, nc_full, angle spreads) without generating;
 * INVCSI_EINVAL with a message naming the parameter otherwise. */
int invcsi_cdl_params_check(const invcsi_cdl_params *p, invcsi_error *err);

/* One ray of one sample, in the global frame (the UE orientation is not applied to aoa). */
typedef struct invcsi_cdl_ray {
    double delay_ns;
    double power;       /* linear; the rays of a sample sum to 1 */
    double aod_deg, aoa_deg, zod_deg, zoa_deg;
    double phase_rad;   /* initial phase, uniform in (-pi, pi) */
    int cluster;        /* table entry the ray belongs to */
} invcsi_cdl_ray;

/* Per-sample draws that are not rays. */
typedef struct invcsi_cdl_sample_info {
    double ds_ns;                /* this sample's delay spread */
    double ue_orientation_deg;   /* UE array azimuth, [0, 360) */
    int n_rays;
} invcsi_cdl_sample_info;

/* The rays of sample `index` exactly as invcsi_cdl_generate draws them for the same params
 * (rays holds at least INVCSI_CDL_MAX_RAYS entries). */
int invcsi_cdl_sample_rays(const invcsi_cdl_params *p, long index, invcsi_cdl_ray *rays,
                           invcsi_cdl_sample_info *info, invcsi_error *err);

/* Channel of one sample from a ray list with the generator's arrays and subcarriers
 * (p->nr, nt, nc, bw_mhz, nc_full): h receives nr*nt*nc complex values, interleaved,
 * layout [r][t][k]. Consecutive rays with equal delay_ns are summed as one cluster.
 * invcsi_cdl_generate computes each sample through this same code path. */
int invcsi_cdl_rays_to_h(const invcsi_cdl_params *p, const invcsi_cdl_ray *rays, int n_rays,
                         double ue_orientation_deg, float *h, invcsi_error *err);

#ifdef __cplusplus
}
#endif
#endif
