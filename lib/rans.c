/* SPDX-License-Identifier: GPL-3.0-or-later */
/* rANS coder, 32-bit state, byte-wise renormalisation, 16-bit tables (see rans.h). */
#include "invcsi/rans.h"

#include <string.h>

#define PREC INVCSI_CDF_PRECISION
#define SLOT_MASK (INVCSI_CDF_TOTAL - 1u)
#define LOWER INVCSI_RANS_LOWER

size_t invcsi_rans_max_bytes(int m)
{
    /* A coding step maps x to less than (2^16 / f) x (1 + 2^-8) and renormalisation only
     * divides, so 8 x (bytes - 4) <= 24 + m (16 + log2(1 + 2^-8)) - log2(final state)
     * <= 16.0057 m: 2 bytes per symbol plus m / 1422, plus the 4-byte state. */
    return (m > 0 ? 2 * (size_t)m + (size_t)m / 1024 : 0) + 8;
}

/* Cheap per-table sanity check: the coder relies on n in range and cum[n] == 65536
 * (deeper consistency is invcsi_cdf_table_check's job, done when tables are built). */
static int table_ok(const invcsi_cdf_table *t)
{
    return t->n_symbols >= INVCSI_CDF_MIN_SYMBOLS && t->n_symbols <= INVCSI_CDF_MAX_SYMBOLS &&
           t->cum[0] == 0 && t->cum[t->n_symbols] == INVCSI_CDF_TOTAL;
}

static int check_args(int m, const invcsi_cdf_table *tables, const char *who, invcsi_error *err)
{
    if (m < 0 || m > INVCSI_RANS_MAX_SYMBOLS)
        return invcsi_error_set(err, INVCSI_EINVAL, "%s: %d symbols; need 0 to %d", who, m,
                                INVCSI_RANS_MAX_SYMBOLS);
    if (m > 0 && !tables)
        return invcsi_error_set(err, INVCSI_EINVAL, "%s: no frequency tables", who);
    for (int i = 0; i < m; i++)
        if (!table_ok(&tables[i]))
            return invcsi_error_set(err, INVCSI_EINVAL,
                                    "%s: frequency table %d is not a valid table (%d symbols)",
                                    who, i, tables[i].n_symbols);
    return INVCSI_OK;
}

int invcsi_rans_encode(const uint16_t *symbols, int m, const invcsi_cdf_table *tables,
                       uint8_t *out, size_t cap, size_t *len, invcsi_error *err)
{
    *len = 0;
    int rc = check_args(m, tables, "rans encode", err);
    if (rc)
        return rc;
    for (int i = 0; i < m; i++) {
        const int s = symbols[i];
        if (s >= tables[i].n_symbols)
            return invcsi_error_set(err, INVCSI_EINVAL,
                                    "rans encode: symbol %d at index %d is out of range for its "
                                    "%d-symbol table", s, i, tables[i].n_symbols);
        /* the coding step divides by the frequency: refuse a hand-edited table with 0 */
        if (tables[i].cum[s + 1] <= tables[i].cum[s])
            return invcsi_error_set(err, INVCSI_EINVAL,
                                    "rans encode: table %d gives symbol %d no frequency (not a "
                                    "valid table)", i, s);
    }

    /* Written backwards from the end of out, moved to the front at the end. */
    uint8_t *const end = out + cap;
    uint8_t *p = end;
    uint32_t x = LOWER;
    for (int i = m - 1; i >= 0; i--) {
        const invcsi_cdf_table *t = &tables[i];
        const uint32_t start = t->cum[symbols[i]];
        const uint32_t freq = t->cum[symbols[i] + 1] - start;
        /* Renormalise so that the new state lands in [LOWER, 2^32): x_max = freq << 16. */
        const uint32_t x_max = ((LOWER >> PREC) << 8) * freq;
        while (x >= x_max) {
            if (p == out)
                return invcsi_error_set(err, INVCSI_EINVAL,
                                        "rans encode: output buffer of %zu bytes is too small "
                                        "for %d symbols (invcsi_rans_max_bytes gives %zu)",
                                        cap, m, invcsi_rans_max_bytes(m));
            *--p = (uint8_t)(x & 0xffu);
            x >>= 8;
        }
        x = ((x / freq) << PREC) + (x % freq) + start;
    }
    if ((size_t)(p - out) < INVCSI_RANS_STATE_BYTES)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "rans encode: output buffer of %zu bytes is too small for %d "
                                "symbols (invcsi_rans_max_bytes gives %zu)",
                                cap, m, invcsi_rans_max_bytes(m));
    p -= INVCSI_RANS_STATE_BYTES;
    p[0] = (uint8_t)(x & 0xffu);
    p[1] = (uint8_t)((x >> 8) & 0xffu);
    p[2] = (uint8_t)((x >> 16) & 0xffu);
    p[3] = (uint8_t)(x >> 24);
    const size_t n = (size_t)(end - p);
    if (p != out)
        memmove(out, p, n);
    *len = n;
    return INVCSI_OK;
}

