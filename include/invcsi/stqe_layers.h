/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Layers of the STQENet codec (DESIGN.md section 5), in the style and with the conventions
 * of include/invcsi/nn.h (read its header comment): name_forward / name_backward over flat
 * float buffers the caller owns, PyTorch weight layouts, every gradient ACCUMULATED (+=),
 * any gradient pointer may be NULL (skipped), no allocation in hot paths (caller-provided
 * scratch sized by *_scratch_floats, saved activations sized by *_saved_floats).
 *
 *   LayerNorm over the last axis, GELU (erf form), multi-head self-attention in local
 *   windows (LSA) and in the global sub-sampled form (GSA), the tanh + mu-law compander
 *   and its inverse, straight-through rounding and the additive-uniform-noise proxy.
 * Also the encoder's whole transformer block, and for the decoder a conv + BN unit (training
 * and running statistics, folding) and the CR block built from it (nn.h's conv2d supports
 * the non-square odd kernels 1x9, 9x1, 1x5, 5x1 as it is).
 * The factorised entropy model is in include/invcsi/entropy_model.h.
 *
 * TOKENS (the decision DESIGN.md section 5 leaves to us, and what STNet's code does with
 * its nn.Linear(32, ...) over the last axis): each channel of the 2 x 32 x 32 tensor is one
 * SEQUENCE, and its tokens are the ROWS of the channel's 32 x 32 map, so the embedding is
 * one row (dim 32) and a [B][2][32][32] tensor is B*2 sequences of 32 tokens x 32 values,
 * with no reshaping at all. The two channels share the weights (as in STNet).
 *   LSA: the 32 row tokens are split into windows of `window` = 8 consecutive rows; each
 *        window attends within itself with 4 heads of 8 features, so one head of one
 *        window sees an 8 (tokens) x 8 (features) block. window = tokens is plain MHSA.
 *   GSA: queries are all 32 row tokens; keys/values come from the conv summary of the
 *        map, Conv2d(1 -> dim, kernel p x p, stride p) with p = `patch` = 8 over the
 *        32 x 32 map: (32/8) x (32/8) = 16 summary tokens of dim 32 (Twins order: patch
 *        row-major), then LayerNorm (eps INVCSI_STQE_LN_EPS), then the k/v projection.
 *        (STNet's public code ends up with a single key here; this is the described form.)
 * Attention scale 1/sqrt(dim/heads); softmax in float with the row max subtracted.
 */
#ifndef INVCSI_STQE_LAYERS_H
#define INVCSI_STQE_LAYERS_H

#include <stdint.h>

#include "invcsi/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define INVCSI_STQE_LN_EPS 1e-6f   /* every LayerNorm of STQENet (STNet uses 1e-6) */
#define INVCSI_STQE_MU 255.0f      /* mu-law parameter (DESIGN.md section 5) */

/* ===== LayerNorm over the last axis: rows of `dim` values =============================== */

/* out = (in - mean) * rstd * gamma + beta per row (biased variance, rstd = 1/sqrt(var + eps));
 * writes save_mean[rows], save_rstd[rows] for the backward. gamma, beta: [dim]. */
int invcsi_layernorm_forward(float *out, float *save_mean, float *save_rstd, const float *in,
                             const float *gamma, const float *beta, long rows, int dim,
                             float eps, invcsi_error *err);
/* Accumulates dinput[rows][dim], dgamma[dim], dbeta[dim] (each may be NULL). */
int invcsi_layernorm_backward(float *dinput, float *dgamma, float *dbeta, const float *dout,
                              const float *in, const float *gamma, const float *save_mean,
                              const float *save_rstd, long rows, int dim, invcsi_error *err);

/* ===== GELU, exact form x * Phi(x) (PyTorch nn.GELU() default); in place allowed ========= */

void invcsi_gelu_forward(float *out, const float *in, long n);
/* dinput += dout * gelu'(in); needs the forward's INPUT. */
void invcsi_gelu_backward(float *dinput, const float *dout, const float *in, long n);

/* ===== multi-head self-attention over row tokens ======================================== */

typedef struct invcsi_attn_shape {
    int seqs;     /* independent sequences: batch * channels (2 per CSI tensor) */
    int tokens;   /* T: tokens per sequence = rows of the map (32) */
    int dim;      /* D: embedding = row length (32); a multiple of heads */
    int heads;    /* 4 */
    int window;   /* LSA: tokens per window (8); tokens % window == 0; window = tokens
                     gives one window, i.e. plain multi-head attention */
    int patch;    /* GSA: side p of the summary conv (8); tokens % p == 0, dim % p == 0 */
} invcsi_attn_shape;

/* Checks the fields the layer uses (lsa: window; gsa: patch). */
int invcsi_lsa_check(const invcsi_attn_shape *s, invcsi_error *err);
int invcsi_gsa_check(const invcsi_attn_shape *s, invcsi_error *err);

/* LSA parameters, PyTorch layouts (nn.Linear(D, 3D) as "qkv", nn.Linear(D, D) as "proj"):
 * qkv output columns [0, D) are q, [D, 2D) k, [2D, 3D) v; head h uses columns
 * h*D/H .. (h+1)*D/H - 1 of each. Biases may be NULL (no bias). */
typedef struct invcsi_lsa_weights {
    const float *qkv_w;   /* [3D][D] */
    const float *qkv_b;   /* [3D] */
    const float *proj_w;  /* [D][D] */
    const float *proj_b;  /* [D] */
} invcsi_lsa_weights;
typedef struct invcsi_lsa_grads {
    float *qkv_w, *qkv_b, *proj_w, *proj_b;  /* each may be NULL */
} invcsi_lsa_grads;

/* Floats the forward saves for the backward (qkv, attention probabilities, context). */
long invcsi_lsa_saved_floats(const invcsi_attn_shape *s);
/* Scratch floats of the backward. */
long invcsi_lsa_scratch_floats(const invcsi_attn_shape *s);
/* out[seqs][T][D] = LSA(in[seqs][T][D]); fills saved. out must not alias in. */
int invcsi_lsa_forward(float *out, float *saved, const float *in, const invcsi_lsa_weights *w,
                       const invcsi_attn_shape *s, invcsi_error *err);
/* Accumulates dinput (may be NULL) and the parameter gradients in g (g may be NULL). */
int invcsi_lsa_backward(float *dinput, const invcsi_lsa_grads *g, const float *dout,
                        const float *in, const float *saved, const invcsi_lsa_weights *w,
                        const invcsi_attn_shape *s, float *scratch, invcsi_error *err);

/* GSA parameters, PyTorch layouts: q = nn.Linear(D, D), kv = nn.Linear(D, 2D) (columns
 * [0, D) k, [D, 2D) v), sr = nn.Conv2d(1, D, p, stride=p) (weight [D][1][p][p] stored as
 * [D][p*p]), norm = nn.LayerNorm(D, eps=INVCSI_STQE_LN_EPS), proj = nn.Linear(D, D).
 * q_b, kv_b, sr_b, proj_b may be NULL; norm_w and norm_b may not. */
typedef struct invcsi_gsa_weights {
    const float *q_w, *q_b;        /* [D][D], [D] */
    const float *kv_w, *kv_b;      /* [2D][D], [2D] */
    const float *sr_w, *sr_b;      /* [D][p*p], [D] */
    const float *norm_w, *norm_b;  /* [D], [D] */
    const float *proj_w, *proj_b;  /* [D][D], [D] */
} invcsi_gsa_weights;
typedef struct invcsi_gsa_grads {
    float *q_w, *q_b, *kv_w, *kv_b, *sr_w, *sr_b, *norm_w, *norm_b, *proj_w, *proj_b;
} invcsi_gsa_grads;

/* Summary tokens per sequence: (T/p) * (D/p). */
int invcsi_gsa_summary_tokens(const invcsi_attn_shape *s);
long invcsi_gsa_saved_floats(const invcsi_attn_shape *s);
long invcsi_gsa_scratch_floats(const invcsi_attn_shape *s);
/* out[seqs][T][D] = GSA(in[seqs][T][D]); fills saved. out must not alias in. */
int invcsi_gsa_forward(float *out, float *saved, const float *in, const invcsi_gsa_weights *w,
                       const invcsi_attn_shape *s, invcsi_error *err);
int invcsi_gsa_backward(float *dinput, const invcsi_gsa_grads *g, const float *dout,
                        const float *in, const float *saved, const invcsi_gsa_weights *w,
                        const invcsi_attn_shape *s, float *scratch, invcsi_error *err);

/* ===== the encoder's transformer block (DESIGN.md section 5) ===========================
 * Pre-LayerNorm residual block over row tokens, MLP ratio 1 (fc1 D->D, GELU, fc2 D->D):
 *   x1 = x  + LSA(LN1 x)
 *   x2 = x1 + MLP1(LN2 x1)
 *   x3 = x2 + GSA(LN3 x2)
 *   x4 = x3 + MLP2(LN4 x3)
 *   out = LN5 x4                    (the encoder then adds its skip X and flattens)
 * Every LayerNorm has eps INVCSI_STQE_LN_EPS. Weight layouts as in the layers above
 * (nn.Linear [out][in]); suggested tensor names in the comments. */
typedef struct invcsi_stqe_block_weights {
    const float *ln1_w, *ln1_b;        /* "norm1.weight", "norm1.bias"  [D] */
    invcsi_lsa_weights lsa;            /* "attn1.qkv.*", "attn1.proj.*" */
    const float *ln2_w, *ln2_b;        /* "norm2.*" */
    const float *mlp1_fc1_w, *mlp1_fc1_b, *mlp1_fc2_w, *mlp1_fc2_b; /* "mlp1.fc1.*" [D][D], [D] */
    const float *ln3_w, *ln3_b;        /* "norm3.*" */
    invcsi_gsa_weights gsa;            /* "attn2.q.*", "attn2.kv.*", "attn2.sr.*", "attn2.norm.*",
                                          "attn2.proj.*" */
    const float *ln4_w, *ln4_b;        /* "norm4.*" */
    const float *mlp2_fc1_w, *mlp2_fc1_b, *mlp2_fc2_w, *mlp2_fc2_b;
    const float *ln5_w, *ln5_b;        /* "norm5.*" (the encoder's final LayerNorm) */
} invcsi_stqe_block_weights;

typedef struct invcsi_stqe_block_grads {  /* same fields; each may be NULL */
    float *ln1_w, *ln1_b;
    invcsi_lsa_grads lsa;
    float *ln2_w, *ln2_b;
    float *mlp1_fc1_w, *mlp1_fc1_b, *mlp1_fc2_w, *mlp1_fc2_b;
    float *ln3_w, *ln3_b;
    invcsi_gsa_grads gsa;
    float *ln4_w, *ln4_b;
    float *mlp2_fc1_w, *mlp2_fc1_b, *mlp2_fc2_w, *mlp2_fc2_b;
    float *ln5_w, *ln5_b;
} invcsi_stqe_block_grads;

/* Parameters of one block (for budgets): 5 LN + LSA + GSA + 2 MLPs, biases included. */
long invcsi_stqe_block_param_count(const invcsi_attn_shape *s);
/* Floats the forward saves (all intermediate tensors) and the backward's scratch. */
long invcsi_stqe_block_saved_floats(const invcsi_attn_shape *s);
long invcsi_stqe_block_scratch_floats(const invcsi_attn_shape *s);
/* out[seqs][T][D] = block(in); needs both window (LSA) and patch (GSA) in s. out must not
 * alias in (the backward needs in unchanged). */
int invcsi_stqe_block_forward(float *out, float *saved, const float *in,
                              const invcsi_stqe_block_weights *w, const invcsi_attn_shape *s,
                              invcsi_error *err);
/* Accumulates dinput (may be NULL) and the gradients in g (may be NULL). */
int invcsi_stqe_block_backward(float *dinput, const invcsi_stqe_block_grads *g,
                               const float *dout, const float *in, const float *saved,
                               const invcsi_stqe_block_weights *w, const invcsi_attn_shape *s,
                               float *scratch, invcsi_error *err);

/* ===== conv + batch norm unit and the CR block (the decoder, DESIGN.md section 5) =======
 * convbn = conv2d ('same', stride 1, no bias) + batchnorm2d, PyTorch semantics
 * (eps INVCSI_BN_EPS, momentum as given). Modes:
 *   INVCSI_BN_TRAIN  batch statistics; running statistics updated (momentum); backward valid
 *   INVCSI_BN_INFER  running statistics (eval mode); no backward
 * and `folded` (after invcsi_convbn_fold): the BN lives in weight/bias, the forward is the
 * plain conv with bias in either mode: what a saved, deployed decoder runs.
 * The backward is the training-mode one and must follow a TRAIN forward with the same saved. */
enum { INVCSI_BN_TRAIN = 0, INVCSI_BN_INFER = 1 };

typedef struct invcsi_convbn {
    int in_ch, out_ch, kh, kw;           /* odd kernels: 3x3, 1x9, 9x1, 1x5, 5x1, 1x1, 5x5 */
    float *weight;                       /* [out][in][kh][kw]  "conv.weight" */
    float *bias;                         /* [out]: written by the fold, used when folded;
                                            may be NULL until then */
    float *gamma, *beta;                 /* [out]  "bn.weight", "bn.bias" */
    float *running_mean, *running_var;   /* [out]  "bn.running_mean", "bn.running_var" */
    int folded;                          /* 1 after invcsi_convbn_fold */
} invcsi_convbn;
typedef struct invcsi_convbn_grads {
    float *weight, *gamma, *beta;        /* each may be NULL */
} invcsi_convbn_grads;

/* saved: the conv output [B][out][H][W] and the batch mean/invstd [out] each */
long invcsi_convbn_saved_floats(const invcsi_convbn *u, int batch, int height, int width);
/* scratch: the conv's scratch and a [B][out][H][W] gradient buffer */
long invcsi_convbn_scratch_floats(const invcsi_convbn *u, int batch, int height, int width);
int invcsi_convbn_forward(float *out, float *saved, const float *in, invcsi_convbn *u,
                          int batch, int height, int width, int mode, float momentum,
                          float *scratch, invcsi_error *err);
int invcsi_convbn_backward(float *dinput, const invcsi_convbn_grads *g, const float *dout,
                           const float *in, const float *saved, const invcsi_convbn *u,
                           int batch, int height, int width, float *scratch, invcsi_error *err);
/* Folds the running-statistics BN into weight and bias (u->bias must point to out_ch
 * floats; it is overwritten, the conv having no bias of its own) and sets folded. */
int invcsi_convbn_fold(invcsi_convbn *u, invcsi_error *err);

/* CR block (CRNet / STNet), channels C (2), width 7, LeakyReLU slope 0.3:
 *   p1 = CB9x1(lrelu(CB1x9(lrelu(CB3x3(x)))))      CB = convbn; C -> 7 -> 7 -> 7
 *   p2 = CB5x1(lrelu(CB1x5(x)))                     C -> 7 -> 7
 *   out = lrelu(CB1x1(lrelu(cat(p1, p2))) + x)      14 -> C
 * Tensor names as STNet: path1.conv3x3, path1.conv1x9, path1.conv9x1, path2.conv1x5,
 * path2.conv5x1, conv1x1 (each with .conv.weight and .bn.*). */
typedef struct invcsi_crblock {
    invcsi_convbn p1a, p1b, p1c, p2a, p2b, fuse;
} invcsi_crblock;
typedef struct invcsi_crblock_grads {
    invcsi_convbn_grads p1a, p1b, p1c, p2a, p2b, fuse;
} invcsi_crblock_grads;

/* Fills the shapes (in_ch, out_ch, kh, kw) of the six units; pointers are left alone. */
void invcsi_crblock_set_shapes(invcsi_crblock *b, int channels, int width);
long invcsi_crblock_param_count(const invcsi_crblock *b); /* conv weights + gamma + beta */
long invcsi_crblock_saved_floats(const invcsi_crblock *b, int batch, int height, int width);
long invcsi_crblock_scratch_floats(const invcsi_crblock *b, int batch, int height, int width);
/* out[B][C][H][W] = CR(in); saved is needed in every mode (it holds the intermediate
 * maps; ~128 K floats per 2 x 32 x 32 sample). out must not alias in. */
int invcsi_crblock_forward(float *out, float *saved, const float *in, invcsi_crblock *b,
                           int batch, int height, int width, int mode, float momentum,
                           float *scratch, invcsi_error *err);
int invcsi_crblock_backward(float *dinput, const invcsi_crblock_grads *g, const float *dout,
                            const float *in, const float *saved, const invcsi_crblock *b,
                            int batch, int height, int width, float *scratch,
                            invcsi_error *err);
/* Folds all six units (each needs its bias pointer set). */
int invcsi_crblock_fold(invcsi_crblock *b, invcsi_error *err);

/* ===== the quantizer: tanh + mu-law compander, rounding, noise proxy ===================
 * Encoder: z (FC output) -> t = tanh z -> c = mulaw(t) -> u = (c + 1)/2 (2^B - 1), in
 * [0, 2^B - 1]; symbol = round(u). Training: u + U(-1/2, 1/2) feeds the rate term, the
 * straight-through round(u) feeds the decoder path. Decoder: t^ = mulaw^-1(2 u^/(2^B-1) - 1),
 * in [-1, 1]; the decoder's FC takes t^ (no atanh: it diverges at the end symbols). */

/* u = compander(z); bits in [1, 16], mu > 0. In place allowed. */
int invcsi_compander_forward(float *u, const float *z, long n, float mu, int bits,
                             invcsi_error *err);
/* dz += du * du/dz; needs the forward's INPUT z. */
int invcsi_compander_backward(float *dz, const float *du, const float *z, long n, float mu,
                              int bits, invcsi_error *err);
/* t = mulaw^-1(2 u / (2^B - 1) - 1), the BS side (u: symbols or their soft stand-ins). */
int invcsi_compander_inverse_forward(float *t, const float *u, long n, float mu, int bits,
                                     invcsi_error *err);
/* du += dt * dt/du; needs the forward's INPUT u. */
int invcsi_compander_inverse_backward(float *du, const float *dt, const float *u, long n,
                                      float mu, int bits, invcsi_error *err);

/* Straight-through rounding: out = floor(in + 1/2) (halves round up; u >= 0 here, so this
 * is round-half-away-from-zero too); backward passes the gradient unchanged. */
void invcsi_round_ste_forward(float *out, const float *in, long n);
void invcsi_round_ste_backward(float *dinput, const float *dout, long n);

/* Symbols for the coder: round(u) clamped to [0, 2^B - 1]. */
int invcsi_quantize_symbols(uint16_t *sym, const float *u, long n, int bits, invcsi_error *err);

/* Uniform noise in [-1/2, 1/2) for rows x cols values, row r drawn from rng stream
 * first_stream + r of seed (one stream per sample: independent of thread count and of
 * the batch composition when first_stream is the sample's global index). */
void invcsi_uniform_noise_fill(float *noise, long rows, int cols, uint64_t seed,
                               uint64_t first_stream);
/* out = in + noise (noise from the caller, e.g. invcsi_uniform_noise_fill); in place allowed.
 * Backward: dinput += dout (use invcsi_round_ste_backward, the same operation). */
void invcsi_add_noise_forward(float *out, const float *in, const float *noise, long n);

#ifdef __cplusplus
}
#endif
#endif
