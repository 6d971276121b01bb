/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Coded-report PDU: length prefix + rANS stream + CRC-32 (see report_codec.h). */
#include "invcsi/report_codec.h"

#include "invcsi/crc.h"
#include "invcsi/rans.h"

#include <string.h>

const char *invcsi_report_fault_name(invcsi_report_fault fault)
{
    switch (fault) {
    case INVCSI_REPORT_OK: return "ok";
    case INVCSI_REPORT_TOO_SHORT: return "too short";
    case INVCSI_REPORT_TRUNCATED: return "truncated";
    case INVCSI_REPORT_BAD_LENGTH: return "bad length";
    case INVCSI_REPORT_CRC: return "crc mismatch";
    case INVCSI_REPORT_STREAM: return "bad stream";
    default: return "unknown fault";
    }
}

size_t invcsi_report_max_bytes(int m)
{
    return invcsi_rans_max_bytes(m) + INVCSI_REPORT_OVERHEAD;
}

static void put_le16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v & 0xffu);
    p[1] = (uint8_t)((v >> 8) & 0xffu);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v & 0xffu);
    p[1] = (uint8_t)((v >> 8) & 0xffu);
    p[2] = (uint8_t)((v >> 16) & 0xffu);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le16(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

/* Writes prefix and CRC around a payload already at pdu + 2. */
static void seal(uint8_t *pdu, size_t payload_len)
{
    put_le16(pdu, (uint32_t)payload_len);
    const size_t covered = INVCSI_REPORT_PREFIX_BYTES + payload_len;
    put_le32(pdu + covered, invcsi_crc32(pdu, covered));
}

int invcsi_report_frame(const uint8_t *payload, size_t payload_len, uint8_t *pdu, size_t cap,
                        size_t *pdu_len, invcsi_error *err)
{
    *pdu_len = 0;
    if (payload_len < 1 || payload_len > INVCSI_REPORT_MAX_PAYLOAD)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "report frame: payload of %zu bytes; the length prefix holds 1 "
                                "to %d", payload_len, INVCSI_REPORT_MAX_PAYLOAD);
    if (cap < payload_len + INVCSI_REPORT_OVERHEAD)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "report frame: buffer of %zu bytes is too small for a %zu-byte "
                                "payload (need %zu)", cap, payload_len,
                                payload_len + (size_t)INVCSI_REPORT_OVERHEAD);
    memmove(pdu + INVCSI_REPORT_PREFIX_BYTES, payload, payload_len);
    seal(pdu, payload_len);
    *pdu_len = payload_len + INVCSI_REPORT_OVERHEAD;
    return INVCSI_OK;
}

int invcsi_report_pack(const uint16_t *symbols, int m, const invcsi_cdf_table *tables,
                       uint8_t *pdu, size_t cap, size_t *pdu_len, invcsi_error *err)
{
    *pdu_len = 0;
    if (cap < INVCSI_REPORT_OVERHEAD + INVCSI_RANS_STATE_BYTES)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "report pack: buffer of %zu bytes is too small (need up to %zu "
                                "for %d symbols)", cap, invcsi_report_max_bytes(m), m);
    size_t n = 0;
    int rc = invcsi_rans_encode(symbols, m, tables, pdu + INVCSI_REPORT_PREFIX_BYTES,
                                cap - INVCSI_REPORT_OVERHEAD, &n, err);
    if (rc)
        return rc;
    if (n > INVCSI_REPORT_MAX_PAYLOAD)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "report pack: %d symbols coded into %zu bytes, more than the "
                                "16-bit length prefix allows (%d)", m, n,
                                INVCSI_REPORT_MAX_PAYLOAD);
    seal(pdu, n);
    *pdu_len = n + INVCSI_REPORT_OVERHEAD;
    return INVCSI_OK;
}

static int fail(invcsi_report_fault *fault, invcsi_report_fault f)
{
    if (fault)
        *fault = f;
    return INVCSI_EFORMAT;
}

