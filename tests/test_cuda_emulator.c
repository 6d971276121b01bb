/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The CUDA kernels, run on the host by the launch emulator (kernels/launch_emu.h: each
 * kernel's wrapper body and per-item function, compiled for the host, over the whole grid
 * the real launcher would use), give BIT FOR BIT the numbers of the CPU backend:
 *   - compared (memcmp) with the lib/ function itself wherever it exists: activations,
 *     coupling forward/inverse (a real coupling's saved tensors), patchify/unpatchify,
 *     im2col/col2im (through conv2d with identity weights, whose GEMMs are exact), DAQ
 *     derive/forward/backward/quantize/dequantize, D-BCD forward/backward, BPSK, the MMD
 *     distance and weight matrices (the documented scratch layout of nn_loss.c), MSE
 *     backward, Adam, batchnorm inference and backward, the z prior;
 *   - with the CPU loop written out here where lib/ has it inside a larger function (the
 *     coupling gradients, sq_err, the MMD kernel values) — said at each place;
 *   - on odd sizes (1, 37, 257, 1000003: one block, partial block, two blocks, a grid-stride
 *     wrap past 2048 x 256 threads), so every tail path runs.
 * The block reduction: an independent CPU rebuild of the documented tree order equals the
 * emulated kernel bit for bit, and the float sum is within a stated bound of the double sum.
 */
#include "check.h"
#include "invcsi/bitlink.h"
#include "invcsi/daq.h"
#include "invcsi/dbcd.h"
#include "invcsi/gemm.h"
#include "invcsi/ic.h"
#include "invcsi/inn.h"
#include "invcsi/nn.h"
#include "invcsi/params.h"
#include "invcsi/rng.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "launch_emu.h"

static void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}
static float *falloc(long n) { return xmalloc(sizeof(float) * (size_t)(n > 0 ? n : 1)); }

static invcsi_rng rng;

/* uniform in [lo, hi) */
static void fill(float *x, long n, float lo, float hi)
{
    for (long i = 0; i < n; i++)
        x[i] = (float)(lo + (hi - lo) * invcsi_rng_uniform(&rng));
}

/* memcmp, and on a difference the first differing float (or byte) for the log */
static void same(const void *got, const void *want, size_t bytes, const char *what, long n)
{
    const int eq = memcmp(got, want, bytes) == 0;
    long at = -1;
    if (!eq) {
        const unsigned char *a = got, *b = want;
        for (size_t k = 0; k < bytes; k++)
            if (a[k] != b[k]) {
                at = (long)k;
                break;
            }
    }
    CHECK(eq, "%s (n = %ld): emulated kernel differs from the CPU path at byte %ld", what, n,
          at);
}
#define SAME_F(got, want, n, what) same(got, want, sizeof(float) * (size_t)(n), what, (long)(n))

static const long sizes[] = {1, 37, 257, 1000003};
#define NSIZES ((int)(sizeof sizes / sizeof sizes[0]))

/* ---- activations: lib/nn_activation.c ----------------------------------------------------- */
static void test_activations(void)
{
    for (int s = 0; s < NSIZES; s++) {
        const long n = sizes[s];
        float *x = falloc(n), *y = falloc(n), *ye = falloc(n), *dy = falloc(n);
        float *dx = falloc(n), *dxe = falloc(n);
        fill(x, n, -6.0f, 6.0f);
        x[0] = 0.0f; /* the LeakyReLU kink */
        fill(dy, n, -1.0f, 1.0f);
        fill(dx, n, -1.0f, 1.0f); /* backward accumulates */

#define FWD(lib_call, emu_call, what)                                                         \
    lib_call;                                                                                 \
    emu_call;                                                                                 \
    SAME_F(ye, y, n, what)
#define BWD(lib_call, emu_call, what)                                                         \
    memcpy(dxe, dx, sizeof(float) * n);                                                       \
    {                                                                                         \
        float *keep = falloc(n);                                                              \
        memcpy(keep, dx, sizeof(float) * n);                                                  \
        lib_call;                                                                             \
        emu_call;                                                                             \
        SAME_F(dxe, dx, n, what);                                                             \
        memcpy(dx, keep, sizeof(float) * n);                                                  \
        free(keep);                                                                           \
    }

        FWD(invcsi_leaky_relu_forward(y, x, n, 0.01f), invcsi_emu_leaky_relu_forward(x, ye, n, 0.01f),
            "leaky_relu_forward");
        BWD(invcsi_leaky_relu_backward(dx, dy, x, n, 0.3f),
            invcsi_emu_leaky_relu_backward(dxe, dy, x, n, 0.3f), "leaky_relu_backward");
        FWD(invcsi_sigmoid_forward(y, x, n), invcsi_emu_sigmoid_forward(x, ye, n), "sigmoid_forward");
        BWD(invcsi_sigmoid_backward(dx, dy, y, n), invcsi_emu_sigmoid_backward(dxe, dy, y, n),
            "sigmoid_backward");
        FWD(invcsi_tanh_forward(y, x, n), invcsi_emu_tanh_forward(x, ye, n), "tanh_forward");
        BWD(invcsi_tanh_backward(dx, dy, y, n), invcsi_emu_tanh_backward(dxe, dy, y, n),
            "tanh_backward");
        FWD(invcsi_soft_clamp_forward(y, x, n, 2.0f), invcsi_emu_soft_clamp_forward(x, ye, n, 2.0f),
            "soft_clamp_forward");
        BWD(invcsi_soft_clamp_backward(dx, dy, x, n, 2.0f),
            invcsi_emu_soft_clamp_backward(dxe, dy, x, n, 2.0f), "soft_clamp_backward");
#undef FWD
#undef BWD
        free(x), free(y), free(ye), free(dy), free(dx), free(dxe);
    }
}

