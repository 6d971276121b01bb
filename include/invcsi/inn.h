/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The invertible network (INN) of InvCSINet (DESIGN.md section 3), on any backend table
 * (include/invcsi/backend.h): every loop, copy, GEMM and reduction of the passes goes
 * through the backend of its parameter table, so with a device arena (params.h) the
 * training step never touches the host.
 *
 *   x [2 x (nr*nt) x nc]  --front-->  v [C = 2p^2][gh][gw]  --split-->  (x1 | x2)
 *   (x1, x2) --block 0--> ... --block K-1--> (y, z)        y: M = c1*G values (the latent)
 *                                                           z: dim - M values (auxiliary)
 *   block:   x1' = x1 + phi(x2)
 *            x2' = x2 * exp(s(x1')) + eta(x1'),   s(u) = clamp (2 sigmoid(rho(u)) - 1)
 *   inverse: x2  = (x2' - eta(x1')) * exp(-s(x1'));  x1 = x1' - phi(x2)
 *
 * Front ends (which values start in x1): "patch" cuts the tensor into p x p patches
 * stacked on the channel axis (pixel-unshuffle: channel c*p*p + i*p + j holds plane c,
 * in-patch row i, column j, on a (nr*nt/p) x (nc/p) grid); "energy" permutes the dim
 * inputs by descending mean energy on the training set; "klt" rotates them onto the
 * training set's principal axes (descending eigenvalue). Both of the latter then view the
 * vector channel-major as [C][gh][gw], so x1 holds the top-M entries/axes. Their
 * permutation/rotation are frozen tensors of the parameter table (saved with the
 * weights), identity until fitted.
 *
 * Layers: three levels, each usable on its own (InvCSINet reuses the whole INN; its LAN
 * can reuse the subnet):
 *   invcsi_inn_subnet    4 convs 3x3 'same' with LeakyReLU between, last conv zero-init
 *   invcsi_inn_coupling  one invertible block (phi, rho, eta subnets)
 *   invcsi_inn           front + K blocks (+ optional fixed channel permutations),
 *                        activations for max_batch reports, forward/inverse/backwards
 * and the model-interface table invcsi_inn_ops (model.h) on top.
 *
 * Tensor names (prefix "inn" in the model): inn.<k>.{phi,rho,eta}.conv<i>.{weight,bias},
 * inn.perm.<k> (channel permutation after block k, cfg.permute), inn.front.perm
 * ("energy": source index of each position), inn.front.klt ("klt": [dim][dim], row j =
 * axis j). Integer tables are stored as floats (exact below 2^24).
 *
 * Gradients follow nn.h: every backward ACCUMULATES into the input gradients it is given
 * and into params->grad of the tensors that are not frozen (params->grad == NULL: no
 * parameter gradients at all). No function below allocates after reserve.
 */
#ifndef INVCSI_INN_H
#define INVCSI_INN_H

#include <stdint.h>

#include "invcsi/error.h"
#include "invcsi/model.h"
#include "invcsi/params.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ===== default subnet width ===============================================================
 * Sized to the parameter budget of the paper's Table II (whole InvCSINet, B = 1) for
 * dim = 2048, patch 8, K = 3 blocks (parameter counts of the INN alone):
 *
 *   CR     M    c1  width  INN parameters  budget
 *   1/64   32    2    21       290,499      292 K
 *   1/32   64    4    22       307,854      310 K
 *   1/16  128    8    24       343,536      352 K
 *   1/8   256   16    30       458,370      464 K
 *   1/4   512   32    44       771,684      799 K
 * Other sizes: INVCSI_INN_WIDTH_DEFAULT. */
#define INVCSI_INN_WIDTH_DEFAULT 24
int invcsi_inn_default_width(int dim, int m);

/* Fronts. */
enum { INVCSI_INN_FRONT_PATCH = 0, INVCSI_INN_FRONT_ENERGY = 1, INVCSI_INN_FRONT_KLT = 2 };
/* "patch" | "energy" | "klt" -> enum; INVCSI_EINVAL with a message otherwise. */
int invcsi_inn_front_parse(const char *name, int *front, invcsi_error *err);

/* Validates an INN config: patch divides nr*nt and nc, M a multiple of the grid size G
 * with 1 <= M/G < 2p^2, blocks >= 1, width >= 1, clamp > 0, slope in [0, 1), known front. */
int invcsi_inn_check_config(const invcsi_model_config *cfg, invcsi_error *err);

/* Parameters of the INN of a config (frozen front/permutation tables excluded), analytic;
 * -1 for a config invcsi_inn_check_config rejects. */
long invcsi_inn_param_count(const invcsi_model_config *cfg);

/* ===== subnet: in -> w -> w -> w -> out, 3x3 'same' convs with bias, LeakyReLU between == */

#define INVCSI_INN_SUBNET_CONVS 4

typedef struct invcsi_inn_subnet {
    int in_ch, out_ch, width;   /* channels */
    int gh, gw;                 /* map size */
    float slope;                /* LeakyReLU slope, >= 0 */
    int weight[INVCSI_INN_SUBNET_CONVS]; /* tensor indices in the parameter table */
    int bias[INVCSI_INN_SUBNET_CONVS];
} invcsi_inn_subnet;

/* Activations of one subnet pass for `batch` reports: the three hidden maps AFTER their
 * LeakyReLU (with slope >= 0 the sign of the output equals the sign of the input, so the
 * backward needs no pre-activation copy) and the output. */
typedef struct invcsi_inn_subnet_acts {
    float *hidden[3]; /* [batch][width][gh][gw] */
    float *out;       /* [batch][out_ch][gh][gw] */
} invcsi_inn_subnet_acts;

/* Adds prefix.conv{0..3}.{weight,bias} to p (before finalize). */
int invcsi_inn_subnet_build(invcsi_inn_subnet *s, invcsi_params *p, const char *prefix,
                            int in_ch, int out_ch, int width, int gh, int gw, float slope,
                            invcsi_error *err);
/* Analytic parameter count. */
long invcsi_inn_subnet_param_count(int in_ch, int out_ch, int width);
/* He/Kaiming-uniform weights (gain for the LeakyReLU slope), zero biases, deterministic
 * from seed and each tensor's name. The last conv is multiplied by last_gain: 0 (the
 * default init) makes the subnet output zero. */
void invcsi_inn_subnet_init(const invcsi_inn_subnet *s, invcsi_params *p, uint64_t seed,
                            float last_gain);
long invcsi_inn_subnet_act_floats(const invcsi_inn_subnet *s, int batch);
/* Points the activation pointers into buf (act_floats floats). */
void invcsi_inn_subnet_acts_bind(invcsi_inn_subnet_acts *a, const invcsi_inn_subnet *s,
                                 int batch, float *buf);
/* Scratch for forward and backward (conv im2col + two gradient maps). */
long invcsi_inn_subnet_scratch_floats(const invcsi_inn_subnet *s, int batch);
/* a->out = subnet(in); fills a. */
int invcsi_inn_subnet_forward(const invcsi_inn_subnet *s, const invcsi_params *p,
                              const float *in, invcsi_inn_subnet_acts *a, int batch,
                              float *scratch, invcsi_error *err);
/* From dout and the forward's in and a: accumulates din (may be NULL: not wanted) and the
 * gradients of the non-frozen weights. */
int invcsi_inn_subnet_backward(const invcsi_inn_subnet *s, invcsi_params *p, const float *dout,
                               const float *in, const invcsi_inn_subnet_acts *a, float *din,
                               int batch, float *scratch, invcsi_error *err);

/* ===== one invertible block (affine coupling, HiNet phi/rho/eta form) ===================== */

typedef struct invcsi_inn_coupling {
    int c1, c2;           /* channels of the x1 and x2 halves */
    int gh, gw;           /* map size */
    float clamp;          /* soft clamp of the log-scale */
    invcsi_inn_subnet phi; /* x2 -> c1 */
    invcsi_inn_subnet rho; /* x1' -> c2 (raw log-scale) */
    invcsi_inn_subnet eta; /* x1' -> c2 (shift) */
} invcsi_inn_coupling;

/* One pass through a block: x = (x1, x2) the block's input side, y = (x1', x2') its output
 * side. The forward fills y from x, the inverse x from y; both fill the subnet
 * activations (phi on x2, rho and eta on y1) that the matching backward reads. */
typedef struct invcsi_inn_coupling_acts {
    float *x1, *x2, *y1, *y2;   /* [batch][c1|c2][gh][gw] */
    invcsi_inn_subnet_acts phi, rho, eta;
} invcsi_inn_coupling_acts;

int invcsi_inn_coupling_build(invcsi_inn_coupling *c, invcsi_params *p, const char *prefix,
                              int c1, int c2, int gh, int gw, int width, float clamp,
                              float slope, invcsi_error *err);
void invcsi_inn_coupling_init(const invcsi_inn_coupling *c, invcsi_params *p, uint64_t seed,
                              float last_gain);
long invcsi_inn_coupling_act_floats(const invcsi_inn_coupling *c, int batch);
void invcsi_inn_coupling_acts_bind(invcsi_inn_coupling_acts *a, const invcsi_inn_coupling *c,
                                   int batch, float *buf);
long invcsi_inn_coupling_scratch_floats(const invcsi_inn_coupling *c, int batch);
/* y = block(x) */
int invcsi_inn_coupling_forward(const invcsi_inn_coupling *c, const invcsi_params *p,
                                invcsi_inn_coupling_acts *a, int batch, float *scratch,
                                invcsi_error *err);
/* x = block^-1(y) */
int invcsi_inn_coupling_inverse(const invcsi_inn_coupling *c, const invcsi_params *p,
                                invcsi_inn_coupling_acts *a, int batch, float *scratch,
                                invcsi_error *err);
/* Backward of the forward: from dy1, dy2, accumulates dx1, dx2 (each may be NULL) and the
 * weight gradients. */
int invcsi_inn_coupling_backward(const invcsi_inn_coupling *c, invcsi_params *p,
                                 const invcsi_inn_coupling_acts *a, int batch, const float *dy1,
                                 const float *dy2, float *dx1, float *dx2, float *scratch,
                                 invcsi_error *err);
/* Backward of the inverse: from dx1, dx2 (gradients at the inverse's outputs), accumulates
 * dy1, dy2 (each may be NULL) and the weight gradients. */
int invcsi_inn_coupling_inverse_backward(const invcsi_inn_coupling *c, invcsi_params *p,
                                         const invcsi_inn_coupling_acts *a, int batch,
                                         const float *dx1, const float *dx2, float *dy1,
                                         float *dy2, float *scratch, invcsi_error *err);

/* ===== front ends (lib/inn_front.c) ======================================================= */

/* Pixel-unshuffle: in [batch][planes][h][w] -> out [batch][planes*p*p][h/p][w/p], out
 * channel c*p*p + i*p + j at (gy, gx) = in[c][gy*p + i][gx*p + j]. */
void invcsi_patchify(float *out, const float *in, int batch, int planes, int h, int w, int p);
/* Its inverse (and adjoint). */
void invcsi_unpatchify(float *out, const float *in, int batch, int planes, int h, int w, int p);
/* out[b][k] = in[b][perm[k]] (perm holds indices as floats). */
void invcsi_gather(float *out, const float *in, const float *perm, int batch, int dim);
/* out[b][perm[k]] = in[b][k]: the inverse (and adjoint) of the gather. */
void invcsi_scatter(float *out, const float *in, const float *perm, int batch, int dim);
/* out[b] = R in[b] (R [dim][dim], row j = axis j) and its inverse out[b] = R^T in[b]. */
void invcsi_rotate(float *out, const float *in, const float *rot, int batch, int dim);
void invcsi_rotate_inverse(float *out, const float *in, const float *rot, int batch, int dim);
/* perm[k] = index of the k-th largest mean square over x[0..n) (ties: lower index first). */
int invcsi_energy_order(float *perm, const float *x, long n, int dim, invcsi_error *err);
/* rot = principal axes of the second-moment matrix E[x x^T] (uncentred: the rotation must
 * be linear to be invertible without an offset), row j = axis of the j-th largest
 * eigenvalue, each axis signed so its largest-magnitude entry is positive. */
int invcsi_klt_fit(float *rot, const float *x, long n, int dim, invcsi_error *err);

/* The same maps through a backend table (pointers in its memory); the functions above are
 * these on the CPU table. invcsi_split_rows_be is the inverse of invcsi_concat_rows_be. */
struct invcsi_backend;
void invcsi_patchify_be(const struct invcsi_backend *be, float *out, const float *in, int batch,
                        int planes, int h, int w, int p);
void invcsi_unpatchify_be(const struct invcsi_backend *be, float *out, const float *in,
                          int batch, int planes, int h, int w, int p);
void invcsi_gather_be(const struct invcsi_backend *be, float *out, const float *in,
                      const float *perm, int batch, int dim);
void invcsi_scatter_be(const struct invcsi_backend *be, float *out, const float *in,
                       const float *perm, int batch, int dim);
void invcsi_rotate_be(const struct invcsi_backend *be, float *out, const float *in,
                      const float *rot, int batch, int dim);
void invcsi_rotate_inverse_be(const struct invcsi_backend *be, float *out, const float *in,
                              const float *rot, int batch, int dim);
void invcsi_concat_rows_be(const struct invcsi_backend *be, float *out, const float *h1, int n1,
                           const float *h2, int n2, int batch);
void invcsi_split_rows_be(const struct invcsi_backend *be, const float *in, float *h1, int n1,
                          float *h2, int n2, int batch);

/* ===== the whole INN ====================================================================== */

typedef struct invcsi_inn invcsi_inn;

/* Adds every tensor under prefix (e.g. "inn") to p (before finalize) and keeps p for the
 * later calls: p must stay at its address (invcsi_model's params do). */
int invcsi_inn_create(invcsi_inn **inn, const invcsi_model_config *cfg, invcsi_params *p,
                      const char *prefix, invcsi_error *err);
/* Activations and scratch for up to max_batch reports (the only allocation), in the memory
 * of the parameter table's backend (p->be; the CPU table when NULL). From then on the
 * passes below run through that backend and every x, y, z, xhat, dy, dz given to them must
 * be in its memory (host memory for the CPU table). Attaching the table to another backend
 * (invcsi_params_attach) requires reserving again. */
int invcsi_inn_reserve(invcsi_inn *inn, int max_batch, invcsi_error *err);
/* The same in a caller's buffer of invcsi_inn_mem_floats(inn, max_batch) floats of that
 * backend's memory (the INN model puts its own buffers in the same allocation); the
 * caller keeps owning buf. */
long invcsi_inn_mem_floats(const invcsi_inn *inn, int max_batch);
int invcsi_inn_reserve_in(invcsi_inn *inn, int max_batch, float *buf, invcsi_error *err);
/* Weights from seed (needs finalized params): He-uniform subnets whose last conv is
 * scaled by last_gain (0: every block starts as the identity; > 0: a randomised INN, for
 * tests), seeded channel permutations. The front table is left alone. */
void invcsi_inn_init(invcsi_inn *inn, uint64_t seed, float last_gain);
/* Sets the energy/klt front table to the identity (what it is until fitted). */
void invcsi_inn_reset_front(invcsi_inn *inn);
/* Fits the energy permutation or the KLT rotation to x[0..n) (no-op for "patch"). */
int invcsi_inn_fit_front(invcsi_inn *inn, const float *x, long n, invcsi_error *err);
void invcsi_inn_free(invcsi_inn *inn);

int invcsi_inn_dim(const invcsi_inn *inn);      /* values per report */
int invcsi_inn_latent(const invcsi_inn *inn);   /* M (size of y) */
int invcsi_inn_aux(const invcsi_inn *inn);      /* dim - M (size of z) */
int invcsi_inn_max_batch(const invcsi_inn *inn);
const invcsi_inn_coupling *invcsi_inn_block(const invcsi_inn *inn, int k);
int invcsi_inn_blocks(const invcsi_inn *inn);

/* The activations of block k kept by the last forward (inverse = 0) or inverse (1) pass,
 * for diagnostics and tests (e.g. LeakyReLU sign patterns); NULL when out of range. */
const invcsi_inn_coupling_acts *invcsi_inn_pass_acts(const invcsi_inn *inn, int inverse, int k);

/* (y, z) = f(x): y [batch][M], z [batch][dim - M] (z may be NULL). Keeps the activations
 * for invcsi_inn_backward. */
int invcsi_inn_forward(invcsi_inn *inn, const float *x, int batch, float *y, float *z,
                       invcsi_error *err);
/* Backward of the last invcsi_inn_forward: from dy, dz (dz may be NULL = 0), accumulates
 * the weight gradients (the data x gets none). */
int invcsi_inn_backward(invcsi_inn *inn, int batch, const float *dy, const float *dz,
                        invcsi_error *err);
/* xhat = f^-1(y, z), z [batch][dim - M] or NULL for z = 0. Keeps the activations for
 * invcsi_inn_inverse_backward. */
int invcsi_inn_inverse(invcsi_inn *inn, const float *y, const float *z, int batch, float *xhat,
                       invcsi_error *err);
/* Backward of the last invcsi_inn_inverse: from dxhat, accumulates dy, dz (either may be
 * NULL) and the weight gradients. */
int invcsi_inn_inverse_backward(invcsi_inn *inn, int batch, const float *dxhat, float *dy,
                                float *dz, invcsi_error *err);

/* The model-interface table (model.h), kind "inn". The model's impl holds an invcsi_inn
 * (prefix "inn") and the training-loss buffers; these reach it from a model of kind "inn". */
invcsi_inn *invcsi_inn_of_model(invcsi_model *m);

/* Per-report concatenation [h1 | h2] of [batch][n1] and [batch][n2] into [batch][n1 + n2]
 * (the MMD's [y, z] vectors). */
void invcsi_concat_rows(float *out, const float *h1, int n1, const float *h2, int n2, int batch);

#ifdef __cplusplus
}
#endif
#endif
