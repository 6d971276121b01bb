/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Gradient check of the INN against finite differences of its own forward code:
 *   1. one coupling block, forward and inverse, with respect to its inputs (every entry);
 *   2. the whole training loss of ops.train_step (MMD + MSE through the forward and the
 *      inverse pass) with respect to a random sample of the entries of EVERY tensor
 *      (phi/rho/eta conv0..3 weight and bias of each block), plus one directional
 *      derivative per tensor along its own gradient, with the step's noise held fixed, in
 *      four configurations: patch front with channel permutations; KLT front with z_bwd
 *      sampled; energy front with the MMD alone; patch front with the MSE alone;
 *   3. the whole-INN inverse with respect to y AND z (InvCSINet needs both).
 * Every weight is randomised (last convs NOT zero, gain 0.5) so all paths carry gradient.
 *
 * The loss. train_step's L_fwd = MMD([y, z], [sg(y), n]) has a stop-gradient, so its
 * gradient is not the derivative of the value train_step reports. The reference loss here
 * holds the second argument fixed at the unperturbed weights ([y0, n], which is what sg
 * means), regenerates n and z_bwd the way train_step draws them, evaluates the MMD and
 * the MSE in double from the model's float outputs, and must equal train_step's total at
 * the unperturbed weights (relative 1e-5).
 *
 * The differences. Entry t is perturbed by +-eps in float and the steps actually applied
 * are used. Float round-off of the deep float network leaves L with a noise of ~1e-8 ..
 * 1e-7, so steps must not be tiny (noise / step); LeakyReLU kinks punish large steps (a
 * unit crossing zero changes its slope by 0.99). Both are handled explicitly:
 *   - the hidden conv biases are set to +-1 (random sign per channel), which moves most
 *     pre-activations away from zero (both LeakyReLU branches stay in use);
 *   - every loss evaluation records the sign pattern of all hidden units of both passes;
 *     a central difference is used only when neither side changes the pattern, a
 *     one-sided one when exactly one side does (O(eps) truncation), none otherwise;
 *   - parameters: steps 1e-2, 3e-3, 1e-3, 3e-4, the best usable one counts (an entry with
 *     no usable step is skipped; more than a quarter skipped in a tensor fails);
 *     inputs: steps 1e-3, 1e-4; directions: the first step (1e-2 .. 3e-5 on the largest
 *     entry) whose central difference is usable, else the smallest one-sided one.
 * Error measure: |g - fd| / max(|g|, |fd|, gradient scale) < 2e-2 (GRAD_RTOL), the scale
 * being the rms of the tensor's whole gradient (parameters) or of the checked entries.
 * Measured: per-entry errors <= 5.2e-3, directional <= 1.7e-3, inputs <= 4.4e-3; a real
 * mistake gives errors of order 1e-1 .. 1.
 *
 * Seen to fail: dropping the ds/dr factor of the inverse's rho gradient in
 * kernels/inn_math.h (a factor that is exactly 1 at r = 0 for clamp 2, so a subtle bug)
 * made 103 of 616 checks fail (inverse d/dy1, every rho tensor) and the test exit 1.
 */
#include "check.h"
#include "invcsi/inn.h"
#include "invcsi/model.h"
#include "invcsi/rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRAD_RTOL 2e-2
#define GAIN 0.5f
#define HIDDEN_BIAS 1.0

static void *xmalloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

static void fill_normal(float *x, long n, double scale, invcsi_rng *r)
{
    for (long i = 0; i < n; i++)
        x[i] = (float)(scale * invcsi_rng_normal(r));
}

typedef double (*loss_fn)(void *ctx);

/* Sign pattern of every hidden LeakyReLU output seen by the last loss evaluation (FNV-1a
 * over the sign bits), set by the loss functions: a finite difference whose two sides
 * have different patterns crossed a kink and is not used. */
static uint64_t last_signature;