int invcsi_report_check(const uint8_t *pdu, size_t pdu_len, int m, const uint8_t **payload,
                        size_t *payload_len, invcsi_report_fault *fault, invcsi_error *err)
{
    *payload = NULL;
    *payload_len = 0;
    if (fault)
        *fault = INVCSI_REPORT_OK;
    const size_t min_len = INVCSI_REPORT_OVERHEAD + INVCSI_RANS_STATE_BYTES;
    if (!pdu || pdu_len < min_len) {
        invcsi_error_set(err, INVCSI_EFORMAT,
                         "report: PDU of %zu bytes is too short (a report has at least %zu: "
                         "2-byte length, 4-byte coder state, 4-byte CRC)", pdu_len, min_len);
        return fail(fault, INVCSI_REPORT_TOO_SHORT);
    }
    const size_t len = get_le16(pdu);
    const size_t have = pdu_len - INVCSI_REPORT_OVERHEAD;
    if (len > have) {
        invcsi_error_set(err, INVCSI_EFORMAT,
                         "report: length prefix says %zu payload bytes but the %zu-byte PDU "
                         "holds only %zu (truncated PDU or corrupted length)", len, pdu_len,
                         have);
        return fail(fault, INVCSI_REPORT_TRUNCATED);
    }
    if (len < have) {
        invcsi_error_set(err, INVCSI_EFORMAT,
                         "report: length prefix says %zu payload bytes but the %zu-byte PDU "
                         "holds %zu (trailing bytes or corrupted length)", len, pdu_len, have);
        return fail(fault, INVCSI_REPORT_BAD_LENGTH);
    }
    if (len < INVCSI_RANS_STATE_BYTES || (m > 0 && len > invcsi_rans_max_bytes(m))) {
        invcsi_error_set(err, INVCSI_EFORMAT,
                         "report: payload of %zu bytes cannot hold %d coded symbols (%d to %zu "
                         "bytes)", len, m, INVCSI_RANS_STATE_BYTES,
                         m > 0 ? invcsi_rans_max_bytes(m) : (size_t)INVCSI_REPORT_MAX_PAYLOAD);
        return fail(fault, INVCSI_REPORT_BAD_LENGTH);
    }
    const size_t covered = INVCSI_REPORT_PREFIX_BYTES + len;
    const uint32_t want = get_le32(pdu + covered);
    const uint32_t got = invcsi_crc32(pdu, covered);
    if (want != got) {
        invcsi_error_set(err, INVCSI_EFORMAT,
                         "report: CRC-32 mismatch (PDU says 0x%08x, bytes give 0x%08x): "
                         "corrupted report dropped", (unsigned)want, (unsigned)got);
        return fail(fault, INVCSI_REPORT_CRC);
    }
    *payload = pdu + INVCSI_REPORT_PREFIX_BYTES;
    *payload_len = len;
    return INVCSI_OK;
}

int invcsi_report_unpack(const uint8_t *pdu, size_t pdu_len, int m,
                         const invcsi_cdf_table *tables, uint16_t *symbols,
                         invcsi_report_fault *fault, invcsi_error *err)
{
    if (fault)
        *fault = INVCSI_REPORT_OK;
    if (m < 1 || !tables || !symbols)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "report unpack: need m >= 1 (got %d), tables and an output", m);
    const uint8_t *payload;
    size_t len;
    int rc = invcsi_report_check(pdu, pdu_len, m, &payload, &len, fault, err);
    if (rc)
        return rc;
    invcsi_error inner;
    rc = invcsi_rans_decode(payload, len, m, tables, symbols, &inner);
    if (rc == INVCSI_EFORMAT) {
        invcsi_error_set(err, INVCSI_EFORMAT,
                         "report: CRC fine but the payload is not a report of %d symbols under "
                         "these tables (encoder and decoder use different weights or M?): %s",
                         m, inner.msg);
        return fail(fault, INVCSI_REPORT_STREAM);
    }
    if (rc)
        return invcsi_error_set(err, rc, "report unpack: %s", inner.msg);
    return INVCSI_OK;
}
