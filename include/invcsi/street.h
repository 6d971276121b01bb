/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Site-specific street ray tracer: the kind of scene DeepMIMO O1 (two streets and an
 * intersection, 28 GHz) gives, traced here with the image method in a few milliseconds per
 * hundred users.
 *
 * Scene (a JSON file, see invcsi_street_scene_parse, or the built-in default):
 *   - buildings: axis-aligned boxes x0 < x < x1, y0 < y < y1, 0 < z < height, each of one
 *     material; a flat ground at z = 0 (one material);
 *   - materials in the form of ITU-R P.2040 Table 3: relative permittivity
 *     eta' = eta_a * f_GHz^eta_b, conductivity sigma = sigma_c * f_GHz^sigma_d S/m, complex
 *     relative permittivity eps = eta' - j sigma / (2 pi f eps0) (e^{j w t} convention);
 *   - one BS: position (x, y, z), the azimuth of its ULA axis, a downtilt and an element
 *     pattern; users on rectangular grid regions at one height.
 *
 * Frame and angles (those of lib/cdl.c and TR 38.901): x, y horizontal, z up, metres.
 * Azimuth phi counter-clockwise from +x, zenith theta from +z, degrees. A departure angle
 * is the direction from the BS towards the first point of the path; an arrival angle is
 * the direction from the UE back towards the last point (where the wave comes from), so a
 * LOS path has AoA = AoD + 180 and ZoA = 180 - ZoD.
 *
 * Paths (image method): LOS; specular reflections off building walls and the ground, every
 * sequence of up to max_order (default 2) reflectors with no reflector twice in a row: one
 * wall, the ground, two walls (all pairs), ground + wall, wall + ground. A path is kept when
 * every reflection point lies on its face (horizontal extent and 0 <= z <= height; the
 * ground everywhere) with both neighbours in front of it, and no segment passes through any
 * building (roofs are not reflectors, no diffraction, no scattering, no transmission).
 * Per path: length d, delay d / c, amplitude lambda / (4 pi d) times the product of the
 * Fresnel reflection coefficients at the incidence angles (c = 299792458 m/s).
 * Polarisation: both ends vertically polarised and the field taken as a scalar. A vertical
 * E field hitting a vertical wall is perpendicular to the plane of incidence (exactly so
 * for a horizontal path), so walls use the TE coefficient
 *   R_TE = (cos t - sqrt(eps - sin^2 t)) / (cos t + sqrt(eps - sin^2 t));
 * on the ground the vertical field lies in the plane of incidence, so the ground uses the
 * TM coefficient of ITU-R P.2040 (eq. 31b), the "vertical polarisation" one of the two-ray
 * model:
 *   R_TM = (eps cos t - sqrt(eps - sin^2 t)) / (eps cos t + sqrt(eps - sin^2 t)),
 * t the incidence angle from the surface normal (3-D). Both tend to -1 at grazing; at
 * normal incidence R_TE = (1 - sqrt(eps)) / (1 + sqrt(eps)) and R_TM = -R_TE (the TM sign
 * convention of P.2040). Cross-polarisation from oblique paths is ignored.
 * Paths weaker than min_rel_db (default 40 dB) below the user's strongest are dropped (path
 * gains as above, before any BS element pattern).
 *
 * Channel (invcsi_street_paths_to_h): exactly the CDL generator's arrays and subcarriers
 * (invcsi_cdl_rays_to_h is the code path): half-wavelength ULAs, isotropic elements unless
 * the BS pattern is "tr38901", subcarriers f_k = (k - (nc-1)/2) * bw/nc around fc, element
 * e of an array with axis azimuth a sees phase pi * e * sin(theta) * cos(phi - a)
 * (= the CDL form sin(theta) sin(phi - o) with orientation o = a - 90 deg), and
 *   H[r][t][k] = sum_paths g_p e^{-j 2 pi fc tau_p} e^{-j 2 pi f_k (tau_p - tau_0)} a_UE,r a_BS,t
 * with g_p the path amplitude above and tau_0 the earliest path's delay (timing of a UE
 * synchronised to its first arrival; INVCSI_STREET_TIMING_ABSOLUTE puts tau_0 = 0). No
 * random phase anywhere: H is a deterministic function of the user position. The UE array
 * axis is fixed per user region (default scene: along the street the user stands in).
 * H keeps the physical amplitude (path loss included, some -70 to -130 dB): NMSE and rho
 * are per sample and scale-invariant, and a data set's power normalisation sets the scale.
 *
 * Data set (invcsi_street_generate): the grid users of all regions (users inside a building
 * are left out), in the order of a permutation seeded by `seed`; users with no path are
 * skipped and counted; the first n users with a path become the samples (all of them when
 * n = 0), so a smaller n gives a prefix of a larger one. pos holds each sample's user
 * position; cfg.model is "street", cfg.ds_ns the median RMS delay spread of the samples
 * and cfg.ds_lgstd the std of its log10. Parallel over users (OpenMP), the same bytes on
 * any thread count.
 */
