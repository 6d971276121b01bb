/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The bit link (include/invcsi/bitlink.h):
 *   - BER of BPSK -> AWGN -> sign detection equals Q(sqrt(2 Eb/N0)) within 4 sigma
 *     (sigma = sqrt(p (1 - p) / n), n = 2e6 bits) at -5, 0, 5 dB, for complex symbols
 *     (invcsi_bitlink_awgn and the separate steps) and for real symbols,
 *   - the noise has the documented variance: E|n|^2 = N0 for complex, N0/2 per real
 *     dimension (4 sigma; Var |n|^2 = N0^2 for complex Gaussian noise),
 *   - LLR = 4 sqrt(Es) Re(r) / N0 and its sign equals the hard decision for every bit,
 *   - symbols are +-sqrt(Es) with bit 0 -> +sqrt(Es), im = 0,
 *   - the error count of invcsi_bitlink_awgn equals invcsi_bit_errors; same seed, same bits;
 *   - Q(x) against known values.
 */
#include "check.h"
#include "invcsi/bitlink.h"
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

static void test_qfunc(void)
{
    CHECK_CLOSE(invcsi_qfunc(0.0), 0.5, 1e-15, "Q(0)");
    CHECK_CLOSE(invcsi_qfunc(1.0), 0.15865525393145705, 1e-14, "Q(1)");
    CHECK_CLOSE(invcsi_qfunc(4.0) / 3.1671241833119857e-05, 1.0, 1e-12, "Q(4)");
    CHECK_CLOSE(invcsi_bpsk_ber(invcsi_db_to_linear(0.0)), 0.07864960352514258, 1e-14,
                "BER at 0 dB");
    CHECK_CLOSE(invcsi_db_to_linear(10.0), 10.0, 1e-12, "10 dB");
}

static void test_symbols(void)
{
    uint8_t bits[4] = {0, 1, 1, 0};
    float re[4], iq[8];
    invcsi_bpsk_map_real(re, bits, 4, 4.0f);
    invcsi_bpsk_map_complex(iq, bits, 4, 4.0f);
    for (int i = 0; i < 4; i++) {
        const float want = bits[i] ? -2.0f : 2.0f;
        CHECK(re[i] == want && iq[2 * i] == want && iq[2 * i + 1] == 0.0f,
              "bit %d -> %g / (%g, %g), want %g", bits[i], re[i], iq[2 * i], iq[2 * i + 1], want);
    }
}

static void test_ber(double ebn0_db, int complex_link)
{
    const long n = 2000000;
    const float es = complex_link ? 1.0f : 2.5f; /* the BER must not depend on Es */
    uint8_t *tx = xcalloc(n, 1), *rx = xcalloc(n, 1);
    float *sym = xcalloc(2 * n, sizeof(float)), *llr = xcalloc(n, sizeof(float));
    float *clean = xcalloc(2 * n, sizeof(float));
    invcsi_rng r;
    invcsi_rng_init(&r, 1234, (uint64_t)(complex_link * 100 + ebn0_db + 50));
    for (long i = 0; i < n; i++)
        tx[i] = (uint8_t)(invcsi_rng_u64(&r) >> 63);
    const double ebn0 = invcsi_db_to_linear(ebn0_db), n0 = invcsi_bpsk_n0(es, ebn0);
    const int stride = complex_link ? 2 : 1;
    const long nreal = complex_link ? 2 * n : n;
    if (complex_link)
        invcsi_bpsk_map_complex(sym, tx, n, es);
    else
        invcsi_bpsk_map_real(sym, tx, n, es);
    memcpy(clean, sym, sizeof(float) * nreal);
    invcsi_awgn_add(sym, nreal, n0, &r);
    invcsi_bpsk_hard(rx, sym, n, stride);
    invcsi_bpsk_llr(llr, sym, n, stride, es, n0);

    const long errors = invcsi_bit_errors(tx, rx, n);
    const double p = invcsi_bpsk_ber(ebn0), sd = sqrt(p * (1.0 - p) / n);
    const double ber = (double)errors / n, z = (ber - p) / sd;
    CHECK(fabs(z) < 4.0, "%s %g dB: BER %.5g vs Q(sqrt(2 Eb/N0)) = %.5g, z = %.2f",
          complex_link ? "complex" : "real", ebn0_db, ber, p, z);

    /* Noise power: each real dimension N0/2, i.e. E|n|^2 = N0 for complex symbols. */
    double pw = 0.0;
    for (long i = 0; i < nreal; i++) {
        const double d = (double)sym[i] - clean[i];
        pw += d * d;
    }
    const double per_dim = pw / nreal, want = 0.5 * n0;
    const double sd_pw = want * sqrt(2.0 / nreal); /* Var(x^2) = 2 sigma^4 per dimension */
    CHECK(fabs(per_dim - want) < 4.0 * sd_pw, "noise variance per real dimension %.5g, want %.5g",
          per_dim, want);

    /* LLR: formula and sign. */
    long sign_bad = 0;
    double worst = 0.0;
    const double scale = 4.0 * sqrt((double)es) / n0;
    for (long i = 0; i < n; i++) {
        sign_bad += (llr[i] < 0.0f) != (rx[i] == 1);
        worst = fmax(worst, fabs(llr[i] - scale * sym[i * stride]) / (1e-30 + fabs(scale * sym[i * stride])));
    }
    CHECK(sign_bad == 0, "%ld LLR signs disagree with the hard decision", sign_bad);
    CHECK(worst < 1e-6, "LLR formula off by %.3g", worst);
    printf("%-7s %+4.0f dB: BER %.6f, Q(sqrt(2 Eb/N0)) %.6f, z %+.2f (n %ld); noise/dim %.5f "
           "(N0/2 %.5f); LLR sign == hard for all\n", complex_link ? "complex" : "real",
           ebn0_db, ber, p, z, n, per_dim, want);
    free(tx), free(rx), free(sym), free(llr), free(clean);
}

