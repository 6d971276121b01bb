/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The over-the-air burst format and its receiver (format and algorithm in burst.h).
 */
#include "invcsi/burst.h"
#include "invcsi/crc.h"

#include "dbcd_math.h" /* kernels/: the BPSK map and decision the bit link uses */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SEGMENT 8        /* chips per partial correlation of the detector */
#define PEAK_SPAN 4      /* positions after a threshold crossing searched for the peak */
#define ENERGY_WINDOW 16 /* payload symbols per truncation energy check */
#define ENERGY_FLOOR 0.25f

invcsi_burst_format invcsi_burst_format_default(void)
{
    invcsi_burst_format f = {63, 3, 16};
    return f;
}

int invcsi_burst_format_check(const invcsi_burst_format *fmt, invcsi_error *err)
{
    if (fmt->preamble_len != 31 && fmt->preamble_len != 63 && fmt->preamble_len != 127)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "burst preamble_len %d: expected 31, 63 or 127 (m-sequence)",
                                fmt->preamble_len);
    if (fmt->header_repeat < 1 || fmt->header_repeat > 16)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "burst header_repeat %d: expected 1..16", fmt->header_repeat);
    if (fmt->guard < 0 || fmt->guard > 4096)
        return invcsi_error_set(err, INVCSI_EINVAL, "burst guard %d: expected 0..4096 symbols",
                                fmt->guard);
    return INVCSI_OK;
}

int invcsi_burst_preamble(float *chips, int preamble_len, invcsi_error *err)
{
    /* Fibonacci LFSR of the primitive trinomials x^5+x^2+1, x^6+x+1, x^7+x+1:
     * a[n+k] = a[n+m] xor a[n]. */
    int k, m;
    switch (preamble_len) {
    case 31: k = 5; m = 2; break;
    case 63: k = 6; m = 1; break;
    case 127: k = 7; m = 1; break;
    default:
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "burst preamble_len %d: expected 31, 63 or 127", preamble_len);
    }
    unsigned state = 1u; /* any non-zero start gives a shift of the same sequence */
    for (int n = 0; n < preamble_len; n++) {
        unsigned bit = state & 1u;
        unsigned fb = (state ^ (state >> m)) & 1u;
        state = (state >> 1) | (fb << (k - 1));
        chips[n] = bit ? -1.0f : 1.0f;
    }
    return INVCSI_OK;
}

static void put_bits16(uint8_t *bits, uint16_t v)
{
    for (int i = 0; i < 16; i++)
        bits[i] = (uint8_t)((v >> (15 - i)) & 1u);
}

static uint16_t get_bits16(const uint8_t *bits)
{
    uint16_t v = 0;
    for (int i = 0; i < 16; i++)
        v = (uint16_t)((v << 1) | (bits[i] & 1u));
    return v;
}

void invcsi_burst_header_bits(uint8_t *bits, uint16_t counter, uint16_t payload_bits)
{
    uint8_t bytes[4] = {(uint8_t)(counter >> 8), (uint8_t)counter, (uint8_t)(payload_bits >> 8),
                        (uint8_t)payload_bits};
    put_bits16(bits, counter);
    put_bits16(bits + 16, payload_bits);
    put_bits16(bits + 32, invcsi_crc16_ccitt(bytes, 4));
}

int invcsi_burst_header_parse(const uint8_t *bits, uint16_t *counter, uint16_t *payload_bits)
{
    uint16_t c = get_bits16(bits), n = get_bits16(bits + 16), crc = get_bits16(bits + 32);
    uint8_t bytes[4] = {(uint8_t)(c >> 8), (uint8_t)c, (uint8_t)(n >> 8), (uint8_t)n};
    if (invcsi_crc16_ccitt(bytes, 4) != crc)
        return INVCSI_EFORMAT;
    *counter = c;
    *payload_bits = n;
    return INVCSI_OK;
}

