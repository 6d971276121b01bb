/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The over-the-air burst format of one CSI report (DESIGN.md section 8) and its receiver
 * core: the one implementation that the GNU Radio blocks burst_framer / burst_deframer, the
 * tests and the measurement scripts share.
 *
 * One burst, in BPSK symbols (bit b -> 1 - 2b, the bit link's mapping, bitlink.h):
 *
 *   [guard zeros][preamble: L chips][header: 48 bits x R][payload: n bits][guard zeros]
 *
 *   - preamble: the maximal-length sequence of length L = 2^k - 1 (k = 5, 6, 7) as +-1 chips:
 *     a two-level periodic autocorrelation (L, -1), so the correlator peak is sharp;
 *   - header: report counter (16 bits), payload length in bits (16 bits), CRC-16/CCITT
 *     (poly 0x1021, init 0xFFFF) of those 4 bytes (16 bits), most significant bit first,
 *     the 48 bits sent R times in a row (bit i at positions i, i + 48, ...): the receiver
 *     adds the R soft values (R-fold SNR, 10 log10 R dB) before its decision, then checks
 *     the CRC; a header that fails it (or whose length is not the expected one) is dropped
 *     and counted, never decoded;
 *   - payload: the B*M raw bits of one InvCSINet report, uncoded (the decoder is trained to
 *     tolerate bit errors);
 *   - guard: zero symbols that carry the pulse-shaping filter tails inside the burst (a
 *     USRP burst then starts and ends at rest).
 *
 * Receiver (invcsi_burst_rx), on symbol-spaced samples (after matched filter, timing and,
 * optionally, carrier recovery): a sliding preamble correlator that adds the magnitudes of
 * 8-chip partial correlations (tolerant of a residual carrier offset of a few % of the
 * symbol rate: the phase may turn by up to ~1/4 cycle within 8 chips), normalised by the
 * window energy (metric in [0, 1], 1 = noiseless
 * preamble), a peak search over the next 4 positions, a data-aided estimate of amplitude,
 * phase and frequency from the partial correlations (the known preamble resolves BPSK's
 * phase ambiguity), then a decision-directed second-order phase-locked loop over header
 * and payload. A payload is "truncated" (dropped and counted) when the energy of 16
 * consecutive payload symbols falls below a quarter of the preamble's, or when a new
 * preamble starts inside it; the search then resumes at that point, so the next burst
 * is still received.
 */
#ifndef INVCSI_BURST_H
#define INVCSI_BURST_H

#include <stdint.h>

#include "invcsi/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define INVCSI_BURST_HEADER_BITS 48
#define INVCSI_BURST_MAX_PAYLOAD 65535L

typedef struct invcsi_burst_format {
    int preamble_len;  /* L: 31, 63 or 127 */
    int header_repeat; /* R: 1..16 */
    int guard;         /* zero symbols before and after the burst: 0..4096 */
} invcsi_burst_format;

/* L = 63, R = 3, guard = 16. */
invcsi_burst_format invcsi_burst_format_default(void);
int invcsi_burst_format_check(const invcsi_burst_format *fmt, invcsi_error *err);

/* The L preamble chips (+1 / -1) into chips[L]. */
int invcsi_burst_preamble(float *chips, int preamble_len, invcsi_error *err);

/* The header CRC is CRC-16/CCITT-FALSE, invcsi_crc16_ccitt in invcsi/crc.h. */

/* The 48 header bits (one per byte) of (counter, payload_bits). */
void invcsi_burst_header_bits(uint8_t *bits, uint16_t counter, uint16_t payload_bits);
/* 48 received header bits -> counter and payload length: INVCSI_OK, or INVCSI_EFORMAT when
 * the CRC fails (outputs untouched). */
int invcsi_burst_header_parse(const uint8_t *bits, uint16_t *counter, uint16_t *payload_bits);

/* Symbols of one burst with n payload bits. */
long invcsi_burst_symbols(const invcsi_burst_format *fmt, long payload_bits);
/* One burst: iq [2 * invcsi_burst_symbols(fmt, n)] interleaved complex symbols (im = 0),
 * payload bits[n] (each byte's LSB), 1 <= n <= 65535. */
int invcsi_burst_frame(float *iq, const invcsi_burst_format *fmt, uint16_t counter,
                       const uint8_t *bits, long n, invcsi_error *err);

/* ---- receiver ------------------------------------------------------------------------- */

typedef struct invcsi_burst_rx_config {
    invcsi_burst_format fmt; /* preamble_len and header_repeat must match the transmitter;
                                guard is not used */
    long payload_bits;       /* expected payload length; 0 = any length in 1..65535 */
    float threshold;         /* preamble detection metric threshold, in (0, 1): 0.35 */
    float loop_bw;           /* normalised bandwidth of the tracking PLL, [0, 0.2]: 0.01 */
} invcsi_burst_rx_config;

invcsi_burst_rx_config invcsi_burst_rx_config_default(void);

typedef struct invcsi_burst_counters {
    long long symbols;    /* symbols pushed */
    long long detected;   /* preamble detections (bursts, and any false alarms) */
    long long header_ok;  /* headers that passed the CRC and length checks */
    long long header_bad; /* headers dropped (CRC or length) */
    long long truncated;  /* bursts dropped because the header or payload was cut off */
    long long reports;    /* payloads delivered */
    long long missing;    /* reports never delivered, from gaps in the counter sequence */
    long long last_counter; /* counter of the last delivered report, -1 before the first */
} invcsi_burst_counters;

/* Called once per delivered report: its counter and n payload bits (0/1, one per byte),
 * first_symbol = index (in symbols pushed) of its first payload symbol. */
typedef void (*invcsi_burst_report_fn)(void *user, uint16_t counter, const uint8_t *bits,
                                       long n, long long first_symbol);

typedef struct invcsi_burst_rx invcsi_burst_rx;

int invcsi_burst_rx_create(invcsi_burst_rx **rx, const invcsi_burst_rx_config *cfg,
                           invcsi_error *err);
void invcsi_burst_rx_destroy(invcsi_burst_rx *rx);

/* Pushes n symbols (iq[2n], interleaved) and runs the receiver as far as they allow;
 * report() (may be NULL) gets every report completed. Returns INVCSI_OK or INVCSI_ENOMEM. */
int invcsi_burst_rx_push(invcsi_burst_rx *rx, const float *iq, long n,
                         invcsi_burst_report_fn report, void *user, invcsi_error *err);
/* End of the stream: a burst whose payload is still incomplete counts as truncated. */
void invcsi_burst_rx_finish(invcsi_burst_rx *rx);
/* Symbols buffered, not yet decided on (the receiver's latency). */
long invcsi_burst_rx_pending(const invcsi_burst_rx *rx);

const invcsi_burst_counters *invcsi_burst_rx_counters(const invcsi_burst_rx *rx);

#ifdef __cplusplus
}
#endif
#endif