static uint64_t sign_hash(uint64_t h, const float *v, long n)
{
    for (long i = 0; i < n; i++) {
        h ^= (uint64_t)(v[i] > 0.0f);
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t acts_signature(uint64_t h, const invcsi_inn_coupling *c,
                               const invcsi_inn_coupling_acts *a, int batch)
{
    const invcsi_inn_subnet *sub[3] = {&c->phi, &c->rho, &c->eta};
    const invcsi_inn_subnet_acts *sa[3] = {&a->phi, &a->rho, &a->eta};
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < 3; i++)
            h = sign_hash(h, sa[s]->hidden[i], (long)batch * sub[s]->width * c->gh * c->gw);
    return h;
}

/* Finite difference over *t with step eps. Central when neither side crosses a kink
 * (same sign pattern as at t itself); one-sided (O(eps) truncation error instead of
 * O(eps^2)) when only one side does; NAN when both do. */
static double central_diff(loss_fn f, void *ctx, float *t, float eps)
{
    const float t0 = *t, tp = t0 + eps, tm = t0 - eps;
    const double l0 = f(ctx);
    const uint64_t s0 = last_signature;
    *t = tp;
    const double lp = f(ctx);
    const uint64_t sp = last_signature;
    *t = tm;
    const double lm = f(ctx);
    const uint64_t sm = last_signature;
    *t = t0;
    if (sp == s0 && sm == s0)
        return (lp - lm) / ((double)tp - (double)tm);
    if (sp == s0)
        return (lp - l0) / ((double)tp - (double)t0);
    if (sm == s0)
        return (l0 - lm) / ((double)t0 - (double)tm);
    return NAN;
}

/* Checks g[idx[i]] against the FD of f over t[idx[i]], i < n. The steps eps[0..n_eps)
 * are tried largest first; steps that cross a LeakyReLU kink are not used; an entry
 * passes when one usable step gives an error below GRAD_RTOL, and is skipped (counted)
 * when every step crosses a kink. scale: the gradient size that the errors of tiny
 * entries are measured against (0: rms of the checked entries). */
static void gradcheck(const char *what, loss_fn f, void *ctx, float *t, const float *g,
                      const long *idx, int n, const float *eps, int n_eps, double scale)
{
    double ss = 0.0;
    for (int i = 0; i < n; i++)
        ss += (double)g[idx[i]] * g[idx[i]];
    const double rms = scale > 0.0 ? scale : sqrt(ss / (n > 0 ? n : 1));
    double worst = 0.0;
    int failed = 0, skipped = 0;
    for (int i = 0; i < n; i++) {
        const long k = idx[i];
        double best = INFINITY, best_fd = NAN;
        int usable = 0;
        for (int s = 0; s < n_eps; s++) {
            const double fd = central_diff(f, ctx, t + k, eps[s]);
            if (isnan(fd))
                continue;
            usable++;
            const double den = fmax(fmax(fabs(g[k]), fabs(fd)), rms);
            const double e = den > 0.0 ? fabs(g[k] - fd) / den : 0.0;
            if (e < best) {
                best = e;
                best_fd = fd;
            }
        }
        if (!usable) {
            skipped++;
            continue;
        }
        if (best >= GRAD_RTOL) {
            failed++;
            if (failed <= 5)
                fprintf(stderr, "  %s[%ld]: analytic %.6g, fd %.6g, error %.3g\n", what, k,
                        g[k], best_fd, best);
        }
        worst = fmax(worst, best);
    }
    CHECK(failed == 0, "%s: %d of %d entries off (worst error %.3g)", what, failed, n, worst);
    CHECK(skipped * 4 <= n, "%s: %d of %d entries skipped (kinks at every step)", what,
          skipped, n);
    printf("  %-26s %3d entries, worst error %.1e, grad scale %.1e", what, n - skipped, worst,
           rms);
    if (skipped)
        printf(", %d skipped (kink)", skipped);
    printf("\n");
}

/* Loss at t0 + h u (t is the tensor, t0 its saved values). */
static double loss_along(loss_fn f, void *ctx, float *t, const float *t0, const float *u,
                         long n, double h, uint64_t *sig)
{
    for (long i = 0; i < n; i++)
        t[i] = (float)(t0[i] + h * u[i]);
    const double l = f(ctx);
    *sig = last_signature;
    return l;
}

/* Directional check of a whole tensor along its own normalised gradient u = g / |g|:
 * the finite difference of L(t + h u) in h must equal |g|. The largest entry moves by the
 * step; steps are tried largest first, central or one-sided as in central_diff. */
static void direction_check(const char *what, loss_fn f, void *ctx, float *t, const float *g,
                            long n, const float *eps, int n_eps)
{
    double nn = 0.0, gmax = 0.0;
    for (long i = 0; i < n; i++) {
        nn += (double)g[i] * g[i];
        gmax = fmax(gmax, fabs(g[i]));
    }
    const double norm = sqrt(nn);
    if (norm == 0.0) {
        CHECK(0, "%s: zero gradient", what);
        return;
    }
    float *t0 = xmalloc(sizeof(float) * n), *u = xmalloc(sizeof(float) * n);
    memcpy(t0, t, sizeof(float) * n);
    for (long i = 0; i < n; i++)
        u[i] = (float)(g[i] / norm);
    uint64_t s0, sp, sm;
    const double l0 = loss_along(f, ctx, t, t0, u, n, 0.0, &s0);
    /* the first step whose two sides keep the sign pattern (central difference); failing
     * that, the smallest step with one such side (one-sided, O(h) truncation error) */
    double fd = NAN, one_sided = NAN, used = 0.0, used_one = 0.0;
    for (int s = 0; s < n_eps && isnan(fd); s++) {
        const double h = eps[s] * norm / gmax;
        const double lp = loss_along(f, ctx, t, t0, u, n, h, &sp);
        const double lm = loss_along(f, ctx, t, t0, u, n, -h, &sm);
        if (sp == s0 && sm == s0) {
            fd = (lp - lm) / (2.0 * h);
            used = eps[s];
        } else if (sp == s0 || sm == s0) {
            one_sided = sp == s0 ? (lp - l0) / h : (l0 - lm) / h;
            used_one = eps[s];
        }
    }
    if (isnan(fd)) {
        fd = one_sided;
        used = used_one;
    }
    memcpy(t, t0, sizeof(float) * n);
    free(t0);
    free(u);
    if (isnan(fd)) {
        printf("  %-26s along g: every step crosses a kink, not checked\n", what);
        return;
    }
    const double e = fabs(fd - norm) / norm;
    CHECK(e < GRAD_RTOL, "%s: directional derivative %.6g vs |g| %.6g (error %.3g)", what, fd,
          norm, e);
    printf("  %-26s along g: |g| %.5e, fd %.5e, error %.1e (step %.0e)\n", what, norm, fd, e,
           used);
}

static const float STEPS_INPUT[] = {1e-3f, 1e-4f};
static const float STEPS_PARAM[] = {1e-2f, 3e-3f, 1e-3f, 3e-4f};
static const float STEPS_DIRECTION[] = {1e-2f, 3e-3f, 1e-3f, 3e-4f, 1e-4f, 3e-5f};

/* ===== 1. one coupling block w.r.t. its inputs ========================================== */

typedef struct {
    invcsi_inn_coupling c;
    invcsi_params p;
    invcsi_inn_coupling_acts a;
    float *ws;
    int batch;
    long n1, n2;
    float *w1, *w2; /* projections of the outputs */
    int inverse;
} block_ctx;

/* L = w1 . out1 + w2 . out2 with out = block(x) (forward) or block^-1(y) (inverse). */
static double block_loss(void *vctx)
{
    block_ctx *b = vctx;
    invcsi_error err;
    int rc = b->inverse ? invcsi_inn_coupling_inverse(&b->c, &b->p, &b->a, b->batch, b->ws, &err)
                        : invcsi_inn_coupling_forward(&b->c, &b->p, &b->a, b->batch, b->ws, &err);
    if (rc != INVCSI_OK) {
        fprintf(stderr, "block pass: %s\n", err.msg);
        exit(1);
    }
    last_signature = acts_signature(1469598103934665603ULL, &b->c, &b->a, b->batch);
    const float *o1 = b->inverse ? b->a.x1 : b->a.y1, *o2 = b->inverse ? b->a.x2 : b->a.y2;
    double l = 0.0;
    for (long i = 0; i < b->n1; i++)
        l += (double)b->w1[i] * o1[i];
    for (long i = 0; i < b->n2; i++)
        l += (double)b->w2[i] * o2[i];
    return l;
}

static void check_coupling(void)
{
    printf("coupling block (c1 3, c2 5, 3x2 map, width 5, batch 3):\n");
    block_ctx b;
    memset(&b, 0, sizeof b);
    invcsi_error err;
    invcsi_params_init(&b.p);
    int rc = invcsi_inn_coupling_build(&b.c, &b.p, "blk", 3, 5, 3, 2, 5, 2.0f, 0.01f, &err);
    if (rc == INVCSI_OK)
        rc = invcsi_params_finalize(&b.p, &err);
    CHECK(rc == INVCSI_OK, "build: %s", err.msg);
    if (rc)
        return;
    invcsi_inn_coupling_init(&b.c, &b.p, 11, 1.0f);
    b.batch = 3;
    b.n1 = 3L * 3 * 6;
    b.n2 = 3L * 5 * 6;
    float *acts = xmalloc(sizeof(float) * invcsi_inn_coupling_act_floats(&b.c, b.batch));
    b.ws = xmalloc(sizeof(float) * invcsi_inn_coupling_scratch_floats(&b.c, b.batch));
    invcsi_inn_coupling_acts_bind(&b.a, &b.c, b.batch, acts);
    b.w1 = xmalloc(sizeof(float) * b.n1);
    b.w2 = xmalloc(sizeof(float) * b.n2);
    float *g1 = xmalloc(sizeof(float) * b.n1), *g2 = xmalloc(sizeof(float) * b.n2);
    invcsi_rng r;
    invcsi_rng_init(&r, 12, 0);
    fill_normal(b.w1, b.n1, 1.0, &r);
    fill_normal(b.w2, b.n2, 1.0, &r);
    long *all = xmalloc(sizeof(long) * (b.n1 > b.n2 ? b.n1 : b.n2));
    for (long i = 0; i < (b.n1 > b.n2 ? b.n1 : b.n2); i++)
        all[i] = i;

    /* forward: d/dx1, d/dx2 */
    fill_normal(b.a.x1, b.n1, 1.0, &r);
    fill_normal(b.a.x2, b.n2, 1.0, &r);
    b.inverse = 0;
    block_loss(&b);
    double s2 = 0.0; /* how far from the identity the block is */
    for (long i = 0; i < b.n2; i++) {
        const double s = 2.0 * (2.0 / (1.0 + exp(-(double)b.a.rho.out[i])) - 1.0);
        s2 += s * s;
    }
    printf("  (rms of the log-scale s: %.3f)\n", sqrt(s2 / b.n2));
    invcsi_params_zero_grad(&b.p);
    rc = invcsi_inn_coupling_backward(&b.c, &b.p, &b.a, b.batch, b.w1, b.w2, g1, g2, b.ws, &err);
    CHECK(rc == INVCSI_OK, "backward: %s", err.msg);
    gradcheck("forward d/dx1", block_loss, &b, b.a.x1, g1, all, (int)b.n1, STEPS_INPUT, 2, 0.0);
    gradcheck("forward d/dx2", block_loss, &b, b.a.x2, g2, all, (int)b.n2, STEPS_INPUT, 2, 0.0);

    /* inverse: d/dy1, d/dy2 */
    fill_normal(b.a.y1, b.n1, 1.0, &r);
    fill_normal(b.a.y2, b.n2, 1.0, &r);
    b.inverse = 1;
    block_loss(&b);
    memset(g1, 0, sizeof(float) * b.n1);
    memset(g2, 0, sizeof(float) * b.n2);
    rc = invcsi_inn_coupling_inverse_backward(&b.c, &b.p, &b.a, b.batch, b.w1, b.w2, g1, g2,
                                              b.ws, &err);
    CHECK(rc == INVCSI_OK, "inverse backward: %s", err.msg);
    gradcheck("inverse d/dy1", block_loss, &b, b.a.y1, g1, all, (int)b.n1, STEPS_INPUT, 2, 0.0);
    gradcheck("inverse d/dy2", block_loss, &b, b.a.y2, g2, all, (int)b.n2, STEPS_INPUT, 2, 0.0);

    free(acts);
    free(b.ws);
    free(b.w1);
    free(b.w2);
    free(g1);
    free(g2);
    free(all);
    invcsi_params_free(&b.p);
}

/* ===== 2. the whole training loss w.r.t. the parameters ================================== */

/* The training loss as a plain function of the parameters, evaluated in double from the
 * model's float outputs. train_step's L_fwd has a stop-gradient on the y inside its
 * second MMD argument [sg(y), n], so its gradient is NOT the derivative of the loss as
 * train_step evaluates it; this function holds that argument fixed at the unperturbed
 * parameters (B0 = [y0, n]), which is exactly what sg means. The noise n and z_bwd are
 * regenerated the way train_step draws them (one RNG: n first, then z_bwd), and the
 * value at the unperturbed parameters is checked against train_step's total. */
typedef struct {
    invcsi_model *m;
    const float *x;
    int batch;
    float *b0;           /* [batch][dim] = [y0 | n] */
    float *zb;           /* z_bwd, NULL for 0 */
    float *y, *z, *xhat; /* outputs */
} model_ctx;

/* Unbiased MMD^2 with the IMQ kernel C / (C + d2), C = 2 dim, all in double. */
static double mmd_ref(const float *a, const float *b, int n, int dim)
{
    const double c = 2.0 * dim;
    double same = 0.0, cross = 0.0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double daa = 0.0, dbb = 0.0, dab = 0.0;
            for (int k = 0; k < dim; k++) {
                const double u = (double)a[(long)i * dim + k] - a[(long)j * dim + k];
                const double v = (double)b[(long)i * dim + k] - b[(long)j * dim + k];
                const double w = (double)a[(long)i * dim + k] - b[(long)j * dim + k];
                daa += u * u;
                dbb += v * v;
                dab += w * w;
            }
            if (i != j)
                same += c / (c + daa) + c / (c + dbb);
            cross += c / (c + dab);
        }
    return same / ((double)n * (n - 1)) - 2.0 * cross / ((double)n * n);
}

