/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * DAQ properties (include/invcsi/daq.h) and the index <-> bit-label mapping (bitlink.h):
 *   - the init is the uniform quantizer on [-R, R] (levels, midpoint thresholds, and the
 *     hard output equals round-to-nearest-level of the clipped input),
 *   - hard indices are monotone (non-decreasing) in y, for random raw parameters,
 *   - thresholds and levels are strictly increasing for random raw parameters (also
 *     extreme ones, where a bare softplus would underflow),
 *   - the training forward returns exactly the hard value (bit for bit equal to
 *     quantize -> dequantize), and the soft value approaches it as beta grows,
 *   - natural and Gray labels round-trip through bits (MSB first, one bit per byte), Gray
 *     neighbours differ in exactly one bit, natural labels are the binary numbers,
 *   - argument checks.
 */
#include "check.h"
#include "invcsi/bitlink.h"
#include "invcsi/daq.h"
#include "invcsi/rng.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void *xcalloc(long n, size_t size)
{
    void *p = calloc(n > 0 ? (size_t)n : 1, size);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

static void test_init_uniform(int bits, float range)
{
    const int m = 3;
    invcsi_daq_config cfg = {m, bits, range};
    const int L = invcsi_daq_levels_count(&cfg), nk = L - 1;
    float *tr = xcalloc((long)m * nk, sizeof(float)), *sr = xcalloc((long)m * nk, sizeof(float));
    float *buf = xcalloc(invcsi_daq_tables_floats(&cfg), sizeof(float));
    invcsi_error err;
    CHECK(invcsi_daq_init_uniform(&cfg, tr, sr, &err) == 0, "%s", err.msg);
    invcsi_daq_tables t;
    invcsi_daq_tables_bind(&t, &cfg, buf);
    invcsi_daq_derive(&cfg, tr, sr, &t);
    const double step = 2.0 * range / nk;
    const double tol = 2e-6 * range * (1 + nk / 16.0); /* float softplus round trips, summed */
    double worst = 0.0;
    for (int d = 0; d < m; d++) {
        for (int j = 0; j < L; j++) {
            const double want = -range + j * step;
            const double e = fabs(t.levels[d * L + j] - want);
            worst = e > worst ? e : worst;
        }
        for (int k = 0; k < nk; k++) {
            const double want = -range + (k + 0.5) * step;
            worst = fmax(worst, fabs(t.thresholds[d * nk + k] - want));
            worst = fmax(worst, fabs(t.steps[d * nk + k] - step));
        }
        CHECK(t.levels[d * L] == -range, "c_0 = %g, want -R exactly", t.levels[d * L]);
    }
    CHECK(worst <= tol, "B=%d R=%g: init differs from the uniform quantizer by %.3g (tol %.3g)",
          bits, range, worst, tol);

    /* Hard output = nearest uniform level of clip(y, -R, R), away from the midpoints. */
    const int batch = 400;
    float *y = xcalloc((long)batch * m, sizeof(float)), *q = xcalloc((long)batch * m, sizeof(float));
    int *idx = xcalloc((long)batch * m, sizeof(int));
    invcsi_rng r;
    invcsi_rng_init(&r, 7, (uint64_t)bits);
    for (long e = 0; e < (long)batch * m; e++)
        y[e] = (float)(1.4 * range * (2.0 * invcsi_rng_uniform(&r) - 1.0));
    CHECK(invcsi_daq_forward_train(&cfg, tr, sr, &t, y, batch, 5.0f, q, NULL, idx, &err) == 0,
          "%s", err.msg);
    int bad = 0, checked = 0;
    for (long e = 0; e < (long)batch * m; e++) {
        double u = (y[e] + range) / step; /* position in level units */
        if (fabs(u - floor(u) - 0.5) < 1e-3)
            continue;                      /* too close to a threshold to call */
        long j = lround(u);
        j = j < 0 ? 0 : (j > nk ? nk : j);
        checked++;
        if (idx[e] != j || fabs(q[e] - (-range + j * step)) > tol)
            bad++;
    }
    CHECK(bad == 0 && checked > batch, "B=%d: %d of %d hard outputs differ from the uniform "
          "quantizer", bits, bad, checked);
    printf("  init B=%d R=%g: max deviation %.2e, %d hard outputs checked\n", bits, range, worst,
           checked);
    free(tr), free(sr), free(buf), free(y), free(q), free(idx);
}

/* Random (also extreme) raw parameters: ordered tables, monotone hard indices, train
 * forward == quantize/dequantize exactly, soft -> hard as beta grows. */
static void test_random_params(int bits, double raw_scale, uint64_t seed)
{
    const int m = 4;
    invcsi_daq_config cfg = {m, bits, 1.0f};
    const int L = invcsi_daq_levels_count(&cfg), nk = L - 1;
    float *tr = xcalloc((long)m * nk, sizeof(float)), *sr = xcalloc((long)m * nk, sizeof(float));
    float *buf = xcalloc(invcsi_daq_tables_floats(&cfg), sizeof(float));
    invcsi_rng r;
    invcsi_rng_init(&r, seed, (uint64_t)bits);
    for (long i = 0; i < (long)m * nk; i++) {
        tr[i] = (float)(raw_scale * invcsi_rng_normal(&r));
        sr[i] = (float)(raw_scale * invcsi_rng_normal(&r));
    }
    invcsi_daq_tables t;
    invcsi_daq_tables_bind(&t, &cfg, buf);
    invcsi_daq_derive(&cfg, tr, sr, &t);
    int ordered = 1;
    for (int d = 0; d < m; d++) {
        for (int k = 1; k < nk; k++)
            ordered &= t.thresholds[d * nk + k] > t.thresholds[d * nk + k - 1];
        for (int j = 1; j < L; j++)
            ordered &= t.levels[d * L + j] > t.levels[d * L + j - 1];
        for (int k = 0; k < nk; k++)
            ordered &= t.steps[d * nk + k] > 0.0f;
        ordered &= t.levels[d * L] == -1.0f;
    }
    CHECK(ordered, "B=%d raw scale %g: thresholds/levels not strictly increasing", bits,
          raw_scale);

    /* Sweep y over the whole threshold span in increasing order, for every dimension. */
    float lo = 1e30f, hi = -1e30f;
    for (long i = 0; i < (long)m * nk; i++) {
        lo = fminf(lo, t.thresholds[i]);
        hi = fmaxf(hi, t.thresholds[i]);
    }
    const int batch = 2001;
    float *y = xcalloc((long)batch * m, sizeof(float)), *qh = xcalloc((long)batch * m, sizeof(float));
    float *qs = xcalloc((long)batch * m, sizeof(float)), *qd = xcalloc((long)batch * m, sizeof(float));
    int *idx = xcalloc((long)batch * m, sizeof(int)), *idx2 = xcalloc((long)batch * m, sizeof(int));
    const float span = hi - lo + 1.0f;
    for (int b = 0; b < batch; b++)
        for (int d = 0; d < m; d++)
            y[(long)b * m + d] = lo - 0.5f + span * (float)b / (batch - 1);
    invcsi_error err;
    CHECK(invcsi_daq_forward_train(&cfg, tr, sr, &t, y, batch, 2.0f, qh, qs, idx, &err) == 0,
          "%s", err.msg);
    int monotone = 1, full = 1;
    for (int d = 0; d < m; d++) {
        for (int b = 1; b < batch; b++)
            monotone &= idx[(long)b * m + d] >= idx[(long)(b - 1) * m + d];
        full &= idx[d] == 0 && idx[(long)(batch - 1) * m + d] == nk;
    }
    CHECK(monotone, "B=%d: hard index not monotone in y", bits);
    CHECK(full, "B=%d: the sweep does not reach index 0 and L-1", bits);
    invcsi_daq_quantize(&cfg, &t, y, batch, idx2);
    invcsi_daq_dequantize(&cfg, t.levels, idx2, batch, qd);
    CHECK(memcmp(idx, idx2, sizeof(int) * batch * m) == 0, "train indices != quantize indices");
    CHECK(memcmp(qh, qd, sizeof(float) * batch * m) == 0,
          "train forward is not exactly the hard value (quantize -> dequantize)");
    int exact = 1;
    for (long e = 0; e < (long)batch * m; e++)
        exact &= qh[e] == t.levels[(e % m) * L + idx[e]];
    CHECK(exact, "q_hard != levels[index]");

    /* Soft -> hard as beta grows, for y at least 1e-2 from every threshold. */
    CHECK(invcsi_daq_forward_train(&cfg, tr, sr, &t, y, batch, 1e4f, qh, qs, NULL, &err) == 0,
          "%s", err.msg);
    double worst = 0.0;
    for (long e = 0; e < (long)batch * m; e++) {
        const float *thr = t.thresholds + (e % m) * nk;
        int near = 0;
        for (int k = 0; k < nk; k++)
            near |= fabsf(y[e] - thr[k]) < 1e-2f;
        if (!near)
            worst = fmax(worst, fabs(qs[e] - qh[e]));
    }
    double maxlev = 0.0;
    for (long i = 0; i < (long)m * L; i++)
        maxlev = fmax(maxlev, fabs(t.levels[i]));
    /* float sums of nk terms of size up to maxlev, plus sigmoid tails e^-100 */
    const double soft_tol = 1e-6 * (1.0 + maxlev) * (nk + 1);
    CHECK(worst < soft_tol, "B=%d: soft value at beta 1e4 differs from hard by %g (tol %g)",
          bits, worst, soft_tol);
    printf("  random raw (scale %g) B=%d: ordered, monotone, train == hard; |soft - hard| at "
           "beta 1e4: %.2e\n", raw_scale, bits, worst);
    free(tr), free(sr), free(buf), free(y), free(qh), free(qs), free(qd), free(idx), free(idx2);
}

static int popcount32(uint32_t x)
{
    int c = 0;
    for (; x; x &= x - 1)
        c++;
    return c;
}

static void test_labels(void)
{
    for (int B = 1; B <= 8; B++) {
        const int L = 1 << B;
        int *idx = xcalloc(L, sizeof(int)), *back = xcalloc(L, sizeof(int));
        uint8_t *bits = xcalloc((long)L * B, 1);
        for (int j = 0; j < L; j++)
            idx[j] = j;
        for (int map = 0; map < 2; map++) {
            invcsi_error err;
            CHECK(invcsi_indices_to_bits(bits, idx, L, B, map, &err) == 0, "%s", err.msg);
            CHECK(invcsi_bits_to_indices(back, bits, L, B, map, &err) == 0, "%s", err.msg);
            CHECK(memcmp(idx, back, sizeof(int) * L) == 0, "B=%d %s: bits round trip failed", B,
                  invcsi_bitmap_name(map));
            int onebit = 1, binary = 1, distinct = 1, zero_one = 1;
            uint32_t seen[8] = {0};
            for (int j = 0; j < L; j++) {
                uint32_t lab = 0;
                for (int k = 0; k < B; k++) {
                    zero_one &= bits[j * B + k] <= 1;
                    lab = (lab << 1) | bits[j * B + k];
                }
                CHECK(lab == invcsi_index_to_label((uint32_t)j, map), "label of %d", j);
                CHECK(invcsi_label_to_index(lab, map) == (uint32_t)j, "index of label %u", lab);
                distinct &= !(seen[lab >> 5] & (1u << (lab & 31)));
                seen[lab >> 5] |= 1u << (lab & 31);
                if (map == INVCSI_BITMAP_NATURAL)
                    binary &= lab == (uint32_t)j;
                if (map == INVCSI_BITMAP_GRAY && j > 0)
                    onebit &= popcount32(lab ^ invcsi_index_to_label((uint32_t)j - 1, map)) == 1;
            }
            CHECK(zero_one, "bits must be written as 0/1 bytes");
            CHECK(distinct, "B=%d %s: labels not a permutation", B, invcsi_bitmap_name(map));
            CHECK(binary, "B=%d: natural labels are not the binary numbers (MSB first)", B);
            CHECK(onebit, "B=%d: Gray neighbours differ in more than one bit", B);
        }
        /* Only the LSB of a received byte counts (GNU Radio unpacked). */
        for (long i = 0; i < (long)L * B; i++)
            bits[i] |= 0xFE;
        int map = INVCSI_BITMAP_GRAY;
        invcsi_indices_to_bits(bits, idx, L, B, map, NULL);
        for (long i = 0; i < (long)L * B; i++)
            bits[i] |= 0x10;
        invcsi_bits_to_indices(back, bits, L, B, map, NULL);
        CHECK(memcmp(idx, back, sizeof(int) * L) == 0, "B=%d: high bits of a byte leaked", B);
        free(idx), free(back), free(bits);
    }
    /* Example: 3 bits, index 5 = 101 natural, Gray 111. */
    int i5 = 5;
    uint8_t b3[3];
    invcsi_indices_to_bits(b3, &i5, 1, 3, INVCSI_BITMAP_NATURAL, NULL);
    CHECK(b3[0] == 1 && b3[1] == 0 && b3[2] == 1, "5 natural = %d%d%d", b3[0], b3[1], b3[2]);
    invcsi_indices_to_bits(b3, &i5, 1, 3, INVCSI_BITMAP_GRAY, NULL);
    CHECK(b3[0] == 1 && b3[1] == 1 && b3[2] == 1, "5 gray = %d%d%d", b3[0], b3[1], b3[2]);
    printf("  labels: natural/Gray round trips B=1..8, Gray neighbours one bit apart\n");
}

static void test_errors(void)
{
    invcsi_error err;
    invcsi_daq_config bad = {4, 9, 1.0f};
    CHECK(invcsi_daq_check(&bad, &err) == INVCSI_EINVAL && strstr(err.msg, "bits"), "bits 9");
    bad = (invcsi_daq_config){0, 2, 1.0f};
    CHECK(invcsi_daq_check(&bad, &err) == INVCSI_EINVAL, "dims 0");
    bad = (invcsi_daq_config){2, 2, 0.0f};
    CHECK(invcsi_daq_check(&bad, &err) == INVCSI_EINVAL && strstr(err.msg, "range"), "range 0");
    invcsi_daq_config ok = {2, 2, 1.0f};
    CHECK(invcsi_daq_param_count(&ok) == 12, "param count %ld", invcsi_daq_param_count(&ok));
    invcsi_daq_config paper = {32, 4, 1.0f}; /* CR 1/64, B = 4: 896 more than B = 1 (Table II) */
    invcsi_daq_config paper1 = {32, 1, 1.0f};
    CHECK(invcsi_daq_param_count(&paper) - invcsi_daq_param_count(&paper1) == 896,
          "B=4 vs B=1 at M=32");
    float tr[3], sr[3], buf[3 * 4 - 2 + 32], y = 0.0f, q;
    invcsi_daq_init_uniform(&ok, tr, sr, NULL);
    invcsi_daq_tables t;
    invcsi_daq_config one = {1, 2, 1.0f};
    invcsi_daq_tables_bind(&t, &one, buf);
    CHECK(invcsi_daq_forward_train(&one, tr, sr, &t, &y, 1, 0.0f, &q, NULL, NULL, &err) ==
              INVCSI_EINVAL && strstr(err.msg, "beta"), "beta 0 must be rejected");
    int m;
    CHECK(invcsi_bitmap_parse("gray", &m, &err) == 0 && m == INVCSI_BITMAP_GRAY, "parse gray");
    CHECK(invcsi_bitmap_parse("grey", &m, &err) == INVCSI_EINVAL && strstr(err.msg, "grey"),
          "parse grey");
    uint8_t bits[4];
    int idx = 1;
    CHECK(invcsi_indices_to_bits(bits, &idx, 1, 0, 0, &err) == INVCSI_EINVAL, "0 bits");

    /* Parameter table helper: names and shapes. */
    invcsi_params p;
    invcsi_params_init(&p);
    invcsi_daq_config c3 = {8, 3, 1.0f};
    CHECK(invcsi_daq_add_params(&p, "daq", &c3, NULL, NULL, &err) == 0, "%s", err.msg);
    const invcsi_tensor *tt = invcsi_params_find(&p, "daq.threshold_raw");
    CHECK(tt && tt->rank == 2 && tt->shape[0] == 8 && tt->shape[1] == 7, "threshold tensor");
    CHECK(invcsi_params_find(&p, "daq.step_raw") != NULL, "step tensor");
    invcsi_params_free(&p);
}

int main(void)
{
    printf("DAQ init = uniform quantizer\n");
    for (int B = 1; B <= 8; B++)
        test_init_uniform(B, 1.0f);
    test_init_uniform(3, 2.5f);
    printf("DAQ with random raw parameters\n");
    for (int B = 1; B <= 8; B++)
        test_random_params(B, 1.0, 11);
    for (int B = 1; B <= 4; B++)
        test_random_params(B, 30.0, 12); /* softplus of -90 underflows: the gap must hold */
    printf("bit labels\n");
    test_labels();
    test_errors();
    return check_done("test_daq");
}
