/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Channel sets in MATLAB .mat files (libmatio), readable by MATLAB, scipy and h5py.
 *
 * Written files (MAT v7.3 = HDF5):
 *   H       complex single; MATLAB size [nc nt nr n], which is exactly the C memory order
 *           of H[n][r][t][k], so h5py/numpy sees shape (n, nr, nt, nc)
 *           (a compound dtype with fields 'real', 'imag').
 *   config  struct: model (char), seed (uint64), nt, nr, nc, fc_ghz, bw_mhz, ds_ns,
 *           ds_lgstd, k_factor_db (NaN when NLOS), command (char: the generating
 *           command line), format_version (INVCSI_MAT_FORMAT_VERSION); numbers are double.
 *   pos     single, numpy shape (n, 3) (MATLAB [3 n]); only when the set has positions.
 *
 * Read files, detected from their variables (first match wins):
 *   "invcsi"      H + config, as written above (v5 copies with H as [n nr nt nc] are
 *                 recognised from config's nr/nt/nc).
 *   "deepmimo"    a complex array `channels` or `channel` shaped (users, nr, nt, nc) in
 *                 numpy order, i.e. the shape the natural Python reader returns: for MAT
 *                 v5/v4 files (scipy.io.savemat/loadmat) MATLAB size [users nr nt nc];
 *                 for v7.3 files (h5py) MATLAB size [nc nt nr users]. Fewer dimensions
 *                 mean trailing ones are 1. Optional positions `location`, `loc` or
 *                 `rx_loc` (users x 3).
 *   "deepmimo-v2" the DeepMIMO v2 MATLAB struct DeepMIMO_dataset{1}.user{u}.channel
 *                 (nr x nt x K per user; a 2-D channel is DeepMIMO v1's nt x K, nr = 1),
 *                 positions from user{u}.loc.
 *   "cost2100"    CsiNet/COST2100 `HT`: real, N x 2048 values in [0, 1] (angular-delay
 *                 image + 0.5): each row, in numpy C order, is (2, 32, 32) =
 *                 [real, imag][angle][delay]; converted to frequency-domain H
 *                 (nr = 1, nt = 32, nc = 32) with invcsi_dft_inverse.
 * Every bad file (not a MAT file, truncated, missing or mistyped variable, wrong shape,
 * NaN/Inf, empty) gives INVCSI_EIO or INVCSI_EFORMAT with a message naming the file and
 * the problem; the library never crashes or prints on such files.
 *
 * libmatio and HDF5 are not thread-safe: every call here takes one process-wide lock.
 */
#ifndef INVCSI_MATFILE_H
#define INVCSI_MATFILE_H

#include "invcsi/channels.h"
#include "invcsi/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define INVCSI_MAT_FORMAT_VERSION 1

/* Writes c to path (MAT v7.3) through path.tmp and a rename, so an interrupted run
 * never leaves a half-written file under path. command (may be NULL) is stored in
 * config.command. H is converted to matio's split complex storage in chunks of
 * samples, so the extra memory is one chunk, not a second copy of the set. */
int invcsi_mat_write_channels(const char *path, const invcsi_channels *c, const char *command,
                              invcsi_error *err);

/* What a loaded file was. */
typedef struct invcsi_mat_info {
    char kind[16];        /* "invcsi", "deepmimo", "deepmimo-v2", "cost2100" */
    char variable[40];    /* the variable the channels came from ("H", "channels", ...) */
    int mat_version;      /* 73 (HDF5), 5 or 4 */
    int format_version;   /* config.format_version of invcsi files, else 0 */
    char command[1024];   /* config.command of invcsi files (truncated), else "" */
} invcsi_mat_info;

/* Loads any supported file into c (allocated here; free with invcsi_channels_free).
 * On error c is left empty (h == NULL, n == 0). info may be NULL. */
int invcsi_mat_read_channels_info(const char *path, invcsi_channels *c, invcsi_mat_info *info,
                                  invcsi_error *err);
int invcsi_mat_read_channels(const char *path, invcsi_channels *c, invcsi_error *err);

#ifdef __cplusplus
}
#endif
#endif