static double model_loss(void *vctx)
{
    model_ctx *c = vctx;
    invcsi_inn *inn = invcsi_inn_of_model(c->m);
    const int dim = c->m->cfg.dim, mm = c->m->cfg.m, aux = dim - mm;
    invcsi_error err;
    if (invcsi_inn_forward(inn, c->x, c->batch, c->y, c->z, &err) != INVCSI_OK ||
        invcsi_inn_inverse(inn, c->y, c->zb, c->batch, c->xhat, &err) != INVCSI_OK) {
        fprintf(stderr, "INN pass: %s\n", err.msg);
        exit(1);
    }
    uint64_t h = 1469598103934665603ULL;
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < invcsi_inn_blocks(inn); k++)
            h = acts_signature(h, invcsi_inn_block(inn, k), invcsi_inn_pass_acts(inn, pass, k),
                               c->batch);
    last_signature = h;
    float *a = xmalloc(sizeof(float) * c->batch * dim);
    for (int b = 0; b < c->batch; b++) {
        memcpy(a + (long)b * dim, c->y + (long)b * mm, sizeof(float) * mm);
        memcpy(a + (long)b * dim + mm, c->z + (long)b * aux, sizeof(float) * aux);
    }
    const double mmd = mmd_ref(a, c->b0, c->batch, dim);
    free(a);
    double sse = 0.0;
    for (long i = 0; i < (long)c->batch * dim; i++) {
        const double d = (double)c->xhat[i] - c->x[i];
        sse += d * d;
    }
    return c->m->cfg.mmd_weight * mmd + c->m->cfg.mse_weight * sse / ((double)c->batch * dim);
}