long invcsi_burst_symbols(const invcsi_burst_format *fmt, long payload_bits)
{
    return 2L * fmt->guard + fmt->preamble_len +
           (long)INVCSI_BURST_HEADER_BITS * fmt->header_repeat + payload_bits;
}

int invcsi_burst_frame(float *iq, const invcsi_burst_format *fmt, uint16_t counter,
                       const uint8_t *bits, long n, invcsi_error *err)
{
    int rc = invcsi_burst_format_check(fmt, err);
    if (rc != INVCSI_OK)
        return rc;
    if (n < 1 || n > INVCSI_BURST_MAX_PAYLOAD)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "burst payload of %ld bits: expected 1..65535", n);
    long total = invcsi_burst_symbols(fmt, n);
    memset(iq, 0, sizeof(float) * 2 * (size_t)total);
    float *s = iq + 2L * fmt->guard;
    float chips[127];
    invcsi_burst_preamble(chips, fmt->preamble_len, NULL);
    for (int i = 0; i < fmt->preamble_len; i++, s += 2)
        s[0] = chips[i];
    uint8_t hdr[INVCSI_BURST_HEADER_BITS];
    invcsi_burst_header_bits(hdr, counter, (uint16_t)n);
    for (int r = 0; r < fmt->header_repeat; r++)
        for (int i = 0; i < INVCSI_BURST_HEADER_BITS; i++, s += 2)
            s[0] = bpsk_symbol(hdr[i], 1.0f);
    for (long i = 0; i < n; i++, s += 2)
        s[0] = bpsk_symbol(bits[i], 1.0f);
    return INVCSI_OK;
}

/* ---- receiver ------------------------------------------------------------------------- */

enum { RX_SEARCH = 0, RX_HEADER = 1, RX_PAYLOAD = 2 };

struct invcsi_burst_rx {
    invcsi_burst_rx_config cfg;
    float chips[127];
    int L;
    float trunc_threshold; /* metric of a preamble found inside a payload */
    float alpha, beta;     /* PLL gains */

    float *buf; /* interleaved complex symbols, buf[0] = absolute symbol `base` */
    long cap, len;
    long long base;
    long pos; /* SEARCH: next candidate; HEADER/PAYLOAD: start of that field */

    int state;
    long burst_start; /* the detected preamble's first chip */
    double amp, theta, omega; /* PLL state: amplitude, phase of the next symbol, rad/symbol */
    uint16_t counter;
    long payload_len;
    uint8_t *bits; /* payload decisions [65535] */
    int have_last;

    invcsi_burst_counters c;
};

invcsi_burst_rx_config invcsi_burst_rx_config_default(void)
{
    invcsi_burst_rx_config c;
    c.fmt = invcsi_burst_format_default();
    c.payload_bits = 0;
    c.threshold = 0.35f;
    c.loop_bw = 0.01f;
    return c;
}