static void test_link_call(double ebn0_db)
{
    const long n = 2000000;
    uint8_t *tx = xcalloc(n, 1), *rx = xcalloc(n, 1), *rx2 = xcalloc(n, 1);
    float *scratch = xcalloc(2 * n, sizeof(float)), *llr = xcalloc(n, sizeof(float));
    invcsi_rng r;
    invcsi_rng_init(&r, 77, 1);
    for (long i = 0; i < n; i++)
        tx[i] = (uint8_t)(invcsi_rng_u64(&r) >> 63);
    invcsi_rng_init(&r, 77, 2);
    long errors = -1;
    invcsi_error err;
    CHECK(invcsi_bitlink_awgn(rx, llr, tx, n, ebn0_db, &r, scratch, &errors, &err) == 0, "%s",
          err.msg);
    CHECK(errors == invcsi_bit_errors(tx, rx, n), "reported %ld errors, counted %ld", errors,
          invcsi_bit_errors(tx, rx, n));
    long sign_bad = 0;
    for (long i = 0; i < n; i++)
        sign_bad += (llr[i] < 0.0f) != (rx[i] == 1);
    CHECK(sign_bad == 0, "LLR sign != hard decision for %ld bits", sign_bad);
    const double p = invcsi_bpsk_ber(invcsi_db_to_linear(ebn0_db));
    const double z = ((double)errors / n - p) / sqrt(p * (1.0 - p) / n);
    CHECK(fabs(z) < 4.0, "bitlink_awgn %g dB: BER %.5g vs %.5g (z %.2f)", ebn0_db,
          (double)errors / n, p, z);
    /* Same seed, same result; in place (bits_out == bits_in) allowed. */
    invcsi_rng_init(&r, 77, 2);
    memcpy(rx2, tx, n);
    invcsi_bitlink_awgn(rx2, NULL, rx2, n, ebn0_db, &r, scratch, NULL, NULL);
    CHECK(memcmp(rx, rx2, n) == 0, "same seed gave different bits (or in-place failed)");
    printf("bitlink_awgn %+4.0f dB: BER %.6f vs %.6f (z %+.2f); reproducible, in place ok\n",
           ebn0_db, (double)errors / n, p, z);
    CHECK(invcsi_bitlink_awgn(rx, NULL, tx, n, NAN, &r, scratch, NULL, &err) == INVCSI_EINVAL,
          "NaN Eb/N0 must be rejected");
    free(tx), free(rx), free(rx2), free(scratch), free(llr);
}

int main(void)
{
    test_qfunc();
    test_symbols();
    const double snrs[] = {-5.0, 0.0, 5.0};
    for (int s = 0; s < 3; s++) {
        test_ber(snrs[s], 1);
        test_ber(snrs[s], 0);
        test_link_call(snrs[s]);
    }
    return check_done("test_bitlink");
}
