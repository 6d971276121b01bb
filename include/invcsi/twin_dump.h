/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A flat C entry point to the model internals for the PyTorch twin (bench/torch_twin.py,
 * tests/test_torch_twin.py) over ctypes: create a model from the config defaults, walk its
 * parameter table (names, shapes, data and gradient pointers), and run one training step
 * with a given RNG stream. Everything else the twin test needs is already public
 * (invcsi_model_load/save/destroy, invcsi_inn_of_model, invcsi_inn_forward/inverse,
 * invcsi_invcsinet_*, invcsi_rng_*). These functions exist so Python never mirrors the
 * layout of invcsi_model / invcsi_model_config (which grow as the project grows).
 */
#ifndef INVCSI_TWIN_DUMP_H
#define INVCSI_TWIN_DUMP_H

#include <stdint.h>

#include "invcsi/error.h"
#include "invcsi/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Model of `kind` ("inn", "invcsinet", ...) with invcsi_model_config_default at
 * compression ratio cr for nr x nt x nc reports, then: bits > 0 overrides the InvCSINet
 * bits, front (NULL = keep) the INN front end, seed the initialisation seed. Created for
 * up to max_batch reports, weights initialised (identity INN: perturb them to test). */
int invcsi_twin_create(invcsi_model **m, const char *kind, int nr, int nt, int nc, double cr,
                       int bits, const char *front, uint64_t seed, int max_batch,
                       invcsi_error *err);

/* Model from a config JSON object, as in a weights file's "config" entry (kind, nr, nt,
 * nc and m required; every other key falls back to the kind's default, as
 * invcsi_model_config_from_json does), weights initialised from its "seed". For configs
 * invcsi_twin_create cannot express, e.g. STQENet's lambda ("mse_weight"):
 *   {"kind": "stqenet", "nr": 1, "nt": 16, "nc": 16, "m": 32, "mse_weight": 2}. */
int invcsi_twin_create_json(invcsi_model **m, const char *config_json, int max_batch,
                            invcsi_error *err);

/* ops->begin_epoch(m, epoch, epochs) when the kind has one (the epoch schedules: InvCSINet's
 * beta, STQENet's rate warm-up), as the trainer calls it before every epoch; else nothing. */
void invcsi_twin_begin_epoch(invcsi_model *m, int epoch, int epochs);

/* Number of tensors in the parameter table. */
int invcsi_twin_tensor_count(const invcsi_model *m);

/* Tensor i of the table: name, rank, shape[4] (unused dims 1), data, gradient (NULL when
 * the model has no gradient buffers) and the frozen flag. Any output may be NULL.
 * INVCSI_EINVAL when i is out of range. */
int invcsi_twin_tensor(const invcsi_model *m, int i, const char **name, int *rank, int *shape,
                       float **data, float **grad, int *frozen);

/* Zeroes every gradient, then one ops->train_step on x [batch][dim] with the noise drawn
 * from invcsi_rng_init(seed, stream); losses[4] (may be NULL) = total, mmd, mse, nmse_sum
 * (invcsi_losses). The gradients are left in the model (invcsi_twin_tensor). */
int invcsi_twin_train_step(invcsi_model *m, const float *x, int batch, uint64_t seed,
                           uint64_t stream, double *losses, invcsi_error *err);

#ifdef __cplusplus
}
#endif
#endif