int invcsi_burst_rx_create(invcsi_burst_rx **out, const invcsi_burst_rx_config *cfg,
                           invcsi_error *err)
{
    *out = NULL;
    int rc = invcsi_burst_format_check(&cfg->fmt, err);
    if (rc != INVCSI_OK)
        return rc;
    if (cfg->payload_bits < 0 || cfg->payload_bits > INVCSI_BURST_MAX_PAYLOAD)
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "burst receiver payload_bits %ld: expected 0 (any) or 1..65535",
                                cfg->payload_bits);
    if (!(cfg->threshold > 0.0f && cfg->threshold < 1.0f))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "burst receiver threshold %g: expected a value in (0, 1)",
                                (double)cfg->threshold);
    if (!(cfg->loop_bw >= 0.0f && cfg->loop_bw <= 0.2f))
        return invcsi_error_set(err, INVCSI_EINVAL,
                                "burst receiver loop_bw %g: expected a value in [0, 0.2]",
                                (double)cfg->loop_bw);
    invcsi_burst_rx *rx = calloc(1, sizeof(*rx));
    if (!rx)
        return invcsi_error_set(err, INVCSI_ENOMEM, "burst receiver: out of memory");
    rx->cfg = *cfg;
    rx->L = cfg->fmt.preamble_len;
    invcsi_burst_preamble(rx->chips, rx->L, NULL);
    rx->trunc_threshold = fminf(0.9f, fmaxf(0.6f, cfg->threshold + 0.25f));
    /* Second-order loop, damping 1/sqrt(2), normalised bandwidth loop_bw (as GNU Radio's
     * control_loop). */
    double bw = cfg->loop_bw, zeta = 0.70710678, d = 1.0 + 2.0 * zeta * bw + bw * bw;
    rx->alpha = (float)(4.0 * zeta * bw / d);
    rx->beta = (float)(4.0 * bw * bw / d);
    rx->cap = 8192;
    rx->buf = malloc(sizeof(float) * 2 * (size_t)rx->cap);
    rx->bits = malloc(INVCSI_BURST_MAX_PAYLOAD);
    if (!rx->buf || !rx->bits) {
        invcsi_burst_rx_destroy(rx);
        return invcsi_error_set(err, INVCSI_ENOMEM, "burst receiver: out of memory");
    }
    rx->state = RX_SEARCH;
    rx->c.last_counter = -1;
    *out = rx;
    return INVCSI_OK;
}

void invcsi_burst_rx_destroy(invcsi_burst_rx *rx)
{
    if (!rx)
        return;
    free(rx->buf);
    free(rx->bits);
    free(rx);
}

const invcsi_burst_counters *invcsi_burst_rx_counters(const invcsi_burst_rx *rx)
{
    return &rx->c;
}

long invcsi_burst_rx_pending(const invcsi_burst_rx *rx)
{
    long first = rx->state == RX_SEARCH ? rx->pos : rx->burst_start;
    return rx->len - first;
}

/* Partial correlations c[s] of the preamble with buf[at .. at+L) and the window energy. */
static int partial_correlations(const invcsi_burst_rx *rx, long at, double *cre, double *cim,
                                double *energy)
{
    const float *r = rx->buf + 2 * at;
    int nseg = 0;
    double e = 0.0;
    for (int s0 = 0; s0 < rx->L; s0 += SEGMENT, nseg++) {
        double re = 0.0, im = 0.0;
        int s1 = s0 + SEGMENT < rx->L ? s0 + SEGMENT : rx->L;
        for (int k = s0; k < s1; k++) {
            float p = rx->chips[k], xr = r[2 * k], xi = r[2 * k + 1];
            re += p * xr;
            im += p * xi;
            e += (double)xr * xr + (double)xi * xi;
        }
        cre[nseg] = re;
        cim[nseg] = im;
    }
    *energy = e;
    return nseg;
}

/* (sum_s |c_s|)^2 / (L * energy): 1 for a noiseless preamble at any carrier phase. */
static double detect_metric(const invcsi_burst_rx *rx, long at)
{
    double cre[16], cim[16], e;
    int nseg = partial_correlations(rx, at, cre, cim, &e);
    if (!(e > 0.0))
        return 0.0;
    double sum = 0.0;
    for (int s = 0; s < nseg; s++)
        sum += sqrt(cre[s] * cre[s] + cim[s] * cim[s]);
    return sum * sum / ((double)rx->L * e);
}

/* Data-aided amplitude, phase and frequency from the preamble at buf[at]; the PLL then
 * starts at the first header symbol (at + L). */