#ifndef INVCSI_STREET_H
#define INVCSI_STREET_H

#include <stddef.h>
#include <stdint.h>

#include "invcsi/channels.h"
#include "invcsi/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define INVCSI_STREET_MAX_MATERIALS 16
#define INVCSI_STREET_MAX_BUILDINGS 256
#define INVCSI_STREET_MAX_REGIONS 32
#define INVCSI_STREET_MAX_ORDER 3     /* reflections per path the tracer accepts */
#define INVCSI_STREET_NAME_LEN 32     /* material and scene names, NUL included */
#define INVCSI_STREET_MAX_USERS 20000000L  /* grid points over all regions */

/* Reflector ids in invcsi_street_path.via: the ground, or wall 4 * building + face with
 * face 0: x = x0 (faces -x), 1: x = x1 (+x), 2: y = y0 (-y), 3: y = y1 (+y). */
#define INVCSI_STREET_GROUND (-1)

typedef enum {
    INVCSI_STREET_PATTERN_ISOTROPIC = 0,
    INVCSI_STREET_PATTERN_TR38901 = 1   /* TR 38.901 Table 7.3-1 element: 65 deg HPBW,
                                           30 dB front-back, 8 dBi, boresight facing
                                           array_axis_deg - 90, tilted down by downtilt */
} invcsi_street_pattern;

typedef struct invcsi_street_material {
    char name[INVCSI_STREET_NAME_LEN];   /* letters, digits, '-', '_', '.' */
    double eta_a, eta_b;      /* real relative permittivity eta' = eta_a * f_GHz^eta_b */
    double sigma_c, sigma_d;  /* conductivity sigma = sigma_c * f_GHz^sigma_d, S/m */
} invcsi_street_material;

typedef struct invcsi_street_building {
    double x0, y0, x1, y1;    /* footprint, m (x0 < x1, y0 < y1) */
    double height;            /* m, > 0 */
    int material;             /* index into scene.materials */
} invcsi_street_building;

typedef struct invcsi_street_bs {
    double x, y, z;           /* array reference point (element 0), m; z > 0 */
    double array_axis_deg;    /* azimuth of the ULA axis (element e at e lambda/2 along it) */
    double downtilt_deg;      /* boresight below the horizon, [-90, 90]; acts through the
                                 tr38901 pattern only (a horizontal ULA does not move when
                                 tilted about its own axis) */
    invcsi_street_pattern pattern;
} invcsi_street_bs;

typedef struct invcsi_street_region {
    double x0, y0, x1, y1;    /* x0 <= x1, y0 <= y1 */
    double array_axis_deg;    /* azimuth of the UE ULA axis for users of this region */
} invcsi_street_region;

