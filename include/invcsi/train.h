/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The training loop of every model kind (include/invcsi/model.h), as a library function
 * so invcsi-train, the tests and the benchmarks run the same code, plus what goes with
 * it: the data split and preprocessing shared with invcsi-eval, the optimiser step over
 * the trainable tensors, the held-out NMSE, and checkpoints that resume bit-exactly.
 *
 *   invcsi_dataset d; invcsi_dataset_prepare(&d, &channels, split_seed, train_frac,
 *                                            max_train, &scale, err);
 *   cfg.norm_scale = scale; invcsi_model_create(&m, &cfg, batch, err);
 *   m->ops->fit_front (when not NULL) on d.x_train;
 *   invcsi_train_state st = {0};
 *   invcsi_train_run(m, &opt, &st, d.x_train, d.n_train, d.x_test, d.n_test, &stop_flag,
 *                    on_epoch, ctx, err);
 *
 * Determinism: an epoch's shuffle draws from the RNG stream (seed, "SHUF" | epoch) and a
 * step's noise from (seed, "STEP" | global step), seed = the model config's seed. With
 * the same data, options and thread count a run gives the same weights bit for bit, and a
 * run stopped at any batch and resumed from its checkpoint gives the same weights as one
 * that never stopped: the checkpoint holds the weights, both Adam moments, the epoch, the
 * batch within it, the global step, and the epoch's running loss sums.
 *
 * Batches: each epoch is a fresh permutation of the training set cut into
 * floor(n_train / batch) full batches; the last partial batch is DROPPED (every step has
 * the same size, which the MMD estimate and batch statistics want; the permutation
 * changes every epoch, so no report is left out for good).
 */
#ifndef INVCSI_TRAIN_H
#define INVCSI_TRAIN_H

#include <signal.h>
#include <stdint.h>

#include "invcsi/channels.h"
#include "invcsi/error.h"
#include "invcsi/model.h"
#include "invcsi/nn.h"
#include "invcsi/rng.h"
#include "invcsi/safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

#define INVCSI_CHECKPOINT_FORMAT "gr-invcsi-checkpoint-1"

/* ---- data ------------------------------------------------------------------------- */

/* A channel set split into training and held-out reports, preprocessed
 * (transform.h: DFT, real/imag planes, times scale). */
typedef struct invcsi_dataset {
    long dim;                /* real values per report, 2*nr*nt*nc */
    long n_train, n_test;
    int *train_idx;          /* n_train indices into the channel set, in split order */
    int *test_idx;           /* n_test indices */
    float *x_train;          /* n_train * dim */
    float *x_test;           /* n_test * dim */
    double scale;            /* the scale applied */
} invcsi_dataset;

/* Splits c with invcsi_split(c->n, train_frac, split_seed), keeps only the first
 * max_train training reports when max_train > 0, and preprocesses both parts. *scale:
 * when > 0 on entry it is applied as it is (evaluation: the stored normalisation); when
 * <= 0 it receives invcsi_power_scale of the (kept) training reports, which is applied.
 * Fails when the training part is empty. */
int invcsi_dataset_prepare(invcsi_dataset *d, const invcsi_channels *c,
                           uint64_t split_seed, double train_frac, long max_train,
                           double *scale, invcsi_error *err);
void invcsi_dataset_free(invcsi_dataset *d);

/* FNV-1a 64 over the sizes and the raw H values of a channel set: recorded with the
 * weights so the evaluator can tell whether it is given the data the model was trained
 * on (otherwise the "held-out" split is not held out). */
uint64_t invcsi_channels_fingerprint(const invcsi_channels *c);

/* ---- pieces of a step ------------------------------------------------------------- */

/* Adam over every non-frozen tensor of the model (frozen tensors, their gradient and
 * moments are never touched), learning rate lr, t = 1-based step count. */
int invcsi_train_adam_step(invcsi_model *m, double lr, long t, invcsi_error *err);

/* One optimiser step: zero the gradient, m->ops->train_step on x (batch reports, noise
 * from rng), Adam at lr with t = step + 1. Fails (INVCSI_EINVAL) on a non-finite loss. */
int invcsi_train_one_step(invcsi_model *m, const float *x, int batch, invcsi_rng *rng,
                          double lr, long step, invcsi_losses *losses, invcsi_error *err);

/* Mean over n reports of ||x - decode(encode(x))||^2 / ||x||^2 (linear; in the
 * preprocessed domain, which equals the frequency-domain NMSE since the DFT is unitary
 * and the scale cancels). Processes max_batch reports at a time. */
int invcsi_model_nmse(invcsi_model *m, const float *x, long n, double *nmse,
                      invcsi_error *err);

/* ---- the loop --------------------------------------------------------------------- */

