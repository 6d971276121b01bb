/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * CRC-32 (ISO-HDLC) and CRC-16/CCITT-FALSE against the published check values (the CRC
 * of ASCII "123456789", from the CRC RevEng catalogue), further known values (zlib's
 * crc32 and binascii.crc_hqx(data, 0xFFFF)), bit-wise reference implementations on random
 * data, and chaining.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "invcsi/crc.h"
#include "invcsi/rng.h"

/* Bit-wise definitions, independent of the tables in lib/crc.c. */
static uint32_t crc32_bitwise(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int b = 0; b < 8; b++)
            c = (c & 1u) ? (c >> 1) ^ 0xedb88320u : c >> 1;
    }
    return ~c;
}

static uint16_t crc16_bitwise(const uint8_t *p, size_t n)
{
    uint16_t c = 0xffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++)
            c = (c & 0x8000u) ? (uint16_t)((c << 1) ^ 0x1021u) : (uint16_t)(c << 1);
    }
    return c;
}

int main(void)
{
    const char *check = "123456789";
    CHECK(invcsi_crc32(check, 9) == 0xcbf43926u, "CRC-32 check value 0x%08x",
          (unsigned)invcsi_crc32(check, 9));
    CHECK(invcsi_crc16_ccitt(check, 9) == 0x29b1u, "CRC-16/CCITT-FALSE check value 0x%04x",
          (unsigned)invcsi_crc16_ccitt(check, 9));

    const char *fox = "The quick brown fox jumps over the lazy dog";
    CHECK(invcsi_crc32(fox, strlen(fox)) == 0x414fa339u, "CRC-32 fox");
    CHECK(invcsi_crc16_ccitt(fox, strlen(fox)) == 0x8fddu, "CRC-16 fox");
    CHECK(invcsi_crc32("A", 1) == 0xd3d99e8bu, "CRC-32 'A'");
    CHECK(invcsi_crc16_ccitt("A", 1) == 0xb915u, "CRC-16 'A'");
    CHECK(invcsi_crc32("", 0) == 0u, "CRC-32 of nothing");
    CHECK(invcsi_crc16_ccitt("", 0) == 0xffffu, "CRC-16 of nothing");

    invcsi_rng rng;
    invcsi_rng_init(&rng, 12, 0);
    uint8_t buf[1500];
    for (int trial = 0; trial < 300; trial++) {
        const size_t n = (size_t)invcsi_rng_below(&rng, sizeof buf + 1);
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)invcsi_rng_u64(&rng);
        const uint32_t c32 = invcsi_crc32(buf, n);
        const uint16_t c16 = invcsi_crc16_ccitt(buf, n);
        CHECK(c32 == crc32_bitwise(buf, n), "CRC-32 table vs bitwise, %zu bytes", n);
        CHECK(c16 == crc16_bitwise(buf, n), "CRC-16 table vs bitwise, %zu bytes", n);
        const size_t cut = n ? (size_t)invcsi_rng_below(&rng, n + 1) : 0;
        CHECK(invcsi_crc32_update(invcsi_crc32(buf, cut), buf + cut, n - cut) == c32,
              "CRC-32 chaining at %zu of %zu", cut, n);
        CHECK(invcsi_crc16_ccitt_update(invcsi_crc16_ccitt(buf, cut), buf + cut, n - cut) == c16,
              "CRC-16 chaining at %zu of %zu", cut, n);
        /* a single flipped bit always changes both */
        if (n) {
            const size_t at = (size_t)invcsi_rng_below(&rng, n);
            const uint8_t bit = (uint8_t)(1u << invcsi_rng_below(&rng, 8));
            buf[at] ^= bit;
            CHECK(invcsi_crc32(buf, n) != c32, "CRC-32 misses a bit flip");
            CHECK(invcsi_crc16_ccitt(buf, n) != c16, "CRC-16 misses a bit flip");
        }
    }
    return check_done("test_crc");
}
