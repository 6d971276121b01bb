/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * One interface for every CSI-feedback model of the core (INN, CsiNet, later
 * InvCSINet and STQENet), so the trainer, the evaluator, the benchmarks and the GNU
 * Radio blocks drive them all the same way.
 *
 * Data seen by a model: x, the preprocessed real tensor of one report (transform.h:
 * 2 x (nr*nt) x nc values, DFT'd and multiplied by the data set's power scale), batch
 * first: x[b * dim + i], dim = 2*nr*nt*nc. The encoder maps x to the latent y (m floats
 * per report); the decoder maps y back to x^.
 *
 * Life cycle:
 *   invcsi_model_config cfg; invcsi_model_config_default(&cfg, "inn", nr, nt, nc, cr);
 *   invcsi_model *m; invcsi_model_create(&m, &cfg, max_batch, err);   (builds the
 *       parameter table, finalizes it, initialises weights from cfg.seed)
 *   ... fit_front (once, on the training set), train_step / encode / decode ...
 *   invcsi_model_save(m, path, extra_meta, err); invcsi_model_load(&m, path, max_batch, err);
 *   invcsi_model_destroy(m);
 */
#ifndef INVCSI_MODEL_H
#define INVCSI_MODEL_H

#include <stdint.h>

#include "invcsi/error.h"
#include "invcsi/params.h"
#include "invcsi/rng.h"
#include "invcsi/safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

#define INVCSI_KIND_MAX 16

typedef struct invcsi_model_config {
    char kind[INVCSI_KIND_MAX]; /* "inn", "csinet", "invcsinet" */
    int nr, nt, nc;             /* channel sizes; dim = 2*nr*nt*nc */
    int dim;                    /* real values per report */
    int m;                      /* latent size (round(dim * cr)) */
    uint64_t seed;              /* weight initialisation (and training) seed */

    /* INN (DESIGN.md section 3) */
    int patch;                  /* p: patch size, default 8 (needs nr*nt and nc divisible by p) */
    int blocks;                 /* K invertible blocks, default 3 */
    int width;                  /* subnet width (channels), default by CR, see inn.h */
    float clamp;                /* soft clamp of the coupling scale, default 2 */
    float leaky_slope;          /* LeakyReLU slope in subnets: 0.01 INN, 0.3 CsiNet */
    int permute;                /* fixed channel permutation between blocks: 0/1 */
    char front[INVCSI_KIND_MAX];/* "patch" (default), "energy", "klt" */
    int z_bwd_sample;           /* L_bwd decodes with z = 0 (0, default) or z = n (1) */
    float mmd_weight;           /* weight of L_fwd, default 1 */
    float mse_weight;           /* weight of L_bwd, default 1 (0 = "MMD only") */

    /* InvCSINet (DESIGN.md section 4, invcsinet.h): the INN fields above describe its INN;
     * mse_weight is its lambda (default 0.1) and z_bwd_sample its z_bwd (0: the prior mean
     * mu, 1: the sample z^). */
    int bits;                   /* B bits per latent value (1..8), default 4 */
    char bit_map[INVCSI_KIND_MAX]; /* index labels on air: "natural" (default) | "gray" */
    float snr_db_min;           /* training Eb/N0 in dB: fixed when min == max (default */
    float snr_db_max;           /* 10), else drawn uniformly in [min, max] per batch */
    float delta;                /* D-BCD soft-index sharpness; 0 = 0.1 x spacing^2 (dbcd.h) */
    float tau;                  /* D-BCD Gumbel-softmax temperature, default 1 */
    char dbcd_grad[INVCSI_KIND_MAX]; /* gradient of D-BCD w.r.t. the sent value q:
                                   "straight" (default: dq = dy~, the channel seen as
                                   additive in the backward; the levels still get D-BCD's
                                   gradient) | "surrogate" (the paper's: through p, pi, g) */
    float beta_start;           /* soft-DAQ slope in units of 1/spacing (2R/(L-1)), */
    float beta_end;             /* geometric from start to end over the epochs: 5 -> 50 */
    int lan_width;              /* IC LAN hidden channels, default 16 */
    int no_daq;                 /* ablation: uniform quantizer, not learned */
    int no_dbcd;                /* ablation: AWGN on the levels instead of D-BCD */
    int no_ic;                  /* ablation: no LAN, z^ = N(0, I) (the INN's own prior) */
    int freeze_inn;             /* inn.* tensors frozen (latent scale, DAQ, IC train) */

    /* CsiNet (DESIGN.md section 6) */
    int refine_blocks;          /* RefineNet blocks, default 2 */

    /* Data normalisation, stored with the weights (transform.h invcsi_power_scale) */
    double norm_scale;          /* x = scale * DFT(H) */
    /* Split the model was trained on, so the evaluator uses the same held-out data */
    uint64_t split_seed;
    double train_frac;          /* default 0.7 */
} invcsi_model_config;

/* Loss terms of one training step, averaged over the batch. */
typedef struct invcsi_losses {
    double total;      /* what the gradient was taken of */
    double mmd;        /* L_fwd (INN) */
    double mse;        /* L_bwd (INN) or the MSE (CsiNet) */
    double nmse_sum;   /* sum over the batch of ||x - x^||^2/||x||^2 of the reconstruction
                          the step computed (INN: f^-1(y, z_bwd)); the trainer averages it */
} invcsi_losses;