/* Hidden conv biases set to +-HIDDEN_BIAS (random sign per channel): every hidden
 * pre-activation then sits well away from the LeakyReLU kink, so finite-difference steps
 * do not cross it (a crossing changes the slope by 1 - 0.01 and spoils the difference),
 * while both branches of the LeakyReLU still carry gradient. */
static void hidden_bias_away_from_kinks(invcsi_params *p, uint64_t seed)
{
    invcsi_rng r;
    invcsi_rng_init(&r, seed, 0);
    for (int t = 0; t < p->n_tensors; t++) {
        const invcsi_tensor *tt = &p->tensors[t];
        const size_t len = strlen(tt->name);
        if (len < 10 || strcmp(tt->name + len - 5, ".bias") || strstr(tt->name, "conv3"))
            continue;
        float *b = invcsi_tensor_data(p, tt);
        for (size_t i = 0; i < tt->count; i++)
            b[i] = (float)(invcsi_rng_uniform(&r) < 0.5 ? -HIDDEN_BIAS : HIDDEN_BIAS);
    }
}

/* Small INN: 2 x 8 x 8 tensor (dim 128), patch 4 -> 32 channels on a 2 x 2 grid, CR 1/8
 * -> c1 = 4, width 6, 2 blocks, batch 6. */
static invcsi_model *small_model(const char *front, int permute, int z_sample, float mmd_w,
                                 float mse_w, const float *train, long n_train)
{
    invcsi_error err;
    invcsi_model_config cfg;
    invcsi_model_config_default(&cfg, "inn", 1, 8, 8, 1.0 / 8, &err);
    cfg.patch = 4;
    cfg.blocks = 2;
    cfg.width = 5;
    cfg.permute = permute;
    cfg.z_bwd_sample = z_sample;
    cfg.mmd_weight = mmd_w;
    cfg.mse_weight = mse_w;
    snprintf(cfg.front, sizeof cfg.front, "%s", front);
    invcsi_model *m = NULL;
    int rc = invcsi_model_create(&m, &cfg, 64, &err);
    CHECK(rc == INVCSI_OK, "create: %s", err.msg);
    if (rc)
        return NULL;
    rc = m->ops->fit_front(m, train, n_train, &err);
    CHECK(rc == INVCSI_OK, "fit_front: %s", err.msg);
    invcsi_inn_init(invcsi_inn_of_model(m), 21, GAIN);
    hidden_bias_away_from_kinks(&m->params, 22);
    return m;
}

