/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * FLOP and byte counts of the models of model.h, per layer, read off the model's own
 * layer structures (the INN's coupling/subnet structs of inn.h, the LAN shape of ic.h,
 * the parameter table's tensor shapes for CsiNet and the InvCSINet extras), plus the
 * roofline time of a counted pass on a machine given by its peak FLOP rate and memory
 * bandwidth. Used by apps/invcsi-roofline.c; the counting is here so tests can check it.
 *
 * Counting rules (all FP32):
 *   - a multiply-add is 2 FLOPs; a conv counts every tap of its 'same' padding (as the
 *     im2col GEMM and an implicit-GEMM GPU conv execute them): forward
 *     2 B H W Cout Cin kh kw + B H W Cout (bias); backward 2 B H W Cout Cin kh kw for the
 *     input gradient and the same plus B H W Cout (bias) for the weight gradient, each
 *     only when the core computes it (frozen weights, the data's own gradient: skipped).
 *   - element-wise kernels: ops per element read off kernels/ headers, a transcendental
 *     (exp, log, sqrt, a division) counted as 1 FLOP.
 *   - bytes: each row is one unfused kernel that reads its operands from and writes its
 *     results to DRAM once (no reuse across rows through caches, no im2col copies, no
 *     memsets): 4 bytes per float. Accumulated gradients (nn.h: +=) are read and written.
 *     Split into parameter, activation, gradient and optimiser (Adam m, v) bytes.
 * Phases: forward (everything up to the loss, including the INN's inverse pass of the
 * training loss), backward, update (zero grad + Adam over the trainable parameters).
 */
#ifndef INVCSI_FLOPS_H
#define INVCSI_FLOPS_H

#include "invcsi/error.h"
#include "invcsi/model.h"
#include "invcsi/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { INVCSI_COST_FORWARD = 0, INVCSI_COST_BACKWARD = 1, INVCSI_COST_UPDATE = 2,
       INVCSI_COST_PHASES = 3 };

#define INVCSI_COST_NAME_MAX 72

typedef struct invcsi_cost_row {
    char name[INVCSI_COST_NAME_MAX]; /* e.g. "f(x) inn.0.phi.conv1", "f^-1 inn.2.eta.conv3" */
    const char *op;                  /* "conv3x3", "dense", "lrelu", "mmd", "adam", ... */
    int phase;                       /* INVCSI_COST_* */
    double flops;
    double gemm_flops;               /* the part of flops done by GEMMs (2 M N K) */
    double param_bytes, act_bytes, grad_bytes, opt_bytes;
    double bytes;                    /* the sum of the four */
} invcsi_cost_row;

typedef struct invcsi_cost {
    invcsi_cost_row *rows;
    int n_rows, cap_rows;
    int batch;
    double flops[INVCSI_COST_PHASES], bytes[INVCSI_COST_PHASES];
    double param_bytes[INVCSI_COST_PHASES];
    double gemm_flops[INVCSI_COST_PHASES]; /* sum of 2 M N K of the GEMM calls the CPU
                                              backend makes (tests compare it with them) */
    /* Parameter values of the layers the walk visited, each layer once (trainable and
     * frozen weights of the layers the pass uses; BN running statistics and fixed front /
     * permutation tables excluded). For a training step of a model without frozen layers
     * it equals invcsi_model_param_count(m, 1); for a decode, the decoder's parameters. */
    long params_walked;
    long params_trainable; /* what the update phase's Adam sweeps */
} invcsi_cost;

/* ---- closed forms of single layers ------------------------------------------------- */

double invcsi_conv2d_flops_forward(const invcsi_conv2d_shape *s, int bias);
double invcsi_conv2d_flops_backward(const invcsi_conv2d_shape *s, int want_dinput,
                                    int want_dweight, int bias);
double invcsi_dense_flops_forward(int batch, int in_dim, int out_dim, int bias);
double invcsi_dense_flops_backward(int batch, int in_dim, int out_dim, int want_dinput,
                                   int want_dweight, int bias);

/* ---- whole models ------------------------------------------------------------------ */

/* One training step (invcsi_train_one_step) at this batch (>= 2): forward, backward,
 * update. m is a created or loaded model (its config and parameter table are read,
 * nothing is run). */
int invcsi_cost_train_step(const invcsi_model *m, int batch, invcsi_cost *out,
                           invcsi_error *err);
/* Decoding `batch` reports (decoder only: INN f^-1 with z = 0; CsiNet dense + RefineNet
 * with BN folded; InvCSINet bits -> indices -> levels -> IC -> f^-1 with z = mu). All
 * rows are in the forward phase. */
int invcsi_cost_decode(const invcsi_model *m, int batch, invcsi_cost *out, invcsi_error *err);
void invcsi_cost_free(invcsi_cost *c);

/* ---- roofline ------------------------------------------------------------------------ */

/* Time of one row on a machine of peak_flops FLOP/s and bandwidth bytes/s:
 * max(flops / peak_flops, bytes / bandwidth); *compute_bound (may be NULL) is 1 when the
 * FLOP term is the larger. */
double invcsi_roofline_row_time(const invcsi_cost_row *r, double peak_flops, double bandwidth,
                                int *compute_bound);
/* Sum of the row times of the phases whose bit is set in phase_mask (1 << phase); the
 * share of that time spent in compute-bound rows goes to *compute_share (may be NULL). */
double invcsi_roofline_time(const invcsi_cost *c, int phase_mask, double peak_flops,
                            double bandwidth, double *compute_share);

#ifdef __cplusplus
}
#endif
#endif