/* ---- affine coupling: lib/inn_coupling.c ------------------------------------------------------ */
static void test_coupling(void)
{
    /* forward / inverse: against a real coupling's own outputs */
    invcsi_params p;
    invcsi_inn_coupling c;
    invcsi_error err;
    const int batch = 3;
    invcsi_params_init(&p);
    int rc = invcsi_inn_coupling_build(&c, &p, "blk", 3, 5, 3, 2, 4, 2.0f, 0.01f, &err);
    if (rc == 0)
        rc = invcsi_params_finalize(&p, &err);
    CHECK(rc == 0, "coupling build: %s", err.msg);
    if (rc)
        return;
    invcsi_inn_coupling_init(&c, &p, 7, 1.0f);
    invcsi_inn_coupling_acts a;
    float *acts = falloc(invcsi_inn_coupling_act_floats(&c, batch));
    float *ws = falloc(invcsi_inn_coupling_scratch_floats(&c, batch));
    invcsi_inn_coupling_acts_bind(&a, &c, batch, acts);
    const long n1 = (long)batch * 3 * 6, n2 = (long)batch * 5 * 6;
    fill(a.x1, n1, -2.0f, 2.0f);
    fill(a.x2, n2, -2.0f, 2.0f);
    CHECK(invcsi_inn_coupling_forward(&c, &p, &a, batch, ws, &err) == 0, "%s", err.msg);
    float *got = falloc(n2);
    invcsi_emu_affine_forward(a.x2, a.rho.out, a.eta.out, got, n2, c.clamp);
    SAME_F(got, a.y2, n2, "affine_forward vs invcsi_inn_coupling_forward");
    CHECK(invcsi_inn_coupling_inverse(&c, &p, &a, batch, ws, &err) == 0, "%s", err.msg);
    invcsi_emu_affine_inverse(a.y2, a.rho.out, a.eta.out, got, n2, c.clamp);
    SAME_F(got, a.x2, n2, "affine_inverse vs invcsi_inn_coupling_inverse");
    free(got), free(acts), free(ws);
    invcsi_params_free(&p);

    /* all four on long random vectors; the gradients against the loops of
     * invcsi_inn_coupling_backward / _inverse_backward, written out here */
    for (int s = 0; s < NSIZES; s++) {
        const long n = sizes[s];
        const float clamp = 1.5f;
        float *x2 = falloc(n), *r = falloc(n), *e = falloc(n), *d = falloc(n);
        float *want = falloc(n), *w2 = falloc(n), *w3 = falloc(n);
        float *g1 = falloc(n), *g2 = falloc(n), *g3 = falloc(n);
        fill(x2, n, -3.0f, 3.0f);
        fill(r, n, -8.0f, 8.0f);
        fill(e, n, -1.0f, 1.0f);
        fill(d, n, -1.0f, 1.0f);
        for (long i = 0; i < n; i++)
            want[i] = inn_affine_forward(x2[i], r[i], e[i], clamp);
        invcsi_emu_affine_forward(x2, r, e, g1, n, clamp);
        SAME_F(g1, want, n, "affine_forward");
        for (long i = 0; i < n; i++)
            want[i] = inn_affine_inverse(x2[i], r[i], e[i], clamp);
        invcsi_emu_affine_inverse(x2, r, e, g1, n, clamp);
        SAME_F(g1, want, n, "affine_inverse");

        /* forward grad: dx2 += gx (want / g1), dr = gr (w2 / g2) */
        fill(want, n, -1.0f, 1.0f);
        memcpy(g1, want, sizeof(float) * n);
        for (long i = 0; i < n; i++) {
            float gx, gr;
            inn_affine_forward_grad(d[i], x2[i], r[i], clamp, &gx, &gr);
            want[i] += gx;
            w2[i] = gr;
        }
        invcsi_emu_affine_forward_grad(d, x2, r, g1, g2, n, clamp);
        SAME_F(g1, want, n, "affine_forward_grad dx2");
        SAME_F(g2, w2, n, "affine_forward_grad dr");

        /* inverse grad: dy2 += gy, dr = gr, de = ge written over the incoming gradient (the
         * aliasing lib/inn_coupling.c uses: t2[i] = ge) */
        fill(want, n, -1.0f, 1.0f);
        memcpy(g1, want, sizeof(float) * n);
        memcpy(w3, d, sizeof(float) * n);
        memcpy(g3, d, sizeof(float) * n);
        for (long i = 0; i < n; i++) {
            float gy, gr, ge;
            inn_affine_inverse_grad(w3[i], x2[i], r[i], clamp, &gy, &gr, &ge);
            want[i] += gy;
            w2[i] = gr;
            w3[i] = ge;
        }
        invcsi_emu_affine_inverse_grad(g3, x2, r, g1, g2, g3, n, clamp);
        SAME_F(g1, want, n, "affine_inverse_grad dy2");
        SAME_F(g2, w2, n, "affine_inverse_grad dr");
        SAME_F(g3, w3, n, "affine_inverse_grad de (aliased)");
        free(x2), free(r), free(e), free(d), free(want), free(w2), free(w3);
        free(g1), free(g2), free(g3);
    }
}