static void check_model(const char *title, invcsi_model *m, const float *x, int batch,
                        int per_tensor)
{
    if (!m)
        return;
    printf("%s:\n", title);
    const int dim = m->cfg.dim, mm = m->cfg.m, aux = dim - mm;
    invcsi_params_zero_grad(&m->params);
    invcsi_rng r;
    invcsi_rng_init(&r, 4242, 0);
    invcsi_losses l;
    invcsi_error err;
    int rc = m->ops->train_step(m, x, batch, &r, &l, &err);
    CHECK(rc == INVCSI_OK, "train_step: %s", err.msg);
    printf("  loss: total %.6f = mmd %.6f x %g + mse %.6f x %g, nmse_sum %.4f\n", l.total, l.mmd,
           m->cfg.mmd_weight, l.mse, m->cfg.mse_weight, l.nmse_sum);
    /* the gradient must survive the loss evaluations below: copy it */
    const size_t total = m->params.total;
    float *g = xmalloc(sizeof(float) * total);
    memcpy(g, m->params.grad, sizeof(float) * total);

    /* the reference loss, with the step's noise as train_step drew it */
    model_ctx c = {m, x, batch, NULL, NULL, NULL, NULL, NULL};
    c.b0 = xmalloc(sizeof(float) * batch * dim);
    c.y = xmalloc(sizeof(float) * batch * mm);
    c.z = xmalloc(sizeof(float) * batch * aux);
    c.xhat = xmalloc(sizeof(float) * batch * dim);
    float *noise = xmalloc(sizeof(float) * batch * aux);
    invcsi_rng_init(&r, 4242, 0);
    for (long i = 0; i < (long)batch * aux; i++)
        noise[i] = (float)invcsi_rng_normal(&r);
    if (m->cfg.z_bwd_sample) {
        c.zb = xmalloc(sizeof(float) * batch * aux);
        for (long i = 0; i < (long)batch * aux; i++)
            c.zb[i] = (float)invcsi_rng_normal(&r);
    }
    invcsi_inn_forward(invcsi_inn_of_model(m), x, batch, c.y, NULL, &err);
    for (int b = 0; b < batch; b++) {
        memcpy(c.b0 + (long)b * dim, c.y + (long)b * mm, sizeof(float) * mm);
        memcpy(c.b0 + (long)b * dim + mm, noise + (long)b * aux, sizeof(float) * aux);
    }
    const double l0 = model_loss(&c);
    CHECK(fabs(l0 - l.total) <= 1e-5 * fmax(1.0, fabs(l.total)),
          "reference loss %.9g differs from train_step's %.9g", l0, l.total);

    long *idx = xmalloc(sizeof(long) * per_tensor);
    invcsi_rng pick;
    invcsi_rng_init(&pick, 31, 0);
    int kinds = 0;
    for (int t = 0; t < m->params.n_tensors; t++) {
        const invcsi_tensor *tt = &m->params.tensors[t];
        if (tt->frozen) {
            /* fixed tables get no gradient */
            double sum = 0.0;
            for (size_t i = 0; i < tt->count; i++)
                sum += fabs(g[tt->offset + i]);
            CHECK(sum == 0.0, "frozen %s has a gradient", tt->name);
            continue;
        }
        int n = (int)(tt->count < (size_t)per_tensor ? tt->count : (size_t)per_tensor);
        for (int i = 0; i < n; i++)
            idx[i] = (long)tt->offset +
                     (tt->count <= (size_t)per_tensor ? i
                                                      : (long)invcsi_rng_below(&pick, tt->count));
        double ss = 0.0; /* the tensor's gradient scale */
        for (size_t i = 0; i < tt->count; i++)
            ss += (double)g[tt->offset + i] * g[tt->offset + i];
        gradcheck(tt->name, model_loss, &c, m->params.data, g, idx, n, STEPS_PARAM, 3,
                  sqrt(ss / tt->count));
        direction_check(tt->name, model_loss, &c, m->params.data + tt->offset, g + tt->offset,
                        (long)tt->count, STEPS_DIRECTION, 6);
        kinds++;
    }
    CHECK(kinds == 2 * 3 * 4 * 2, "%d trainable tensors checked, expected 48", kinds);
    free(g);
    free(idx);
    free(c.b0);
    free(c.y);
    free(c.z);
    free(c.xhat);
    free(c.zb);
    free(noise);
}

