/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Private pieces of the street ray tracer (lib/street_*.c): the per-call tracer set-up
 * (reflector planes with their permittivities, shrunk building boxes for blockage tests)
 * that every user of one call shares.
 */
#ifndef INVCSI_STREET_INTERNAL_H
#define INVCSI_STREET_INTERNAL_H

#include "invcsi/street.h"

#define INVCSI_STREET_FORMAT "invcsi-street-scene"
#define STREET_C0 299792458.0   /* speed of light, m/s */

/* One reflecting plane: the ground (z = 0, whole plane) or one wall face of a building. */
typedef struct street_reflector {
    int id;             /* INVCSI_STREET_GROUND or 4 * building + face */
    int axis;           /* plane normal along x (0), y (1) or z (2) */
    double c;           /* plane: coordinate[axis] == c */
    double side;        /* +1: the front (outside) is coordinate > c; -1: < c */
    int u_axis;         /* walls: the horizontal coordinate along the face */
    double u0, u1;      /* walls: face extent along u_axis */
    double top;         /* walls: building height (the face spans 0..top in z) */
    int tm;             /* 1: TM coefficient (ground), 0: TE (walls) */
    double eps_re, eps_im;
} street_reflector;

typedef struct street_tracer {
    int n_refl;
    street_reflector refl[1 + 4 * INVCSI_STREET_MAX_BUILDINGS];
    int n_boxes;
    double box[INVCSI_STREET_MAX_BUILDINGS][6];   /* x0 y0 z0 x1 y1 z1, shrunk by 1 um */
    double lambda;       /* m */
    int max_order;
    double min_rel;      /* linear power ratio below the strongest path that is kept */
} street_tracer;

/* Scene check + params check + materials valid at the carrier. */
int street_check_all(const invcsi_street_scene *s, const invcsi_street_params *p,
                     invcsi_error *err);

/* Sets up t for scene s and params p (both checked already). */
void street_tracer_init(street_tracer *t, const invcsi_street_scene *s,
                        const invcsi_street_params *p);

/* Paths from tx to rx into paths[0..max); returns their number, or -1 when max is too
 * small. */
int street_trace_pair(const street_tracer *t, const double tx[3], const double rx[3],
                      invcsi_street_path *paths, long max);

#endif
