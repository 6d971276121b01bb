/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The coded CSI report as it goes over the link (STQENet, DESIGN.md section 5): one PDU
 * per report, length-prefixed and CRC-protected so that a corrupted or truncated report
 * is dropped, never decoded into garbage.
 *
 *   offset 0       payload length L, unsigned 16-bit little-endian (4 <= L <= 65535)
 *   offset 2       L bytes: the rANS stream of the report's M symbols (rans.h)
 *   offset 2 + L   CRC-32 (crc.h: ISO-HDLC, check 0xCBF43926) of bytes [0, 2 + L),
 *                  unsigned 32-bit little-endian
 *
 * PDU size = L + 6 bytes: the framing costs INVCSI_REPORT_OVERHEAD = 6 bytes (48 bits) per
 * report on top of the coded bits. The CRC covers the length prefix too. M and B are not
 * sent: both ends know them from the weights file (a decoder with other tables or
 * another M than the encoder's is caught by the rANS consistency checks as
 * INVCSI_REPORT_STREAM, with high but not certain probability).
 *
 * invcsi_report_unpack checks, in this order, and stops at the first failure with
 * INVCSI_EFORMAT, a message naming the check, and a fault code a block can count:
 *   TOO_SHORT   fewer than 6 + 4 bytes (no room for prefix, state and CRC)
 *   TRUNCATED   the prefix promises more bytes than the PDU holds
 *   BAD_LENGTH  the prefix promises fewer bytes than the PDU holds (trailing bytes), or a
 *               payload size no encoding of M symbols can have
 *   CRC         the CRC does not match (any corruption of prefix-consistent bytes)
 *   STREAM      CRC fine, but the payload is not an encoding of M symbols under these
 *               tables (wrong weights file or M at one end)
 * It never reads outside pdu[0..pdu_len).
 */
#ifndef INVCSI_REPORT_CODEC_H
#define INVCSI_REPORT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "invcsi/cdf_table.h"
#include "invcsi/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define INVCSI_REPORT_PREFIX_BYTES 2
#define INVCSI_REPORT_CRC_BYTES 4
#define INVCSI_REPORT_OVERHEAD (INVCSI_REPORT_PREFIX_BYTES + INVCSI_REPORT_CRC_BYTES)
#define INVCSI_REPORT_MAX_PAYLOAD 65535

typedef enum invcsi_report_fault {
    INVCSI_REPORT_OK = 0,
    INVCSI_REPORT_TOO_SHORT = 1,
    INVCSI_REPORT_TRUNCATED = 2,
    INVCSI_REPORT_BAD_LENGTH = 3,
    INVCSI_REPORT_CRC = 4,
    INVCSI_REPORT_STREAM = 5,
    INVCSI_REPORT_N_FAULTS = 6
} invcsi_report_fault;

/* Short name of a fault ("ok", "too short", "truncated", "bad length", "crc mismatch",
 * "bad stream"), e.g. for per-fault counters. */
const char *invcsi_report_fault_name(invcsi_report_fault fault);

/* Largest PDU for m symbols: invcsi_rans_max_bytes(m) + 6. */
size_t invcsi_report_max_bytes(int m);

/* Codes symbols[0..m) with tables[0..m) (rans.h) and frames them into pdu[0..cap);
 * *pdu_len receives the PDU size (payload bytes = *pdu_len - 6, the "coded bits" of the
 * report being 8 x payload bytes). INVCSI_EINVAL on bad input, too small a cap, or a
 * payload over 65535 bytes. */
int invcsi_report_pack(const uint16_t *symbols, int m, const invcsi_cdf_table *tables,
                       uint8_t *pdu, size_t cap, size_t *pdu_len, invcsi_error *err);

/* Checks pdu[0..pdu_len) as above and decodes its m symbols into symbols[0..m) (left
 * unspecified on failure). fault (may be NULL) receives the fault code. */
int invcsi_report_unpack(const uint8_t *pdu, size_t pdu_len, int m,
                         const invcsi_cdf_table *tables, uint16_t *symbols,
                         invcsi_report_fault *fault, invcsi_error *err);

/* The framing alone. invcsi_report_frame wraps payload[0..payload_len) (1..65535 bytes)
 * into pdu[0..cap). invcsi_report_check verifies a PDU's length and CRC (the TOO_SHORT,
 * TRUNCATED, BAD_LENGTH and CRC checks; m > 0 also bounds the payload size by what m
 * symbols can take, m == 0 skips that) and points *payload into pdu. */
int invcsi_report_frame(const uint8_t *payload, size_t payload_len, uint8_t *pdu, size_t cap,
                        size_t *pdu_len, invcsi_error *err);
int invcsi_report_check(const uint8_t *pdu, size_t pdu_len, int m, const uint8_t **payload,
                        size_t *payload_len, invcsi_report_fault *fault, invcsi_error *err);

#ifdef __cplusplus
}
#endif
#endif