/* ---- patchify: lib/inn_front.c ------------------------------------------------------------- */
static void test_patchify(void)
{
    static const int shapes[][5] = {/* batch, planes, h, w, p */
                                    {1, 1, 1, 1, 1}, {3, 2, 8, 12, 4}, {5, 2, 32, 32, 4},
                                    {2, 3, 6, 9, 3}, {1, 2, 4, 4, 4}};
    for (int k = 0; k < (int)(sizeof shapes / sizeof shapes[0]); k++) {
        const int b = shapes[k][0], pl = shapes[k][1], h = shapes[k][2], w = shapes[k][3],
                  p = shapes[k][4];
        const long n = (long)b * pl * h * w;
        float *in = falloc(n), *want = falloc(n), *got = falloc(n);
        fill(in, n, -1.0f, 1.0f);
        invcsi_patchify(want, in, b, pl, h, w, p);
        invcsi_emu_patchify(in, got, b, pl, h, w, p);
        SAME_F(got, want, n, "patchify vs invcsi_patchify");
        /* both now read kernels/index_math.h: check that map against the definition in
         * include/invcsi/inn.h, written out with loops here */
        const int gh = h / p, gw = w / p;
        long bad = 0;
        for (int bb = 0; bb < b; bb++)
            for (int c = 0; c < pl; c++)
                for (int i = 0; i < p; i++)
                    for (int j = 0; j < p; j++)
                        for (int gy = 0; gy < gh; gy++)
                            for (int gx = 0; gx < gw; gx++) {
                                const long o = (((long)bb * pl * p * p + (c * p + i) * p + j) * gh + gy) * gw + gx;
                                const long src = (((long)bb * pl + c) * h + gy * p + i) * w + gx * p + j;
                                bad += got[o] != in[src];
                            }
        CHECK(bad == 0, "patchify map: %ld elements not where include/invcsi/inn.h says", bad);
        invcsi_unpatchify(want, in, b, pl, h, w, p);
        invcsi_emu_unpatchify(in, got, b, pl, h, w, p);
        SAME_F(got, want, n, "unpatchify vs invcsi_unpatchify");
        free(in), free(want), free(got);
    }
}

/* ---- im2col / col2im: lib/nn_conv.c through conv2d with identity weights ----------------------
 * With Cout = K and W = I, conv2d_forward's GEMM returns the im2col matrix itself and
 * conv2d_backward's dcol = W^T dout is dout itself (1 x v plus exact zeros), so the CPU
 * conv's own im2col and col2im_add are what is compared. All samples fit in one chunk. */
static void test_im2col(void)
{
    static const int shapes[][6] = {/* batch, cin, H, W, kh, kw */
                                    {3, 2, 4, 5, 3, 3}, {2, 3, 7, 1, 1, 5}, {1, 1, 33, 33, 1, 1},
                                    {4, 2, 3, 3, 5, 3}, {1, 1, 1, 1, 3, 3}};
    for (int k = 0; k < (int)(sizeof shapes / sizeof shapes[0]); k++) {
        invcsi_conv2d_shape s = {shapes[k][0], shapes[k][1], 0, shapes[k][2], shapes[k][3],
                                 shapes[k][4], shapes[k][5]};
        const long K = (long)s.in_ch * s.kh * s.kw, hw = (long)s.height * s.width;
        s.out_ch = (int)K;
        const long nin = (long)s.batch * s.in_ch * hw, ncol = K * s.batch * hw;
        invcsi_error err;
        CHECK(invcsi_conv2d_check(&s, &err) == 0, "%s", err.msg);
        CHECK((256 + hw - 1) / hw >= s.batch, "shape %d: batch must fit one chunk", k);
        float *wgt = falloc(K * K), *in = falloc(nin), *out = falloc(ncol), *col = falloc(ncol);
        float *ws = falloc(invcsi_conv2d_scratch_floats(&s)), *want = falloc(ncol);
        memset(wgt, 0, sizeof(float) * K * K);
        for (long r = 0; r < K; r++)
            wgt[r * K + r] = 1.0f;
        fill(in, nin, -1.0f, 1.0f);
        CHECK(invcsi_conv2d_forward(out, in, wgt, NULL, &s, ws, &err) == 0, "%s", err.msg);
        /* out [b][r][p] -> [r][b hw + p], the layout of the kernel's col */
        for (int b = 0; b < s.batch; b++)
            for (long r = 0; r < K; r++)
                memcpy(want + r * s.batch * hw + b * hw, out + ((long)b * K + r) * hw,
                       sizeof(float) * hw);
        invcsi_emu_im2col(in, col, s.batch, s.in_ch, s.height, s.width, s.kh, s.kw);
        SAME_F(col, want, ncol, "im2col vs conv2d_forward");

        /* col2im_add: dinput += col2im(dout as [K][cols]) */
        float *dout = out, *din = falloc(nin), *dine = falloc(nin);
        fill(dout, ncol, -1.0f, 1.0f);
        fill(din, nin, -1.0f, 1.0f);
        memcpy(dine, din, sizeof(float) * nin);
        CHECK(invcsi_conv2d_backward(din, NULL, NULL, dout, in, wgt, &s, ws, &err) == 0, "%s",
              err.msg);
        for (int b = 0; b < s.batch; b++)
            for (long r = 0; r < K; r++)
                memcpy(col + r * s.batch * hw + b * hw, dout + ((long)b * K + r) * hw,
                       sizeof(float) * hw);
        invcsi_emu_col2im_add(col, dine, s.batch, s.in_ch, s.height, s.width, s.kh, s.kw);
        SAME_F(dine, din, nin, "col2im_add vs conv2d_backward");
        free(wgt), free(in), free(out), free(col), free(ws), free(want), free(din), free(dine);
    }
}

