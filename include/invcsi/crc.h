/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Cyclic redundancy checks for the coded-report PDU (include/invcsi/report_codec.h).
 *
 * The report format uses CRC-32 (the ISO-HDLC / IEEE 802.3 / zlib one: reflected
 * polynomial 0xEDB88320, initial value and final xor 0xFFFFFFFF; check value of the
 * ASCII bytes "123456789" is 0xCBF43926), the same CRC as gr-digital's crc32_bb, so an
 * undetected corruption of a report needs about 1 in 4e9 luck rather than 1 in 65536.
 * CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF, no reflection, no final xor;
 * check 0x29B1) is provided for short burst headers that cannot afford four bytes.
 *
 * Both are pure functions of the bytes: independent of host endianness and word size.
 */
#ifndef INVCSI_CRC_H
#define INVCSI_CRC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CRC-32 of n bytes. */
uint32_t invcsi_crc32(const void *data, size_t n);
/* Continues a CRC-32: invcsi_crc32_update(invcsi_crc32(a, na), b, nb) equals the CRC-32
 * of a followed by b; invcsi_crc32_update(0, d, n) == invcsi_crc32(d, n). */
uint32_t invcsi_crc32_update(uint32_t crc, const void *data, size_t n);

/* CRC-16/CCITT-FALSE of n bytes. */
uint16_t invcsi_crc16_ccitt(const void *data, size_t n);
/* Continues a CRC-16/CCITT-FALSE (start from 0xFFFF for a fresh one). */
uint16_t invcsi_crc16_ccitt_update(uint16_t crc, const void *data, size_t n);

#ifdef __cplusplus
}
#endif
#endif