typedef struct invcsi_model invcsi_model;

/* Per-kind implementation. All functions return INVCSI_OK or an error code with err set.
 * batch is at most the max_batch the model was created with. */
typedef struct invcsi_model_ops {
    const char *kind;
    /* Fills kind-specific defaults into cfg (called by invcsi_model_config_default). */
    void (*config_default)(invcsi_model_config *cfg, double cr);
    /* Validates cfg (sizes, divisibility) with a clear message. */
    int (*check)(const invcsi_model_config *cfg, invcsi_error *err);
    /* Adds every tensor to m->params (not yet finalized). */
    int (*build)(invcsi_model *m, invcsi_error *err);
    /* Allocates activations and scratch for up to max_batch reports (m->impl). */
    int (*reserve)(invcsi_model *m, int max_batch, invcsi_error *err);
    /* Initialises the finalized parameters from cfg.seed. */
    void (*init)(invcsi_model *m);
    /* Optional (may be NULL): fixed data-dependent parts (INN --front energy|klt), from
     * the training set x (n reports), before training. */
    int (*fit_front)(invcsi_model *m, const float *x, long n, invcsi_error *err);
    /* Forward + backward of the training loss on one batch; ACCUMULATES into
     * m->params.grad (the trainer zeroes it). rng supplies the step's noise. */
    int (*train_step)(invcsi_model *m, const float *x, int batch, invcsi_rng *rng,
                      invcsi_losses *out, invcsi_error *err);
    /* Inference (weights unchanged, batch-independent results). */
    int (*encode)(invcsi_model *m, const float *x, int batch, float *y, invcsi_error *err);
    int (*decode)(invcsi_model *m, const float *y, int batch, float *xhat, invcsi_error *err);
    /* Frees m->impl. */
    void (*release)(invcsi_model *m);
    /* Optional (may be NULL): called by the trainer before every epoch (0-based) of a run
     * of `epochs`, also when a run resumes mid-epoch, so schedules that depend on the
     * epoch (InvCSINet's beta) are the same in a resumed run. */
    void (*begin_epoch)(invcsi_model *m, int epoch, int epochs);
} invcsi_model_ops;

struct invcsi_model {
    invcsi_model_config cfg;
    invcsi_params params;
    const invcsi_model_ops *ops;
    int max_batch;
    void *impl; /* kind-specific activations, scratch */
};

/* Registered kinds (defined in their own lib/<kind>*.c files). */
extern const invcsi_model_ops invcsi_inn_ops;
extern const invcsi_model_ops invcsi_csinet_ops;
extern const invcsi_model_ops invcsi_invcsinet_ops;

/* Kind by name, NULL if unknown. */
const invcsi_model_ops *invcsi_model_ops_find(const char *kind);

/* Defaults for a kind at compression ratio cr (m = round(dim * cr)), seed 1,
 * norm_scale 1, split_seed 1, train_frac 0.7. INVCSI_EINVAL for an unknown kind. */
int invcsi_model_config_default(invcsi_model_config *cfg, const char *kind, int nr, int nt,
                                int nc, double cr, invcsi_error *err);

/* Config <-> JSON text (the "config" entry of the weights file metadata). The returned
 * string is malloc'd. */
char *invcsi_model_config_to_json(const invcsi_model_config *cfg);
int invcsi_model_config_from_json(invcsi_model_config *cfg, const char *json, invcsi_error *err);

int invcsi_model_create(invcsi_model **m, const invcsi_model_config *cfg, int max_batch,
                        invcsi_error *err);
void invcsi_model_destroy(invcsi_model *m);

/* Weights file (safetensors, DESIGN.md section 7): every parameter tensor, and
 * __metadata__ {"format": "gr-invcsi-weights-1", "config": <json>, "normalisation":
 * "<scale>", plus the caller's extra entries (e.g. "command")}. Atomic write. */
int invcsi_model_save(const invcsi_model *m, const char *path, const invcsi_st_kv *extra,
                      int n_extra, invcsi_error *err);
/* Reads the config from the metadata, creates the model, loads and checks every tensor. */
int invcsi_model_load(invcsi_model **m, const char *path, int max_batch, invcsi_error *err);

/* Moves the model's computation to backend be (NULL: the CPU table): the parameters,
 * gradients and Adam moments into one allocation of be (invcsi_params_attach, filled from
 * the host buffers), the activations into another (ops->reserve again). Needs the
 * capability invcsi_backend_caps_for_kind(kind) (backend.h): INVCSI_EUNSUPPORTED
 * otherwise. Call it after init/load/fit_front; invcsi_model_save and checkpoints copy the
 * weights back to the host mirror themselves. */
struct invcsi_backend;
int invcsi_model_use_backend(invcsi_model *m, const struct invcsi_backend *be,
                             invcsi_error *err);

/* Parameters proper (sum of tensor counts, frozen buffers such as BN running stats
 * excluded when exclude_frozen is set). */
long invcsi_model_param_count(const invcsi_model *m, int exclude_frozen);

/* Convenience wrappers that split a large count into max_batch chunks. */
int invcsi_model_encode(invcsi_model *m, const float *x, long count, float *y, invcsi_error *err);
int invcsi_model_decode(invcsi_model *m, const float *y, long count, float *xhat,
                        invcsi_error *err);

#ifdef __cplusplus
}
#endif
#endif