/* ---- DAQ: lib/daq.c ---------------------------------------------------------------------------- */
static void test_daq(int bits, int dims, int batch)
{
    invcsi_daq_config cfg = {dims, bits, 1.5f};
    const int L = 1 << bits, nk = L - 1;
    const long n = (long)batch * dims, np = (long)dims * nk;
    invcsi_error err;
    float *tr = falloc(np), *sr = falloc(np);
    CHECK(invcsi_daq_init_uniform(&cfg, tr, sr, &err) == 0, "%s", err.msg);
    for (long k = 0; k < np; k++) { /* move away from the uniform init */
        tr[k] += (float)(0.5 * (invcsi_rng_uniform(&rng) - 0.5));
        sr[k] += (float)(0.5 * (invcsi_rng_uniform(&rng) - 0.5));
    }
    float *buf = falloc(invcsi_daq_tables_floats(&cfg)), *bufe = falloc(invcsi_daq_tables_floats(&cfg));
    invcsi_daq_tables t, te;
    invcsi_daq_tables_bind(&t, &cfg, buf);
    invcsi_daq_tables_bind(&te, &cfg, bufe);
    float *y = falloc(n), *qh = falloc(n), *qs = falloc(n), *qhe = falloc(n), *qse = falloc(n);
    int *ix = xmalloc(sizeof(int) * n), *ixe = xmalloc(sizeof(int) * n);
    fill(y, n, -2.0f, 2.0f);
    const float beta = 7.0f;
    CHECK(invcsi_daq_forward_train(&cfg, tr, sr, &t, y, batch, beta, qh, qs, ix, &err) == 0, "%s",
          err.msg);
    invcsi_emu_daq_derive(tr, sr, dims, nk, cfg.range, te.thresholds, te.steps, te.levels);
    SAME_F(bufe, buf, invcsi_daq_tables_floats(&cfg), "daq_derive vs invcsi_daq_derive");
    invcsi_emu_daq_forward(y, te.thresholds, te.steps, te.levels, n, dims, nk, cfg.range, beta,
                           qhe, qse, ixe);
    SAME_F(qhe, qh, n, "daq_forward q_hard");
    SAME_F(qse, qs, n, "daq_forward q_soft");
    same(ixe, ix, sizeof(int) * n, "daq_forward indices", n);

    /* backward: accumulating outputs start from random values */
    float *dq = falloc(n), *dlev = falloc((long)dims * L);
    float *dy = falloc(n), *dye = falloc(n), *dt = falloc(np), *dte = falloc(np);
    float *ds = falloc(np), *dse = falloc(np);
    double *work = xmalloc(sizeof(double) * 2 * np);
    fill(dq, n, -1.0f, 1.0f);
    fill(dlev, (long)dims * L, -1.0f, 1.0f);
    fill(dy, n, -1.0f, 1.0f);
    fill(dt, np, -1.0f, 1.0f);
    fill(ds, np, -1.0f, 1.0f);
    memcpy(dye, dy, sizeof(float) * n);
    memcpy(dte, dt, sizeof(float) * np);
    memcpy(dse, ds, sizeof(float) * np);
    CHECK(invcsi_daq_backward(&cfg, tr, sr, &t, y, dq, dlev, batch, beta, dy, dt, ds, &err) == 0,
          "%s", err.msg);
    invcsi_emu_daq_backward(tr, sr, te.thresholds, te.steps, y, dq, dlev, batch, dims, nk, beta,
                            dye, dte, dse, work);
    SAME_F(dye, dy, n, "daq_backward dy");
    SAME_F(dte, dt, np, "daq_backward dthr_raw");
    SAME_F(dse, ds, np, "daq_backward dstep_raw");

    /* decoder side */
    invcsi_daq_quantize(&cfg, &t, y, batch, ix);
    invcsi_emu_daq_quantize(y, te.thresholds, n, dims, nk, ixe);
    same(ixe, ix, sizeof(int) * n, "daq_quantize", n);
    ix[0] = -3; /* out-of-range indices are clamped */
    if (n > 1)
        ix[1] = L + 5;
    invcsi_daq_dequantize(&cfg, t.levels, ix, batch, qh);
    invcsi_emu_daq_dequantize(te.levels, ix, n, dims, L, qhe);
    SAME_F(qhe, qh, n, "daq_dequantize");
    free(tr), free(sr), free(buf), free(bufe), free(y), free(qh), free(qs), free(qhe), free(qse);
    free(ix), free(ixe), free(dq), free(dlev), free(dy), free(dye), free(dt), free(dte), free(ds),
        free(dse), free(work);
}