/* ===== 3. the whole-INN inverse w.r.t. y and z =========================================== */

typedef struct {
    invcsi_inn *inn;
    float *y, *z, *xhat, *w;
    int batch, dim;
} inv_ctx;

static double inv_loss(void *vctx)
{
    inv_ctx *c = vctx;
    invcsi_error err;
    if (invcsi_inn_inverse(c->inn, c->y, c->z, c->batch, c->xhat, &err) != INVCSI_OK) {
        fprintf(stderr, "inverse: %s\n", err.msg);
        exit(1);
    }
    uint64_t h = 1469598103934665603ULL;
    for (int k = 0; k < invcsi_inn_blocks(c->inn); k++)
        h = acts_signature(h, invcsi_inn_block(c->inn, k), invcsi_inn_pass_acts(c->inn, 1, k),
                           c->batch);
    last_signature = h;
    double l = 0.0;
    for (long i = 0; i < (long)c->batch * c->dim; i++)
        l += (double)c->w[i] * c->xhat[i];
    return l;
}

static void check_inverse_dy_dz(invcsi_model *m)
{
    if (!m)
        return;
    printf("whole-INN inverse, d/dy and d/dz (KLT front, permutations):\n");
    inv_ctx c;
    c.inn = invcsi_inn_of_model(m);
    c.batch = 3;
    c.dim = m->cfg.dim;
    const int mm = m->cfg.m, aux = c.dim - mm;
    c.y = xmalloc(sizeof(float) * c.batch * mm);
    c.z = xmalloc(sizeof(float) * c.batch * aux);
    c.xhat = xmalloc(sizeof(float) * c.batch * c.dim);
    c.w = xmalloc(sizeof(float) * c.batch * c.dim);
    float *dy = xmalloc(sizeof(float) * c.batch * mm), *dz = xmalloc(sizeof(float) * c.batch * aux);
    invcsi_rng r;
    invcsi_rng_init(&r, 8, 0);
    fill_normal(c.y, (long)c.batch * mm, 1.0, &r);
    fill_normal(c.z, (long)c.batch * aux, 1.0, &r);
    fill_normal(c.w, (long)c.batch * c.dim, 1.0, &r);
    inv_loss(&c);
    invcsi_error err;
    int rc = invcsi_inn_inverse_backward(c.inn, c.batch, c.w, dy, dz, &err);
    CHECK(rc == INVCSI_OK, "inverse_backward: %s", err.msg);
    long *idx = xmalloc(sizeof(long) * c.batch * aux);
    for (long i = 0; i < (long)c.batch * aux; i++)
        idx[i] = i;
    gradcheck("d/dy", inv_loss, &c, c.y, dy, idx, c.batch * mm, STEPS_INPUT, 2, 0.0);
    /* z: every 3rd entry */
    int n = 0;
    for (long i = 0; i < (long)c.batch * aux; i += 3)
        idx[n++] = i;
    gradcheck("d/dz (every 3rd)", inv_loss, &c, c.z, dz, idx, n, STEPS_INPUT, 2, 0.0);
    free(c.y);
    free(c.z);
    free(c.xhat);
    free(c.w);
    free(dy);
    free(dz);
    free(idx);
}

