/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The over-the-air burst core (include/invcsi/burst.h), without GNU Radio:
 *   - CRC-16/CCITT-FALSE check value ("123456789" -> 0x29B1),
 *   - header bits round-trip; every single-bit error in the 48 header bits fails the CRC,
 *   - preambles are m-sequences (periodic autocorrelation L at lag 0, -1 elsewhere),
 *   - burst layout and length,
 *   - the receiver delivers every payload exactly through a phase rotation, a carrier offset
 *     of 2 % of the symbol rate and noise, pushed in pieces of odd sizes,
 *   - a corrupt header and a truncated payload are dropped and counted; the bursts after
 *     them arrive; a burst cut by the end of the stream counts as truncated,
 *   - parameter checks.
 */
#include "check.h"
#include "invcsi/burst.h"
#include "invcsi/crc.h"
#include "invcsi/rng.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NB 120
#define NBURSTS 6

typedef struct {
    int n;
    uint16_t counters[64];
    uint8_t bits[64][NB];
} collected;

static void collect(void *user, uint16_t counter, const uint8_t *bits, long n, long long first)
{
    collected *c = user;
    (void)first;
    if (c->n < 64 && n == NB) {
        c->counters[c->n] = counter;
        memcpy(c->bits[c->n], bits, NB);
    }
    c->n++;
}