/* ---- D-BCD: lib/dbcd.c ------------------------------------------------------------------------- */
static void test_dbcd(int bits, int dims, int batch, double snr)
{
    invcsi_dbcd_config cfg = {dims, bits, 0.0f, 0.7f};
    const int L = 1 << bits;
    cfg.delta = invcsi_dbcd_delta_default(bits, 1.0f);
    const long n = (long)batch * dims, nsave = invcsi_dbcd_save_floats(&cfg, batch);
    invcsi_error err;
    float *lev = falloc((long)dims * L), *P = falloc((long)L * L), *G = falloc(n * L);
    for (int d = 0; d < dims; d++) /* increasing levels around [-1, 1] */
        for (int j = 0; j < L; j++)
            lev[d * L + j] = -1.0f + 2.0f * j / (L - 1) + 0.05f * (float)invcsi_rng_uniform(&rng);
    CHECK(invcsi_dbcd_transition_float(P, bits, snr, INVCSI_BITMAP_GRAY, &err) == 0, "%s",
          err.msg);
    invcsi_gumbel_fill(G, n * L, &rng);
    float *q = falloc(n), *y = falloc(n), *ys = falloc(n), *sv = falloc(nsave);
    float *ye = falloc(n), *yse = falloc(n), *sve = falloc(nsave);
    int *det = xmalloc(sizeof(int) * n), *dete = xmalloc(sizeof(int) * n);
    fill(q, n, -1.2f, 1.2f);
    CHECK(invcsi_dbcd_forward(&cfg, q, lev, P, G, batch, y, det, ys, sv, &err) == 0, "%s",
          err.msg);
    invcsi_emu_dbcd_forward(q, lev, P, G, n, dims, L, cfg.delta, cfg.tau, ye, dete, yse, sve);
    SAME_F(ye, y, n, "dbcd_forward y");
    SAME_F(yse, ys, n, "dbcd_forward y_soft");
    SAME_F(sve, sv, nsave, "dbcd_forward saved p, pi, g");
    same(dete, det, sizeof(int) * n, "dbcd_forward detected", n);

    float *dy = falloc(n), *dq = falloc(n), *dqe = falloc(n);
    float *dl = falloc((long)dims * L), *dle = falloc((long)dims * L);
    double *wdc = xmalloc(sizeof(double) * dims * L);
    float *wu = falloc((long)dims * L);
    fill(dy, n, -1.0f, 1.0f);
    fill(dq, n, -1.0f, 1.0f);
    fill(dl, (long)dims * L, -1.0f, 1.0f);
    memcpy(dqe, dq, sizeof(float) * n);
    memcpy(dle, dl, sizeof(float) * dims * L);
    CHECK(invcsi_dbcd_backward(&cfg, dy, q, lev, P, sv, batch, dq, dl, &err) == 0, "%s", err.msg);
    invcsi_emu_dbcd_backward(dy, q, lev, P, sv, batch, dims, L, cfg.delta, cfg.tau, dqe, dle, wdc,
                             wu);
    SAME_F(dqe, dq, n, "dbcd_backward dq");
    SAME_F(dle, dl, (long)dims * L, "dbcd_backward dlevels");
    free(lev), free(P), free(G), free(q), free(y), free(ys), free(sv), free(ye), free(yse),
        free(sve), free(det), free(dete), free(dy), free(dq), free(dqe), free(dl), free(dle),
        free(wdc), free(wu);
}

/* ---- BPSK: lib/bitlink.c ----------------------------------------------------------------------- */
static void test_bpsk(void)
{
    for (int s = 0; s < NSIZES; s++) {
        const long n = sizes[s];
        uint8_t *bits = xmalloc((size_t)n), *hb = xmalloc((size_t)n), *hbe = xmalloc((size_t)n);
        float *sym = falloc(n), *syme = falloc(n), *rx = falloc(2 * n);
        float *llr = falloc(n), *llre = falloc(n);
        for (long i = 0; i < n; i++)
            bits[i] = (uint8_t)(invcsi_rng_uniform(&rng) < 0.5);
        const float es = 0.7f;
        const double n0 = 0.3;
        invcsi_bpsk_map_real(sym, bits, n, es);
        invcsi_emu_bpsk_map(bits, syme, n, sqrtf(es));
        SAME_F(syme, sym, n, "bpsk_map vs invcsi_bpsk_map_real");
        fill(rx, 2 * n, -2.0f, 2.0f);
        rx[0] = 0.0f; /* decides 0 */
        invcsi_bpsk_hard(hb, rx, n, 2);
        invcsi_emu_bpsk_hard(rx, hbe, n, 2);
        same(hbe, hb, (size_t)n, "bpsk_hard vs invcsi_bpsk_hard", n);
        invcsi_bpsk_llr(llr, rx, n, 2, es, n0);
        invcsi_emu_bpsk_llr(rx, llre, n, 2, (float)(4.0 * sqrt((double)es) / n0));
        SAME_F(llre, llr, n, "bpsk_llr vs invcsi_bpsk_llr");
        free(bits), free(hb), free(hbe), free(sym), free(syme), free(rx), free(llr), free(llre);
    }
}

