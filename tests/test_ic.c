/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * IC module properties (include/invcsi/ic.h):
 *   - a freshly initialised LAN is the identity, bit for bit (last conv zero),
 *   - parameter count formula = what invcsi_lan_add_params puts in a table, names/shapes,
 *   - bind: data and gradient pointers, NULL gradient for frozen tensors,
 *   - init is deterministic in the seed and He-uniform bounded,
 *   - z prior: init 0, z = mu without noise, z = mu + sigma n with it,
 *   - argument checks. Prints the LAN sizes at the default width for CR 1/64 .. 1/4.
 */
#include "check.h"
#include "invcsi/ic.h"
#include "invcsi/nn.h"
#include "invcsi/rng.h"

#include <stdlib.h>
#include <string.h>

static float *alloc_f(long n)
{
    float *p = calloc(n > 0 ? (size_t)n : 1, sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

static void test_lan_table(void)
{
    const invcsi_lan_shape s = {8, 4, 4, INVCSI_LAN_WIDTH_DEFAULT, INVCSI_LEAKY_SLOPE_INN};
    invcsi_params p;
    invcsi_params_init(&p);
    invcsi_error err;
    CHECK(invcsi_lan_add_params(&p, "ic.lan", &s, &err) == 0, "%s", err.msg);
    CHECK(invcsi_params_finalize(&p, &err) == 0, "%s", err.msg);
    CHECK((long)p.n_values == invcsi_lan_param_count(&s), "table holds %zu, formula %ld",
          p.n_values, invcsi_lan_param_count(&s));
    const invcsi_tensor *t = invcsi_params_find(&p, "ic.lan.conv0.weight");
    CHECK(t && t->rank == 4 && t->shape[0] == 16 && t->shape[1] == 8 && t->shape[2] == 3,
          "conv0.weight shape");
    t = invcsi_params_find(&p, "ic.lan.conv2.bias");
    CHECK(t && t->rank == 1 && t->shape[0] == 8, "conv2.bias shape");

    invcsi_params_set_frozen(&p, "ic.lan.conv1", 1);
    invcsi_lan_params w, g;
    CHECK(invcsi_lan_bind(&w, &g, &p, "ic.lan", &err) == 0, "%s", err.msg);
    CHECK(w.weight[1] == invcsi_params_data(&p, "ic.lan.conv1.weight"), "bind data");
    CHECK(g.weight[0] == invcsi_params_grad(&p, "ic.lan.conv0.weight"), "bind grad");
    CHECK(g.weight[1] == NULL && g.bias[1] == NULL, "frozen tensors must get NULL gradients");
    CHECK(invcsi_lan_bind(&w, NULL, &p, "ic.nope", &err) == INVCSI_EINVAL &&
              strstr(err.msg, "ic.nope.conv0.weight"), "missing tensor must be named");

    /* Identity at init, bit for bit. */
    invcsi_lan_init(&s, &w, 42, 0.0f);
    const int batch = 7;
    const long n = batch * invcsi_lan_dims(&s);
    float *in = alloc_f(n), *out = alloc_f(n);
    float *acts = alloc_f(invcsi_lan_act_floats(&s, batch));
    float *scratch = alloc_f(invcsi_lan_scratch_floats(&s, batch));
    invcsi_rng r;
    invcsi_rng_init(&r, 1, 1);
    for (long i = 0; i < n; i++)
        in[i] = (float)invcsi_rng_normal(&r);
    CHECK(invcsi_lan_forward(&s, &w, out, in, acts, batch, scratch, &err) == 0, "%s", err.msg);
    CHECK(memcmp(in, out, sizeof(float) * n) == 0, "fresh LAN is not the identity");
    /* ... but its gradient reaches the zero last conv (it can learn). */
    invcsi_params_zero_grad(&p);
    float *din = alloc_f(n);
    CHECK(invcsi_lan_backward(&s, &w, &g, din, in, in, acts, batch, scratch, &err) == 0, "%s",
          err.msg);
    CHECK(memcmp(din, in, sizeof(float) * n) == 0, "at init din must equal dout");
    double gs = 0.0;
    for (int i = 0; i < 16 * 8 * 9; i++)
        gs += fabs(g.weight[2][i]);
    CHECK(gs > 0.0, "no gradient reaches the zero-initialised last conv");

    /* Deterministic He-uniform init. */
    const long n0 = 16L * 8 * 9;
    float *copy = alloc_f(n0);
    memcpy(copy, w.weight[0], sizeof(float) * n0);
    invcsi_lan_init(&s, &w, 42, 0.0f);
    CHECK(memcmp(copy, w.weight[0], sizeof(float) * n0) == 0, "init not deterministic");
    const double bound = sqrt(6.0 / ((1.0 + 1e-4) * 8 * 9));
    double mx = 0.0;
    for (long i = 0; i < n0; i++)
        mx = fmax(mx, fabs(w.weight[0][i]));
    CHECK(mx <= bound && mx > 0.8 * bound, "conv0 init max %g vs bound %g", mx, bound);
    invcsi_lan_init(&s, &w, 43, 0.0f);
    CHECK(memcmp(copy, w.weight[0], sizeof(float) * n0) != 0, "seed ignored");
    free(in), free(out), free(acts), free(scratch), free(din), free(copy);
    invcsi_params_free(&p);

    printf("LAN (width %d) and z prior sizes, dim 2048, 4x4 grid:\n", INVCSI_LAN_WIDTH_DEFAULT);
    const int ms[] = {32, 64, 128, 256, 512};
    for (int k = 0; k < 5; k++) {
        invcsi_lan_shape sk = {ms[k] / 16, 4, 4, INVCSI_LAN_WIDTH_DEFAULT, 0.01f};
        printf("  M %3d: c1 %2d, LAN %5ld params, z prior %4ld params\n", ms[k], sk.c1,
               invcsi_lan_param_count(&sk), invcsi_zprior_param_count(2048 - ms[k]));
    }
    const invcsi_lan_shape s1 = {1, 1, 1, 1, 0.0f};
    CHECK(invcsi_lan_param_count(&s1) == 9 + 1 + 9 + 1 + 9 + 1, "1x1x1 width 1");
}

static void test_prior(void)
{
    const int zd = 10, batch = 3;
    float mu[10], ls[10], z[30], noise[30];
    invcsi_zprior_init(mu, ls, zd);
    int zero = 1;
    for (int k = 0; k < zd; k++)
        zero &= mu[k] == 0.0f && ls[k] == 0.0f;
    CHECK(zero, "prior init must be mu = 0, log_sigma = 0");
    for (int k = 0; k < zd; k++) {
        mu[k] = 0.1f * k;
        ls[k] = -0.2f * k;
    }
    for (int i = 0; i < 30; i++)
        noise[i] = (float)(i % 7) - 3.0f;
    invcsi_zprior_forward(z, mu, ls, NULL, batch, zd);
    int det = 1;
    for (int b = 0; b < batch; b++)
        for (int k = 0; k < zd; k++)
            det &= z[b * zd + k] == mu[k];
    CHECK(det, "z = mu without noise");
    invcsi_zprior_forward(z, mu, ls, noise, batch, zd);
    double worst = 0.0;
    for (int b = 0; b < batch; b++)
        for (int k = 0; k < zd; k++)
            worst = fmax(worst, fabs(z[b * zd + k] - (mu[k] + exp(ls[k]) * noise[b * zd + k])));
    CHECK(worst < 1e-6, "z = mu + sigma n off by %g", worst);

    invcsi_params p;
    invcsi_params_init(&p);
    size_t off_mu, off_ls;
    invcsi_error err;
    CHECK(invcsi_zprior_add_params(&p, "ic.z", 1920, &off_mu, &off_ls, &err) == 0, "%s",
          err.msg);
    CHECK(invcsi_params_find(&p, "ic.z.mu") && invcsi_params_find(&p, "ic.z.log_sigma"),
          "prior tensor names");
    CHECK(invcsi_zprior_add_params(&p, "ic.w", 0, NULL, NULL, &err) == INVCSI_EINVAL, "zdims 0");
    invcsi_params_free(&p);

    invcsi_lan_shape bad = {2, 4, 4, 8, 1.0f};
    CHECK(invcsi_lan_check(&bad, &err) == INVCSI_EINVAL && strstr(err.msg, "slope"), "slope 1");
    bad = (invcsi_lan_shape){0, 4, 4, 8, 0.01f};
    CHECK(invcsi_lan_check(&bad, &err) == INVCSI_EINVAL, "c1 0");
}

int main(void)
{
    test_lan_table();
    test_prior();
    return check_done("test_ic");
}