int main(void)
{
    invcsi_error err;

    /* CRC check value of CRC-16/CCITT-FALSE */
    CHECK(invcsi_crc16_ccitt("123456789", 9) == 0x29B1, "crc %04x",
          invcsi_crc16_ccitt("123456789", 9));

    /* header round trip and single-bit errors */
    uint8_t h[48];
    invcsi_burst_header_bits(h, 0xBEEF, 384);
    uint16_t c = 0, n = 0;
    CHECK(invcsi_burst_header_parse(h, &c, &n) == INVCSI_OK && c == 0xBEEF && n == 384,
          "parse %u %u", c, n);
    for (int i = 0; i < 48; i++) {
        h[i] ^= 1;
        CHECK(invcsi_burst_header_parse(h, &c, &n) == INVCSI_EFORMAT, "bit %d flipped passed", i);
        h[i] ^= 1;
    }

    /* m-sequence preambles */
    const int lens[3] = {31, 63, 127};
    for (int t = 0; t < 3; t++) {
        float p[127];
        int L = lens[t];
        CHECK(invcsi_burst_preamble(p, L, &err) == INVCSI_OK, "preamble %d", L);
        for (int lag = 0; lag < L; lag++) {
            float ac = 0;
            for (int k = 0; k < L; k++)
                ac += p[k] * p[(k + lag) % L];
            CHECK(ac == (lag ? -1.0f : (float)L), "L %d lag %d: %g", L, lag, ac);
        }
    }
    float scratch[127];
    CHECK(invcsi_burst_preamble(scratch, 64, &err) == INVCSI_EINVAL,
          "length 64 accepted");

    /* layout */
    invcsi_burst_format fmt = invcsi_burst_format_default();
    long per = invcsi_burst_symbols(&fmt, NB);
    CHECK(per == 2 * 16 + 63 + 144 + NB, "burst length %ld", per);
    uint8_t payload[NBURSTS][NB];
    invcsi_rng rng;
    invcsi_rng_init(&rng, 5, 0);
    for (int b = 0; b < NBURSTS; b++)
        for (int i = 0; i < NB; i++)
            payload[b][i] = (uint8_t)(invcsi_rng_uniform(&rng) < 0.5f);
    float *iq = calloc((size_t)(2 * per * (NBURSTS + 2)), sizeof(float));
    for (int b = 0; b < NBURSTS; b++)
        CHECK(invcsi_burst_frame(iq + 2 * per * b, &fmt, (uint16_t)(b + 7), payload[b], NB, &err) ==
                  INVCSI_OK, "frame: %s", err.msg);
    CHECK(iq[0] == 0 && iq[2 * 16] != 0 && iq[2 * (16 + 63 + 144)] == (payload[0][0] ? -1 : 1),
          "layout");

    /* clean-ish reception: rotation, CFO 2 % of the symbol rate, noise, odd push sizes */
    long total = per * (NBURSTS + 1);
    float *rx = calloc((size_t)(2 * total), sizeof(float));
    for (long k = 0; k < total; k++) {
        double ph = 1.1 + 2 * M_PI * 0.02 * k, cr = cos(ph), sr = sin(ph);
        float re = 0.8f * iq[2 * k], im = 0.8f * iq[2 * k + 1];
        rx[2 * k] = (float)(re * cr - im * sr) + 0.1f * invcsi_rng_normal(&rng);
        rx[2 * k + 1] = (float)(re * sr + im * cr) + 0.1f * invcsi_rng_normal(&rng);
    }
    invcsi_burst_rx_config cfg = invcsi_burst_rx_config_default();
    cfg.payload_bits = NB;
    invcsi_burst_rx *r = NULL;
    CHECK(invcsi_burst_rx_create(&r, &cfg, &err) == INVCSI_OK, "create: %s", err.msg);
    collected got = {0};
    for (long k = 0, step = 1; k < total; k += step, step = step * 3 % 1001 + 1) {
        long m = k + step <= total ? step : total - k;
        invcsi_burst_rx_push(r, rx + 2 * k, m, collect, &got, &err);
    }
    const invcsi_burst_counters *cnt = invcsi_burst_rx_counters(r);
    CHECK(got.n == NBURSTS && cnt->reports == NBURSTS && cnt->detected == NBURSTS &&
              cnt->header_bad == 0 && cnt->truncated == 0 && cnt->missing == 0 &&
              cnt->last_counter == NBURSTS + 6,
          "got %d reports, detected %lld bad %lld trunc %lld", got.n, cnt->detected,
          cnt->header_bad, cnt->truncated);
    for (int b = 0; b < got.n && b < NBURSTS; b++) {
        CHECK(got.counters[b] == b + 7, "counter %u", got.counters[b]);
        CHECK(memcmp(got.bits[b], payload[b], NB) == 0, "payload %d differs", b);
    }
    invcsi_burst_rx_destroy(r);

    /* faults: burst 1 header corrupt (same bit in all copies), burst 3 cut mid-payload */
    for (int rep = 0; rep < 3; rep++)
        iq[2 * (per + 16 + 63 + 48 * rep + 3)] *= -1;
    memset(iq + 2 * (3 * per + 16 + 63 + 144 + NB / 2), 0, sizeof(float) * 2 * (NB / 2));
    CHECK(invcsi_burst_rx_create(&r, &cfg, &err) == INVCSI_OK, "create");
    memset(&got, 0, sizeof(got));
    invcsi_burst_rx_push(r, iq, per * NBURSTS + per / 2, collect, &got, &err);
    invcsi_burst_rx_finish(r);
    cnt = invcsi_burst_rx_counters(r);
    CHECK(got.n == 4 && got.counters[0] == 7 && got.counters[1] == 9 && got.counters[2] == 11 &&
              got.counters[3] == 12,
          "faults: %d reports", got.n);
    CHECK(cnt->header_bad == 1 && cnt->truncated == 1 && cnt->missing == 2,
          "faults: bad %lld truncated %lld missing %lld", cnt->header_bad, cnt->truncated,
          cnt->missing);
    invcsi_burst_rx_destroy(r);

    /* end of stream inside a burst */
    CHECK(invcsi_burst_rx_create(&r, &cfg, &err) == INVCSI_OK, "create");
    invcsi_burst_rx_push(r, iq, per - 30, NULL, NULL, &err);
    invcsi_burst_rx_finish(r);
    CHECK(invcsi_burst_rx_counters(r)->truncated == 1, "cut by the end");
    invcsi_burst_rx_destroy(r);

    /* parameter checks */
    invcsi_burst_rx_config bad = cfg;
    bad.threshold = 1.5f;
    CHECK(invcsi_burst_rx_create(&r, &bad, &err) == INVCSI_EINVAL && r == NULL, "threshold");
    bad = cfg;
    bad.fmt.header_repeat = 0;
    CHECK(invcsi_burst_rx_create(&r, &bad, &err) == INVCSI_EINVAL, "header_repeat");
    CHECK(invcsi_burst_frame(iq, &fmt, 0, payload[0], 0, &err) == INVCSI_EINVAL, "empty payload");

    free(iq);
    free(rx);
    return check_done("test_burst");
}