/* ---- CPU rebuild of the reduction order (kernels/kernel_bodies.h, kblock_sum) -------------- */
static void ref_block_pass(const float *x, long n, unsigned grid, float *out)
{
    const unsigned B = INVCSI_BLOCK;
    float sh[INVCSI_BLOCK];
    for (unsigned b = 0; b < grid; b++) {
        for (unsigned t = 0; t < B; t++) {
            float acc = 0.0f;
            for (long i = (long)b * B + t; i < n; i += (long)grid * B)
                acc += x[i];
            sh[t] = acc;
        }
        for (unsigned s = B / 2; s > 0; s /= 2)
            for (unsigned t = 0; t < s; t++)
                sh[t] += sh[t + s];
        out[b] = sh[0];
    }
}
static float ref_sum(const float *x, long n)
{
    const long g = (n + INVCSI_BLOCK - 1) / INVCSI_BLOCK;
    const unsigned grid = g < 1 ? 1 : (g > INVCSI_MAX_GRID ? INVCSI_MAX_GRID : (unsigned)g);
    float *part = falloc(grid), r;
    ref_block_pass(x, n, grid, part);
    ref_block_pass(part, grid, 1, &r);
    free(part);
    return r;
}

static void test_reduction(void)
{
    static const long ns[] = {1, 37, 255, 256, 257, 65536, 524289, 1000003};
    for (int k = 0; k < (int)(sizeof ns / sizeof ns[0]); k++) {
        const long n = ns[k];
        float *x = falloc(n), *part = falloc(invcsi_grid_1d(n)), got;
        fill(x, n, -1.0f, 1.0f);
        for (long i = 0; i < n; i += 7)
            x[i] += 100.0f; /* a non-zero mean, so the bound below is not vacuous */
        invcsi_emu_sum(x, n, part, &got);
        const float want = ref_sum(x, n);
        same(&got, &want, sizeof(float), "block sum vs CPU tree order", n);
        /* Error bound: every float addition on the path of one x[i] to the result rounds
         * once, relative error <= u = 2^-24; the longest path has k = ceil(n / (G B)) +
         * log2 B (pass 1) + ceil(G / B) + log2 B (pass 2) additions, so
         * |float - exact| <= k u sum|x| (to first order; we allow 1.01 k u). */
        double exact = 0.0, abs_sum = 0.0;
        for (long i = 0; i < n; i++)
            exact += x[i], abs_sum += fabs(x[i]);
        const long G = invcsi_grid_1d(n);
        const double steps = (double)((n + G * INVCSI_BLOCK - 1) / (G * INVCSI_BLOCK)) + 8.0 +
                             (double)((G + INVCSI_BLOCK - 1) / INVCSI_BLOCK) + 8.0;
        const double bound = 1.01 * steps * ldexp(1.0, -24) * abs_sum;
        CHECK(fabs(got - exact) <= bound, "block sum n = %ld: %.9g vs double %.9g, bound %.3g",
              n, got, exact, bound);
        free(x), free(part);
    }
}

/* ---- losses: lib/nn_loss.c --------------------------------------------------------------------- */
static void test_mse(void)
{
    for (int s = 0; s < NSIZES; s++) {
        const long n = sizes[s];
        float *p = falloc(n), *t = falloc(n), *e = falloc(n), *want = falloc(n);
        float *dp = falloc(n), *dt = falloc(n), *dpe = falloc(n), *dte = falloc(n);
        float *part = falloc(invcsi_grid_1d(n));
        fill(p, n, -1.0f, 1.0f);
        fill(t, n, -1.0f, 1.0f);
        /* the squared errors: the CPU sums them inside invcsi_mse_forward, loop here */
        for (long i = 0; i < n; i++)
            want[i] = nn_sq_err(p[i], t[i]);
        invcsi_emu_sq_err(p, t, e, n);
        SAME_F(e, want, n, "sq_err");
        float loss, sum = 0.0f;
        invcsi_error err;
        CHECK(invcsi_mse_forward(&loss, p, t, n, &err) == 0, "%s", err.msg);
        invcsi_emu_sum(e, n, part, &sum);
        CHECK_CLOSE(sum / (float)n, loss, 1e-5 * loss + 1e-12, "MSE: block sum vs CPU double sum");
        fill(dp, n, -1.0f, 1.0f);
        fill(dt, n, -1.0f, 1.0f);
        memcpy(dpe, dp, sizeof(float) * n);
        memcpy(dte, dt, sizeof(float) * n);
        const float dloss = 0.75f;
        CHECK(invcsi_mse_backward(dp, dt, dloss, p, t, n, &err) == 0, "%s", err.msg);
        invcsi_emu_mse_backward(p, t, dpe, dte, n, dloss / (float)n);
        SAME_F(dpe, dp, n, "mse_backward dpred");
        SAME_F(dte, dt, n, "mse_backward dtarget");
        free(p), free(t), free(e), free(want), free(dp), free(dt), free(dpe), free(dte), free(part);
    }
}

