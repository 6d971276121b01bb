/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * IC: the information-compensation module of InvCSINet (DESIGN.md section 4), CPU backend.
 *
 * 1. LAN (latent alignment network), a residual CNN on the received latent y~ [batch][M]
 *    viewed as [batch][c1][gh][gw] (M = c1 gh gw; c1 = M/16 on the 4x4 grid by default):
 *      h0 = LReLU(conv0(y~))     conv0: 3x3, c1 -> width, bias
 *      h1 = LReLU(conv1(h0))     conv1: 3x3, width -> width, bias
 *      y^ = y~ + conv2(h1)       conv2: 3x3, width -> c1, bias, ZERO at init (identity)
 *    Convs are 'same' with stride 1; weights [Cout][Cin][3][3] (PyTorch layout).
 * 2. Learned prior of the auxiliary variable z (Z = 2048 - M values per report):
 *      z^ = mu + exp(log_sigma) * n,   n ~ N(0, I)   (reparameterisation; mu, log_sigma
 *      per z dimension, init 0), or the deterministic z^ = mu (noise == NULL).
 *
 * Parameters are plain float pointers the caller places (e.g. in an invcsi_params table:
 * invcsi_lan_add_params / invcsi_lan_bind and invcsi_zprior_add_params do that with the
 * names <prefix>.conv{0,1,2}.{weight,bias} and <prefix>.mu, <prefix>.log_sigma).
 * Gradients follow nn.h: every backward ACCUMULATES; NULL gradient pointers are skipped.
 */
#ifndef INVCSI_IC_H
#define INVCSI_IC_H

#include <stdint.h>

#include "invcsi/error.h"
#include "invcsi/params.h"

#ifdef __cplusplus
extern "C" {
#endif

#define INVCSI_LAN_CONVS 3
#define INVCSI_LAN_WIDTH_DEFAULT 16

typedef struct invcsi_lan_shape {
    int c1;      /* latent channels */
    int gh, gw;  /* latent grid; M = c1 gh gw */
    int width;   /* hidden channels */
    float slope; /* LeakyReLU slope in [0, 1) (INVCSI_LEAKY_SLOPE_INN = 0.01) */
} invcsi_lan_shape;

/* The six tensors (or their gradients: any pointer may be NULL in a gradient set). */
typedef struct invcsi_lan_params {
    float *weight[INVCSI_LAN_CONVS]; /* conv k: [out_k][in_k][3][3] */
    float *bias[INVCSI_LAN_CONVS];   /* [out_k] */
} invcsi_lan_params;

int invcsi_lan_check(const invcsi_lan_shape *s, invcsi_error *err);
/* Latent size M = c1 gh gw. */
long invcsi_lan_dims(const invcsi_lan_shape *s);
/* 9 c1 w + w + 9 w^2 + w + 9 w c1 + c1. */
long invcsi_lan_param_count(const invcsi_lan_shape *s);
/* Input and output channels of conv k (0..2). */
void invcsi_lan_conv_channels(const invcsi_lan_shape *s, int k, int *in_ch, int *out_ch);

/* Adds <prefix>.conv{k}.weight [out][in][3][3] and <prefix>.conv{k}.bias [out] to p. */
int invcsi_lan_add_params(invcsi_params *p, const char *prefix, const invcsi_lan_shape *s,
                          invcsi_error *err);
/* Points w at the tensors' data and g (may be NULL) at their gradients (NULL for frozen
 * tensors or when p has no gradient buffer). */
int invcsi_lan_bind(invcsi_lan_params *w, invcsi_lan_params *g, const invcsi_params *p,
                    const char *prefix, invcsi_error *err);

/* He-uniform conv0/conv1 weights (bound sqrt(6 / ((1 + slope^2) fan_in))), zero biases,
 * conv2 weight scaled by last_gain (0 = the default init: LAN(y~) = 0, y^ = y~), each
 * tensor from its own stream of seed. */
void invcsi_lan_init(const invcsi_lan_shape *s, const invcsi_lan_params *w, uint64_t seed,
                     float last_gain);

/* Saved activations (h0, h1 after their LeakyReLU): 2 batch width gh gw floats. */
long invcsi_lan_act_floats(const invcsi_lan_shape *s, int batch);
/* Scratch for forward and backward (conv im2col and two gradient maps). */
long invcsi_lan_scratch_floats(const invcsi_lan_shape *s, int batch);

/* out [batch][M] = in + LAN(in); fills acts. out must not alias in. */
int invcsi_lan_forward(const invcsi_lan_shape *s, const invcsi_lan_params *w, float *out,
                       const float *in, float *acts, int batch, float *scratch,
                       invcsi_error *err);
/* From dout [batch][M] and the forward's in and acts: accumulates din [batch][M] (may be
 * NULL; it receives dout itself through the residual path plus the CNN's part) and the
 * gradients in g (g or any of its pointers may be NULL). */
int invcsi_lan_backward(const invcsi_lan_shape *s, const invcsi_lan_params *w,
                        const invcsi_lan_params *g, float *din, const float *dout,
                        const float *in, const float *acts, int batch, float *scratch,
                        invcsi_error *err);

/* ---- learned prior of z ------------------------------------------------------------------- */

/* Adds <prefix>.mu and <prefix>.log_sigma, each [zdims], to p (offsets may be NULL). */
int invcsi_zprior_add_params(invcsi_params *p, const char *prefix, int zdims, size_t *mu_offset,
                             size_t *log_sigma_offset, invcsi_error *err);
/* 2 zdims. */
long invcsi_zprior_param_count(int zdims);
/* mu = 0, log_sigma = 0 (the standard normal the INN was trained against). */
void invcsi_zprior_init(float *mu, float *log_sigma, int zdims);
/* z [batch][zdims] = mu + exp(log_sigma) * noise, or mu when noise == NULL. */
void invcsi_zprior_forward(float *z, const float *mu, const float *log_sigma,
                           const float *noise, int batch, int zdims);
/* Accumulates dmu += sum_b dz and dlog_sigma += sum_b dz exp(log_sigma) noise (skipped when
 * noise == NULL: the deterministic z^ = mu does not depend on sigma); either may be NULL. */
void invcsi_zprior_backward(float *dmu, float *dlog_sigma, const float *dz, const float *mu,
                            const float *log_sigma, const float *noise, int batch, int zdims);

#ifdef __cplusplus
}
#endif
#endif
