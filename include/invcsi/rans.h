/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * rANS entropy coder for STQENet reports (DESIGN.md section 5): M symbols, symbol i coded
 * with its own 16-bit frequency table tables[i] (include/invcsi/cdf_table.h).
 *
 * Coder: range asymmetric numeral systems with a 32-bit state x kept in [2^24, 2^32) and
 * byte-wise renormalisation (after F. Giesen's ryg_rans), frequency precision 16 bits.
 *   encode s:  while x >= f[s] << 16: emit the low byte of x, x >>= 8
 *              x = (x / f[s]) << 16 + x mod f[s] + cum[s]
 *   decode:    slot = x mod 2^16, s = the symbol with cum[s] <= slot < cum[s+1]
 *              x = f[s] (x >> 16) + slot - cum[s]; while x < 2^24: x = x << 8 | next byte
 * The encoder starts from x = 2^24 and runs over the symbols last to first; its final
 * state is written first, so the decoder produces symbols 0..M-1 in order.
 *
 * Stream layout (all the decoder needs besides M and the tables):
 *   bytes 0..3   the encoder's final state, unsigned 32-bit little-endian
 *   bytes 4..    renormalisation bytes in the order the decoder reads them
 * Only fixed-width integer arithmetic and explicit byte order are used: the stream is
 * the same on every platform, and decoding is bit-exact with encoding.
 *
 * Size: 8 x bytes = sum over symbols of (16 - log2 f) + between 24 and 32 bits (the
 * initial state, 24 bits, which the decoder checks it ends on, plus the unused top of
 * the flushed state), plus a rounding term far below a bit for a report; never more than
 * invcsi_rans_max_bytes(M).
 *
 * Robustness: the decoder reads only in[0..len): a stream that ends early, has bytes
 * left over, starts from an impossible state or does not end on the encoder's initial
 * state is refused with INVCSI_EFORMAT and a message saying which. (A corrupted stream
 * can still decode into wrong symbols without tripping these checks; the report PDU's
 * CRC-32, include/invcsi/report_codec.h, is what rejects those.) A stream the decoder
 * accepts re-encodes to exactly the same bytes.
 */
#ifndef INVCSI_RANS_H
#define INVCSI_RANS_H

#include <stddef.h>
#include <stdint.h>

#include "invcsi/cdf_table.h"
#include "invcsi/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define INVCSI_RANS_STATE_BYTES 4
#define INVCSI_RANS_LOWER ((uint32_t)1 << 24) /* state interval [2^24, 2^32) */
#define INVCSI_RANS_MAX_SYMBOLS (1 << 24)

/* Upper bound on the stream size for m symbols whatever the tables and symbols
 * (at most 16.006 bits per symbol, the state, rounding): 2 m + m / 1024 + 8 bytes. */
size_t invcsi_rans_max_bytes(int m);

/* Codes symbols[0..m) (symbol i with tables[i]; each must be < its table's n_symbols)
 * into out[0..cap); *len receives the stream size. INVCSI_EINVAL for a symbol out of
 * range, a bad table or m, or when cap is too small (out is then garbage; cap >=
 * invcsi_rans_max_bytes(m) always suffices). */
int invcsi_rans_encode(const uint16_t *symbols, int m, const invcsi_cdf_table *tables,
                       uint8_t *out, size_t cap, size_t *len, invcsi_error *err);

/* Decodes exactly m symbols from in[0..len) into symbols[0..m), never reading outside
 * in[0..len). INVCSI_EFORMAT (message says which check failed) for a stream that is not
 * an encoding of m symbols under these tables; INVCSI_EINVAL for bad arguments. */
int invcsi_rans_decode(const uint8_t *in, size_t len, int m, const invcsi_cdf_table *tables,
                       uint16_t *symbols, invcsi_error *err);

#ifdef __cplusplus
}
#endif
#endif
