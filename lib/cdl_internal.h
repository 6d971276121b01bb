/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Private pieces of the CDL generator (lib/cdl.c): the per-call model setup (powers after
 * K-factor scaling, delays, angle-scaling factors) that every sample of one call shares.
 */
#ifndef INVCSI_CDL_INTERNAL_H
#define INVCSI_CDL_INTERNAL_H

#include "invcsi/cdl.h"

/* Table 7.5-3: ray offset angles of a cluster with unit RMS angle spread. */
extern const double invcsi_cdl_ray_offsets[INVCSI_CDL_RAYS_PER_CLUSTER];

typedef struct cdl_setup {
    const invcsi_cdl_table *tab;
    int n;                                  /* table entries */
    int los;                                /* entry 0 is the LOS ray */
    double power[INVCSI_CDL_MAX_ENTRIES];   /* linear, sums to 1 over entries */
    double delay[INVCSI_CDL_MAX_ENTRIES];   /* normalised delays: multiply by the DS */
    double aod_mean, aod_scale;             /* angle scaling about the circular mean */
    double aoa_mean, aoa_scale;             /* (scale 1: angles as in the table) */
    double k_factor_db;                     /* effective K (NAN for NLOS models) */
    /* Ray angles in degrees per entry n and offset index m (the same for every sample:
     * a sample only permutes them), after angle scaling and zenith folding; the LOS ray is
     * [0][0]. And the sines/cosines the array responses need, computed once here. */
    double aod[INVCSI_CDL_MAX_ENTRIES][INVCSI_CDL_RAYS_PER_CLUSTER];
    double aoa[INVCSI_CDL_MAX_ENTRIES][INVCSI_CDL_RAYS_PER_CLUSTER];
    double zod[INVCSI_CDL_MAX_ENTRIES][INVCSI_CDL_RAYS_PER_CLUSTER];
    double zoa[INVCSI_CDL_MAX_ENTRIES][INVCSI_CDL_RAYS_PER_CLUSTER];
    double sin_aod[INVCSI_CDL_MAX_ENTRIES][INVCSI_CDL_RAYS_PER_CLUSTER];
    double sin_aoa[INVCSI_CDL_MAX_ENTRIES][INVCSI_CDL_RAYS_PER_CLUSTER];
    double cos_aoa[INVCSI_CDL_MAX_ENTRIES][INVCSI_CDL_RAYS_PER_CLUSTER];
    double sin_zod[INVCSI_CDL_MAX_ENTRIES][INVCSI_CDL_RAYS_PER_CLUSTER];
    double sin_zoa[INVCSI_CDL_MAX_ENTRIES][INVCSI_CDL_RAYS_PER_CLUSTER];
} cdl_setup;

/* Builds the setup of p (which must have passed invcsi_cdl_params_check). */
int invcsi_cdl_setup_init(cdl_setup *s, const invcsi_cdl_params *p, invcsi_error *err);

#endif