static void estimate(invcsi_burst_rx *rx, long at)
{
    double cre[16], cim[16], e;
    int nseg = partial_correlations(rx, at, cre, cim, &e);
    int full = rx->L / SEGMENT; /* segments of SEGMENT chips */
    double dre = 0.0, dim = 0.0;
    for (int s = 0; s + 1 < full; s++) { /* c[s+1] conj(c[s]): SEGMENT symbols apart */
        dre += cre[s + 1] * cre[s] + cim[s + 1] * cim[s];
        dim += cim[s + 1] * cre[s] - cre[s + 1] * cim[s];
    }
    double omega = (dre != 0.0 || dim != 0.0) ? atan2(dim, dre) / SEGMENT : 0.0;
    /* Phase at chip 0: rotate each segment back by omega * (its centre). */
    double zre = 0.0, zim = 0.0;
    for (int s = 0; s < nseg; s++) {
        int s0 = s * SEGMENT, s1 = s0 + SEGMENT < rx->L ? s0 + SEGMENT : rx->L;
        double centre = 0.5 * (s0 + s1 - 1), a = -omega * centre;
        double ca = cos(a), sa = sin(a);
        zre += cre[s] * ca - cim[s] * sa;
        zim += cre[s] * sa + cim[s] * ca;
    }
    rx->amp = sqrt(zre * zre + zim * zim) / rx->L;
    if (!(rx->amp > 0.0))
        rx->amp = 1e-30;
    rx->omega = omega;
    rx->theta = atan2(zim, zre) + omega * rx->L;
}

/* One symbol through the decision-directed PLL: returns the derotated, amplitude-normalised
 * symbol (re, im). */
static void pll_step(invcsi_burst_rx *rx, const float *r, double *yre, double *yim)
{
    double c = cos(rx->theta), s = sin(rx->theta), inv = 1.0 / rx->amp;
    double re = (r[0] * c + r[1] * s) * inv, im = (r[1] * c - r[0] * s) * inv;
    double e = re >= 0.0 ? im : -im; /* Im(y * decision) ~ phase error */
    if (e > 1.0)
        e = 1.0;
    else if (e < -1.0)
        e = -1.0;
    rx->omega += rx->beta * e;
    rx->theta += rx->omega + rx->alpha * e;
    if (rx->theta > M_PI || rx->theta < -M_PI)
        rx->theta = remainder(rx->theta, 2.0 * M_PI);
    *yre = re;
    *yim = im;
}

static int reserve(invcsi_burst_rx *rx, long extra, invcsi_error *err)
{
    long keep_from = rx->state == RX_SEARCH ? rx->pos : rx->burst_start;
    if (keep_from > 0 && rx->len + extra > rx->cap) { /* drop what is decided on */
        memmove(rx->buf, rx->buf + 2 * keep_from,
                sizeof(float) * 2 * (size_t)(rx->len - keep_from));
        rx->len -= keep_from;
        rx->base += keep_from;
        rx->pos -= keep_from;
        rx->burst_start -= keep_from;
    }
    if (rx->len + extra > rx->cap) {
        long cap = rx->cap;
        while (rx->len + extra > cap)
            cap *= 2;
        float *b = realloc(rx->buf, sizeof(float) * 2 * (size_t)cap);
        if (!b)
            return invcsi_error_set(err, INVCSI_ENOMEM, "burst receiver: out of memory "
                                                        "(%ld symbols buffered)", cap);
        rx->buf = b;
        rx->cap = cap;
    }
    return INVCSI_OK;
}