int main(void)
{
    check_coupling();

    /* unit-power data with some structure (so the fitted fronts are not trivial) */
    enum { NT = 64, DIM = 128 };
    const int BATCH = 4;
    float *train = xmalloc(sizeof(float) * NT * DIM);
    invcsi_rng r;
    invcsi_rng_init(&r, 5, 0);
    for (long i = 0; i < NT; i++)
        for (int k = 0; k < DIM; k++)
            train[i * DIM + k] = (float)(invcsi_rng_normal(&r) * (0.3 + 1.5 * exp(-k / 20.0)));
    double p = 0.0;
    for (long i = 0; i < NT * DIM; i++)
        p += (double)train[i] * train[i];
    for (long i = 0; i < NT * DIM; i++)
        train[i] = (float)(train[i] / sqrt(p / (NT * DIM)));

    invcsi_model *m = small_model("patch", 1, 0, 1.0f, 1.0f, train, NT);
    check_model("training loss, patch front, permutations, z_bwd = 0", m, train, BATCH, 8);
    invcsi_model_destroy(m);

    m = small_model("klt", 1, 1, 1.0f, 1.0f, train, NT);
    check_model("training loss, KLT front, permutations, z_bwd sampled", m, train, BATCH, 6);
    check_inverse_dy_dz(m);
    invcsi_model_destroy(m);

    /* the MMD alone (its gradient is small beside the MSE's in the sum) */
    m = small_model("energy", 0, 0, 1.0f, 0.0f, train, NT);
    check_model("training loss, energy front, MMD only", m, train, BATCH, 6);
    invcsi_model_destroy(m);

    m = small_model("patch", 0, 0, 0.0f, 1.0f, train, NT);
    check_model("training loss, patch front, MSE only", m, train, BATCH, 6);
    invcsi_model_destroy(m);

    free(train);
    return check_done("test_inn_gradcheck");
}