/* MMD: the squared-distance and weight matrices are compared with the ones
 * invcsi_mmd_imq_forward/backward leave in their scratch (layout documented in nn_loss.c:
 * d2_aa, d2_bb, d2_ab, the last weight matrix (the cross term's), then the row norms). */
static void test_mmd(int n_c)
{
    const int n = 9, dim = 5;
    const long nn = (long)n * n;
    const float c_list[3] = {0.2f, 1.0f, 5.0f};
    float *a = falloc((long)n * dim), *b = falloc((long)n * dim);
    float *scr = falloc(invcsi_mmd_scratch_floats(n)), *d2 = falloc(nn), *w = falloc(nn);
    float *da = falloc((long)n * dim), *db = falloc((long)n * dim), *kv = falloc(nn);
    float *part = falloc(invcsi_grid_1d(nn));
    fill(a, (long)n * dim, -1.0f, 1.0f);
    fill(b, (long)n * dim, -0.5f, 1.5f);
    float loss;
    invcsi_error err;
    CHECK(invcsi_mmd_imq_forward(&loss, a, b, n, dim, c_list, n_c, scr, &err) == 0, "%s",
          err.msg);
    const float *na = scr + 4 * nn, *nb = na + n, c_def = 2.0f * dim;
    const float *pairs[3][2] = {{a, a}, {b, b}, {a, b}};
    const float *norms[3][2] = {{na, na}, {nb, nb}, {na, nb}};
    for (int k = 0; k < 3; k++) {
        invcsi_sgemm(INVCSI_NOTRANS, INVCSI_TRANS, n, n, dim, -2.0f, pairs[k][0], dim,
                     pairs[k][1], dim, 0.0f, d2, n);
        invcsi_emu_sq_dist_finish(d2, norms[k][0], norms[k][1], n, k < 2);
        SAME_F(d2, scr + k * nn, nn, "sq_dist_finish vs invcsi_mmd_imq_forward");
    }
    /* the loss from the kernel values (the CPU sums them in its forward, in double) */
    double s[3];
    for (int k = 0; k < 3; k++) {
        float sum = 0.0f;
        invcsi_emu_mmd_kernel(scr + k * nn, kv, n, 1.0f, c_list, n_c, c_def, k < 2);
        for (long ij = 0; ij < nn; ij++) { /* per-entry check against nn_imq_sum directly */
            const int i = (int)(ij / n), j = (int)(ij % n);
            const float want = k < 2 && i == j ? 0.0f : nn_imq_sum(scr[k * nn + ij], c_list, n_c, c_def);
            if (memcmp(&kv[ij], &want, sizeof want)) {
                CHECK(0, "mmd_kernel entry %ld differs", ij);
                break;
            }
        }
        invcsi_emu_sum(kv, nn, part, &sum);
        s[k] = sum;
    }
    const double l = (s[0] + s[1]) / ((double)n * (n - 1)) - 2.0 * s[2] / ((double)n * n);
    CHECK_CLOSE(l, loss, 1e-5, "MMD loss from emulated kernel values + block sums");
    memset(da, 0, sizeof(float) * n * dim);
    memset(db, 0, sizeof(float) * n * dim);
    const float dloss = 1.3f;
    CHECK(invcsi_mmd_imq_backward(da, db, dloss, a, b, n, dim, c_list, n_c, scr, &err) == 0, "%s",
          err.msg);
    invcsi_emu_mmd_weight(scr + 2 * nn, w, n, (float)(-4.0 * dloss / ((double)n * n)), c_list,
                          n_c, c_def, 0);
    SAME_F(w, scr + 3 * nn, nn, "mmd_weight (cross term) vs invcsi_mmd_imq_backward");
    free(a), free(b), free(scr), free(d2), free(w), free(da), free(db), free(kv), free(part);
}

/* ---- Adam: lib/nn_adam.c ------------------------------------------------------------------------ */
static void test_adam(void)
{
    for (int s = 0; s < NSIZES; s++) {
        const long n = sizes[s];
        float *p = falloc(n), *g = falloc(n), *m = falloc(n), *v = falloc(n);
        float *pe = falloc(n), *me = falloc(n), *ve = falloc(n);
        fill(p, n, -1.0f, 1.0f);
        memset(m, 0, sizeof(float) * n);
        memset(v, 0, sizeof(float) * n);
        memcpy(pe, p, sizeof(float) * n);
        memcpy(me, m, sizeof(float) * n);
        memcpy(ve, v, sizeof(float) * n);
        invcsi_adam_config cfg = invcsi_adam_default();
        cfg.weight_decay = 1e-4;
        invcsi_error err;
        for (long t = 1; t <= 3; t++) {
            fill(g, n, -0.1f, 0.1f);
            CHECK(invcsi_adam_step(p, g, m, v, n, &cfg, t, &err) == 0, "%s", err.msg);
            /* the scalars exactly as invcsi_adam_step computes them */
            const double bc1 = 1.0 - pow(cfg.beta1, (double)t), bc2 = 1.0 - pow(cfg.beta2, (double)t);
            invcsi_emu_adam(pe, g, me, ve, n, (float)cfg.beta1, (float)(1.0 - cfg.beta1),
                            (float)cfg.beta2, (float)(1.0 - cfg.beta2), (float)cfg.eps,
                            (float)cfg.weight_decay, (float)(cfg.lr / bc1),
                            (float)(1.0 / sqrt(bc2)));
        }
        SAME_F(pe, p, n, "adam param");
        SAME_F(me, m, n, "adam m");
        SAME_F(ve, v, n, "adam v");
        free(p), free(g), free(m), free(v), free(pe), free(me), free(ve);
    }
}