static void run(invcsi_burst_rx *rx, invcsi_burst_report_fn report, void *user)
{
    const int L = rx->L, R = rx->cfg.fmt.header_repeat, H = INVCSI_BURST_HEADER_BITS;
    for (;;) {
        if (rx->state == RX_SEARCH) {
            if (rx->len - rx->pos < L + PEAK_SPAN)
                return;
            double m = detect_metric(rx, rx->pos);
            if (m < rx->cfg.threshold) {
                rx->pos++;
                continue;
            }
            long best = rx->pos;
            for (int k = 1; k <= PEAK_SPAN; k++) {
                double mk = detect_metric(rx, rx->pos + k);
                if (mk > m) {
                    m = mk;
                    best = rx->pos + k;
                }
            }
            rx->c.detected++;
            rx->burst_start = best;
            estimate(rx, best);
            rx->pos = best + L;
            rx->state = RX_HEADER;
        } else if (rx->state == RX_HEADER) {
            if (rx->len - rx->pos < (long)H * R)
                return;
            double soft[INVCSI_BURST_HEADER_BITS] = {0};
            for (int j = 0; j < H * R; j++) {
                double yre, yim;
                pll_step(rx, rx->buf + 2 * (rx->pos + j), &yre, &yim);
                soft[j % H] += yre;
            }
            uint8_t hb[INVCSI_BURST_HEADER_BITS];
            for (int i = 0; i < H; i++)
                hb[i] = bpsk_hard((float)soft[i]);
            uint16_t counter = 0, n = 0;
            int ok = invcsi_burst_header_parse(hb, &counter, &n) == INVCSI_OK && n > 0 &&
                     (rx->cfg.payload_bits == 0 || n == rx->cfg.payload_bits);
            if (!ok) { /* dropped: search again just after the false or damaged preamble */
                rx->c.header_bad++;
                rx->pos = rx->burst_start + 1;
                rx->state = RX_SEARCH;
                continue;
            }
            rx->c.header_ok++;
            rx->counter = counter;
            rx->payload_len = n;
            rx->pos += (long)H * R;
            rx->state = RX_PAYLOAD;
        } else {
            long n = rx->payload_len;
            if (rx->len - rx->pos < n)
                return;
            long cut = -1;
            double win = 0.0;
            for (long k = 0; k < n; k++) {
                /* A new preamble that starts inside the payload: this burst was cut. */
                if (k + L <= n && k > 0 && detect_metric(rx, rx->pos + k) > rx->trunc_threshold) {
                    cut = k;
                    break;
                }
                double yre, yim;
                pll_step(rx, rx->buf + 2 * (rx->pos + k), &yre, &yim);
                rx->bits[k] = bpsk_hard((float)yre);
                win += yre * yre + yim * yim;
                if ((k + 1) % ENERGY_WINDOW == 0) {
                    if (win < ENERGY_FLOOR * ENERGY_WINDOW) { /* the signal stopped */
                        cut = k + 1 - ENERGY_WINDOW;
                        break;
                    }
                    win = 0.0;
                }
            }
            if (cut >= 0) {
                rx->c.truncated++;
                rx->pos += cut;
                rx->state = RX_SEARCH;
                continue;
            }
            if (rx->have_last) {
                long gap = (long)((uint16_t)(rx->counter - (uint16_t)rx->c.last_counter - 1u));
                if (gap < 0x8000) /* larger: a repeat or reordering, not a loss */
                    rx->c.missing += gap;
            }
            rx->have_last = 1;
            rx->c.last_counter = rx->counter;
            rx->c.reports++;
            if (report)
                report(user, rx->counter, rx->bits, n, rx->base + rx->pos);
            rx->pos += n;
            rx->state = RX_SEARCH;
        }
    }
}

int invcsi_burst_rx_push(invcsi_burst_rx *rx, const float *iq, long n,
                         invcsi_burst_report_fn report, void *user, invcsi_error *err)
{
    /* In pieces, so a long push does not grow the buffer beyond what a burst needs. */
    const long piece = 4096;
    for (long done = 0; done < n;) {
        long m = n - done < piece ? n - done : piece;
        int rc = reserve(rx, m, err);
        if (rc != INVCSI_OK)
            return rc;
        memcpy(rx->buf + 2 * rx->len, iq + 2 * done, sizeof(float) * 2 * (size_t)m);
        rx->len += m;
        rx->c.symbols += m;
        done += m;
        run(rx, report, user);
    }
    return INVCSI_OK;
}

void invcsi_burst_rx_finish(invcsi_burst_rx *rx)
{
    if (rx->state != RX_SEARCH) /* detected, but its header or payload never arrived */
        rx->c.truncated++;
    rx->state = RX_SEARCH;
    rx->pos = rx->len;
}