/* Everything a checkpoint records about the run besides the model (resume keeps it). */
typedef struct invcsi_train_options {
    int epochs;              /* total epochs of the run */
    int batch;               /* reports per step (DESIGN.md: 128) */
    double lr;               /* initial learning rate (1e-3) */
    double lr_decay;         /* step decay factor (0.9) ... */
    int lr_step;             /* ... every lr_step epochs (20); <= 0: constant lr */
    int eval_every;          /* held-out NMSE every N epochs and after the last; 0: never */
    int checkpoint_every;    /* checkpoint every N epochs; 0: only when stopped */
    /* Not recorded in the checkpoint: */
    const char *checkpoint_path; /* NULL: no checkpoint is ever written */
    const invcsi_st_kv *meta;    /* extra metadata for checkpoints (command, data ...) */
    int n_meta;
} invcsi_train_options;

/* Defaults: epochs 1, batch 128, lr 1e-3, decay 0.9 every 20 epochs, eval every epoch,
 * no periodic checkpoint, no path, no metadata. */
invcsi_train_options invcsi_train_options_default(void);

/* Where a run is. Zeroed = the start of training. */
typedef struct invcsi_train_state {
    int epoch;               /* epochs completed (the current epoch, 0-based) */
    int batch;               /* batches completed within the current epoch */
    long step;               /* optimiser steps taken in the whole run */
    /* sums over the current epoch's completed batches (so a resumed epoch reports the
     * averages an uninterrupted one would) */
    double sum_total, sum_mmd, sum_mse, sum_nmse;
} invcsi_train_state;

/* What the loop reports after every epoch. */
typedef struct invcsi_epoch_report {
    int epoch;               /* 1-based, of epochs */
    int epochs;
    int batches;             /* per epoch */
    long step;               /* optimiser steps so far */
    double lr;
    double loss_total, loss_mmd, loss_mse;   /* means over the epoch's batches */
    double train_nmse_db;    /* from the steps' nmse_sum */
    double test_nmse_db;     /* NAN when not evaluated this epoch */
    double samples_per_s;    /* training steps of this epoch run in this process */
    double elapsed_s;        /* since invcsi_train_run started */
    double eta_s;            /* remaining epochs at this session's mean epoch time */
    int checkpointed;        /* a checkpoint was written after this epoch */
} invcsi_epoch_report;

typedef void (*invcsi_epoch_fn)(void *ctx, const invcsi_epoch_report *r);

/* Trains m from state st to o->epochs on x_train (n_train reports; x_test may be NULL
 * with n_test 0). stop (may be NULL) is checked after every batch: when it is non-zero
 * the loop writes a checkpoint of the exact state (when o->checkpoint_path is set) and
 * returns INVCSI_EINTERRUPTED with a message naming the checkpoint. on_epoch (may be
 * NULL) is called after every epoch. Returns INVCSI_OK when st->epoch == o->epochs.
 * The model must have been created with max_batch >= o->batch. */
int invcsi_train_run(invcsi_model *m, const invcsi_train_options *o, invcsi_train_state *st,
                     const float *x_train, long n_train, const float *x_test, long n_test,
                     const volatile sig_atomic_t *stop, invcsi_epoch_fn on_epoch, void *ctx,
                     invcsi_error *err);

/* ---- checkpoints ------------------------------------------------------------------ */

/* Writes the model (every tensor under its own name), the Adam moments (as
 * "adam_m/NAME" and "adam_v/NAME"), and metadata {"format": INVCSI_CHECKPOINT_FORMAT,
 * "config", "normalisation", "train": options JSON, "state": state JSON, + o->meta}
 * atomically (path.tmp, fsync, rename). */
int invcsi_checkpoint_save(const invcsi_model *m, const invcsi_train_options *o,
                           const invcsi_train_state *st, const char *path, invcsi_error *err);

/* Reads a checkpoint: creates the model (max_batch; <= 0: the recorded batch size),
 * restores weights and moments, and
 * fills the recorded options (checkpoint_path, meta: NULL/0) and state. When file is not
 * NULL the loaded file is handed over (for its metadata; free with
 * invcsi_safetensors_free), else freed. */
int invcsi_checkpoint_load(const char *path, int max_batch, invcsi_model **m,
                           invcsi_train_options *o, invcsi_train_state *st,
                           invcsi_safetensors *file, invcsi_error *err);

/* Model config of a loaded weights or checkpoint file ("config" metadata, checked
 * against "normalisation"). Implemented in lib/model.c beside invcsi_model_load. */
int invcsi_model_config_from_file(const invcsi_safetensors *f, invcsi_model_config *cfg,
                                  invcsi_error *err);

/* The "normalisation" metadata text of a scale: exact and locale-independent (a JSON
 * number, the shortest of %.15g..%.17g that reads back to the same double). */
void invcsi_model_format_scale(double scale, char *buf, size_t n);

/* ---- threads ---------------------------------------------------------------------- */

/* Sets the OpenMP thread count and the BLAS's (n >= 1); n <= 0 leaves both as they are.
 * Results are reproducible for a given count (a different count changes the float
 * rounding of reductions and GEMM blocking, so weights differ in the last bits). */
void invcsi_set_threads(int n);
/* The OpenMP thread count in effect (what a parallel region would use). */
int invcsi_get_threads(void);

#ifdef __cplusplus
}
#endif
#endif