/* ---- batchnorm: lib/nn_batchnorm.c; per-channel scalars computed as there ------------------ */
static void test_batchnorm(void)
{
    const int B = 3, C = 5, S = 37;
    const long n = (long)B * C * S;
    const float eps = 1e-5f;
    float *x = falloc(n), *y = falloc(n), *ye = falloc(n), *dy = falloc(n), *dx = falloc(n),
          *dxe = falloc(n);
    float g[5], be[5], rm[5], rv[5], sc[5], sh[5], mean[5], inv[5], k[5], mdy[5], mdx[5];
    fill(x, n, -2.0f, 3.0f);
    fill(dy, n, -1.0f, 1.0f);
    fill(dx, n, -1.0f, 1.0f);
    fill(g, C, 0.5f, 1.5f);
    fill(be, C, -0.5f, 0.5f);
    fill(rm, C, -0.5f, 0.5f);
    fill(rv, C, 0.5f, 2.0f);
    fill(mean, C, -0.2f, 0.2f);
    fill(inv, C, 0.8f, 1.2f);
    invcsi_error err;
    CHECK(invcsi_batchnorm2d_forward_infer(y, x, g, be, rm, rv, B, C, S, eps, &err) == 0, "%s",
          err.msg);
    for (int c = 0; c < C; c++) {
        const double invstd = 1.0 / sqrt((double)rv[c] + eps);
        sc[c] = (float)(g[c] * invstd);
        sh[c] = (float)(be[c] - rm[c] * g[c] * invstd);
    }
    invcsi_emu_bn_apply(x, ye, sc, sh, B, C, S);
    SAME_F(ye, y, n, "bn_apply vs invcsi_batchnorm2d_forward_infer");
    memcpy(dxe, dx, sizeof(float) * n);
    CHECK(invcsi_batchnorm2d_backward(dx, NULL, NULL, dy, x, g, mean, inv, B, C, S, &err) == 0,
          "%s", err.msg);
    for (int c = 0; c < C; c++) { /* the channel sums, in the order of the CPU loop */
        double sdy = 0.0, sdyx = 0.0;
        for (int b = 0; b < B; b++)
            for (int p = 0; p < S; p++) {
                const long e = ((long)b * C + c) * S + p;
                sdy += dy[e];
                sdyx += (double)dy[e] * ((x[e] - mean[c]) * inv[c]);
            }
        k[c] = g[c] * inv[c];
        mdy[c] = (float)(sdy / ((long)B * S));
        mdx[c] = (float)(sdyx / ((long)B * S));
    }
    invcsi_emu_bn_backward_dx(dxe, dy, x, mean, inv, k, mdy, mdx, B, C, S);
    SAME_F(dxe, dx, n, "bn_backward_dx vs invcsi_batchnorm2d_backward");
    free(x), free(y), free(ye), free(dy), free(dx), free(dxe);
}

/* ---- IC prior: lib/ic.c ---------------------------------------------------------------------- */
static void test_zprior(void)
{
    const int batch = 37, zd = 11;
    const long n = (long)batch * zd;
    float mu[11], ls[11], *noise = falloc(n), *z = falloc(n), *ze = falloc(n);
    fill(mu, zd, -1.0f, 1.0f);
    fill(ls, zd, -2.0f, 0.5f);
    fill(noise, n, -3.0f, 3.0f);
    invcsi_zprior_forward(z, mu, ls, noise, batch, zd);
    invcsi_emu_zprior_sample(mu, ls, noise, ze, batch, zd);
    SAME_F(ze, z, n, "zprior_sample vs invcsi_zprior_forward");
    invcsi_zprior_forward(z, mu, ls, NULL, batch, zd);
    invcsi_emu_zprior_sample(mu, ls, NULL, ze, batch, zd);
    SAME_F(ze, z, n, "zprior_sample (no noise)");
    free(noise), free(z), free(ze);
}

int main(void)
{
    invcsi_rng_init(&rng, 2026, 10);
    test_activations();
    test_coupling();
    test_patchify();
    test_im2col();
    for (int bits = 1; bits <= 8; bits += (bits < 4 ? 1 : 4)) /* 1, 2, 3, 4, 8 */
        test_daq(bits, 7, 37);
    test_daq(3, 1, 1);
    test_dbcd(1, 5, 37, 2.0);
    test_dbcd(3, 7, 37, 10.0);
    test_dbcd(4, 3, 5, 100.0); /* far-level pi entries underflow */
    test_bpsk();
    test_mse();
    test_mmd(3);
    test_mmd(0);
    test_adam();
    test_batchnorm();
    test_zprior();
    test_reduction();
    return check_done("test_cuda_emulator");
}