typedef struct invcsi_street_scene {
    char name[INVCSI_STREET_NAME_LEN];
    int n_materials;
    invcsi_street_material materials[INVCSI_STREET_MAX_MATERIALS];
    int ground_material;      /* index into materials */
    int n_buildings;
    invcsi_street_building buildings[INVCSI_STREET_MAX_BUILDINGS];
    invcsi_street_bs bs;
    double user_z;            /* user (UE array) height, m */
    double user_spacing;      /* grid spacing, m */
    int n_regions;
    invcsi_street_region regions[INVCSI_STREET_MAX_REGIONS];
} invcsi_street_scene;

/* ---- scene ---- */

/* The default scene (every number explained in lib/street_scene.c and in
 * data/scenes/street-default.json, which holds the same scene). */
void invcsi_street_scene_default(invcsi_street_scene *s);

/* Checks sizes, names, materials, that the BS is outside every building and the user
 * grid size; INVCSI_EINVAL with a message naming the item otherwise. */
int invcsi_street_scene_check(const invcsi_street_scene *s, invcsi_error *err);

/* Parses a scene from JSON text (format: data/scenes/street-default.json and the README):
 * every field is required except "format", "version" and "name"; unknown keys are errors.
 * INVCSI_EFORMAT for malformed JSON or a wrong/missing field, INVCSI_EINVAL when the scene
 * fails invcsi_street_scene_check. `source` (may be NULL) names the text in messages. */
int invcsi_street_scene_parse(const char *text, size_t len, const char *source,
                              invcsi_street_scene *s, invcsi_error *err);
/* Reads and parses a scene file (INVCSI_EIO if it cannot be read). */
int invcsi_street_scene_load(const char *path, invcsi_street_scene *s, invcsi_error *err);
/* The scene as pretty-printed JSON (one building per line), malloc'd, NUL-terminated;
 * parsing it gives the same scene back. Free with free(). */
int invcsi_street_scene_to_json(const invcsi_street_scene *s, char **text, invcsi_error *err);

/* Complex relative permittivity of a material at fc as (re, im): re = eta',
 * im = -sigma / (2 pi f eps0) <= 0 (eps0 = 8.8541878128e-12 F/m). */
void invcsi_street_permittivity(const invcsi_street_material *m, double fc_ghz, double *eps_re,
                                double *eps_im);

/* Fresnel reflection coefficient for complex permittivity eps (re, im) at incidence angle t
 * given as cos(t) in [0, 1]: tm = 0 for TE (walls), 1 for TM (ground), formulas above. */
void invcsi_street_fresnel(double eps_re, double eps_im, double cos_t, int tm, double *re,
                           double *im);

/* The user grid: per region nx = max(1, floor((x1-x0)/spacing)) columns centred in the
 * region (margins >= spacing/2 when the region is wider than one spacing), likewise rows;
 * regions in order, rows (y) outer, columns (x) inner. Users inside or on a building
 * (below its height) are left out and counted in *n_inside (may be NULL).
 * pos: n*3 doubles, region: n ints (either may be NULL), both malloc'd. */
int invcsi_street_users(const invcsi_street_scene *s, double **pos, int **region, long *n,
                        long *n_inside, invcsi_error *err);

/* ---- tracing ---- */

typedef enum { INVCSI_STREET_TIMING_FIRST_PATH = 0, INVCSI_STREET_TIMING_ABSOLUTE = 1 } invcsi_street_timing;

typedef struct invcsi_street_params {
    int nt, nr, nc;           /* BS antennas, UE antennas, subcarriers [32, 1, 32] */
    double fc_ghz, bw_mhz;    /* [28, 50] */
    int nc_full;              /* the CDL generator's CsiNet remedy for delays beyond nc/bw
                                 (0 = off) [0] */
    int max_order;            /* reflections per path, 0..INVCSI_STREET_MAX_ORDER [2] */
    int ground;               /* 1: the ground reflects (alone and with walls) [1] */
    double min_rel_db;        /* drop paths this far below the user's strongest, > 0 [40] */
    invcsi_street_timing timing;   /* [first path] */
    uint64_t seed;            /* user permutation [1] */
    int threads;              /* 0 = OpenMP default; results do not depend on it */
} invcsi_street_params;

