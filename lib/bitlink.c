/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The bit link: labels, BPSK, AWGN, detection, error counting (conventions in bitlink.h;
 * per-element math in kernels/daq_math.h (labels) and kernels/dbcd_math.h (BPSK)).
 */
#include "invcsi/bitlink.h"

#include <math.h>
#include <string.h>

#include "daq_math.h"
#include "dbcd_math.h"

#define BITLINK_MAX_BITS 16

int invcsi_bitmap_parse(const char *name, int *mapping, invcsi_error *err)
{
    if (name && strcmp(name, "natural") == 0) {
        *mapping = INVCSI_BITMAP_NATURAL;
        return INVCSI_OK;
    }
    if (name && strcmp(name, "gray") == 0) {
        *mapping = INVCSI_BITMAP_GRAY;
        return INVCSI_OK;
    }
    return invcsi_error_set(err, INVCSI_EINVAL, "bit mapping '%s': expected natural or gray",
                            name ? name : "(null)");
}

const char *invcsi_bitmap_name(int mapping)
{
    return mapping == INVCSI_BITMAP_GRAY ? "gray" : "natural";
}

uint32_t invcsi_index_to_label(uint32_t j, int mapping)
{
    return daq_index_to_label(j, mapping == INVCSI_BITMAP_GRAY);
}

uint32_t invcsi_label_to_index(uint32_t label, int mapping)
{
    return daq_label_to_index(label, mapping == INVCSI_BITMAP_GRAY);
}

static int check_bits(int bits_per_index, int mapping, long n, invcsi_error *err)
{
    if (bits_per_index < 1 || bits_per_index > BITLINK_MAX_BITS)
        return invcsi_error_set(err, INVCSI_EINVAL, "bits per index %d must be in 1..%d",
                                bits_per_index, BITLINK_MAX_BITS);
    if (mapping != INVCSI_BITMAP_NATURAL && mapping != INVCSI_BITMAP_GRAY)
        return invcsi_error_set(err, INVCSI_EINVAL, "bit mapping %d: expected natural (0) or "
                                "gray (1)", mapping);
    if (n < 0)
        return invcsi_error_set(err, INVCSI_EINVAL, "negative count %ld", n);
    return INVCSI_OK;
}

int invcsi_indices_to_bits(uint8_t *bits, const int *indices, long n, int bits_per_index,
                           int mapping, invcsi_error *err)
{
    int rc = check_bits(bits_per_index, mapping, n, err);
    if (rc)
        return rc;
    const int B = bits_per_index, gray = mapping == INVCSI_BITMAP_GRAY;
    const uint32_t mask = (1u << B) - 1u;
    for (long e = 0; e < n; e++) {
        const uint32_t label = daq_index_to_label((uint32_t)indices[e] & mask, gray);
        uint8_t *out = bits + e * B;
        for (int k = 0; k < B; k++)
            out[k] = (uint8_t)((label >> (B - 1 - k)) & 1u); /* MSB first */
    }
    return INVCSI_OK;
}

int invcsi_bits_to_indices(int *indices, const uint8_t *bits, long n, int bits_per_index,
                           int mapping, invcsi_error *err)
{
    int rc = check_bits(bits_per_index, mapping, n, err);
    if (rc)
        return rc;
    const int B = bits_per_index, gray = mapping == INVCSI_BITMAP_GRAY;
    for (long e = 0; e < n; e++) {
        const uint8_t *in = bits + e * B;
        uint32_t label = 0;
        for (int k = 0; k < B; k++)
            label = (label << 1) | (in[k] & 1u);
        indices[e] = (int)daq_label_to_index(label, gray);
    }
    return INVCSI_OK;
}

double invcsi_db_to_linear(double db) { return pow(10.0, db / 10.0); }

double invcsi_qfunc(double x) { return 0.5 * erfc(x / M_SQRT2); }

double invcsi_log_qfunc(double x)
{
    if (x < 37.0)
        return log(invcsi_qfunc(x));
    /* Q(x) = phi(x)/x (1 - 1/x^2 + 3/x^4 - 15/x^6 + ...), relative error of the truncation
     * < 105/x^8 ~ 3e-11 here. */
    const double x2 = x * x;
    return -0.5 * x2 - log(x * sqrt(2.0 * M_PI)) +
           log1p(-1.0 / x2 + 3.0 / (x2 * x2) - 15.0 / (x2 * x2 * x2));
}

double invcsi_bpsk_ber(double ebn0) { return invcsi_qfunc(sqrt(2.0 * ebn0)); }

double invcsi_bpsk_n0(double es, double ebn0) { return es / ebn0; }

void invcsi_bpsk_map_real(float *sym, const uint8_t *bits, long n, float es)
{
    const float a = sqrtf(es);
    for (long i = 0; i < n; i++)
        sym[i] = bpsk_symbol(bits[i], a);
}

void invcsi_bpsk_map_complex(float *iq, const uint8_t *bits, long n, float es)
{
    const float a = sqrtf(es);
    for (long i = 0; i < n; i++) {
        iq[2 * i] = bpsk_symbol(bits[i], a);
        iq[2 * i + 1] = 0.0f;
    }
}

void invcsi_awgn_add(float *x, long n_reals, double n0, invcsi_rng *r)
{
    const double sigma = sqrt(0.5 * n0);
    for (long i = 0; i < n_reals; i++)
        x[i] = (float)(x[i] + sigma * invcsi_rng_normal(r));
}

void invcsi_bpsk_hard(uint8_t *bits, const float *rx, long n, int stride)
{
    for (long i = 0; i < n; i++)
        bits[i] = bpsk_hard(rx[i * stride]);
}

void invcsi_bpsk_llr(float *llr, const float *rx, long n, int stride, float es, double n0)
{
    const float scale = (float)(4.0 * sqrt((double)es) / n0);
    for (long i = 0; i < n; i++)
        llr[i] = bpsk_llr(rx[i * stride], scale);
}

long invcsi_bit_errors(const uint8_t *a, const uint8_t *b, long n)
{
    long e = 0;
    for (long i = 0; i < n; i++)
        e += (a[i] ^ b[i]) & 1u;
    return e;
}

int invcsi_bitlink_awgn(uint8_t *bits_out, float *llr, const uint8_t *bits_in, long n,
                        double ebn0_db, invcsi_rng *r, float *scratch, long *errors,
                        invcsi_error *err)
{
    if (n < 0)
        return invcsi_error_set(err, INVCSI_EINVAL, "bit link: negative bit count %ld", n);
    if (!isfinite(ebn0_db))
        return invcsi_error_set(err, INVCSI_EINVAL, "bit link: Eb/N0 %g dB is not finite",
                                ebn0_db);
    const float es = 1.0f;
    const double n0 = invcsi_bpsk_n0(es, invcsi_db_to_linear(ebn0_db));
    invcsi_bpsk_map_complex(scratch, bits_in, n, es);
    invcsi_awgn_add(scratch, 2 * n, n0, r);
    if (llr)
        invcsi_bpsk_llr(llr, scratch, n, 2, es, n0);
    if (errors) {
        long e = 0;
        for (long i = 0; i < n; i++)
            e += (bpsk_hard(scratch[2 * i]) ^ bits_in[i]) & 1u;
        *errors = e;
    }
    invcsi_bpsk_hard(bits_out, scratch, n, 2);
    return INVCSI_OK;
}