/* The symbol whose interval holds slot: start from the lookup's bucket bounds, then
 * binary search (at most 8 steps for 256 symbols, usually none). */
static inline int find_symbol(const invcsi_cdf_table *t, uint32_t slot)
{
    const uint32_t k = slot >> 8;
    int lo = t->lut[k];
    int hi = k < 255 ? t->lut[k + 1] : t->n_symbols - 1;
    while (lo < hi) {
        const int mid = (lo + hi + 1) >> 1;
        if (t->cum[mid] <= slot)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

int invcsi_rans_decode(const uint8_t *in, size_t len, int m, const invcsi_cdf_table *tables,
                       uint16_t *symbols, invcsi_error *err)
{
    int rc = check_args(m, tables, "rans decode", err);
    if (rc)
        return rc;
    if (len < INVCSI_RANS_STATE_BYTES)
        return invcsi_error_set(err, INVCSI_EFORMAT,
                                "rans decode: stream of %zu bytes is shorter than its %d-byte "
                                "state", len, INVCSI_RANS_STATE_BYTES);
    const uint8_t *p = in;
    const uint8_t *const end = in + len;
    uint32_t x = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
                 ((uint32_t)p[3] << 24);
    p += INVCSI_RANS_STATE_BYTES;
    if (x < LOWER)
        return invcsi_error_set(err, INVCSI_EFORMAT,
                                "rans decode: initial state 0x%08x is below 2^24; no encoder "
                                "writes that (corrupted stream)", (unsigned)x);
    for (int i = 0; i < m; i++) {
        const invcsi_cdf_table *t = &tables[i];
        const uint32_t slot = x & SLOT_MASK;
        const int s = find_symbol(t, slot);
        const uint32_t start = t->cum[s];
        const uint32_t freq = t->cum[s + 1] - start;
        symbols[i] = (uint16_t)s;
        x = freq * (x >> PREC) + slot - start;
        while (x < LOWER) {
            if (p == end)
                return invcsi_error_set(err, INVCSI_EFORMAT,
                                        "rans decode: stream ends early: symbol %d of %d needs "
                                        "byte %zu but the stream has %zu bytes (truncated or "
                                        "corrupted)", i, m, len, len);
            x = (x << 8) | *p++;
        }
    }
    if (p != end)
        return invcsi_error_set(err, INVCSI_EFORMAT,
                                "rans decode: %zu of %zu bytes left after %d symbols (corrupted "
                                "stream, or other tables or M than the encoder's)",
                                (size_t)(end - p), len, m);
    if (x != LOWER)
        return invcsi_error_set(err, INVCSI_EFORMAT,
                                "rans decode: final state 0x%08x is not the encoder's initial "
                                "0x%08x (corrupted stream, or other tables or M than the "
                                "encoder's)", (unsigned)x, (unsigned)LOWER);
    return INVCSI_OK;
}