void invcsi_street_params_default(invcsi_street_params *p);
int invcsi_street_params_check(const invcsi_street_params *p, invcsi_error *err);

typedef struct invcsi_street_path {
    int order;                        /* reflections: 0 = LOS */
    int via[INVCSI_STREET_MAX_ORDER]; /* reflector of each bounce, from the tx side */
    double point[INVCSI_STREET_MAX_ORDER][3];   /* the reflection points */
    double length_m, delay_ns;
    double gain_re, gain_im;  /* lambda / (4 pi d) * prod R (no carrier phase e^{-j 2 pi d/lambda}) */
    double power_db;          /* 20 log10 |gain| */
    double aod_deg, zod_deg;  /* at tx */
    double aoa_deg, zoa_deg;  /* at rx */
} invcsi_street_path;

/* Upper bound on the number of paths one tx/rx pair can have (buffer size for
 * invcsi_street_trace). */
long invcsi_street_max_paths(const invcsi_street_scene *s, const invcsi_street_params *p);

/* Every valid path from tx to rx (points in m), strongest-relative threshold applied,
 * sorted by delay. paths holds max_paths entries (INVCSI_EINVAL if that is too few: use
 * invcsi_street_max_paths). *n_paths = 0 when there is none (not an error). Uses
 * p->fc_ghz, max_order, ground, min_rel_db only. Reciprocal: trace(rx, tx) gives the same
 * paths with departure and arrival swapped. */
int invcsi_street_trace(const invcsi_street_scene *s, const invcsi_street_params *p,
                        const double tx[3], const double rx[3], invcsi_street_path *paths,
                        long max_paths, int *n_paths, invcsi_error *err);

/* Paths as JSON: {"tx":[x,y,z],"rx":[...],"paths":[{"order","via","points","length_m",
 * "delay_ns","power_db","phase_deg","aod_deg",...}]}; malloc'd text, free with free(). */
int invcsi_street_paths_to_json(const invcsi_street_path *paths, int n, const double tx[3],
                                const double rx[3], char **text, invcsi_error *err);

/* ---- channels ---- */

/* H of one user from its paths traced from the scene's BS (tx = BS): nr*nt*nc complex
 * values, interleaved, layout [r][t][k], as invcsi_channels stores one sample.
 * ue_axis_deg: azimuth of the UE ULA axis. n_paths = 0 gives H = 0. */
int invcsi_street_paths_to_h(const invcsi_street_scene *s, const invcsi_street_params *p,
                             const invcsi_street_path *paths, int n_paths, double ue_axis_deg,
                             float *h, invcsi_error *err);

typedef struct invcsi_street_stats {
    long grid_users;          /* grid points over all regions */
    long inside_buildings;    /* grid points left out: inside a building */
    long traced;              /* users traced (all of them when n = 0) */
    long no_path;             /* traced users without any path (skipped) */
    long samples;             /* users in the output */
    long los;                 /* samples with a LOS path */
    double mean_paths;        /* paths per sample after the threshold */
    double median_ds_ns;      /* RMS delay spread of the samples: median */
    double median_power_db;   /* 10 log10 of the mean |H|^2 per entry: median over samples */
} invcsi_street_stats;

/* Generates the data set described at the top (n = 0: every grid user with a path;
 * INVCSI_EINVAL if fewer than n users have a path). out is allocated here (pos too);
 * stats and progress (users done of total) may be NULL. */
int invcsi_street_generate(const invcsi_street_scene *s, const invcsi_street_params *p, long n,
                           invcsi_channels *out, invcsi_street_stats *stats,
                           invcsi_progress_fn progress, void *progress_ctx, invcsi_error *err);

#ifdef __cplusplus
}
#endif
#endif
